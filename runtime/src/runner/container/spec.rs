//! A container job's `with:` (rendered with the strategy's scope: its matrix
//! too), read into what the container is started with.
//!
//! `type: container` takes upstream's keys: `image`, `container_name`,
//! `volumes` (a list of `{source, target, mode}`), `environment`, `network`
//! (`{network_mode, network_name}`), `resources` (`{memory, cpu, cpuset_cpus,
//! memswap_limit}`), `working_dir` (default `/app`), `user`, `timeout` (seconds,
//! default 3600), `remove` (default true) and `docker_host`. `command` is
//! refused: the container's command is wfc's, which keeps it up while the
//! stages run inside. `type: docker` takes `image`, `env` and `volume` (a
//! mapping `{host: container}`, as a Docker stage's).

use std::path::{Path, PathBuf};
use std::time::Duration;

use wfc_plan::JobPlan;
use wfc_plan::vocab::RunsOnKind;

use crate::eval;
use crate::executor::Context;
use crate::executor::docker::mounts::Volume;
use crate::value::{Map, Value};

/// Where wfr's own folders are mounted in a container job's containers.
pub(super) const OWN: &str = "/.wfc";

/// Upstream's default working directory (and the workspace's mount point).
const WORKING_DIR: &str = "/app";

/// Upstream's default `timeout`.
const TIMEOUT: Duration = Duration::from_secs(3600);

/// What a strategy's container is started with.
pub(super) struct Spec {
    /// `name` without its tag (a digest reference stays whole).
    pub image: String,
    pub tag: String,
    /// `container_name`; with a matrix, each strategy's gets `-<strategy>`.
    pub name: Option<String>,
    /// The `volumes`, then the working directory at `working_dir`.
    pub volumes: Vec<Volume>,
    /// `NAME=value`.
    pub env: Vec<String>,
    pub network: Option<String>,
    pub memory: Option<i64>,
    pub memory_swap: Option<i64>,
    pub nano_cpus: Option<i64>,
    pub cpuset_cpus: Option<String>,
    pub working_dir: String,
    pub user: Option<String>,
    pub timeout: Option<Duration>,
    pub remove: bool,
    pub docker_host: Option<String>,
    /// wfr's working directory: volumes stay inside it.
    pub workdir: PathBuf,
}

impl Spec {
    /// `name:tag` as the engine knows it.
    pub(super) fn reference(&self) -> String {
        if self.tag.is_empty() {
            self.image.clone()
        } else {
            format!("{}:{}", self.image, self.tag)
        }
    }
}

