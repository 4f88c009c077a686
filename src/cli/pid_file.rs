//! `serve --pid-file`: created as `named` does, before the switch to
//! `--user` (so it may live in a root-owned directory such as `/run`), never
//! through a symbolic link and never over the pid of a running process.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::signal;
use nix::unistd::Pid;

/// Mode of a new pid file: anyone may read the pid, only its owner write.
const MODE: u32 = 0o644;

/// The pid file, removed when dropped.
pub struct PidFile {
    path: PathBuf,
}

impl PidFile {
    /// Creates `path` (O_CREAT|O_EXCL|O_NOFOLLOW) holding this process's id.
    /// An existing file naming a live process is refused; one naming no
    /// process (or nothing readable as a pid) is stale and replaced, once. A
    /// symbolic link or anything but a regular file is refused and left alone.
    pub fn create(path: &Path) -> Result<PidFile, String> {
        let fail = |what: &str| format!("pid file {}: {what}", path.display());
        let mut file = match create_new(path) {
            Ok(file) => file,
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                remove_stale(path)?;
                create_new(path).map_err(|e| fail(&super::plain(&e)))?
            }
            Err(e) => return Err(fail(&super::plain(&e))),
        };
        writeln!(file, "{}", std::process::id()).map_err(|e| fail(&super::plain(&e)))?;
        Ok(PidFile {
            path: path.to_owned(),
        })
    }
}

fn create_new(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        // With O_EXCL a link is refused already; O_NOFOLLOW states it.
        .custom_flags(OFlag::O_NOFOLLOW.bits())
        .mode(MODE)
        .open(path)
}

/// Removes the existing pid file at `path` if it names no running process.
fn remove_stale(path: &Path) -> Result<(), String> {
    let fail = |what: String| format!("pid file {}: {what}", path.display());
    let meta = fs::symlink_metadata(path).map_err(|e| fail(super::plain(&e)))?;
    if meta.file_type().is_symlink() {
        return Err(fail(
            "is a symbolic link; refusing to follow it (remove it)".to_owned(),
        ));
    }
    if !meta.is_file() {
        return Err(fail("exists and is not a regular file".to_owned()));
    }
    let text = fs::read_to_string(path).unwrap_or_default();
    let old = text.trim().parse::<i32>().ok().filter(|&pid| pid > 0);
    let live = old
        .filter(|&pid| u32::try_from(pid).ok() != Some(std::process::id()))
        .filter(|&pid| {
            // EPERM: the process exists but belongs to someone else.
            matches!(
                signal::kill(Pid::from_raw(pid), None),
                Ok(()) | Err(Errno::EPERM)
            )
        });
    if let Some(pid) = live {
        return Err(fail(format!(
            "process {pid} is running (another dynzone?); stop it, or remove the file if it is not dynzone"
        )));
    }
    // unlink removes the name, never what a link would point to.
    fs::remove_file(path).map_err(|e| {
        fail(format!(
            "cannot remove the stale file: {}",
            super::plain(&e)
        ))
    })?;
    match old {
        Some(pid) => log::info!(
            "pid file {}: replaced a stale one (process {pid} is gone)",
            path.display()
        ),
        None => log::info!(
            "pid file {}: replaced a stale one (no pid in it)",
            path.display()
        ),
    }
    Ok(())
}

impl Drop for PidFile {
    fn drop(&mut self) {
        if let Err(e) = fs::remove_file(&self.path) {
            log::warn!(
                "cannot remove pid file {}: {}",
                self.path.display(),
                super::plain(&e)
            );
        }
    }
}
