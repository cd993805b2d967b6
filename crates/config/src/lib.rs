//! Trailhound's configuration file: allow-lists, rule parameters, Sigma rules, suppression,
//! incidents and continuous mode, in TOML.
//!
//! ```toml
//! [allow]
//! access_keys = ["AKIA..."]
//! source_ips = ["203.0.113.0/24"]
//! countries = ["NZ"]
//!
//! [rules.aws-akia-failed-api-spike]
//! lookback = "14d"
//! ```
//!
//! Unknown tables and keys are errors, reported with their line number. `config/trailhound.toml`
//! lists every parameter with its default.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};
use serde::Deserialize;
use trailhound_detect::allow::{AllowList, AllowListConfig};
use trailhound_detect::{ConfigError, Detector, Span, build_detectors, correlation};
use trailhound_sigma::{Level, RuleSet};

/// The parsed configuration file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Events to ignore.
    #[serde(default)]
    pub allow: AllowListConfig,
    /// Parameters per rule id.
    #[serde(default)]
    pub rules: BTreeMap<String, toml::Table>,
    /// Sigma rules.
    #[serde(default)]
    pub sigma: SigmaConfig,
    /// Alert suppression: globally for Sigma and built-in rules, and per rule.
    #[serde(default)]
    pub suppression: trailhound_detect::suppression::Policies,
    /// What opens incidents.
    #[serde(default)]
    pub incidents: trailhound_detect::incident::Params,
    /// Continuous mode.
    #[serde(default)]
    pub watch: WatchConfig,
    /// What `watch` does about new alerts (off unless enabled).
    #[serde(default)]
    pub response: ResponseConfig,
    #[serde(skip)]
    text: String,
    #[serde(skip)]
    origin: String,
}

impl Config {
    /// Reads and parses a configuration file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading config {}", path.display()))?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses configuration text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self> {
        let mut c: Config = toml::from_str(text).map_err(|e| anyhow!("{origin}: {e}"))?;
        c.text = text.to_owned();
        c.origin = origin.to_owned();
        Ok(c)
    }

    /// The compiled allow-list.
    pub fn allow_list(&self) -> Result<AllowList> {
        AllowList::new(&self.allow).map_err(|e| anyhow!("{}: {e}", self.origin))
    }

    /// The parameters of the correlation rule D5, which reads alerts, not events.
    pub fn correlation_params(&self) -> Result<correlation::Params> {
        let table = self
            .rules
            .get(correlation::RULE_ID)
            .map(serde_json::to_value)
            .transpose()?;
        correlation::Params::from_json(table.as_ref()).map_err(|e| {
            self.error_at(
                self.line_of(&format!("[rules.{}]", correlation::RULE_ID)),
                e,
            )
        })
    }

    /// The suppression policies, checked.
    pub fn suppression(&self) -> Result<trailhound_detect::suppression::Policies> {
        self.suppression
            .check()
            .map_err(|e| self.error_at(self.line_of("[suppression"), e))?;
        Ok(self.suppression.clone())
    }

    /// The parameters of the event rules (rule id → JSON object), D5's left out.
    pub fn rule_params(&self) -> Result<BTreeMap<String, serde_json::Value>> {
        self.rules
            .iter()
            .filter(|(k, _)| *k != correlation::RULE_ID)
            .map(|(k, v)| Ok((k.clone(), serde_json::to_value(v)?)))
            .collect()
    }

    /// One detector per registered event rule, with this file's parameters.
    pub fn detectors(&self) -> Result<Vec<Box<dyn Detector>>> {
        let params = self.rule_params()?;
        build_detectors(&params).map_err(|e| {
            let line = match &e {
                ConfigError::UnknownRule(rule) => self.line_of(&format!("[rules.{rule}]")),
                ConfigError::Params { rule, source } => unknown_field(&source.to_string())
                    .and_then(|f| self.line_in_section(rule, &f))
                    .or_else(|| self.line_of(&format!("[rules.{rule}]"))),
                ConfigError::Invalid { rule, .. } => self.line_of(&format!("[rules.{rule}]")),
            };
            self.error_at(line, e)
        })
    }

    /// D1 as a single scheduled run at `cutoff`, with this file's parameters.
    pub fn failed_api_spike_at(
        &self,
        cutoff: trailhound_model::Timestamp,
    ) -> Result<Box<dyn Detector>> {
        use trailhound_detect::rules::failed_api_spike::{
            FailedApiSpike, HuntOptions, Params, RULE_ID, Schedule,
        };
        let params: Params = match self.rules.get(RULE_ID) {
            Some(t) => serde_json::from_value(serde_json::to_value(t)?)?,
            None => Params::default(),
        };
        let options = HuntOptions {
            schedule: Schedule::At(vec![cutoff]),
            ..HuntOptions::default()
        };
        Ok(Box::new(FailedApiSpike::new(params, options)?))
    }

    /// An error naming this file and, when known, the line.
    fn error_at(&self, line: Option<usize>, e: impl std::fmt::Display) -> anyhow::Error {
        match line {
            Some(n) => anyhow!("{}: line {n}: {e}", self.origin),
            None => anyhow!("{}: {e}", self.origin),
        }
    }

    fn line_of(&self, needle: &str) -> Option<usize> {
        self.text
            .lines()
            .position(|l| l.trim_start().starts_with(needle))
            .map(|i| i + 1)
    }

    /// The line of `key = ...` inside `[rules.<rule>]`.
    fn line_in_section(&self, rule: &str, key: &str) -> Option<usize> {
        self.line_in_table(&format!("rules.{rule}"), key)
    }
}

