//! Deterministic synthetic CloudTrail for testing and benchmarking Trailhound.
//!
//! [`generate`] writes gzip'd CloudTrail files in the S3 delivery layout
//! (`AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/<account>_CloudTrail_<region>_YYYYMMDDTHHMMZ_<id>.json.gz`,
//! one file per account, region and five-minute delivery period) and a `manifest.json` that says
//! what was planted and which alerts the detections must raise.
//!
//! The background is a small organisation over two accounts: IAM users with long-term `AKIA`
//! keys (developers, Terraform, applications, backup, inventory, IAM administration, monitoring),
//! roles used through temporary `ASIA` keys (EC2 instance profile, Lambda, GitHub OIDC deploys,
//! SSO administrators, the AWS Config service-linked role), a console user and AWS services
//! (`lambda.amazonaws.com`, `ec2.amazonaws.com`, `AWS Internal`). It is built so that no detection
//! fires on it:
//!
//! * every background `AKIA` key uses a fixed set of public addresses from one home country and
//!   one user agent, and calls successfully from every one of its addresses every day (so all its
//!   addresses appear on day 1 and none is ever unseen for 10 days);
//! * background `AKIA` calls fail only with throttling and not-found/validation errors, never
//!   with `AccessDenied`, `AccessDeniedException`, `UnauthorizedOperation` or
//!   `Client.UnauthorizedOperation` (those appear on `ASIA` keys only).
//!
//! On top of it, each [`Scenario`] plants an attack on its own dedicated key, after a warm-up of
//! ten days, and a few decoys that must not raise alerts. Output is byte-identical for the same
//! configuration on any machine and any number of threads: all randomness derives from the seed
//! (ChaCha8 streams per hour of data), hours are generated in parallel and independently, and
//! memory stays bounded by a few hours of events.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use trailhound_model::{SECOND, Timestamp};

mod catalog;
mod engine;
mod json;
mod layout;
mod plan;
mod render;
mod rng;
mod time;
mod world;

pub use catalog::{CRITICAL_API_CALLS, UNAUTHORIZED_CODES, is_critical};

/// Rule id of D1, the spike in failed API calls by a long-term key.
pub const RULE_FAILED_API_SPIKE: &str = "aws-akia-failed-api-spike";
/// Rule id of D2, a long-term key first seen from a source IP.
pub const RULE_FIRST_SEEN_SOURCE_IP: &str = "aws-akia-first-seen-source-ip";
/// Rule id of D3, an IAM user agent from a new IP address.
pub const RULE_USER_AGENT_NEW_IP: &str = "aws-iam-user-agent-new-ip";
/// Rule id of D4, an unauthorized API call with an IAM access key.
pub const RULE_UNAUTHORIZED_API_CALL: &str = "aws-akia-unauthorized-api-call";
/// Rule id of D5, a long-term key correlated with elevated alerts.
pub const RULE_CORRELATED_ELEVATED_ALERTS: &str = "aws-akia-correlated-elevated-alerts";

/// Alert rule id of Trailhound's rule `aws-compromised-key-quarantine-policy`.
pub const RULE_QUARANTINE_POLICY: &str = "sigma-aws-compromised-key-quarantine-policy";
/// Alert rule id of `aws-iam-calls-with-user-session-token`.
pub const RULE_SESSION_TOKEN_IAM: &str = "sigma-aws-iam-calls-with-user-session-token";
/// Alert rule id of `aws-temporary-token-several-addresses`.
pub const RULE_SESSION_TOKEN_ADDRESSES: &str = "sigma-aws-temporary-token-several-addresses";
/// Alert rule id of `aws-iam-access-key-created-for-another-user`.
pub const RULE_KEY_FOR_ANOTHER_USER: &str = "sigma-aws-iam-access-key-created-for-another-user";
/// Alert rule id of `aws-new-access-key-used-within-a-day`.
pub const RULE_NEW_KEY_USED: &str = "sigma-aws-new-access-key-used-within-a-day";
/// Alert rule id of `aws-akia-first-get-caller-identity`.
pub const RULE_FIRST_CALLER_IDENTITY: &str = "sigma-aws-akia-first-get-caller-identity";
/// Alert rule id of `aws-console-login-without-mfa-new-user`.
pub const RULE_CONSOLE_NO_MFA: &str = "sigma-aws-console-login-without-mfa-new-user";
/// Alert rule id of `aws-akia-many-countries-in-a-day`.
pub const RULE_MANY_COUNTRIES: &str = "sigma-aws-akia-many-countries-in-a-day";

