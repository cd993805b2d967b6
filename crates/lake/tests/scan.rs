//! The CloudTrail format: what the table holds, and bad input counted.

use std::sync::Arc;

use trailhound_geo::GeoIp;
use trailhound_lake::{Engine, Source};

/// An in-process engine over the CloudTrail objects below `dir`.
async fn engine_over(dir: &std::path::Path) -> Engine {
    let source = Source::Raw(vec![dir.display().to_string()]);
    Engine::new(&source, Arc::new(GeoIp::embedded()), 2)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_folder_is_a_table_with_provenance() {
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
    let engine = engine_over(dir.path()).await;
    let batches = engine
        .context()
        .sql(
            "SELECT event_name, access_key_id, record, delivery_time, \
             file LIKE '%/111122223333_CloudTrail_us-east-1_20260101T1005Z_x.json' AS named \
             FROM cloudtrail ORDER BY record",
        )
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    let text = datafusion::arrow::util::pretty::pretty_format_batches(&batches)
        .unwrap()
        .to_string();
    let expected = "\
+------------+---------------+--------+----------------------+-------+
| event_name | access_key_id | record | delivery_time        | named |
+------------+---------------+--------+----------------------+-------+
| A          | AKIAX         | 0      | 2026-01-01T10:05:00Z | true  |
| B          |               | 1      | 2026-01-01T10:05:00Z | true  |
+------------+---------------+--------+----------------------+-------+";
    assert_eq!(text, expected);
}

/// Bad input never fails the query: a truncated gzip, a non-JSON object and a record without
/// `userIdentity` are counted against their file (and record), and everything readable is
/// still in the table.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_objects_are_counted_and_the_rest_is_read() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let record = |i: u32| {
        format!(
            r#"{{"eventTime":"2026-01-01T10:00:{i:02}Z","eventName":"E{i}","userIdentity":{{"accessKeyId":"AKIA{i}"}}}}"#
        )
    };
    let good: Vec<String> = (0..40).map(record).collect();
    let whole = format!(r#"{{"Records":[{}]}}"#, good.join(","));
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(whole.as_bytes()).unwrap();
    let gz = gz.finish().unwrap();
    let name = |s: &str| format!("111122223333_CloudTrail_us-east-1_20260101T1005Z_{s}.json");
    std::fs::write(dir.path().join(name("good") + ".gz"), &gz).unwrap();
    std::fs::write(dir.path().join(name("cut") + ".gz"), &gz[..gz.len() / 2]).unwrap();
    std::fs::write(dir.path().join(name("text")), b"this is not JSON").unwrap();
    std::fs::write(
        dir.path().join(name("anonymous")),
        r#"{"Records":[{"eventTime":"2026-01-01T11:00:00Z","eventName":"NoIdentity"}]}"#,
    )
    .unwrap();

    let engine = engine_over(dir.path()).await;
    let batches = engine
        .context()
        .sql("SELECT count(*) AS n FROM cloudtrail WHERE event_name = 'NoIdentity'")
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    let col = batches[0].column(0);
    let n = datafusion::arrow::array::AsArray::as_primitive::<
        datafusion::arrow::datatypes::Int64Type,
    >(col)
    .value(0);
    assert_eq!(n, 1, "the record without userIdentity is kept");

    let summary = engine.scans().summary();
    assert_eq!(summary.files, 4);
    // All 40 good records, what the cut object held before the cut, and the anonymous one.
    let cut_events = summary.events - 41;
    assert!((1..40).contains(&cut_events), "{summary:?}");
    let kinds = |file: &str| -> Vec<&'static str> {
        let (_, issues) = summary
            .issues
            .iter()
            .find(|(path, _)| path.ends_with(file))
            .unwrap_or_else(|| panic!("no issues for {file}: {summary:?}"));
        trailhound_decode::IssueKind::ALL
            .iter()
            .zip(&issues.counts)
            .filter(|(_, n)| **n > 0)
            .map(|(k, _)| k.name())
            .collect()
    };
    assert_eq!(
        kinds(&(name("cut") + ".gz")),
        ["truncated_gzip", "truncated_json"]
    );
    assert_eq!(kinds(&name("text")), ["not_json"]);
    assert_eq!(kinds(&name("anonymous")), ["missing_user_identity"]);
    assert_eq!(summary.issues.len(), 3, "the good object has no issue");
    let anonymous = summary
        .issues
        .iter()
        .find(|(path, _)| path.ends_with(&name("anonymous")))
        .unwrap();
    assert_eq!(anonymous.1.located[0].record, Some(0));
}
