//! Key lineage: the long-term key (or the role) behind every temporary key.
//!
//! A stolen `AKIA` key rarely stays the attacker's only credential: one `GetSessionToken`,
//! `GetFederationToken` or `AssumeRole` call mints a temporary `ASIA` key, and the attacker goes
//! on with that. CloudTrail names the minted key in the minting call's
//! `responseElements.credentials.accessKeyId` (with its `expiration`). [`Lineage`] follows
//! those calls as the events stream by, and attributes every event signed by a minted key —
//! through any chain of role assumptions — to the long-term key at the root of the chain.
//!
//! Decisions (`docs/decisions.md`, "Key lineage"):
//! * **Bounded.** A minted key is remembered until its credentials expire (plus
//!   [`LATE_USE`] for clock skew and late delivery); a key whose expiration cannot be read is
//!   kept for [`DEFAULT_LIFETIME`] (36 h, the longest `GetSessionToken` allows). Keys that were
//!   seen signing calls stay attributed for the rest of the run (one entry per used session).
//! * **Root key**: the `AKIA` key itself for a long-term key; for a minted key, the root key of
//!   the key that minted it; empty for temporary keys whose minting is not in the data (an EC2
//!   instance profile, an SSO session, a role assumed by an AWS service).
//! * **Principal**: the root key's user ARN when there is a root key; else, for a role session,
//!   the role's ARN (the session issuer: `arn:aws:sts::ACCT:assumed-role/ROLE/SESSION` becomes
//!   `arn:aws:iam::ACCT:role/ROLE`, or the `roleArn` of the `AssumeRole` call that minted it);
//!   else the caller's ARN; and `aws-service:HOST` for an AWS service acting on its own
//!   (`userIdentity.type` `AWSService`, or a service-linked role `AWSServiceRoleFor…`), so that
//!   AWS's own activity is never filed under a person or a key.

use std::collections::BTreeMap;

use ahash::AHashMap;
use trailhound_model::{AccessKeyKind, Event, HOUR, Str, Timestamp};

use crate::{Alert, shell_word};

/// The STS calls whose response names a new temporary key.
pub const MINTING_EVENTS: &[&str] = &[
    "GetSessionToken",
    "GetFederationToken",
    "AssumeRole",
    "AssumeRoleWithSAML",
    "AssumeRoleWithWebIdentity",
];

/// Record path of the minted key.
pub const MINTED_KEY_PATH: &str = "responseElements.credentials.accessKeyId";
/// Record path of the minted credentials' expiration.
pub const EXPIRATION_PATH: &str = "responseElements.credentials.expiration";
/// Record path of the role an `AssumeRole*` call assumed.
pub const ROLE_ARN_PATH: &str = "requestParameters.roleArn";
/// The record paths the decoder must capture for lineage.
pub const PATHS: [&str; 3] = [MINTED_KEY_PATH, EXPIRATION_PATH, ROLE_ARN_PATH];

/// How long a minted key is remembered when its expiration cannot be read.
pub const DEFAULT_LIFETIME: Timestamp = 36 * HOUR;
/// How long after its expiration a minted key is still recognised (clock skew, late delivery).
pub const LATE_USE: Timestamp = HOUR;
/// Most minted sessions listed per root key (in alert details and remediation).
pub const MAX_SESSIONS_PER_ROOT: usize = 50;

/// The fields of a minting call (read by the caller from [`PATHS`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct Minting<'a> {
    /// The minted temporary key.
    pub key: &'a str,
    /// When its credentials expire, if readable.
    pub expiration: Option<Timestamp>,
    /// The role assumed (`AssumeRole*`), if any.
    pub role_arn: Option<&'a str>,
}

/// Who stands behind a key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origin {
    /// The long-term key at the root, or empty.
    pub root_key: Str,
    /// The principal (see the module notes).
    pub principal: Str,
}

