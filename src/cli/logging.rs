//! Logging through `log` and `env_logger`: the `RUST_LOG` filter, info by
//! default, to stderr or appended to a file that SIGHUP reopens (so logrotate
//! can move it away).
//!
//! No thread that logs ever waits for the disk. env_logger formats a line and
//! hands it to [`Sink`], which copies it into a bounded buffer allocated once
//! at start ([`BUFFER`] octets): a memcpy under a mutex, never I/O while it is
//! held. One thread, `log writer`, swaps that buffer for its own (equally
//! preallocated) and writes it out with write(2), to the file or to stderr.
//! When the buffer is full, because the disk is slow or a pipe is not read,
//! the line is dropped and counted, and the writer logs `log: N lines dropped
//! (the log could not keep up)` once it has caught up: a worker may lose a
//! line, never time. This is the shape of Knot's and BIND's loggers, which
//! also write from their own thread or queue, not from the query path.
//!
//! [`init`] starts buffering; [`start_writer`] starts the thread, after
//! `--user` took effect, so that the process has one thread when it switches
//! (the start-up lines wait in the buffer until then). [`finish`] writes what
//! is buffered and stops the writer; after it, lines are written directly
//! (nothing is left running then to block).

use std::fs::{File, OpenOptions};
use std::io::{self, IsTerminal, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

use env_logger::{Builder, Env, Target, WriteStyle};

/// Set once the log goes to a file, so that a fatal error is written there as
/// well as to stderr.
static TO_FILE: AtomicBool = AtomicBool::new(false);

/// What the loggers share, and the writer thread once [`start_writer`]
/// started it, until [`finish`].
static WRITER: Mutex<Option<Logging>> = Mutex::new(None);

/// The buffer and its writer thread, if started.
type Logging = (Arc<Shared>, Option<JoinHandle<()>>);

/// Octets of log lines held at most while the writer is busy (twice this in
/// all: the buffer being filled and the one being written).
pub const BUFFER: usize = 128 * 1024;

/// How long [`finish`] waits for the writer to write what is left.
const FINISH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Whether the log goes to a file.
pub fn to_file() -> bool {
    TO_FILE.load(Ordering::Relaxed)
}

/// Takes a lock whatever a panic left behind: every state here stays usable.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Where the writer writes.
#[derive(Clone)]
enum Destination {
    Stderr,
    File(Arc<File>),
}

impl Destination {
    fn write_all(&self, bytes: &[u8]) {
        // Nothing is left to report a failed log write to.
        let _ = match self {
            Destination::Stderr => io::stderr().lock().write_all(bytes),
            Destination::File(file) => (&**file).write_all(bytes),
        };
    }
}

/// The lines waiting for the writer.
struct Pending {
    /// Complete lines, at most [`BUFFER`] octets (capacity reserved at start).
    lines: Vec<u8>,
    /// Lines dropped since the writer last reported.
    dropped: u64,
    /// Set by [`start_writer`]; before, only the start-up thread logs, and
    /// writes a full buffer out itself rather than drop a line.
    writer_started: bool,
    /// Set by [`finish`]: write what is left and stop.
    closing: bool,
    /// Set when the writer has stopped: write directly.
    stopped: bool,
}

/// What the loggers, the writer and the SIGHUP path share.
struct Shared {
    pending: Mutex<Pending>,
    /// Signalled when `lines` stops being empty, or at [`finish`].
    wake: Condvar,
    /// Signalled when the writer has stopped.
    done: Condvar,
    /// Held only to read or replace the destination, never while writing.
    destination: Mutex<Destination>,
}

impl Shared {
    /// Nothing pending yet; the buffer's whole capacity reserved now.
    fn new(destination: Destination) -> Shared {
        Shared {
            pending: Mutex::new(Pending {
                lines: Vec::with_capacity(BUFFER),
                dropped: 0,
                writer_started: false,
                closing: false,
                stopped: false,
            }),
            wake: Condvar::new(),
            done: Condvar::new(),
            destination: Mutex::new(destination),
        }
    }

    fn destination(&self) -> Destination {
        lock(&self.destination).clone()
    }

    /// The writer thread: takes the buffered lines, writes them outside every
    /// lock, reports drops once caught up.
    fn run(&self) {
        ON_WRITER.set(true);
        let mut out = Vec::with_capacity(BUFFER);
        loop {
            let (dropped, closing) = {
                let mut p = lock(&self.pending);
                while p.lines.is_empty() && p.dropped == 0 && !p.closing {
                    p = self
                        .wake
                        .wait(p)
                        .unwrap_or_else(|poisoned| poisoned.into_inner());
                }
                std::mem::swap(&mut p.lines, &mut out);
                (std::mem::take(&mut p.dropped), p.closing)
            };
            if !out.is_empty() {
                self.destination().write_all(&out);
                out.clear();
            } else if closing && dropped == 0 {
                let mut p = lock(&self.pending);
                if p.lines.is_empty() {
                    p.stopped = true;
                    self.done.notify_all();
                    return;
                }
                continue;
            }
            if dropped > 0 {
                // Into the buffer it just emptied, so it goes out next.
                log::warn!("log: {dropped} lines dropped (the log could not keep up)");
            }
        }
    }
}

thread_local! {
    /// Set on the writer thread, whose own line (the count of dropped ones)
    /// is written directly when it does not fit, never dropped.
    static ON_WRITER: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// What env_logger writes each formatted line to: the buffer.
struct Sink(Arc<Shared>);

impl Write for Sink {
    /// Takes one whole line (env_logger writes each with one `write_all`),
    /// or drops it when it does not fit; never waits for I/O.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut p = lock(&self.0.pending);
        if p.stopped || (p.lines.len() + buf.len() > BUFFER && ON_WRITER.get()) {
            drop(p);
            self.0.destination().write_all(buf);
        } else if !p.writer_started && p.lines.len() + buf.len() > BUFFER {
            // Start-up, one thread: nothing to block but itself.
            let destination = self.0.destination();
            destination.write_all(&p.lines);
            p.lines.clear();
            destination.write_all(buf);
        } else if p.lines.len() + buf.len() <= BUFFER {
            let was_empty = p.lines.is_empty();
            // Within the capacity reserved at start: no allocation.
            p.lines.extend_from_slice(buf);
            if was_empty {
                self.0.wake.notify_one();
            }
        } else {
            p.dropped += 1;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The log file, for the SIGHUP path and `--user`.
#[derive(Clone)]
pub struct LogFile {
    path: PathBuf,
    shared: Arc<Shared>,
}

/// Mode of a new log file: the log names keys, zones and peers, so others
/// may not read it (as Knot's and BIND's logs).
const MODE: u32 = 0o640;

impl LogFile {
    /// Opens `path` for appending, created with [`MODE`]; a symbolic link
    /// there is refused (O_NOFOLLOW), so that the log cannot be pointed at
    /// another file.
    fn open_file(path: &Path) -> Result<File, String> {
        OpenOptions::new()
            .create(true)
            .append(true)
            .mode(MODE)
            .custom_flags(nix::fcntl::OFlag::O_NOFOLLOW.bits())
            .open(path)
            .map_err(|e| {
                let why = if e.raw_os_error() == Some(nix::errno::Errno::ELOOP as i32) {
                    "it is a symbolic link; refusing to follow it".to_owned()
                } else {
                    super::plain(&e)
                };
                format!("cannot open log file {}: {why}", path.display())
            })
    }

    /// Opens the file at its path again, replacing the one written to so far
    /// (lines still buffered go to the new one); on failure the old one stays
    /// in use. Never waits for a write in progress.
    pub fn reopen(&self) -> Result<(), String> {
        let fresh = Self::open_file(&self.path)?;
        *lock(&self.shared.destination) = Destination::File(Arc::new(fresh));
        Ok(())
    }

    /// Gives the open file to `uid` and `gid` (for `--user`, before the
    /// switch), so that a SIGHUP can still reopen it when nothing moved it.
    pub fn give_to(&self, uid: u32, gid: u32) -> Result<(), String> {
        let Destination::File(file) = self.shared.destination() else {
            return Ok(());
        };
        std::os::unix::fs::fchown(&*file, Some(uid), Some(gid)).map_err(|e| {
            format!(
                "cannot give log file {} to uid {uid}: {}",
                self.path.display(),
                super::plain(&e)
            )
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Starts logging to `file`, or to stderr without one, through the buffer and
/// its writer thread. Returns the open log file for the SIGHUP path.
pub fn init(file: Option<&Path>) -> Result<Option<LogFile>, String> {
    let mut builder = Builder::from_env(Env::default().default_filter_or("info"));
    let (destination, style) = match file {
        Some(path) => (
            Destination::File(Arc::new(LogFile::open_file(path)?)),
            WriteStyle::Never,
        ),
        // Colours as env_logger gives them on stderr: only to a terminal.
        None if io::stderr().is_terminal() => (Destination::Stderr, WriteStyle::Always),
        None => (Destination::Stderr, WriteStyle::Never),
    };
    let shared = Arc::new(Shared::new(destination));
    builder
        .target(Target::Pipe(Box::new(Sink(Arc::clone(&shared)))))
        .write_style(style);
    builder
        .try_init()
        .map_err(|e| format!("cannot start logging: {e}"))?;
    *lock(&WRITER) = Some((Arc::clone(&shared), None));
    TO_FILE.store(file.is_some(), Ordering::Relaxed);
    Ok(file.map(|path| LogFile {
        path: path.to_owned(),
        shared,
    }))
}

/// Starts the `log writer` thread, which writes what [`init`] buffered so
/// far and every line after. Call it once the process is done switching
/// users, before the workers start.
pub fn start_writer() -> Result<(), String> {
    let mut writer = lock(&WRITER);
    let Some((shared, handle @ None)) = writer.as_mut() else {
        return Ok(());
    };
    let shared = Arc::clone(shared);
    lock(&shared.pending).writer_started = true;
    *handle = Some(
        std::thread::Builder::new()
            .name("log writer".to_owned())
            .spawn(move || shared.run())
            .map_err(|e| format!("cannot start the log writer thread: {e}"))?,
    );
    Ok(())
}

/// Writes every buffered line and stops the writer thread (or, when it never
/// started, writes them here); lines logged afterwards are written directly.
/// Call it before the process exits, on every path (a fatal error
/// included); a second call does nothing.
pub fn finish() {
    let Some((shared, writer)) = lock(&WRITER).take() else {
        return;
    };
    match writer {
        Some(writer) => {
            let mut p = lock(&shared.pending);
            p.closing = true;
            shared.wake.notify_one();
            // A log nobody reads must not keep the process from exiting:
            // wait a while, then leave what is still held.
            let (p, _) = shared
                .done
                .wait_timeout_while(p, FINISH_TIMEOUT, |p| !p.stopped)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if p.stopped {
                drop(p);
                // A writer that panicked has nothing more to write.
                let _ = writer.join();
            }
        }
        None => {
            let mut p = lock(&shared.pending);
            shared.destination().write_all(&p.lines);
            p.lines.clear();
            p.stopped = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// As after [`start_writer`], without its thread.
    fn shared() -> Arc<Shared> {
        let shared = Arc::new(Shared::new(Destination::Stderr));
        lock(&shared.pending).writer_started = true;
        shared
    }

    #[test]
    fn a_full_buffer_drops_whole_lines_and_counts_them() {
        let shared = shared();
        let mut sink = Sink(Arc::clone(&shared));
        let line = [b'x'; 1000];
        for _ in 0..200 {
            assert_eq!(sink.write(&line).unwrap(), line.len());
        }
        let p = lock(&shared.pending);
        assert_eq!(p.lines.len(), BUFFER / 1000 * 1000);
        assert_eq!(p.dropped, 200 - (BUFFER / 1000) as u64);
        // Filled within the capacity reserved at start: it never grew.
        assert_eq!(p.lines.capacity(), BUFFER);
    }

    #[test]
    fn the_writer_writes_what_is_left_and_stops() {
        let shared = shared();
        let path = std::env::temp_dir().join(format!("dynzone-log-{}", std::process::id()));
        let file = File::create(&path).unwrap();
        *lock(&shared.destination) = Destination::File(Arc::new(file));
        let mut sink = Sink(Arc::clone(&shared));
        sink.write_all(b"one\n").unwrap();
        sink.write_all(b"two\n").unwrap();
        let writer = {
            let shared = Arc::clone(&shared);
            std::thread::spawn(move || shared.run())
        };
        lock(&shared.pending).closing = true;
        shared.wake.notify_one();
        writer.join().unwrap();
        // Stopped: a later line is written directly.
        sink.write_all(b"three\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "one\ntwo\nthree\n");
        std::fs::remove_file(&path).unwrap();
    }
}
