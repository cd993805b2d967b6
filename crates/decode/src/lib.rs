//! Decoding of CloudTrail files into [`Event`]s.
//!
//! Accepted, after optional gzip (detected by its magic bytes, not the file name), as
//! [`Format`] names them:
//! - the S3 delivery format, one object `{"Records":[...]}` per file;
//! - JSON Lines, one record per line (CloudTrail Lake, Athena and `jq -c '.Records[]'` exports);
//! - a bare JSON array of records (`jq '.Records'`, many SIEM exports);
//! - the output of `aws cloudtrail lookup-events`: `{"Events":[{…,"CloudTrailEvent":"<the
//!   record as a JSON string>"}]}`;
//! - CloudTrail events as EventBridge delivers them (`{"detail-type":"AWS API Call via
//!   CloudTrail",…,"detail":{the record}}`), one per file, in an array or one per line.
//!
//! The fast path parses a whole file into typed records that borrow from the buffer (sonic-rs,
//! skipping the large `requestParameters`/`responseElements` without building them). When that
//! fails, a tolerant path parses record by record, so that one bad record, or a file cut short,
//! costs only what is actually broken. Every problem becomes an [`Issue`] with its kind and
//! record index; nothing is dropped silently.

use serde::de::IgnoredAny;
use sonic_rs::JsonValueTrait;
use trailhound_model::{Event, ExtraFields};

mod record;
pub use record::extra_value;
use record::{Context, Document, DocumentSeed, ExtraPlan, RawRecord, RecordSeed};

/// At most this many issues per file are kept with their location; all are counted.
pub const MAX_LOCATED_ISSUES: usize = 100;

/// What went wrong with a file or a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(usize)]
pub enum IssueKind {
    /// The file could not be read.
    Io,
    /// A gzip stream that ends early: what was decompressed before the cut is still decoded.
    TruncatedGzip,
    /// A gzip stream with corrupt data: what was decompressed before it is still decoded.
    CorruptGzip,
    /// The content is not JSON at all.
    NotJson,
    /// JSON, but neither `{"Records":[...]}` nor JSON Lines of records.
    NotCloudTrail,
    /// A `{"Records":[...]}` document that ends early or breaks off: earlier records are kept.
    TruncatedJson,
    /// A record that is not a JSON object or has a field of the wrong type.
    BadRecord,
    /// A record without `eventTime`: dropped, it cannot be placed in time.
    MissingEventTime,
    /// An `eventTime` that is not an RFC 3339 date-time: dropped.
    BadEventTime,
    /// An `eventTime` outside 1677..2262: dropped.
    EventTimeOutOfRange,
    /// A record without `userIdentity`: kept, with an empty identity.
    MissingUserIdentity,
}

impl IssueKind {
    /// All kinds, in report order.
    pub const ALL: [IssueKind; 11] = [
        Self::Io,
        Self::TruncatedGzip,
        Self::CorruptGzip,
        Self::NotJson,
        Self::NotCloudTrail,
        Self::TruncatedJson,
        Self::BadRecord,
        Self::MissingEventTime,
        Self::BadEventTime,
        Self::EventTimeOutOfRange,
        Self::MissingUserIdentity,
    ];

    /// A short, stable name for reports and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Self::Io => "io_error",
            Self::TruncatedGzip => "truncated_gzip",
            Self::CorruptGzip => "corrupt_gzip",
            Self::NotJson => "not_json",
            Self::NotCloudTrail => "not_cloudtrail",
            Self::TruncatedJson => "truncated_json",
            Self::BadRecord => "bad_record",
            Self::MissingEventTime => "missing_event_time",
            Self::BadEventTime => "bad_event_time",
            Self::EventTimeOutOfRange => "event_time_out_of_range",
            Self::MissingUserIdentity => "missing_user_identity",
        }
    }

    /// True when the record (or the rest of the file) was not turned into events.
    pub fn loses_data(self) -> bool {
        !matches!(self, Self::MissingUserIdentity)
    }
}

/// One problem found while decoding a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    /// What kind of problem.
    pub kind: IssueKind,
    /// Zero-based record index (array position or line number − 1), when it concerns one record.
    pub record: Option<u32>,
    /// A short human-readable explanation.
    pub detail: String,
}

