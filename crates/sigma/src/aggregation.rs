//! The legacy Sigma aggregation condition: `selection | count(field) by group > n`, with a
//! `timeframe`.
//!
//! Sigma 2 replaced it by correlation rules, and rsigma's condition parser refuses it, but two
//! shipped SigmaHQ rules still use it (`aws_cloudtrail_discovery_api_calls`,
//! `aws_secretsmanager_mass_secret_retrieval`). The loader cuts the aggregation off the condition
//! (rsigma compiles the part before `|`) and this module evaluates it. Hand-written: a count over a
//! sliding window is a few lines, and rsigma's correlation engine would need the rule rewritten
//! into a second, correlation document.
//!
//! Semantics: events that match the base condition are grouped by the `by` field (a missing
//! field is a group of its own) and kept for `timeframe` (default 1 h, the alert bucket). When an
//! event arrives and its group's window (the events within `timeframe` before it, inclusive)
//! satisfies the comparison — `count()` counts events, `count(field)` counts distinct non-missing
//! values of the field — every event of the window that was not yet reported is reported.

use std::collections::{HashMap, VecDeque};

use trailhound_model::{Event, HOUR, SECOND, Timestamp};

/// A parsed aggregation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aggregation {
    /// `count(field)`: distinct values of this field; `None` for `count()` (events).
    pub count_field: Option<String>,
    /// `by field`; `None` for a single group.
    pub group_by: Option<String>,
    /// The comparison.
    pub op: Op,
    /// The threshold.
    pub threshold: u64,
    /// The window, in nanoseconds.
    pub timeframe: Timestamp,
}

/// The comparison of an aggregation. Only lower bounds make sense for a stream (an upper bound
/// would fire on every first event).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl Aggregation {
    /// Parses `count(...) [by field] op n` (the text after `|`) and a `timeframe` such as `5m`
    /// (`None`: 1 h).
    pub fn parse(text: &str, timeframe: Option<&str>) -> Result<Self, String> {
        let t = text.trim();
        let rest = t
            .strip_prefix("count")
            .ok_or_else(|| format!("aggregation {t:?}: only count() is supported"))?
            .trim_start();
        let rest = rest
            .strip_prefix('(')
            .ok_or_else(|| format!("aggregation {t:?}: expected count(...)"))?;
        let (inner, rest) = rest
            .split_once(')')
            .ok_or_else(|| format!("aggregation {t:?}: unclosed count("))?;
        let count_field = Some(inner.trim().to_owned()).filter(|f| !f.is_empty());
        let mut rest = rest.trim_start();
        let mut group_by = None;
        if let Some(r) = rest.strip_prefix("by ") {
            let r = r.trim_start();
            let end = r.find(|c: char| c.is_whitespace()).unwrap_or(r.len());
            group_by = Some(r[..end].to_owned());
            rest = r[end..].trim_start();
        }
        let (op, n) = if let Some(n) = rest.strip_prefix(">=") {
            (Op::Ge, n)
        } else if let Some(n) = rest.strip_prefix('>') {
            (Op::Gt, n)
        } else {
            return Err(format!(
                "aggregation {t:?}: only > and >= comparisons are supported"
            ));
        };
        let threshold = n
            .trim()
            .parse()
            .map_err(|_| format!("aggregation {t:?}: {:?} is not a count", n.trim()))?;
        let timeframe = match timeframe {
            Some(tf) => parse_timeframe(tf)?,
            None => HOUR,
        };
        Ok(Self {
            count_field,
            group_by,
            op,
            threshold,
            timeframe,
        })
    }

    /// The field paths the aggregation reads.
    pub fn fields(&self) -> impl Iterator<Item = &str> {
        self.count_field.iter().chain(&self.group_by).map(|s| &**s)
    }

    fn holds(&self, n: u64) -> bool {
        match self.op {
            Op::Gt => n > self.threshold,
            Op::Ge => n >= self.threshold,
        }
    }
}

/// A Sigma timeframe: a number and `s`, `m`, `h` or `d`.
pub fn parse_timeframe(s: &str) -> Result<Timestamp, String> {
    let s = s.trim();
    let bad = || format!("timeframe {s:?}: expected a number and s, m, h or d (e.g. 5m)");
    let unit = s.chars().last().ok_or_else(bad)?;
    let n: i64 = s[..s.len() - unit.len_utf8()].parse().map_err(|_| bad())?;
    let unit = match unit {
        's' => SECOND,
        'm' => 60 * SECOND,
        'h' => HOUR,
        'd' => 24 * HOUR,
        _ => return Err(bad()),
    };
    if n <= 0 {
        return Err(bad());
    }
    n.checked_mul(unit).ok_or_else(bad)
}

