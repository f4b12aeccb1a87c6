//! Starting, serving and draining a node.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use seuss_hv::Kvm;

use crate::activations::ActivationStore;
use crate::auth::{KeyError, Keys};
use crate::cache::SnapCache;
use crate::config::NodeConfig;
use crate::metrics::Metrics;
use crate::runtime::{RuntimeError, Runtimes};
use crate::scheduler::{Scheduler, Shared};
use crate::state::{NodeState, ProxyPhase};
use crate::store::{ActionStore, StoreError};

/// Why the node could not start (or stop cleanly).
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// A file or directory of the state dir.
    #[error("{path}: {source}")]
    Io {
        /// Which.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// `/dev/kvm`.
    #[error("opening /dev/kvm: {0}")]
    Kvm(String),
    /// Keys.
    #[error(transparent)]
    Keys(#[from] KeyError),
    /// The runtime image or its snapshot.
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    /// The action store.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Binding the listen address.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// What the node tells its caller once it accepts connections.
#[derive(Debug, Clone)]
pub struct Ready {
    /// The bound address.
    pub addr: SocketAddr,
    /// The `guest` key (REST mode).
    pub guest_key: Option<String>,
    /// Whether that key was generated now.
    pub generated: bool,
    /// Actions loaded from the state dir.
    pub actions: usize,
    /// Warnings about skipped actions.
    pub warnings: Vec<String>,
}

/// File of persisted activations, in the state directory.
pub const ACTIVATIONS_FILE: &str = "activations.jsonl";

fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> NodeError + '_ {
    move |source| NodeError::Io { path: path.display().to_string(), source }
}

/// Runs a node until SIGTERM or SIGINT, then drains it; `ready` is called once it listens.
pub fn run(config: NodeConfig, ready: impl FnOnce(&Ready) + Send) -> Result<(), NodeError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("seuss-http")
        .enable_all()
        .build()
        .map_err(|source| NodeError::Io { path: "tokio runtime".into(), source })?;
    rt.block_on(serve(config, ready))
}

async fn serve(config: NodeConfig, ready: impl FnOnce(&Ready) + Send) -> Result<(), NodeError> {
    let state_dir = config.state_dir.clone();
    std::fs::create_dir_all(&state_dir).map_err(io(&state_dir))?;
    let metrics = Arc::new(Metrics::default());
    let kvm = Kvm::new().map_err(|e| NodeError::Kvm(e.to_string()))?;
    let key = seuss_hv::StoreKey::load_or_create(&state_dir)
        .map_err(|source| NodeError::Io { path: state_dir.join(snapfmt::KEY_FILE).display().to_string(), source })?;
    let runtimes = Runtimes::new(&config.runtime_image, state_dir.join("runtimes"), metrics.clone(), key.clone())?;
    let (keys, store, warnings) = if config.action_proxy {
        let empty = state_dir.join("actions-unused");
        let (store, _) = ActionStore::open(empty.clone())?;
        let _ = std::fs::remove_dir(&empty);
        (Keys::default(), store, Vec::new())
    } else {
        let keys = Keys::load(&state_dir, config.auth.as_deref())?;
        let (store, warnings) = ActionStore::open(state_dir.join("actions"))?;
        (keys, store, warnings)
    };
    for w in &warnings {
        tracing::warn!("skipped a stored action: {w}");
    }
    metrics.actions.set(store.len() as i64);
    let shared = Arc::new(Shared {
        kvm,
        runtimes,
        cache: SnapCache::new(config.memory_budget, metrics.clone()),
        metrics: metrics.clone(),
        idle_per_worker: config.idle_clones_per_worker,
        pages: Arc::new(
            seuss_hv::PageStore::open(&state_dir.join("pages"), seuss_hv::Codec::Zstd)
                .map_err(|e| NodeError::Io { path: state_dir.join("pages").display().to_string(), source: std::io::Error::other(e) })?,
        ),
        allow_net: config.allow_net.clone(),
        key,
    });
    // The default runtime snapshot, made (first start) or loaded now rather than at the first request.
    {
        let shared = shared.clone();
        tokio::task::spawn_blocking(move || shared.runtimes.get(&shared.kvm, 256).map(|_| ()))
            .await
            .map_err(|e| NodeError::Io { path: "runtime snapshot".into(), source: std::io::Error::other(e) })??;
    }
    let scheduler = Scheduler::start(shared, config.workers, config.max_queue, config.namespace_concurrency)
        .map_err(|source| NodeError::Io { path: "worker threads".into(), source })?;
    let activations = ActivationStore::new(config.max_activations, config.max_activation_bytes, metrics.clone());
    let activations_file = state_dir.join(ACTIVATIONS_FILE);
    if !config.action_proxy {
        match activations.load(&activations_file) {
            Ok((_, 0)) => {}
            Ok((_, bad)) => tracing::warn!(file = %activations_file.display(), bad, "skipped unreadable activation records"),
            Err(e) => tracing::warn!(file = %activations_file.display(), error = %e, "cannot read persisted activations"),
        }
    }
    let listener =
        tokio::net::TcpListener::bind(config.listen).await.map_err(|source| NodeError::Listen { addr: config.listen, source })?;
    let addr = listener.local_addr().map_err(|source| NodeError::Listen { addr: config.listen, source })?;
    let host = if addr.ip().is_unspecified() { SocketAddr::from(([127, 0, 0, 1], addr.port())) } else { addr };
    let node = Arc::new(NodeState {
        api_host: format!("http://{host}"),
        keys,
        store,
        scheduler,
        activations,
        metrics,
        proxy: Mutex::new(ProxyPhase::Ready),
        draining: AtomicBool::new(false),
        config,
    });
    ready(&Ready {
        addr,
        guest_key: (!node.config.action_proxy).then(|| node.keys.guest.clone()),
        generated: node.keys.generated,
        actions: node.store.len(),
        warnings,
    });
    tracing::info!(%addr, workers = node.config.workers, actions = node.store.len(), "serving");
    let app = crate::api::router(node.clone());
    let stop = {
        let node = node.clone();
        async move {
            shutdown_signal().await;
            tracing::info!("draining: no new connections; running activations finish, queued ones are cancelled");
            node.draining.store(true, Ordering::SeqCst);
            node.scheduler.begin_drain();
        }
    };
    let served = axum::serve(listener, app).with_graceful_shutdown(stop).await;
    if let Err(e) = served {
        tracing::error!(error = %e, "HTTP server failed");
    }
    {
        let node = node.clone();
        let _ = tokio::task::spawn_blocking(move || node.scheduler.join()).await;
    }
    if !node.config.action_proxy {
        match node.activations.persist(&activations_file) {
            Ok(n) => tracing::info!(records = n, file = %activations_file.display(), "activations persisted"),
            Err(e) => tracing::error!(error = %e, file = %activations_file.display(), "persisting activations failed"),
        }
    }
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("installing the SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("installing the SIGINT handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}
