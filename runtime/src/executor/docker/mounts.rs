//! A volume's host path stays what was checked until the engine has mounted it.
//!
//! The engine resolves a bind's host path itself, when the container starts. A
//! container that can write to a folder above that path could swap a folder on
//! the way for a symlink between our check and that moment, and so get, say, the
//! host's `/etc` mounted. Only a container can be that attacker (a stage that
//! runs on the host has the user's rights anyway), and a container writes to the
//! host only through its writable mounts. So, for each container this process
//! starts:
//!
//! 1. Its host paths (the volumes and the `/logs` folder) are resolved by the
//!    rule (`wfc_plan::volume`), and walked from `/` without following a
//!    symlink, making missing folders on the way: the folders on each path, by
//!    device and inode.
//! 2. Locks keep other starts of this user's `wfr` processes out where they could
//!    interfere: a start that mounts folder F excludes, until it has started,
//!    the starts that have F above one of their paths (and the other way round),
//!    and nothing else, so unrelated containers start side by side.
//! 3. The engine is asked for its running containers. One with a writable mount
//!    of a folder above one of the paths could swap it: one of this process's is
//!    paused (frozen) until the new container has started; any other is a
//!    refusal that names it.
//! 4. The paths are walked again. If anything on them changed, all is undone and
//!    tried again; if not, nothing that could change them is running, and the
//!    container is created and started with the paths as resolved (structured
//!    mounts, so a `:` is just a character). Then the paused containers go on,
//!    and the locks are released.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::os::fd::OwnedFd;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::models::{Mount, MountType};
use bollard::query_parameters::ListContainersOptionsBuilder;
use nix::errno::Errno;
use nix::fcntl::{AtFlags, Flock, FlockArg, OFlag, openat};
use nix::sys::stat::{Mode, fstatat, mkdirat};
use wfc_plan::volume;

use super::super::ExecError;
use super::{REQUEST, bounded};
use crate::owner::{self, Owner};
use crate::status::ErrorName;

/// How long to wait for the starts this one must not overlap (each of their
/// requests is bounded by [`REQUEST`]).
const LOCK_WAIT: Duration = Duration::from_secs(300);
/// How many times the paths may change under a start before it gives up.
const ATTEMPTS: usize = 5;
/// Lock stripes: folders are locked by a hash of their identity. Two folders in
/// one stripe only make their starts wait for each other.
const STRIPES: u64 = 64;

/// A `volume` entry, rendered: the host path as written and the container path.
pub(crate) struct Volume {
    pub host: String,
    pub target: String,
    /// Mounted read-only (a container job's `mode: ro`).
    pub read_only: bool,
}

/// A folder of wfr's own (outside the working directory: in its scratch
/// folder) that a container gets: the Docker stage's `/logs`, a container
/// job's scripts and exchange folder.
pub(crate) struct Own<'a> {
    pub path: &'a Path,
    pub target: &'a str,
    pub read_only: bool,
}

/// The mounts of a container about to be created and started, their host paths
/// held as checked until [`Held::release`].
pub(crate) struct Held {
    pub mounts: Vec<Mount>,
    paused: Vec<String>,
    locks: Vec<Flock<std::fs::File>>,
}

/// A device and inode: a folder, whatever its name.
type Identity = (u64, u64);

