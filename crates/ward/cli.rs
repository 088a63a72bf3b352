//! Commands: `check` (why is this name blocked?), `compile` (what do these lists cost?) and
//! `validate` (is this config file right?).

use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use serde_json::{Value, json};
use ward_config::window::Timestamp;
use ward_rules::{
    ListMask, Reason, RecordType, Request, RewriteRecord, RuleSet, SkipReason, Verdict,
    parse_record_type, rcode_name,
};
use ward_state::{Citation, ClientInfo, ConfinedLists, Snapshot};

/// Ward, a DNS filtering server.
#[derive(Debug, Parser)]
#[command(name = "ward", version, about)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Decide a name (or a file of queries) as AdGuard Home would, and say which rule decided.
    Check(CheckArgs),
    /// Compile lists and report rule counts, skipped lines, compile time and memory.
    Compile(CompileArgs),
    /// Check a config file: print every error with its field and line, or a summary.
    Validate(crate::config::ValidateArgs),
    /// Run the DNS server (on the embedded default config without --config).
    Serve(crate::serve::ServeArgs),
    /// Write a Ward config from an AdGuardHome.yaml, and say what could not be mapped.
    ImportAdguard(crate::config::ImportArgs),
}

#[derive(Debug, clap::Args)]
struct CheckArgs {
    /// A filter list (hosts, domains or adblock syntax). Repeat for several lists.
    #[arg(long = "rules", value_name = "FILE")]
    rules: Vec<PathBuf>,
    /// A config file instead of lists: decide as `ward serve` would, with the policy of
    /// the client's subnet (its lists and rules) and the client's name and tags from the
    /// config's `clients`.
    #[arg(long, value_name = "FILE", conflicts_with = "rules")]
    config: Option<PathBuf>,
    /// The client's IP address, for `$client` rules (and, with --config, its policy,
    /// name and tags).
    #[arg(long, value_name = "IP")]
    client: Option<IpAddr>,
    /// The client's name, for `$client` rules (instead of the config's).
    #[arg(long, value_name = "NAME")]
    client_name: Option<String>,
    /// A client tag, for `$ctag` rules (instead of the config's). Repeat for several.
    #[arg(long = "ctag", value_name = "TAG")]
    ctags: Vec<String>,
    /// The query type.
    #[arg(long, value_name = "TYPE", default_value = "A", value_parser = parse_qtype)]
    qtype: RecordType,
    /// Read queries from FILE, one per line: `hostname [qtype] [client_ip|-] [client name...]`.
    #[arg(long, value_name = "FILE", conflicts_with = "name")]
    queries: Option<PathBuf>,
    /// With --config: decide as at this time, with the schedules open then. `21:30`
    /// (today), `fri 21:30` (the coming Friday), `2026-12-04T21:30` (on the config's
    /// `time_zone`), or RFC 3339 with an offset; unset means now.
    #[arg(long, value_name = "TIME", requires = "config")]
    at: Option<String>,
    /// Print one JSON object per query.
    #[arg(long)]
    json: bool,
    /// The name to check.
    #[arg(required_unless_present = "queries")]
    name: Option<String>,
}

#[derive(Debug, clap::Args)]
struct CompileArgs {
    /// Filter lists to compile into one rule set.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

fn parse_qtype(s: &str) -> Result<RecordType, String> {
    parse_record_type(s)
}

pub fn run(args: Args) -> Result<ExitCode> {
    match args.command {
        Command::Check(a) => check(a),
        Command::Compile(a) => compile(a),
        Command::Validate(a) => crate::config::validate(a),
        Command::Serve(a) => crate::serve::serve(a),
        Command::ImportAdguard(a) => crate::config::import_adguard(a),
    }
}

/// The name a list is reported under: its file name.
fn list_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

fn load(paths: &[PathBuf]) -> Result<RuleSet> {
    let mut b = RuleSet::builder();
    for path in paths {
        let text = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        b.add_list(list_name(path), text)?;
    }
    Ok(b.build())
}

/// One query of `check`.
struct Query {
    name: String,
    qtype: RecordType,
    client: Option<IpAddr>,
    client_name: Option<String>,
}

/// What `check` decides with: lists given on the command line, or a config's snapshot.
enum Rules {
    Lists(RuleSet),
    Config(Box<Snapshot>),
}

impl Rules {
    fn load(a: &CheckArgs) -> Result<Rules> {
        let Some(path) = &a.config else {
            return Ok(Rules::Lists(load(&a.rules)?));
        };
        let config = ward_state::reload::read_config(path).map_err(|e| anyhow::anyhow!(e))?;
        // The lists as `ward serve` reads them: path lists from the allowed directories,
        // URL lists from their last downloaded copy.
        let lists = ConfinedLists::new(&config, Some(path));
        let snapshot = Snapshot::build(config, &lists, 1).context("compiling the config")?;
        for (list, err) in &snapshot.list_errors {
            eprintln!("ward: list {list}: {err}");
        }
        Ok(Rules::Config(Box::new(snapshot)))
    }

