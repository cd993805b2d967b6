//! Fast UTC date formatting for records, file names and IAM-style response dates.

/// Civil date and time of a second count since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Civil {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
}

/// Splits seconds since the Unix epoch into a UTC civil date and time (Howard Hinnant's algorithm).
pub(crate) fn civil(secs: i64) -> Civil {
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    Civil {
        year,
        month,
        day,
        hour: (sod / 3600) as u32,
        minute: (sod / 60 % 60) as u32,
        second: (sod % 60) as u32,
    }
}

/// Day of the week, 0 = Monday.
pub(crate) fn weekday(secs: i64) -> u32 {
    // 1970-01-01 was a Thursday.
    (secs.div_euclid(86_400) + 3).rem_euclid(7) as u32
}

fn push2(out: &mut Vec<u8>, v: u32) {
    out.push(b'0' + (v / 10 % 10) as u8);
    out.push(b'0' + (v % 10) as u8);
}

fn push4(out: &mut Vec<u8>, v: i64) {
    let v = v.clamp(0, 9999) as u32;
    push2(out, v / 100);
    push2(out, v % 100);
}

/// Appends `2026-01-01T00:00:00Z`.
pub(crate) fn push_iso(out: &mut Vec<u8>, secs: i64) {
    let c = civil(secs);
    push4(out, c.year);
    out.push(b'-');
    push2(out, c.month);
    out.push(b'-');
    push2(out, c.day);
    out.push(b'T');
    push2(out, c.hour);
    out.push(b':');
    push2(out, c.minute);
    out.push(b':');
    push2(out, c.second);
    out.push(b'Z');
}

/// `2026-01-01T00:00:00Z`.
pub(crate) fn iso(secs: i64) -> String {
    let mut v = Vec::with_capacity(20);
    push_iso(&mut v, secs);
    String::from_utf8(v).expect("ASCII")
}

/// Appends the compact `20260101T0005Z` used in CloudTrail file names.
pub(crate) fn push_compact(out: &mut Vec<u8>, secs: i64) {
    let c = civil(secs);
    push4(out, c.year);
    push2(out, c.month);
    push2(out, c.day);
    out.push(b'T');
    push2(out, c.hour);
    push2(out, c.minute);
    out.push(b'Z');
}

/// Appends the IAM response style `Jan 12, 2026, 4:07:31 PM`.
pub(crate) fn push_iam_date(out: &mut Vec<u8>, secs: i64) {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let c = civil(secs);
    out.extend_from_slice(MONTHS[(c.month - 1) as usize].as_bytes());
    out.push(b' ');
    crate::json::push_u64(out, u64::from(c.day));
    out.extend_from_slice(b", ");
    push4(out, c.year);
    out.extend_from_slice(b", ");
    let h12 = match c.hour % 12 {
        0 => 12,
        h => h,
    };
    crate::json::push_u64(out, u64::from(h12));
    out.push(b':');
    push2(out, c.minute);
    out.push(b':');
    push2(out, c.second);
    out.extend_from_slice(if c.hour < 12 { b" AM" } else { b" PM" });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_dates() {
        // 2026-01-12T16:07:31Z
        let t = 1_768_234_051;
        assert_eq!(iso(t), "2026-01-12T16:07:31Z");
        let mut v = Vec::new();
        push_compact(&mut v, t);
        assert_eq!(v, b"20260112T1607Z");
        v.clear();
        push_iam_date(&mut v, t);
        assert_eq!(String::from_utf8(v).unwrap(), "Jan 12, 2026, 4:07:31 PM");
        assert_eq!(iso(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso(951_782_400), "2000-02-29T00:00:00Z");
        // 2026-01-01 is a Thursday.
        assert_eq!(weekday(1_767_225_600), 3);
    }

    #[test]
    fn agrees_with_the_model_formatter() {
        for t in (0..400).map(|i| 1_700_000_000 + i * 7_777_777) {
            assert_eq!(
                iso(t),
                trailhound_model::format_rfc3339(t * trailhound_model::SECOND)
            );
        }
    }
}
