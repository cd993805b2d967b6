use super::*;
use trailhound_model::{SECOND, UserIdentity};

const ARN: &str = "arn:aws:iam::123456789012:user/ops/alice";
const KEY: &str = "AKIAALICE00000000001";
/// 2023-11-15T00:00:00Z, on a day boundary.
const T0: i64 = 1_700_006_400 * SECOND;
const MIN: i64 = 60 * SECOND;

fn event(t: i64, arn: &str, key: &str, name: &str, error: &str, country: &str) -> Event {
    Event {
        time: t,
        event_name: name.into(),
        error_code: error.into(),
        source_ip: format!("198.51.100.{}", (t / SECOND) % 250).into(),
        user_agent: "aws-cli/2.15".into(),
        event_id: format!("id-{t}-{name}-{error}").into(),
        user: UserIdentity {
            arn: arn.into(),
            access_key_id: key.into(),
            ..UserIdentity::default()
        },
        country: Country::new(country),
        ..Event::default()
    }
}

fn ok(t: i64, name: &str, country: &str) -> Event {
    event(t, ARN, KEY, name, "", country)
}

fn denied(t: i64, name: &str) -> Event {
    event(t, ARN, KEY, name, "AccessDenied", "")
}

fn engine(events: &[Event]) -> D1Engine {
    let mut e = D1Engine::new(Params::default()).unwrap();
    for ev in events {
        e.push(ev);
    }
    e
}

/// Successful calls from two countries 2 h apart, 5 days before `cutoff`.
fn two_countries(cutoff: i64) -> Vec<Event> {
    vec![
        ok(cutoff - 5 * DAY, "ListBuckets", "US"),
        ok(cutoff - 5 * DAY + 2 * HOUR, "ListBuckets", "DE"),
    ]
}

fn spike_z() -> f64 {
    let mut x = vec![0.0; 336];
    x[335] = 3.0;
    let s = series::series_stats(&x).unwrap();
    (3.0 - s.avg) / s.stdev
}

#[test]
fn defaults_are_the_seeds() {
    let p = Params::default();
    assert_eq!(p.critical_api_calls.len(), 38);
    assert_eq!(p.critical_api_calls[0], "ConsoleLogin");
    assert_eq!(p.critical_api_calls[37], "ListSecrets");
    assert_eq!(p.lookback, Span::days(14));
    assert_eq!(p.window, Span::hours(8));
    assert_eq!(p.bin, Span::hours(1));
    assert_eq!(
        p.unauthorized_error_codes,
        vec!["AccessDenied", "Client.UnauthorizedOperation"]
    );
    assert_eq!(
        (
            p.outlier_score_above,
            p.variance_below,
            p.max_minus_min_at_least,
            p.z_score_above
        ),
        (1.0, 0.05, 2.0, 2.0)
    );
    assert_eq!(p.ignore_value, Some(1.0));
    assert_eq!(p.iqr_zero, IqrZero::Ieee);
    assert_eq!((SEVERITY, RISK_SCORE), (Severity::High, 73));
    assert_eq!(MITRE, &["T1087.004", "T1580", "T1059.009"]);
    p.validate().unwrap();

    let json = serde_json::to_value(&p).unwrap();
    assert_eq!(json["lookback"], "14d");
    assert_eq!(json["iqr_zero"], "ieee");
    let back: Params = serde_json::from_value(json).unwrap();
    assert_eq!(back, p);
    let partial: Params =
        serde_json::from_value(serde_json::json!({"window": "4h", "ignore_value": null})).unwrap();
    assert_eq!(partial.window, Span::hours(4));
    assert_eq!(partial.ignore_value, None);
    assert_eq!(partial.lookback, Span::days(14));
    assert!(serde_json::from_value::<Params>(serde_json::json!({"windows": "4h"})).is_err());
    assert!(serde_json::from_value::<Params>(serde_json::json!({"bin": "1 hour"})).is_err());
}

#[test]
fn params_are_validated() {
    let bad = |f: fn(&mut Params)| {
        let mut p = Params::default();
        f(&mut p);
        p.validate().unwrap_err()
    };
    assert!(matches!(
        bad(|p| p.bin = Span::hours(7)),
        ParamsError::Bin(_)
    ));
    assert!(matches!(
        bad(|p| p.bin = Span::from_nanos(0)),
        ParamsError::Bin(_)
    ));
    assert!(matches!(
        bad(|p| p.lookback = "14d30m".parse().unwrap()),
        ParamsError::Lookback(_)
    ));
    assert!(matches!(
        bad(|p| p.window = Span::from_nanos(MIN)),
        ParamsError::Window(_)
    ));
    assert!(matches!(
        bad(|p| p.critical_api_calls.clear()),
        ParamsError::ApiNames
    ));
    assert!(matches!(
        bad(|p| p.critical_api_calls = (0..129).map(|i| format!("N{i}")).collect()),
        ParamsError::ApiNames
    ));
    assert!(matches!(
        bad(|p| p.z_score_above = f64::NAN),
        ParamsError::Threshold
    ));
    assert!(matches!(
        Hunt::new(
            Params::default(),
            HuntOptions {
                schedule: Schedule::Every(Span::from_nanos(0)),
                ..HuntOptions::default()
            }
        ),
        Err(HuntError::Step)
    ));
}

