//! Signing a multi-message response (a zone transfer) with TSIG, RFC 8945
//! §5.3.1. The signer owns everything it needs: the keyed HMAC, the key and
//! algorithm names, and the MAC the next message chains from, all in fixed
//! arrays. Nothing borrows the request, whose bytes a TCP connection may move
//! or overwrite long before the last message is written; nothing allocates,
//! neither when the signer is made nor per message.

use super::algorithm::{Algorithm, MAX_MAC_LEN, MacState};
use super::verify::{FIXED_LEN, RESPONSE_FUDGE, Variables, time48};
use crate::wire::{BuildError, MAX_TSIG_TIME, MessageBuilder, NameBuf, TsigError};

/// Signs every message of one response stream, each MAC chained to the one
/// before (RFC 8945 §5.3.1, "TSIG on TCP Connections").
///
/// RFC 8945 §5.3.1: "The TSIG MUST be included on all DNS messages in the
/// response." A client must accept up to 99 unsigned messages in a row, but
/// BIND 9.18 rejects a transfer with a single one (`../shared/XFR-NOTES.md`),
/// so every message is signed and the "DNS Messages (any unsigned messages
/// since the last TSIG)" of the digest is always the current message alone.
///
/// Made from the [`Responder`](super::Responder) of a request that verified
/// ([`Responder::stream`](super::Responder::stream)).
#[derive(Clone)]
pub struct StreamSigner {
    /// The HMAC keyed at start-up, cloned for each message.
    mac: MacState,
    algorithm: Algorithm,
    /// The key name, canonical (lower case), as the record carries it and
    /// the first digest covers it.
    key_name: NameBuf,
    /// Before the first message: the request's MAC. After it: the MAC of the
    /// message signed last (the "Prior MAC").
    prior: [u8; MAX_MAC_LEN],
    prior_len: usize,
    /// Messages signed so far.
    signed: u32,
}

impl StreamSigner {
    /// A signer for the response to a request signed with `request_mac`.
    /// `None` when the request MAC is longer than any algorithm's output
    /// (verification refuses such a request before this is reached).
    pub(crate) fn new(
        mac: MacState,
        algorithm: Algorithm,
        key_name: NameBuf,
        request_mac: &[u8],
    ) -> Option<StreamSigner> {
        let mut prior = [0u8; MAX_MAC_LEN];
        prior
            .get_mut(..request_mac.len())?
            .copy_from_slice(request_mac);
        Some(StreamSigner {
            mac,
            algorithm,
            key_name,
            prior,
            prior_len: request_mac.len(),
            signed: 0,
        })
    }

    /// Octets each message's TSIG record takes: pass to
    /// [`MessageBuilder::reserve`] before writing any section.
    pub fn reserve_len(&self) -> usize {
        self.key_name.as_name().wire_len()
            + self.algorithm.wire_form().len()
            + FIXED_LEN
            + self.algorithm.output_len()
    }

    /// How many messages this signer has signed.
    pub fn signed(&self) -> u32 {
        self.signed
    }

    /// The MAC of the message signed last (before the first: the request's).
    pub fn prior_mac(&self) -> &[u8] {
        self.prior.get(..self.prior_len).unwrap_or(&[])
    }