/// Steps 1 to 4 (but the create and start): the mounts for `volumes` and
/// wfr's `own` folders, with nothing running that could change their host
/// paths until [`Held::release`].
pub(crate) async fn hold(
    docker: &Docker,
    volumes: &[Volume],
    own: &[Own<'_>],
    workdir: &Path,
    stop: impl std::future::Future<Output = ()>,
) -> Result<Held, ExecError> {
    tokio::pin!(stop);
    for _ in 0..ATTEMPTS {
        let paths = walk_all(volumes, own, workdir, true)?;
        let planned = plan(&paths);
        let locks = tokio::select! {
            locks = lock(&planned) => locks?,
            () = &mut stop => return Err(ExecError::Cancelled("Cancel before start the Docker container.".into())),
        };
        let mut held = Held {
            mounts: Vec::new(),
            paused: Vec::new(),
            locks,
        };
        if let Err(error) = freeze_writers(docker, &paths, &mut held.paused).await {
            held.release(docker).await;
            return Err(error);
        }
        // Again, now that nothing that could change them runs (a folder removed
        // meanwhile is made again).
        let again = match walk_all(volumes, own, workdir, true) {
            Ok(again) => again,
            Err(error) => {
                held.release(docker).await;
                return Err(error);
            }
        };
        // The folders above the paths decide which containers could change them:
        // those must be the same. A mounted folder itself may be another (made
        // again, or swapped for another folder: one inside the working directory
        // all the same); its lock is then taken too, if it is free.
        let same_above = again.len() == paths.len()
            && again
                .iter()
                .zip(&paths)
                .all(|(a, b)| a.path == b.path && a.above() == b.above());
        if same_above && let Some(more) = lock_more(&planned, &plan(&again)) {
            held.locks.extend(more);
            held.mounts = again
                .iter()
                .map(|p| Mount {
                    target: Some(p.target.clone()),
                    source: Some(p.path.to_string_lossy().into_owned()),
                    typ: Some(MountType::BIND),
                    read_only: Some(p.read_only),
                    ..Default::default()
                })
                .collect();
            return Ok(held);
        }
        held.release(docker).await;
    }
    Err(ExecError::failed(
        ErrorName::StageError,
        format!(
            "the volumes' host paths changed each time they were about to be mounted ({ATTEMPTS} times); not mounted"
        ),
    ))
}

impl Held {
    /// After the container has started (or failed to): the paused containers go
    /// on, the locks are released.
    pub(crate) async fn release(self, docker: &Docker) {
        for id in &self.paused {
            unpause(docker, id).await;
        }
    }
}

/// A host path to mount, walked.
#[derive(PartialEq, Eq)]
struct Walked {
    /// The path as written (`/logs` for the stage's own folder), for messages.
    host: String,
    target: String,
    /// Resolved: no symlink on the way.
    path: PathBuf,
    /// The identities of the folders from `/` to the path, the path's last.
    chain: Vec<Identity>,
    read_only: bool,
}

impl Walked {
    fn above(&self) -> &[Identity] {
        &self.chain[..self.chain.len().saturating_sub(1)]
    }
}

/// Resolves every host path by the rule and walks it (see [`walk`]); wfr's
/// own folders are walked as they are (they must exist).
fn walk_all(
    volumes: &[Volume],
    own: &[Own<'_>],
    workdir: &Path,
    make: bool,
) -> Result<Vec<Walked>, ExecError> {
    let mut out = Vec::with_capacity(volumes.len() + own.len());
    for v in volumes {
        let path = volume::host_path(&v.host, workdir).map_err(|refusal| {
            ExecError::failed(ErrorName::StageError, refusal.message(&v.host))
        })?;
        let chain = walk(&path, make).map_err(|why| {
            ExecError::failed(ErrorName::StageError, format!("volume `{}`: {why}", v.host))
        })?;
        out.push(Walked {
            host: v.host.clone(),
            target: v.target.clone(),
            path,
            chain,
            read_only: v.read_only,
        });
    }
    for folder in own {
        let path = folder.path.canonicalize().map_err(|e| {
            ExecError::failed(
                ErrorName::StageError,
                format!(
                    "cannot resolve the {} folder `{}`: {e}",
                    folder.target,
                    folder.path.display()
                ),
            )
        })?;
        let chain = walk(&path, false).map_err(|why| {
            ExecError::failed(
                ErrorName::StageError,
                format!("the {} folder: {why}", folder.target),
            )
        })?;
        out.push(Walked {
            host: folder.target.to_string(),
            target: folder.target.to_string(),
            path,
            chain,
            read_only: folder.read_only,
        });
    }
    Ok(out)
}

/// Why a host path cannot be walked (see [`walk`]): it is not mounted.
#[derive(Debug, thiserror::Error)]
enum WalkError {
    #[error("cannot open `/`: {0}")]
    OpenRoot(std::io::Error),
    #[error("cannot read `/`: {0}")]
    ReadRoot(std::io::Error),
    #[error("cannot create `{}`: {errno}", at.display())]
    Create { at: PathBuf, errno: Errno },
    #[error("cannot read `{}`: {errno}", at.display())]
    Read { at: PathBuf, errno: Errno },
    #[error("cannot open `{}`: {errno}", at.display())]
    Open { at: PathBuf, errno: Errno },
    #[error("`{}` is gone while the volume was checked; not mounted", at.display())]
    Gone { at: PathBuf },
    #[error(
        "`{}` became a symlink while the volume was checked; not mounted",
        at.display()
    )]
    BecameLink { at: PathBuf },
    #[error("`{}` is not a folder", at.display())]
    NotAFolder { at: PathBuf },
}