#[test]
fn classic_spike_non_aligned_cutoff() {
    // 10:37:12.5 on day 10.
    let cutoff = T0 + 10 * DAY + 10 * HOUR + 37 * MIN + 12_500_000_000;
    let mut events = two_countries(cutoff);
    // Three distinct denied APIs (four calls) 50 minutes before the cutoff: bucket 09:00.
    for name in ["ListUsers", "GetSecretValue", "CreateUser", "ListUsers"] {
        events.push(denied(cutoff - 50 * MIN, name));
    }
    // One more at 10:27, bucket 10:00: too few names for that bucket to match.
    events.push(denied(cutoff - 10 * MIN, "ListUsers"));
    let rows = engine(&events).evaluate_at(cutoff);
    assert_eq!(rows.len(), 1, "{rows:#?}");
    let r = &rows[0];
    assert_eq!(r.time_generated, cutoff - HOUR);
    assert_eq!(r.evidence_hour, T0 + 10 * DAY + 9 * HOUR);
    // Sorted: upper-case "AKIA" sorts before "arn:".
    assert_eq!(r.user_identity_arn_and_key_id, vec![KEY, ARN]);
    assert_eq!(
        r.distinct_unauthorized_event_set,
        vec!["CreateUser", "GetSecretValue", "ListUsers"]
    );
    assert!(r.distinct_successful_event_set.is_empty());
    assert_eq!(r.distinct_unauthorized_event_set_count, 3);
    assert_eq!(r.distinct_successful_event_set_count, 0);
    assert_eq!(r.total_unauthorized_events_outliers, f64::INFINITY);
    assert_eq!(r.unauthorized_event_count, 5);
    assert_eq!(r.distinct_unauthorized_events, 3);
    assert_eq!(r.average_unauthorized, 3.0 / 336.0);
    assert_eq!(r.variance_unauthorized, (9.0 - 3.0 * (3.0 / 336.0)) / 335.0);
    assert_eq!(r.z_score, spike_z());
    assert!((r.z_score - 18.275_748_307_264_36).abs() < 1e-9);
    assert_eq!((r.min_unauthorized, r.max_unauthorized), (0.0, 3.0));
    assert_eq!(r.cutoff, cutoff);
    assert_eq!(r.evidence.count, 4);
    assert_eq!(r.evidence.first_seen, cutoff - 50 * MIN);
    assert!(r.evidence.countries.is_empty());

    // The KQL column names in JSON, +inf as "Infinity".
    let json = serde_json::to_value(r).unwrap();
    assert_eq!(json["TotalUnauthorizedEventsOutliers"], "Infinity");
    assert_eq!(json["DistinctUnauthorizedEventSetCount"], 3);
    assert_eq!(json["TimeGenerated"], format_rfc3339(cutoff - HOUR));
    assert!(json.get("evidence").is_none());

    // With the "zero" switch the same spike scores 0 and does not alert.
    let p = Params {
        iqr_zero: IqrZero::Zero,
        ..Params::default()
    };
    let mut e = D1Engine::new(p).unwrap();
    events.iter().for_each(|ev| e.push(ev));
    assert!(e.evaluate_at(cutoff).is_empty());
    // Nor does a run one hour later (the spike is no longer in the last bin).
    assert!(engine(&events).evaluate_at(cutoff + HOUR).is_empty());
}

#[test]
fn two_bucket_match_with_non_aligned_cutoff() {
    let cutoff = T0 + 3 * DAY + 20 * MIN;
    let mut events = two_countries(cutoff);
    // The bin [23:20, 00:20) spans buckets 23:00 and 00:00; both hold the same three names.
    for t in [cutoff - 55 * MIN, cutoff - 5 * MIN] {
        for name in ["ListUsers", "GetSecretValue", "CreateUser"] {
            events.push(denied(t, name));
        }
    }
    // A denied call at 23:10 is in bucket 23:00 but outside the bin.
    events.push(denied(cutoff - 70 * MIN, "DeleteTrail"));
    let rows = engine(&events).evaluate_at(cutoff);
    let hours: Vec<i64> = rows.iter().map(|r| r.evidence_hour).collect();
    assert_eq!(hours, vec![T0 + 3 * DAY - HOUR, T0 + 3 * DAY]);
    assert_eq!(rows[0].distinct_unauthorized_event_set_count, 4);
    assert_eq!(rows[1].distinct_unauthorized_event_set_count, 3);
    assert_eq!(rows[0].time_generated, rows[1].time_generated);
    assert_eq!(rows[0].evidence.count, 4);
}

