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

/// AWS's unreserved bytes (`A-Z a-z 0-9 - _ . ~`), by table: every byte of every query
/// component and path goes through here.
const UNRESERVED: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.' | b'~');
        b += 1;
    }
    table
};

#[inline]
fn is_unreserved(b: u8) -> bool {
    UNRESERVED[b as usize]
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
pub(crate) fn hex32(bytes: &[u8; 32]) -> [u8; 64] {
    let mut out = [0u8; 64];
    for (i, b) in bytes.iter().enumerate() {
        out[2 * i] = HEX_LOWER[(b >> 4) as usize];
        out[2 * i + 1] = HEX_LOWER[(b & 15) as usize];
    }
    out
}

/// Appends the lower-case hex of 32 bytes to a string.
#[inline]
pub(crate) fn push_hex32(out: &mut String, bytes: &[u8; 32]) {
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
    // A table lookup per digit, one validity check at the end: no branch per digit.
    let mut invalid = 0u8;
    for (o, pair) in out.iter_mut().zip(s.chunks_exact(2)) {
        let (hi, lo) = (HEX_VALUE[pair[0] as usize], HEX_VALUE[pair[1] as usize]);
        invalid |= hi | lo;
        *o = (hi << 4) | (lo & 0x0f);
    }
    (invalid & 0x80 == 0).then_some(out)
}

/// The value of each hex digit; 0xff for bytes that are not one.
static HEX_VALUE: [u8; 256] = {
    let mut t = [0xffu8; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        t[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

#[inline]
fn hex_val(b: u8) -> Option<u8> {
    let v = HEX_VALUE[b as usize];
    (v != 0xff).then_some(v)
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
    if raw_query.is_empty() {
        return Vec::new();
    }
    // Sized once: a presigned URL has eight or more parameters, and growing is a copy each time.
    let mut params = Vec::with_capacity(query_capacity(raw_query));
    params.extend(
        query_pieces(raw_query).map(|p| match p.iter().position(|&b| b == b'=') {
            Some(i) => (percent_decode(&p[..i]), percent_decode(&p[i + 1..])),
            None => (percent_decode(p), Cow::Borrowed(&b""[..])),
        }),
    );
    params
}

/// Below this length a query is split byte by byte: `memchr`'s vector search costs more to set
/// up than it saves on a few parameters (a header-signed request's), and far less on the
/// hundreds of bytes of a presigned URL's.
const SHORT_QUERY: usize = 64;

/// The non-empty `&`-separated pieces of a raw query (it is split twice per request).
fn query_pieces(raw_query: &[u8]) -> QueryPieces<'_> {
    QueryPieces {
        rest: Some(raw_query),
        vector: raw_query.len() >= SHORT_QUERY,
    }
}

/// See [`query_pieces`].
struct QueryPieces<'a> {
    /// What is left to split; `None` once the last piece was taken.
    rest: Option<&'a [u8]>,
    /// Whether to search with `memchr` (a long query) or byte by byte.
    vector: bool,
}

impl<'a> Iterator for QueryPieces<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        while let Some(rest) = self.rest {
            let end = if self.vector {
                memchr::memchr(b'&', rest)
            } else {
                rest.iter().position(|&b| b == b'&')
            };
            let piece = match end {
                Some(i) => {
                    self.rest = Some(&rest[i + 1..]);
                    &rest[..i]
                }
                None => {
                    self.rest = None;
                    rest
                }
            };
            if !piece.is_empty() {
                return Some(piece);
            }
        }
        None
    }
}

/// How many parameters a raw query holds at most (to size the vector once).
fn query_capacity(raw_query: &[u8]) -> usize {
    1 + if raw_query.len() < SHORT_QUERY {
        raw_query.iter().filter(|&&b| b == b'&').count()
    } else {
        memchr::memchr_iter(b'&', raw_query).count()
    }
}