/// The events and issues of one decoded file.
#[derive(Debug, Default)]
pub struct Decoded {
    /// The good events, in file order.
    pub events: Vec<Event>,
    /// The problems, in file order: the first [`MAX_LOCATED_ISSUES`] of the file.
    pub issues: Vec<Issue>,
    /// Every problem counted by kind (indexed like [`IssueKind::ALL`]), including those beyond
    /// the located ones.
    pub issue_counts: [u64; IssueKind::ALL.len()],
    /// Bytes after decompression.
    pub decompressed_bytes: u64,
    /// True when the content is a CloudTrail digest file (skipped, no events).
    pub digest: bool,
    /// The form the records came in (`None`: no record was found).
    pub format: Option<Format>,
}

/// The forms in which AWS hands over CloudTrail records (see the crate documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Format {
    /// `{"Records":[...]}`, the S3 delivery format.
    Records,
    /// One record per line.
    JsonLines,
    /// `[record, ...]`.
    Array,
    /// `aws cloudtrail lookup-events` output.
    LookupEvents,
    /// EventBridge events wrapping records in `detail`.
    EventBridge,
}

impl Format {
    /// The name used in summaries and statistics.
    pub const fn name(self) -> &'static str {
        match self {
            Format::Records => "records",
            Format::JsonLines => "json_lines",
            Format::Array => "array",
            Format::LookupEvents => "lookup_events",
            Format::EventBridge => "eventbridge",
        }
    }
}

impl Decoded {
    /// Counts an issue, and keeps it located while fewer than [`MAX_LOCATED_ISSUES`] are.
    /// `detail` is only built for kept issues: a gzip bomb of bad records costs a count each.
    fn issue<D: Into<String>>(
        &mut self,
        kind: IssueKind,
        record: Option<u32>,
        detail: impl FnOnce() -> D,
    ) {
        self.issue_counts[kind as usize] += 1;
        if self.issues.len() < MAX_LOCATED_ISSUES {
            self.issues.push(Issue {
                kind,
                record,
                detail: detail().into(),
            });
        }
    }

    /// Number of issues of all kinds.
    pub fn issue_count(&self) -> u64 {
        self.issue_counts.iter().sum()
    }
}

/// Decodes the raw bytes of one file (gzipped or not); `file` is recorded in each event's
/// provenance.
pub fn decode(raw: &[u8], file: u32) -> Decoded {
    Decoder::default().decode(raw, file)
}

/// [`decode`], also capturing the `extra` record paths into each event's [`Event::extra`]. To
/// decode many files, build one [`Decoder`] instead.
pub fn decode_with(raw: &[u8], file: u32, extra: &ExtraFields) -> Decoded {
    Decoder::new(extra).decode(raw, file)
}

/// A decoder for a run's [`ExtraFields`], prepared once and shared by every file (and thread).
#[derive(Debug, Default)]
pub struct Decoder {
    plan: ExtraPlan,
    identity_plan: ExtraPlan,
}

impl Decoder {
    /// A decoder that captures the `extra` record paths into each event's [`Event::extra`].
    pub fn new(extra: &ExtraFields) -> Self {
        let plan = ExtraPlan::new(extra);
        let identity_plan = plan.identity();
        Self {
            plan,
            identity_plan,
        }
    }

    /// Decodes the raw bytes of one file (gzipped or not); `file` is recorded in each event's
    /// provenance.
    pub fn decode(&self, raw: &[u8], file: u32) -> Decoded {
        let cx = Context {
            file,
            plan: &self.plan,
            identity_plan: &self.identity_plan,
        };
        let mut out = Decoded::default();
        if raw.starts_with(&[0x1f, 0x8b]) {
            let text = gunzip(raw, &mut out);
            decode_json(&text, &cx, &mut out);
        } else {
            decode_json(raw, &cx, &mut out);
        }
        out
    }
}

/// Decompresses a (possibly multi-member) gzip stream, keeping what precedes an error.
fn gunzip(raw: &[u8], out: &mut Decoded) -> Vec<u8> {
    let mut text = Vec::new();
    if let Err((kind, why)) = gunzip_into(raw, &mut text) {
        out.issue(kind, None, || {
            format!("{why} after {} decompressed bytes", text.len())
        });
    }
    text
}

