//! The planted scenarios and decoys: dedicated keys, exact events, and the alerts they must raise.

use std::io;

use rand_chacha::ChaCha8Rng;
use serde_json::json;

use crate::TECHNIQUES;
use crate::catalog::{self, APIS, REGIONS, api_index, region_index};
use crate::layout;
use crate::render::{self, ERR_DENIED, ERR_NONE, Ev};
use crate::rng::{self, Draw, domain};
use crate::time::iso;
use crate::world::{self, Builder, Details, Ident, KeyUse};
use crate::{
    DecoyEntry, ExpectedAlert, PlantedEvent, RULE_CONSOLE_NO_MFA, RULE_CORRELATED_ELEVATED_ALERTS,
    RULE_FAILED_API_SPIKE, RULE_FIRST_CALLER_IDENTITY, RULE_FIRST_SEEN_SOURCE_IP,
    RULE_KEY_FOR_ANOTHER_USER, RULE_MANY_COUNTRIES, RULE_NEW_KEY_USED, RULE_QUARANTINE_POLICY,
    RULE_SESSION_TOKEN_ADDRESSES, RULE_SESSION_TOKEN_IAM, RULE_UNAUTHORIZED_API_CALL,
    RULE_USER_AGENT_NEW_IP, Scenario, ScenarioEntry,
};

const HOUR: i64 = 3600;
/// The Sigma rule the session key's secret reads raise ("AWS Secrets Manager Mass Secret
/// Retrieval": more than 20 `GetSecretValue` by one identity).
const SIGMA_MASS_SECRET_RETRIEVAL: &str = "sigma-45251c1d-3fda-47d4-a990-b7ce4d635fc0";
const DAY: i64 = 86_400;
/// `additionalEventData` of a console sign-in with a password alone.
const NO_MFA_SIGN_IN: &str = r#"{"LoginTo":"https://console.aws.amazon.com/console/home?hashArgs=%23&isauthcode=true&state=hashArgsFromTB_us-east-1_$HEX16","MobileVersion":"No","MFAUsed":"No"}"#;

/// The start of the UTC hour of `t` (seconds): the bucket of Sigma alerts.
fn hour_of(t: i64) -> i64 {
    t.div_euclid(HOUR) * HOUR
}
const ALL_RULES: [&str; 5] = [
    RULE_FAILED_API_SPIKE,
    RULE_FIRST_SEEN_SOURCE_IP,
    RULE_USER_AGENT_NEW_IP,
    RULE_UNAUTHORIZED_API_CALL,
    RULE_CORRELATED_ELEVATED_ALERTS,
];

/// The planted events (sorted by time) and their manifest entries.
pub(crate) struct Plan {
    pub planted: Vec<Ev>,
    pub scenarios: Vec<ScenarioEntry>,
    pub decoys: Vec<DecoyEntry>,
}

struct Planter<'b, 'g> {
    b: &'b mut Builder<'g>,
    rng: ChaCha8Rng,
    /// Hour-aligned start of day 0.
    hour0: i64,
    start: i64,
    end: i64,
    days: i64,
    all: Vec<Ev>,
}

/// One planted event and its role in the scenario.
#[derive(Clone, Copy)]
struct Step {
    ev: Ev,
    step: &'static str,
}

impl Planter<'_, '_> {
    /// A whole UTC hour on day `d` of the period.
    fn at(&self, d: i64, hour: i64) -> i64 {
        self.hour0 + d * DAY + hour * HOUR
    }

    #[allow(clippy::too_many_arguments)]
    fn ev(
        &mut self,
        actor: usize,
        t: i64,
        api: &str,
        region: &str,
        addr: u16,
        agent: u16,
        err: u8,
    ) -> Ev {
        let api = api_index(api);
        let region = if APIS[api as usize].svc.global() {
            "us-east-1"
        } else {
            region
        };
        debug_assert!(
            t >= self.start && t < self.end,
            "planted event outside the period"
        );
        Ev {
            t,
            seed: self.rng.bits(),
            actor: actor as u16,
            api,
            addr,
            agent,
            region: region_index(region),
            account: self.b.world.actors[actor].account,
            err,
            details: 0,
        }
    }

    /// `ev` with its own request details.
    fn with_details(&mut self, mut ev: Ev, details: Details) -> Ev {
        self.b.world.details.push(details);
        ev.details = self.b.world.details.len() as u16;
        ev
    }

    fn keep(&mut self, steps: &[Step]) {
        self.all.extend(steps.iter().map(|s| s.ev));
    }

    fn planted(&self, s: &Step) -> PlantedEvent {
        let w = &self.b.world;
        let ev = &s.ev;
        let api = &APIS[ev.api as usize];
        let acct = &w.accounts[ev.account as usize];
        PlantedEvent {
            step: s.step.to_owned(),
            time: iso(ev.t),
            event_id: render::event_id(ev.seed),
            event_source: api.svc.source().to_owned(),
            event_name: api.name.to_owned(),
            aws_region: REGIONS[ev.region as usize].to_owned(),
            source_ip: w.addrs[ev.addr as usize].clone(),
            country: w.addr_country[ev.addr as usize].clone(),
            user_agent: w.agents[ev.agent as usize].clone(),
            error_code: render::error_code(ev).map(str::to_owned),
            access_key_id: render::access_key_of(w, ev).unwrap_or_default(),
            file: layout::file_rel(
                w.seed,
                ev.account,
                &acct.id,
                REGIONS[ev.region as usize],
                ev.region,
                layout::period_of(ev.t),
            ),
        }
    }

    /// An expected alert whose evidence is `evs` (in time order).
    fn alert(
        &self,
        rule: &str,
        time: i64,
        evs: &[Ev],
        details: serde_json::Value,
    ) -> ExpectedAlert {
        let w = &self.b.world;
        let first = evs.first().expect("evidence");
        let mut ips: Vec<String> = Vec::new();
        let mut countries: Vec<String> = Vec::new();
        let mut agents: Vec<String> = Vec::new();
        let mut names: Vec<String> = Vec::new();
        fn add(v: &mut Vec<String>, s: &str) {
            if !v.iter().any(|x| x == s) {
                v.push(s.to_owned());
            }
        }
        for e in evs {
            add(&mut ips, &w.addrs[e.addr as usize]);
            if let Some(c) = &w.addr_country[e.addr as usize] {
                add(&mut countries, c);
            }
            add(&mut agents, &w.agents[e.agent as usize]);
            add(&mut names, APIS[e.api as usize].name);
        }
        ExpectedAlert {
            rule_id: rule.to_owned(),
            access_key_id: render::access_key_of(w, first).unwrap_or_default(),
            user_arn: render::caller_arn_of(w, first),
            time: iso(time),
            first_seen: iso(evs.iter().map(|e| e.t).min().unwrap_or(time)),
            last_seen: iso(evs.iter().map(|e| e.t).max().unwrap_or(time)),
            source_ips: ips,
            countries,
            user_agents: agents,
            event_names: names,
            event_ids: evs.iter().map(|e| render::event_id(e.seed)).collect(),
            count: evs.len() as u64,
            details,
        }
    }

