//! The compiled rule set and the per-event view it matches against.
//!
//! Each rule is compiled once by rsigma into a matcher tree over field names. rsigma's engine
//! keeps an inverted index of the literal values rules require (most rules require an exact
//! `eventSource` and/or `eventName`), so an event only reaches the rules whose required values it
//! has. Fields are read through [`EventView`]: a fixed-schema field of the event
//! ([`Event::fixed_field`]) or an extra field the decoder captured for the rules
//! ([`Event::extra_field`]); an absent field is missing (null), as Sigma's null semantics want
//! (`errorCode: null` matches a successful call, which has no `errorCode`).

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use rsigma_eval::event::{Event as SigmaEvent, EventValue};
use trailhound_decode::extra_value;
use trailhound_model::{Event, ExtraFields, FIXED_FIELDS};

use crate::load::Rule;

/// Fields the prefilter indexes, in the order they are tried for a rule's witness.
const INDEX_FIELDS: [&str; 4] = ["eventName", "eventSource", "userIdentity.type", "userAgent"];

/// Rules compiled for matching.
pub struct SigmaEngine {
    rules: Vec<Rule>,
    compiled: Vec<rsigma_eval::CompiledRule>,
    /// Per indexed field: lower-cased required value → rules that need it. (aHash: SipHash was a
    /// tenth of the matching time.)
    index: [HashMap<String, Vec<usize>, ahash::RandomState>; INDEX_FIELDS.len()],
    /// Per indexed field: lower-cased required prefixes, with the rules that need them.
    prefixes: [Vec<(String, Vec<usize>)>; INDEX_FIELDS.len()],
    /// Per indexed field: the longest exact value, and the longest exact value or prefix (how
    /// many bytes of the event's value the look-ups compare; 0 when the field is not indexed).
    compared: [(usize, usize); INDEX_FIELDS.len()],
    /// Rules with no witness on an indexed field: evaluated for every event.
    always: Vec<usize>,
    extra: Arc<ExtraFields>,
    /// Extra paths and their ids, sorted by path.
    extra_ids: Vec<(String, u16)>,
    /// The correlation rules over the rules.
    correlations: Vec<crate::correlation::Correlation>,
    /// Per rule: it raises no alert of its own (a new-terms rule, or a rule only counted by
    /// correlations).
    silent: Vec<bool>,
}

impl std::fmt::Debug for SigmaEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigmaEngine")
            .field("rules", &self.rules.len())
            .field("extra_fields", &self.extra.paths())
            .finish()
    }
}

impl SigmaEngine {
    /// Compiles `rules` (valid rules from [`crate::RuleSet`]; ids unique).
    pub fn new(rules: Vec<Rule>) -> Self {
        Self::with_correlations(rules, Vec::new())
    }

    /// Compiles a whole rule set: its detection and new-terms rules and its correlations.
    pub fn from_set(set: crate::RuleSet) -> Self {
        Self::with_correlations(set.rules, set.correlations)
    }

    /// Compiles `rules` and the `correlations` over them (references resolved by
    /// [`crate::RuleSet::check_references`]).
    pub fn with_correlations(
        rules: Vec<Rule>,
        correlations: Vec<crate::correlation::Correlation>,
    ) -> Self {
        // The rules were compiled once already when they were linted, so this cannot fail.
        let compiled: Vec<rsigma_eval::CompiledRule> = rules
            .iter()
            .map(|r| rsigma_eval::compile_rule(&r.sigma).expect("linted rules compile"))
            .collect();
        let mut index: [HashMap<String, Vec<usize>, ahash::RandomState>; INDEX_FIELDS.len()] =
            Default::default();
        let mut prefixes: [Vec<(String, Vec<usize>)>; INDEX_FIELDS.len()] = Default::default();
        let mut always = Vec::new();
        for (i, r) in rules.iter().enumerate() {
            let Some(w) = witness(&r.sigma) else {
                always.push(i);
                continue;
            };
            for (field, how, value) in w {
                let list = match how {
                    Witness::Exact => index[field].entry(value).or_default(),
                    Witness::Prefix => {
                        let at = match prefixes[field].iter().position(|(p, _)| *p == value) {
                            Some(at) => at,
                            None => {
                                prefixes[field].push((value, Vec::new()));
                                prefixes[field].len() - 1
                            }
                        };
                        &mut prefixes[field][at].1
                    }
                };
                if list.last() != Some(&i) {
                    list.push(i);
                }
            }
        }
        let extra = ExtraFields::new(
            rules
                .iter()
                .flat_map(|r| r.fields.iter().cloned())
                .chain(correlations.iter().flat_map(|c| c.fields())),
        );
        let silent = rules
            .iter()
            .map(|r| {
                let counted_by: Vec<&crate::correlation::Correlation> =
                    correlations.iter().filter(|c| c.counts(r)).collect();
                r.new_terms.is_some()
                    || (!counted_by.is_empty() && counted_by.iter().all(|c| !c.generate))
            })
            .collect();
        let mut extra_ids: Vec<(String, u16)> = extra
            .paths()
            .iter()
            .enumerate()
            .map(|(i, p)| (p.clone(), i as u16))
            .collect();
        extra_ids.sort();
        Self {
            rules,
            compiled,
            compared: std::array::from_fn(|f| {
                let exact = index[f].keys().map(String::len).max().unwrap_or(0);
                let prefix = prefixes[f].iter().map(|(p, _)| p.len()).max().unwrap_or(0);
                (exact, exact.max(prefix))
            }),
            index,
            prefixes,
            always,
            extra: Arc::new(extra),
            extra_ids,
            correlations,
            silent,
        }
    }

