//! Alert suppression: one alert per rule, group and time window, with a count of the rest.
//!
//! Elastic's answer to alert volume, for every rule: alerts of one rule whose suppression fields
//! have the same values, within one window, become one alert. It keeps the earliest alert's time,
//! spans every member's first and last seen, unites the evidence (a bounded sample of
//! [`MAX_SAMPLE_IDS`] event ids) and counts the folded alerts in `suppressed_count` (0 when an
//! alert stands alone, as Elastic's `suppression.docs_count`).
//!
//! Ids: a suppressed alert's id is [`alert_id`] of the rule id, the window's start and the
//! group's values, so re-running a hunt, or `watch` seeing more events of the same window, lands
//! on the same alert. Every member is listed as a [`Member`] (its own deterministic id, count and
//! times); the alert store keeps them, so a member seen twice is counted once and the totals are
//! those of every member ever seen ([`merge_stored`]).
//!
//! Defaults (`docs/decisions.md`, "Suppression"): Sigma rules are suppressed by
//! [`Field::Subject`] (the root key, else the principal) per UTC day; the built-in rules D1–D4 are
//! not (each is already one alert per key and hour or per new address, and D5 pairs D2 alerts by
//! their own times); D5 never is (it reads alerts).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{Alert, Span, alert_id};

/// Event ids kept in a suppressed alert (a sample; `count` is exact).
pub const MAX_SAMPLE_IDS: usize = 100;
/// Keys listed in a suppressed alert's `details.suppression.access_key_ids`.
pub const MAX_LISTED_KEYS: usize = 20;

/// The window within which alerts of one group are folded into one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Window {
    /// No suppression: every alert stands alone.
    #[default]
    Off,
    /// One alert per group for everything a hunt (or a `watch`) sees.
    Run,
    /// One alert per group and UTC-aligned window of this length (`"1h"`, `"1d"`).
    Every(Span),
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Window::Off => f.write_str("off"),
            Window::Run => f.write_str("run"),
            Window::Every(s) => write!(f, "{s}"),
        }
    }
}

impl FromStr for Window {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "off" | "none" => Ok(Window::Off),
            "run" => Ok(Window::Run),
            other => match other.parse::<Span>() {
                Ok(span) if span.nanos() > 0 => Ok(Window::Every(span)),
                _ => Err(format!(
                    "suppression window {other:?}: expected \"off\", \"run\" or a duration such as \"1h\" or \"1d\""
                )),
            },
        }
    }
}

impl Serialize for Window {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Window {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// A field alerts are grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    /// The root key, else the principal ([`Alert::subject`]).
    Subject,
    /// The root key (empty for keys without one).
    RootKey,
    /// The principal.
    Principal,
    /// The key that signed the calls.
    AccessKeyId,
    /// The user ARN of the signing identity.
    UserArn,
    /// The sorted source addresses of the alert's evidence.
    SourceIps,
    /// The sorted countries of the alert's evidence.
    Countries,
}

impl Field {
    fn value(self, a: &Alert) -> String {
        match self {
            Field::Subject => a.subject().to_owned(),
            Field::RootKey => a.root_key.clone(),
            Field::Principal => a.principal.clone(),
            Field::AccessKeyId => a.access_key_id.clone(),
            Field::UserArn => a.user_arn.clone(),
            Field::SourceIps => a.source_ips.join(","),
            Field::Countries => a.countries.join(","),
        }
    }
}

/// How one rule's alerts are suppressed, as configured: a field left out falls back to the
/// policy of the rule's kind (`[suppression.sigma]` or `[suppression.builtin]`), then to the
/// built-in defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Policy {
    /// The window: `"off"`, `"run"` or a duration.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window: Option<Window>,
    /// The fields whose values make a group (one to three, as Elastic).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by: Option<Vec<Field>>,
}

impl Policy {
    /// A policy with this window, grouped by the subject.
    pub fn every(window: Window) -> Self {
        Self {
            window: Some(window),
            by: Some(vec![Field::Subject]),
        }
    }
}

/// The policy that applies to one rule, every field resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Resolved {
    /// The window.
    pub window: Window,
    /// The grouping fields.
    pub by: Vec<Field>,
}

