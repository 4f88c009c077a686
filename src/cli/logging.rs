//! Logging through `log` and `env_logger`: the `RUST_LOG` filter, info by
//! default, to stderr or appended to a file that SIGHUP reopens (so logrotate
//! can move it away).

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use env_logger::{Builder, Env, Target, WriteStyle};

/// Set once the log goes to a file, so that a fatal error is written there as
/// well as to stderr.
static TO_FILE: AtomicBool = AtomicBool::new(false);

/// Whether the log goes to a file.
pub fn to_file() -> bool {
    TO_FILE.load(Ordering::Relaxed)
}

/// The log file, shared by the logger and the SIGHUP path.
#[derive(Clone)]
pub struct LogFile {
    path: PathBuf,
    file: Arc<Mutex<File>>,
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

    fn lock(&self) -> MutexGuard<'_, File> {
        // A panic while writing a log line leaves a file that is still usable.
        self.file
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Opens the file at its path again, replacing the one written to so far;
    /// on failure the old one stays in use.
    pub fn reopen(&self) -> Result<(), String> {
        let fresh = Self::open_file(&self.path)?;
        *self.lock() = fresh;
        Ok(())
    }

    /// Gives the open file to `uid` and `gid` (for `--user`, before the
    /// switch), so that a SIGHUP can still reopen it when nothing moved it.
    pub fn give_to(&self, uid: u32, gid: u32) -> Result<(), String> {
        std::os::unix::fs::fchown(&*self.lock(), Some(uid), Some(gid)).map_err(|e| {
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

impl Write for LogFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.lock().write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.lock().flush()
    }
}

/// Starts logging to `file`, or to stderr without one. Returns the open log
/// file for the SIGHUP path.
pub fn init(file: Option<&Path>) -> Result<Option<LogFile>, String> {
    let mut builder = Builder::from_env(Env::default().default_filter_or("info"));
    let log_file = match file {
        Some(path) => {
            let log_file = LogFile {
                path: path.to_owned(),
                file: Arc::new(Mutex::new(LogFile::open_file(path)?)),
            };
            builder
                .target(Target::Pipe(Box::new(log_file.clone())))
                .write_style(WriteStyle::Never);
            Some(log_file)
        }
        None => None,
    };
    builder
        .try_init()
        .map_err(|e| format!("cannot start logging: {e}"))?;
    TO_FILE.store(log_file.is_some(), Ordering::Relaxed);
    Ok(log_file)
}
