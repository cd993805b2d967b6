//! The stream is in time order across files, with bounded buffering and counted late events.

use std::path::Path;

use trailhound_model::{HOUR, Timestamp, format_rfc3339, parse_rfc3339};
use trailhound_source::{Message, ReadOptions, discover, read};

fn write_file(dir: &Path, delivery: &str, times: &[Timestamp]) {
    let recs: Vec<String> = times
        .iter()
        .map(|&t| {
            format!(
                r#"{{"eventTime":"{}","eventName":"E","userIdentity":{{}}}}"#,
                format_rfc3339(t)
            )
        })
        .collect();
    let name = format!("111122223333_CloudTrail_us-east-1_{delivery}_x.json");
    std::fs::write(
        dir.join(name),
        format!(r#"{{"Records":[{}]}}"#, recs.join(",")),
    )
    .unwrap();
}

fn collect(dir: &Path, options: ReadOptions) -> (Vec<Timestamp>, u64) {
    let found = discover(&[dir.to_path_buf()]);
    let mut times = Vec::new();
    let mut late = 0;
    for m in read(found.files, options) {
        match m {
            Message::Events(es) => times.extend(es.iter().map(|e| e.time)),
            Message::Late(n) => late += n,
            Message::Files(_) => {}
        }
    }
    (times, late)
}

fn t(s: &str) -> Timestamp {
    parse_rfc3339(s).unwrap()
}

#[test]
fn events_come_out_in_time_order_across_files() {
    let dir = tempfile::tempdir().unwrap();
    let base = t("2026-01-01T10:00:00Z");
    // 30 files, 5 minutes apart; each holds events from the previous 20 minutes, shuffled.
    let mut expected: Vec<Timestamp> = Vec::new();
    for f in 0..30i64 {
        let end = base + f * 5 * 60 * 1_000_000_000;
        let mut times: Vec<Timestamp> = (0..7i64)
            .map(|k| end - ((k * 7919) % 1200) * 1_000_000_000)
            .collect();
        times.reverse();
        expected.extend(&times);
        let stamp = format_rfc3339(end).replace(['-', ':'], "");
        write_file(dir.path(), &format!("{}Z", &stamp[..13]), &times);
    }
    expected.sort();
    // Small rounds force many releases.
    let options = ReadOptions {
        files_per_round: 2,
        ..ReadOptions::default()
    };
    let (got, late) = collect(dir.path(), options);
    assert_eq!(late, 0);
    assert_eq!(got, expected);
}

#[test]
fn a_file_delivered_too_late_is_counted_and_still_passed_on() {
    let dir = tempfile::tempdir().unwrap();
    write_file(dir.path(), "20260101T1000Z", &[t("2026-01-01T09:59:00Z")]);
    write_file(dir.path(), "20260101T1500Z", &[t("2026-01-01T14:59:00Z")]);
    // Delivered at 20:00 but holding an event from 10:30: more than the 2 h slack.
    write_file(
        dir.path(),
        "20260101T2000Z",
        &[t("2026-01-01T10:30:00Z"), t("2026-01-01T19:59:00Z")],
    );
    let options = ReadOptions {
        files_per_round: 1,
        slack: 2 * HOUR,
        ordered: true,
        ..ReadOptions::default()
    };
    let (got, late) = collect(dir.path(), options);
    assert_eq!(late, 1);
    assert_eq!(got.len(), 4);
    assert!(got.contains(&t("2026-01-01T10:30:00Z")));
}

#[test]
fn files_without_a_delivery_time_are_sorted_as_a_whole() {
    let dir = tempfile::tempdir().unwrap();
    let lines = |ts: &[&str]| -> String {
        ts.iter()
            .map(|s| format!(r#"{{"eventTime":"{s}","eventName":"E"}}"#))
            .collect::<Vec<_>>()
            .join("\n")
    };
    std::fs::write(
        dir.path().join("b.jsonl"),
        lines(&["2026-01-03T00:00:00Z", "2026-01-01T00:00:00Z"]),
    )
    .unwrap();
    std::fs::write(dir.path().join("a.jsonl"), lines(&["2026-01-02T00:00:00Z"])).unwrap();
    let options = ReadOptions {
        files_per_round: 1,
        ..ReadOptions::default()
    };
    let (got, late) = collect(dir.path(), options);
    assert_eq!(late, 0);
    assert_eq!(
        got,
        vec![
            t("2026-01-01T00:00:00Z"),
            t("2026-01-02T00:00:00Z"),
            t("2026-01-03T00:00:00Z")
        ]
    );
}

/// Every event's (file, record, time), in stream order, the late count and the prepare counts
/// per file.
type Stream = (Vec<(u32, u32, Timestamp)>, u64, Vec<Vec<u64>>);

fn stream(dir: &Path, options: ReadOptions) -> Stream {
    let found = discover(&[dir.to_path_buf()]);
    let (mut events, mut late, mut counts) = (Vec::new(), 0, Vec::new());
    for m in read(found.files, options) {
        match m {
            Message::Events(es) => events.extend(
                es.iter()
                    .map(|e| (e.provenance.file, e.provenance.record, e.time)),
            ),
            Message::Late(n) => late += n,
            Message::Files(rs) => counts.extend(rs.into_iter().map(|r| (r.file, r.prepared))),
        }
    }
    counts.sort();
    (events, late, counts.into_iter().map(|(_, c)| c).collect())
}

/// Drops events at odd minutes, counting them: a stand-in for `--since` and GeoIP.
struct DropOddMinutes;

impl trailhound_source::Prepare for DropOddMinutes {
    fn prepare(&mut self, events: &mut Vec<trailhound_model::Event>, counts: &mut Vec<u64>) {
        counts.resize(1, 0);
        let before = events.len();
        events.retain(|e| (e.time / (60 * 1_000_000_000)) % 2 == 0);
        counts[0] += (before - events.len()) as u64;
    }
}

#[test]
fn one_decoding_thread_and_several_give_the_same_stream() {
    let dir = tempfile::tempdir().unwrap();
    let base = t("2026-01-01T10:00:00Z");
    // 200 files, 5 minutes apart, each with events up to 3 h before its delivery (some late),
    // in a scrambled order, ties in time across files.
    let mut x: i64 = 17;
    for f in 0..200i64 {
        let end = base + f * 5 * 60 * 1_000_000_000;
        let times: Vec<Timestamp> = (0..(f % 7 + 1))
            .map(|_| {
                x = (x * 1_103_515_245 + 12345) % (1 << 31);
                end - (x % 180) * 60 * 1_000_000_000
            })
            .collect();
        let stamp = format_rfc3339(end).replace(['-', ':'], "");
        write_file(dir.path(), &format!("{}Z", &stamp[..13]), &times);
    }
    let options = |threads, prepare: bool| ReadOptions {
        files_per_round: 8,
        threads: Some(threads),
        prepare: prepare.then(|| {
            std::sync::Arc::new(|| Box::new(DropOddMinutes) as Box<dyn trailhound_source::Prepare>)
                as trailhound_source::PrepareFactory
        }),
        ..ReadOptions::default()
    };
    for prepare in [false, true] {
        let one = stream(dir.path(), options(1, prepare));
        assert!(one.1 > 0, "the set has late events");
        for threads in [2, 3, 8] {
            assert_eq!(stream(dir.path(), options(threads, prepare)), one);
        }
        let kept = one.0.len();
        if prepare {
            let dropped: u64 = one.2.iter().map(|c| c[0]).sum();
            assert!(dropped > 0 && kept > 0);
            assert_eq!(
                kept as u64 + dropped,
                (0..200).map(|f| f % 7 + 1).sum::<u64>()
            );
            assert!(
                one.0
                    .iter()
                    .all(|(_, _, t)| (t / (60 * 1_000_000_000)) % 2 == 0)
            );
        } else {
            assert_eq!(kept as u64, (0..200).map(|f| f % 7 + 1).sum::<u64>());
            assert!(one.2.iter().all(Vec::is_empty));
        }
        // In order, but for the late events.
        let out_of_order = one.0.windows(2).filter(|w| w[1].2 < w[0].2).count() as u64;
        assert!(out_of_order <= one.1);
    }
}
