//! End-to-end checks of generated data sets: layout, determinism, volume, record shape, the
//! clean-background invariants (checked with small reference versions of rules D1-D4), and the
//! planted scenarios.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde_json::Value;
use trailhound_generate::{
    CRITICAL_API_CALLS, GenerateConfig, Manifest, Scenario, UNAUTHORIZED_CODES, generate,
};
use trailhound_geo::GeoIp;
use trailhound_model::{DAY, SECOND, parse_rfc3339};

fn geo() -> &'static GeoIp {
    static GEO: OnceLock<GeoIp> = OnceLock::new();
    GEO.get_or_init(GeoIp::embedded)
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("trailhound-generate-tests")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Relative path → bytes of every file under `dir`.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .unwrap();
    out
}

/// A parsed record and the file it came from.
struct Rec {
    file: String,
    v: Value,
}

impl Rec {
    fn s(&self, path: &[&str]) -> &str {
        let mut v = &self.v;
        for p in path {
            v = &v[*p];
        }
        v.as_str().unwrap_or("")
    }
    fn time(&self) -> i64 {
        parse_rfc3339(self.s(&["eventTime"])).unwrap() / SECOND
    }
    fn key(&self) -> &str {
        self.s(&["userIdentity", "accessKeyId"])
    }
    fn ip(&self) -> &str {
        self.s(&["sourceIPAddress"])
    }
    fn error(&self) -> &str {
        self.s(&["errorCode"])
    }
    fn name(&self) -> &str {
        self.s(&["eventName"])
    }
    fn id(&self) -> &str {
        self.s(&["eventID"])
    }
}

struct DataSet {
    cfg: GenerateConfig,
    manifest: Manifest,
    files: BTreeMap<String, Vec<u8>>,
    recs: Vec<Rec>,
    /// Total size of the decompressed files.
    raw_bytes: u64,
}

fn parse(files: &BTreeMap<String, Vec<u8>>) -> (Vec<Rec>, u64) {
    let mut recs = Vec::new();
    let mut raw_bytes = 0;
    for (name, bytes) in files {
        if !name.ends_with(".json.gz") {
            continue;
        }
        let raw = gunzip(bytes);
        raw_bytes += raw.len() as u64;
        let doc: Value =
            serde_json::from_slice(&raw).unwrap_or_else(|e| panic!("{name} is not JSON: {e}"));
        let Value::Array(items) = doc["Records"].clone() else {
            panic!("{name} has no Records array");
        };
        assert!(!items.is_empty(), "{name} is empty");
        recs.extend(items.into_iter().map(|v| Rec {
            file: name.clone(),
            v,
        }));
    }
    (recs, raw_bytes)
}

/// The main data set: defaults scaled down.
fn data() -> &'static DataSet {
    static DATA: OnceLock<DataSet> = OnceLock::new();
    DATA.get_or_init(|| {
        let cfg = GenerateConfig {
            events: 4_000,
            keys: 5,
            // Stored deflate blocks: valid gzip, and fast in debug builds (the determinism test
            // uses the default level).
            compression_level: 0,
            ..GenerateConfig::default()
        };
        let dir = scratch("main");
        let manifest = generate(&cfg, geo(), &dir).unwrap();
        let files = files(&dir);
        let (recs, raw_bytes) = parse(&files);
        DataSet {
            cfg,
            manifest,
            files,
            recs,
            raw_bytes,
        }
    })
}

fn start_secs(cfg: &GenerateConfig) -> i64 {
    cfg.start / SECOND
}