/// Walks `path` (absolute, resolved) from `/` without following any symlink,
/// making the missing folders when `make` (in the folder the walk holds open,
/// so a component swapped meanwhile never redirects them); the identities of
/// the folders on the way, `path`'s last.
fn walk(path: &Path, make: bool) -> Result<Vec<Identity>, WalkError> {
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let root = std::fs::File::open("/").map_err(WalkError::OpenRoot)?;
    let meta = root.metadata().map_err(WalkError::ReadRoot)?;
    let mut chain = vec![(meta.dev(), meta.ino())];
    let mut dir: OwnedFd = root.into();
    let mut at = PathBuf::from("/");
    let names: Vec<&std::ffi::OsStr> = path
        .components()
        .filter_map(|c| match c {
            Component::Normal(name) => Some(name),
            _ => None,
        })
        .collect();
    for (i, name) in names.iter().enumerate() {
        at.push(name);
        let last = i + 1 == names.len();
        let stat = match fstatat(&dir, *name, AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(stat) => stat,
            Err(Errno::ENOENT) if make => {
                match mkdirat(&dir, *name, Mode::from_bits_truncate(0o777)) {
                    Ok(()) | Err(Errno::EEXIST) => {}
                    Err(errno) => return Err(WalkError::Create { at, errno }),
                }
                fstatat(&dir, *name, AtFlags::AT_SYMLINK_NOFOLLOW).map_err(|errno| {
                    WalkError::Read {
                        at: at.clone(),
                        errno,
                    }
                })?
            }
            Err(Errno::ENOENT) => return Err(WalkError::Gone { at }),
            Err(errno) => return Err(WalkError::Read { at, errno }),
        };
        let kind = stat.st_mode & nix::libc::S_IFMT;
        if kind == nix::libc::S_IFLNK {
            return Err(WalkError::BecameLink { at });
        }
        chain.push((stat.st_dev, stat.st_ino));
        if last {
            break;
        }
        if kind != nix::libc::S_IFDIR {
            return Err(WalkError::NotAFolder { at });
        }
        dir = openat(&dir, *name, flags, Mode::empty()).map_err(|errno| WalkError::Open {
            at: at.clone(),
            errno,
        })?;
    }
    Ok(chain)
}

/// What a start is to a folder: it mounts it, it has it above a path, or both.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Mounts,
    Above,
    Both,
}

fn stripe((dev, ino): Identity) -> u64 {
    ((dev.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ ino).wrapping_mul(0xBF58_476D_1CE4_E5B9) >> 58)
        % STRIPES
}

/// Step 2: the locks of `paths`' folders. Each stripe has two lock files, `m`
/// and `a`. A start that mounts a folder holds its stripe's `m` shared and checks
/// that nobody holds `a` (by taking it exclusively for a moment); one that has a
/// folder above a path holds `a` shared and checks `m` the same way; one that
/// does both holds both exclusively. Whoever took its shared lock second finds
/// the other's, so two starts that conflict are never both past the check; they
/// let go of everything and try again a moment later. Non-blocking throughout,
/// in stripe order: no deadlock.
async fn lock(plan: &BTreeMap<u64, Role>) -> Result<Vec<Flock<std::fs::File>>, ExecError> {
    let dir = lock_dir().map_err(|e| {
        ExecError::failed(
            ErrorName::StageError,
            format!("cannot use the folder of Docker start locks: {e}"),
        )
    })?;
    let deadline = Instant::now() + LOCK_WAIT;
    loop {
        match try_lock(&dir, plan) {
            Ok(Some(held)) => return Ok(held),
            Ok(None) => {}
            Err(e) => {
                return Err(ExecError::failed(
                    ErrorName::StageError,
                    format!(
                        "cannot lock in the folder of Docker start locks `{}`: {e}",
                        dir.display()
                    ),
                ));
            }
        }
        if Instant::now() > deadline {
            return Err(ExecError::failed(
                ErrorName::StageError,
                format!(
                    "another Docker stage that mounts a folder above this one's (or below) was still being started after {}s",
                    LOCK_WAIT.as_secs()
                ),
            ));
        }
        // A little apart, so that two starts that keep meeting part ways.
        let jitter = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos() % 20);
        tokio::time::sleep(Duration::from_millis(5 + u64::from(jitter))).await;
    }
}

