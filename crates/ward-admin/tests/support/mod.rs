//! What the admin API tests share: a config in a temporary directory, a Reloader over it,
//! the router, and requests through it (`oneshot`) from a given address.

// Each test binary uses its own part of this.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, StatusCode, header};
use base64::Engine as _;
use http_body_util::BodyExt;
use tower::ServiceExt;
use ward_admin::api::Control;
use ward_admin::auth::Credentials;
use ward_admin::{AdminState, router};
use ward_config::Config;
use ward_state::reload::{ApplyFn, Reloader};
use ward_state::{DiskLists, Snapshot};

pub const LOCAL: &str = "127.0.0.1:40000";
pub const REMOTE: &str = "192.0.2.10:40000";

pub struct Setup {
    pub app: Router,
    pub state: AdminState,
    pub reloader: Arc<Reloader>,
    pub config_path: PathBuf,
    pub dir: PathBuf,
}

impl Drop for Setup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Setup {
    /// The config file as it is on disk now.
    pub fn saved(&self) -> Config {
        Config::from_yaml(&std::fs::read_to_string(&self.config_path).unwrap()).unwrap()
    }

    /// The generation serving now.
    pub fn generation(&self) -> u64 {
        self.reloader.current().generation
    }

    /// A request from loopback without credentials.
    pub async fn local(
        &self,
        method: Method,
        uri: &str,
        body: Option<&str>,
    ) -> (StatusCode, String) {
        call(&self.app, method, uri, LOCAL, None, body).await
    }
}

/// Every field of every resource is set somewhere here (the schema tests rely on it): a
/// path list and a URL list (disabled), a policy with only lists and one with everything
/// else, two upstream groups (one with a strategy), a named client rule, a forward rule, a
/// record.
pub fn config_text(rule: &str, list: &Path) -> String {
    let dir = list.parent().unwrap();
    format!(
        r#"data_dir: "{data}"
upstreams:
  default: {{ servers: ["127.0.0.1:5399"] }}
  router: {{ servers: ["127.0.0.1:5398", "tcp://127.0.0.1:5397"], strategy: failover }}
forward:
  - {{ zones: [home.example], upstream: router }}
records:
  - {{ name: nas.home.example, type: A, value: 10.0.0.5, ttl: 60 }}
  - {{ name: media.lan.example, type: A, value: 10.0.0.9, managed_by: external-dns }}
lists:
  - {{ id: ads, path: "{list}" }}
  - {{ id: remote, url: "http://127.0.0.1:9/list.txt", refresh: 24h, enabled: false }}
  - {{ id: known, catalogue: adguard-dns, enabled: false }}
  - {{ id: keep, url: "http://127.0.0.1:9/keep.txt", enabled: false, allow: true }}
policies:
  main: {{ lists: [ads], rules: ["{rule}"] }}
  kids:
    extends: main
    rules: ["||games.example^"]
    upstream: default
    blocking_mode: nxdomain
    safe_search: {{ google: true, youtube: moderate }}
    blocked_services: [tiktok]
    schedules:
      - {{ name: weekend, days: weekends, from: "09:00", to: "10:00", time_zone: UTC, block_services: [roblox], allow_services: [tiktok], block_lists: [known], pause_lists: [remote] }}
clients:
  - {{ subnet: 10.0.20.0/24, client_ids: [kids-tablet], policy: kids, name: kids-devices, tags: [user_child] }}
default_policy: main
"#,
        data = dir.join("data").display(),
        list = list.display()
    )
}

pub fn setup(tag: &str, credentials: Credentials, read_only: bool) -> Setup {
    setup_applying(
        tag,
        credentials,
        read_only,
        Box::new(|_| Box::pin(async {})),
    )
}

/// [`setup`] whose reloader hands each new snapshot to `apply` (a slow one, say).
pub fn setup_applying(
    tag: &str,
    credentials: Credentials,
    read_only: bool,
    apply: ApplyFn,
) -> Setup {
    let dir = std::env::temp_dir().join(format!("ward-admin-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let list = dir.join("ads.txt");
    std::fs::write(&list, "! ads\n||ads.example^\n||tracker.example^\n").unwrap();
    let config_path = dir.join("ward.yaml");
    std::fs::write(&config_path, config_text("||custom.example^", &list)).unwrap();
    let config = Config::from_yaml(&std::fs::read_to_string(&config_path).unwrap()).unwrap();
    let texts = DiskLists {
        data_dir: dir.join("data"),
    };
    let snapshot = Snapshot::build(config, &texts, 1).unwrap();
    let reloader = Arc::new(Reloader::new(
        Some(config_path.clone()),
        Arc::new(snapshot),
        apply,
    ));
    let state = AdminState::new(credentials, read_only);
    state.set_control(Control {
        reloader: reloader.clone(),
        config_path: Some(config_path.clone()),
    });
    state.set_ready(true);
    Setup {
        app: router(state.clone()),
        state,
        reloader,
        config_path,
        dir,
    }
}

pub async fn call(
    app: &Router,
    method: Method,
    uri: &str,
    from: &str,
    auth: Option<&str>,
    body: Option<&str>,
) -> (StatusCode, String) {
    let (status, _, body) = call_full(app, method, uri, from, auth, body).await;
    (status, body)
}

/// Like [`call`], with the answer's headers.
pub async fn call_full(
    app: &Router,
    method: Method,
    uri: &str,
    from: &str,
    auth: Option<&str>,
    body: Option<&str>,
) -> (StatusCode, axum::http::HeaderMap, String) {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(auth) = auth {
        req = req.header(header::AUTHORIZATION, auth);
    }
    // As a real client says what it sends (the API refuses a body of no declared type):
    // the whole config goes as YAML, everything else as JSON.
    if body.is_some() {
        let kind = if uri.starts_with("/api/v1/config") {
            "application/yaml"
        } else {
            "application/json"
        };
        req = req.header(header::CONTENT_TYPE, kind);
    }
    let mut req = req
        .body(body.map_or_else(Body::empty, |b| Body::from(b.to_owned())))
        .unwrap();
    req.extensions_mut()
        .insert(ConnectInfo(from.parse::<SocketAddr>().unwrap()));
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        headers,
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

pub fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

pub fn basic(user: &str, password: &str) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {encoded}")
}