#[test]
fn same_seed_same_bytes_other_seed_other_data() {
    let cfg = GenerateConfig {
        events: 600,
        keys: 2,
        days: 14,
        seed: 77,
        ..GenerateConfig::default()
    };
    let (a, b, c) = (scratch("det-a"), scratch("det-b"), scratch("det-c"));
    let ma = generate(&cfg, geo(), &a).unwrap();
    // The same bytes with one thread as with the default pool.
    let mb = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap()
        .install(|| generate(&cfg, geo(), &b))
        .unwrap();
    assert_eq!(ma, mb);
    let (fa, fb) = (files(&a), files(&b));
    assert_eq!(fa.keys().collect::<Vec<_>>(), fb.keys().collect::<Vec<_>>());
    assert!(fa == fb, "same configuration, different bytes");

    let other = GenerateConfig {
        seed: 78,
        ..cfg.clone()
    };
    let mc = generate(&other, geo(), &c).unwrap();
    let fc = files(&c);
    assert_ne!(ma.keys, mc.keys);
    assert_ne!(ma.accounts, mc.accounts);
    assert!(fa.keys().collect::<BTreeSet<_>>() != fc.keys().collect::<BTreeSet<_>>());
    // The returned manifest is what was written, and reads back.
    let text = std::fs::read_to_string(a.join("manifest.json")).unwrap();
    assert_eq!(text, serde_json::to_string_pretty(&ma).unwrap() + "\n");
    let written: Manifest = serde_json::from_str(&text).unwrap();
    assert_eq!(written.keys, ma.keys);
    assert_eq!(written.config, ma.config);
    assert_eq!(written.scenarios.len(), ma.scenarios.len());
}

#[test]
fn files_follow_the_s3_delivery_layout() {
    let d = data();
    let accounts: HashSet<&str> = d
        .manifest
        .accounts
        .iter()
        .map(|a| a.account_id.as_str())
        .collect();
    let mut n_files = 0;
    let mut by_file: HashMap<&str, Vec<&Rec>> = HashMap::new();
    for r in &d.recs {
        by_file.entry(r.file.as_str()).or_default().push(r);
    }
    for name in d.files.keys() {
        if name == "manifest.json" {
            continue;
        }
        n_files += 1;
        let parts: Vec<&str> = name.split('/').collect();
        assert_eq!(parts.len(), 8, "{name}");
        let [aws, account, ct, region, yyyy, mm, dd, file] = parts[..] else {
            unreachable!()
        };
        assert_eq!((aws, ct), ("AWSLogs", "CloudTrail"));
        assert!(accounts.contains(account), "{name}");
        let prefix = format!("{account}_CloudTrail_{region}_{yyyy}{mm}{dd}T");
        assert!(file.starts_with(&prefix), "{name}");
        let rest = &file[prefix.len()..];
        assert_eq!(rest.len(), "HHMMZ_".len() + 16 + ".json.gz".len(), "{name}");
        let (hhmm, tail) = rest.split_at(4);
        assert!(hhmm.bytes().all(|b| b.is_ascii_digit()) && tail.starts_with("Z_"));
        let id = &tail[2..18];
        assert!(id.bytes().all(|b| b.is_ascii_alphanumeric()), "{name}");
        assert!(tail.ends_with(".json.gz"));
        let minute: i64 = hhmm[2..].parse().unwrap();
        assert_eq!(minute % 5, 0, "{name}");
        let end = parse_rfc3339(&format!(
            "{yyyy}-{mm}-{dd}T{}:{}:00Z",
            &hhmm[..2],
            &hhmm[2..]
        ))
        .unwrap()
            / SECOND;

        let recs = &by_file[name.as_str()];
        let mut last = i64::MIN;
        for r in recs {
            let t = r.time();
            assert!(t >= last, "{name}: records not in time order");
            last = t;
            assert!(
                t >= end - 300 && t < end,
                "{name}: event at {t} outside its period"
            );
            assert_eq!(r.s(&["recipientAccountId"]), account);
            assert_eq!(r.s(&["awsRegion"]), region);
        }
    }
    assert_eq!(n_files, d.manifest.files);
    assert!(d.files.contains_key("manifest.json"));
}

