//! Sigma matches as alerts.
//!
//! **Aggregation.** A Sigma rule is a single-event detection, and some fire on many events (every
//! `AssumeRole` session, every write call). One alert per match would flood the store, so matches
//! are grouped like D4's: one alert per rule, *subject* and UTC hour (hour-aligned; the bucket is
//! configurable, `[sigma] bucket`), listing the
//! events (count, first and last time, up to [`MAX_EVENT_IDS`] event ids, the distinct source IPs,
//! countries, user agents and API names). The subject is the long-term (`AKIA`) access key id;
//! other events (temporary `ASIA` keys, which change with every role session, console sign-ins,
//! AWS services) are grouped by the principal ARN (for a role session, the role's ARN without
//! the session name), else the access key, the principal id, the account. The alert's `access_key_id` is the first key seen in the group (empty if none). A group is final once the stream is `grace` (1 h) past its hour, for events that
//! arrive a little out of order.
//!
//! **Alert fields.** `rule_id` is `sigma-<rule id>`, `rule_name` the rule's title; severity and
//! risk score come from `level` (informational and low → low 21, medium 47, high 73, critical
//! 99), so medium and higher Sigma alerts count as siblings for the correlation rule (D5) when
//! they carry the same access key. `mitre` lists the ATT&CK techniques of the tags. `why` names
//! the rule, its level and its author (the Detection Rule License 1.1 requires the author in
//! every alert); `details.sigma` holds the rule's id, title, author, level, status, file,
//! licence, description, references, tags and false positives. The remediation asks to confirm
//! the calls with the principal's owner, lists the rule's known false positives, and gives the
//! command that deactivates a long-term key.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde_json::json;
use trailhound_detect::evidence::{Evidence, MAX_EVENT_IDS};
use trailhound_detect::{Alert, Detector, Span, alert_id, remediation};
use trailhound_model::{AccessKeyKind, Event, Str, Timestamp, format_rfc3339};

use crate::aggregation::Window;
use crate::correlation::{Correlation, Correlator};
use crate::engine::SigmaEngine;
use crate::load::Rule;
use crate::new_terms::History;

/// How the detector groups and finalises alerts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DetectorOptions {
    /// The time bucket of an alert (UTC-aligned): one alert per rule, subject and bucket.
    pub bucket: Span,
    /// How long after its bucket a group still accepts late events.
    pub grace: Span,
}

impl Default for DetectorOptions {
    fn default() -> Self {
        Self {
            bucket: Span::hours(1),
            grace: Span::hours(1),
        }
    }
}

/// What an alert is about when the event has no access key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum SubjectKind {
    AccessKey,
    Arn,
    Principal,
    Account,
}

impl SubjectKind {
    fn as_str(self) -> &'static str {
        match self {
            SubjectKind::AccessKey => "access_key_id",
            SubjectKind::Arn => "user_arn",
            SubjectKind::Principal => "principal_id",
            SubjectKind::Account => "account_id",
        }
    }
}

/// The subject of an event: a long-term (`AKIA`) key, else the principal ARN (a role session
/// changes its temporary key with every session, so temporary keys are grouped by the session's
/// ARN), else any key, the principal id, the account.
fn subject(e: &Event) -> (SubjectKind, &str) {
    let u = &e.user;
    if e.key_kind() == AccessKeyKind::LongTerm {
        return (SubjectKind::AccessKey, &u.access_key_id);
    }
    [
        (SubjectKind::Arn, role_of(&u.arn)),
        (SubjectKind::AccessKey, &u.access_key_id),
        (SubjectKind::Principal, &u.principal_id),
        (SubjectKind::Account, &u.account_id),
    ]
    .into_iter()
    .find(|(_, v)| !v.is_empty())
    .unwrap_or((SubjectKind::Account, &e.recipient_account_id))
}

