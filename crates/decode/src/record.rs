//! The streaming parse of CloudTrail records straight into [`Event`]s.
//!
//! The record visitor is written by hand rather than derived: it matches keys on their bytes,
//! deserializes wanted strings straight into the event's compact strings, and captures the
//! run's [`ExtraFields`] from the raw JSON of the few objects that hold them, while every other
//! value is skipped without being built.

use std::borrow::Cow;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use sonic_rs::{JsonValueTrait, LazyValue};
use trailhound_model::{Event, ExtraFields, Provenance, Str, TimeError, parse_rfc3339};

use crate::{Decoded, IssueKind};

/// What a JSON object document turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Document {
    /// `{"Records":[...]}`: the records were decoded into the output.
    Records,
    /// A CloudTrail digest file (`digestStartTime`, no `Records`).
    Digest,
    /// Some other object.
    Other,
}

/// The run's extra fields, grouped by the object key each path starts with, so that a record
/// key is compared with a handful of names, not with every path.
#[derive(Debug, Default)]
pub(crate) struct ExtraPlan {
    /// `(first path segment, [(extra id, remaining segments)])`.
    groups: Vec<(String, Vec<Capture>)>,
}

/// One extra field to capture below an object key: its id and the path that remains.
#[derive(Debug)]
struct Capture {
    id: u16,
    rest: Vec<String>,
}

impl ExtraPlan {
    /// Splits each captured dotted path of `extra` at its first segment. Derived paths (below
    /// another captured path, [`ExtraFields::derived`]) are left out: [`extra_value`] resolves
    /// them from their source's text when asked.
    pub(crate) fn new(extra: &ExtraFields) -> Self {
        Self::from_paths(
            extra
                .paths()
                .iter()
                .enumerate()
                .map(|(id, p)| (id as u16, p.as_str()))
                .filter(|(id, _)| extra.derived(*id).is_none()),
        )
    }

    fn from_paths<'a>(paths: impl Iterator<Item = (u16, &'a str)>) -> Self {
        let mut groups: Vec<(String, Vec<Capture>)> = Vec::new();
        for (id, path) in paths {
            let mut segments = path.split('.').map(str::to_owned);
            let first = segments.next().unwrap_or_default();
            let capture = Capture {
                id,
                rest: segments.collect(),
            };
            match groups.iter_mut().find(|(k, _)| *k == first) {
                Some((_, list)) => list.push(capture),
                None => groups.push((first, vec![capture])),
            }
        }
        Self { groups }
    }

    /// The captures below `userIdentity`, re-rooted one level down. (`userIdentity` as a whole
    /// is not captured: its fixed fields are parsed typed, and the raw object is not kept.)
    pub(crate) fn identity(&self) -> ExtraPlan {
        let Some(g) = self.group("userIdentity") else {
            return ExtraPlan::default();
        };
        let joined: Vec<(u16, String)> = self.groups[g]
            .1
            .iter()
            .filter(|c| !c.rest.is_empty())
            .map(|c| (c.id, c.rest.join(".")))
            .collect();
        Self::from_paths(joined.iter().map(|(id, p)| (*id, p.as_str())))
    }

    fn group(&self, key: &str) -> Option<usize> {
        self.groups.iter().position(|(k, _)| k == key)
    }

    /// Captures the values that `group`'s paths select in `value` into `out`, in one pass over
    /// each object level (keys compared, values not wanted skipped without being built).
    fn capture(&self, group: usize, value: &LazyValue<'_>, out: &mut Vec<(u16, Str)>) {
        let mut below: Vec<(&[String], u16)> = Vec::new();
        for c in &self.groups[group].1 {
            if c.rest.is_empty() {
                if let Some(text) = lazy_text(value) {
                    out.push((c.id, text));
                }
            } else {
                below.push((&c.rest, c.id));
            }
        }
        if !below.is_empty() {
            capture_below(value.as_raw_str(), &below, out);
        }
    }
}

