//! Ward's rule engine: filter lists in AdGuard Home's syntax, compiled into one immutable,
//! shared index, and a lookup that decides a DNS query exactly as AdGuard Home would.
//!
//! # Why it looks like this
//!
//! Users bring the lists they already have: hosts files, domain lists, adblock-style
//! lists with `@@` exceptions and DNS modifiers, regexes. Together they are hundreds of
//! thousands of rules, and more than 95% of them are plain names. So the engine sorts
//! rules by shape (as globset sorts globs): plain names go into one compact hash index
//! (20 bytes a rule with its Bloom filter, no allocation per rule, one cache line per
//! probe, see `index.rs`); the few rules with wildcards or modifiers become objects,
//! found by the index when their pattern is a name or by an Aho-Corasick prefilter on
//! their literal. The list text is kept, and a verdict cites a rule by list and byte
//! offset, so no rule carries a string of its own.
//!
//! Every list of a [`RuleSet`] shares that one index, and each entry remembers its list:
//! a policy is a [`ListMask`], so ten policies over the same lists cost no memory. A
//! policy's custom rules are a second, small `RuleSet`, checked together with the big one
//! through [`check`], so editing one custom rule recompiles only the custom rules.
//!
//! The modules follow the data: `line` classifies a list line, `compile` turns lines into
//! index entries and rule objects, `lookup` finds the rules that match a query, and
//! `decide` applies AdGuard Home's precedence to them.
//!
//! The crate is pure: no I/O, no threads, no clock. Lists come in as bytes.
//!
//! ```
//! use ward_rules::{ListMask, Reason, Request, RuleSet};
//! use hickory_proto::rr::RecordType;
//!
//! let mut b = RuleSet::builder();
//! b.add_list("ads.txt", "||ads.example^\n@@||ok.ads.example^\n").unwrap();
//! let rules = b.build();
//! let v = rules.check(&Request::new("x.ads.example", RecordType::A), &ListMask::ALL);
//! assert_eq!(v.reason, Reason::FilteredBlockList);
//! assert_eq!(rules.rule_text(v.rules[0].rule), "||ads.example^");
//! let v = rules.check(&Request::new("ok.ads.example", RecordType::A), &ListMask::ALL);
//! assert_eq!(v.reason, Reason::NotFilteredAllowList);
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod compile;
mod decide;
mod error;
mod index;
mod line;
mod lookup;
mod modifiers;
mod name;
mod pattern;
mod rewrite;
mod ruleset;
mod verdict;

pub use error::{Error, ErrorKind};
pub use line::{Line, MAX_PATTERN_LEN, SkipReason, parse_line};
pub use lookup::check;
pub use name::{is_domain_name, normalize_query_name};
pub use rewrite::{DnsRewrite, RewriteRecord, parse_record_type, rcode_name};
pub use ruleset::{ListId, ListMask, ListStats, MAX_LISTS, RuleRef, RuleSet, RuleSetBuilder};
pub use verdict::{Layer, Reason, Request, Rewrite, RuleMatch, Verdict};

// Re-exported so callers name record types and response codes without a version skew.
pub use hickory_proto::op::ResponseCode;
pub use hickory_proto::rr::RecordType;
