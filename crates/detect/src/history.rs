//! "Seen in the last N days" memory for the new-terms rules (D2, D3), bounded by the window.

use std::collections::HashMap;
use std::hash::Hash;

use trailhound_model::{HOUR, Timestamp};

/// When each value was last seen, forgetting values not seen for longer than the window.
///
/// Expiry runs at most once per hour of stream time, so memory is bounded by the number of
/// distinct values seen within the window plus one hour.
#[derive(Debug, Clone)]
pub struct History<K> {
    window: i64,
    last_seen: HashMap<K, Timestamp>,
    next_expiry: Timestamp,
}

impl<K: Hash + Eq + Clone> History<K> {
    /// An empty history with the given window (nanoseconds).
    pub fn new(window: i64) -> Self {
        Self {
            window,
            last_seen: HashMap::new(),
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
}
