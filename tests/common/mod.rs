//! The one harness of the integration tests (`mod common;` in each):
//! - here: the release binary, built once per test process; a free loopback
//!   port; a server started on a zone and stopped (SIGTERM) when dropped;
//!   external tools that name their Debian package when missing; waiting
//!   for something to happen within a bound derived from the server's tick;
//! - [`wire`]: names, queries, TCP frames and hex (also used by `benches/`);
//! - [`net`]: raw UDP and TCP exchanges with a running server;
//! - [`printed`]: `dig` and `kdig`, and one reader of what they print;
//! - [`zone`]: a test zone built in code and a store for it;
//! - [`props`]: the proptest settings;
//! - [`seed`]: random choices a failing run can replay.
#![allow(dead_code)]

pub mod net;
pub mod printed;
pub mod props;
pub mod seed;
pub mod wire;
pub mod zone;

use std::fs;
use std::io::ErrorKind;
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long a server may take to answer its first connection.
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a server may take to exit after SIGTERM.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a restart on the same port waits for the port to be free.
const REBIND_TIMEOUT: Duration = Duration::from_secs(5);

/// The server's longest sleep, `TICK` in `src/server/worker.rs` (the tests
/// cannot read a private constant): at least this often a worker wakes up and
/// refreshes its read snapshot.
pub const SERVER_TICK: Duration = Duration::from_millis(500);
/// How long a test waits for something the server does within a tick or two
/// (a new import seen, a datagram answered while TCP is busy): 20 ticks, far
/// beyond what it needs, so that a slow shared machine does not fail a test.
/// The tests print the time it took; none asserts a speed.
pub const LIVENESS_BOUND: Duration = SERVER_TICK.saturating_mul(20);

/// The release binary, built (or found current) by `cargo build --release`
/// once per test process.
pub fn binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
        let out = Command::new(env!("CARGO"))
            .args(["build", "--release", "--bin", "dynzone"])
            .current_dir(manifest)
            .output()
            .expect("running cargo build --release");
        assert!(
            out.status.success(),
            "cargo build --release --bin dynzone failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .map(|dir| {
                if dir.is_absolute() {
                    dir
                } else {
                    manifest.join(dir)
                }
            })
            .unwrap_or_else(|| manifest.join("target"));
        let path = target.join("release").join("dynzone");
        assert!(path.is_file(), "no binary at {}", path.display());
        path
    })
}

/// A `dynzone` command with `args`, run to completion.
pub fn dynzone(args: &[&str]) -> Output {
    Command::new(binary())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("running dynzone")
}

