//! D1 — spike in failed API calls by a long-term key (the Sentinel query), in SQL.
//!
//! As the embedded hunt, the rule is replayed at every whole hour `E`; only the last bin
//! `T = E − 1h` of each run can alert, so every (series, hour with an unauthorized call) is one
//! candidate run, evaluated at once:
//!
//! 1. `view`: critical API names, non-empty ARN, `AKIA` key; `class` S(uccess), U(nauthorized)
//!    or O(ther error); `country(source_ip)`.
//! 2. `buckets`: per series and hour, counts and distinct API names by class.
//! 3. `series`: make-series over `[E − lookback, E)` for each candidate (a cross join with the bin
//!    numbers and a left join with the buckets, zeros where empty), then `series_stats`,
//!    `series_outliers` and the z-score, and the seed's row filters.
//! 4. The multi-country gate over the hourly distinct countries in `[S, E]` with
//!    `sliding_window_dcount_max`.
//! 5. The join with the evidence buckets `[T − 1h, E]` and the bucket filters.
//!
//! Steps 1–3, 4 and 5 are three plans ([`scored_sql`], [`gate_sql`], [`evidence_sql`]); each
//! later one takes the few candidates left by the one before as a `VALUES` list. One plan with
//! every step inlines the view several times, and planning it took longer than running it.
//!
//! The rows become alerts through the embedded rule's `alerts_from_rows`. Only the seed's hourly
//! bin is supported here (other bins make the hourly runs fall between bins), and only the IEEE
//! outlier score for a zero IQR.

use std::collections::HashMap;

use datafusion::error::Result;
use datafusion::prelude::SessionContext;
use trailhound_detect::Alert;
use trailhound_detect::rules::failed_api_spike::{
    self as embedded, D1Row, EVIDENCE_CAP, Evidence, Params,
};
use trailhound_detect::series::IqrZero;
use trailhound_model::HOUR;

use super::{LakeRule, hour_of};
use crate::format::plan_error;
use crate::rows::{Rows, distinct_sorted, quote, quote_list};

/// The rule's registration.
pub const RULE: LakeRule = LakeRule {
    id: embedded::RULE_ID,
    run: |ctx, p| Box::pin(alerts(ctx, p)),
};

/// The parameters, refused when this engine cannot run them exactly.
fn checked(value: Option<&serde_json::Value>) -> Result<Params> {
    let p: Params = match value {
        None => Params::default(),
        Some(v) => serde_json::from_value(v.clone())
            .map_err(|e| plan_error(format!("parameters of {}: {e}", embedded::RULE_ID)))?,
    };
    p.validate().map_err(|e| plan_error(e.to_string()))?;
    if p.bin.nanos() != HOUR {
        return Err(plan_error(
            "the DataFusion engine runs D1 with the seed's 1h bin only",
        ));
    }
    if p.iqr_zero != IqrZero::Ieee {
        return Err(plan_error(
            "the DataFusion engine runs D1 with iqr_zero = \"ieee\" only",
        ));
    }
    Ok(p)
}

/// The view: critical API events of `AKIA` keys with an ARN, with their hour and class.
fn view(p: &Params) -> String {
    format!(
        "SELECT user_arn AS arn, access_key_id AS key, CAST(event_time AS BIGINT) AS t,
           {hour} AS h, event_name AS name,
           CASE WHEN error_code = '' THEN 'S'
                WHEN error_code IN ({codes}) THEN 'U' ELSE 'O' END AS class,
           country(source_ip) AS country, event_id, source_ip, user_agent
         FROM cloudtrail
         WHERE event_name IN ({names}) AND user_arn <> '' AND starts_with(access_key_id, 'AKIA')",
        hour = hour_of("CAST(event_time AS BIGINT)"),
        codes = quote_list(&p.unauthorized_error_codes),
        names = quote_list(&p.critical_api_calls),
    )
}

