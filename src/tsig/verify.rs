//! Server side of TSIG: checking a request (RFC 8945 §5.2) and signing the
//! response (RFC 8945 §5.3). No allocation, no panics, no clock: `now` is an
//! argument (seconds since the epoch).

use core::fmt;

use subtle::ConstantTimeEq;

use super::algorithm::{Algorithm, MAX_MAC_LEN, MacState};
use super::key::{Key, KeySet};
use super::stream::StreamSigner;
use crate::wire::{
    BuildError, Class, MAX_TSIG_TIME, Message, MessageBuilder, Name, Rcode, TsigData, TsigError,
};

/// The fudge written into signed responses: 300 seconds, as BIND and Knot use
/// (RFC 8945 §10 recommends 300).
pub const RESPONSE_FUDGE: u16 = 300;

/// Octets of a TSIG RR beyond its two names and its MAC and other data:
/// TYPE, CLASS, TTL, RDLENGTH (10), then time signed (6), fudge, MAC size,
/// original ID, error and other len (2 each).
pub(super) const FIXED_LEN: usize = 10 + 6 + 2 + 2 + 2 + 2 + 2;

/// What [`verify`] made of a request.
#[derive(Debug, Clone, Copy)]
pub enum Verification<'a> {
    /// No TSIG record: the caller decides whether that is acceptable.
    Unsigned,
    /// The MAC verified with a known key and the time is within the fudge.
    Valid(Signer<'a>),
    /// Answer with `rcode` (and `reply`, if any) and do nothing else.
    Failed(Failure<'a>),
}

/// The key that signed a valid request, and how to sign the response.
#[derive(Debug, Clone, Copy)]
pub struct Signer<'a> {
    /// The key.
    pub key: &'a Key,
    /// Its index in the [`KeySet`] (for mapping to grants).
    pub key_index: usize,
    /// Signs the response (RFC 8945 §5.3): use it for every reply, errors included.
    pub responder: Responder<'a>,
    /// The request's time signed.
    pub time_signed: u64,
    /// Seconds on either side of `time_signed` in which the request verifies:
    /// its fudge, capped by the caller (see [`verify_capped`]).
    pub window: u16,
    /// The request's MAC.
    pub mac: &'a [u8],
    /// The request's fudge, as sent.
    fudge: u16,
}

impl<'a> Signer<'a> {
    /// The signed BADTIME answer for a request that verified but must not be
    /// processed because it was seen before (a replay): built as RFC 8945
    /// §5.2.3 says for a request outside its time window, which is what a
    /// replayed request is to a server that processes each request once.
    pub fn replayed(&self) -> Responder<'a> {
        Responder {
            kind: Kind::Signed {
                key: self.key,
                request_mac: self.mac,
                error: TsigError::BadTime,
                echo: Some((self.time_signed, self.fudge)),
            },
        }
    }
}

/// Why a signed request was refused, and what to answer.
#[derive(Debug, Clone, Copy)]
pub struct Failure<'a> {
    /// The header RCODE of the reply: NOTAUTH, or FORMERR for a MAC size the
    /// RFC forbids.
    pub rcode: Rcode,
    /// The TSIG error the reply's TSIG record carries (`NoError` when `reply`
    /// is `None`).
    pub error: TsigError,
    /// What went wrong, for the log.
    pub reason: Reason,
    /// The TSIG record to append to the reply; `None`: the reply carries none.
    pub reply: Option<Responder<'a>>,
}

/// Why a signed request failed. `Display` is for logs and never shows a secret
/// or a MAC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// No key with that name (BADKEY).
    UnknownKey,
    /// The key exists but the request names another algorithm (BADKEY).
    WrongAlgorithm,
    /// The MAC does not verify (BADSIG).
    BadMac,
    /// The MAC is shorter than max(10, half the hash) (FORMERR).
    MacTooShort,
    /// The MAC is longer than the hash (FORMERR).
    MacTooLong,
    /// The MAC verified but the time signed is outside the fudge (BADTIME).
    BadTime,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Reason::UnknownKey => "unknown TSIG key",
            Reason::WrongAlgorithm => "TSIG algorithm does not match the key",
            Reason::BadMac => "TSIG MAC does not verify",
            Reason::MacTooShort => "TSIG MAC shorter than allowed",
            Reason::MacTooLong => "TSIG MAC longer than the hash",
            Reason::BadTime => "TSIG time signed outside the fudge",
        })
    }
}