#[test]
fn volume_and_record_size() {
    let d = data();
    let n = d.recs.len() as u64;
    assert_eq!(n, d.manifest.events);
    let want = d.cfg.events as f64;
    assert!(
        (n as f64 - want).abs() <= want * 0.05,
        "{n} events for {want} requested"
    );
    let raw = d.raw_bytes;
    assert_eq!(raw, d.manifest.uncompressed_bytes);
    let gz: u64 = d
        .files
        .iter()
        .filter(|(k, _)| k.ends_with(".gz"))
        .map(|(_, v)| v.len() as u64)
        .sum();
    assert_eq!(gz, d.manifest.compressed_bytes);
    let avg = raw as f64 / n as f64;
    assert!(
        (1000.0..=1500.0).contains(&avg),
        "average record {avg} bytes"
    );
    assert_eq!(
        d.manifest.background_events + d.manifest.planted_events,
        d.manifest.events
    );
    assert!(d.manifest.warnings.is_empty(), "{:?}", d.manifest.warnings);
}

#[test]
fn volume_scales_from_tiny_to_larger() {
    for (events, days) in [(1_500u64, 3u32), (5_000, 1)] {
        let cfg = GenerateConfig {
            events,
            days,
            keys: 5,
            scenarios: vec![],
            compression_level: 1,
            ..GenerateConfig::default()
        };
        let m = generate(&cfg, geo(), &scratch(&format!("vol-{events}"))).unwrap();
        let err = (m.events as f64 - events as f64).abs() / events as f64;
        assert!(err <= 0.05, "{} events for {events}", m.events);
        assert!(m.scenarios.is_empty() && m.decoys.is_empty());
        let avg = m.uncompressed_bytes as f64 / m.events as f64;
        assert!((1000.0..=1500.0).contains(&avg), "{avg}");
    }
}

#[test]
fn every_record_has_the_cloudtrail_shape() {
    let d = data();
    let mut ids = HashSet::new();
    let start = start_secs(&d.cfg);
    let end = start + i64::from(d.cfg.days) * DAY / SECOND;
    for r in &d.recs {
        let v = &r.v;
        for f in [
            "eventVersion",
            "eventTime",
            "eventSource",
            "eventName",
            "awsRegion",
            "sourceIPAddress",
            "userAgent",
            "eventID",
            "eventType",
            "recipientAccountId",
            "eventCategory",
        ] {
            assert!(
                v[f].as_str().is_some_and(|s| !s.is_empty()),
                "{f} missing in {v}"
            );
        }
        assert!(v["readOnly"].is_boolean() && v["managementEvent"].is_boolean());
        assert!(v.get("requestParameters").is_some() && v.get("responseElements").is_some());
        let time = r.s(&["eventTime"]);
        assert_eq!(time.len(), 20, "{time}");
        assert!(time.ends_with('Z'));
        let t = r.time();
        assert!(t >= start && t < end, "{time} outside the period");
        assert!(
            ids.insert(r.id().to_owned()),
            "duplicate eventID {}",
            r.id()
        );
        assert_eq!(r.id().len(), 36);
        let ui = &v["userIdentity"];
        let kind = ui["type"].as_str().unwrap();
        match kind {
            "IAMUser" => {
                for f in ["principalId", "arn", "accountId", "userName"] {
                    assert!(ui[f].is_string(), "{f} in {ui}");
                }
                if r.name() == "ConsoleLogin" {
                    assert_eq!(v["eventType"], "AwsConsoleSignIn");
                } else {
                    assert!(r.key().starts_with("AKIA") || r.key().starts_with("ASIA"));
                    assert!(v["requestID"].is_string());
                }
            }
            "AssumedRole" => {
                assert!(r.key().starts_with("ASIA"), "{ui}");
                assert!(ui["sessionContext"]["sessionIssuer"]["arn"].is_string());
                assert!(ui["arn"].as_str().unwrap().starts_with("arn:aws:sts::"));
            }
            "AWSService" => {
                assert!(ui["invokedBy"].is_string());
                assert!(
                    trailhound_geo::classify(r.ip()).0 == trailhound_geo::AddressKind::AwsService
                );
            }
            other => panic!("unexpected identity type {other}"),
        }
        let key = r.key();
        if !key.is_empty() {
            assert_eq!(key.len(), 20, "{key}");
            assert!(
                key.bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
            );
        }
        if v["eventType"] == "AwsApiCall" && ui["type"] != "AWSService" {
            assert!(
                v["tlsDetails"]["tlsVersion"].is_string() || r.ip().ends_with(".amazonaws.com")
            );
        }
        if !r.error().is_empty() {
            assert!(v["errorMessage"].is_string());
        }
    }
    // A realistic mix.
    let count = |f: &dyn Fn(&Rec) -> bool| d.recs.iter().filter(|r| f(r)).count();
    assert!(count(&|r| r.key().starts_with("AKIA")) > d.recs.len() / 5);
    assert!(count(&|r| r.key().starts_with("ASIA")) > d.recs.len() / 5);
    assert!(count(&|r| r.ip() == "AWS Internal" || r.ip().ends_with(".amazonaws.com")) > 100);
    let errors = count(&|r| !r.error().is_empty()) as f64 / d.recs.len() as f64;
    assert!((0.005..0.05).contains(&errors), "error rate {errors}");
    let regions: HashSet<&str> = d.recs.iter().map(|r| r.s(&["awsRegion"])).collect();
    assert!(regions.len() >= 6, "{regions:?}");
    let agents: HashSet<&str> = d.recs.iter().map(|r| r.s(&["userAgent"])).collect();
    for needle in [
        "aws-cli/",
        "Boto3/",
        "Terraform/",
        "Mozilla/5.0",
        "AWS Internal",
    ] {
        assert!(
            agents.iter().any(|a| a.contains(needle)),
            "no {needle} agent"
        );
    }
}