/// Stage 1: the candidates (series, last bin) that pass the seed's row filters, with their
/// statistics.
pub fn scored_sql(p: &Params) -> String {
    let b = p.bin.nanos();
    let n = p.lookback.nanos() / b;
    let ignore = p
        .ignore_value
        .map_or_else(|| "CAST(NULL AS DOUBLE)".to_owned(), real);
    format!(
        "WITH buckets AS (
           SELECT arn, key, h,
             sum(CASE WHEN class = 'S' THEN 1 ELSE 0 END) AS ok_n,
             sum(CASE WHEN class = 'U' THEN 1 ELSE 0 END) AS unauth_n,
             count(DISTINCT CASE WHEN class = 'S' THEN name END) AS ok_d,
             count(DISTINCT CASE WHEN class = 'U' THEN name END) AS unauth_d
           FROM ({view}) GROUP BY arn, key, h
         ),
         series AS (
           SELECT c.arn, c.key, c.h AS bin_t, c.ok_n, c.unauth_n, c.ok_d, c.unauth_d,
             array_agg(CAST(coalesce(b.unauth_n, 0) AS DOUBLE) ORDER BY s.k) AS totals,
             array_agg(CAST(coalesce(b.unauth_d, 0) AS DOUBLE) ORDER BY s.k) AS distinct_unauth
           FROM buckets c CROSS JOIN (SELECT unnest(range(0, {n})) AS k) s
           LEFT JOIN buckets b
             ON b.arn = c.arn AND b.key = c.key AND b.h = c.h - ({n} - 1 - s.k) * {b}
           WHERE c.unauth_n > 0 AND c.unauth_d > 0 AND c.unauth_d >= c.ok_d
           GROUP BY c.arn, c.key, c.h, c.ok_n, c.unauth_n, c.ok_d, c.unauth_d
         ),
         scored AS (
           SELECT arn, key, bin_t, ok_n, unauth_n, ok_d, unauth_d,
             array_element(series_outliers(totals, 'tukey', {ignore}), {n}) AS outlier,
             series_stats(distinct_unauth) AS st
           FROM series
         ),
         flat AS (
           SELECT arn, key, bin_t, ok_n, unauth_n, ok_d, unauth_d, outlier,
             array_element(st, 1) AS min_u, array_element(st, 3) AS max_u,
             array_element(st, 5) AS avg_u, array_element(st, 6) AS variance_u,
             array_element(st, 7) AS stdev_u,
             (CAST(unauth_d AS DOUBLE) - array_element(st, 5)) / array_element(st, 7) AS z
           FROM scored
         )
         SELECT * FROM flat
         WHERE variance_u < {variance} AND NOT isnan(variance_u)
           AND max_u >= min_u + {spread}
           AND z > {z} AND NOT isnan(z)
           AND outlier > {score} AND NOT isnan(outlier)",
        view = view(p),
        variance = real(p.variance_below),
        spread = real(p.max_minus_min_at_least),
        z = real(p.z_score_above),
        score = real(p.outlier_score_above),
    )
}

