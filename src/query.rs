//! Authoritative answers from a read snapshot (RFC 1034 §4.3.2).