/// Event ids planted by scenarios and decoys.
fn planted_ids(m: &Manifest) -> HashSet<String> {
    m.scenarios
        .iter()
        .flat_map(|s| s.events.iter())
        .chain(m.decoys.iter().flat_map(|d| d.events.iter()))
        .map(|e| e.event_id.clone())
        .collect()
}

fn country(ip: &str) -> Option<String> {
    geo().country(ip).map(|c| c.to_string())
}

#[test]
fn background_keys_are_clean() {
    let d = data();
    let planted = planted_ids(&d.manifest);
    let start = start_secs(&d.cfg);
    let days = i64::from(d.cfg.days);
    let inventory: HashMap<&str, &trailhound_generate::KeyInfo> = d
        .manifest
        .keys
        .iter()
        .map(|k| (k.access_key_id.as_str(), k))
        .collect();
    assert_eq!(
        inventory.len(),
        d.manifest.keys.len(),
        "duplicate key ids in the inventory"
    );
    assert!(
        d.manifest
            .keys
            .iter()
            .filter(|k| k.usage == "background")
            .count()
            == d.cfg.keys as usize
    );
    let mut countries: HashMap<&str, HashSet<String>> = HashMap::new();
    let mut first_seen: HashMap<(&str, &str), i64> = HashMap::new();
    let mut daily_ok: HashSet<(&str, &str, i64)> = HashSet::new();
    for r in &d.recs {
        let key = r.key();
        if !key.starts_with("AKIA") || planted.contains(r.id()) {
            continue;
        }
        let info = inventory
            .get(key)
            .expect("every AKIA key is in the inventory");
        assert_eq!(r.s(&["userIdentity", "arn"]), info.user_arn);
        assert!(
            !UNAUTHORIZED_CODES.contains(&r.error()),
            "background AKIA event with {}",
            r.error()
        );
        assert!(
            info.source_ips.iter().any(|s| s.ip == r.ip()),
            "{key} from an address outside its inventory"
        );
        assert_eq!(r.s(&["userAgent"]), info.user_agent, "{key} changed agent");
        countries
            .entry(key)
            .or_default()
            .insert(country(r.ip()).expect("AKIA background addresses are public"));
        let t = r.time();
        let e = first_seen.entry((key, r.ip())).or_insert(t);
        *e = (*e).min(t);
        if r.error().is_empty() {
            daily_ok.insert((key, r.ip(), (t - start) / (DAY / SECOND)));
        }
    }
    for k in &d.manifest.keys {
        let c = &countries[k.access_key_id.as_str()];
        assert_eq!(c.len(), 1, "{} seen from {c:?}", k.access_key_id);
        assert!(c.contains(&k.home_country));
        for s in &k.source_ips {
            assert_eq!(country(&s.ip).as_deref(), Some(k.home_country.as_str()));
            let first = first_seen[&(k.access_key_id.as_str(), s.ip.as_str())];
            assert!(
                first < start + DAY / SECOND,
                "{} first used {} after day 1",
                s.ip,
                first - start
            );
            for day in 0..days {
                assert!(
                    daily_ok.contains(&(k.access_key_id.as_str(), s.ip.as_str(), day)),
                    "{} / {} has no successful call on day {day}",
                    k.access_key_id,
                    s.ip
                );
            }
        }
    }
}

