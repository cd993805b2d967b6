//! D1 — Spike in failed API calls by a long-term key (`aws-akia-failed-api-spike`).
//!
//! Exactly the Sentinel query of seed 000 ("Suspicious Spike in Failed AWS API Calls by Non-ASIA
//! Access Key") with the Kusto semantics of `shared/spec/kql-semantics.md` §10. For a run at
//! `cutoff` (`now()`), with `S = cutoff − lookback`, `E = cutoff`, bin `b`:
//!
//! 1. **View**: `eventName` in the critical API list (case-sensitive), non-empty ARN and key, key
//!    starting with `AKIA` (`extract("^([A-Z]{4})") == "AKIA"`). The series key (Kusto's
//!    `SeriesID = hash_many(arn, key)`) is the pair (ARN, key id) itself.
//! 2. **Gate** (`sliding_window_counts`): the series has two events in `[S, E]` with different
//!    non-empty countries whose bins, aligned to `S`, are at most `window/b − 1` apart.
//! 3. **make-series** over `[S, E)` (the event at exactly `E` is in no bin), `lookback/b` bins
//!    starting exactly at `S`: successful and unauthorized counts, distinct successful and
//!    unauthorized API names per bin. Unauthorized means `errorCode` exactly one of the
//!    configured codes; any other non-empty code (`AccessDeniedException`) counts nowhere.
//! 4. Tukey outlier scores of the **total** unauthorized series (ignore value 1.0, IEEE ±∞ when
//!    the IQR is 0); `series_stats` of the **distinct** unauthorized series (sample variance).
//! 5. Per bin: score > 1, distinct unauthorized > 0 and ≥ distinct successful, variance < 0.05,
//!    max ≥ min + 2, z = (distinct unauthorized − avg)/stdev > 2.
//! 6. Inner join with the hour buckets `bin(t, b)` (epoch-aligned) of the series' events in
//!    `[S, E]` that hold an unauthorized call, for bucket starts within `[T − b, T + b]` of the bin
//!    start `T`, when the bucket's distinct name counts are ≥ the bin's. One series bin can match
//!    2 buckets (3 when `E` is on the hour, the third holding only events at exactly `E`); each
//!    match is its own [`D1Row`].
//! 7. Only the last bin (`T = E − b`) passes the final `between (ago(1h) .. now())`.
//!
//! Decisions: IQR = 0 gives +∞ (switch: [`IqrZero::Zero`]); the ignore value is left out of the
//! percentiles; the country is an ISO code rather than Kusto's English name (only distinctness
//! matters); set columns are sorted (Kusto's order is unspecified).
//!
//! # Design
//! [`D1Engine`] keeps, for the events that pass the view (a small share of CloudTrail), per series
//! and per bucket of `b`: counts, distinct-name bitmasks and countries, plus the raw view events
//! (time, name, class, country, id, IP, user agent) for evidence. A cutoff on a bucket boundary is
//! evaluated from the buckets (336 cells per series); any other cutoff from the raw events. Only
//! series with an unauthorized call in the last bin can produce a row, so each cutoff looks at
//! those only (an index from bucket to series). [`Hunt`] replays the rule at every whole hour (or a
//! custom schedule) as events stream in, and forgets buckets older than `lookback + window` before
//! the next cutoff, and raw events it no longer needs, so its state stays bounded.

use std::cell::Cell;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use serde::{Deserialize, Serialize, Serializer};
use trailhound_model::{Country, DAY, Event, HOUR, Str, Timestamp, format_rfc3339};

use crate::series::{self, IqrZero, SeriesStats};
use crate::{Alert, ConfigError, Detector, RuleInfo, Severity, Span, alert_id, remediation};

/// The rule's stable id.
pub const RULE_ID: &str = "aws-akia-failed-api-spike";
/// The rule's name.
pub const RULE_NAME: &str = "Spike in failed API calls by a long-term key";
/// Severity of its alerts.
pub const SEVERITY: Severity = Severity::High;
/// Risk score of its alerts.
pub const RISK_SCORE: u8 = SEVERITY.risk_score();
/// MITRE ATT&CK techniques: Cloud Account Discovery, Cloud Infrastructure Discovery, Cloud API.
pub const MITRE: &[&str] = &["T1087.004", "T1580", "T1059.009"];
/// Most items listed per evidence field of an alert or row (`count` stays exact).
pub const EVIDENCE_CAP: usize = 1000;

/// The seed's `CriticalApiCalls`, in its order.
pub const CRITICAL_API_CALLS: [&str; 38] = [
    "ConsoleLogin",
    "StartInstances",
    "CreateAccessKey",
    "CreateGroup",
    "CreateUser",
    "PutGroupPolicy",
    "AssumeRoleWithWebIdentity",
    "SendCommand",
    "CreateLoginProfile",
    "AttachUserPolicy",
    "GetSessionToken",
    "RunInstances",
    "AuthorizeSecurityGroupIngress",
    "AddUserToGroup",
    "StopLogging",
    "GetSecretValue",
    "ListUsers",
    "AssumeRole",
    "DeleteTrail",
    "GetPasswordData",
    "DescribeInstances",
    "SwitchRole",
    "DeleteDetector",
    "CreateSecret",
    "GetCallerIdentity",
    "DeactivateMFADevice",
    "PutSecretValue",
    "ListBuckets",
    "CreateSnapshot",
    "ModifySnapshotAttribute",
    "PutBucketVersioning",
    "ModifyDBSnapshotAttribute",
    "DeleteObject",
    "GetObject",
    "DeleteDBInstance",
    "CopyObject",
    "DeletePublicAccessBlock",
    "ListSecrets",
];

/// The seed's unauthorized error codes (exact, case-sensitive).
pub const UNAUTHORIZED_ERROR_CODES: [&str; 2] = ["AccessDenied", "Client.UnauthorizedOperation"];

/// Registration of the rule.
pub const RULE: RuleInfo = RuleInfo {
    id: RULE_ID,
    name: RULE_NAME,
    severity: SEVERITY,
    mitre: MITRE,
    build: build_detector,
};

fn build_detector(params: Option<&serde_json::Value>) -> Result<Box<dyn Detector>, ConfigError> {
    let params = match params {
        None => Params::default(),
        Some(v) => Params::deserialize(v).map_err(|source| ConfigError::Params {
            rule: RULE_ID,
            source,
        })?,
    };
    let detector =
        FailedApiSpike::new(params, HuntOptions::default()).map_err(|e| ConfigError::Invalid {
            rule: RULE_ID,
            why: e.to_string(),
        })?;
    Ok(Box::new(detector))
}