/// An assumed-role session ARN without its session name
/// (`arn:aws:sts::1:assumed-role/Role/session` → `arn:aws:sts::1:assumed-role/Role`): every
/// session of a role is one subject. Other ARNs as they are.
fn role_of(arn: &str) -> &str {
    match arn.split_once(":assumed-role/") {
        Some((_, rest)) => match rest.find('/') {
            Some(i) => &arn[..arn.len() - rest.len() + i],
            None => arn,
        },
        None => arn,
    }
}

/// The open groups of one rule and bucket, by subject.
type Subjects = HashMap<Str, Group, ahash::RandomState>;

/// The events of an alert being built: the first access key and ARN seen, and the evidence.
#[derive(Default)]
struct Collected {
    access_key_id: String,
    user_arn: String,
    evidence: Evidence,
}

impl Collected {
    /// Adds a matching event: the first access key and ARN seen stay the alert's.
    fn add(&mut self, e: &Event) {
        if self.access_key_id.is_empty() {
            self.access_key_id = e.user.access_key_id.to_string();
        }
        if self.user_arn.is_empty() {
            self.user_arn = e.user.arn.to_string();
        }
        self.evidence.add(e);
    }

    /// The alert of a rule of `level` for the bucket starting at `start`, with the evidence
    /// written in; `id_parts` (with the rule id) make its deterministic id.
    #[allow(clippy::too_many_arguments)]
    fn into_alert(
        self,
        rule_id: String,
        title: &str,
        level: crate::Level,
        mitre: Vec<String>,
        start: Timestamp,
        id_parts: &[&str],
        remediation: String,
        why: String,
        details: serde_json::Value,
    ) -> Alert {
        let severity = level.severity();
        let mut a = Alert {
            id: alert_id(&rule_id, id_parts),
            rule_id,
            rule_name: title.to_owned(),
            severity,
            risk_score: severity.risk_score(),
            access_key_id: self.access_key_id,
            user_arn: self.user_arn,
            time: start,
            first_seen: start,
            last_seen: start,
            source_ips: Vec::new(),
            countries: Vec::new(),
            user_agents: Vec::new(),
            event_names: Vec::new(),
            event_ids: Vec::new(),
            count: 0,
            mitre,
            remediation,
            why,
            details,
            root_key: String::new(),
            principal: String::new(),
            suppressed_count: 0,
        };
        self.evidence.write_to(&mut a);
        a
    }
}

/// A Sigma rule's alert being built for one subject.
struct Group {
    kind: SubjectKind,
    events: Collected,
}

/// Runs the Sigma rules over the event stream.
pub struct SigmaDetector {
    engine: Arc<SigmaEngine>,
    options: DetectorOptions,
    windows: Vec<Window>,
    /// Open groups by bucket start, then rule index and subject. A match that joins an open
    /// group is found with the borrowed subject, without building a key.
    groups: BTreeMap<Timestamp, HashMap<usize, Subjects, ahash::RandomState>>,
    /// Open alerts of correlation and new-terms rules, by bucket start, then kind, rule or
    /// correlation index, and group.
    keyed: BTreeMap<Timestamp, BTreeMap<(Keyed, usize, String), KeyedGroup>>,
    correlator: Option<Correlator>,
    /// Per rule: the combinations a new-terms rule has seen and its warm-up (`None` for the
    /// other rules).
    histories: Vec<Option<History>>,
    /// When the state of new-terms and correlation rules was last swept of what is too old to
    /// matter.
    swept: Timestamp,
    ready: Vec<Alert>,
    hits: Vec<usize>,
    /// Per rule: the events its detection matched.
    matched: Vec<u64>,
}

/// Which kind of rule a keyed group belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Keyed {
    Correlation,
    NewTerms,
}

/// The alert of a correlation or new-terms rule being built.
struct KeyedGroup {
    events: Collected,
    seen: std::collections::HashSet<String>,
    /// The largest aggregated value of the firings (correlations).
    value: f64,
    /// The first event's values of the new-terms fields, or the correlation's group.
    key: Vec<String>,
    remediation: Option<String>,
}