    /// The verdict for `q` at `at`, with the client's name and tags from the config unless
    /// the command line gives them, and the rules cited.
    fn check(
        &self,
        q: &Query,
        ctags: &[String],
        at: Timestamp,
    ) -> (Verdict, Vec<Citation>, Client) {
        match self {
            Rules::Config(s) => {
                let (policy, info) = match q.client {
                    Some(ip) => (s.policy_for(ip), s.client(ip)),
                    None => (&s.policies[s.default_policy], ClientInfo::default()),
                };
                let req = request(q, ctags, info);
                let checked = s.check_at(policy, &req, at);
                let v = checked.verdict;
                let cited = v.rules.iter().map(|m| s.cite(policy, m)).collect();
                let mut client = Client::of(&req, Some(&policy.name));
                client.schedule = checked
                    .schedule
                    .and_then(|i| policy.controls.schedules.get(i))
                    .map(|s| s.name.clone());
                (v, cited, client)
            }
            Rules::Lists(rules) => {
                let req = request(q, ctags, ClientInfo::default());
                let v = rules.check(&req, &ListMask::ALL);
                let cited = v
                    .rules
                    .iter()
                    .map(|m| Citation {
                        list: rules.list_name(m.rule.list).to_owned(),
                        text: rules.rule_text(m.rule).to_owned(),
                        line: rules.rule_line(m.rule),
                    })
                    .collect();
                (v, cited, Client::of(&req, None))
            }
        }
    }
}

/// The request for `q`: its client's name and tags as given on the command line, else as
/// the config has them (`info`).
fn request<'a>(q: &'a Query, ctags: &'a [String], info: ClientInfo<'a>) -> Request<'a> {
    let tags = if ctags.is_empty() { info.tags } else { ctags };
    let mut req = Request::new(&q.name, q.qtype).client_tags(tags);
    if let Some(ip) = q.client {
        req = req.client_ip(ip);
    }
    if let Some(name) = q.client_name.as_deref().or(info.name) {
        req = req.client_name(name);
    }
    req
}

/// Who a query of `check` was decided for.
struct Client {
    name: Option<String>,
    tags: Vec<String>,
    /// The policy, with --config.
    policy: Option<String>,
    /// The schedule that decided, with --config.
    schedule: Option<String>,
}

impl Client {
    fn of(req: &Request<'_>, policy: Option<&str>) -> Client {
        Client {
            name: req.client_name.map(str::to_owned),
            tags: req.client_tags.to_vec(),
            policy: policy.map(str::to_owned),
            schedule: None,
        }
    }
}