/// The suppression of every rule: per rule id, else the default of its kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Policies {
    /// Sigma rules (ids `sigma-…`): by subject, per day.
    pub sigma: Policy,
    /// The built-in event rules D1–D4: off.
    pub builtin: Policy,
    /// Per rule: the rule id (`aws-akia-unauthorized-api-call`, `sigma-<uuid>`) or a Sigma rule's
    /// own id.
    pub rules: BTreeMap<String, Policy>,
}

impl Default for Policies {
    fn default() -> Self {
        Self {
            sigma: Policy::every(Window::Every(Span::days(1))),
            builtin: Policy::every(Window::Off),
            rules: BTreeMap::new(),
        }
    }
}

impl Policies {
    /// Refuses a `by` of no field or more than three.
    pub fn check(&self) -> Result<(), String> {
        let all = [("sigma", &self.sigma), ("builtin", &self.builtin)]
            .into_iter()
            .chain(self.rules.iter().map(|(k, p)| (k.as_str(), p)));
        for (name, p) in all {
            if p.by.as_ref().is_some_and(|b| !(1..=3).contains(&b.len())) {
                return Err(format!(
                    "suppression of {name}: `by` needs one to three fields"
                ));
            }
        }
        Ok(())
    }

    /// The policy of a rule: its own fields, else its kind's, else the defaults.
    pub fn of(&self, rule_id: &str) -> Resolved {
        if crate::correlation::is_higher_order(rule_id) {
            return Resolved {
                window: Window::Off,
                by: Vec::new(),
            };
        }
        let sigma = rule_id.strip_prefix(crate::SIGMA_RULE_ID_PREFIX);
        let own = self
            .rules
            .get(rule_id)
            .or_else(|| sigma.and_then(|id| self.rules.get(id)));
        let (kind, default_window) = if sigma.is_some() {
            (&self.sigma, Window::Every(Span::days(1)))
        } else {
            (&self.builtin, Window::Off)
        };
        Resolved {
            window: own
                .and_then(|p| p.window)
                .or(kind.window)
                .unwrap_or(default_window),
            by: own
                .and_then(|p| p.by.clone())
                .or_else(|| kind.by.clone())
                .unwrap_or_else(|| vec![Field::Subject]),
        }
    }
}

/// One alert folded into a suppressed alert, as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// The suppressed alert's id.
    pub alert_id: String,
    /// The member's own (unsuppressed) id.
    pub member_id: String,
    /// Its event count.
    pub count: u64,
    /// Its first and last seen.
    pub first_seen: i64,
    /// Its last seen.
    pub last_seen: i64,
}

/// What the store knows of a suppressed alert's members: every member ever seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Totals {
    /// Number of distinct members.
    pub members: u64,
    /// Sum of their counts.
    pub count: u64,
    /// Earliest first seen.
    pub first_seen: i64,
    /// Latest last seen.
    pub last_seen: i64,
}

impl Totals {
    /// The totals of members listed in memory (with no store).
    pub fn of(members: &[&Member]) -> Self {
        Totals {
            members: members.len() as u64,
            count: members.iter().map(|m| m.count).sum(),
            first_seen: members.iter().map(|m| m.first_seen).min().unwrap_or(0),
            last_seen: members.iter().map(|m| m.last_seen).max().unwrap_or(0),
        }
    }
}

/// Folds alerts by their rules' policies. Returns the alerts (suppressed ones merged, the rest
/// as they were, in input order of their first member) and the members of every suppressed
/// alert.
pub fn suppress(alerts: Vec<Alert>, policies: &Policies) -> (Vec<Alert>, Vec<Member>) {
    let mut s = Suppressor::new(policies.clone());
    for a in alerts {
        s.push(a);
    }
    s.finish()
}

/// [`suppress`] one alert at a time, so that alerts can be folded as they become final rather
/// than all held until the end: pushing a sequence gives what [`suppress`] gives for it.
#[derive(Debug, Default)]
pub struct Suppressor {
    policies: Policies,
    out: Vec<Alert>,
    members: Vec<Member>,
    index: BTreeMap<String, usize>,
}

impl Suppressor {
    /// An empty suppressor with these policies.
    pub fn new(policies: Policies) -> Self {
        Self {
            policies,
            ..Self::default()
        }
    }

