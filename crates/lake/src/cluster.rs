//! The Ballista cluster path: the scheduler and executor run inside the `trailhound` binary with
//! this crate's functions and codecs, and a client session sends the rules' plans to them.
//!
//! Two things of ours cross the wire, and [`LogicalCodec`] / [`PhysicalCodec`] carry them on
//! top of Ballista's own codecs:
//! * the `cloudtrail` table ([`CloudTrailTable`]), from client to scheduler, as its [`Source`]:
//!   the scheduler lists the objects again and plans the scan;
//! * the scan of CloudTrail objects (a `DataSourceExec` of [`CloudTrailSource`]), from
//!   scheduler to executors, as its object store, file groups, projection and limit.
//!
//! The functions travel by name: the scheduler's sessions and the executors' function registry
//! both have [`crate::functions::udfs`]. Objects must be readable by every executor at the
//! same path (a shared folder, or S3: see [`crate::stores`]).

use std::net::SocketAddr;
use std::sync::Arc;

use ballista::extension::SessionContextExt as _;
use ballista_core::extension::SessionConfigExt;
use ballista_core::registry::BallistaFunctionRegistry;
use ballista_core::serde::{BallistaLogicalExtensionCodec, BallistaPhysicalExtensionCodec};
use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use ballista_scheduler::scheduler_process::start_server;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::TableProvider;
use datafusion::common::TableReference;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfigBuilder};
use datafusion::datasource::source::DataSourceExec;
use datafusion::datasource::table_schema::TableSchema;
use datafusion::error::Result;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::execution::{FunctionRegistry, SessionStateBuilder, TaskContext};
use datafusion::logical_expr::{Extension, LogicalPlan};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion_proto::logical_plan::LogicalExtensionCodec;
use datafusion_proto::physical_plan::{PhysicalExtensionCodec, PhysicalProtoConverterExtension};
use serde::{Deserialize, Serialize};
use trailhound_geo::GeoIp;

use crate::Engine;
use crate::format::{CloudTrailSource, ScanStats, plan_error};
use crate::schema::schema;
use crate::stores::{ObjectStores, runtime};
use crate::table::{CloudTrailTable, Source};

/// Marks the buffers written by this crate's codecs (anything else is Ballista's).
const MAGIC: &[u8] = b"trailhound-lake/1\n";

fn ours(buf: &[u8]) -> Option<&[u8]> {
    buf.strip_prefix(MAGIC)
}

fn write_ours(value: &impl Serialize, buf: &mut Vec<u8>) -> Result<()> {
    buf.extend_from_slice(MAGIC);
    serde_json::to_writer(buf, value).map_err(|e| plan_error(e.to_string()))
}

fn read_ours<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T> {
    serde_json::from_slice(body).map_err(|e| plan_error(e.to_string()))
}

/// The logical codec: [`CloudTrailTable`] as its [`Source`], the rest as Ballista does.
#[derive(Debug, Default)]
pub struct LogicalCodec {
    ballista: BallistaLogicalExtensionCodec,
}

impl LogicalExtensionCodec for LogicalCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[LogicalPlan],
        ctx: &TaskContext,
    ) -> Result<Extension> {
        self.ballista.try_decode(buf, inputs, ctx)
    }

    fn try_encode(&self, node: &Extension, buf: &mut Vec<u8>) -> Result<()> {
        self.ballista.try_encode(node, buf)
    }

    fn try_decode_table_provider(
        &self,
        buf: &[u8],
        table_ref: &TableReference,
        schema: SchemaRef,
        ctx: &TaskContext,
    ) -> Result<Arc<dyn TableProvider>> {
        match ours(buf) {
            Some(body) => Ok(Arc::new(CloudTrailTable::new(
                read_ours(body)?,
                Arc::new(ScanStats::default()),
            )?)),
            None => self
                .ballista
                .try_decode_table_provider(buf, table_ref, schema, ctx),
        }
    }

    fn try_encode_table_provider(
        &self,
        table_ref: &TableReference,
        node: Arc<dyn TableProvider>,
        buf: &mut Vec<u8>,
    ) -> Result<()> {
        match node.downcast_ref::<CloudTrailTable>() {
            Some(table) => write_ours(table.source(), buf),
            None => self
                .ballista
                .try_encode_table_provider(table_ref, node, buf),
        }
    }

    fn try_decode_file_format(
        &self,
        buf: &[u8],
        ctx: &TaskContext,
    ) -> Result<Arc<dyn datafusion::datasource::file_format::FileFormatFactory>> {
        self.ballista.try_decode_file_format(buf, ctx)
    }

    fn try_encode_file_format(
        &self,
        buf: &mut Vec<u8>,
        node: Arc<dyn datafusion::datasource::file_format::FileFormatFactory>,
    ) -> Result<()> {
        self.ballista.try_encode_file_format(buf, node)
    }
}

