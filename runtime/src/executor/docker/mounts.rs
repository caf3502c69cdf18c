//! A volume's host path stays what was checked until the engine has mounted it.
//!
//! The engine resolves a bind's host path itself, when the container starts. A
//! container that can write to a folder above that path could swap a folder on
//! the way for a symlink between our check and that moment, and so get, say, the
//! host's `/etc` mounted. Only a container can be that attacker (a stage that
//! runs on the host has the user's rights anyway), and a container writes to the
//! host only through its writable mounts. So each container this process starts
//! is started like this:
//!
//! 1. One at a time: a lock in this process, and a file lock that every `wfr` of
//!    this user takes (`$TMPDIR/wfr-<uid>-docker.lock`), so that no container of
//!    ours starts while another is being mounted.
//! 2. The running containers are asked of the engine. One with a writable mount
//!    of a folder above one of the new container's host paths (compared by
//!    device and inode, so another name for the folder is no way around) could
//!    swap it: one of this process's own is paused (frozen) until the new
//!    container has started; any other is a refusal, naming it.
//! 3. With nothing left that could change them, the host paths are resolved
//!    again (the rule in `wfc_compiler::volume`), missing folders are made, and
//!    every component is checked not to be a symlink.
//! 4. The container is created and started with those paths; then the paused
//!    containers go on and the locks are released.

use std::collections::HashSet;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bollard::Docker;
use bollard::models::{Mount, MountType};
use bollard::query_parameters::ListContainersOptionsBuilder;
use nix::fcntl::{Flock, FlockArg};
use wfc_compiler::volume;

use super::super::Outcome;
use super::{REQUEST, bounded};
use crate::owner::{self, Owner};

/// How long to wait for another container of ours to be started (each of its
/// requests is bounded by [`REQUEST`]).
const LOCK_WAIT: Duration = Duration::from_secs(300);

/// One container of this process is mounted at a time.
static START: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A `volume` entry, rendered: the host path as written and the container path.
pub(super) struct Volume {
    pub host: String,
    pub target: String,
}

/// The mounts of a container about to be created and started, their host paths
/// held as checked until [`Held::release`].
pub(super) struct Held {
    pub mounts: Vec<Mount>,
    paused: Vec<String>,
    _file: Flock<std::fs::File>,
    _local: tokio::sync::MutexGuard<'static, ()>,
}

/// A device and inode: a folder, whatever its name.
type Identity = (u64, u64);

fn identity(path: &Path) -> Option<Identity> {
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

/// Steps 1 to 3: the mounts for `volumes` and the `/logs` folder, with nothing
/// running that could change their host paths until [`Held::release`].
pub(super) async fn hold(
    docker: &Docker,
    volumes: &[Volume],
    logs: &Path,
    workdir: &Path,
    stop: impl std::future::Future<Output = ()>,
) -> Result<Held, Outcome> {
    let locks = async {
        let local = START.lock().await;
        let file = file_lock().await?;
        Ok::<_, Outcome>((local, file))
    };
    let (local, file) = tokio::select! {
        locks = tokio::time::timeout(LOCK_WAIT, locks) => match locks {
            Ok(locks) => locks?,
            Err(_) => return Err(Outcome::failed(
                "StageError",
                format!("another Docker stage of this user was still being started after {}s", LOCK_WAIT.as_secs()),
            )),
        },
        () = stop => return Err(Outcome::cancelled("Cancel before start the Docker container.")),
    };
    let mut held = Held {
        mounts: Vec::new(),
        paused: Vec::new(),
        _file: file,
        _local: local,
    };
    match mounts(docker, volumes, logs, workdir, &mut held.paused).await {
        Ok(mounts) => {
            held.mounts = mounts;
            Ok(held)
        }
        Err(outcome) => {
            held.release(docker).await;
            Err(outcome)
        }
    }
}

impl Held {
    /// Step 4, after the container has started (or failed to): the paused
    /// containers go on, the locks are released.
    pub(super) async fn release(self, docker: &Docker) {
        for id in &self.paused {
            if let Err(failure) = bounded(
                "cannot unpause a container",
                REQUEST,
                docker.unpause_container(id),
            )
            .await
            {
                tracing::warn!(target: "wfr::docker", container = %id, "{}", failure.errors.as_ref().and_then(crate::status::message).unwrap_or("cannot unpause a container"));
            }
        }
    }
}

/// The user's lock file, locked (waits while another `wfr` holds it).
async fn file_lock() -> Result<Flock<std::fs::File>, Outcome> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let uid = nix::unistd::getuid();
    let path = std::env::temp_dir().join(format!("wfr-{uid}-docker.lock"));
    let failed = |e: &dyn std::fmt::Display| {
        Outcome::failed(
            "StageError",
            format!("cannot use the lock file `{}`: {e}", path.display()),
        )
    };
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(&path)
        .map_err(|e| failed(&e))?;
    let meta = file.metadata().map_err(|e| failed(&e))?;
    if !meta.is_file() || meta.uid() != uid.as_raw() {
        return Err(failed(&"it is not a file of this user"));
    }
    let mut file = file;
    loop {
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(locked) => return Ok(locked),
            Err((back, nix::errno::Errno::EWOULDBLOCK | nix::errno::Errno::EINTR)) => {
                file = back;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err((_, e)) => return Err(failed(&e)),
        }
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
async fn writers(docker: &Docker) -> Result<Vec<Writer>, Outcome> {
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
            let Some(identity) = identity(&source) else {
                continue;
            };
            out.push(Writer {
                id: id.clone(),
                name: name.clone(),
                ours,
                source,
                identity,
            });
        }
    }
    Ok(out)
}

