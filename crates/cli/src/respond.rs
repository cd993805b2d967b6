//! `trailhound respond`: contain a compromised long-term key through the IAM API, and record who
//! did what and when on the alerts.
//!
//! Two actions, each chosen explicitly:
//! * `--deactivate-key`: `iam:UpdateAccessKey … Status=Inactive` on the long-term key (the key
//!   itself, or the root of a temporary key's lineage). Reversible, unlike deleting it.
//! * `--revoke-sessions`: deactivating a key does not end the temporary credentials it minted
//!   (`GetSessionToken`, `GetFederationToken`), which stay valid up to 36 hours. AWS's answer is
//!   an inline policy on the user denying every action to sessions issued before now
//!   (`aws:TokenIssueTime`), as the IAM console's "Revoke active sessions" does for roles;
//!   requests signed with a long-term key carry no token issue time and are not affected.
//!
//! `--dry-run` prints the exact AWS CLI commands and changes nothing; it is recorded too.
//! Role sessions the key assumed are not revoked (a deny on the role would end every session of
//! the role, the legitimate ones included); the commands to do so are printed for a person to
//! decide.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use trailhound_detect::Alert;
use trailhound_store::outbox::{self, Response};
use trailhound_store::{AlertStore, StoredAlert};

use crate::output::user_name_of;

/// The inline policy `--revoke-sessions` puts on the user.
pub const REVOKE_POLICY_NAME: &str = "TrailhoundRevokeOlderSessions";

/// Arguments of `trailhound respond`.
#[derive(Args)]
pub struct RespondArgs {
    /// An alert id or an incident id (or a unique prefix of one).
    id: String,
    /// Deactivate the long-term access key (Status=Inactive).
    #[arg(long)]
    deactivate_key: bool,
    /// Deny every action to the temporary credentials the key's user minted before now.
    #[arg(long)]
    revoke_sessions: bool,
    /// Print the exact commands and change nothing (recorded as a dry run).
    #[arg(long)]
    dry_run: bool,
    /// Who (recorded; default: $USER, else "unknown").
    #[arg(long, value_name = "WHO")]
    by: Option<String>,
    /// The alert store (default as for `alerts`).
    #[arg(long, value_name = "FILE.db|URL")]
    store: Option<PathBuf>,
}

/// One key to contain, and the alerts it is recorded on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    /// The long-term access key id.
    pub access_key_id: String,
    /// Its IAM user's name.
    pub user_name: String,
    /// The alerts about it.
    pub alert_ids: Vec<String>,
}

/// One action on one subject, as planned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Action {
    /// `deactivate-key` or `revoke-sessions`.
    pub name: &'static str,
    /// The key, or the user.
    pub target: String,
    /// The AWS CLI command doing the same.
    pub command: String,
}

/// Runs `respond`.
pub fn run(args: RespondArgs) -> Result<()> {
    if !args.deactivate_key && !args.revoke_sessions {
        bail!(
            "say what to do: --deactivate-key and/or --revoke-sessions (with --dry-run to print the commands only)"
        );
    }
    let spec = crate::alerts_cmd::store_path(args.store.as_ref())?;
    let mut store = trailhound_store::open_existing_store(&spec).with_context(|| {
        format!(
            "opening the alert store {}",
            trailhound_store::describe_store(&spec)
        )
    })?;
    let alerts = alerts_of(&*store, &args.id)?;
    let subjects = subjects(alerts.iter().map(|s| &s.alert));
    if subjects.is_empty() {
        bail!(
            "{}: no long-term (AKIA) key of an IAM user to act on: the alerts are about temporary keys whose minting key is not in the data, or about roles",
            args.id
        );
    }
    let by = args
        .by
        .clone()
        .unwrap_or_else(crate::alerts_cmd::default_actor);
    let mut out = std::io::stdout().lock();
    let what = Plan {
        deactivate_key: args.deactivate_key,
        revoke_sessions: args.revoke_sessions,
        dry_run: args.dry_run,
    };
    let failures = respond(&mut *store, &subjects, what, &by, &mut out)?;
    out.flush()?;
    if failures > 0 {
        bail!("{failures} action(s) failed; see above (recorded on the alerts)");
    }
    Ok(())
}

