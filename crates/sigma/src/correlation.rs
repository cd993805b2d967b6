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
    results: Vec<EvaluationResult>,
}

impl Correlator {
    /// The state for `correlations` over the engine's `rules` (references already resolved).
    pub fn new(rules: &[Rule], correlations: &[Correlation]) -> Self {
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
        for c in correlations {
            let _ = engine.add_correlation(&c.sigma);
        }
        Self {
            engine,
            refs,
            buffers: correlations.iter().map(|_| HashMap::new()).collect(),
            results: Vec::new(),
        }
    }

    /// Drops the evidence groups with no event within their correlation's timespan before
    /// `now`, so memory stays bounded by the groups of one window.
    pub fn forget_before(&mut self, correlations: &[Correlation], now: Timestamp) {
        for (ci, groups) in self.buffers.iter_mut().enumerate() {
            let oldest = now - correlations[ci].timespan.nanos();
            groups.retain(|_, buf| buf.back().is_some_and(|e| e.time >= oldest));
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
        for &ri in hits {
            let Some(list) = self.refs.get(&ri) else {
                continue;
            };
            for (ci, reference) in list {
                let c = &correlations[*ci];
                let key = group_key(c, reference, view);
                let buf = self.buffers[*ci].entry(key).or_default();
                let oldest = e.time - c.timespan.nanos();
                while buf.front().is_some_and(|x| x.time < oldest) {
                    buf.pop_front();
                }
                if buf.len() == MAX_BUFFERED {
                    buf.pop_front();
                }
                buf.push_back(e.clone());
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
            return Vec::new();
        }
        let detections = std::mem::take(&mut self.results);
        let out = self
            .engine
            .process_with_detections(view, detections, e.time.div_euclid(SECOND));
        let mut fired = Vec::new();
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
                group: body
                    .group_key
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(", "),
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

/// When a correlation alert's bucket starts.
pub(crate) fn bucket_of(t: Timestamp, bucket: Span) -> Timestamp {
    let b = bucket.nanos().max(1);
    t.div_euclid(b) * b
}
