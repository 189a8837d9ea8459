//! Files the commands write (`--out`, `--html`, `--checkpoint`, `--json FILE`): checked
//! before any work starts, so a long run cannot end by destroying a user's file.
//!
//! - Two flags naming one file (by identity: device and inode when it exists, the canonical
//!   path otherwise) are refused: the later write would clobber the earlier one.
//! - A regular file (or a symlink to one) is replaced atomically: a temporary file beside
//!   the target, then a rename over the target itself (so a symlink keeps pointing at it).
//! - A character device or a FIFO (`/dev/stdout`, a named pipe), or any file named through
//!   `/dev` or `/proc` (`/dev/stdout` redirected to a file), is written in place, as asked;
//!   nothing is ever renamed over it. Directories, sockets and block devices are
//!   refused.

use std::io::Write;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use anyhow::anyhow;

use crate::failure::Failure;

/// How a checked output path is written.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    /// A new or regular file at this (symlink-resolved) path: temporary file, then rename.
    Replace(PathBuf),
    /// A device or FIFO: written in place.
    InPlace,
}

/// An output path that passed [`check`].
#[derive(Debug, Clone)]
pub struct Output {
    flag: &'static str,
    path: PathBuf,
    kind: Kind,
}

/// What identifies a file: (device, inode) when it exists, else its canonical path.
#[derive(Debug, PartialEq, Eq)]
enum Identity {
    Inode(u64, u64),
    Path(PathBuf),
}

fn identity(path: &Path) -> Identity {
    if let Ok(meta) = std::fs::metadata(path) {
        return Identity::Inode(meta.dev(), meta.ino());
    }
    // Not there yet: the canonical folder plus the name.
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let dir = std::fs::canonicalize(parent).unwrap_or_else(|_| parent.to_owned());
    Identity::Path(path.file_name().map_or(dir.clone(), |name| dir.join(name)))
}

/// Whether `a` and `b` name the same file.
pub fn same_file(a: &Path, b: &Path) -> bool {
    identity(a) == identity(b)
}

/// Refuses any two of `paths` (flag, path) that name the same file.
pub fn distinct(paths: &[(&str, &Path)]) -> Result<(), Failure> {
    for (i, (flag_a, a)) in paths.iter().enumerate() {
        for (flag_b, b) in &paths[i + 1..] {
            if same_file(a, b) {
                let what =
                    if a == b { a.display().to_string() } else { format!("{} and {}", a.display(), b.display()) };
                return Err(Failure::BadInput(anyhow!(
                    "{flag_a} and {flag_b} both name the same file ({what}); give them different files"
                )));
            }
        }
    }
    Ok(())
}