    /// Folds `a` into its group's alert, or starts a group (or keeps it alone when its rule
    /// is not suppressed).
    pub fn push(&mut self, a: Alert) {
        let policy = self.policies.of(&a.rule_id);
        let start = match policy.window {
            Window::Off => {
                self.out.push(a);
                return;
            }
            Window::Run => "run".to_owned(),
            Window::Every(span) => {
                let w = span.nanos();
                trailhound_model::format_rfc3339(a.time.div_euclid(w) * w)
            }
        };
        let values: Vec<String> = policy.by.iter().map(|f| f.value(&a)).collect();
        let mut parts: Vec<&str> = vec!["suppressed", &start];
        parts.extend(values.iter().map(String::as_str));
        let id = alert_id(&a.rule_id, &parts);
        self.members.push(Member {
            alert_id: id.clone(),
            member_id: a.id.clone(),
            count: a.count,
            first_seen: a.first_seen,
            last_seen: a.last_seen,
        });
        match self.index.get(&id) {
            Some(&i) => fold(&mut self.out[i], &a),
            None => {
                self.index.insert(id.clone(), self.out.len());
                self.out.push(start_group(a, id, &policy, &start, &values));
            }
        }
    }

    /// Alerts pushed so far.
    pub fn len(&self) -> usize {
        self.members.len() + self.out.len() - self.index.len()
    }

    /// True before the first push.
    pub fn is_empty(&self) -> bool {
        self.out.is_empty()
    }

    /// The alerts (groups in the order they started) with their totals, and every member.
    pub fn finish(self) -> (Vec<Alert>, Vec<Member>) {
        let (mut out, mut members) = (self.out, self.members);
        // Counts from the members (a member listed twice in one batch counts once).
        let mut by_alert: BTreeMap<&str, Vec<&Member>> = BTreeMap::new();
        sort_members(&mut members);
        for m in &members {
            by_alert.entry(m.alert_id.as_str()).or_default().push(m);
        }
        for a in &mut out {
            if let Some(ms) = by_alert.get(a.id.as_str()) {
                set_totals(a, Totals::of(ms));
            }
        }
        (out, members)
    }
}

/// Sorts members by alert and member id, each pair once (as [`suppress`] returns them).
pub fn sort_members(members: &mut Vec<Member>) {
    members.sort_by(|x, y| (&x.alert_id, &x.member_id).cmp(&(&y.alert_id, &y.member_id)));
    members.dedup_by(|x, y| x.alert_id == y.alert_id && x.member_id == y.member_id);
}

/// The first member of a group becomes the suppressed alert.
fn start_group(
    mut a: Alert,
    id: String,
    policy: &Resolved,
    start: &str,
    values: &[String],
) -> Alert {
    let member = std::mem::replace(&mut a.id, id);
    let keys = vec![a.access_key_id.clone()];
    if let Some(map) = a.details.as_object_mut() {
        map.insert(
            "suppression".to_owned(),
            serde_json::json!({
                "window": policy.window.to_string(),
                "window_start": start,
                "by": policy.by,
                "values": values,
                "access_key_ids": keys,
                "first_member": member,
            }),
        );
    }
    truncate_sample(&mut a.event_ids);
    a
}

/// The member a suppressed alert takes its key, ARN, text and details from: the earliest, by
/// time then id, so that the alert is the same whatever order its members arrive in (one hunt,
/// or `watch` batches).
fn first_member(a: &Alert) -> (i64, &str) {
    (
        a.time,
        a.details["suppression"]["first_member"]
            .as_str()
            .unwrap_or(""),
    )
}

