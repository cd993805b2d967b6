//! Differential test of D1 against `tests/oracle/d1_reference.py`, an independent Python
//! implementation of the whole seed query on top of `shared/spec/kql_ref.py`.
//!
//! Random data sets (deterministic, own PRNG) and a few planted ones are written as JSON Lines,
//! run through both implementations (one `python3` process per test), and the rows must agree:
//! same rows, bins, evidence buckets, sets, counts and evidence; reals within 1e-9 relative
//! (infinities equal). `python3` missing is a failure, not a skip.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};
use trailhound_detect::Span;
use trailhound_detect::rules::failed_api_spike::{
    CRITICAL_API_CALLS, D1Engine, D1Row, HuntOptions, Params, Schedule, hunt,
};
use trailhound_model::{Country, DAY, Event, HOUR, SECOND, UserIdentity, format_rfc3339};

const MIN: i64 = 60 * SECOND;

/// SplitMix64.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (n > 0).
    fn below(&mut self, n: i64) -> i64 {
        (self.next() % n as u64) as i64
    }
    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below(hi - lo + 1)
    }
    fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len() as i64) as usize]
    }
    /// `k` distinct items of `xs`.
    fn sample<T: Copy + PartialEq>(&mut self, xs: &[T], k: usize) -> Vec<T> {
        let mut out = Vec::new();
        while out.len() < k.min(xs.len()) {
            let x = self.pick(xs);
            if !out.contains(&x) {
                out.push(x);
            }
        }
        out
    }
}

/// Denied calls are drawn from these (critical) names, so that series share names.
const DENIED_NAMES: [&str; 6] = [
    "ListUsers",
    "GetSecretValue",
    "CreateUser",
    "DeleteTrail",
    "AttachUserPolicy",
    "ListSecrets",
];
/// Successful calls: critical names, non-critical names and case variants.
const OK_NAMES: [&str; 9] = [
    "GetObject",
    "ListBuckets",
    "DescribeInstances",
    "ListUsers",
    "GetCallerIdentity",
    "ListRoles",
    "DescribeRegions",
    "listusers",
    "getObject",
];
const COUNTRIES: [&str; 5] = ["US", "DE", "FR", "JP", "BR"];

#[derive(Clone)]
struct Dataset {
    name: String,
    events: Vec<Event>,
    params: Params,
    cutoffs: Vec<i64>,
    /// `Some(schedule)` for hunt mode.
    hunt: Option<Schedule>,
}

struct Builder<'r> {
    rng: &'r mut Rng,
    events: Vec<Event>,
}

impl Builder<'_> {
    fn add(&mut self, t: i64, series: (&str, &str), name: &str, error: &str, country: &str) {
        let n = self.events.len();
        let ip = match self.rng.below(4) {
            0 => "ec2.amazonaws.com".to_owned(),
            1 => format!("2001:db8::{:x}", self.rng.below(9)),
            _ => format!("203.0.113.{}", self.rng.below(7)),
        };
        self.events.push(Event {
            time: t,
            event_name: name.into(),
            error_code: error.into(),
            source_ip: ip.into(),
            user_agent: self
                .rng
                .pick(&["aws-cli/2.15", "Boto3/1.34", "", "console.amazonaws.com"])
                .into(),
            event_id: if self.rng.chance(0.03) {
                String::new()
            } else {
                format!("ev-{n:05}")
            }
            .into(),
            user: UserIdentity {
                arn: series.0.into(),
                access_key_id: series.1.into(),
                ..UserIdentity::default()
            },
            country: Country::new(country),
            ..Event::default()
        });
    }

    fn denied_code(&mut self) -> &'static str {
        match self.rng.below(20) {
            0..=11 => "AccessDenied",
            12..=16 => "Client.UnauthorizedOperation",
            17 => "AccessDeniedException",
            18 => "UnauthorizedOperation",
            _ => "accessdenied",
        }
    }

    /// A burst of calls to `names` (each at least once, `extra` more) at times from `times`.
    fn burst(
        &mut self,
        s: (&str, &str),
        names: &[&str],
        extra: usize,
        times: &mut dyn FnMut(&mut Rng) -> i64,
    ) {
        for i in 0..names.len() + extra {
            let name = if i < names.len() {
                names[i]
            } else {
                self.rng.pick(names)
            };
            let code = self.denied_code();
            let t = times(self.rng);
            self.add(t, s, name, code, "");
        }
    }

    /// Successful background calls and, usually, two countries close in time.
    fn background(&mut self, s: (&str, &str), from: i64, to: i64, calls: i64, home: &str) {
        for _ in 0..calls {
            let t = self.rng.range(from, to);
            let country = match self.rng.below(10) {
                0 => "",
                1 => "XX-not-a-code",
                _ => home,
            };
            let name = self.rng.pick(&OK_NAMES);
            self.add(t, s, name, "", country);
        }
        if self.rng.chance(0.7) {
            let t1 = self.rng.range(from, to);
            // Around the 8-bin limit half of the time.
            let gap = if self.rng.chance(0.5) {
                self.rng.range(6 * HOUR, 9 * HOUR)
            } else {
                self.rng.range(0, 3 * HOUR)
            };
            let other = self.rng.pick(&COUNTRIES);
            let n1 = self.rng.pick(&OK_NAMES[..5]);
            let n2 = self.rng.pick(&OK_NAMES[..5]);
            self.add(t1, s, n1, "", home);
            self.add(t1 + gap, s, n2, "", other);
        }
    }

    /// Single denied calls in random bins (the ignore value 1).
    fn ones(&mut self, s: (&str, &str), from: i64, to: i64) {
        for _ in 0..self.rng.range(1, 4) {
            let t = self.rng.range(from, to);
            let n = self.rng.pick(&DENIED_NAMES);
            self.add(t, s, n, "AccessDenied", "");
        }
    }
}

