//! The scale-out commands (cargo feature `lake`): `hunt --engine datafusion`, `convert`, and the
//! Ballista `scheduler` and `executor`. Without the feature, `hunt --engine datafusion` says
//! how to get it.

#[cfg(not(feature = "lake"))]
/// Without the feature: an error that says how to build it.
pub fn hunt(
    _: &crate::hunt::HuntArgs,
    _: &crate::config::Config,
    _: trailhound_geo::GeoIp,
) -> anyhow::Result<(Vec<trailhound_detect::Alert>, crate::stats::RunStats)> {
    anyhow::bail!(
        "this trailhound was built without DataFusion: build it with `cargo build --release --features lake`"
    )
}

#[cfg(feature = "lake")]
pub use with_lake::*;

#[cfg(feature = "lake")]
mod with_lake {
    use std::path::PathBuf;
    use std::sync::Arc;
    use std::time::Instant;

    use anyhow::{Context, Result, bail};
    use clap::Args;
    use trailhound_detect::Alert;
    use trailhound_geo::GeoIp;
    use trailhound_lake::{Engine, Source, cluster, lake};

    use crate::config::Config;
    use crate::hunt::HuntArgs;
    use crate::stats::RunStats;

    /// A runtime for the async DataFusion and Ballista APIs. Planning and (de)serializing deep
    /// plans recurse: 32 MB stacks, as Ballista's own binaries use.
    fn runtime() -> Result<tokio::runtime::Runtime> {
        Ok(tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_stack_size(32 * 1024 * 1024)
            .build()?)
    }

    fn source(paths: &[String], parquet: bool) -> Result<Source> {
        if parquet {
            match paths {
                [root] => Ok(Source::Parquet(root.clone())),
                _ => bail!("--parquet reads one lake folder, got {} paths", paths.len()),
            }
        } else {
            Ok(Source::Raw(paths.to_vec()))
        }
    }

    /// `hunt` on DataFusion (in process, or on the Ballista cluster of `--cluster`): D1–D4's
    /// alerts and what the scans read.
    pub fn hunt(args: &HuntArgs, config: &Config, geo: GeoIp) -> Result<(Vec<Alert>, RunStats)> {
        let source = source(&args.paths, args.parquet)?;
        let params = config.rule_params()?;
        let geoip = geo.description().to_owned();
        let geo = Arc::new(geo);
        let started = Instant::now();
        let (alerts, scan) = runtime()?.block_on(async {
            let engine = match &args.cluster {
                None => {
                    let engine = Engine::new(&source, geo, 0).await?;
                    if matches!(source, Source::Raw(_)) {
                        engine.cache_in_memory().await?;
                    }
                    engine
                }
                Some(url) => cluster::client(url, &source, geo).await?,
            };
            let mut alerts = Vec::new();
            let mut times = Vec::new();
            for rule in trailhound_lake::rules::ALL {
                let t = Instant::now();
                alerts.extend((rule.run)(engine.context(), params.get(rule.id)).await?);
                times.push(format!("{} {:.1} s", rule.id, t.elapsed().as_secs_f64()));
            }
            eprintln!("trailhound: rules: {}", times.join(", "));
            anyhow::Ok((alerts, engine.scans().summary()))
        })?;
        let mut stats = RunStats {
            files: scan.files,
            bytes: scan.bytes,
            decompressed_bytes: scan.decompressed_bytes,
            events: scan.events,
            geoip,
            ..RunStats::default()
        };
        for (file, issues) in &scan.issues {
            stats.files_with_issues += 1;
            stats.add_issues(file, &issues.counts, &issues.located);
        }
        if scan.files == 0 {
            eprintln!(
                "trailhound: the events were read {}; the counts below cover this process only",
                if args.cluster.is_some() {
                    "by the cluster's executors (their logs name bad input)"
                } else {
                    "from Parquet"
                }
            );
        }
        eprintln!(
            "trailhound: DataFusion{} ran D1-D4 in {:.1} s",
            args.cluster
                .as_deref()
                .map(|u| format!(" on the cluster at {u}"))
                .unwrap_or_default(),
            started.elapsed().as_secs_f64()
        );
        Ok((alerts, stats))
    }

