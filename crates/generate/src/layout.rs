//! The S3 delivery layout: one object per account, region and five-minute delivery period.

use crate::rng::{self, ALNUM, Mix, domain};
use crate::time::{civil, push_compact};

/// Length of a delivery period, seconds.
pub(crate) const PERIOD: i64 = 300;

/// The delivery period of a time.
pub(crate) fn period_of(t: i64) -> i64 {
    t.div_euclid(PERIOD)
}

/// The path, relative to the output folder, of the file holding the events of `account` and
/// `region` in delivery period `period`. The time in the name is the end of the period; the folder
/// date is that of the name.
pub(crate) fn file_rel(
    seed: u64,
    account_idx: u8,
    account: &str,
    region: &str,
    region_idx: u8,
    period: i64,
) -> String {
    let end = (period + 1) * PERIOD;
    let c = civil(end);
    let mut m = Mix(rng::derive(
        seed,
        domain::FILE,
        u64::from(account_idx) * 64 + u64::from(region_idx),
        period as u64,
    ));
    let mut name = Vec::with_capacity(96);
    name.extend_from_slice(account.as_bytes());
    name.extend_from_slice(b"_CloudTrail_");
    name.extend_from_slice(region.as_bytes());
    name.push(b'_');
    push_compact(&mut name, end);
    name.push(b'_');
    rng::push_chars(&mut name, &mut m, ALNUM, 16);
    name.extend_from_slice(b".json.gz");
    format!(
        "AWSLogs/{account}/CloudTrail/{region}/{:04}/{:02}/{:02}/{}",
        c.year,
        c.month,
        c.day,
        String::from_utf8(name).expect("ASCII")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_delivery_layout() {
        // Period 23:55-24:00 on 2026-01-01 is delivered in the next day's folder.
        let t = 1_767_311_999; // 2026-01-01T23:59:59Z
        let p = file_rel(1, 0, "123456789012", "us-east-1", 0, period_of(t));
        assert!(
            p.starts_with("AWSLogs/123456789012/CloudTrail/us-east-1/2026/01/02/123456789012_CloudTrail_us-east-1_20260102T0000Z_"),
            "{p}"
        );
        assert!(p.ends_with(".json.gz"));
        assert_eq!(
            p,
            file_rel(1, 0, "123456789012", "us-east-1", 0, period_of(t))
        );
        assert_ne!(
            p,
            file_rel(2, 0, "123456789012", "us-east-1", 0, period_of(t))
        );
    }
}
