//! The mio event loop: UDP and TCP sockets, the connection slab, timers, signals.
//!
//! One worker thread per core, each with its own `mio::Poll`, [`Handler`], UDP
//! socket and TCP listener for every listen address (SO_REUSEPORT, so the kernel
//! spreads the load), and a fixed slab of TCP connections. Every buffer is
//! allocated when a worker is built; the request path allocates nothing.
//!
//! Start-up is split so that the command line can report each failure as one
//! line before anything runs: [`bind`] binds every socket in the calling thread
//! (worker 0's first, so a port in use is reported for the address the operator
//! wrote), [`Server::start`] builds the workers and starts their threads, and
//! [`Server::run`] waits for signals until SIGINT or SIGTERM, then stops and
//! joins the workers.

mod conn;
pub mod notify;
mod signals;
mod socket;
mod udp;
mod worker;

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use mio::net::{TcpListener, UdpSocket};
use mio::{Poll, Waker};

pub use signals::{Request, SignalWatch};

use crate::handler::{self, Handler};
use crate::metrics::Board;
use crate::store::{Store, StoreError};
use worker::{WAKER, Worker, WorkerSetup};

/// Default idle timeout of a TCP connection (RFC 7766 §6.2.3 suggests seconds,
/// not minutes, for a server under load).
pub const DEFAULT_TCP_IDLE_TIMEOUT: Duration = Duration::from_secs(10);
/// Default number of TCP connections from one source prefix.
pub const DEFAULT_TCP_MAX_PER_PREFIX: usize = 32;
/// Default number of TCP connections per worker (the total is this many per
/// worker, within the descriptor limit: [`connections_per_worker`]).
pub const DEFAULT_TCP_MAX_CONNECTIONS: usize = 256;
/// Descriptors kept for everything but the TCP connections and the sockets:
/// standard streams, the log file, LMDB's files, the metrics listener and
/// its one connection, and room for what a library opens.
const RESERVED_DESCRIPTORS: u64 = 64;

/// How often the main thread looks at the workers while waiting for signals.
const SUPERVISE: Duration = Duration::from_secs(1);
/// How often the main thread clears LMDB reader slots of dead processes.
pub const STALE_READERS_EVERY: Duration = Duration::from_secs(10);

/// Raises the soft limit on open descriptors to the hard one, as Knot and
/// NSD do at start, and returns the soft limit then in force (1,024, the
/// usual default, when it cannot be read).
pub fn raise_descriptor_limit() -> u64 {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((soft, hard)) if soft < hard => match setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
            Ok(()) => hard,
            Err(e) => {
                log::warn!("raising the descriptor limit from {soft} to {hard}: {e}");
                soft
            }
        },
        Ok((soft, _)) => soft,
        Err(_) => 1024,
    }
}

/// TCP connections per worker: `total` split between `workers`, so that all
/// of them, the `sockets` bound and a reserve for everything else fit under
/// `descriptors`. The slabs then fill, and evict their oldest idle
/// connection, before `accept` can fail for want of a descriptor (issue 11);
/// at least one per worker.
pub fn connections_per_worker(
    total: usize,
    workers: usize,
    sockets: usize,
    descriptors: u64,
) -> usize {
    let workers = workers.max(1);
    // Per worker: its poll and its waker.
    let fixed = RESERVED_DESCRIPTORS
        .saturating_add(sockets as u64)
        .saturating_add(2 * workers as u64);
    let room = usize::try_from(descriptors.saturating_sub(fixed)).unwrap_or(usize::MAX);
    (total.min(room) / workers).max(1)
}

/// Settings of the event loop.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// Settings of each worker's request handler.
    pub handler: handler::Config,
    /// A TCP connection is closed when no complete request arrived for this
    /// long, or when one frame has taken this long to arrive.
    pub tcp_idle_timeout: Duration,
    /// TCP connections of all workers together, at most; when a worker's
    /// share is taken, a new one replaces the one whose last complete
    /// request is oldest. Within the descriptor limit, see
    /// [`connections_per_worker`].
    pub tcp_max_connections: usize,
    /// TCP connections from one /24 (IPv4) or /56 (IPv6), of all workers
    /// together (each worker takes its share); at the limit, a prefix's new
    /// connection replaces its own oldest.
    pub tcp_max_per_prefix: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            handler: handler::Config::default(),
            tcp_idle_timeout: DEFAULT_TCP_IDLE_TIMEOUT,
            tcp_max_connections: DEFAULT_TCP_MAX_CONNECTIONS,
            tcp_max_per_prefix: DEFAULT_TCP_MAX_PER_PREFIX,
        }
    }
}

