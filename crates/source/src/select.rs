//! What part of a trail to read: a time range, accounts, regions ([`Selection`]), applied as
//! early as possible. Folders (and S3 prefixes) that cannot hold a selected file are never
//! listed, files whose name says they hold none are never read, and events outside the selection
//! are dropped after decoding.
//!
//! The layouts AWS writes are recognised by the shape of each folder name, not by its depth, so
//! that a bucket prefix before `AWSLogs`, an organization trail (`AWSLogs/o-<org>/<account>/…`)
//! and a plain trail (`AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/`) prune alike: a
//! twelve-digit name is an account, a name like `eu-west-1` a region, `YYYY`, then `MM`, then
//! `DD` a delivery day.
//!
//! Files in a trail's bucket that are not CloudTrail records are skipped and counted by
//! [`SkipKind`], not parsed as errors.

use std::path::Path;

use trailhound_model::{Event, Timestamp};

/// How far before its file's delivery time an event may lie (as [`crate::ReadOptions::slack`]):
/// a file delivered up to this long after `until` may still hold selected events.
const DELIVERY_SLACK: Timestamp = 2 * trailhound_model::HOUR;

/// The part of a trail to read. The default selects everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// Only events at or after this time.
    pub since: Option<Timestamp>,
    /// Only events before this time.
    pub until: Option<Timestamp>,
    /// Only these accounts (the event's `recipientAccountId`, the file's account); empty: all.
    pub accounts: Vec<String>,
    /// Only these regions (`awsRegion`, the file's region); empty: all.
    pub regions: Vec<String>,
}

/// Why a file in a trail's bucket or folder was not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SkipKind {
    /// A CloudTrail digest file (`CloudTrail-Digest/`): hashes, no events.
    Digest,
    /// CloudTrail Insights events (`CloudTrail-Insight/`): not API calls.
    Insight,
    /// Another service's logs in the same bucket (`AWSLogs/<account>/Config/…`, ELB, VPC flow
    /// logs, …).
    OtherService,
    /// A name that is not a CloudTrail file's (README, manifest, …).
    NotCloudTrailName,
    /// A CloudTrail file outside the selection (its name's account, region or delivery time).
    NotSelected,
}

impl SkipKind {
    /// The name used in summaries and statistics.
    pub const fn name(self) -> &'static str {
        match self {
            SkipKind::Digest => "digest",
            SkipKind::Insight => "insight",
            SkipKind::OtherService => "other_service",
            SkipKind::NotCloudTrailName => "not_cloudtrail_name",
            SkipKind::NotSelected => "not_selected",
        }
    }
}

/// The kind of a file that is not CloudTrail records by its path, if it is one.
pub fn skip_kind(path: &Path) -> Option<SkipKind> {
    let text = path.to_string_lossy();
    if text.contains("CloudTrail-Digest") {
        return Some(SkipKind::Digest);
    }
    if text.contains("CloudTrail-Insight") {
        return Some(SkipKind::Insight);
    }
    // AWSLogs/[o-org/]<account>/<service>/…: a service other than CloudTrail.
    let parts: Vec<&str> = text.split('/').collect();
    if let Some(i) = parts.iter().position(|p| *p == "AWSLogs") {
        let mut rest = parts[i + 1..].iter().copied();
        let mut next = rest.next();
        if next.is_some_and(|p| p.starts_with("o-")) {
            next = rest.next();
        }
        if next.is_some_and(is_account)
            && let Some(service) = rest.next()
            && rest.next().is_some()
            && service != "CloudTrail"
        {
            return Some(SkipKind::OtherService);
        }
    }
    None
}

/// A twelve-digit AWS account id.
pub fn is_account(name: &str) -> bool {
    name.len() == 12 && name.bytes().all(|b| b.is_ascii_digit())
}

