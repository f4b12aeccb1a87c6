//! [`NodeState`]: what every request handler shares.

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use crate::activations::ActivationStore;
use crate::auth::Keys;
use crate::config::NodeConfig;
use crate::function::Function;
use crate::metrics::Metrics;
use crate::scheduler::Scheduler;
use crate::store::ActionStore;

/// The action-proxy protocol's state machine (OpenWhisk's Node.js runtime's `service.js`):
///
/// ```text
/// Ready ──/init ok──► Initialized ──/run──► Initialized   (every /run a fresh clone)
///   │ └──/init without code or main──► Ready
///   └──/init fails (syntax, import)──► Stopped (terminal: every later /init and /run → 403)
/// ```
#[derive(Clone, Debug)]
pub enum ProxyPhase {
    /// Waiting for `/init`.
    Ready,
    /// `/init` is making the function snapshot.
    Starting,
    /// Serving `/run`.
    Initialized(Arc<Function>),
    /// `/init` failed.
    Stopped,
}

impl ProxyPhase {
    /// The status word of OpenWhisk's messages.
    pub fn word(&self) -> &'static str {
        match self {
            ProxyPhase::Ready => "ready",
            ProxyPhase::Starting => "starting",
            ProxyPhase::Initialized(_) => "ready",
            ProxyPhase::Stopped => "stopped",
        }
    }
}

/// See the module docs.
pub struct NodeState {
    /// The configuration.
    pub config: NodeConfig,
    /// Known keys (REST mode).
    pub keys: Keys,
    /// Actions (REST mode).
    pub store: ActionStore,
    /// The scheduler.
    pub scheduler: Scheduler,
    /// Activation records.
    pub activations: ActivationStore,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// `http://HOST:PORT` of this node (`__OW_API_HOST`).
    pub api_host: String,
    /// Action-proxy state.
    pub proxy: Mutex<ProxyPhase>,
    /// Set when SIGTERM/SIGINT arrived.
    pub draining: AtomicBool,
}
