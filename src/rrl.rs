//! Response rate limiting (issue 11), as BIND's `rate-limit` and Knot's
//! `mod-rrl` do it: a UDP source address can be forged, so a server that
//! answers every datagram reflects its answers, amplified, at whoever the
//! source names. Answers to one source prefix (/24, /56) of one kind are
//! limited to `rate` a second; past that, every `slip`-th one goes out as a
//! small truncated answer (TC, question only: a real resolver retries over
//! TCP, which cannot be forged) and the rest are dropped.
//!
//! The kinds, as BIND groups them: a positive answer (or NODATA, or a
//! referral) per query name and type; NXDOMAIN per source alone (a flood of
//! random names is one flow); errors (FORMERR, REFUSED, ...) per source
//! alone. TCP and signed requests are never limited (the caller does not
//! ask).
//!
//! One fixed table per worker, sized at start, no allocation: a bucket is a
//! hash of the flow and the second it last counted in; two flows that share
//! a bucket share its budget (limited sooner, never later).

use core::hash::{Hash, Hasher};
use std::net::{IpAddr, SocketAddr};

use crate::wire::{Name, Rcode, Rtype};

/// Buckets per worker: 4,096 flows a second, 96 KiB (24 octets each).
pub const BUCKETS: usize = 4096;
/// Default responses per second per flow (`--rrl-rate`).
pub const DEFAULT_RATE: u32 = 20;
/// Default slip (`--rrl-slip`): every second limited response is a TC one.
pub const DEFAULT_SLIP: u32 = 2;

/// The prefix a source is grouped by, here and in the TCP per-prefix cap:
/// its /24 (IPv4) or /56 (IPv6), one customer, one site or one attacker's
/// range. The first octet tells the families apart.
pub fn source_prefix(ip: IpAddr) -> [u8; 8] {
    let mut prefix = [0u8; 8];
    let (family, octets): (u8, &[u8]) = match ip {
        IpAddr::V4(a) => (4, &a.octets()[..3]),
        IpAddr::V6(a) => (6, &a.octets()[..7]),
    };
    prefix[0] = family;
    for (d, s) in prefix[1..].iter_mut().zip(octets) {
        *d = *s;
    }
    prefix
}

/// What to do with a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Send it.
    Send,
    /// Send a truncated answer instead (TC, the question only).
    Slip,
    /// Send nothing.
    Drop,
}

/// The kind of a response, for grouping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Answer,
    NxDomain,
    Error,
}

#[derive(Debug, Clone, Copy, Default)]
struct Bucket {
    /// The flow's hash (0: empty).
    flow: u64,
    /// The second the count is for.
    second: u64,
    /// Responses in that second.
    count: u32,
    /// Limited responses so far, for the slip.
    limited: u32,
}

/// The rate limiter of one worker.
pub struct Rrl {
    buckets: Box<[Bucket]>,
    rate: u32,
    slip: u32,
}

impl Rrl {
    /// A limiter of `rate` responses a second per flow (0: off) that lets
    /// every `slip`-th limited one through truncated (0: none).
    pub fn new(rate: u32, slip: u32) -> Rrl {
        let size = if rate == 0 { 0 } else { BUCKETS };
        Rrl {
            buckets: vec![Bucket::default(); size].into_boxed_slice(),
            rate,
            slip,
        }
    }

    /// Whether limiting is on.
    pub fn is_on(&self) -> bool {
        self.rate > 0
    }

