//! Real `nats-server` processes for the tests that need NATS: one server
//! ([`NatsServer`]) or a cluster ([`NatsCluster`]), on free loopback ports, with
//! JetStream on (each node with its own store folder) and token auth on (a random
//! token per server or cluster). `scripts/setup-tests` installs Debian's
//! `nats-server` (2.9: no 2.10+ features).
//!
//! Without `nats-server` on the PATH, `start` prints why and returns None (the
//! test returns early); under `CI=true` a missing server fails the test instead.
//! Every process is SIGKILLed when its owner is dropped. The command lines are
//! all in [`Node::command`].
//!
//! Note for clients: async-nats 0.51 does not read credentials from a URL
//! (`nats://TOKEN@host:port` connects without them): give the token with
//! `ConnectOptions::with_token(server.token())` and connect to [`NatsServer::url`].

// Not every test uses every helper.
#![allow(dead_code)]

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The server binary (Debian's package puts it in /usr/sbin, which a user's PATH
/// may lack).
fn binary() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join("nats-server"))
            .find(|p| p.is_file())
    });
    on_path.or_else(|| {
        let sbin = PathBuf::from("/usr/sbin/nats-server");
        sbin.is_file().then_some(sbin)
    })
}

/// The server binary, or None with the reason printed (a failure under CI).
fn binary_or_skip() -> Option<PathBuf> {
    let found = binary();
    if found.is_none() {
        let why = "nats-server is not installed (run scripts/setup-tests, which installs Debian's nats-server)";
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{why}; under CI=true the NATS tests must run"
        );
        eprintln!("skipped: {why}");
    }
    found
}

/// A port nobody listens on now, on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// A random token (32 hex digits).
fn random_token() -> String {
    use std::io::Read as _;
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .expect("random bytes");
    bytes.iter().fold(String::new(), |mut hex, b| {
        use std::fmt::Write as _;
        let _ = write!(hex, "{b:02x}");
        hex
    })
}

/// One `nats-server` process and what it needs to start again the same way.
struct Node {
    binary: PathBuf,
    name: String,
    port: u16,
    /// The cluster port and the other nodes' cluster ports, in a cluster.
    cluster: Option<(String, u16, Vec<u16>)>,
    store: PathBuf,
    log: PathBuf,
    token: String,
    child: Option<Child>,
}

impl Node {
    /// The command line: loopback only, JetStream in `store`, token auth, the
    /// log in a file; in a cluster, the node's name, the cluster's name, its
    /// route port and routes to the others.
    fn command(&self) -> Command {
        let mut command = Command::new(&self.binary);
        command
            .args(["-a", "127.0.0.1", "-p", &self.port.to_string()])
            .args(["--name", &self.name])
            .arg("-js")
            .arg("-sd")
            .arg(&self.store)
            .args(["--auth", &self.token])
            .arg("-l")
            .arg(&self.log);
        if let Some((cluster_name, cluster_port, others)) = &self.cluster {
            let routes: Vec<String> = others
                .iter()
                .map(|p| format!("nats://127.0.0.1:{p}"))
                .collect();
            command
                .args(["--cluster_name", cluster_name])
                .args(["--cluster", &format!("nats://127.0.0.1:{cluster_port}")])
                .args(["--routes", &routes.join(",")]);
        }
        command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        command
    }