impl KeyedGroup {
    fn new(key: Vec<String>) -> Self {
        Self {
            events: Collected::default(),
            seen: Default::default(),
            value: 0.0,
            key,
            remediation: None,
        }
    }

    /// Adds an event once.
    fn add(&mut self, e: &Event) {
        if self.seen.insert(e.event_id.to_string()) {
            self.events.add(e);
        }
    }
}

impl SigmaDetector {
    /// A detector over the compiled rules.
    pub fn new(engine: Arc<SigmaEngine>, options: DetectorOptions) -> Self {
        let engine_rules = engine.rules().len();
        let windows = engine.rules().iter().map(|_| Window::default()).collect();
        let correlator = (!engine.correlations().is_empty())
            .then(|| Correlator::new(engine.rules(), engine.correlations()));
        let histories = engine
            .rules()
            .iter()
            .map(|r| r.new_terms.as_ref().map(History::new))
            .collect();
        Self {
            engine,
            options,
            windows,
            groups: BTreeMap::new(),
            keyed: BTreeMap::new(),
            correlator,
            histories,
            swept: Timestamp::MIN,
            ready: Vec::new(),
            hits: Vec::new(),
            matched: vec![0; engine_rules],
        }
    }

    /// The compiled rules.
    pub fn engine(&self) -> &Arc<SigmaEngine> {
        &self.engine
    }

    fn add(&mut self, rule: usize, e: &Event) {
        let bucket = self.options.bucket.nanos().max(1);
        let hour = e.time.div_euclid(bucket) * bucket;
        let (kind, who) = subject(e);
        let open = self
            .groups
            .entry(hour)
            .or_default()
            .entry(rule)
            .or_default();
        match open.get_mut(who) {
            Some(g) => g.events.add(e),
            None => {
                let mut g = Group {
                    kind,
                    events: Collected::default(),
                };
                g.events.add(e);
                open.insert(Str::from(who), g);
            }
        }
    }

    fn close_until(&mut self, limit: Timestamp) {
        while let Some(entry) = self.groups.first_entry() {
            if *entry.key() >= limit {
                break;
            }
            let (hour, rules) = entry.remove_entry();
            // In rule and subject order, as a run over the same events always gives them.
            let mut closed: Vec<(usize, Str, Group)> = rules
                .into_iter()
                .flat_map(|(rule, subjects)| subjects.into_iter().map(move |(w, g)| (rule, w, g)))
                .collect();
            closed.sort_unstable_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
            for (rule, who, g) in closed {
                let alert = alert(
                    &self.engine.rules()[rule],
                    hour,
                    self.options.bucket,
                    &who,
                    g,
                );
                self.ready.push(alert);
            }
        }
        while let Some(entry) = self.keyed.first_entry() {
            if *entry.key() >= limit {
                break;
            }
            let (start, groups) = entry.remove_entry();
            for ((kind, index, _), g) in groups {
                let alert = match kind {
                    Keyed::Correlation => correlation_alert(
                        &self.engine.correlations()[index],
                        start,
                        self.options.bucket,
                        g,
                    ),
                    Keyed::NewTerms => {
                        new_terms_alert(&self.engine.rules()[index], start, self.options.bucket, g)
                    }
                };
                self.ready.push(alert);
            }
        }
    }

    /// Once per hour of data: forgets new-terms combinations older than their history window
    /// and correlation evidence older than its timespan (neither can change a verdict).
    fn sweep(&mut self, now: Timestamp) {
        if now.saturating_sub(self.swept) < trailhound_model::HOUR {
            return;
        }
        self.swept = now;
        let engine = Arc::clone(&self.engine);
        for (i, r) in engine.rules().iter().enumerate() {
            if let (Some(nt), Some(h)) = (&r.new_terms, self.histories[i].as_mut()) {
                h.forget_before(nt, now);
            }
        }
        if let Some(c) = self.correlator.as_mut() {
            c.forget_before(engine.correlations(), now);
        }
    }

