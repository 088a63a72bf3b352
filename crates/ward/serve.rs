//! `ward serve`: load the config without binding, compile, bind, serve, drain on
//! SIGTERM (linkerd2-proxy's shape).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use prometheus_client::registry::Registry;
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use ward_admin::api::Control;
use ward_admin::auth::{Credentials, read_secret};
use ward_admin::listener::ListenerLimits;
use ward_admin::sync::{SyncControl, SyncSlot};
use ward_admin::{AdminState, StatusFn};
use ward_config::Config;
use ward_config::SyncRole;
use ward_dns::handler::{Handler, Runtime};
use ward_dns::metrics::DnsMetrics;
use ward_dns::record::{self, RecordConfig};
use ward_dns::server::DnsServer;
use ward_state::download::{DownloadLimits, Downloader};
use ward_state::querylog::{self, QueryLog};
use ward_state::refresh::{self, Activity};
use ward_state::reload::{self, ApplyFn, Reloader, Trigger};
use ward_state::stats::Stats;
use ward_state::status::Status;
use ward_state::sync::{self, Primary, Replica, SyncState};
use ward_state::{ConfinedLists, Snapshot, watch};

/// An admin API Bearer token from the environment, besides `admin.token_file`.
const ADMIN_TOKEN_ENV: &str = "WARD_ADMIN_TOKEN";

/// How long in-flight queries may take to finish after SIGTERM.
const GRACE: Duration = Duration::from_secs(5);

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// The config file (YAML). Without it Ward runs on its embedded default: DNS on
    /// 127.0.0.1:5353, admin on 127.0.0.1:8080, ads and trackers blocked with the
    /// catalogue's default list (downloaded into the data directory).
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
        Some(path) => reload::read_config(path).map_err(|e| anyhow::anyhow!(e))?,
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
    runtime.block_on(run(config, args.config, threads))
}