    fn new_key(
        &mut self,
        arch: world::Archetype,
        home: &str,
        usage: KeyUse,
        label: String,
        no_critical: bool,
    ) -> io::Result<usize> {
        self.b
            .add_key(arch, 0, home, 1, false, usage, label, no_critical)
    }

    /// A dedicated key for a scenario, labelled `scenario <what>`.
    fn scenario_key(
        &mut self,
        arch: world::Archetype,
        home: &str,
        what: &str,
        no_critical: bool,
    ) -> io::Result<usize> {
        self.new_key(
            arch,
            home,
            KeyUse::Scenario,
            format!("scenario {what}"),
            no_critical,
        )
    }

    fn home(&self, actor: usize) -> (u16, u16) {
        let a = &self.b.world.actors[actor];
        (a.addrs[0], a.agent)
    }

    fn scenario_entry(
        &self,
        sc: Scenario,
        actor: usize,
        description: String,
        steps: &[Step],
        expected: Vec<ExpectedAlert>,
    ) -> ScenarioEntry {
        let w = &self.b.world;
        let a = &w.actors[actor];
        let mut events: Vec<PlantedEvent> = steps.iter().map(|s| self.planted(s)).collect();
        events.sort_by(|x, y| x.time.cmp(&y.time));
        let fired: Vec<&str> = expected.iter().map(|e| e.rule_id.as_str()).collect();
        ScenarioEntry {
            name: sc.name().to_owned(),
            rule_id: sc.rule_id().to_owned(),
            description,
            access_key_id: a.access_key().unwrap_or_default().to_owned(),
            user_arn: a.arn(&w.accounts[a.account as usize].id),
            home_country: a.home_country.clone().unwrap_or_default(),
            events,
            not_expected: ALL_RULES
                .iter()
                .filter(|r| !fired.contains(r))
                .map(|r| (*r).to_owned())
                .collect(),
            expected_alerts: expected,
        }
    }

    fn decoy_entry(
        &self,
        name: &str,
        reason: &str,
        steps: &[Step],
        not_expected: &[&str],
        expected: Vec<ExpectedAlert>,
    ) -> DecoyEntry {
        let w = &self.b.world;
        let first = &steps[0].ev;
        DecoyEntry {
            name: name.to_owned(),
            reason: reason.to_owned(),
            access_key_id: render::access_key_of(w, first).unwrap_or_default(),
            user_arn: render::caller_arn_of(w, first),
            events: steps.iter().map(|s| self.planted(s)).collect(),
            not_expected: not_expected.iter().map(|r| (*r).to_owned()).collect(),
            expected_alerts: expected,
        }
    }