/// The locks `wanted` needs beyond those of `held`, if they are free now: none
/// when one is taken (or cannot be had).
fn lock_more(
    held: &BTreeMap<u64, Role>,
    wanted: &BTreeMap<u64, Role>,
) -> Option<Vec<Flock<std::fs::File>>> {
    let more: BTreeMap<u64, Role> = wanted
        .iter()
        .filter(
            |(stripe, role)| !matches!(held.get(stripe), Some(r) if r == *role || *r == Role::Both),
        )
        .map(|(s, r)| (*s, *r))
        .collect();
    if more.is_empty() {
        return Some(Vec::new());
    }
    try_lock(&lock_dir().ok()?, &more).ok().flatten()
}

/// What a start is to each stripe.
fn plan(paths: &[Walked]) -> BTreeMap<u64, Role> {
    let mut plan: BTreeMap<u64, Role> = BTreeMap::new();
    let mut note = |id: Identity, role: Role| {
        plan.entry(stripe(id))
            .and_modify(|r| {
                if *r != role {
                    *r = Role::Both;
                }
            })
            .or_insert(role);
    };
    for p in paths {
        for id in p.above() {
            note(*id, Role::Above);
        }
        if let Some(id) = p.chain.last() {
            note(*id, Role::Mounts);
        }
    }
    plan
}

/// `$TMPDIR/wfr-<uid>-docker-locks/`: this user's, mode 0700.
fn lock_dir() -> std::io::Result<PathBuf> {
    use std::os::unix::fs::DirBuilderExt as _;
    let uid = nix::unistd::getuid();
    let dir = std::env::temp_dir().join(format!("wfr-{uid}-docker-locks"));
    match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    let meta = std::fs::symlink_metadata(&dir)?;
    if !meta.is_dir() || meta.uid() != uid.as_raw() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            format!("`{}` is not a folder of this user", dir.display()),
        ));
    }
    Ok(dir)
}

/// One try at every lock of `plan`; none when one is taken.
fn try_lock(
    dir: &Path,
    plan: &BTreeMap<u64, Role>,
) -> std::io::Result<Option<Vec<Flock<std::fs::File>>>> {
    let mut held = Vec::with_capacity(plan.len() * 2);
    for (&stripe, &role) in plan {
        let m = lock_file(dir, 'm', stripe)?;
        let a = lock_file(dir, 'a', stripe)?;
        let (mine, check, how) = match role {
            Role::Mounts => (m, Some(a), FlockArg::LockSharedNonblock),
            Role::Above => (a, Some(m), FlockArg::LockSharedNonblock),
            Role::Both => {
                let Some(m) = take(m, FlockArg::LockExclusiveNonblock)? else {
                    return Ok(None);
                };
                held.push(m);
                (a, None, FlockArg::LockExclusiveNonblock)
            }
        };
        let Some(mine) = take(mine, how)? else {
            return Ok(None);
        };
        held.push(mine);
        if let Some(check) = check
            && take(check, FlockArg::LockExclusiveNonblock)?.is_none()
        {
            return Ok(None);
        }
    }
    Ok(Some(held))
}

fn lock_file(dir: &Path, kind: char, stripe: u64) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_CLOEXEC)
        .open(dir.join(format!("{kind}{stripe:02}")))
}

/// The lock, or none when another holds it.
fn take(file: std::fs::File, how: FlockArg) -> std::io::Result<Option<Flock<std::fs::File>>> {
    match Flock::lock(file, how) {
        Ok(locked) => Ok(Some(locked)),
        Err((_, Errno::EWOULDBLOCK | Errno::EINTR)) => Ok(None),
        Err((_, e)) => Err(e.into()),
    }
}

/// A running container's writable mount.
struct Writer {
    id: String,
    name: String,
    ours: bool,
    source: PathBuf,
    identity: Identity,
}