/// Steps 2 and 3.
async fn mounts(
    docker: &Docker,
    volumes: &[Volume],
    logs: &Path,
    workdir: &Path,
    paused: &mut Vec<String>,
) -> Result<Vec<Mount>, Outcome> {
    let writers = writers(docker).await?;
    let logs = logs.canonicalize().map_err(|e| {
        Outcome::failed(
            "StageError",
            format!("cannot resolve the /logs folder `{}`: {e}", logs.display()),
        )
    })?;
    // Until no writer above any path is left running: pausing one may show a
    // path resolved through a folder it had just swapped, so resolve again.
    let resolved = loop {
        let mut resolved = Vec::with_capacity(volumes.len() + 1);
        for v in volumes {
            let path = volume::host_path(&v.host, workdir)
                .map_err(|refusal| Outcome::failed("StageError", refusal.message(&v.host)))?;
            resolved.push((v.host.as_str(), path));
        }
        resolved.push(("/logs", logs.clone()));
        let mut more = false;
        for (host, path) in &resolved {
            let above: HashSet<Identity> = path.ancestors().skip(1).filter_map(identity).collect();
            for writer in writers.iter().filter(|w| above.contains(&w.identity)) {
                if paused.contains(&writer.id) {
                    continue;
                }
                if !writer.ours {
                    return Err(Outcome::failed(
                        "StageError",
                        format!(
                            "volume `{host}`: the running container `{}`, not started by this run, can write to `{}`, a folder above `{}`; it could swap a folder on the way for a symlink before the engine mounts it. Stop that container, or mount a folder it cannot reach",
                            writer.name,
                            writer.source.display(),
                            path.display()
                        ),
                    ));
                }
                pause(docker, writer).await?;
                paused.push(writer.id.clone());
                more = true;
            }
        }
        if !more {
            break resolved;
        }
    };
    let mut mounts = Vec::with_capacity(resolved.len());
    for ((host, path), target) in resolved.iter().zip(
        volumes
            .iter()
            .map(|v| v.target.as_str())
            .chain(std::iter::once("/logs")),
    ) {
        make_and_verify(host, path)?;
        mounts.push(Mount {
            target: Some(target.to_string()),
            source: Some(path.to_string_lossy().into_owned()),
            typ: Some(MountType::BIND),
            read_only: Some(false),
            ..Default::default()
        });
    }
    Ok(mounts)
}

async fn pause(docker: &Docker, writer: &Writer) -> Result<(), Outcome> {
    match tokio::time::timeout(REQUEST, docker.pause_container(&writer.id)).await {
        Ok(Ok(())) => Ok(()),
        // It ended meanwhile (or is paused already): it changes nothing now.
        Ok(Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404 | 409,
            ..
        })) => Ok(()),
        Ok(Err(e)) => Err(Outcome::failed(
            "StageError",
            format!(
                "cannot pause the container `{}`, which can write to `{}`, while this one is mounted: {e}",
                writer.name,
                writer.source.display()
            ),
        )),
        Err(_) => Err(Outcome::failed(
            "StageError",
            format!(
                "cannot pause the container `{}`: the Docker engine did not answer within {}s",
                writer.name,
                REQUEST.as_secs()
            ),
        )),
    }
}

/// Makes the missing folders of `path` and checks that no component of it is a
/// symlink (it was resolved; nothing that could change it is running now).
fn make_and_verify(host: &str, path: &Path) -> Result<(), Outcome> {
    if std::fs::symlink_metadata(path).is_err() {
        std::fs::create_dir_all(path).map_err(|e| {
            Outcome::failed(
                "StageError",
                format!("volume `{host}`: cannot create `{}`: {e}", path.display()),
            )
        })?;
    }
    for step in path.ancestors() {
        match std::fs::symlink_metadata(step) {
            Ok(meta) if !meta.file_type().is_symlink() => {}
            Ok(_) => {
                return Err(Outcome::failed(
                    "StageError",
                    format!(
                        "volume `{host}`: `{}` became a symlink while the volume was checked; not mounted",
                        step.display()
                    ),
                ));
            }
            Err(e) => {
                return Err(Outcome::failed(
                    "StageError",
                    format!("volume `{host}`: cannot read `{}`: {e}", step.display()),
                ));
            }
        }
    }
    Ok(())
}
