//! Event time for continuous mode: a reorder buffer with per-stream watermarks.
//!
//! CloudTrail delivers each account/region as its own stream of files, every few minutes, and a
//! region can lag behind the others. `watch` must still hand the rules the events in the order a
//! `hunt` over the same files would: by event time, then the file's reading order (delivery time,
//! then path), then record. The buffer holds every decoded event until no file still to come can
//! precede it:
//!
//! - each stream's watermark is its newest delivery time (from the file names);
//! - the release point is the newest watermark of any stream minus the allowed lateness: a file
//!   is on time when it arrives before files delivered more than the allowed lateness after its
//!   events. Events before the release point are sorted and handed on; the rest wait.
//! - An event older than what was already handed on is *late*. It is not handed on (the rules
//!   would see time run backwards); the caller decides what to do with it (`watch` re-evaluates
//!   the rules from its checkpoint, see `docs/decisions.md`, "Event time in watch").
//!
//! A quiet region that delivers nothing does not hold the others back: the release point follows
//! the newest stream. A file without a delivery time in its name (a JSON Lines export) releases
//! everything, as `hunt` reads such files first.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use trailhound_model::{Event, Timestamp};

/// Where a file's events stand in reading order, and its stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileOrder {
    /// The delivery time in the file's name.
    pub delivery_time: Option<Timestamp>,
    /// The file's path (or S3 URL), which breaks ties as in [`crate::in_reading_order`].
    pub path: PathBuf,
    /// The stream the file belongs to ([`stream_of`]).
    pub stream: String,
}

impl FileOrder {
    /// The order entry of a file at `path` delivered at `delivery_time`.
    pub fn new(path: &Path, delivery_time: Option<Timestamp>) -> Self {
        Self {
            delivery_time,
            path: path.to_path_buf(),
            stream: stream_of(path),
        }
    }
}

/// The delivery stream of a file: `account/region` from a CloudTrail file name
/// (`<account>_CloudTrail_<region>_<time>_<id>.json.gz`), else the path itself.
pub fn stream_of(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let mut parts = name.split('_');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(account), Some("CloudTrail"), Some(region), Some(_time))
            if !account.is_empty() && !region.is_empty() =>
        {
            format!("{account}/{region}")
        }
        _ => path.display().to_string(),
    }
}

/// Events that arrived after their time had been handed on, per stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Late {
    /// Per stream.
    pub streams: BTreeMap<String, LateStream>,
}

/// The late events of one stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LateStream {
    /// How many.
    pub events: u64,
    /// The oldest event time among them.
    pub oldest: Timestamp,
    /// The file that held the oldest.
    pub file: PathBuf,
}

impl Late {
    /// Total late events.
    pub fn events(&self) -> u64 {
        self.streams.values().map(|s| s.events).sum()
    }

    /// The oldest late event time.
    pub fn oldest(&self) -> Option<Timestamp> {
        self.streams.values().map(|s| s.oldest).min()
    }

    /// Counts `late` events of `file` in.
    pub fn count(&mut self, file: &FileOrder, late: &[Event]) {
        let Some(oldest) = late.iter().map(|e| e.time).min() else {
            return;
        };
        let s = self
            .streams
            .entry(file.stream.clone())
            .or_insert_with(|| LateStream {
                events: 0,
                oldest,
                file: file.path.clone(),
            });
        s.events += late.len() as u64;
        if oldest < s.oldest {
            s.oldest = oldest;
            s.file = file.path.clone();
        }
    }
}

/// The reorder buffer of `watch` (see the module documentation).
#[derive(Debug)]
pub struct EventTimeBuffer {
    lateness: Timestamp,
    /// Newest delivery time per stream.
    streams: BTreeMap<String, Timestamp>,
    /// A file without a delivery time was seen since the last release: release everything.
    unbounded: bool,
    /// Every event before this has been handed on.
    released: Option<Timestamp>,
    held: Vec<(Arc<FileOrder>, Event)>,
}

impl EventTimeBuffer {
    /// An empty buffer that waits `lateness` behind the newest delivery.
    pub fn new(lateness: Timestamp) -> Self {
        Self {
            lateness,
            streams: BTreeMap::new(),
            unbounded: false,
            released: None,
            held: Vec::new(),
        }
    }

    /// Notes that a file of `file`'s stream was delivered (it moves the stream's watermark).
    pub fn note_file(&mut self, file: &FileOrder) {
        match file.delivery_time {
            Some(t) => {
                let w = self.streams.entry(file.stream.clone()).or_insert(t);
                *w = (*w).max(t);
            }
            None => self.unbounded = true,
        }
    }

    /// Adds decoded events of `file`; the late ones (older than what was handed on) are
    /// returned instead of held.
    pub fn push(&mut self, file: &Arc<FileOrder>, events: Vec<Event>) -> Vec<Event> {
        let mut late = Vec::new();
        for e in events {
            if self.released.is_some_and(|r| e.time < r) {
                late.push(e);
            } else {
                self.held.push((Arc::clone(file), e));
            }
        }
        late
    }