    /// Appends the TSIG record of the next message of the stream to
    /// `builder`, finishes the message and returns its length. `now` is the
    /// time signed. The message's ID is its original ID (the request's).
    ///
    /// The digest, RFC 8945 §4.3.2 / §5.3.1:
    /// - the first message "is processed as a standard TSIG signed response":
    ///   Request MAC (its MAC Size, then the MAC), the DNS message, and all of
    ///   the TSIG variables of §4.3.3;
    /// - every later message: "Prior MAC (running)", "DNS Messages (any
    ///   unsigned messages since the last TSIG)" (here: the current message
    ///   only), and "TSIG Timers (current message)": "the Time Signed and
    ///   Fudge fields (in that order)". The prior MAC is digested as the
    ///   request MAC is, its MAC Size first (as BIND, Knot and dnspython do).
    pub fn sign(&mut self, mut builder: MessageBuilder<'_>, now: u64) -> Result<usize, BuildError> {
        let variables = Variables {
            time_signed: now & MAX_TSIG_TIME,
            fudge: RESPONSE_FUDGE,
            error: TsigError::NoError,
            other: &[],
        };
        let mut mac = self.mac.clone();
        let prior = self.prior.get(..self.prior_len).unwrap_or(&[]);
        let prior_len = u16::try_from(prior.len()).map_err(|_| BuildError::NoSpace)?;
        mac.update(&prior_len.to_be_bytes());
        mac.update(prior);
        let (header, body) = builder.signed_parts();
        mac.update(&header);
        mac.update(body);
        if self.signed == 0 {
            variables.digest_with(&mut mac, self.key_name.as_wire(), self.algorithm);
        } else {
            mac.update(&time48(variables.time_signed));
            mac.update(&variables.fudge.to_be_bytes());
        }
        let mut out = [0u8; MAX_MAC_LEN];
        let len = mac.finish(&mut out);
        let computed = out.get(..len).ok_or(BuildError::NoSpace)?;
        let original_id = builder.header().id;
        variables.append_with(
            &mut builder,
            self.key_name.as_name(),
            self.algorithm,
            computed,
            original_id,
        )?;
        // Only a message that was written moves the chain on.
        self.prior = out;
        self.prior_len = len;
        self.signed = self.signed.saturating_add(1);
        Ok(builder.finish())
    }
}

impl core::fmt::Debug for StreamSigner {
    /// Names the key and the position in the chain; never shows a MAC.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("StreamSigner")
            .field("key", &self.key_name.as_name())
            .field("algorithm", &self.algorithm)
            .field("signed", &self.signed)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use hmac::{Hmac, Mac};
    use sha1::Sha1;
    use sha2::Sha256;

    use super::*;
    use crate::tsig::{Key, KeySet, Verification, sign_request, verify};
    use crate::wire::{Class, MAX_MESSAGE, Message, NameBuf, Rtype, Section};

    const T0: u64 = 1_700_000_000;

    fn name(text: &str) -> NameBuf {
        NameBuf::from_text(text).unwrap()
    }