#[test]
fn three_bucket_match_with_aligned_cutoff() {
    let cutoff = T0 + 4 * DAY;
    let mut events = two_countries(cutoff);
    // Two names in each of the buckets E−2h, E−1h and at exactly E.
    for t in [cutoff - 2 * HOUR + MIN, cutoff - HOUR + MIN, cutoff] {
        for name in ["ListUsers", "GetSecretValue"] {
            events.push(denied(t, name));
        }
    }
    // Later in the E bucket: not in [S, E], so not in that bucket's sets.
    events.push(denied(cutoff + MIN, "CreateUser"));
    let e = engine(&events);
    let rows = e.evaluate_at(cutoff);
    let hours: Vec<i64> = rows.iter().map(|r| r.evidence_hour).collect();
    assert_eq!(hours, vec![cutoff - 2 * HOUR, cutoff - HOUR, cutoff]);
    assert!(rows.iter().all(|r| r.time_generated == cutoff - HOUR));
    assert_eq!(
        rows[2].distinct_unauthorized_event_set,
        vec!["GetSecretValue", "ListUsers"]
    );
    assert_eq!(rows[2].evidence.count, 2);
    // The event at exactly E is not in the make-series: the bin holds 2 calls.
    assert_eq!(rows[0].unauthorized_event_count, 2);
    // Two non-zero bins of 2: variance (8 − 4·4/336)/335.
    assert_eq!(
        rows[0].variance_unauthorized,
        (8.0 - 4.0 * (4.0 / 336.0)) / 335.0
    );
    // Buckets and raw events agree.
    assert_eq!(e.evaluate_with(cutoff, false), rows);
}

#[test]
fn the_traps_count_nowhere() {
    let cutoff = T0 + 6 * DAY + 30 * MIN;
    let mut base = two_countries(cutoff);
    base.push(denied(cutoff - 20 * MIN, "ListUsers"));
    // Only one distinct denied API: max 1 < min + 2, no alert.
    assert!(engine(&base).evaluate_at(cutoff).is_empty());
    let with = |extra: Vec<Event>| {
        let mut v = base.clone();
        v.extend(extra);
        engine(&v).evaluate_at(cutoff)
    };
    let t = cutoff - 10 * MIN;
    // The real thing: a second distinct denied API.
    assert_eq!(with(vec![denied(t, "CreateUser")]).len(), 1);
    // AccessDeniedException and UnauthorizedOperation are not the seed's codes.
    assert!(
        with(vec![event(
            t,
            ARN,
            KEY,
            "CreateUser",
            "AccessDeniedException",
            ""
        )])
        .is_empty()
    );
    assert!(
        with(vec![event(
            t,
            ARN,
            KEY,
            "CreateUser",
            "UnauthorizedOperation",
            ""
        )])
        .is_empty()
    );
    assert_eq!(
        with(vec![event(
            t,
            ARN,
            KEY,
            "CreateUser",
            "Client.UnauthorizedOperation",
            ""
        )])
        .len(),
        1
    );
    // Names are case-sensitive; non-critical APIs do not count.
    assert!(with(vec![denied(t, "createuser")]).is_empty());
    assert!(with(vec![denied(t, "ListRoles")]).is_empty());
    // Another key or ARN is another series.
    assert!(
        with(vec![event(
            t,
            ARN,
            "AKIAOTHER0000000001",
            "CreateUser",
            "AccessDenied",
            ""
        )])
        .is_empty()
    );
    assert!(
        with(vec![event(
            t,
            "arn:aws:iam::1:user/b",
            KEY,
            "CreateUser",
            "AccessDenied",
            ""
        )])
        .is_empty()
    );
    // A successful call of another API in the bin: distinct unauthorized 2 >= successful 1.
    assert_eq!(
        with(vec![denied(t, "CreateUser"), ok(t, "GetObject", "")]).len(),
        1
    );
    // Two successful APIs in the bin: 2 >= 2 still passes; three do not.
    assert_eq!(
        with(vec![
            denied(t, "CreateUser"),
            ok(t, "GetObject", ""),
            ok(t, "ListBuckets", "")
        ])
        .len(),
        1
    );
    assert!(
        with(vec![
            denied(t, "CreateUser"),
            ok(t, "GetObject", ""),
            ok(t, "ListBuckets", ""),
            ok(t, "CopyObject", "")
        ])
        .is_empty()
    );

    // ASIA, lowercase and empty keys or ARNs are outside the view entirely.
    let e = D1Engine::new(Params::default()).unwrap();
    for (arn, key) in [
        (ARN, "ASIAALICE00000000001"),
        (ARN, "akiaALICE00000000001"),
        (ARN, "AKI"),
        (ARN, ""),
        ("", KEY),
    ] {
        assert!(!e.in_view(&event(t, arn, key, "CreateUser", "AccessDenied", "")));
    }
    assert!(e.in_view(&denied(t, "CreateUser")));
    assert!(!e.in_view(&denied(t, "createUser")));
}

