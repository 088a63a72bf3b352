//! Downloading lists against a scripted HTTP/1.1 server on 127.0.0.1.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ward_state::download::{
    CopyInfo, DownloadError, DownloadLimits, Downloader, Fetched, check_list_id,
};

/// One request as the server saw it.
#[derive(Clone, Debug)]
struct Seen {
    path: String,
    /// Names in lowercase.
    headers: Vec<(String, String)>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What the server answers to one request.
#[derive(Clone, Debug)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// Before anything is sent.
    delay: Duration,
    /// After the headers and the first half of the body.
    stall: Duration,
    /// Send Content-Length; without it the body ends when the connection closes.
    length: bool,
}

impl Reply {
    fn ok(body: impl Into<Vec<u8>>) -> Reply {
        Reply {
            status: 200,
            headers: Vec::new(),
            body: body.into(),
            delay: Duration::ZERO,
            stall: Duration::ZERO,
            length: true,
        }
    }

    fn status(status: u16) -> Reply {
        Reply {
            status,
            ..Reply::ok("")
        }
    }

    fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }
}

type Handler = dyn Fn(usize, &Seen) -> Reply + Send + Sync;

/// A tiny HTTP/1.1 server: one thread per connection, `Connection: close`, answers from a
/// handler given the request's index and what it sent.
struct Server {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    fn start(handler: impl Fn(usize, &Seen) -> Reply + Send + Sync + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let handler: Arc<Handler> = Arc::new(handler);
        let thread = {
            let (seen, stop) = (seen.clone(), stop.clone());
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let (seen, handler) = (seen.clone(), handler.clone());
                    std::thread::spawn(move || serve(stream, &seen, &*handler));
                }
                // The listener drops here: the port refuses connections from now on.
            })
        };
        Server {
            addr,
            seen,
            stop,
            thread: Some(thread),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn requests(&self) -> Vec<Seen> {
        self.seen.lock().expect("requests").clone()
    }

    fn count(&self) -> usize {
        self.seen.lock().expect("requests").len()
    }

    /// Closes the listening socket.
    fn stop(&mut self) {
        if let Some(thread) = self.thread.take() {
            self.stop.store(true, Ordering::SeqCst);
            // Wakes the accept loop so that it sees the flag.
            let _ = TcpStream::connect(self.addr);
            thread.join().expect("server thread");
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

fn serve(stream: TcpStream, seen: &Mutex<Vec<Seen>>, handler: &Handler) {
    let mut reader = BufReader::new(match stream.try_clone() {
        Ok(s) => s,
        Err(_) => return,
    });
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() || line.is_empty() {
        return; // the wake-up connection of Server::stop
    }
    let path = line.split(' ').nth(1).unwrap_or("").to_owned();
    let mut headers = Vec::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).is_err() {
            return;
        }
        let trimmed = line.trim_end();
        if trimmed.is_empty() {
            break;
        }
        if let Some((name, value)) = trimmed.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    let request = Seen { path, headers };
    let index = {
        let mut seen = seen.lock().expect("requests");
        seen.push(request.clone());
        seen.len() - 1
    };
    let reply = handler(index, &request);
    std::thread::sleep(reply.delay);
    let mut head = format!(
        "HTTP/1.1 {} Scripted\r\nConnection: close\r\n",
        reply.status
    );
    for (name, value) in &reply.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if reply.length {
        head.push_str(&format!("Content-Length: {}\r\n", reply.body.len()));
    }
    head.push_str("\r\n");
    let mut stream = stream;
    let (first, rest) = reply.body.split_at(reply.body.len() / 2);
    // The client may hang up early (too large, timed out): write errors are expected.
    let _ = stream
        .write_all(head.as_bytes())
        .and_then(|()| stream.write_all(first))
        .and_then(|()| stream.flush());
    std::thread::sleep(reply.stall);
    let _ = stream.write_all(rest);
    let _ = stream.shutdown(std::net::Shutdown::Both);
}

/// A directory under the system temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let path =
            std::env::temp_dir().join(format!("ward-download-{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir(path)
    }

    fn lists(&self) -> PathBuf {
        self.0.join("lists")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Small limits so that failing tests fail fast.
fn limits() -> DownloadLimits {
    DownloadLimits {
        max_bytes: 1 << 20,
        timeout: Duration::from_secs(5),
        attempts: 3,
        backoff: Duration::from_millis(10),
    }
}

fn downloader(dir: &TempDir, limits: DownloadLimits) -> Downloader {
    Downloader::new(dir.0.clone(), limits).expect("downloader")
}

fn any(_: &[u8]) -> Result<(), String> {
    Ok(())
}

fn quiet(_: u64) {}

/// Files in `dir`, sorted (none if it does not exist).
fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

const V1: &str = "||ads.example^\n";
const V2: &str = "||ads.example^\n||tracker.example^\n";
const DATE: &str = "Wed, 21 Oct 2015 07:28:00 GMT";

#[tokio::test]
async fn first_download_writes_copy_and_metadata() {
    let server = Server::start(|_, _| {
        Reply::ok(V1)
            .header("ETag", "\"v1\"")
            .header("Last-Modified", DATE)
    });
    let dir = TempDir::new("first");
    let d = downloader(&dir, limits());
    assert_eq!(d.copy_info("ads"), None);
    let url = server.url("/ads.txt");
    let before = now();

    let fetched = d.fetch("ads", &url, &any, &quiet).await.expect("fetch");

    assert_eq!(
        fetched,
        Fetched::Changed {
            bytes: V1.len() as u64
        }
    );
    assert_eq!(d.copy_path("ads"), dir.lists().join("ads.txt"));
    assert_eq!(read(&d.copy_path("ads")), V1.as_bytes());
    let info = d.copy_info("ads").expect("metadata");
    assert!(info.fetched_at >= before && info.fetched_at <= now() + 1);
    assert_eq!(
        info,
        CopyInfo {
            url: url.clone(),
            etag: Some("\"v1\"".into()),
            last_modified: Some(DATE.into()),
            fetched_at: info.fetched_at,
            bytes: V1.len() as u64,
        }
    );
    // The metadata is plain JSON beside the copy, and no temporary file is left.
    let json: serde_json::Value =
        serde_json::from_slice(&read(&dir.lists().join("ads.meta.json"))).expect("json");
    assert_eq!(json["url"], url.as_str());
    assert_eq!(files(&dir.lists()), ["ads.meta.json", "ads.txt"]);

    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].path, "/ads.txt");
    assert_eq!(requests[0].header("if-none-match"), None);
    assert_eq!(requests[0].header("if-modified-since"), None);
    let agent = requests[0].header("user-agent").unwrap_or("");
    assert_eq!(agent, concat!("ward/", env!("CARGO_PKG_VERSION")));
}

#[tokio::test]
async fn etag_gets_304_and_keeps_the_copy() {
    // A later request that does not send the ETag gets different bytes, so a missing
    // If-None-Match shows up as Changed.
    let server = Server::start(|i, req| match (i, req.header("if-none-match")) {
        (0, _) => Reply::ok(V1).header("ETag", "\"v1\""),
        (_, Some("\"v1\"")) => Reply::status(304).header("ETag", "\"v1\""),
        _ => Reply::ok(V2).header("ETag", "\"v2\""),
    });
    let dir = TempDir::new("etag");
    let d = downloader(&dir, limits());
    let url = server.url("/ads.txt");
    d.fetch("ads", &url, &any, &quiet).await.expect("first");
    let modified = std::fs::metadata(d.copy_path("ads"))
        .and_then(|m| m.modified())
        .expect("mtime");

    let fetched = d.fetch("ads", &url, &any, &quiet).await.expect("second");

    assert_eq!(fetched, Fetched::NotModified);
    assert_eq!(server.requests()[1].header("if-none-match"), Some("\"v1\""));
    assert_eq!(read(&d.copy_path("ads")), V1.as_bytes());
    let after = std::fs::metadata(d.copy_path("ads"))
        .and_then(|m| m.modified())
        .expect("mtime");
    assert_eq!(after, modified, "the copy was rewritten");
    let info = d.copy_info("ads").expect("metadata");
    assert_eq!(info.etag.as_deref(), Some("\"v1\""));
    assert_eq!(info.bytes, V1.len() as u64);
}

#[tokio::test]
async fn last_modified_gets_304_and_keeps_the_copy() {
    let server = Server::start(|i, req| match (i, req.header("if-modified-since")) {
        (0, _) => Reply::ok(V1).header("Last-Modified", DATE),
        // A 304 without validators: the stored Last-Modified must survive it.
        (_, Some(DATE)) => Reply::status(304),
        _ => Reply::ok(V2),
    });
    let dir = TempDir::new("last-modified");
    let d = downloader(&dir, limits());
    let url = server.url("/ads.txt");
    d.fetch("ads", &url, &any, &quiet).await.expect("first");

    let fetched = d.fetch("ads", &url, &any, &quiet).await.expect("second");

    assert_eq!(fetched, Fetched::NotModified);
    let second = &server.requests()[1];
    assert_eq!(second.header("if-modified-since"), Some(DATE));
    assert_eq!(second.header("if-none-match"), None);
    assert_eq!(read(&d.copy_path("ads")), V1.as_bytes());
    let info = d.copy_info("ads").expect("metadata");
    assert_eq!(info.last_modified.as_deref(), Some(DATE));
    assert_eq!(info.bytes, V1.len() as u64);

    // The validators still hold: a third fetch is conditional too.
    assert_eq!(
        d.fetch("ads", &url, &any, &quiet).await.expect("third"),
        Fetched::NotModified
    );
}

#[tokio::test]
async fn changed_body_replaces_the_copy() {
    let server = Server::start(|i, _| match i {
        0 => Reply::ok(V1).header("ETag", "\"v1\""),
        _ => Reply::ok(V2).header("ETag", "\"v2\""),
    });
    let dir = TempDir::new("changed");
    let d = downloader(&dir, limits());
    let url = server.url("/ads.txt");
    d.fetch("ads", &url, &any, &quiet).await.expect("first");

    let fetched = d.fetch("ads", &url, &any, &quiet).await.expect("second");

    assert_eq!(
        fetched,
        Fetched::Changed {
            bytes: V2.len() as u64
        }
    );
    assert_eq!(read(&d.copy_path("ads")), V2.as_bytes());
    let info = d.copy_info("ads").expect("metadata");
    assert_eq!(info.etag.as_deref(), Some("\"v2\""));
    assert_eq!(info.bytes, V2.len() as u64);
    assert_eq!(files(&dir.lists()), ["ads.meta.json", "ads.txt"]);
}

#[tokio::test]
async fn same_bytes_again_are_not_modified_and_refresh_the_metadata() {
    let server = Server::start(|i, _| Reply::ok(V1).header("ETag", &format!("\"e{i}\"")));
    let dir = TempDir::new("same-bytes");
    let d = downloader(&dir, limits());
    let url = server.url("/ads.txt");
    d.fetch("ads", &url, &any, &quiet).await.expect("first");

    let fetched = d.fetch("ads", &url, &any, &quiet).await.expect("second");

    assert_eq!(fetched, Fetched::NotModified);
    assert_eq!(read(&d.copy_path("ads")), V1.as_bytes());
    assert_eq!(
        d.copy_info("ads").and_then(|i| i.etag).as_deref(),
        Some("\"e1\"")
    );
}

#[tokio::test]
async fn validators_only_for_the_same_url_and_an_existing_copy() {
    let server = Server::start(|_, _| Reply::ok(V1).header("ETag", "\"v1\""));
    let dir = TempDir::new("validators");
    let d = downloader(&dir, limits());
    d.fetch("ads", &server.url("/a"), &any, &quiet)
        .await
        .expect("a");

    // Another URL for the same list: its old ETag means nothing there.
    d.fetch("ads", &server.url("/b"), &any, &quiet)
        .await
        .expect("b");
    assert_eq!(server.requests()[1].header("if-none-match"), None);
    assert_eq!(
        d.copy_info("ads").map(|i| i.url),
        Some(server.url("/b")),
        "metadata names the new URL"
    );

    // The copy is gone: a 304 would leave nothing to serve.
    std::fs::remove_file(d.copy_path("ads")).expect("remove copy");
    assert_eq!(d.copy_info("ads"), None);
    let fetched = d
        .fetch("ads", &server.url("/b"), &any, &quiet)
        .await
        .expect("b again");
    assert_eq!(server.requests()[2].header("if-none-match"), None);
    assert_eq!(
        fetched,
        Fetched::Changed {
            bytes: V1.len() as u64
        }
    );
    assert_eq!(read(&d.copy_path("ads")), V1.as_bytes());
}

#[tokio::test]
async fn transient_statuses_are_retried() {
    for status in [500, 503, 408, 429] {
        let server = Server::start(move |i, _| match i {
            0 => Reply::status(status),
            _ => Reply::ok(V1),
        });
        let dir = TempDir::new("retry");
        let d = downloader(&dir, limits());
        let started = Instant::now();

        let fetched = d.fetch("ads", &server.url("/ads.txt"), &any, &quiet).await;

        assert_eq!(
            fetched.ok(),
            Some(Fetched::Changed {
                bytes: V1.len() as u64
            }),
            "status {status}"
        );
        assert_eq!(server.count(), 2, "status {status}");
        assert!(started.elapsed() >= Duration::from_millis(10), "no backoff");
        assert_eq!(read(&d.copy_path("ads")), V1.as_bytes());
    }
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    for status in [403, 404, 410] {
        let server = Server::start(move |_, _| Reply::status(status));
        let dir = TempDir::new("client-error");
        let d = downloader(&dir, limits());
        let url = server.url("/ads.txt");

        let err = d.fetch("ads", &url, &any, &quiet).await.unwrap_err();

        assert!(
            matches!(err, DownloadError::Http { status: s, .. } if s == status),
            "{err:?}"
        );
        assert_eq!(server.count(), 1, "status {status}");
        assert!(err.to_string().contains(&url), "{err}");
        assert!(err.to_string().contains(&status.to_string()), "{err}");
        assert_eq!(files(&dir.lists()), Vec::<String>::new());
    }
}

/// Downloads `V1` for `ads` and returns the downloader, copy and metadata to compare with.
async fn with_good_copy(
    dir: &TempDir,
    url: &str,
    limits: DownloadLimits,
) -> (Downloader, CopyInfo) {
    let d = downloader(dir, limits);
    d.fetch("ads", url, &any, &quiet).await.expect("good copy");
    let info = d.copy_info("ads").expect("metadata");
    (d, info)
}

fn assert_copy_kept(d: &Downloader, info: &CopyInfo) {
    assert_eq!(read(&d.copy_path("ads")), V1.as_bytes());
    assert_eq!(d.copy_info("ads").as_ref(), Some(info));
    let copy = d.copy_path("ads");
    let lists = copy.parent().expect("lists directory");
    assert_eq!(files(lists), ["ads.meta.json", "ads.txt"]);
}

#[tokio::test]
async fn persistent_500_keeps_the_old_copy() {
    let server = Server::start(|i, _| match i {
        0 => Reply::ok(V1).header("ETag", "\"v1\""),
        _ => Reply::status(500),
    });
    let dir = TempDir::new("500");
    let url = server.url("/ads.txt");
    let (d, info) = with_good_copy(&dir, &url, limits()).await;

    let err = d.fetch("ads", &url, &any, &quiet).await.unwrap_err();

    assert!(
        matches!(err, DownloadError::Http { status: 500, .. }),
        "{err:?}"
    );
    assert_eq!(
        server.count(),
        1 + 3,
        "three attempts after the first fetch"
    );
    assert!(err.to_string().contains(&url), "{err}");
    assert_copy_kept(&d, &info);
}

#[tokio::test]
async fn server_gone_keeps_the_old_copy() {
    let mut server = Server::start(|_, _| Reply::ok(V1));
    let dir = TempDir::new("gone");
    let url = server.url("/ads.txt");
    let (d, info) = with_good_copy(&dir, &url, limits()).await;
    server.stop();

    let err = d.fetch("ads", &url, &any, &quiet).await.unwrap_err();

    assert!(matches!(err, DownloadError::Request { .. }), "{err:?}");
    assert!(err.to_string().contains(&url), "{err}");
    assert_copy_kept(&d, &info);
}

#[tokio::test]
async fn too_large_writes_nothing() {
    let max = 1000;
    let small = DownloadLimits {
        max_bytes: max,
        ..limits()
    };
    // Announced by Content-Length, and found while streaming a body that ends at close.
    let server = Server::start(move |_, req| match req.path.as_str() {
        "/exact" => Reply::ok(vec![b'a'; 1000]),
        "/announced" => Reply::ok(vec![b'a'; 1001]),
        _ => Reply {
            length: false,
            ..Reply::ok(vec![b'a'; 4 << 20])
        },
    });
    for path in ["/announced", "/streamed"] {
        let dir = TempDir::new("too-large");
        let d = downloader(&dir, small.clone());
        let before = server.count();

        let err = d
            .fetch("big", &server.url(path), &any, &quiet)
            .await
            .unwrap_err();

        assert!(
            matches!(err, DownloadError::TooLarge { max: 1000, .. }),
            "{path}: {err:?}"
        );
        assert_eq!(server.count(), before + 1, "{path}: not retried");
        assert_eq!(files(&dir.lists()), Vec::<String>::new(), "{path}");
        assert!(err.to_string().contains(path), "{err}");
    }

    // Exactly the limit is fine, and a later oversized body leaves it in place.
    let dir = TempDir::new("too-large-kept");
    let d = downloader(&dir, small);
    let fetched = d.fetch("big", &server.url("/exact"), &any, &quiet).await;
    assert_eq!(fetched.ok(), Some(Fetched::Changed { bytes: max }));
    let err = d
        .fetch("big", &server.url("/streamed"), &any, &quiet)
        .await
        .unwrap_err();
    assert!(matches!(err, DownloadError::TooLarge { .. }), "{err:?}");
    assert_eq!(read(&d.copy_path("big")), vec![b'a'; 1000]);
    assert_eq!(
        d.copy_info("big").map(|i| i.url),
        Some(server.url("/exact"))
    );
}

#[tokio::test]
async fn rejected_body_keeps_the_old_copy() {
    let server = Server::start(|i, _| match i {
        0 => Reply::ok(V1),
        _ => Reply::ok("<html>login required</html>"),
    });
    let dir = TempDir::new("rejected");
    let url = server.url("/ads.txt");
    let no_html = |body: &[u8]| {
        if body.starts_with(b"<") {
            Err("looks like HTML, not a list".to_owned())
        } else {
            Ok(())
        }
    };
    let d = downloader(&dir, limits());
    d.fetch("ads", &url, &no_html, &quiet)
        .await
        .expect("good copy");
    let info = d.copy_info("ads").expect("metadata");

    let err = d.fetch("ads", &url, &no_html, &quiet).await.unwrap_err();

    match &err {
        DownloadError::Rejected { reason, .. } => {
            assert_eq!(reason, "looks like HTML, not a list")
        }
        other => panic!("expected Rejected, got {other:?}"),
    }
    assert!(err.to_string().contains(&url), "{err}");
    assert_eq!(server.count(), 2, "a rejected body is not fetched again");
    assert_copy_kept(&d, &info);
}

#[tokio::test]
async fn slow_server_times_out() {
    let server = Server::start(|_, req| match req.path.as_str() {
        "/slow-headers" => Reply {
            delay: Duration::from_secs(3),
            ..Reply::ok(V1)
        },
        // The headers arrive at once, the second half of the body does not.
        _ => Reply {
            stall: Duration::from_secs(3),
            ..Reply::ok(vec![b'a'; 10_000])
        },
    });
    let quick = DownloadLimits {
        timeout: Duration::from_millis(200),
        attempts: 2,
        ..limits()
    };
    for path in ["/slow-headers", "/slow-body"] {
        let dir = TempDir::new("timeout");
        let d = downloader(&dir, quick.clone());
        let before = server.count();
        let started = Instant::now();

        let err = d
            .fetch("ads", &server.url(path), &any, &quiet)
            .await
            .unwrap_err();

        assert!(
            matches!(err, DownloadError::Timeout { .. }),
            "{path}: {err:?}"
        );
        assert_eq!(server.count(), before + 2, "{path}: a timeout is retried");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{path}: took {:?}",
            started.elapsed()
        );
        assert_eq!(files(&dir.lists()), Vec::<String>::new());
    }
}

#[tokio::test]
async fn progress_reports_the_final_count() {
    let size = (3 << 20) + 123;
    let server = Server::start(move |_, _| Reply::ok(vec![b'a'; size]));
    let dir = TempDir::new("progress");
    let d = downloader(
        &dir,
        DownloadLimits {
            max_bytes: 8 << 20,
            ..limits()
        },
    );
    let calls = Mutex::new(Vec::new());
    let record = |n: u64| calls.lock().expect("calls").push(n);

    d.fetch("ads", &server.url("/big"), &any, &record)
        .await
        .expect("fetch");

    let calls = calls.into_inner().expect("calls");
    assert_eq!(calls.last(), Some(&(size as u64)), "{calls:?}");
    assert!(calls.windows(2).all(|w| w[0] <= w[1]), "{calls:?}");
    // About every MiB: at most one call per whole MiB, plus the final one.
    assert!(calls.len() >= 2 && calls.len() <= 4, "{calls:?}");
}

#[tokio::test]
async fn ids_that_leave_the_lists_directory_are_refused() {
    let server = Server::start(|_, _| Reply::ok(V1));
    let dir = TempDir::new("ids");
    let d = downloader(&dir, limits());
    let long = "x".repeat(129);
    let bad = [
        "",
        "../x",
        "..",
        ".",
        ".hidden",
        "a/b",
        "a\\b",
        "/etc/x",
        "a b",
        "é",
        "a\0b",
        long.as_str(),
    ];
    for id in bad {
        assert!(check_list_id(id).is_err(), "{id:?}");
        let err = d
            .fetch(id, &server.url("/x"), &any, &quiet)
            .await
            .unwrap_err();
        assert!(
            matches!(err, DownloadError::InvalidId { .. }),
            "{id:?}: {err:?}"
        );
        assert_eq!(d.copy_info(id), None);
    }
    assert_eq!(server.count(), 0, "no request for a refused id");
    assert_eq!(files(&dir.0), Vec::<String>::new(), "nothing written");

    let longest = "x".repeat(128);
    for id in ["ads", "a-b_c.d", "OISD.big", "2024", longest.as_str()] {
        assert!(check_list_id(id).is_ok(), "{id:?}");
    }
}

#[tokio::test]
async fn other_urls_are_refused() {
    let dir = TempDir::new("urls");
    let d = downloader(&dir, limits());
    for url in ["ftp://127.0.0.1/x", "file:///etc/passwd", "not a url", ""] {
        let err = d.fetch("ads", url, &any, &quiet).await.unwrap_err();
        assert!(
            matches!(err, DownloadError::InvalidUrl { .. }),
            "{url}: {err:?}"
        );
    }
    assert_eq!(files(&dir.0), Vec::<String>::new());
}

#[tokio::test]
async fn not_modified_without_a_copy_is_an_error() {
    let server = Server::start(|_, _| Reply::status(304));
    let dir = TempDir::new("stray-304");
    let d = downloader(
        &dir,
        DownloadLimits {
            attempts: 1,
            ..limits()
        },
    );

    let err = d
        .fetch("ads", &server.url("/ads.txt"), &any, &quiet)
        .await
        .unwrap_err();

    assert!(
        matches!(err, DownloadError::Http { status: 304, .. }),
        "{err:?}"
    );
    assert_eq!(files(&dir.0), Vec::<String>::new());
}

#[tokio::test]
async fn redirects_are_followed() {
    let server = Server::start(|_, req| match req.path.as_str() {
        "/old" => Reply::status(301).header("Location", "/new"),
        _ => Reply::ok(V1),
    });
    let dir = TempDir::new("redirect");
    let d = downloader(&dir, limits());
    let url = server.url("/old");

    let fetched = d.fetch("ads", &url, &any, &quiet).await.expect("fetch");

    assert_eq!(
        fetched,
        Fetched::Changed {
            bytes: V1.len() as u64
        }
    );
    let paths: Vec<String> = server.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/old", "/new"]);
    assert_eq!(d.copy_info("ads").map(|i| i.url), Some(url));
}

#[tokio::test]
async fn https_refuses_a_certificate_from_no_public_authority() {
    use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

    // A TLS server on 127.0.0.1 with a self-signed certificate: the handshake must run
    // (rustls on ring is wired in) and fail (only the Mozilla roots are trusted).
    let certified =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".into()]).expect("certificate");
    let key = PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(
            vec![certified.cert.der().clone()],
            PrivateKeyDer::Pkcs8(key),
        )
        .expect("server config");
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local address");
    let handshakes = Arc::new(AtomicUsize::new(0));
    {
        let handshakes = handshakes.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().take(1) {
                let Ok(stream) = stream else { continue };
                let Ok(conn) = rustls::ServerConnection::new(config.clone()) else {
                    continue;
                };
                handshakes.fetch_add(1, Ordering::SeqCst);
                let mut tls = rustls::StreamOwned::new(conn, stream);
                // Drives the handshake until the client gives up on the certificate.
                let _ = std::io::Read::read(&mut tls, &mut [0; 1]);
            }
        });
    }
    let dir = TempDir::new("tls");
    let d = downloader(
        &dir,
        DownloadLimits {
            attempts: 1,
            ..limits()
        },
    );
    let url = format!("https://{addr}/ads.txt");

    let err = d.fetch("ads", &url, &any, &quiet).await.unwrap_err();

    assert!(matches!(err, DownloadError::Request { .. }), "{err:?}");
    assert!(err.to_string().contains("certificate"), "{err}");
    assert_eq!(handshakes.load(Ordering::SeqCst), 1);
    assert_eq!(files(&dir.0), Vec::<String>::new());
}

#[test]
fn fetch_can_be_spawned() {
    fn assert_send<T: Send>(_: &T) {}
    let dir = TempDir::new("send");
    let d = downloader(&dir, limits());
    let fetch = d.fetch("ads", "http://127.0.0.1:9/", &any, &quiet);
    assert_send(&fetch);
}

#[test]
fn defaults_match_the_documentation() {
    let limits = DownloadLimits::default();
    assert_eq!(limits.max_bytes, 64 << 20);
    assert_eq!(limits.timeout, Duration::from_secs(60));
    assert_eq!(limits.attempts, 3);
    assert_eq!(limits.backoff, Duration::from_secs(1));
}