/// Series keys: mostly long-term keys, and look-alikes the view must drop.
fn series_keys(rng: &mut Rng, n: usize, spread: i64) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for i in 0..n {
        let arn = format!("arn:aws:iam::123456789012:user/team/u{i}");
        let key = format!("AKIAEXAMPLE{i:09}");
        let (arn, key) = match rng.below(spread) {
            0 => (arn, key.replacen("AKIA", "ASIA", 1)),
            1 => (arn, key.replacen("AKIA", "akia", 1)),
            2 => (arn, "AKI".to_owned()),
            3 => (arn, String::new()),
            4 => (String::new(), key),
            5 if i > 0 => (format!("{arn}-other"), out[0usize].1.clone()),
            _ => (arn, key),
        };
        out.push((arn, key));
    }
    out
}

fn short_params(rng: &mut Rng) -> Params {
    Params {
        lookback: Span::days(rng.range(2, 3)),
        variance_below: 0.25,
        ..Params::default()
    }
}

fn custom_params(rng: &mut Rng) -> Params {
    let mut p = Params::default();
    match rng.below(6) {
        0 => p.iqr_zero = trailhound_detect::series::IqrZero::Zero,
        1 => p.ignore_value = None,
        2 => p
            .unauthorized_error_codes
            .push("AccessDeniedException".to_owned()),
        3 => p.window = Span::hours(4),
        4 => {
            p.z_score_above = 3.0;
            p.max_minus_min_at_least = 1.0;
        }
        _ => {
            p.critical_api_calls.retain(|n| n != "CreateUser");
        }
    }
    p
}