/// Days of history the scenarios need before them (D2/D3 warm-up of 10 days, D1's 14-day
/// lookback): with fewer days, scenarios and decoys are skipped with a warning.
pub const MIN_DAYS_FOR_SCENARIOS: u32 = 14;

/// An attack planted on its own dedicated `AKIA` key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum Scenario {
    /// `failed-api-spike`: a quiet key used from a second country, then a burst of three distinct
    /// critical API calls denied within one hour (rule D1, also D2, D3, D4 and D5).
    FailedApiSpike,
    /// `first-seen-ip`: successful calls from a brand-new address with the usual user agent (D2).
    FirstSeenSourceIp,
    /// `new-user-agent-ip`: a new address and a new user agent (D3, also D2 and D5).
    UserAgentNewIp,
    /// `unauthorized-burst`: access-denied calls on non-critical APIs from the usual address (D4).
    UnauthorizedBurst,
    /// `stolen-key-session` (not planted by default: name it in `--scenarios`): a stolen key
    /// calls `GetSessionToken` from a new address with the owner's user agent (D2), and the
    /// minted `ASIA` session key then reads two dozen secrets from another country (Sigma's
    /// "AWS Secrets Manager Mass Secret Retrieval", on the session key). Only key lineage ties
    /// the session's alert to the long-term key: then D5 fires on the `AKIA` key.
    StolenKeySession,
    /// `quarantine-policy`: an administrator's key attaches AWS's
    /// `AWSCompromisedKeyQuarantineV3` policy to a user (Trailhound's rule
    /// `aws-compromised-key-quarantine-policy`).
    QuarantinePolicy,
    /// `session-token-abuse`: a key mints a session token from its usual address; the session
    /// calls IAM, then calls again from another country within the hour
    /// (`aws-iam-calls-with-user-session-token`, `aws-temporary-token-several-addresses`).
    SessionTokenAbuse,
    /// `key-for-another-user`: an administrator's key creates an access key for another user,
    /// and the new key is used from abroad three hours later
    /// (`aws-iam-access-key-created-for-another-user`, `aws-new-access-key-used-within-a-day`).
    KeyForAnotherUser,
    /// `first-caller-identity`: a backup key that never calls `GetCallerIdentity` calls it from a
    /// new address (`aws-akia-first-get-caller-identity`, with D2 and D5).
    FirstCallerIdentity,
    /// `console-no-mfa`: the console user signs in without MFA on two days in a row
    /// (`aws-console-login-without-mfa-new-user`, once).
    ConsoleNoMfa,
    /// `many-countries`: a key calls from its home country and two others within a day
    /// (`aws-akia-many-countries-in-a-day`, with D2 and D5).
    ManyCountries,
    /// `attack-techniques`: a stolen key runs the CloudTrail traces of 16 Stratus Red Team AWS
    /// techniques, one an hour over two days ([`TECHNIQUES`]), each raising the rule that names it.
    AttackTechniques,
}

