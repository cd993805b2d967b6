//! Input discovery and the parallel, time-ordered event stream.
//!
//! [`discover`] walks the given files and folders (recursively) and lists the CloudTrail files in
//! them, skipping digest files. [`read`] decodes them on all cores and hands the consumer one
//! stream of events in time order, with bounded memory:
//!
//! Files are read in the order of the delivery time in their names (`..._20230710T1220Z_...`).
//! Each event lies at most a little before its file's delivery time, so once every file
//! delivered before `T` has been decoded, no later file can hold an event older than
//! `T - slack`: buffered events older than that are sorted and released. An event that still
//! arrives after its time was released (a file delivered more than `slack` late) is passed on
//! anyway and counted as late. Files without a time in their name (JSON Lines exports) are read
//! first, so an input of only such files is sorted as a whole.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};

use crossbeam_channel::{Receiver, bounded};
use rayon::prelude::*;
use trailhound_decode::{Decoder, Issue, IssueKind};
use trailhound_model::{Event, ExtraFields, HOUR, Timestamp};

pub mod aws_credentials;
pub mod event_time;
mod name_time;
pub mod s3;
pub mod select;
pub mod sqs;
pub use name_time::delivery_time;
pub use s3::S3Source;
pub use select::{Selection, SkipKind};

/// Where a file's bytes are.
#[derive(Debug, Clone, Default)]
pub enum Origin {
    /// On the local file system, at the file's path.
    #[default]
    Local,
    /// An S3 object: the file's path is its `s3://bucket/key` URL, `key` its key.
    S3 {
        /// The bucket's client.
        source: std::sync::Arc<S3Source>,
        /// The object key.
        key: String,
    },
}

impl PartialEq for Origin {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Origin::Local, Origin::Local) => true,
            (Origin::S3 { source: a, key: k }, Origin::S3 { source: b, key: l }) => {
                std::sync::Arc::ptr_eq(a, b) && k == l
            }
            _ => false,
        }
    }
}

impl Eq for Origin {}

/// A file to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputFile {
    /// Where it is.
    pub path: PathBuf,
    /// Size in bytes on disk.
    pub size: u64,
    /// The delivery time in its name, when it has one.
    pub delivery_time: Option<Timestamp>,
    /// Where its bytes are.
    pub origin: Origin,
    /// When it last changed: the inode change time of a local file (set by the rename or write
    /// that delivered it, whatever tool copied it), S3's `LastModified` of an object. `watch`
    /// takes only files that changed before its listing started, so that a listing is a snapshot
    /// even while files arrive during it.
    pub changed: Option<std::time::SystemTime>,
}

/// What [`discover`] found.
#[derive(Debug, Default)]
pub struct Discovery {
    /// The files to read, in reading order (delivery time, then path).
    pub files: Vec<InputFile>,
    /// CloudTrail digest files, which hold no events.
    pub digests: Vec<PathBuf>,
    /// Files in walked folders whose name is not that of a CloudTrail file (README, LICENSE, ...).
    pub other: Vec<PathBuf>,
    /// Paths that could not be read, with the reason.
    pub unreadable: Vec<Unreadable>,
    /// Files not read, by why: digests, Insights, other services' logs, other names, and files
    /// outside the selection.
    pub skipped: std::collections::BTreeMap<SkipKind, u64>,
    /// S3 list requests sent.
    pub list_requests: u64,
}

/// A path that could not be read at all, and why.
#[derive(Debug, Clone)]
pub struct Unreadable {
    /// The path (or S3 URL).
    pub path: PathBuf,
    /// What kind of problem.
    pub problem: InputProblem,
    /// The error's own words.
    pub why: String,
}

/// Why an input gave nothing to decode: counted by kind in the run's summary and statistics
/// (alongside the decoder's bad input), so that no input is ever skipped silently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum InputProblem {
    /// A file of zero bytes.
    EmptyFile,
    /// A symbolic link that leads back into a folder being walked.
    SymlinkLoop,
    /// Not allowed to read (file or folder permissions).
    PermissionDenied,
    /// Listed, then gone before it was read (or named but not there).
    Vanished,
    /// Any other error of the file system or of S3.
    Unreadable,
}

