//! UTC timestamps as i64 nanoseconds since the Unix epoch.
//!
//! Kusto counts 100 ns ticks; nanoseconds are finer, exact under the same integer arithmetic, and
//! cover 1677-09-21 to 2262-04-11. A CloudTrail time outside that range is reported as bad input.

use chrono::{DateTime, SecondsFormat, Utc};

/// Nanoseconds since 1970-01-01T00:00:00Z.
pub type Timestamp = i64;

/// One second in [`Timestamp`] units.
pub const SECOND: i64 = 1_000_000_000;
/// One hour in [`Timestamp`] units.
pub const HOUR: i64 = 3600 * SECOND;
/// One day in [`Timestamp`] units.
pub const DAY: i64 = 24 * HOUR;

/// Why a time string was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeError {
    /// Not an RFC 3339 date-time.
    Unparsable,
    /// A valid date-time outside what an i64 of nanoseconds holds.
    OutOfRange,
}

/// Parses an RFC 3339 time such as CloudTrail's `2023-07-10T12:15:31Z` into a [`Timestamp`].
pub fn parse_rfc3339(s: &str) -> Result<Timestamp, TimeError> {
    if let Some(t) = parse_cloudtrail_form(s.as_bytes()) {
        return Ok(t);
    }
    let t = DateTime::parse_from_rfc3339(s).map_err(|_| TimeError::Unparsable)?;
    t.timestamp_nanos_opt().ok_or(TimeError::OutOfRange)
}

/// The form CloudTrail writes, `YYYY-MM-DDTHH:MM:SSZ`, parsed without chrono's general
/// machinery (it is on every record's path). `None` for anything else, including invalid dates,
/// which the general parser then judges.
fn parse_cloudtrail_form(b: &[u8]) -> Option<Timestamp> {
    let &[
        y0,
        y1,
        y2,
        y3,
        b'-',
        m0,
        m1,
        b'-',
        d0,
        d1,
        b'T',
        h0,
        h1,
        b':',
        n0,
        n1,
        b':',
        s0,
        s1,
        b'Z',
    ] = b
    else {
        return None;
    };
    let digit = |c: u8| c.is_ascii_digit().then(|| i64::from(c - b'0'));
    let two = |a: u8, b: u8| Some(digit(a)? * 10 + digit(b)?);
    let year = two(y0, y1)? * 100 + two(y2, y3)?;
    let (month, day) = (two(m0, m1)?, two(d0, d1)?);
    let (hour, minute, second) = (two(h0, h1)?, two(n0, n1)?, two(s0, s1)?);
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    // Years outside 1678..=2261 lie at or beyond the edges of i64 nanoseconds: the general
    // parser decides those.
    if !(1678..=2261).contains(&year)
        || day < 1
        || day > month_days
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    // Days from the civil date (the proleptic Gregorian calendar, as in chrono).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 24 + hour) * 60 + minute) * 60 * SECOND + second * SECOND)
}

/// The UTC calendar date of a [`Timestamp`] as `(year, month, day)`.
pub fn utc_date(t: Timestamp) -> (i32, u32, u32) {
    use chrono::Datelike;
    let d = DateTime::<Utc>::from_timestamp_nanos(t).date_naive();
    (d.year(), d.month(), d.day())
}