/// D1's parameters; every default is the seed's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    /// API names (`eventName`, case-sensitive) the rule looks at; at most 128.
    pub critical_api_calls: Vec<String>,
    /// History the statistics run over (`lookback`, 14d). A whole number of bins.
    pub lookback: Span,
    /// Sliding window of the multi-country gate (`lookbackwindow`, 8h); rounded down to bins.
    pub window: Span,
    /// Bin of the series and of the evidence buckets (`bintime`, 1h). Must divide one day.
    pub bin: Span,
    /// Error codes that count as unauthorized (exact, case-sensitive).
    pub unauthorized_error_codes: Vec<String>,
    /// A bin alerts only when its Tukey outlier score is strictly above this (1).
    pub outlier_score_above: f64,
    /// ... and the variance of the distinct unauthorized series is strictly below this (0.05).
    pub variance_below: f64,
    /// ... and that series' max is at least its min plus this (2).
    pub max_minus_min_at_least: f64,
    /// ... and the bin's z-score is strictly above this (2).
    pub z_score_above: f64,
    /// `series_outliers`' ignore value (1.0): bins equal to it score 0 and are not in the
    /// percentiles. `null` for none.
    pub ignore_value: Option<f64>,
    /// Outlier score when the inter-quartile range is 0: `ieee` (±∞, default) or `zero`.
    pub iqr_zero: IqrZero,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            critical_api_calls: CRITICAL_API_CALLS.iter().map(|s| (*s).to_owned()).collect(),
            lookback: Span::days(14),
            window: Span::hours(8),
            bin: Span::hours(1),
            unauthorized_error_codes: UNAUTHORIZED_ERROR_CODES
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            outlier_score_above: 1.0,
            variance_below: 0.05,
            max_minus_min_at_least: 2.0,
            z_score_above: 2.0,
            ignore_value: Some(1.0),
            iqr_zero: IqrZero::Ieee,
        }
    }
}

/// Why parameters were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamsError {
    /// `bin` is zero or does not divide a day (Kusto's `bin()` counts from 0001-01-01, so only
    /// then do its buckets agree with Unix-epoch ones).
    #[error("bin must be positive and divide one day, got {0}")]
    Bin(Span),
    /// `lookback` is not a positive whole number of bins (of at most ten years).
    #[error("lookback must be a positive multiple of bin, at most 3660d, got {0}")]
    Lookback(Span),
    /// `window` is shorter than one bin.
    #[error("window must be at least one bin, got {0}")]
    Window(Span),
    /// More than 128 distinct API names, or an empty one.
    #[error("critical_api_calls must hold 1 to 128 non-empty names")]
    ApiNames,
    /// A threshold is NaN.
    #[error("thresholds must not be NaN")]
    Threshold,
}

impl Params {
    /// Checks the parameters.
    pub fn validate(&self) -> Result<(), ParamsError> {
        let b = self.bin.nanos();
        if b <= 0 || DAY % b != 0 {
            return Err(ParamsError::Bin(self.bin));
        }
        let l = self.lookback.nanos();
        if l < b || l % b != 0 || l > 3660 * DAY {
            return Err(ParamsError::Lookback(self.lookback));
        }
        if self.window.nanos() < b {
            return Err(ParamsError::Window(self.window));
        }
        let distinct: HashSet<&str> = self.critical_api_calls.iter().map(String::as_str).collect();
        if distinct.is_empty() || distinct.len() > 128 || distinct.contains("") {
            return Err(ParamsError::ApiNames);
        }
        let thresholds = [
            self.outlier_score_above,
            self.variance_below,
            self.max_minus_min_at_least,
            self.z_score_above,
            self.ignore_value.unwrap_or(0.0),
        ];
        if thresholds.iter().any(|t| t.is_nan()) {
            return Err(ParamsError::Threshold);
        }
        Ok(())
    }
}

/// Validated parameters in the form the engine uses.
#[derive(Debug, Clone)]
struct Compiled {
    names: Vec<Str>,
    index: HashMap<Str, u8, ahash::RandomState>,
    unauthorized: Vec<Str>,
    lookback: i64,
    bin: i64,
    window_bins: i64,
    params: Params,
}

impl Compiled {
    fn new(params: Params) -> Result<Self, ParamsError> {
        params.validate()?;
        let mut names: Vec<Str> = Vec::new();
        let mut index = HashMap::default();
        for n in &params.critical_api_calls {
            if !index.contains_key(n.as_str()) {
                index.insert(Str::from(n.as_str()), names.len() as u8);
                names.push(Str::from(n.as_str()));
            }
        }
        Ok(Compiled {
            names,
            index,
            unauthorized: params
                .unauthorized_error_codes
                .iter()
                .map(|s| Str::from(s.as_str()))
                .collect(),
            lookback: params.lookback.nanos(),
            bin: params.bin.nanos(),
            window_bins: (params.window.nanos() / params.bin.nanos()).max(1),
            params,
        })
    }

    fn names_of(&self, mask: u128) -> Vec<String> {
        let mut v: Vec<String> = (0..self.names.len())
            .filter(|&i| mask & (1u128 << i) != 0)
            .map(|i| self.names[i].to_string())
            .collect();
        v.sort();
        v
    }
}

/// How an event's `errorCode` counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// Empty error code.
    Success,
    /// One of the unauthorized codes.
    Unauthorized,
    /// Any other error code: counted in no series (still in the gate and the evidence).
    Other,
}

/// Aggregates of one series over one bucket `[h, h + b)`.
#[derive(Debug, Default, Clone)]
struct Bucket {
    successful: u32,
    unauthorized: u32,
    distinct_successful: u128,
    distinct_unauthorized: u128,
    countries: Vec<Country>,
    /// Countries of events at exactly `h` (for a cutoff at `h`, whose `[S, E]` includes them).
    countries_at_start: Vec<Country>,
}

/// One view event, as kept for non-aligned cutoffs and for evidence.
#[derive(Debug, Clone)]
struct RawEvent {
    time: Timestamp,
    name: u8,
    class: Class,
    country: Option<Country>,
    event_id: Str,
    source_ip: Str,
    user_agent: Str,
}

#[derive(Debug)]
struct SeriesState {
    arn: Str,
    key: Str,
    buckets: BTreeMap<i64, Bucket>,
    /// Sorted by time.
    raw: VecDeque<RawEvent>,
    last_unauthorized_bucket: Option<i64>,
}