#[test]
fn gate_names_the_countries_of_its_first_window() {
    let c = |s: &str| Country::new(s).unwrap();
    assert_eq!(
        gate_countries([(5, c("RU")), (0, c("US"))].into_iter(), 8),
        Some(vec![c("RU"), c("US")])
    );
    assert_eq!(
        gate_countries([(0, c("US")), (8, c("RU"))].into_iter(), 8),
        None
    );
    // The first window that meets the gate: US and DE at bins 0 and 3; RU later is not in it.
    assert_eq!(
        gate_countries(
            [
                (0, c("US")),
                (3, c("DE")),
                (3, c("US")),
                (20, c("RU")),
                (21, c("US"))
            ]
            .into_iter(),
            8
        ),
        Some(vec![c("DE"), c("US")])
    );
}

#[test]
fn gate_needs_two_countries_within_eight_start_aligned_bins() {
    // S = cutoff − 14 d is at hh:30, so the gate's bins run from hh:30 to hh+1:30.
    let cutoff = T0 + 8 * DAY + 30 * MIN;
    let s = cutoff - 14 * DAY;
    let spike = |v: &mut Vec<Event>| {
        for name in ["ListUsers", "CreateUser"] {
            v.push(denied(cutoff - 5 * MIN, name));
        }
    };
    let run = |a: i64, b: i64| {
        let mut v = vec![ok(a, "GetObject", "US"), ok(b, "GetObject", "DE")];
        spike(&mut v);
        v.sort_by_key(|e| e.time);
        !engine(&v).evaluate_at(cutoff).is_empty()
    };
    let base = s + 2 * DAY;
    // 7 h 59 m apart, bins 0 and 7: pass.
    assert!(run(base, base + 7 * HOUR + 59 * MIN));
    // 7 h 01 m apart, bins 0 and 8: fail.
    assert!(!run(base + 59 * MIN, base + 8 * HOUR));
    // Same bin: pass. The same country twice: fail.
    assert!(run(base, base + MIN));
    let mut same = vec![
        ok(base, "GetObject", "US"),
        ok(base + MIN, "GetObject", "US"),
    ];
    spike(&mut same);
    assert!(engine(&same).evaluate_at(cutoff).is_empty());
    // No country (private address) does not count as a country.
    let mut none = vec![ok(base, "GetObject", "US"), ok(base + MIN, "GetObject", "")];
    spike(&mut none);
    assert!(engine(&none).evaluate_at(cutoff).is_empty());
    // The gate only looks at [S, E]: a second country just before S does not count.
    assert!(!run(s - MIN, s + HOUR));
    assert!(run(s, s + HOUR));
    // An event at exactly E counts for the gate (between is inclusive) but 1 ns later does not.
    assert!(run(cutoff - 3 * HOUR, cutoff));
    assert!(!run(cutoff - 3 * HOUR, cutoff + 1));
}

#[test]
fn event_at_exactly_the_cutoff_is_in_no_series_bin() {
    // Aligned cutoff: the second distinct denied API comes at exactly E.
    let cutoff = T0 + 9 * DAY;
    let mut events = two_countries(cutoff);
    events.push(denied(cutoff - 30 * MIN, "ListUsers"));
    events.push(denied(cutoff, "CreateUser"));
    // The bin holds one distinct API only: max 1 < 0 + 2.
    assert!(engine(&events).evaluate_at(cutoff).is_empty());
    // One nanosecond earlier it is in the bin.
    events.pop();
    events.push(denied(cutoff - 1, "CreateUser"));
    let e = engine(&events);
    assert_eq!(e.evaluate_at(cutoff).len(), 1);
    assert_eq!(e.evaluate_with(cutoff, false), e.evaluate_at(cutoff));
}

#[test]
fn make_series_bins_start_exactly_at_s() {
    // Non-aligned S: an event at S − 1 ns is outside the series, at S it is bin 0, which makes
    // the series' distinct counts less quiet.
    let cutoff = T0 + 20 * DAY + 17 * MIN;
    let s = cutoff - 14 * DAY;
    let mut events = two_countries(cutoff);
    for name in ["ListUsers", "CreateUser", "GetSecretValue"] {
        events.push(denied(cutoff - MIN, name));
    }
    let quiet = engine(&events).evaluate_at(cutoff);
    assert_eq!(quiet.len(), 1);
    let mut more = events.clone();
    for name in ["ListUsers", "CreateUser"] {
        more.push(denied(s, name));
    }
    let r = engine(&more).evaluate_at(cutoff);
    assert_eq!(r[0].average_unauthorized, 5.0 / 336.0);
    let mut outside = events.clone();
    for name in ["ListUsers", "CreateUser"] {
        outside.push(denied(s - 1, name));
    }
    assert_eq!(engine(&outside).evaluate_at(cutoff), quiet);
}

