//! Alert output: a terminal table, JSON Lines, and the field's finding formats (OCSF, ECS).

pub mod ecs;
pub mod ocsf;

use std::io::Write;

use serde::Serialize;
use trailhound_detect::{Alert, Severity};
use trailhound_model::format_rfc3339;

/// Output formats of `hunt` and `alerts list`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A table for people (coloured by severity on a terminal).
    Table,
    /// One JSON object per alert per line, with the spec's fields.
    Jsonl,
    /// A self-contained HTML report with charts per access key (`hunt` only).
    Html,
    /// One OCSF 1.5.0 Detection Finding (class 2004, as in AWS Security Lake) per line.
    Ocsf,
    /// One Elastic Common Schema document (`event.kind: alert`) per line.
    Ecs,
}

/// An alert as written in JSON Lines: the alert's fields plus its lifecycle status.
#[derive(Serialize)]
struct AlertLine<'a> {
    #[serde(flatten)]
    alert: &'a Alert,
    status: &'a str,
}

/// Writes alerts as JSON Lines.
pub fn write_jsonl(out: &mut dyn Write, alerts: &[(Alert, String)]) -> std::io::Result<()> {
    for (alert, status) in alerts {
        serde_json::to_writer(&mut *out, &AlertLine { alert, status })?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// Writes alerts as JSON Lines of OCSF Detection Findings, or of ECS documents.
pub fn write_findings(
    out: &mut dyn Write,
    alerts: &[(Alert, String)],
    format: Format,
) -> std::io::Result<()> {
    for (alert, status) in alerts {
        let doc = match format {
            Format::Ecs => ecs::document(alert, status),
            _ => ocsf::finding(alert, status),
        };
        serde_json::to_writer(&mut *out, &doc)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// The account id of an ARN (`arn:aws:iam::123456789012:user/x` → `123456789012`).
pub(crate) fn account_of(arn: &str) -> Option<&str> {
    let account = arn.split(':').nth(4)?;
    (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())).then_some(account)
}

/// The partition of an ARN (`aws`, `aws-cn`, `aws-us-gov`); `aws` when it names none.
pub(crate) fn partition_of(arn: &str) -> &str {
    match arn.split(':').nth(1) {
        Some(p) if arn.starts_with("arn:") && !p.is_empty() => p,
        _ => "aws",
    }
}

/// The user name of an IAM user ARN (`arn:aws:iam::1:user/path/alice` → `alice`).
pub(crate) fn user_name_of(arn: &str) -> Option<&str> {
    let resource = arn.split(':').nth(5)?;
    let rest = resource.strip_prefix("user/")?;
    rest.rsplit('/').next().filter(|n| !n.is_empty())
}

/// The alert's fields no finding format has a place for.
pub(crate) fn extra_fields(alert: &Alert) -> serde_json::Value {
    serde_json::json!({
        "access_key_id": alert.access_key_id,
        "source_ips": alert.source_ips,
        "countries": alert.countries,
        "user_agents": alert.user_agents,
        "event_names": alert.event_names,
        "event_ids": alert.event_ids,
        "root_key": alert.root_key,
        "principal": alert.principal,
        "suppressed_count": alert.suppressed_count,
        "details": alert.details,
    })
}

/// Writes alerts as a table at most `width` columns wide; `color` adds ANSI colours.
pub fn write_table(
    out: &mut dyn Write,
    alerts: &[(Alert, String)],
    width: usize,
    color: bool,
) -> std::io::Result<()> {
    if alerts.is_empty() {
        return writeln!(out, "no alerts");
    }
    // Fixed columns: time 16, severity 8, key or principal 20, count 5, rule title 31 (cut
    // with an ellipsis); the source addresses get the rest.
    const FIXED: usize = 16 + 1 + 8 + 1 + 20 + 1 + 5 + 1 + 31 + 1;
    let from_w = width.saturating_sub(FIXED).max(12);
    writeln!(
        out,
        "{:<16} {:<8} {:<20} {:>5} {:<31} FROM",
        "TIME (UTC)", "SEVERITY", "KEY OR PRINCIPAL", "COUNT", "RULE"
    )?;
    for (a, status) in alerts {
        let time: String = format_rfc3339(a.time)
            .replace('T', " ")
            .chars()
            .take(16)
            .collect();
        let from = if a.countries.is_empty() {
            a.source_ips.join(",")
        } else {
            format!("{} {}", a.countries.join(","), a.source_ips.join(","))
        };
        let sev = fit(a.severity.as_str(), 8);
        let sev = if color { paint(a.severity, &sev) } else { sev };
        let title = if a.suppressed_count > 0 {
            format!("{} (+{})", a.rule_name, a.suppressed_count)
        } else {
            a.rule_name.clone()
        };
        let rule = if status == "open" {
            title
        } else {
            format!("({status}) {title}")
        };
        // The long-term key at the root, else the principal (its last part): who to contain.
        let who = if a.root_key.is_empty() {
            a.principal
                .rsplit_once(':')
                .map_or(a.access_key_id.as_str(), |(_, tail)| tail)
        } else {
            a.root_key.as_str()
        };
        writeln!(
            out,
            "{} {sev} {} {:>5} {} {}",
            fit(&time, 16),
            fit(who, 20),
            a.count,
            fit(&rule, 31),
            fit(&from, from_w).trim_end(),
        )?;
    }
    Ok(())
}

/// `text` in the terminal colour of severity `s`.
pub(crate) fn paint(s: Severity, text: &str) -> String {
    let code = match s {
        Severity::Low => "36",
        Severity::Medium => "33",
        Severity::High => "31",
        Severity::Critical => "1;35",
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

/// Pads or cuts `s` to exactly `w` characters (an ellipsis marks a cut).
pub(crate) fn fit(s: &str, w: usize) -> String {
    let n = s.chars().count();
    if n <= w {
        format!("{s:<w$}")
    } else {
        let cut: String = s.chars().take(w.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_give_account_partition_and_user() {
        let arn = "arn:aws-us-gov:iam::123456789012:user/ops/alice";
        assert_eq!(account_of(arn), Some("123456789012"));
        assert_eq!(partition_of(arn), "aws-us-gov");
        assert_eq!(user_name_of(arn), Some("alice"));
        assert_eq!(user_name_of("arn:aws:iam::123456789012:root"), None);
        assert_eq!(account_of("AIDAEXAMPLE"), None);
        assert_eq!(partition_of("AIDAEXAMPLE"), "aws");
    }

    #[test]
    fn fit_pads_and_cuts() {
        assert_eq!(fit("abc", 5), "abc  ");
        assert_eq!(fit("abcdef", 4), "abc…");
        assert_eq!(fit("ééé", 3), "ééé");
    }
}