/// The decoder's gunzip, public for benchmarks: a whole, well-formed single-member object (what
/// CloudTrail delivers) is inflated in one call by libdeflate; anything else (several members, a
/// cut or corrupt stream, a size trailer that does not match) goes through the streaming
/// [`inflate_members`], which also keeps what precedes an error. On error, `text` holds that.
pub fn gunzip_into(raw: &[u8], text: &mut Vec<u8>) -> Result<(), (IssueKind, String)> {
    // The gzip trailer holds the uncompressed size mod 2^32.
    let size = raw
        .last_chunk::<4>()
        .map(|&t| u32::from_le_bytes(t) as usize)
        .unwrap_or(0);
    text.clear();
    if size <= raw.len().saturating_mul(1032) && whole::inflate(raw, size, text) {
        return Ok(());
    }
    text.clear();
    text.reserve(size.clamp(raw.len(), raw.len().saturating_mul(40).max(1 << 16)) + 64);
    inflate_members(raw, text)
}

/// One-shot gunzip with libdeflate.
///
/// libdeflate inflates a whole buffer in one call and measured 1.4x zlib-rs here on CloudTrail
/// objects; no Rust crate matches it. The `libdeflater` wrapper wants an initialised output
/// slice, which would mean zeroing every buffer first, so this calls `libdeflate-sys` directly
/// and lets it write into the vector's spare capacity.
mod whole {
    use libdeflate_sys::*;

    /// A thread's decompressor, freed with the thread.
    struct Decompressor(*mut libdeflate_decompressor);

    impl Drop for Decompressor {
        fn drop(&mut self) {
            // SAFETY: allocated by libdeflate_alloc_decompressor and freed once, here.
            unsafe { libdeflate_free_decompressor(self.0) }
        }
    }

    thread_local! {
        static DECOMPRESSOR: Decompressor =
            // SAFETY: no preconditions; a null result is checked before use.
            Decompressor(unsafe { libdeflate_alloc_decompressor() });
    }

    /// Inflates `raw`, a single gzip member of `size` uncompressed bytes (followed by nothing
    /// but zero padding), into `text`. False when it is not that; `text` is then unspecified.
    pub(super) fn inflate(raw: &[u8], size: usize, text: &mut Vec<u8>) -> bool {
        // One spare byte: a member that inflates to more than its trailer says fails here
        // instead of filling the buffer exactly.
        text.reserve(size + 1);
        DECOMPRESSOR.with(|d| {
            if d.0.is_null() {
                return false;
            }
            let (mut used_in, mut used_out) = (0usize, 0usize);
            // SAFETY: the input is a live slice; the output is the vector's spare capacity
            // (at least size + 1 bytes), which libdeflate writes and never reads; used_out is
            // the number of bytes it wrote, at most the capacity offered.
            let result = unsafe {
                libdeflate_gzip_decompress_ex(
                    d.0,
                    raw.as_ptr().cast(),
                    raw.len(),
                    text.as_mut_ptr().cast(),
                    text.capacity(),
                    &mut used_in,
                    &mut used_out,
                )
            };
            if result != libdeflate_result_LIBDEFLATE_SUCCESS || used_out != size {
                return false;
            }
            // SAFETY: libdeflate initialised the first used_out bytes.
            unsafe { text.set_len(used_out) };
            raw[used_in..].iter().all(|&b| b == 0)
        })
    }
}