#[test]
fn ignore_value_and_finite_outlier_scores() {
    // A key denied exactly once in many hours: those 1s are ignored by the percentiles.
    let cutoff = T0 + 15 * DAY;
    let mut events = two_countries(cutoff);
    let mut t = cutoff - 14 * DAY + 10 * MIN;
    while t < cutoff - 2 * HOUR {
        events.push(denied(t, "ListUsers"));
        t += HOUR;
    }
    for name in ["ListUsers", "CreateUser", "GetSecretValue"] {
        events.push(denied(cutoff - 30 * MIN, name));
    }
    events.sort_by_key(|e| e.time);
    let rows = engine(&events).evaluate_at(cutoff);
    // 334 bins of 1 (ignored), one 0, one 3: Q1 = Q3 = 0 among {0, 3}? No: percentiles over
    // [0, 3] are 0.75 and 2.25, so the score is finite: (3 − 2.25)/1.5 = 0.5, below 1.
    assert!(rows.is_empty());
    // Without the ignore value the 1s set Q1 = Q3 = 1 and the score is +inf.
    let p = Params {
        ignore_value: None,
        ..Params::default()
    };
    let mut e = D1Engine::new(p).unwrap();
    events.iter().for_each(|ev| e.push(ev));
    let rows = e.evaluate_at(cutoff);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].total_unauthorized_events_outliers, f64::INFINITY);
    assert_eq!(rows[0].min_unauthorized, 0.0);

    // Twos in every hour, a spike of 10 calls: non-zero IQR, finite score > 1.
    let mut events = two_countries(cutoff);
    let mut t = cutoff - 14 * DAY + 10 * MIN;
    let mut i = 0;
    while t < cutoff - HOUR {
        events.push(denied(t, "ListUsers"));
        events.push(denied(t + MIN, "ListUsers"));
        if i % 2 == 0 {
            events.push(denied(t + 2 * MIN, "ListUsers"));
        }
        t += HOUR;
        i += 1;
    }
    for k in 0..10 {
        let name = ["ListUsers", "CreateUser", "GetSecretValue"][k % 3];
        events.push(denied(cutoff - 30 * MIN + k as i64, name));
    }
    events.sort_by_key(|e| e.time);
    let e = engine(&events);
    let rows = e.evaluate_at(cutoff);
    assert_eq!(rows.len(), 1, "{rows:#?}");
    let score = rows[0].total_unauthorized_events_outliers;
    assert!(score.is_finite() && score > 1.0, "{score}");
    // Q1 = 2, Q3 = 3: (10 − 3)/1 = 7.
    assert_eq!(score, 7.0);
    assert_eq!(rows[0].min_unauthorized, 1.0);
    assert_eq!(e.evaluate_with(cutoff, false), rows);
}

/// A tiny deterministic generator for the property tests below.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len() as u64) as usize]
    }
}

/// Random view-heavy events over `days` days: quiet keys, bursts, country changes.
fn random_events(rng: &mut Rng, days: i64) -> Vec<Event> {
    let keys = [
        (ARN, KEY),
        ("arn:aws:iam::123456789012:user/bob", "AKIABOB0000000000001"),
        (
            "arn:aws:iam::123456789012:user/carol",
            "AKIACAROL00000000001",
        ),
    ];
    let names = [
        "ListUsers",
        "CreateUser",
        "GetSecretValue",
        "DeleteTrail",
        "GetObject",
    ];
    let countries = ["US", "DE", "", "FR"];
    let mut v = Vec::new();
    for (arn, key) in keys {
        for _ in 0..(days * 3) {
            let t = T0 + rng.below((days * DAY / SECOND) as u64) as i64 * SECOND;
            v.push(event(
                t,
                arn,
                key,
                rng.pick(&names),
                "",
                rng.pick(&countries),
            ));
        }
        for _ in 0..(1 + rng.below(4)) {
            let h = T0 + rng.below((days * 24) as u64) as i64 * HOUR;
            let on_hour = rng.below(3) == 0;
            for _ in 0..(2 + rng.below(5)) {
                let t = if on_hour {
                    h
                } else {
                    h + rng.below(3600) as i64 * SECOND
                };
                v.push(event(t, arn, key, rng.pick(&names), "AccessDenied", ""));
            }
        }
    }
    v.sort_by_key(|e| e.time);
    v
}