/// The TSIG record of a reply: unsigned (MAC size 0) for BADKEY and BADSIG,
/// signed with the request's key otherwise. `Copy`; borrows the request.
///
/// ```text
/// builder.reserve(responder.reserve_len())?;   // before the sections
/// … question, answers …
/// let len = responder.finish(builder, now)?;   // TSIG appended, header written
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Responder<'a> {
    kind: Kind<'a>,
}

#[derive(Debug, Clone, Copy)]
enum Kind<'a> {
    /// RFC 8945 §5.3.2: an error reply whose TSIG has MAC size 0.
    Unsigned {
        key_name: Name<'a>,
        algorithm: Name<'a>,
        time_signed: u64,
        fudge: u16,
        error: TsigError,
    },
    /// RFC 8945 §5.3: signed with the key, over the request MAC.
    Signed {
        key: &'a Key,
        request_mac: &'a [u8],
        error: TsigError,
        /// BADTIME: the request's time signed and fudge are echoed
        /// (RFC 8945 §5.2.3); otherwise `None`: now and [`RESPONSE_FUDGE`].
        echo: Option<(u64, u16)>,
    },
}

/// Checks the TSIG record of a request (RFC 8945 §5.2).
///
/// The order is the RFC's and it matters: key, algorithm, MAC size, MAC, and
/// only then time. A server that checks time before the MAC answers a forged,
/// stale request with a signed BADTIME: a signing oracle.
pub fn verify<'a>(keys: &'a KeySet, msg: &Message<'a>, now: u64) -> Verification<'a> {
    verify_capped(keys, msg, now, u16::MAX)
}

