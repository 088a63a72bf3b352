//! Inputs the `admin_body` fuzz target (fuzz/fuzz_targets/admin_body.rs) found,
//! minimised, each with what it broke. The target's invariants, checked here for these
//! inputs.

mod support;

use axum::http::{Method, StatusCode};
use support::setup;
use ward_admin::auth::Credentials;

/// `POST /api/v1/records` with a CNAME value in mixed case answered 200 and served the
/// value as sent (`nas.xamPle`), while the file it saved loads as `nas.xample`: the
/// loader normalises names, the API's write path does not, so what serves is not what
/// the file holds (nor what a restart serves).
#[tokio::test]
async fn a_record_written_in_mixed_case_serves_as_the_file_loads() {
    let s = setup("fuzz-mixed-case", Credentials::none(), false);
    let body = r#"{"name": "c.home.example", "type": "CNAME", "value": "nas.xamPle"}"#;
    let (status, answer) = s.local(Method::POST, "/api/v1/records", Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(*s.reloader.current().config, s.saved());
}