    /// D1: quiet key, second country within 8 hours, three distinct denied critical APIs in one hour.
    fn failed_api_spike(&mut self) -> io::Result<ScenarioEntry> {
        let k = self.scenario_key(world::DEVELOPER, "US", "failed-api-spike", true)?;
        let (home, agent) = self.home(k);
        let attacker = self.b.public_addr("RU")?;
        let scanner = self.b.world.agent(catalog::SCANNER_AGENT);
        let d = self.days - 4;
        let bin = self.at(d, 16);
        let mut steps = Vec::new();
        // One successful critical call a day from home, away from the attack hours.
        for day in 0..self.days {
            let t = self.at(day, 19) + 23 * 60 + (day * 13) % 60;
            if t >= self.start && t < self.end {
                let ev = self.ev(
                    k,
                    t,
                    "DescribeInstances",
                    "us-east-1",
                    home,
                    agent,
                    ERR_NONE,
                );
                steps.push(Step {
                    ev,
                    step: "history",
                });
            }
        }
        // The owner, from home, two hours before: puts the second country in the 8-hour window.
        let gate = self.ev(
            k,
            bin - 2 * HOUR + 8 * 60 + 41,
            "ListBuckets",
            "us-east-1",
            home,
            agent,
            ERR_NONE,
        );
        steps.push(Step {
            ev: gate,
            step: "gate",
        });
        let t0 = bin + 7 * 60 + 31;
        let mut attack = vec![self.ev(
            k,
            t0,
            "GetCallerIdentity",
            "us-east-1",
            attacker,
            scanner,
            ERR_NONE,
        )];
        for dt in [31, 38, 52, 71] {
            attack.push(self.ev(
                k,
                t0 + dt,
                "ListUsers",
                "us-east-1",
                attacker,
                scanner,
                ERR_DENIED,
            ));
        }
        for dt in [95, 110, 128] {
            attack.push(self.ev(
                k,
                t0 + dt,
                "CreateUser",
                "us-east-1",
                attacker,
                scanner,
                ERR_DENIED,
            ));
        }
        for (i, region) in [
            "us-east-1",
            "us-west-2",
            "eu-west-1",
            "eu-central-1",
            "ap-southeast-1",
        ]
        .into_iter()
        .enumerate()
        {
            attack.push(self.ev(
                k,
                t0 + 160 + 9 * i as i64,
                "DescribeInstances",
                region,
                attacker,
                scanner,
                ERR_DENIED,
            ));
        }
        steps.extend(attack.iter().map(|&ev| Step { ev, step: "attack" }));
        self.keep(&steps);

        let denied: Vec<Ev> = attack
            .iter()
            .copied()
            .filter(|e| e.err != ERR_NONE)
            .collect();
        let n = 336.0_f64;
        let du = 3.0_f64;
        let avg = du / n;
        let variance = (du * du - du * avg) / (n - 1.0);
        let stdev = variance.sqrt();
        let z = (du - avg) / stdev;
        let w = &self.b.world;
        let home_country = w.addr_country[home as usize].clone().unwrap_or_default();
        let attacker_country = w.addr_country[attacker as usize]
            .clone()
            .unwrap_or_default();
        let first = attack[0];
        let mut critical_in_bin = attack.clone();
        critical_in_bin.sort_by_key(|e| e.t);
        let mut d1 = self.alert(
            RULE_FAILED_API_SPIKE,
            bin,
            &denied,
            json!({
                "hunt_cutoff": iso(bin + HOUR),
                "bin_start": iso(bin),
                "DistinctSuccessfulEventSet": ["GetCallerIdentity"],
                "DistinctUnauthorizedEventSet": ["ListUsers", "CreateUser", "DescribeInstances"],
                "DistinctUnauthorizedEventSetCount": 3,
                "DistinctSuccessfulEventSetCount": 1,
                "SuccessfulEventCount": 1,
                "UnauthorizedEventCount": 12,
                "TotalUnauthorizedEventsOutliers": "Infinity",
                "AverageUnauthorized": avg,
                "StandardDeviationUnauthorized": stdev,
                "VarianceUnauthorized": variance,
                "MinUnauthorized": 0,
                "MaxUnauthorized": 3,
                "ZScore": z,
                "gate_countries": [home_country, attacker_country],
                "gate_event_ids": [render::event_id(gate.seed), render::event_id(first.seed)],
                "critical_event_ids_in_bin": critical_in_bin.iter().map(|e| render::event_id(e.seed)).collect::<Vec<_>>(),
                "note": "evidence = the 12 denied critical calls of the bin; the bin also holds one successful GetCallerIdentity from the same address",
            }),
        );
        // The alert names the countries that met the 8 h gate too, not only its evidence's.
        for c in [&home_country, &attacker_country] {
            if !c.is_empty() && !d1.countries.contains(c) {
                d1.countries.push(c.clone());
            }
        }
        d1.countries.sort();
        let d4 = self.alert(
            RULE_UNAUTHORIZED_API_CALL,
            bin,
            &denied,
            json!({"hour": iso(bin), "error_codes": {"AccessDenied": 7, "Client.UnauthorizedOperation": 5}}),
        );
        let d2 = self.alert(
            RULE_FIRST_SEEN_SOURCE_IP,
            first.t,
            &[first],
            json!({"note": "first successful event of the key from the attacker address"}),
        );
        let d3 = self.alert(
            RULE_USER_AGENT_NEW_IP,
            first.t,
            &[first],
            json!({"matching_events": attack.len(), "note": "first event with both a new address and a new user agent; all attack events match"}),
        );
        let mut d5 = self.alert(
            RULE_CORRELATED_ELEVATED_ALERTS,
            first.t,
            &[first],
            json!({"correlated_rules": [RULE_FAILED_API_SPIKE, RULE_USER_AGENT_NEW_IP, RULE_UNAUTHORIZED_API_CALL], "anchor_rule": RULE_FIRST_SEEN_SOURCE_IP}),
        );
        // D5's evidence unites its siblings', D1's gate countries included.
        for c in &d1.countries {
            if !d5.countries.contains(c) {
                d5.countries.push(c.clone());
            }
        }
        d5.countries.sort();
        let desc = format!(
            "{home_country} developer key, silent on critical APIs except one successful DescribeInstances a day and a ListBuckets from home at {}; at {} a scanner from {attacker_country} calls GetCallerIdentity (success), then ListUsers x4 and CreateUser x3 (AccessDenied) and DescribeInstances x5 in five regions (Client.UnauthorizedOperation), all within the hour starting {}",
            iso(gate.t),
            iso(first.t),
            iso(bin)
        );
        Ok(self.scenario_entry(
            Scenario::FailedApiSpike,
            k,
            desc,
            &steps,
            vec![d1, d2, d3, d4, d5],
        ))
    }

    /// D2: successful calls from a brand-new address, usual user agent.
    fn first_seen_ip(&mut self) -> io::Result<ScenarioEntry> {
        let k = self.scenario_key(world::DEVELOPER, "DE", "first-seen-ip", false)?;
        let (_, agent) = self.home(k);
        let new_ip = self.b.public_addr("DE")?;
        let t0 = self.at(self.days - 3, 10) + 43 * 60 + 17;
        let mut steps = Vec::new();
        for (dt, api) in [
            (0, "DescribeInstances"),
            (40, "DescribeSecurityGroups"),
            (192, "ListObjects"),
            (200, "GetObject"),
            (1025, "FilterLogEvents"),
        ] {
            let ev = self.ev(k, t0 + dt, api, "eu-west-1", new_ip, agent, ERR_NONE);
            steps.push(Step { ev, step: "new-ip" });
        }
        self.keep(&steps);
        let first = steps[0].ev;
        let d2 = self.alert(
            RULE_FIRST_SEEN_SOURCE_IP,
            first.t,
            &[first],
            json!({"events_from_new_ip": steps.len(), "note": "same country and user agent as usual"}),
        );
        let w = &self.b.world;
        let desc = format!(
            "DE developer key makes {} successful calls from a new DE address {} with its usual user agent, starting {}",
            steps.len(),
            w.addrs[new_ip as usize],
            iso(first.t)
        );
        Ok(self.scenario_entry(Scenario::FirstSeenSourceIp, k, desc, &steps, vec![d2]))
    }

    /// D3: a new address and a new user agent (successful, so D2 and D5 too).
    fn new_user_agent_ip(&mut self) -> io::Result<ScenarioEntry> {
        let k = self.scenario_key(world::TERRAFORM, "GB", "new-user-agent-ip", false)?;
        let new_ip = self.b.public_addr("VN")?;
        let agent = self.b.world.agent(catalog::REQUESTS_AGENT);
        let t0 = self.at(self.days - 2, 3) + 21 * 60 + 9;
        let mut steps = Vec::new();
        for (dt, api) in [
            (0, "GetCallerIdentity"),
            (14, "ListBuckets"),
            (40, "GetBucketAcl"),
            (52, "GetBucketPolicy"),
            (150, "ListObjects"),
            (242, "GetObject"),
            (249, "GetObject"),
        ] {
            let ev = self.ev(k, t0 + dt, api, "us-east-1", new_ip, agent, ERR_NONE);
            steps.push(Step { ev, step: "attack" });
        }
        self.keep(&steps);
        let first = steps[0].ev;
        let d3 = self.alert(
            RULE_USER_AGENT_NEW_IP,
            first.t,
            &[first],
            json!({"matching_events": steps.len(), "note": "first event with both a new address and a new user agent"}),
        );
        let d2 = self.alert(
            RULE_FIRST_SEEN_SOURCE_IP,
            first.t,
            &[first],
            json!({"note": "first successful event of the key from the new address"}),
        );
        let d5 = self.alert(
            RULE_CORRELATED_ELEVATED_ALERTS,
            first.t,
            &[first],
            json!({"correlated_rules": [RULE_USER_AGENT_NEW_IP], "anchor_rule": RULE_FIRST_SEEN_SOURCE_IP}),
        );
        let w = &self.b.world;
        let desc = format!(
            "GB Terraform key used from {} ({}) with user agent {:?}: {} successful S3/STS calls starting {}",
            w.addrs[new_ip as usize],
            w.addr_country[new_ip as usize].clone().unwrap_or_default(),
            catalog::REQUESTS_AGENT,
            steps.len(),
            iso(first.t)
        );
        Ok(self.scenario_entry(Scenario::UserAgentNewIp, k, desc, &steps, vec![d3, d2, d5]))
    }