/// Checks that `path` can take the output of `flag`, before any work starts.
pub fn check(flag: &'static str, path: &Path) -> Result<Output, Failure> {
    let bad = |why: String| Failure::BadInput(anyhow!("{flag} {}: {why}", path.display()));
    let kind = match std::fs::metadata(path) {
        Ok(meta) => {
            let t = meta.file_type();
            if t.is_file() && !fd_alias(path) {
                // Resolve symlinks so the rename replaces the file, not the link.
                Kind::Replace(std::fs::canonicalize(path).map_err(|e| bad(e.to_string()))?)
            } else if t.is_file() || t.is_char_device() || t.is_fifo() {
                Kind::InPlace
            } else if t.is_dir() {
                return Err(bad("is a directory; name a file".into()));
            } else {
                return Err(bad("is not a regular file, a character device or a FIFO; name a file".into()));
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if std::fs::symlink_metadata(path).is_ok() {
                return Err(bad("is a dangling symbolic link; remove it or name another file".into()));
            }
            let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
            if !parent.is_dir() {
                return Err(bad(format!("its folder {} does not exist", parent.display())));
            }
            if path.file_name().is_none() {
                return Err(bad("is not a file path".into()));
            }
            Kind::Replace(path.to_owned())
        }
        Err(e) => return Err(bad(e.to_string())),
    };
    Ok(Output { flag, path: path.to_owned(), kind })
}

/// Whether `path`, or a link on the way to its file, is one of the system's names for an
/// open file descriptor (`/dev/stdout`, `/dev/fd/N`, `/proc/self/fd/N`): `--out /dev/stdout`
/// with stdout redirected to a file must write into that open file, not replace it.
fn fd_alias(path: &Path) -> bool {
    let mut p = path.to_owned();
    for _ in 0..40 {
        if p.starts_with("/dev") || p.starts_with("/proc") {
            return true;
        }
        match std::fs::read_link(&p) {
            Ok(target) if target.is_absolute() => p = target,
            Ok(target) => p = p.parent().unwrap_or(Path::new("/")).join(target),
            Err(_) => return false,
        }
    }
    false
}

impl Output {
    /// The file to replace, symlinks resolved; `None` for a device or FIFO.
    pub fn regular_file(&self) -> Option<PathBuf> {
        match &self.kind {
            Kind::Replace(target) => Some(target.clone()),
            Kind::InPlace => None,
        }
    }

    /// Writes `bytes`: atomically for files, in place for devices and FIFOs. A failure
    /// leaves the target as it was and no temporary file behind.
    pub fn write(&self, bytes: &[u8]) -> Result<(), Failure> {
        let fail =
            |e: std::io::Error| Failure::Runtime(anyhow!("cannot write {} {}: {e}", self.flag, self.path.display()));
        match &self.kind {
            // This process's own streams: through their open descriptors, so a redirected
            // stdout keeps its offset and the rest of the output.
            Kind::InPlace if self.path == Path::new("/dev/stdout") => {
                let mut out = std::io::stdout().lock();
                out.write_all(bytes).and_then(|()| out.flush()).map_err(fail)
            }
            Kind::InPlace if self.path == Path::new("/dev/stderr") => {
                std::io::stderr().lock().write_all(bytes).map_err(fail)
            }
            Kind::InPlace => {
                // Appending: a regular file reached through /dev/fd/N gets the bytes after
                // what it holds, as a shell's `>>` would.
                let regular = std::fs::metadata(&self.path).is_ok_and(|m| m.is_file());
                let mut file =
                    std::fs::OpenOptions::new().write(true).append(regular).open(&self.path).map_err(fail)?;
                file.write_all(bytes).and_then(|()| file.flush()).map_err(fail)
            }
            Kind::Replace(target) => {
                let dir = target.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
                // Dropped (and so deleted) on every error path.
                let mut tmp =
                    tempfile::Builder::new().prefix(".autobranch-").suffix(".tmp").tempfile_in(dir).map_err(fail)?;
                tmp.write_all(bytes).and_then(|()| tmp.as_file().sync_all()).map_err(fail)?;
                tmp.persist(target).map_err(|e| fail(e.error))?;
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_file_by_identity_and_by_canonical_path() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.json");
        std::fs::write(&a, "{}").unwrap();
        let dotted = dir.path().join(".").join("a.json");
        assert!(same_file(&a, &dotted));
        let link = dir.path().join("link.json");
        std::os::unix::fs::symlink(&a, &link).unwrap();
        assert!(same_file(&a, &link));
        let new = dir.path().join("new.json");
        assert!(same_file(&new, &dir.path().join(".").join("new.json")));
        assert!(!same_file(&a, &new));
    }

    #[test]
    fn directories_are_refused_and_leave_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let err = check("--out", dir.path()).unwrap_err();
        assert!(format!("{err:?}").contains("is a directory"), "{err:?}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_symlink_keeps_pointing_at_the_replaced_file() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("t.json");
        std::fs::write(&target, "old").unwrap();
        let link = dir.path().join("l.json");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        check("--out", &link).unwrap().write(b"new").unwrap();
        assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "new");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }

    #[test]
    fn devices_fifos_and_links_to_them_are_written_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("full.json");
        std::os::unix::fs::symlink("/dev/full", &link).unwrap();
        let err = check("--out", &link).unwrap().write(b"x").unwrap_err();
        assert!(format!("{err:?}").contains("No space left"), "{err:?}");
        assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink(), "the link is still a link");
        assert!(std::fs::metadata("/dev/full").unwrap().file_type().is_char_device());
        assert_eq!(check("--out", Path::new("/dev/stdout")).unwrap().kind, Kind::InPlace);
        // A FIFO is written, not replaced: a reader gets the bytes.
        let fifo = dir.path().join("pipe");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::read(fifo).unwrap())
        };
        check("--out", &fifo).unwrap().write(b"tree").unwrap();
        assert_eq!(reader.join().unwrap(), b"tree");
        assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());
    }

    #[test]
    fn a_failed_device_write_keeps_the_device() {
        let out = check("--out", Path::new("/dev/full")).unwrap();
        let err = out.write(b"x").unwrap_err();
        assert!(format!("{err:?}").contains("/dev/full"), "{err:?}");
        let t = std::fs::metadata("/dev/full").unwrap().file_type();
        assert!(t.is_char_device());
    }
}
