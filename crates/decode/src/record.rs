//! The typed, borrowing view of a CloudTrail record and its conversion into an [`Event`].

use std::borrow::Cow;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, Visitor};
use trailhound_model::{Event, Provenance, Str, TimeError, UserIdentity, parse_rfc3339};

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

/// Streams a `{"Records":[...]}` document into a [`Decoded`]: each record is converted into an
/// event as soon as it is parsed, so no list of parsed records is ever built.
pub(crate) struct DocumentSeed<'o> {
    pub out: &'o mut Decoded,
    pub file: u32,
}

impl<'de> de::DeserializeSeed<'de> for DocumentSeed<'_> {
    type Value = Document;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Document, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for DocumentSeed<'_> {
    type Value = Document;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a CloudTrail {\"Records\":[...]} object")
    }
    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Document, A::Error> {
        let mut doc = Document::Other;
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            match key.as_ref() {
                "Records" => {
                    map.next_value_seed(RecordsSeed {
                        out: &mut *self.out,
                        file: self.file,
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

struct RecordsSeed<'o> {
    out: &'o mut Decoded,
    file: u32,
}

impl<'de> de::DeserializeSeed<'de> for RecordsSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for RecordsSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an array of CloudTrail records")
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        if let Some(n) = seq.size_hint() {
            self.out.events.reserve(n);
        }
        let mut i = 0u32;
        while let Some(r) = seq.next_element::<RawRecord<'de>>()? {
            r.push_into(self.file, i, self.out);
            i += 1;
        }
        Ok(())
    }
}

type S<'a> = Option<Cow<'a, str>>;

/// The fields of a CloudTrail record that Trailhound keeps, borrowed from the input buffer.
/// Every field is optional; unknown fields are skipped without being built.
#[derive(Deserialize, Default)]
pub struct RawRecord<'a> {
    #[serde(rename = "eventTime", borrow)]
    event_time: S<'a>,
    #[serde(rename = "eventSource", borrow)]
    event_source: S<'a>,
    #[serde(rename = "eventName", borrow)]
    event_name: S<'a>,
    #[serde(rename = "awsRegion", borrow)]
    aws_region: S<'a>,
    #[serde(rename = "sourceIPAddress", borrow)]
    source_ip: S<'a>,
    #[serde(rename = "userAgent", borrow)]
    user_agent: S<'a>,
    #[serde(rename = "errorCode", borrow)]
    error_code: S<'a>,
    #[serde(rename = "errorMessage", borrow)]
    error_message: S<'a>,
    #[serde(rename = "eventID", borrow)]
    event_id: S<'a>,
    #[serde(rename = "readOnly", default, deserialize_with = "lenient_bool")]
    read_only: Option<bool>,
    #[serde(rename = "eventType", borrow)]
    event_type: S<'a>,
    #[serde(rename = "recipientAccountId", borrow)]
    recipient_account_id: S<'a>,
    #[serde(rename = "userIdentity", borrow)]
    user_identity: Option<RawIdentity<'a>>,
}

#[derive(Deserialize, Default)]
struct RawIdentity<'a> {
    #[serde(rename = "type", borrow)]
    kind: S<'a>,
    #[serde(rename = "principalId", borrow)]
    principal_id: S<'a>,
    #[serde(borrow)]
    arn: S<'a>,
    #[serde(rename = "accountId", borrow)]
    account_id: S<'a>,
    #[serde(rename = "accessKeyId", borrow)]
    access_key_id: S<'a>,
    #[serde(rename = "userName", borrow)]
    user_name: S<'a>,
}

fn s(v: &S<'_>) -> Str {
    v.as_deref().map(Str::from).unwrap_or_default()
}

impl RawRecord<'_> {
    /// True when the object has the two fields every CloudTrail record has.
    pub(crate) fn looks_like_cloudtrail(&self) -> bool {
        self.event_time.is_some() || self.event_name.is_some()
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
        let user = match &self.user_identity {
            Some(u) => UserIdentity {
                kind: s(&u.kind),
                principal_id: s(&u.principal_id),
                arn: s(&u.arn),
                account_id: s(&u.account_id),
                access_key_id: s(&u.access_key_id),
                user_name: s(&u.user_name),
            },
            None => {
                out.issue(
                    IssueKind::MissingUserIdentity,
                    Some(record),
                    || "record has no userIdentity (kept)",
                );
                UserIdentity::default()
            }
        };
        out.events.push(Event {
            time,
            event_source: s(&self.event_source),
            event_name: s(&self.event_name),
            aws_region: s(&self.aws_region),
            source_ip: s(&self.source_ip),
            user_agent: s(&self.user_agent),
            error_code: s(&self.error_code),
            error_message: s(&self.error_message),
            event_id: s(&self.event_id),
            read_only: self.read_only,
            event_type: s(&self.event_type),
            recipient_account_id: s(&self.recipient_account_id),
            user,
            country: None,
            provenance: Provenance { file, record },
            extra: Vec::new(),
        });
    }
}

/// `readOnly` is a boolean in current CloudTrail and a string in some old records and exports.
fn lenient_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
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
            d.deserialize_any(V)
        }
    }
    d.deserialize_any(V)
}