impl InputProblem {
    /// The name used in summaries and statistics.
    pub const fn name(self) -> &'static str {
        match self {
            InputProblem::EmptyFile => "empty_file",
            InputProblem::SymlinkLoop => "symlink_loop",
            InputProblem::PermissionDenied => "permission_denied",
            InputProblem::Vanished => "vanished",
            InputProblem::Unreadable => "unreadable",
        }
    }

    /// The problem an I/O error stands for.
    pub fn of_io(e: &std::io::Error) -> Self {
        match e.kind() {
            std::io::ErrorKind::NotFound => InputProblem::Vanished,
            std::io::ErrorKind::PermissionDenied => InputProblem::PermissionDenied,
            _ => InputProblem::Unreadable,
        }
    }

    /// The problem a folder walk's error stands for.
    fn of_walk(e: &walkdir::Error) -> Self {
        if e.loop_ancestor().is_some() {
            InputProblem::SymlinkLoop
        } else {
            e.io_error().map_or(InputProblem::Unreadable, Self::of_io)
        }
    }
}

/// True for names CloudTrail data is stored under: `.json`, `.jsonl`, `.ndjson`, each optionally
/// with `.gz`, and bare `.gz`. `manifest.json` is not: S3 Inventory and Trailhound's own generator
/// write manifests of that name next to the data.
pub fn is_cloudtrail_name(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    if n == "manifest.json" {
        return false;
    }
    let n = n.strip_suffix(".gz").unwrap_or(&n);
    n.len() < name.len() // it ended in .gz
        || n.ends_with(".json")
        || n.ends_with(".jsonl")
        || n.ends_with(".ndjson")
}

/// True for CloudTrail digest files (`AWSLogs/<acct>/CloudTrail-Digest/...`).
pub fn is_digest(path: &Path) -> bool {
    path.to_string_lossy().contains("CloudTrail-Digest")
}

/// Lists the CloudTrail files under `paths`. A file named explicitly is always read, whatever
/// its name; inside folders, only CloudTrail-looking names are (see [`is_cloudtrail_name`]).
pub fn discover(paths: &[PathBuf]) -> Discovery {
    discover_selected(paths, &Selection::default())
}

/// [`discover`], listing only what may hold files of `selection`: folders (and S3 prefixes) it
/// excludes are not walked, files whose name it excludes are counted as not selected.
pub fn discover_selected(paths: &[PathBuf], selection: &Selection) -> Discovery {
    let mut d = Discovery::default();
    for root in paths {
        let text = root.to_string_lossy();
        if text.starts_with("s3://") {
            match S3Source::open(&text) {
                Ok(source) => d.push_s3(&source, selection),
                Err(why) => d.unreadable.push(Unreadable {
                    path: root.clone(),
                    problem: InputProblem::Unreadable,
                    why,
                }),
            }
            continue;
        }
        match std::fs::metadata(root) {
            Err(e) => d.unreadable.push(Unreadable {
                path: root.clone(),
                problem: InputProblem::of_io(&e),
                why: e.to_string(),
            }),
            Ok(m) if m.is_file() => d.push_file(root.clone(), Some(&m)),
            Ok(_) => {
                // A folder is walked when every folder name from the root down may hold
                // selected files.
                let kept = |path: &Path| -> bool {
                    let Ok(rel) = path.strip_prefix(root) else {
                        return true;
                    };
                    rel.components()
                        .try_fold(Vec::new(), |date, c| {
                            selection.enter(&date, &c.as_os_str().to_string_lossy())
                        })
                        .is_some()
                };
                let walk = walkdir::WalkDir::new(root)
                    .follow_links(true)
                    .sort_by_file_name()
                    .into_iter()
                    .filter_entry(|e| {
                        !e.file_type().is_dir() || selection.is_all() || kept(e.path())
                    });
                for entry in walk {
                    match entry {
                        Err(e) => {
                            let p = e
                                .path()
                                .map(Path::to_path_buf)
                                .unwrap_or_else(|| root.clone());
                            d.unreadable.push(Unreadable {
                                path: p,
                                problem: InputProblem::of_walk(&e),
                                why: e.to_string(),
                            });
                        }
                        Ok(e) if e.file_type().is_file() => {
                            let name = e.file_name().to_string_lossy().into_owned();
                            if !d.keep(e.path(), &name, selection) {
                                continue;
                            }
                            let m = e.metadata().ok();
                            d.push_file(e.into_path(), m.as_ref());
                        }
                        Ok(_) => {}
                    }
                }
            }
        }
    }
    in_reading_order(&mut d.files);
    d
}

