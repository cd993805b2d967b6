//! "Seen in the last N days" memory for the new-terms rules (D2, D3), bounded by the window.

use std::collections::HashMap;
use std::hash::Hash;

use serde::Deserialize;
use trailhound_model::{HOUR, Timestamp};

use crate::Span;

/// Parameters of the new-terms rules (D2, D3): `[rules.<id>]` in the config.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NewTermsParams {
    /// How long a value stays known after it was last seen.
    pub history_window: Span,
    /// How long the start of the stream (and the restart after a gap longer than the history
    /// window) only builds history; default: `history_window`.
    pub warm_up: Option<Span>,
}

impl Default for NewTermsParams {
    fn default() -> Self {
        Self {
            history_window: Span::days(10),
            warm_up: None,
        }
    }
}

impl NewTermsParams {
    /// The warm-up this configures.
    pub fn warm_up(&self) -> WarmUp {
        WarmUp::new(
            self.warm_up.unwrap_or(self.history_window).nanos(),
            self.history_window.nanos(),
        )
    }
}

/// When each value was last seen, forgetting values not seen for longer than the window.
///
/// Expiry runs at most once per hour of stream time, so memory is bounded by the number of
/// distinct values seen within the window plus one hour.
#[derive(Debug, Clone)]
pub struct History<K> {
    window: i64,
    /// aHash: SipHash was most of a look-up's cost; the keys come from the logs, so the
    /// hasher keeps a random seed.
    last_seen: HashMap<K, Timestamp, ahash::RandomState>,
    next_expiry: Timestamp,
}

impl<K: Hash + Eq + Clone> History<K> {
    /// An empty history with the given window (nanoseconds).
    pub fn new(window: i64) -> Self {
        Self {
            window,
            last_seen: HashMap::default(),
            next_expiry: Timestamp::MIN,
        }
    }

    /// True when `key` was seen within the window before (or at) `now`: `now - last <= window`.
    pub fn known(&self, key: &K, now: Timestamp) -> bool {
        self.last_seen
            .get(key)
            .is_some_and(|&t| now - t <= self.window)
    }

    /// Records `key` as seen at `now` and expires old values.
    pub fn see(&mut self, key: K, now: Timestamp) {
        let slot = self.last_seen.entry(key).or_insert(now);
        *slot = (*slot).max(now);
        if now >= self.next_expiry {
            let window = self.window;
            self.last_seen.retain(|_, &mut t| now - t <= window);
            self.next_expiry = now.saturating_add(HOUR);
        }
    }

    /// Number of values held.
    pub fn len(&self) -> usize {
        self.last_seen.len()
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.last_seen.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use trailhound_model::DAY;

    #[test]
    fn window_is_inclusive_and_old_values_expire() {
        let mut h = History::new(10 * DAY);
        h.see("a", 0);
        assert!(h.known(&"a", 10 * DAY));
        assert!(!h.known(&"a", 10 * DAY + 1));
        h.see("b", 20 * DAY);
        assert_eq!(h.len(), 1, "a expired");
        assert!(!h.known(&"a", 20 * DAY));
    }

    #[test]
    fn warm_up_restarts_after_a_gap_longer_than_the_window() {
        let mut w = WarmUp::new(10 * DAY, 10 * DAY);
        assert!(w.observe(0));
        assert!(w.observe(10 * DAY - 1));
        assert!(!w.observe(10 * DAY));
        // A gap of exactly the window keeps the warm-up over; one longer restarts it.
        assert!(!w.observe(20 * DAY));
        assert!(w.observe(30 * DAY + 1));
        assert!(!w.observe(40 * DAY + 1));
        assert_eq!(
            w.periods(),
            [(0, 10 * DAY - 1), (30 * DAY + 1, 30 * DAY + 1)]
        );
        let b = w.blind_periods(
            &crate::rules::first_seen_source_ip::RULE,
            &NewTermsParams::default(),
        );
        assert_eq!(b.len(), 2);
        assert!(b[0].reason.starts_with("warm-up: the first 10d"));
        assert!(
            b[1].reason
                .contains("gap in the data longer than the history window (10d)")
        );
        assert_eq!(
            b[1].describe(),
            "Long-term access key first seen from a source IP raised no alert from 1970-01-31T00:00:00.000000001Z to 1970-01-31T00:00:00.000000001Z: warm-up again after a gap in the data longer than the history window (10d): every address had been forgotten. Option: [rules.aws-akia-first-seen-source-ip] warm_up (now 10d): a shorter warm-up alerts sooner, on addresses that may only look new because the data starts there"
        );
    }
}

/// The warm-up of a new-terms rule: events in the first `length` of the stream only build
/// history, and so do those in the first `length` after a gap in the stream longer than the
/// history window (every value has expired by then, so the rule is as blind as at the start).
/// The second case matters when one hunt reads data sets that lie months apart.
#[derive(Debug, Clone)]
pub struct WarmUp {
    length: i64,
    window: i64,
    start: Option<Timestamp>,
    last: Option<Timestamp>,
    /// Every warm-up so far: its start and the last event time seen in it.
    periods: Vec<(Timestamp, Timestamp)>,
}

impl WarmUp {
    /// A warm-up of `length` for a history window of `window` (nanoseconds).
    pub fn new(length: i64, window: i64) -> Self {
        Self {
            length,
            window,
            start: None,
            last: None,
            periods: Vec::new(),
        }
    }

    /// The warm-ups of the stream so far: `(start, last event time within it)`, in order. The
    /// first begins at the first event; each later one after a gap longer than the window.
    pub fn periods(&self) -> &[(Timestamp, Timestamp)] {
        &self.periods
    }

    /// The rule's blind periods ([`crate::BlindPeriod`]) for `rule` with these parameters.
    pub fn blind_periods(
        &self,
        rule: &crate::RuleInfo,
        params: &NewTermsParams,
    ) -> Vec<crate::BlindPeriod> {
        self.periods
            .iter()
            .enumerate()
            .map(|(i, &(from, until))| crate::BlindPeriod {
                rule_id: rule.id.to_owned(),
                rule_name: rule.name.to_owned(),
                from,
                until,
                reason: if i == 0 {
                    format!(
                        "warm-up: the first {} of the data only build the history of addresses",
                        Span::from_nanos(self.length)
                    )
                } else {
                    format!(
                        "warm-up again after a gap in the data longer than the history window ({}): every address had been forgotten",
                        params.history_window
                    )
                },
                option: format!(
                    "[rules.{}] warm_up (now {}): a shorter warm-up alerts sooner, on addresses that may only look new because the data starts there",
                    rule.id,
                    Span::from_nanos(self.length)
                ),
            })
            .collect()
    }

    /// Sees the time of every event of the stream (not only those the rule looks at); true
    /// while the stream is warming up at `t`.
    pub fn observe(&mut self, t: Timestamp) -> bool {
        if self.last.is_none_or(|l| t - l > self.window) {
            self.start = Some(t);
            self.periods.push((t, t));
        }
        self.last = Some(self.last.map_or(t, |l| l.max(t)));
        let warming = t < self.start.unwrap_or(t).saturating_add(self.length);
        if warming && let Some(p) = self.periods.last_mut() {
            p.1 = p.1.max(t);
        }
        warming
    }
}