/// What small reference versions of D2, D3 and D4 raise on the whole data set:
/// (rule, key, RFC 3339 time).
fn reference_alerts(d: &DataSet) -> BTreeSet<(String, String, String)> {
    let start = start_secs(&d.cfg);
    let warm_up = start + 10 * DAY / SECOND;
    let window = 10 * DAY / SECOND;
    let mut akia: Vec<&Rec> = d
        .recs
        .iter()
        .filter(|r| r.key().starts_with("AKIA"))
        .collect();
    akia.sort_by_key(|r| r.time());
    let mut ip_seen: HashMap<(&str, &str), i64> = HashMap::new();
    let mut ua_seen: HashMap<(&str, &str), i64> = HashMap::new();
    let mut out = BTreeSet::new();
    let fmt = |t: i64| trailhound_model::format_rfc3339(t * SECOND);
    let mut d3_pairs = HashSet::new();
    for r in akia {
        let t = r.time();
        let (key, ip, ua) = (r.key(), r.ip(), r.s(&["userAgent"]));
        let ip_new = ip_seen
            .get(&(key, ip))
            .is_none_or(|&last| t - last > window);
        let ua_new = ua_seen
            .get(&(key, ua))
            .is_none_or(|&last| t - last > window);
        if t >= warm_up {
            if ip_new && r.error().is_empty() {
                out.insert(("aws-akia-first-seen-source-ip".into(), key.into(), fmt(t)));
            }
            if ip_new && ua_new && d3_pairs.insert((key, ip)) {
                out.insert(("aws-iam-user-agent-new-ip".into(), key.into(), fmt(t)));
            }
        }
        if UNAUTHORIZED_CODES.contains(&r.error()) {
            out.insert((
                "aws-akia-unauthorized-api-call".into(),
                key.into(),
                fmt(t - t.rem_euclid(3600)),
            ));
        }
        // Only successful events make an address "seen" for D2.
        if r.error().is_empty() {
            ip_seen.insert((key, ip), t);
        }
        ua_seen.insert((key, ua), t);
    }
    out
}

#[test]
fn only_the_planted_alerts_fire() {
    let d = data();
    let mut expected = BTreeSet::new();
    for a in d
        .manifest
        .scenarios
        .iter()
        .flat_map(|s| s.expected_alerts.iter())
        .chain(
            d.manifest
                .decoys
                .iter()
                .flat_map(|d| d.expected_alerts.iter()),
        )
    {
        if [
            "aws-akia-first-seen-source-ip",
            "aws-iam-user-agent-new-ip",
            "aws-akia-unauthorized-api-call",
        ]
        .contains(&a.rule_id.as_str())
        {
            expected.insert((a.rule_id.clone(), a.access_key_id.clone(), a.time.clone()));
        }
    }
    assert_eq!(reference_alerts(d), expected);
}