/// [`verify`], with the time window of the request its fudge or `max_fudge`
/// seconds, whichever is smaller: a request that asks for a fudge of 65535 s
/// is held to `max_fudge` (the UPDATE path uses `--tsig-fudge-max`, so that
/// the replay memory need keep a request no longer than that).
pub fn verify_capped<'a>(
    keys: &'a KeySet,
    msg: &Message<'a>,
    now: u64,
    max_fudge: u16,
) -> Verification<'a> {
    let Some(tsig) = msg.tsig() else {
        return Verification::Unsigned;
    };
    let data = tsig.data;
    let unsigned = |error, reason| {
        Verification::Failed(Failure {
            rcode: Rcode::NotAuth,
            error,
            reason,
            reply: Some(Responder {
                kind: Kind::Unsigned {
                    key_name: tsig.key_name,
                    algorithm: data.algorithm,
                    time_signed: data.time_signed,
                    fudge: data.fudge,
                    error,
                },
            }),
        })
    };
    let form_error = |reason| {
        Verification::Failed(Failure {
            rcode: Rcode::FormErr,
            error: TsigError::NoError,
            reason,
            reply: None,
        })
    };

    // RFC 8945 §5.2.1 Key Check and Error Handling: "If a non-forwarding
    // server does not recognize the key or algorithm used by the client (or
    // recognizes the algorithm but does not implement it), the server MUST
    // generate an error response with RCODE 9 (NOTAUTH) and TSIG ERROR 17
    // (BADKEY). This response MUST be unsigned as specified in Section 5.3.2."
    let Some(key_index) = keys.find_index(tsig.key_name) else {
        return unsigned(TsigError::BadKey, Reason::UnknownKey);
    };
    let Some(key) = keys.get(key_index) else {
        return unsigned(TsigError::BadKey, Reason::UnknownKey);
    };
    if Algorithm::from_name(data.algorithm) != Some(key.algorithm()) {
        return unsigned(TsigError::BadKey, Reason::WrongAlgorithm);
    }

    // RFC 8945 §5.2.2.1 MAC Truncation, rules 1 and 3:
    //   1. "If the "MAC Size" field is greater than the keyed hash output
    //      length: This case MUST NOT be generated and, if received, MUST
    //      cause the DNS message to be dropped and RCODE 1 (FORMERR) to be
    //      returned."
    //   3. ""MAC Size" field is less than the larger of 10 (octets) and half
    //      the length of the hash function in use: With the exception of
    //      certain TSIG error messages described in Section 5.3.2, where it is
    //      permitted that the "MAC Size" be zero, this case MUST NOT be
    //      generated and, if received, MUST cause the DNS message to be
    //      dropped and RCODE 1 (FORMERR) to be returned."
    // The FORMERR reply carries no TSIG record at all: there is no TSIG error
    // code for it, a signature would cover a MAC the sender chose (and prove
    // nothing the sender could not already compute), and the wire layer's
    // FORMERR for a malformed TSIG is unsigned and TSIG-less too.
    let mac_len = data.mac.len();
    if mac_len > key.algorithm().output_len() {
        return form_error(Reason::MacTooLong);
    }
    if mac_len < key.algorithm().min_mac_len() {
        return form_error(Reason::MacTooShort);
    }

    // RFC 8945 §5.2.2 MAC Check and Error Handling: "If the TSIG RR is
    // verified, but the MAC is not, the server MUST generate an error response
    // with RCODE 9 (NOTAUTH) and TSIG ERROR 16 (BADSIG). This response MUST be
    // unsigned, as specified in Section 5.3.2."
    //
    // RFC 8945 §4.3.1: a request's digest covers the message as the signer
    // sent it (original ID, ARCOUNT without the TSIG) and the TSIG variables;
    // there is no request MAC before it.
    let Some((header, body)) = msg.tsig_signed_parts() else {
        return form_error(Reason::BadMac);
    };
    let mut mac = key.mac();
    mac.update(&header);
    mac.update(body);
    let variables = Variables {
        time_signed: data.time_signed,
        fudge: data.fudge,
        error: data.error,
        other: data.other,
    };
    variables.digest(&mut mac, key);
    let mut computed = [0u8; MAX_MAC_LEN];
    mac.finish(&mut computed);
    // §5.2.2.1 rule 4: a truncated MAC is the leading octets of the full one;
    // compare only those, in constant time.
    let matches = computed
        .get(..mac_len)
        .is_some_and(|expected| bool::from(expected.ct_eq(data.mac)));
    if !matches {
        return unsigned(TsigError::BadSig, Reason::BadMac);
    }

    // RFC 8945 §5.2.3 Time Check and Error Handling: "If the server time is
    // outside the time interval specified by the request (which is the
    // request's Time Signed value +/- the request's Fudge value), the server
    // MUST generate an error response with RCODE 9 (NOTAUTH) and TSIG ERROR
    // 18 (BADTIME). [...] A response indicating a BADTIME error MUST be signed
    // by the same key as the request. It MUST include the client's current
    // time in the Time Signed field, the server's current time (an unsigned
    // 48-bit integer) in the Other Data field, and 6 in the Other Len field.
    // [...] In addition, the Fudge field MUST be set to the fudge value
    // received from the client."
    // abs_diff cannot overflow, whatever `now` is (time signed is 48 bits).
    let window = data.fudge.min(max_fudge);
    if now.abs_diff(data.time_signed) > u64::from(window) {
        return Verification::Failed(Failure {
            rcode: Rcode::NotAuth,
            error: TsigError::BadTime,
            reason: Reason::BadTime,
            reply: Some(Responder {
                kind: Kind::Signed {
                    key,
                    request_mac: data.mac,
                    error: TsigError::BadTime,
                    echo: Some((data.time_signed, data.fudge)),
                },
            }),
        });
    }

    Verification::Valid(Signer {
        key,
        key_index,
        time_signed: data.time_signed,
        window,
        mac: data.mac,
        fudge: data.fudge,
        responder: Responder {
            kind: Kind::Signed {
                key,
                request_mac: data.mac,
                error: TsigError::NoError,
                echo: None,
            },
        },
    })
}