    /// D4: access denied on non-critical APIs from the usual address and agent, within one hour.
    fn unauthorized_burst(&mut self) -> io::Result<ScenarioEntry> {
        let k = self.scenario_key(world::DEVELOPER, "JP", "unauthorized-burst", false)?;
        let (home, agent) = self.home(k);
        let hour = self.at(self.days - 1, 6);
        let t0 = hour + 12 * 60 + 40;
        let mut steps = Vec::new();
        for (dt, api, region) in [
            (0, "ListRoles", "us-east-1"),
            (9, "ListRoles", "us-east-1"),
            (90, "DescribeSecret", "ap-northeast-1"),
            (101, "DescribeSecret", "ap-northeast-1"),
            (240, "ListFunctions20150331", "ap-northeast-1"),
            (370, "DescribeVolumes", "ap-northeast-1"),
            (382, "DescribeVolumes", "ap-northeast-1"),
            (660, "GetBucketPolicy", "ap-northeast-1"),
        ] {
            let ev = self.ev(k, t0 + dt, api, region, home, agent, ERR_DENIED);
            steps.push(Step { ev, step: "denied" });
        }
        self.keep(&steps);
        let evs: Vec<Ev> = steps.iter().map(|s| s.ev).collect();
        let d4 = self.alert(
            RULE_UNAUTHORIZED_API_CALL,
            hour,
            &evs,
            json!({"hour": iso(hour), "error_codes": {"AccessDenied": 3, "AccessDeniedException": 3, "Client.UnauthorizedOperation": 2}}),
        );
        let desc = format!(
            "JP developer key, from its usual address and user agent, gets {} access-denied errors on non-critical APIs (ListRoles, DescribeSecret, ListFunctions, DescribeVolumes, GetBucketPolicy) between {} and {}",
            evs.len(),
            iso(evs[0].t),
            iso(evs[evs.len() - 1].t)
        );
        Ok(self.scenario_entry(Scenario::UnauthorizedBurst, k, desc, &steps, vec![d4]))
    }

    /// Key lineage: a stolen key mints a session key, which is then used from another country.
    fn stolen_key_session(&mut self) -> io::Result<ScenarioEntry> {
        let k = self.scenario_key(world::DEVELOPER, "US", "stolen-key-session", false)?;
        let (_, agent) = self.home(k);
        // The thief copies the owner's user agent (no D3) but calls from a new address.
        let vps = self.b.public_addr("US")?;
        let abroad = self.b.public_addr("NL")?;
        let t0 = self.at(self.days - 2, 13) + 7 * 60 + 11;
        let mint = self.ev(k, t0, "GetSessionToken", "us-east-1", vps, agent, ERR_NONE);
        let minted = render::minted_key(&mint);
        let s = self.b.add_session_of(k, minted.clone());
        let mut steps = vec![Step {
            ev: mint,
            step: "mint-session",
        }];
        let list = self.ev(
            s,
            t0 + 240,
            "ListSecrets",
            "eu-west-1",
            abroad,
            agent,
            ERR_NONE,
        );
        steps.push(Step {
            ev: list,
            step: "session-discovery",
        });
        let mut reads = Vec::new();
        for i in 0..24 {
            let ev = self.ev(
                s,
                t0 + 300 + i * 17,
                "GetSecretValue",
                "eu-west-1",
                abroad,
                agent,
                ERR_NONE,
            );
            reads.push(ev);
            steps.push(Step {
                ev,
                step: "session-secret-read",
            });
        }
        self.keep(&steps);
        let d2 = self.alert(
            RULE_FIRST_SEEN_SOURCE_IP,
            mint.t,
            &[mint],
            json!({"note": "the GetSessionToken call from the thief's address"}),
        );
        let sigma = self.alert(
            SIGMA_MASS_SECRET_RETRIEVAL,
            mint.t.div_euclid(HOUR) * HOUR,
            &reads,
            json!({"note": "on the session key; its root key (lineage) is the long-term key"}),
        );
        let d5 = self.alert(
            RULE_CORRELATED_ELEVATED_ALERTS,
            mint.t,
            &[mint],
            json!({"anchor_rule": RULE_FIRST_SEEN_SOURCE_IP, "correlated_rules": [SIGMA_MASS_SECRET_RETRIEVAL], "note": "needs key lineage: the sibling is on the session key"}),
        );
        let w = &self.b.world;
        let desc = format!(
            "US developer key calls GetSessionToken from a new US address {} with its usual user agent at {}; the minted session key {minted} lists and reads {} secrets from {} (NL)",
            w.addrs[vps as usize],
            iso(mint.t),
            reads.len(),
            w.addrs[abroad as usize]
        );
        Ok(self.scenario_entry(
            Scenario::StolenKeySession,
            k,
            desc,
            &steps,
            vec![d2, sigma, d5],
        ))
    }

    /// `aws-compromised-key-quarantine-policy`: AWS's quarantine policy attached to a user.
    fn quarantine_policy(&mut self) -> io::Result<ScenarioEntry> {
        let admin = self.scenario_key(world::IAM_ADMIN, "US", "quarantine-policy", true)?;
        let victim = self.scenario_key(
            world::DEVELOPER,
            "US",
            "quarantine-policy (the leaked key's user)",
            false,
        )?;
        let (home, agent) = self.home(admin);
        let user = self.b.world.actors[victim].user_name().to_owned();
        let t0 = self.at(self.days - 2, 9) + 14 * 60 + 3;
        let ev = self.ev(
            admin,
            t0,
            "AttachUserPolicy",
            "us-east-1",
            home,
            agent,
            ERR_NONE,
        );
        let ev = self.with_details(
            ev,
            Details {
                request: Some(format!(
                    r#"{{"userName":"{user}","policyArn":"arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3"}}"#
                )),
                ..Details::default()
            },
        );
        let steps = [Step {
            ev,
            step: "quarantine",
        }];
        self.keep(&steps);
        let alert = self.alert(
            RULE_QUARANTINE_POLICY,
            hour_of(ev.t),
            &[ev],
            json!({"user": user}),
        );
        let desc = format!(
            "IAM administrator key attaches AWSCompromisedKeyQuarantineV3 to user {user} at {}",
            iso(ev.t)
        );
        Ok(self.scenario_entry(Scenario::QuarantinePolicy, admin, desc, &steps, vec![alert]))
    }