/// When a local file last changed: its inode change time where there is one (Unix), which no
/// copying tool can set back, else its modification time.
fn changed(m: &std::fs::Metadata) -> Option<std::time::SystemTime> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let nanos = u32::try_from(m.ctime_nsec()).ok()?;
        let secs = u64::try_from(m.ctime()).ok()?;
        Some(std::time::UNIX_EPOCH + std::time::Duration::new(secs, nanos))
    }
    #[cfg(not(unix))]
    {
        m.modified().ok()
    }
}

/// Sorts files into reading order (delivery time, then path; files without a time first) and
/// drops repeats of a path.
pub fn in_reading_order(files: &mut Vec<InputFile>) {
    files.sort_by(|a, b| (a.delivery_time, &a.path).cmp(&(b.delivery_time, &b.path)));
    files.dedup_by(|a, b| a.path == b.path);
}

/// Lists the CloudTrail objects of an S3 source that may hold files of `selection` (see
/// [`S3Source::list_selected`]); files come in reading order, as from [`discover`].
pub fn discover_s3(source: &std::sync::Arc<S3Source>, selection: &Selection) -> Discovery {
    let mut d = Discovery::default();
    d.push_s3(source, selection);
    in_reading_order(&mut d.files);
    d
}

impl Discovery {
    /// Whether a listed file is read; if not, counts why (digests are also kept by path, and
    /// other names too).
    fn keep(&mut self, path: &Path, name: &str, selection: &Selection) -> bool {
        match selection.skip_reason(path, name) {
            None => true,
            Some(k) => {
                *self.skipped.entry(k).or_default() += 1;
                match k {
                    SkipKind::Digest => self.digests.push(path.to_path_buf()),
                    SkipKind::NotCloudTrailName => self.other.push(path.to_path_buf()),
                    _ => {}
                }
                false
            }
        }
    }

    fn push_s3(&mut self, source: &std::sync::Arc<S3Source>, selection: &Selection) {
        let listed = source.list_selected(selection);
        self.list_requests += source.list_requests();
        match listed {
            Err(why) => self.unreadable.push(Unreadable {
                path: PathBuf::from(source.url()),
                problem: InputProblem::Unreadable,
                why,
            }),
            Ok(objects) => {
                for o in objects {
                    let path = PathBuf::from(source.object_url(&o.key));
                    let name = o.key.rsplit('/').next().unwrap_or_default().to_owned();
                    if !self.keep(Path::new(&o.key), &name, selection) {
                        continue;
                    }
                    let origin = Origin::S3 {
                        source: std::sync::Arc::clone(source),
                        key: o.key,
                    };
                    self.push(path, o.size, origin, Some(o.last_modified));
                }
            }
        }
    }

    fn push_file(&mut self, path: PathBuf, m: Option<&std::fs::Metadata>) {
        let size = m.map_or(0, |m| m.len());
        self.push(path, size, Origin::Local, m.and_then(changed));
    }

    fn push(
        &mut self,
        path: PathBuf,
        size: u64,
        origin: Origin,
        changed: Option<std::time::SystemTime>,
    ) {
        if is_digest(&path) {
            self.digests.push(path);
            return;
        }
        let delivery_time = path
            .file_name()
            .and_then(|n| delivery_time(&n.to_string_lossy()));
        self.files.push(InputFile {
            path,
            size,
            delivery_time,
            origin,
            changed,
        });
    }

    /// Total size on disk of the files to read.
    pub fn total_bytes(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }
}

/// The outcome of reading one file.
#[derive(Debug)]
pub struct FileReport {
    /// Index into the list of files given to [`read`] (also the events' `provenance.file`).
    pub file: u32,
    /// Bytes read from disk.
    pub bytes: u64,
    /// Bytes after decompression.
    pub decompressed_bytes: u64,
    /// Events decoded.
    pub events: u64,
    /// True when the content turned out to be a digest file.
    pub digest: bool,
    /// Problems found, located (the first [`trailhound_decode::MAX_LOCATED_ISSUES`]).
    pub issues: Vec<Issue>,
    /// Every problem counted by kind, indexed like [`IssueKind::ALL`].
    pub issue_counts: [u64; IssueKind::ALL.len()],
    /// Why the file gave nothing to decode (empty, vanished, not readable), if it did not.
    pub problem: Option<InputProblem>,
    /// The form its records came in, if it had any.
    pub format: Option<trailhound_decode::Format>,
}

