//! Sigma correlation rules (the Sigma specification's meta-rules): `event_count`,
//! `value_count`, `temporal` and `temporal_ordered` (and rsigma's `value_sum`, `value_avg`,
//! `value_percentile`, `value_median`), with `group-by`, `timespan`, `condition`, `aliases` and
//! `generate`, over the detection rules they name by `id` or `name`.
//!
//! The windows and conditions are rsigma's [`CorrelationEngine`], fed with the detection matches
//! Trailhound's own engine already found for each event (no second evaluation). Trailhound adds
//! the evidence: the matching events of the firing group within the timespan are kept (at most
//! [`MAX_BUFFERED`] per group), so that an alert lists its event ids, addresses and times like
//! every other alert. A firing becomes one alert per correlation, group and UTC bucket (as Sigma
//! detection alerts are grouped); further firings in the bucket add their events.
//!
//! A detection rule a correlation names is matched but raises no alert of its own unless the
//! correlation says `generate: true` (the specification's default is false).

use std::collections::{HashMap, VecDeque};

use rsigma_eval::correlation_engine::{CorrelationConfig, CorrelationEngine, TimestampFallback};
use rsigma_eval::result::{DetectionBody, EvaluationResult, ResultBody, RuleHeader};
use trailhound_detect::Span;
use trailhound_model::{Event, SECOND, Timestamp};

use crate::Level;
use crate::engine::EventView;
use crate::load::{Rule, field_error};

/// Events kept per correlation group for evidence.
pub const MAX_BUFFERED: usize = 1000;

/// A loaded, valid correlation rule.
#[derive(Debug, Clone)]
pub struct Correlation {
    /// The file it came from.
    pub file: String,
    /// The Sigma `id`.
    pub id: String,
    /// `title`.
    pub title: String,
    /// `level`.
    pub level: Level,
    /// `author`.
    pub author: String,
    /// `description`.
    pub description: String,
    /// `tags`.
    pub tags: Vec<String>,
    /// `falsepositives`.
    pub falsepositives: Vec<String>,
    /// `correlation.type`.
    pub kind: String,
    /// `correlation.rules`: the detection rules it counts, by id or name.
    pub rules: Vec<String>,
    /// `correlation.group-by`.
    pub group_by: Vec<String>,
    /// `correlation.timespan`.
    pub timespan: Span,
    /// The condition as written (`gte: 3`, `field: sourceIPAddress`).
    pub condition: serde_json::Value,
    /// Whether the named rules also raise their own alerts.
    pub generate: bool,
    pub(crate) sigma: rsigma_parser::CorrelationRule,
}

impl Correlation {
    /// The alert rule id: `sigma-<id>`.
    pub fn alert_rule_id(&self) -> String {
        format!("{}{}", crate::RULE_ID_PREFIX, self.id)
    }

    /// ATT&CK technique ids from the tags.
    pub fn techniques(&self) -> Vec<String> {
        crate::load::techniques(&self.tags)
    }

    /// The record paths it reads beyond its rules' (group-by fields, the counted field, and
    /// what aliases map them to).
    pub fn fields(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .group_by
            .iter()
            .filter(|g| !self.sigma.aliases.iter().any(|a| a.alias == **g))
            .cloned()
            .collect();
        for a in &self.sigma.aliases {
            out.extend(a.mapping.values().cloned());
        }
        if let Some(f) = self.condition.get("field").and_then(|f| f.as_str()) {
            out.push(f.to_owned());
        }
        out
    }

    /// True when one of its references names `rule` (by id or by `name`).
    pub fn counts(&self, rule: &Rule) -> bool {
        self.rules
            .iter()
            .any(|x| *x == rule.id || rule.name.as_deref() == Some(x.as_str()))
    }

    /// The field that `group_by` entry `g` reads in events of the rule referenced as `rule_ref`.
    fn field_for<'a>(&'a self, g: &'a str, rule_ref: &str) -> &'a str {
        self.sigma
            .aliases
            .iter()
            .find(|a| a.alias == g)
            .and_then(|a| a.mapping.get(rule_ref))
            .map_or(g, String::as_str)
    }
}

/// The correlation types rsigma evaluates.
const TYPES: [&str; 8] = [
    "event_count",
    "value_count",
    "temporal",
    "temporal_ordered",
    "value_sum",
    "value_avg",
    "value_percentile",
    "value_median",
];