/// What to do about a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// Deactivate it.
    pub deactivate_key: bool,
    /// Revoke the sessions its user minted.
    pub revoke_sessions: bool,
    /// Print and record the commands only.
    pub dry_run: bool,
}

/// Carries out `plan` on every subject (or prints the commands, in a dry run), records each
/// action on the subject's alerts as `by`, and writes one line per action to `out`. Returns the
/// number of actions that failed.
pub fn respond(
    store: &mut dyn AlertStore,
    subjects: &[Subject],
    plan: Plan,
    by: &str,
    out: &mut dyn Write,
) -> Result<usize> {
    let now = crate::hunt::now();
    let iam = if plan.dry_run {
        None
    } else {
        Some(Iam::open()?)
    };
    let mut failures = 0;
    for s in subjects {
        for action in actions(s, plan.deactivate_key, plan.revoke_sessions, now) {
            let (outcome, detail) = match &iam {
                None => {
                    writeln!(out, "{}", action.command)?;
                    ("planned", action.command.clone())
                }
                Some(iam) => match iam.apply(&action, s, now) {
                    Ok(()) => {
                        writeln!(out, "done: {} {}", action.name, action.target)?;
                        ("done", action.command.clone())
                    }
                    Err(e) => {
                        failures += 1;
                        writeln!(out, "FAILED: {} {}: {e}", action.name, action.target)?;
                        ("failed", format!("{}\n{e}", action.command))
                    }
                },
            };
            let records: Vec<Response> = s
                .alert_ids
                .iter()
                .map(|id| Response {
                    alert_id: id.clone(),
                    at: now,
                    actor: by.to_owned(),
                    action: action.name.to_owned(),
                    target: action.target.clone(),
                    dry_run: plan.dry_run,
                    outcome: outcome.to_owned(),
                    detail: Some(detail.clone()),
                })
                .collect();
            outbox::record_responses(store, &records)?;
        }
    }
    Ok(failures)
}

/// The alerts of an alert id or of an incident id.
fn alerts_of(store: &dyn AlertStore, id: &str) -> Result<Vec<StoredAlert>> {
    if let Ok(full) = store.resolve_id(id) {
        return Ok(vec![
            store
                .get(&full)?
                .ok_or_else(|| anyhow!("alert {full} vanished"))?,
        ]);
    }
    let incident = trailhound_store::incidents::get_incident(store, id)
        .map_err(|_| anyhow!("{id}: no alert or incident has this id"))?;
    Ok(trailhound_store::incidents::incident_alerts(
        store,
        &incident.id,
    )?)
}

/// The long-term keys of IAM users behind `alerts` (the key itself, or its lineage's root).
pub fn subjects<'a>(alerts: impl IntoIterator<Item = &'a Alert>) -> Vec<Subject> {
    let mut out: Vec<Subject> = Vec::new();
    for a in alerts {
        let key = if a.access_key_id.starts_with("AKIA") {
            &a.access_key_id
        } else if a.root_key.starts_with("AKIA") {
            &a.root_key
        } else {
            continue;
        };
        // The root key's user: the principal when the alert is about a session it minted.
        let user = user_name_of(&a.principal).or_else(|| user_name_of(&a.user_arn));
        let Some(user) = user else { continue };
        match out.iter_mut().find(|x| x.access_key_id == *key) {
            Some(x) => x.alert_ids.push(a.id.clone()),
            None => out.push(Subject {
                access_key_id: key.clone(),
                user_name: user.to_owned(),
                alert_ids: vec![a.id.clone()],
            }),
        }
    }
    out
}

