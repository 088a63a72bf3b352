//! `ward serve`: load the config without binding, compile, bind, serve, drain on
//! SIGTERM (linkerd2-proxy's shape).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use tokio::net::{TcpListener, UdpSocket};
use ward_admin::AdminState;
use ward_config::Config;
use ward_dns::handler::{Handler, Runtime};
use ward_dns::server::DnsServer;
use ward_state::{DiskLists, Snapshot};

/// How long in-flight queries may take to finish after SIGTERM.
const GRACE: Duration = Duration::from_secs(5);

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// The config file (YAML). Without it Ward runs on its embedded default: DNS on
    /// 127.0.0.1:5353, admin on 127.0.0.1:8080.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Log as JSON lines (for log shippers).
    #[arg(long)]
    log_json: bool,
    /// Worker threads answering queries (default: one per core).
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
}

pub fn serve(args: ServeArgs) -> Result<ExitCode> {
    init_logs(args.log_json);
    let config = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            Config::from_yaml(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?
        }
        None => Config::default_config(),
    };
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = args.threads {
        builder.worker_threads(n.max(1));
    }
    let runtime = builder.enable_all().build()?;
    runtime.block_on(run(config))
}

fn init_logs(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// Where list copies live: the config's `data_dir`, else `/var/lib/ward` when it
/// exists, else `./data`.
fn data_dir(config: &Config) -> PathBuf {
    if let Some(dir) = &config.data_dir {
        return dir.clone();
    }
    let system = PathBuf::from("/var/lib/ward");
    if system.is_dir() {
        system
    } else {
        PathBuf::from("data")
    }
}

async fn run(config: Config) -> Result<ExitCode> {
    let started = Instant::now();
    let admin = AdminState::default();
    let admin_listener = TcpListener::bind(config.admin.listen)
        .await
        .with_context(|| format!("binding the admin listener {}", config.admin.listen))?;
    tracing::info!("listening for HTTP on {}", admin_listener.local_addr()?);
    let app = ward_admin::router(admin.clone());
    tokio::spawn(async move {
        if let Err(err) = axum::serve(admin_listener, app).await {
            tracing::error!(%err, "admin server stopped");
        }
    });

    let listen = config.dns.listen.clone();
    let lists = DiskLists {
        data_dir: data_dir(&config),
    };
    let snapshot = tokio::task::spawn_blocking(move || Snapshot::build(config, &lists, 1))
        .await?
        .context("compiling the config")?;
    for (list, err) in &snapshot.list_errors {
        tracing::warn!(list = %list, %err, "list unavailable, serving without it");
    }
    tracing::info!(
        rules = snapshot.rules.rule_count(),
        policies = snapshot.policies.len(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "rules compiled"
    );
    let (rt, errors) = Runtime::build(Arc::new(snapshot)).await;
    for err in errors {
        tracing::warn!("{err}");
    }
    let server = DnsServer::new(Arc::new(Handler::new(rt)));
    for addr in &listen {
        bind(&server, *addr).await?;
    }
    admin.set_ready(true);
    tracing::info!(elapsed_ms = started.elapsed().as_millis() as u64, "ready");

    shutdown_signal().await;
    tracing::info!("shutting down: draining queries in flight");
    admin.set_ready(false);
    server.shutdown(GRACE).await;
    Ok(ExitCode::SUCCESS)
}

/// Binds UDP and TCP on one address (port 0 picks a free port, the same for both when it
/// can) and logs one line per listener.
async fn bind(server: &DnsServer, addr: SocketAddr) -> Result<()> {
    let udp = UdpSocket::bind(addr)
        .await
        .with_context(|| format!("binding UDP {addr}"))?;
    let udp_addr = udp.local_addr()?;
    let tcp = TcpListener::bind(udp_addr)
        .await
        .with_context(|| format!("binding TCP {udp_addr}"))?;
    tracing::info!("listening for UDP on {udp_addr}");
    tracing::info!("listening for TCP on {}", tcp.local_addr()?);
    server.register_udp(udp);
    server.register_tcp(tcp);
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
