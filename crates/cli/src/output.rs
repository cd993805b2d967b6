//! Alert output: a terminal table and JSON Lines.

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

fn paint(s: Severity, text: &str) -> String {
    let code = match s {
        Severity::Low => "36",
        Severity::Medium => "33",
        Severity::High => "31",
        Severity::Critical => "1;35",
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

/// Pads or cuts `s` to exactly `w` characters (an ellipsis marks a cut).
fn fit(s: &str, w: usize) -> String {
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
    fn fit_pads_and_cuts() {
        assert_eq!(fit("abc", 5), "abc  ");
        assert_eq!(fit("abcdef", 4), "abc…");
        assert_eq!(fit("ééé", 3), "ééé");
    }
}