fn check(a: CheckArgs) -> Result<ExitCode> {
    let rules = Rules::load(&a)?;
    let mut failed = false;
    let queries: Vec<Query> = match (&a.queries, &a.name) {
        (Some(path), _) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            let mut queries = Vec::new();
            for (i, line) in text.lines().enumerate() {
                match parse_query_line(line) {
                    Ok(Some(q)) => queries.push(q),
                    Ok(None) => {}
                    Err(err) => {
                        eprintln!("ward: {}:{}: {err}", path.display(), i + 1);
                        failed = true;
                    }
                }
            }
            queries
        }
        (None, Some(name)) => vec![Query {
            name: name.clone(),
            qtype: a.qtype,
            client: a.client,
            client_name: a.client_name.clone(),
        }],
        (None, None) => bail!("give a NAME or --queries FILE"),
    };
    let now = Timestamp::now();
    let at = match (&a.at, &rules) {
        (Some(text), Rules::Config(s)) => ward_config::window::parse_at(text, now, &s.zone)
            .map_err(|e| anyhow::anyhow!("--at: {e}"))?,
        _ => now,
    };
    let mut out = String::new();
    for q in &queries {
        let (verdict, cited, client) = rules.check(q, &a.ctags, at);
        if a.json {
            out.push_str(&verdict_json(&cited, q, &client, &verdict).to_string());
            out.push('\n');
        } else {
            if queries.len() > 1 {
                let _ = write!(out, "{} {}: ", q.name, q.qtype);
            }
            out.push_str(&verdict_text(&cited, &verdict, &client));
            out.push('\n');
        }
    }
    print!("{out}");
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// `hostname [qtype] [client_ip|-] [client name...]`; `#` lines and blank lines skip.
fn parse_query_line(line: &str) -> Result<Option<Query>, String> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let mut words = line.split_whitespace();
    let name = words.next().unwrap_or_default().to_owned();
    let qtype = match words.next() {
        Some(t) => parse_record_type(t)?,
        None => RecordType::A,
    };
    let client = match words.next() {
        None | Some("-") => None,
        Some(ip) => Some(
            ip.parse()
                .map_err(|_| format!("{ip:?} is not an IP address (use - for none)"))?,
        ),
    };
    let rest: Vec<&str> = words.collect();
    let client_name = (!rest.is_empty()).then(|| rest.join(" "));
    Ok(Some(Query {
        name,
        qtype,
        client,
        client_name,
    }))
}

/// "blocked by `||ads.example^` (list easylist.txt, line 12)", and the schedule that
/// decided: "(schedule bedtime)".
fn verdict_text(cited: &[Citation], v: &Verdict, client: &Client) -> String {
    let text = verdict_words(cited, v);
    match &client.schedule {
        Some(s) => format!("{text} (schedule {s})"),
        None => text,
    }
}

fn verdict_words(cited: &[Citation], v: &Verdict) -> String {
    match v.reason {
        Reason::FilteredSchedule => return "blocked: every name is blocked now".to_owned(),
        Reason::FilteredSafeSearch => {
            let host = v.rewrite.as_ref().and_then(|r| r.cname.as_deref());
            return format!("safe search: answered as {}", host.unwrap_or_default());
        }
        Reason::NotFilteredNotFound => return "not filtered: no rule matches".to_owned(),
        _ => {}
    }
    let Some(first) = cited.first() else {
        return "not filtered: no rule matches".to_owned();
    };
    let cite = |c: &Citation| format!("`{}` (list {}, line {})", c.text, c.list, c.line);
    let by = cited.iter().map(cite).collect::<Vec<_>>().join(", ");
    match v.reason {
        Reason::NotFilteredNotFound | Reason::FilteredSchedule | Reason::FilteredSafeSearch => {
            "not filtered: no rule matches".to_owned()
        }
        Reason::NotFilteredAllowList => format!("allowed by {}", cite(first)),
        Reason::FilteredBlockedService => {
            let service = first.list.strip_prefix("service ").unwrap_or(&first.list);
            format!("blocked service {service}: {}", cite(first))
        }
        Reason::FilteredBlockList if v.ip_addrs.is_empty() => format!("blocked by {}", cite(first)),
        Reason::FilteredBlockList => {
            let ips: Vec<String> = v.ip_addrs.iter().map(IpAddr::to_string).collect();
            format!("answered with {} by {by}", ips.join(", "))
        }
        Reason::RewrittenRule => {
            let answer = match &v.rewrite {
                Some(rw) if rw.cname.is_some() => {
                    format!("CNAME {}", rw.cname.as_deref().unwrap_or(""))
                }
                Some(rw) if rw.records.is_empty() => rcode_name(rw.rcode),
                Some(rw) => rw
                    .records
                    .iter()
                    .map(|r| format!("{} {r}", r.record_type()))
                    .collect::<Vec<_>>()
                    .join(", "),
                None => String::new(),
            };
            format!("rewritten to {answer} by {by}")
        }
    }
}

