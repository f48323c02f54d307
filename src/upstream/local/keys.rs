//! Names: S3 bucket-name rules, and the injective, path-safe mapping from object keys to file names.
//!
//! An object key becomes exactly one flat file name inside the bucket's folder:
//!
//! * `k` followed by the key percent-encoded byte by byte, where only `a-z`, `0-9`, `-` and `_` stay
//!   literal and every other byte (upper-case letters, `.`, `/`, `\`, `%`, NUL, every non-ASCII byte,
//!   ...) becomes `%HH` with upper-case hex digits; or, when that name would be longer than
//!   [`MAX_ENCODED`] bytes,
//! * `h` followed by the lower-case hex SHA-256 of the key (the key itself is kept in the object
//!   file's header, and checked on every read).
//!
//! The encoded alphabet has no `/`, `\`, `.` or NUL, so a name can never be `.`/`..`, never contain a
//! path separator, and never reach outside the folder. Decoding is unambiguous (`%` always starts a
//! three-byte escape), so the mapping is injective; it stays injective on case-insensitive file
//! systems too, since literal letters are only ever lower case and hex digits only ever upper case.

use sha2::{Digest, Sha256};

/// Longest encoded name (without the one-byte prefix) kept readable; longer keys are hashed.
/// Well under the 255-byte file-name limit of common file systems.
pub const MAX_ENCODED: usize = 200;

/// The longest key S3 accepts, in bytes.
pub const MAX_KEY_LEN: usize = 1024;

/// Whether `name` is a valid S3 bucket name (general purpose bucket rules).
pub fn valid_bucket_name(name: &str) -> bool {
    let b = name.as_bytes();
    if b.len() < 3 || b.len() > 63 {
        return false;
    }
    if !b
        .iter()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'.' || *c == b'-')
    {
        return false;
    }
    let alnum = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    if !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    if name.contains("..") || name.contains(".-") || name.contains("-.") {
        return false;
    }
    if name.starts_with("xn--")
        || name.starts_with("sthree-")
        || name.ends_with("-s3alias")
        || name.ends_with("--ol-s3")
    {
        return false;
    }
    // Not formatted as an IPv4 address.
    let parts: Vec<&str> = name.split('.').collect();
    if parts.len() == 4
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|c| c.is_ascii_digit()))
    {
        return false;
    }
    true
}

fn literal(c: u8) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-' || c == b'_'
}

/// The file name of the object `key` inside its bucket folder.
pub fn key_to_file_name(key: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(key.len() + 1);
    out.push('k');
    for &c in key.as_bytes() {
        if literal(c) {
            out.push(c as char);
        } else {
            out.push('%');
            out.push(HEX[(c >> 4) as usize] as char);
            out.push(HEX[(c & 15) as usize] as char);
        }
        if out.len() > MAX_ENCODED + 1 {
            return hashed_name(key);
        }
    }
    out
}

fn hashed_name(key: &str) -> String {
    let digest = Sha256::digest(key.as_bytes());
    let mut out = String::with_capacity(65);
    out.push('h');
    for b in digest.iter() {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// What a file name in a bucket folder says about its key.
#[derive(Debug, PartialEq, Eq)]
pub enum FileKey {
    /// The key, decoded from a readable name.
    Key(String),
    /// A hashed name: the key is in the file's header.
    Hashed,
    /// Not an object file (a stray or foreign file): ignored.
    Foreign,
}

/// Decodes a file name made by [`key_to_file_name`].
pub fn file_name_to_key(name: &str) -> FileKey {
    if let Some(hex) = name.strip_prefix('h') {
        if hex.len() == 64
            && hex
                .bytes()
                .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
        {
            return FileKey::Hashed;
        }
        return FileKey::Foreign;
    }
    let Some(enc) = name.strip_prefix('k') else {
        return FileKey::Foreign;
    };
    let b = enc.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'%' {
            let hex = |c: u8| match c {
                b'0'..=b'9' => Some(c - b'0'),
                b'A'..=b'F' => Some(c - b'A' + 10),
                _ => None,
            };
            match (
                b.get(i + 1).and_then(|c| hex(*c)),
                b.get(i + 2).and_then(|c| hex(*c)),
            ) {
                (Some(h), Some(l)) => {
                    let v = (h << 4) | l;
                    if literal(v) {
                        return FileKey::Foreign; // not canonical: we never write this
                    }
                    out.push(v);
                    i += 3;
                }
                _ => return FileKey::Foreign,
            }
        } else if literal(c) {
            out.push(c);
            i += 1;
        } else {
            return FileKey::Foreign;
        }
    }
    match String::from_utf8(out) {
        Ok(k) if !k.is_empty() => FileKey::Key(k),
        _ => FileKey::Foreign,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_safety() {
        for key in [
            "a",
            "..",
            ".",
            "../../etc/passwd",
            "/leading",
            "a//b",
            "back\\slash",
            "nul\0byte",
            "Upper.Case",
            "%2F",
            "ünïcödé/日本",
            "kfoo",
            "hdeadbeef",
        ] {
            let name = key_to_file_name(key);
            assert!(!name.contains('/') && !name.contains('\\') && !name.contains('\0'));
            assert!(!name.contains('.'));
            assert_eq!(
                file_name_to_key(&name),
                FileKey::Key(key.to_string()),
                "{key}"
            );
        }
        let long = "x/".repeat(500);
        let name = key_to_file_name(&long);
        assert_eq!(name.len(), 65);
        assert_eq!(file_name_to_key(&name), FileKey::Hashed);
    }

    #[test]
    fn bucket_names() {
        for ok in ["abc", "my-bucket.1", "public", "reports"] {
            assert!(valid_bucket_name(ok), "{ok}");
        }
        for bad in [
            "ab",
            "ABC",
            "a..b",
            "-abc",
            "abc-",
            "192.168.1.1",
            "xn--abc",
            "a_b",
            "..",
        ] {
            assert!(!valid_bucket_name(bad), "{bad}");
        }
    }
}