    /// The correlation rules.
    pub fn correlations(&self) -> &[crate::correlation::Correlation] {
        &self.correlations
    }

    /// True when rule `i` raises no alert of its own (a new-terms rule, or a rule only counted
    /// by correlations that do not `generate`).
    pub fn silent(&self, i: usize) -> bool {
        self.silent[i]
    }

    /// How many rules have no witness on an indexed field and are evaluated for every event.
    pub fn unindexed_rules(&self) -> usize {
        self.always.len()
    }

    /// The rules, indexed as [`matches`](Self::matches) reports them.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The record paths beyond the fixed schema that the rules read: pass them to the reader
    /// (`ReadOptions::extra`) so that the decoder captures them.
    pub fn extra_fields(&self) -> Arc<ExtraFields> {
        Arc::clone(&self.extra)
    }

    /// Appends the indexes of the rules that match `event` (base condition, before any
    /// aggregation) to `out`, in rule order.
    ///
    /// The prefilter: a rule whose condition requires one of some exact values (or prefixes) of
    /// `eventName`, `eventSource`, `userIdentity.type` or `userAgent` (its *witness*, derived
    /// from the condition at load time) is evaluated only when the event has one of them; the
    /// others always are. Hand-written rather than rsigma's `Engine`, whose candidate index probes every
    /// field any rule mentions and lower-cases each value, several times the cost of these four
    /// look-ups on CloudTrail events (measured with `cargo bench -p trailhound-sigma`).
    pub fn matches(&self, event: &Event, out: &mut Vec<usize>) {
        let start = out.len();
        let view = self.view(event);
        // The candidates are gathered in `out` itself, past `start`, and then filtered in place:
        // no allocation per event.
        out.extend_from_slice(&self.always);
        let values = index_values(event);
        let mut buf = [0u8; 128];
        let mut long = Vec::new();
        for (f, v) in values.into_iter().enumerate() {
            let (longest_exact, compared) = self.compared[f];
            if compared == 0 || v.is_empty() {
                continue;
            }
            // Only the bytes a key can cover are lower-cased: a long user agent costs no more
            // than the longest key.
            let n = v.len().min(compared);
            let lower: &mut [u8] = if n <= buf.len() {
                &mut buf[..n]
            } else {
                long.resize(n, 0);
                &mut long[..]
            };
            lower.copy_from_slice(&v.as_bytes()[..n]);
            lower.make_ascii_lowercase();
            if v.len() <= longest_exact
                && let Ok(key) = std::str::from_utf8(lower)
                && let Some(rules) = self.index[f].get(key)
            {
                out.extend_from_slice(rules);
            }
            for (prefix, rules) in &self.prefixes[f] {
                if lower.starts_with(prefix.as_bytes()) {
                    out.extend_from_slice(rules);
                }
            }
        }
        let candidates = &mut out[start..];
        candidates.sort_unstable();
        let mut kept = start;
        let mut previous = None;
        let mut selections = Vec::new();
        for k in start..out.len() {
            let i = out[k];
            if previous == Some(i) {
                continue;
            }
            previous = Some(i);
            if self.rule_matches(i, &view, &mut selections) {
                out[kept] = i;
                kept += 1;
            }
        }
        out.truncate(kept);
        debug_assert!(out[start..].is_sorted());
    }