/// A region name: `us-east-1`, `ap-southeast-2`, `us-gov-west-1`, `cn-north-1`, …
pub fn is_region(name: &str) -> bool {
    let parts: Vec<&str> = name.split('-').collect();
    parts.len() >= 3
        && parts[0].len() == 2
        && parts[0].bytes().all(|b| b.is_ascii_lowercase())
        && parts[1..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts[parts.len() - 1].bytes().all(|b| b.is_ascii_digit())
        && !parts[parts.len() - 1].is_empty()
}

/// The date parts (year, month, day) of the folders walked so far, as a walk descends.
pub type DatePath = Vec<u32>;

/// A calendar day, `(year, month, day)`.
type Day = (u32, u32, u32);

impl Selection {
    /// True when everything is selected.
    pub fn is_all(&self) -> bool {
        *self == Selection::default()
    }

    /// The first and last delivery days (UTC, as `(y, m, d)`) whose folders can hold a
    /// selected file.
    fn days(&self) -> (Option<Day>, Option<Day>) {
        let day = |t: Timestamp| {
            let (y, m, d) = trailhound_model::utc_date(t);
            (y.max(0) as u32, m, d)
        };
        (
            self.since.map(day),
            self.until
                .map(|u| day(u.saturating_add(DELIVERY_SLACK).saturating_sub(1))),
        )
    }

    /// Descending into folder `name` from a folder whose date parts are `date`: the new date
    /// parts, or `None` when the folder cannot hold a selected file (prune it).
    pub fn enter(&self, date: &[u32], name: &str) -> Option<DatePath> {
        if is_account(name) && !self.accounts.is_empty() && !self.accounts.iter().any(|a| a == name)
        {
            return None;
        }
        if is_region(name) && !self.regions.is_empty() && !self.regions.iter().any(|r| r == name) {
            return None;
        }
        let next = date_step(date, name);
        let (first, last) = self.days();
        if let Some(f) = first
            && !next.is_empty()
            && next[..] < [f.0, f.1, f.2][..next.len()]
        {
            return None;
        }
        if let Some(l) = last
            && !next.is_empty()
            && next[..] > [l.0, l.1, l.2][..next.len()]
        {
            return None;
        }
        Some(next)
    }

    /// Why a listed file (its path, and its file name) is not read, if it is not: not CloudTrail
    /// records by its path ([`skip_kind`]), not a CloudTrail file's name (hidden names too), or
    /// outside the selection by its name.
    pub fn skip_reason(&self, path: &Path, name: &str) -> Option<SkipKind> {
        match skip_kind(path) {
            Some(k) => Some(k),
            None if name.starts_with('.') || !crate::is_cloudtrail_name(name) => {
                Some(SkipKind::NotCloudTrailName)
            }
            None if !self.keeps_file(name) => Some(SkipKind::NotSelected),
            None => None,
        }
    }

    /// Whether a file may hold selected events, by its CloudTrail name
    /// (`<account>_CloudTrail_<region>_<YYYYMMDDTHHMMZ>_<id>…`). Other names are kept.
    pub fn keeps_file(&self, name: &str) -> bool {
        let mut parts = name.split('_');
        let (Some(account), Some("CloudTrail"), Some(region)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return true;
        };
        if !self.accounts.is_empty() && !self.accounts.iter().any(|a| a == account) {
            return false;
        }
        if !self.regions.is_empty() && !self.regions.iter().any(|r| r == region) {
            return false;
        }
        if self.since.is_none() && self.until.is_none() {
            return true;
        }
        match crate::delivery_time(name) {
            Some(d) => {
                self.since.is_none_or(|s| d >= s)
                    && self
                        .until
                        .is_none_or(|u| d < u.saturating_add(DELIVERY_SLACK))
            }
            None => true,
        }
    }

    /// Whether an event is selected.
    pub fn keeps_event(&self, e: &Event) -> bool {
        if self.since.is_some_and(|s| e.time < s) || self.until.is_some_and(|u| e.time >= u) {
            return false;
        }
        let account = if e.recipient_account_id.is_empty() {
            &e.user.account_id
        } else {
            &e.recipient_account_id
        };
        (self.accounts.is_empty() || self.accounts.iter().any(|a| a.as_str() == &**account))
            && (self.regions.is_empty()
                || self.regions.iter().any(|r| r.as_str() == &*e.aws_region))
    }
}

/// The date parts after descending into folder `name` from a folder with parts `date`: a
/// four-digit name starts a date (year), names of one or two digits extend it (month, day:
/// CloudTrail pads them, AWS Config does not); anything else ends it.
pub(crate) fn date_step(date: &[u32], name: &str) -> DatePath {
    let digits = !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit());
    match (date.len(), name.len()) {
        (0, 4) if digits => vec![name.parse().unwrap_or(0)],
        (1 | 2, 1 | 2) if digits => {
            let mut d = date.to_vec();
            d.push(name.parse().unwrap_or(0));
            d
        }
        _ => Vec::new(),
    }
}

