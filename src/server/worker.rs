//! One worker: a thread with its own `mio::Poll`, handler, sockets, UDP batch
//! buffers and TCP connection slab. Nothing here allocates once
//! [`Worker::run`] has entered its loop.

use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mio::net::{TcpListener, UdpSocket};
use mio::{Events, Interest, Poll, Registry, Token};

use super::conn::Slab;
use super::udp::{Batch, Drained, Headers};
use crate::handler::Handler;
use crate::metrics::{Board, PUBLISH_EVERY};
use crate::store::{Store, WriteBatch};

/// Token of the waker that interrupts `poll` at shutdown.
pub(super) const WAKER: Token = Token(0);
/// Readiness events taken from the kernel per `poll`.
const EVENTS: usize = 1024;
/// Connections accepted per listener per wake-up before the rest get a turn.
const ACCEPT_BUDGET: usize = 64;
/// Pause before accepting again after `accept` failed for want of resources.
const ACCEPT_RETRY: Duration = Duration::from_millis(100);
/// Longest sleep: the handler's snapshot is refreshed at least this often, so
/// an import by another process is visible within it.
const TICK: Duration = Duration::from_millis(500);

/// A listening socket and whether it may still hold work that the budget left.
struct Endpoint<S> {
    socket: S,
    addr: SocketAddr,
    leftover: bool,
    /// When to try accepting again after an error that would repeat at once
    /// (out of descriptors): the pending connections raise no new event.
    retry_at: Option<Instant>,
}

/// Settings of one worker.
pub(super) struct WorkerSetup {
    pub(super) id: usize,
    pub(super) poll: Poll,
    pub(super) handler: Handler,
    pub(super) udp: Vec<(UdpSocket, SocketAddr)>,
    pub(super) tcp: Vec<(TcpListener, SocketAddr)>,
    pub(super) max_connections: usize,
    pub(super) idle_timeout: Duration,
    pub(super) max_per_prefix: usize,
    /// Largest UDP answer the handler writes is `max(512, max_udp_payload)`.
    pub(super) max_udp_payload: u16,
    pub(super) stop: Arc<AtomicBool>,
    /// Where the worker publishes its counters: slot `id`.
    pub(super) board: Arc<Board>,
}

/// Everything a worker owns except its event list, so that events can be
/// iterated while the rest is borrowed mutably.
struct Core {
    id: usize,
    handler: Handler,
    /// The handler's store, for the write batch of each UDP batch.
    store: Store,
    udp: Vec<Endpoint<UdpSocket>>,
    tcp: Vec<Endpoint<TcpListener>>,
    conns: Slab,
    /// Receive and answer buffers of the UDP path.
    batch: Batch,
    /// A lower bound of the earliest connection deadline.
    next_deadline: Option<Instant>,
    /// The metrics board, and when this worker last published to it.
    board: Arc<Board>,
    published: Instant,
}

/// A worker ready to run.
pub(super) struct Worker {
    poll: Poll,
    events: Events,
    stop: Arc<AtomicBool>,
    core: Core,
}

/// What a token stands for.
enum Target {
    Waker,
    Udp(usize),
    Listener(usize),
    Conn(usize),
}

impl Worker {
    /// Registers the sockets with the worker's poll and allocates every buffer.
    pub(super) fn new(setup: WorkerSetup) -> io::Result<Worker> {
        let WorkerSetup {
            id,
            poll,
            handler,
            udp,
            tcp,
            max_connections,
            idle_timeout,
            max_per_prefix,
            max_udp_payload,
            stop,
            board,
        } = setup;
        let listen = udp.len().max(tcp.len());
        let registry = poll.registry();
        let mut udp_endpoints = Vec::with_capacity(udp.len());
        for (i, (mut socket, addr)) in udp.into_iter().enumerate() {
            registry.register(&mut socket, udp_token(i), Interest::READABLE)?;
            udp_endpoints.push(Endpoint {
                socket,
                addr,
                leftover: false,
                retry_at: None,
            });
        }
        let mut tcp_endpoints = Vec::with_capacity(tcp.len());
        for (i, (mut socket, addr)) in tcp.into_iter().enumerate() {
            registry.register(&mut socket, listener_token(listen, i), Interest::READABLE)?;
            tcp_endpoints.push(Endpoint {
                socket,
                addr,
                leftover: false,
                retry_at: None,
            });
        }
        Ok(Worker {
            poll,
            events: Events::with_capacity(EVENTS),
            stop,
            core: Core {
                id,
                store: handler.store().clone(),
                handler,
                udp: udp_endpoints,
                tcp: tcp_endpoints,
                conns: Slab::new(
                    max_connections,
                    conn_base(listen),
                    idle_timeout,
                    max_per_prefix,
                ),
                batch: Batch::new(max_udp_payload),
                next_deadline: None,
                board,
                published: Instant::now(),
            },
        })
    }

