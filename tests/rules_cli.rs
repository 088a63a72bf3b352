//! `ward check` and `ward compile`, run as a user runs them.

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

fn data(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
        .display()
        .to_string()
}

fn ward(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ward"))
        .args(args)
        .output()
        .expect("run ward")
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "ward failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

#[test]
fn check_cites_the_deciding_rule_with_list_and_line() {
    let list = data("easylist.txt");
    let out = stdout(&ward(&["check", "--rules", &list, "x.ads.example"]));
    assert_eq!(
        out,
        "blocked by `||ads.example^` (list easylist.txt, line 12)\n"
    );
    let out = stdout(&ward(&["check", "--rules", &list, "good.ads.example"]));
    assert_eq!(
        out,
        "allowed by `@@||good.ads.example^` (list easylist.txt, line 9)\n"
    );
    let out = stdout(&ward(&["check", "--rules", &list, "unlisted.example"]));
    assert_eq!(out, "not filtered: no rule matches\n");
}

#[test]
fn check_takes_client_and_qtype() {
    let list = data("easylist.txt");
    let out = stdout(&ward(&[
        "check",
        "--rules",
        &list,
        "--client",
        "127.0.0.3",
        "kids.example",
    ]));
    assert!(
        out.starts_with("blocked by `||kids.example^$client=127.0.0.3|'Kids tablet'`"),
        "{out}"
    );
    let out = stdout(&ward(&[
        "check",
        "--rules",
        &list,
        "--client",
        "127.0.0.4",
        "kids.example",
    ]));
    assert_eq!(out, "not filtered: no rule matches\n");
    let out = stdout(&ward(&[
        "check",
        "--rules",
        &list,
        "--qtype",
        "aaaa",
        "rewrite.example",
    ]));
    assert!(
        out.starts_with("rewritten to A 192.0.2.7, AAAA 2001:db8::7 by"),
        "{out}"
    );
    let hosts = data("hosts.txt");
    let out = stdout(&ward(&[
        "check",
        "--rules",
        &hosts,
        "--qtype",
        "AAAA",
        "nas.home.example",
    ]));
    assert_eq!(
        out,
        "answered with 2001:db8::20 by `2001:db8::20 nas.home.example` (list hosts.txt, line 5)\n"
    );
}

#[test]
fn check_queries_json_one_object_per_query() {
    let out = stdout(&ward(&[
        "check",
        "--rules",
        &data("easylist.txt"),
        "--rules",
        &data("hosts.txt"),
        "--queries",
        &data("queries.txt"),
        "--json",
    ]));
    let rows: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 14, "{out}");
    let row = |name: &str, qtype: &str, client: Value| {
        rows.iter()
            .find(|r| r["name"] == name && r["qtype"] == qtype && r["client"] == client)
            .unwrap_or_else(|| panic!("no row for {name} {qtype} {client}"))
    };
    let null = Value::Null;

    let r = row("x.ads.example", "A", null.clone());
    assert_eq!(r["reason"], "FilteredBlockList");
    assert_eq!(r["rules"][0]["text"], "||ads.example^");
    assert_eq!(r["rules"][0]["list"], "easylist.txt");
    assert_eq!(r["ip_addrs"], null);
    assert_eq!(r["dnsrewrite"], null);

    assert_eq!(
        row("good.ads.example", "A", null.clone())["reason"],
        "NotFilteredAllowList"
    );

    let r = row("hosted-ads.example", "AAAA", null.clone());
    assert_eq!(
        (r["reason"].as_str(), r["rules"][0]["list"].as_str()),
        (Some("FilteredBlockList"), Some("hosts.txt"))
    );

    let r = row("nas.home.example", "A", "127.0.0.2".into());
    assert_eq!(r["ip_addrs"], serde_json::json!(["192.168.1.20"]));
    assert_eq!(
        row("nas.home.example", "AAAA", null.clone())["ip_addrs"],
        serde_json::json!(["2001:db8::20"])
    );

    let r = row("rewrite.example", "A", null.clone());
    assert_eq!(r["reason"], "RewrittenRule");
    assert_eq!(r["rules"].as_array().unwrap().len(), 2);
    assert_eq!(
        r["dnsrewrite"],
        serde_json::json!({"rcode": "NOERROR", "cname": null,
            "records": [{"type": "A", "value": "192.0.2.7"}, {"type": "AAAA", "value": "2001:db8::7"}]})
    );
    assert_eq!(
        row("cname.example", "A", null.clone())["dnsrewrite"]["cname"],
        "target.example"
    );
    assert_eq!(
        row("nx.example", "TXT", null.clone())["dnsrewrite"]["rcode"],
        "NXDOMAIN"
    );

    assert_eq!(
        row("kids.example", "A", "127.0.0.3".into())["reason"],
        "FilteredBlockList"
    );
    assert_eq!(
        row("kids.example", "A", "127.0.0.4".into())["reason"],
        "NotFilteredNotFound"
    );
    let by_name = rows
        .iter()
        .find(|r| r["client_name"] == "Kids tablet")
        .unwrap();
    assert_eq!(by_name["reason"], "FilteredBlockList");

    // The exception in hosts.txt (a second list) loses to $important in easylist.txt.
    let r = row("important.example", "A", null.clone());
    assert_eq!(
        (r["reason"].as_str(), r["rules"][0]["text"].as_str()),
        (
            Some("FilteredBlockList"),
            Some("||important.example^$important")
        )
    );

    // $third-party rules are ignored as a whole.
    assert_eq!(
        row("tracker.example", "A", null.clone())["reason"],
        "NotFilteredNotFound"
    );
    let r = row("unlisted.example", "A", null);
    assert_eq!(
        (r["reason"].as_str(), r["rules"].as_array().map(Vec::len)),
        (Some("NotFilteredNotFound"), Some(0))
    );
}