    /// A new-terms rule matched `e`: a new combination opens an alert; later events of the
    /// combination in the same bucket join it.
    fn new_term(&mut self, rule: usize, e: &Event) {
        let engine = Arc::clone(&self.engine);
        let r = &engine.rules()[rule];
        let Some(nt) = &r.new_terms else { return };
        let view = engine.view(e);
        let Some(history) = self.histories[rule].as_mut() else {
            return;
        };
        let Some((values, new)) = history.observe(nt, &view, e.time) else {
            return;
        };
        let bucket = crate::correlation::bucket_of(e.time, self.options.bucket);
        let key = (Keyed::NewTerms, rule, values.join("\u{1f}"));
        let open = self.keyed.entry(bucket).or_default();
        match open.get_mut(&key) {
            Some(g) => g.add(e),
            None if new => {
                let mut g = KeyedGroup::new(values);
                g.remediation = nt
                    .remediation
                    .as_deref()
                    .map(|t| crate::new_terms::fill(t, &view));
                g.add(e);
                open.insert(key, g);
            }
            None => {}
        }
    }

    /// Feeds the correlations with the rules `e` matched.
    fn correlate(&mut self, e: &Event, hits: &[usize]) {
        let Some(correlator) = self.correlator.as_mut() else {
            return;
        };
        if !hits.iter().any(|&h| correlator.counts(h)) {
            return;
        }
        let engine = Arc::clone(&self.engine);
        let view = engine.view(e);
        let fired = correlator.observe(engine.correlations(), engine.rules(), e, &view, hits);
        let bucket = crate::correlation::bucket_of(e.time, self.options.bucket);
        for f in fired {
            let g = self
                .keyed
                .entry(bucket)
                .or_default()
                .entry((Keyed::Correlation, f.correlation, f.group.clone()))
                .or_insert_with(|| KeyedGroup::new(vec![f.group.clone()]));
            g.value = g.value.max(f.value);
            for x in &f.events {
                g.add(x);
            }
        }
    }
}

impl Detector for SigmaDetector {
    fn id(&self) -> &'static str {
        "sigma"
    }

    fn observe(&mut self, e: &Event) {
        let bucket = self.options.bucket.nanos().max(1);
        self.close_until(e.time.div_euclid(bucket) * bucket - self.options.grace.nanos());
        for h in self.histories.iter_mut().flatten() {
            h.tick(e.time);
        }
        self.sweep(e.time);
        let mut hits = std::mem::take(&mut self.hits);
        hits.clear();
        self.engine.matches(e, &mut hits);
        self.correlate(e, &hits);
        for &i in &hits {
            self.matched[i] += 1;
            let engine = Arc::clone(&self.engine);
            let rule = &engine.rules()[i];
            if rule.new_terms.is_some() {
                self.new_term(i, e);
                continue;
            }
            if engine.silent(i) {
                continue;
            }
            match &rule.aggregation {
                None => self.add(i, e),
                Some(agg) => {
                    let view = engine.view(e);
                    let group = agg.group_by.as_deref().and_then(|f| view.get(f));
                    let value = agg.count_field.as_deref().and_then(|f| view.get(f));
                    for reported in self.windows[i].push(agg, group.as_deref(), value.as_deref(), e)
                    {
                        self.add(i, &reported);
                    }
                }
            }
        }
        self.hits = hits;
    }

    fn drain(&mut self) -> Vec<Alert> {
        std::mem::take(&mut self.ready)
    }

    /// An alert is final once the stream is a bucket and the grace past its bucket; a legacy
    /// aggregation may place its events up to its `timeframe` back: one bucket more of margin.
    fn drain_delay(&self) -> Option<Timestamp> {
        let bucket = self.options.bucket.nanos().max(1);
        let timeframe = self
            .engine
            .rules()
            .iter()
            .filter_map(|r| r.aggregation.as_ref().map(|a| a.timeframe))
            .max()
            .unwrap_or(0);
        Some(3 * bucket + self.options.grace.nanos() + timeframe)
    }

    fn matched_events(&self) -> Vec<(String, u64)> {
        let rules = self.engine.rules();
        self.matched
            .iter()
            .zip(rules)
            .filter(|(n, _)| **n > 0)
            .map(|(n, r)| (r.id.clone(), *n))
            .collect()
    }

    fn finish(&mut self) -> Vec<Alert> {
        self.close_until(Timestamp::MAX);
        let mut out = std::mem::take(&mut self.ready);
        out.sort_by(|a, b| a.report_order().cmp(&b.report_order()));
        out
    }
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// "hour", or "6h bucket": the bucket an alert covers, as `why` says it.
fn bucket_name(bucket: Span) -> String {
    if bucket == Span::hours(1) {
        "hour".to_owned()
    } else {
        format!("{bucket} bucket")
    }
}

