//! The AWS Security Hub target: alerts imported as findings in the AWS Security Finding Format
//! (ASFF) with `BatchImportFindings`, through the AWS SDK and the AWS CLI's credential chain.
//!
//! The finding id is the alert id, so importing an alert again updates its finding in place;
//! the outbox sends each alert once, and again only when it changed (its status, mapped to the
//! finding's workflow status, or its evidence). Findings are filed under the account's default product
//! (`arn:aws:securityhub:REGION:ACCOUNT:product/ACCOUNT/default`, the one for custom
//! integrations); the account is the caller's (`sts:GetCallerIdentity`).

use std::collections::HashMap;

use anyhow::{Context, Result, anyhow};
use aws_sdk_securityhub::types::{
    AwsIamAccessKeyDetails, AwsSecurityFinding, Recommendation, RecordState, Remediation, Resource,
    ResourceDetails, Severity as AsffSeverity, SeverityLabel, Workflow, WorkflowStatus,
};
use trailhound_detect::{Alert, Severity};
use trailhound_model::format_rfc3339;
use trailhound_store::StoredAlert;

use super::Target;

/// Findings per `BatchImportFindings` request (the API's maximum).
const BATCH: usize = 100;

/// Security Hub in one region.
pub struct SecurityHub {
    id: String,
    client: aws_sdk_securityhub::Client,
    runtime: tokio::runtime::Runtime,
    region: String,
    account: String,
}

impl SecurityHub {
    /// A client for the region of the AWS configuration (or `region`), with the caller's account.
    pub fn open(region: Option<&str>) -> Result<Self> {
        let (runtime, config) =
            trailhound_source::aws_credentials::blocking_sdk_config(region, None)
                .context("starting the Security Hub client")?;
        let region = config.region().map(ToString::to_string).ok_or_else(|| {
            anyhow!("Security Hub: no AWS region (set AWS_REGION or --securityhub-region)")
        })?;
        let account = runtime
            .block_on(
                aws_sdk_sts::Client::new(&config)
                    .get_caller_identity()
                    .send(),
            )
            .map_err(|e| {
                anyhow!(
                    "Security Hub: finding the caller's account: {}",
                    trailhound_source::aws_credentials::error_chain(&e)
                )
            })?
            .account
            .ok_or_else(|| anyhow!("Security Hub: sts:GetCallerIdentity named no account"))?;
        Ok(Self {
            id: format!("aws-securityhub:{region}"),
            client: aws_sdk_securityhub::Client::new(&config),
            runtime,
            region,
            account,
        })
    }
}

impl Target for SecurityHub {
    fn id(&self) -> &str {
        &self.id
    }

    fn batch(&self) -> usize {
        BATCH
    }

    /// A finding follows its alert: a status change (acknowledged → Notified, closed →
    /// Resolved) or new evidence is imported again, under the same id.
    fn keeps_copies(&self) -> bool {
        true
    }

    fn send(&mut self, alerts: &[StoredAlert]) -> Vec<Result<(), String>> {
        let findings: Vec<AwsSecurityFinding> = alerts
            .iter()
            .map(|a| finding(a, &self.region, &self.account))
            .collect();
        let result = self.runtime.block_on(
            self.client
                .batch_import_findings()
                .set_findings(Some(findings))
                .send(),
        );
        match result {
            Ok(out) => {
                let failed: HashMap<&str, String> = out
                    .failed_findings()
                    .iter()
                    .map(|f| {
                        (
                            f.id().unwrap_or_default(),
                            format!(
                                "Security Hub refused the finding: {} {}",
                                f.error_code().unwrap_or_default(),
                                f.error_message().unwrap_or_default()
                            ),
                        )
                    })
                    .collect();
                alerts
                    .iter()
                    .map(|a| match failed.get(a.alert.id.as_str()) {
                        Some(e) => Err(e.clone()),
                        None => Ok(()),
                    })
                    .collect()
            }
            Err(e) => {
                let e = format!(
                    "Security Hub: {}",
                    trailhound_source::aws_credentials::error_chain(&e)
                );
                alerts.iter().map(|_| Err(e.clone())).collect()
            }
        }
    }
}