    /// True when rule `i`'s condition holds for the event. rsigma's `evaluate_rule` gives the
    /// same verdict but builds a full result on a match (a second pass collecting the matched
    /// field values, clones of the rule's title, id and tags), which cost about a microsecond per
    /// match here, and the broad rules match most events; only the verdict is used.
    fn rule_matches(&self, i: usize, view: &EventView<'_>, selections: &mut Vec<String>) -> bool {
        let rule = &self.compiled[i];
        rule.conditions.iter().any(|c| {
            selections.clear();
            rsigma_eval::compiler::eval_condition(c, &rule.detections, view, selections)
        })
    }

    /// The view of `event` that rules read.
    pub fn view<'a>(&'a self, event: &'a Event) -> EventView<'a> {
        EventView {
            event,
            extra: &self.extra,
            extra_ids: &self.extra_ids,
        }
    }
}

/// The event's values of [`INDEX_FIELDS`], in that order, read directly rather than by name
/// ([`Event::fixed_field`]) on this per-event path; a test checks that the two agree.
fn index_values(e: &Event) -> [&str; INDEX_FIELDS.len()] {
    [&e.event_name, &e.event_source, &e.user.kind, &e.user_agent]
}

/// An event as the rules see it: only the fixed-schema fields and the captured extra fields.
pub struct EventView<'a> {
    event: &'a Event,
    extra: &'a ExtraFields,
    extra_ids: &'a [(String, u16)],
}

impl<'a> EventView<'a> {
    /// The value of a record path, `None` when the record did not have it (or it was `null`).
    /// A path below another captured path is resolved from that path's text
    /// ([`trailhound_decode::extra_value`]), hence the `Cow`.
    pub fn get(&self, path: &str) -> Option<Cow<'a, str>> {
        match self.event.fixed_field(path) {
            Some(v) => v.map(Cow::Borrowed),
            None => {
                let id = self.extra_id(path)?;
                extra_value(self.event, self.extra, id)
            }
        }
    }

    fn extra_id(&self, path: &str) -> Option<u16> {
        self.extra_ids
            .binary_search_by(|(p, _)| p.as_str().cmp(path))
            .ok()
            .map(|i| self.extra_ids[i].1)
    }

    /// The fixed-schema values and the captured extra values (derived paths are part of their
    /// source's text).
    fn values(&self) -> impl Iterator<Item = &'a str> + '_ {
        FIXED_FIELDS
            .iter()
            .filter_map(|p| self.event.fixed_field(p).flatten())
            .chain(self.event.extra.iter().map(|(_, v)| v.as_str()))
    }
}

impl SigmaEvent for EventView<'_> {
    fn get_field(&self, path: &str) -> Option<EventValue<'_>> {
        self.get(path).map(EventValue::Str)
    }

    /// Keywords search the fields the view holds (the fixed schema and the captured fields), not
    /// the whole record, which is not kept.
    fn any_string_value(&self, pred: &dyn Fn(&str) -> bool) -> bool {
        self.values().any(pred)
    }

    fn all_string_values(&self) -> Vec<Cow<'_, str>> {
        self.values().map(Cow::Borrowed).collect()
    }

    fn to_json(&self) -> serde_json::Value {
        let mut m = serde_json::Map::new();
        for p in FIXED_FIELDS {
            if let Some(v) = self.event.fixed_field(p).flatten() {
                m.insert(p.to_owned(), v.into());
            }
        }
        for (path, id) in self.extra_ids.iter() {
            if let Some(v) = extra_value(self.event, self.extra, *id) {
                m.insert(path.clone(), v.into_owned().into());
            }
        }
        serde_json::Value::Object(m)
    }
}

/// How a witness value constrains a field (both sides lower-cased).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Witness {
    /// The field equals the value.
    Exact,
    /// The field starts with the value (`|startswith`).
    Prefix,
}

/// One alternative of a witness: an indexed field (by position in [`INDEX_FIELDS`]), how it is
/// constrained, and the lower-cased value.
type Alternative = (usize, Witness, String);