/// A scan of CloudTrail objects, as it crosses the wire.
#[derive(Debug, Serialize, Deserialize)]
struct ScanWire {
    store: String,
    /// Per partition, the objects: (path in the store, size).
    groups: Vec<Vec<(String, u64)>>,
    projection: Option<Vec<usize>>,
    limit: Option<usize>,
}

/// The physical codec: the scan of CloudTrail objects as a [`ScanWire`], the rest as Ballista
/// does.
#[derive(Debug, Default)]
pub struct PhysicalCodec {
    ballista: BallistaPhysicalExtensionCodec,
}

impl PhysicalExtensionCodec for PhysicalCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[Arc<dyn ExecutionPlan>],
        ctx: &TaskContext,
        proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let Some(body) = ours(buf) else {
            return self.ballista.try_decode(buf, inputs, ctx, proto_converter);
        };
        let wire: ScanWire = read_ours(body)?;
        let source = Arc::new(CloudTrailSource::new(
            TableSchema::from(schema()),
            Arc::new(ScanStats::default()),
        ));
        let groups = wire
            .groups
            .into_iter()
            .map(|g| {
                FileGroup::new(
                    g.into_iter()
                        .map(|(path, size)| PartitionedFile::new(path, size))
                        .collect(),
                )
            })
            .collect();
        let config = FileScanConfigBuilder::new(ObjectStoreUrl::parse(&wire.store)?, source)
            .with_file_groups(groups)
            .with_projection_indices(wire.projection)?
            .with_limit(wire.limit)
            .build();
        Ok(DataSourceExec::from_data_source(config))
    }

    fn try_encode(
        &self,
        node: Arc<dyn ExecutionPlan>,
        buf: &mut Vec<u8>,
        proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<()> {
        let scan = node
            .downcast_ref::<DataSourceExec>()
            .and_then(|exec| exec.downcast_to_file_source::<CloudTrailSource>());
        let Some((config, _)) = scan else {
            return self.ballista.try_encode(node, buf, proto_converter);
        };
        let wire = ScanWire {
            store: config.object_store_url.as_str().to_owned(),
            groups: config
                .file_groups
                .iter()
                .map(|g| {
                    g.iter()
                        .map(|f| (f.object_meta.location.to_string(), f.object_meta.size))
                        .collect()
                })
                .collect(),
            projection: config
                .file_source()
                .projection()
                .map(crate::format::column_indices)
                .transpose()?,
            limit: config.limit,
        };
        write_ours(&wire, buf)
    }
}

/// A client session on the Ballista scheduler at `url` (`df://HOST:PORT`) with the
/// `cloudtrail` table of `source`.
pub async fn client(url: &str, source: &Source, geo: Arc<GeoIp>) -> Result<Engine> {
    let config = crate::engine::with_trailhound_options(SessionConfig::new_with_ballista(), 0)
        .with_ballista_logical_extension_codec(Arc::new(LogicalCodec::default()))
        .with_ballista_physical_extension_codec(Arc::new(PhysicalCodec::default()));
    let state = SessionStateBuilder::new()
        .with_config(config)
        .with_runtime_env(runtime(Arc::new(ObjectStores::default()), None)?)
        .with_default_features()
        .build();
    let ctx = SessionContext::remote_with_state(url, state).await?;
    Engine::on(ctx, source, geo)
}

