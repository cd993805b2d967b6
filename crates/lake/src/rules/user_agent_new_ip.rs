//! D3 — IAM user agent from a new IP address, in SQL.
//!
//! `AKIA` events from an IP address (successful or not) whose previous event with the same
//! (key, source IP) and whose previous event with the same (key, user agent), in stream order,
//! are both more than the history window older, or absent. The warm-up is applied after the
//! query ([`super::new_terms`]).

use datafusion::error::Result;
use datafusion::prelude::SessionContext;
use trailhound_detect::Alert;
use trailhound_detect::rules::user_agent_new_ip::{self as embedded, Params};

use super::{EVENT_COLUMNS, EVENT_ORDER, LakeRule, new_terms, params};

/// The rule's registration.
pub const RULE: LakeRule = LakeRule {
    id: embedded::RULE.id,
    run: |ctx, p| Box::pin(alerts(ctx, p)),
};

/// The plan: candidate events, sorted by time.
pub fn sql(p: &Params) -> String {
    format!(
        "SELECT * FROM (
           SELECT {EVENT_COLUMNS},
             lag(CAST(event_time AS BIGINT)) OVER (
               PARTITION BY access_key_id, source_ip ORDER BY {EVENT_ORDER}) AS previous_ip,
             lag(CAST(event_time AS BIGINT)) OVER (
               PARTITION BY access_key_id, user_agent ORDER BY {EVENT_ORDER}) AS previous_agent
           FROM cloudtrail
           WHERE starts_with(access_key_id, 'AKIA') AND is_ip(source_ip))
         WHERE (previous_ip IS NULL OR t - previous_ip > {window})
           AND (previous_agent IS NULL OR t - previous_agent > {window})
         ORDER BY t",
        window = p.history_window.nanos(),
    )
}

/// Runs the rule.
pub async fn alerts(ctx: &SessionContext, value: Option<&serde_json::Value>) -> Result<Vec<Alert>> {
    let p: Params = params(embedded::RULE.id, value)?;
    new_terms(ctx, &p, &sql(&p), embedded::alert).await
}
