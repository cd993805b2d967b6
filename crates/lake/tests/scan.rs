//! The CloudTrail format and the Parquet lake: what the table holds, and bad input counted.

use std::sync::Arc;

use trailhound_geo::GeoIp;
use trailhound_lake::{Engine, Source};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counts_events_of_a_folder() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir
        .path()
        .join("111122223333_CloudTrail_us-east-1_20260101T1005Z_x.json");
    std::fs::write(
        &f,
        r#"{"Records":[{"eventTime":"2026-01-01T10:00:00Z","eventName":"A","userIdentity":{"accessKeyId":"AKIAX"}},
                       {"eventTime":"2026-01-01T10:00:01Z","eventName":"B","userIdentity":{}}]}"#,
    )
    .unwrap();
    let engine = Engine::new(
        &Source::Raw(vec![dir.path().display().to_string()]),
        Arc::new(GeoIp::embedded()),
        2,
    )
    .await
    .unwrap();
    let batches = engine
        .context()
        .sql("SELECT event_name, access_key_id, record, file FROM cloudtrail ORDER BY record")
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    let text = datafusion::arrow::util::pretty::pretty_format_batches(&batches)
        .unwrap()
        .to_string();
    eprintln!("{text}");
    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 2);
}