/// A fresh, empty directory under the system's temporary directory; removed
/// by the returned guard's drop.
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Creates a new directory with a name no other test uses.
    pub fn new() -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let path = std::env::temp_dir().join(format!(
            "dynzone-test-{}-{}-{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        fs::create_dir_all(&path).expect("creating a temporary directory");
        TempDir { path }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A path inside the directory.
    pub fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// A loopback port free for both UDP and TCP right now, and not handed out
/// before by this process. It is taken below the kernel's ephemeral range
/// (`ip_local_port_range`): a port from that range can, between being
/// picked and being bound by the server, become the source port of some
/// client socket, or be returned for a moment to another `bind(0)` (a
/// listener that a readiness probe then reaches: CI saw a server reported
/// ready before it had bound its UDP socket).
pub fn pick_port() -> u16 {
    static NEXT: Mutex<Option<u16>> = Mutex::new(None);
    let ephemeral_low = fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|t| {
            t.split_whitespace()
                .next()
                .and_then(|n| n.parse::<u16>().ok())
        })
        .unwrap_or(32768);
    let (low, high) = (10_000u16, ephemeral_low.max(10_001));
    let span = high - low;
    let mut next = NEXT.lock().unwrap_or_else(|p| p.into_inner());
    // Each test process starts somewhere else in the range, so that two
    // runs side by side rarely meet.
    let mut port =
        next.unwrap_or_else(|| low + (std::process::id() as u16).wrapping_mul(97) % span);
    for _ in 0..span {
        port = if port + 1 >= high { low } else { port + 1 };
        let free = TcpListener::bind(("127.0.0.1", port)).is_ok()
            && UdpSocket::bind(("127.0.0.1", port)).is_ok();
        if free {
            *next = Some(port);
            return port;
        }
    }
    panic!("no free loopback port found");
}

/// Runs an external tool; a missing tool fails the test with the package to
/// install.
pub fn run_tool(cmd: &str, args: &[&str]) -> Output {
    match Command::new(cmd).args(args).stdin(Stdio::null()).output() {
        Ok(out) => out,
        Err(e) if e.kind() == ErrorKind::NotFound => {
            let package = match cmd {
                "dig" | "nsupdate" | "delv" => "bind9-dnsutils",
                "kdig" | "knsupdate" => "knot-dnsutils",
                "knotc" | "knotd" => "knot",
                "named-checkzone" => "bind9-utils",
                "kzonecheck" => "knot-dnssecutils",
                "python3" => "python3",
                "kill" => "procps",
                "setpriv" | "prlimit" => "util-linux",
                _ => "the package that provides it",
            };
            panic!("{cmd} is not installed: apt-get install {package}");
        }
        Err(e) => panic!("running {cmd}: {e}"),
    }
}

/// What a tool printed: its standard output, then its standard error.
pub fn printed_text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Sends `signal` (a name such as `TERM` or `HUP`) to process `pid`.
pub fn send_signal(pid: u32, signal: &str) {
    let out = run_tool("kill", &["-s", signal, &pid.to_string()]);
    assert!(
        out.status.success(),
        "kill -s {signal} {pid}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Waits up to `timeout` for `child` to exit.
pub fn wait_timeout(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Polls `check` every 20 ms for up to `timeout`; whether it became true.
pub fn eventually(timeout: Duration, check: impl FnMut() -> bool) -> bool {
    time_until(timeout, check).is_some()
}

/// Polls `check` every 20 ms for up to `timeout`; how long it took to become
/// true, or `None` when it did not.
pub fn time_until(timeout: Duration, mut check: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    let deadline = start + timeout;
    loop {
        if check() {
            return Some(start.elapsed());
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A `dynzone serve` process on 127.0.0.1 with one worker, over a database in
/// a temporary directory; stopped with SIGTERM when dropped.
pub struct TestServer {
    child: Option<Child>,
    port: u16,
    dir: TempDir,
    log: PathBuf,
    /// The hosts it listens on, each with the port (`127.0.0.1`, `[::]`).
    listen: Vec<String>,
    /// The arguments it was started with after its own (`--listen`,
    /// `--db`), for [`TestServer::restart_on_same_port`].
    args: Vec<String>,
}

impl TestServer {
    /// Imports `zonefile_text` (origin `origin`; nothing when the text is
    /// empty) into a fresh database, then starts `dynzone serve --listen
    /// 127.0.0.1:PORT --db DIR --workers 1` followed by `extra_args` (which
    /// may give `--workers` itself), with its stderr in a log file, and waits
    /// until it accepts TCP connections.
    pub fn start(zonefile_text: &str, origin: &str, extra_args: &[&str]) -> TestServer {
        TestServer::start_listening(zonefile_text, origin, &["127.0.0.1"], extra_args)
    }

    /// [`TestServer::start`] with one `--listen HOST:PORT` for each of
    /// `hosts` (`0.0.0.0`, `[::]`) instead of `127.0.0.1:PORT`; the start is
    /// awaited on 127.0.0.1, which the first host must cover.
    pub fn start_listening(
        zonefile_text: &str,
        origin: &str,
        hosts: &[&str],
        extra_args: &[&str],
    ) -> TestServer {
        let dir = TempDir::new();
        let db = dir.join("db");
        if !zonefile_text.is_empty() {
            let zonefile = dir.join("zone.txt");
            fs::write(&zonefile, zonefile_text).expect("writing the zone file");
            let out = dynzone(&[
                "import",
                "--db",
                path_str(&db),
                "--origin",
                origin,
                path_str(&zonefile),
            ]);
            assert!(
                out.status.success(),
                "dynzone import failed:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let log = dir.join("server.log");
        let mut server = TestServer {
            child: None,
            port: 0,
            dir,
            log,
            listen: hosts.iter().map(|h| h.to_string()).collect(),
            args: extra_args.iter().map(|a| a.to_string()).collect(),
        };
        if let Err(text) = server.launch(extra_args, false, None) {
            panic!("dynzone serve did not start:\n{text}");
        }
        server
    }

    /// Starts `dynzone serve` on this server's database with `extra_args`
    /// (`--workers 1` unless they say otherwise) on `port`, or a free port
    /// when `None`, appending to the log when `append`, and waits until it
    /// serves. A port picked free can be taken before the server binds it:
    /// up to three tries, each on a new port. A port given may still be held
    /// for a moment by the process that had it: tried again every 100 ms
    /// for up to [`REBIND_TIMEOUT`].
    fn launch(
        &mut self,
        extra_args: &[&str],
        mut append: bool,
        fixed: Option<u16>,
    ) -> Result<(), String> {
        let db = self.db_path();
        let mut last_log = String::new();
        let deadline = Instant::now() + REBIND_TIMEOUT;
        for attempt in 0.. {
            let port = match fixed {
                Some(port) if attempt == 0 || Instant::now() < deadline => port,
                Some(_) => break,
                None if attempt < 3 => pick_port(),
                None => break,
            };
            let listen: Vec<String> = self.listen.iter().map(|h| format!("{h}:{port}")).collect();
            let mut args = vec!["serve"];
            for addr in &listen {
                args.extend_from_slice(&["--listen", addr]);
            }
            args.extend_from_slice(&["--db", path_str(&db)]);
            if !extra_args.contains(&"--workers") {
                args.extend_from_slice(&["--workers", "1"]);
            }
            // The tests ask the same names from loopback many times a second,
            // which response rate limiting (on by default) would hold back:
            // off unless a test is about it and says so.
            if !extra_args.contains(&"--rrl-rate") {
                args.extend_from_slice(&["--rrl-rate", "0"]);
            }
            args.extend_from_slice(extra_args);
            let stderr = fs::OpenOptions::new()
                .create(true)
                .write(true)
                .append(append)
                .truncate(!append)
                .open(&self.log)
                .expect("opening the server log");
            let child = Command::new(binary())
                .args(&args)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(stderr)
                .spawn()
                .expect("starting dynzone serve");
            self.child = Some(child);
            self.port = port;
            match self.wait_until_serving() {
                Ok(()) => return Ok(()),
                Err(text) => {
                    self.kill();
                    let taken = text.contains("cannot listen");
                    last_log = text;
                    if !taken {
                        break;
                    }
                    if fixed.is_some() {
                        std::thread::sleep(Duration::from_millis(100));
                    } else {
                        append = false;
                    }
                }
            }
        }
        Err(last_log)
    }

    /// Waits until a TCP connection succeeds; on an early exit, the log.
    fn wait_until_serving(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + START_TIMEOUT;
        let addr = self.addr();
        loop {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                self.child = None;
                return Err(format!("exited with {status}:\n{}", self.log_contents()));
            }
            // The server binds its UDP sockets before its TCP listeners,
            // and nothing else binds a port `pick_port` handed out, so an
            // accepted connection means both are there.
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "no answer after {START_TIMEOUT:?}:\n{}",
                    self.log_contents()
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts `dynzone serve` again on the same database, after the process
    /// exited (`stop`, or a SIGKILL followed by `wait_exit`): a new port,
    /// `extra_args` as for `start`, the log file appended to.
    pub fn restart(&mut self, extra_args: &[&str]) {
        assert!(self.child.is_none(), "the server is still running");
        if let Err(text) = self.launch(extra_args, true, None) {
            panic!("dynzone serve did not start again:\n{text}");
        }
    }

    /// Starts `dynzone serve` again on the same database after the process
    /// exited (`stop`, or a SIGKILL followed by `wait_exit`), on the **same
    /// port** (a secondary's configuration names it), with the arguments it
    /// was started with followed by `extra_args`, the log file appended to.
    pub fn restart_on_same_port(&mut self, extra_args: &[&str]) {
        assert!(self.child.is_none(), "the server is still running");
        let mut args: Vec<String> = self.args.clone();
        args.extend(extra_args.iter().map(|a| a.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        if let Err(text) = self.launch(&args, true, Some(self.port)) {
            panic!(
                "dynzone serve did not start again on port {}:\n{text}",
                self.port
            );
        }
    }

    /// The UDP and TCP port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// 127.0.0.1 and the port.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// The database directory.
    pub fn db_path(&self) -> PathBuf {
        self.dir.join("db")
    }

    /// The temporary directory holding the database and the log.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// What the server wrote to stderr so far.
    pub fn log_contents(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Sends a signal (`HUP`, `TERM`, ...) to the server.
    pub fn signal(&self, signal: &str) {
        send_signal(self.pid(), signal);
    }

    /// Sends SIGTERM and waits for the exit; kills it after a timeout.
    pub fn stop(&mut self) -> ExitStatus {
        self.signal("TERM");
        self.wait_exit()
    }

    /// Waits for the exit (after a signal sent some other way); kills it
    /// after a timeout, failing the test.
    pub fn wait_exit(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("the server is running");
        match wait_timeout(&mut child, STOP_TIMEOUT) {
            Some(status) => status,
            None => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "dynzone did not exit after SIGTERM:\n{}",
                    self.log_contents()
                );
            }
        }
    }

    /// Runs `dynzone import --db DB [--origin ORIGIN] FILE` with `text` as the file.
    pub fn import(&self, text: &str, origin: &str) -> Output {
        static N: AtomicUsize = AtomicUsize::new(0);
        let file = self
            .dir
            .join(&format!("import-{}.txt", N.fetch_add(1, Ordering::Relaxed)));
        fs::write(&file, text).expect("writing the zone file");
        dynzone(&[
            "import",
            "--db",
            path_str(&self.db_path()),
            "--origin",
            origin,
            path_str(&file),
        ])
    }

    /// Opens the server's database beside the running server (LMDB allows
    /// several processes) and checks the store invariant
    /// ([`dynzone::store::Store::check_invariants`]); fails the test with
    /// every violation found.
    pub fn assert_store_invariant(&self) {
        let store = dynzone::store::Store::open(&self.db_path(), dynzone::store::DEFAULT_MAP_SIZE)
            .expect("opening the server's database");
        if let Err(violations) = store.check_invariants() {
            panic!(
                "the store invariant is broken:\n{}\nserver log:\n{}",
                violations.join("\n"),
                self.log_contents()
            );
        }
    }

    /// `dynzone export` of `zone` from the server's database; fails the test
    /// when the command fails.
    pub fn export(&self, zone: &str) -> String {
        let out = dynzone(&["export", "--db", path_str(&self.db_path()), zone]);
        assert!(
            out.status.success(),
            "dynzone export {zone} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("export prints UTF-8")
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-s", "TERM", &child.id().to_string()])
                .stderr(Stdio::null())
                .status();
            if wait_timeout(&mut child, STOP_TIMEOUT).is_none() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

/// A path as `&str`; test paths are always UTF-8.
pub fn path_str(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 path")
}

/// Runs `nsupdate -y KEY` with `script` after a `server` and a `zone` line
/// (so that it sends the one UPDATE and nothing else); whether it succeeded,
/// and what it printed.
pub fn nsupdate(server: &TestServer, key: &str, name: &str, script: &str) -> (bool, String) {
    let file = server.dir().join(format!("nsupdate-{name}.txt"));
    let full = format!(
        "server 127.0.0.1 {}\nzone example.test\n{script}\nsend\n",
        server.port()
    );
    fs::write(&file, full).expect("writing the nsupdate script");
    let out = run_tool(
        "nsupdate",
        &["-t", "5", "-y", key, file.to_str().expect("a UTF-8 path")],
    );
    let printed = printed_text(&out);
    (out.status.success(), printed)
}