fn init_logs(json: bool) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colours are for a person at a terminal: in a file, journald or a log shipper the
    // escape codes are noise. NO_COLOR (no-color.org: set and not empty) turns them off
    // at a terminal too.
    let colours = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colours)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn run(config: Config, config_path: Option<PathBuf>, threads: usize) -> Result<ExitCode> {
    let started = Instant::now();
    // Secrets come from files, never from the config itself.
    let mut credentials = Credentials::from_files(
        config.admin.token_file.as_deref(),
        config.admin.users_file.as_deref(),
    )
    .map_err(|e| anyhow::anyhow!(e))?;
    // Or from the environment (a Kubernetes Secret as an env var).
    if let Ok(token) = std::env::var(ADMIN_TOKEN_ENV) {
        credentials = credentials.with_token(&token);
    }
    let role = config.sync.role;
    let sync_token = match (&config.sync.token_file, role) {
        (_, SyncRole::Standalone) => String::new(),
        (Some(path), _) => {
            read_secret(path).map_err(|e| anyhow::anyhow!("sync.token_file: {e}"))?
        }
        (None, _) => {
            anyhow::bail!("sync.token_file: a primary and its replicas need the sync token")
        }
    };
    if credentials.is_empty() && !config.admin.listen.ip().is_loopback() {
        tracing::warn!(
            "no admin credentials (admin.token_file, admin.users_file, WARD_ADMIN_TOKEN): the \
             API answers local clients only"
        );
    }
    // A replica takes writes from its primary only.
    let admin = AdminState::new(
        credentials,
        config.admin.read_only || role == SyncRole::Replica,
    )
    .with_metrics_auth(config.admin.metrics_auth);
    let admin_listener = TcpListener::bind(config.admin.listen)
        .await
        .with_context(|| format!("binding the admin listener {}", config.admin.listen))?;
    tracing::info!("listening for HTTP on {}", admin_listener.local_addr()?);
    let sync_slot = SyncSlot::default();
    let app = ward_admin::router(admin.clone()).merge(ward_admin::sync::router(sync_slot.clone()));
    // Not axum::serve: it has no header timeout and no connection cap, so a client sending
    // half a header could hold connections until the API stops answering.
    tokio::spawn(ward_admin::listener::serve(
        admin_listener,
        app,
        ListenerLimits::default(),
    ));
    // external-dns's webhook: a port of its own (it calls without credentials), with the
    // admin listener's limits.
    if let Some(addr) = config.external_dns.listen {
        let hook = TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding the external-dns listener {addr}"))?;
        tracing::info!("listening for external-dns on {}", hook.local_addr()?);
        let app =
            ward_admin::webhook::router(admin.clone(), config.external_dns.path_prefix.as_deref());
        tokio::spawn(ward_admin::listener::serve(
            hook,
            app,
            ListenerLimits::default(),
        ));
    }

    let listen = config.dns.listen.clone();
    // DNS over TLS and HTTPS: the certificate is read now, so that a missing or bad one
    // stops the start with its reason; later changes to the files are picked up live.
    let tls = config.dns.tls.clone();
    let certificate = match (&tls.cert_file, &tls.key_file) {
        (Some(cert), Some(key)) if tls.serves() => {
            Some(ward_dns::tls::Certificate::load(cert, key).context("dns.tls")?)
        }
        _ => None,
    };
    let data_dir = ward_state::data_dir(&config);
    // A replica serves what it last accepted from the primary, with its own node-local
    // settings, from the start (also when the primary is unreachable).
    let replica = match (role, &config.sync.primary) {
        (SyncRole::Replica, Some(primary)) => Some(Arc::new(
            Replica::new(primary, &sync_token, data_dir.clone(), config.clone())
                .map_err(|e| anyhow::anyhow!(e))?,
        )),
        _ => None,
    };
    let config = match &replica {
        Some(replica) => replica.effective(config),
        None => config,
    };
    // Where the API's writes go: over the file, or a layer in data_dir over a file Git
    // owns (a ConfigMap is read-only).
    let layer = config_layer(&config, config_path.as_deref(), admin_writes(&config, role));
    let config = match &layer {
        Some(layer) => {
            let layered = layer.over(config.clone());
            match layered.validate() {
                Ok(()) => layered,
                Err(e) => {
                    let why = format!(
                        "the config file with the API's additions ({}) is not valid, so the \
                         file serves alone: {e}",
                        layer.path().display()
                    );
                    tracing::error!("{why}");
                    layer.set_invalid(Some(why));
                    config
                }
            }
        }
        None => config,
    };
    // Path lists only from the allowed directories, as every reload reads them.
    let lists = ConfinedLists::new(&config, config_path.as_deref());
    let sync_interval = config.sync.interval;
    let replicas = config.sync.replicas.clone();
    let snapshot = tokio::task::spawn_blocking(move || Snapshot::build(config, &lists, 1))
        .await?
        .context("compiling the config")?;
    for (list, err) in &snapshot.list_errors {
        tracing::warn!(list = %list, %err, "list unavailable, serving without it");
    }
    tracing::info!(
        rules = snapshot.rule_count(),
        lists = snapshot.lists.len(),
        policies = snapshot.policies.len(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "rules compiled"
    );
    let snapshot = Arc::new(snapshot);
    // One metrics registry for this server, passed down (no global recorder).
    let mut registry = Registry::default();
    let dns_metrics = DnsMetrics::register(&mut registry);
    let (rt, errors) =
        Runtime::build_with_metrics(snapshot.clone(), dns_metrics.upstream.clone()).await;
    for err in errors {
        tracing::warn!("{err}");
    }
    // Every answered query goes to the recorder thread: query log, statistics, metrics.
    // Statistics live in <data_dir>/stats/ and survive restarts.
    let stats = Stats::open(Some(data_dir.join("stats")));
    let (query_log, recorder, record_writer) =
        recording(&snapshot.config, &data_dir, &dns_metrics, &stats);
    let handler = Arc::new(Handler::with_recorder(rt, recorder, &dns_metrics));
    let recording_stop = CancellationToken::new();
    let recording_task = tokio::spawn(record_writer.run(recording_stop.clone().cancelled_owned()));
    if let Some(log) = query_log {
        admin.set_query_log(log);
    }
    admin.set_stats(stats.clone());
    let stats_saver = tokio::spawn(save_stats_every(stats.clone(), STATS_SAVE));
    let server = Arc::new(DnsServer::new(handler.clone()));
    // Worker i serves socket i of every address.
    let mut per_worker: Vec<Vec<std::net::UdpSocket>> = (0..threads).map(|_| Vec::new()).collect();
    for addr in &listen {
        let (udp, tcp) = bind(*addr, threads)?;
        server.register_tcp(tcp);
        for (worker, socket) in per_worker.iter_mut().zip(udp) {
            worker.push(socket);
        }
    }
    let tls_stop = CancellationToken::new();
    if let Some(certificate) = &certificate {
        for addr in &tls.dot {
            let listener = bind_stream(*addr, "DNS over TLS")?;
            server.register_dot(listener, certificate);
        }
        for addr in &tls.doh {
            let listener = bind_stream(*addr, "DNS over HTTPS")?;
            server.register_doh(listener, certificate);
        }
        tokio::spawn(certificate.clone().watch(tls_stop.clone()));
    }
    let mut workers = Vec::with_capacity(threads);
    for (i, sockets) in per_worker.into_iter().enumerate() {
        workers.push(udp_worker(i, server.clone(), sockets)?);
    }

    // Live updates: the one Reloader, fed by file changes, SIGHUP and list refreshes.
    let apply: ApplyFn = {
        let handler = handler.clone();
        Box::new(move |next| {
            let handler = handler.clone();
            Box::pin(async move {
                for err in handler.swap(next).await {
                    tracing::warn!("{err}");
                }
            })
        })
    };
    let reloader = Arc::new(Reloader::new(config_path.clone(), snapshot, apply));
    if let Some(layer) = &layer {
        reloader.set_layer(layer.clone());
    }
    admin.set_control(Control {
        reloader: reloader.clone(),
        config_path,
    });
    let mut sync_tasks = Vec::new();
    let mut primary = None;
    if let Some(replica) = &replica {
        let overlay = replica.clone();
        reloader.set_overlay(Box::new(move |local| overlay.effective(local)));
        sync_tasks.push(tokio::spawn(sync::pull_loop(
            replica.clone(),
            reloader.clone(),
            sync_interval,
        )));
    }
    if role == SyncRole::Primary {
        let p = Arc::new(Primary::new(replicas, &sync_token).map_err(|e| anyhow::anyhow!(e))?);
        sync_tasks.push(tokio::spawn(sync::push_loop(
            p.clone(),
            reloader.clone(),
            Duration::from_secs(5),
        )));
        primary = Some(p);
    }
    ward_state::metrics::register(
        &mut registry,
        ward_state::metrics::StateSources {
            reloader: reloader.clone(),
            replica: replica.clone(),
            primary: primary.clone(),
        },
    );
    admin.set_metrics(Arc::new(registry));
    admin.set_cluster(ward_admin::cluster::Cluster {
        node: node_name(),
        token: sync_token.clone(),
        primary: primary.clone(),
    });
    let _ = sync_slot.set(SyncControl {
        token: sync_token.into(),
        reloader: reloader.clone(),
        replica: replica.clone(),
    });
    let _watcher = match watch::spawn(reloader.clone()) {
        Ok(w) => Some(w),
        Err(err) => {
            tracing::warn!(%err, "cannot watch files for changes; SIGHUP reloads");
            None
        }
    };
    let downloader = Arc::new(
        Downloader::new(data_dir, DownloadLimits::default())
            .map_err(|e| anyhow::anyhow!("list downloads: {e}"))?,
    );
    let activity = Arc::new(Activity::default());
    let check_now = Arc::new(Notify::new());
    // POST /api/v1/lists/{id}/refresh checks the URL lists now, as SIGHUP does.
    admin.set_list_refresh(check_now.clone());
    admin.set_cache_clear({
        let handler = handler.clone();
        Arc::new(move || handler.clear_cache())
    });
    let refresher = tokio::spawn(refresh::run(
        reloader.clone(),
        downloader.clone(),
        activity.clone(),
        check_now.clone(),
    ));
    let first_replica_sync = replica.clone();
    let status: StatusFn = {
        let reloader = reloader.clone();
        let handler = handler.clone();
        let node = serde_json::json!({
            "name": node_name(),
            "started_ms": std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64),
        });
        Arc::new(move || {
            let status = Status::gather(&reloader, &activity, &downloader);
            let mut value = serde_json::to_value(status).unwrap_or_default();
            // A replica's revision is the primary's it accepted; a primary's, its own.
            let revision = match (&replica, role) {
                (Some(r), _) => r.status().revision,
                (None, SyncRole::Primary) => Some(SyncState::of(&reloader.current()).revision),
                // Hashing every list for nobody: a standalone node has no sync revision.
                (None, _) => None,
            };
            let sync = serde_json::json!({
                "role": role,
                "revision": revision,
                "replica": replica.as_ref().map(|r| r.status()),
                "replicas": primary.as_ref().map(|p| p.status()),
            });
            if let Some(object) = value.as_object_mut() {
                object.insert("sync".into(), sync);
                object.insert("node".into(), node.clone());
                // Where the API's writes go, and what the file defines (the UI marks it).
                let writes = match reloader.layer() {
                    Some(layer) => serde_json::to_value(layer.status()).unwrap_or_default(),
                    None => serde_json::json!({ "mode": "config_file" }),
                };
                object.insert("writes".into(), writes);
                object.insert(
                    "upstreams".into(),
                    serde_json::to_value(handler.upstream_health()).unwrap_or_default(),
                );
            }
            value
        })
    };
    admin.set_status(status);
    // Listening for signals before saying so: a SIGHUP between "ready" and the handler
    // would otherwise end the process (its default action).
    let signals = Signals::listen();
    // A replica that has never had a config from its primary serves its own file's
    // filtering, which is not the household's: not ready (the load balancer skips it)
    // until the first sync.
    let first_sync = match &first_replica_sync {
        Some(r) if r.status().revision.is_none() => {
            tracing::warn!(
                primary = %r.status().primary,
                "no config from the primary yet: the load balancer should skip this pod"
            );
            let (admin, r) = (admin.clone(), r.clone());
            Some(tokio::spawn(async move {
                while r.status().revision.is_none() {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                tracing::info!("the first config from the primary: ready");
                admin.set_ready(true);
            }))
        }
        _ => {
            admin.set_ready(true);
            None
        }
    };
    if first_sync.is_none() {
        tracing::info!(
            elapsed_ms = started.elapsed().as_millis() as u64,
            udp_threads = threads,
            "ready"
        );
    } else {
        tracing::info!(
            elapsed_ms = started.elapsed().as_millis() as u64,
            udp_threads = threads,
            "serving; not ready until the first sync"
        );
    }

    signals.serve(&reloader, &check_now).await;
    tracing::info!("shutting down: draining queries in flight");
    if let Some(task) = first_sync {
        task.abort();
    }
    admin.set_ready(false);
    refresher.abort();
    for task in sync_tasks {
        task.abort();
    }
    tls_stop.cancel();
    server.shutdown(GRACE).await;
    tokio::task::spawn_blocking(move || {
        for worker in workers {
            let _ = worker.join();
        }
    })
    .await?;
    // The queries answered during the drain are recorded, the query log's file flushed,
    // the statistics saved.
    recording_stop.cancel();
    let _ = recording_task.await;
    stats_saver.abort();
    save_stats(stats).await;
    Ok(ExitCode::SUCCESS)
}

/// The query log (when enabled: in memory, and in `<data_dir>/querylog/` when `files`)
/// and the channel from the query path to the thread that records every answered query.
/// The query log's settings are node-local and read once, at start.
fn recording(
    config: &Config,
    data_dir: &std::path::Path,
    metrics: &DnsMetrics,
    stats: &Stats,
) -> (Option<QueryLog>, record::Recorder, record::RecordWriter) {
    let q = &config.query_log;
    let (log, store) = if q.enabled {
        let (log, store) = QueryLog::new(querylog::QueryLogConfig {
            memory_entries: q.memory_entries,
            dir: q.files.then(|| data_dir.join("querylog")),
            retention: q.retention,
            max_disk: q.max_disk,
            // The recorder anonymises, for the statistics too.
            anonymize_clients: false,
            ignore: q.ignore.clone(),
            ..querylog::QueryLogConfig::default()
        });
        (Some(log), Some(store))
    } else {
        (None, None)
    };
    let (recorder, writer) = record::channel(
        RecordConfig {
            capacity: q.queue,
            store,
            sinks: vec![{
                let stats = stats.clone();
                Box::new(move |entries| stats.record(entries))
            }],
            anonymize_clients: q.anonymize_clients,
        },
        metrics,
        log.clone(),
    );
    (log, recorder, writer)
}

/// Whether the API may write at all on this node: not on a replica, not read-only.
fn admin_writes(config: &Config, role: SyncRole) -> bool {
    !config.admin.read_only && role != SyncRole::Replica
}

/// The layer the API writes to instead of the config file (`admin.write_to: data_dir`, or
/// `auto` and a file this process may not write); `None` when writes go to the file.
fn config_layer(
    config: &Config,
    config_path: Option<&std::path::Path>,
    writes: bool,
) -> Option<Arc<ward_state::layer::LayerStore>> {
    let path = config_path?;
    if !writes {
        return None;
    }
    let layered = match config.admin.write_to {
        ward_config::WriteTo::ConfigFile => false,
        ward_config::WriteTo::DataDir => true,
        ward_config::WriteTo::Auto => !ward_state::layer::writable(path),
    };
    if !layered {
        return None;
    }
    let data_dir = ward_state::data_dir(config);
    tracing::info!(
        config = %path.display(),
        layer = %data_dir.join(ward_state::layer::FILE_NAME).display(),
        "API writes go to a layer in data_dir; the config file is left as it is"
    );
    Some(Arc::new(ward_state::layer::LayerStore::open(&data_dir)))
}

/// This pod's name: `HOSTNAME` (Kubernetes sets it to the pod's), else the kernel's.
fn node_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "ward".to_owned())
}

