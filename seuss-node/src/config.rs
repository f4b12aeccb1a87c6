//! [`NodeConfig`]: everything `seuss serve` is told, with the defaults and limits of the node.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Largest request body of an action create/update: the guest's source limit
/// ([`seuss_hv::MAX_SOURCE`], 16 MiB) plus room for the JSON around it. OpenWhisk allows
/// 48 MB of code; this node's guest ABI takes 16 MiB.
pub const MAX_PUT_BODY: usize = seuss_hv::MAX_SOURCE + 2 * 1024 * 1024;
/// Largest invoke body (OpenWhisk's 1 MB payload limit, which is also the guest's args limit).
pub const MAX_INVOKE_BODY: usize = seuss_hv::MAX_PAYLOAD;
/// Largest body of the action-proxy protocol's `/init` and `/run` (the Node.js runtime's 48 MB).
pub const MAX_PROXY_BODY: usize = 48 * 1024 * 1024;
/// Largest `parameters` or `annotations` of an action, in JSON bytes (OpenWhisk's 1 MB).
pub const MAX_PARAMETERS: usize = 1024 * 1024;
/// The longest a blocking invoke waits for its result before answering 202 (OpenWhisk's 60 s).
pub const MAX_BLOCKING_WAIT: Duration = Duration::from_secs(60);

/// How the node is configured (see `seuss serve --help` for the flags behind each field).
#[derive(Clone, Debug)]
pub struct NodeConfig {
    /// Address to listen on (port 0 picks a free port; the bound address is printed).
    pub listen: SocketAddr,
    /// The state directory: keys, actions, snapshots, persisted activations.
    pub state_dir: PathBuf,
    /// The runtime image every function snapshot starts from.
    pub runtime_image: PathBuf,
    /// `UUID:KEY` for the `guest` namespace instead of the key generated into the state dir.
    pub auth: Option<String>,
    /// Worker threads running VM work.
    pub workers: usize,
    /// Bytes of function snapshots the cache keeps loaded (LRU beyond it).
    pub memory_budget: u64,
    /// Invocations waiting for a worker beyond which requests get 429.
    pub max_queue: usize,
    /// Invocations one namespace may have queued or running at once (429 beyond).
    pub namespace_concurrency: usize,
    /// Activation records kept (oldest dropped first).
    pub max_activations: usize,
    /// Bytes of activation results and logs kept (oldest records dropped first).
    pub max_activation_bytes: usize,
    /// Idle reset clones each worker keeps (one per function, least recently used dropped).
    pub idle_clones_per_worker: usize,
    /// Serve OpenWhisk's action-runtime protocol (`/init`, `/run`) instead of the REST API.
    pub action_proxy: bool,
    /// Destinations every function may reach (deny by default); an action's `allow-net`
    /// annotation adds to it.
    pub allow_net: seuss_hv::EgressPolicy,
}

impl NodeConfig {
    /// A configuration with the defaults of `seuss serve` for `state_dir` and `runtime_image`.
    pub fn new(state_dir: PathBuf, runtime_image: PathBuf) -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 3233)),
            state_dir,
            runtime_image,
            auth: None,
            workers: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            memory_budget: 1024 * 1024 * 1024,
            max_queue: 1024,
            namespace_concurrency: 512,
            max_activations: 10_000,
            max_activation_bytes: 256 * 1024 * 1024,
            idle_clones_per_worker: 64,
            action_proxy: false,
            allow_net: seuss_hv::EgressPolicy::default(),
        }
    }
}
