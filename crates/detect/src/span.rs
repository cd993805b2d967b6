//! Durations in rule parameters: `"14d"`, `"8h"`, `"1h30m"`, `"90s"`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

const UNITS: [(&str, i64); 7] = [
    ("d", 86_400_000_000_000),
    ("h", 3_600_000_000_000),
    ("m", 60_000_000_000),
    ("s", 1_000_000_000),
    ("ms", 1_000_000),
    ("us", 1_000),
    ("ns", 1),
];

/// A non-negative duration in nanoseconds, written in parameters as one or more
/// `<integer><unit>` groups with units `d`, `h`, `m`, `s`, `ms`, `us`, `ns` (Kusto timespan
/// literals: `14d`, `8h`, `1h30m`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Span(i64);

/// Why a duration string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a duration (expected e.g. \"14d\", \"8h\", \"1h30m\"): {0:?}")]
pub struct SpanError(String);

impl Span {
    /// A span of `n` nanoseconds (negative values are clamped to 0).
    pub const fn from_nanos(n: i64) -> Self {
        Span(if n < 0 { 0 } else { n })
    }

    /// A span of `n` hours.
    pub const fn hours(n: i64) -> Self {
        Span::from_nanos(n * 3_600_000_000_000)
    }

    /// A span of `n` days.
    pub const fn days(n: i64) -> Self {
        Span::from_nanos(n * 86_400_000_000_000)
    }

    /// The span in nanoseconds.
    pub const fn nanos(self) -> i64 {
        self.0
    }
}

impl FromStr for Span {
    type Err = SpanError;

    fn from_str(s: &str) -> Result<Self, SpanError> {
        let err = || SpanError(s.to_owned());
        let mut rest = s.trim();
        if rest.is_empty() {
            return Err(err());
        }
        let mut total: i64 = 0;
        while !rest.is_empty() {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return Err(err());
            }
            let n: i64 = rest[..digits].parse().map_err(|_| err())?;
            rest = &rest[digits..];
            let letters = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
            let unit = &rest[..letters];
            rest = &rest[letters..];
            let (_, size) = UNITS.iter().find(|(u, _)| *u == unit).ok_or_else(err)?;
            total = n
                .checked_mul(*size)
                .and_then(|v| total.checked_add(v))
                .ok_or_else(err)?;
        }
        Ok(Span(total))
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            return f.write_str("0s");
        }
        let (unit, size) = UNITS
            .iter()
            .find(|(_, size)| self.0 % size == 0)
            .copied()
            .unwrap_or(("ns", 1));
        write!(f, "{}{unit}", self.0 / size)
    }
}

impl Serialize for Span {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        assert_eq!("14d".parse::<Span>().unwrap(), Span::days(14));
        assert_eq!("8h".parse::<Span>().unwrap(), Span::hours(8));
        assert_eq!("1h30m".parse::<Span>().unwrap().nanos(), 5_400_000_000_000);
        assert_eq!("250ms".parse::<Span>().unwrap().nanos(), 250_000_000);
        for bad in ["", "h", "14", "1x", "-1h", "1.5h", "99999999999d"] {
            assert!(bad.parse::<Span>().is_err(), "{bad}");
        }
        assert_eq!(Span::days(14).to_string(), "14d");
        assert_eq!(Span::hours(36).to_string(), "36h");
        assert_eq!("90m".parse::<Span>().unwrap().to_string(), "90m");
        assert_eq!(Span::from_nanos(0).to_string(), "0s");
        assert_eq!(serde_json::to_string(&Span::hours(1)).unwrap(), "\"1h\"");
        assert_eq!(
            serde_json::from_str::<Span>("\"2d\"").unwrap(),
            Span::days(2)
        );
    }
}