/// Per-bin arrays of one series' make-series over `[S, E)`.
struct Bins {
    successful: Vec<u32>,
    unauthorized: Vec<u32>,
    distinct_successful: Vec<u128>,
    distinct_unauthorized: Vec<u128>,
}

impl Bins {
    fn zeros(n: usize) -> Self {
        Bins {
            successful: vec![0; n],
            unauthorized: vec![0; n],
            distinct_successful: vec![0; n],
            distinct_unauthorized: vec![0; n],
        }
    }
}

/// The left side of the join for the last bin, after every row filter.
struct LastBin {
    stats: SeriesStats,
    z: f64,
    outlier: f64,
    successful: u32,
    unauthorized: u32,
    distinct_successful: u32,
    distinct_unauthorized: u32,
}

/// Evidence of one row: the series' view events in the matched evidence bucket (within
/// `[S, E]`). Lists are distinct, sorted and capped at [`EVIDENCE_CAP`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Evidence {
    /// Earliest event time.
    #[serde(with = "crate::rfc3339")]
    pub first_seen: Timestamp,
    /// Latest event time.
    #[serde(with = "crate::rfc3339")]
    pub last_seen: Timestamp,
    /// Number of events.
    pub count: u64,
    /// Non-empty event ids.
    pub event_ids: Vec<String>,
    /// Non-empty source IP addresses.
    pub source_ips: Vec<String>,
    /// Countries.
    pub countries: Vec<String>,
    /// Non-empty user agents.
    pub user_agents: Vec<String>,
    /// API names (successful, unauthorized or other errors).
    pub event_names: Vec<String>,
}

/// One output row of the seed query (its 11 projected columns first, under their KQL names in
/// JSON), plus the series key, the evidence bucket (`TimeGenerated1`), the joined bin's own
/// values and the run that raised it. Non-finite reals are written as `"Infinity"`,
/// `"-Infinity"` or `"NaN"` in JSON.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct D1Row {
    /// `TimeGenerated`: start of the alerting make-series bin (`cutoff − bin`).
    #[serde(rename = "TimeGenerated", with = "crate::rfc3339")]
    pub time_generated: Timestamp,
    /// `UserIdentityARNandKeyID`: the ARN and the key id, sorted.
    #[serde(rename = "UserIdentityARNandKeyID")]
    pub user_identity_arn_and_key_id: Vec<String>,
    /// `DistinctSuccessfulEventSet` of the evidence bucket, sorted.
    #[serde(rename = "DistinctSuccessfulEventSet")]
    pub distinct_successful_event_set: Vec<String>,
    /// `DistinctUnauthorizedEventSet` of the evidence bucket, sorted.
    #[serde(rename = "DistinctUnauthorizedEventSet")]
    pub distinct_unauthorized_event_set: Vec<String>,
    /// `DistinctUnauthorizedEventSetCount`.
    #[serde(rename = "DistinctUnauthorizedEventSetCount")]
    pub distinct_unauthorized_event_set_count: u64,
    /// `DistinctSuccessfulEventSetCount`.
    #[serde(rename = "DistinctSuccessfulEventSetCount")]
    pub distinct_successful_event_set_count: u64,
    /// `TotalUnauthorizedEventsOutliers`: Tukey score of the bin's total unauthorized count.
    #[serde(rename = "TotalUnauthorizedEventsOutliers", serialize_with = "real")]
    pub total_unauthorized_events_outliers: f64,
    /// `AverageUnauthorized`: mean of the distinct unauthorized series.
    #[serde(rename = "AverageUnauthorized", serialize_with = "real")]
    pub average_unauthorized: f64,
    /// `StandardDeviationUnauthorized`: its sample standard deviation.
    #[serde(rename = "StandardDeviationUnauthorized", serialize_with = "real")]
    pub standard_deviation_unauthorized: f64,
    /// `VarianceUnauthorized`: its sample variance.
    #[serde(rename = "VarianceUnauthorized", serialize_with = "real")]
    pub variance_unauthorized: f64,
    /// `ZScore` of the bin's distinct unauthorized count.
    #[serde(rename = "ZScore", serialize_with = "real")]
    pub z_score: f64,
    /// The series' `UserIdentityArn`.
    #[serde(rename = "UserIdentityArn")]
    pub user_arn: String,
    /// The series' `UserIdentityAccessKeyId`.
    #[serde(rename = "UserIdentityAccessKeyId")]
    pub access_key_id: String,
    /// `TimeGenerated1`: start of the matched evidence bucket.
    #[serde(rename = "TimeGenerated1", with = "crate::rfc3339")]
    pub evidence_hour: Timestamp,
    /// The bin's `SuccessfulEventCount`.
    #[serde(rename = "SuccessfulEventCount")]
    pub successful_event_count: u64,
    /// The bin's `UnauthorizedEventCount`.
    #[serde(rename = "UnauthorizedEventCount")]
    pub unauthorized_event_count: u64,
    /// The bin's `DistinctSuccessfulEvents`.
    #[serde(rename = "DistinctSuccessfulEvents")]
    pub distinct_successful_events: u64,
    /// The bin's `DistinctUnauthorizedEvents`.
    #[serde(rename = "DistinctUnauthorizedEvents")]
    pub distinct_unauthorized_events: u64,
    /// `MinUnauthorized` of the distinct unauthorized series.
    #[serde(rename = "MinUnauthorized", serialize_with = "real")]
    pub min_unauthorized: f64,
    /// `MaxUnauthorized` of the distinct unauthorized series.
    #[serde(rename = "MaxUnauthorized", serialize_with = "real")]
    pub max_unauthorized: f64,
    /// The cutoff (`now()`) of the run that raised the row (the first one, in a hunt).
    #[serde(rename = "Cutoff", with = "crate::rfc3339")]
    pub cutoff: Timestamp,
    /// The countries that met the multi-country gate (not a KQL column: the seed only tests
    /// that there are two; see [`gate_countries`]).
    #[serde(rename = "GateCountries")]
    pub gate_countries: Vec<String>,
    /// The evidence events (not part of the KQL columns).
    #[serde(skip)]
    pub evidence: Evidence,
}

