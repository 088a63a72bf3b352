//! Fuzzes admin API request bodies: arbitrary bytes as the body of a write, through the
//! real router (`ward_admin::router`, with its guards and body limit), from a loopback
//! peer, over a config file in a temporary directory and a real Reloader.
//!
//! Input layout: the first byte picks the route (see `ROUTES`: every write that takes a
//! body, with the content type the API documents for it); the rest is the body.
//!
//! Beyond "does not panic", a write is all or nothing and a user's mistake is a 4xx: the
//! status is one of 200, 400, 404, 409, 413, 415 or 422 (a 500 is a finding); after any
//! write the serving config validates and is what the file holds; a refused write leaves
//! both as they were. A write that succeeds is undone by putting the first config back,
//! so each input starts from the same state.
#![no_main]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt;
use ward_admin::api::Control;
use ward_admin::auth::Credentials;
use ward_admin::{AdminState, router};
use ward_config::Config;
use ward_state::reload::Reloader;
use ward_state::{DiskLists, Snapshot};

const JSON: &str = "application/json";
const YAML: &str = "application/yaml";

/// Every write with a body: method, path, content type.
const ROUTES: [(Method, &str, &str); 15] = [
    (Method::POST, "/api/v1/lists", JSON),
    (Method::PUT, "/api/v1/lists/ads", JSON),
    (Method::POST, "/api/v1/policies", JSON),
    (Method::PUT, "/api/v1/policies/main", JSON),
    (Method::PUT, "/api/v1/policies/kids", JSON),
    (Method::PUT, "/api/v1/policies/main/rules", JSON),
    (Method::POST, "/api/v1/policies/main/rules", JSON),
    (Method::PUT, "/api/v1/clients", JSON),
    (Method::POST, "/api/v1/clients", JSON),
    (Method::PUT, "/api/v1/records", JSON),
    (Method::POST, "/api/v1/records", JSON),
    (Method::POST, "/api/v1/upstreams", JSON),
    (Method::PUT, "/api/v1/upstreams/default", JSON),
    (Method::PUT, "/api/v1/config", YAML),
    (Method::PUT, "/api/v1/config", JSON),
];

/// The statuses a write may answer with, whatever its body.
const EXPECTED: [StatusCode; 7] = [
    StatusCode::OK,
    StatusCode::BAD_REQUEST,
    StatusCode::NOT_FOUND,
    StatusCode::CONFLICT,
    StatusCode::PAYLOAD_TOO_LARGE,
    StatusCode::UNSUPPORTED_MEDIA_TYPE,
    StatusCode::UNPROCESSABLE_ENTITY,
];

struct Fixture {
    rt: tokio::runtime::Runtime,
    app: Router,
    reloader: Arc<Reloader>,
    config_path: PathBuf,
    /// The config the fixture starts with, as its file held it.
    first: String,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("ward-fuzz-admin-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("data")).unwrap();
        let list = dir.join("ads.txt");
        std::fs::write(&list, "! ads\n||ads.example^\n||tracker.example^\n").unwrap();
        std::fs::write(dir.join("more.txt"), "||more.example^\n").unwrap();
        let config_path = dir.join("ward.yaml");
        let first = format!(
            r#"data_dir: "{data}"
upstreams:
  default: {{ servers: ["127.0.0.1:5399"] }}
  router: {{ servers: ["127.0.0.1:5398", "tcp://127.0.0.1:5397"], strategy: failover }}
forward:
  - {{ zones: [home.example], upstream: router }}
records:
  - {{ name: nas.home.example, type: A, value: 10.0.0.5, ttl: 60 }}
  - {{ name: "*.lan.example", type: A, value: 10.0.0.6 }}
lists:
  - {{ id: ads, path: "{list}" }}
  - {{ id: remote, url: "http://127.0.0.1:9/list.txt", refresh: 24h, enabled: false }}
policies:
  main: {{ lists: [ads], rules: ["||custom.example^"] }}
  kids: {{ extends: main, rules: ["||games.example^"], upstream: default, blocking_mode: nxdomain }}
clients:
  - {{ subnet: 10.0.20.0/24, policy: kids, name: kids-devices, tags: [user_child] }}
default_policy: main
"#,
            data = dir.join("data").display(),
            list = list.display()
        );
        std::fs::write(&config_path, &first).unwrap();
        let config = Config::from_yaml(&first).unwrap_or_else(|e| panic!("{e}"));
        let texts = DiskLists {
            data_dir: dir.join("data"),
        };
        let snapshot = Snapshot::build(config, &texts, 1).unwrap();
        let reloader = Arc::new(Reloader::new(
            Some(config_path.clone()),
            Arc::new(snapshot),
            Box::new(|_| Box::pin(async {})),
        ));
        let state = AdminState::new(Credentials::none(), false);
        state.set_control(Control {
            reloader: reloader.clone(),
            config_path: Some(config_path.clone()),
        });
        state.set_ready(true);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        Fixture {
            rt,
            app: router(state),
            reloader,
            config_path,
            first,
        }
    })
}

async fn call(
    app: &Router,
    method: Method,
    uri: &str,
    kind: &str,
    body: Vec<u8>,
) -> (StatusCode, String) {
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::CONTENT_TYPE, kind)
        .body(Body::from(body))
        .unwrap();
    let peer: SocketAddr = "127.0.0.1:40000".parse().unwrap();
    req.extensions_mut().insert(ConnectInfo(peer));
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

/// The config the file holds, which must be the one serving.
fn check_saved_is_serving(f: &Fixture, what: &str) -> Arc<Config> {
    let serving = f.reloader.current().config.clone();
    if let Err(e) = serving.validate() {
        panic!("{what}: the serving config does not validate: {e}");
    }
    let text = std::fs::read_to_string(&f.config_path).unwrap();
    match Config::from_yaml(&text) {
        Ok(saved) => assert!(
            saved == *serving,
            "{what}: the file and what serves differ:\n{text}"
        ),
        Err(e) => panic!("{what}: the saved config does not load: {e}\n{text}"),
    }
    serving
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, body)) = data.split_first() else {
        return;
    };
    let (method, uri, kind) = &ROUTES[usize::from(sel) % ROUTES.len()];
    let f = fixture();
    f.rt.block_on(async {
        let before = f.reloader.current();
        let file_before = std::fs::read(&f.config_path).unwrap();
        let (status, answer) = call(&f.app, method.clone(), uri, kind, body.to_vec()).await;
        assert!(
            EXPECTED.contains(&status),
            "{method} {uri}: {status} {answer}"
        );
        check_saved_is_serving(f, "after the write");
        if status != StatusCode::OK {
            assert!(
                Arc::ptr_eq(&before, &f.reloader.current()),
                "{method} {uri}: refused ({status}), yet another snapshot serves: {answer}"
            );
            assert_eq!(
                std::fs::read(&f.config_path).unwrap(),
                file_before,
                "{method} {uri}: refused ({status}), yet the file changed: {answer}"
            );
            return;
        }
        let (status, answer) = call(
            &f.app,
            Method::PUT,
            "/api/v1/config",
            YAML,
            f.first.clone().into_bytes(),
        )
        .await;
        assert_eq!(
            status,
            StatusCode::OK,
            "putting the first config back: {answer}"
        );
        check_saved_is_serving(f, "after putting the first config back");
    });
});
