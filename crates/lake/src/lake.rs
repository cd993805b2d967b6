//! The Parquet lake: `convert` writes the `cloudtrail` table as Parquet partitioned by UTC date
//! (`date=YYYY-MM-DD/…parquet`, Hive style), which [`Source::Parquet`](crate::Source) reads back
//! with the same schema.

use datafusion::dataframe::DataFrameWriteOptions;
use datafusion::error::Result;

use crate::engine::Engine;

/// What [`convert`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Converted {
    /// Events written.
    pub events: u64,
}

/// Writes every event of `engine`'s table to `out` (a local folder or `s3://` prefix) as
/// Parquet, one folder per UTC date, sorted by time within each file.
pub async fn convert(engine: &Engine, out: &str) -> Result<Converted> {
    let ctx = engine.context();
    let df = ctx
        .sql(&format!(
            "SELECT *, to_char(event_time, '%Y-%m-%d') AS date FROM cloudtrail ORDER BY {}",
            crate::schema::EVENT_ORDER
        ))
        .await?;
    let url = if out.contains("://") {
        out.to_owned()
    } else {
        std::fs::create_dir_all(out)?;
        let mut s = std::fs::canonicalize(out)?.display().to_string();
        s.push('/');
        s
    };
    let written = df
        .write_parquet(
            &url,
            DataFrameWriteOptions::new().with_partition_by(vec!["date".to_owned()]),
            None,
        )
        .await?;
    let mut events = 0u64;
    for batch in written {
        if let Some(col) = batch.column_by_name("count") {
            let col = datafusion::arrow::compute::cast(
                col,
                &datafusion::arrow::datatypes::DataType::UInt64,
            )?;
            let col = datafusion::arrow::array::AsArray::as_primitive::<
                datafusion::arrow::datatypes::UInt64Type,
            >(&col);
            events += col.iter().flatten().sum::<u64>();
        }
    }
    Ok(Converted { events })
}
