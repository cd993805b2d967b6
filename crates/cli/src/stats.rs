//! Run statistics: what was read, what was wrong with it, how fast.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;
use trailhound_decode::IssueKind;

/// One problem, located.
#[derive(Debug, Serialize)]
pub struct LocatedIssue {
    /// The file.
    pub file: String,
    /// Zero-based record index within the file, when the issue concerns one record.
    pub record: Option<u32>,
    /// The issue kind's stable name.
    pub kind: &'static str,
    /// What was wrong.
    pub detail: String,
}

/// Everything a run counts; printed as the summary and written by `--stats`.
#[derive(Debug, Default, Serialize)]
pub struct RunStats {
    /// CloudTrail files read.
    pub files: u64,
    /// Digest files skipped.
    pub digest_files_skipped: u64,
    /// Files in walked folders that are not CloudTrail files by name (README, LICENSE, ...).
    pub other_files_skipped: u64,
    /// The files skipped as not CloudTrail by name (the first 1,000).
    pub other_files: Vec<String>,
    /// Files by the form their records came in (records, json_lines, array, lookup_events,
    /// eventbridge).
    pub files_by_format: BTreeMap<&'static str, u64>,
    /// Files not read, by why: digest, insight, other_service, not_cloudtrail_name,
    /// not_selected (outside --since/--until/--account/--region by their name).
    pub skipped_by_kind: BTreeMap<&'static str, u64>,
    /// S3 list requests sent (the selection prunes prefixes that cannot hold selected files).
    pub s3_list_requests: u64,
    /// Events decoded but outside --since/--until/--account/--region.
    pub events_not_selected: u64,
    /// Events decoded (and selected).
    pub events: u64,
    /// Bytes read from disk.
    pub bytes: u64,
    /// Bytes after decompression.
    pub decompressed_bytes: u64,
    /// Issues by kind name.
    pub issues_by_kind: BTreeMap<&'static str, u64>,
    /// Files with at least one issue.
    pub files_with_issues: u64,
    /// Events that arrived after their time had been passed to the detections.
    pub late_events: u64,
    /// `sourceIPAddress` values by kind (public_ipv4, public_ipv6, aws_service, ...).
    pub source_address_kinds: BTreeMap<&'static str, u64>,
    /// Events with a country.
    pub events_with_country: u64,
    /// Distinct countries seen.
    pub countries: u64,
    /// The GeoIP database used.
    pub geoip: String,
    /// Inputs that gave nothing to decode, by kind (empty_file, symlink_loop,
    /// permission_denied, vanished, unreadable); they are in `issues_by_kind` too.
    pub input_problems: BTreeMap<&'static str, u64>,
    /// Files read that had no such problem.
    pub readable_files: u64,
    /// Alerts by rule id.
    pub alerts_by_rule: BTreeMap<String, u64>,
    /// Per Sigma rule id (as written in the rule, without the `sigma-` prefix): the events its
    /// detection matched, before grouping into alerts — comparable with a per-event engine's
    /// detection count (bench/peers.sh compares them with Suzaku's).
    pub sigma_matched_events: BTreeMap<String, u64>,
    /// The rules' titles, by rule id (for the summary line, which people read).
    pub rule_titles: BTreeMap<String, String>,
    /// Periods in which a rule could not raise alerts (its history was still building), with
    /// what would change it.
    pub blind_periods: Vec<trailhound_detect::BlindPeriod>,
    /// The store's delivery outbox per target (delivered, pending, undeliverable), when the
    /// store has one: alerts that reached nobody are part of what a run leaves behind.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub deliveries: Vec<trailhound_store::outbox::TargetSummary>,
    /// Wall-clock seconds.
    pub elapsed_seconds: f64,
    /// Events per second.
    pub events_per_second: f64,
    /// Decompressed megabytes (10^6) per second.
    pub decompressed_mb_per_second: f64,
    /// The located issues (the first 10,000).
    pub issues: Vec<LocatedIssue>,
}

/// How many located issues are kept.
pub const MAX_LOCATED_ISSUES: usize = 10_000;

impl RunStats {
    /// Counts a file's issues (`counts` indexed like [`IssueKind::ALL`]) and keeps the located
    /// ones, up to [`MAX_LOCATED_ISSUES`] in all.
    pub fn add_issues(&mut self, file: &str, counts: &[u64], located: &[trailhound_decode::Issue]) {
        for (kind, &n) in IssueKind::ALL.iter().zip(counts) {
            if n > 0 {
                *self.issues_by_kind.entry(kind.name()).or_default() += n;
            }
        }
        for i in located
            .iter()
            .take(MAX_LOCATED_ISSUES.saturating_sub(self.issues.len()))
        {
            self.issues.push(LocatedIssue {
                file: file.to_owned(),
                record: i.record,
                kind: i.kind.name(),
                detail: i.detail.clone(),
            });
        }
    }