/// Failure to bind one socket.
#[derive(Debug)]
pub struct BindError {
    /// The address.
    pub addr: SocketAddr,
    /// `"udp"` or `"tcp"`.
    pub protocol: &'static str,
    /// What the operating system said.
    pub error: io::Error,
}

impl fmt::Display for BindError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot listen on {}/{}: {}",
            self.addr,
            self.protocol,
            plain_io_error(&self.error)
        )
    }
}

impl std::error::Error for BindError {}

/// Failure to start or run the workers.
#[derive(Debug)]
pub enum ServerError {
    /// A worker's read snapshot could not be opened.
    Store(StoreError),
    /// An operating system call failed; the text says which.
    Io(&'static str, io::Error),
    /// A worker thread panicked.
    Panicked(usize),
    /// A worker stopped on its own.
    WorkerExited(usize),
}

impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServerError::Store(e) => write!(f, "opening a read snapshot: {e}"),
            ServerError::Io(what, e) => write!(f, "{what}: {}", plain_io_error(e)),
            ServerError::Panicked(id) => write!(f, "worker {id} panicked"),
            ServerError::WorkerExited(id) => write!(f, "worker {id} stopped unexpectedly"),
        }
    }
}

impl std::error::Error for ServerError {}

/// An I/O error's message without the " (os error N)" suffix (also for the
/// command line's messages).
pub fn plain_io_error(e: &io::Error) -> String {
    let text = e.to_string();
    match text.rfind(" (os error ") {
        Some(at) => text.get(..at).unwrap_or(&text).to_owned(),
        None => text,
    }
}

/// The sockets of one worker, one UDP socket and one TCP listener per address.
struct WorkerSockets {
    udp: Vec<(UdpSocket, SocketAddr)>,
    tcp: Vec<(TcpListener, SocketAddr)>,
}

/// Every socket of every worker, bound and not yet served.
pub struct Listeners {
    workers: Vec<WorkerSockets>,
    addrs: Vec<SocketAddr>,
}

impl Listeners {
    /// The addresses bound, with a port 0 replaced by the one the kernel chose.
    pub fn addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// Number of workers the sockets were bound for.
    pub fn workers(&self) -> usize {
        self.workers.len()
    }
}

/// Binds a UDP socket and a TCP listener on each of `addrs` for each of
/// `workers` workers (at least one). Each address is first bound for a moment
/// without SO_REUSEPORT, so that one held by another process (even another
/// dynzone, which sets SO_REUSEPORT too) is reported as in use rather than
/// shared. For an address with port 0 the port the kernel picks for worker 0's
/// UDP socket is used for everything else.
pub fn bind(addrs: &[SocketAddr], workers: usize) -> Result<Listeners, BindError> {
    for &addr in addrs.iter().filter(|a| a.port() != 0) {
        for (protocol, name) in [
            (socket::Protocol::UDP, "udp"),
            (socket::Protocol::TCP, "tcp"),
        ] {
            socket::probe(addr, protocol).map_err(|error| BindError {
                addr,
                protocol: name,
                error,
            })?;
        }
    }
    let mut resolved = Vec::with_capacity(addrs.len());
    let mut all = Vec::with_capacity(workers.max(1));
    for id in 0..workers.max(1) {
        let mut sockets = WorkerSockets {
            udp: Vec::with_capacity(addrs.len()),
            tcp: Vec::with_capacity(addrs.len()),
        };
        for (i, wanted) in addrs.iter().enumerate() {
            let addr = resolved.get(i).copied().unwrap_or(*wanted);
            let udp = socket::udp(addr).map_err(|error| BindError {
                addr,
                protocol: "udp",
                error,
            })?;
            let addr = if id == 0 {
                let actual = udp.local_addr().unwrap_or(addr);
                resolved.push(actual);
                actual
            } else {
                addr
            };
            let tcp = socket::tcp(addr).map_err(|error| BindError {
                addr,
                protocol: "tcp",
                error,
            })?;
            sockets.udp.push((udp, addr));
            sockets.tcp.push((tcp, addr));
        }
        all.push(sockets);
    }
    Ok(Listeners {
        workers: all,
        addrs: resolved,
    })
}