/// `[watch]`: continuous mode.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WatchConfig {
    /// How long an event is held for files of other streams (or late files of its own) that may
    /// still precede it: it waits until files delivered this long after it have arrived.
    /// Default 30 minutes: CloudTrail delivers within about 5 minutes on average (AWS
    /// CloudTrail User Guide, "Getting and viewing your CloudTrail log files"; 15 minutes was
    /// the figure it used to give), and events lie up to 10 minutes before their file's
    /// delivery time in the real logs of `../shared/data` (2,937 events: median 3.4, p99 8.4).
    pub allowed_lateness: Span,
}

impl Default for WatchConfig {
    fn default() -> Self {
        Self {
            allowed_lateness: Span::from_nanos(30 * 60 * trailhound_model::SECOND),
        }
    }
}

/// `[response]`: what `trailhound watch` does about each new alert on a long-term key, as
/// `trailhound respond` would. Off unless `enabled`; when enabled it prints and records the
/// exact commands without acting unless `act = true`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ResponseConfig {
    /// Respond to new alerts at all.
    pub enabled: bool,
    /// Act through the IAM API; otherwise print and record the commands only (a dry run).
    pub act: bool,
    /// Deactivate the key.
    pub deactivate_key: bool,
    /// Revoke the sessions its user minted.
    pub revoke_sessions: bool,
    /// Only alerts of at least this severity.
    pub min_severity: trailhound_detect::Severity,
    /// Only alerts of these rule ids (empty: every rule).
    pub rules: Vec<String>,
}

impl Default for ResponseConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            act: false,
            deactivate_key: true,
            revoke_sessions: true,
            min_severity: trailhound_detect::Severity::High,
            rules: Vec::new(),
        }
    }
}

impl ResponseConfig {
    /// True when a new alert should get a response.
    pub fn applies_to(&self, alert: &trailhound_detect::Alert) -> bool {
        self.enabled
            && alert.severity >= self.min_severity
            && (self.rules.is_empty() || self.rules.contains(&alert.rule_id))
    }
}

/// `[sigma]`: Sigma rules as a further alert source.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SigmaConfig {
    /// Run Sigma rules at all.
    pub enabled: bool,
    /// Load the shipped SigmaHQ CloudTrail rules (`rules/sigma/aws/cloudtrail/`, built in).
    pub builtin: bool,
    /// Further folders of Sigma rules (`.yml`/`.yaml`, read recursively); relative paths are
    /// relative to the configuration file.
    pub folders: Vec<PathBuf>,
    /// Rules below this level are not loaded: informational, low, medium, high or critical.
    pub min_level: String,
    /// One alert per rule, subject and this UTC-aligned time bucket.
    pub bucket: Span,
    /// Rules left out, by rule id or by file name (with or without `.yml`): the usual way to
    /// tune a rule set. A name that matches no loaded rule is an error, so a typo does not
    /// silently keep a noisy rule.
    pub disabled: Vec<String>,
    /// Shipped rules that are off by default (`trailhound_sigma::load::OFF_BY_DEFAULT`, listed
    /// with why in docs/sigma.md) to turn on, by rule id or file name.
    pub enable: Vec<String>,
}

impl Default for SigmaConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            builtin: true,
            folders: Vec::new(),
            min_level: "informational".to_owned(),
            bucket: Span::hours(1),
            disabled: Vec::new(),
            enable: Vec::new(),
        }
    }
}

impl Config {
    /// The `[sigma]` folders, relative ones resolved against the configuration file's folder.
    pub fn sigma_folders(&self) -> Vec<PathBuf> {
        let base = Path::new(&self.origin).parent();
        self.sigma
            .folders
            .iter()
            .map(|f| match base {
                // `components` drops `.` segments: `dir/./rule.yml` would read oddly in messages.
                Some(b) if f.is_relative() && !self.origin.is_empty() => {
                    b.join(f).components().collect()
                }
                _ => f.clone(),
            })
            .collect()
    }

