//! Query strings and form bodies: `name=value` pairs joined by `&`.
//!
//! Form bodies (the Query protocol's) are read by `form_urlencoded`. A query string S3 must act
//! on is read by [`strict_pairs`]: the same splitting and decoding (`+` is a space, `%XX` a
//! byte), but an invalid escape or escapes that are not UTF-8 are refused as S3 refuses them
//! (`form_urlencoded` would keep them literally or replace them), and names and values with
//! nothing to decode are borrowed: it runs on every request. [`raw_pairs`] serves the readers
//! that compare or keep the text as it was sent.

use std::borrow::Cow;

/// Text whose percent-encoding S3 would refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadEncoding {
    /// A `%` not followed by two hexadecimal digits (`%`, `%4`, `%zz`).
    #[error("invalid percent-encoding in '{0}'")]
    Escape(String),
    /// Escaped bytes that do not form UTF-8 (`%FF`).
    #[error("'{0}' does not decode to UTF-8")]
    NotUtf8(String),
}

/// The pairs as sent, not decoded, split as `form_urlencoded` splits them: on `&`, empty pieces
/// skipped, a piece without `=` a name with an empty value, a piece with several split at the
/// first.
pub fn raw_pairs(text: &str) -> impl Iterator<Item = (&str, &str)> {
    text.split('&')
        .filter(|piece| !piece.is_empty())
        .map(|piece| piece.split_once('=').unwrap_or((piece, "")))
}

/// The value of the first pair named `name`.
pub fn first<'a, N, V>(pairs: &'a [(N, V)], name: &str) -> Option<&'a str>
where
    N: AsRef<str>,
    V: AsRef<str>,
{
    pairs
        .iter()
        .find(|(n, _)| n.as_ref() == name)
        .map(|(_, v)| v.as_ref())
}

/// The pairs decoded as S3 reads a query string, each name and value borrowed where there is
/// nothing to decode; an invalid one is an error naming it.
pub fn strict_pairs(
    text: &str,
) -> impl Iterator<Item = Result<(Cow<'_, str>, Cow<'_, str>), BadEncoding>> {
    raw_pairs(text)
        .map(|(name, value)| Ok((strict_decode(name, true)?, strict_decode(value, true)?)))
}

/// One component (a name, a value, a path segment) percent-decoded once, `+` a space when
/// `plus_is_space`. An invalid escape (`%`, `%4`, `%zz`) or bytes that do not form UTF-8 after
/// decoding are refused.
pub fn strict_decode(text: &str, plus_is_space: bool) -> Result<Cow<'_, str>, BadEncoding> {
    let bytes = text.as_bytes();
    // memchr: signatures and credentials are long, and most components need no decoding.
    let special = if plus_is_space {
        memchr::memchr2(b'%', b'+', bytes)
    } else {
        memchr::memchr(b'%', bytes)
    };
    if special.is_none() {
        return Ok(Cow::Borrowed(text));
    }
    // By hand rather than with percent_encoding: it keeps invalid escapes, which S3 refuses.
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hi = bytes.get(i + 1).copied().and_then(hex);
                let lo = bytes.get(i + 2).copied().and_then(hex);
                match (hi, lo) {
                    (Some(hi), Some(lo)) => out.push(hi << 4 | lo),
                    _ => return Err(BadEncoding::Escape(text.to_owned())),
                }
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out)
        .map(Cow::Owned)
        .map_err(|_| BadEncoding::NotUtf8(text.to_owned()))
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(text: &str) -> Vec<(String, String)> {
        strict_pairs(text)
            .map(|pair| pair.map(|(n, v)| (n.into_owned(), v.into_owned())))
            .collect::<Result<_, _>>()
            .unwrap()
    }

    fn owned(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn splits_as_forms_are_split() {
        let text = "a=1&&b&c=&d=x=y&a=2&=v";
        let raw: Vec<_> = raw_pairs(text).collect();
        assert_eq!(
            raw,
            [
                ("a", "1"),
                ("b", ""),
                ("c", ""),
                ("d", "x=y"),
                ("a", "2"),
                ("", "v")
            ]
        );
        // The same split as form_urlencoded's, and repeated names kept in order.
        assert_eq!(pairs(text), owned(&raw));
        let decoded: Vec<_> = form_urlencoded::parse(text.as_bytes())
            .map(|(n, v)| (n.into_owned(), v.into_owned()))
            .collect();
        assert_eq!(decoded, owned(&raw));
        assert_eq!(raw_pairs("").count(), 0);
        assert_eq!(first(&raw, "a"), Some("1"));
        assert_eq!(first(&raw, "c"), Some(""));
        assert_eq!(first(&raw, "z"), None);
    }

    #[test]
    fn plus_is_a_space_and_escaped_plus_is_a_plus() {
        assert_eq!(
            pairs("a+b=c+d%2B&%2B=%20"),
            owned(&[("a b", "c d+"), ("+", " ")])
        );
        assert_eq!(strict_decode("a+b%2B", true).unwrap(), "a b+");
        assert_eq!(strict_decode("a+b%2B", false).unwrap(), "a+b+");
        assert_eq!(strict_decode("%E2%82%AC", false).unwrap(), "€");
    }

    #[test]
    fn borrows_what_needs_no_decoding() {
        let (name, value) = strict_pairs("prefix=logs/2026").next().unwrap().unwrap();
        assert!(matches!(
            (name, value),
            (Cow::Borrowed(_), Cow::Borrowed(_))
        ));
        assert!(matches!(
            strict_decode("plain", true).unwrap(),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn refuses_bad_escapes_and_bytes_that_are_not_utf8() {
        for bad in ["%", "%4", "%zz", "a%g0", "%%41"] {
            assert_eq!(
                strict_decode(bad, true),
                Err(BadEncoding::Escape(bad.into()))
            );
        }
        for bad in ["%FF", "%C3", "a%C3%28"] {
            assert_eq!(
                strict_decode(bad, false),
                Err(BadEncoding::NotUtf8(bad.into()))
            );
        }
        // The pair reader names the part at fault.
        let first_error = |text| strict_pairs(text).find_map(Result::err);
        assert_eq!(
            first_error("a=1&prefix=%zz&b=2"),
            Some(BadEncoding::Escape("%zz".into()))
        );
        assert_eq!(
            first_error("a=1&na%FFme=2"),
            Some(BadEncoding::NotUtf8("na%FFme".into()))
        );
        // What form_urlencoded alone would have let through.
        assert_eq!(
            form_urlencoded::parse(b"k=%zz%FF").next().unwrap().1,
            "%zz\u{FFFD}"
        );
    }
}