/// A running worker thread and the waker that interrupts its `poll`.
struct WorkerHandle {
    id: usize,
    waker: Waker,
    thread: Option<JoinHandle<io::Result<()>>>,
}

/// The running workers.
pub struct Server {
    workers: Vec<WorkerHandle>,
    stop: Arc<AtomicBool>,
    board: Arc<Board>,
    /// For the main thread's upkeep of the store (stale reader slots).
    store: Store,
    /// The NOTIFY thread, when there are targets.
    notifier: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    /// Builds one worker per bound socket set, with a handler reading `store`,
    /// and starts their threads. The workers publish their counters to one
    /// new [`Board`], each to its own slot ([`Server::board`]).
    pub fn start(
        store: &Store,
        listeners: Listeners,
        settings: &Settings,
        auth: Arc<handler::Auth>,
    ) -> Result<Server, ServerError> {
        Server::start_notifying(store, listeners, settings, auth, Vec::new())
    }

    /// [`Server::start`], and a notifier thread sending NOTIFY to `targets`
    /// after each durable change to their zones ([`notify`]).
    pub fn start_notifying(
        store: &Store,
        listeners: Listeners,
        settings: &Settings,
        auth: Arc<handler::Auth>,
        targets: Vec<notify::Target>,
    ) -> Result<Server, ServerError> {
        // Bounded: a handler never waits for the notifier.
        let (notices, received) = std::sync::mpsc::sync_channel(1024);
        let notifying = !targets.is_empty();
        let stop = Arc::new(AtomicBool::new(false));
        let board = Board::new(listeners.workers.len());
        let sockets: usize = listeners
            .workers
            .iter()
            .map(|w| w.udp.len() + w.tcp.len())
            .sum();
        let descriptors = raise_descriptor_limit();
        let per_worker = connections_per_worker(
            settings.tcp_max_connections,
            listeners.workers.len(),
            sockets,
            descriptors,
        );
        log::info!(
            "TCP: at most {} connections ({per_worker} per worker, {} of them with 192 KiB buffers at once) under a limit of {descriptors} descriptors",
            per_worker * listeners.workers.len().max(1),
            conn::large_buffers(per_worker)
        );
        let per_prefix = (settings.tcp_max_per_prefix / listeners.workers.len().max(1)).max(1);
        let mut ready = Vec::with_capacity(listeners.workers.len());
        for (id, sockets) in listeners.workers.into_iter().enumerate() {
            let poll = Poll::new().map_err(|e| ServerError::Io("creating a poll", e))?;
            let waker = Waker::new(poll.registry(), WAKER)
                .map_err(|e| ServerError::Io("creating a waker", e))?;
            let mut handler = Handler::new(store, settings.handler)
                .map_err(ServerError::Store)?
                .with_auth(Arc::clone(&auth));
            if notifying {
                handler = handler.with_notices(notices.clone());
            }
            let worker = Worker::new(WorkerSetup {
                id,
                poll,
                handler,
                udp: sockets.udp,
                tcp: sockets.tcp,
                max_connections: per_worker,
                max_per_prefix: per_prefix,
                idle_timeout: settings.tcp_idle_timeout,
                max_udp_payload: settings.handler.max_udp_payload,
                stop: Arc::clone(&stop),
                board: Arc::clone(&board),
            })
            .map_err(|e| ServerError::Io("registering sockets", e))?;
            ready.push((id, waker, worker));
        }
        drop(notices);
        let listen = listeners.addrs.clone();
        let notifier = notify::spawn(
            targets,
            &listen,
            received,
            Arc::clone(&board),
            Arc::clone(&stop),
        )
        .map_err(|e| ServerError::Io("starting the notifier", e))?;
        let mut server = Server {
            workers: Vec::with_capacity(ready.len()),
            stop,
            board,
            store: store.clone(),
            notifier,
        };
        for (id, waker, worker) in ready {
            let spawned = std::thread::Builder::new()
                .name(format!("dynzone-worker-{id}"))
                .spawn(move || worker.run());
            match spawned {
                Ok(thread) => server.workers.push(WorkerHandle {
                    id,
                    waker,
                    thread: Some(thread),
                }),
                Err(e) => {
                    server.stop();
                    // The threads already started stop at once; their outcome
                    // does not change the error reported.
                    let _ = server.join();
                    return Err(ServerError::Io("starting a worker thread", e));
                }
            }
        }
        Ok(server)
    }