    /// `aws-iam-calls-with-user-session-token` and `aws-temporary-token-several-addresses`.
    fn session_token_abuse(&mut self) -> io::Result<ScenarioEntry> {
        let k = self.scenario_key(world::DEVELOPER, "US", "session-token-abuse", true)?;
        let (home, agent) = self.home(k);
        let abroad = self.b.public_addr("NL")?;
        let t0 = self.at(self.days - 3, 15) + 2 * 60 + 9;
        let mint = self.ev(k, t0, "GetSessionToken", "us-east-1", home, agent, ERR_NONE);
        let s = self.b.add_session_of(k, render::minted_key(&mint));
        let mut steps = vec![Step {
            ev: mint,
            step: "mint-session",
        }];
        let mut session = Vec::new();
        for (dt, api, addr) in [
            (60, "ListUsers", home),
            (75, "ListAccessKeys", home),
            (1210, "ListUsers", abroad),
            (1236, "ListAttachedUserPolicies", abroad),
        ] {
            let ev = self.ev(s, t0 + dt, api, "us-east-1", addr, agent, ERR_NONE);
            session.push(ev);
            steps.push(Step {
                ev,
                step: if addr == home {
                    "session-iam-call"
                } else {
                    "session-from-abroad"
                },
            });
        }
        self.keep(&steps);
        let bucket = hour_of(session[0].t);
        let iam = self.alert(
            RULE_SESSION_TOKEN_IAM,
            bucket,
            &session,
            json!({"note": "on the session key; its root key (lineage) is the long-term key"}),
        );
        // Raised by the first call from the second address.
        let addresses = self.alert(
            RULE_SESSION_TOKEN_ADDRESSES,
            bucket,
            &session[..3],
            json!({"note": "two addresses within the hour"}),
        );
        let w = &self.b.world;
        let desc = format!(
            "US developer key mints a session token from its usual address at {}; the session calls IAM from there, then from {} (NL) twenty minutes later",
            iso(mint.t),
            w.addrs[abroad as usize]
        );
        Ok(self.scenario_entry(
            Scenario::SessionTokenAbuse,
            k,
            desc,
            &steps,
            vec![iam, addresses],
        ))
    }

