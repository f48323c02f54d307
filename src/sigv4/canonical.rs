//! Canonicalisation of the request parts (path, query, headers) as AWS defines it.

use std::borrow::Cow;

/// How a service canonicalises the request path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathMode {
    /// S3: the path as sent, no normalisation; bytes outside AWS's unreserved set (and `/`) are
    /// percent-encoded, existing `%XX` escapes are kept as sent (single encoding).
    AsSent,
    /// Every other service: dot segments removed, repeated slashes collapsed, then every byte
    /// outside the unreserved set URI-encoded, `%` included (double encoding).
    Normalized,
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

#[inline]
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~')
}

/// URI-encodes `bytes` into `out` with AWS's rules (unreserved bytes kept, everything else `%XX`
/// upper case); `/` is kept when `keep_slash`.
pub fn uri_encode(out: &mut Vec<u8>, bytes: &[u8], keep_slash: bool) {
    for &b in bytes {
        if is_unreserved(b) || (keep_slash && b == b'/') {
            out.push(b);
        } else {
            out.extend_from_slice(&[b'%', HEX[(b >> 4) as usize], HEX[(b & 15) as usize]]);
        }
    }
}

const HEX_LOWER: &[u8; 16] = b"0123456789abcdef";

/// Lower-case hex of 32 bytes, without allocating.
#[inline]
pub fn hex32(bytes: &[u8; 32]) -> [u8; 64] {
    let mut out = [0u8; 64];
    for (i, b) in bytes.iter().enumerate() {
        out[2 * i] = HEX_LOWER[(b >> 4) as usize];
        out[2 * i + 1] = HEX_LOWER[(b & 15) as usize];
    }
    out
}

/// Appends the lower-case hex of 32 bytes to a string.
#[inline]
pub fn push_hex32(out: &mut String, bytes: &[u8; 32]) {
    for b in bytes {
        out.push(HEX_LOWER[(b >> 4) as usize] as char);
        out.push(HEX_LOWER[(b & 15) as usize] as char);
    }
}

/// Decodes exactly 64 hex digits (either case) into 32 bytes.
#[inline]
pub fn unhex32(s: &[u8]) -> Option<[u8; 32]> {
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in s.chunks_exact(2).enumerate() {
        out[i] = hex_val(pair[0])? << 4 | hex_val(pair[1])?;
    }
    Some(out)
}

#[inline]
fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Percent-decodes `bytes` (`+` stays `+`); an invalid escape is kept literally.
pub fn percent_decode(bytes: &[u8]) -> Cow<'_, [u8]> {
    if !bytes.contains(&b'%') {
        return Cow::Borrowed(bytes);
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex_val(bytes[i + 1]), hex_val(bytes[i + 2])) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(b);
        i += 1;
    }
    Cow::Owned(out)
}

/// Appends the canonical URI of `raw_path` (as received, not decoded) to `out`.
pub fn canonical_path(out: &mut Vec<u8>, raw_path: &[u8], mode: PathMode) {
    match mode {
        PathMode::AsSent => {
            if raw_path.is_empty() {
                out.push(b'/');
                return;
            }
            let mut i = 0;
            while i < raw_path.len() {
                let b = raw_path[i];
                if b == b'%'
                    && i + 2 < raw_path.len()
                    && hex_val(raw_path[i + 1]).is_some()
                    && hex_val(raw_path[i + 2]).is_some()
                {
                    out.extend_from_slice(&raw_path[i..i + 3]);
                    i += 3;
                    continue;
                }
                uri_encode(out, &raw_path[i..i + 1], true);
                i += 1;
            }
        }
        PathMode::Normalized => {
            let mut segments: Vec<&[u8]> = Vec::new();
            for seg in raw_path.split(|&b| b == b'/') {
                match seg {
                    b"" | b"." => {}
                    b".." => {
                        segments.pop();
                    }
                    s => segments.push(s),
                }
            }
            out.push(b'/');
            for (i, seg) in segments.iter().enumerate() {
                if i > 0 {
                    out.push(b'/');
                }
                uri_encode(out, seg, false);
            }
            if !segments.is_empty() && raw_path.ends_with(b"/") {
                out.push(b'/');
            }
        }
    }
}

