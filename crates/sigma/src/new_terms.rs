//! New-terms rules: Elastic's rule type that alerts when a combination of field values is seen
//! for the first time within a history window, written as a small YAML file that reads like a
//! Sigma rule (Sigma itself has no such type):
//!
//! ```yaml
//! title: First GetCallerIdentity of a key from an address
//! id: 5f0c2d1e-…
//! level: medium
//! tags: [attack.discovery, attack.t1087.004]
//! logsource: {product: aws, service: cloudtrail}
//! detection:                 # which events are considered (any Sigma detection)
//!   selection: {eventName: GetCallerIdentity}
//!   condition: selection
//! new_terms:
//!   fields: [userIdentity.accessKeyId, sourceIPAddress]   # one to three event field paths
//!   history_window: 30d      # a combination not seen for this long is new again
//!   warm_up: 7d              # optional (default: the history window): the first days of the
//!                            # data only build the history, as nothing before them is known;
//!                            # 0s: every first sighting alerts
//! remediation: Confirm with the owner of {userIdentity.arn} …   # optional, {field} filled in
//! ```
//!
//! Semantics (Elastic's, re-implemented): an event that passes the detection and has every
//! field is *new* when its combination of values was not seen in the history window before it;
//! the first sighting after the warm-up raises an alert. Events missing a field are not
//! considered. One alert per rule, combination and UTC bucket: the events of the combination in
//! the bucket after its first sighting are its evidence.

use std::collections::HashMap;

use trailhound_detect::Span;
use trailhound_detect::history::WarmUp;
use trailhound_model::Timestamp;

use crate::engine::EventView;
use crate::load::field_error;

/// The most fields a combination may have (as Elastic allows).
pub const MAX_FIELDS: usize = 3;

/// The new-terms part of a rule (its detection is an ordinary Sigma [`Rule`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTerms {
    /// The fields whose combination of values is tracked.
    pub fields: Vec<String>,
    /// How long a combination stays known.
    pub history_window: Span,
    /// How long the data only builds history.
    pub warm_up: Span,
    /// The remediation text, `{field}` placeholders filled from the first event.
    pub remediation: Option<String>,
}

/// Splits a new-terms document into its Sigma part (returned as text) and its [`NewTerms`].
/// Errors name the line and the field.
pub(crate) fn split(doc: &str, first_line: usize) -> Result<(String, NewTerms), String> {
    let mut value: yaml_serde::Value =
        yaml_serde::from_str(doc).map_err(|e| format!("YAML: {e}"))?;
    let err = |field: &str, msg: &str| field_error(doc, first_line, field, msg);
    let map = value
        .as_mapping_mut()
        .ok_or("not a rule: the document is not a YAML mapping")?;
    let nt = map
        .remove("new_terms")
        .ok_or_else(|| err("new_terms", "missing"))?;
    let remediation = match map.remove("remediation") {
        None => None,
        Some(yaml_serde::Value::String(s)) => Some(s),
        Some(_) => return Err(err("remediation", "must be text")),
    };
    if !nt.is_mapping() {
        return Err(err(
            "new_terms",
            "must be a mapping with fields and history_window",
        ));
    }
    for key in nt.as_mapping().into_iter().flat_map(|m| m.keys()) {
        let k = key.as_str().unwrap_or("");
        if !["fields", "history_window", "warm_up"].contains(&k) {
            return Err(err(
                k,
                &format!("unknown key {k:?} in new_terms (fields, history_window, warm_up)"),
            ));
        }
    }
    let fields: Vec<String> = match nt.get("fields") {
        Some(yaml_serde::Value::Sequence(s)) => s
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| err("fields", "must be a list of field paths"))?,
        Some(yaml_serde::Value::String(s)) => vec![s.clone()],
        _ => return Err(err("fields", "missing: one to three event field paths")),
    };
    if fields.is_empty() || fields.len() > MAX_FIELDS {
        return Err(err(
            "fields",
            &format!("{} fields: one to {MAX_FIELDS} are allowed", fields.len()),
        ));
    }
    let span = |key: &str, required: bool| -> Result<Option<Span>, String> {
        match nt.get(key) {
            None if required => Err(err(key, "missing, e.g. 30d")),
            None => Ok(None),
            Some(v) => {
                let text = v
                    .as_str()
                    .ok_or_else(|| err(key, "must be a duration such as 30d"))?;
                let s: Span = text
                    .parse()
                    .map_err(|e| err(key, &format!("{text:?}: {e}")))?;
                // A warm-up of zero is allowed: every first sighting then alerts.
                if s.nanos() < 0 || (s.nanos() == 0 && required) {
                    return Err(err(key, "must be positive"));
                }
                Ok(Some(s))
            }
        }
    };
    let history_window = span("history_window", true)?.expect("required");
    let warm_up = span("warm_up", false)?.unwrap_or(history_window);
    let sigma = yaml_serde::to_string(&value).map_err(|e| format!("YAML: {e}"))?;
    Ok((
        sigma,
        NewTerms {
            fields,
            history_window,
            warm_up,
            remediation,
        },
    ))
}

