//! `seuss bench network`: what a fetch costs a hot clone, and what a clone's network state
//! costs in memory (issue 9, item 9).
//!
//! * **Fetch overhead.** A Rust thread server on 127.0.0.1 ([`LocalServer`]) answers a tiny JSON
//!   document. Three medians from the same run: a hot invocation of `examples/fetch.js`
//!   fetching it (through the guest's stack, the virtio-net device and the user-mode NAT), a
//!   hot invocation of `nop.js`, and the same request made directly by a Rust client in this
//!   process (the server's own time plus loopback). overhead = fetch − nop − direct (target
//!   < 1 ms). fetch.js's own JavaScript (building its result) is part of the overhead.
//! * **Memory.** PSS growth of this process for L live clones of the fetch snapshot that
//!   fetched once, against L clones of the same snapshot that ran without fetching; the
//!   difference per clone is what a clone's network state (stack, buffers, NAT) adds. KVM's
//!   kernel memory is not in PSS.

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use seuss_hv::{Config, Event, Instance, NetMode};
use serde_json::{json, Value};

use super::common::{median, progress, pss, ratio, snapshot_image, summary, Env};
use super::local_server::LocalServer;
use super::table::{int, summary_cells, summary_header, Table};

/// What to measure.
pub struct Params {
    /// Samples per median.
    pub runs: usize,
    /// Live clones per memory figure.
    pub clones: usize,
}

/// A clone configuration that may reach `port` on the host's loopback.
pub fn net_config(port: u16) -> Result<Config> {
    let policy = format!("host.seuss.internal:{port}").parse().context("egress policy for the local server")?;
    Ok(Config { network: NetMode::User(policy), ..Config::default() })
}

/// Checks that a fetch.js outcome got the server's document.
pub fn check_fetch(o: &seuss_hv::Outcome) -> Result<()> {
    let text = o.result.as_deref().unwrap_or("");
    if o.is_error || !text.contains(r#""status":200"#) || !text.contains(r#""ok":true"#) {
        bail!("the fetching function failed: {text}");
    }
    Ok(())
}

/// Hot invocations (reset, then invoke; the reset is not timed) after one warm-up.
fn hot(inst: &mut Instance, args: &str, runs: usize, check: impl Fn(&seuss_hv::Outcome) -> Result<()>) -> Result<Vec<Duration>> {
    check(&inst.invoke(args)?)?;
    let mut v = Vec::with_capacity(runs);
    for _ in 0..runs {
        inst.reset()?;
        let t = Instant::now();
        let o = inst.invoke(args)?;
        v.push(t.elapsed());
        check(&o)?;
    }
    Ok(v)
}

/// PSS growth of this process while `count` clones of `snap`, each having run `args` once,
/// are alive.
fn clones_pss(env: &Env, snap: &std::sync::Arc<seuss_hv::Loaded>, cfg: &Config, count: usize, args: &str, fetches: bool) -> Result<u64> {
    let me = std::process::id().to_string();
    let before = pss(&me);
    let mut live = Vec::with_capacity(count);
    for _ in 0..count {
        let mut inst = Instance::from_snapshot(&env.kvm, snap, cfg)?;
        let o = inst.invoke(args)?;
        if fetches {
            check_fetch(&o)?;
        } else if o.is_error {
            bail!("clone failed: {:?}", o.result);
        }
        live.push(inst);
    }
    let grown = pss(&me).saturating_sub(before);
    drop(live);
    Ok(grown)
}

/// Runs the experiment.
pub fn run(env: &Env, p: &Params) -> Result<Value> {
    let server = LocalServer::start(Duration::ZERO)?;
    let cfg = net_config(server.port())?;
    let url = format!("http://host.seuss.internal:{}/json", server.port());
    let args = json!({ "url": url }).to_string();
    let fetch = snapshot_image(env, "fetch", Event::WantsInvocation, "net-fetch")?;
    let nop = snapshot_image(env, "nop", Event::WantsInvocation, "net-nop")?;
    let bar = progress(5, "network: fetch");

    let mut f = Instance::from_snapshot(&env.kvm, &fetch, &cfg)?;
    let fetch_us = summary(&hot(&mut f, &args, p.runs, check_fetch)?);
    drop(f);
    bar.inc(1);
    bar.set_message("network: nop");
    let mut n = Instance::from_snapshot(&env.kvm, &nop, &cfg)?;
    let nop_us = summary(&hot(&mut n, "{}", p.runs, |o| if o.is_error { bail!("nop failed: {:?}", o.result) } else { Ok(()) })?);
    drop(n);
    bar.inc(1);
    bar.set_message("network: direct");
    server.direct_request()?; // warm-up
    let direct: Vec<Duration> = (0..p.runs).map(|_| server.direct_request()).collect::<Result<_>>()?;
    let direct_us = summary(&direct);
    bar.inc(1);

    bar.set_message("network: clone memory");
    // "{}" makes fetch.js return at once (no url): the same snapshot, no network state.
    let idle = clones_pss(env, &fetch, &cfg, p.clones, "{}", false)?;
    bar.inc(1);
    let fetched = clones_pss(env, &fetch, &cfg, p.clones, &args, true)?;
    bar.finish_and_clear();

    let (fm, nm, dm) = (median(&fetch_us), median(&nop_us), median(&direct_us));
    let overhead = match (fm, nm, dm) {
        (Some(f), Some(n), Some(d)) => Some(f - n - d),
        _ => None,
    };
    let per = |b: u64| (b as f64 / p.clones.max(1) as f64).round();
    Ok(json!({
        "server_requests": server.served(),
        "fetch_hot_us": fetch_us,
        "nop_hot_us": nop_us,
        "direct_request_us": direct_us,
        "fetch_overhead_us": overhead.map(|o| (o * 10.0).round() / 10.0),
        "target_overhead_us": 1000,
        "live_clones": p.clones,
        "pss_growth_clones_without_fetch": idle,
        "pss_growth_clones_after_fetch": fetched,
        "bytes_per_clone_without_fetch": per(idle),
        "bytes_per_clone_after_fetch": per(fetched),
        "network_state_bytes_per_clone": per(fetched) - per(idle),
        "ratios": {
            "fetch_over_nop": ratio(fm, nm),
            "overhead_over_target": ratio(overhead, Some(1000.0)),
        },
    }))
}

/// The human table.
pub fn table(r: &Value) -> String {
    let mut header = vec!["hot invocation"];
    let h = summary_header("µs");
    header.extend(h.iter().map(String::as_str));
    let mut t = Table::new("network: a fetch from a hot clone to a server on 127.0.0.1", &header);
    for (key, label) in [
        ("fetch_hot_us", "fetch.js (GET, tiny JSON)"),
        ("nop_hot_us", "nop.js"),
        ("direct_request_us", "same request from a Rust client"),
    ] {
        let mut row = vec![label.to_owned()];
        row.extend(summary_cells(&r[key], 1.0));
        t.row(row);
    }
    t.note(format!(
        "overhead = fetch - nop - direct = {} µs (p50s; target < 1,000 µs)",
        int(r["fetch_overhead_us"].as_f64())
    ));
    let mut m = Table::new(format!("network: memory of {} live clones (PSS growth of this process)", r["live_clones"]), &["clones", "bytes per clone"]);
    m.row(vec!["ran without fetching".into(), int(r["bytes_per_clone_without_fetch"].as_f64())]);
    m.row(vec!["fetched once".into(), int(r["bytes_per_clone_after_fetch"].as_f64())]);
    m.note(format!("network state per clone: {} bytes", int(r["network_state_bytes_per_clone"].as_f64())));
    t.render() + "\n" + &m.render()
}