/// One data set around a single cutoff (and sometimes the next hour's).
fn single_cutoff_dataset(seed: u64) -> Dataset {
    let mut rng = Rng(seed.wrapping_mul(0x2545_F491_4F6C_DD1D) ^ 0xD1);
    let base = 1_704_067_200 * SECOND + rng.below(700) * DAY; // 2024-01-01 + days
    let aligned = rng.chance(0.45);
    let cutoff = if aligned {
        base + rng.range(15 * 24, 18 * 24) * HOUR
    } else {
        base + rng.range(15 * 24 * 60, 18 * 24 * 60) * MIN
            + rng.below(60) * SECOND
            + rng.below(10) * 100_000_000
    };
    let params = match rng.below(10) {
        0 | 1 => custom_params(&mut rng),
        2 => short_params(&mut rng),
        _ => Params::default(),
    };
    let lookback = params.lookback.nanos();
    let s = cutoff - lookback;
    let t_last = cutoff - HOUR;
    let n = rng.range(2, 5) as usize;
    let keys = series_keys(&mut rng, n, 14);
    let mut b = Builder {
        rng: &mut rng,
        events: Vec::new(),
    };
    for (i, (arn, key)) in keys.iter().enumerate() {
        let sk = (arn.as_str(), key.as_str());
        let home = b.rng.pick(&COUNTRIES);
        let calls = b.rng.range(0, 14);
        b.background(sk, s - DAY, cutoff + 2 * HOUR, calls, home);
        if b.rng.chance(0.15) {
            // Travel very near the end, or exactly at the cutoff / at S.
            let other = b.rng.pick(&COUNTRIES);
            let t = b
                .rng
                .pick(&[cutoff, s, s - 1, cutoff + 1, cutoff - 3 * HOUR]);
            b.add(t - 2 * HOUR, sk, "GetObject", "", home);
            b.add(t, sk, "ListBuckets", "", other);
        }
        if b.rng.chance(0.35) {
            b.ones(sk, s, cutoff);
        }
        if b.rng.chance(0.25) {
            // An older burst: raises the variance and the max.
            let at = match b.rng.below(6) {
                0 => s,
                1 => s - 1,
                _ => b.rng.range(s, t_last - HOUR),
            };
            let k = b.rng.range(2, 3) as usize;
            let names = b.rng.sample(&DENIED_NAMES, k);
            let exact = at <= s;
            b.burst(sk, &names, 1, &mut |r| {
                if exact { at } else { at + r.below(HOUR) }
            });
        }
        if i == 0 && b.rng.chance(0.12) {
            // A steady key: 2-3 denied calls of one API every bin, so the totals' IQR is not 0.
            let mut t = s + b.rng.below(HOUR);
            while t < t_last {
                let reps = b.rng.range(2, 3);
                for j in 0..reps {
                    b.add(t + j * SECOND, sk, "ListBuckets", "AccessDenied", "");
                }
                t += HOUR;
            }
        }
        if b.rng.chance(0.8) {
            // The spike in the last bin [cutoff − 1h, cutoff).
            let k = b.rng.range(2, 4) as usize;
            let names = b.rng.sample(&DENIED_NAMES, k);
            let extra = b.rng.below(5) as usize;
            let both = b.rng.chance(0.5);
            let first_hour = t_last.div_euclid(HOUR) * HOUR + HOUR; // end of the bin's first bucket
            let mut times = |r: &mut Rng| match r.below(8) {
                0 => t_last,
                1 => cutoff - 1,
                2 if both && !aligned => first_hour + r.below(cutoff - first_hour),
                3 if both && !aligned => t_last + r.below(first_hour - t_last),
                _ => t_last + r.below(HOUR),
            };
            b.burst(sk, &names, extra, &mut times);
            if both && !aligned {
                // The same names in the second bucket too: a two-bucket match.
                let names2 = names.clone();
                b.burst(sk, &names2, 0, &mut |r| {
                    first_hour + r.below(cutoff - first_hour)
                });
            }
            if aligned && b.rng.chance(0.5) {
                // Calls at exactly the cutoff: a third evidence bucket.
                let names3 = names.clone();
                b.burst(sk, &names3, 0, &mut |_| cutoff);
            }
            if aligned && b.rng.chance(0.3) && k == 2 {
                let names4 = names.clone();
                b.burst(sk, &names4, 0, &mut |r| cutoff - 2 * HOUR + r.below(HOUR));
            }
            if b.rng.chance(0.25) {
                let n = b.rng.pick(&OK_NAMES[..5]);
                let t = t_last + b.rng.below(HOUR);
                b.add(t, sk, n, "", "");
            }
        }
    }
    let mut events = b.events;
    events.sort_by_key(|e| e.time);
    let mut cutoffs = vec![cutoff];
    if rng.chance(0.4) {
        cutoffs.push(cutoff + HOUR);
    }
    Dataset {
        name: format!("single-{seed}"),
        events,
        params,
        cutoffs,
        hunt: None,
    }
}