#[test]
fn buckets_and_raw_events_agree_on_aligned_cutoffs() {
    let mut rng = Rng(7);
    let mut total = 0;
    for _ in 0..8 {
        let events = random_events(&mut rng, 16);
        let e = engine(&events);
        for h in 24..=(16 * 24) {
            let cutoff = T0 + h * HOUR;
            let a = e.evaluate_with(cutoff, true);
            assert_eq!(a, e.evaluate_with(cutoff, false), "cutoff {cutoff}");
            total += a.len();
        }
    }
    assert!(total > 10, "too few rows to mean anything: {total}");
}

#[test]
fn hunt_equals_every_hourly_scheduled_run() {
    let mut rng = Rng(11);
    let mut total = 0;
    for _ in 0..6 {
        let events = random_events(&mut rng, 20);
        let rows = hunt(Params::default(), HuntOptions::default(), &events).unwrap();
        let e = engine(&events);
        let first = series::bin(events[0].time, HOUR) + HOUR;
        let last = series::bin(events.last().unwrap().time, HOUR) + HOUR;
        let mut expected = Vec::new();
        let mut cutoff = first;
        while cutoff <= last {
            expected.extend(e.evaluate_at(cutoff));
            cutoff += HOUR;
        }
        assert_eq!(rows, expected);
        total += rows.len();
    }
    assert!(total > 10, "too few rows to mean anything: {total}");
}

#[test]
fn hunt_with_a_custom_cadence_and_list() {
    let mut rng = Rng(5);
    let events = random_events(&mut rng, 18);
    let e = engine(&events);
    // Every 20 minutes: non-aligned cutoffs, evaluated from the raw events.
    let opts = HuntOptions {
        schedule: Schedule::Every("20m".parse().unwrap()),
        lateness: Span::from_nanos(0),
    };
    let rows = hunt(Params::default(), opts, &events).unwrap();
    let first = series::bin(events[0].time, HOUR) + HOUR;
    let max = events.last().unwrap().time;
    let mut expected = Vec::new();
    let mut cutoff = first;
    loop {
        expected.extend(e.evaluate_at(cutoff));
        if cutoff > max {
            break;
        }
        cutoff += 20 * MIN;
    }
    assert_eq!(rows, expected);
    assert!(!rows.is_empty());
    // A list with duplicates: each row once.
    let list = vec![first + 5 * DAY + 7, first + 5 * DAY + 7, first + 9 * DAY];
    let opts = HuntOptions {
        schedule: Schedule::At(list.clone()),
        ..HuntOptions::default()
    };
    let rows = hunt(Params::default(), opts, &events).unwrap();
    let mut expected = e.evaluate_at(list[0]);
    expected.extend(e.evaluate_at(list[2]));
    assert_eq!(rows, expected);
}

#[test]
fn hunt_state_stays_bounded_and_evaluates_only_candidates() {
    // 90 days, 4 keys, a call every 15 minutes, a denied pair every 6 hours.
    let keys = [
        "AKIAKEY0000000000001",
        "AKIAKEY0000000000002",
        "AKIAKEY0000000000003",
        "AKIAKEY0000000000004",
    ];
    let mut h = Hunt::new(Params::default(), HuntOptions::default()).unwrap();
    let mut max_seen = Retained::default();
    let mut unauthorized_bins = 0u64;
    let mut t = T0;
    let mut i = 0u64;
    while t < T0 + 90 * DAY {
        for (j, key) in keys.iter().enumerate() {
            let country = if (i / 40 + j as u64).is_multiple_of(2) {
                "US"
            } else {
                "GB"
            };
            h.push(&event(t, ARN, key, "GetObject", "", country));
            if i.is_multiple_of(24) {
                h.push(&event(t + 1, ARN, key, "ListUsers", "AccessDenied", ""));
                h.push(&event(t + 2, ARN, key, "CreateUser", "AccessDenied", ""));
                unauthorized_bins += 1;
            }
        }
        let r = h.engine().retained();
        max_seen.buckets = max_seen.buckets.max(r.buckets);
        max_seen.raw_events = max_seen.raw_events.max(r.raw_events);
        max_seen.unauthorized_index = max_seen.unauthorized_index.max(r.unauthorized_index);
        t += 15 * MIN;
        i += 1;
    }
    let rows = h.finish();
    assert_eq!(h.cutoffs_evaluated(), 90 * 24);
    // Buckets: (14 d + 8 h) plus up to 8 h between trims, plus the current hour, per key.
    let per_key = (14 * 24 + 8 + 8 + 2) as usize;
    assert!(max_seen.buckets <= keys.len() * per_key, "{max_seen:?}");
    assert!(max_seen.unauthorized_index <= per_key, "{max_seen:?}");
    // Raw events: only the last (2 h + 8 h + 8 h) are kept for evidence, 4 calls/h + denials.
    assert!(max_seen.raw_events <= keys.len() * 18 * 6, "{max_seen:?}");
    let stats = h.engine().stats();
    assert_eq!(stats.cutoffs_evaluated, 90 * 24);
    assert!(stats.series_evaluated <= unauthorized_bins, "{stats:?}");
    assert_eq!(stats.late_dropped, 0);
    // Every 6 h the same denied pair: variance too high after the first few days, so rows
    // come only from the beginning, while the series are still quiet.
    assert!(
        rows.iter().all(|r| r.time_generated < T0 + 14 * DAY),
        "{}",
        rows.len()
    );
}

