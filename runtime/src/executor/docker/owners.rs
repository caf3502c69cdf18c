//! Containers whose `wfr` is gone. Every container a Docker stage starts carries
//! the label [`owner::LABEL`] naming its `wfr` process; when that process is
//! killed (SIGKILL: it cleans up nothing), its guard removes them with
//! [`remove_containers_of`], and failing that the next `wfr` that starts does,
//! with [`reap_gone_owners`].

use std::collections::HashMap;
use std::time::Duration;

use bollard::Docker;
use bollard::query_parameters::{ListContainersOptionsBuilder, RemoveContainerOptionsBuilder};

use crate::owner::{self, Owner};

/// How long the engine may take to answer whether it is there.
const PING: Duration = Duration::from_secs(5);
/// How long one list or remove may take.
const REQUEST: Duration = Duration::from_secs(30);

/// Why the containers of gone `wfr`s could not all be removed. (The engine's
/// own errors are kept as its words.)
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ContainersError {
    /// No runtime for the engine's requests.
    #[error("cannot start I/O: {0}")]
    Io(String),
    #[error(
        "cannot list containers: the Docker engine did not answer within {}s",
        REQUEST.as_secs()
    )]
    ListTimedOut,
    #[error("cannot list containers: {0}")]
    List(String),
    #[error(
        "cannot remove container {id}: the Docker engine did not answer within {}s",
        REQUEST.as_secs()
    )]
    RemoveTimedOut { id: String },
    #[error("cannot remove container {id}: {error}")]
    Remove { id: String, error: String },
}

/// Force-removes every container (running or not) labelled with `owner`; the
/// number removed. An engine that is not there has no containers: `Ok(0)`.
///
/// # Errors
/// The engine answered but failed to list or remove them, or did not answer in
/// time.
pub(crate) fn remove_containers_of(owner: &Owner) -> Result<usize, ContainersError> {
    let label = format!("{}={}", owner::LABEL, owner.label());
    on_engine(|docker| async move {
        let ids = labelled(&docker, &label).await?;
        let mut removed = 0;
        for (id, _) in ids {
            remove(&docker, &id).await?;
            removed += 1;
        }
        Ok(removed)
    })
}

/// Force-removes the containers whose owner ([`owner::LABEL`]) is a `wfr` that
/// has ended ([`Owner::is_gone`]: of this host, and dead or of an earlier boot);
/// the number removed. Others' (live, or of another host) are left alone. An
/// engine that is not there is `Ok(0)`, with a debug log.
///
/// # Errors
/// The engine answered but failed to list or remove them, or did not answer in
/// time.
pub(crate) fn reap_gone_owners() -> Result<usize, ContainersError> {
    on_engine(|docker| async move {
        let labelled = labelled(&docker, owner::LABEL).await?;
        let mut removed = 0;
        for (id, label) in labelled {
            let Some(owner) = Owner::parse(&label) else {
                continue;
            };
            if owner.is_gone() {
                remove(&docker, &id).await?;
                tracing::debug!(target: "wfr::docker", container = %id, owner = %label, "removed a container whose wfr is gone");
                removed += 1;
            }
        }
        Ok(removed)
    })
}

/// Runs `work` against the engine on a small runtime of its own.
fn on_engine<F, Fut>(work: F) -> Result<usize, ContainersError>
where
    F: FnOnce(Docker) -> Fut,
    Fut: std::future::Future<Output = Result<usize, ContainersError>>,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| ContainersError::Io(e.to_string()))?;
    runtime.block_on(async {
        let docker = match Docker::connect_with_local_defaults() {
            Ok(docker) => docker,
            Err(e) => {
                tracing::debug!(target: "wfr::docker", "no Docker engine to clean up: {e}");
                return Ok(0);
            }
        };
        match tokio::time::timeout(PING, docker.ping()).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                tracing::debug!(target: "wfr::docker", "no Docker engine to clean up: {e}");
                return Ok(0);
            }
            Err(_) => {
                tracing::debug!(target: "wfr::docker", "no Docker engine to clean up: it did not answer within {}s", PING.as_secs());
                return Ok(0);
            }
        }
        work(docker).await
    })
}