/// The job's `with:`, rendered in `cx` (a strategy's context) and checked;
/// the error says what is wrong with which key.
pub(super) fn render(cx: &impl Context, job: &JobPlan) -> Result<Spec, String> {
    let args = match &job.runs_on_args {
        None => Map::default(),
        Some(args) => {
            let local = Map::default();
            let scope = cx.scope(&local, None);
            match eval::value(&scope, args).map_err(|e| format!("`with`: {}", e.message))? {
                Value::Map(map) => (*map).clone(),
                Value::Null => Map::default(),
                other => {
                    return Err(format!("`with` must be a mapping, not {}", other.py_repr()));
                }
            }
        }
    };
    let workdir =
        std::env::current_dir().map_err(|e| format!("cannot read the working directory: {e}"))?;
    let docker = job.runs_on == RunsOnKind::Docker;
    let get = |key: &str| args.get(key).filter(|v| !matches!(v, Value::Null));
    let image = match get("image") {
        Some(v) => text("image", v)?,
        None => return Err("`with.image` is missing: the image to run the stages in".into()),
    };
    if image.trim().is_empty() {
        return Err("`with.image` is empty".into());
    }
    let (image, tag) = split_reference(image.trim());
    let mut spec = Spec {
        image,
        tag,
        name: None,
        volumes: Vec::new(),
        env: Vec::new(),
        network: None,
        memory: None,
        memory_swap: None,
        nano_cpus: None,
        cpuset_cpus: None,
        working_dir: WORKING_DIR.to_string(),
        user: None,
        timeout: if docker { None } else { Some(TIMEOUT) },
        remove: true,
        docker_host: None,
        workdir,
    };
    if docker {
        if let Some(env) = get("env") {
            spec.env = variables("env", env)?;
        }
        if let Some(volume) = get("volume") {
            let Value::Map(map) = volume else {
                return Err("`with.volume` must be a mapping `{host path: container path}`".into());
            };
            for (host, target) in map.iter() {
                spec.volumes.push(Volume {
                    host: host.to_string(),
                    target: text(&format!("volume.{host}"), target)?,
                    read_only: false,
                });
            }
        }
    } else {
        if let Some(name) = get("container_name") {
            spec.name = Some(text("container_name", name)?);
        }
        if let Some(env) = get("environment") {
            spec.env = variables("environment", env)?;
        }
        if let Some(volumes) = get("volumes") {
            spec.volumes = container_volumes(volumes)?;
        }
        if let Some(network) = get("network") {
            spec.network = Some(network_mode(network)?);
        }
        if let Some(resources) = get("resources") {
            read_resources(&mut spec, resources)?;
        }
        if let Some(dir) = get("working_dir") {
            spec.working_dir = text("working_dir", dir)?;
        }
        if let Some(user) = get("user") {
            spec.user = Some(text("user", user)?);
        }
        if get("command").is_some() {
            return Err("`with.command` is not supported: wfc starts the container with a command of its own that keeps it up, and runs the job's stages inside it (`docker exec`); put what the command did in a Bash stage".into());
        }
        if let Some(timeout) = get("timeout") {
            spec.timeout = Some(seconds(timeout)?);
        }
        if let Some(remove) = get("remove") {
            let Value::Bool(remove) = remove else {
                return Err(format!(
                    "`with.remove` must be true or false, not {}",
                    remove.py_repr()
                ));
            };
            spec.remove = *remove;
        }
        if let Some(host) = get("docker_host") {
            spec.docker_host = Some(text("docker_host", host)?);
        }
    }
    if !spec.working_dir.starts_with('/') {
        return Err(format!(
            "`with.working_dir` must be an absolute path, not `{}`",
            spec.working_dir
        ));
    }
    for v in &spec.volumes {
        target(&v.host, &v.target, &spec.working_dir)?;
        // Refused before anything starts; checked again when mounted.
        wfc_plan::volume::host_path(&v.host, &spec.workdir)
            .map_err(|refusal| refusal.message(&v.host))?;
    }
    // The workspace (the run's working directory) at `working_dir`.
    spec.volumes.push(Volume {
        host: ".".to_string(),
        target: spec.working_dir.clone(),
        read_only: false,
    });
    Ok(spec)
}

/// A container path: absolute, not wfr's own folder, not the workspace's.
fn target(host: &str, target: &str, working_dir: &str) -> Result<(), String> {
    let normal = wfc_plan::volume::normalize(Path::new(target));
    if !target.starts_with('/') {
        return Err(format!(
            "volume `{host}`: the container path `{target}` must be absolute"
        ));
    }
    if normal.starts_with(OWN) {
        return Err(format!(
            "volume `{host}`: `{OWN}` is where wfr mounts its own folders in a container job"
        ));
    }
    if normal == wfc_plan::volume::normalize(Path::new(working_dir)) {
        return Err(format!(
            "volume `{host}`: `{target}` is the working_dir, where the workspace is mounted"
        ));
    }
    Ok(())
}

/// `name[:tag]` (or `name@digest`): the name and the tag, `latest` when none.
fn split_reference(reference: &str) -> (String, String) {
    if reference.contains('@') {
        return (reference.to_string(), String::new());
    }
    let last = reference.rsplit('/').next().unwrap_or(reference);
    match last.rsplit_once(':') {
        Some((_, tag)) => {
            let name = &reference[..reference.len() - tag.len() - 1];
            (name.to_string(), tag.to_string())
        }
        None => (reference.to_string(), "latest".to_string()),
    }
}