#[test]
fn late_events_count_for_later_cutoffs_only() {
    let cutoff = T0 + 5 * DAY;
    let mut events = two_countries(cutoff);
    events.push(denied(cutoff - 20 * MIN, "ListUsers"));
    events.push(denied(cutoff - 10 * MIN, "CreateUser"));
    events.push(ok(cutoff + 3 * HOUR, "GetObject", ""));
    // In order: the cutoff sees both denials.
    let rows = hunt(Params::default(), HuntOptions::default(), &events).unwrap();
    assert_eq!(rows.len(), 1);
    // The second denial arrives after an event of cutoff + 3 h: the run at `cutoff` already
    // happened without it. With 4 h of allowed lateness it is waited for.
    let mut late = events.clone();
    let moved = late.remove(3);
    late.push(moved);
    assert!(
        hunt(Params::default(), HuntOptions::default(), &late)
            .unwrap()
            .is_empty()
    );
    let opts = HuntOptions {
        lateness: Span::hours(4),
        ..HuntOptions::default()
    };
    assert_eq!(hunt(Params::default(), opts, &late).unwrap(), rows);
}

#[test]
fn detector_alerts_once_per_series_bin() {
    let cutoff = T0 + 4 * DAY;
    let mut events = two_countries(cutoff);
    for t in [cutoff - 2 * HOUR + MIN, cutoff - HOUR + MIN, cutoff] {
        for name in ["ListUsers", "GetSecretValue"] {
            events.push(denied(t, name));
        }
    }
    let mut ds = crate::build_detectors(&BTreeMap::new()).unwrap();
    let d = &mut ds[0];
    assert_eq!(d.id(), RULE_ID);
    for e in &events {
        d.observe(e);
    }
    let mut alerts = d.drain();
    alerts.extend(d.finish());
    // Runs at E − 1h (bin [E−2h, E−1h): rows for buckets E−2h and E−1h), at E (three rows) and
    // at E + 1h (the calls at exactly E are in its last bin).
    assert_eq!(alerts.len(), 3, "{alerts:#?}");
    assert_eq!(alerts[2].time, cutoff);
    let a = &alerts[1];
    assert_eq!(a.rule_id, RULE_ID);
    assert_eq!(a.rule_name, RULE_NAME);
    assert_eq!((a.severity, a.risk_score), (Severity::High, 73));
    assert_eq!(a.access_key_id, KEY);
    assert_eq!(a.user_arn, ARN);
    assert_eq!(a.time, cutoff - HOUR);
    assert_eq!(a.first_seen, cutoff - 2 * HOUR + MIN);
    assert_eq!(a.last_seen, cutoff);
    assert_eq!(a.count, 6);
    assert_eq!(a.event_ids.len(), 6);
    assert_eq!(a.event_names, vec!["GetSecretValue", "ListUsers"]);
    assert_eq!(a.mitre, vec!["T1087.004", "T1580", "T1059.009"]);
    assert_eq!(
        a.remediation,
        format!(
            "aws iam update-access-key --access-key-id {KEY} --status Inactive --user-name alice"
        )
    );
    assert!(a.why.contains("z-score"), "{}", a.why);
    assert_eq!(a.details["TotalUnauthorizedEventsOutliers"], "Infinity");
    assert_eq!(a.details["Rows"].as_array().unwrap().len(), 3);
    assert_eq!(a.details["DistinctUnauthorizedEventSet"][1], "ListUsers");
    // Deterministic ids.
    let again = {
        let mut d = FailedApiSpike::new(Params::default(), HuntOptions::default()).unwrap();
        events.iter().for_each(|e| d.observe(e));
        d.finish()
    };
    let ids: Vec<&str> = alerts.iter().map(|a| a.id.as_str()).collect();
    let ids2: Vec<&str> = again.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, ids2);
    assert_ne!(ids[0], ids[1]);
    assert_ne!(ids[1], ids[2]);
}

