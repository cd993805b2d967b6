//! Alerts as Elastic Common Schema documents (`event.kind: alert`), one JSON object per line, for
//! Elasticsearch and the tools that read ECS.
//!
//! Mapping: `@timestamp` is the alert's time; `event.*` carries the id, the reason, the
//! severity (the risk score, as Elastic Security's rules do) and the evidence's time span;
//! `rule.*` the rule; `threat.*` the MITRE techniques; `cloud.*` the account; `user.*` the
//! principal; `source.ip` the first source IP address and `related.ip` all of them (an AWS
//! service's name, which CloudTrail gives as the source, goes to `source.domain` and
//! `related.hosts`);
//! `user_agent.original` the first user agent. The access key is where Elastic's AWS CloudTrail
//! integration puts it (`aws.cloudtrail.user_identity.access_key_id`); what ECS has no field for
//! is under `trailhound.*` (a custom field set, as ECS recommends for fields of one's own).

use serde_json::{Value, json};
use trailhound_detect::Alert;
use trailhound_model::format_rfc3339;

/// The ECS version the documents follow.
pub const ECS_VERSION: &str = "9.4.0";

/// One alert with its status as an ECS document.
pub fn document(alert: &Alert, status: &str) -> Value {
    let mut doc = json!({
        "@timestamp": format_rfc3339(alert.time),
        "message": alert.why,
        "ecs": { "version": ECS_VERSION },
        "event": {
            "kind": "alert",
            "category": ["iam"],
            "type": ["info"],
            "id": alert.id,
            "code": alert.rule_id,
            "reason": alert.why,
            "severity": alert.risk_score,
            "risk_score": f64::from(alert.risk_score),
            "start": format_rfc3339(alert.first_seen),
            "end": format_rfc3339(alert.last_seen),
            "provider": "cloudtrail.amazonaws.com",
            "module": "trailhound",
            "dataset": "trailhound.alerts",
        },
        "rule": {
            "id": alert.rule_id,
            "name": alert.rule_name,
            "description": alert.why,
            "ruleset": "trailhound",
        },
        "cloud": { "provider": "aws" },
        "user": { "id": alert.user_arn },
        "related": {
            "user": [alert.user_arn.clone()],
        },
        "aws": { "cloudtrail": { "user_identity": { "access_key_id": alert.access_key_id } } },
        "trailhound": {
            "status": status,
            "severity": alert.severity.as_str(),
            "remediation": alert.remediation,
            "extra": super::extra_fields(alert),
        },
    });
    if let Some(account) = super::account_of(&alert.user_arn) {
        doc["cloud"]["account"] = json!({ "id": account });
    }
    if let Some(name) = super::user_name_of(&alert.user_arn) {
        doc["user"]["name"] = json!(name);
    }
    // CloudTrail's source address is an IP address or an AWS service's name.
    let (ips, hosts): (Vec<&String>, Vec<&String>) = alert
        .source_ips
        .iter()
        .partition(|s| s.parse::<std::net::IpAddr>().is_ok());
    if !ips.is_empty() {
        doc["related"]["ip"] = json!(ips);
    }
    if !hosts.is_empty() {
        doc["related"]["hosts"] = json!(hosts);
    }
    match (ips.first(), hosts.first()) {
        (Some(ip), _) => doc["source"] = json!({ "ip": ip }),
        (None, Some(host)) => doc["source"] = json!({ "domain": host }),
        (None, None) => {}
    }
    if let Some(ua) = alert.user_agents.first() {
        doc["user_agent"] = json!({ "original": ua });
    }
    if !alert.mitre.is_empty() {
        let (techniques, subs): (Vec<&String>, Vec<&String>) =
            alert.mitre.iter().partition(|id| !id.contains('.'));
        let mut technique_ids: Vec<&str> = techniques.iter().map(|s| s.as_str()).collect();
        technique_ids.extend(subs.iter().filter_map(|s| s.split('.').next()));
        technique_ids.sort_unstable();
        technique_ids.dedup();
        let mut threat = json!({
            "framework": "MITRE ATT&CK",
            "technique": {
                "id": technique_ids,
                "name": technique_ids.iter().map(|id| trailhound_report::mitre_name(id).unwrap_or(id)).collect::<Vec<_>>(),
                "reference": technique_ids.iter().filter_map(|id| trailhound_report::mitre_url(id)).collect::<Vec<_>>(),
            },
        });
        if !subs.is_empty() {
            threat["technique"]["subtechnique"] = json!({
                "id": subs,
                "name": subs.iter().map(|id| trailhound_report::mitre_name(id).unwrap_or(id)).collect::<Vec<_>>(),
                "reference": subs.iter().filter_map(|id| trailhound_report::mitre_url(id)).collect::<Vec<_>>(),
            });
        }
        doc["threat"] = threat;
    }
    doc
}
