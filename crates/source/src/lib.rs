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

impl InputFile {
    /// A file to read, its delivery time taken from its name.
    pub fn new(
        path: PathBuf,
        size: u64,
        origin: Origin,
        changed: Option<std::time::SystemTime>,
    ) -> Self {
        let delivery_time = path
            .file_name()
            .and_then(|n| delivery_time(&n.to_string_lossy()));
        Self {
            path,
            size,
            delivery_time,
            origin,
            changed,
        }
    }

    /// A local file, with its size and change time from `m` (when it could be read).
    fn local(path: PathBuf, m: Option<&std::fs::Metadata>) -> Self {
        let size = m.map_or(0, |m| m.len());
        Self::new(path, size, Origin::Local, m.and_then(changed))
    }
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
                // Unsorted: the files are sorted into reading order at the end, the other
                // lists by path (which is the order of a walk sorted by name).
                let walk = walkdir::WalkDir::new(root)
                    .follow_links(true)
                    .into_iter()
                    .filter_entry(|e| {
                        !e.file_type().is_dir() || selection.is_all() || kept(e.path())
                    });
                let mut listed = Vec::new();
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
                        Ok(e) if e.file_type().is_file() => listed.push(e.into_path()),
                        Ok(_) => {}
                    }
                }
                // A trail has a file per region and five minutes: judging each name and
                // reading its size (a `stat` through the whole path) is most of a listing's
                // time, and independent per file.
                let judged: Vec<Result<InputFile, (PathBuf, SkipKind)>> = listed
                    .into_par_iter()
                    .map(|path| {
                        let name = path.file_name().unwrap_or_default().to_string_lossy();
                        if let Some(k) = selection.skip_reason(&path, &name) {
                            return Err((path, k));
                        }
                        let m = std::fs::metadata(&path).ok();
                        Ok(InputFile::local(path, m.as_ref()))
                    })
                    .collect();
                for verdict in judged {
                    match verdict {
                        Err((path, k)) => d.skip(path, k),
                        Ok(file) => d.files.push(file),
                    }
                }
            }
        }
    }
    in_reading_order(&mut d.files);
    d.digests.sort();
    d.other.sort();
    d.unreadable.sort_by(|a, b| a.path.cmp(&b.path));
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
    // In parallel: comparing paths component by component is most of a large listing's sort.
    files.par_sort_by(|a, b| (a.delivery_time, &a.path).cmp(&(b.delivery_time, &b.path)));
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
    /// Whether a listed file is read; if not, counts why (see [`Discovery::skip`]).
    fn keep(&mut self, path: &Path, name: &str, selection: &Selection) -> bool {
        match selection.skip_reason(path, name) {
            None => true,
            Some(k) => {
                self.skip(path.to_path_buf(), k);
                false
            }
        }
    }

    /// Counts a file not read, by why; digests are also kept by path, and other names too.
    fn skip(&mut self, path: PathBuf, k: SkipKind) {
        *self.skipped.entry(k).or_default() += 1;
        match k {
            SkipKind::Digest => self.digests.push(path),
            SkipKind::NotCloudTrailName => self.other.push(path),
            _ => {}
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
                    self.push(InputFile::new(path, o.size, origin, Some(o.last_modified)));
                }
            }
        }
    }

    fn push_file(&mut self, path: PathBuf, m: Option<&std::fs::Metadata>) {
        self.push(InputFile::local(path, m));
    }

    /// Lists `file`, unless it is a digest.
    fn push(&mut self, file: InputFile) {
        if is_digest(&file.path) {
            self.digests.push(file.path);
        } else {
            self.files.push(file);
        }
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
    /// The file's path (or S3 URL), so that a consumer need not keep the list to name it.
    pub path: PathBuf,
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
    /// What [`ReadOptions::prepare`] counted in it (empty without one).
    pub prepared: Vec<u64>,
}

/// What the stream delivers, in order.
#[derive(Debug)]
pub enum Message {
    /// Files have been decoded, in reading order (their events follow in later `Events`
    /// messages). Sent in batches: one message per file woke the consumer once per file.
    Files(Vec<FileReport>),
    /// Events, in time order with respect to every earlier batch except for counted late ones.
    Events(Vec<Event>),
    /// The number of events that arrived after their time had been released.
    Late(u64),
}