/// What the stream delivers, in order.
#[derive(Debug)]
pub enum Message {
    /// A file has been decoded (its events follow in later `Events` messages).
    File(FileReport),
    /// Events, in time order with respect to every earlier batch except for counted late ones.
    Events(Vec<Event>),
    /// The number of events that arrived after their time had been released.
    Late(u64),
}

/// Tuning for [`read`].
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// How far before its file's delivery time an event may lie and still be put in order.
    pub slack: Timestamp,
    /// Files decoded in parallel before events are released (bounds memory with `slack`).
    pub files_per_round: usize,
    /// When false, events are passed on as decoded, without ordering (decode-only benchmarks).
    pub ordered: bool,
    /// Record paths beyond the fixed schema to capture into [`Event::extra`] (Sigma rules).
    pub extra: std::sync::Arc<ExtraFields>,
}

impl Default for ReadOptions {
    fn default() -> Self {
        Self {
            slack: 2 * HOUR,
            files_per_round: 32 * rayon::current_num_threads().max(1),
            ordered: true,
            extra: Default::default(),
        }
    }
}

/// Reads `files` on a background thread using all cores; returns the stream of messages. The
/// stream ends after the last event.
pub fn read(files: Vec<InputFile>, options: ReadOptions) -> Receiver<Message> {
    let (tx, rx) = bounded(8);
    let files = std::sync::Arc::new(files);
    std::thread::Builder::new()
        .name("trailhound-read".into())
        .spawn(move || {
            let mut order = Reorder::new();
            let round_size = options.files_per_round.max(1);
            let rounds: Vec<std::ops::Range<usize>> = (0..files.len())
                .step_by(round_size)
                .map(|start| start..(start + round_size).min(files.len()))
                .collect();
            // Round k + 1 decodes on the pool while this thread orders and hands on round k.
            let decoder = std::sync::Arc::new(Decoder::new(&options.extra));
            let mut in_flight = rounds
                .first()
                .map(|r| decode_round(&files, r.clone(), &decoder));
            for (k, round) in rounds.iter().enumerate() {
                let Some(pending) = in_flight.take() else {
                    return;
                };
                let Ok(decoded) = pending.recv() else { return };
                in_flight = rounds
                    .get(k + 1)
                    .map(|r| decode_round(&files, r.clone(), &decoder));
                let mut batch = Vec::with_capacity(decoded.iter().map(|(_, e)| e.len()).sum());
                for (report, events) in decoded {
                    if tx.send(Message::File(report)).is_err() {
                        return;
                    }
                    batch.extend(events);
                }
                if !options.ordered {
                    if tx.send(Message::Events(batch)).is_err() {
                        return;
                    }
                    continue;
                }
                // Nothing in an unread file is older than this.
                let watermark = match files.get(round.end) {
                    Some(f) => f.delivery_time.map(|t| t - options.slack),
                    None => Some(Timestamp::MAX),
                };
                let (released, late) = order.push(batch, watermark);
                if late > 0 && tx.send(Message::Late(late)).is_err() {
                    return;
                }
                if !released.is_empty() && tx.send(Message::Events(released)).is_err() {
                    return;
                }
            }
        })
        .expect("spawn reader thread");
    rx
}

/// Starts decoding `round` on the thread pool; the result arrives on the returned channel.
fn decode_round(
    files: &std::sync::Arc<Vec<InputFile>>,
    round: std::ops::Range<usize>,
    decoder: &std::sync::Arc<Decoder>,
) -> Receiver<Vec<(FileReport, Vec<Event>)>> {
    let (tx, rx) = bounded(1);
    let files = std::sync::Arc::clone(files);
    let decoder = std::sync::Arc::clone(decoder);
    rayon::spawn(move || {
        let decoded = round
            .into_par_iter()
            .map(|i| read_one(&files[i], i as u32, &decoder))
            .collect();
        let _ = tx.send(decoded);
    });
    rx
}