/// Formats a [`Timestamp`] as RFC 3339 UTC (`2023-07-10T12:15:31Z`, fractional digits only when
/// needed).
pub fn format_rfc3339(t: Timestamp) -> String {
    DateTime::<Utc>::from_timestamp_nanos(t).to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// Parses the `expiration` of STS credentials as CloudTrail writes it in `responseElements`:
/// the AWS SDK's date form `Dec 5, 2026, 9:03:52 AM` (UTC), or RFC 3339. `None` otherwise.
pub fn parse_expiration(s: &str) -> Option<Timestamp> {
    if let Ok(t) = parse_rfc3339(s) {
        return Some(t);
    }
    let t = chrono::NaiveDateTime::parse_from_str(s.trim(), "%b %e, %Y, %l:%M:%S %p").ok()?;
    t.and_utc().timestamp_nanos_opt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_expirations() {
        assert_eq!(
            parse_expiration("Dec 5, 2026, 9:03:52 AM"),
            parse_rfc3339("2026-12-05T09:03:52Z").ok()
        );
        assert_eq!(
            parse_expiration("Jan 17, 2024, 12:44:47 PM"),
            parse_rfc3339("2024-01-17T12:44:47Z").ok()
        );
        assert_eq!(
            parse_expiration("Jan 17, 2024, 12:04:07 AM"),
            parse_rfc3339("2024-01-17T00:04:07Z").ok()
        );
        assert_eq!(
            parse_expiration("2024-01-17T12:44:47Z"),
            parse_rfc3339("2024-01-17T12:44:47Z").ok()
        );
        assert_eq!(parse_expiration("tomorrow"), None);
    }

    #[test]
    fn fast_form_agrees_with_chrono() {
        // Every day boundary of several leap and common years, plus invalid dates that must fall
        // through to the general parser's verdict.
        let mut t = parse_rfc3339("1999-12-25T23:59:59Z").unwrap();
        for _ in 0..(366 * 3 + 400) {
            let text = format_rfc3339(t);
            let general = DateTime::parse_from_rfc3339(&text)
                .unwrap()
                .timestamp_nanos_opt()
                .unwrap();
            assert_eq!(
                parse_cloudtrail_form(text.as_bytes()),
                Some(general),
                "{text}"
            );
            t += DAY + 17 * SECOND;
        }
        for bad in [
            "2023-02-29T00:00:00Z",
            "2024-13-01T00:00:00Z",
            "2024-04-31T00:00:00Z",
            "2024-04-01T24:00:00Z",
            "2024-04-01T23:60:00Z",
            "2024-04-01T23:59:60Z",
            "2024-04-00T00:00:00Z",
            "2024-0a-01T00:00:00Z",
            "2262-04-12T00:00:00Z",
        ] {
            assert_eq!(parse_cloudtrail_form(bad.as_bytes()), None, "{bad}");
        }
        assert_eq!(
            parse_rfc3339("2023-02-29T00:00:00Z"),
            Err(TimeError::Unparsable)
        );
        assert_eq!(
            parse_rfc3339("2262-04-12T00:00:00Z"),
            Err(TimeError::OutOfRange)
        );
        assert_eq!(
            parse_rfc3339("2000-02-29T12:00:00Z"),
            Ok(951_825_600 * SECOND)
        );
    }

    #[test]
    fn utc_dates() {
        assert_eq!(utc_date(0), (1970, 1, 1));
        assert_eq!(
            utc_date(parse_rfc3339("2024-02-29T23:59:59Z").unwrap()),
            (2024, 2, 29)
        );
        assert_eq!(utc_date(-1), (1969, 12, 31));
    }

    #[test]
    fn parses_cloudtrail_times() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Ok(0));
        assert_eq!(
            parse_rfc3339("2023-07-10T12:15:31Z"),
            Ok(1_688_991_331 * SECOND)
        );
        assert_eq!(
            parse_rfc3339("2023-07-10T12:15:31.5Z"),
            Ok(1_688_991_331 * SECOND + SECOND / 2)
        );
        assert_eq!(
            parse_rfc3339("2023-07-10 12:15"),
            Err(TimeError::Unparsable)
        );
        assert_eq!(
            parse_rfc3339("9999-12-31T23:59:59Z"),
            Err(TimeError::OutOfRange)
        );
        assert_eq!(parse_rfc3339(""), Err(TimeError::Unparsable));
    }

    #[test]
    fn round_trips() {
        let t = parse_rfc3339("2023-07-10T12:15:31Z").unwrap();
        assert_eq!(format_rfc3339(t), "2023-07-10T12:15:31Z");
        assert_eq!(format_rfc3339(t + 1_000_000), "2023-07-10T12:15:31.001Z");
    }
}