/// A session minted under a root key, for the alert's details and its remediation.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Session {
    /// The minted key.
    pub access_key_id: String,
    /// The call that minted it.
    pub minted_by: String,
    /// The key that signed that call.
    pub parent_key: String,
    /// When.
    #[serde(with = "crate::rfc3339")]
    pub minted_at: Timestamp,
    /// When its credentials expire (as read, or assumed).
    #[serde(with = "crate::rfc3339")]
    pub expires: Timestamp,
    /// The role assumed, for `AssumeRole*`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
}

#[derive(Debug, Clone)]
struct Minted {
    origin: Origin,
    expires: Timestamp,
}

/// Follows minted keys through the stream (see the module notes).
#[derive(Debug, Default)]
pub struct Lineage {
    /// Minted keys not yet expired.
    live: AHashMap<Str, Minted>,
    /// Minted keys seen signing calls, with their origin.
    used: AHashMap<Str, Origin>,
    /// Sessions minted under each root key, in minting order (capped).
    sessions: BTreeMap<String, Vec<Session>>,
    /// Latest event time seen, and when `live` was last pruned.
    latest: Timestamp,
    pruned: Timestamp,
}

impl Lineage {
    /// An empty lineage.
    pub fn new() -> Self {
        Self::default()
    }

    /// True when `event_name` is a call whose response may name a minted key: the caller then
    /// reads [`PATHS`] and passes them to [`observe`](Lineage::observe).
    pub fn is_minting(event: &Event) -> bool {
        event.succeeded() && MINTING_EVENTS.contains(&event.event_name.as_str())
    }

    /// Sees one event (in time order, a few late ones tolerated), with its minting fields when
    /// it is a minting call. Cheap for most events: one look-up for a temporary key while minted
    /// keys are live, nothing else (origins are worked out only for minting calls, and by
    /// [`Lineage::origin_of`] for whoever asks).
    pub fn observe(&mut self, e: &Event, minting: Option<Minting<'_>>) {
        if e.time > self.latest {
            self.latest = e.time;
        }
        if self.latest - self.pruned > HOUR {
            let now = self.latest;
            self.live.retain(|_, m| m.expires + LATE_USE >= now);
            self.pruned = now;
        }
        let key = &e.user.access_key_id;
        if !self.live.is_empty()
            && AccessKeyKind::of(key) == AccessKeyKind::Temporary
            && !self.used.contains_key(key)
            && let Some(m) = self
                .live
                .get(key)
                .filter(|m| e.time <= m.expires + LATE_USE)
        {
            let o = m.origin.clone();
            self.used.insert(key.clone(), o);
        }
        let Some(m) = minting.filter(|m| AccessKeyKind::of(m.key) == AccessKeyKind::Temporary)
        else {
            return;
        };
        let origin = self.origin_of(e);
        let expires = m.expiration.unwrap_or(e.time + DEFAULT_LIFETIME);
        let role = m.role_arn.filter(|r| !r.is_empty());
        let child = Origin {
            root_key: origin.root_key.clone(),
            principal: match (origin.root_key.is_empty(), role) {
                (true, Some(r)) => service_or_role(r).into(),
                _ => origin.principal.clone(),
            },
        };
        if !origin.root_key.is_empty() {
            let list = self
                .sessions
                .entry(origin.root_key.to_string())
                .or_default();
            if list.len() < MAX_SESSIONS_PER_ROOT && !list.iter().any(|s| s.access_key_id == m.key)
            {
                list.push(Session {
                    access_key_id: m.key.to_owned(),
                    minted_by: e.event_name.to_string(),
                    parent_key: e.user.access_key_id.to_string(),
                    minted_at: e.time,
                    expires,
                    role_arn: role.map(str::to_owned),
                });
            }
        }
        self.live.insert(
            m.key.into(),
            Minted {
                origin: child,
                expires,
            },
        );
    }

    /// Who stands behind the key that signed `e` (call after [`observe`](Lineage::observe)).
    pub fn origin_of(&self, e: &Event) -> Origin {
        let key = &e.user.access_key_id;
        match AccessKeyKind::of(key) {
            AccessKeyKind::LongTerm => Origin {
                root_key: key.clone(),
                principal: e.user.arn.clone(),
            },
            _ => self.used.get(key).cloned().unwrap_or_else(|| Origin {
                root_key: Str::default(),
                principal: principal_of(e),
            }),
        }
    }