/// Walks the object `raw` for the remaining `paths`: a path's value when it ends at a key of this
/// object, a deeper walk when it goes on. A path through anything but an object selects nothing.
fn capture_below(raw: &str, paths: &[(&[String], u16)], out: &mut Vec<(u16, Str)>) {
    if !raw.starts_with('{') {
        return;
    }
    let mut left = paths.len();
    for item in sonic_rs::to_object_iter(raw) {
        let Ok((key, value)) = item else { return };
        let mut deeper: Vec<(&[String], u16)> = Vec::new();
        for &(path, id) in paths {
            if path[0] != key.as_ref() {
                continue;
            }
            left -= 1;
            if path.len() == 1 {
                if let Some(text) = lazy_text(&value) {
                    out.push((id, text));
                }
            } else {
                deeper.push((&path[1..], id));
            }
        }
        if !deeper.is_empty() {
            capture_below(value.as_raw_str(), &deeper, out);
        }
        if left == 0 {
            return;
        }
    }
}

/// The value of extra field `id` of `event`: the captured text, or for a derived path the value
/// its path selects in the captured text of its source object, by the same walk the decoder
/// makes (a path through anything but an object selects nothing). The source, a record key, is
/// walked as JSON text: were it a JSON string holding object text, it would be read as that
/// object, but the record keys rules read below (`requestParameters`, `responseElements`,
/// `additionalEventData`, …) are objects or null in CloudTrail's schema.
pub fn extra_value<'e>(event: &'e Event, extra: &ExtraFields, id: u16) -> Option<Cow<'e, str>> {
    let Some((source, rest)) = extra.derived(id) else {
        return event.extra_field(id).map(Cow::Borrowed);
    };
    let text = event.extra_field(source)?;
    let segments: Vec<String> = rest.split('.').map(str::to_owned).collect();
    let mut out = Vec::new();
    capture_below(text, &[(&segments, id)], &mut out);
    out.into_iter()
        .next()
        .map(|(_, v)| Cow::Owned(v.into_string()))
}

/// A captured value as text: a string's content, the JSON text of anything else, nothing for
/// `null`.
fn lazy_text(v: &LazyValue<'_>) -> Option<Str> {
    if v.is_null() {
        return None;
    }
    let raw = v.as_raw_str();
    if raw.starts_with('"') {
        return sonic_rs::from_str::<Cow<str>>(raw)
            .ok()
            .map(|s| Str::from(s.as_ref()));
    }
    Some(Str::from(raw))
}

/// Decoding context shared by every record of a file.
pub(crate) struct Context<'p> {
    /// Index of the file, for provenance.
    pub file: u32,
    /// Extra fields below the record.
    pub plan: &'p ExtraPlan,
    /// Extra fields below `userIdentity`.
    pub identity_plan: &'p ExtraPlan,
}

/// Streams a `{"Records":[...]}` document into a [`Decoded`]: each record is converted into an
/// event as soon as it is parsed, so no list of parsed records is ever built.
pub(crate) struct DocumentSeed<'o, 'p> {
    pub out: &'o mut Decoded,
    pub cx: &'o Context<'p>,
}

impl<'de> DeserializeSeed<'de> for DocumentSeed<'_, '_> {
    type Value = Document;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Document, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for DocumentSeed<'_, '_> {
    type Value = Document;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a CloudTrail {\"Records\":[...]} object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Document, A::Error> {
        let mut doc = Document::Other;
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            match key.as_ref() {
                "Records" => {
                    map.next_value_seed(RecordsSeed {
                        out: &mut *self.out,
                        cx: self.cx,
                    })?;
                    doc = Document::Records;
                }
                "digestStartTime" if doc == Document::Other => {
                    map.next_value::<IgnoredAny>()?;
                    doc = Document::Digest;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(doc)
    }
}

struct RecordsSeed<'o, 'p> {
    out: &'o mut Decoded,
    cx: &'o Context<'p>,
}

impl<'de> DeserializeSeed<'de> for RecordsSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for RecordsSeed<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an array of CloudTrail records")
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        if let Some(n) = seq.size_hint() {
            self.out.events.reserve(n);
        }
        let mut i = 0u32;
        while let Some(r) = seq.next_element_seed(RecordSeed(self.cx))? {
            r.push_into(self.cx.file, i, self.out);
            i += 1;
        }
        Ok(())
    }
}

/// One parsed record: its event, filled as far as parsing goes, and what still needs checking.
pub(crate) struct RawRecord<'a> {
    event_time: Option<Cow<'a, str>>,
    has_identity: bool,
    event: Event,
}

