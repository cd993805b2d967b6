//! The narrow, fixed event schema every input format is decoded into.
//!
//! CloudTrail records carry dozens of fields; the detections need about twenty. An [`Event`] holds
//! exactly those, owned and compact (short strings such as regions, event names, key ids and IPv4
//! addresses live inline, without a heap allocation). The raw record is not kept: an event knows
//! the file and the record index it came from ([`Provenance`]), so evidence can be re-read.

use compact_str::CompactString;
use serde::{Deserialize, Serialize};

mod extra;
mod time;
pub use extra::ExtraFields;
pub use time::{
    DAY, HOUR, SECOND, TimeError, Timestamp, format_rfc3339, parse_expiration, parse_rfc3339,
    utc_date,
};

/// A compact string: inline up to 24 bytes, heap-allocated beyond.
pub type Str = CompactString;

/// Where an event came from: an index into the run's file list and the record's position in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Provenance {
    /// Index of the file in the run's list of input files.
    pub file: u32,
    /// Zero-based index of the record within its file (array position or line number - 1).
    pub record: u32,
}

/// The part of `userIdentity` the detections use.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct UserIdentity {
    /// `userIdentity.type`: `IAMUser`, `AssumedRole`, `Root`, `AWSService`, ...
    pub kind: Str,
    /// `userIdentity.principalId`.
    pub principal_id: Str,
    /// `userIdentity.arn`.
    pub arn: Str,
    /// `userIdentity.accountId`.
    pub account_id: Str,
    /// `userIdentity.accessKeyId`: `AKIA...` long-term, `ASIA...` temporary.
    pub access_key_id: Str,
    /// `userIdentity.userName`.
    pub user_name: Str,
}

/// One CloudTrail event in Trailhound's fixed schema. Absent fields are empty strings.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Event {
    /// `eventTime`, nanoseconds since the Unix epoch, UTC.
    pub time: Timestamp,
    /// `eventSource`, e.g. `iam.amazonaws.com`.
    pub event_source: Str,
    /// `eventName`, e.g. `ListUsers`.
    pub event_name: Str,
    /// `awsRegion`.
    pub aws_region: Str,
    /// `sourceIPAddress` as written: an IPv4/IPv6 address, an AWS service name, or anything else.
    pub source_ip: Str,
    /// `userAgent`.
    pub user_agent: Str,
    /// `errorCode`; empty means the call succeeded.
    pub error_code: Str,
    /// `errorMessage`.
    pub error_message: Str,
    /// `eventID`.
    pub event_id: Str,
    /// `readOnly`, when present.
    pub read_only: Option<bool>,
    /// `eventType`, e.g. `AwsApiCall`, `AwsConsoleSignIn`.
    pub event_type: Str,
    /// `recipientAccountId`.
    pub recipient_account_id: Str,
    /// `userIdentity`.
    pub user: UserIdentity,
    /// Country of `source_ip`, filled in by GeoIP enrichment; `None` for private, reserved,
    /// unparsable and AWS-service addresses, and before enrichment.
    pub country: Option<Country>,
    /// File and record this event was decoded from.
    pub provenance: Provenance,
    /// Fields beyond the fixed schema that the run asked the decoder to capture (see
    /// [`ExtraFields`]), as `(id, value)` in ascending id order; absent and `null` fields are left
    /// out. Empty (and allocation-free) when no rule asks for extra fields.
    pub extra: Vec<(u16, Str)>,
}

/// The path under which rules read the GeoIP country of `sourceIPAddress` (Elastic's ECS name
/// for it): not a CloudTrail field, but filled in by enrichment before any rule runs.
pub const SOURCE_COUNTRY_FIELD: &str = "source.geo.country_iso_code";

/// The CloudTrail paths the fixed schema holds (see [`Event::fixed_field`]), and the enriched
/// [`SOURCE_COUNTRY_FIELD`].
pub const FIXED_FIELDS: [&str; 18] = [
    "eventSource",
    "eventName",
    "awsRegion",
    "sourceIPAddress",
    "userAgent",
    "errorCode",
    "errorMessage",
    "eventID",
    "eventType",
    "readOnly",
    "recipientAccountId",
    "userIdentity.type",
    "userIdentity.principalId",
    "userIdentity.arn",
    "userIdentity.accountId",
    "userIdentity.accessKeyId",
    "userIdentity.userName",
    SOURCE_COUNTRY_FIELD,
];

/// An ISO 3166-1 alpha-2 country code such as `US`, stored inline.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct Country([u8; 2]);