    /// Counts an input that gave nothing to decode, under its kind in the input problems and in
    /// the bad input (located by its path).
    pub fn add_input_problem(
        &mut self,
        path: &str,
        problem: trailhound_source::InputProblem,
        detail: &str,
    ) {
        *self.input_problems.entry(problem.name()).or_default() += 1;
        *self.issues_by_kind.entry(problem.name()).or_default() += 1;
        self.files_with_issues += 1;
        if self.issues.len() < MAX_LOCATED_ISSUES {
            self.issues.push(LocatedIssue {
                file: path.to_owned(),
                record: None,
                kind: problem.name(),
                detail: detail.to_owned(),
            });
        }
    }

    /// True when some input was unreadable or bad (what `--strict` refuses).
    pub fn any_bad_input(&self) -> bool {
        !self.issues_by_kind.is_empty()
    }

    /// Fills in the rates from the elapsed time.
    pub fn finish(&mut self, elapsed_seconds: f64) {
        self.elapsed_seconds = elapsed_seconds;
        let secs = elapsed_seconds.max(1e-9);
        self.events_per_second = self.events as f64 / secs;
        self.decompressed_mb_per_second = self.decompressed_bytes as f64 / 1e6 / secs;
    }

    /// The human summary printed to stderr.
    pub fn summary(&self, show_issues: usize) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "read {} files ({} MB, {} MB decompressed), {} events in {:.2}s: {:.0} events/s, {:.0} MB/s",
            self.files,
            mb(self.bytes),
            mb(self.decompressed_bytes),
            self.events,
            self.elapsed_seconds,
            self.events_per_second,
            self.decompressed_mb_per_second,
        );
        if self.files_by_format.len() > 1 || self.files_by_format.keys().any(|f| *f != "records") {
            let forms: Vec<String> = self
                .files_by_format
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect();
            let _ = writeln!(s, "files by form: {}", forms.join(", "));
        }
        for t in self
            .deliveries
            .iter()
            .filter(|t| t.expired > 0 || t.pending > 0)
        {
            let _ = writeln!(
                s,
                "deliveries to {}: {} undeliverable (past the maximum age), {} pending, {} delivered",
                t.target, t.expired, t.pending, t.delivered
            );
        }
        if !self.skipped_by_kind.is_empty() {
            let kinds: Vec<String> = self
                .skipped_by_kind
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect();
            let _ = writeln!(s, "files skipped: {}", kinds.join(", "));
        }
        let kinds: Vec<String> = self
            .source_address_kinds
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        let _ = writeln!(
            s,
            "source addresses: {}; {} events with a country ({} countries) [{}]",
            kinds.join(", "),
            self.events_with_country,
            self.countries,
            self.geoip
        );
        if self.late_events > 0 {
            let _ = writeln!(
                s,
                "{} events arrived after their time (files delivered late); still used",
                self.late_events
            );
        }
        let mut by_count: Vec<(&String, &u64)> = self.alerts_by_rule.iter().collect();
        by_count.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let alerts: Vec<String> = by_count
            .into_iter()
            .map(|(k, v)| format!("{} {v}", self.rule_titles.get(k).unwrap_or(k)))
            .collect();
        let total: u64 = self.alerts_by_rule.values().sum();
        let _ = writeln!(
            s,
            "alerts: {total}{}",
            if alerts.is_empty() {
                String::new()
            } else {
                format!(" ({})", alerts.join(", "))
            }
        );
        for b in &self.blind_periods {
            let _ = writeln!(s, "blind: {}", b.describe());
        }
        if self.issues_by_kind.is_empty() {
            let _ = writeln!(s, "bad input: none");
        } else {
            let kinds: Vec<String> = self
                .issues_by_kind
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect();
            let _ = writeln!(
                s,
                "bad input in {} files: {}",
                self.files_with_issues,
                kinds.join(", ")
            );
            for i in self.issues.iter().take(show_issues) {
                let at = i.record.map(|r| format!(" record {r}")).unwrap_or_default();
                let _ = writeln!(s, "  {}{at}: {}: {}", i.file, i.kind, i.detail);
            }
            let total: u64 = self.issues_by_kind.values().sum();
            if total as usize > show_issues {
                let _ = writeln!(
                    s,
                    "  ... {} more (see --stats FILE or --verbose)",
                    total as usize - show_issues.min(total as usize)
                );
            }
        }
        s
    }
}

fn mb(bytes: u64) -> String {
    format!("{:.1}", bytes as f64 / 1e6)
}
