//! The detections, one module each, and the list that registers them.

use crate::RuleInfo;

pub mod failed_api_spike;
pub mod first_seen_source_ip;
pub mod unauthorized_api_call;
pub mod user_agent_new_ip;

/// Every rule, in the order their alerts are reported. Adding a rule is one line here.
pub const ALL: &[RuleInfo] = &[
    failed_api_spike::RULE,
    first_seen_source_ip::RULE,
    user_agent_new_ip::RULE,
    unauthorized_api_call::RULE,
];