impl Country {
    /// Builds a code from two ASCII letters (upper-cased); `None` for anything else.
    pub fn new(code: &str) -> Option<Self> {
        match code.as_bytes() {
            [a, b] if a.is_ascii_alphabetic() && b.is_ascii_alphabetic() => {
                Some(Self([a.to_ascii_uppercase(), b.to_ascii_uppercase()]))
            }
            _ => None,
        }
    }

    /// The code as a string slice.
    pub fn as_str(&self) -> &str {
        // Only ASCII letters are ever stored.
        std::str::from_utf8(&self.0).unwrap_or("??")
    }
}

impl std::fmt::Display for Country {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Debug for Country {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Country({})", self.as_str())
    }
}

impl From<Country> for String {
    fn from(c: Country) -> String {
        c.as_str().to_owned()
    }
}

impl TryFrom<String> for Country {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Country::new(&s).ok_or_else(|| format!("not a two-letter country code: {s:?}"))
    }
}

/// The kind of an access key id, from its four-letter prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AccessKeyKind {
    /// `AKIA`: a long-term IAM user key.
    LongTerm,
    /// `ASIA`: a temporary key issued by STS.
    Temporary,
    /// Any other prefix, or none.
    Other,
}

impl AccessKeyKind {
    /// Classifies an access key id by its prefix (case-sensitive, as Kusto's `extract` + `==`).
    pub fn of(access_key_id: &str) -> Self {
        match access_key_id.as_bytes().get(..4) {
            Some(b"AKIA") => Self::LongTerm,
            Some(b"ASIA") => Self::Temporary,
            _ => Self::Other,
        }
    }
}

impl Event {
    /// The stream's order: time, then the file and the record the event came from (two events
    /// of one time keep the order of the input).
    pub fn stream_order(&self) -> (Timestamp, u32, u32) {
        (self.time, self.provenance.file, self.provenance.record)
    }

    /// True when `errorCode` is empty (Kusto `isempty(ErrorCode)`).
    pub fn succeeded(&self) -> bool {
        self.error_code.is_empty()
    }

    /// The kind of the event's access key.
    pub fn key_kind(&self) -> AccessKeyKind {
        AccessKeyKind::of(&self.user.access_key_id)
    }

    /// The value of a fixed-schema field by its CloudTrail path (one of [`FIXED_FIELDS`]):
    /// `None` when `path` is not a fixed field, `Some(None)` when the record did not have it
    /// (the fixed schema stores an absent field as an empty string).
    pub fn fixed_field(&self, path: &str) -> Option<Option<&str>> {
        let v: &str = match path {
            "eventSource" => &self.event_source,
            "eventName" => &self.event_name,
            "awsRegion" => &self.aws_region,
            "sourceIPAddress" => &self.source_ip,
            "userAgent" => &self.user_agent,
            "errorCode" => &self.error_code,
            "errorMessage" => &self.error_message,
            "eventID" => &self.event_id,
            "eventType" => &self.event_type,
            "readOnly" => match self.read_only {
                Some(true) => "true",
                Some(false) => "false",
                None => "",
            },
            "recipientAccountId" => &self.recipient_account_id,
            "userIdentity.type" => &self.user.kind,
            "userIdentity.principalId" => &self.user.principal_id,
            "userIdentity.arn" => &self.user.arn,
            "userIdentity.accountId" => &self.user.account_id,
            "userIdentity.accessKeyId" => &self.user.access_key_id,
            "userIdentity.userName" => &self.user.user_name,
            SOURCE_COUNTRY_FIELD => self.country.as_ref().map_or("", Country::as_str),
            _ => return None,
        };
        Some((!v.is_empty()).then_some(v))
    }

    /// The captured value of extra field `id` (see [`ExtraFields`]), if the record had it.
    pub fn extra_field(&self, id: u16) -> Option<&str> {
        self.extra
            .binary_search_by_key(&id, |(i, _)| *i)
            .ok()
            .map(|i| self.extra[i].1.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_kinds() {
        assert_eq!(
            AccessKeyKind::of("AKIAIOSFODNN7EXAMPLE"),
            AccessKeyKind::LongTerm
        );
        assert_eq!(
            AccessKeyKind::of("ASIAIOSFODNN7EXAMPLE"),
            AccessKeyKind::Temporary
        );
        assert_eq!(
            AccessKeyKind::of("akiaIOSFODNN7EXAMPLE"),
            AccessKeyKind::Other
        );
        assert_eq!(AccessKeyKind::of("AKI"), AccessKeyKind::Other);
        assert_eq!(AccessKeyKind::of(""), AccessKeyKind::Other);
    }
}