    /// Starts the process and waits (up to 10 s) until it takes connections.
    fn spawn(&mut self) {
        assert!(self.child.is_none(), "{} runs already", self.name);
        let child = self.command().spawn().expect("start nats-server");
        self.child = Some(child);
        let started = Instant::now();
        loop {
            if self.answers() {
                return;
            }
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                self.child = None;
                panic!(
                    "nats-server {} ended at its start ({status}):\n{}",
                    self.name,
                    self.log()
                );
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "nats-server {} took no connection on port {} within 10 s:\n{}",
                self.name,
                self.port,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// True when the client port greets with the server's INFO.
    fn answers(&self) -> bool {
        use std::io::Read as _;
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
        let mut greeting = [0u8; 4];
        stream.read_exact(&mut greeting).is_ok() && &greeting == b"INFO"
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    fn url_with_token(&self) -> String {
        format!("nats://{}@127.0.0.1:{}", self.token, self.port)
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// One `nats-server` with JetStream and a token (see the module doc).
pub struct NatsServer {
    node: Node,
    // Dropped after the node (fields drop in order): its store and log.
    _dir: tempfile::TempDir,
}

impl NatsServer {
    /// A server that takes connections, or None (printed why) when `nats-server`
    /// is not installed; under `CI=true` that fails the test.
    pub fn start() -> Option<NatsServer> {
        let binary = binary_or_skip()?;
        let dir = tempfile::tempdir().expect("a folder for nats-server");
        let mut node = Node {
            binary,
            name: "wfc-test".into(),
            port: free_port(),
            cluster: None,
            store: dir.path().join("jetstream"),
            log: dir.path().join("nats-server.log"),
            token: random_token(),
            child: None,
        };
        node.spawn();
        Some(NatsServer { node, _dir: dir })
    }

    /// `nats://127.0.0.1:PORT` (no credentials).
    pub fn url(&self) -> String {
        self.node.url()
    }

    /// `nats://TOKEN@127.0.0.1:PORT`.
    pub fn url_with_token(&self) -> String {
        self.node.url_with_token()
    }

    pub fn token(&self) -> &str {
        &self.node.token
    }

    pub fn port(&self) -> u16 {
        self.node.port
    }

    /// Kills the server (SIGKILL); [`NatsServer::restart`] starts it again.
    pub fn kill(&mut self) {
        self.node.kill();
    }

    /// Starts the server again (killed first if it runs) on the same port, with
    /// the same JetStream store and token, and waits until it takes connections.
    pub fn restart(&mut self) {
        self.node.kill();
        self.node.spawn();
    }

    /// What the server logged so far.
    pub fn log(&self) -> String {
        self.node.log()
    }

    /// Where the server's JetStream store is.
    pub fn store_dir(&self) -> &Path {
        &self.node.store
    }

    /// Counts the messages published on `subject` (wildcards allowed) from
    /// now on, on a connection and thread of its own.
    pub fn tap(&self, subject: &str) -> Tap {
        let (url, token, subject) = (self.url(), self.token().to_string(), subject.to_string());
        let seen = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = std::sync::Arc::clone(&seen);
        let (ready_tx, ready) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let shown = subject.clone();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async move {
                let tapped = async {
                    let client = async_nats::ConnectOptions::with_token(token)
                        .connect(url)
                        .await
                        .map_err(|e| e.to_string())?;
                    let subscriber = client.subscribe(subject).await.map_err(|e| e.to_string())?;
                    // Flushed: the server has the subscription before `tap` returns.
                    client.flush().await.map_err(|e| e.to_string())?;
                    Ok::<_, String>((client, subscriber))
                };
                let (_client, mut subscriber) = match tapped.await {
                    Ok(tapped) => {
                        let _ = ready_tx.send(Ok(()));
                        tapped
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let counting = async {
                    while futures_util::StreamExt::next(&mut subscriber)
                        .await
                        .is_some()
                    {
                        counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    }
                };
                tokio::select! {
                    () = counting => {}
                    _ = stopped => {}
                }
            });
        });
        ready
            .recv()
            .expect("the tap's thread")
            .unwrap_or_else(|e| panic!("cannot tap {shown}: {e}"));
        Tap { seen, _stop: stop }
    }
}

/// A subscriber that counts the messages it gets (see [`NatsServer::tap`]);
/// it stops when dropped.
pub struct Tap {
    seen: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Tap {
    /// How many messages came so far.
    pub fn seen(&self) -> usize {
        self.seen.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// A JetStream cluster of `nats-server`s on loopback, with one token (see the
/// module doc).
pub struct NatsCluster {
    nodes: Vec<Node>,
    _dir: tempfile::TempDir,
}

impl NatsCluster {
    /// `size` nodes routed to each other, once JetStream has a meta leader and
    /// takes a stream with `size` replicas; None (printed why) when
    /// `nats-server` is not installed.
    pub fn start(size: usize) -> Option<NatsCluster> {
        let binary = binary_or_skip()?;
        let dir = tempfile::tempdir().expect("a folder for the cluster");
        let token = random_token();
        let cluster_ports: Vec<u16> = (0..size).map(|_| free_port()).collect();
        let nodes: Vec<Node> = (0..size)
            .map(|i| Node {
                binary: binary.clone(),
                name: format!("n{i}"),
                port: free_port(),
                cluster: Some((
                    "wfc-test".into(),
                    cluster_ports[i],
                    cluster_ports
                        .iter()
                        .enumerate()
                        .filter(|(j, _)| *j != i)
                        .map(|(_, p)| *p)
                        .collect(),
                )),
                store: dir.path().join(format!("n{i}/jetstream")),
                log: dir.path().join(format!("n{i}.log")),
                token: token.clone(),
                child: None,
            })
            .collect();
        let mut cluster = NatsCluster { nodes, _dir: dir };
        for node in &mut cluster.nodes {
            node.spawn();
        }
        cluster.wait_for_jetstream(Duration::from_secs(30));
        Some(cluster)
    }

    /// The client URLs of all nodes, comma-separated, without credentials.
    pub fn urls(&self) -> String {
        self.nodes
            .iter()
            .map(Node::url)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The client URLs of all nodes, comma-separated, each with the token.
    pub fn urls_with_token(&self) -> String {
        self.nodes
            .iter()
            .map(Node::url_with_token)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Node `i`'s client URL (no credentials).
    pub fn url(&self, i: usize) -> String {
        self.nodes[i].url()
    }

    pub fn url_with_token(&self, i: usize) -> String {
        self.nodes[i].url_with_token()
    }

    pub fn token(&self) -> &str {
        &self.nodes[0].token
    }

    pub fn size(&self) -> usize {
        self.nodes.len()
    }

    /// Kills node `i` (SIGKILL).
    pub fn kill(&mut self, i: usize) {
        self.nodes[i].kill();
    }

    /// Starts node `i` again (killed first if it runs), same ports and store;
    /// waits until it takes connections (not until it caught up).
    pub fn restart(&mut self, i: usize) {
        self.nodes[i].kill();
        self.nodes[i].spawn();
    }

    /// What node `i` logged so far.
    pub fn log(&self, i: usize) -> String {
        self.nodes[i].log()
    }

    /// Waits (at most `limit`) until a stream with as many replicas as there are
    /// running nodes can be made (JetStream has a meta leader and knows its
    /// peers), and removes it; and until every stream's replicas are current.
    /// (A node just restarted answers before it has caught up: killing another
    /// then leaves a stream one current replica of three, no quorum, and
    /// "JetStream system temporarily unavailable" for as long as that lasts.)
    pub fn wait_for_jetstream(&self, limit: Duration) {
        let running: Vec<&Node> = self.nodes.iter().filter(|n| n.child.is_some()).collect();
        let urls: Vec<String> = running.iter().map(|n| n.url()).collect();
        let replicas = running.len();
        let token = self.token().to_string();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let outcome = runtime.block_on(async {
            let started = Instant::now();
            let mut last = String::new();
            while started.elapsed() < limit {
                match try_stream(&urls, &token, replicas).await {
                    Ok(()) => return Ok(()),
                    Err(e) => last = e,
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(last)
        });
        if let Err(last) = outcome {
            let logs = (0..self.nodes.len())
                .map(|i| format!("--- n{i}:\n{}", self.log(i)))
                .collect::<Vec<_>>()
                .join("\n");
            panic!("the cluster's JetStream was not ready within {limit:?}: {last}\n{logs}");
        }
    }
}

/// Makes and removes a stream with `replicas` replicas through `urls`.
async fn try_stream(urls: &[String], token: &str, replicas: usize) -> Result<(), String> {
    let addrs: Vec<async_nats::ServerAddr> = urls
        .iter()
        .map(|u| u.parse().map_err(|e| format!("{u}: {e}")))
        .collect::<Result<_, _>>()?;
    let client = async_nats::ConnectOptions::with_token(token.to_string())
        .connection_timeout(Duration::from_secs(2))
        .request_timeout(Some(Duration::from_secs(2)))
        .connect(addrs)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let js = async_nats::jetstream::new(client);
    let name = format!("WFC_TEST_READY_{}", random_token());
    js.create_stream(async_nats::jetstream::stream::Config {
        name: name.clone(),
        subjects: vec![format!("wfc.test.ready.{name}")],
        num_replicas: replicas,
        ..Default::default()
    })
    .await
    .map_err(|e| format!("a stream with {replicas} replicas: {e}"))?;
    js.delete_stream(&name)
        .await
        .map_err(|e| format!("remove the stream: {e}"))?;
    let mut names = js.stream_names();
    let mut all = Vec::new();
    while let Some(name) = futures_util::StreamExt::next(&mut names).await {
        all.push(name.map_err(|e| format!("list the streams: {e}"))?);
    }
    for name in all {
        let mut stream = js
            .get_stream(&name)
            .await
            .map_err(|e| format!("stream {name}: {e}"))?;
        let info = stream
            .info()
            .await
            .map_err(|e| format!("stream {name}: {e}"))?;
        let Some(cluster) = &info.cluster else {
            continue;
        };
        if cluster.leader.is_none() {
            return Err(format!("stream {name} has no leader"));
        }
        if cluster.replicas.len() + 1 < info.config.num_replicas {
            return Err(format!("stream {name} lacks a replica"));
        }
        if let Some(behind) = cluster.replicas.iter().find(|p| !p.current || p.offline) {
            return Err(format!(
                "stream {name}: replica {} is not current",
                behind.name
            ));
        }
    }
    Ok(())
}

/// Connects to `url` with `token`, within 5 s.
fn connect(url: &str, token: Option<&str>) -> Result<async_nats::Client, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let options = match token {
            Some(token) => async_nats::ConnectOptions::with_token(token.to_string()),
            None => async_nats::ConnectOptions::new(),
        };
        tokio::time::timeout(
            Duration::from_secs(5),
            options
                .connection_timeout(Duration::from_secs(2))
                .connect(url),
        )
        .await
        .map_err(|_| "timed out".to_string())?
        .map_err(|e| e.to_string())
    })
}

/// The server takes only clients with its token, and comes back after a kill
/// on the same port.
#[test]
fn a_test_server_requires_its_token_and_restarts() {
    let Some(mut server) = NatsServer::start() else {
        return;
    };
    assert!(
        server.url_with_token().contains(server.token()) && !server.url().contains(server.token())
    );
    let refused = connect(&server.url(), None).expect_err("no token, no connection");
    assert!(refused.contains("authorization"), "{refused}");
    connect(&server.url(), Some("wrong")).expect_err("a wrong token, no connection");
    connect(&server.url(), Some(server.token())).expect("the token connects");
    server.kill();
    connect(&server.url(), Some(server.token())).expect_err("killed");
    server.restart();
    connect(&server.url(), Some(server.token())).expect("restarted");
}

/// A 3-node cluster takes 3-replica streams, and still does with a node down.
#[test]
fn a_test_cluster_has_jetstream_with_three_replicas() {
    let Some(mut cluster) = NatsCluster::start(3) else {
        return;
    };
    assert_eq!(cluster.urls().split(',').count(), 3);
    connect(&cluster.url(1), Some(cluster.token())).expect("a node connects");
    cluster.kill(0);
    connect(&cluster.url(0), Some(cluster.token())).expect_err("killed");
    cluster.restart(0);
    cluster.wait_for_jetstream(Duration::from_secs(30));
}