/// Runs a scheduler on `bind` until the process ends.
pub async fn run_scheduler(bind: SocketAddr) -> Result<()> {
    let geo = Arc::new(GeoIp::embedded());
    // One registry for every job's session: an S3 bucket is opened once.
    let stores = Arc::new(ObjectStores::default());
    let mut config = SchedulerConfig {
        bind_host: bind.ip().to_string(),
        bind_port: bind.port(),
        external_host: bind.ip().to_string(),
        ..SchedulerConfig::default()
    };
    config.override_logical_codec = Some(Arc::new(LogicalCodec::default()));
    config.override_physical_codec = Some(Arc::new(PhysicalCodec::default()));
    config.override_session_builder = Some(Arc::new(move |session: SessionConfig| {
        let session = crate::engine::with_trailhound_options(session, 0);
        let state = ballista_core::utils::default_session_builder(session)?;
        let mut state = SessionStateBuilder::new_from_existing(state)
            .with_runtime_env(runtime(stores.clone(), None)?)
            .build();
        for udf in crate::functions::udfs(geo.clone()) {
            state.register_udf(Arc::new(udf))?;
        }
        Ok(state)
    }));
    let cluster = BallistaCluster::new_from_config(&config)
        .await
        .map_err(|e| plan_error(e.to_string()))?;
    start_server(cluster, bind, Arc::new(config))
        .await
        .map_err(|e| plan_error(e.to_string()))
}

/// Where an executor listens and which scheduler it serves.
#[derive(Debug, Clone)]
pub struct ExecutorOptions {
    /// The scheduler's host.
    pub scheduler_host: String,
    /// The scheduler's port.
    pub scheduler_port: u16,
    /// Host to listen on.
    pub bind_host: String,
    /// Arrow Flight port (shuffle data).
    pub port: u16,
    /// gRPC port.
    pub grpc_port: u16,
    /// Tasks run at once.
    pub concurrent_tasks: usize,
    /// Folder for shuffle files (`None`: a temporary one).
    pub work_dir: Option<String>,
}

/// Runs an executor until the process ends, with `geo` for `country()`.
pub async fn run_executor(options: ExecutorOptions, geo: Arc<GeoIp>) -> Result<()> {
    let mut registry = BallistaFunctionRegistry::default();
    // Ballista's default registry lacks the list functions the plans use (`array_element`,
    // `range`...).
    for f in datafusion::functions_nested::all_default_nested_functions() {
        registry.scalar_functions.insert(f.name().to_owned(), f);
    }
    for udf in crate::functions::udfs(geo) {
        registry
            .scalar_functions
            .insert(udf.name().to_owned(), Arc::new(udf));
    }
    let stores = Arc::new(ObjectStores::default());
    let temp_dir = options.work_dir.clone();
    let config = ExecutorProcessConfig {
        scheduler_host: options.scheduler_host,
        scheduler_port: options.scheduler_port,
        bind_host: options.bind_host.clone(),
        external_host: Some(options.bind_host),
        port: options.port,
        grpc_port: options.grpc_port,
        vcores: options.concurrent_tasks,
        work_dir: options.work_dir,
        print_thread_info: false,
        override_function_registry: Some(Arc::new(registry)),
        // Tasks name their objects by URL: `s3://` buckets are opened on first use.
        override_runtime_producer: Some(Arc::new(move |_| {
            runtime(stores.clone(), temp_dir.as_deref())
        })),
        override_logical_codec: Some(Arc::new(LogicalCodec::default())),
        override_physical_codec: Some(Arc::new(PhysicalCodec::default())),
        ..ExecutorProcessConfig::default()
    };
    start_executor_process(Arc::new(config))
        .await
        .map_err(|e| plan_error(e.to_string()))
}