    /// Runs until the stop flag is set; fails only when `poll` itself fails.
    /// The system calls' message headers, which cannot move between threads,
    /// are allocated here, in the worker's own thread, before the loop.
    pub(super) fn run(mut self) -> io::Result<()> {
        log::debug!("worker {} running", self.core.id);
        let mut headers = Headers::new(self.core.udp.iter().map(|e| e.addr));
        let result = self.run_loop(&mut headers);
        self.core.conns.close_all(self.poll.registry());
        log::debug!("worker {} stopped", self.core.id);
        result
    }

    fn run_loop(&mut self, headers: &mut Headers) -> io::Result<()> {
        loop {
            let timeout = self.core.poll_timeout(Instant::now());
            match self.poll.poll(&mut self.events, Some(timeout)) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
            if self.stop.load(Ordering::Acquire) {
                return Ok(());
            }
            let core = &mut self.core;
            let registry = self.poll.registry();
            core.handler.refresh();
            let now = Instant::now();
            let unix_now = unix_seconds();
            core.handler.flush_logs(unix_now);
            // The UPDATEs of every TCP connection served in this wake-up
            // share one commit (a handle on the store per wake-up, none per
            // request); it is settled before the UDP path settles its own
            // batches, and at the end of the wake-up.
            let store = core.store.clone();
            let mut tcp = WriteBatch::new(&store);
            core.leftovers(unix_now, now, registry, headers, &mut tcp);
            for event in self.events.iter() {
                match core.target(event.token()) {
                    Some(Target::Waker) | None => {}
                    Some(Target::Udp(i)) => {
                        core.conns.settle(&mut core.handler, tcp, registry);
                        tcp = WriteBatch::new(&store);
                        core.udp_ready(i, unix_now, headers);
                    }
                    Some(Target::Listener(i)) => core.accept(i, now, unix_now, registry, &mut tcp),
                    Some(Target::Conn(i)) => {
                        core.conns
                            .service(i, &mut core.handler, &mut tcp, unix_now, now, registry);
                    }
                }
            }
            core.conns.settle(&mut core.handler, tcp, registry);
            if core.next_deadline.is_some_and(|d| d <= now) {
                core.next_deadline = core.conns.expire(now, registry);
            }
            // At most every PUBLISH_EVERY while busy, and at every tick
            // (which is longer) while idle.
            if now.saturating_duration_since(core.published) >= PUBLISH_EVERY {
                core.publish(now);
            }
        }
    }
}

impl Core {
    /// Copies the counters into this worker's slot of the board; never
    /// waits for a scrape (see [`Board::publish`]).
    fn publish(&mut self, now: Instant) {
        let tcp = self.conns.counts();
        let counters = self.handler.counters_mut();
        counters.set_tcp(tcp);
        self.board.publish(self.id, counters);
        self.published = now;
    }

    /// How long `poll` may sleep: not at all while a budget left work, else
    /// until the next connection deadline, at most one tick.
    fn poll_timeout(&self, now: Instant) -> Duration {
        if self.udp.iter().any(|e| e.leftover)
            || self.tcp.iter().any(|e| e.leftover)
            || self.conns.has_leftover()
        {
            return Duration::ZERO;
        }
        self.next_deadline
            .map_or(TICK, |d| d.saturating_duration_since(now).min(TICK))
    }

    fn target(&self, token: Token) -> Option<Target> {
        let listen = self.udp.len().max(self.tcp.len());
        if token == WAKER {
            return Some(Target::Waker);
        }
        let i = token.0.checked_sub(1)?;
        if i < listen {
            return Some(Target::Udp(i));
        }
        let i = i.checked_sub(listen)?;
        if i < listen {
            return Some(Target::Listener(i));
        }
        self.conns.slot_of(token).map(Target::Conn)
    }

