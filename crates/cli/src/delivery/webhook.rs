//! Webhook targets: each alert POSTed as JSON to a URL, with the alert id in the
//! `Idempotency-Key` header, so a receiver can recognise an alert sent again. A connection error, a timeout or a non-2xx answer is a
//! failure, retried by [`super::Delivery`].

use std::time::Duration;

use clap::ValueEnum;
use trailhound_store::StoredAlert;
use trailhound_store::outbox::display_target;

use super::Target;

/// The body format of webhook requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum WebhookFormat {
    /// The alert as JSON (the same object as `alerts list --format jsonl` prints).
    Json,
    /// A Slack-compatible incoming-webhook message (`{"text": …}`).
    Slack,
    /// A Microsoft Teams message with an Adaptive Card (a Teams workflow's "when a webhook
    /// request is received" trigger, or a Power Automate flow).
    Teams,
    /// The alert as an OCSF Detection Finding.
    Ocsf,
    /// The alert as an ECS document.
    Ecs,
}

/// One webhook URL.
pub struct Webhook {
    url: String,
    format: WebhookFormat,
    agent: ureq::Agent,
}

impl Webhook {
    /// A webhook target; `timeout` bounds each request.
    pub fn new(url: String, format: WebhookFormat, timeout: Duration) -> Self {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .build()
            .into();
        Self { url, format, agent }
    }
}

impl Target for Webhook {
    fn id(&self) -> &str {
        &self.url
    }

    fn send(&mut self, alerts: &[StoredAlert]) -> Vec<Result<(), String>> {
        alerts
            .iter()
            .map(|a| {
                self.agent
                    .post(&self.url)
                    .header("Content-Type", "application/json")
                    .header("Idempotency-Key", &a.alert.id)
                    .send(body(a, self.format))
                    .map(|_| ())
                    .map_err(|e| format!("{}: {e}", display_target(&self.url)))
            })
            .collect()
    }
}

/// The request body for one alert.
pub fn body(stored: &StoredAlert, format: WebhookFormat) -> String {
    let alert = &stored.alert;
    match format {
        WebhookFormat::Json => serde_json::to_string(stored).unwrap_or_default(),
        WebhookFormat::Slack => {
            serde_json::json!({ "text": summary_lines(stored).join("\n") }).to_string()
        }
        WebhookFormat::Teams => {
            let facts: Vec<serde_json::Value> = facts(stored)
                .into_iter()
                .map(|(title, value)| serde_json::json!({ "title": title, "value": value }))
                .collect();
            serde_json::json!({
                "type": "message",
                "attachments": [{
                    "contentType": "application/vnd.microsoft.card.adaptive",
                    "content": {
                        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                        "type": "AdaptiveCard",
                        "version": "1.4",
                        "body": [
                            { "type": "TextBlock", "size": "Medium", "weight": "Bolder", "wrap": true,
                              "text": format!("[{}] {}", alert.severity.as_str(), alert.rule_name) },
                            { "type": "TextBlock", "wrap": true, "text": alert.why },
                            { "type": "FactSet", "facts": facts },
                        ],
                    },
                }],
            })
            .to_string()
        }
        WebhookFormat::Ocsf => {
            crate::output::ocsf::finding(alert, stored.status.as_str()).to_string()
        }
        WebhookFormat::Ecs => {
            crate::output::ecs::document(alert, stored.status.as_str()).to_string()
        }
    }
}

/// The facts a chat message shows.
fn facts(stored: &StoredAlert) -> Vec<(&'static str, String)> {
    let a = &stored.alert;
    vec![
        ("Key", a.access_key_id.clone()),
        ("Principal", a.user_arn.clone()),
        (
            "When",
            format!(
                "{} to {}",
                trailhound_model::format_rfc3339(a.first_seen),
                trailhound_model::format_rfc3339(a.last_seen)
            ),
        ),
        ("Countries", a.countries.join(" ")),
        ("Source addresses", a.source_ips.join(" ")),
        ("Alert id", a.id.clone()),
        ("Status", stored.status.as_str().to_owned()),
    ]
}

/// A plain-text message: title, why, facts.
fn summary_lines(stored: &StoredAlert) -> Vec<String> {
    let a = &stored.alert;
    let mut lines = vec![
        format!("*{}* [{}]", a.rule_name, a.severity.as_str()),
        a.why.clone(),
    ];
    lines.extend(
        facts(stored)
            .into_iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| format!("{k}: `{v}`")),
    );
    lines
}