#[test]
fn a_bad_query_line_is_reported_and_the_rest_answered() {
    let dir = std::env::temp_dir().join(format!("ward-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let queries = dir.join("queries.txt");
    std::fs::write(
        &queries,
        "x.ads.example\nbad.example NOTATYPE\nx.ads.example A not-an-ip\nunlisted.example\n",
    )
    .unwrap();
    let out = ward(&[
        "check",
        "--rules",
        &data("easylist.txt"),
        "--queries",
        queries.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("queries.txt:2:") && stderr.contains("NOTATYPE"),
        "{stderr}"
    );
    assert!(
        stderr.contains("queries.txt:3:") && stderr.contains("not-an-ip"),
        "{stderr}"
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 2);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_missing_list_is_a_clear_error() {
    let out = ward(&["check", "--rules", "/nonexistent/list.txt", "example.org"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("reading /nonexistent/list.txt"), "{stderr}");
}

#[test]
fn compile_reports_counts_time_and_memory() {
    let out = stdout(&ward(&[
        "compile",
        &data("easylist.txt"),
        &data("hosts.txt"),
    ]));
    assert!(
        out.contains("easylist.txt: 18 lines, 8 rules, 7 comments, 1 blank, 2 skipped\n"),
        "{out}"
    );
    assert!(
        out.contains("  skipped: cosmetic 1, unsupported_modifier 1\n"),
        "{out}"
    );
    assert!(
        out.contains("hosts.txt: 6 lines, 5 rules, 1 comments, 0 blank, 0 skipped\n"),
        "{out}"
    );
    assert!(out.contains("total: 13 rules in 2 lists\n"), "{out}");
    assert!(out.contains("compile time: "), "{out}");
    assert!(out.contains("memory: "), "{out}");

    let out = stdout(&ward(&["compile", "--json", &data("easylist.txt")]));
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["rules"], 8);
    assert_eq!(
        v["lists"][0]["skipped_by_reason"]["unsupported_modifier"],
        1
    );
    assert!(v["memory_bytes"].as_u64().unwrap() > v["text_bytes"].as_u64().unwrap());
}