/// The remediation every alert of this crate starts with: confirm the calls with the owner of
/// `who`, the rule's known false positives, and for a long-term key the command that
/// deactivates it.
fn confirm_remedy(who: &str, falsepositives: &[String], events: &Collected) -> String {
    let mut remedy =
        format!("Confirm with the owner of {who} that these calls were theirs and expected.");
    if !falsepositives.is_empty() {
        remedy.push_str(" Known false positives of this rule: ");
        remedy.push_str(&falsepositives.join("; "));
        if !remedy.ends_with('.') {
            remedy.push('.');
        }
    }
    if AccessKeyKind::of(&events.access_key_id) == AccessKeyKind::LongTerm {
        remedy.push_str(" If they were not, deactivate the key: ");
        remedy.push_str(&remediation(&events.access_key_id, &events.user_arn));
    }
    remedy
}

/// The alert of one group.
fn alert(rule: &Rule, hour: Timestamp, bucket: Span, who: &str, g: Group) -> Alert {
    let hour_text = format_rfc3339(hour);
    let n = g.events.evidence.count();
    let subject = match g.kind {
        SubjectKind::AccessKey => format!("Access key {who}"),
        SubjectKind::Arn => format!("Principal {who}"),
        SubjectKind::Principal => format!("Principal id {who}"),
        SubjectKind::Account => format!("Account {who}"),
    };
    let author = if rule.author.is_empty() {
        "unknown author".to_owned()
    } else {
        rule.author.clone()
    };
    let aggregated = rule.aggregation.as_ref().map(|a| {
        json!({
            "count_field": a.count_field,
            "group_by": a.group_by,
            "op": match a.op { crate::aggregation::Op::Gt => ">", crate::aggregation::Op::Ge => ">=" },
            "threshold": a.threshold,
            "timeframe": Span::from_nanos(a.timeframe).to_string(),
        })
    });
    let why = format!(
        "{subject} matched the Sigma rule \"{}\" ({}, by {author}) with {n} event{} in the {} from {hour_text}.",
        rule.title,
        rule.level,
        plural(n),
        bucket_name(bucket),
    );
    let who_text = if g.events.user_arn.is_empty() {
        who
    } else {
        g.events.user_arn.as_str()
    };
    let mut remedy = confirm_remedy(who_text, &rule.falsepositives, &g.events);
    match AccessKeyKind::of(&g.events.access_key_id) {
        AccessKeyKind::LongTerm => {}
        AccessKeyKind::Temporary => remedy.push_str(
            " If they were not, revoke the role's active sessions and find the credential that obtained this temporary key.",
        ),
        AccessKeyKind::Other => remedy.push_str(
            " If they were not, rotate the principal's credentials (console password, keys) and review its recent activity.",
        ),
    }
    let details = json!({
        "sigma": {
            "id": rule.id,
            "title": rule.title,
            "author": rule.author,
            "level": rule.level,
            "status": rule.status,
            "file": rule.file,
            "license": "Detection Rule License (DRL) 1.1",
            "description": rule.description,
            "references": rule.references,
            "tags": rule.tags,
            "falsepositives": rule.falsepositives,
        },
        "group_by": g.kind.as_str(),
        "group_key": who,
        "bucket": bucket.to_string(),
        "bucket_start": hour_text,
        "aggregation": aggregated,
        "max_event_ids": MAX_EVENT_IDS,
    });
    g.events.into_alert(
        rule.alert_rule_id(),
        &rule.title,
        rule.level,
        rule.techniques(),
        hour,
        &[who, &hour_text],
        remedy,
        why,
        details,
    )
}