/// Sorts rows as a run returns them: by ARN, key, bin start and evidence bucket.
pub fn sort_rows(rows: &mut [D1Row]) {
    rows.sort_by(|a, b| {
        (
            &a.user_arn,
            &a.access_key_id,
            a.time_generated,
            a.evidence_hour,
        )
            .cmp(&(
                &b.user_arn,
                &b.access_key_id,
                b.time_generated,
                b.evidence_hour,
            ))
    });
}

fn real<S: Serializer>(x: &f64, s: S) -> Result<S::Ok, S::Error> {
    if x.is_finite() {
        s.serialize_f64(*x)
    } else if x.is_nan() {
        s.serialize_str("NaN")
    } else if *x > 0.0 {
        s.serialize_str("Infinity")
    } else {
        s.serialize_str("-Infinity")
    }
}

/// Counters of a [`D1Engine`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct EngineStats {
    /// Events pushed.
    pub events_seen: u64,
    /// Events that passed the view and were kept.
    pub events_kept: u64,
    /// View events older than what the state still holds (too late), dropped.
    pub late_dropped: u64,
    /// Cutoffs evaluated.
    pub cutoffs_evaluated: u64,
    /// (cutoff, series) pairs evaluated past the precheck (an unauthorized call in the last bin).
    pub series_evaluated: u64,
}

/// What a [`D1Engine`] holds right now (to check that a hunt's state stays bounded).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Retained {
    /// Series known.
    pub series: usize,
    /// Series-bucket aggregates.
    pub buckets: usize,
    /// Raw view events.
    pub raw_events: usize,
    /// Buckets in the bucket → series index of unauthorized calls.
    pub unauthorized_index: usize,
}

/// The rule's state over the view events, and its evaluation at any cutoff.
///
/// A freshly built engine keeps everything it is given, so [`evaluate_at`](D1Engine::evaluate_at)
/// works for any cutoff; [`Hunt`] drives one and makes it forget what no later cutoff needs.
#[derive(Debug)]
pub struct D1Engine {
    c: Compiled,
    /// Key id → the series with that key (one per ARN, usually one).
    ids: HashMap<Str, Vec<u32>, ahash::RandomState>,
    series: Vec<SeriesState>,
    unauthorized_index: BTreeMap<i64, Vec<u32>>,
    bucket_horizon: i64,
    raw_horizon: i64,
    stats: EngineStats,
    evaluated: Cell<(u64, u64)>,
}

impl D1Engine {
    /// An empty engine.
    pub fn new(params: Params) -> Result<Self, ParamsError> {
        Ok(D1Engine {
            c: Compiled::new(params)?,
            ids: HashMap::default(),
            series: Vec::new(),
            unauthorized_index: BTreeMap::new(),
            bucket_horizon: i64::MIN,
            raw_horizon: i64::MIN,
            stats: EngineStats::default(),
            evaluated: Cell::new((0, 0)),
        })
    }

    /// The parameters.
    pub fn params(&self) -> &Params {
        &self.c.params
    }

    /// Counters.
    pub fn stats(&self) -> EngineStats {
        let (cutoffs, series) = self.evaluated.get();
        EngineStats {
            cutoffs_evaluated: cutoffs,
            series_evaluated: series,
            ..self.stats
        }
    }

    /// Sizes of the state.
    pub fn retained(&self) -> Retained {
        Retained {
            series: self.series.len(),
            buckets: self.series.iter().map(|s| s.buckets.len()).sum(),
            raw_events: self.series.iter().map(|s| s.raw.len()).sum(),
            unauthorized_index: self.unauthorized_index.len(),
        }
    }

    /// True when the event passes the rule's view (critical API, AKIA key, ARN and key present).
    pub fn in_view(&self, e: &Event) -> bool {
        self.c.index.contains_key(e.event_name.as_str())
            && !e.user.arn.is_empty()
            && e.user.access_key_id.starts_with("AKIA")
    }

    /// Adds one event (any order; events older than what a hunt already forgot are dropped).
    pub fn push(&mut self, e: &Event) {
        self.stats.events_seen += 1;
        let Some(&name) = self.c.index.get(e.event_name.as_str()) else {
            return;
        };
        // extract("^([A-Z]{4})", 1, key) == "AKIA" is exactly "starts with AKIA".
        if e.user.arn.is_empty() || !e.user.access_key_id.starts_with("AKIA") {
            return;
        }
        let b = self.c.bin;
        let t = e.time;
        let h = series::bin(t, b);
        if h < self.bucket_horizon {
            self.stats.late_dropped += 1;
            return;
        }
        self.stats.events_kept += 1;
        let class = if e.error_code.is_empty() {
            Class::Success
        } else if self.c.unauthorized.contains(&e.error_code) {
            Class::Unauthorized
        } else {
            Class::Other
        };
        let known = self.ids.get(e.user.access_key_id.as_str()).and_then(|ids| {
            ids.iter()
                .copied()
                .find(|&id| self.series[id as usize].arn == e.user.arn)
        });
        let id = match known {
            Some(id) => id,
            None => {
                let id = self.series.len() as u32;
                self.ids
                    .entry(e.user.access_key_id.clone())
                    .or_default()
                    .push(id);
                self.series.push(SeriesState {
                    arn: e.user.arn.clone(),
                    key: e.user.access_key_id.clone(),
                    buckets: BTreeMap::new(),
                    raw: VecDeque::new(),
                    last_unauthorized_bucket: None,
                });
                id
            }
        };
        let st = &mut self.series[id as usize];
        let bucket = st.buckets.entry(h).or_default();
        let bit = 1u128 << name;
        match class {
            Class::Success => {
                bucket.successful += 1;
                bucket.distinct_successful |= bit;
            }
            Class::Unauthorized => {
                bucket.unauthorized += 1;
                bucket.distinct_unauthorized |= bit;
            }
            Class::Other => {}
        }
        if let Some(c) = e.country {
            if !bucket.countries.contains(&c) {
                bucket.countries.push(c);
            }
            if t == h && !bucket.countries_at_start.contains(&c) {
                bucket.countries_at_start.push(c);
            }
        }
        if class == Class::Unauthorized && st.last_unauthorized_bucket != Some(h) {
            st.last_unauthorized_bucket = Some(h);
            let list = self.unauthorized_index.entry(h).or_default();
            if !list.contains(&id) {
                list.push(id);
            }
        }
        if t >= self.raw_horizon {
            let raw = RawEvent {
                time: t,
                name,
                class,
                country: e.country,
                event_id: e.event_id.clone(),
                source_ip: e.source_ip.clone(),
                user_agent: e.user_agent.clone(),
            };
            if st.raw.back().is_none_or(|r| r.time <= t) {
                st.raw.push_back(raw);
            } else {
                let at = st.raw.partition_point(|r| r.time <= t);
                st.raw.insert(at, raw);
            }
        }
    }

