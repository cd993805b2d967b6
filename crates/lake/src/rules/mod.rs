//! The detections D1–D4 as DataFusion SQL over the table `cloudtrail` (see
//! [`schema`](crate::schema::schema)), one module each, registered in [`ALL`].
//!
//! Each module runs its plan, reads the few result rows and builds the alerts with the
//! embedded rule's own alert function from `trailhound_detect`, so both engines word, score and
//! identify alerts the same way. Events are ordered by [`EVENT_ORDER`], the embedded stream's
//! order, wherever order matters (the first event of a group, ties of `eventTime`).

use std::collections::BTreeMap;

use datafusion::error::Result;
use datafusion::prelude::SessionContext;
use futures::future::BoxFuture;
use trailhound_detect::Alert;
use trailhound_model::{Country, Event, HOUR, Str, UserIdentity};

use crate::rows::Rows;
pub use crate::schema::EVENT_ORDER;

pub mod failed_api_spike;
pub mod first_seen_source_ip;
pub mod unauthorized_api_call;
pub mod user_agent_new_ip;

/// Runs a rule's plans with its parameters (`None`: defaults) and returns its alerts.
pub type RunFn = for<'a> fn(
    &'a SessionContext,
    Option<&'a serde_json::Value>,
) -> BoxFuture<'a, Result<Vec<Alert>>>;

/// A rule's SQL implementation: its id (the embedded rule's) and how to run it with the
/// parameters of `[rules.<id>]` (`None`: defaults).
pub struct LakeRule {
    /// The rule id, as in `trailhound_detect::rules()`.
    pub id: &'static str,
    /// Runs the rule's plans and returns its alerts.
    pub run: RunFn,
}

/// Every rule with an SQL implementation, in the embedded registration order.
pub const ALL: &[LakeRule] = &[
    failed_api_spike::RULE,
    first_seen_source_ip::RULE,
    user_agent_new_ip::RULE,
    unauthorized_api_call::RULE,
];

/// Runs every rule of [`ALL`] with its parameters from `params` (rule id → JSON object).
pub async fn run_all(
    ctx: &SessionContext,
    params: &BTreeMap<String, serde_json::Value>,
) -> Result<Vec<Alert>> {
    let mut alerts = Vec::new();
    for rule in ALL {
        alerts.extend((rule.run)(ctx, params.get(rule.id)).await?);
    }
    Ok(alerts)
}

/// SQL for the start of the hour of a time in nanoseconds (`t` an integer expression), floor
/// division as `bin()`.
pub fn hour_of(t: &str) -> String {
    format!("({t} - ((({t} % {HOUR}) + {HOUR}) % {HOUR}))")
}

/// Parameters of a rule from their JSON, as the embedded rule parses them.
pub fn params<P: serde::de::DeserializeOwned + Default>(
    rule: &'static str,
    value: Option<&serde_json::Value>,
) -> Result<P> {
    trailhound_detect::parse_params(rule, value)
        .map_err(|e| crate::format::plan_error(e.to_string()))
}

/// The events of a result with the columns `t`, `event_source`, `event_name`, `source_ip`,
/// `user_agent`, `error_code`, `event_id`, `user_arn`, `access_key_id` and `country`: what the
/// embedded rules read of an event to build an alert.
pub fn events(rows: &Rows) -> Result<Vec<Event>> {
    let t = rows.int("t")?;
    let [source, name, ip, agent, code, id, arn, key] = [
        "event_source",
        "event_name",
        "source_ip",
        "user_agent",
        "error_code",
        "event_id",
        "user_arn",
        "access_key_id",
    ]
    .map(|c| rows.text(c));
    let (source, name, ip, agent, code, id, arn, key) =
        (source?, name?, ip?, agent?, code?, id?, arn?, key?);
    let country = rows.text_opt("country")?;
    Ok((0..rows.len())
        .map(|i| Event {
            time: t[i],
            event_source: Str::from(&source[i]),
            event_name: Str::from(&name[i]),
            source_ip: Str::from(&ip[i]),
            user_agent: Str::from(&agent[i]),
            error_code: Str::from(&code[i]),
            event_id: Str::from(&id[i]),
            user: UserIdentity {
                arn: Str::from(&arn[i]),
                access_key_id: Str::from(&key[i]),
                ..UserIdentity::default()
            },
            country: country[i].as_deref().and_then(Country::new),
            ..Event::default()
        })
        .collect())
}

/// The columns [`events`] reads, as an SQL select list over `cloudtrail`.
pub const EVENT_COLUMNS: &str = "CAST(event_time AS BIGINT) AS t, event_source, event_name, \
    source_ip, user_agent, error_code, event_id, user_arn, access_key_id, \
    country(source_ip) AS country";

/// Runs a new-terms rule (D2, D3): its plan of candidate events, the warm-up, and the embedded
/// rule's `alert` for each event left.
pub async fn new_terms(
    ctx: &SessionContext,
    params: &trailhound_detect::history::NewTermsParams,
    sql: &str,
    alert: fn(&trailhound_detect::history::NewTermsParams, &Event) -> Alert,
) -> Result<Vec<Alert>> {
    let rows = Rows::collect(ctx.sql(sql).await?).await?;
    let new = after_warm_up(ctx, params, events(&rows)?).await?;
    Ok(new.iter().map(|e| alert(params, e)).collect())
}

/// The new-terms rules' warm-up (D2, D3): replays `trailhound_detect::history::WarmUp` over the
/// stream's hourly first and last event times merged with the candidates' times, and keeps the
/// candidates (sorted by time) not in a warm-up. Exact for history windows of an hour or more: a
/// gap longer than the window can then only lie between two hours that hold events.
pub async fn after_warm_up(
    ctx: &SessionContext,
    params: &trailhound_detect::history::NewTermsParams,
    candidates: Vec<Event>,
) -> Result<Vec<Event>> {
    if params.history_window.nanos() < HOUR {
        return Err(crate::format::plan_error(
            "the DataFusion engine needs a history_window of at least 1h",
        ));
    }
    let t = "CAST(event_time AS BIGINT)";
    let hours = Rows::collect(
        ctx.sql(&format!(
            "SELECT min({t}) AS first, max({t}) AS last FROM cloudtrail GROUP BY {}",
            hour_of(t)
        ))
        .await?,
    )
    .await?;
    let mut times: Vec<(i64, Option<usize>)> = Vec::new();
    for (first, last) in hours.int("first")?.into_iter().zip(hours.int("last")?) {
        times.push((first, None));
        times.push((last, None));
    }
    times.extend(
        candidates
            .iter()
            .enumerate()
            .map(|(i, e)| (e.time, Some(i))),
    );
    times.sort_unstable();
    let mut warm_up = params.warm_up();
    let mut keep = vec![false; candidates.len()];
    for (time, candidate) in times {
        let warming = warm_up.observe(time);
        if let Some(i) = candidate {
            keep[i] = !warming;
        }
    }
    Ok(candidates
        .into_iter()
        .zip(keep)
        .filter_map(|(e, k)| k.then_some(e))
        .collect())
}
