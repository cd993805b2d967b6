//! [`Engine`]: a DataFusion session ready to run the rules over a `cloudtrail` table.

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::error::Result;
use datafusion::execution::SessionStateBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};
use trailhound_detect::Alert;
use trailhound_geo::GeoIp;

use crate::format::ScanStats;
use crate::table::{CloudTrailTable, Source};

/// The columns of the `cloudtrail` table that the rules read.
pub const RULE_COLUMNS: &str = "event_time, event_source, event_name, source_ip, user_agent, \
    error_code, event_id, user_arn, access_key_id, file, delivery_time, record";

/// A DataFusion session with Trailhound's functions and a `cloudtrail` table.
pub struct Engine {
    ctx: SessionContext,
    scans: Arc<ScanStats>,
}

/// The session configuration the engine uses: `partitions` target partitions (0: one per
/// core).
pub fn session_config(partitions: usize) -> SessionConfig {
    with_trailhound_options(SessionConfig::new(), partitions)
}

/// `config` with the options the `cloudtrail` table needs: listings descend into every folder
/// (CloudTrail's `AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/`, not Hive partitions), and
/// `partitions` target partitions (0: keep the default).
pub fn with_trailhound_options(mut config: SessionConfig, partitions: usize) -> SessionConfig {
    config
        .options_mut()
        .execution
        .listing_table_ignore_subdirectory = false;
    if partitions > 0 {
        config.with_target_partitions(partitions)
    } else {
        config
    }
}

impl Engine {
    /// An in-process session over `source`, with `geo` for `country()`.
    pub async fn new(source: &Source, geo: Arc<GeoIp>, partitions: usize) -> Result<Self> {
        let state = SessionStateBuilder::new()
            .with_config(session_config(partitions))
            .with_default_features()
            .build();
        Self::on(SessionContext::new_with_state(state), source, geo)
    }

    /// Registers the functions and the `cloudtrail` table of `source` on an existing session
    /// (a Ballista client's, for instance).
    pub fn on(ctx: SessionContext, source: &Source, geo: Arc<GeoIp>) -> Result<Self> {
        for udf in crate::functions::udfs(geo) {
            ctx.register_udf(udf);
        }
        crate::lake::register_s3_stores(&ctx, source)?;
        let scans = Arc::new(ScanStats::default());
        let table = CloudTrailTable::new(source.clone(), scans.clone())?;
        ctx.register_table("cloudtrail", Arc::new(table))?;
        Ok(Self { ctx, scans })
    }

    /// The session (to run other SQL over `cloudtrail`).
    pub fn context(&self) -> &SessionContext {
        &self.ctx
    }

    /// What this process's scans read so far, with every decoding problem (raw sources; on a
    /// cluster the executors count theirs).
    pub fn scans(&self) -> &Arc<ScanStats> {
        &self.scans
    }

    /// Decodes the source once and keeps the columns the rules read in memory, as the
    /// `cloudtrail` table: each rule's plans scan the table several times, and a scan of raw
    /// CloudTrail costs a gunzip and a JSON parse per object. For in-process runs over raw
    /// objects; a Parquet lake is columnar and needs no cache.
    pub async fn cache_in_memory(&self) -> Result<()> {
        let df = self
            .ctx
            .sql(&format!("SELECT {RULE_COLUMNS} FROM cloudtrail"))
            .await?;
        let schema = Arc::new(df.schema().as_arrow().clone());
        let partitions = df.collect_partitioned().await?;
        let table = datafusion::datasource::MemTable::try_new(schema, partitions)?;
        self.ctx.deregister_table("cloudtrail")?;
        self.ctx.register_table("cloudtrail", Arc::new(table))?;
        Ok(())
    }

    /// Runs D1–D4 with the parameters of `[rules.<id>]` (rule id → JSON object).
    pub async fn alerts(&self, params: &BTreeMap<String, serde_json::Value>) -> Result<Vec<Alert>> {
        crate::rules::run_all(&self.ctx, params).await
    }
}