    /// The Sigma rules to run (`None` when `[sigma] enabled = false`): the loaded rules of at
    /// least `min_level` that are not `disabled`, and the files that were refused.
    pub fn sigma_rules(&self) -> Result<Option<RuleSet>> {
        if !self.sigma.enabled {
            return Ok(None);
        }
        let min = Level::parse(&self.sigma.min_level).ok_or_else(|| {
            self.error_at(
                self.line_in_table("sigma", "min_level"),
                format!(
                    "[sigma] min_level {:?} is not informational, low, medium, high or critical",
                    self.sigma.min_level
                ),
            )
        })?;
        let mut set = RuleSet::load(self.sigma.builtin, &self.sigma_folders());
        if let Some(unknown) = set.drop_off_by_default(&self.sigma.enable) {
            return Err(self.error_at(
                self.line_in_table("sigma", "enable"),
                format!("[sigma] enable: {unknown:?} is not a shipped rule that is off by default"),
            ));
        }
        if let Some(unknown) = set.disable(&self.sigma.disabled) {
            return Err(self.error_at(
                self.line_in_table("sigma", "disabled"),
                format!("[sigma] disabled: {unknown:?} is neither the id nor the file name of a loaded rule"),
            ));
        }
        set.retain_min_level(min);
        Ok(Some(set))
    }

    /// The line of `key = ...` inside `[table]`.
    fn line_in_table(&self, table: &str, key: &str) -> Option<usize> {
        let start = self.line_of(&format!("[{table}]"))?;
        self.text
            .lines()
            .enumerate()
            .skip(start)
            .take_while(|(_, l)| !l.trim_start().starts_with('['))
            .find(|(_, l)| {
                l.trim_start()
                    .strip_prefix(key)
                    .is_some_and(|r| r.trim_start().starts_with('='))
            })
            .map(|(i, _)| i + 1)
    }
}