/// Appends the canonical query string of `raw_query` (as received) to `out`: each name and value
/// percent-decoded then URI-encoded, sorted by encoded name then value, joined with `&`;
/// parameters whose encoded name `skip` is true for are left out. Empty pieces (`a=1&&b=2`) are
/// skipped and a parameter without `=` has an empty value, as [`parse_query`] reads them.
pub fn canonical_query(out: &mut Vec<u8>, raw_query: &[u8], skip: impl Fn(&[u8]) -> bool) {
    let mut encoded: Vec<QueryParam<'_>> = Vec::with_capacity(query_capacity(raw_query));
    for piece in query_pieces(raw_query) {
        let (name, value) = match piece.iter().position(|&b| b == b'=') {
            Some(i) => (&piece[..i], &piece[i + 1..]),
            None => (piece, &b""[..]),
        };
        let name = canonical_component(name);
        if !skip(&name) {
            encoded.push((name, canonical_component(value)));
        }
    }
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

/// A raw query name or value in canonical form, in one pass: what [`percent_decode`] then
/// [`uri_encode`] would give, without the decoded copy between them. Borrowed when the raw text
/// is unreserved bytes only (most parameters: dates, algorithms, hashes, signed header lists).
fn canonical_component(raw: &[u8]) -> Cow<'_, [u8]> {
    if raw.iter().all(|&b| is_unreserved(b)) {
        return Cow::Borrowed(raw);
    }
    let mut out = Vec::with_capacity(raw.len() + 16);
    let mut i = 0;
    while i < raw.len() {
        let mut b = raw[i];
        i += 1;
        // A valid escape stands for its byte (re-encoded below unless unreserved); an invalid
        // one is a literal `%`, as `percent_decode` keeps it.
        if b == b'%' && i + 1 < raw.len() {
            if let (Some(h), Some(l)) = (hex_val(raw[i]), hex_val(raw[i + 1])) {
                b = h << 4 | l;
                i += 2;
            }
        }
        if is_unreserved(b) {
            out.push(b);
        } else {
            out.extend_from_slice(&[b'%', HEX[(b >> 4) as usize], HEX[(b & 15) as usize]]);
        }
    }
    Cow::Owned(out)
}

#[inline]
fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// Whether a header value is already canonical: no whitespace at either end, no tab, CR or LF,
/// no run of spaces. Checked eight bytes at a time: most values (hosts, dates, hashes) have no
/// byte below `!` at all.
#[inline]
fn is_simple_value(value: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let (Some(&first), Some(&last)) = (value.first(), value.last()) else {
        return false;
    };
    if is_ws(first) || is_ws(last) {
        return false;
    }
    let mut chunks = value.chunks_exact(8);
    let mut any_low = false;
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_le_bytes(word);
        // Nonzero exactly when some byte is below 0x21 (space and controls): the classic
        // "has less than" word test, exact for existence.
        if x.wrapping_sub(ONES * 0x21) & !x & HIGHS != 0 {
            any_low = true;
            break;
        }
    }
    if !any_low && chunks.remainder().iter().all(|&b| b > b' ') {
        return true;
    }
    // Some space or control byte: the careful check.
    !value
        .windows(2)
        .any(|w| matches!(w[0], b'\t' | b'\r' | b'\n') || (w[0] == b' ' && w[1] == b' '))
}