/// How often the statistics are saved (and at shutdown): a crash loses at most this. Not
/// every minute: the file can reach a few MB, and Ward runs on SD cards too.
const STATS_SAVE: Duration = Duration::from_secs(300);

async fn save_stats_every(stats: Stats, every: Duration) {
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    loop {
        tick.tick().await;
        save_stats(stats.clone()).await;
    }
}

/// Writes the statistics file on the blocking pool; a failure is logged, never fatal.
async fn save_stats(stats: Stats) {
    match tokio::task::spawn_blocking(move || stats.save()).await {
        Ok(Ok(())) => {}
        Ok(Err(err)) => tracing::warn!(%err, "saving the statistics"),
        Err(err) => tracing::warn!(%err, "saving the statistics"),
    }
}

/// Binds one address: `threads` UDP sockets sharing it with `SO_REUSEPORT` (the kernel
/// spreads clients over them) and a TCP listener on the same port. Port 0 picks a free
/// port, the same for both (tried again when the TCP side of the UDP port is taken). Logs
/// one line per listener.
fn bind(addr: SocketAddr, threads: usize) -> Result<(Vec<std::net::UdpSocket>, TcpListener)> {
    let mut attempts = 0;
    let (first, tcp) = loop {
        attempts += 1;
        let first = udp_socket(addr).with_context(|| format!("binding UDP {addr}"))?;
        let udp_addr = first.local_addr()?;
        match tcp_listener(udp_addr) {
            Ok(tcp) => break (first, tcp),
            Err(err)
                if addr.port() == 0
                    && err.kind() == std::io::ErrorKind::AddrInUse
                    && attempts < 20 =>
            {
                continue;
            }
            Err(err) => {
                return Err(err).with_context(|| format!("binding TCP {udp_addr}"));
            }
        }
    };
    let udp_addr = first.local_addr()?;
    let mut udp = vec![first];
    // Without SO_REUSEPORT (not Unix) one socket, and so one UDP thread, per address.
    let reuse_port = cfg!(unix);
    while reuse_port && udp.len() < threads {
        udp.push(udp_socket(udp_addr).with_context(|| format!("binding UDP {udp_addr} again"))?);
    }
    tcp.set_nonblocking(true)?;
    let tcp = TcpListener::from_std(tcp)?;
    tracing::info!("listening for UDP on {udp_addr}");
    tracing::info!("listening for TCP on {}", tcp.local_addr()?);
    Ok((udp, tcp))
}

