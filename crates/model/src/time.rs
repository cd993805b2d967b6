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
    let t = DateTime::parse_from_rfc3339(s).map_err(|_| TimeError::Unparsable)?;
    t.timestamp_nanos_opt().ok_or(TimeError::OutOfRange)
}

/// Formats a [`Timestamp`] as RFC 3339 UTC (`2023-07-10T12:15:31Z`, fractional digits only when
/// needed).
pub fn format_rfc3339(t: Timestamp) -> String {
    DateTime::<Utc>::from_timestamp_nanos(t).to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

#[cfg(test)]
mod tests {
    use super::*;

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