    /// Continues the work that budgets cut short on the previous wake-up.
    fn leftovers(
        &mut self,
        unix_now: u64,
        now: Instant,
        registry: &Registry,
        headers: &mut Headers,
        tcp: &mut WriteBatch<'_>,
    ) {
        // Before any TCP work joins the batch: UDP settles batches itself.
        for i in 0..self.udp.len() {
            if self.udp.get(i).is_some_and(|e| e.leftover) {
                self.udp_ready(i, unix_now, headers);
            }
        }
        for i in 0..self.tcp.len() {
            let due = |e: &Endpoint<TcpListener>| e.retry_at.is_some_and(|t| t <= now);
            if self.tcp.get(i).is_some_and(|e| e.leftover || due(e)) {
                self.accept(i, now, unix_now, registry, tcp);
            }
        }
        self.conns
            .service_leftovers(&mut self.handler, tcp, unix_now, now, registry);
    }

    /// Answers datagrams on UDP socket `i` in batches until it would block or
    /// the budget is spent; in the latter case the socket is served again on
    /// the next round without waiting for an event. A failed receive or send
    /// drops datagrams or answers only.
    fn udp_ready(&mut self, i: usize, unix_now: u64, headers: &mut Headers) {
        let Some(endpoint) = self.udp.get_mut(i) else {
            return;
        };
        let drained = self.batch.serve(
            endpoint.socket.as_raw_fd(),
            endpoint.addr,
            headers,
            i,
            &mut self.handler,
            &self.store,
            unix_now,
        );
        endpoint.leftover = drained == Drained::BudgetSpent;
    }

    /// Accepts connections on listener `i` and starts servicing them.
    fn accept(
        &mut self,
        i: usize,
        now: Instant,
        unix_now: u64,
        registry: &Registry,
        tcp: &mut WriteBatch<'_>,
    ) {
        let Some(endpoint) = self.tcp.get_mut(i) else {
            return;
        };
        endpoint.leftover = false;
        endpoint.retry_at = None;
        let mut accepted = 0;
        while accepted < ACCEPT_BUDGET {
            let (stream, peer) = match endpoint.socket.accept() {
                Ok(pair) => pair,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::Interrupted | io::ErrorKind::ConnectionAborted
                    ) =>
                {
                    continue;
                }
                // Out of descriptors although the slabs are sized to fit
                // (another part of the process holds more than its share):
                // make room as a full slab would, by closing the connection
                // idle the longest, and accept again (issue 11).
                Err(e)
                    if matches!(
                        e.raw_os_error(),
                        Some(libc_errno::EMFILE | libc_errno::ENFILE)
                    ) && self.conns.evict_oldest(registry) =>
                {
                    log::debug!(
                        "accepting on {}: {e}; closed the connection idle the longest",
                        endpoint.addr
                    );
                    continue;
                }
                Err(e) => {
                    // Out of descriptors or memory: try again a little later
                    // rather than spin.
                    log::warn!("accepting on {}: {e}", endpoint.addr);
                    endpoint.retry_at = now.checked_add(ACCEPT_RETRY);
                    return;
                }
            };
            accepted += 1;
            let Some(index) = self.conns.insert(stream, peer, now, registry) else {
                continue;
            };
            log::debug!("TCP connection from {peer}");
            if let Some(deadline) = self.conns.deadline_of(index) {
                self.next_deadline = Some(self.next_deadline.map_or(deadline, |d| d.min(deadline)));
            }
            // Data may have arrived with the connection; edge-triggered readiness
            // would not report it again.
            self.conns
                .service(index, &mut self.handler, tcp, unix_now, now, registry);
        }
        endpoint.leftover = true;
    }
}

/// The errno values `accept` reports when no descriptor is left.
mod libc_errno {
    pub const EMFILE: i32 = nix::errno::Errno::EMFILE as i32;
    pub const ENFILE: i32 = nix::errno::Errno::ENFILE as i32;
}

fn udp_token(i: usize) -> Token {
    Token(i.saturating_add(1))
}

fn listener_token(listen: usize, i: usize) -> Token {
    Token(listen.saturating_add(1).saturating_add(i))
}

fn conn_base(listen: usize) -> usize {
    listen.saturating_mul(2).saturating_add(1)
}

/// Seconds since the Unix epoch (0 for a clock set before 1970).
fn unix_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