/// The containers that match the label filter `filter` (`key` or `key=value`),
/// with their owner label.
async fn labelled(docker: &Docker, filter: &str) -> Result<Vec<(String, String)>, ContainersError> {
    let mut filters = HashMap::new();
    filters.insert("label".to_string(), vec![filter.to_string()]);
    let listed = tokio::time::timeout(
        REQUEST,
        docker.list_containers(Some(
            ListContainersOptionsBuilder::default()
                .all(true)
                .filters(&filters)
                .build(),
        )),
    )
    .await
    .map_err(|_| ContainersError::ListTimedOut)?
    .map_err(|e| ContainersError::List(e.to_string()))?;
    Ok(listed
        .into_iter()
        .filter_map(|c| {
            let label = c.labels?.remove(owner::LABEL)?;
            Some((c.id?, label))
        })
        .collect())
}

async fn remove(docker: &Docker, id: &str) -> Result<(), ContainersError> {
    let options = RemoveContainerOptionsBuilder::default()
        .force(true)
        .v(true)
        .build();
    match tokio::time::timeout(REQUEST, docker.remove_container(id, Some(options))).await {
        // Gone already, or being removed by someone else.
        Ok(
            Ok(())
            | Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404 | 409,
                ..
            }),
        ) => Ok(()),
        Ok(Err(e)) => Err(ContainersError::Remove {
            id: id.to_string(),
            error: e.to_string(),
        }),
        Err(_) => Err(ContainersError::RemoveTimedOut { id: id.to_string() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::models::ContainerCreateBody;

    /// Runs `work` against the local engine.
    fn on_local_engine<T>(work: impl AsyncFnOnce(Docker) -> T) -> T {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime
            .block_on(async { work(Docker::connect_with_local_defaults().expect("engine")).await })
    }

    /// Creates (does not start) a container of the test image labelled with `owner`.
    fn create(owner: &Owner) -> String {
        on_local_engine(async |docker| {
            let mut labels = HashMap::new();
            labels.insert(owner::LABEL.to_string(), owner.label());
            let body = ContainerCreateBody {
                image: Some("wfc-test/busybox:1".into()),
                cmd: Some(vec!["true".into()]),
                labels: Some(labels),
                ..Default::default()
            };
            docker
                .create_container(
                    None::<bollard::query_parameters::CreateContainerOptions>,
                    body,
                )
                .await
                .map_err(|e| format!("{e} (run scripts/setup-tests for the test image)"))
                .expect("create a container")
                .id
        })
    }

    fn exists(id: &str) -> bool {
        on_local_engine(
            async |docker| match docker.inspect_container(id, None).await {
                Ok(_) => true,
                Err(bollard::errors::Error::DockerResponseServerError {
                    status_code: 404, ..
                }) => false,
                Err(e) => panic!("inspect {id}: {e}"),
            },
        )
    }

    /// An owner that has ended: a child process that ran and was waited for.
    fn gone_owner() -> Owner {
        let mut child = std::process::Command::new("sleep")
            .arg("10")
            .spawn()
            .expect("spawn");
        let start = owner::start_time(child.id()).expect("start time of a live child");
        let gone = Owner {
            pid: child.id(),
            start,
            ..Owner::current().clone()
        };
        assert!(!gone.is_gone());
        child.kill().expect("kill");
        child.wait().expect("wait");
        assert!(gone.is_gone());
        gone
    }

    #[test]
    fn containers_of_gone_owners_are_reaped_and_live_ones_kept() {
        let gone = gone_owner();
        let dead = create(&gone);
        let live = create(Owner::current());
        let elsewhere = Owner {
            host: "another-host".into(),
            ..gone.clone()
        };
        let foreign = create(&elsewhere);
        // (Another process's reaper may have come first: the count is not ours.)
        reap_gone_owners().expect("reap");
        assert!(!exists(&dead), "the gone owner's container was removed");
        assert!(exists(&live), "a live owner's container is kept");
        assert!(
            exists(&foreign),
            "another host's owner cannot be judged: kept"
        );
        // The guard's way: every container of one owner.
        assert_eq!(remove_containers_of(Owner::current()), Ok(1));
        assert!(!exists(&live));
        assert_eq!(remove_containers_of(&elsewhere), Ok(1));
        assert!(!exists(&foreign));
        assert_eq!(remove_containers_of(&gone), Ok(0));
    }
}
