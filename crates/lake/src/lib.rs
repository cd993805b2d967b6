//! Trailhound's detections on DataFusion, and on a Ballista cluster.
//!
//! * [`format`]: `CloudTrailFormat`, CloudTrail objects as a DataFusion file format (listing,
//!   partitioning and projection by DataFusion; decoding by Trailhound's decoder).
//! * [`schema`]: the fixed Arrow schema of events.
//! * [`functions`]: the SQL functions the rules need (`country`, `is_ip`, Kusto's series
//!   functions, sliding distinct counts).
//! * [`rules`]: D1–D4 as SQL plans, whose rows become the embedded rules' alerts.
//! * [`lake`]: `convert`, CloudTrail to a date-partitioned Parquet lake, and reading it back.
//! * [`cluster`]: the Ballista scheduler and executor with this crate's codec and functions.
//! * [`stores`]: object stores opened on first use (`s3://` buckets), for every process.
//!
//! [`Engine`] ties them: a session with the functions registered and a `cloudtrail` table over
//! raw objects or a Parquet lake, local or on S3.

pub mod cluster;
pub mod engine;
pub mod format;
pub mod functions;
pub mod lake;
mod rows;
pub mod rules;
pub mod schema;
pub mod stores;
pub mod table;

pub use engine::Engine;
pub use table::{CloudTrailTable, Source};