/// Inflates every gzip member of `raw` into `text`'s spare capacity; on error, `text` holds what
/// was inflated before it. The decoder's own gunzip, public for benchmarks.
///
/// flate2's `Read` adapters make `read_to_end` zero each new buffer before inflating into it,
/// which cost 7 % of a hunt; the low-level `Decompress` writes into uninitialised capacity.
pub fn inflate_members(mut raw: &[u8], text: &mut Vec<u8>) -> Result<(), (IssueKind, String)> {
    use flate2::{Decompress, FlushDecompress, Status};
    let mut inflater = Decompress::new_gzip(15);
    loop {
        if text.len() == text.capacity() {
            text.reserve(text.capacity().max(1 << 16));
        }
        let (in_before, out_before) = (inflater.total_in(), text.len());
        let status = inflater
            .decompress_vec(raw, text, FlushDecompress::None)
            .map_err(|e| (IssueKind::CorruptGzip, format!("corrupt gzip data: {e}")))?;
        raw = &raw[(inflater.total_in() - in_before) as usize..];
        match status {
            Status::StreamEnd => {
                // Another member may follow (concatenated gzip files); trailing zero padding is
                // tolerated, as gzip(1) does.
                if raw.iter().all(|&b| b == 0) {
                    return Ok(());
                }
                inflater = Decompress::new_gzip(15);
            }
            Status::Ok | Status::BufError => {
                // No progress although there is room for output: the input has run out (a cut
                // file), or the inflater cannot go on with what is left (never loop forever).
                let progressed = inflater.total_in() != in_before || text.len() != out_before;
                if !progressed && text.len() < text.capacity() {
                    return Err(if raw.is_empty() {
                        (
                            IssueKind::TruncatedGzip,
                            "gzip stream ends early".to_owned(),
                        )
                    } else {
                        (IssueKind::CorruptGzip, "gzip stream stalls".to_owned())
                    });
                }
            }
        }
    }
}

/// Decodes uncompressed JSON text.
fn decode_json(text: &[u8], cx: &Context, out: &mut Decoded) {
    out.decompressed_bytes = text.len() as u64;
    let body = trim_start(text);
    if body.is_empty() {
        return;
    }
    if body[0] == b'{' {
        match decode_document(body, cx, out) {
            Some(Document::Records) => {
                out.format = Some(Format::Records);
                return;
            }
            Some(Document::Digest) => {
                out.digest = true;
                return;
            }
            Some(Document::Other) => {
                // One whole document, but not `{"Records":…}`: lookup-events output, or one
                // EventBridge event (pretty-printed, so not one per line).
                if decode_envelope(body, cx, out) {
                    return;
                }
            }
            None => {
                if let Some(array) = records_array(body) {
                    out.format = Some(Format::Records);
                    return decode_records_tolerant(array, cx, out);
                }
            }
        }
    }
    if body[0] == b'[' {
        return decode_array(body, cx, out);
    }
    decode_lines(body, cx, out);
}

/// A whole document that wraps records: `aws cloudtrail lookup-events` output, or one
/// EventBridge event. False when it is neither.
fn decode_envelope(body: &[u8], cx: &Context, out: &mut Decoded) -> bool {
    if let Ok(events) = sonic_rs::get(body, ["Events"])
        && events.as_raw_str().starts_with('[')
    {
        out.format = Some(Format::LookupEvents);
        for (i, item) in sonic_rs::to_array_iter(events.as_raw_str().as_bytes()).enumerate() {
            let i = i as u32;
            let record = item.ok().and_then(|v| {
                sonic_rs::get(v.as_raw_str().as_bytes(), ["CloudTrailEvent"])
                    .ok()
                    .and_then(|s| sonic_rs::from_str::<String>(s.as_raw_str()).ok())
            });
            match record {
                Some(text) => push_record(text.as_bytes(), i, cx, out),
                None => out.issue(
                    IssueKind::BadRecord,
                    Some(i),
                    || "lookup-events item without a CloudTrailEvent string",
                ),
            }
        }
        return true;
    }
    if eventbridge_detail(body).is_some() {
        out.format = Some(Format::EventBridge);
        push_record(body, 0, cx, out);
        return true;
    }
    false
}

/// The record inside an EventBridge event (`detail`, when `detail-type` says it is CloudTrail's).
fn eventbridge_detail(event: &[u8]) -> Option<std::borrow::Cow<'_, [u8]>> {
    if !event.starts_with(b"{") {
        return None;
    }
    let kind = sonic_rs::get(event, ["detail-type"]).ok()?;
    let kind = kind.as_str()?;
    if !(kind.ends_with("via CloudTrail") || kind.starts_with("AWS Console")) {
        return None;
    }
    let detail = sonic_rs::get(event, ["detail"]).ok()?;
    let raw = detail.as_raw_str().as_bytes();
    // The raw text of `detail` normally lies within `event`: hand back that slice, not a copy.
    let range = event.as_ptr_range();
    Some(if range.contains(&raw.as_ptr()) {
        let start = raw.as_ptr() as usize - event.as_ptr() as usize;
        std::borrow::Cow::Borrowed(&event[start..start + raw.len()])
    } else {
        std::borrow::Cow::Owned(raw.to_vec())
    })
}

