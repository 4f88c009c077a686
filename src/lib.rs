//! dynzone: an authoritative DNS server for dynamic DNS.
//!
//! Zones change at run time through RFC 2136 UPDATE messages authenticated with
//! TSIG (RFC 8945); records live in LMDB. See `DESIGN.md` for the layers:
//! [`wire`] → [`store`] → [`query`] → [`handler`] → [`server`], with [`zone`]
//! and [`zonefile`] for loading and printing whole zones.
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod handler;
pub mod metrics;
pub mod query;
pub mod rrl;
pub mod server;
pub mod store;
pub mod throttle;
pub mod transfer;
pub mod tsig;
pub mod update;
pub mod wire;
pub mod zone;
pub mod zonefile;

/// The counting allocator of `tests/alloc.rs`, for the unit tests that show
/// a path allocates nothing (the TCP stream test in `server::conn`).
#[cfg(test)]
#[path = "../tests/common/counting.rs"]
mod counting;
