//! Sigma rules for CloudTrail as a further alert source.
//!
//! * [`load`]: reads Sigma rules (YAML) from the shipped set (the SigmaHQ rules whose logsource is
//!   `product: aws, service: cloudtrail`, embedded at build time from `rules/sigma/aws/cloudtrail/`)
//!   and from user folders, and lints them: a broken rule is reported as `file: reason` and left
//!   out, never loaded half-way.
//! * [`engine`]: compiles the rules once with [`rsigma_eval`] and matches them against decoded
//!   [`Event`](trailhound_model::Event)s through field accessors (a fixed-schema field or a
//!   captured extra field), with rsigma's candidate index as the prefilter, so that most events
//!   are rejected after a look-up of `eventSource`/`eventName`. No JSON object is built per event.
//! * [`detector`]: the [`Detector`](trailhound_detect::Detector) that turns matches into alerts,
//!   one per rule, subject (access key, else principal ARN) and UTC hour, with severity from the
//!   rule's `level`, so that the correlation rule (D5) counts medium and higher Sigma alerts as
//!   siblings.
//!
//! The matching itself (modifiers, wildcards, `1 of`/`all of`, `not`, null semantics) is
//! rsigma's. What Trailhound adds: the legacy aggregation condition (`selection | count(field)
//! by field > n` with `timeframe`) that two shipped rules use and rsigma (Sigma 2, correlation
//! rules instead) does not parse, see [`aggregation`].

#![warn(missing_docs)]

pub mod aggregation;
pub mod correlation;
pub mod detector;
pub mod engine;
pub mod load;
pub mod new_terms;

pub use detector::{DetectorOptions, SigmaDetector};
pub use engine::SigmaEngine;
pub use load::{LintError, Rule, RuleSet};

use serde::{Deserialize, Serialize};
use trailhound_detect::Severity;

/// The prefix of the alert rule id of a Sigma rule: `sigma-<rule id>`.
pub const RULE_ID_PREFIX: &str = trailhound_detect::SIGMA_RULE_ID_PREFIX;

/// A Sigma rule's `level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// `informational`: alerts as low (21).
    Informational,
    /// `low` (21).
    Low,
    /// `medium` (47): counts as a sibling for D5.
    Medium,
    /// `high` (73).
    High,
    /// `critical` (99).
    Critical,
}

impl Level {
    /// Every level, lowest first.
    pub const ALL: [Level; 5] = [
        Level::Informational,
        Level::Low,
        Level::Medium,
        Level::High,
        Level::Critical,
    ];

    /// The Sigma name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Level::Informational => "informational",
            Level::Low => "low",
            Level::Medium => "medium",
            Level::High => "high",
            Level::Critical => "critical",
        }
    }

    /// The alert severity: informational and low → low, then medium, high, critical.
    pub const fn severity(self) -> Severity {
        match self {
            Level::Informational | Level::Low => Severity::Low,
            Level::Medium => Severity::Medium,
            Level::High => Severity::High,
            Level::Critical => Severity::Critical,
        }
    }

    /// Parses a level name (case-insensitive).
    pub fn parse(s: &str) -> Option<Level> {
        Level::ALL
            .into_iter()
            .find(|l| l.as_str().eq_ignore_ascii_case(s.trim()))
    }
}

impl From<rsigma_parser::Level> for Level {
    fn from(l: rsigma_parser::Level) -> Self {
        match l {
            rsigma_parser::Level::Informational => Level::Informational,
            rsigma_parser::Level::Low => Level::Low,
            rsigma_parser::Level::Medium => Level::Medium,
            rsigma_parser::Level::High => Level::High,
            rsigma_parser::Level::Critical => Level::Critical,
        }
    }
}

impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_map_to_severities_and_scores() {
        let scores: Vec<u8> = Level::ALL
            .iter()
            .map(|l| l.severity().risk_score())
            .collect();
        assert_eq!(scores, [21, 21, 47, 73, 99]);
        assert_eq!(Level::parse("HIGH"), Some(Level::High));
        assert_eq!(Level::parse("urgent"), None);
        assert!(Level::Medium > Level::Low);
    }
}