impl Responder<'_> {
    /// Octets the TSIG record will take: pass to [`MessageBuilder::reserve`]
    /// before writing any section.
    pub fn reserve_len(&self) -> usize {
        match self.kind {
            Kind::Unsigned {
                key_name,
                algorithm,
                ..
            } => key_name.wire_len() + algorithm.wire_len() + FIXED_LEN,
            Kind::Signed { key, echo, .. } => {
                let other = if echo.is_some() { 6 } else { 0 };
                key.name().wire_len()
                    + key.algorithm().wire_form().len()
                    + FIXED_LEN
                    + key.algorithm().output_len()
                    + other
            }
        }
    }

    /// The owned signer of a multi-message response to the request (RFC 8945
    /// §5.3.1): the key, its keyed HMAC and a copy of the request MAC, so
    /// that it outlives the request's buffer. `None` for a reply that is
    /// unsigned or reports a TSIG error: those are single messages.
    pub fn stream(&self) -> Option<StreamSigner> {
        match self.kind {
            Kind::Signed {
                key,
                request_mac,
                error: TsigError::NoError,
                echo: None,
            } => StreamSigner::new(
                key.mac(),
                key.algorithm(),
                key.name().to_canonical(),
                request_mac,
            ),
            _ => None,
        }
    }

    /// Whether the reply's TSIG record carries a MAC.
    pub fn is_signed(&self) -> bool {
        matches!(self.kind, Kind::Signed { .. })
    }

    /// The TSIG error the record carries.
    pub fn error(&self) -> TsigError {
        match self.kind {
            Kind::Unsigned { error, .. } | Kind::Signed { error, .. } => error,
        }
    }

    /// Appends the TSIG record as the last record of `builder` (RFC 8945 §5.3),
    /// then writes the header; returns the message length.
    pub fn finish(self, mut builder: MessageBuilder<'_>, now: u64) -> Result<usize, BuildError> {
        self.append(&mut builder, now)?;
        Ok(builder.finish())
    }

    /// Appends the TSIG record as the last record of `builder` without
    /// finishing it. Nothing may be written to the message after this.
    pub fn append(&self, builder: &mut MessageBuilder<'_>, now: u64) -> Result<(), BuildError> {
        // The original ID of a response is its own ID, which the caller
        // copied from the request (as BIND does).
        let original_id = builder.header().id;
        match self.kind {
            // RFC 8945 §5.3.2 Generation of TSIG Error Responses (the same
            // words as RFC 2845 §4.3): "When a server detects an error
            // relating to the key or MAC, the server SHOULD send back an
            // unsigned error message (MAC size == 0 and empty MAC)." The
            // record names the request's key and algorithm as received, with
            // its time signed and fudge, so the client can match it.
            Kind::Unsigned {
                key_name,
                algorithm,
                time_signed,
                fudge,
                error,
            } => builder.tsig(
                key_name,
                &TsigData {
                    algorithm,
                    time_signed,
                    fudge,
                    mac: &[],
                    original_id,
                    error,
                    other: &[],
                },
            ),
            Kind::Signed {
                key,
                request_mac,
                error,
                echo,
            } => {
                let server_time = time48(now);
                let (time_signed, fudge, other): (u64, u16, &[u8]) = match echo {
                    Some((time, fudge)) => (time, fudge, &server_time),
                    None => (now & MAX_TSIG_TIME, RESPONSE_FUDGE, &[]),
                };
                let variables = Variables {
                    time_signed,
                    fudge,
                    error,
                    other,
                };
                let mut out = [0u8; MAX_MAC_LEN];
                let len = response_mac(key, request_mac, builder, &variables, &mut out);
                let mac = out.get(..len).unwrap_or(&[]);
                variables.append(builder, key, mac, original_id)
            }
        }
    }
}

/// RFC 8945 §5.3.1 Generation of TSIG on Answers / §4.3.2 "the digest
/// components [of a response] are: Request MAC, DNS Message (response), TSIG
/// Variables (response)", the request MAC preceded by its 2-octet length.
/// The response is always signed with the full MAC, also when the request's
/// MAC was truncated: rule 2 of §5.2.2.1 ("the entire keyed hash output is
/// present and used") is acceptable to every verifier, a truncated response
/// MAC is not. Returns 0 (an empty MAC) only if the key could not be used.
fn response_mac(
    key: &Key,
    request_mac: &[u8],
    builder: &MessageBuilder<'_>,
    variables: &Variables<'_>,
    out: &mut [u8; MAX_MAC_LEN],
) -> usize {
    let mut mac = key.mac();
    let request_len = u16::try_from(request_mac.len()).unwrap_or(u16::MAX);
    mac.update(&request_len.to_be_bytes());
    mac.update(request_mac);
    let (header, body) = builder.signed_parts();
    mac.update(&header);
    mac.update(body);
    variables.digest(&mut mac, key);
    mac.finish(out)
}

/// The TSIG variables of RFC 8945 §4.3.3 that vary per message.
pub(super) struct Variables<'a> {
    pub(super) time_signed: u64,
    pub(super) fudge: u16,
    pub(super) error: TsigError,
    pub(super) other: &'a [u8],
}