/// One data set replayed in hunt mode: a day or two of activity with bursts.
fn hunt_dataset(seed: u64) -> Dataset {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x4B);
    let params = if rng.chance(0.3) {
        Params::default()
    } else {
        short_params(&mut rng)
    };
    let start = 1_704_067_200 * SECOND
        + rng.below(700) * DAY
        + rng.below(24) * HOUR
        + rng.below(3600) * SECOND;
    // Sometimes longer than a short lookback, so that the hunt forgets old state.
    let span = if params.lookback < Span::days(14) && rng.chance(0.4) {
        params.lookback.nanos() + rng.range(6, 20) * HOUR
    } else {
        rng.range(20, 40) * HOUR
    };
    let end = start + span;
    let schedule = match rng.below(10) {
        0 => Schedule::Every(Span::from_nanos(40 * MIN)),
        1 => Schedule::Every(Span::from_nanos(90 * MIN)),
        _ => Schedule::Hourly,
    };
    let n = rng.range(2, 3) as usize;
    let keys = series_keys(&mut rng, n, 24);
    let mut b = Builder {
        rng: &mut rng,
        events: Vec::new(),
    };
    for (arn, key) in &keys {
        let sk = (arn.as_str(), key.as_str());
        let home = b.rng.pick(&COUNTRIES);
        let calls = b.rng.range(0, 10);
        // Travel mostly early, so that the gate is open for most bursts.
        let travel_until = if b.rng.chance(0.7) {
            start + span / 5
        } else {
            end
        };
        b.background(sk, start, travel_until, calls, home);
        if b.rng.chance(0.3) {
            b.ones(sk, start, end);
        }
        for _ in 0..b.rng.range(1, 3) {
            let k = b.rng.range(2, 4) as usize;
            let names = b.rng.sample(&DENIED_NAMES, k);
            let extra = b.rng.below(4) as usize;
            let hour = (start.div_euclid(HOUR) + b.rng.range(1, span / HOUR)) * HOUR;
            match b.rng.below(5) {
                // Calls on the hour boundary too: a second evidence bucket at that cutoff.
                0 => {
                    b.burst(sk, &names, extra, &mut |r| hour - HOUR + r.below(HOUR));
                    b.burst(sk, &names, 0, &mut |_| hour);
                }
                // Two names in three buckets: three evidence buckets at cutoff `hour`.
                4 => {
                    let two = &names[..2];
                    b.burst(sk, two, 0, &mut |r| hour - 2 * HOUR + r.below(HOUR));
                    b.burst(sk, two, extra, &mut |r| hour - HOUR + r.below(HOUR));
                    b.burst(sk, two, 0, &mut |_| hour);
                }
                // Spread over two hours.
                1 => b.burst(sk, &names, extra + 2, &mut |r| hour + r.below(2 * HOUR)),
                _ => b.burst(sk, &names, extra, &mut |r| hour + r.below(HOUR)),
            }
        }
    }
    let mut events = b.events;
    events.sort_by_key(|e| e.time);
    Dataset {
        name: format!("hunt-{seed}"),
        events,
        params,
        cutoffs: Vec::new(),
        hunt: Some(schedule),
    }
}

