//! What a report asks for, and the report: the buckets of a range merged.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::str::FromStr;
use std::time::{Duration, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::{Counts, HOUR_MS, HashMap, MINUTE_MS, MINUTES_KEPT, Tables};

/// The top lists' length unless asked.
pub const DEFAULT_TOP: usize = 10;
/// The longest top list a report gives.
pub const MAX_TOP: usize = 100;

/// How far back a report goes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Range {
    /// The current hour and the 23 before it.
    #[default]
    #[serde(rename = "24h")]
    Day,
    /// The current hour and the 167 before it.
    #[serde(rename = "7d")]
    Week,
    /// The current hour and the 719 before it.
    #[serde(rename = "30d")]
    Month,
}

impl Range {
    /// Hours covered.
    pub fn hours(self) -> u64 {
        match self {
            Range::Day => 24,
            Range::Week => 7 * 24,
            Range::Month => 30 * 24,
        }
    }
}

impl FromStr for Range {
    type Err = String;

    /// `24h` (or `1d`), `7d`, `30d`.
    fn from_str(s: &str) -> Result<Range, String> {
        match s {
            "24h" | "1d" => Ok(Range::Day),
            "7d" => Ok(Range::Week),
            "30d" => Ok(Range::Month),
            _ => Err(format!("{s:?}: expected 24h, 7d or 30d")),
        }
    }
}

/// The step of a report's time series.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Resolution {
    /// One point per hour of the range.
    #[default]
    Hour,
    /// One point per minute of the last 24 hours (minutes are kept for a day only, so a
    /// longer range is cut to its last day).
    Minute,
}

impl FromStr for Resolution {
    type Err = String;

    /// `hour` or `minute`.
    fn from_str(s: &str) -> Result<Resolution, String> {
        match s {
            "hour" => Ok(Resolution::Hour),
            "minute" => Ok(Resolution::Minute),
            _ => Err(format!("{s:?}: expected hour or minute")),
        }
    }
}

/// What [`super::Stats::report`] reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReportQuery {
    /// How far back.
    pub range: Range,
    /// The time series' step.
    pub resolution: Resolution,
    /// The length of each top list, at most [`MAX_TOP`].
    pub limit: usize,
}

impl Default for ReportQuery {
    fn default() -> ReportQuery {
        ReportQuery {
            range: Range::Day,
            resolution: Resolution::Hour,
            limit: DEFAULT_TOP,
        }
    }
}

/// The statistics of a range.
///
/// `totals`, `blocked_ratio`, `avg_processing_ms` and `series` cover the same buckets
/// (from `from_ms` to `to_ms`): the totals are the sum of the series. The top lists,
/// `policies` and `upstreams` come from the hour buckets of the range.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The range asked for.
    pub range: Range,
    /// The series' step.
    pub resolution: Resolution,
    /// The start of the first bucket, Unix ms.
    pub from_ms: u64,
    /// The end of the last bucket (exclusive), Unix ms.
    pub to_ms: u64,
    /// Every query of the range, by outcome.
    pub totals: Totals,
    /// Blocked queries over all queries (0 without queries).
    pub blocked_ratio: f64,
    /// The average time from request to response, ms (0 without queries).
    pub avg_processing_ms: f64,
    /// One point per bucket, oldest first, empty buckets included.
    pub series: Vec<Point>,
    /// The names asked for most.
    pub top_names: Vec<NameCount>,
    /// The names blocked most.
    pub top_blocked: Vec<NameCount>,
    /// The clients that asked most.
    pub top_clients: Vec<ClientCount>,
    /// Queries per policy, most first.
    pub policies: Vec<PolicyCount>,
    /// Answers per upstream (not from the cache) with their average time, most first.
    pub upstreams: Vec<UpstreamLatency>,
}

/// Queries by outcome.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    /// Every answered query.
    pub queries: u64,
    /// Blocked: by a rule (`FilteredBlockList`), a blocked service or a schedule.
    pub blocked: u64,
    /// Let through by an exception (`NotFilteredAllowList`).
    pub allowlisted: u64,
    /// Answered by a `$dnsrewrite` rule (`RewrittenRule`).
    pub rewritten: u64,
    /// Answered from the cache.
    pub cached: u64,
    /// Of `blocked`, by a blocked service (`FilteredBlockedService`).
    #[serde(default)]
    pub blocked_services: u64,
    /// Answered with a safe-search enforcement host (`FilteredSafeSearch`).
    #[serde(default)]
    pub safe_search: u64,
}

/// One bucket of the time series.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Point {
    /// The bucket's start, Unix ms.
    pub time_ms: u64,
    /// The same, RFC 3339.
    pub time: String,
    /// Its queries by outcome.
    #[serde(flatten)]
    pub totals: Totals,
    /// The average processing time of its queries, ms.
    pub avg_processing_ms: f64,
}

/// A name and how often it was asked for (or blocked).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NameCount {
    /// The name.
    pub name: String,
    /// Its queries.
    pub count: u64,
}