    /// The release point: events before it are final.
    pub fn watermark(&self) -> Option<Timestamp> {
        if self.unbounded {
            return Some(Timestamp::MAX);
        }
        self.streams
            .values()
            .max()
            .map(|t| t.saturating_sub(self.lateness))
    }

    /// Each stream's newest delivery time.
    pub fn streams(&self) -> &BTreeMap<String, Timestamp> {
        &self.streams
    }

    /// Every event before this time has been handed on.
    pub fn released(&self) -> Option<Timestamp> {
        self.released
    }

    /// Events held, not yet final.
    pub fn held(&self) -> usize {
        self.held.len()
    }

    /// Hands on, in reading order, every held event before the release point.
    pub fn release(&mut self) -> Vec<Event> {
        if std::mem::take(&mut self.unbounded) {
            return self.release_all();
        }
        let Some(w) = self.watermark() else {
            return Vec::new();
        };
        self.take(|e| e.time < w, Some(w))
    }

    /// Hands on every held event (the end of the data).
    pub fn release_all(&mut self) -> Vec<Event> {
        let until = self
            .held
            .iter()
            .map(|(_, e)| e.time.saturating_add(1))
            .max();
        self.take(|_| true, until)
    }

    fn take(&mut self, ready: impl Fn(&Event) -> bool, until: Option<Timestamp>) -> Vec<Event> {
        // The order of `hunt`: time, then the file's reading order, then the record.
        self.held.sort_by(|(fa, a), (fb, b)| {
            (a.time, fa.delivery_time, &fa.path, a.provenance.record).cmp(&(
                b.time,
                fb.delivery_time,
                &fb.path,
                b.provenance.record,
            ))
        });
        let cut = self.held.partition_point(|(_, e)| ready(e));
        let rest = self.held.split_off(cut);
        let out = std::mem::replace(&mut self.held, rest);
        if let Some(u) = until {
            self.released = Some(self.released.map_or(u, |r| r.max(u)));
        }
        out.into_iter().map(|(_, e)| e).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    const MINUTE: Timestamp = 60 * trailhound_model::SECOND;

    fn event(time: Timestamp, record: u32) -> Event {
        Event {
            time,
            provenance: trailhound_model::Provenance { file: 0, record },
            ..Event::default()
        }
    }

    fn file(name: &str, delivery: Timestamp) -> Arc<FileOrder> {
        Arc::new(FileOrder::new(Path::new(name), Some(delivery)))
    }

    #[test]
    fn streams_are_account_and_region() {
        assert_eq!(
            stream_of(Path::new(
                "AWSLogs/1/CloudTrail/eu-west-1/2026/01/01/123456789012_CloudTrail_eu-west-1_20260101T0005Z_ab.json.gz"
            )),
            "123456789012/eu-west-1"
        );
        assert_eq!(stream_of(Path::new("x/export.jsonl")), "x/export.jsonl");
    }

    #[test]
    fn a_lagging_region_inside_the_lateness_is_put_in_order() {
        let mut b = EventTimeBuffer::new(30 * MINUTE);
        let a1 = file("1_CloudTrail_us-east-1_T_a", 60 * MINUTE);
        b.note_file(&a1);
        assert!(b.push(&a1, vec![event(55 * MINUTE, 0)]).is_empty());
        // Only events before 60 - 30 minutes are final: none yet.
        assert!(b.release().is_empty());
        let a2 = file("1_CloudTrail_us-east-1_T_b", 100 * MINUTE);
        b.note_file(&a2);
        assert!(b.push(&a2, vec![event(98 * MINUTE, 0)]).is_empty());
        let out: Vec<_> = b.release().iter().map(|e| e.time).collect();
        assert_eq!(out, vec![55 * MINUTE]);
        assert_eq!(b.watermark(), Some(70 * MINUTE));
        // eu-west-1 lags 25 minutes: its event at 72 minutes is on time.
        let e1 = file("1_CloudTrail_eu-west-1_T_c", 75 * MINUTE);
        b.note_file(&e1);
        assert!(b.push(&e1, vec![event(72 * MINUTE, 0)]).is_empty());
        // ... its event at 69 minutes, behind what was handed on, is late.
        let late = b.push(&e1, vec![event(69 * MINUTE, 1)]);
        assert_eq!(late.len(), 1);
        let mut counted = Late::default();
        counted.count(&e1, &late);
        assert_eq!(counted.events(), 1);
        assert_eq!(counted.oldest(), Some(69 * MINUTE));
        assert_eq!(b.streams().len(), 2);
        let rest: Vec<_> = b.release_all().iter().map(|e| e.time).collect();
        assert_eq!(rest, vec![72 * MINUTE, 98 * MINUTE]);
    }

    #[test]
    fn ties_follow_the_reading_order_of_hunt() {
        let mut b = EventTimeBuffer::new(0);
        let later = file("b/1_CloudTrail_us-east-1_T_x", 10 * MINUTE);
        let earlier = file("a/1_CloudTrail_us-east-2_T_y", 5 * MINUTE);
        let same_time_later_path = file("c/1_CloudTrail_us-east-2_T_z", 5 * MINUTE);
        for f in [&later, &earlier, &same_time_later_path] {
            b.note_file(f);
        }
        // Arrival order: the later file first.
        b.push(&later, vec![event(MINUTE, 1)]);
        b.push(&same_time_later_path, vec![event(MINUTE, 2)]);
        b.push(&earlier, vec![event(MINUTE, 7)]);
        let order: Vec<u32> = b.release().iter().map(|e| e.provenance.record).collect();
        assert_eq!(order, vec![7, 2, 1]);
    }

    #[test]
    fn a_file_without_delivery_time_releases_everything() {
        let mut b = EventTimeBuffer::new(30 * MINUTE);
        let f = Arc::new(FileOrder::new(Path::new("export.jsonl"), None));
        b.note_file(&f);
        b.push(&f, vec![event(5, 0), event(3, 1)]);
        let out: Vec<_> = b.release().iter().map(|e| e.time).collect();
        assert_eq!(out, vec![3, 5]);
        assert_eq!(b.held(), 0);
        // What was handed on is final, and nothing later is: the next file is not all late.
        let g = Arc::new(FileOrder::new(Path::new("export2.jsonl"), None));
        b.note_file(&g);
        assert_eq!(b.push(&g, vec![event(4, 0), event(9, 1)]).len(), 1);
    }

    /// Many random arrival orders: streams that lag, files that jitter, batches cut anywhere.
    /// Inside the lateness, the events come out exactly in `hunt`'s order and none is late;
    /// a file held back longer is late.
    #[test]
    fn any_arrival_within_the_lateness_gives_the_order_of_hunt() {
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move |n: i64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n.max(1) as u64) as i64
        };
        for round in 0..200 {
            let lateness = 30 * MINUTE;
            // 6 streams, 40 files each, every 5 minutes; events up to 5 minutes before delivery.
            let mut files = Vec::new();
            for s in 0..6 {
                let lag = next(20 * MINUTE);
                for k in 1..=40 {
                    let delivery = k * 5 * MINUTE;
                    let order = file(&format!("a/1_CloudTrail_r{s}_T_{k:02}"), delivery);
                    let events: Vec<Event> = (0..next(4) as u32)
                        .map(|r| event(delivery - next(5 * MINUTE), r))
                        .collect();
                    files.push((delivery + lag + next(4 * MINUTE), order, events));
                }
            }
            let mut expected: Vec<(Timestamp, Option<Timestamp>, PathBuf, u32)> = files
                .iter()
                .flat_map(|(_, f, es)| {
                    es.iter()
                        .map(|e| (e.time, f.delivery_time, f.path.clone(), e.provenance.record))
                })
                .collect();
            expected.sort();
            files.sort_by_key(|(arrival, f, _)| (*arrival, f.path.clone()));
            // One stream far behind in one round of four: late.
            let held_back = (round % 4 == 3).then(|| next(6));
            if let Some(s) = held_back {
                let stream = format!("1/r{s}");
                let (back, rest): (Vec<_>, Vec<_>) =
                    files.into_iter().partition(|(_, f, _)| f.stream == stream);
                files = rest.into_iter().chain(back).collect();
            }
            let mut b = EventTimeBuffer::new(lateness);
            let mut out = Vec::new();
            let mut late = Late::default();
            let mut i = 0;
            while i < files.len() {
                let n = 1 + next(12) as usize;
                let batch = &files[i..(i + n).min(files.len())];
                for (_, f, _) in batch {
                    b.note_file(f);
                }
                for (_, f, es) in batch {
                    late.count(f, &b.push(f, es.clone()));
                }
                out.extend(
                    b.release()
                        .into_iter()
                        .map(|e| (e.time, e.provenance.record)),
                );
                i += n;
            }
            out.extend(
                b.release_all()
                    .into_iter()
                    .map(|e| (e.time, e.provenance.record)),
            );
            match held_back {
                None => {
                    assert_eq!(late.events(), 0, "round {round}");
                    let want: Vec<(Timestamp, u32)> =
                        expected.iter().map(|(t, _, _, r)| (*t, *r)).collect();
                    assert_eq!(out, want, "round {round}");
                }
                Some(s) => {
                    assert!(late.events() > 0, "round {round}");
                    assert!(late.streams.keys().all(|k| *k == format!("1/r{s}")));
                    assert_eq!(out.len() as u64 + late.events(), expected.len() as u64);
                }
            }
        }
    }
}
