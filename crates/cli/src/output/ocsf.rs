//! Alerts as OCSF Detection Findings (class 2004, OCSF 1.5.0): the schema of AWS Security Lake
//! and of the SIEMs that read OCSF.
//!
//! Mapping: the alert id is `finding_info.uid` and `metadata.uid`; the rule is the analytic
//! (`finding_info.analytic`, type Rule); MITRE ids become `finding_info.attacks` (technique and,
//! for `T1234.001`, sub-technique); severity and risk map to their ids (low 2, medium 3, high 4,
//! critical 5; risk level 1–4); the lifecycle status maps to `status_id` (open New, acknowledged
//! In Progress, closed Resolved); the key is the affected resource (`AWS::IAM::AccessKey`), and
//! its account the `cloud.account`. What OCSF has no attribute for (source addresses,
//! countries, event ids, the rule's details, lineage) is under `unmapped.trailhound`.

use serde_json::{Value, json};
use trailhound_detect::{Alert, Severity};

/// The OCSF version the findings follow.
pub const OCSF_VERSION: &str = "1.5.0";

/// One alert with its status (`open`, `acknowledged`, `closed`) as an OCSF Detection Finding.
pub fn finding(alert: &Alert, status: &str) -> Value {
    let ms = |t: i64| t.div_euclid(1_000_000);
    let (severity_id, risk_level_id, risk_level) = match alert.severity {
        Severity::Low => (2, 1, "Low"),
        Severity::Medium => (3, 2, "Medium"),
        Severity::High => (4, 3, "High"),
        Severity::Critical => (5, 4, "Critical"),
    };
    let (status_id, status_name) = match status {
        "acknowledged" => (2, "In Progress"),
        "closed" => (4, "Resolved"),
        _ => (1, "New"),
    };
    let attacks: Vec<Value> = alert.mitre.iter().map(|id| attack(id)).collect();
    let mut cloud = json!({ "provider": "AWS" });
    if let Some(account) = super::account_of(&alert.user_arn) {
        cloud["account"] = aws_account(account);
    }
    let mut resource = json!({
        "uid": alert.access_key_id,
        "type": "AWS::IAM::AccessKey",
        "name": alert.access_key_id,
        "cloud_partition": super::partition_of(&alert.user_arn),
    });
    if let Some(owner) = owner(&alert.user_arn) {
        resource["owner"] = owner;
    }
    json!({
        "activity_id": 1,
        "activity_name": "Create",
        "category_uid": 2,
        "category_name": "Findings",
        "class_uid": 2004,
        "class_name": "Detection Finding",
        "type_uid": 200401,
        "type_name": "Detection Finding: Create",
        "severity_id": severity_id,
        "severity": capitalized(alert.severity.as_str()),
        "status_id": status_id,
        "status": status_name,
        "time": ms(alert.time),
        "start_time": ms(alert.first_seen),
        "end_time": ms(alert.last_seen),
        "count": alert.count,
        "message": alert.why,
        "risk_score": alert.risk_score,
        "risk_level_id": risk_level_id,
        "risk_level": risk_level,
        "metadata": {
            "version": OCSF_VERSION,
            "uid": alert.id,
            "product": {
                "name": "Trailhound",
                "vendor_name": "Trailhound",
                "version": env!("CARGO_PKG_VERSION"),
            },
            "profiles": ["cloud"],
        },
        "finding_info": {
            "uid": alert.id,
            "title": alert.rule_name,
            "desc": alert.why,
            "types": [alert.rule_id],
            "first_seen_time": ms(alert.first_seen),
            "last_seen_time": ms(alert.last_seen),
            "analytic": {
                "uid": alert.rule_id,
                "name": alert.rule_name,
                "type_id": 1,
                "type": "Rule",
            },
            "attacks": attacks,
            "data_sources": ["AWS CloudTrail"],
        },
        "cloud": cloud,
        "resources": [resource],
        "remediation": { "desc": alert.remediation },
        "unmapped": { "trailhound": super::extra_fields(alert) },
    })
}

/// An ATT&CK id as an OCSF attack: the technique, and the sub-technique of `T1234.001`.
fn attack(id: &str) -> Value {
    let base = id.split('.').next().unwrap_or(id);
    // OCSF requires a name; an id missing from Trailhound's table is its own name.
    let technique = |uid: &str| {
        let mut t =
            json!({ "uid": uid, "name": trailhound_report::mitre_name(uid).unwrap_or(uid) });
        if let Some(url) = trailhound_report::mitre_url(uid) {
            t["src_url"] = json!(url);
        }
        t
    };
    let mut a = json!({ "technique": technique(base), "version": "v16" });
    if base != id {
        a["sub_technique"] = technique(id);
    }
    a
}

/// An AWS account (OCSF account type 10; its alias is not in CloudTrail, so its name is its id).
fn aws_account(id: &str) -> Value {
    json!({ "uid": id, "name": id, "type_id": 10, "type": "AWS Account" })
}

/// The principal using the key (an IAM user: user type 1; a role session or anything else:
/// 99, Other), when its ARN names an account.
fn owner(arn: &str) -> Option<Value> {
    let account = super::account_of(arn)?;
    let (name, type_id, kind) = match super::user_name_of(arn) {
        Some(user) => (user, 1, "User"),
        None => (arn.rsplit('/').next().unwrap_or(arn), 99, "Other"),
    };
    Some(json!({
        "uid": arn,
        "name": name,
        "type_id": type_id,
        "type": kind,
        "account": aws_account(account),
    }))
}

fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}