/// A necessary condition of a rule: it can match only if the event's value of an indexed field
/// equals (or starts with), case-insensitively, one of the listed values. `None` when no such
/// condition can be read off the rule.
fn witness(rule: &rsigma_parser::SigmaRule) -> Option<Vec<Alternative>> {
    let d = &rule.detection;
    let mut all = Vec::new();
    for c in &d.conditions {
        all.extend(condition_witness(c, &d.named)?);
    }
    Some(all)
}

/// The narrowest of several necessary conditions: exact values before prefixes (a prefix such
/// as `Get` admits far more events than a list of names), then by field (an API name admits
/// fewer events than its whole service: measured on generated data, preferring `eventName`
/// over a one-value `eventSource` cut the rules evaluated per event from 5.1 to about 2), then
/// the fewest alternatives.
fn narrowest(ws: impl IntoIterator<Item = Vec<Alternative>>) -> Option<Vec<Alternative>> {
    // Position in INDEX_FIELDS → rank, most selective first.
    const RANK: [u8; INDEX_FIELDS.len()] = [0, 2, 3, 1];
    ws.into_iter().min_by_key(|w| {
        (
            w.iter().any(|(_, how, _)| *how == Witness::Prefix),
            w.iter().map(|(f, _, _)| RANK[*f]).max(),
            w.len(),
        )
    })
}

fn condition_witness(
    c: &rsigma_parser::ConditionExpr,
    named: &HashMap<String, rsigma_parser::Detection>,
) -> Option<Vec<Alternative>> {
    use rsigma_parser::{ConditionExpr, Quantifier, SelectorPattern};
    let union = |ws: Option<Vec<Vec<Alternative>>>| ws.map(|w| w.concat());
    match c {
        ConditionExpr::Identifier(n) => detection_witness(named.get(n)?),
        // Any conjunct's witness is necessary; the narrowest is the best filter.
        ConditionExpr::And(cs) => narrowest(cs.iter().filter_map(|c| condition_witness(c, named))),
        // A disjunction needs a witness on every branch.
        ConditionExpr::Or(cs) => union(cs.iter().map(|c| condition_witness(c, named)).collect()),
        ConditionExpr::Not(_) => None,
        ConditionExpr::Selector {
            quantifier,
            pattern,
        } => {
            let names: Vec<&String> = named
                .keys()
                .filter(|n| match pattern {
                    SelectorPattern::Them => !n.starts_with('_'),
                    SelectorPattern::Pattern(p) => rsigma_parser::detection_name_matches(p, n),
                })
                .collect();
            let each = names.iter().map(|n| detection_witness(&named[n.as_str()]));
            match quantifier {
                Quantifier::All => narrowest(each.flatten()),
                Quantifier::Any | Quantifier::Count(1..) => union(each.collect()),
                Quantifier::Count(0) => None,
            }
        }
    }
}

