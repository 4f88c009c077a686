//! `serve --user` / `--group`: the account the server runs as once every
//! socket is bound and the database is open, so that the parsers and LMDB run
//! without root. As `named -u` and Knot's `user: USER[:GROUP]`, a group alone
//! is refused: the user is what matters, the group defaults to its own.

use std::ffi::CString;
use std::path::Path;

use nix::unistd::{self, AccessFlags, Gid, Group, Uid, User};

/// Files LMDB writes in the database directory (besides creating them).
const DB_FILES: [&str; 2] = ["data.mdb", "lock.mdb"];

/// The account to switch to, looked up before anything is bound so that a
/// misspelt name fails at once.
pub struct Account {
    name: String,
    uid: Uid,
    gid: Gid,
}

impl Account {
    /// The account of `--user` (and `--group`); `None` without `--user`.
    pub fn look_up(user: Option<&str>, group: Option<&str>) -> Result<Option<Account>, String> {
        let Some(name) = user else {
            return match group {
                Some(_) => {
                    Err("--group needs --user (the group alone is not switched to)".to_owned())
                }
                None => Ok(None),
            };
        };
        let entry = User::from_name(name)
            .map_err(|e| format!("--user {name}: cannot look up the user: {}", e.desc()))?
            .ok_or_else(|| format!("--user {name}: no such user"))?;
        let gid = match group {
            Some(group) => {
                Group::from_name(group)
                    .map_err(|e| {
                        format!("--group {group}: cannot look up the group: {}", e.desc())
                    })?
                    .ok_or_else(|| format!("--group {group}: no such group"))?
                    .gid
            }
            None => entry.gid,
        };
        Ok(Some(Account {
            name: name.to_owned(),
            uid: entry.uid,
            gid,
        }))
    }

    /// The user id.
    pub fn uid(&self) -> Uid {
        self.uid
    }

    /// The group id.
    pub fn gid(&self) -> Gid {
        self.gid
    }

    /// Becomes this account for good: supplementary groups (initgroups), then
    /// the group, then the user, in that order because only root may change
    /// groups. Called while the process has one thread, so that no thread
    /// keeps root. Fails unless real and effective ids are the account's
    /// afterwards.
    pub fn switch(&self) -> Result<(), String> {
        let name = &self.name;
        let step = |what: &str, e: nix::Error| {
            format!("--user {name}: cannot switch to it ({what}: {})", e.desc())
        };
        let c_name = CString::new(name.as_str())
            .map_err(|_| format!("--user {name}: the name holds a NUL byte"))?;
        unistd::initgroups(&c_name, self.gid).map_err(|e| step("initgroups", e))?;
        unistd::setgid(self.gid).map_err(|e| step("setgid", e))?;
        unistd::setuid(self.uid).map_err(|e| step("setuid", e))?;
        let (uid, euid, gid, egid) = (
            unistd::getuid(),
            unistd::geteuid(),
            unistd::getgid(),
            unistd::getegid(),
        );
        if uid != self.uid || euid != self.uid || gid != self.gid || egid != self.gid {
            return Err(format!(
                "--user {name}: still uid {uid} (effective {euid}), gid {gid} (effective {egid}) after switching to uid {}, gid {}",
                self.uid, self.gid
            ));
        }
        if !self.uid.is_root() && unistd::setuid(Uid::from_raw(0)).is_ok() {
            return Err(format!(
                "--user {name}: root could be regained after switching"
            ));
        }
        log::info!(
            "running as user {name} (uid {}, gid {})",
            self.uid,
            self.gid
        );
        Ok(())
    }

    /// Checks, as this account (after [`Account::switch`]), that the database
    /// directory and LMDB's files in it are writable: LMDB keeps the files it
    /// opened as root, but the next start, a copy or a new file would fail.
    pub fn check_database(&self, db: &Path) -> Result<(), String> {
        let name = &self.name;
        let unwritable = |path: &Path, e: nix::Error| {
            format!(
                "the database {} is not writable by user {name} (uid {}): {}; give it to that user (chown -R {name} {})",
                path.display(),
                self.uid,
                e.desc(),
                db.display()
            )
        };
        unistd::access(db, AccessFlags::W_OK | AccessFlags::X_OK).map_err(|e| unwritable(db, e))?;
        for file in DB_FILES {
            let path = db.join(file);
            if path.exists() {
                unistd::access(&path, AccessFlags::R_OK | AccessFlags::W_OK)
                    .map_err(|e| unwritable(&path, e))?;
            }
        }
        Ok(())
    }
}