#[test]
fn only_the_spike_key_has_denied_critical_calls() {
    let d = data();
    let critical: HashSet<&str> = CRITICAL_API_CALLS.into_iter().collect();
    // (key, hour) -> distinct denied critical names (D1's DistinctUnauthorizedEvents).
    let mut bins: BTreeMap<(&str, i64), BTreeSet<&str>> = BTreeMap::new();
    let mut countries: BTreeMap<&str, Vec<(i64, String)>> = BTreeMap::new();
    for r in &d.recs {
        if !r.key().starts_with("AKIA") || !critical.contains(r.name()) {
            continue;
        }
        let hour = r.time().div_euclid(3600);
        if ["AccessDenied", "Client.UnauthorizedOperation"].contains(&r.error()) {
            bins.entry((r.key(), hour)).or_default().insert(r.name());
        }
        if let Some(c) = country(r.ip()) {
            countries.entry(r.key()).or_default().push((hour, c));
        }
    }
    let spike = d
        .manifest
        .scenarios
        .iter()
        .find(|s| s.name == "failed-api-spike")
        .unwrap();
    let d1 = &spike.expected_alerts[0];
    assert_eq!(d1.rule_id, "aws-akia-failed-api-spike");
    let bin = parse_rfc3339(&d1.time).unwrap() / SECOND / 3600;
    let want: BTreeMap<(&str, i64), BTreeSet<&str>> = [(
        (spike.access_key_id.as_str(), bin),
        ["CreateUser", "DescribeInstances", "ListUsers"]
            .into_iter()
            .collect(),
    )]
    .into_iter()
    .collect();
    assert_eq!(bins, want);
    // The two-country gate of D1 (critical calls from two countries within 8 hours) holds for
    // the spike key, and otherwise only for scenario keys whose other country is the attack.
    let scenario_keys: HashSet<&str> = d
        .manifest
        .scenarios
        .iter()
        .map(|s| s.access_key_id.as_str())
        .collect();
    for (key, seen) in &countries {
        let two = seen
            .iter()
            .any(|(h, c)| seen.iter().any(|(h2, c2)| c2 != c && (h2 - h).abs() < 8));
        if *key == spike.access_key_id {
            assert!(two);
        } else {
            assert!(!two || scenario_keys.contains(key), "{key}");
        }
    }
}

