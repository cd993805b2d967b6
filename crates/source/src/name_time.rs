//! The delivery time CloudTrail writes into its file names.

use trailhound_model::Timestamp;

/// Parses the `YYYYMMDDTHHMMZ` delivery time from a CloudTrail file name such as
/// `123456789012_CloudTrail_us-east-1_20230710T1220Z_WMiHxZgr5Hdd6UDc.json.gz`.
pub fn delivery_time(name: &str) -> Option<Timestamp> {
    name.split('_').find_map(parse_stamp)
}

fn parse_stamp(s: &str) -> Option<Timestamp> {
    let b = s.as_bytes();
    if b.len() != 14 || b[8] != b'T' || b[13] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        t.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| t.parse().ok())?
    };
    let (y, mo, d, h, mi) = (
        num(0..4)?,
        num(4..6)?,
        num(6..8)?,
        num(9..11)?,
        num(11..13)?,
    );
    let text = format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:00Z");
    trailhound_model::parse_rfc3339(&text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use trailhound_model::parse_rfc3339;

    #[test]
    fn reads_delivery_times() {
        assert_eq!(
            delivery_time("218007301253_CloudTrail_us-east-1_20230710T1220Z_WMiHxZgr5Hdd6UDc.json"),
            parse_rfc3339("2023-07-10T12:20:00Z").ok()
        );
        assert_eq!(delivery_time("events.jsonl.gz"), None);
        assert_eq!(delivery_time("a_20231310T1220Z_b.json"), None);
    }
}