/// A client and how often it asked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientCount {
    /// Its address.
    pub client: IpAddr,
    /// Its name in the config, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Its queries.
    pub count: u64,
}

/// A policy's queries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyCount {
    /// The policy's name.
    pub policy: String,
    /// Queries it answered.
    pub queries: u64,
    /// Of those, blocked.
    pub blocked: u64,
    /// Of those blocked, by a blocked service.
    #[serde(default)]
    pub blocked_services: u64,
    /// Of those, answered with a safe-search enforcement host.
    #[serde(default)]
    pub safe_search: u64,
}

/// An upstream's answers and their average time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UpstreamLatency {
    /// The upstream, as the query log names it.
    pub upstream: String,
    /// Queries it answered (cached answers are not counted).
    pub queries: u64,
    /// Their average time from request to response, ms.
    pub avg_ms: f64,
}

fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

fn totals(c: &Counts) -> Totals {
    Totals {
        queries: c.queries,
        blocked: c.blocked,
        allowlisted: c.allowlisted,
        rewritten: c.rewritten,
        cached: c.cached,
        blocked_services: c.blocked_services,
        safe_search: c.safe_search,
    }
}

fn point(start_ms: u64, c: &Counts) -> Point {
    Point {
        time_ms: start_ms,
        time: humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_millis(start_ms))
            .to_string(),
        totals: totals(c),
        avg_processing_ms: ratio(c.elapsed_us, c.queries) / 1000.0,
    }
}

/// The `limit` largest of `counts`, largest first, ties in key order.
fn top<K: Ord, V>(counts: HashMap<K, V>, limit: usize, count: impl Fn(&V) -> u64) -> Vec<(K, V)> {
    let mut all: Vec<(K, V)> = counts.into_iter().collect();
    all.sort_unstable_by(|a, b| count(&b.1).cmp(&count(&a.1)).then_with(|| a.0.cmp(&b.0)));
    all.truncate(limit);
    all
}

/// The counting maps of a report as they are added up: from hour buckets (`N` borrows
/// their names) or from other reports (`N` owns them).
struct Tallies<N> {
    names: HashMap<N, u64>,
    blocked: HashMap<N, u64>,
    /// Queries and the newest name.
    clients: HashMap<IpAddr, (u64, Option<N>)>,
    /// Queries, blocked, blocked services and safe search.
    policies: HashMap<N, [u64; 4]>,
    /// Queries and their time together, µs.
    upstreams: HashMap<N, (u64, u64)>,
}

impl<N> Default for Tallies<N> {
    fn default() -> Tallies<N> {
        Tallies {
            names: HashMap::default(),
            blocked: HashMap::default(),
            clients: HashMap::default(),
            policies: HashMap::default(),
            upstreams: HashMap::default(),
        }
    }
}

impl<N: AsRef<str> + Ord + std::hash::Hash> Tallies<N> {
    /// The report of these counts over `series` (whose sum is `sum`).
    fn report(
        self,
        query: (Range, Resolution, usize),
        window: (u64, u64),
        sum: &Counts,
        series: Vec<Point>,
    ) -> Report {
        let (range, resolution, limit) = query;
        let name_counts = |counts: HashMap<N, u64>| {
            top(counts, limit, |n| *n)
                .into_iter()
                .map(|(name, count)| NameCount {
                    name: name.as_ref().to_owned(),
                    count,
                })
                .collect()
        };
        Report {
            range,
            resolution,
            from_ms: window.0,
            to_ms: window.1,
            totals: totals(sum),
            blocked_ratio: ratio(sum.blocked, sum.queries),
            avg_processing_ms: ratio(sum.elapsed_us, sum.queries) / 1000.0,
            series,
            top_names: name_counts(self.names),
            top_blocked: name_counts(self.blocked),
            top_clients: top(self.clients, limit, |c| c.0)
                .into_iter()
                .map(|(client, (count, name))| ClientCount {
                    client,
                    name: name.map(|n| n.as_ref().to_owned()),
                    count,
                })
                .collect(),
            policies: top(self.policies, usize::MAX, |p| p[0])
                .into_iter()
                .map(
                    |(policy, [queries, blocked, blocked_services, safe_search])| PolicyCount {
                        policy: policy.as_ref().to_owned(),
                        queries,
                        blocked,
                        blocked_services,
                        safe_search,
                    },
                )
                .collect(),
            upstreams: top(self.upstreams, usize::MAX, |u| u.0)
                .into_iter()
                .map(|(upstream, (queries, elapsed_us))| UpstreamLatency {
                    upstream: upstream.as_ref().to_owned(),
                    queries,
                    avg_ms: ratio(elapsed_us, queries) / 1000.0,
                })
                .collect(),
        }
    }
}