    /// The origin of a key seen in the stream: `None` for a temporary key that was never seen
    /// minted and used.
    pub fn origin(&self, key: &str) -> Option<&Origin> {
        self.used.get(key)
    }

    /// The sessions minted under a root key.
    pub fn sessions(&self, root_key: &str) -> &[Session] {
        self.sessions.get(root_key).map_or(&[], Vec::as_slice)
    }

    /// Fills an alert's `root_key` and `principal` from the lineage (for a key whose events were
    /// attributed) or from the alert itself, and, when its root key minted sessions, lists them in
    /// `details.lineage` and adds their revocation to the remediation.
    pub fn attribute(&self, alert: &mut Alert) {
        if let Some(o) = self.used.get(alert.access_key_id.as_str()) {
            alert.root_key = o.root_key.to_string();
            alert.principal = o.principal.to_string();
        } else if alert.root_key.is_empty() && alert.principal.is_empty() {
            let (root, principal) = origin_from_alert(alert);
            alert.root_key = root;
            alert.principal = principal;
        }
        // The sessions minted up to the alert's last event: what a person containing the key
        // at that time had to revoke, and the same for a hunt and for `watch`.
        let sessions: Vec<Session> = self
            .sessions(&alert.root_key)
            .iter()
            .filter(|s| s.minted_at <= alert.last_seen)
            .cloned()
            .collect();
        if sessions.is_empty() {
            return;
        }
        if let Some(map) = alert.details.as_object_mut() {
            map.insert(
                "lineage".to_owned(),
                serde_json::json!({
                    "root_key": alert.root_key,
                    "signed_by": alert.access_key_id,
                    "sessions": sessions,
                }),
            );
        }
        alert.remediation = remediation_with_sessions(&alert.root_key, &alert.principal, &sessions);
    }
}

/// The root key and principal of an alert whose key the lineage never saw minted: the key itself
/// when long-term; the role of a role session; the alert's user ARN otherwise.
pub fn origin_from_alert(alert: &Alert) -> (String, String) {
    match AccessKeyKind::of(&alert.access_key_id) {
        AccessKeyKind::LongTerm => (alert.access_key_id.clone(), alert.user_arn.clone()),
        _ => (
            String::new(),
            role_of_session(&alert.user_arn)
                .map(|r| service_or_role(&r))
                .unwrap_or_else(|| alert.user_arn.clone()),
        ),
    }
}

/// A role's principal: `aws-service:ROLE` for a service-linked role (`AWSServiceRoleFor…`, which
/// only an AWS service can assume: its calls are AWS acting on its own), else the role's ARN.
fn service_or_role(role_arn: &str) -> String {
    match role_arn.rsplit_once(":role/") {
        Some((_, name)) if name.starts_with("AWSServiceRoleFor") => {
            format!("aws-service:{name}")
        }
        _ => role_arn.to_owned(),
    }
}

/// The principal of a call whose key has no known lineage (see the module notes).
fn principal_of(e: &Event) -> Str {
    if e.user.kind == "AWSService" {
        let host = if e.source_ip.is_empty() {
            &e.event_source
        } else {
            &e.source_ip
        };
        return format!("aws-service:{host}").into();
    }
    if let Some(role) = role_of_session(&e.user.arn) {
        return service_or_role(&role).into();
    }
    if !e.user.arn.is_empty() {
        return e.user.arn.clone();
    }
    if !e.user.principal_id.is_empty() {
        return e.user.principal_id.clone();
    }
    e.user.account_id.clone()
}

/// The role ARN of an assumed-role session ARN: `arn:aws:sts::ACCT:assumed-role/ROLE/SESSION`
/// → `arn:aws:iam::ACCT:role/ROLE` (the role's path, which the session ARN does not carry, is
/// left out).
pub fn role_of_session(arn: &str) -> Option<String> {
    let rest = arn.strip_prefix("arn:")?;
    let (partition, rest) = rest.split_once(":sts::")?;
    let (account, rest) = rest.split_once(":assumed-role/")?;
    let role = rest.split('/').next().filter(|r| !r.is_empty())?;
    Some(format!("arn:{partition}:iam::{account}:role/{role}"))
}

