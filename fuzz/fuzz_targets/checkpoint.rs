//! Fuzz target for what `watch` rebuilds from its checkpoint: file names (delivery time,
//! stream) and the event-time reorder buffer fed in any arrival order. Invariants: events come
//! out in `hunt`'s order (time, file delivery time, path, record); none comes out before the
//! release point; an event older than what was handed on is returned as late; and every event
//! pushed comes out exactly once, on time or late.
#![no_main]

use std::path::Path;
use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use trailhound_model::{Event, Provenance, SECOND};
use trailhound_source::delivery_time;
use trailhound_source::event_time::{EventTimeBuffer, FileOrder, stream_of};

fuzz_target!(|data: &[u8]| {
    // The first bytes as a file name: parsing it must not panic.
    let cut = data.first().map_or(0, |b| usize::from(*b) % 64).min(data.len());
    let name = String::from_utf8_lossy(&data[..cut]);
    let _ = delivery_time(&name);
    let _ = stream_of(Path::new(name.as_ref()));

    let rest = &data[cut..];
    let lateness = i64::from(rest.first().copied().unwrap_or(0)) * 60 * SECOND;
    let mut b = EventTimeBuffer::new(lateness);
    let mut pushed = 0usize;
    let mut out: Vec<Event> = Vec::new();
    let mut late = 0usize;
    let mut released_until = i64::MIN;
    // Each 4-byte chunk: a file of stream (byte 0 % 4), delivered at minute byte 1, with byte 2
    // % 4 events at minutes before it (byte 3), then maybe a release.
    for (i, c) in rest.chunks_exact(4).enumerate() {
        let delivery = i64::from(c[1]) * 60 * SECOND;
        let name = format!("1_CloudTrail_r{}_T_{i}.json", c[0] % 4);
        let file = Arc::new(FileOrder::new(Path::new(&name), Some(delivery)));
        b.note_file(&file);
        let events: Vec<Event> = (0..u32::from(c[2] % 4))
            .map(|r| Event {
                time: delivery - i64::from(c[3] / (r as u8 + 1)) * 60 * SECOND,
                provenance: Provenance { file: 0, record: r },
                ..Event::default()
            })
            .collect();
        pushed += events.len();
        let l = b.push(&file, events);
        for e in &l {
            assert!(e.time < released_until, "late but not older than what was handed on");
        }
        late += l.len();
        if c[0] & 0x80 != 0 {
            let w = b.watermark().unwrap_or(i64::MIN);
            let r = b.release();
            for e in &r {
                assert!(e.time < w, "released before the release point");
                assert!(e.time >= released_until, "time ran backwards");
            }
            assert!(r.windows(2).all(|p| p[0].time <= p[1].time));
            if let Some(last) = b.released() {
                released_until = released_until.max(last);
            }
            out.extend(r);
        }
    }
    let rest = b.release_all();
    assert!(rest.windows(2).all(|p| p[0].time <= p[1].time));
    assert!(rest.first().is_none_or(|e| e.time >= released_until));
    out.extend(rest);
    assert_eq!(out.len() + late, pushed, "every event once");
});
