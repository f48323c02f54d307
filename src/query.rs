//! Query strings and form bodies: `name=value` pairs joined by `&`.
//!
//! Decoding is `form_urlencoded`'s (`+` is a space, `%XX` a byte). Where the text must be what
//! S3 accepts, [`strict_pairs`] first refuses what `form_urlencoded` would let through (an
//! invalid escape, escapes that are not UTF-8); [`raw_pairs`] serves the readers that compare
//! or keep the text as it was sent.

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

/// The pairs decoded (`+` is a space), borrowed where there is nothing to decode; an invalid
/// escape or escapes that do not form UTF-8 anywhere in `text` are refused, naming the name or
/// value that holds them.
pub fn strict_pairs(text: &str) -> Result<form_urlencoded::Parse<'_>, BadEncoding> {
    check_encoding(text).map_err(|e| {
        // Name the piece at fault (the error path only).
        let bad = raw_pairs(text)
            .flat_map(|(name, value)| [name, value])
            .find_map(|part| check_encoding(part).err());
        bad.unwrap_or(e)
    })?;
    Ok(form_urlencoded::parse(text.as_bytes()))
}

/// One component (a name, a value, a path segment) percent-decoded once, `+` a space when
/// `plus_is_space`; refused as [`strict_pairs`] refuses.
pub fn strict_decode(text: &str, plus_is_space: bool) -> Result<Cow<'_, str>, BadEncoding> {
    check_encoding(text)?;
    let decoded = if plus_is_space && text.contains('+') {
        let spaced = text.replace('+', " ");
        Cow::Owned(percent_decode_valid(&spaced).into_owned())
    } else {
        percent_decode_valid(text)
    };
    Ok(decoded)
}

/// Decodes text [`check_encoding`] accepted: lossless.
fn percent_decode_valid(text: &str) -> Cow<'_, str> {
    percent_encoding::percent_decode_str(text).decode_utf8_lossy()
}

/// Whether every `%` in `text` starts a `%XX` escape and the escaped bytes form UTF-8.
fn check_encoding(text: &str) -> Result<(), BadEncoding> {
    let bytes = text.as_bytes();
    let mut non_ascii = false;
    for at in memchr::memchr_iter(b'%', bytes) {
        let digit = |i: usize| bytes.get(i).copied().filter(u8::is_ascii_hexdigit);
        match (digit(at + 1), digit(at + 2)) {
            (Some(high), Some(_)) => non_ascii |= high >= b'8',
            _ => return Err(BadEncoding::Escape(text.to_owned())),
        }
    }
    // `text` is UTF-8 and an escaped ASCII byte keeps it so: only escapes of 0x80 and up can
    // break it.
    if non_ascii
        && percent_encoding::percent_decode_str(text)
            .decode_utf8()
            .is_err()
    {
        return Err(BadEncoding::NotUtf8(text.to_owned()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(text: &str) -> Vec<(String, String)> {
        strict_pairs(text)
            .unwrap()
            .map(|(n, v)| (n.into_owned(), v.into_owned()))
            .collect()
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
        let (name, value) = strict_pairs("prefix=logs/2026").unwrap().next().unwrap();
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
        assert_eq!(
            strict_pairs("a=1&prefix=%zz&b=2").err(),
            Some(BadEncoding::Escape("%zz".into()))
        );
        assert_eq!(
            strict_pairs("a=1&na%FFme=2").err(),
            Some(BadEncoding::NotUtf8("na%FFme".into()))
        );
        // What form_urlencoded alone would have let through.
        assert_eq!(
            form_urlencoded::parse(b"k=%zz%FF").next().unwrap().1,
            "%zz\u{FFFD}"
        );
    }
}