/// What to do about a key, for alerts of correlation and new-terms rules: the rule's own
/// remediation text, else [`confirm_remedy`] for the key's user (or the key).
fn remedy_for(g: &KeyedGroup, falsepositives: &[String]) -> String {
    if let Some(r) = &g.remediation {
        return r.clone();
    }
    let e = &g.events;
    let who = if e.user_arn.is_empty() {
        e.access_key_id.as_str()
    } else {
        e.user_arn.as_str()
    };
    confirm_remedy(who, falsepositives, e)
}

/// The alert of a correlation rule's group in one bucket.
fn correlation_alert(c: &Correlation, start: Timestamp, bucket: Span, g: KeyedGroup) -> Alert {
    let start_text = format_rfc3339(start);
    let group = g.key.first().cloned().unwrap_or_default();
    let n = g.events.evidence.count();
    let why = format!(
        "The Sigma correlation rule \"{}\" ({}, {}{}) fired: {} {} within {} ({n} matching event{}{}).",
        c.title,
        c.level,
        c.kind,
        if c.author.is_empty() {
            String::new()
        } else {
            format!(", by {}", c.author)
        },
        match c.kind.as_str() {
            "event_count" => "count",
            "value_count" => "distinct values",
            "temporal" | "temporal_ordered" => "rules matched",
            _ => "value",
        },
        g.value,
        c.timespan,
        plural(n),
        if group.is_empty() {
            String::new()
        } else {
            format!(" for {group}")
        },
    );
    let details = json!({
        "sigma_correlation": {
            "id": c.id,
            "title": c.title,
            "author": c.author,
            "level": c.level,
            "type": c.kind,
            "rules": c.rules,
            "group_by": c.group_by,
            "timespan": c.timespan.to_string(),
            "condition": c.condition,
            "file": c.file,
            "description": c.description,
            "tags": c.tags,
            "falsepositives": c.falsepositives,
        },
        "group": group,
        "aggregated_value": g.value,
        "bucket": bucket.to_string(),
        "bucket_start": start_text,
        "max_event_ids": MAX_EVENT_IDS,
    });
    let remedy = remedy_for(&g, &c.falsepositives);
    g.events.into_alert(
        c.alert_rule_id(),
        &c.title,
        c.level,
        c.techniques(),
        start,
        &[&group, &start_text],
        remedy,
        why,
        details,
    )
}