fn verdict_json(cited: &[Citation], q: &Query, client: &Client, v: &Verdict) -> Value {
    let matched: Vec<Value> = cited
        .iter()
        .map(|c| json!({ "text": c.text, "list": c.list, "line": c.line }))
        .collect();
    let ip_addrs = (!v.ip_addrs.is_empty())
        .then(|| v.ip_addrs.iter().map(IpAddr::to_string).collect::<Vec<_>>());
    let dnsrewrite = v.rewrite.as_ref().map(|rw| {
        json!({
            "rcode": rcode_name(rw.rcode),
            "cname": rw.cname,
            "records": rw.records.iter().map(record_json).collect::<Vec<_>>(),
        })
    });
    json!({
        "name": q.name,
        "qtype": q.qtype.to_string(),
        "client": q.client.map(|ip| ip.to_string()),
        "client_name": client.name,
        "client_tags": client.tags,
        "policy": client.policy,
        "schedule": client.schedule,
        "reason": v.reason.as_str(),
        "rules": matched,
        "ip_addrs": ip_addrs,
        "dnsrewrite": dnsrewrite,
    })
}

fn record_json(r: &RewriteRecord) -> Value {
    json!({ "type": r.record_type().to_string(), "value": r.to_string() })
}

fn compile(a: CompileArgs) -> Result<ExitCode> {
    let before = ward_state::process_memory().unwrap_or_default();
    let mut texts = Vec::with_capacity(a.files.len());
    for path in &a.files {
        let text = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        texts.push((list_name(path), text));
    }
    let started = Instant::now();
    let mut b = RuleSet::builder();
    for (name, text) in texts {
        b.add_list(name, text)?;
    }
    let rules = b.build();
    let elapsed = started.elapsed();
    let after = ward_state::process_memory().unwrap_or_default();

    let total = rules.rule_count();
    let memory = rules.memory_usage();
    let text = rules.text_bytes();
    let per_rule = |bytes: f64| {
        if total == 0 {
            0.0
        } else {
            bytes / total as f64
        }
    };
    let rss_growth = after.resident.saturating_sub(before.resident);
    let peak_growth = after.peak.saturating_sub(before.resident);
    let mib = |b: f64| b / (1024.0 * 1024.0);

    if a.json {
        let lists: Vec<Value> = rules
            .lists()
            .map(|(_, name, s)| {
                let skipped: serde_json::Map<String, Value> =
                    SkipReason::ALL.iter().map(|r| (r.as_str().to_owned(), json!(s.skipped(*r)))).collect();
                json!({ "list": name, "lines": s.lines, "rules": s.rules, "comments": s.comments,
                        "blank": s.blank, "skipped": s.skipped_total(), "skipped_by_reason": skipped })
            })
            .collect();
        let report = json!({
            "lists": lists,
            "rules": total,
            "compile_seconds": elapsed.as_secs_f64(),
            "memory_bytes": memory,
            "text_bytes": text,
            "bytes_per_rule_beyond_text": per_rule(memory.saturating_sub(text) as f64),
            "rss_growth_bytes": rss_growth,
            "rss_peak_growth_bytes": peak_growth,
        });
        println!("{report}");
        return Ok(ExitCode::SUCCESS);
    }

    for (_, name, s) in rules.lists() {
        println!(
            "{name}: {} lines, {} rules, {} comments, {} blank, {} skipped",
            s.lines,
            s.rules,
            s.comments,
            s.blank,
            s.skipped_total()
        );
        let reasons: Vec<String> = SkipReason::ALL
            .iter()
            .filter(|r| s.skipped(**r) > 0)
            .map(|r| format!("{r} {}", s.skipped(*r)))
            .collect();
        if !reasons.is_empty() {
            println!("  skipped: {}", reasons.join(", "));
        }
    }
    println!("total: {total} rules in {} lists", rules.lists().count());
    println!("compile time: {:.3} s", elapsed.as_secs_f64());
    println!(
        "memory: {:.1} MiB ({:.1} MiB rule text, {:.1} bytes per rule beyond the text)",
        mib(memory as f64),
        mib(text as f64),
        per_rule(memory.saturating_sub(text) as f64)
    );
    if after.resident > 0 {
        println!(
            "process RSS: +{:.1} MiB after compile ({:.1} bytes per rule beyond the text), peak +{:.1} MiB",
            mib(rss_growth as f64),
            per_rule(rss_growth.saturating_sub(text as u64) as f64),
            mib(peak_growth as f64)
        );
    }
    Ok(ExitCode::SUCCESS)
}