/// Adds one member (or another batch's suppressed alert of the same group) to a suppressed
/// alert. Order-independent: the earliest member gives the identity fields, lists are sorted
/// unions cut to their first values.
fn fold(into: &mut Alert, a: &Alert) {
    let a_first = if is_suppressed(a) {
        first_member(a)
    } else {
        (a.time, a.id.as_str())
    };
    // `<=`: the first member raised again (with more events) brings its newer text.
    if a_first <= first_member(into) {
        let suppression = into.details["suppression"].clone();
        into.time = a.time;
        into.access_key_id = a.access_key_id.clone();
        into.user_arn = a.user_arn.clone();
        into.rule_name = a.rule_name.clone();
        into.why = a.why.clone();
        into.remediation = a.remediation.clone();
        into.details = a.details.clone();
        if let Some(map) = into.details.as_object_mut() {
            let mut s = suppression;
            s["first_member"] = a_first.1.into();
            map.insert("suppression".to_owned(), s);
        }
    }
    if a.severity > into.severity {
        into.severity = a.severity;
        into.risk_score = a.risk_score;
    }
    unite(&mut into.source_ips, &a.source_ips);
    unite(&mut into.countries, &a.countries);
    unite(&mut into.user_agents, &a.user_agents);
    unite(&mut into.event_names, &a.event_names);
    unite(&mut into.event_ids, &a.event_ids);
    truncate_sample(&mut into.event_ids);
    let mut more = vec![a.access_key_id.clone()];
    if let Some(ks) = a.details["suppression"]["access_key_ids"].as_array() {
        more.extend(ks.iter().filter_map(|k| k.as_str().map(str::to_owned)));
    }
    if let Some(keys) = into.details["suppression"]["access_key_ids"].as_array_mut() {
        let mut all: Vec<String> = keys
            .iter()
            .filter_map(|k| k.as_str().map(str::to_owned))
            .chain(more)
            .collect();
        all.sort_unstable();
        all.dedup();
        all.truncate(MAX_LISTED_KEYS);
        *keys = all.into_iter().map(serde_json::Value::from).collect();
    }
}

fn unite(into: &mut Vec<String>, more: &[String]) {
    into.extend(more.iter().cloned());
    into.sort_unstable();
    into.dedup();
}

fn truncate_sample(ids: &mut Vec<String>) {
    ids.truncate(MAX_SAMPLE_IDS);
}

/// Writes the members' totals into a suppressed alert.
pub fn set_totals(a: &mut Alert, t: Totals) {
    a.count = t.count;
    a.suppressed_count = t.members.saturating_sub(1);
    a.first_seen = t.first_seen;
    a.last_seen = t.last_seen;
    if let Some(s) = a
        .details
        .get_mut("suppression")
        .and_then(|s| s.as_object_mut())
    {
        s.insert("members".to_owned(), t.members.into());
    }
}

/// A suppressed alert of this batch merged with the stored one: the stored alert's time (the
/// earliest), details and lists united with this batch's, and the totals over every member the
/// store has seen. The same batch merged twice gives the same alert.
pub fn merge_stored(stored: &Alert, new: &Alert, totals: Totals) -> Alert {
    let mut a = stored.clone();
    fold(&mut a, new);
    set_totals(&mut a, totals);
    a
}

