//! Between the rules and the alert store: key lineage, suppression, D5 and incidents, shared by
//! `hunt` and `watch`.
//!
//! 1. [`Triage::observe`] follows minted keys through the stream ([`Lineage`]).
//! 2. [`Triage::prepare`] gives every alert its root key and principal, then folds alerts by the
//!    rules' suppression policies ([`suppression`]).
//! 3. [`store_and_correlate`] merges suppressed alerts with what the store knows of them, stores
//!    everything, runs D5 over the open alerts, and files the open alerts into incidents.

use std::collections::HashSet;
use std::sync::Arc;

use anyhow::{Context, Result};
use trailhound_detect::incident;
use trailhound_detect::lineage::{self, Lineage, Minting};
use trailhound_detect::suppression::{self, Member, Policies};
use trailhound_detect::{Alert, correlation};
use trailhound_model::{Event, ExtraFields, Timestamp, parse_expiration};
use trailhound_store::incidents::IncidentCounts;
use trailhound_store::{AlertFilter, AlertStore, Status, Upserted};

/// Who closes the alerts a re-evaluation with late data no longer raises (`watch`).
pub(crate) const SUPERSEDER: &str = "trailhound watch";
/// How the reason of such a closing starts.
const SUPERSEDED: &str = "superseded:";

/// The extra record fields of a run: the rules' (Sigma's), then the lineage's.
pub(crate) fn with_lineage_fields(rules: &ExtraFields) -> Arc<ExtraFields> {
    Arc::new(ExtraFields::new(
        rules
            .paths()
            .iter()
            .map(String::as_str)
            .chain(lineage::PATHS),
    ))
}

/// Lineage, suppression and incident settings of a run.
pub(crate) struct Triage {
    lineage: Lineage,
    extra: Arc<ExtraFields>,
    ids: [Option<u16>; 3],
    /// Suppression per rule.
    pub policies: Policies,
    /// What opens incidents.
    pub incidents: incident::Params,
    /// D5's parameters.
    pub d5: correlation::Params,
}

impl Triage {
    /// Settings for a run whose decoder captures `extra` (see [`with_lineage_fields`]).
    pub fn new(
        extra: Arc<ExtraFields>,
        policies: Policies,
        incidents: incident::Params,
        d5: correlation::Params,
    ) -> Self {
        let ids = lineage::PATHS.map(|p| extra.id(p));
        Self {
            lineage: Lineage::new(),
            extra,
            ids,
            policies,
            incidents,
            d5,
        }
    }

    /// Settings from the configuration file (`[suppression]`, `[incidents]`, D5's parameters).
    pub fn from_config(extra: Arc<ExtraFields>, config: &crate::config::Config) -> Result<Self> {
        Ok(Self::new(
            extra,
            config.suppression()?,
            config.incidents.clone(),
            config.correlation_params()?,
        ))
    }

    /// Sees one event (every event, allow-listed ones too: lineage is who, not what).
    pub fn observe(&mut self, e: &Event) {
        let minting = Lineage::is_minting(e).then(|| {
            let read = |i: usize| {
                self.ids[i].and_then(|id| trailhound_decode::extra_value(e, &self.extra, id))
            };
            (read(0), read(1), read(2))
        });
        let m = match &minting {
            Some((Some(key), exp, role)) => Some(Minting {
                key,
                expiration: exp.as_deref().and_then(parse_expiration),
                role_arn: role.as_deref(),
            }),
            _ => None,
        };
        self.lineage.observe(e, m);
    }

    /// Gives the alerts their root key and principal, then suppresses them.
    pub fn prepare(&self, mut alerts: Vec<Alert>) -> (Vec<Alert>, Vec<Member>) {
        for a in &mut alerts {
            self.lineage.attribute(a);
        }
        suppression::suppress(alerts, &self.policies)
    }

    /// The lineage (who stands behind a key).
    pub fn lineage(&self) -> &Lineage {
        &self.lineage
    }

    /// D5 over `alerts`, its alerts given their root key, principal and session remediation.
    fn correlate(&self, alerts: &[Alert]) -> Vec<Alert> {
        let mut d5 = correlation::correlate(&self.d5, alerts);
        for a in &mut d5 {
            self.lineage.attribute(a);
        }
        d5
    }
}

/// Alerts for a run without a store, prepared ([`Triage::prepare`]): suppressed alerts have their
/// totals from this run's members, and D5 correlates this run's alerts.
pub(crate) fn without_store(triage: &Triage, (alerts, _): Prepared) -> Vec<Alert> {
    let d5 = triage.correlate(&alerts);
    alerts.into_iter().chain(d5).collect()
}

/// Stores a run's alerts (suppressed ones merged with what the store knows of them), runs D5 over
/// the store's open alerts and stores the correlated alerts that involve one of the run's, then
/// files the open alerts into incidents. Returns every alert stored (the run's, then D5's) with
/// what the upsert did to it, and what happened to incidents.
pub(crate) fn store_and_correlate(
    store: &mut dyn AlertStore,
    triage: &Triage,
    alerts: Vec<Alert>,
) -> Result<(Vec<(Alert, Upserted)>, IncidentCounts)> {
    store_prepared(store, triage, triage.prepare(alerts))
}