fn detection_witness(d: &rsigma_parser::Detection) -> Option<Vec<Alternative>> {
    use rsigma_parser::{Detection, Modifier, SigmaValue};
    match d {
        Detection::AllOf(items) => narrowest(items.iter().filter_map(|it| {
            let how = match it.field.modifiers.as_slice() {
                [] => Witness::Exact,
                [Modifier::StartsWith] => Witness::Prefix,
                _ => return None,
            };
            let f = INDEX_FIELDS
                .iter()
                .position(|f| it.field.name.as_deref() == Some(*f))?;
            let values: Option<Vec<Alternative>> = it
                .values
                .iter()
                .map(|v| match v {
                    SigmaValue::String(s) => s.as_plain().map(|p| (f, how, p.to_ascii_lowercase())),
                    _ => None,
                })
                .collect();
            values.filter(|v| !v.is_empty())
        })),
        Detection::AnyOf(ds) => ds
            .iter()
            .map(detection_witness)
            .collect::<Option<Vec<_>>>()
            .map(|w| w.concat()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RuleSet;

    fn engine(detection: &str) -> SigmaEngine {
        let text = format!(
            "title: t\nid: r1\nlogsource:\n  product: aws\n  service: cloudtrail\nlevel: low\ndetection:\n{detection}"
        );
        let mut set = RuleSet::default();
        set.add("t.yml", &text);
        assert!(set.errors.is_empty(), "{:?}", set.errors);
        SigmaEngine::new(set.rules)
    }

    fn event(fixed: &[(&str, &str)], extra: &[(&str, &str)], e: &SigmaEngine) -> Event {
        let mut ev = Event::default();
        for (k, v) in fixed {
            match *k {
                "eventSource" => ev.event_source = (*v).into(),
                "eventName" => ev.event_name = (*v).into(),
                "errorCode" => ev.error_code = (*v).into(),
                "userIdentity.arn" => ev.user.arn = (*v).into(),
                _ => panic!("{k}"),
            }
        }
        for (k, v) in extra {
            ev.extra
                .push((e.extra_fields().id(k).unwrap(), (*v).into()));
        }
        ev.extra.sort_by_key(|(i, _)| *i);
        ev
    }

    #[test]
    fn witnesses_select_candidates() {
        let set = RuleSet::load(true, &[]);
        let e = SigmaEngine::new(set.rules);
        // Only rules that read no exact value or prefix of eventName, eventSource, identity type
        // or user agent (here: one regex) run for every event.
        assert_eq!(e.unindexed_rules(), 1);
        let one = engine(
            "  s:\n    eventName: CreateUser\n  f:\n    userAgent: x\n  condition: s and not f\n",
        );
        assert_eq!(one.unindexed_rules(), 0);
        let two = engine(
            "  a:\n    eventName|startswith:\n      - Create\n      - put\n  condition: a\n",
        );
        assert_eq!(two.unindexed_rules(), 0);
        for (name, hit) in [
            ("CreateUser", true),
            ("createuser", true),
            ("PutObject", true),
            ("DeleteUser", false),
            ("Creat", false),
            ("", false),
        ] {
            assert_eq!(
                hits(&two, &event(&[("eventName", name)], &[], &two)),
                hit,
                "{name}"
            );
        }
        let regex = engine("  a:\n    eventName|re: '^Create'\n  condition: a\n");
        assert_eq!(regex.unindexed_rules(), 1);
        let cased = engine("  a:\n    eventName|startswith|cased: Create\n  condition: a\n");
        assert_eq!(cased.unindexed_rules(), 1);
        let three =
            engine("  a_1:\n    eventName: X\n  a_2:\n    eventSource: y\n  condition: 1 of a_*\n");
        assert_eq!(three.unindexed_rules(), 0);
        assert!(hits(&three, &event(&[("eventSource", "Y")], &[], &three)));
        assert!(!hits(&three, &event(&[("eventSource", "z")], &[], &three)));
    }

    #[test]
    fn index_values_are_the_index_fields() {
        let mut e = Event {
            event_name: "N".into(),
            event_source: "S".into(),
            user_agent: "A".into(),
            ..Event::default()
        };
        e.user.kind = "T".into();
        for (f, v) in index_values(&e).into_iter().enumerate() {
            assert_eq!(
                e.fixed_field(INDEX_FIELDS[f]),
                Some(Some(v)),
                "{}",
                INDEX_FIELDS[f]
            );
        }
    }

    fn hits(e: &SigmaEngine, ev: &Event) -> bool {
        let mut out = Vec::new();
        e.matches(ev, &mut out);
        !out.is_empty()
    }

    #[test]
    fn a_missing_field_is_null() {
        let e = engine("  s:\n    eventName: X\n    errorCode: null\n  condition: s\n");
        assert!(hits(&e, &event(&[("eventName", "X")], &[], &e)));
        assert!(!hits(
            &e,
            &event(
                &[("eventName", "X"), ("errorCode", "AccessDenied")],
                &[],
                &e
            )
        ));
        assert!(e.extra_fields().is_empty());
    }

    #[test]
    fn extra_fields_are_read_by_id() {
        let e = engine(
            "  s:\n    requestParameters.attribute: userData\n    additionalEventData.MFAUsed: 'NO'\n  condition: s\n",
        );
        assert_eq!(
            e.extra_fields().paths(),
            ["additionalEventData.MFAUsed", "requestParameters.attribute"]
        );
        let yes = event(
            &[],
            &[
                ("requestParameters.attribute", "userData"),
                ("additionalEventData.MFAUsed", "No"),
            ],
            &e,
        );
        assert!(hits(&e, &yes));
        let no = event(&[], &[("requestParameters.attribute", "userData")], &e);
        assert!(!hits(&e, &no));
        assert_eq!(
            e.view(&yes).get("additionalEventData.MFAUsed").as_deref(),
            Some("No")
        );
        assert_eq!(e.view(&yes).get("nowhere"), None);
        assert_eq!(
            e.view(&yes).to_json()["requestParameters.attribute"],
            "userData"
        );
    }
}