/// Hand-planted data sets with known outcomes (checked below, besides the differential check).
fn planted() -> Vec<(Dataset, usize)> {
    let arn = "arn:aws:iam::123456789012:user/alice";
    let key = "AKIAALICE00000000001";
    let day = 1_735_689_600 * SECOND; // 2025-01-01
    let mut rng = Rng(99);
    let mut mk = |specs: &[(i64, &str, &str, &str)]| {
        let mut b = Builder {
            rng: &mut rng,
            events: Vec::new(),
        };
        for &(t, name, err, country) in specs {
            b.add(t, (arn, key), name, err, country);
        }
        let mut ev = b.events;
        ev.sort_by_key(|e| e.time);
        ev
    };
    let ds = |name: &str, events: Vec<Event>, cutoffs: Vec<i64>| Dataset {
        name: name.to_owned(),
        events,
        params: Params::default(),
        cutoffs,
        hunt: None,
    };
    let cutoff = day + 20 * DAY + 10 * HOUR + 37 * MIN;
    let travel = [
        (cutoff - 5 * DAY, "ListBuckets", "", "US"),
        (cutoff - 5 * DAY + 2 * HOUR, "ListBuckets", "", "DE"),
    ];
    let mut classic = travel.to_vec();
    for n in ["ListUsers", "GetSecretValue", "CreateUser"] {
        classic.push((cutoff - 50 * MIN, n, "AccessDenied", ""));
    }
    let mut two_buckets = classic.clone();
    for n in ["ListUsers", "GetSecretValue", "CreateUser"] {
        two_buckets.push((cutoff - 5 * MIN, n, "Client.UnauthorizedOperation", ""));
    }
    let aligned = day + 20 * DAY;
    let mut three = vec![
        (aligned - 5 * DAY, "ListBuckets", "", "US"),
        (aligned - 5 * DAY + 7 * HOUR, "ListBuckets", "", "FR"),
    ];
    for t in [aligned - 2 * HOUR + MIN, aligned - HOUR + MIN, aligned] {
        for n in ["ListUsers", "GetSecretValue"] {
            three.push((t, n, "AccessDenied", ""));
        }
    }
    let mut trap = travel.to_vec();
    trap.push((cutoff - 50 * MIN, "ListUsers", "AccessDenied", ""));
    trap.push((
        cutoff - 40 * MIN,
        "GetSecretValue",
        "AccessDeniedException",
        "",
    ));
    let mut far = classic.clone();
    far[1].0 = cutoff - 5 * DAY + 9 * HOUR; // the countries 9 bins apart: no gate
    // Distinct denied APIs per bin 3 (last), 2, 1, 1, 1, 1: sum of squared deviations
    // 17 − 81/336 = 16.759, so the sample variance (n − 1) is 0.050027, just above 0.05 (no
    // alert), while the population variance would be 0.049878. With three 1s: 0.04716, alert.
    let mut variance = classic.clone();
    variance.push((cutoff - 3 * DAY, "ListUsers", "AccessDenied", ""));
    variance.push((cutoff - 3 * DAY + MIN, "CreateUser", "AccessDenied", ""));
    let mut variance_below = variance.clone();
    for d in 1..=4 {
        variance.push((cutoff - (4 + d) * DAY, "ListSecrets", "AccessDenied", ""));
    }
    for d in 1..=3 {
        variance_below.push((cutoff - (4 + d) * DAY, "ListSecrets", "AccessDenied", ""));
    }
    // The second country comes at exactly the (non-aligned) cutoff: the gate's `between` is
    // inclusive; one nanosecond later it is outside.
    let mut at_cutoff = classic[2..].to_vec();
    at_cutoff.push((cutoff - 2 * HOUR, "GetObject", "", "US"));
    at_cutoff.push((cutoff, "GetObject", "", "DE"));
    let mut after_cutoff = at_cutoff.clone();
    after_cutoff.last_mut().unwrap().0 = cutoff + 1;
    // Denied calls at exactly S = cutoff − 14d are in bin 0; at S − 1 ns in no bin.
    let s = cutoff - 14 * DAY;
    let mut at_s = classic.clone();
    at_s.push((s, "ListUsers", "AccessDenied", ""));
    at_s.push((s, "CreateUser", "AccessDenied", ""));
    let mut before_s = classic.clone();
    before_s.push((s - 1, "ListUsers", "AccessDenied", ""));
    before_s.push((s - 1, "CreateUser", "AccessDenied", ""));
    let hunt_three = Dataset {
        hunt: Some(Schedule::Hourly),
        ..ds("planted-hunt", mk(&three), vec![])
    };
    vec![
        (ds("planted-classic", mk(&classic), vec![cutoff]), 1),
        (ds("planted-two-buckets", mk(&two_buckets), vec![cutoff]), 2),
        (ds("planted-three-buckets", mk(&three), vec![aligned]), 3),
        (ds("planted-trap", mk(&trap), vec![cutoff]), 0),
        (ds("planted-far-countries", mk(&far), vec![cutoff]), 0),
        (
            ds("planted-variance-n-minus-1", mk(&variance), vec![cutoff]),
            0,
        ),
        (
            ds("planted-variance-below", mk(&variance_below), vec![cutoff]),
            1,
        ),
        (
            ds("planted-country-at-cutoff", mk(&at_cutoff), vec![cutoff]),
            1,
        ),
        (
            ds(
                "planted-country-after-cutoff",
                mk(&after_cutoff),
                vec![cutoff],
            ),
            0,
        ),
        (ds("planted-denied-at-s", mk(&at_s), vec![cutoff]), 1),
        (
            ds("planted-denied-before-s", mk(&before_s), vec![cutoff]),
            1,
        ),
        // Runs at aligned − 1h (1 row: bucket aligned − 2h; the aligned − 1h bucket holds no
        // call at or before that cutoff), aligned (3 rows) and aligned + 1h (2 rows: the calls
        // at exactly `aligned` are in its last bin; buckets aligned − 1h and aligned match).
        (hunt_three, 6),
    ]
}