/// True when the alert was made by suppression.
pub fn is_suppressed(a: &Alert) -> bool {
    a.details.get("suppression").is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::alert_on;
    use trailhound_model::{HOUR, SECOND};

    fn sigma(key: &str, hour: i64, ids: &[&str]) -> Alert {
        let mut a = alert_on(key, "arn:aws:iam::1:user/bob");
        a.rule_id = "sigma-r1".into();
        a.time = hour * HOUR;
        a.first_seen = hour * HOUR + SECOND;
        a.last_seen = hour * HOUR + 2 * SECOND;
        a.id = alert_id("sigma-r1", &[key, &hour.to_string()]);
        a.event_ids = ids.iter().map(|s| (*s).to_owned()).collect();
        a.count = ids.len() as u64;
        a.root_key = "AKIAROOT".into();
        a
    }

    #[test]
    fn one_alert_per_subject_and_day_with_exact_counts() {
        let alerts = vec![
            sigma("ASIA1", 1, &["e1", "e2"]),
            sigma("ASIA2", 3, &["e3"]),
            sigma("ASIA1", 25, &["e4"]),
        ];
        let (out, members) = suppress(alerts.clone(), &Policies::default());
        assert_eq!(out.len(), 2);
        assert_eq!(members.len(), 3);
        assert_eq!(out[0].suppressed_count, 1);
        assert_eq!(out[0].count, 3);
        assert_eq!(out[0].time, HOUR);
        assert_eq!(out[0].first_seen, HOUR + SECOND);
        assert_eq!(out[0].last_seen, 3 * HOUR + 2 * SECOND);
        assert_eq!(out[0].event_ids, ["e1", "e2", "e3"]);
        assert_eq!(
            out[0].details["suppression"]["access_key_ids"],
            serde_json::json!(["ASIA1", "ASIA2"])
        );
        assert_eq!(out[1].suppressed_count, 0);
        assert_eq!(out[1].count, 1);
        // Deterministic: the same input gives the same ids and bodies.
        let (again, _) = suppress(alerts, &Policies::default());
        assert_eq!(again, out);
    }

    #[test]
    fn members_in_any_order_give_the_same_alert() {
        let a = sigma("ASIA1", 1, &["e1"]);
        let mut b = sigma("ASIA2", 3, &["e3"]);
        b.why = "later".into();
        let c = sigma("ASIA3", 5, &["e5"]);
        let (one, _) = suppress(vec![a.clone(), b.clone(), c.clone()], &Policies::default());
        let (two, _) = suppress(vec![c.clone(), b.clone(), a.clone()], &Policies::default());
        assert_eq!(one, two);
        assert_eq!(one[0].access_key_id, "ASIA1");
        // As `watch` would store them: the later batch first, then the earlier one.
        let (late, m1) = suppress(vec![c, b], &Policies::default());
        let (early, m2) = suppress(vec![a], &Policies::default());
        let all: Vec<&Member> = m1.iter().chain(&m2).collect();
        let merged = merge_stored(&late[0], &early[0], Totals::of(&all));
        assert_eq!(merged, one[0]);
    }

    #[test]
    fn merging_with_the_store_is_idempotent_and_grows_with_new_members() {
        let (first, m1) = suppress(vec![sigma("ASIA1", 1, &["e1", "e2"])], &Policies::default());
        let stored = first[0].clone();
        // The same batch again: the store's totals are unchanged, so is the alert.
        let t1 = Totals::of(&m1.iter().collect::<Vec<_>>());
        assert_eq!(merge_stored(&stored, &first[0], t1), stored);
        // A later batch of the same day adds a member.
        let (second, m2) = suppress(vec![sigma("ASIA2", 5, &["e9"])], &Policies::default());
        assert_eq!(second[0].id, stored.id);
        let all: Vec<&Member> = m1.iter().chain(&m2).collect();
        let merged = merge_stored(&stored, &second[0], Totals::of(&all));
        assert_eq!(merged.suppressed_count, 1);
        assert_eq!(merged.count, 3);
        assert_eq!(merged.event_ids, ["e1", "e2", "e9"]);
        assert_eq!(merged.time, HOUR);
        assert_eq!(merge_stored(&merged, &second[0], Totals::of(&all)), merged);
    }

    #[test]
    fn policies_per_rule_and_kind() {
        let mut p = Policies::default();
        assert_eq!(p.of("aws-akia-unauthorized-api-call").window, Window::Off);
        assert_eq!(p.of("sigma-abc").window, Window::Every(Span::days(1)));
        assert_eq!(p.of(crate::correlation::RULE_ID).window, Window::Off);
        p.rules.insert("abc".into(), Policy::every(Window::Run));
        assert_eq!(p.of("sigma-abc").window, Window::Run);
        p.rules.insert(
            "aws-akia-unauthorized-api-call".into(),
            Policy::every(Window::Every(Span::hours(6))),
        );
        let a = |h: i64| {
            let mut a = alert_on("AKIAK", "arn");
            a.rule_id = "aws-akia-unauthorized-api-call".into();
            a.id = format!("id{h}");
            a.time = h * HOUR;
            a
        };
        let (out, _) = suppress(vec![a(0), a(5), a(6)], &p);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].suppressed_count, 1);
        assert_eq!(
            "2h".parse::<Window>().unwrap(),
            Window::Every(Span::hours(2))
        );
        assert!("0s".parse::<Window>().is_err());
        p.rules.insert(
            "x".into(),
            Policy {
                window: Some(Window::Run),
                by: Some(vec![]),
            },
        );
        assert!(p.check().is_err());
        // A rule that names only its window keeps its kind's grouping.
        p.rules.clear();
        p.sigma.by = Some(vec![Field::AccessKeyId]);
        p.rules.insert(
            "y".into(),
            Policy {
                window: Some(Window::Run),
                by: None,
            },
        );
        assert_eq!(p.of("sigma-y").by, [Field::AccessKeyId]);
        assert_eq!(p.of("sigma-y").window, Window::Run);
        assert_eq!(p.of("sigma-other").window, Window::Every(Span::days(1)));
    }
}