pub(super) fn build(tables: &Tables, now_ms: u64, query: &ReportQuery) -> Report {
    let limit = query.limit.min(MAX_TOP);
    let now_hour = now_ms / HOUR_MS;
    let first_hour = (now_hour + 1).saturating_sub(query.range.hours());
    let hours = tables.hours.range(first_hour..=now_hour);

    let (step, first, last) = match query.resolution {
        Resolution::Hour => (HOUR_MS, first_hour, now_hour),
        Resolution::Minute => {
            let now_minute = now_ms / MINUTE_MS;
            let minutes = MINUTES_KEPT.min(query.range.hours() * 60);
            (
                MINUTE_MS,
                (now_minute + 1).saturating_sub(minutes),
                now_minute,
            )
        }
    };
    let mut sum = Counts::default();
    let mut series = Vec::with_capacity((last + 1 - first) as usize);
    for bucket in first..=last {
        let counts = match query.resolution {
            Resolution::Hour => tables.hours.get(&bucket).map(|h| h.counts),
            Resolution::Minute => tables.minutes.get(&bucket).copied(),
        }
        .unwrap_or_default();
        sum.add(&counts);
        series.push(point(bucket * step, &counts));
    }

    let mut t: Tallies<&str> = Tallies::default();
    // Oldest first, so a client's name is the newest one it had.
    for (_, hour) in hours {
        for (name, n) in &hour.names {
            *t.names.entry(&**name).or_default() += n;
        }
        for (name, n) in &hour.blocked {
            *t.blocked.entry(&**name).or_default() += n;
        }
        for (ip, c) in &hour.clients {
            let merged = t.clients.entry(*ip).or_default();
            merged.0 += c.count;
            if c.name.is_some() {
                merged.1 = c.name.as_deref();
            }
        }
        for (policy, p) in &hour.policies {
            let merged = t.policies.entry(&**policy).or_default();
            merged[0] += p.queries;
            merged[1] += p.blocked;
            merged[2] += p.blocked_services;
            merged[3] += p.safe_search;
        }
        for (upstream, u) in &hour.upstreams {
            let merged = t.upstreams.entry(&**upstream).or_default();
            merged.0 += u.queries;
            merged.1 += u.elapsed_us;
        }
    }
    t.report(
        (query.range, query.resolution, limit),
        (first * step, (last + 1) * step),
        &sum,
        series,
    )
}

impl Report {
    /// The reports of several nodes for the same query as one: counts added bucket by
    /// bucket (by start time; a node whose clock is a bucket ahead adds one, and the
    /// oldest are cut to the longest series), top lists added name by name and cut to
    /// `limit` (exact as far as each node's own lists are), upstream averages weighted by
    /// their queries.
    pub fn merge(reports: Vec<Report>, limit: usize) -> Option<Report> {
        let first = reports.first()?;
        let (range, resolution) = (first.range, first.resolution);
        let length = reports.iter().map(|r| r.series.len()).max().unwrap_or(0);
        let mut series: BTreeMap<u64, (Counts, u64)> = BTreeMap::new();
        let mut t: Tallies<String> = Tallies::default();
        for report in reports {
            for p in report.series {
                let (counts, elapsed_us) = series.entry(p.time_ms).or_default();
                counts.add(&Counts {
                    queries: p.totals.queries,
                    blocked: p.totals.blocked,
                    allowlisted: p.totals.allowlisted,
                    rewritten: p.totals.rewritten,
                    cached: p.totals.cached,
                    blocked_services: p.totals.blocked_services,
                    safe_search: p.totals.safe_search,
                    elapsed_us: 0,
                });
                *elapsed_us += (p.avg_processing_ms * 1000.0 * p.totals.queries as f64) as u64;
            }
            for n in report.top_names {
                *t.names.entry(n.name).or_default() += n.count;
            }
            for n in report.top_blocked {
                *t.blocked.entry(n.name).or_default() += n.count;
            }
            for c in report.top_clients {
                let merged = t.clients.entry(c.client).or_default();
                merged.0 += c.count;
                merged.1 = merged.1.take().or(c.name);
            }
            for p in report.policies {
                let merged = t.policies.entry(p.policy).or_default();
                merged[0] += p.queries;
                merged[1] += p.blocked;
                merged[2] += p.blocked_services;
                merged[3] += p.safe_search;
            }
            for u in report.upstreams {
                let merged = t.upstreams.entry(u.upstream).or_default();
                merged.0 += u.queries;
                merged.1 += (u.avg_ms * 1000.0 * u.queries as f64) as u64;
            }
        }
        while series.len() > length {
            series.pop_first();
        }
        let step = match resolution {
            Resolution::Hour => HOUR_MS,
            Resolution::Minute => MINUTE_MS,
        };
        let mut sum = Counts::default();
        let points: Vec<Point> = series
            .into_iter()
            .map(|(time_ms, (mut counts, elapsed_us))| {
                counts.elapsed_us = elapsed_us;
                sum.add(&counts);
                point(time_ms, &counts)
            })
            .collect();
        let window = (
            points.first().map_or(0, |p| p.time_ms),
            points.last().map_or(0, |p| p.time_ms + step),
        );
        Some(t.report((range, resolution, limit), window, &sum, points))
    }
}