/// The attack techniques of the `attack-techniques` scenario: (Stratus Red Team technique id,
/// the alert rule id that must name it). The scenario's planted events carry the technique id as
/// their `step`.
pub const TECHNIQUES: [(&str, &str); 16] = [
    (
        "aws.defense-evasion.cloudtrail-stop",
        "sigma-4db60cc0-36fb-42b7-9b58-a5b53019fb74",
    ),
    (
        "aws.exfiltration.ec2-share-ebs-snapshot",
        "sigma-abae8fec-57bd-4f87-aff6-6e3db989843d",
    ),
    (
        "aws.exfiltration.rds-share-snapshot",
        "sigma-97c282d9-e48d-4121-bb95-490a42325706",
    ),
    (
        "aws.execution.ssm-send-command",
        "sigma-aws-ssm-send-command-shell",
    ),
    (
        "aws.persistence.iam-create-admin-user",
        "sigma-c65918ba-4482-4236-9064-b720e0776518",
    ),
    (
        "aws.persistence.iam-create-user-login-profile",
        "sigma-aws-iam-login-profile-for-another-user",
    ),
    (
        "aws.credential-access.secretsmanager-batch-retrieve-secrets",
        "sigma-190abfbe-11dd-4851-942e-527883460358",
    ),
    (
        "aws.credential-access.ec2-get-password-data",
        "sigma-aws-ec2-get-password-data",
    ),
    (
        "aws.defense-evasion.cloudtrail-delete",
        "sigma-4db60cc0-36fb-42b7-9b58-a5b53019fb74",
    ),
    (
        "aws.defense-evasion.vpc-remove-flow-logs",
        "sigma-e386b9b5-af12-450e-afff-761730fb8a98",
    ),
    (
        "aws.persistence.iam-backdoor-role",
        "sigma-843688ba-bbe9-44ca-8986-183a24c9f734",
    ),
    (
        "aws.execution.ec2-user-data",
        "sigma-aws-ec2-user-data-modified",
    ),
    (
        "aws.persistence.lambda-backdoor-function",
        "sigma-aws-lambda-function-public-permission",
    ),
    (
        "aws.persistence.sts-federation-token",
        "sigma-aws-sts-federation-token",
    ),
    (
        "aws.privilege-escalation.iam-update-user-login-profile",
        "sigma-055fb148-60f8-462d-ad16-26926ce050f1",
    ),
    (
        "aws.exfiltration.ec2-security-group-open-port-22-ingress",
        "sigma-6fb77778-040f-4015-9440-572aa9b6b580",
    ),
];

impl Scenario {
    /// Every scenario, in planting order.
    pub const ALL: [Scenario; 4] = [
        Scenario::FailedApiSpike,
        Scenario::FirstSeenSourceIp,
        Scenario::UserAgentNewIp,
        Scenario::UnauthorizedBurst,
    ];

    /// The scenarios of Trailhound's own stolen-key rules (`rules/sigma/trailhound/`), not
    /// planted by default.
    pub const STOLEN_KEY_RULES: [Scenario; 7] = [
        Scenario::QuarantinePolicy,
        Scenario::SessionTokenAbuse,
        Scenario::KeyForAnotherUser,
        Scenario::FirstCallerIdentity,
        Scenario::ConsoleNoMfa,
        Scenario::ManyCountries,
        Scenario::AttackTechniques,
    ];

    /// Every scenario that can be named, the default ones ([`Scenario::ALL`]) first.
    pub const KNOWN: [Scenario; 12] = [
        Scenario::FailedApiSpike,
        Scenario::FirstSeenSourceIp,
        Scenario::UserAgentNewIp,
        Scenario::UnauthorizedBurst,
        Scenario::StolenKeySession,
        Scenario::QuarantinePolicy,
        Scenario::SessionTokenAbuse,
        Scenario::KeyForAnotherUser,
        Scenario::FirstCallerIdentity,
        Scenario::ConsoleNoMfa,
        Scenario::ManyCountries,
        Scenario::AttackTechniques,
    ];