/// Parses one record object (fixed fields and the context's extra fields).
pub(crate) struct RecordSeed<'c, 'p>(pub &'c Context<'p>);

impl<'de> DeserializeSeed<'de> for RecordSeed<'_, '_> {
    type Value = RawRecord<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<RawRecord<'de>, D::Error> {
        d.deserialize_map(self)
    }
}

/// The record keys Trailhound reads; everything else is skipped or captured as extra.
#[derive(Clone, Copy)]
enum Key {
    EventTime,
    EventSource,
    EventName,
    AwsRegion,
    SourceIp,
    UserAgent,
    ErrorCode,
    ErrorMessage,
    EventId,
    ReadOnly,
    EventType,
    RecipientAccountId,
    UserIdentity,
    /// A key that starts the path of an extra field (index into the plan's groups).
    Extra(usize),
    Other,
}

impl Key {
    fn of(k: &str, plan: &ExtraPlan) -> Key {
        // Matched on length first, then bytes, as a derived matcher would, but without building
        // a field enum for the dozens of keys that are skipped.
        let key = match k {
            "eventTime" => Key::EventTime,
            "eventSource" => Key::EventSource,
            "eventName" => Key::EventName,
            "awsRegion" => Key::AwsRegion,
            "sourceIPAddress" => Key::SourceIp,
            "userAgent" => Key::UserAgent,
            "errorCode" => Key::ErrorCode,
            "errorMessage" => Key::ErrorMessage,
            "eventID" => Key::EventId,
            "readOnly" => Key::ReadOnly,
            "eventType" => Key::EventType,
            "recipientAccountId" => Key::RecipientAccountId,
            "userIdentity" => Key::UserIdentity,
            _ => Key::Other,
        };
        match key {
            Key::Other => plan.group(k).map_or(Key::Other, Key::Extra),
            known => known,
        }
    }
}

/// Reads a key as a borrowed or (when it has escapes) transient string and classifies it.
struct KeySeed<'p, F>(&'p ExtraPlan, F);

impl<'de, F: Fn(&str, &ExtraPlan) -> K, K> DeserializeSeed<'de> for KeySeed<'_, F> {
    type Value = K;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<K, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de, F: Fn(&str, &ExtraPlan) -> K, K> Visitor<'de> for KeySeed<'_, F> {
    type Value = K;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an object key")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<K, E> {
        Ok((self.1)(v, self.0))
    }
}

/// A string field: `null` reads as absent (empty).
fn string<'de, A: MapAccess<'de>>(map: &mut A) -> Result<Str, A::Error> {
    Ok(map.next_value::<Option<Str>>()?.unwrap_or_default())
}

