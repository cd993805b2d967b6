//! D4 — unauthorized API call with an IAM access key, in SQL.
//!
//! `AKIA` events with an unauthorized error code, grouped per key per UTC hour: the group's
//! evidence (first user ARN in stream order, times, distinct values, event ids in stream order)
//! and, in a second plan, its count per error code.

use std::collections::{BTreeMap, HashMap};

use datafusion::error::Result;
use datafusion::prelude::SessionContext;
use trailhound_detect::Alert;
use trailhound_detect::evidence::Evidence;
use trailhound_detect::rules::unauthorized_api_call::{self as embedded, Params};

use super::{EVENT_ORDER, LakeRule, hour_of, params};
use crate::rows::{Rows, quote_list};

/// The rule's registration.
pub const RULE: LakeRule = LakeRule {
    id: embedded::RULE.id,
    run: |ctx, p| Box::pin(alerts(ctx, p)),
};

fn matching(p: &Params) -> String {
    format!(
        "SELECT *, CAST(event_time AS BIGINT) AS t, {hour} AS hour FROM cloudtrail
         WHERE starts_with(access_key_id, 'AKIA') AND error_code IN ({codes})",
        hour = hour_of("CAST(event_time AS BIGINT)"),
        codes = quote_list(&p.error_codes),
    )
}

/// The plan of the groups and their evidence.
pub fn sql(p: &Params) -> String {
    format!(
        "SELECT access_key_id, hour,
           first_value(user_arn ORDER BY {EVENT_ORDER}) AS user_arn,
           count(*) AS n, min(t) AS first_seen, max(t) AS last_seen,
           array_agg(DISTINCT source_ip) AS source_ips,
           array_agg(DISTINCT country(source_ip)) AS countries,
           array_agg(DISTINCT user_agent) AS user_agents,
           array_agg(DISTINCT event_name) AS event_names,
           array_agg(event_id ORDER BY {EVENT_ORDER}) AS event_ids
         FROM ({}) GROUP BY access_key_id, hour",
        matching(p)
    )
}

/// Runs the rule.
pub async fn alerts(ctx: &SessionContext, value: Option<&serde_json::Value>) -> Result<Vec<Alert>> {
    let p: Params = params(embedded::RULE.id, value)?;
    if p.error_codes.is_empty() {
        return Ok(Vec::new());
    }
    let codes = Rows::collect(
        ctx.sql(&format!(
            "SELECT access_key_id, hour, error_code, count(*) AS n FROM ({})
             GROUP BY access_key_id, hour, error_code",
            matching(&p)
        ))
        .await?,
    )
    .await?;
    let mut by_group: HashMap<(String, i64), BTreeMap<String, u64>> = HashMap::new();
    let (keys, hours, names, counts) = (
        codes.text("access_key_id")?,
        codes.int("hour")?,
        codes.text("error_code")?,
        codes.int("n")?,
    );
    for i in 0..codes.len() {
        by_group
            .entry((keys[i].clone(), hours[i]))
            .or_default()
            .insert(names[i].clone(), counts[i] as u64);
    }
    let g = Rows::collect(ctx.sql(&sql(&p)).await?).await?;
    let (keys, hours, arns) = (
        g.text("access_key_id")?,
        g.int("hour")?,
        g.text("user_arn")?,
    );
    let (n, first, last) = (g.int("n")?, g.int("first_seen")?, g.int("last_seen")?);
    let [ips, countries, agents, event_names, ids] = [
        "source_ips",
        "countries",
        "user_agents",
        "event_names",
        "event_ids",
    ]
    .map(|c| g.text_lists(c));
    let (ips, countries, agents, event_names, ids) =
        (ips?, countries?, agents?, event_names?, ids?);
    let mut out = Vec::with_capacity(g.len());
    for i in 0..g.len() {
        let evidence = Evidence::from_parts(
            first[i],
            last[i],
            ips[i].clone(),
            countries[i].clone(),
            agents[i].clone(),
            event_names[i].clone(),
            ids[i].clone(),
            n[i] as u64,
        );
        let error_codes = by_group
            .remove(&(keys[i].clone(), hours[i]))
            .unwrap_or_default();
        out.push(embedded::alert(
            hours[i],
            &keys[i],
            &arns[i],
            evidence,
            error_codes,
        ));
    }
    Ok(out)
}