/// The running containers' writable mounts.
async fn writers(docker: &Docker) -> Result<Vec<Writer>, ExecError> {
    let running = bounded(
        "cannot list the running containers",
        REQUEST,
        docker.list_containers(Some(ListContainersOptionsBuilder::default().build())),
    )
    .await?;
    let me = Owner::current().label();
    let mut out = Vec::new();
    for container in running {
        let Some(id) = container.id else { continue };
        let ours = container
            .labels
            .as_ref()
            .and_then(|l| l.get(owner::LABEL))
            .is_some_and(|l| *l == me);
        let name = container
            .names
            .and_then(|n| n.into_iter().next())
            .map_or_else(|| id.clone(), |n| n.trim_start_matches('/').to_string());
        for mount in container.mounts.unwrap_or_default() {
            if mount.rw != Some(true) {
                continue;
            }
            let Some(source) = mount.source.filter(|s| !s.is_empty()).map(PathBuf::from) else {
                continue;
            };
            // A source we cannot see is no folder above ours (we can see those).
            let Ok(meta) = std::fs::metadata(&source) else {
                continue;
            };
            out.push(Writer {
                id: id.clone(),
                name: name.clone(),
                ours,
                source,
                identity: (meta.dev(), meta.ino()),
            });
        }
    }
    Ok(out)
}

/// Step 3: pauses this process's running containers that can write above one
/// of `paths` (noted in `paused`); another's is a refusal.
async fn freeze_writers(
    docker: &Docker,
    paths: &[Walked],
    paused: &mut Vec<String>,
) -> Result<(), ExecError> {
    let writers = writers(docker).await?;
    for p in paths {
        let above: HashSet<Identity> = p.above().iter().copied().collect();
        for writer in writers.iter().filter(|w| above.contains(&w.identity)) {
            if !writer.ours {
                return Err(ExecError::failed(
                    ErrorName::StageError,
                    format!(
                        "volume `{}`: the running container `{}`, not started by this run, can write to `{}`, a folder above `{}`; it could swap a folder on the way for a symlink before the engine mounts it. Stop that container, or mount a folder it cannot reach",
                        p.host,
                        writer.name,
                        writer.source.display(),
                        p.path.display()
                    ),
                ));
            }
            if !paused.contains(&writer.id) {
                pause(docker, writer).await?;
                paused.push(writer.id.clone());
            }
        }
    }
    Ok(())
}

/// How many starts of this process hold each container paused, and the
/// container's exec gate while it is paused.
type Paused = HashMap<String, (usize, Option<tokio::sync::OwnedRwLockWriteGuard<()>>)>;
static PAUSED: tokio::sync::Mutex<Option<Paused>> = tokio::sync::Mutex::const_new(None);

/// The containers of this process whose processes are started with `docker
/// exec` (container jobs'), each with its gate: an exec is started under a read
/// lock (until its process runs), a pause holds the write lock until the
/// container goes on. So no exec starts in a paused container (the engine
/// refuses it, or, when the pause comes while the process is being started,
/// hangs, and the unpause with it), and a stage that starts one while the
/// container is paused waits for it to go on.
static GATES: std::sync::Mutex<Option<HashMap<String, std::sync::Arc<tokio::sync::RwLock<()>>>>> =
    std::sync::Mutex::new(None);

/// The exec gate of container `id` (made on first use).
pub(crate) fn exec_gate(id: &str) -> std::sync::Arc<tokio::sync::RwLock<()>> {
    let mut gates = GATES
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    std::sync::Arc::clone(
        gates
            .get_or_insert_with(HashMap::new)
            .entry(id.to_string())
            .or_default(),
    )
}

/// Forgets the exec gate of a container that is gone.
pub(crate) fn forget_gate(id: &str) {
    let mut gates = GATES
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(gates) = gates.as_mut() {
        gates.remove(id);
    }
}

fn gate_of(id: &str) -> Option<std::sync::Arc<tokio::sync::RwLock<()>>> {
    let gates = GATES
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    gates.as_ref()?.get(id).map(std::sync::Arc::clone)
}

async fn pause(docker: &Docker, writer: &Writer) -> Result<(), ExecError> {
    let mut counts = PAUSED.lock().await;
    let counts = counts.get_or_insert_with(HashMap::new);
    if let Some((n, _)) = counts.get_mut(&writer.id) {
        *n += 1;
        return Ok(());
    }
    // The execs being started in it start first; new ones wait.
    let gate = match gate_of(&writer.id) {
        Some(gate) => Some(gate.write_owned().await),
        None => None,
    };
    match tokio::time::timeout(REQUEST, docker.pause_container(&writer.id)).await {
        // Paused, or it ended meanwhile (or is paused already): unpaused once
        // (a 409 on the way back is nothing).
        Ok(
            Ok(())
            | Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404 | 409,
                ..
            }),
        ) => {
            counts.insert(writer.id.clone(), (1, gate));
            Ok(())
        }
        Ok(Err(e)) => Err(ExecError::failed(
            ErrorName::StageError,
            format!(
                "cannot pause the container `{}`, which can write to `{}`, while this one is mounted: {e}",
                writer.name,
                writer.source.display()
            ),
        )),
        Err(_) => Err(ExecError::failed(
            ErrorName::StageError,
            format!(
                "cannot pause the container `{}`: the Docker engine did not answer within {}s",
                writer.name,
                REQUEST.as_secs()
            ),
        )),
    }
}

