//! Fuzz target for `trailhound_decode::decode`.
//!
//! Each input is decoded three ways: as given (plain JSON, JSON Lines, or gzip when it starts
//! with the magic bytes), gzipped (so every JSON path is also reached behind gzip), and gzipped
//! then cut short (the truncated-gzip path, with the JSON before the cut still decoded).
//! Beyond "no panic, no hang, no memory blow-up", the invariants below must hold for every
//! result.
#![no_main]

use std::io::Write;

use flate2::Compression;
use flate2::write::GzEncoder;
use libfuzzer_sys::fuzz_target;
use trailhound_decode::{Decoded, IssueKind, decode};

/// The shortest text that can yield an event is `{"eventTime":"1970-01-01T00:00:00Z"}`-like;
/// any valid RFC 3339 time needs well over 16 bytes of object around it.
const MIN_BYTES_PER_EVENT: u64 = 16;

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(
        Vec::with_capacity(bytes.len() / 2 + 64),
        Compression::fast(),
    );
    e.write_all(bytes).expect("writing to a Vec cannot fail");
    e.finish().expect("writing to a Vec cannot fail")
}

fn check(d: &Decoded, file: u32, what: &str) {
    let n = d.decompressed_bytes;
    assert!(
        d.events.len() as u64 <= n / MIN_BYTES_PER_EVENT,
        "{what}: {} events from {n} bytes",
        d.events.len()
    );
    // Every record costs at least a byte or two of text; at most one file-level issue
    // (gzip) and one summary issue (JSON Lines) come on top.
    assert!(
        d.issues.len() as u64 <= n + 2,
        "{what}: {} issues from {n} bytes",
        d.issues.len()
    );
    if d.digest {
        assert!(d.events.is_empty(), "{what}: digest with events");
    }
    let mut last: Option<u32> = None;
    for e in &d.events {
        assert_eq!(e.provenance.file, file, "{what}: wrong file in provenance");
        if let Some(prev) = last {
            assert!(
                e.provenance.record > prev,
                "{what}: provenance.record not strictly increasing ({prev} then {})",
                e.provenance.record
            );
        }
        assert!(
            u64::from(e.provenance.record) < n.max(1),
            "{what}: record index {} beyond {n} bytes",
            e.provenance.record
        );
        last = Some(e.provenance.record);
    }
    // Issues come in file order, and an issue that loses a record never names a record that
    // also became an event; a kept record's issue (missing userIdentity) always does.
    let mut last: Option<u32> = None;
    for i in &d.issues {
        let Some(r) = i.record else { continue };
        if let Some(prev) = last {
            assert!(
                r >= prev,
                "{what}: issue records out of order ({prev} then {r})"
            );
        }
        last = Some(r);
        let has_event = d
            .events
            .binary_search_by_key(&r, |e| e.provenance.record)
            .is_ok();
        if i.kind == IssueKind::MissingUserIdentity {
            assert!(has_event, "{what}: kept record {r} has no event");
        } else {
            assert!(i.kind.loses_data());
            assert!(
                !has_event,
                "{what}: lost record {r} still has an event ({:?})",
                i.kind
            );
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let file = data.len() as u32;

    let d = decode(data, file);
    check(&d, file, "raw");
    if !data.starts_with(&[0x1f, 0x8b]) {
        assert_eq!(
            d.decompressed_bytes,
            data.len() as u64,
            "raw: decompressed_bytes"
        );
    }

    let packed = gz(data);
    let g = decode(&packed, file);
    check(&g, file, "gzipped");
    assert_eq!(
        g.decompressed_bytes,
        data.len() as u64,
        "gzipped: decompressed_bytes"
    );
    assert!(
        !g.issues
            .iter()
            .any(|i| matches!(i.kind, IssueKind::TruncatedGzip | IssueKind::CorruptGzip)),
        "gzipped: a good gzip stream reported as bad: {:?}",
        g.issues
    );
    // The JSON behind gzip decodes exactly as the same JSON given plain.
    if !data.starts_with(&[0x1f, 0x8b]) {
        assert_eq!(g.events.len(), d.events.len(), "gzipped vs raw: events");
        assert_eq!(g.issues, d.issues, "gzipped vs raw: issues");
        assert_eq!(g.digest, d.digest, "gzipped vs raw: digest");
    }

    // Cut the gzip stream short, at a place chosen by the input, to reach the truncated path.
    if packed.len() > 2 {
        let cut = 2 + usize::from(data.first().copied().unwrap_or(0)) * (packed.len() - 2) / 256;
        let t = decode(&packed[..cut], file);
        check(&t, file, "truncated gzip");
        assert!(
            t.decompressed_bytes <= data.len() as u64,
            "truncated gzip: too many bytes"
        );
    }
});