fn read_one(file: &InputFile, index: u32, decoder: &Decoder) -> (FileReport, Vec<Event>) {
    let bytes = match &file.origin {
        Origin::Local => std::fs::read(&file.path),
        Origin::S3 { source, key } => source.get(key),
    };
    match bytes {
        Ok(raw) => {
            let d = decoder.decode(&raw, index);
            let report = FileReport {
                file: index,
                bytes: raw.len() as u64,
                decompressed_bytes: d.decompressed_bytes,
                events: d.events.len() as u64,
                digest: d.digest,
                issues: d.issues,
                issue_counts: d.issue_counts,
                problem: raw.is_empty().then_some(InputProblem::EmptyFile),
                format: d.format,
            };
            (report, d.events)
        }
        Err(e) => {
            let problem = match &file.origin {
                Origin::Local => InputProblem::of_io(&e),
                Origin::S3 { .. } => InputProblem::Unreadable,
            };
            let issue = Issue {
                kind: IssueKind::Io,
                record: None,
                detail: e.to_string(),
            };
            let mut issue_counts = [0; IssueKind::ALL.len()];
            issue_counts[IssueKind::Io as usize] = 1;
            let report = FileReport {
                file: index,
                bytes: 0,
                decompressed_bytes: 0,
                events: 0,
                digest: false,
                issues: vec![issue],
                issue_counts,
                problem: Some(problem),
                format: None,
            };
            (report, Vec::new())
        }
    }
}

/// The reorder buffer: holds events until the watermark says no older event can still come.
///
/// Each round's batch is sorted once and kept as its own run; releasing pops the front of each
/// run, so events that stay buffered are never moved again.
struct Reorder {
    runs: Vec<VecDeque<Event>>,
    released_until: Option<Timestamp>,
}

impl Reorder {
    fn new() -> Self {
        Self {
            runs: Vec::new(),
            released_until: None,
        }
    }

    /// Adds `batch`; returns the events older than `watermark` in time order, and how many of
    /// the added events were already late.
    fn push(&mut self, batch: Vec<Event>, watermark: Option<Timestamp>) -> (Vec<Event>, u64) {
        let mut out = Vec::new();
        let mut run = Vec::with_capacity(batch.len());
        for e in batch {
            if self.released_until.is_some_and(|r| e.time < r) {
                out.push(e);
            } else {
                run.push(e);
            }
        }
        let late = out.len() as u64;
        if !run.is_empty() {
            sort_events(&mut run);
            self.runs.push(run.into());
        }
        if let Some(w) = watermark {
            for run in &mut self.runs {
                while run.front().is_some_and(|e| e.time < w) {
                    out.extend(run.pop_front());
                }
            }
            self.runs.retain(|r| !r.is_empty());
            self.released_until = Some(self.released_until.map_or(w, |r| r.max(w)));
        }
        // `out` is a concatenation of sorted runs, which the merge sort handles in linear time.
        sort_events(&mut out);
        (out, late)
    }
}

fn sort_events(events: &mut [Event]) {
    events.sort_by_key(|e| (e.time, e.provenance.file, e.provenance.record));
}

#[cfg(test)]
mod input_problem_tests {
    use super::*;

    #[test]
    fn io_errors_name_their_input_problem() {
        use std::io::{Error, ErrorKind};
        assert_eq!(
            InputProblem::of_io(&Error::from(ErrorKind::NotFound)),
            InputProblem::Vanished
        );
        assert_eq!(
            InputProblem::of_io(&Error::from(ErrorKind::PermissionDenied)),
            InputProblem::PermissionDenied
        );
        assert_eq!(
            InputProblem::of_io(&Error::other("disk on fire")),
            InputProblem::Unreadable
        );
        // A file that vanished between the listing and the read.
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("gone.json");
        std::fs::write(&f, b"{}").unwrap();
        let found = discover(&[dir.path().to_path_buf()]);
        std::fs::remove_file(&f).unwrap();
        let reports: Vec<FileReport> = read(found.files, ReadOptions::default())
            .into_iter()
            .filter_map(|m| match m {
                Message::File(r) => Some(r),
                _ => None,
            })
            .collect();
        assert_eq!(reports.len(), 1);
        assert_eq!(reports[0].problem, Some(InputProblem::Vanished));
    }
}
