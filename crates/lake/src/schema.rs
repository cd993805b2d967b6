//! The fixed Arrow schema of CloudTrail events, and [`Event`]s to Arrow record batches.
//!
//! One row per event, with the decoder's fixed fields under snake_case names, plus where the
//! event came from (`file`, `delivery_time`, `record`): the embedded engine orders events that
//! share an `eventTime` by file reading order and record index, and the SQL rules order by the
//! same columns so that ties break the same way.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{
    ArrayRef, BooleanBuilder, RecordBatch, StringBuilder, TimestampNanosecondBuilder, UInt32Builder,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::error::Result;
use trailhound_model::{Event, Timestamp};

/// The string columns taken from each event, in schema order.
const STRING_COLUMNS: [&str; 16] = [
    "event_source",
    "event_name",
    "aws_region",
    "source_ip",
    "user_agent",
    "error_code",
    "error_message",
    "event_id",
    "event_type",
    "recipient_account_id",
    "identity_type",
    "principal_id",
    "user_arn",
    "account_id",
    "access_key_id",
    "user_name",
];

fn utc_nanos() -> DataType {
    DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()))
}

/// The schema every CloudTrail table has (raw JSON and the Parquet lake alike).
///
/// `event_time` (UTC nanoseconds), the string fields (empty when the record lacks them, as in the
/// embedded engine), `read_only` (null when absent), then the provenance: `file` (the object's
/// path), `delivery_time` (from the CloudTrail object name, null when it has none) and `record`
/// (the zero-based index in the file).
pub fn schema() -> SchemaRef {
    static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
        let mut fields = vec![Field::new("event_time", utc_nanos(), false)];
        fields.extend(
            STRING_COLUMNS
                .iter()
                .map(|name| Field::new(*name, DataType::Utf8, false)),
        );
        fields.push(Field::new("read_only", DataType::Boolean, true));
        fields.push(Field::new("file", DataType::Utf8, false));
        fields.push(Field::new("delivery_time", utc_nanos(), true));
        fields.push(Field::new("record", DataType::UInt32, false));
        Arc::new(Schema::new(fields))
    });
    SCHEMA.clone()
}

/// The columns of [`schema`] that order events exactly as the embedded engine's stream does.
pub const EVENT_ORDER: &str = "event_time, delivery_time NULLS FIRST, file, record";

fn string_field(e: &Event, i: usize) -> &str {
    match i {
        0 => &e.event_source,
        1 => &e.event_name,
        2 => &e.aws_region,
        3 => &e.source_ip,
        4 => &e.user_agent,
        5 => &e.error_code,
        6 => &e.error_message,
        7 => &e.event_id,
        8 => &e.event_type,
        9 => &e.recipient_account_id,
        10 => &e.user.kind,
        11 => &e.user.principal_id,
        12 => &e.user.arn,
        13 => &e.user.account_id,
        14 => &e.user.access_key_id,
        _ => &e.user.user_name,
    }
}

/// The events of one file as a batch of [`schema`].
pub fn events_to_batch(
    events: &[Event],
    file: &str,
    delivery_time: Option<Timestamp>,
) -> Result<RecordBatch> {
    let n = events.len();
    let mut time = TimestampNanosecondBuilder::with_capacity(n).with_timezone("UTC");
    let mut strings: Vec<StringBuilder> = (0..STRING_COLUMNS.len())
        .map(|_| StringBuilder::with_capacity(n, n * 16))
        .collect();
    let mut read_only = BooleanBuilder::with_capacity(n);
    let mut files = StringBuilder::with_capacity(n, n * file.len());
    let mut delivery = TimestampNanosecondBuilder::with_capacity(n).with_timezone("UTC");
    let mut record = UInt32Builder::with_capacity(n);
    for e in events {
        time.append_value(e.time);
        for (i, b) in strings.iter_mut().enumerate() {
            b.append_value(string_field(e, i));
        }
        read_only.append_option(e.read_only);
        files.append_value(file);
        delivery.append_option(delivery_time);
        record.append_value(e.provenance.record);
    }
    let mut columns: Vec<ArrayRef> = vec![Arc::new(time.finish())];
    columns.extend(strings.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
    columns.push(Arc::new(read_only.finish()));
    columns.push(Arc::new(files.finish()));
    columns.push(Arc::new(delivery.finish()));
    columns.push(Arc::new(record.finish()));
    Ok(RecordBatch::try_new(schema(), columns)?)
}
