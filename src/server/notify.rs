//! NOTIFY out (RFC 1996): after a change to a zone is durable, tell its
//! secondaries, so that they ask for it at once instead of at their next
//! SOA refresh.
//!
//! One thread, `dynzone-notify`, owns one UDP socket per address family,
//! bound to the address dynzone serves on (BIND accepts a NOTIFY only from
//! an address in its `primaries`, NSD and Knot from their ACL), any port.
//! The workers' handlers hand it each zone whose new serial a commit made
//! durable ([`Notice`], through a bounded channel that never blocks them;
//! a full channel drops the notice, and a later one carries a newer serial).
//!
//! - **Bursts merge:** a target's NOTIFY leaves [`MERGE`] after the last
//!   change of a burst, at most [`MERGE_MAX`] after its first (BIND's
//!   `notify-delay` does the same, 5 s).
//! - **Retries:** RFC 1996 §3.6: "the Primary Master SHOULD retransmit" with
//!   a "back-off"; [`TRIES`] tries, 1, 2, 4 and 8 s apart, until an answer
//!   with the same ID, from the target's address and port, with the question
//!   asked, arrives — TSIG-verified when the NOTIFY was signed (a forged
//!   answer does not stop the retries).
//! - Each outcome is logged once and counted
//!   (`dynzone_notifies_total{result}`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::handler::Notice;
use crate::metrics::{Board, NotifyResult};
use crate::tsig::{Key, MAX_MAC_LEN, sign_request, verify_response};
use crate::wire::{Class, Message, MessageBuilder, NameBuf, Opcode, Rcode, Rtype};

/// How long after the last change of a burst its NOTIFY leaves.
pub const MERGE: Duration = Duration::from_secs(1);
/// How long after the first change of a burst its NOTIFY leaves at the latest.
pub const MERGE_MAX: Duration = Duration::from_secs(5);
/// NOTIFYs sent for one change before giving up.
pub const TRIES: u32 = 5;
/// The wait for an answer after the first try; doubled after each.
const FIRST_WAIT: Duration = Duration::from_secs(1);
/// The TSIG fudge of a NOTIFY (RFC 8945 §10 recommends 300 s).
const FUDGE: u16 = 300;

/// A secondary to notify of changes to a zone (`--notify ZONE:ADDR...`).
#[derive(Debug, Clone)]
pub struct Target {
    /// The zone.
    pub zone: NameBuf,
    /// Where the secondary listens.
    pub addr: SocketAddr,
    /// The key the secondary knows dynzone by, if any.
    pub key: Option<Key>,
}

/// Where one target is.
struct State {
    target: Target,
    /// The serial to announce.
    serial: u32,
    /// When to send next (or to give up, after the last try).
    due: Option<Instant>,
    /// When the burst being merged began.
    first: Option<Instant>,
    /// Tries sent for this serial.
    tries: u32,
    /// The ID and MAC of the last NOTIFY sent, to match its answer.
    id: u16,
    mac: [u8; MAX_MAC_LEN],
    mac_len: usize,
}

/// Starts the notifier thread for `targets`, sending from the addresses of
/// `listen` (the first of each family); `None` when there is no target.
pub fn spawn(
    targets: Vec<Target>,
    listen: &[SocketAddr],
    notices: Receiver<Notice>,
    board: Arc<Board>,
    stop: Arc<AtomicBool>,
) -> std::io::Result<Option<JoinHandle<()>>> {
    if targets.is_empty() {
        return Ok(None);
    }
    let source = |v6: bool| {
        listen
            .iter()
            .find(|a| a.is_ipv6() == v6)
            .map(|a| a.ip())
            .unwrap_or(if v6 {
                IpAddr::V6(Ipv6Addr::UNSPECIFIED)
            } else {
                IpAddr::V4(Ipv4Addr::UNSPECIFIED)
            })
    };
    let bind = |v6: bool| -> std::io::Result<Option<UdpSocket>> {
        if !targets.iter().any(|t| t.addr.is_ipv6() == v6) {
            return Ok(None);
        }
        let socket = UdpSocket::bind(SocketAddr::new(source(v6), 0))?;
        socket.set_read_timeout(Some(Duration::from_millis(20)))?;
        Ok(Some(socket))
    };
    let sockets = [bind(false)?, bind(true)?];
    let states = targets
        .into_iter()
        .map(|target| State {
            target,
            serial: 0,
            due: None,
            first: None,
            tries: 0,
            id: 0,
            mac: [0; MAX_MAC_LEN],
            mac_len: 0,
        })
        .collect();
    let mut notifier = Notifier {
        states,
        sockets,
        notices,
        board,
        stop,
    };
    std::thread::Builder::new()
        .name("dynzone-notify".to_owned())
        .spawn(move || notifier.run())
        .map(Some)
}