/// A run's alerts attributed and suppressed ([`Triage::prepare`]), with the suppression members.
pub(crate) type Prepared = (Vec<Alert>, Vec<Member>);

/// [`store_and_correlate`] for alerts already prepared.
pub(crate) fn store_prepared(
    store: &mut dyn AlertStore,
    triage: &Triage,
    (mut alerts, members): Prepared,
) -> Result<(Vec<(Alert, Upserted)>, IncidentCounts)> {
    let path = store.location();
    if !members.is_empty() {
        let totals = store
            .add_members(&members)
            .with_context(|| format!("writing alerts to {path}"))?;
        for a in alerts.iter_mut().filter(|a| suppression::is_suppressed(a)) {
            let Some(t) = totals.get(&a.id).copied() else {
                continue;
            };
            *a = match store.get(&a.id)? {
                Some(stored) => suppression::merge_stored(&stored.alert, a, t),
                None => {
                    let mut a = a.clone();
                    suppression::set_totals(&mut a, t);
                    a
                }
            };
        }
    }
    let events = store
        .upsert_alerts(&alerts)
        .with_context(|| format!("writing alerts to {path}"))?;
    let run_ids: HashSet<&str> = alerts.iter().map(|a| a.id.as_str()).collect();
    let open = store.open_alerts()?;
    let d5: Vec<Alert> = triage
        .correlate(&open)
        .into_iter()
        .filter(|a| involves(a, &run_ids))
        .collect();
    let higher = store
        .upsert_alerts(&d5)
        .with_context(|| format!("writing alerts to {path}"))?;
    let counts = trailhound_store::update_incidents(store, &triage.incidents)
        .with_context(|| format!("filing incidents in {path}"))?;
    Ok((
        alerts
            .into_iter()
            .zip(events.items)
            .chain(d5.into_iter().zip(higher.items))
            .collect(),
        counts,
    ))
}

/// True when a D5 alert lists one of `ids` as a first-seen alert or a sibling.
fn involves(d5: &Alert, ids: &HashSet<&str>) -> bool {
    ["first_seen_alerts", "siblings"].iter().any(|k| {
        d5.details[*k].as_array().is_some_and(|v| {
            v.iter()
                .any(|x| x["id"].as_str().is_some_and(|id| ids.contains(id)))
        })
    })
}

/// After the rules were re-evaluated over `period` (`[from, until)`, late data), closes with
/// `reason` the open or acknowledged alerts of the period, D5's excepted, that the re-evaluation
/// (`alerts`, before suppression) no longer raises; returns how many. Run before the
/// re-evaluation's alerts are stored, so that D5 never pairs a superseded alert.
pub(crate) fn supersede(
    store: &mut dyn AlertStore,
    triage: &Triage,
    alerts: &[Alert],
    period: (Option<Timestamp>, Option<Timestamp>),
    reason: &str,
) -> Result<usize> {
    let (prepared, _) = triage.prepare(alerts.to_vec());
    let keep: HashSet<&str> = prepared.iter().map(|a| a.id.as_str()).collect();
    close_stale(store, period, reason, |a| {
        !correlation::is_higher_order(&a.rule_id) && !keep.contains(a.id.as_str())
    })
}

/// After the re-evaluation's alerts are stored: closes the D5 alerts of `period` that D5 over
/// the open alerts no longer raises; returns how many.
pub(crate) fn supersede_correlated(
    store: &mut dyn AlertStore,
    triage: &Triage,
    period: (Option<Timestamp>, Option<Timestamp>),
    reason: &str,
) -> Result<usize> {
    let expected = triage.correlate(&store.open_alerts()?);
    let keep: HashSet<&str> = expected.iter().map(|a| a.id.as_str()).collect();
    close_stale(store, period, reason, |a| {
        correlation::is_higher_order(&a.rule_id) && !keep.contains(a.id.as_str())
    })
}

fn close_stale(
    store: &mut dyn AlertStore,
    (since, until): (Option<Timestamp>, Option<Timestamp>),
    reason: &str,
    stale: impl Fn(&Alert) -> bool,
) -> Result<usize> {
    let filter = AlertFilter {
        since,
        until,
        ..AlertFilter::default()
    };
    let ids: Vec<String> = store
        .list(&filter)?
        .into_iter()
        .filter(|s| s.status != Status::Closed && stale(&s.alert))
        .map(|s| s.alert.id)
        .collect();
    for id in &ids {
        store.set_status(id, Status::Closed, SUPERSEDER, Some(reason))?;
    }
    Ok(ids.len())
}

/// Reopens the stored alerts that a re-evaluation had closed as superseded and that the rules
/// raise again.
pub(crate) fn reopen_raised_again(
    store: &mut dyn AlertStore,
    stored: &[(Alert, Upserted)],
) -> Result<()> {
    for (a, item) in stored {
        if item.status != Status::Closed {
            continue;
        }
        let Some(s) = store.get(&a.id)? else { continue };
        if s.status_by.as_deref() == Some(SUPERSEDER)
            && s.status_reason
                .as_deref()
                .is_some_and(|r| r.starts_with(SUPERSEDED))
        {
            store.set_status(
                &a.id,
                Status::Open,
                SUPERSEDER,
                Some("raised again by a re-evaluation"),
            )?;
        }
    }
    Ok(())
}
