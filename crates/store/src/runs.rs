//! The summaries of the last runs (`hunt --stats`'s JSON: files, events, bad input by kind, …),
//! so that the web UI can say what the alerts it shows were computed from, and what input could
//! not be read. The 100 most recent are kept.

use trailhound_model::Timestamp;

use crate::access::SqlValue;
use crate::{AlertStore, StoreError, now};

/// Runs kept per store.
pub const KEPT: i64 = 100;

/// Records a run of `command` (`hunt`) with its summary.
pub fn record(
    store: &mut dyn AlertStore,
    command: &str,
    summary: &serde_json::Value,
) -> Result<(), StoreError> {
    let body = serde_json::to_string(summary)?;
    store.write_rows(&[
        (
            "INSERT INTO runs (at, command, body) VALUES (?1, ?2, ?3)",
            vec![now().into(), command.into(), body.as_str().into()],
        ),
        (
            "DELETE FROM runs WHERE at < (SELECT min(at) FROM (SELECT at FROM runs ORDER BY at DESC LIMIT ?1) AS recent)",
            vec![KEPT.into()],
        ),
    ])?;
    Ok(())
}

/// The last run of `command`: when, and its summary.
pub fn last(
    store: &dyn AlertStore,
    command: &str,
) -> Result<Option<(Timestamp, serde_json::Value)>, StoreError> {
    let rows = store.read_rows(
        "SELECT at, body FROM runs WHERE command = ?1 ORDER BY at DESC LIMIT 1",
        &[command.into()],
    )?;
    let Some(r) = rows.into_iter().next() else {
        return Ok(None);
    };
    let (SqlValue::Int(at), SqlValue::Text(body)) = (&r[0], &r[1]) else {
        return Ok(None);
    };
    Ok(Some((*at, serde_json::from_str(body)?)))
}