struct Notifier {
    states: Vec<State>,
    /// IPv4, IPv6.
    sockets: [Option<UdpSocket>; 2],
    notices: Receiver<Notice>,
    board: Arc<Board>,
    stop: Arc<AtomicBool>,
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Notifier {
    fn run(&mut self) {
        let mut buf = [0u8; 4096];
        while !self.stop.load(Ordering::Acquire) {
            if self.states.iter().all(|s| s.due.is_none()) {
                // Nothing to send or wait for: sleep until a change.
                match self.notices.recv_timeout(Duration::from_millis(500)) {
                    Ok(notice) => self.take(&notice),
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => return,
                }
                continue;
            }
            loop {
                match self.notices.try_recv() {
                    Ok(notice) => self.take(&notice),
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => return,
                }
            }
            self.send_due();
            for family in 0..2 {
                self.receive(family, &mut buf);
            }
        }
    }

    /// A change: every target of the zone announces the new serial, once
    /// the burst is over.
    fn take(&mut self, notice: &Notice) {
        let now = Instant::now();
        for s in &mut self.states {
            if !s
                .target
                .zone
                .as_name()
                .eq_ignore_case(&notice.zone.as_name())
            {
                continue;
            }
            s.serial = notice.serial;
            s.tries = 0;
            let first = *s.first.get_or_insert(now);
            s.due = Some((now + MERGE).min(first + MERGE_MAX));
        }
    }

    fn send_due(&mut self) {
        let now = Instant::now();
        for i in 0..self.states.len() {
            let Some(s) = self.states.get_mut(i) else {
                continue;
            };
            if s.due.is_none_or(|d| d > now) {
                continue;
            }
            if s.tries >= TRIES {
                log::warn!(
                    "notify: zone {} serial {} to {}: no answer after {TRIES} tries",
                    s.target.zone,
                    s.serial,
                    s.target.addr
                );
                s.due = None;
                s.first = None;
                self.board.notified(NotifyResult::Failed);
                continue;
            }
            let mut out = [0u8; 1024];
            let sent = match build(s, &mut out) {
                Some(len) => {
                    let family = usize::from(s.target.addr.is_ipv6());
                    let socket = self.sockets.get(family).and_then(Option::as_ref);
                    socket.map(|sock| sock.send_to(out.get(..len).unwrap_or(&[]), s.target.addr))
                }
                None => None,
            };
            match sent {
                Some(Ok(_)) => {}
                Some(Err(e)) => log::debug!("notify to {}: {e}", s.target.addr),
                None => log::error!(
                    "notify to {}: the message could not be built",
                    s.target.addr
                ),
            }
            s.tries += 1;
            s.due = Some(now + FIRST_WAIT * (1 << (s.tries - 1).min(4)));
        }
    }

    /// Reads the answers waiting on socket `family`, if any.
    fn receive(&mut self, family: usize, buf: &mut [u8]) {
        let Some(socket) = self.sockets.get(family).and_then(Option::as_ref) else {
            return;
        };
        let Ok((n, from)) = socket.recv_from(buf) else {
            return;
        };
        let Ok(msg) = Message::parse(buf.get(..n).unwrap_or(&[])) else {
            return;
        };
        let header = msg.header();
        if !header.flags.qr() || header.flags.opcode() != Opcode::Notify {
            return;
        }
        let Some(s) = self.states.iter_mut().find(|s| {
            s.due.is_some()
                && s.tries > 0
                && s.id == header.id
                && s.target.addr == from
                && msg
                    .question()
                    .is_some_and(|q| q.name.eq_ignore_case(&s.target.zone.as_name()))
        }) else {
            return;
        };
        if let Some(key) = &s.target.key
            && let Err(why) = verify_response(key, s.mac.get(..s.mac_len).unwrap_or(&[]), &msg)
        {
            log::warn!(
                "notify: zone {} to {}: an answer whose TSIG does not verify ({why}); still trying",
                s.target.zone,
                s.target.addr
            );
            return;
        }
        let rcode = msg.rcode();
        if rcode == Rcode::NoError {
            log::info!(
                "notify: zone {} serial {} to {}: acknowledged after {} tries",
                s.target.zone,
                s.serial,
                s.target.addr,
                s.tries
            );
            self.board.notified(NotifyResult::Acknowledged);
        } else {
            log::warn!(
                "notify: zone {} serial {} to {}: answered {rcode:?}",
                s.target.zone,
                s.serial,
                s.target.addr
            );
            self.board.notified(NotifyResult::Refused);
        }
        s.due = None;
        s.first = None;
    }
}

/// Writes the NOTIFY of `s` into `out` (RFC 1996 §3.7: opcode NOTIFY, AA,
/// the question `ZONE IN SOA`), signed with the target's key; remembers its
/// ID and MAC. Returns its length.
fn build(s: &mut State, out: &mut [u8]) -> Option<usize> {
    let mut id = [0u8; 2];
    getrandom::fill(&mut id).ok()?;
    s.id = u16::from_be_bytes(id);
    let mut b = MessageBuilder::new(out, 1024).ok()?;
    b.set_id(s.id);
    b.flags_mut().set_opcode(Opcode::Notify);
    b.flags_mut().set_aa(true);
    b.question(s.target.zone.as_name(), Rtype::Soa, Class::In)
        .ok()?;
    let Some(key) = &s.target.key else {
        s.mac_len = 0;
        return Some(b.finish());
    };
    let len = sign_request(key, b, unix_now(), FUDGE).ok()?;
    // The MAC ends 6 octets before the end (original ID, error, other
    // length: RFC 8945 §4.2), and is as long as the algorithm's output.
    let mac_len = key.algorithm().output_len();
    let end = len.checked_sub(6)?;
    let mac = out.get(end.checked_sub(mac_len)?..end)?;
    s.mac.get_mut(..mac_len)?.copy_from_slice(mac);
    s.mac_len = mac_len;
    Some(len)
}
