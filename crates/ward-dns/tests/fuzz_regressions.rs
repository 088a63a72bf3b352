//! Inputs the `dns_request` fuzz target (fuzz/fuzz_targets/dns_request.rs) found,
//! minimised, each with what it broke. The target's invariants, checked here for these
//! inputs.

use std::net::SocketAddr;
use std::sync::Arc;

use ward_dns::handler::{Handler, Runtime};

fn handler(rt: &tokio::runtime::Runtime) -> Handler {
    let config = ward_config::Config::from_yaml(
        "upstreams: { default: { servers: [\"127.0.0.1:9\"] } }\n\
         policies: { main: {} }\ndefault_policy: main\n",
    )
    .unwrap();
    let lists = ward_state::DiskLists {
        data_dir: std::env::temp_dir(),
    };
    let snapshot = ward_state::Snapshot::build(config, &lists, 1).unwrap();
    let (runtime, _) = rt.block_on(Runtime::build(Arc::new(snapshot)));
    Handler::new(runtime)
}

/// A UDP query with 200 questions (no EDNS) got a FORMERR that repeated all 200: 1,012
/// bytes to a client that takes 512 (the fuzzer's was 256 questions, 1,546 bytes). The
/// full path's error answers (`answer::response_to` after `read_question` refuses) do not
/// go through `fit`, and `response_to` copied every question; now such an answer has no
/// question section.
#[test]
fn a_formerr_to_many_questions_fits_in_512_bytes() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let handler = handler(&rt);
    let mut request = vec![0x12, 0x34, 0x01, 0x00, 0, 200, 0, 0, 0, 0, 0, 0];
    for _ in 0..200 {
        // The root name, type A, class IN.
        request.extend_from_slice(&[0, 0, 1, 0, 1]);
    }
    let src: SocketAddr = "127.0.0.2:5353".parse().unwrap();
    let answer = rt
        .block_on(handler.handle(&request, src, true))
        .expect("a FORMERR");
    assert_eq!(answer[..2], [0x12, 0x34]);
    assert_eq!(answer[3] & 0x0f, 1, "FORMERR");
    assert!(answer.len() <= 512, "{} bytes over UDP", answer.len());
}