fn text(key: &str, value: &Value) -> Result<String, String> {
    match value {
        Value::Str(s) => Ok(s.to_string()),
        Value::Int(_) | Value::BigInt(_) | Value::Float(_) | Value::Bool(_) => Ok(value.py_str()),
        other => Err(format!(
            "`with.{key}` must be text, not {}",
            other.py_repr()
        )),
    }
}

/// `{NAME: value}` as `NAME=value`.
fn variables(key: &str, value: &Value) -> Result<Vec<String>, String> {
    let Value::Map(map) = value else {
        return Err(format!("`with.{key}` must be a mapping of names to values"));
    };
    let mut out = Vec::with_capacity(map.len());
    for (name, v) in map.iter() {
        if name.is_empty() || name.contains('=') {
            return Err(format!("`with.{key}`: `{name}` is not a variable name"));
        }
        let v = match v {
            Value::Null => String::new(),
            v => text(&format!("{key}.{name}"), v)?,
        };
        out.push(format!("{name}={v}"));
    }
    Ok(out)
}

/// Upstream's `volumes`: `[{source, target, mode}]` (`mode` `rw` or `ro`).
fn container_volumes(value: &Value) -> Result<Vec<Volume>, String> {
    let Value::List(items) = value else {
        return Err("`with.volumes` must be a list of `{source, target, mode}`".into());
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let Value::Map(map) = item else {
            return Err(format!(
                "`with.volumes[{i}]` must be a mapping `{{source, target, mode}}`"
            ));
        };
        for key in map.keys() {
            if !matches!(key.as_str(), "source" | "target" | "mode") {
                return Err(format!(
                    "`with.volumes[{i}]`: unknown key `{key}` (its keys are source, target, mode)"
                ));
            }
        }
        let field = |k: &str| -> Result<Option<String>, String> {
            map.get(k)
                .filter(|v| !matches!(v, Value::Null))
                .map(|v| text(&format!("volumes[{i}].{k}"), v))
                .transpose()
        };
        let (Some(source), Some(target)) = (field("source")?, field("target")?) else {
            return Err(format!(
                "`with.volumes[{i}]` needs `source` (a folder of the working directory) and `target` (the container path)"
            ));
        };
        let read_only = match field("mode")?.as_deref() {
            None | Some("rw") => false,
            Some("ro") => true,
            Some(other) => {
                return Err(format!(
                    "`with.volumes[{i}].mode` is `rw` or `ro`, not `{other}`"
                ));
            }
        };
        out.push(Volume {
            host: source,
            target,
            read_only,
        });
    }
    Ok(out)
}

/// Upstream's `network`: `{network_mode, network_name}` (a name wins); `ports`
/// is refused (nothing outside reaches a job's container).
fn network_mode(value: &Value) -> Result<String, String> {
    let Value::Map(map) = value else {
        return Err("`with.network` must be a mapping `{network_mode, network_name}`".into());
    };
    for key in map.keys() {
        match key.as_str() {
            "network_mode" | "network_name" => {}
            "ports" => {
                return Err(
                    "`with.network.ports` is not supported: a container job's container publishes no ports".into(),
                );
            }
            other => {
                return Err(format!(
                    "`with.network`: unknown key `{other}` (its keys are network_mode, network_name)"
                ));
            }
        }
    }
    let pick = |k: &str| {
        map.get(k)
            .filter(|v| !matches!(v, Value::Null))
            .map(|v| text(&format!("network.{k}"), v))
            .transpose()
    };
    Ok(match (pick("network_name")?, pick("network_mode")?) {
        (Some(name), _) => name,
        (None, Some(mode)) => mode,
        (None, None) => "bridge".to_string(),
    })
}