/// The policy document that denies every session token issued before the moment the command
/// runs (the AWS console's "Revoke active sessions", and the documented way to cut off
/// `GetSessionToken` credentials, which deactivating the key does not end).
pub const REVOKE_POLICY_ARG: &str = r#"--policy-document "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Deny\",\"Action\":\"*\",\"Resource\":\"*\",\"Condition\":{\"DateLessThan\":{\"aws:TokenIssueTime\":\"$(date -u +%Y-%m-%dT%H:%M:%SZ)\"}}}]}""#;
/// The name of the inline policy the revocation commands write.
pub const REVOKE_POLICY_NAME: &str = "TrailhoundRevokeOlderSessions";

/// The remediation of a root key that minted sessions, one command a line: deactivate the key,
/// deny the user's session tokens issued until now (`GetSessionToken`/`GetFederationToken`
/// sessions outlive the key), and do the same on every role the key's sessions assumed.
pub fn remediation_with_sessions(root_key: &str, user_arn: &str, sessions: &[Session]) -> String {
    let mut lines = vec![crate::remediation(root_key, user_arn)];
    if let Some(user) = user_arn
        .split_once(":user/")
        .map(|(_, p)| p.rsplit('/').next().unwrap_or(p))
        .filter(|u| !u.is_empty())
    {
        lines.push(format!(
            "aws iam put-user-policy --user-name {} --policy-name {REVOKE_POLICY_NAME} {REVOKE_POLICY_ARG}",
            shell_word(user)
        ));
    }
    let mut roles: Vec<&str> = sessions
        .iter()
        .filter_map(|s| s.role_arn.as_deref())
        .filter_map(|r| {
            r.split_once(":role/")
                .map(|(_, p)| p.rsplit('/').next().unwrap_or(p))
        })
        .collect();
    roles.sort_unstable();
    roles.dedup();
    for role in roles {
        lines.push(format!(
            "aws iam put-role-policy --role-name {} --policy-name {REVOKE_POLICY_NAME} {REVOKE_POLICY_ARG}",
            shell_word(role)
        ));
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use trailhound_model::SECOND;

    fn ev(t: i64, key: &str, name: &str, arn: &str) -> Event {
        let mut e = Event {
            time: t * SECOND,
            event_name: name.into(),
            source_ip: "198.51.100.7".into(),
            ..Event::default()
        };
        e.user.access_key_id = key.into();
        e.user.arn = arn.into();
        e.user.kind = if arn.contains("assumed-role") {
            "AssumedRole".into()
        } else {
            "IAMUser".into()
        };
        e
    }

    /// Observes `e`, then asks who stands behind it.
    fn see(l: &mut Lineage, e: &Event, m: Option<Minting<'_>>) -> Origin {
        l.observe(e, m);
        l.origin_of(e)
    }

    const BOB: &str = "arn:aws:iam::111122223333:user/bob";
    const AKIA: &str = "AKIAAAAAAAAAAAAAAAAA";
    const ASIA1: &str = "ASIA1111111111111111";
    const ASIA2: &str = "ASIA2222222222222222";

    #[test]
    fn sessions_and_role_chains_lead_back_to_the_long_term_key() {
        let mut l = Lineage::new();
        let o = see(
            &mut l,
            &ev(0, AKIA, "GetSessionToken", BOB),
            Some(Minting {
                key: ASIA1,
                expiration: Some(3600 * SECOND),
                role_arn: None,
            }),
        );
        assert_eq!(o.root_key, AKIA);
        // The session assumes a role: the role session's key still leads back to the AKIA key.
        let o = see(
            &mut l,
            &ev(60, ASIA1, "AssumeRole", BOB),
            Some(Minting {
                key: ASIA2,
                expiration: Some(7200 * SECOND),
                role_arn: Some("arn:aws:iam::111122223333:role/admin"),
            }),
        );
        assert_eq!((o.root_key.as_str(), o.principal.as_str()), (AKIA, BOB));
        let role_arn = "arn:aws:sts::111122223333:assumed-role/admin/s";
        let o = see(&mut l, &ev(120, ASIA2, "ListUsers", role_arn), None);
        assert_eq!((o.root_key.as_str(), o.principal.as_str()), (AKIA, BOB));
        assert_eq!(l.sessions(AKIA).len(), 2);
        assert_eq!(l.origin(ASIA2).unwrap().root_key, AKIA);
        let mut a = crate::tests::alert_on(ASIA2, role_arn);
        a.last_seen = 120 * SECOND;
        l.attribute(&mut a);
        assert_eq!(a.root_key, AKIA);
        assert_eq!(a.principal, BOB);
        let lines: Vec<&str> = a.remediation.lines().collect();
        assert_eq!(lines.len(), 3, "{}", a.remediation);
        assert_eq!(
            lines[0],
            "aws iam update-access-key --access-key-id AKIAAAAAAAAAAAAAAAAA --status Inactive --user-name bob"
        );
        assert!(lines[1].starts_with(
            "aws iam put-user-policy --user-name bob --policy-name TrailhoundRevokeOlderSessions --policy-document "
        ));
        assert!(lines[2].starts_with("aws iam put-role-policy --role-name admin "));
        assert!(lines[2].contains(r#"\"aws:TokenIssueTime\":\"$(date -u +%Y-%m-%dT%H:%M:%SZ)\""#));
        assert_eq!(
            a.details["lineage"]["sessions"][1]["role_arn"],
            "arn:aws:iam::111122223333:role/admin"
        );
    }

    #[test]
    fn expired_and_unknown_sessions_are_not_attributed() {
        let mut l = Lineage::new();
        see(
            &mut l,
            &ev(0, AKIA, "GetSessionToken", BOB),
            Some(Minting {
                key: ASIA1,
                expiration: Some(3600 * SECOND),
                role_arn: None,
            }),
        );
        // Used past expiration + LATE_USE: not the key's any more (a reused id is not possible in
        // AWS; this bounds memory).
        for t in (0..4).map(|h| 3600 * (h + 1)) {
            see(&mut l, &ev(t, AKIA, "ListUsers", BOB), None);
        }
        let o = see(&mut l, &ev(3 * 3600, ASIA1, "ListUsers", BOB), None);
        assert_eq!(o.root_key, "");
        assert_eq!(o.principal, BOB);
        // A role session whose minting is not in the data: the role is the principal.
        let o = see(
            &mut l,
            &ev(
                3 * 3600,
                ASIA2,
                "ListUsers",
                "arn:aws:sts::111122223333:assumed-role/ci/i-0abc",
            ),
            None,
        );
        assert_eq!(o.root_key, "");
        assert_eq!(o.principal, "arn:aws:iam::111122223333:role/ci");
        // AWS acting on its own.
        let mut e = ev(3 * 3600, "", "Decrypt", "");
        e.user.kind = "AWSService".into();
        e.source_ip = "lambda.amazonaws.com".into();
        assert_eq!(
            see(&mut l, &e, None).principal,
            "aws-service:lambda.amazonaws.com"
        );
        // A failed minting call mints nothing: the caller passes no minting fields for it.
        let mut failed = ev(4 * 3600, AKIA, "GetSessionToken", BOB);
        failed.error_code = "AccessDenied".into();
        assert!(!Lineage::is_minting(&failed));
    }

    #[test]
    fn assumed_role_session_arns_name_their_role() {
        assert_eq!(
            role_of_session("arn:aws:sts::111122223333:assumed-role/deploy/gh-123").as_deref(),
            Some("arn:aws:iam::111122223333:role/deploy")
        );
        assert_eq!(
            role_of_session("arn:aws-cn:sts::111122223333:assumed-role/r/s").as_deref(),
            Some("arn:aws-cn:iam::111122223333:role/r")
        );
        assert_eq!(role_of_session(BOB), None);
    }
}
