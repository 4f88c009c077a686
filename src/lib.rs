//! dynzone: an authoritative DNS server for dynamic DNS.
//!
//! Zones change at run time through RFC 2136 UPDATE messages authenticated with
//! TSIG (RFC 8945); records live in LMDB. See `DESIGN.md` for the layers.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod wire;
