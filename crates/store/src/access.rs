//! Who may use the web UI and API, and what everybody changed: users with a role, their API
//! tokens (stored as SHA-256 hashes, never in clear), and the audit log.
//!
//! The logic is written once here over two row-level primitives each backend provides
//! ([`AlertStore::write_rows`], [`AlertStore::read_rows`]); [`MIGRATION_4`] is the schema
//! both run.
//!
//! **The audit log** ([`audit`]) is every status change of an alert or an incident (from their
//! append-only histories: who, when, from what to what, why) and every change to users and tokens
//! (table `audit_log`), newest first.

use serde::Serialize;
use sha2::{Digest, Sha256};
use trailhound_model::Timestamp;

use crate::{AlertStore, StoreError, now};

/// Schema version 4: users, API tokens, the audit log of account changes, and the summaries of
/// the last runs ([`crate::runs`]) (the same text on SQLite and PostgreSQL).
pub const MIGRATION_4: &str = r#"
CREATE TABLE users (
    name        TEXT PRIMARY KEY NOT NULL,
    role        TEXT NOT NULL CHECK (role IN ('read', 'triage', 'admin')),
    created_at  BIGINT NOT NULL,
    removed_at  BIGINT
);
CREATE TABLE api_tokens (
    id            TEXT PRIMARY KEY NOT NULL,
    user_name     TEXT NOT NULL REFERENCES users (name),
    hash          TEXT NOT NULL UNIQUE,
    created_at    BIGINT NOT NULL,
    revoked_at    BIGINT,
    last_used_at  BIGINT
);
CREATE TABLE audit_log (
    at      BIGINT NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    target  TEXT NOT NULL,
    detail  TEXT
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE TABLE runs (
    at       BIGINT NOT NULL,
    command  TEXT NOT NULL,
    body     TEXT NOT NULL
);
CREATE INDEX runs_at ON runs (command, at);
"#;

/// One value of a row of the access tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SqlValue {
    /// SQL NULL.
    Null,
    /// An integer.
    Int(i64),
    /// Text.
    Text(String),
}

impl SqlValue {
    pub(crate) fn text(&self) -> String {
        match self {
            SqlValue::Text(s) => s.clone(),
            SqlValue::Int(i) => i.to_string(),
            SqlValue::Null => String::new(),
        }
    }

    pub(crate) fn int(&self) -> Option<i64> {
        match self {
            SqlValue::Int(i) => Some(*i),
            _ => None,
        }
    }
}

impl From<&str> for SqlValue {
    fn from(s: &str) -> Self {
        SqlValue::Text(s.to_owned())
    }
}

impl From<i64> for SqlValue {
    fn from(i: i64) -> Self {
        SqlValue::Int(i)
    }
}

/// What a user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// See alerts, incidents and keys.
    Read,
    /// Also acknowledge, close and reopen alerts and incidents.
    Triage,
    /// Also read the audit log.
    Admin,
}

impl Role {
    /// The role's name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Read => "read",
            Role::Triage => "triage",
            Role::Admin => "admin",
        }
    }

    /// True when this role includes everything `other` may do.
    pub fn allows(self, other: Role) -> bool {
        self >= other
    }
}

impl std::str::FromStr for Role {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self, StoreError> {
        match s {
            "read" => Ok(Role::Read),
            "triage" => Ok(Role::Triage),
            "admin" => Ok(Role::Admin),
            other => Err(StoreError::BadUrl(format!(
                "unknown role {other:?} (expected read, triage or admin)"
            ))),
        }
    }
}

/// A user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    /// The name recorded with every change the user makes.
    pub name: String,
    /// What the user may do.
    pub role: Role,
    /// When the user was added.
    #[serde(with = "trailhound_detect::rfc3339")]
    pub created_at: Timestamp,
    /// Active tokens.
    pub tokens: u64,
}

/// An API token as listed (never its secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenInfo {
    /// Its id, to revoke it by.
    pub id: String,
    /// Whose.
    pub user: String,
    /// When it was made.
    #[serde(with = "trailhound_detect::rfc3339")]
    pub created_at: Timestamp,
    /// When it was last used (to the minute).
    #[serde(with = "crate::opt_rfc3339")]
    pub last_used_at: Option<Timestamp>,
    /// When it was revoked.
    #[serde(with = "crate::opt_rfc3339")]
    pub revoked_at: Option<Timestamp>,
}

/// Who a request comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The user's name.
    pub user: String,
    /// The user's role.
    pub role: Role,
}