impl Variables<'_> {
    /// Appends the TSIG record carrying these variables and `mac`, signed
    /// with `key`.
    fn append(
        &self,
        builder: &mut MessageBuilder<'_>,
        key: &Key,
        mac: &[u8],
        original_id: u16,
    ) -> Result<(), BuildError> {
        self.append_with(builder, key.name(), key.algorithm(), mac, original_id)
    }

    /// [`Variables::append`] for a key known by its name and algorithm.
    pub(super) fn append_with(
        &self,
        builder: &mut MessageBuilder<'_>,
        key_name: Name<'_>,
        algorithm: Algorithm,
        mac: &[u8],
        original_id: u16,
    ) -> Result<(), BuildError> {
        builder.tsig(
            key_name,
            &TsigData {
                algorithm: algorithm.wire_name(),
                time_signed: self.time_signed,
                fudge: self.fudge,
                mac,
                original_id,
                error: self.error,
                other: self.other,
            },
        )
    }

    /// RFC 8945 §4.3.3 TSIG Variables: NAME (key name, canonical), CLASS (ANY),
    /// TTL (0), Algorithm Name (canonical), Time Signed (48 bits), Fudge,
    /// Error, Other Len, Other Data. "The RR type, RDATA length, MAC and
    /// original ID are not included; names are in canonical form."
    fn digest(&self, mac: &mut MacState, key: &Key) {
        self.digest_with(mac, key.canonical_name(), key.algorithm());
    }

    /// [`Variables::digest`] for a key known by its canonical wire name and
    /// algorithm.
    pub(super) fn digest_with(&self, mac: &mut MacState, key_name: &[u8], algorithm: Algorithm) {
        mac.update(key_name);
        mac.update(&u16::from(Class::Any).to_be_bytes());
        mac.update(&0u32.to_be_bytes());
        mac.update(algorithm.wire_form());
        mac.update(&time48(self.time_signed));
        mac.update(&self.fudge.to_be_bytes());
        mac.update(&u16::from(self.error).to_be_bytes());
        let other_len = u16::try_from(self.other.len()).unwrap_or(u16::MAX);
        mac.update(&other_len.to_be_bytes());
        mac.update(self.other);
    }
}

/// A time as the 48-bit big-endian field TSIG uses (higher bits dropped).
pub(super) fn time48(t: u64) -> [u8; 6] {
    let b = t.to_be_bytes();
    [b[2], b[3], b[4], b[5], b[6], b[7]]
}

/// Client side, for tests, benchmarks and tools: appends a TSIG record signing
/// the request in `builder` (RFC 8945 §5.1) and finishes it; returns the
/// message length. The MAC is full length.
pub fn sign_request(
    key: &Key,
    mut builder: MessageBuilder<'_>,
    time_signed: u64,
    fudge: u16,
) -> Result<usize, BuildError> {
    let time_signed = time_signed & MAX_TSIG_TIME;
    let mut mac = key.mac();
    let (header, body) = builder.signed_parts();
    mac.update(&header);
    mac.update(body);
    let variables = Variables {
        time_signed,
        fudge,
        error: TsigError::NoError,
        other: &[],
    };
    variables.digest(&mut mac, key);
    let mut out = [0u8; MAX_MAC_LEN];
    let len = mac.finish(&mut out);
    let original_id = builder.header().id;
    variables.append(
        &mut builder,
        key,
        out.get(..len).unwrap_or(&[]),
        original_id,
    )?;
    Ok(builder.finish())
}

/// Client side: checks the MAC of a response to a request whose MAC was
/// `request_mac` (RFC 8945 §5.3.1, §4.3.2). Only the MAC is checked; the
/// caller reads the error field and the time from `response.tsig()`.
/// An unsigned response (MAC size 0) or a truncated MAC is `Err(BadMac)`.
pub fn verify_response(
    key: &Key,
    request_mac: &[u8],
    response: &Message<'_>,
) -> Result<(), Reason> {
    let tsig = response.tsig().ok_or(Reason::BadMac)?;
    if !tsig.key_name.eq_ignore_case(&key.name()) {
        return Err(Reason::UnknownKey);
    }
    if Algorithm::from_name(tsig.data.algorithm) != Some(key.algorithm()) {
        return Err(Reason::WrongAlgorithm);
    }
    let (header, body) = response.tsig_signed_parts().ok_or(Reason::BadMac)?;
    let mut mac = key.mac();
    let request_len = u16::try_from(request_mac.len()).unwrap_or(u16::MAX);
    mac.update(&request_len.to_be_bytes());
    mac.update(request_mac);
    mac.update(&header);
    mac.update(body);
    Variables {
        time_signed: tsig.data.time_signed,
        fudge: tsig.data.fudge,
        error: tsig.data.error,
        other: tsig.data.other,
    }
    .digest(&mut mac, key);
    let mut out = [0u8; MAX_MAC_LEN];
    let len = mac.finish(&mut out);
    let ok = out
        .get(..len)
        .is_some_and(|full| bool::from(full.ct_eq(tsig.data.mac)));
    if ok { Ok(()) } else { Err(Reason::BadMac) }
}
