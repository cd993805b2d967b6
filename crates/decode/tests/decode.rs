//! Every input format and every bad-input kind, with exact counts.

use std::io::Write;

use flate2::Compression;
use flate2::write::GzEncoder;
use trailhound_decode::{Decoded, IssueKind, decode};

fn record(i: usize) -> String {
    format!(
        r#"{{"eventVersion":"1.08","userIdentity":{{"type":"IAMUser","principalId":"AIDA{i}","arn":"arn:aws:iam::111122223333:user/u{i}","accountId":"111122223333","accessKeyId":"AKIAEXAMPLE{i:09}","userName":"u{i}"}},"eventTime":"2026-01-0{d}T10:00:{s:02}Z","eventSource":"iam.amazonaws.com","eventName":"ListUsers","awsRegion":"us-east-1","sourceIPAddress":"8.8.8.{i}","userAgent":"aws-cli/2.15.0","requestParameters":{{"maxItems":100,"nested":{{"a":[1,2,{{"b":"c"}}]}}}},"responseElements":null,"requestID":"r{i}","eventID":"e{i}","readOnly":true,"eventType":"AwsApiCall","recipientAccountId":"111122223333"}}"#,
        d = 1 + i % 3,
        s = i % 60
    )
}

fn records_file(n: usize) -> String {
    let body: Vec<String> = (0..n).map(record).collect();
    format!(r#"{{"Records":[{}]}}"#, body.join(","))
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn kinds(d: &Decoded) -> Vec<(IssueKind, Option<u32>)> {
    d.issues.iter().map(|i| (i.kind, i.record)).collect()
}

#[test]
fn records_object_plain() {
    let d = decode(records_file(5).as_bytes(), 7);
    assert_eq!(d.events.len(), 5);
    assert!(d.issues.is_empty());
    let e = &d.events[3];
    assert_eq!(e.event_name, "ListUsers");
    assert_eq!(e.user.access_key_id, "AKIAEXAMPLE000000003");
    assert_eq!(e.user.arn, "arn:aws:iam::111122223333:user/u3");
    assert_eq!(e.source_ip, "8.8.8.3");
    assert_eq!(e.read_only, Some(true));
    assert_eq!(e.event_id, "e3");
    assert_eq!(e.error_code, "");
    assert_eq!((e.provenance.file, e.provenance.record), (7, 3));
    assert_eq!(
        e.time,
        trailhound_model::parse_rfc3339("2026-01-01T10:00:03Z").unwrap()
    );
}

#[test]
fn records_object_gzipped_and_pretty() {
    let pretty = format!(
        "\u{feff}\n  {}",
        records_file(4).replace("\"Records\":", "\"Records\" : ")
    );
    let d = decode(&gz(pretty.as_bytes()), 0);
    assert_eq!(d.events.len(), 4);
    assert!(d.issues.is_empty(), "{:?}", d.issues);
    assert_eq!(d.decompressed_bytes, pretty.len() as u64);
}

#[test]
fn multi_member_gzip() {
    let mut both = gz(records_file(2).as_bytes());
    both.extend(gz(b""));
    let d = decode(&both, 0);
    assert_eq!(d.events.len(), 2);
}

#[test]
fn json_lines_plain_and_gzipped() {
    let lines: Vec<String> = (0..6).map(record).collect();
    let text = lines.join("\n") + "\n\n";
    for raw in [text.clone().into_bytes(), gz(text.as_bytes())] {
        let d = decode(&raw, 1);
        assert_eq!(d.events.len(), 6);
        assert!(d.issues.is_empty());
        assert_eq!(d.events[5].provenance.record, 5);
    }
}

#[test]
fn escaped_strings_are_decoded() {
    let text = records_file(1).replace("aws-cli/2.15.0", r#"Mozilla \"quoted\" \u00e9"#);
    let d = decode(text.as_bytes(), 0);
    assert_eq!(d.events[0].user_agent, "Mozilla \"quoted\" é");
}

#[test]
fn truncated_gzip_keeps_the_records_before_the_cut() {
    let full = gz(records_file(200).as_bytes());
    let cut = &full[..full.len() * 2 / 3];
    let d = decode(cut, 0);
    let k = kinds(&d);
    assert_eq!(k[0], (IssueKind::TruncatedGzip, None));
    assert_eq!(k[1].0, IssueKind::TruncatedJson);
    assert_eq!(k.len(), 2);
    let kept = d.events.len();
    assert!(kept > 50 && kept < 200, "kept {kept}");
    // The truncated-JSON issue names the first lost record.
    assert_eq!(k[1].1, Some(kept as u32));
    for (i, e) in d.events.iter().enumerate() {
        assert_eq!(e.provenance.record, i as u32);
    }
}

#[test]
fn corrupt_gzip_is_reported() {
    let mut bad = gz(records_file(50).as_bytes());
    let n = bad.len();
    for b in &mut bad[n / 2..n / 2 + 16] {
        *b ^= 0x55;
    }
    let d = decode(&bad, 0);
    assert!(
        matches!(
            d.issues[0].kind,
            IssueKind::CorruptGzip | IssueKind::TruncatedGzip
        ),
        "{:?}",
        d.issues
    );
    assert!(d.events.len() < 50);
}

#[test]
fn not_json_is_one_issue_per_file() {
    let d = decode(b"this is a text file\nwith two lines\n", 0);
    assert_eq!(kinds(&d), vec![(IssueKind::NotJson, None)]);
    assert!(d.events.is_empty());
    let d = decode(b"\x00\x01binary", 0);
    assert_eq!(kinds(&d), vec![(IssueKind::NotJson, None)]);
}

#[test]
fn json_that_is_not_cloudtrail() {
    let d = decode(br#"{"hello":"world"}"#, 0);
    assert_eq!(kinds(&d), vec![(IssueKind::NotCloudTrail, None)]);
    let d = decode(b"[1,2,3]", 0);
    assert_eq!(kinds(&d), vec![(IssueKind::NotCloudTrail, None)]);
}

#[test]
fn empty_file_has_no_events_and_no_issue() {
    assert!(decode(b"", 0).issues.is_empty());
    assert!(decode(b"  \n", 0).issues.is_empty());
    assert_eq!(decode(&gz(b""), 0).events.len(), 0);
}

#[test]
fn bad_records_in_a_records_file_cost_only_themselves() {
    let body = [
        record(0),
        r#"{"eventName":"NoTime","userIdentity":{"type":"IAMUser"}}"#.to_owned(),
        record(2),
        r#"{"eventTime":"yesterday","eventName":"X"}"#.to_owned(),
        r#"{"eventTime":"9999-01-01T00:00:00Z","eventName":"X"}"#.to_owned(),
        r#"{"eventTime":"2026-01-01T00:00:00Z","eventName":"NoIdentity"}"#.to_owned(),
        "42".to_owned(),
        r#"{"eventTime":"2026-01-01T00:00:00Z","eventName":7}"#.to_owned(),
        record(8),
    ];
    let text = format!(r#"{{"Records":[{}]}}"#, body.join(","));
    let d = decode(text.as_bytes(), 0);
    assert_eq!(
        kinds(&d),
        vec![
            (IssueKind::MissingEventTime, Some(1)),
            (IssueKind::BadEventTime, Some(3)),
            (IssueKind::EventTimeOutOfRange, Some(4)),
            (IssueKind::MissingUserIdentity, Some(5)),
            (IssueKind::BadRecord, Some(6)),
            (IssueKind::BadRecord, Some(7)),
        ]
    );
    let kept: Vec<u32> = d.events.iter().map(|e| e.provenance.record).collect();
    assert_eq!(kept, vec![0, 2, 5, 8]);
    assert_eq!(d.events[2].user.arn, "");
}

#[test]
fn bad_lines_in_json_lines_cost_only_themselves() {
    let text = [
        record(0),
        "not json at all".to_owned(),
        record(2),
        r#"{"eventName":"NoTime"}"#.to_owned(),
        r#"{"unrelated":true}"#.to_owned(),
        r#"{"eventTime":"2026-01-01T00:00:00Z","#.to_owned(),
        record(6),
    ]
    .join("\n");
    let d = decode(text.as_bytes(), 0);
    assert_eq!(
        kinds(&d),
        vec![
            (IssueKind::NotJson, Some(1)),
            (IssueKind::MissingEventTime, Some(3)),
            (IssueKind::NotCloudTrail, Some(4)),
            (IssueKind::NotJson, Some(5)),
        ]
    );
    assert_eq!(d.events.len(), 3);
}

#[test]
fn readonly_as_string_and_nulls() {
    let text = records_file(1)
        .replace(r#""readOnly":true"#, r#""readOnly":"false""#)
        .replace(r#""userAgent":"aws-cli/2.15.0""#, r#""userAgent":null"#);
    let d = decode(text.as_bytes(), 0);
    assert_eq!(d.events[0].read_only, Some(false));
    assert_eq!(d.events[0].user_agent, "");
}

#[test]
fn digest_content_is_recognised() {
    let d = decode(
        br#"{"awsAccountId":"1","digestStartTime":"2026-01-01T00:00:00Z","logFiles":[]}"#,
        0,
    );
    assert!(d.digest);
    assert!(d.events.is_empty() && d.issues.is_empty());
}

#[test]
fn random_bytes_never_panic() {
    // A cheap, deterministic stand-in for the fuzz target, so CI exercises the same paths.
    let base = gz(records_file(20).as_bytes());
    let plain = records_file(20).into_bytes();
    let mut x: u64 = 0x9e3779b97f4a7c15;
    for round in 0..400 {
        let mut buf = if round % 2 == 0 {
            base.clone()
        } else {
            plain.clone()
        };
        for _ in 0..(1 + round % 7) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let at = (x as usize) % buf.len();
            buf[at] = (x >> 32) as u8;
        }
        let cut = (x as usize >> 8) % (buf.len() + 1);
        let d = decode(&buf[..cut.max(1)], 0);
        assert!(d.events.len() <= 20);
    }
}

#[test]
fn gzip_magic_alone_is_a_truncated_gzip_not_a_panic() {
    // Found by the fuzzer (fuzz/fuzz_targets/decode.rs): a file of 2 or 3 bytes starting with the
    // gzip magic made the size hint read the 4-byte trailer out of bounds.
    for raw in [&b"\x1f\x8b"[..], b"\x1f\x8b\x08", b"\x1f\x8b\x08\x00"] {
        let d = decode(raw, 0);
        assert!(d.events.is_empty());
        assert_eq!(kinds(&d), [(IssueKind::TruncatedGzip, None)], "{raw:?}");
        assert_eq!(d.decompressed_bytes, 0);
    }
}

#[test]
fn a_gzip_bomb_of_bad_records_is_counted_not_stored() {
    // 200,000 bad records: every one counted, only the first MAX_LOCATED_ISSUES kept with a
    // location, so memory stays proportional to the good data.
    let text = format!("{{\"Records\":[{}1]}}", "1,".repeat(199_999));
    let d = decode(&gz(text.as_bytes()), 0);
    assert_eq!(d.issue_counts[IssueKind::BadRecord as usize], 200_000);
    assert_eq!(d.issue_count(), 200_000);
    assert_eq!(d.issues.len(), trailhound_decode::MAX_LOCATED_ISSUES);
    assert_eq!(d.issues[99].record, Some(99));
    // Lines that are all bad collapse to one file-level issue, counts included.
    let d = decode(&gz("1\n".repeat(100_000).as_bytes()), 0);
    assert_eq!(kinds(&d), vec![(IssueKind::NotCloudTrail, None)]);
    assert_eq!(d.issue_count(), 1);
}

#[test]
fn whole_and_streaming_gunzip_agree() {
    use trailhound_decode::{gunzip_into, inflate_members};
    let text = records_file(300);
    let mut padded = gz(text.as_bytes());
    padded.extend([0u8; 512]);
    for raw in [gz(text.as_bytes()), padded] {
        let (mut whole, mut streamed) = (Vec::new(), Vec::new());
        gunzip_into(&raw, &mut whole).unwrap();
        inflate_members(&raw, &mut streamed).unwrap();
        assert_eq!(whole, text.as_bytes());
        assert_eq!(streamed, text.as_bytes());
    }
    // Two members that both hold records: the one-shot path must hand over to the streaming one.
    let lines: Vec<String> = (0..4).map(record).collect();
    let mut two = gz((lines[..2].join("\n") + "\n").as_bytes());
    two.extend(gz(lines[2..].join("\n").as_bytes()));
    let d = decode(&two, 0);
    assert_eq!(d.events.len(), 4);
    assert!(d.issues.is_empty(), "{:?}", d.issues);
    // A size trailer that lies is caught, and the data before the check is still decoded.
    let mut lying = gz(records_file(3).as_bytes());
    let n = lying.len();
    lying[n - 4] ^= 1;
    let d = decode(&lying, 0);
    assert_eq!(d.events.len(), 3);
    assert_eq!(kinds(&d), vec![(IssueKind::CorruptGzip, None)]);
}

/// A record with the kinds of paths Sigma rules reference beyond the fixed schema.
fn sigma_record(i: usize) -> String {
    record(i).replace(
        r#""requestParameters":{"maxItems":100,"nested":{"a":[1,2,{"b":"c"}]}}"#,
        r#""requestParameters":{"attribute":"userData","maxItems":100,"policy":"{\"Effect\":\"Allow\"}","nested":{"a":[1,2,{"b":"c"}]},"gone":null},"additionalEventData":{"MFAUsed":"No"}"#,
    )
    .replace(
        r#""userName":"u"#,
        r#""sessionContext":{"sessionIssuer":{"type":"Role"}},"userName":"u"#,
    )
}

#[test]
fn extra_fields_are_captured_in_every_format() {
    use trailhound_decode::decode_with;
    use trailhound_model::ExtraFields;
    let extra = ExtraFields::new([
        "requestParameters.attribute",
        "additionalEventData.MFAUsed",
        "requestParameters.maxItems",
        "requestParameters.nested",
        "requestParameters.gone",
        "requestParameters.policy",
        "requestParameters.absent",
        "userIdentity.sessionContext.sessionIssuer.type",
        "eventName", // fixed: not captured again
        "responseElements",
    ]);
    assert_eq!(extra.paths().len(), 9);
    let lines: Vec<String> = (0..3).map(sigma_record).collect();
    let document = format!(r#"{{"Records":[{}]}}"#, lines.join(","));
    // The tolerant path: the same document with one broken record after the good ones.
    let tolerant = format!(r#"{{"Records":[{},{{"eventTime":1}}]}}"#, lines.join(","));
    let jsonl = lines.join("\n");
    for (what, text) in [
        ("document", document),
        ("tolerant", tolerant),
        ("lines", jsonl),
    ] {
        let d = decode_with(text.as_bytes(), 0, &extra);
        assert_eq!(d.events.len(), 3, "{what}");
        let e = &d.events[1];
        let got = |path: &str| e.extra_field(extra.id(path).unwrap());
        assert_eq!(
            got("requestParameters.attribute"),
            Some("userData"),
            "{what}"
        );
        assert_eq!(got("additionalEventData.MFAUsed"), Some("No"), "{what}");
        assert_eq!(got("requestParameters.maxItems"), Some("100"), "{what}");
        assert_eq!(
            got("requestParameters.nested"),
            Some(r#"{"a":[1,2,{"b":"c"}]}"#),
            "{what}"
        );
        assert_eq!(got("requestParameters.gone"), None, "{what}");
        assert_eq!(
            got("requestParameters.policy"),
            Some(r#"{"Effect":"Allow"}"#),
            "{what}"
        );
        assert_eq!(got("requestParameters.absent"), None, "{what}");
        assert_eq!(
            got("userIdentity.sessionContext.sessionIssuer.type"),
            Some("Role"),
            "{what}"
        );
        assert_eq!(got("responseElements"), None, "{what}");
        assert!(e.extra.windows(2).all(|w| w[0].0 < w[1].0), "{what}");
        // The fixed schema is unaffected.
        assert_eq!(e.user.user_name, "u1", "{what}");
        assert_eq!(e.event_name, "ListUsers", "{what}");
    }
    // Without extra fields nothing is captured.
    let d = decode(sigma_record(0).as_bytes(), 0);
    assert!(d.events[0].extra.is_empty());
}

/// A path below another captured path is not captured, but `extra_value` reads it from the
/// enclosing object's text with the decoder's own walk: the same values as when it is captured.
#[test]
fn derived_extra_fields_read_like_captured_ones() {
    use trailhound_decode::{decode_with, extra_value};
    use trailhound_model::ExtraFields;
    let below = [
        "requestParameters.attribute",
        "requestParameters.maxItems",
        "requestParameters.nested",
        "requestParameters.nested.a",
        "requestParameters.gone",
        "requestParameters.policy",
        "requestParameters.policy.Effect",
        "requestParameters.absent",
        "requestParameters.attribute.x",
    ];
    let alone = ExtraFields::new(below);
    let with_parent = ExtraFields::new(below.iter().copied().chain(["requestParameters"]));
    let parent = with_parent.id("requestParameters").unwrap();
    for i in 0..3 {
        let text = sigma_record(i);
        let a = &decode_with(text.as_bytes(), 0, &alone).events[0];
        let b = &decode_with(text.as_bytes(), 0, &with_parent).events[0];
        assert!(
            b.extra.iter().all(|(id, _)| *id == parent),
            "only the parent is captured: {:?}",
            b.extra
        );
        for path in below {
            let want = extra_value(a, &alone, alone.id(path).unwrap());
            let got = extra_value(b, &with_parent, with_parent.id(path).unwrap());
            assert_eq!(got, want, "record {i}: {path}");
        }
    }
    let e = &decode_with(sigma_record(1).as_bytes(), 0, &with_parent).events[0];
    let get = |p: &str| extra_value(e, &with_parent, with_parent.id(p).unwrap());
    assert_eq!(
        get("requestParameters.attribute").as_deref(),
        Some("userData")
    );
    assert_eq!(
        get("requestParameters.nested.a").as_deref(),
        Some(r#"[1,2,{"b":"c"}]"#)
    );
    assert_eq!(
        get("requestParameters.policy.Effect"),
        None,
        "a string is not walked"
    );
}

/// Every form in which AWS hands CloudTrail to a responder gives the same events, and says which
/// form it was: the delivery format, JSON Lines, a bare array, `aws cloudtrail lookup-events`
/// output, and EventBridge events (one pretty-printed, an array, one per line).
#[test]
fn every_form_aws_hands_over_gives_the_same_events() {
    use trailhound_decode::Format;
    let n = 4;
    let records: Vec<String> = (0..n).map(record).collect();
    let eventbridge = |r: &str| {
        format!(
            r#"{{"version":"0","id":"6a7e8feb","detail-type":"AWS API Call via CloudTrail","source":"aws.iam","account":"111122223333","time":"2026-01-01T10:00:00Z","region":"us-east-1","resources":[],"detail":{r}}}"#
        )
    };
    let lookup_items: Vec<String> = records
        .iter()
        .enumerate()
        .map(|(i, r)| {
            format!(
                r#"{{"EventId":"e{i}","EventName":"ListUsers","ReadOnly":"true","EventTime":"2026-01-01T10:00:00+00:00","EventSource":"iam.amazonaws.com","Resources":[],"CloudTrailEvent":{}}}"#,
                serde_json::to_string(r).unwrap()
            )
        })
        .collect();
    let forms: Vec<(Format, String)> = vec![
        (Format::Records, records_file(n)),
        (Format::JsonLines, records.join("\n")),
        (Format::Array, format!("[\n  {}\n]", records.join(",\n  "))),
        (
            Format::LookupEvents,
            format!(
                "{{\n  \"Events\": [{}],\n  \"NextToken\": \"abc\"\n}}",
                lookup_items.join(",")
            ),
        ),
        (
            Format::EventBridge,
            format!(
                "[{}]",
                records
                    .iter()
                    .map(|r| eventbridge(r))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
        ),
        (
            Format::EventBridge,
            records
                .iter()
                .map(|r| eventbridge(r))
                .collect::<Vec<_>>()
                .join("\n"),
        ),
    ];
    let want = decode(records_file(n).as_bytes(), 0).events;
    assert_eq!(want.len(), n);
    for (format, text) in &forms {
        for bytes in [text.as_bytes().to_vec(), gz(text.as_bytes())] {
            let d = decode(&bytes, 0);
            assert!(d.issues.is_empty(), "{format:?}: {:?}", d.issues);
            assert_eq!(d.format, Some(*format), "{text}");
            assert_eq!(d.events, want, "{format:?}");
        }
    }
    // One EventBridge event, pretty-printed over several lines.
    let pretty = serde_json::to_string_pretty(
        &serde_json::from_str::<serde_json::Value>(&eventbridge(&records[2])).unwrap(),
    )
    .unwrap();
    let d = decode(pretty.as_bytes(), 0);
    assert_eq!(d.format, Some(Format::EventBridge));
    assert_eq!(d.events.len(), 1);
    assert_eq!(d.events[0].event_id, want[2].event_id);
    // A lookup-events item without its record is a bad record, the others still count.
    let broken = format!(r#"{{"Events":[{},{{"EventId":"x"}}]}}"#, lookup_items[0]);
    let d = decode(broken.as_bytes(), 0);
    assert_eq!(d.events.len(), 1);
    assert_eq!(kinds(&d), vec![(IssueKind::BadRecord, Some(1))]);
    // An EventBridge event of another kind is not CloudTrail.
    let other =
        r#"{"detail-type":"EC2 Instance State-change Notification","detail":{"state":"running"}}"#;
    assert_eq!(decode(other.as_bytes(), 0).format, None);
}