/// One line of the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    /// When.
    #[serde(with = "trailhound_detect::rfc3339")]
    pub at: Timestamp,
    /// Who.
    pub actor: String,
    /// What: `alert.closed`, `incident.acknowledged`, `user.added`, `token.created`, ...
    pub action: String,
    /// On what: an alert or incident id, a user name, a token id.
    pub target: String,
    /// Why, or what changed.
    pub detail: Option<String>,
}

/// A new API token: `thk_` and 64 hex digits from the operating system's generator.
pub fn new_secret() -> String {
    format!("thk_{}", random_hex(32))
}

fn random_hex(bytes: usize) -> String {
    use rand::TryRngCore;
    let mut b = vec![0u8; bytes];
    rand::rngs::OsRng
        .try_fill_bytes(&mut b)
        .expect("the operating system's random generator failed");
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The stored form of a token: its SHA-256, in hex. Tokens carry 256 random bits, so a plain
/// hash is as good as a slow password hash here and costs nothing per request.
pub fn token_hash(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn user_name_ok(name: &str) -> Result<(), StoreError> {
    let ok = !name.is_empty()
        && name.len() <= 100
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || "._@-+".contains(c));
    if ok {
        Ok(())
    } else {
        Err(StoreError::BadUrl(format!(
            "bad user name {name:?}: 1 to 100 letters, digits and . _ @ - +"
        )))
    }
}

const LOG: &str =
    "INSERT INTO audit_log (at, actor, action, target, detail) VALUES (?1, ?2, ?3, ?4, ?5)";

/// One audit-log line, as a statement for [`AlertStore::write_rows`].
pub(crate) fn log_row(
    at: Timestamp,
    actor: &str,
    action: &str,
    target: &str,
    detail: &str,
) -> (&'static str, Vec<SqlValue>) {
    (
        LOG,
        vec![
            at.into(),
            actor.into(),
            action.into(),
            target.into(),
            detail.into(),
        ],
    )
}

/// Adds a user with `role`, or gives an existing (or removed) one that role; `actor` is who
/// did it, for the audit log.
pub fn put_user(
    store: &mut dyn AlertStore,
    name: &str,
    role: Role,
    actor: &str,
) -> Result<(), StoreError> {
    user_name_ok(name)?;
    let at = now();
    store.write_rows(&[
        (
            "INSERT INTO users (name, role, created_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (name) DO UPDATE SET role = excluded.role, removed_at = NULL",
            vec![name.into(), role.as_str().into(), at.into()],
        ),
        log_row(at, actor, "user.added", name, role.as_str()),
    ])?;
    Ok(())
}

/// Removes a user: revokes every token of theirs; their past changes stay in the log.
pub fn remove_user(store: &mut dyn AlertStore, name: &str, actor: &str) -> Result<(), StoreError> {
    if !users(store)?.iter().any(|u| u.name == name) {
        return Err(StoreError::NotFound(name.to_owned()));
    }
    let at = now();
    store.write_rows(&[
        (
            "UPDATE users SET removed_at = ?2 WHERE name = ?1 AND removed_at IS NULL",
            vec![name.into(), at.into()],
        ),
        (
            "UPDATE api_tokens SET revoked_at = ?2 WHERE user_name = ?1 AND revoked_at IS NULL",
            vec![name.into(), at.into()],
        ),
        log_row(at, actor, "user.removed", name, ""),
    ])?;
    Ok(())
}

/// Makes a new token for an active user; returns its id and its secret (shown once, stored
/// only as its hash).
pub fn create_token(
    store: &mut dyn AlertStore,
    user: &str,
    actor: &str,
) -> Result<(String, String), StoreError> {
    if !users(store)?.iter().any(|u| u.name == user) {
        return Err(StoreError::NotFound(user.to_owned()));
    }
    let id = random_hex(6);
    let secret = new_secret();
    let at = now();
    store.write_rows(&[
        (
            "INSERT INTO api_tokens (id, user_name, hash, created_at) VALUES (?1, ?2, ?3, ?4)",
            vec![
                id.as_str().into(),
                user.into(),
                token_hash(&secret).as_str().into(),
                at.into(),
            ],
        ),
        log_row(at, actor, "token.created", &id, user),
    ])?;
    Ok((id, secret))
}

/// Revokes a token by its id.
pub fn revoke_token(store: &mut dyn AlertStore, id: &str, actor: &str) -> Result<(), StoreError> {
    if !tokens(store)?
        .iter()
        .any(|t| t.id == id && t.revoked_at.is_none())
    {
        return Err(StoreError::NotFound(id.to_owned()));
    }
    let at = now();
    store.write_rows(&[
        (
            "UPDATE api_tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
            vec![id.into(), at.into()],
        ),
        log_row(at, actor, "token.revoked", id, ""),
    ])?;
    Ok(())
}

/// The active users, by name.
pub fn users(store: &dyn AlertStore) -> Result<Vec<User>, StoreError> {
    store
        .read_rows(
            "SELECT u.name, u.role, u.created_at,
                    (SELECT count(*) FROM api_tokens t WHERE t.user_name = u.name AND t.revoked_at IS NULL)
             FROM users u WHERE u.removed_at IS NULL ORDER BY u.name",
            &[],
        )?
        .into_iter()
        .map(|r| {
            Ok(User {
                name: r[0].text(),
                role: r[1].text().parse()?,
                created_at: r[2].int().unwrap_or_default(),
                tokens: r[3].int().unwrap_or_default().max(0) as u64,
            })
        })
        .collect()
}

/// Every token (revoked ones too), newest first.
pub fn tokens(store: &dyn AlertStore) -> Result<Vec<TokenInfo>, StoreError> {
    Ok(store
        .read_rows(
            "SELECT id, user_name, created_at, last_used_at, revoked_at FROM api_tokens
             ORDER BY created_at DESC, id",
            &[],
        )?
        .into_iter()
        .map(|r| TokenInfo {
            id: r[0].text(),
            user: r[1].text(),
            created_at: r[2].int().unwrap_or_default(),
            last_used_at: r[3].int(),
            revoked_at: r[4].int(),
        })
        .collect())
}

/// True when at least one active user has an active token.
pub fn any_active_token(store: &dyn AlertStore) -> Result<bool, StoreError> {
    Ok(users(store)?.iter().any(|u| u.tokens > 0))
}

/// The user a token belongs to, if it is active (and the user too). Notes when it was used, at
/// most once a minute.
pub fn authenticate(
    store: &mut dyn AlertStore,
    secret: &str,
) -> Result<Option<Identity>, StoreError> {
    let hash = token_hash(secret);
    let rows = store.read_rows(
        "SELECT t.id, u.name, u.role, t.last_used_at FROM api_tokens t JOIN users u ON u.name = t.user_name
         WHERE t.hash = ?1 AND t.revoked_at IS NULL AND u.removed_at IS NULL",
        &[hash.as_str().into()],
    )?;
    let Some(r) = rows.into_iter().next() else {
        return Ok(None);
    };
    let at = now();
    if r[3]
        .int()
        .is_none_or(|t| at - t > 60 * trailhound_model::SECOND)
    {
        store.write_rows(&[(
            "UPDATE api_tokens SET last_used_at = ?2 WHERE id = ?1",
            vec![r[0].clone(), at.into()],
        )])?;
    }
    Ok(Some(Identity {
        user: r[1].text(),
        role: r[2].text().parse()?,
    }))
}

/// The role of an active user by name (for users a trusted proxy authenticated).
pub fn role_of(store: &dyn AlertStore, name: &str) -> Result<Option<Role>, StoreError> {
    Ok(users(store)?
        .into_iter()
        .find(|u| u.name == name)
        .map(|u| u.role))
}

/// The audit log, newest first: `limit` lines after skipping `offset`.
pub fn audit(
    store: &dyn AlertStore,
    limit: u64,
    offset: u64,
) -> Result<Vec<AuditEntry>, StoreError> {
    let rows = store.read_rows(
        "SELECT at, actor, action, target, detail FROM (
             SELECT changed_at AS at, changed_by AS actor, 'alert.' || to_status AS action,
                    alert_id AS target, reason AS detail FROM alert_status_history
             UNION ALL
             SELECT changed_at, changed_by, 'incident.' || to_status, incident_id, reason
                    FROM incident_status_history
             UNION ALL
             SELECT at, actor, action, target, detail FROM audit_log
         ) AS log ORDER BY at DESC, action, target LIMIT ?1 OFFSET ?2",
        &[
            (limit.min(i64::MAX as u64) as i64).into(),
            (offset.min(i64::MAX as u64) as i64).into(),
        ],
    )?;
    Ok(rows
        .into_iter()
        .map(|r| AuditEntry {
            at: r[0].int().unwrap_or_default(),
            actor: r[1].text(),
            action: r[2].text(),
            target: r[3].text(),
            detail: match &r[4] {
                SqlValue::Null => None,
                v => Some(v.text()).filter(|s| !s.is_empty()),
            },
        })
        .collect())
}