/// An alert as an ASFF finding in `account`'s default product in `region`.
pub fn finding(stored: &StoredAlert, region: &str, account: &str) -> AwsSecurityFinding {
    let a = &stored.alert;
    let (label, normalized) = match a.severity {
        Severity::Low => (SeverityLabel::Low, 30),
        Severity::Medium => (SeverityLabel::Medium, 50),
        Severity::High => (SeverityLabel::High, 70),
        Severity::Critical => (SeverityLabel::Critical, 90),
    };
    let partition = crate::output::partition_of(&a.user_arn);
    let workflow = match stored.status.as_str() {
        "acknowledged" => WorkflowStatus::Notified,
        "closed" => WorkflowStatus::Resolved,
        _ => WorkflowStatus::New,
    };
    let mut key = AwsIamAccessKeyDetails::builder()
        .principal_name(crate::output::user_name_of(&a.user_arn).unwrap_or(&a.user_arn))
        .access_key_id(a.access_key_id.clone());
    if let Some(acct) = crate::output::account_of(&a.user_arn) {
        key = key.account_id(acct);
    }
    AwsSecurityFinding::builder()
        .schema_version("2018-10-08")
        .id(a.id.clone())
        .product_arn(format!(
            "arn:{partition}:securityhub:{region}:{account}:product/{account}/default"
        ))
        .product_name("Trailhound")
        .company_name("Trailhound")
        .region(region)
        .generator_id(format!("trailhound/{}", a.rule_id))
        .aws_account_id(crate::output::account_of(&a.user_arn).unwrap_or(account))
        .types(asff_type(a))
        .first_observed_at(format_rfc3339(a.first_seen))
        .last_observed_at(format_rfc3339(a.last_seen))
        .created_at(format_rfc3339(stored.created_at))
        .updated_at(format_rfc3339(stored.updated_at))
        .severity(
            AsffSeverity::builder()
                .label(label)
                .normalized(normalized)
                .original(a.severity.as_str())
                .build(),
        )
        .title(cut(&a.rule_name, 256))
        .description(cut(&a.why, 1024))
        .remediation(
            Remediation::builder()
                .recommendation(
                    Recommendation::builder()
                        .text(cut(&a.remediation, 512))
                        .build(),
                )
                .build(),
        )
        .resources(
            Resource::builder()
                .r#type("AwsIamAccessKey")
                .id(a.access_key_id.clone())
                .partition(partition.into())
                .region(region)
                .details(
                    ResourceDetails::builder()
                        .aws_iam_access_key(key.build())
                        .build(),
                )
                .build(),
        )
        .set_product_fields(Some(product_fields(a)))
        .workflow(Workflow::builder().status(workflow).build())
        .record_state(RecordState::Active)
        .build()
}

/// The ASFF finding type: TTPs by the alert's first ATT&CK tactic we know, else unusual
/// behaviour of a user.
fn asff_type(a: &Alert) -> String {
    let tactic = a.mitre.iter().find_map(|m| {
        Some(match m.split('.').next()? {
            "T1078" => "Initial Access",
            "T1087" | "T1580" | "T1526" => "Discovery",
            "T1552" | "T1528" | "T1110" => "Credential Access",
            "T1098" | "T1136" => "Persistence",
            "T1562" => "Defense Evasion",
            "T1530" => "Collection",
            _ => return None,
        })
    });
    match tactic {
        Some(t) => format!("TTPs/{t}"),
        None => "Unusual Behaviors/User".to_owned(),
    }
}

/// Trailhound's own fields (at most 50, values at most 2048 characters, as ASFF allows).
fn product_fields(a: &Alert) -> HashMap<String, String> {
    let mut f = HashMap::new();
    let mut put = |k: &str, v: String| {
        if !v.is_empty() {
            f.insert(format!("trailhound/{k}"), cut(&v, 2048));
        }
    };
    put("rule_id", a.rule_id.clone());
    put("access_key_id", a.access_key_id.clone());
    put("source_ips", a.source_ips.join(" "));
    put("countries", a.countries.join(" "));
    put("event_names", a.event_names.join(" "));
    put("mitre", a.mitre.join(" "));
    put("count", a.count.to_string());
    put("root_key", a.root_key.clone());
    put("risk_score", a.risk_score.to_string());
    f
}

/// `s` cut to at most `n` characters.
fn cut(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}