fn rust_rows(ds: &Dataset) -> Vec<D1Row> {
    match &ds.hunt {
        Some(schedule) => {
            let opts = HuntOptions {
                schedule: schedule.clone(),
                ..HuntOptions::default()
            };
            hunt(ds.params.clone(), opts, &ds.events).unwrap()
        }
        None => {
            let mut e = D1Engine::new(ds.params.clone()).unwrap();
            for ev in &ds.events {
                e.push(ev);
            }
            ds.cutoffs.iter().flat_map(|&c| e.evaluate_at(c)).collect()
        }
    }
}

fn event_json(e: &Event, rng: &mut Rng) -> Value {
    let time = if rng.chance(0.3) {
        json!(format_rfc3339(e.time))
    } else {
        json!(e.time)
    };
    let country = match e.country {
        Some(c) => json!(c.as_str()),
        None if rng.chance(0.5) => Value::Null,
        None => json!(""),
    };
    json!({
        "time": time, "arn": e.user.arn.as_str(), "key": e.user.access_key_id.as_str(),
        "name": e.event_name.as_str(), "error": e.error_code.as_str(), "country": country,
        "id": e.event_id.as_str(), "ip": e.source_ip.as_str(), "ua": e.user_agent.as_str(),
    })
}

fn oracle() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oracle/d1_reference.py")
}