    /// The board the workers publish their counters to, for the metrics
    /// endpoint.
    pub fn board(&self) -> Arc<Board> {
        Arc::clone(&self.board)
    }

    /// Asks every worker to stop, waking it at once.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Release);
        for worker in &self.workers {
            if let Err(e) = worker.waker.wake() {
                log::warn!("waking worker {}: {e}", worker.id);
            }
        }
    }

    /// Clears the LMDB reader slots that processes which ended without
    /// closing the database left behind (see [`Store::clear_stale_readers`]).
    fn clear_stale_readers(&self) {
        match self.store.clear_stale_readers() {
            Ok(0) => {}
            Ok(n) => log::info!(
                "cleared {n} stale LMDB reader slot(s) left by a process that ended without closing the database"
            ),
            Err(e) => log::warn!("clearing stale LMDB reader slots: {e}"),
        }
    }

    /// The id of a worker whose thread has ended although no stop was asked.
    fn exited_worker(&self) -> Option<usize> {
        self.workers
            .iter()
            .find(|w| w.thread.as_ref().is_some_and(|t| t.is_finished()))
            .map(|w| w.id)
    }

    /// Waits for signals: SIGHUP calls `on_reopen`, SIGINT or SIGTERM stops the
    /// workers. Also stops them all when one ends on its own. Returns once every
    /// worker has been joined.
    pub fn run(
        mut self,
        signals: &mut SignalWatch,
        on_reopen: &mut dyn FnMut(),
    ) -> Result<(), ServerError> {
        let mut failure = None;
        let mut readers_checked = Instant::now();
        loop {
            if readers_checked.elapsed() >= STALE_READERS_EVERY {
                self.clear_stale_readers();
                readers_checked = Instant::now();
            }
            let mut stop = None;
            let waited = signals.wait(SUPERVISE, &mut |request| match request {
                Request::Reopen => on_reopen(),
                Request::Stop(name) => stop = Some(name),
            });
            if let Err(e) = waited {
                failure = Some(ServerError::Io("waiting for signals", e));
                break;
            }
            if let Some(name) = stop {
                log::info!("{name} received, stopping");
                break;
            }
            if let Some(id) = self.exited_worker() {
                failure = Some(ServerError::WorkerExited(id));
                break;
            }
        }
        self.stop();
        let joined = self.join();
        match failure {
            Some(e) => Err(e),
            None => joined,
        }
    }

    /// Joins every worker thread; the first failure among them is returned.
    pub fn join(&mut self) -> Result<(), ServerError> {
        let mut result = Ok(());
        if let Some(notifier) = self.notifier.take()
            && notifier.join().is_err()
        {
            log::error!("the notifier thread panicked");
        }
        for worker in &mut self.workers {
            let Some(thread) = worker.thread.take() else {
                continue;
            };
            let outcome = match thread.join() {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(ServerError::Io("polling", e)),
                Err(_) => Err(ServerError::Panicked(worker.id)),
            };
            if let Err(e) = outcome {
                log::error!("worker {}: {e}", worker.id);
                if result.is_ok() {
                    result = Err(e);
                }
            }
        }
        result
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.workers.iter().any(|w| w.thread.is_some()) {
            self.stop();
            let _ = self.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_fit_under_the_descriptor_limit() {
        // 128 descriptors, one worker with a UDP and a TCP socket: 64
        // reserved, 2 sockets, poll and waker: 60 left for connections.
        assert_eq!(connections_per_worker(256, 1, 2, 128), 60);
        // A total split between workers, and the flag when it fits.
        assert_eq!(connections_per_worker(512, 2, 4, 20_000), 256);
        assert_eq!(connections_per_worker(1000, 4, 8, 1024), 236);
        // Never none.
        assert_eq!(connections_per_worker(256, 2, 4, 10), 1);
    }
}