#[test]
fn hunt_forgets_nothing_a_later_cutoff_needs() {
    // Denied calls every hour for 17 days with permissive thresholds, so that every cutoff
    // alerts and its statistics depend on all 336 bins: forgetting one bucket, raw event or
    // country too early changes a row.
    let p = Params {
        variance_below: 1e9,
        max_minus_min_at_least: -1e9,
        z_score_above: -1e9,
        outlier_score_above: -1e9,
        ..Params::default()
    };
    let mut rng = Rng(3);
    let names = ["ListUsers", "CreateUser", "GetSecretValue"];
    let mut events = Vec::new();
    let mut t = T0 + 17 * MIN;
    let mut i = 0;
    while t < T0 + 17 * DAY {
        let k = 1 + rng.below(3) as usize;
        for name in &names[..k] {
            let dt = rng.below(3600) as i64 * SECOND;
            events.push(denied(t + dt - 17 * MIN, name));
        }
        let country = if i % 5 == 0 { "DE" } else { "US" };
        events.push(ok(t, "GetObject", country));
        t += HOUR;
        i += 1;
    }
    events.sort_by_key(|e| e.time);
    let e = engine(&events);
    for schedule in [Schedule::Hourly, Schedule::Every("25m".parse().unwrap())] {
        let step = match &schedule {
            Schedule::Every(s) => s.nanos(),
            _ => HOUR,
        };
        let opts = HuntOptions {
            schedule,
            ..HuntOptions::default()
        };
        let mut h = Hunt::new(p.clone(), opts).unwrap();
        events.iter().for_each(|ev| h.push(ev));
        let rows = h.finish();
        let mut engine_p = D1Engine::new(p.clone()).unwrap();
        events.iter().for_each(|ev| engine_p.push(ev));
        let mut expected = Vec::new();
        let mut cutoff = series::bin(events[0].time, HOUR) + HOUR;
        let max = events.last().unwrap().time;
        loop {
            expected.extend(engine_p.evaluate_at(cutoff));
            if cutoff > max {
                break;
            }
            cutoff += step;
        }
        assert!(expected.len() > 300, "{}", expected.len());
        assert_eq!(rows.len(), expected.len());
        assert!(
            rows == expected,
            "hunt rows differ from full evaluations (step {step})"
        );
        // The default-parameter engine saw the same events: sanity of the permissive run.
        assert!(e.evaluate_at(T0 + 16 * DAY).len() <= rows.len());
    }
}

#[test]
fn hunt_jumps_over_gaps_in_the_data() {
    // One event in 2019, then a spike years later: the hunt does not walk every hour between.
    let cutoff = T0 + 3 * DAY;
    let mut events = vec![ok(T0 - 4 * 365 * DAY, "GetObject", "US")];
    events.extend(two_countries(cutoff));
    events.push(denied(cutoff - 30 * MIN, "ListUsers"));
    events.push(denied(cutoff - 20 * MIN, "CreateUser"));
    let mut h = Hunt::new(Params::default(), HuntOptions::default()).unwrap();
    events.iter().for_each(|e| h.push(e));
    let rows = h.finish();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].cutoff, cutoff);
    assert!(h.cutoffs_evaluated() < 200, "{}", h.cutoffs_evaluated());
}

#[test]
fn gate_closed_form_equals_sliding_window_counts() {
    // The gate's "two countries within w Start-aligned bins" equals "some sliding_window_counts
    // row has Dcount > 1", on random records.
    let mut rng = Rng(17);
    let (start, bin) = (T0 + 23 * MIN, HOUR);
    let end = start + 48 * HOUR + 7 * MIN;
    let countries: Vec<Country> = ["US", "DE", "FR"]
        .iter()
        .map(|c| Country::new(c).unwrap())
        .collect();
    let (mut yes, mut no) = (0, 0);
    for round in 0..400 {
        let w = 1 + (round % 9) as i64;
        let n = 1 + rng.below(6) as usize;
        let mut recs: Vec<(i64, Country)> = (0..n)
            .map(|_| {
                let t = start + rng.below(((end - start) / MIN) as u64 + 1) as i64 * MIN;
                (
                    t,
                    countries[rng.below(if round % 3 == 0 { 1 } else { 3 }) as usize],
                )
            })
            .collect();
        recs.sort_by_key(|r| r.0);
        let reference = series::sliding_window_counts(
            recs.iter().map(|&(t, c)| (t, (), c)),
            start,
            end,
            w * bin,
            bin,
        )
        .iter()
        .any(|row| row.dcount > 1);
        let items = || recs.iter().map(|&(t, c)| ((t - start) / bin, c));
        let gate = gate_countries(items(), w);
        assert_eq!(gate.is_some(), reference, "w={w} {recs:?}");
        // The countries do not depend on the order of the items.
        assert_eq!(gate_countries(items().rev(), w), gate);
        if let Some(g) = &gate {
            assert!(g.len() >= 2 && g.windows(2).all(|p| p[0] < p[1]), "{g:?}");
        }
        if reference { yes += 1 } else { no += 1 }
    }
    assert!(yes > 50 && no > 50, "{yes} {no}");
}