/// Tuning for [`read`].
#[derive(Clone)]
pub struct ReadOptions {
    /// How far before its file's delivery time an event may lie and still be put in order.
    pub slack: Timestamp,
    /// Files handed on between two releases of ordered events; also how far decoding may run
    /// ahead of the file being handed on (bounds memory with `slack`).
    pub files_per_round: usize,
    /// When false, events are passed on as decoded, without ordering (decode-only benchmarks).
    pub ordered: bool,
    /// Record paths beyond the fixed schema to capture into [`Event::extra`] (Sigma rules).
    pub extra: std::sync::Arc<ExtraFields>,
    /// Threads that read and decode files: `None`, one per thread of rayon's global pool (set
    /// by `--threads`); 1 decodes on the reading thread itself, so that the whole input side
    /// takes one core.
    pub threads: Option<usize>,
    /// Work done to each file's events on the thread that decoded it, before they are ordered
    /// (selection, enrichment): one [`Prepare`] per decoding thread.
    pub prepare: Option<PrepareFactory>,
}

impl std::fmt::Debug for ReadOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadOptions")
            .field("slack", &self.slack)
            .field("files_per_round", &self.files_per_round)
            .field("ordered", &self.ordered)
            .field("threads", &self.threads)
            .field("prepare", &self.prepare.is_some())
            .finish_non_exhaustive()
    }
}

impl Default for ReadOptions {
    fn default() -> Self {
        Self {
            slack: 2 * HOUR,
            files_per_round: 32 * rayon::current_num_threads().max(1),
            ordered: true,
            extra: Default::default(),
            threads: None,
            prepare: None,
        }
    }
}

/// Per-file work on the decoding threads: each thread has its own, so that a cache in it (the
/// GeoIP memo) needs no lock. What it counts goes in the file's [`FileReport::prepared`].
pub trait Prepare: Send {
    /// Edits, drops or enriches the events of one file (in record order), counting what it
    /// did into `counts` (an empty vector the first time, its own layout).
    fn prepare(&mut self, events: &mut Vec<Event>, counts: &mut Vec<u64>);
}

/// Makes the [`Prepare`] of one decoding thread.
pub type PrepareFactory = std::sync::Arc<dyn Fn() -> Box<dyn Prepare> + Send + Sync>;

/// Reads `files` on a background thread using all cores; returns the stream of messages. The
/// stream ends after the last event.
///
/// Decoding threads take files in reading order, each as soon as it is free (no round waits
/// for its slowest file), run [`ReadOptions::prepare`] on them and sort each file's events;
/// the reading thread hands the files on in order and merges their sorted runs (see
/// [`Reorder`]), so that an event is moved once between its decoding and the consumer.
pub fn read(files: Vec<InputFile>, options: ReadOptions) -> Receiver<Message> {
    let (tx, rx) = bounded(8);
    std::thread::Builder::new()
        .name("trailhound-read".into())
        .spawn(move || {
            let threads = options
                .threads
                .unwrap_or_else(rayon::current_num_threads)
                .max(1);
            let decoder = Decoder::new(&options.extra);
            let mut order = Handover::new(&files, &options, tx);
            if threads == 1 {
                let mut prepare = options.prepare.as_ref().map(|f| f());
                for (i, file) in files.iter().enumerate() {
                    let decoded = decode_file(file, i, &decoder, &mut prepare, &options);
                    if order.hand_on(decoded).is_err() {
                        return;
                    }
                }
            } else {
                decode_in_parallel(&files, threads, &decoder, &options, &mut order);
            }
            let _ = order.finish();
        })
        .expect("spawn reader thread");
    rx
}

/// A decoded file: its report and its events (sorted when the reading is ordered).
type Decoded = (FileReport, Vec<Event>);

fn decode_file(
    file: &InputFile,
    index: usize,
    decoder: &Decoder,
    prepare: &mut Option<Box<dyn Prepare>>,
    options: &ReadOptions,
) -> Decoded {
    let (mut report, mut events) = read_one(file, index as u32, decoder);
    if let Some(p) = prepare {
        p.prepare(&mut events, &mut report.prepared);
    }
    if options.ordered {
        sort_events(&mut events);
    }
    (report, events)
}