/// Runs the Python reference over every data set in one process.
fn python_rows(datasets: &[Dataset]) -> Vec<Vec<Value>> {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(4242);
    let mut jobs = Vec::new();
    for (i, ds) in datasets.iter().enumerate() {
        let path = dir.path().join(format!("{i:04}.jsonl"));
        let mut text = String::new();
        for e in &ds.events {
            text.push_str(&event_json(e, &mut rng).to_string());
            text.push('\n');
        }
        std::fs::write(&path, text).unwrap();
        let mut job = json!({
            "events": path.to_str().unwrap(),
            "params": serde_json::to_value(&ds.params).unwrap(),
            "cutoffs": ds.cutoffs,
        });
        match &ds.hunt {
            Some(Schedule::Hourly) => job["hunt"] = json!(true),
            Some(Schedule::Every(step)) => {
                job["hunt"] = json!(true);
                job["every"] = json!(step.to_string());
            }
            Some(Schedule::At(_)) => unreachable!(),
            None => {}
        }
        jobs.push(job);
    }
    let manifest = dir.path().join("manifest.json");
    std::fs::write(&manifest, serde_json::to_string(&jobs).unwrap()).unwrap();
    let out = Command::new("python3")
        .arg(oracle())
        .arg("--batch")
        .arg(&manifest)
        .output()
        .expect("python3 is required by this test (the CI machine has it)");
    assert!(
        out.status.success(),
        "d1_reference.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("d1_reference.py printed JSON")
}

fn real(x: f64) -> Value {
    if x.is_nan() {
        json!("NaN")
    } else if x.is_infinite() {
        json!(if x > 0.0 { "Infinity" } else { "-Infinity" })
    } else {
        json!(x)
    }
}

/// A Rust row in the reference's JSON shape.
fn row_json(r: &D1Row) -> Value {
    let ev = &r.evidence;
    json!({
        "TimeGenerated": r.time_generated,
        "UserIdentityARNandKeyID": r.user_identity_arn_and_key_id,
        "DistinctSuccessfulEventSet": r.distinct_successful_event_set,
        "DistinctUnauthorizedEventSet": r.distinct_unauthorized_event_set,
        "DistinctUnauthorizedEventSetCount": r.distinct_unauthorized_event_set_count,
        "DistinctSuccessfulEventSetCount": r.distinct_successful_event_set_count,
        "TotalUnauthorizedEventsOutliers": real(r.total_unauthorized_events_outliers),
        "AverageUnauthorized": real(r.average_unauthorized),
        "StandardDeviationUnauthorized": real(r.standard_deviation_unauthorized),
        "VarianceUnauthorized": real(r.variance_unauthorized),
        "ZScore": real(r.z_score),
        "UserIdentityArn": r.user_arn,
        "UserIdentityAccessKeyId": r.access_key_id,
        "TimeGenerated1": r.evidence_hour,
        "SuccessfulEventCount": r.successful_event_count,
        "UnauthorizedEventCount": r.unauthorized_event_count,
        "DistinctSuccessfulEvents": r.distinct_successful_events,
        "DistinctUnauthorizedEvents": r.distinct_unauthorized_events,
        "MinUnauthorized": real(r.min_unauthorized),
        "MaxUnauthorized": real(r.max_unauthorized),
        "Cutoff": r.cutoff,
        "Evidence": {
            "count": ev.count, "first_seen": ev.first_seen, "last_seen": ev.last_seen,
            "event_ids": ev.event_ids, "source_ips": ev.source_ips, "countries": ev.countries,
            "user_agents": ev.user_agents, "event_names": ev.event_names,
        },
    })
}

const REALS: [&str; 7] = [
    "TotalUnauthorizedEventsOutliers",
    "AverageUnauthorized",
    "StandardDeviationUnauthorized",
    "VarianceUnauthorized",
    "ZScore",
    "MinUnauthorized",
    "MaxUnauthorized",
];

/// Compares two rows: reals within 1e-9 relative (non-finite ones equal), the rest exactly.
fn same_row(rust: &Value, py: &Value) -> Result<(), String> {
    let (r, p) = (rust.as_object().unwrap(), py.as_object().unwrap());
    let keys: Vec<&String> = r.keys().collect();
    let pkeys: Vec<&String> = p.keys().collect();
    let (mut ks, mut pks) = (keys.clone(), pkeys.clone());
    ks.sort();
    pks.sort();
    if ks != pks {
        return Err(format!("columns differ: {ks:?} vs {pks:?}"));
    }
    for k in keys {
        let (a, b) = (&r[k], &p[k]);
        if REALS.contains(&k.as_str()) {
            match (a.as_f64(), b.as_f64()) {
                (Some(x), Some(y)) => {
                    if x != y && (x - y).abs() > 1e-9 * x.abs().max(y.abs()) {
                        return Err(format!("{k}: {x} vs {y}"));
                    }
                }
                _ if a == b => {}
                _ => return Err(format!("{k}: {a} vs {b}")),
            }
        } else if a != b {
            return Err(format!("{k}: {a} vs {b}"));
        }
    }
    Ok(())
}

#[derive(Default, Debug)]
struct Coverage {
    datasets: usize,
    positive: usize,
    rows: usize,
    infinite: usize,
    finite: usize,
    two_buckets_non_aligned: usize,
    three_buckets: usize,
    bucket_at_cutoff: usize,
}

fn compare_all(datasets: &[Dataset]) -> Coverage {
    let py = python_rows(datasets);
    assert_eq!(py.len(), datasets.len());
    let mut cov = Coverage::default();
    let mut failures = Vec::new();
    for (ds, py_rows) in datasets.iter().zip(&py) {
        let rows = rust_rows(ds);
        cov.datasets += 1;
        cov.rows += rows.len();
        if !rows.is_empty() {
            cov.positive += 1;
        }
        let rust: Vec<Value> = rows.iter().map(row_json).collect();
        if rust.len() != py_rows.len() {
            let brief = |v: &[Value]| -> Vec<String> {
                v.iter()
                    .map(|r| {
                        format!(
                            "{} {} T={} h={} cutoff={}",
                            r["UserIdentityArn"],
                            r["UserIdentityAccessKeyId"],
                            r["TimeGenerated"],
                            r["TimeGenerated1"],
                            r["Cutoff"]
                        )
                    })
                    .collect()
            };
            failures.push(format!(
                "{}: {} Rust rows vs {} Python rows\n  rust: {:#?}\n  python: {:#?}",
                ds.name,
                rust.len(),
                py_rows.len(),
                brief(&rust),
                brief(py_rows)
            ));
            continue;
        }
        for (i, (a, b)) in rust.iter().zip(py_rows).enumerate() {
            if let Err(e) = same_row(a, b) {
                failures.push(format!("{} row {i}: {e}", ds.name));
            }
        }
        let mut per_bin: BTreeMap<(String, String, i64, i64), usize> = BTreeMap::new();
        for r in &rows {
            if r.total_unauthorized_events_outliers.is_infinite() {
                cov.infinite += 1;
            } else {
                cov.finite += 1;
            }
            if r.evidence_hour == r.cutoff {
                cov.bucket_at_cutoff += 1;
            }
            *per_bin
                .entry((
                    r.user_arn.clone(),
                    r.access_key_id.clone(),
                    r.time_generated,
                    r.cutoff,
                ))
                .or_default() += 1;
        }
        for ((_, _, _, cutoff), n) in per_bin {
            if n == 3 {
                cov.three_buckets += 1;
            }
            if n == 2 && cutoff % HOUR != 0 {
                cov.two_buckets_non_aligned += 1;
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
    cov
}

#[test]
fn single_cutoffs_match_the_python_reference() {
    let datasets: Vec<Dataset> = (0..150).map(single_cutoff_dataset).collect();
    let cov = compare_all(&datasets);
    println!("single cutoffs: {cov:?}");
    assert!(
        cov.positive * 10 >= cov.datasets * 3,
        "too few data sets with rows for the comparison to mean much: {cov:?}"
    );
    assert!(cov.infinite > 0 && cov.finite > 0, "{cov:?}");
    assert!(cov.two_buckets_non_aligned > 0, "{cov:?}");
    assert!(cov.three_buckets > 0 && cov.bucket_at_cutoff > 0, "{cov:?}");
}

#[test]
fn hunt_mode_matches_the_python_reference() {
    let datasets: Vec<Dataset> = (0..80).map(hunt_dataset).collect();
    let cov = compare_all(&datasets);
    println!("hunt: {cov:?}");
    assert!(
        cov.positive * 10 >= cov.datasets * 3,
        "too few data sets with rows for the comparison to mean much: {cov:?}"
    );
    assert!(cov.three_buckets > 0 && cov.bucket_at_cutoff > 0, "{cov:?}");
}

#[test]
fn planted_scenarios_match_the_python_reference_and_expectations() {
    let planted = planted();
    let datasets: Vec<Dataset> = planted.iter().map(|(d, _)| d.clone()).collect();
    compare_all(&datasets);
    for (ds, expected) in &planted {
        let rows = rust_rows(ds);
        assert_eq!(rows.len(), *expected, "{}", ds.name);
        match ds.name.as_str() {
            "planted-denied-at-s" => assert_eq!(rows[0].average_unauthorized, 5.0 / 336.0),
            "planted-denied-before-s" => assert_eq!(rows[0].average_unauthorized, 3.0 / 336.0),
            "planted-variance-below" => assert!(rows[0].variance_unauthorized > 0.047),
            _ => {}
        }
        for r in &rows {
            assert_eq!(r.total_unauthorized_events_outliers, f64::INFINITY);
            assert!(r.z_score > 2.0 && r.variance_unauthorized < 0.05);
        }
    }
    // The seed's list is the default.
    assert_eq!(
        Params::default().critical_api_calls,
        CRITICAL_API_CALLS.to_vec()
    );
}

#[test]
fn the_reference_runs_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let (ds, _) = planted().remove(0);
    let path = dir.path().join("events.jsonl");
    let mut rng = Rng(1);
    let text: String = ds
        .events
        .iter()
        .map(|e| event_json(e, &mut rng).to_string() + "\n")
        .collect();
    std::fs::write(&path, text).unwrap();
    let out = Command::new("python3")
        .arg(oracle())
        .arg(&path)
        .arg("--cutoff")
        .arg(format_rfc3339(ds.cutoffs[0]))
        .output()
        .expect("python3 is required by this test");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows.len(), 1);
    let (py_z, rust_z) = (
        rows[0]["ZScore"].as_f64().unwrap(),
        rust_rows(&ds)[0].z_score,
    );
    assert!(
        (py_z - rust_z).abs() <= 1e-9 * rust_z.abs(),
        "{py_z} vs {rust_z}"
    );
    assert_eq!(rows[0]["TotalUnauthorizedEventsOutliers"], "Infinity");
}
