//! TSIG (RFC 8945): keys, request verification and response signing.
//!
//! - [`Key`] and [`KeySet`]: named shared secrets, found case-insensitively
//!   without allocation; each key has a stable index for grants.
//! - [`verify`] checks a request's TSIG record in the RFC's order (key,
//!   algorithm, MAC size, MAC, time) and hands back a [`Responder`] that signs
//!   the reply, or leaves it unsigned where RFC 8945 §5.3.2 says so.
//! - [`StreamSigner`] signs the messages of a multi-message response (a zone
//!   transfer), each MAC chained to the previous one (RFC 8945 §5.3.1); it
//!   owns copies of what it needs, so it outlives the request's buffer.
//! - [`parse_spec`], [`parse_file`] and [`format_key`] read and write the key
//!   formats of `nsupdate -y`, `knsupdate -y/-k` and `tsig-keygen` (start-up
//!   only; these allocate).
//!
//! The request path (verify, respond) allocates nothing and reads no clock.

mod algorithm;
mod key;
mod keyfile;
mod stream;
mod verify;

#[cfg(test)]
mod tests;

pub use algorithm::{Algorithm, MAX_MAC_LEN};
pub use key::{DuplicateKey, Key, KeySet};
pub use keyfile::{KeyError, KeyErrorKind, format_key, parse_file, parse_spec};
pub use stream::StreamSigner;
pub use verify::{
    Failure, RESPONSE_FUDGE, Reason, Responder, Signer, Verification, sign_request, verify,
    verify_capped, verify_response,
};