/// One record (or an EventBridge event around one), as element `i` of the file.
fn push_record(json: &[u8], i: u32, cx: &Context, out: &mut Decoded) {
    with_record(json, cx, |parsed, _| match parsed {
        Ok(r) if r.looks_like_cloudtrail() => r.push_into(cx.file, i, out),
        Ok(_) => out.issue(
            IssueKind::NotCloudTrail,
            Some(i),
            || "JSON object without eventTime/eventName",
        ),
        Err(e) => out.issue(IssueKind::BadRecord, Some(i), || short(&e.to_string())),
    })
}

/// Parses one record, or the record an EventBridge event wraps, and hands it to `f` with
/// whether it was wrapped. The plain parse comes first: an ordinary record costs no look for an
/// envelope (an envelope has no `eventTime`, so it never passes as a record itself).
fn with_record<T>(
    json: &[u8],
    cx: &Context,
    f: impl FnOnce(sonic_rs::Result<RawRecord<'_>>, bool) -> T,
) -> T {
    let plain = parse_record(json, cx);
    if plain.as_ref().is_ok_and(RawRecord::looks_like_cloudtrail) {
        return f(plain, false);
    }
    match eventbridge_detail(json) {
        Some(inner) => f(parse_record(&inner, cx), true),
        None => f(plain, false),
    }
}

/// A bare JSON array of records (or of EventBridge events).
fn decode_array(body: &[u8], cx: &Context, out: &mut Decoded) {
    let before = (out.issues.len(), out.issue_counts, out.events.len());
    let mut eventbridge = false;
    let mut items = 0u32;
    for (i, item) in sonic_rs::to_array_iter(body).enumerate() {
        items += 1;
        let i = i as u32;
        match item {
            Ok(value) => {
                let raw = value.as_raw_str().as_bytes();
                eventbridge |= i == 0 && eventbridge_detail(raw).is_some();
                push_record(raw, i, cx, out);
            }
            Err(e) => {
                if i == 0 {
                    out.issue(IssueKind::NotJson, None, || short(&e.to_string()));
                } else {
                    out.issue(IssueKind::TruncatedJson, Some(i), || {
                        format!(
                            "records from index {i} on are lost: {}",
                            short(&e.to_string())
                        )
                    });
                }
                break;
            }
        }
    }
    if out.events.len() > before.2 || eventbridge {
        out.format = Some(if eventbridge {
            Format::EventBridge
        } else {
            Format::Array
        });
    } else if items > 0
        && out.issue_counts[IssueKind::NotJson as usize] == before.1[IssueKind::NotJson as usize]
    {
        // An array in which no element is a record is one problem, not one per element.
        out.issues.truncate(before.0);
        out.issue_counts = before.1;
        out.issue(IssueKind::NotCloudTrail, None, || {
            format!("a JSON array of {items} elements, none a CloudTrail record")
        });
    }
}

/// The fast path: the whole document in one pass, each record converted as it is parsed.
/// `None` when the document does not parse; whatever it had added to `out` is taken back, for the
/// tolerant path to redo.
fn decode_document(body: &[u8], cx: &Context, out: &mut Decoded) -> Option<Document> {
    // Validating UTF-8 once up front lets the parser borrow every string without checking it.
    let text = std::str::from_utf8(body).ok()?;
    let mark = (out.events.len(), out.issues.len(), out.issue_counts);
    let mut de = sonic_rs::Deserializer::from_str(text);
    use serde::de::DeserializeSeed;
    let parsed = DocumentSeed { out: &mut *out, cx }
        .deserialize(&mut de)
        .and_then(|d| de.end().map(|()| d));
    if parsed.is_err() {
        out.events.truncate(mark.0);
        out.issues.truncate(mark.1);
        out.issue_counts = mark.2;
    }
    parsed.ok()
}

/// The slice starting at the `[` of a leading `{"Records":[`, if the document starts that way.
fn records_array(body: &[u8]) -> Option<&[u8]> {
    let rest = trim_start(body.strip_prefix(b"{")?);
    let rest = trim_start(rest.strip_prefix(b"\"Records\"")?);
    let rest = trim_start(rest.strip_prefix(b":")?);
    rest.starts_with(b"[").then_some(rest)
}

/// Record-by-record decoding of a `[...]` array that failed the fast path.
fn decode_records_tolerant(array: &[u8], cx: &Context, out: &mut Decoded) {
    for (i, item) in sonic_rs::to_array_iter(array).enumerate() {
        let i = i as u32;
        match item {
            Ok(value) => match parse_record(value.as_raw_str().as_bytes(), cx) {
                Ok(r) => r.push_into(cx.file, i, out),
                Err(e) => out.issue(IssueKind::BadRecord, Some(i), || short(&e.to_string())),
            },
            Err(e) => {
                out.issue(IssueKind::TruncatedJson, Some(i), || {
                    format!(
                        "records from index {i} on are lost: {}",
                        short(&e.to_string())
                    )
                });
                return;
            }
        }
    }
}

/// JSON Lines: each non-blank line is one record.
fn decode_lines(body: &[u8], cx: &Context, out: &mut Decoded) {
    let before = (out.issues.len(), out.issue_counts);
    let mut good = 0usize;
    let mut not_json = 0usize;
    let mut lines = 0usize;
    let mut eventbridge = false;
    for (i, line) in body.split(|&b| b == b'\n').enumerate() {
        let line = trim_start(line);
        if line.is_empty() {
            continue;
        }
        lines += 1;
        let i = i as u32;
        if line[0] != b'{' {
            if sonic_rs::from_slice::<IgnoredAny>(line).is_ok() {
                out.issue(
                    IssueKind::NotCloudTrail,
                    Some(i),
                    || "JSON, but not an object",
                );
            } else {
                not_json += 1;
                out.issue(IssueKind::NotJson, Some(i), || "line is not JSON");
            }
            continue;
        }
        // An EventBridge event per line: its record is `detail`.
        with_record(line, cx, |parsed, wrapped| match parsed {
            Ok(r) if r.looks_like_cloudtrail() => {
                good += 1;
                eventbridge |= wrapped;
                r.push_into(cx.file, i, out);
            }
            Ok(_) => out.issue(
                IssueKind::NotCloudTrail,
                Some(i),
                || "JSON object without eventTime/eventName",
            ),
            Err(e) => {
                let kind = if sonic_rs::from_slice::<IgnoredAny>(line).is_ok() {
                    IssueKind::BadRecord
                } else {
                    not_json += 1;
                    IssueKind::NotJson
                };
                out.issue(kind, Some(i), || short(&e.to_string()));
            }
        });
    }
    if good > 0 {
        out.format = Some(if eventbridge {
            Format::EventBridge
        } else {
            Format::JsonLines
        });
    }
    // A file in which no line is a record is one problem, not one per line.
    if good == 0 && lines > 0 {
        out.issues.truncate(before.0);
        out.issue_counts = before.1;
        let kind = if not_json == lines {
            IssueKind::NotJson
        } else {
            IssueKind::NotCloudTrail
        };
        let what = if kind == IssueKind::NotJson {
            "not JSON"
        } else {
            "JSON, but not CloudTrail records"
        };
        out.issue(kind, None, || {
            format!("{what} ({lines} non-blank lines, none a CloudTrail record)")
        });
    }
}

/// Parses one record object that must make up all of `json`.
fn parse_record<'a>(json: &'a [u8], cx: &Context) -> sonic_rs::Result<RawRecord<'a>> {
    use serde::de::DeserializeSeed;
    let mut de = sonic_rs::Deserializer::from_slice(json);
    let r = RecordSeed(cx).deserialize(&mut de)?;
    de.end()?;
    Ok(r)
}

fn trim_start(mut s: &[u8]) -> &[u8] {
    if let Some(rest) = s.strip_prefix(b"\xEF\xBB\xBF") {
        s = rest;
    }
    let n = s.iter().take_while(|b| b.is_ascii_whitespace()).count();
    &s[n..]
}

fn short(s: &str) -> String {
    const MAX: usize = 160;
    if s.len() <= MAX {
        return s.to_owned();
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}