    /// Counts a response of `rcode` to (`qname`, `qtype`) for `peer` at
    /// `now` (Unix seconds) and says what to do with it.
    pub fn check(
        &mut self,
        peer: SocketAddr,
        qname: Option<Name<'_>>,
        qtype: Rtype,
        rcode: Rcode,
        now: u64,
    ) -> Action {
        if self.rate == 0 {
            return Action::Send;
        }
        let kind = match rcode {
            Rcode::NoError => Kind::Answer,
            Rcode::NxDomain => Kind::NxDomain,
            _ => Kind::Error,
        };
        let mut hasher = FlowHasher::default();
        source_prefix(peer.ip()).hash(&mut hasher);
        kind.hash(&mut hasher);
        if kind == Kind::Answer {
            u16::from(qtype).hash(&mut hasher);
            if let Some(name) = qname {
                for label in name.labels() {
                    for b in label {
                        hasher.write_u8(b.to_ascii_lowercase());
                    }
                    hasher.write_u8(0);
                }
            }
        }
        let flow = hasher.finish().max(1);
        let index = (flow as usize) % self.buckets.len().max(1);
        let Some(bucket) = self.buckets.get_mut(index) else {
            return Action::Send;
        };
        if bucket.flow != flow || bucket.second != now {
            // A new second (or a new flow taking the bucket): a fresh budget.
            let limited = if bucket.flow == flow {
                bucket.limited
            } else {
                0
            };
            *bucket = Bucket {
                flow,
                second: now,
                count: 0,
                limited,
            };
        }
        bucket.count = bucket.count.saturating_add(1);
        if bucket.count <= self.rate {
            return Action::Send;
        }
        bucket.limited = bucket.limited.wrapping_add(1);
        if self.slip > 0 && bucket.limited % self.slip == 0 {
            Action::Slip
        } else {
            Action::Drop
        }
    }
}

/// FNV-1a: small, no allocation, good enough to spread flows over buckets
/// (an attacker choosing names to collide only limits itself sooner).
struct FlowHasher(u64);

impl Default for FlowHasher {
    fn default() -> Self {
        FlowHasher(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for FlowHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::NameBuf;

    fn peer(ip: &str) -> SocketAddr {
        let ip: IpAddr = ip.parse().unwrap();
        SocketAddr::new(ip, 5353)
    }

    #[test]
    fn a_flow_gets_rate_a_second_then_every_slip_th_truncated() {
        let mut rrl = Rrl::new(5, 2);
        let name = NameBuf::from_text("www.example.test").unwrap();
        let q = Some(name.as_name());
        let mut seen = Vec::new();
        for _ in 0..11 {
            seen.push(rrl.check(peer("192.0.2.1"), q, Rtype::A, Rcode::NoError, 100));
        }
        use Action::*;
        assert_eq!(
            seen,
            [
                Send, Send, Send, Send, Send, Drop, Slip, Drop, Slip, Drop, Slip
            ]
        );
        // The same /24 shares the flow; another /24, name or type does not.
        assert_eq!(
            rrl.check(peer("192.0.2.200"), q, Rtype::A, Rcode::NoError, 100),
            Drop
        );
        assert_eq!(
            rrl.check(peer("192.0.3.1"), q, Rtype::A, Rcode::NoError, 100),
            Send
        );
        assert_eq!(
            rrl.check(peer("192.0.2.1"), q, Rtype::Aaaa, Rcode::NoError, 100),
            Send
        );
        // A new second, a new budget.
        assert_eq!(
            rrl.check(peer("192.0.2.1"), q, Rtype::A, Rcode::NoError, 101),
            Send
        );
    }

    #[test]
    fn sources_are_grouped_by_slash_24_and_slash_56() {
        let p = |ip: &str| source_prefix(ip.parse().unwrap());
        assert_eq!(p("192.0.2.1"), p("192.0.2.254"));
        assert_ne!(p("192.0.2.1"), p("192.0.3.1"));
        assert_eq!(p("2001:db8:0:1200::1"), p("2001:db8:0:12ff::9"));
        assert_ne!(p("2001:db8:0:1200::1"), p("2001:db8:0:1300::1"));
        // The same octets in another family are another prefix.
        assert_ne!(p("192.0.2.1"), p("c000:2ff::"));
    }

    #[test]
    fn nxdomain_for_any_name_is_one_flow_and_off_means_off() {
        let mut rrl = Rrl::new(2, 0);
        for (i, want) in [Action::Send, Action::Send, Action::Drop, Action::Drop]
            .into_iter()
            .enumerate()
        {
            let name = NameBuf::from_text(&format!("r{i}.example.test")).unwrap();
            let got = rrl.check(
                peer("2001:db8::1"),
                Some(name.as_name()),
                Rtype::A,
                Rcode::NxDomain,
                7,
            );
            assert_eq!(got, want, "query {i}");
        }
        let mut off = Rrl::new(0, 2);
        assert!(!off.is_on());
        for _ in 0..100 {
            assert_eq!(
                off.check(peer("192.0.2.1"), None, Rtype::A, Rcode::NoError, 1),
                Action::Send
            );
        }
    }
}