    /// Forgets buckets before `bucket_horizon` and raw events before `raw_horizon`.
    fn forget_before(&mut self, bucket_horizon: i64, raw_horizon: i64) {
        let bh = series::bin(bucket_horizon, self.c.bin);
        if bh > self.bucket_horizon {
            self.bucket_horizon = bh;
            for st in &mut self.series {
                st.buckets = st.buckets.split_off(&bh);
            }
            self.unauthorized_index = self.unauthorized_index.split_off(&bh);
        }
        if raw_horizon > self.raw_horizon {
            self.raw_horizon = raw_horizon;
            for st in &mut self.series {
                let n = st.raw.partition_point(|r| r.time < raw_horizon);
                st.raw.drain(..n);
                if st.raw.capacity() > 64 && st.raw.capacity() > 4 * st.raw.len() {
                    st.raw.shrink_to_fit();
                }
            }
        }
    }

    /// Runs the rule as if `now()` were `cutoff`: the rows a scheduled run would return, sorted
    /// by (ARN, key, bin, evidence bucket).
    pub fn evaluate_at(&self, cutoff: Timestamp) -> Vec<D1Row> {
        self.evaluate_with(cutoff, cutoff.rem_euclid(self.c.bin) == 0)
    }

    /// [`evaluate_at`](D1Engine::evaluate_at) from the buckets (`aligned`, only valid for a
    /// cutoff on a bucket boundary) or from the raw events.
    fn evaluate_with(&self, cutoff: Timestamp, aligned: bool) -> Vec<D1Row> {
        let c = &self.c;
        let b = c.bin;
        let s = cutoff - c.lookback;
        let n = series::make_series_len(s, cutoff, b);
        if n == 0 {
            return Vec::new();
        }
        let t_last = s + (n as i64 - 1) * b;
        // Only a series with an unauthorized call in the last bin [t_last, cutoff) can alert.
        let mut candidates: Vec<u32> = self
            .unauthorized_index
            .range(series::bin(t_last, b)..=series::bin(cutoff - 1, b))
            .flat_map(|(_, ids)| ids.iter().copied())
            .collect();
        candidates.sort_unstable();
        candidates.dedup();
        let (cutoffs, evaluated) = self.evaluated.get();
        self.evaluated
            .set((cutoffs + 1, evaluated + candidates.len() as u64));
        let mut rows = Vec::new();
        for id in candidates {
            let st = &self.series[id as usize];
            let bins = if aligned {
                self.bins_from_buckets(st, s, n)
            } else {
                self.bins_from_raw(st, s, cutoff, n)
            };
            let Some(last) = self.last_bin(&bins) else {
                continue;
            };
            let gate = if aligned {
                self.gate_from_buckets(st, s, cutoff)
            } else {
                self.gate_from_raw(st, s, cutoff)
            };
            let Some(gate) = gate else {
                continue;
            };
            let from = rows.len();
            self.join(st, &last, s, cutoff, t_last, &mut rows);
            let gate: Vec<String> = gate.iter().map(|c| c.as_str().to_owned()).collect();
            for r in &mut rows[from..] {
                r.gate_countries = gate.clone();
            }
        }
        sort_rows(&mut rows);
        rows
    }

    fn bins_from_buckets(&self, st: &SeriesState, s: i64, n: usize) -> Bins {
        let b = self.c.bin;
        let e = s + n as i64 * b;
        let mut bins = Bins::zeros(n);
        for (&h, bk) in st.buckets.range(s..e) {
            let k = ((h - s) / b) as usize;
            bins.successful[k] = bk.successful;
            bins.unauthorized[k] = bk.unauthorized;
            bins.distinct_successful[k] = bk.distinct_successful;
            bins.distinct_unauthorized[k] = bk.distinct_unauthorized;
        }
        bins
    }

    fn bins_from_raw(&self, st: &SeriesState, s: i64, e: i64, n: usize) -> Bins {
        let b = self.c.bin;
        let mut bins = Bins::zeros(n);
        let from = st.raw.partition_point(|r| r.time < s);
        for r in st.raw.range(from..).take_while(|r| r.time < e) {
            let k = ((r.time - s) / b) as usize;
            let bit = 1u128 << r.name;
            match r.class {
                Class::Success => {
                    bins.successful[k] += 1;
                    bins.distinct_successful[k] |= bit;
                }
                Class::Unauthorized => {
                    bins.unauthorized[k] += 1;
                    bins.distinct_unauthorized[k] |= bit;
                }
                Class::Other => {}
            }
        }
        bins
    }

    /// The row filters of the seed on the last bin; `None` when it is filtered out.
    fn last_bin(&self, bins: &Bins) -> Option<LastBin> {
        let p = &self.c.params;
        let last = bins.unauthorized.len() - 1;
        let du = bins.distinct_unauthorized[last].count_ones();
        let ds = bins.distinct_successful[last].count_ones();
        if du == 0 || du < ds {
            return None;
        }
        let distinct: Vec<f64> = bins
            .distinct_unauthorized
            .iter()
            .map(|m| f64::from(m.count_ones()))
            .collect();
        let stats = series::series_stats(&distinct)?;
        if !(stats.variance < p.variance_below && stats.max >= stats.min + p.max_minus_min_at_least)
        {
            return None;
        }
        let z = (f64::from(du) - stats.avg) / stats.stdev;
        // Kusto `where`: a NaN comparison is false, so the row goes.
        let keep = z > p.z_score_above;
        if !keep {
            return None;
        }
        let totals: Vec<f64> = bins.unauthorized.iter().map(|&x| f64::from(x)).collect();
        let outlier = series::series_outliers_tukey(&totals, p.ignore_value, p.iqr_zero)[last];
        let keep = outlier > p.outlier_score_above;
        if !keep {
            return None;
        }
        Some(LastBin {
            stats,
            z,
            outlier,
            successful: bins.successful[last],
            unauthorized: bins.unauthorized[last],
            distinct_successful: ds,
            distinct_unauthorized: du,
        })
    }