    /// Message `i` of a test stream: a header and `i + 1` TXT records.
    fn message(buf: &mut [u8], i: u8) -> MessageBuilder<'_> {
        let mut b = MessageBuilder::new(buf, MAX_MESSAGE).unwrap();
        b.set_id(0xbeef);
        b.flags_mut().set_qr(true);
        for n in 0..=i {
            b.raw_record(
                Section::Answer,
                name("Stream.Example.").as_name(),
                Rtype::Txt,
                Class::In,
                60,
                &[3, b'a', b'b', n],
            )
            .unwrap();
        }
        b
    }

    /// The chain computed with the `hmac` crate directly from the layout of
    /// RFC 8945 §4.3.2, §4.3.3 and §5.3.1, without the crate's TSIG code.
    fn independent<M: Mac + hmac::digest::KeyInit>(
        secret: &[u8],
        key_wire: &[u8],
        alg_wire: &[u8],
        request_mac: &[u8],
        unsigned: &[Vec<u8>],
        times: &[u64],
    ) -> Vec<Vec<u8>> {
        let mut prior = request_mac.to_vec();
        let mut out = Vec::new();
        for (i, (msg, time)) in unsigned.iter().zip(times).enumerate() {
            let mut m = <M as Mac>::new_from_slice(secret).unwrap();
            m.update(&(prior.len() as u16).to_be_bytes());
            m.update(&prior);
            m.update(msg);
            let time48 = &time.to_be_bytes()[2..];
            if i == 0 {
                m.update(key_wire);
                m.update(&[0x00, 0xff]); // CLASS ANY
                m.update(&[0, 0, 0, 0]); // TTL
                m.update(alg_wire);
                m.update(time48);
                m.update(&300u16.to_be_bytes());
                m.update(&[0, 0]); // error
                m.update(&[0, 0]); // other len
            } else {
                m.update(time48);
                m.update(&300u16.to_be_bytes());
            }
            prior = m.finalize().into_bytes().to_vec();
            out.push(prior.clone());
        }
        out
    }

    fn chain_matches(algorithm: Algorithm) {
        let secret: Vec<u8> = (0..algorithm.output_len() as u8).rev().collect();
        let key = Key::new(name("XFR-Key.").as_name(), algorithm, secret.clone()).unwrap();
        let mut keys = KeySet::new();
        keys.add(key.clone()).unwrap();
        // The signer is made while the request is borrowed, then the request
        // is overwritten: the signer owns what it chains from.
        let mut request = vec![0u8; 512];
        let mut b = MessageBuilder::new(&mut request, MAX_MESSAGE).unwrap();
        b.set_id(0xbeef);
        b.question(name("example.").as_name(), Rtype::Axfr, Class::In)
            .unwrap();
        let len = sign_request(&key, b, T0, 300).unwrap();
        request.truncate(len);
        let (mut signer, request_mac) = {
            let msg = Message::parse(&request).unwrap();
            let Verification::Valid(v) = verify(&keys, &msg, T0) else {
                panic!("the request verifies");
            };
            (v.responder.stream().unwrap(), v.mac.to_vec())
        };
        request.fill(0);
        assert_eq!(signer.prior_mac(), request_mac);

        let times = [T0, T0 + 1, T0 + 1, T0 + 7];
        let mut unsigned = Vec::new();
        let mut macs = Vec::new();
        for (i, &time) in times.iter().enumerate() {
            let mut plain = vec![0u8; 4096];
            let plain_len = message(&mut plain, i as u8).finish();
            plain.truncate(plain_len);
            unsigned.push(plain);
            let mut signed = vec![0u8; 4096];
            let mut b = message(&mut signed, i as u8);
            b.reserve(signer.reserve_len()).unwrap();
            let len = signer.sign(b, time).unwrap();
            assert_eq!(len, plain_len + signer.reserve_len());
            let msg = Message::parse(&signed[..len]).unwrap();
            let tsig = msg.tsig().unwrap();
            assert_eq!(tsig.key_name.to_string(), "xfr-key.");
            assert_eq!(tsig.data.time_signed, time);
            assert_eq!(tsig.data.original_id, 0xbeef);
            macs.push(tsig.data.mac.to_vec());
        }
        assert_eq!(signer.signed(), 4);
        let key_wire = name("xfr-key.");
        let expected = match algorithm {
            Algorithm::HmacSha256 => independent::<Hmac<Sha256>>(
                &secret,
                key_wire.as_wire(),
                b"\x0bhmac-sha256\x00",
                &request_mac,
                &unsigned,
                &times,
            ),
            Algorithm::HmacSha1 => independent::<Hmac<Sha1>>(
                &secret,
                key_wire.as_wire(),
                b"\x09hmac-sha1\x00",
                &request_mac,
                &unsigned,
                &times,
            ),
            _ => unreachable!(),
        };
        assert_eq!(macs, expected);
        // Each MAC differs: the chain moved on every message.
        assert!(macs.windows(2).all(|w| w[0] != w[1]));
    }

    #[test]
    fn mac_chain_matches_an_independent_computation() {
        chain_matches(Algorithm::HmacSha256);
        chain_matches(Algorithm::HmacSha1);
    }

    #[test]
    fn a_message_that_does_not_fit_leaves_the_chain_alone() {
        let key = Key::new(name("k.").as_name(), Algorithm::HmacSha256, vec![7; 32]).unwrap();
        let mut signer =
            StreamSigner::new(key.mac(), key.algorithm(), name("k."), &[1; 32]).unwrap();
        let mut small = [0u8; 40];
        let b = MessageBuilder::new(&mut small, 40).unwrap();
        assert!(signer.sign(b, T0).is_err());
        assert_eq!(signer.signed(), 0);
        assert_eq!(signer.prior_mac(), [1; 32]);
        assert!(StreamSigner::new(key.mac(), key.algorithm(), name("k."), &[0; 65]).is_none());
    }
}