async fn unpause(docker: &Docker, id: &str) {
    let mut counts = PAUSED.lock().await;
    let counts = counts.get_or_insert_with(HashMap::new);
    // The gate opens once the container goes on (or cannot be made to).
    let _gate = match counts.get_mut(id) {
        Some((n, _)) if *n > 1 => {
            *n -= 1;
            return;
        }
        Some(_) => counts.remove(id).and_then(|(_, gate)| gate),
        None => return,
    };
    match tokio::time::timeout(REQUEST, docker.unpause_container(id)).await {
        Ok(
            Ok(())
            | Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404 | 409,
                ..
            }),
        ) => {}
        Ok(Err(e)) => {
            tracing::warn!(target: "wfr::docker", container = %id, "cannot unpause the container: {e}");
        }
        Err(_) => {
            tracing::warn!(target: "wfr::docker", container = %id, "cannot unpause the container: the Docker engine did not answer within {}s", REQUEST.as_secs());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn walked(chain: &[Identity]) -> Walked {
        Walked {
            host: String::new(),
            target: String::new(),
            path: PathBuf::new(),
            chain: chain.to_vec(),
            read_only: false,
        }
    }

    /// Two starts conflict when one mounts a folder the other has above a path;
    /// the locks keep exactly those apart.
    #[test]
    fn locks_keep_apart_only_the_starts_that_conflict() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ids: Vec<Identity> = (1..=4).map(|i| (7, i)).collect();
        // Distinct stripes, so that the test is about roles, not collisions.
        let stripes: HashSet<u64> = ids.iter().map(|i| stripe(*i)).collect();
        assert_eq!(stripes.len(), ids.len());
        // `a` mounts 2 (under 1); `b` mounts 3 under 2; `c` mounts 2 as well;
        // `d` mounts 4 under 1.
        let a = plan(&[walked(&ids[..2])]);
        let b = plan(&[walked(&ids[..3])]);
        let c = plan(&[walked(&ids[..2])]);
        let d = plan(&[walked(&[ids[0], ids[3]])]);
        let held_a = try_lock(dir.path(), &a).expect("io").expect("free");
        assert!(
            try_lock(dir.path(), &b).expect("io").is_none(),
            "2 is above b's path"
        );
        let held_c = try_lock(dir.path(), &c).expect("io");
        assert!(held_c.is_some(), "the same folder mounted twice");
        let held_d = try_lock(dir.path(), &d).expect("io");
        assert!(held_d.is_some(), "side by side");
        drop((held_a, held_c));
        let held_b = try_lock(dir.path(), &b).expect("io").expect("free now");
        assert!(
            try_lock(dir.path(), &a).expect("io").is_none(),
            "and the other way round"
        );
        drop(held_b);
        // One that mounts a folder above its other path excludes both kinds.
        let both = plan(&[walked(&ids[..2]), walked(&ids[..3])]);
        let held = try_lock(dir.path(), &both).expect("io").expect("free");
        assert!(try_lock(dir.path(), &c).expect("io").is_none());
        assert!(try_lock(dir.path(), &b).expect("io").is_none());
        drop(held);
    }

    #[test]
    fn the_walk_makes_folders_and_refuses_symlinks() {
        let dir = tempfile::tempdir().expect("tempdir");
        let work = dir.path().canonicalize().expect("real");
        let chain = walk(&work.join("a/b"), true).expect("made");
        assert!(work.join("a/b").is_dir());
        assert_eq!(chain.len(), work.components().count() + 2);
        let meta = std::fs::metadata(work.join("a/b")).expect("meta");
        assert_eq!(chain.last(), Some(&(meta.dev(), meta.ino())));
        std::os::unix::fs::symlink("/etc", work.join("l")).expect("symlink");
        let refused = walk(&work.join("l/x"), true).expect_err("a symlink");
        assert!(
            refused.to_string().contains("became a symlink"),
            "{refused}"
        );
        assert!(!Path::new("/etc/x").exists());
        assert!(walk(&work.join("missing"), false).is_err());
    }
}