#[test]
fn scenarios_are_where_the_manifest_says() {
    let d = data();
    assert_eq!(
        d.manifest
            .scenarios
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>(),
        Scenario::ALL.iter().map(|s| s.name()).collect::<Vec<_>>()
    );
    assert_eq!(d.manifest.decoys.len(), 5);
    let by_id: HashMap<&str, &Rec> = d.recs.iter().map(|r| (r.id(), r)).collect();
    let start = start_secs(&d.cfg);
    let all_events = d
        .manifest
        .scenarios
        .iter()
        .flat_map(|s| s.events.iter())
        .chain(d.manifest.decoys.iter().flat_map(|d| d.events.iter()));
    for e in all_events {
        let r = by_id
            .get(e.event_id.as_str())
            .unwrap_or_else(|| panic!("planted event {} missing", e.event_id));
        assert_eq!(r.file, e.file);
        assert_eq!(r.s(&["eventTime"]), e.time);
        assert_eq!(r.name(), e.event_name);
        assert_eq!(r.s(&["eventSource"]), e.event_source);
        assert_eq!(r.s(&["awsRegion"]), e.aws_region);
        assert_eq!(r.ip(), e.source_ip);
        assert_eq!(r.s(&["userAgent"]), e.user_agent);
        assert_eq!(r.key(), e.access_key_id);
        assert_eq!(country(r.ip()), e.country);
        assert_eq!(
            (!r.error().is_empty()).then(|| r.error().to_owned()),
            e.error_code
        );
    }
    for s in &d.manifest.scenarios {
        let attack: Vec<_> = s
            .events
            .iter()
            .filter(|e| e.step != "history" && e.step != "gate")
            .collect();
        for e in &attack {
            let t = parse_rfc3339(&e.time).unwrap() / SECOND;
            assert!(
                t >= start + 10 * DAY / SECOND,
                "{} before the warm-up ends",
                s.name
            );
            assert_eq!(e.access_key_id, s.access_key_id);
        }
        for a in &s.expected_alerts {
            assert_eq!(a.access_key_id, s.access_key_id);
            assert_eq!(a.user_arn, s.user_arn);
            assert_eq!(a.count as usize, a.event_ids.len());
            for id in &a.event_ids {
                let r = by_id[id.as_str()];
                assert_eq!(r.key(), s.access_key_id);
                assert!(a.source_ips.iter().any(|ip| ip == r.ip()));
                assert!(a.countries.contains(&country(r.ip()).unwrap()));
                assert!(a.event_names.iter().any(|n| n == r.name()));
            }
            for ip in &a.source_ips {
                assert!(!s.home_country.is_empty());
                let c = country(ip).unwrap();
                if s.name == "first-seen-ip" || s.name == "unauthorized-burst" {
                    assert_eq!(c, s.home_country);
                } else {
                    assert_ne!(c, s.home_country);
                }
            }
        }
        let rules: Vec<&str> = s
            .expected_alerts
            .iter()
            .map(|a| a.rule_id.as_str())
            .collect();
        assert!(rules.contains(&s.rule_id.as_str()));
        for r in &s.not_expected {
            assert!(!rules.contains(&r.as_str()));
        }
    }
    // D1: the burst lies in the alert's hour, with the exact KQL statistics.
    let spike = &d.manifest.scenarios[0];
    let d1 = &spike.expected_alerts[0];
    let bin = parse_rfc3339(&d1.time).unwrap() / SECOND;
    assert_eq!(bin % 3600, 0);
    for id in &d1.event_ids {
        let t = by_id[id.as_str()].time();
        assert!(t >= bin && t < bin + 3600);
    }
    assert_eq!(d1.count, 12);
    assert_eq!(d1.details["DistinctUnauthorizedEventSetCount"], 3);
    let z = d1.details["ZScore"].as_f64().unwrap();
    assert!((z - 18.2757).abs() < 1e-3, "{z}");
    assert!(d1.details["VarianceUnauthorized"].as_f64().unwrap() < 0.05);
    let gate: Vec<&str> = d1.details["gate_countries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert_eq!(gate.len(), 2);
    assert_ne!(gate[0], gate[1]);
}

#[test]
fn short_periods_skip_scenarios_and_busy_folders_are_refused() {
    let cfg = GenerateConfig {
        events: 800,
        days: 2,
        keys: 2,
        ..GenerateConfig::default()
    };
    let dir = scratch("short");
    let m = generate(&cfg, geo(), &dir).unwrap();
    assert!(m.scenarios.is_empty() && m.decoys.is_empty());
    assert_eq!(m.warnings.len(), 1, "{:?}", m.warnings);
    let err = generate(&cfg, geo(), &dir).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists);
    let bad = GenerateConfig { days: 0, ..cfg };
    assert!(generate(&bad, geo(), &scratch("zero-days")).is_err());
}

#[test]
fn unaligned_start_keeps_events_in_range_and_bins_on_the_hour() {
    let start = parse_rfc3339("2026-03-07T10:37:12Z").unwrap();
    let cfg = GenerateConfig {
        events: 1_000,
        keys: 2,
        days: 14,
        start,
        seed: 5,
        compression_level: 0,
        ..GenerateConfig::default()
    };
    let dir = scratch("unaligned");
    let m = generate(&cfg, geo(), &dir).unwrap();
    assert_eq!(m.start, "2026-03-07T10:37:12Z");
    assert_eq!(m.end, "2026-03-21T10:37:12Z");
    let (recs, _) = parse(&files(&dir));
    assert_eq!(recs.len() as u64, m.events);
    let (s, e) = (start / SECOND, start / SECOND + 14 * DAY / SECOND);
    assert!(recs.iter().all(|r| r.time() >= s && r.time() < e));
    for sc in &m.scenarios {
        for a in &sc.expected_alerts {
            if a.rule_id == "aws-akia-failed-api-spike"
                || a.rule_id == "aws-akia-unauthorized-api-call"
            {
                let bin = parse_rfc3339(&a.time).unwrap() / SECOND;
                assert_eq!(bin % 3600, 0, "{}", a.time);
                let last = parse_rfc3339(&a.last_seen).unwrap() / SECOND;
                assert!(last < bin + 3600);
            }
        }
    }
}
