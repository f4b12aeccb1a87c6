//! `seuss serve`: the serverless node (crate `seuss-node`): OpenWhisk's REST API, or with
//! `--action-proxy` OpenWhisk's action-runtime protocol.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::str::FromStr;

use anyhow::{Context, Result};
use seuss_node::NodeConfig;

use crate::usage;

/// Arguments of `seuss serve`.
#[derive(clap::Args)]
pub struct ServeArgs {
    /// Address to listen on (OpenWhisk standalone's port by default; port 0 picks a free one,
    /// printed at start-up).
    #[arg(long, default_value = "127.0.0.1:3233")]
    pub listen: SocketAddr,
    /// State directory: keys, actions, snapshots, activation records.
    #[arg(long, default_value = "./seuss-state")]
    pub state_dir: PathBuf,
    /// `UUID:KEY` for namespace `guest` instead of the key generated into the state dir.
    #[arg(long, env = "SEUSS_AUTH", hide_env_values = true)]
    pub auth: Option<String>,
    /// Worker threads running VM work (default: one per core). A function waiting on a timer
    /// holds its worker, so I/O-bound loads want more.
    #[arg(long)]
    pub workers: Option<usize>,
    /// Bytes of function snapshots kept loaded, e.g. 1GiB (least recently used unloaded beyond).
    #[arg(long, default_value = "1GiB", value_parser = parse_budget)]
    pub memory_budget: u64,
    /// Invocations waiting for a worker beyond which requests get 429.
    #[arg(long, default_value_t = 1024)]
    pub max_queue: usize,
    /// Invocations one namespace may have queued or running at once (429 beyond).
    #[arg(long, default_value_t = 512)]
    pub namespace_concurrency: usize,
    /// Activation records kept in memory (and persisted on shutdown).
    #[arg(long, default_value_t = 10_000)]
    pub max_activations: usize,
    /// Serve OpenWhisk's action-runtime protocol (`POST /init`, `POST /run`) instead of the
    /// REST API: what an OpenWhisk invoker talks to (see deploy/).
    #[arg(long)]
    pub action_proxy: bool,
    /// Destinations every function may reach (deny by default): HOST[:PORT] entries as for
    /// `seuss run --allow-net`; an action's `allow-net` annotation adds to them.
    #[arg(long = "allow-net", value_name = "HOST[:PORT],...")]
    pub allow_net: Vec<String>,
    /// The JS runtime image (default: target/images/runtime.img of the seuss checkout around
    /// the current directory).
    #[arg(long, env = "SEUSS_RUNTIME_IMAGE")]
    pub runtime_image: Option<PathBuf>,
}

/// A size in uhyve's syntax (`byte-unit`: `512MiB`, `2GiB`, `1073741824`), without guest limits.
fn parse_budget(s: &str) -> Result<u64, String> {
    let b = byte_unit::Byte::from_str(s.trim())
        .map_err(|e| format!("{s:?} is not a size ({e}); examples: 512MiB, 2GiB, 1073741824"))?
        .as_u64();
    if b == 0 {
        return Err("the memory budget must be more than 0 bytes".into());
    }
    Ok(b)
}

/// The runtime image: the flag, or `target/images/runtime.img` of the checkout.
fn runtime_image(given: Option<PathBuf>) -> Result<PathBuf> {
    const HOW: &str = "build it with `cargo xtask build-image --runtime -o runtime.img` (or `cargo xtask build-test-images`) \
                       and pass --runtime-image PATH (or set SEUSS_RUNTIME_IMAGE)";
    if let Some(p) = given {
        if !p.is_file() {
            usage!("--runtime-image {}: no such file; {HOW}", p.display());
        }
        return Ok(p);
    }
    let cwd = std::env::current_dir()?;
    let found = cwd.ancestors().map(|d| d.join("target/images/runtime.img")).find(|p| p.is_file());
    match found {
        Some(p) => Ok(p),
        None => usage!("no runtime image: target/images/runtime.img is not in {} or above; {HOW}", cwd.display()),
    }
}

/// Runs the command (until SIGTERM or SIGINT).
pub fn serve(a: ServeArgs) -> Result<ExitCode> {
    let image = runtime_image(a.runtime_image)?;
    if let Some(auth) = &a.auth {
        if let Err(e) = seuss_node::auth::parse_key(auth) {
            usage!("--auth: {e}");
        }
    }
    if a.workers == Some(0) {
        usage!("--workers must be at least 1");
    }
    if a.max_queue == 0 || a.namespace_concurrency == 0 || a.max_activations == 0 {
        usage!("--max-queue, --namespace-concurrency and --max-activations must be at least 1");
    }
    let mut config = NodeConfig::new(a.state_dir.clone(), image);
    config.listen = a.listen;
    config.auth = a.auth;
    if let Some(w) = a.workers {
        config.workers = w;
    }
    config.memory_budget = a.memory_budget;
    config.max_queue = a.max_queue;
    config.namespace_concurrency = a.namespace_concurrency;
    config.max_activations = a.max_activations;
    config.action_proxy = a.action_proxy;
    for v in &a.allow_net {
        match v.parse::<seuss_hv::EgressPolicy>() {
            Ok(p) => config.allow_net.extend(&p),
            Err(e) => crate::usage!("{e}"),
        }
    }
    let proxy = a.action_proxy;
    let state_dir = a.state_dir;
    seuss_node::run(config, move |r| announce(r, proxy, &state_dir)).context("seuss serve")?;
    Ok(ExitCode::SUCCESS)
}

/// The start-up lines (REST mode only: in action-proxy mode stdout and stderr belong to the
/// action's logs).
fn announce(r: &seuss_node::Ready, proxy: bool, state_dir: &Path) {
    if proxy {
        return;
    }
    let url = format!("http://{}", r.addr);
    println!("seuss serve: listening on {url} (OpenWhisk API at {url}/api/v1)");
    println!("seuss serve: state in {} ({} actions)", state_dir.display(), r.actions);
    if let Some(key) = &r.guest_key {
        let how = if r.generated { "generated now, kept in the state dir" } else { "from the state dir or --auth" };
        println!("seuss serve: auth {key} (namespace guest; {how})");
        println!("seuss serve: wsk property set --apihost {url} --auth {key}");
    }
    for w in &r.warnings {
        println!("seuss serve: warning: skipped a stored action: {w}");
    }
    use std::io::Write;
    let _ = std::io::stdout().flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_take_sizes_without_guest_limits() {
        assert_eq!(parse_budget("2GiB"), Ok(2 << 30));
        assert_eq!(parse_budget("100KiB"), Ok(100 << 10));
        assert_eq!(parse_budget("100GiB"), Ok(100 << 30));
        assert!(parse_budget("0").unwrap_err().contains("more than 0"));
        assert!(parse_budget("lots").unwrap_err().contains("not a size"));
    }

    #[test]
    fn a_missing_runtime_image_says_how_to_build_it() {
        let e = runtime_image(Some(PathBuf::from("/nonexistent/runtime.img"))).unwrap_err().to_string();
        assert!(e.contains("cargo xtask build-image --runtime"), "{e}");
    }
}