impl<'de> Visitor<'de> for RecordSeed<'_, '_> {
    type Value = RawRecord<'de>;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a CloudTrail record object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawRecord<'de>, A::Error> {
        let cx = self.0;
        let mut r = RawRecord {
            event_time: None,
            has_identity: false,
            event: Event::default(),
        };
        let e = &mut r.event;
        while let Some(key) = map.next_key_seed(KeySeed(cx.plan, Key::of))? {
            match key {
                Key::EventTime => r.event_time = map.next_value::<Option<Cow<'de, str>>>()?,
                Key::EventSource => e.event_source = string(&mut map)?,
                Key::EventName => e.event_name = string(&mut map)?,
                Key::AwsRegion => e.aws_region = string(&mut map)?,
                Key::SourceIp => e.source_ip = string(&mut map)?,
                Key::UserAgent => e.user_agent = string(&mut map)?,
                Key::ErrorCode => e.error_code = string(&mut map)?,
                Key::ErrorMessage => e.error_message = string(&mut map)?,
                Key::EventId => e.event_id = string(&mut map)?,
                Key::ReadOnly => e.read_only = map.next_value_seed(LenientBool)?,
                Key::EventType => e.event_type = string(&mut map)?,
                Key::RecipientAccountId => e.recipient_account_id = string(&mut map)?,
                Key::UserIdentity => {
                    r.has_identity = map.next_value_seed(IdentitySeed {
                        event: &mut *e,
                        plan: cx.identity_plan,
                    })?;
                }
                Key::Extra(g) => {
                    let value: LazyValue<'de> = map.next_value()?;
                    cx.plan.capture(g, &value, &mut e.extra);
                }
                Key::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if !e.extra.is_empty() {
            e.extra.sort_unstable_by_key(|(id, _)| *id);
        }
        Ok(r)
    }
}

/// The keys of `userIdentity` that the fixed schema keeps.
#[derive(Clone, Copy)]
enum IdentityKey {
    Type,
    PrincipalId,
    Arn,
    AccountId,
    AccessKeyId,
    UserName,
    Extra(usize),
    Other,
}

impl IdentityKey {
    fn of(k: &str, plan: &ExtraPlan) -> IdentityKey {
        match k {
            "type" => IdentityKey::Type,
            "principalId" => IdentityKey::PrincipalId,
            "arn" => IdentityKey::Arn,
            "accountId" => IdentityKey::AccountId,
            "accessKeyId" => IdentityKey::AccessKeyId,
            "userName" => IdentityKey::UserName,
            _ => plan.group(k).map_or(IdentityKey::Other, IdentityKey::Extra),
        }
    }
}

/// Parses `userIdentity` into the event; `true` when it was an object (`false` for `null`).
struct IdentitySeed<'e, 'p> {
    event: &'e mut Event,
    plan: &'p ExtraPlan,
}

impl<'de> DeserializeSeed<'de> for IdentitySeed<'_, '_> {
    type Value = bool;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for IdentitySeed<'_, '_> {
    type Value = bool;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a userIdentity object or null")
    }
    fn visit_none<E: de::Error>(self) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_map(self)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        let u = &mut self.event.user;
        while let Some(key) = map.next_key_seed(KeySeed(self.plan, IdentityKey::of))? {
            match key {
                IdentityKey::Type => u.kind = string(&mut map)?,
                IdentityKey::PrincipalId => u.principal_id = string(&mut map)?,
                IdentityKey::Arn => u.arn = string(&mut map)?,
                IdentityKey::AccountId => u.account_id = string(&mut map)?,
                IdentityKey::AccessKeyId => u.access_key_id = string(&mut map)?,
                IdentityKey::UserName => u.user_name = string(&mut map)?,
                IdentityKey::Extra(g) => {
                    let value: LazyValue<'de> = map.next_value()?;
                    self.plan.capture(g, &value, &mut self.event.extra);
                }
                IdentityKey::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(true)
    }
}

impl RawRecord<'_> {
    /// True when the object has one of the two fields every CloudTrail record has.
    pub(crate) fn looks_like_cloudtrail(&self) -> bool {
        self.event_time.is_some() || !self.event.event_name.is_empty()
    }

    /// Validates the record and appends it to `out` as an event, or records why it cannot be.
    pub(crate) fn push_into(self, file: u32, record: u32, out: &mut Decoded) {
        let Some(time_text) = self.event_time.as_deref() else {
            out.issue(
                IssueKind::MissingEventTime,
                Some(record),
                || "record has no eventTime",
            );
            return;
        };
        let time = match parse_rfc3339(time_text) {
            Ok(t) => t,
            Err(TimeError::Unparsable) => {
                out.issue(IssueKind::BadEventTime, Some(record), || {
                    format!("eventTime {time_text:?}")
                });
                return;
            }
            Err(TimeError::OutOfRange) => {
                out.issue(IssueKind::EventTimeOutOfRange, Some(record), || {
                    format!("eventTime {time_text:?}")
                });
                return;
            }
        };
        if !self.has_identity {
            out.issue(
                IssueKind::MissingUserIdentity,
                Some(record),
                || "record has no userIdentity (kept)",
            );
        }
        let mut event = self.event;
        event.time = time;
        event.provenance = Provenance { file, record };
        out.events.push(event);
    }
}

/// `readOnly` is a boolean in current CloudTrail and a string in some old records and exports.
struct LenientBool;

impl<'de> DeserializeSeed<'de> for LenientBool {
    type Value = Option<bool>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<bool>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for LenientBool {
    type Value = Option<bool>;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a boolean, \"true\"/\"false\" or null")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Some(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(match v {
            "true" | "True" | "TRUE" => Some(true),
            "false" | "False" | "FALSE" => Some(false),
            _ => None,
        })
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(LenientBool)
    }
}
