//! D2 — long-term access key first seen from a source IP, in SQL.
//!
//! The successful `AKIA` calls from an IP address; a call is new when the previous call of the
//! same (key, source IP) pair in stream order (`lag`) is more than the history window older, or
//! absent. The warm-up is applied after the query ([`super::new_terms`]).

use datafusion::error::Result;
use datafusion::prelude::SessionContext;
use trailhound_detect::Alert;
use trailhound_detect::rules::first_seen_source_ip::{self as embedded, Params};

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
               PARTITION BY access_key_id, source_ip ORDER BY {EVENT_ORDER}) AS previous
           FROM cloudtrail
           WHERE starts_with(access_key_id, 'AKIA') AND error_code = '' AND is_ip(source_ip))
         WHERE previous IS NULL OR t - previous > {window}
         ORDER BY t",
        window = p.history_window.nanos(),
    )
}

/// Runs the rule.
pub async fn alerts(ctx: &SessionContext, value: Option<&serde_json::Value>) -> Result<Vec<Alert>> {
    let p: Params = params(embedded::RULE.id, value)?;
    new_terms(ctx, &p, &sql(&p), embedded::alert).await
}