/// One query parameter, percent-decoded.
pub type QueryParam<'a> = (Cow<'a, [u8]>, Cow<'a, [u8]>);

/// Splits a raw query string into decoded `(name, value)` pairs, in order. A parameter without
/// `=` has an empty value; empty pieces (`a=1&&b=2`) are skipped.
pub fn parse_query(raw_query: &[u8]) -> Vec<QueryParam<'_>> {
    raw_query
        .split(|&b| b == b'&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.iter().position(|&b| b == b'=') {
            Some(i) => (percent_decode(&p[..i]), percent_decode(&p[i + 1..])),
            None => (percent_decode(p), Cow::Borrowed(&b""[..])),
        })
        .collect()
}

/// Appends the canonical query string of `params` to `out`: names and values URI-encoded, sorted
/// by encoded name then value, joined with `&`; parameters for which `skip` is true are left out.
pub fn canonical_query(out: &mut Vec<u8>, params: &[QueryParam<'_>], skip: impl Fn(&[u8]) -> bool) {
    let mut encoded: Vec<(Vec<u8>, Vec<u8>)> = params
        .iter()
        .filter(|(n, _)| !skip(n))
        .map(|(n, v)| {
            let mut en = Vec::with_capacity(n.len());
            uri_encode(&mut en, n, false);
            let mut ev = Vec::with_capacity(v.len());
            uri_encode(&mut ev, v, false);
            (en, ev)
        })
        .collect();
    encoded.sort_unstable();
    for (i, (n, v)) in encoded.iter().enumerate() {
        if i > 0 {
            out.push(b'&');
        }
        out.extend_from_slice(n);
        out.push(b'=');
        out.extend_from_slice(v);
    }
}

#[inline]
fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// Appends one header value canonicalised: leading and trailing whitespace trimmed, inner runs of
/// whitespace (folded lines included) collapsed to one space.
pub fn canonical_header_value(out: &mut Vec<u8>, value: &[u8]) {
    // Fast path: nothing to trim or collapse.
    let simple = value.first().is_some_and(|&b| !is_ws(b))
        && value.last().is_some_and(|&b| !is_ws(b))
        && !value
            .windows(2)
            .any(|w| matches!(w[0], b'\t' | b'\r' | b'\n') || (w[0] == b' ' && w[1] == b' '));
    if simple {
        out.extend_from_slice(value);
        return;
    }
    let mut pending_space = false;
    let mut started = false;
    for &b in value {
        if is_ws(b) {
            pending_space = started;
        } else {
            if pending_space {
                out.push(b' ');
                pending_space = false;
            }
            out.push(b);
            started = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(p: &str, m: PathMode) -> String {
        let mut o = Vec::new();
        canonical_path(&mut o, p.as_bytes(), m);
        String::from_utf8(o).unwrap()
    }

    #[test]
    fn paths() {
        use PathMode::*;
        assert_eq!(path("//example//", Normalized), "/example/");
        assert_eq!(path("/./", Normalized), "/");
        assert_eq!(path("/example/..", Normalized), "/");
        assert_eq!(path("/a%20b", Normalized), "/a%2520b");
        assert_eq!(path("/a%20b c", AsSent), "/a%20b%20c");
        assert_eq!(path("/a/../b//", AsSent), "/a/../b//");
        assert_eq!(path("/100%", AsSent), "/100%25");
        assert_eq!(path("", AsSent), "/");
    }

    #[test]
    fn header_values() {
        let mut o = Vec::new();
        canonical_header_value(&mut o, b"  a   b\r\n   c  ");
        assert_eq!(o, b"a b c");
    }

    #[test]
    fn hex_helpers() {
        let b: [u8; 32] = core::array::from_fn(|i| (i * 37) as u8);
        let h = hex32(&b);
        assert_eq!(&h[..], hex::encode(b).as_bytes());
        assert_eq!(unhex32(&h), Some(b));
        assert_eq!(unhex32(hex::encode_upper(b).as_bytes()), Some(b));
        assert_eq!(unhex32(b"zz"), None);
    }

    #[test]
    fn decode() {
        assert_eq!(&*percent_decode(b"a%2Fb%zz%4"), b"a/b%zz%4");
        assert_eq!(&*percent_decode(b"%41"), b"A");
    }
}