    /// The stable name used on the command line and in the manifest.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::StolenKeySession => "stolen-key-session",
            Scenario::FailedApiSpike => "failed-api-spike",
            Scenario::FirstSeenSourceIp => "first-seen-ip",
            Scenario::UserAgentNewIp => "new-user-agent-ip",
            Scenario::UnauthorizedBurst => "unauthorized-burst",
            Scenario::QuarantinePolicy => "quarantine-policy",
            Scenario::SessionTokenAbuse => "session-token-abuse",
            Scenario::KeyForAnotherUser => "key-for-another-user",
            Scenario::FirstCallerIdentity => "first-caller-identity",
            Scenario::ConsoleNoMfa => "console-no-mfa",
            Scenario::ManyCountries => "many-countries",
            Scenario::AttackTechniques => "attack-techniques",
        }
    }

    /// The rule the scenario is built for.
    pub fn rule_id(self) -> &'static str {
        match self {
            Scenario::FailedApiSpike => RULE_FAILED_API_SPIKE,
            Scenario::FirstSeenSourceIp => RULE_FIRST_SEEN_SOURCE_IP,
            Scenario::UserAgentNewIp => RULE_USER_AGENT_NEW_IP,
            Scenario::UnauthorizedBurst => RULE_UNAUTHORIZED_API_CALL,
            Scenario::StolenKeySession => RULE_CORRELATED_ELEVATED_ALERTS,
            Scenario::QuarantinePolicy => RULE_QUARANTINE_POLICY,
            Scenario::SessionTokenAbuse => RULE_SESSION_TOKEN_IAM,
            Scenario::KeyForAnotherUser => RULE_KEY_FOR_ANOTHER_USER,
            Scenario::FirstCallerIdentity => RULE_FIRST_CALLER_IDENTITY,
            Scenario::ConsoleNoMfa => RULE_CONSOLE_NO_MFA,
            Scenario::ManyCountries => RULE_MANY_COUNTRIES,
            Scenario::AttackTechniques => TECHNIQUES[0].1,
        }
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A scenario name that is not one of [`Scenario::KNOWN`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownScenario(pub String);

impl fmt::Display for UnknownScenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = Scenario::KNOWN.iter().map(|s| s.name()).collect();
        write!(
            f,
            "unknown scenario {:?} (expected one of: {})",
            self.0,
            names.join(", ")
        )
    }
}

impl std::error::Error for UnknownScenario {}

impl FromStr for Scenario {
    type Err = UnknownScenario;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scenario::KNOWN
            .into_iter()
            .find(|sc| sc.name() == s.trim())
            .ok_or_else(|| UnknownScenario(s.to_owned()))
    }
}

impl From<Scenario> for String {
    fn from(s: Scenario) -> String {
        s.name().to_owned()
    }
}

impl TryFrom<String> for Scenario {
    type Error = UnknownScenario;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenerateConfig {
    /// Approximate total number of events (background volume is scaled to it; the daily calls
    /// that keep background keys stable and the planted events are always written, so very
    /// small values are exceeded).
    pub events: u64,
    /// Number of background IAM users with one `AKIA` key each (scenario and decoy keys come on
    /// top).
    pub keys: u32,
    /// Length of the period, days.
    pub days: u32,
    /// Seed of every random choice.
    pub seed: u64,
    /// Start of the period, nanoseconds since the epoch, UTC (used to the second). Written as
    /// RFC 3339 in the manifest.
    #[serde(with = "rfc3339")]
    pub start: Timestamp,
    /// Scenarios to plant (and, when any is planted, the decoys).
    pub scenarios: Vec<Scenario>,
    /// Gzip level, 0 to 9.
    pub compression_level: u32,
}

impl Default for GenerateConfig {
    fn default() -> Self {
        Self {
            events: 20_000,
            keys: 12,
            days: 15,
            seed: 1,
            // 2026-01-01T00:00:00Z
            start: 1_767_225_600 * SECOND,
            scenarios: Scenario::ALL.to_vec(),
            compression_level: 6,
        }
    }
}

mod rfc3339 {
    use serde::{Deserialize, Deserializer, Serializer};
    use trailhound_model::{Timestamp, format_rfc3339, parse_rfc3339};

    pub fn serialize<S: Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_rfc3339(*t))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        let s = String::deserialize(d)?;
        parse_rfc3339(&s).map_err(|e| serde::de::Error::custom(format!("{s:?}: {e:?}")))
    }
}