/// The actions for one subject, with the AWS CLI commands doing the same.
pub fn actions(s: &Subject, deactivate: bool, revoke: bool, now: i64) -> Vec<Action> {
    let mut actions = Vec::new();
    if deactivate {
        actions.push(Action {
            name: "deactivate-key",
            target: s.access_key_id.clone(),
            command: format!(
                "aws iam update-access-key --user-name {} --access-key-id {} --status Inactive",
                shell_word(&s.user_name),
                s.access_key_id
            ),
        });
    }
    if revoke {
        actions.push(Action {
            name: "revoke-sessions",
            target: s.user_name.clone(),
            command: format!(
                "aws iam put-user-policy --user-name {} --policy-name {REVOKE_POLICY_NAME} --policy-document '{}'",
                shell_word(&s.user_name),
                revoke_policy(now)
            ),
        });
    }
    actions
}

/// The policy denying everything to sessions issued before `now`.
pub fn revoke_policy(now: i64) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Deny",
            "Action": "*",
            "Resource": "*",
            "Condition": {
                "DateLessThan": {
                    "aws:TokenIssueTime": trailhound_model::format_rfc3339(now - now.rem_euclid(1_000_000_000)),
                },
            },
        }],
    })
    .to_string()
}

/// `s` quoted for a POSIX shell when it needs it (IAM user names allow `+=,.@_-`).
fn shell_word(s: &str) -> String {
    if s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b))
    {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// The IAM API, through the AWS CLI's credential chain.
struct Iam {
    client: aws_sdk_iam::Client,
    runtime: tokio::runtime::Runtime,
}

impl Iam {
    fn open() -> Result<Self> {
        // IAM is global; without a configured region its requests are signed for us-east-1.
        let (runtime, config) =
            trailhound_source::aws_credentials::blocking_sdk_config(None, Some("us-east-1"))
                .context("starting the IAM client")?;
        Ok(Self {
            client: aws_sdk_iam::Client::new(&config),
            runtime,
        })
    }

    fn apply(&self, action: &Action, s: &Subject, now: i64) -> Result<(), String> {
        let chain = |e: &dyn std::error::Error| trailhound_source::aws_credentials::error_chain(e);
        match action.name {
            "deactivate-key" => self
                .runtime
                .block_on(
                    self.client
                        .update_access_key()
                        .user_name(&s.user_name)
                        .access_key_id(&s.access_key_id)
                        .status(aws_sdk_iam::types::StatusType::Inactive)
                        .send(),
                )
                .map(|_| ())
                .map_err(|e| chain(&e)),
            "revoke-sessions" => self
                .runtime
                .block_on(
                    self.client
                        .put_user_policy()
                        .user_name(&s.user_name)
                        .policy_name(REVOKE_POLICY_NAME)
                        .policy_document(revoke_policy(now))
                        .send(),
                )
                .map(|_| ())
                .map_err(|e| chain(&e)),
            other => Err(format!("unknown action {other}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plan_is_the_exact_aws_cli_commands() {
        let s = Subject {
            access_key_id: "AKIAEXAMPLE0000001".into(),
            user_name: "deploy bot".into(),
            alert_ids: vec!["a1".into()],
        };
        let now = trailhound_model::parse_rfc3339("2026-12-05T14:00:00.5Z").unwrap();
        let p = actions(&s, true, true, now);
        assert_eq!(
            p[0].command,
            "aws iam update-access-key --user-name 'deploy bot' --access-key-id AKIAEXAMPLE0000001 --status Inactive"
        );
        assert_eq!(
            p[1].command,
            r#"aws iam put-user-policy --user-name 'deploy bot' --policy-name TrailhoundRevokeOlderSessions --policy-document '{"Statement":[{"Action":"*","Condition":{"DateLessThan":{"aws:TokenIssueTime":"2026-12-05T14:00:00Z"}},"Effect":"Deny","Resource":"*"}],"Version":"2012-10-17"}'"#
        );
        assert_eq!(actions(&s, false, true, now).len(), 1);
    }
}