/// Decodes `files` on `threads` scoped threads, which take the next few files as soon as they
/// are free but never run more than a round ahead of the file being handed on; hands the files
/// on in order. Files are taken in small chunks: a CloudTrail file is often only a few kB, and
/// one hand-over (a channel message, a wake-up) per file cost a fifth of the cores' time.
fn decode_in_parallel(
    files: &[InputFile],
    threads: usize,
    decoder: &Decoder,
    options: &ReadOptions,
    order: &mut Handover,
) {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
    use std::sync::{Condvar, Mutex};
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    // The number of files handed on, and its change.
    let handed = (Mutex::new(0usize), Condvar::new());
    let ahead = options.files_per_round.max(2 * threads);
    let chunk = (ahead / (4 * threads)).clamp(1, 8);
    let (done_tx, done_rx) = bounded::<(usize, Vec<Decoded>)>(2 * threads);
    std::thread::scope(|scope| {
        for t in 0..threads {
            let done_tx = done_tx.clone();
            let (next, stop, handed) = (&next, &stop, &handed);
            std::thread::Builder::new()
                .name(format!("trailhound-decode-{t}"))
                .spawn_scoped(scope, move || {
                    let mut prepare = options.prepare.as_ref().map(|f| f());
                    loop {
                        let first = next.fetch_add(chunk, Relaxed);
                        if first >= files.len() || stop.load(Relaxed) {
                            return;
                        }
                        {
                            let (count, changed) = handed;
                            let mut n = count.lock().unwrap_or_else(|p| p.into_inner());
                            while first >= *n + ahead && !stop.load(Relaxed) {
                                n = changed.wait(n).unwrap_or_else(|p| p.into_inner());
                            }
                        }
                        let decoded = (first..(first + chunk).min(files.len()))
                            .map(|i| decode_file(&files[i], i, decoder, &mut prepare, options))
                            .collect();
                        if done_tx.send((first, decoded)).is_err() {
                            return;
                        }
                    }
                })
                .expect("spawn decoding thread");
        }
        drop(done_tx);
        // Chunks finish out of order; their files are handed on in order.
        let mut finished = std::collections::BTreeMap::new();
        let mut want = 0;
        let mut stopped = false;
        for (first, decoded) in &done_rx {
            finished.insert(first, decoded);
            while let Some(decoded) = finished.remove(&want) {
                want += decoded.len();
                for d in decoded {
                    if !stopped && order.hand_on(d).is_err() {
                        // The consumer is gone: stop the decoding threads.
                        stopped = true;
                        stop.store(true, Relaxed);
                    }
                }
                let (count, changed) = &handed;
                *count.lock().unwrap_or_else(|p| p.into_inner()) = want;
                changed.notify_all();
            }
            if stopped {
                break;
            }
        }
        drop(done_rx);
        handed.1.notify_all();
    });
}

/// The consumer has gone away.
struct Gone;

/// The reading thread's side of the stream: hands on each file's report and events, ordered
/// by rounds of [`ReadOptions::files_per_round`] files.
struct Handover<'a> {
    files: &'a [InputFile],
    tx: crossbeam_channel::Sender<Message>,
    reorder: Reorder,
    ordered: bool,
    slack: Timestamp,
    round: usize,
    handed: usize,
    /// The round's late events, and how many.
    late: Vec<Event>,
    /// Unordered reading: events waiting to be sent in one message.
    unordered: Vec<Event>,
    /// Reports of files handed on since the last release, sent just before its events: the
    /// consumer then wakes once per round, not once per file.
    reports: Vec<FileReport>,
}

/// Unordered reading sends events in messages of about this many.
const UNORDERED_BATCH: usize = 4096;

impl<'a> Handover<'a> {
    fn new(
        files: &'a [InputFile],
        options: &ReadOptions,
        tx: crossbeam_channel::Sender<Message>,
    ) -> Self {
        Self {
            files,
            tx,
            reorder: Reorder::new(),
            ordered: options.ordered,
            slack: options.slack,
            round: options.files_per_round.max(1),
            handed: 0,
            late: Vec::new(),
            unordered: Vec::new(),
            reports: Vec::new(),
        }
    }

    fn send(&self, m: Message) -> Result<(), Gone> {
        self.tx.send(m).map_err(|_| Gone)
    }

    /// Sends the reports of the files handed on since the last call.
    fn send_reports(&mut self) -> Result<(), Gone> {
        if self.reports.is_empty() {
            return Ok(());
        }
        let reports = std::mem::take(&mut self.reports);
        self.send(Message::Files(reports))
    }