struct Entry {
    time: Timestamp,
    value: Option<String>,
    /// The event, until it is reported.
    event: Option<Event>,
}

#[derive(Default)]
struct Group {
    window: VecDeque<Entry>,
    /// How many entries of the window carry each counted value (for `count(field)`), kept as
    /// entries come and go so that a push costs O(1) amortised.
    values: HashMap<String, u64>,
}

/// The running state of one aggregation.
#[derive(Default)]
pub struct Window {
    groups: HashMap<Option<String>, Group>,
}

impl Window {
    /// Adds a matching event (with its group and counted values as read by the caller) and
    /// returns the events to report now, oldest first.
    pub fn push(
        &mut self,
        agg: &Aggregation,
        group: Option<&str>,
        value: Option<&str>,
        event: &Event,
    ) -> Vec<Event> {
        let g = self.groups.entry(group.map(str::to_owned)).or_default();
        let start = event.time.saturating_sub(agg.timeframe);
        while g.window.front().is_some_and(|e| e.time < start) {
            let old = g.window.pop_front().expect("front exists");
            if let Some(v) = old.value
                && let Some(n) = g.values.get_mut(&v)
            {
                *n -= 1;
                if *n == 0 {
                    g.values.remove(&v);
                }
            }
        }
        if agg.count_field.is_some()
            && let Some(v) = value
        {
            *g.values.entry(v.to_owned()).or_default() += 1;
        }
        g.window.push_back(Entry {
            time: event.time,
            value: value.map(str::to_owned),
            event: Some(event.clone()),
        });
        let n = match &agg.count_field {
            None => g.window.len() as u64,
            Some(_) => g.values.len() as u64,
        };
        if !agg.holds(n) {
            return Vec::new();
        }
        // Report every event of the window not reported yet (they sit at its end).
        let mut out = Vec::new();
        for e in g.window.iter_mut().rev() {
            match e.event.take() {
                Some(ev) => out.push(ev),
                None => break,
            }
        }
        out.reverse();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_shipped_forms() {
        let a =
            Aggregation::parse(" count(eventName) by userIdentity.arn > 6", Some("5m")).unwrap();
        assert_eq!(a.count_field.as_deref(), Some("eventName"));
        assert_eq!(a.group_by.as_deref(), Some("userIdentity.arn"));
        assert_eq!((a.op, a.threshold, a.timeframe), (Op::Gt, 6, 300 * SECOND));
        let b = Aggregation::parse("count() by userIdentity.arn > 20", None).unwrap();
        assert_eq!((b.count_field, b.timeframe), (None, HOUR));
        let c = Aggregation::parse("count() >= 2", None).unwrap();
        assert_eq!((c.group_by, c.op), (None, Op::Ge));
        for bad in ["sum(x) > 1", "count() < 3", "count() > x", "count(x"] {
            assert!(Aggregation::parse(bad, None).is_err(), "{bad}");
        }
        assert!(parse_timeframe("5w").is_err());
        assert!(parse_timeframe("0m").is_err());
        assert_eq!(parse_timeframe("2d").unwrap(), 48 * HOUR);
    }

    fn ev(t: i64, id: &str) -> Event {
        Event {
            time: t * SECOND,
            event_id: id.into(),
            ..Event::default()
        }
    }

    #[test]
    fn distinct_count_in_a_sliding_window_reports_each_event_once() {
        let agg = Aggregation::parse("count(eventName) by arn > 2", Some("60s")).unwrap();
        let mut w = Window::default();
        let ids = |v: Vec<Event>| v.iter().map(|e| e.event_id.to_string()).collect::<Vec<_>>();
        assert!(w.push(&agg, Some("a"), Some("A"), &ev(0, "1")).is_empty());
        assert!(w.push(&agg, Some("a"), Some("A"), &ev(1, "2")).is_empty());
        assert!(w.push(&agg, Some("a"), Some("B"), &ev(2, "3")).is_empty());
        // Another group does not count.
        assert!(w.push(&agg, Some("b"), Some("C"), &ev(3, "x")).is_empty());
        assert_eq!(
            ids(w.push(&agg, Some("a"), Some("C"), &ev(4, "4"))),
            ["1", "2", "3", "4"]
        );
        // Still above the threshold: only the new event.
        assert_eq!(ids(w.push(&agg, Some("a"), Some("D"), &ev(5, "5"))), ["5"]);
        // 61 s later the window holds one name only.
        assert!(w.push(&agg, Some("a"), Some("A"), &ev(66, "6")).is_empty());
    }
}