/// A day as the UTC midnight timestamp of `(y, m, d)`, for tests and callers that take dates.
pub fn day_start(y: i64, m: u32, d: u32) -> Timestamp {
    trailhound_model::parse_rfc3339(&format!("{y:04}-{m:02}-{d:02}T00:00:00Z")).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_are_pruned_by_the_shape_of_folder_names() {
        let s = Selection {
            since: Some(day_start(2026, 1, 28)),
            until: None,
            accounts: vec!["111111111111".into()],
            regions: vec!["eu-west-1".into()],
        };
        // A bucket prefix, AWSLogs, an organization, the account, the service.
        for name in ["logs", "AWSLogs", "o-abc123", "111111111111", "CloudTrail"] {
            assert_eq!(s.enter(&[], name), Some(vec![]), "{name}");
        }
        assert_eq!(s.enter(&[], "222222222222"), None);
        assert_eq!(s.enter(&[], "us-east-1"), None);
        assert_eq!(s.enter(&[], "eu-west-1"), Some(vec![]));
        assert_eq!(s.enter(&[], "2025"), None);
        assert_eq!(s.enter(&[], "2026"), Some(vec![2026]));
        assert_eq!(s.enter(&[2026], "01"), Some(vec![2026, 1]));
        assert_eq!(s.enter(&[2026, 1], "27"), None);
        assert_eq!(s.enter(&[2026, 1], "28"), Some(vec![2026, 1, 28]));
        assert_eq!(s.enter(&[2026], "02"), Some(vec![2026, 2]));
        // Until the 29th: the 29th's folder may hold files delivered after midnight.
        let u = Selection {
            until: Some(day_start(2026, 1, 29)),
            ..Selection::default()
        };
        assert!(u.enter(&[2026, 1], "29").is_some());
        assert!(u.enter(&[2026, 1], "30").is_none());
        assert!(u.enter(&[2026], "02").is_none());
        assert!(Selection::default().is_all());
    }

    #[test]
    fn files_by_name_and_events_by_field() {
        let s = Selection {
            since: Some(day_start(2026, 1, 28)),
            until: Some(day_start(2026, 1, 29)),
            accounts: vec!["111111111111".into()],
            regions: vec![],
        };
        let name = |a: &str, t: &str| format!("{a}_CloudTrail_us-east-1_{t}_x.json.gz");
        assert!(s.keeps_file(&name("111111111111", "20260128T0005Z")));
        assert!(s.keeps_file(&name("111111111111", "20260129T0105Z")));
        assert!(!s.keeps_file(&name("111111111111", "20260129T0300Z")));
        assert!(!s.keeps_file(&name("111111111111", "20260127T2355Z")));
        assert!(!s.keeps_file(&name("222222222222", "20260128T0005Z")));
        assert!(s.keeps_file("export.jsonl"));
        let mut e = Event {
            time: day_start(2026, 1, 28) + 5,
            recipient_account_id: "111111111111".into(),
            ..Event::default()
        };
        assert!(s.keeps_event(&e));
        e.time = day_start(2026, 1, 29);
        assert!(!s.keeps_event(&e));
        e.time = day_start(2026, 1, 28);
        e.recipient_account_id = "222222222222".into();
        assert!(!s.keeps_event(&e));
    }

    #[test]
    fn skipped_files_by_kind() {
        let k = |p: &str| skip_kind(Path::new(p));
        assert_eq!(
            k("b/AWSLogs/o-x/111111111111/CloudTrail-Digest/us-east-1/2026/01/01/f.json.gz"),
            Some(SkipKind::Digest)
        );
        assert_eq!(
            k("AWSLogs/111111111111/CloudTrail-Insight/us-east-1/2026/01/01/f.json.gz"),
            Some(SkipKind::Insight)
        );
        assert_eq!(
            k("AWSLogs/111111111111/Config/us-east-1/2026/1/1/ConfigHistory/f.json.gz"),
            Some(SkipKind::OtherService)
        );
        assert_eq!(
            k("AWSLogs/o-x/111111111111/CloudTrail/us-east-1/2026/01/01/f.json.gz"),
            None
        );
        assert_eq!(k("exports/f.json"), None);
        assert!(is_region("us-gov-west-1") && is_region("ap-southeast-2"));
        assert!(!is_region("CloudTrail") && !is_region("2026") && !is_region("o-abc"));
    }
}
