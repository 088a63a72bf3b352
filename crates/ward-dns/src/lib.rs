//! Ward's query path: client -> policy -> local records -> filter -> answer, or cache ->
//! upstream -> filter the answer too (CNAME cloaking) -> respond.
//!
//! `handler` decides one query from the current snapshot; `answer` writes the answers
//! Ward makes itself; `cache` keeps upstream answers unfiltered, shared by every policy;
//! `upstream` forwards over pooled, multiplexed UDP, TCP, DoT and DoH connections;
//! `server` runs the UDP, TCP, DNS-over-TLS and DNS-over-HTTPS loops on sockets the
//! binary binds (`doh` answers HTTP; `tls` keeps their certificate); `proxy` reads the
//! PROXY headers of trusted load balancers.

pub mod answer;
pub mod cache;
mod doh;
pub mod handler;
mod inflight;
pub mod limits;
pub mod metrics;
pub mod proxy;
pub mod record;
pub mod server;
pub mod tls;
pub mod upstream;
pub mod wire;