/// A TCP listener for DNS over TLS or HTTPS (`what`), logged as such.
fn bind_stream(addr: SocketAddr, what: &str) -> Result<TcpListener> {
    let std = tcp_listener(addr).with_context(|| format!("binding {what} {addr}"))?;
    std.set_nonblocking(true)?;
    let listener = TcpListener::from_std(std)?;
    tracing::info!("listening for {what} on {}", listener.local_addr()?);
    Ok(listener)
}

/// A non-blocking UDP socket bound to `addr`, shareable with `SO_REUSEPORT`.
fn udp_socket(addr: SocketAddr) -> std::io::Result<std::net::UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    #[cfg(unix)]
    socket.set_reuse_port(true)?;
    v6_only(&socket, addr)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    Ok(socket.into())
}

/// A TCP listener on `addr` (`SO_REUSEADDR`, as std's bind sets it on Unix).
fn tcp_listener(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    #[cfg(unix)]
    socket.set_reuse_address(true)?;
    v6_only(&socket, addr)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    Ok(socket.into())
}

/// An IPv6 address is IPv6 only: `[::]:5353` beside `0.0.0.0:5353` (dual stack, as a
/// Kubernetes pod listens) would otherwise take the IPv4 port as well and fail to bind.
fn v6_only(socket: &socket2::Socket, addr: SocketAddr) -> std::io::Result<()> {
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    Ok(())
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

/// Waits for SIGTERM or Ctrl-C. Meanwhile every SIGHUP reloads the config and the local
/// lists, and checks the URL lists for updates.
/// SIGTERM, SIGINT and SIGHUP, listened for from [`Signals::listen`] on.
struct Signals {
    #[cfg(unix)]
    unix: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl Signals {
    fn listen() -> Signals {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let unix = match (
                signal(SignalKind::terminate()),
                signal(SignalKind::hangup()),
            ) {
                (Ok(term), Ok(hup)) => Some((term, hup)),
                _ => None,
            };
            Signals { unix }
        }
        #[cfg(not(unix))]
        Signals {}
    }

    /// Reloads on SIGHUP until SIGTERM or Ctrl-C.
    async fn serve(self, reloader: &Reloader, check_now: &Notify) {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let Some((mut term, mut hup)) = self.unix else {
                let _ = ctrl_c.await;
                return;
            };
            tokio::pin!(ctrl_c);
            loop {
                tokio::select! {
                    _ = &mut ctrl_c => return,
                    _ = term.recv() => return,
                    _ = hup.recv() => {
                        reloader.reload(Trigger::Signal).await;
                        check_now.notify_one();
                    }
                }
            }
        }
        #[cfg(not(unix))]
        {
            let _ = (self, reloader, check_now);
            let _ = ctrl_c.await;
        }
    }
}