    fn gate_from_buckets(&self, st: &SeriesState, s: i64, e: i64) -> Option<Vec<Country>> {
        let b = self.c.bin;
        let whole = st.buckets.range(s..e).flat_map(|(&h, bk)| {
            let k = (h - s) / b;
            bk.countries.iter().map(move |&c| (k, c))
        });
        let at_cutoff = st.buckets.get(&e).into_iter().flat_map(|bk| {
            let k = (e - s) / b;
            bk.countries_at_start.iter().map(move |&c| (k, c))
        });
        gate_countries(whole.chain(at_cutoff), self.c.window_bins)
    }

    fn gate_from_raw(&self, st: &SeriesState, s: i64, e: i64) -> Option<Vec<Country>> {
        let b = self.c.bin;
        let from = st.raw.partition_point(|r| r.time < s);
        let items = st
            .raw
            .range(from..)
            .take_while(|r| r.time <= e)
            .filter_map(|r| r.country.map(|c| ((r.time - s) / b, c)));
        gate_countries(items, self.c.window_bins)
    }

    /// The join with the evidence buckets `bin(t, b)` whose start lies in `[T − b, T + b]`.
    fn join(
        &self,
        st: &SeriesState,
        last: &LastBin,
        s: i64,
        e: i64,
        t_last: i64,
        rows: &mut Vec<D1Row>,
    ) {
        let b = self.c.bin;
        // The first bucket start >= T - b.
        let first = series::bin(t_last - 1, b);
        let mut h = first;
        while h <= t_last + b {
            let (lo, hi) = (h.max(s), (h + b - 1).min(e));
            h += b;
            if lo > hi {
                continue;
            }
            let from = st.raw.partition_point(|r| r.time < lo);
            let to = st.raw.partition_point(|r| r.time <= hi);
            let events = st.raw.range(from..to);
            let (mut ok, mut unauth, mut all) = (0u128, 0u128, 0u128);
            for r in events.clone() {
                let bit = 1u128 << r.name;
                all |= bit;
                match r.class {
                    Class::Success => ok |= bit,
                    Class::Unauthorized => unauth |= bit,
                    Class::Other => {}
                }
            }
            let (ok_n, unauth_n) = (ok.count_ones(), unauth.count_ones());
            if unauth_n == 0
                || ok_n < last.distinct_successful
                || unauth_n < last.distinct_unauthorized
            {
                continue;
            }
            let mut arn_and_key = vec![st.arn.to_string(), st.key.to_string()];
            arn_and_key.sort();
            arn_and_key.dedup();
            rows.push(D1Row {
                time_generated: t_last,
                user_identity_arn_and_key_id: arn_and_key,
                distinct_successful_event_set: self.c.names_of(ok),
                distinct_unauthorized_event_set: self.c.names_of(unauth),
                distinct_unauthorized_event_set_count: u64::from(unauth_n),
                distinct_successful_event_set_count: u64::from(ok_n),
                total_unauthorized_events_outliers: last.outlier,
                average_unauthorized: last.stats.avg,
                standard_deviation_unauthorized: last.stats.stdev,
                variance_unauthorized: last.stats.variance,
                z_score: last.z,
                user_arn: st.arn.to_string(),
                access_key_id: st.key.to_string(),
                evidence_hour: h - b,
                successful_event_count: u64::from(last.successful),
                unauthorized_event_count: u64::from(last.unauthorized),
                distinct_successful_events: u64::from(last.distinct_successful),
                distinct_unauthorized_events: u64::from(last.distinct_unauthorized),
                min_unauthorized: last.stats.min,
                max_unauthorized: last.stats.max,
                cutoff: e,
                gate_countries: Vec::new(),
                evidence: evidence(events, &self.c.names_of(all)),
            });
        }
    }
}

/// The multi-country gate: the countries that met it, or `None`. Items are `(bin, country)` in any
/// order; two items with different countries meet it when they lie within `w` consecutive bins
/// (`|k1 − k2| < w`). The countries returned are those of the first window that meets it: every
/// country in the bins `(k − w, k]` for the smallest such `k` (sorted), so the result does not
/// depend on the order of items within a bin (the DataFusion engine computes the same from
/// unordered aggregates).
pub fn gate_countries(items: impl Iterator<Item = (i64, Country)>, w: i64) -> Option<Vec<Country>> {
    let mut items: Vec<(i64, Country)> = items.collect();
    items.sort_unstable();
    items.dedup();
    let mut start = 0;
    let mut i = 0;
    while i < items.len() {
        let k = items[i].0;
        let mut end = i;
        while end < items.len() && items[end].0 == k {
            end += 1;
        }
        while items[start].0 <= k - w {
            start += 1;
        }
        let mut window: Vec<Country> = items[start..end].iter().map(|&(_, c)| c).collect();
        window.sort_unstable();
        window.dedup();
        if window.len() >= 2 {
            return Some(window);
        }
        i = end;
    }
    None
}

fn evidence<'a>(events: impl Iterator<Item = &'a RawEvent> + Clone, names: &[String]) -> Evidence {
    fn distinct<'b>(values: impl Iterator<Item = &'b str>) -> Vec<String> {
        let mut v: Vec<String> = values
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        v.sort();
        v.dedup();
        v.truncate(EVIDENCE_CAP);
        v
    }
    let mut ev = Evidence {
        first_seen: i64::MAX,
        last_seen: i64::MIN,
        event_names: names.iter().take(EVIDENCE_CAP).cloned().collect(),
        ..Evidence::default()
    };
    for r in events.clone() {
        ev.count += 1;
        ev.first_seen = ev.first_seen.min(r.time);
        ev.last_seen = ev.last_seen.max(r.time);
    }
    ev.event_ids = distinct(events.clone().map(|r| r.event_id.as_str()));
    ev.source_ips = distinct(events.clone().map(|r| r.source_ip.as_str()));
    ev.user_agents = distinct(events.clone().map(|r| r.user_agent.as_str()));
    let mut countries: Vec<Country> = events.filter_map(|r| r.country).collect();
    countries.sort();
    countries.dedup();
    ev.countries = countries.iter().map(|c| c.as_str().to_owned()).collect();
    ev
}

/// When a [`Hunt`] runs the rule.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Schedule {
    /// Every whole hour, from the first event's hour + 1 h to the first whole hour after the last
    /// event (spec: "as if it had run every hour").
    #[default]
    Hourly,
    /// Every `step`, from the first event's hour + 1 h to the first such cutoff after the last
    /// event.
    Every(Span),
    /// Exactly these cutoffs.
    At(Vec<Timestamp>),
}

