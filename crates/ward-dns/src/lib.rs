//! Ward's query path: client -> policy -> local records -> filter -> answer, or cache ->
//! upstream -> filter the answer too (CNAME cloaking) -> respond.
//!
//! `handler` decides one query from the current snapshot; `answer` writes the answers
//! Ward makes itself; `cache` keeps upstream answers unfiltered, shared by every policy;
//! `upstream` forwards over pooled, multiplexed UDP, TCP, DoT and DoH connections;
//! `server` runs the UDP and TCP loops on sockets the binary binds.

pub mod answer;
pub mod cache;
pub mod handler;
mod inflight;
pub mod limits;
pub mod metrics;
pub mod proxy;
pub mod record;
pub mod server;
pub mod upstream;
pub mod wire;