/// What one new-terms rule remembers: when each combination was last seen, and its warm-up
/// (at the start of the data and again after a gap longer than the history window, as for D2
/// and D3: [`WarmUp`]).
#[derive(Debug)]
pub(crate) struct History {
    last_seen: HashMap<Vec<String>, Timestamp, ahash::RandomState>,
    warm_up: WarmUp,
    warming: bool,
}

impl History {
    /// An empty history for `nt`.
    pub fn new(nt: &NewTerms) -> Self {
        Self {
            last_seen: HashMap::default(),
            warm_up: WarmUp::new(nt.warm_up.nanos(), nt.history_window.nanos()),
            warming: true,
        }
    }

    /// Sees the time of every event of the stream, before [`History::observe`].
    pub fn tick(&mut self, time: Timestamp) {
        self.warming = self.warm_up.observe(time);
    }

    /// Forgets the combinations last seen more than the history window before `now`: they are
    /// new again anyway, so memory stays bounded by the combinations of one window.
    pub fn forget_before(&mut self, nt: &NewTerms, now: Timestamp) {
        let window = nt.history_window.nanos();
        self.last_seen.retain(|_, t| now - *t <= window);
    }

    /// The combinations remembered.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.last_seen.len()
    }

    /// Records an event that passed the rule's detection: its combination of values (`None`
    /// when a field is missing), and whether it is new and past the warm-up.
    pub fn observe(
        &mut self,
        nt: &NewTerms,
        view: &EventView<'_>,
        time: Timestamp,
    ) -> Option<(Vec<String>, bool)> {
        let values: Vec<String> = nt
            .fields
            .iter()
            .map(|f| view.get(f).map(|v| v.into_owned()))
            .collect::<Option<_>>()?;
        // A known combination is updated in place: no copy of its values per event.
        let seen = match self.last_seen.get_mut(&values) {
            Some(t) => Some(std::mem::replace(t, time)),
            None => {
                self.last_seen.insert(values.clone(), time);
                None
            }
        };
        let new = seen.is_none_or(|t| time - t > nt.history_window.nanos());
        Some((values, new && !self.warming))
    }
}

/// `template` with each `{field}` replaced by the event's value (left as is when absent).
pub(crate) fn fill(template: &str, view: &EventView<'_>) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) => {
                let field = &after[..close];
                match view.get(field) {
                    Some(v) => out.push_str(&v),
                    None => {
                        out.push('{');
                        out.push_str(field);
                        out.push('}');
                    }
                }
                rest = &after[close + 1..];
            }
            None => {
                out.push_str(&rest[open..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use trailhound_model::{DAY, Event};

    #[test]
    fn forgetting_old_combinations_changes_no_verdict() {
        let nt = NewTerms {
            fields: vec!["sourceIPAddress".into()],
            history_window: Span::days(2),
            warm_up: Span::days(1),
            remediation: None,
        };
        let engine = crate::SigmaEngine::new(Vec::new());
        let verdicts = |forget: bool| {
            let mut h = History::new(&nt);
            let mut out = Vec::new();
            for (day, ip) in [(0, "a"), (1, "b"), (2, "a"), (5, "b"), (6, "c"), (9, "a")] {
                let e = Event {
                    time: day * DAY,
                    source_ip: ip.into(),
                    ..Event::default()
                };
                if forget {
                    h.forget_before(&nt, e.time);
                }
                h.tick(e.time);
                out.push(h.observe(&nt, &engine.view(&e), e.time).unwrap().1);
            }
            (out, h.len())
        };
        let (kept, all) = verdicts(false);
        let (forgot, few) = verdicts(true);
        assert_eq!(kept, forgot);
        // Day 0 is the warm-up; days 2 to 5 and 6 to 9 are gaps longer than the window, so days
        // 5 and 9 warm up again.
        assert_eq!(kept, [false, true, false, false, true, false]);
        assert_eq!((all, few), (3, 1));
    }
}