/// The alert of a new combination of a new-terms rule in one bucket.
fn new_terms_alert(r: &Rule, start: Timestamp, bucket: Span, g: KeyedGroup) -> Alert {
    let nt = r.new_terms.as_ref().expect("a new-terms rule");
    let start_text = format_rfc3339(start);
    let terms: Vec<String> = nt
        .fields
        .iter()
        .zip(&g.key)
        .map(|(f, v)| format!("{f}={v}"))
        .collect();
    let n = g.events.evidence.count();
    let why = format!(
        "New terms rule \"{}\" ({}): {} was not seen in the {} before ({n} event{} with it in the {} from {start_text}).",
        r.title,
        r.level,
        terms.join(", "),
        nt.history_window,
        plural(n),
        bucket_name(bucket),
    );
    let details = json!({
        "new_terms": {
            "id": r.id,
            "title": r.title,
            "author": r.author,
            "level": r.level,
            "file": r.file,
            "fields": nt.fields,
            "history_window": nt.history_window.to_string(),
            "warm_up": nt.warm_up.to_string(),
            "description": r.description,
            "tags": r.tags,
            "falsepositives": r.falsepositives,
        },
        "terms": nt.fields.iter().zip(&g.key).map(|(f, v)| (f.clone(), json!(v))).collect::<serde_json::Map<_, _>>(),
        "bucket": bucket.to_string(),
        "bucket_start": start_text,
        "max_event_ids": MAX_EVENT_IDS,
    });
    let remedy = remedy_for(&g, &r.falsepositives);
    let id_key = g.key.join("\u{1f}");
    g.events.into_alert(
        r.alert_rule_id(),
        &r.title,
        r.level,
        r.techniques(),
        start,
        &[&id_key, &start_text],
        remedy,
        why,
        details,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RuleSet;
    use trailhound_model::{HOUR, SECOND};

    const RULE: &str = "title: Test rule\nid: r-1\nauthor: Jane Doe\nlogsource:\n  product: aws\n  service: cloudtrail\nlevel: medium\ntags:\n  - attack.persistence\n  - attack.t1098\nfalsepositives:\n  - Admins\ndetection:\n  s:\n    eventName: CreateUser\n  condition: s\n";

    fn detector(text: &str) -> SigmaDetector {
        let mut set = RuleSet::default();
        set.add("t.yml", text);
        assert!(set.errors.is_empty(), "{:?}", set.errors);
        SigmaDetector::new(
            Arc::new(SigmaEngine::new(set.rules)),
            DetectorOptions::default(),
        )
    }

    fn ev(t: i64, id: &str, name: &str, key: &str) -> Event {
        let mut e = Event {
            time: t,
            event_id: id.into(),
            event_name: name.into(),
            source_ip: "203.0.113.9".into(),
            ..Event::default()
        };
        e.user.access_key_id = key.into();
        e.user.arn = "arn:aws:iam::123456789012:user/bob".into();
        e
    }

    #[test]
    fn one_alert_per_rule_subject_and_hour() {
        let mut d = detector(RULE);
        let h = 1_700_000_000 / 3600 * 3600 * SECOND;
        d.observe(&ev(
            h + 10 * SECOND,
            "e1",
            "CreateUser",
            "AKIAAAAAAAAAAAAAAAAA",
        ));
        d.observe(&ev(
            h + 20 * SECOND,
            "e2",
            "CreateUser",
            "AKIAAAAAAAAAAAAAAAAA",
        ));
        d.observe(&ev(
            h + 30 * SECOND,
            "e3",
            "ListUsers",
            "AKIAAAAAAAAAAAAAAAAA",
        ));
        d.observe(&ev(
            h + 40 * SECOND,
            "e4",
            "CreateUser",
            "AKIABBBBBBBBBBBBBBBB",
        ));
        d.observe(&ev(
            h + HOUR + SECOND,
            "e5",
            "CreateUser",
            "AKIAAAAAAAAAAAAAAAAA",
        ));
        // Two hours and the grace later, the first hour is final.
        d.observe(&ev(
            h + 2 * HOUR + SECOND,
            "e6",
            "ListUsers",
            "AKIAAAAAAAAAAAAAAAAA",
        ));
        let early = d.drain();
        assert_eq!(early.len(), 2);
        let mut all = early;
        all.extend(d.finish());
        let summary: Vec<(String, u64, Vec<String>)> = all
            .iter()
            .map(|a| (a.access_key_id.clone(), a.count, a.event_ids.clone()))
            .collect();
        assert_eq!(
            summary,
            [
                (
                    "AKIAAAAAAAAAAAAAAAAA".into(),
                    2,
                    vec!["e1".into(), "e2".into()]
                ),
                ("AKIABBBBBBBBBBBBBBBB".into(), 1, vec!["e4".into()]),
                ("AKIAAAAAAAAAAAAAAAAA".into(), 1, vec!["e5".into()]),
            ]
        );
        let a = &all[0];
        assert_eq!(a.rule_id, "sigma-r-1");
        assert_eq!(a.rule_name, "Test rule");
        assert_eq!((a.severity.as_str(), a.risk_score), ("medium", 47));
        assert_eq!(a.time, h);
        assert_eq!(a.mitre, ["T1098"]);
        assert_eq!(a.details["sigma"]["author"], "Jane Doe");
        assert_eq!(a.details["sigma"]["tags"][0], "attack.persistence");
        assert!(a.why.contains("by Jane Doe"), "{}", a.why);
        assert!(
            a.remediation
                .contains("Known false positives of this rule: Admins.")
        );
        assert!(a.remediation.ends_with(
            "aws iam update-access-key --access-key-id AKIAAAAAAAAAAAAAAAAA --status Inactive --user-name bob"
        ));
        assert_eq!(
            a.id,
            alert_id("sigma-r-1", &["AKIAAAAAAAAAAAAAAAAA", &format_rfc3339(h)])
        );
    }

    #[test]
    fn role_sessions_are_one_subject() {
        assert_eq!(
            role_of("arn:aws:sts::1:assumed-role/Admin/alice@example.com"),
            "arn:aws:sts::1:assumed-role/Admin"
        );
        assert_eq!(
            role_of("arn:aws:iam::1:user/bob"),
            "arn:aws:iam::1:user/bob"
        );
        assert_eq!(
            role_of("arn:aws:sts::1:assumed-role/x"),
            "arn:aws:sts::1:assumed-role/x"
        );
    }

    #[test]
    fn the_bucket_is_configurable() {
        let mut set = RuleSet::default();
        set.add("t.yml", RULE);
        let options = DetectorOptions {
            bucket: Span::days(1),
            ..DetectorOptions::default()
        };
        let mut d = SigmaDetector::new(Arc::new(SigmaEngine::new(set.rules)), options);
        d.observe(&ev(0, "e1", "CreateUser", "AKIAAAAAAAAAAAAAAAAA"));
        d.observe(&ev(5 * HOUR, "e2", "CreateUser", "AKIAAAAAAAAAAAAAAAAA"));
        let a = d.finish();
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].count, 2);
        assert!(a[0].why.contains("in the 1d bucket from"), "{}", a[0].why);
    }

    #[test]
    fn events_without_a_key_group_by_arn() {
        let mut d = detector(RULE);
        d.observe(&ev(0, "e1", "CreateUser", ""));
        let a = d.finish();
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].access_key_id, "");
        assert_eq!(a[0].details["group_by"], "user_arn");
        assert!(
            a[0].why
                .starts_with("Principal arn:aws:iam::123456789012:user/bob")
        );
        // Temporary keys (one per role session) group by the session's ARN too.
        let mut d = detector(RULE);
        d.observe(&ev(0, "e1", "CreateUser", "ASIAAAAAAAAAAAAAAAAA"));
        d.observe(&ev(SECOND, "e2", "CreateUser", "ASIABBBBBBBBBBBBBBBB"));
        let a = d.finish();
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].count, 2);
        assert_eq!(a[0].access_key_id, "ASIAAAAAAAAAAAAAAAAA");
        assert!(
            a[0].remediation
                .contains("revoke the role's active sessions")
        );
    }

    #[test]
    fn aggregated_rules_report_the_events_of_the_window() {
        let text = RULE
            .replace(
                "condition: s",
                "condition: s | count() by userIdentity.arn > 2",
            )
            .replace("level: medium", "level: high\ntimeframe: 10m");
        let mut d = detector(&text);
        for (t, id) in [(0, "a"), (60, "b"), (2000, "c"), (2060, "d"), (2100, "e")] {
            d.observe(&ev(t * SECOND, id, "CreateUser", "AKIAAAAAAAAAAAAAAAAA"));
        }
        let a = d.finish();
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].event_ids, ["c", "d", "e"]);
        assert_eq!(a[0].details["aggregation"]["timeframe"], "10m");
        assert_eq!(a[0].severity.as_str(), "high");
    }
}