    /// `aws-iam-access-key-created-for-another-user` and `aws-new-access-key-used-within-a-day`.
    fn key_for_another_user(&mut self) -> io::Result<ScenarioEntry> {
        let admin = self.scenario_key(world::IAM_ADMIN, "GB", "key-for-another-user", true)?;
        let victim = self.scenario_key(
            world::DEVELOPER,
            "GB",
            "key-for-another-user (the backdoored user)",
            false,
        )?;
        let (home, agent) = self.home(admin);
        let (_, victim_agent) = self.home(victim);
        let user = self.b.world.actors[victim].user_name().to_owned();
        let abroad = self.b.public_addr("BR")?;
        let t0 = self.at(self.days - 3, 11) + 51 * 60 + 40;
        let create = self.ev(
            admin,
            t0,
            "CreateAccessKey",
            "us-east-1",
            home,
            agent,
            ERR_NONE,
        );
        let create = self.with_details(
            create,
            Details {
                request: Some(format!(r#"{{"userName":"{user}"}}"#)),
                response: Some(format!(
                    r#"{{"accessKey":{{"userName":"{user}","accessKeyId":"$AKIANEW","status":"Active","createDate":"$TIMEIAM"}}}}"#
                )),
                ..Details::default()
            },
        );
        let new_key = render::created_key(&create);
        let backdoor = self.b.add_session_of(victim, new_key.clone());
        let mut steps = vec![Step {
            ev: create,
            step: "create-key",
        }];
        let mut uses = Vec::new();
        for (dt, api) in [
            (3 * HOUR + 611, "ListBuckets"),
            (3 * HOUR + 640, "ListUsers"),
            (3 * HOUR + 702, "ListRoles"),
        ] {
            let ev = self.ev(
                backdoor,
                t0 + dt,
                api,
                "us-east-1",
                abroad,
                victim_agent,
                ERR_NONE,
            );
            uses.push(ev);
            steps.push(Step {
                ev,
                step: "new-key-used",
            });
        }
        self.keep(&steps);
        let created = self.alert(
            RULE_KEY_FOR_ANOTHER_USER,
            hour_of(create.t),
            &[create],
            json!({"user": user, "new_key": new_key}),
        );
        // Raised by the new key's first call: the creation, then that call.
        let sequence = [create, uses[0]];
        let used = self.alert(
            RULE_NEW_KEY_USED,
            hour_of(uses[0].t),
            &sequence,
            json!({"new_key": new_key}),
        );
        let d2 = self.alert(
            RULE_FIRST_SEEN_SOURCE_IP,
            uses[0].t,
            &uses[..1],
            json!({"note": "the new key's first address"}),
        );
        let d3 = self.alert(
            RULE_USER_AGENT_NEW_IP,
            uses[0].t,
            &uses[..1],
            json!({"note": "a new key has no known user agent or address"}),
        );
        let d5 = self.alert(
            RULE_CORRELATED_ELEVATED_ALERTS,
            uses[0].t,
            &uses[..1],
            json!({"anchor_rule": RULE_FIRST_SEEN_SOURCE_IP, "correlated_rules": [RULE_USER_AGENT_NEW_IP]}),
        );
        let w = &self.b.world;
        let desc = format!(
            "GB administrator key creates access key {new_key} for user {user} at {}; the new key lists buckets, users and roles from {} (BR) three hours later",
            iso(create.t),
            w.addrs[abroad as usize]
        );
        Ok(self.scenario_entry(
            Scenario::KeyForAnotherUser,
            admin,
            desc,
            &steps,
            vec![created, used, d2, d3, d5],
        ))
    }

    /// `aws-akia-first-get-caller-identity`: a key's first `GetCallerIdentity`, from a new address.
    fn first_caller_identity(&mut self) -> io::Result<ScenarioEntry> {
        let k = self.scenario_key(world::BACKUP, "FR", "first-caller-identity", false)?;
        let (_, agent) = self.home(k);
        let thief = self.b.public_addr("DE")?;
        let t0 = self.at(self.days - 2, 21) + 33 * 60 + 8;
        let whoami = self.ev(
            k,
            t0,
            "GetCallerIdentity",
            "us-east-1",
            thief,
            agent,
            ERR_NONE,
        );
        let list = self.ev(
            k,
            t0 + 47,
            "ListBuckets",
            "us-east-1",
            thief,
            agent,
            ERR_NONE,
        );
        let steps = [
            Step {
                ev: whoami,
                step: "first-whoami",
            },
            Step {
                ev: list,
                step: "discovery",
            },
        ];
        self.keep(&steps);
        let gci = self.alert(
            RULE_FIRST_CALLER_IDENTITY,
            hour_of(whoami.t),
            &[whoami],
            json!({"note": "the backup key never called GetCallerIdentity before"}),
        );
        let d2 = self.alert(
            RULE_FIRST_SEEN_SOURCE_IP,
            whoami.t,
            &[whoami],
            json!({"note": "the thief's address"}),
        );
        let d5 = self.alert(
            RULE_CORRELATED_ELEVATED_ALERTS,
            whoami.t,
            &[whoami],
            json!({"anchor_rule": RULE_FIRST_SEEN_SOURCE_IP, "correlated_rules": [RULE_FIRST_CALLER_IDENTITY]}),
        );
        let w = &self.b.world;
        let desc = format!(
            "FR backup key, which never calls GetCallerIdentity, calls it from a new DE address {} at {}, then lists buckets",
            w.addrs[thief as usize],
            iso(whoami.t)
        );
        Ok(self.scenario_entry(
            Scenario::FirstCallerIdentity,
            k,
            desc,
            &steps,
            vec![gci, d2, d5],
        ))
    }

    /// `aws-console-login-without-mfa-new-user`: two sign-ins without MFA a day apart.
    fn console_no_mfa(&mut self) -> io::Result<ScenarioEntry> {
        let user = self
            .b
            .world
            .actors
            .iter()
            .position(|a| matches!(a.ident, Ident::ConsoleUser { .. }))
            .expect("the console user exists");
        let (home, agent) = self.home(user);
        let mut steps = Vec::new();
        for (d, hour, off) in [
            (self.days - 3, 8, 12 * 60 + 5),
            (self.days - 2, 8, 3 * 60 + 44),
        ] {
            let ev = self.ev(
                user,
                self.at(d, hour) + off,
                "ConsoleLogin",
                "us-east-1",
                home,
                agent,
                ERR_NONE,
            );
            let ev = self.with_details(
                ev,
                Details {
                    additional: Some(NO_MFA_SIGN_IN.to_owned()),
                    ..Details::default()
                },
            );
            steps.push(Step {
                ev,
                step: "sign-in-without-mfa",
            });
        }
        self.keep(&steps);
        let first = steps[0].ev;
        let alert = self.alert(
            RULE_CONSOLE_NO_MFA,
            hour_of(first.t),
            &[first],
            json!({"note": "the second sign-in a day later is known (7-day history)"}),
        );
        let desc = format!(
            "the console user signs in without MFA at {} and again at {}",
            iso(first.t),
            iso(steps[1].ev.t)
        );
        Ok(self.scenario_entry(Scenario::ConsoleNoMfa, user, desc, &steps, vec![alert]))
    }

    /// `aws-akia-many-countries-in-a-day`: a key from three countries within a day.
    fn many_countries(&mut self) -> io::Result<ScenarioEntry> {
        let k = self.scenario_key(world::DEVELOPER, "US", "many-countries", false)?;
        let (home, agent) = self.home(k);
        let de = self.b.public_addr("DE")?;
        let sg = self.b.public_addr("SG")?;
        let t0 = self.at(self.days - 2, 2) + 5 * 60 + 30;
        let mut steps = Vec::new();
        for (dt, api, addr, step) in [
            (0, "DescribeInstances", home, "home"),
            (3 * HOUR + 100, "ListBuckets", de, "second-country"),
            (9 * HOUR + 2000, "ListBuckets", sg, "third-country"),
        ] {
            let ev = self.ev(k, t0 + dt, api, "us-east-1", addr, agent, ERR_NONE);
            steps.push(Step { ev, step });
        }
        self.keep(&steps);
        let evs: Vec<Ev> = steps.iter().map(|s| s.ev).collect();
        let third = evs[2];
        let countries = self.alert(
            RULE_MANY_COUNTRIES,
            hour_of(third.t),
            &evs,
            json!({"countries": 3, "note": "the evidence also holds the key's usual calls of the 24 hours"}),
        );
        let mut expected = vec![countries];
        for ev in &evs[1..] {
            expected.push(self.alert(
                RULE_FIRST_SEEN_SOURCE_IP,
                ev.t,
                &[*ev],
                json!({"note": "a new address"}),
            ));
        }
        expected.push(self.alert(
            RULE_CORRELATED_ELEVATED_ALERTS,
            evs[1].t,
            &evs[1..2],
            json!({"anchor_rule": RULE_FIRST_SEEN_SOURCE_IP, "correlated_rules": [RULE_MANY_COUNTRIES]}),
        ));
        let w = &self.b.world;
        let desc = format!(
            "US developer key calls from home at {}, from {} (DE) and from {} (SG) within ten hours",
            iso(t0),
            w.addrs[de as usize],
            w.addrs[sg as usize]
        );
        Ok(self.scenario_entry(Scenario::ManyCountries, k, desc, &steps, expected))
    }

    /// `attack-techniques`: one trace per technique of [`TECHNIQUES`], an hour apart, eight a
    /// day, from a stolen key's usual address and user agent (so that only the technique rules
    /// speak).
    fn attack_techniques(&mut self) -> io::Result<ScenarioEntry> {
        let k = self.scenario_key(world::DEVELOPER, "US", "attack-techniques", true)?;
        let (home, agent) = self.home(k);
        let caller = self.b.world.actors[k].user_name().to_owned();
        let other = {
            let users = &self.b.world.accounts[self.b.world.actors[k].account as usize].users;
            users
                .iter()
                .find(|u| **u != caller)
                .cloned()
                .unwrap_or_else(|| "svc-reporting".to_owned())
        };
        let details = |request: String| Details {
            request: Some(request),
            ..Details::default()
        };
        let mut steps = Vec::new();
        let mut expected = Vec::new();
        for (i, (technique, rule)) in TECHNIQUES.iter().enumerate() {
            let d = self.days - 3 + (i / 8) as i64;
            let t = self.at(d, 9 + (i % 8) as i64) + 4 * 60 + 7 * i as i64;
            let mut ev =
                |api: &str, dt: i64| self.ev(k, t + dt, api, "us-east-1", home, agent, ERR_NONE);
            let evs: Vec<Ev> = match *technique {
                "aws.defense-evasion.cloudtrail-stop" => vec![ev("StopLogging", 0)],
                "aws.defense-evasion.cloudtrail-delete" => vec![ev("DeleteTrail", 0)],
                "aws.exfiltration.ec2-share-ebs-snapshot" => vec![ev("ModifySnapshotAttribute", 0)],
                "aws.exfiltration.rds-share-snapshot" => vec![ev("ModifyDBSnapshotAttribute", 0)],
                "aws.execution.ssm-send-command" => {
                    vec![ev("SendCommand", 0), ev("SendCommand", 9)]
                }
                "aws.persistence.iam-create-admin-user" => {
                    let create = ev("CreateUser", 0);
                    let attach = ev("AttachUserPolicy", 6);
                    let create = self.with_details(
                        create,
                        details(r#"{"userName":"stratus-red-team-admin"}"#.to_owned()),
                    );
                    let attach = self.with_details(
                        attach,
                        details(
                            r#"{"userName":"stratus-red-team-admin","policyArn":"arn:aws:iam::aws:policy/AdministratorAccess"}"#
                                .to_owned(),
                        ),
                    );
                    steps.push(Step {
                        ev: create,
                        step: technique,
                    });
                    vec![attach]
                }
                "aws.persistence.iam-create-user-login-profile" => {
                    let e = ev("CreateLoginProfile", 0);
                    vec![self.with_details(
                        e,
                        details(format!(
                            r#"{{"userName":"{other}","passwordResetRequired":false}}"#
                        )),
                    )]
                }
                "aws.privilege-escalation.iam-update-user-login-profile" => {
                    let e = ev("UpdateLoginProfile", 0);
                    vec![self.with_details(
                        e,
                        details(format!(
                            r#"{{"userName":"{other}","passwordResetRequired":false}}"#
                        )),
                    )]
                }
                "aws.credential-access.secretsmanager-batch-retrieve-secrets" => {
                    vec![ev("BatchGetSecretValue", 0), ev("BatchGetSecretValue", 2)]
                }
                "aws.credential-access.ec2-get-password-data" => {
                    (0..3).map(|j| ev("GetPasswordData", j)).collect()
                }
                "aws.defense-evasion.vpc-remove-flow-logs" => vec![ev("DeleteFlowLogs", 0)],
                "aws.persistence.iam-backdoor-role" => vec![ev("UpdateAssumeRolePolicy", 0)],
                "aws.execution.ec2-user-data" => vec![ev("ModifyInstanceAttribute", 0)],
                "aws.persistence.lambda-backdoor-function" => {
                    vec![ev("AddPermission20150331v2", 0)]
                }
                "aws.persistence.sts-federation-token" => vec![ev("GetFederationToken", 0)],
                "aws.exfiltration.ec2-security-group-open-port-22-ingress" => {
                    let e = ev("AuthorizeSecurityGroupIngress", 0);
                    vec![self.with_details(
                        e,
                        details(r#"{"groupId":"$SG","ipPermissions":{"items":[{"ipProtocol":"tcp","fromPort":22,"toPort":22,"groups":{},"ipRanges":{"items":[{"cidrIp":"0.0.0.0/0"}]},"ipv6Ranges":{},"prefixListIds":{}}]}}"#.to_owned()),
                    )]
                }
                other => unreachable!("no trace for technique {other}"),
            };
            steps.extend(evs.iter().map(|&ev| Step {
                ev,
                step: technique,
            }));
            expected.push(self.alert(
                rule,
                hour_of(evs[0].t),
                &evs,
                json!({ "technique": technique }),
            ));
        }
        self.keep(&steps);
        let desc = format!(
            "US developer key, stolen, runs the CloudTrail traces of {} Stratus Red Team techniques from its usual address, one an hour from {}",
            TECHNIQUES.len(),
            iso(steps[0].ev.t)
        );
        Ok(self.scenario_entry(Scenario::AttackTechniques, k, desc, &steps, expected))
    }

    fn decoys(&mut self) -> io::Result<Vec<DecoyEntry>> {
        let mut out = Vec::new();

        // A role session (ASIA) from a new address with access-denied errors.
        let role = self
            .b
            .world
            .actors
            .iter()
            .position(|a| {
                matches!(&a.ident, Ident::Role { role, .. } if role == "github-actions-deploy")
                    && a.account == 0
            })
            .expect("the deploy role exists");
        let ip = self.b.public_addr("CN")?;
        let agent = self.b.world.actors[role].agent;
        let t0 = self.at(self.days - 3, 19) + 5 * 60 + 12;
        let steps: Vec<Step> = [(0, "ListUsers"), (21, "GetSecretValue"), (47, "CreateUser")]
            .into_iter()
            .map(|(dt, api)| Step {
                ev: self.ev(role, t0 + dt, api, "us-east-1", ip, agent, ERR_DENIED),
                step: "decoy",
            })
            .collect();
        self.keep(&steps);
        out.push(self.decoy_entry(
            "asia-new-ip-access-denied",
            "temporary ASIA session key from a new CN address with AccessDenied on critical APIs: every rule covers AKIA keys only",
            &steps,
            &ALL_RULES,
            vec![],
        ));

        // A failed AKIA call from a new address (D2 needs success), usual agent (no D3).
        let k = self.new_key(
            world::DEVELOPER,
            "FR",
            KeyUse::Decoy,
            "decoy akia-failed-from-new-ip".into(),
            false,
        )?;
        let (_, agent) = self.home(k);
        let ip = self.b.public_addr("FR")?;
        let t0 = self.at(self.days - 2, 11) + 33 * 60 + 50;
        let steps = vec![
            Step {
                ev: self.ev(k, t0, "GetUser", "us-east-1", ip, agent, 1),
                step: "decoy",
            },
            Step {
                ev: self.ev(k, t0 + 64, "DescribeStacks", "eu-west-1", ip, agent, 1),
                step: "decoy",
            },
        ];
        self.keep(&steps);
        out.push(self.decoy_entry(
            "akia-failed-from-new-ip",
            "AKIA key from a new address, but both calls fail (NoSuchEntityException, ValidationError): D2 needs a successful event, the user agent is the usual one (no D3), and the errors are not unauthorized codes (no D4)",
            &steps,
            &ALL_RULES,
            vec![],
        ));

        // New address, previously seen agent: D3 must stay quiet (D2 fires).
        let k = self.new_key(
            world::DEVELOPER,
            "US",
            KeyUse::Decoy,
            "decoy akia-new-ip-seen-ua".into(),
            false,
        )?;
        let (_, agent) = self.home(k);
        let ip = self.b.public_addr("US")?;
        let t0 = self.at(self.days - 3, 16) + 48 * 60 + 5;
        let steps = vec![
            Step {
                ev: self.ev(k, t0, "DescribeInstances", "us-east-1", ip, agent, ERR_NONE),
                step: "decoy",
            },
            Step {
                ev: self.ev(k, t0 + 33, "DescribeVpcs", "us-east-1", ip, agent, ERR_NONE),
                step: "decoy",
            },
        ];
        self.keep(&steps);
        let first = steps[0].ev;
        let d2 = self.alert(
            RULE_FIRST_SEEN_SOURCE_IP,
            first.t,
            &[first],
            json!({"note": "the new address is expected to raise D2 only"}),
        );
        out.push(self.decoy_entry(
            "akia-new-ip-seen-ua",
            "AKIA key from a new address with its usual user agent: D3 needs both a new address and a new user agent (D2 does fire, listed in expected_alerts)",
            &steps,
            &[RULE_USER_AGENT_NEW_IP, RULE_FAILED_API_SPIKE, RULE_UNAUTHORIZED_API_CALL, RULE_CORRELATED_ELEVATED_ALERTS],
            vec![d2],
        ));

        // New agent (a CLI upgrade) from a known address: no D3, no D2.
        let k = self.new_key(
            world::DEVELOPER,
            "IN",
            KeyUse::Decoy,
            "decoy akia-new-ua-known-ip".into(),
            false,
        )?;
        let (home, _) = self.home(k);
        let agent = self.b.world.agent(catalog::UPGRADED_CLI_AGENT);
        let t0 = self.at(self.days - 2, 8) + 10 * 60 + 44;
        let steps = vec![
            Step {
                ev: self.ev(
                    k,
                    t0,
                    "DescribeInstances",
                    "us-east-1",
                    home,
                    agent,
                    ERR_NONE,
                ),
                step: "decoy",
            },
            Step {
                ev: self.ev(
                    k,
                    t0 + 20,
                    "ListObjects",
                    "us-east-1",
                    home,
                    agent,
                    ERR_NONE,
                ),
                step: "decoy",
            },
            Step {
                ev: self.ev(k, t0 + 26, "GetObject", "us-east-1", home, agent, ERR_NONE),
                step: "decoy",
            },
        ];
        self.keep(&steps);
        out.push(self.decoy_entry(
            "akia-new-ua-known-ip",
            "AKIA key with a new user agent (a newer aws-cli) from its usual address: D3 needs a new address too, D2 a new address",
            &steps,
            &ALL_RULES,
            vec![],
        ));

        // A new address during the warm-up: history only.
        let k = self.new_key(
            world::DEVELOPER,
            "BR",
            KeyUse::Decoy,
            "decoy warm-up-new-ip".into(),
            false,
        )?;
        let (_, agent) = self.home(k);
        let ip = self.b.public_addr("BR")?;
        let t0 = self.at(3, 14) + 2 * 60 + 19;
        let steps = vec![
            Step {
                ev: self.ev(k, t0, "DescribeInstances", "us-east-1", ip, agent, ERR_NONE),
                step: "decoy",
            },
            Step {
                ev: self.ev(
                    k,
                    t0 + 45,
                    "DescribeSecurityGroups",
                    "us-east-1",
                    ip,
                    agent,
                    ERR_NONE,
                ),
                step: "decoy",
            },
        ];
        self.keep(&steps);
        out.push(self.decoy_entry(
            "warm-up-new-ip",
            "AKIA key from a new address on day 4, inside the 10-day warm-up that only builds history (never used again)",
            &steps,
            &ALL_RULES,
            vec![],
        ));
        Ok(out)
    }
}

/// Plants `scenarios` (in [`Scenario::ALL`] order) and the decoys. `start`/`end` in seconds.
pub(crate) fn plan(
    b: &mut Builder<'_>,
    scenarios: &[Scenario],
    start: i64,
    end: i64,
    days: i64,
) -> io::Result<Plan> {
    let seed = b.world.seed;
    let mut p = Planter {
        b,
        rng: rng::stream(seed, domain::PLAN, 0),
        hour0: start.div_euclid(HOUR) * HOUR,
        start,
        end,
        days,
        all: Vec::new(),
    };
    // The scenarios of D1–D5 and the decoys first, then those of the stolen-key rules: naming
    // one of these leaves the keys and events of the others and of the decoys as they were.
    let plant = |p: &mut Planter<'_, '_>, sc: Scenario| match sc {
        Scenario::FailedApiSpike => p.failed_api_spike(),
        Scenario::FirstSeenSourceIp => p.first_seen_ip(),
        Scenario::UserAgentNewIp => p.new_user_agent_ip(),
        Scenario::UnauthorizedBurst => p.unauthorized_burst(),
        Scenario::StolenKeySession => p.stolen_key_session(),
        Scenario::QuarantinePolicy => p.quarantine_policy(),
        Scenario::SessionTokenAbuse => p.session_token_abuse(),
        Scenario::KeyForAnotherUser => p.key_for_another_user(),
        Scenario::FirstCallerIdentity => p.first_caller_identity(),
        Scenario::ConsoleNoMfa => p.console_no_mfa(),
        Scenario::ManyCountries => p.many_countries(),
        Scenario::AttackTechniques => p.attack_techniques(),
    };
    let mut entries = Vec::new();
    let later = |sc: &Scenario| Scenario::STOLEN_KEY_RULES.contains(sc);
    for sc in Scenario::KNOWN {
        if scenarios.contains(&sc) && !later(&sc) {
            entries.push(plant(&mut p, sc)?);
        }
    }
    let decoys = if scenarios.is_empty() {
        Vec::new()
    } else {
        p.decoys()?
    };
    for sc in Scenario::STOLEN_KEY_RULES {
        if scenarios.contains(&sc) {
            entries.push(plant(&mut p, sc)?);
        }
    }
    let mut planted = std::mem::take(&mut p.all);
    planted.sort_by_key(|e| e.t);
    Ok(Plan {
        planted,
        scenarios: entries,
        decoys,
    })
}