/// Options of a [`Hunt`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HuntOptions {
    /// When to run the rule.
    pub schedule: Schedule,
    /// A cutoff is evaluated once an event later than `cutoff + lateness` arrives (or at the
    /// end), so that events up to `lateness` out of order still count. 0 by default: the input is
    /// time-ordered.
    pub lateness: Span,
}

/// Why a hunt could not be set up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HuntError {
    /// Bad parameters.
    #[error(transparent)]
    Params(#[from] ParamsError),
    /// `Schedule::Every` with a zero step.
    #[error("the schedule's step must be positive")]
    Step,
}

/// Hunt mode: replays the rule at every cutoff of a schedule while events stream in (time order),
/// keeping every row any run raised, de-duplicated by (series, bin start, evidence bucket).
///
/// Events are pushed once; each cutoff is evaluated on the engine's per-series buckets (only the
/// series with an unauthorized call in that cutoff's last bin), and state older than
/// `lookback + window` before the next cutoff is forgotten, so replaying months costs one pass.
#[derive(Debug)]
pub struct Hunt {
    engine: D1Engine,
    lateness: i64,
    schedule: Schedule,
    /// Hourly / Every: step and next cutoff (set by the first event).
    step: i64,
    next: Option<Timestamp>,
    /// At: sorted cutoffs and the position of the next one.
    at: Vec<Timestamp>,
    at_pos: usize,
    max_time: Option<Timestamp>,
    full_raw: bool,
    last_trim: i64,
    seen: HashSet<(String, String, Timestamp, Timestamp)>,
    new_rows: Vec<D1Row>,
    cutoffs_evaluated: u64,
}

impl Hunt {
    /// A hunt with these parameters and options.
    pub fn new(params: Params, options: HuntOptions) -> Result<Self, HuntError> {
        let engine = D1Engine::new(params)?;
        let b = engine.c.bin;
        let (step, at, full_raw) = match &options.schedule {
            Schedule::Hourly => (HOUR, Vec::new(), false),
            Schedule::Every(step) if step.nanos() <= 0 => return Err(HuntError::Step),
            Schedule::Every(step) => (step.nanos(), Vec::new(), false),
            Schedule::At(list) => {
                let mut at = list.clone();
                at.sort_unstable();
                at.dedup();
                let full = at.iter().any(|t| t.rem_euclid(b) != 0);
                (0, at, full)
            }
        };
        Ok(Hunt {
            engine,
            lateness: options.lateness.nanos(),
            schedule: options.schedule,
            step,
            next: None,
            at,
            at_pos: 0,
            max_time: None,
            full_raw,
            last_trim: i64::MIN,
            seen: HashSet::new(),
            new_rows: Vec::new(),
            cutoffs_evaluated: 0,
        })
    }

    /// The engine (for its counters and state sizes).
    pub fn engine(&self) -> &D1Engine {
        &self.engine
    }

    /// The parameters.
    pub fn params(&self) -> &Params {
        self.engine.params()
    }

    /// Number of cutoffs evaluated so far.
    pub fn cutoffs_evaluated(&self) -> u64 {
        self.cutoffs_evaluated
    }

    /// Adds one event, first evaluating every cutoff that the event proves complete.
    pub fn push(&mut self, e: &Event) {
        if self.max_time.is_none() && !matches!(self.schedule, Schedule::At(_)) {
            let anchor = series::bin(e.time, HOUR) + HOUR;
            self.next = Some(anchor);
            let b = self.engine.c.bin;
            self.full_raw = anchor.rem_euclid(b) != 0 || self.step % b != 0;
        }
        let seen_until = self.max_time;
        self.max_time = Some(seen_until.map_or(e.time, |m| m.max(e.time)));
        while let Some(cutoff) = self.peek() {
            if cutoff.saturating_add(self.lateness) >= e.time {
                break;
            }
            let b = self.engine.c.bin;
            if self.step > 0 && seen_until.is_some_and(|m| cutoff - b > m) {
                // A gap in the data: no cutoff before this event has anything in its last bin,
                // so none can raise a row. Jump to the last one still due.
                let due_until = e.time - self.lateness;
                let skip = (due_until - cutoff - 1) / self.step;
                if skip > 0 {
                    self.next = Some(cutoff + skip * self.step);
                    continue;
                }
            }
            self.evaluate_next();
        }
        self.engine.push(e);
    }

    /// Rows raised since the last call.
    pub fn take_rows(&mut self) -> Vec<D1Row> {
        std::mem::take(&mut self.new_rows)
    }

    /// Evaluates every remaining cutoff and returns the rows not yet taken.
    pub fn finish(&mut self) -> Vec<D1Row> {
        match self.schedule {
            Schedule::At(_) => {
                while self.peek().is_some() {
                    self.evaluate_next();
                }
            }
            _ => {
                if let Some(max) = self.max_time {
                    // Every cutoff up to the last event, then the first one after it.
                    while self.peek().is_some_and(|c| c <= max) {
                        self.evaluate_next();
                    }
                    if self.peek().is_some() {
                        self.evaluate_next();
                    }
                    self.next = None;
                }
            }
        }
        self.take_rows()
    }

    fn peek(&self) -> Option<Timestamp> {
        match self.schedule {
            Schedule::At(_) => self.at.get(self.at_pos).copied(),
            _ => self.next,
        }
    }

    fn evaluate_next(&mut self) {
        let Some(cutoff) = self.peek() else {
            return;
        };
        match self.schedule {
            Schedule::At(_) => self.at_pos += 1,
            _ => self.next = Some(cutoff + self.step),
        }
        self.cutoffs_evaluated += 1;
        for row in self.engine.evaluate_at(cutoff) {
            let key = (
                row.user_arn.clone(),
                row.access_key_id.clone(),
                row.time_generated,
                row.evidence_hour,
            );
            if self.seen.insert(key) {
                self.new_rows.push(row);
            }
        }
        self.trim();
    }

    /// Forgets what no remaining cutoff needs, about once per window of cutoffs.
    fn trim(&mut self) {
        let Some(next) = self.peek() else {
            return;
        };
        let c = &self.engine.c;
        let window = c.params.window.nanos();
        if next.saturating_sub(self.last_trim) < window {
            return;
        }
        self.last_trim = next;
        let bucket_horizon = next - c.lookback - window;
        let raw_horizon = if self.full_raw {
            bucket_horizon
        } else {
            // Aligned cutoffs read raw events only for the evidence buckets [E − 2b, E].
            next - 2 * c.bin - window
        };
        let oldest_row = next - 2 * c.bin - window;
        self.engine.forget_before(bucket_horizon, raw_horizon);
        self.seen.retain(|k| k.2 >= oldest_row);
    }
}