/// Appends one header value canonicalised: leading and trailing whitespace trimmed, inner runs of
/// whitespace (folded lines included) collapsed to one space.
pub fn canonical_header_value(out: &mut Vec<u8>, value: &[u8]) {
    // Fast path: nothing to trim or collapse.
    if is_simple_value(value) {
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

    /// `len` bytes drawn from `alphabet` by an xorshift generator (repeatable, no dependency).
    fn random_bytes(seed: &mut u64, len: usize, alphabet: &[u8]) -> Vec<u8> {
        (0..len)
            .map(|_| {
                *seed ^= *seed << 13;
                *seed ^= *seed >> 7;
                *seed ^= *seed << 17;
                alphabet[(*seed % alphabet.len() as u64) as usize]
            })
            .collect()
    }

    /// The canonical query as the specification builds it: decode every parameter, then encode.
    fn canonical_query_in_two_steps(raw: &[u8], skip: impl Fn(&[u8]) -> bool) -> Vec<u8> {
        let encode = |b: &[u8]| {
            let mut out = Vec::new();
            uri_encode(&mut out, b, false);
            out
        };
        let mut pairs: Vec<(Vec<u8>, Vec<u8>)> = parse_query(raw)
            .iter()
            .filter(|(n, _)| !skip(n))
            .map(|(n, v)| (encode(n), encode(v)))
            .collect();
        pairs.sort_unstable();
        pairs
            .iter()
            .map(|(n, v)| [&n[..], b"=", &v[..]].concat())
            .collect::<Vec<_>>()
            .join(&b'&')
    }

    #[test]
    fn the_one_pass_canonical_query_agrees_with_decoding_then_encoding() {
        let skip = |n: &[u8]| n == b"X-Amz-Signature";
        let fixed: [&[u8]; 9] = [
            b"",
            b"X-Amz-Credential=AKID%2F20261128%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature=ab",
            b"a=%41%7e%2d&b=%zz%4&c=%&d=%%41",
            b"&&x&y=&=z&a=b=c",
            b"sp=a+b%20c&u=%E2%9C%93&l=%e2%9c%93",
            b"X%2DAmz-Signature=1&k=%2",
            b"b=2&a=2&a=1&A=3",
            b"\xff=\x80&~=.",
            b"%",
        ];
        for raw in fixed {
            let mut out = Vec::new();
            canonical_query(&mut out, raw, skip);
            assert_eq!(out, canonical_query_in_two_steps(raw, skip), "{raw:?}");
        }
        let alphabet = b"%2fAa0=&+~-._ /\x80\xffgG";
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        // Short queries are split byte by byte, long ones (`SHORT_QUERY` and over) with memchr.
        for len in (0..24).chain(SHORT_QUERY - 4..SHORT_QUERY + 40) {
            for _ in 0..500 {
                let raw = random_bytes(&mut seed, len, alphabet);
                let mut out = Vec::new();
                canonical_query(&mut out, &raw, skip);
                assert_eq!(out, canonical_query_in_two_steps(&raw, skip), "{raw:?}");
            }
        }
    }

    #[test]
    fn the_word_at_a_time_check_agrees_with_the_plain_one() {
        let plain = |v: &[u8]| {
            v.first().is_some_and(|&b| !is_ws(b))
                && v.last().is_some_and(|&b| !is_ws(b))
                && !v.windows(2).any(|w| {
                    matches!(w[0], b'\t' | b'\r' | b'\n') || (w[0] == b' ' && w[1] == b' ')
                })
        };
        let alphabet = [
            b' ', b'\t', b'\r', b'\n', b'!', b'a', 0x00, 0x1f, 0x20, 0x21, 0x7f, 0x80, 0xff,
        ];
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for len in 0..40 {
            for _ in 0..400 {
                let v = random_bytes(&mut seed, len, &alphabet);
                assert_eq!(is_simple_value(&v), plain(&v), "{v:?}");
            }
        }
    }

    #[test]
    fn unhex32_takes_both_cases_and_nothing_else() {
        let hex = "00112233445566778899aabbccddeeffAABBCCDDEEFF00112233445566778899";
        let bytes = unhex32(hex.as_bytes()).unwrap();
        assert_eq!(bytes[..4], [0x00, 0x11, 0x22, 0x33]);
        assert_eq!(
            bytes[24..],
            [0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99]
        );
        for bad in [b'g', b'G', b' ', b'/', b':', b'@', b'`', 0x80, 0xff] {
            for at in [0, 1, 33, 63] {
                let mut h = hex.as_bytes().to_vec();
                h[at] = bad;
                assert_eq!(unhex32(&h), None);
            }
        }
        assert_eq!(unhex32(&hex.as_bytes()[..62]), None);
    }

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