    /// Arguments of `trailhound convert`.
    #[derive(Args)]
    pub struct ConvertArgs {
        /// CloudTrail files, folders and s3:// prefixes.
        #[arg(required = true)]
        paths: Vec<String>,
        /// The lake to write: a folder or s3:// prefix (one `date=YYYY-MM-DD` folder per day).
        #[arg(long, short)]
        out: String,
    }

    /// Runs `convert`.
    pub fn convert(args: ConvertArgs) -> Result<()> {
        let started = Instant::now();
        let out = runtime()?.block_on(async {
            let engine = Engine::new(
                &Source::Raw(args.paths.clone()),
                Arc::new(GeoIp::embedded()),
                0,
            )
            .await?;
            let written = lake::convert(&engine, &args.out).await?;
            anyhow::Ok((written, engine.scans().summary()))
        });
        let (written, scan) = out.context("converting to Parquet")?;
        let problems: u64 = scan
            .issues
            .values()
            .map(|f| f.counts.iter().sum::<u64>())
            .sum();
        eprintln!(
            "trailhound: wrote {} events from {} files ({:.1} MB) to {} in {:.1} s; {} decoding problems in {} files",
            written.events,
            scan.files,
            scan.bytes as f64 / 1e6,
            args.out,
            started.elapsed().as_secs_f64(),
            problems,
            scan.issues.len(),
        );
        for (file, issues) in scan.issues.iter().take(20) {
            for i in issues.located.iter().take(3) {
                eprintln!("  {file}: {} {}", i.kind.name(), i.detail);
            }
        }
        Ok(())
    }

    /// Arguments of `trailhound scheduler`.
    #[derive(Args)]
    pub struct SchedulerArgs {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:50050")]
        bind: std::net::SocketAddr,
    }

    /// Logs to standard error, at `default` unless `RUST_LOG` says otherwise.
    fn init_logs(default: &str) {
        let filter = tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .try_init();
    }

    /// Runs `scheduler` until interrupted.
    pub fn scheduler(args: SchedulerArgs) -> Result<()> {
        // Ballista's scheduler logs every plan at `info`.
        init_logs("warn");
        runtime()?.block_on(cluster::run_scheduler(args.bind))?;
        Ok(())
    }

    /// Arguments of `trailhound executor`.
    #[derive(Args)]
    pub struct ExecutorArgs {
        /// The scheduler: HOST:PORT.
        #[arg(long, default_value = "127.0.0.1:50050")]
        scheduler: String,
        /// Host to listen on.
        #[arg(long, default_value = "127.0.0.1")]
        bind: String,
        /// Port of the executor's Arrow Flight service (shuffle data).
        #[arg(long, default_value_t = 50051)]
        port: u16,
        /// Port of its gRPC service.
        #[arg(long, default_value_t = 50052)]
        grpc_port: u16,
        /// Tasks run at once (default: one per core).
        #[arg(long)]
        concurrent_tasks: Option<usize>,
        /// Folder for shuffle files (default: a temporary one).
        #[arg(long)]
        work_dir: Option<PathBuf>,
        /// A MaxMind-format country database instead of the embedded one.
        #[arg(long, value_name = "FILE.mmdb")]
        geoip: Option<PathBuf>,
    }

    /// Runs `executor` until interrupted.
    pub fn executor(args: ExecutorArgs) -> Result<()> {
        // One line per task at `info`.
        init_logs("info");
        let geo = match &args.geoip {
            Some(p) => GeoIp::open(p)?,
            None => GeoIp::embedded(),
        };
        let (host, port) = args
            .scheduler
            .rsplit_once(':')
            .context("--scheduler is HOST:PORT")?;
        let options = cluster::ExecutorOptions {
            scheduler_host: host.to_owned(),
            scheduler_port: port.parse().context("--scheduler port")?,
            bind_host: args.bind,
            port: args.port,
            grpc_port: args.grpc_port,
            concurrent_tasks: args
                .concurrent_tasks
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
            work_dir: args.work_dir.map(|p| p.display().to_string()),
        };
        runtime()?.block_on(cluster::run_executor(options, Arc::new(geo)))?;
        Ok(())
    }
}