fn read_resources(spec: &mut Spec, value: &Value) -> Result<(), String> {
    let Value::Map(map) = value else {
        return Err(
            "`with.resources` must be a mapping `{memory, cpu, cpuset_cpus, memswap_limit}`".into(),
        );
    };
    for (key, v) in map.iter() {
        if matches!(v, Value::Null) {
            continue;
        }
        match key.as_str() {
            "memory" => spec.memory = Some(bytes("resources.memory", v)?),
            "memswap_limit" => spec.memory_swap = Some(bytes("resources.memswap_limit", v)?),
            "cpuset_cpus" => spec.cpuset_cpus = Some(text("resources.cpuset_cpus", v)?),
            "cpu" => {
                let cpus: f64 = text("resources.cpu", v)?
                    .trim()
                    .parse()
                    .ok()
                    .filter(|c: &f64| c.is_finite() && *c > 0.0)
                    .ok_or_else(|| {
                        format!(
                            "`with.resources.cpu` must be a positive number of CPUs, not {}",
                            v.py_repr()
                        )
                    })?;
                #[allow(clippy::cast_possible_truncation)]
                {
                    spec.nano_cpus = Some((cpus * 1e9).round() as i64);
                }
            }
            other => {
                return Err(format!(
                    "`with.resources`: unknown key `{other}` (its keys are memory, cpu, cpuset_cpus, memswap_limit)"
                ));
            }
        }
    }
    Ok(())
}

/// `512m`, `2g`, `1048576`: a number of bytes, with Docker's suffixes.
fn bytes(key: &str, value: &Value) -> Result<i64, String> {
    let written = text(key, value)?;
    let t = written.trim().to_ascii_lowercase();
    let t = t.strip_suffix('b').unwrap_or(&t);
    let (digits, unit) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&t[..i], c),
        _ => (t, ' '),
    };
    let scale: i64 = match unit {
        ' ' => 1,
        'k' => 1 << 10,
        'm' => 1 << 20,
        'g' => 1 << 30,
        _ => 0,
    };
    digits
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|n| *n > 0 && scale > 0)
        .and_then(|n| n.checked_mul(scale))
        .ok_or_else(|| {
            format!("`with.{key}` must be a size such as `512m` or `2g`, not `{written}`")
        })
}

fn seconds(value: &Value) -> Result<Duration, String> {
    let bad = || {
        format!(
            "`with.timeout` must be a positive number of seconds, not {}",
            value.py_repr()
        )
    };
    let n: f64 = match value {
        #[allow(clippy::cast_precision_loss)]
        Value::Int(n) => *n as f64,
        Value::Float(x) => *x,
        Value::Str(s) => s.trim().parse().map_err(|_| bad())?,
        _ => return Err(bad()),
    };
    if n.is_finite() && n > 0.0 {
        Ok(Duration::from_secs_f64(n))
    } else {
        Err(bad())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_split_into_name_and_tag() {
        let split = |r: &str| split_reference(r);
        assert_eq!(split("busybox"), ("busybox".into(), "latest".into()));
        assert_eq!(
            split("wfc-test/busybox:1"),
            ("wfc-test/busybox".into(), "1".into())
        );
        assert_eq!(
            split("127.0.0.1:5055/x/y"),
            ("127.0.0.1:5055/x/y".into(), "latest".into())
        );
        assert_eq!(
            split("127.0.0.1:5055/x/y:2"),
            ("127.0.0.1:5055/x/y".into(), "2".into())
        );
        assert_eq!(split("a@sha256:00"), ("a@sha256:00".into(), String::new()));
    }

    #[test]
    fn sizes_read_as_docker_reads_them() {
        let b = |t: &str| bytes("memory", &Value::str(t));
        assert_eq!(b("512m"), Ok(512 << 20));
        assert_eq!(b("2g"), Ok(2 << 30));
        assert_eq!(b("2GB"), Ok(2 << 30));
        assert_eq!(b("4096"), Ok(4096));
        assert!(b("lots").is_err());
        assert!(b("-1m").is_err());
    }

    #[test]
    fn container_paths_are_checked() {
        assert!(target("d", "data", "/app").is_err());
        assert!(target("d", "/.wfc/bin", "/app").is_err());
        assert!(target("d", "/app/", "/app").is_err());
        assert!(target("d", "/data", "/app").is_ok());
    }
}