/// The candidates of a stage as an SQL `VALUES` list (arn, key, bin_t, ok_d, unauth_d).
fn values(candidates: &[(String, String, i64, i64, i64)]) -> String {
    candidates
        .iter()
        .map(|(arn, key, bin, ok_d, unauth_d)| {
            format!(
                "({}, {}, {bin}, {ok_d}, {unauth_d})",
                quote(arn),
                quote(key)
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Stage 2: of the passed candidates, those whose key was used from two or more countries
/// within the window (`sliding_window_dcount_max` over the hourly distinct countries of
/// `[S, E]`, where the bucket at `E` holds only events at exactly `E`).
pub fn gate_sql(p: &Params, passed: &[(String, String, i64, i64, i64)]) -> String {
    let b = p.bin.nanos();
    let l = p.lookback.nanos();
    let w = (p.window.nanos() / b).max(1);
    format!(
        "WITH passed(arn, key, bin_t, ok_d, unauth_d) AS (VALUES {values}),
         countries AS (
           SELECT arn, key, h, country, bool_or(t = h) AS at_start
           FROM ({view}) WHERE country IS NOT NULL GROUP BY arn, key, h, country
         )
         SELECT p.arn, p.key, p.bin_t,
           array_agg(concat(CAST((c.h - (p.bin_t + {b} - {l})) / {b} AS VARCHAR), ':', c.country)) AS gate
         FROM passed p JOIN countries c
           ON c.arn = p.arn AND c.key = p.key
         WHERE c.h >= p.bin_t + {b} - {l}
           AND (c.h < p.bin_t + {b} OR (c.h = p.bin_t + {b} AND c.at_start))
         GROUP BY p.arn, p.key, p.bin_t
         HAVING sliding_window_dcount_max(
           array_agg((c.h - (p.bin_t + {b} - {l})) / {b}), array_agg(c.country), {w}) > 1",
        values = values(passed),
        view = view(p),
    )
}

/// A finite threshold as an SQL literal; ±∞ as the IEEE values.
fn real(x: f64) -> String {
    if x.is_finite() {
        format!("CAST({x:?} AS DOUBLE)")
    } else if x > 0.0 {
        "CAST('Infinity' AS DOUBLE)".to_owned()
    } else {
        "CAST('-Infinity' AS DOUBLE)".to_owned()
    }
}

/// Stage 3: the join of the gated candidates with their evidence buckets `[T − 1h, E]` (one
/// row per candidate and evidence hour), with the seed's bucket filters.
pub fn evidence_sql(p: &Params, gated: &[(String, String, i64, i64, i64)]) -> String {
    let b = p.bin.nanos();
    let l = p.lookback.nanos();
    format!(
        "WITH gated(arn, key, bin_t, ok_d, unauth_d) AS (VALUES {values})
         SELECT g.arn, g.key, g.bin_t, v.h AS evidence_hour,
           array_agg(DISTINCT CASE WHEN v.class = 'S' THEN v.name END) AS ok_names,
           array_agg(DISTINCT CASE WHEN v.class = 'U' THEN v.name END) AS unauth_names,
           array_agg(DISTINCT v.name) AS all_names,
           count(*) AS n, min(v.t) AS first_seen, max(v.t) AS last_seen,
           array_agg(DISTINCT v.event_id) AS event_ids,
           array_agg(DISTINCT v.source_ip) AS source_ips,
           array_agg(DISTINCT v.user_agent) AS user_agents,
           array_agg(DISTINCT v.country) AS countries
         FROM gated g JOIN ({view}) v ON v.arn = g.arn AND v.key = g.key
         WHERE v.t >= g.bin_t - {b} AND v.t >= g.bin_t + {b} - {l} AND v.t <= g.bin_t + {b}
         GROUP BY g.arn, g.key, g.bin_t, v.h
         HAVING count(DISTINCT CASE WHEN v.class = 'U' THEN v.name END) > 0
           AND count(DISTINCT CASE WHEN v.class = 'S' THEN v.name END) >= max(g.ok_d)
           AND count(DISTINCT CASE WHEN v.class = 'U' THEN v.name END) >= max(g.unauth_d)",
        values = values(gated),
        view = view(p),
    )
}

/// The seed's values of one passed candidate (the left side of the join).
struct Scored {
    ok_n: i64,
    unauth_n: i64,
    ok_d: i64,
    unauth_d: i64,
    outlier: f64,
    min: f64,
    max: f64,
    avg: f64,
    variance: f64,
    stdev: f64,
    z: f64,
}

/// Runs the rule: the rows of every hourly run, as the embedded hunt gives them.
pub async fn rows(ctx: &SessionContext, p: &Params) -> Result<Vec<D1Row>> {
    let c = Rows::collect(ctx.sql(&scored_sql(p)).await?).await?;
    let (arns, keys, bins) = (c.text("arn")?, c.text("key")?, c.int("bin_t")?);
    let [ok_n, unauth_n, ok_d, unauth_d] =
        ["ok_n", "unauth_n", "ok_d", "unauth_d"].map(|col| c.int(col));
    let (ok_n, unauth_n, ok_d, unauth_d) = (ok_n?, unauth_n?, ok_d?, unauth_d?);
    let [outlier, min, max, avg, variance, stdev, z] = [
        "outlier",
        "min_u",
        "max_u",
        "avg_u",
        "variance_u",
        "stdev_u",
        "z",
    ]
    .map(|col| c.real(col));
    let (outlier, min, max, avg, variance, stdev, z) =
        (outlier?, min?, max?, avg?, variance?, stdev?, z?);
    let mut scored: HashMap<(String, String, i64), Scored> = HashMap::new();
    let mut passed = Vec::new();
    for i in 0..c.len() {
        passed.push((
            arns[i].clone(),
            keys[i].clone(),
            bins[i],
            ok_d[i],
            unauth_d[i],
        ));
        scored.insert(
            (arns[i].clone(), keys[i].clone(), bins[i]),
            Scored {
                ok_n: ok_n[i],
                unauth_n: unauth_n[i],
                ok_d: ok_d[i],
                unauth_d: unauth_d[i],
                outlier: outlier[i],
                min: min[i],
                max: max[i],
                avg: avg[i],
                variance: variance[i],
                stdev: stdev[i],
                z: z[i],
            },
        );
    }
    if passed.is_empty() {
        return Ok(Vec::new());
    }
    let g = Rows::collect(ctx.sql(&gate_sql(p, &passed)).await?).await?;
    let (arns, keys, bins) = (g.text("arn")?, g.text("key")?, g.int("bin_t")?);
    // The countries that met the gate, by the embedded rule's own function ("bin:country").
    let w = (p.window.nanos() / p.bin.nanos()).max(1);
    let gates: HashMap<(String, String, i64), Vec<String>> = g
        .text_lists("gate")?
        .into_iter()
        .enumerate()
        .map(|(i, items)| {
            let items = items.into_iter().filter_map(|it| {
                let (k, c) = it.split_once(':')?;
                Some((k.parse::<i64>().ok()?, trailhound_model::Country::new(c)?))
            });
            let countries = embedded::gate_countries(items, w)
                .unwrap_or_default()
                .iter()
                .map(|c| c.as_str().to_owned())
                .collect();
            ((arns[i].clone(), keys[i].clone(), bins[i]), countries)
        })
        .collect();
    let gated: Vec<_> = (0..g.len())
        .filter_map(|i| {
            let s = scored.get(&(arns[i].clone(), keys[i].clone(), bins[i]))?;
            Some((
                arns[i].clone(),
                keys[i].clone(),
                bins[i],
                s.ok_d,
                s.unauth_d,
            ))
        })
        .collect();
    if gated.is_empty() {
        return Ok(Vec::new());
    }
    let e = Rows::collect(ctx.sql(&evidence_sql(p, &gated)).await?).await?;
    let (arns, keys, bins, hours) = (
        e.text("arn")?,
        e.text("key")?,
        e.int("bin_t")?,
        e.int("evidence_hour")?,
    );
    let (n, first, last) = (e.int("n")?, e.int("first_seen")?, e.int("last_seen")?);
    let [ok, unauth, all, ids, ips, agents, countries] = [
        "ok_names",
        "unauth_names",
        "all_names",
        "event_ids",
        "source_ips",
        "user_agents",
        "countries",
    ]
    .map(|col| e.text_lists(col));
    let (ok, unauth, all, ids, ips, agents, countries) =
        (ok?, unauth?, all?, ids?, ips?, agents?, countries?);
    let mut rows = Vec::with_capacity(e.len());
    for i in 0..e.len() {
        let Some(s) = scored.get(&(arns[i].clone(), keys[i].clone(), bins[i])) else {
            continue;
        };
        let ok_set = distinct_sorted(ok[i].clone(), usize::MAX);
        let unauth_set = distinct_sorted(unauth[i].clone(), usize::MAX);
        let mut arn_and_key = vec![arns[i].clone(), keys[i].clone()];
        arn_and_key.sort();
        arn_and_key.dedup();
        rows.push(D1Row {
            time_generated: bins[i],
            user_identity_arn_and_key_id: arn_and_key,
            distinct_unauthorized_event_set_count: unauth_set.len() as u64,
            distinct_successful_event_set_count: ok_set.len() as u64,
            distinct_successful_event_set: ok_set,
            distinct_unauthorized_event_set: unauth_set,
            total_unauthorized_events_outliers: s.outlier,
            average_unauthorized: s.avg,
            standard_deviation_unauthorized: s.stdev,
            variance_unauthorized: s.variance,
            z_score: s.z,
            user_arn: arns[i].clone(),
            access_key_id: keys[i].clone(),
            evidence_hour: hours[i],
            successful_event_count: s.ok_n as u64,
            unauthorized_event_count: s.unauth_n as u64,
            distinct_successful_events: s.ok_d as u64,
            distinct_unauthorized_events: s.unauth_d as u64,
            min_unauthorized: s.min,
            max_unauthorized: s.max,
            cutoff: bins[i] + p.bin.nanos(),
            gate_countries: gates
                .get(&(arns[i].clone(), keys[i].clone(), bins[i]))
                .cloned()
                .unwrap_or_default(),
            evidence: Evidence {
                first_seen: first[i],
                last_seen: last[i],
                count: n[i] as u64,
                event_ids: distinct_sorted(ids[i].clone(), EVIDENCE_CAP),
                source_ips: distinct_sorted(ips[i].clone(), EVIDENCE_CAP),
                countries: distinct_sorted(countries[i].clone(), EVIDENCE_CAP),
                user_agents: distinct_sorted(agents[i].clone(), EVIDENCE_CAP),
                event_names: distinct_sorted(all[i].clone(), EVIDENCE_CAP),
            },
        });
    }
    embedded::sort_rows(&mut rows);
    Ok(rows)
}

/// Runs the rule and turns its rows into alerts, one per series bin.
pub async fn alerts(ctx: &SessionContext, value: Option<&serde_json::Value>) -> Result<Vec<Alert>> {
    let p = checked(value)?;
    let rows = rows(ctx, &p).await?;
    Ok(embedded::alerts_from_rows(&rows, &p))
}