/// The field name in serde's "unknown field `x`" message.
fn unknown_field(message: &str) -> Option<String> {
    let rest = message.split("unknown field `").nth(1)?;
    Some(rest.split('`').next()?.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_config_is_valid_and_complete() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/trailhound.toml");
        let c = Config::load(&path).unwrap();
        let ds = c.detectors().unwrap();
        assert_eq!(ds.len(), trailhound_detect::rules().len());
        // Every rule has a section, so that every parameter is documented there.
        for r in trailhound_detect::rules() {
            assert!(
                c.rules.contains_key(r.id),
                "config/trailhound.toml lacks [rules.{}]",
                r.id
            );
        }
        assert!(c.allow_list().unwrap().is_empty());
        assert_eq!(
            c.correlation_params().unwrap(),
            correlation::Params::default()
        );
        assert!(c.rules.contains_key(correlation::RULE_ID));
        let sigma = c.sigma_rules().unwrap().unwrap();
        assert!(sigma.errors.is_empty(), "{:?}", sigma.errors);
        assert_eq!(
            sigma.rules.len(),
            trailhound_sigma::RuleSet::load(true, &[]).rules.len()
                - trailhound_sigma::load::OFF_BY_DEFAULT.len()
        );
        assert_eq!(c.suppression().unwrap(), Default::default());
        assert_eq!(c.incidents, Default::default());
    }

    #[test]
    fn rules_off_by_default_are_turned_on_by_name_and_overrides_apply() {
        const MGMT: &str = "37e1e3d8-3bd8-4f8e-904c-42ac8138c884";
        let off = Config::default().sigma_rules().unwrap().unwrap();
        assert!(off.rules.iter().all(|r| r.id != MGMT));
        let c = Config::parse(
            "[sigma]\nenable = [\"aws_organizations_management_account_write_action\"]\n",
            "t.toml",
        )
        .unwrap();
        let on = c.sigma_rules().unwrap().unwrap();
        let rule = on.rules.iter().find(|r| r.id == MGMT).expect("enabled");
        // The override replaced the upstream file.
        assert_eq!(
            rule.file,
            "rules/sigma/overrides/aws_organizations_management_account_write_action.yml"
        );
        let e = Config::parse("[sigma]\nenable = [\"aws_enum_buckets\"]\n", "t.toml")
            .unwrap()
            .sigma_rules()
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("line 2") && e.contains("not a shipped rule that is off by default"),
            "{e}"
        );
    }

    #[test]
    fn suppression_and_incident_sections() {
        let c = Config::parse(
            "[suppression.sigma]\nwindow = \"run\"\n[suppression.rules.aws-akia-unauthorized-api-call]\nwindow = \"6h\"\nby = [\"access_key_id\", \"source_ips\"]\n[incidents]\nmin_severity = \"high\"\n",
            "t.toml",
        )
        .unwrap();
        use trailhound_detect::suppression::{Field, Window};
        let p = c.suppression().unwrap();
        assert_eq!(p.of("sigma-x").window, Window::Run);
        let d4 = p.of("aws-akia-unauthorized-api-call");
        assert_eq!(d4.window, Window::Every(Span::hours(6)));
        assert_eq!(d4.by, [Field::AccessKeyId, Field::SourceIps]);
        assert_eq!(c.incidents.min_severity, trailhound_detect::Severity::High);
        // Naming only `by` keeps the kind's default window.
        let c = Config::parse("[suppression.sigma]\nby = [\"access_key_id\"]\n", "t.toml").unwrap();
        assert_eq!(
            c.suppression().unwrap().of("sigma-x").window,
            Window::Every(Span::days(1))
        );
        let e = Config::parse("[suppression.sigma]\nwindow = \"weekly\"\n", "t.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("weekly"), "{e}");
        let e = Config::parse("[suppression.sigma]\nwindow = \"1d\"\nby = []\n", "t.toml")
            .unwrap()
            .suppression()
            .unwrap_err()
            .to_string();
        assert!(e.contains("one to three"), "{e}");
    }

    #[test]
    fn sigma_section() {
        let c = Config::parse("[sigma]\nenabled = false\n", "t.toml").unwrap();
        assert!(c.sigma_rules().unwrap().is_none());
        let c = Config::parse("[sigma]\nmin_level = \"high\"\n", "t.toml").unwrap();
        let set = c.sigma_rules().unwrap().unwrap();
        // Below the level, only the rules a correlation counts (they raise nothing alone).
        assert!(
            set.rules
                .iter()
                .all(|r| r.level >= Level::High || set.correlations.iter().any(|c| c.counts(r)))
        );
        assert!(set.rules.iter().any(|r| r.level < Level::High));
        assert!(!set.rules.is_empty());
        let e = Config::parse("[sigma]\nmin_level = \"loud\"\n", "t.toml")
            .unwrap()
            .sigma_rules()
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2") && e.contains("loud"), "{e}");
        let all = Config::default().sigma_rules().unwrap().unwrap().rules;
        let c = Config::parse(
            "[sigma]\ndisabled = [\"905d389b-b853-46d0-9d3d-dea0d3a3cd49\", \"aws_root_account_usage.yml\", \"aws_enum_buckets\"]\n",
            "t.toml",
        )
        .unwrap();
        let set = c.sigma_rules().unwrap().unwrap();
        assert_eq!(set.rules.len(), all.len() - 3);
        for gone in [
            "905d389b-b853-46d0-9d3d-dea0d3a3cd49",
            "8ad1600d-e9dc-4251-b0ee-a65268f29add",
        ] {
            assert!(all.iter().any(|r| r.id == gone));
            assert!(set.rules.iter().all(|r| r.id != gone), "{gone}");
        }
        assert!(
            set.rules
                .iter()
                .all(|r| !r.file.ends_with("aws_enum_buckets.yml"))
        );
        let e = Config::parse(
            "[sigma]\nbucket = \"1h\"\ndisabled = [\"no-such-rule\"]\n",
            "t.toml",
        )
        .unwrap()
        .sigma_rules()
        .unwrap_err()
        .to_string();
        assert!(e.contains("line 3") && e.contains("no-such-rule"), "{e}");
        let e = Config::parse("[sigma]\nfolder = []\n", "t.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2"), "{e}");
        let c = Config::parse(
            "[sigma]\nfolders = [\"mine\", \"/abs\"]\n",
            "/etc/th/t.toml",
        )
        .unwrap();
        assert_eq!(
            c.sigma_folders(),
            [PathBuf::from("/etc/th/mine"), PathBuf::from("/abs")]
        );
    }

    #[test]
    fn unknown_keys_are_errors_with_line_numbers() {
        let e = Config::parse("[allow]\naccess_keys = []\nbogus = 1\n", "t.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("t.toml") && e.contains("line 3"), "{e}");
        let e = Config::parse("[alow]\n", "t.toml").unwrap_err().to_string();
        assert!(e.contains("line 1"), "{e}");
        let text = "[allow]\n\n[rules.aws-akia-first-seen-source-ip]\nhistory_window = \"10d\"\nhistroy = 3\n";
        let e = Config::parse(text, "t.toml")
            .unwrap()
            .detectors()
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("line 5") && e.contains("histroy"), "{e}");
        let e = Config::parse("[rules.no-such-rule]\nx = 1\n", "t.toml")
            .unwrap()
            .detectors()
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("line 1") && e.contains("no-such-rule"), "{e}");
        let e = Config::parse("[allow]\nsource_ips = [\"10.0.0.0/40\"]\n", "t.toml")
            .unwrap()
            .allow_list()
            .unwrap_err()
            .to_string();
        assert!(e.contains("10.0.0.0/40"), "{e}");
    }
}
