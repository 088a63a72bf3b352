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
    /// Threads answering UDP queries, each with its own socket per address (default: one
    /// per core). TCP, the admin API and reloads share a runtime of as many threads.
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
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()?;
    runtime.block_on(run(config, threads))
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

async fn run(config: Config, threads: usize) -> Result<ExitCode> {
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
    let server = Arc::new(DnsServer::new(Arc::new(Handler::new(rt))));
    // Worker i serves socket i of every address.
    let mut per_worker: Vec<Vec<std::net::UdpSocket>> = (0..threads).map(|_| Vec::new()).collect();
    for addr in &listen {
        let (udp, tcp) = bind(*addr, threads)?;
        server.register_tcp(tcp);
        for (worker, socket) in per_worker.iter_mut().zip(udp) {
            worker.push(socket);
        }
    }
    let mut workers = Vec::with_capacity(threads);
    for (i, sockets) in per_worker.into_iter().enumerate() {
        workers.push(udp_worker(i, server.clone(), sockets)?);
    }
    admin.set_ready(true);
    tracing::info!(
        elapsed_ms = started.elapsed().as_millis() as u64,
        udp_threads = threads,
        "ready"
    );

    shutdown_signal().await;
    tracing::info!("shutting down: draining queries in flight");
    admin.set_ready(false);
    server.shutdown(GRACE).await;
    tokio::task::spawn_blocking(move || {
        for worker in workers {
            let _ = worker.join();
        }
    })
    .await?;
    Ok(ExitCode::SUCCESS)
}

/// Binds one address: `threads` UDP sockets sharing it with `SO_REUSEPORT` (the kernel
/// spreads clients over them) and a TCP listener on the same port (port 0 picks a free
/// one, the same for both when it can). Logs one line per listener.
fn bind(addr: SocketAddr, threads: usize) -> Result<(Vec<std::net::UdpSocket>, TcpListener)> {
    let first = udp_socket(addr).with_context(|| format!("binding UDP {addr}"))?;
    let udp_addr = first.local_addr()?;
    let mut udp = vec![first];
    // Without SO_REUSEPORT (not Unix) one socket, and so one UDP thread, per address.
    let reuse_port = cfg!(unix);
    while reuse_port && udp.len() < threads {
        udp.push(udp_socket(udp_addr).with_context(|| format!("binding UDP {udp_addr} again"))?);
    }
    let tcp =
        std::net::TcpListener::bind(udp_addr).with_context(|| format!("binding TCP {udp_addr}"))?;
    tcp.set_nonblocking(true)?;
    let tcp = TcpListener::from_std(tcp)?;
    tracing::info!("listening for UDP on {udp_addr}");
    tracing::info!("listening for TCP on {}", tcp.local_addr()?);
    Ok((udp, tcp))
}

/// A non-blocking UDP socket bound to `addr`, shareable with `SO_REUSEPORT`.
fn udp_socket(addr: SocketAddr) -> std::io::Result<std::net::UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    #[cfg(unix)]
    socket.set_reuse_port(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    Ok(socket.into())
}

/// A thread with its own single-threaded runtime, serving its UDP sockets until the
/// server has drained.
fn udp_worker(
    i: usize,
    server: Arc<DnsServer>,
    sockets: Vec<std::net::UdpSocket>,
) -> Result<std::thread::JoinHandle<()>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let thread = std::thread::Builder::new()
        .name(format!("ward-udp-{i}"))
        .spawn(move || {
            runtime.block_on(async {
                for socket in sockets {
                    match UdpSocket::from_std(socket) {
                        Ok(socket) => server.register_udp(socket),
                        Err(err) => tracing::error!(%err, "UDP socket"),
                    }
                }
                server.drained().await;
            });
        })?;
    Ok(thread)
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