/// Replays the rule over time-ordered events with [`Hunt`] and returns every row.
pub fn hunt<'a>(
    params: Params,
    options: HuntOptions,
    events: impl IntoIterator<Item = &'a Event>,
) -> Result<Vec<D1Row>, HuntError> {
    let mut h = Hunt::new(params, options)?;
    for e in events {
        h.push(e);
    }
    Ok(h.finish())
}

/// Turns the rows of one series bin (1 to 3, one per matched evidence bucket) into one alert:
/// `time` is the bin start, the evidence is the union of the buckets', `details` holds the KQL
/// columns of the first row plus every row under `Rows`. The id depends on the rule, the key,
/// the ARN and the bin only.
pub fn alert_from_rows(rows: &[D1Row], params: &Params) -> Option<Alert> {
    let first = rows.first()?;
    let mut names: Vec<String> = Vec::new();
    let (mut ids, mut ips, mut countries, mut agents) = (vec![], vec![], vec![], vec![]);
    let (mut first_seen, mut last_seen, mut count) = (i64::MAX, i64::MIN, 0);
    let mut hours = Vec::new();
    for r in rows {
        let ev = &r.evidence;
        countries.extend(r.gate_countries.iter().cloned());
        names.extend(ev.event_names.iter().cloned());
        ids.extend(ev.event_ids.iter().cloned());
        ips.extend(ev.source_ips.iter().cloned());
        countries.extend(ev.countries.iter().cloned());
        agents.extend(ev.user_agents.iter().cloned());
        first_seen = first_seen.min(ev.first_seen);
        last_seen = last_seen.max(ev.last_seen);
        count += ev.count;
        hours.push(format_rfc3339(r.evidence_hour));
    }
    for v in [&mut names, &mut ids, &mut ips, &mut countries, &mut agents] {
        v.sort();
        v.dedup();
        v.truncate(EVIDENCE_CAP);
    }
    let mut details = serde_json::to_value(first).unwrap_or(serde_json::Value::Null);
    if let serde_json::Value::Object(map) = &mut details {
        map.insert(
            "Rows".to_owned(),
            serde_json::to_value(rows).unwrap_or_default(),
        );
    }
    let outlier = if first.total_unauthorized_events_outliers.is_infinite() {
        "infinite (the hourly totals have zero inter-quartile range)".to_owned()
    } else {
        format!("{:.2}", first.total_unauthorized_events_outliers)
    };
    let why = format!(
        "Long-term key {key} ({arn}) was denied {n} call(s) to {d} distinct critical API(s) ({set}) \
         in the {bin} bin starting {t}: z-score {z:.2} against a {lookback} mean of {avg:.4} \
         distinct denied APIs per bin (variance {var:.4}), Tukey outlier score {outlier}; \
         the key was used from {gate} within {window}.",
        key = first.access_key_id,
        arn = first.user_arn,
        n = first.unauthorized_event_count,
        d = first.distinct_unauthorized_events,
        set = first.distinct_unauthorized_event_set.join(", "),
        bin = params.bin,
        t = format_rfc3339(first.time_generated),
        z = first.z_score,
        lookback = params.lookback,
        avg = first.average_unauthorized,
        var = first.variance_unauthorized,
        window = params.window,
        gate = if first.gate_countries.is_empty() {
            "two or more countries".to_owned()
        } else {
            first.gate_countries.join(" and ")
        },
    );
    Some(Alert {
        id: alert_id(
            RULE_ID,
            &[
                &first.access_key_id,
                &first.user_arn,
                &format_rfc3339(first.time_generated),
            ],
        ),
        rule_id: RULE_ID.to_owned(),
        rule_name: RULE_NAME.to_owned(),
        severity: SEVERITY,
        risk_score: RISK_SCORE,
        access_key_id: first.access_key_id.clone(),
        user_arn: first.user_arn.clone(),
        time: first.time_generated,
        first_seen,
        last_seen,
        source_ips: ips,
        countries,
        user_agents: agents,
        event_names: names,
        event_ids: ids,
        count,
        mitre: MITRE.iter().map(|m| (*m).to_owned()).collect(),
        remediation: remediation(&first.access_key_id, &first.user_arn),
        why,
        details,
        root_key: String::new(),
        principal: String::new(),
        suppressed_count: 0,
    })
}

/// Groups rows by (ARN, key, bin start), in order, and makes one alert per group.
pub fn alerts_from_rows(rows: &[D1Row], params: &Params) -> Vec<Alert> {
    let mut groups: BTreeMap<(&str, &str, Timestamp), Vec<D1Row>> = BTreeMap::new();
    for r in rows {
        groups
            .entry((&r.user_arn, &r.access_key_id, r.time_generated))
            .or_default()
            .push(r.clone());
    }
    groups
        .values()
        .filter_map(|g| alert_from_rows(g, params))
        .collect()
}

/// D1 as a [`Detector`]: a [`Hunt`] (hourly by default) whose rows become alerts, one per
/// series bin.
#[derive(Debug)]
pub struct FailedApiSpike {
    hunt: Hunt,
    alerted: HashSet<String>,
}

impl FailedApiSpike {
    /// The detector with these parameters and hunt options.
    pub fn new(params: Params, options: HuntOptions) -> Result<Self, HuntError> {
        Ok(FailedApiSpike {
            hunt: Hunt::new(params, options)?,
            alerted: HashSet::new(),
        })
    }

    /// The underlying hunt.
    pub fn hunt(&self) -> &Hunt {
        &self.hunt
    }

    fn alerts(&mut self, rows: Vec<D1Row>) -> Vec<Alert> {
        let mut alerts = alerts_from_rows(&rows, self.hunt.params());
        alerts.retain(|a| self.alerted.insert(a.id.clone()));
        alerts
    }
}

impl Detector for FailedApiSpike {
    fn id(&self) -> &'static str {
        RULE_ID
    }

    fn observe(&mut self, event: &Event) {
        self.hunt.push(event);
    }

    fn drain(&mut self) -> Vec<Alert> {
        let rows = self.hunt.take_rows();
        self.alerts(rows)
    }

    fn finish(&mut self) -> Vec<Alert> {
        let rows = self.hunt.finish();
        self.alerts(rows)
    }
}

#[cfg(test)]
mod tests;
