//! AWS's timestamps: ISO 8601 extended (`2026-11-27T12:00:00Z`, `aws:CurrentTime`, STS's
//! `Expiration`) and basic (`20261127T120000Z`, `x-amz-date`), from Unix seconds.
//!
//! ```
//! use iamgate_sigv4::timestamp::{amz_date, iso8601};
//!
//! assert_eq!(iso8601(1_440_938_160), "2015-08-30T12:36:00Z");
//! assert_eq!(amz_date(1_440_938_160), "20150830T123600Z");
//! ```

/// `2026-11-27T12:00:00Z`: ISO 8601 extended, UTC, whole seconds (for years 0 to 9999).
pub fn iso8601(epoch: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(epoch)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    // By hand rather than `format!`: once per request, and the formatting machinery cost more
    // than the rest of the context.
    let mut out = String::with_capacity(20);
    let mut digits = |value: u32, width: u32, after: char| {
        for place in (0..width).rev() {
            let digit = (value / 10u32.pow(place)) % 10;
            out.push(char::from(b'0' + digit as u8));
        }
        out.push(after);
    };
    digits(t.year().clamp(0, 9999) as u32, 4, '-');
    digits(u32::from(u8::from(t.month())), 2, '-');
    digits(u32::from(t.day()), 2, 'T');
    digits(u32::from(t.hour()), 2, ':');
    digits(u32::from(t.minute()), 2, ':');
    digits(u32::from(t.second()), 2, 'Z');
    out
}

/// `20261127T120000Z`, the form of `x-amz-date`.
pub fn amz_date(epoch: i64) -> String {
    iso8601(epoch).replace(['-', ':'], "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso8601_dates() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(1_795_780_800), "2026-11-27T12:00:00Z");
        assert_eq!(iso8601(951_782_400 + 86_399), "2000-02-29T23:59:59Z");
        assert_eq!(iso8601(253_402_300_799), "9999-12-31T23:59:59Z");
    }

    #[test]
    fn basic_form() {
        assert_eq!(amz_date(1_795_780_800), "20261127T120000Z");
    }
}