    /// Hands on the next file; at the end of a round, releases the events no unread file can
    /// precede.
    fn hand_on(&mut self, (report, events): Decoded) -> Result<(), Gone> {
        self.reports.push(report);
        self.handed += 1;
        if !self.ordered {
            self.unordered.extend(events);
            if self.unordered.len() >= UNORDERED_BATCH || self.handed == self.files.len() {
                self.send_reports()?;
                let batch = std::mem::take(&mut self.unordered);
                self.send(Message::Events(batch))?;
            }
            return Ok(());
        }
        self.reorder.add(events, &mut self.late);
        if self.handed.is_multiple_of(self.round) || self.handed == self.files.len() {
            self.send_reports()?;
            // Nothing in an unread file is older than this.
            let watermark = match self.files.get(self.handed) {
                Some(f) => f.delivery_time.map(|t| t - self.slack),
                None => Some(Timestamp::MAX),
            };
            let late = self.late.len() as u64;
            let mut out = std::mem::take(&mut self.late);
            if let Some(w) = watermark {
                self.reorder.release(w, &mut out);
            }
            if late > 0 {
                // Late events join the released ones in time order.
                sort_events(&mut out);
                self.send(Message::Late(late))?;
            }
            if !out.is_empty() {
                self.send(Message::Events(out))?;
            }
        }
        Ok(())
    }

    /// Sends what is left (an input of no file sends nothing).
    fn finish(&mut self) -> Result<(), Gone> {
        self.send_reports()?;
        if !self.unordered.is_empty() {
            let batch = std::mem::take(&mut self.unordered);
            self.send(Message::Events(batch))?;
        }
        Ok(())
    }
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
                path: file.path.clone(),
                bytes: raw.len() as u64,
                decompressed_bytes: d.decompressed_bytes,
                events: d.events.len() as u64,
                digest: d.digest,
                issues: d.issues,
                issue_counts: d.issue_counts,
                problem: raw.is_empty().then_some(InputProblem::EmptyFile),
                format: d.format,
                prepared: Vec::new(),
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
                path: file.path.clone(),
                bytes: 0,
                decompressed_bytes: 0,
                events: 0,
                digest: false,
                issues: vec![issue],
                issue_counts,
                problem: Some(problem),
                format: None,
                prepared: Vec::new(),
            };
            (report, Vec::new())
        }
    }
}

/// An event's place in the stream ([`Event::stream_order`]).
type StreamOrder = (Timestamp, u32, u32);

/// The reorder buffer: holds events until the watermark says no older event can still come.
///
/// Each file's events come sorted and stay in their own run; releasing merges the runs' fronts
/// through a heap, so an event is moved once, into the released batch, however long it was
/// buffered, and the batch comes out sorted.
struct Reorder {
    runs: Vec<VecDeque<Event>>,
    /// Slots of `runs` free for reuse.
    free: Vec<usize>,
    /// The front of every non-empty run: its [`Event::stream_order`], and the run.
    heads: std::collections::BinaryHeap<std::cmp::Reverse<(StreamOrder, usize)>>,
    released_until: Option<Timestamp>,
}

impl Reorder {
    fn new() -> Self {
        Self {
            runs: Vec::new(),
            free: Vec::new(),
            heads: std::collections::BinaryHeap::new(),
            released_until: None,
        }
    }

    /// Adds one file's sorted events; those older than what was already released go to `late`.
    fn add(&mut self, events: Vec<Event>, late: &mut Vec<Event>) {
        let mut run: VecDeque<Event> = events.into();
        if let Some(r) = self.released_until {
            // The run is sorted: its late events are a prefix.
            late.extend(run.drain(..run.partition_point(|e| e.time < r)));
        }
        let Some(head) = run.front().map(Event::stream_order) else {
            return;
        };
        let slot = match self.free.pop() {
            Some(slot) => {
                self.runs[slot] = run;
                slot
            }
            None => {
                self.runs.push(run);
                self.runs.len() - 1
            }
        };
        self.heads.push(std::cmp::Reverse((head, slot)));
    }

    /// Appends the events older than `watermark` to `out`, in time order.
    fn release(&mut self, watermark: Timestamp, out: &mut Vec<Event>) {
        while let Some(&std::cmp::Reverse(((time, _, _), slot))) = self.heads.peek() {
            if time >= watermark {
                break;
            }
            self.heads.pop();
            let run = &mut self.runs[slot];
            out.extend(run.pop_front());
            match run.front() {
                Some(e) => self.heads.push(std::cmp::Reverse((e.stream_order(), slot))),
                None => {
                    // Give the slot's memory back now: a burst's run must not stay allocated.
                    self.runs[slot] = VecDeque::new();
                    self.free.push(slot);
                }
            }
        }
        self.released_until = Some(self.released_until.map_or(watermark, |r| r.max(watermark)));
    }
}

fn sort_events(events: &mut [Event]) {
    events.sort_by_key(Event::stream_order);
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
            .flat_map(|m| match m {
                Message::Files(r) => r,
                _ => Vec::new(),
            })
            .collect();
        assert_eq!(reports.len(), 1);
        assert_eq!(reports[0].problem, Some(InputProblem::Vanished));
    }
}