/// Parses and checks one correlation document (`doc`, starting at line `first_line` of `file`).
/// Errors name the line and the field.
pub(crate) fn parse(file: &str, doc: &str, first_line: usize) -> Result<Correlation, String> {
    let value: yaml_serde::Value = yaml_serde::from_str(doc).map_err(|e| format!("YAML: {e}"))?;
    let err = |field: &str, msg: &str| field_error(doc, first_line, field, msg);
    let c = value
        .get("correlation")
        .filter(|c| c.is_mapping())
        .ok_or_else(|| err("correlation", "must be a mapping"))?;
    let kind = c
        .get("type")
        .and_then(|t| t.as_str())
        .ok_or_else(|| err("type", &format!("missing; one of {}", TYPES.join(", "))))?;
    if !TYPES.contains(&kind) {
        return Err(err(
            "type",
            &format!("{kind:?} is not one of {}", TYPES.join(", ")),
        ));
    }
    let rules: Vec<String> = c
        .get("rules")
        .and_then(|r| r.as_sequence())
        .map(|s| {
            s.iter()
                .filter_map(|r| r.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    if rules.is_empty() {
        return Err(err(
            "rules",
            "missing or empty: the ids or names of the detection rules it correlates",
        ));
    }
    let Some(timespan) = c.get("timespan").and_then(|t| t.as_str()) else {
        return Err(err("timespan", "missing, e.g. 1h"));
    };
    let span = rsigma_parser::Timespan::parse(timespan)
        .map_err(|e| err("timespan", &format!("{timespan:?}: {e}")))?;
    if let Some(g) = c.get("group-by")
        && !g
            .as_sequence()
            .is_some_and(|s| s.iter().all(|v| v.as_str().is_some()))
    {
        return Err(err("group-by", "must be a list of field names"));
    }
    let condition = c.get("condition");
    if matches!(kind, "event_count" | "value_count") || kind.starts_with("value_") {
        let Some(cond) = condition.and_then(|v| v.as_mapping()) else {
            return Err(err(
                "condition",
                "missing: a threshold such as `gte: 3` is required for this type",
            ));
        };
        let ops = ["gt", "gte", "lt", "lte", "eq", "neq"];
        if !cond
            .keys()
            .any(|k| k.as_str().is_some_and(|k| ops.contains(&k)))
        {
            return Err(err(
                "condition",
                &format!("no threshold: one of {}", ops.join(", ")),
            ));
        }
        if kind != "event_count" && cond.get("field").and_then(|f| f.as_str()).is_none() {
            return Err(err(
                "condition",
                &format!("{kind} needs `field:` (the field whose values it counts)"),
            ));
        }
    }
    let id = value
        .get("id")
        .and_then(|v| v.as_str())
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| err("id", "missing: every rule needs a unique id"))?
        .to_owned();
    let level = value
        .get("level")
        .and_then(|v| v.as_str())
        .and_then(Level::parse)
        .ok_or_else(|| {
            err(
                "level",
                "missing or not one of informational, low, medium, high, critical",
            )
        })?;
    let collection = rsigma_parser::parse_sigma_yaml(doc).map_err(|e| e.to_string())?;
    if !collection.errors.is_empty() {
        return Err(err("correlation", &collection.errors.join("; ")));
    }
    let [sigma] = <[rsigma_parser::CorrelationRule; 1]>::try_from(collection.correlations)
        .map_err(|v| format!("expected one correlation rule, found {}", v.len()))?;
    rsigma_eval::correlation::compile_correlation(&sigma)
        .map_err(|e| err("correlation", &e.to_string()))?;
    let to_json = |v: Option<&yaml_serde::Value>| {
        v.and_then(|v| serde_json::to_value(v).ok())
            .unwrap_or(serde_json::Value::Null)
    };
    Ok(Correlation {
        file: file.to_owned(),
        id,
        title: sigma.title.clone(),
        level,
        author: sigma.author.clone().unwrap_or_default(),
        description: sigma.description.clone().unwrap_or_default(),
        tags: sigma.tags.clone(),
        falsepositives: sigma.falsepositives.clone(),
        kind: kind.to_owned(),
        rules,
        group_by: sigma.group_by.clone(),
        timespan: Span::from_nanos(
            i64::try_from(span.seconds).unwrap_or(i64::MAX / SECOND) * SECOND,
        ),
        condition: to_json(condition),
        generate: sigma.generate,
        sigma,
    })
}

/// The detection rule a correlation's reference names (by id, else by name), if loaded.
pub fn resolve<'a>(rules: &'a [Rule], reference: &str) -> Option<(usize, &'a Rule)> {
    rules
        .iter()
        .enumerate()
        .find(|(_, r)| r.id == reference)
        .or_else(|| {
            rules
                .iter()
                .enumerate()
                .find(|(_, r)| r.name.as_deref() == Some(reference))
        })
}

/// One firing of a correlation: the group, the aggregated value and the evidence.
pub(crate) struct Firing {
    /// The correlation (index in the engine's list).
    pub correlation: usize,
    /// The group-by values, `field=value` joined by `, ` (empty without group-by).
    pub group: String,
    /// What the condition was met with (a count, a distinct count, a sum …).
    pub value: f64,
    /// The events of the group within the timespan, oldest first.
    pub events: Vec<Event>,
}

/// A group as rsigma reports it: `(group-by name, value)` pairs, missing values left out.
type GroupKey = Vec<(String, String)>;

/// The running state of every correlation.
pub(crate) struct Correlator {
    engine: CorrelationEngine,
    /// Per engine rule index: the correlations referencing it, with the reference used.
    refs: HashMap<usize, Vec<(usize, String)>>,
    /// Per correlation: recent matching events by group.
    buffers: Vec<HashMap<GroupKey, VecDeque<Event>>>,
    /// Per correlation: its `value_count` state when Trailhound evaluates it ([`DistinctCount`]).
    distinct: Vec<Option<DistinctCount>>,
    /// Per `temporal_ordered` correlation: when each group last matched its first rule
    /// (events of the later rules of a group without one are not fed to rsigma).
    ordered_starts: Vec<Option<HashMap<GroupKey, Timestamp>>>,
    results: Vec<EvaluationResult>,
}

/// A `value_count` correlation (one field, a sliding window) evaluated in Trailhound's layer,
/// with rsigma's compiled condition, suppression and reset, to the same verdicts: rsigma
/// collects every entry of the window into a set on every event, so a count over a day of a
/// busy key's calls costs the day's calls per call (a 10 GB hunt took 22 times as long with one
/// such rule). Here each group keeps the last time it saw each value, and the count is the
/// number of values seen within the timespan: the work per event is the number of distinct
/// values.
struct DistinctCount {
    field: String,
    condition: rsigma_eval::correlation::CompiledCondition,
    /// Seconds, as rsigma's windows count them.
    span: i64,
    suppress: Option<i64>,
    reset: bool,
    groups: HashMap<GroupKey, DistinctGroup>,
}

/// One group of a [`DistinctCount`].
#[derive(Default)]
struct DistinctGroup {
    /// Value → last time seen, seconds.
    last_seen: HashMap<String, i64>,
    /// Value → its first events within the window (at most [`PER_VALUE`]): the evidence. A
    /// busy value (a key's home country, all day) costs a copy only when one of its kept events
    /// leaves the window, not one per event.
    evidence: HashMap<String, VecDeque<Event>>,
    /// When the group last raised, seconds (for `rsigma.suppress`).
    last_alert: Option<i64>,
}

/// Events of evidence a `value_count` group keeps per value.
pub const PER_VALUE: usize = 50;

impl DistinctCount {
    /// The fast path for `c`, when its shape is one rsigma's own evaluation would give the same
    /// verdicts for (sliding window, one counted field, no extended condition or entry cap).
    fn for_correlation(c: &Correlation) -> Option<Self> {
        use rsigma_parser::CorrelationType;
        let compiled = rsigma_eval::correlation::compile_correlation(&c.sigma).ok()?;
        let field = match compiled.condition.field.as_deref() {
            Some([one]) => one.clone(),
            _ => return None,
        };
        let simple = compiled.correlation_type == CorrelationType::ValueCount
            && compiled.window_mode == rsigma_parser::WindowMode::Sliding
            && compiled.extended_expr.is_none()
            && !c
                .sigma
                .custom_attributes
                .contains_key("rsigma.max_group_entries");
        simple.then(|| Self {
            field,
            span: compiled.timespan_secs as i64,
            suppress: compiled.suppress_secs.map(|s| s as i64),
            reset: compiled.action
                == Some(rsigma_eval::correlation_engine::CorrelationAction::Reset),
            condition: compiled.condition,
            groups: HashMap::new(),
        })
    }

    /// Counts one matching event `e` (`ts`: its time in seconds); when the condition holds and
    /// the group is not suppressed, the distinct count and the evidence (per value, its first
    /// events within the window, oldest first).
    fn observe(
        &mut self,
        key: &GroupKey,
        value: Option<std::borrow::Cow<'_, str>>,
        e: &Event,
        ts: i64,
    ) -> Option<(f64, Vec<Event>)> {
        // On this per-event path a known group, value or kept list is updated in place: no
        // key or value is copied unless it is new.
        if !self.groups.contains_key(key) {
            self.groups.insert(key.clone(), DistinctGroup::default());
        }
        let group = self.groups.get_mut(key).expect("inserted above");
        let cutoff = ts - self.span;
        let oldest = cutoff.saturating_mul(SECOND);
        group.last_seen.retain(|_, t| *t >= cutoff);
        group.evidence.retain(|_, kept| {
            while kept.front().is_some_and(|x| x.time < oldest) {
                kept.pop_front();
            }
            !kept.is_empty()
        });
        if let Some(v) = value {
            match group.evidence.get_mut(v.as_ref()) {
                Some(kept) if kept.len() < PER_VALUE => kept.push_back(e.clone()),
                Some(_) => {}
                None => {
                    group
                        .evidence
                        .insert(v.clone().into_owned(), VecDeque::from([e.clone()]));
                }
            }
            match group.last_seen.get_mut(v.as_ref()) {
                Some(t) => *t = ts,
                None => {
                    group.last_seen.insert(v.into_owned(), ts);
                }
            }
        }
        let count = group.last_seen.len() as f64;
        if !self.condition.check(count) {
            return None;
        }
        if let (Some(s), Some(last)) = (self.suppress, group.last_alert)
            && ts - last < s
        {
            return None;
        }
        group.last_alert = Some(ts);
        let mut events: Vec<Event> = group.evidence.values().flatten().cloned().collect();
        events.sort_by_key(Event::stream_order);
        events.truncate(MAX_BUFFERED);
        if self.reset {
            group.last_seen.clear();
            group.evidence.clear();
        }
        Some((count, events))
    }

    /// Drops the groups with nothing left in the window at `ts` (seconds) and no suppression
    /// running.
    fn forget_before(&mut self, ts: i64) {
        let (span, suppress) = (self.span, self.suppress.unwrap_or(0));
        self.groups.retain(|_, g| {
            g.last_seen.values().any(|t| *t >= ts - span)
                || g.last_alert.is_some_and(|t| ts - t < suppress)
        });
    }
}

impl Correlator {
    /// The state for `correlations` over the engine's `rules` (references already resolved).
    pub fn new(rules: &[Rule], correlations: &[Correlation]) -> Self {
        Self::with_fast_paths(rules, correlations, true)
    }

    /// [`Correlator::new`], with `value_count` evaluated by rsigma when `fast` is false (the
    /// reference the fast path is tested against).
    fn with_fast_paths(rules: &[Rule], correlations: &[Correlation], fast: bool) -> Self {
        let mut engine = CorrelationEngine::new(CorrelationConfig {
            timestamp_fallback: TimestampFallback::Skip,
            ..CorrelationConfig::default()
        });
        let mut refs: HashMap<usize, Vec<(usize, String)>> = HashMap::new();
        for (ci, c) in correlations.iter().enumerate() {
            for reference in &c.rules {
                if let Some((ri, _)) = resolve(rules, reference) {
                    refs.entry(ri).or_default().push((ci, reference.clone()));
                }
            }
        }
        let mut added: Vec<usize> = refs.keys().copied().collect();
        added.sort_unstable();
        for ri in added {
            // Registers the rule's id and name for the references; linted rules always add.
            let _ = engine.add_rule(&rules[ri].sigma);
        }
        let distinct: Vec<Option<DistinctCount>> = correlations
            .iter()
            .map(|c| DistinctCount::for_correlation(c).filter(|_| fast))
            .collect();
        for (c, fast) in correlations.iter().zip(&distinct) {
            if fast.is_none() {
                let _ = engine.add_correlation(&c.sigma);
            }
        }
        Self {
            engine,
            refs,
            buffers: correlations.iter().map(|_| HashMap::new()).collect(),
            distinct,
            ordered_starts: correlations
                .iter()
                .map(|c| (c.kind == "temporal_ordered").then(HashMap::new))
                .collect(),
            results: Vec::new(),
        }
    }

    /// Drops the evidence groups with no event within their correlation's timespan before
    /// `now`, so memory stays bounded by the groups of one window.
    pub fn forget_before(&mut self, correlations: &[Correlation], now: Timestamp) {
        for (ci, groups) in self.buffers.iter_mut().enumerate() {
            let oldest = now - correlations[ci].timespan.nanos();
            groups.retain(|_, buf| buf.back().is_some_and(|e| e.time >= oldest));
            if let Some(starts) = self.ordered_starts[ci].as_mut() {
                starts.retain(|_, t| *t >= oldest);
            }
            if let Some(d) = self.distinct[ci].as_mut() {
                d.forget_before(now.div_euclid(SECOND));
            }
        }
    }

    /// True when some correlation counts rule `rule`.
    pub fn counts(&self, rule: usize) -> bool {
        self.refs.contains_key(&rule)
    }

    /// Feeds one event and the rules it matched; returns the correlations that fired.
    pub fn observe(
        &mut self,
        correlations: &[Correlation],
        rules: &[Rule],
        e: &Event,
        view: &EventView<'_>,
        hits: &[usize],
    ) -> Vec<Firing> {
        self.results.clear();
        let mut fired = Vec::new();
        let ts = e.time.div_euclid(SECOND);
        for &ri in hits {
            let Some(list) = self.refs.get(&ri) else {
                continue;
            };
            // Whether rsigma needs this match: not when every correlation counting it is
            // evaluated here, or is ordered and cannot start with it in this group.
            let mut to_rsigma = false;
            for (ci, reference) in list {
                let c = &correlations[*ci];
                let first = c.rules.first() == Some(reference);
                if !first
                    && self.ordered_starts[*ci]
                        .as_ref()
                        .is_some_and(|s| s.is_empty())
                {
                    // Ordered, and no group has started: nothing to look up.
                    continue;
                }
                let key = group_key(c, reference, view);
                let oldest = e.time - c.timespan.nanos();
                if let Some(starts) = self.ordered_starts[*ci].as_mut() {
                    if first {
                        starts.insert(key.clone(), e.time);
                    } else if starts.get(&key).is_none_or(|t| *t < oldest) {
                        // No first rule in the window: this match cannot be part of an
                        // ordered sequence, now or later (the first rule must come before it).
                        continue;
                    }
                }
                if let Some(d) = self.distinct[*ci].as_mut() {
                    let value = view.get(&d.field);
                    if let Some((count, events)) = d.observe(&key, value, e, ts) {
                        fired.push(Firing {
                            correlation: *ci,
                            group: group_label(&key),
                            value: count,
                            events,
                        });
                    }
                    continue;
                }
                to_rsigma = true;
                let buf = self.buffers[*ci].entry(key).or_default();
                while buf.front().is_some_and(|x| x.time < oldest) {
                    buf.pop_front();
                }
                if buf.len() == MAX_BUFFERED {
                    buf.pop_front();
                }
                buf.push_back(e.clone());
            }
            if !to_rsigma {
                continue;
            }
            self.results.push(EvaluationResult {
                header: RuleHeader {
                    rule_title: rules[ri].title.clone(),
                    rule_id: Some(rules[ri].id.clone()),
                    level: None,
                    tags: Vec::new(),
                    custom_attributes: Default::default(),
                    enrichments: None,
                },
                body: ResultBody::Detection(DetectionBody {
                    matched_selections: Vec::new(),
                    matched_fields: Vec::new(),
                    event: None,
                }),
            });
        }
        if self.results.is_empty() {
            return fired;
        }
        let detections = std::mem::take(&mut self.results);
        let out = self.engine.process_with_detections(view, detections, ts);
        for r in out {
            let ResultBody::Correlation(body) = &r.body else {
                continue;
            };
            let Some(ci) = correlations
                .iter()
                .position(|c| Some(&c.id) == r.header.rule_id.as_ref())
            else {
                continue;
            };
            let c = &correlations[ci];
            let oldest = e.time - c.timespan.nanos();
            let events: Vec<Event> = self.buffers[ci]
                .get(&body.group_key)
                .map(|b| b.iter().filter(|x| x.time >= oldest).cloned().collect())
                .unwrap_or_default();
            fired.push(Firing {
                correlation: ci,
                group: group_label(&body.group_key),
                value: body.aggregated_value,
                events,
            });
        }
        fired
    }
}

/// The group of an event for a correlation, as rsigma reports it (`(group-by name, value)`,
/// missing values left out).
fn group_key(c: &Correlation, reference: &str, view: &EventView<'_>) -> GroupKey {
    c.group_by
        .iter()
        .filter_map(|g| {
            view.get(c.field_for(g, reference))
                .map(|v| (g.clone(), v.into_owned()))
        })
        .collect()
}

/// A group as alerts show it: `field=value` joined by `, `.
fn group_label(key: &[(String, String)]) -> String {
    key.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// When a correlation alert's bucket starts.
pub(crate) fn bucket_of(t: Timestamp, bucket: Span) -> Timestamp {
    let b = bucket.nanos().max(1);
    t.div_euclid(b) * b
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{RuleSet, SigmaEngine};
    use rand::{Rng, SeedableRng};

    /// A detection rule and a `value_count` correlation over it, with `extra` lines.
    fn set(extra: &str) -> RuleSet {
        let mut set = RuleSet::default();
        set.add(
            "t.yml",
            &format!(
                "title: call\nid: call\nname: call\nlevel: low\nlogsource: {{product: aws, service: cloudtrail}}\ndetection:\n  s:\n    eventSource: s3.amazonaws.com\n  condition: s\n---\ntitle: countries\nid: countries\nlevel: high\ncorrelation:\n  type: value_count\n  rules: [call]\n  group-by: [userIdentity.accessKeyId]\n  timespan: 1h\n  condition: {{gte: 3, field: awsRegion}}\n{extra}"
            ),
        );
        assert!(set.errors.is_empty(), "{:?}", set.errors);
        set
    }

    type Fired = (i64, String, u64, Vec<String>);

    /// The firings (time, group, value, evidence event ids) of a random stream through a
    /// correlator.
    fn firings(engine: &SigmaEngine, fast: bool, seed: u64) -> Vec<Fired> {
        let mut c = Correlator::with_fast_paths(engine.rules(), engine.correlations(), fast);
        assert_eq!(c.distinct[0].is_some(), fast);
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut t = 1_700_000_000 * SECOND;
        let mut out = Vec::new();
        for i in 0..4000 {
            t += rng.random_range(0..240) * SECOND;
            let mut e = Event {
                time: t,
                event_source: "s3.amazonaws.com".into(),
                aws_region: ["us-east-1", "eu-west-1", "ap-south-1", "sa-east-1"]
                    [rng.random_range(0..4)]
                .into(),
                event_id: format!("e{i}").into(),
                ..Event::default()
            };
            e.user.access_key_id = ["AKIAA", "AKIAB", "AKIAC"][rng.random_range(0..3)].into();
            // Events of one second are told apart by their place in the input, as in a hunt.
            e.provenance.record = i;
            let view = engine.view(&e);
            for f in c.observe(engine.correlations(), engine.rules(), &e, &view, &[0]) {
                let ids = f.events.iter().map(|x| x.event_id.to_string()).collect();
                out.push((t, f.group, f.value as u64, ids));
            }
            if i % 500 == 0 {
                c.forget_before(engine.correlations(), t);
            }
        }
        out
    }

    #[test]
    fn the_value_count_fast_path_gives_rsigmas_verdicts() {
        for extra in ["", "rsigma.suppress: 30m\n", "rsigma.action: reset\n"] {
            let engine = SigmaEngine::from_set(set(extra));
            for seed in 0..4 {
                let fast = firings(&engine, true, seed);
                let slow = firings(&engine, false, seed);
                assert!(!slow.is_empty(), "{extra:?}: the stream fires");
                // The same firings: times, groups and counts.
                let verdicts = |v: &[Fired]| -> Vec<(i64, String, u64)> {
                    v.iter().map(|(t, g, n, _)| (*t, g.clone(), *n)).collect()
                };
                assert_eq!(verdicts(&fast), verdicts(&slow), "{extra:?} seed {seed}");
                // The evidence: window events, each counted value's first ones (here fewer than
                // the cap, so all of them), in time order, ending with the firing event.
                // After a reset the evidence starts again (the shared buffer of rsigma's path
                // keeps what came before it).
                for ((t, _, n, fast_ids), (_, _, _, slow_ids)) in fast.iter().zip(&slow) {
                    if extra.contains("reset") {
                        assert!(slow_ids.ends_with(fast_ids), "{extra:?} seed {seed} at {t}");
                    } else {
                        assert_eq!(fast_ids, slow_ids, "{extra:?} seed {seed} at {t}");
                    }
                    assert!(fast_ids.len() as u64 >= *n);
                }
            }
        }
    }
}
