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
    // YYYYMMDDTHHMMZ into YYYY-MM-DDTHH:MM:00Z, on the stack (one file name each, many files).
    let mut text = *b"0000-00-00T00:00:00Z";
    for (to, from) in [
        (0, 0),
        (1, 1),
        (2, 2),
        (3, 3),
        (5, 4),
        (6, 5),
        (8, 6),
        (9, 7),
    ]
    .into_iter()
    .chain([(11, 9), (12, 10), (14, 11), (15, 12)])
    {
        if !b[from].is_ascii_digit() {
            return None;
        }
        text[to] = b[from];
    }
    trailhound_model::parse_rfc3339(std::str::from_utf8(&text).ok()?).ok()
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