/// A source address and its country in the GeoIP database used for generation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceIp {
    /// The `sourceIPAddress` value.
    pub ip: String,
    /// ISO 3166 alpha-2 code, absent for private addresses and service names.
    pub country: Option<String>,
}

/// One AWS account of the data set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountInfo {
    /// The 12-digit account id (`recipientAccountId`).
    pub account_id: String,
    /// A readable alias such as `acme-prod`.
    pub alias: String,
    /// Regions the account works in, busiest first.
    pub regions: Vec<String>,
}

/// One IAM user and its long-term `AKIA` key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyInfo {
    /// `userIdentity.accessKeyId`.
    pub access_key_id: String,
    /// `userIdentity.userName`.
    pub user_name: String,
    /// `userIdentity.arn`.
    pub user_arn: String,
    /// The account of the user.
    pub account_id: String,
    /// `background`, `scenario:<name>` or `decoy:<name>`.
    pub usage: String,
    /// The kind of caller: `developer`, `terraform`, `application`, `backup`, `inventory`,
    /// `iam-admin`, `monitoring`.
    pub archetype: String,
    /// Country of all its usual addresses.
    pub home_country: String,
    /// Its usual addresses (all used successfully every day of the period).
    pub source_ips: Vec<SourceIp>,
    /// Its usual user agent.
    pub user_agent: String,
}

/// One planted event, as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlantedEvent {
    /// What the event is for in its scenario (`history`, `gate`, `attack`, ...).
    pub step: String,
    /// `eventTime`, RFC 3339.
    pub time: String,
    /// `eventID`.
    pub event_id: String,
    /// `eventSource`.
    pub event_source: String,
    /// `eventName`.
    pub event_name: String,
    /// `awsRegion`.
    pub aws_region: String,
    /// `sourceIPAddress`.
    pub source_ip: String,
    /// Country of the address in the GeoIP database used for generation.
    pub country: Option<String>,
    /// `userAgent`.
    pub user_agent: String,
    /// `errorCode`, absent on success.
    pub error_code: Option<String>,
    /// `userIdentity.accessKeyId`.
    pub access_key_id: String,
    /// The file holding the event, relative to the output folder.
    pub file: String,
}

/// An alert a detection must raise (field names follow the alert JSON Lines schema).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExpectedAlert {
    /// Rule id, e.g. `aws-akia-failed-api-spike`.
    pub rule_id: String,
    /// The key the alert is about.
    pub access_key_id: String,
    /// The user of the key.
    pub user_arn: String,
    /// The time the alert is about, RFC 3339: the first matching event for D2 and D3, the whole
    /// hour (bin start) for D1 and D4, the D2 alert's time for D5.
    pub time: String,
    /// Earliest event time in the evidence.
    pub first_seen: String,
    /// Latest event time in the evidence.
    pub last_seen: String,
    /// Distinct source addresses of the evidence, in order of first appearance.
    pub source_ips: Vec<String>,
    /// Their countries.
    pub countries: Vec<String>,
    /// Distinct user agents of the evidence.
    pub user_agents: Vec<String>,
    /// Distinct event names of the evidence, in order of first appearance.
    pub event_names: Vec<String>,
    /// Event ids of the evidence, in time order.
    pub event_ids: Vec<String>,
    /// Number of evidence events.
    pub count: u64,
    /// Rule-specific facts (for D1 the seed's output columns under their KQL names).
    pub details: serde_json::Value,
}

/// A planted scenario and what it must raise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioEntry {
    /// The scenario name.
    pub name: String,
    /// The rule it is built for.
    pub rule_id: String,
    /// What happens, in words.
    pub description: String,
    /// The dedicated key.
    pub access_key_id: String,
    /// Its user.
    pub user_arn: String,
    /// The key's usual country.
    pub home_country: String,
    /// Every planted event of the scenario, in time order.
    pub events: Vec<PlantedEvent>,
    /// Alerts the detections must raise for this key (all of them: nothing else may fire on it).
    pub expected_alerts: Vec<ExpectedAlert>,
    /// Rules that must not fire on this key.
    pub not_expected: Vec<String>,
}

/// Something that looks suspicious but must not raise the listed rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecoyEntry {
    /// A short name.
    pub name: String,
    /// Why the listed rules must stay quiet.
    pub reason: String,
    /// The key of the decoy events (an `ASIA` session key for the role decoy).
    pub access_key_id: String,
    /// `userIdentity.arn` of the decoy events.
    pub user_arn: String,
    /// The planted events.
    pub events: Vec<PlantedEvent>,
    /// Rules that must not fire for these events.
    pub not_expected: Vec<String>,
    /// Alerts these events do raise (other rules), if any.
    pub expected_alerts: Vec<ExpectedAlert>,
}

/// What [`generate`] wrote: also saved as `manifest.json` in the output folder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// `trailhound-generate <version>`.
    pub generator: String,
    /// Version of this manifest's layout.
    pub format_version: u32,
    /// The configuration used.
    pub config: GenerateConfig,
    /// The GeoIP database used to choose addresses by country.
    pub geoip: String,
    /// Start of the period (first possible event time), RFC 3339.
    pub start: String,
    /// End of the period (exclusive), RFC 3339.
    pub end: String,
    /// Number of files written.
    pub files: u64,
    /// Number of events written.
    pub events: u64,
    /// Of which background events (including the daily calls of background keys).
    pub background_events: u64,
    /// Of which planted scenario and decoy events.
    pub planted_events: u64,
    /// Total size of the JSON documents.
    pub uncompressed_bytes: u64,
    /// Total size of the files.
    pub compressed_bytes: u64,
    /// The accounts.
    pub accounts: Vec<AccountInfo>,
    /// Every `AKIA` key.
    pub keys: Vec<KeyInfo>,
    /// Planted scenarios with their expected alerts.
    pub scenarios: Vec<ScenarioEntry>,
    /// Decoys that must not raise alerts.
    pub decoys: Vec<DecoyEntry>,
    /// Anything the generator could not do as asked.
    pub warnings: Vec<String>,
}

/// How far [`generate_with_progress`] has got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Hours of data written.
    pub hours_done: u64,
    /// Hours in the period.
    pub hours_total: u64,
    /// Events written so far.
    pub events: u64,
    /// Uncompressed bytes written so far.
    pub uncompressed_bytes: u64,
}

/// Writes a synthetic data set into `out_dir` (created if missing; it must be empty) and
/// returns its manifest, also written as `out_dir/manifest.json`.
///
/// `geo` chooses public addresses by country: use the same database when checking the expected
/// countries.
pub fn generate(
    cfg: &GenerateConfig,
    geo: &trailhound_geo::GeoIp,
    out_dir: &Path,
) -> std::io::Result<Manifest> {
    generate_with_progress(cfg, geo, out_dir, &|_| {})
}

/// [`generate`], calling `progress` after each hour of data is written (from worker threads).
pub fn generate_with_progress(
    cfg: &GenerateConfig,
    geo: &trailhound_geo::GeoIp,
    out_dir: &Path,
    progress: &(dyn Fn(Progress) + Sync),
) -> std::io::Result<Manifest> {
    engine::run(cfg, geo, out_dir, progress)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenario_names_round_trip() {
        for s in Scenario::ALL {
            assert_eq!(s.name().parse::<Scenario>(), Ok(s));
            assert_eq!(s.to_string(), s.name());
        }
        assert!("nope".parse::<Scenario>().is_err());
        let cfg = GenerateConfig::default();
        let json = serde_json::to_string(&cfg).unwrap();
        assert!(json.contains("\"2026-01-01T00:00:00Z\""), "{json}");
        assert!(json.contains("\"failed-api-spike\""), "{json}");
        assert_eq!(serde_json::from_str::<GenerateConfig>(&json).unwrap(), cfg);
    }
}
