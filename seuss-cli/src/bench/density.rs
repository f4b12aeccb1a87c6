//! `seuss bench density`: what a cached function costs in the page store, per tier, and how
//! many fit in a memory budget; beside it a live clone and a warm Node.js process.
//!
//! ```text
//! runtime snapshot (one file) ──warm path──► N function snapshots, pages in one fresh PageStore
//!   tier "compressed": pack (zstd) + header files; functions known, none materialised
//!   tier "mapped":     K of them opened through the store (pages materialised into memfds)
//! ```
//!
//! Figures (per function, same run):
//! * **stored bytes**: (pack growth + header files) / N: what the compressed tier keeps
//!   (on disk, and in the page cache while used);
//! * **known**: this process's PSS growth with the N functions created and dropped, / N
//!   (after one warm-up function, so the runtime pages every warm path touches are not
//!   charged to the functions);
//! * **mapped**: bytes of the K memfds plus this process's PSS growth while they are open, / K;
//! * dedup ratio = pages put / unique pages; compression ratio = unique page bytes / pack bytes;
//! * zstd (level 3) against lz4 on the store's actual unique pages: ratio and decompression
//!   µs per page, measured here;
//! * hot start of a function from the compressed tier (`Loaded::open_with_parent_in` through
//!   the store, the loaded runtime as parent, + `from_snapshot` + `invoke`) against the mapped
//!   tier (`from_snapshot` + `invoke` of an opened snapshot) and hot (`reset` + `invoke`);
//! * the same stored/known figures for a corpus of genuinely different functions (the
//!   examples plus generated ones of 1-50 KB with different imports and import-time state);
//! * live clones (PSS growth / L; KVM's kernel memory is not in PSS) and warm Node.js
//!   processes (their PSS).

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use seuss_hv::{Codec, Config, Event, Instance, Loaded, PageStore};
use serde_json::{json, Value};
use snapfmt::{PageHash, Pages, PAGE_SIZE};

use super::common::{median, progress, pss, ratio, snapshot_image, summary, Env};
use super::table::{fixed, int, summary_cells, summary_header, times, Table};

/// What to measure.
pub struct Params {
    /// hello.js-style variants in the store.
    pub functions: usize,
    /// Of those, how many are materialised for the mapped-tier figure.
    pub materialised: usize,
    /// Functions in the corpus of different functions.
    pub corpus: usize,
    /// Samples per hot-start figure.
    pub hot_runs: usize,
    /// Live clones.
    pub clones: usize,
    /// Warm Node.js processes.
    pub node_processes: usize,
    /// The memory the "how many fit" figures are computed for.
    pub budget: u64,
}

/// Variant `i` of hello.js: distinct code, state built at import.
fn variant(i: usize) -> String {
    format!(
        "// generated variant {i} of hello.js\n\
         const table = Array.from({{ length: 64 }}, (_, j) => 'entry-{i}-' + j);\n\
         const created = {{ id: {i}, at: Date.now() }};\n\
         function main(params) {{\n  const name = params.name || 'stranger';\n  \
         return {{ greeting: `Hello, ${{name}} from {i}!`, entries: table.length, id: created.id }};\n}}\n"
    )
}

/// A small deterministic generator (the corpus is the same in every run).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

const MODULES: [(&str, &str); 9] = [
    ("path", "path.join('a', 'b' + x)"),
    ("events", "new events.EventEmitter().listenerCount('x') + x"),
    ("util", "util.format('%s-%d', 'u', x)"),
    ("assert", "(assert.ok(true), x)"),
    ("buffer", "buffer.Buffer.from('b' + x).toString('hex')"),
    ("querystring", "querystring.stringify({ q: x })"),
    ("string_decoder", "new string_decoder.StringDecoder('utf8').write(buffer.Buffer.from('s' + x))"),
    ("url", "new url.URL('http://h/' + x).pathname"),
    ("crypto", "crypto.createHash('sha256').update('c' + x).digest('hex').slice(0, 8)"),
];

/// Generated corpus function `i` of about `target` bytes: its own imports, import-time state
/// (strings, maps, class instances, a typed array) and code.
fn corpus_function(i: usize, target: usize) -> String {
    let mut rng = Lcg(0x5eed_0000 + i as u64);
    let mut src = format!("// generated corpus function {i} (~{target} bytes)\n");
    // Imports: a different subset per function (string_decoder needs buffer).
    let mut used: Vec<&(&str, &str)> = MODULES.iter().filter(|_| rng.below(3) == 0).collect();
    if used.iter().any(|(m, _)| *m == "string_decoder") && !used.iter().any(|(m, _)| *m == "buffer") {
        used.push(&MODULES[4]);
    }
    for (m, _) in &used {
        src += &format!("const {m} = require('node:{m}');\n");
    }
    // Import-time state, shaped differently per function.
    let words = 16 + rng.below(400);
    src += &format!("const words = Array.from({{ length: {words} }}, (_, k) => 'w{i}-' + k.toString(36).repeat(1 + (k % 7)));\n");
    src += &format!("const index = new Map(words.map((w, k) => [w, k * {}]));\n", 1 + rng.below(9));
    src += &format!("const grid = new Float64Array({}).map((_, k) => Math.sin(k * {}));\n", 64 + rng.below(4096), i + 1);
    src += &format!(
        "class Shape{i} {{ constructor(k) {{ this.k = k; this.name = 'shape-' + k; }} area() {{ return this.k * {}; }} }}\n\
         const shapes = Array.from({{ length: {} }}, (_, k) => new Shape{i}(k));\n",
        rng.below(100) + 1,
        8 + rng.below(300)
    );
    src += &format!("const config = JSON.parse('{{\"id\": {i}, \"level\": {}, \"tags\": [\"t{i}\", \"x\"]}}');\n", rng.below(10));
    // Code up to the target size.
    let mut helpers = Vec::new();
    let mut h = 0;
    while src.len() + 400 < target {
        let (a, b, c) = (rng.below(97) + 1, rng.below(1000), rng.below(13) + 2);
        let body = match rng.below(4) {
            0 => format!("let s = 0; for (let k = 0; k < {c}; k++) s += (x * {a} + k) % {}; return s + {b};", b + 7),
            1 => format!("return words[(x * {a} + {b}) % words.length] + '-{i}-{h}';"),
            2 => format!("const o = {{ a: x, b: {b}, c: '{}' }}; return Object.keys(o).length * {a} + o.b;", "z".repeat(c as usize)),
            _ => format!("return shapes[(x + {b}) % shapes.length].area() + grid[(x * {a}) % grid.length];"),
        };
        src += &format!("function helper{h}(x) {{ {body} }}\n");
        helpers.push(h);
        h += 1;
    }
    let calls: Vec<String> = helpers.iter().take(8).map(|h| format!("helper{h}(n)")).collect();
    let uses: Vec<String> = used.iter().map(|(_, e)| format!("(x => {e})(n)")).collect();
    src += &format!(
        "function main(params) {{\n  const n = Number.isInteger(params.n) ? params.n : {i};\n  \
         return {{ id: config.id, words: index.size, helpers: [{}], modules: [{}] }};\n}}\n",
        calls.join(", "),
        uses.join(", ")
    );
    src
}

/// The corpus: the examples (when present), then generated functions from 1 KB to 50 KB.
fn corpus(env: &Env, size: usize) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut names: Vec<PathBuf> = std::fs::read_dir(env.root.join("examples"))
        .with_context(|| format!("reading {}", env.root.join("examples").display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "js" || x == "mjs"))
        .collect();
    names.sort();
    for p in names.into_iter().take(size) {
        let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        out.push((name, std::fs::read_to_string(&p).with_context(|| format!("reading {}", p.display()))?));
    }
    let generated = size - out.len();
    for g in 0..generated {
        // 1 KB .. 50 KB, spread evenly on a log scale.
        let t = if generated > 1 { g as f64 / (generated - 1) as f64 } else { 0.0 };
        let target = (1024.0 * 50f64.powf(t)) as usize;
        out.push((format!("generated-{g}.js ({} KB)", target / 1024), corpus_function(g, target)));
    }
    Ok(out)
}

/// Bytes held by memfds of materialised snapshots in this process (`/proc/self/fd`).
fn memfd_bytes() -> u64 {
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else { return 0 };
    dir.filter_map(Result::ok)
        .filter(|e| std::fs::read_link(e.path()).is_ok_and(|t| t.to_string_lossy().starts_with("/memfd:seuss-pages")))
        .filter_map(|e| std::fs::metadata(e.path()).ok())
        .map(|m| m.blocks() * 512)
        .sum()
}

/// What filling one store with `sources` cost.
struct Filled {
    paths: Vec<PathBuf>,
    store: Arc<PageStore>,
    unique: HashSet<PageHash>,
    header_bytes: u64,
    /// PSS change of this process (may be negative: freed memory is returned).
    pss_known: i64,
    diff_pages: Vec<u64>,
}

/// Creates one function snapshot per source over `runtime` into a fresh store in `dir`,
/// dropping each (known, not materialised).
fn fill(env: &Env, runtime: &Arc<Loaded>, dir: &Path, sources: &[String], bar: &indicatif::ProgressBar) -> Result<Filled> {
    let cfg = Config::default();
    let me = std::process::id().to_string();
    let store = Arc::new(PageStore::open(dir, Codec::Zstd)?);
    let pss0 = pss(&me);
    let mut f = Filled { paths: Vec::new(), store, unique: HashSet::new(), header_bytes: 0, pss_known: 0, diff_pages: Vec::new() };
    let zero = PageHash::zero();
    for (i, src) in sources.iter().enumerate() {
        let path = dir.join(format!("f{i}.snap"));
        let snap = seuss_hv::warm_snapshot_in(&env.kvm, runtime, src, &cfg, &path, seuss_hv::Storage { pages: Some(&f.store), key: None })
            .with_context(|| format!("function {i} of the density run"))?;
        if let Pages::Store(hashes) = &snap.header().pages {
            f.unique.extend(hashes.iter().filter(|h| **h != zero));
        }
        f.diff_pages.push(snap.header().stored_pages());
        drop(snap);
        f.header_bytes += std::fs::metadata(&path)?.len();
        f.paths.push(path);
        bar.inc(1);
    }
    f.pss_known = pss(&me) as i64 - pss0 as i64;
    Ok(f)
}

/// Store figures shared by the variants and the corpus.
fn store_figures(f: &Filled, budget: u64) -> Value {
    let st = f.store.stats();
    let n = f.paths.len().max(1) as f64;
    let stored = (st.pack_bytes + f.header_bytes) as f64 / n;
    let known = f.pss_known as f64 / n;
    // The process's memory can shrink during a run (the warm paths' transient VMs and buffers
    // are freed, the allocator returns memory): a negative growth is noise around the small
    // true cost (the store's index entries), so it counts as zero in the per-function total.
    let per_function = stored + known.max(0.0);
    json!({
        "functions": f.paths.len(),
        "store": st,
        "header_file_bytes": f.header_bytes,
        "pss_growth_known": f.pss_known,
        "diff_pages_per_function": summary_values_u64(&f.diff_pages),
        "stored_bytes_per_function": stored.round(),
        "known_pss_bytes_per_function": known.round(),
        "bytes_per_cached_function": per_function.round(),
        "dedup_ratio": ratio(Some(st.pages_put as f64), Some(st.unique_pages as f64)),
        "compression_ratio": ratio(Some((st.unique_pages * PAGE_SIZE) as f64), Some(st.pack_bytes as f64)),
        "max_cached_functions_in_budget": (budget as f64 / per_function.max(1.0)).floor(),
    })
}

fn summary_values_u64(v: &[u64]) -> Value {
    super::common::summary_values(&v.iter().map(|x| *x as f64).collect::<Vec<_>>())
}

/// zstd (level 3) and lz4 on `pages`: compressed bytes and decompression time per page.
fn codecs(store: &PageStore, unique: &HashSet<PageHash>) -> Result<Value> {
    let mut pages = Vec::with_capacity(unique.len());
    let mut page = vec![0u8; PAGE_SIZE as usize];
    for h in unique {
        store.get(h, &mut page)?;
        pages.push(page.clone());
    }
    let mut out = serde_json::Map::new();
    for (name, codec) in [("zstd", Codec::Zstd), ("lz4", Codec::Lz4)] {
        let packed: Vec<(Codec, Vec<u8>)> = pages.iter().map(|p| seuss_hv::store::compress(codec, p)).collect();
        let bytes: usize = packed.iter().map(|(_, b)| b.len()).sum();
        // Decompress every page, repeated until at least 50 ms have passed.
        let mut buf = vec![0u8; PAGE_SIZE as usize];
        let (mut decoded, t) = (0u64, Instant::now());
        while decoded == 0 || t.elapsed() < Duration::from_millis(50) {
            for (c, b) in &packed {
                match c {
                    Codec::Zstd => {
                        zstd::bulk::decompress_to_buffer(b, &mut buf)?;
                    }
                    Codec::Lz4 => {
                        lz4_flex::block::decompress_into(b, &mut buf).map_err(|e| anyhow::anyhow!("lz4: {e}"))?;
                    }
                    Codec::Raw => buf.copy_from_slice(b),
                }
                decoded += 1;
            }
            if packed.is_empty() {
                break;
            }
        }
        let us = t.elapsed().as_secs_f64() * 1e6 / decoded.max(1) as f64;
        out.insert(
            name.into(),
            json!({
                "pages": pages.len(),
                "compressed_bytes": bytes,
                "ratio": ratio(Some((pages.len() as u64 * PAGE_SIZE) as f64), Some(bytes as f64)),
                "raw_pages": packed.iter().filter(|(c, _)| *c == Codec::Raw).count(),
                "decompress_us_per_page": (us * 1000.0).round() / 1000.0,
            }),
        );
    }
    Ok(Value::Object(out))
}

/// Runs the experiment.
pub fn run(env: &Env, p: &Params) -> Result<Value> {
    if p.functions == 0 {
        bail!("density needs at least one function (--functions N)");
    }
    let cfg = Config::default();
    let me = std::process::id().to_string();
    let runtime = snapshot_image(env, "runtime", Event::WantsSource, "density-runtime")?;
    let steps = p.functions + p.corpus + 3 * p.hot_runs + p.clones + p.node_processes + 1;
    let bar = progress(steps as u64, "density: functions");
    // One warm path first: the runtime pages it touches are not any function's cost.
    seuss_hv::warm_snapshot(&env.kvm, &runtime, &variant(usize::MAX), &cfg, &env.work.join("density-warmup.snap"))?;
    bar.inc(1);

    let sources: Vec<String> = (0..p.functions).map(variant).collect();
    let variants = fill(env, &runtime, &env.work.join("store-variants"), &sources, &bar)?;
    let mut variant_figures = store_figures(&variants, p.budget);

    // The mapped tier: K functions opened through the store.
    bar.set_message("density: mapped tier");
    let k = p.materialised.clamp(1, p.functions);
    let (pss1, memfd1) = (pss(&me), memfd_bytes());
    let opened: Vec<Arc<Loaded>> = variants.paths[..k]
        .iter()
        .map(|path| Loaded::open_with_parent_in(path, &runtime, seuss_hv::Storage { pages: Some(&variants.store), key: None }))
        .collect::<Result<_, _>>()?;
    let memfd = memfd_bytes().saturating_sub(memfd1);
    let mapped_pss = pss(&me).saturating_sub(pss1);
    let mapped = (memfd + mapped_pss) as f64 / k as f64;

    // Hot starts per tier.
    bar.set_message("density: hot starts per tier");
    let args = r#"{"name":"density"}"#;
    let ok = |o: seuss_hv::Outcome| if o.is_error { bail!("the function failed: {:?}", o.result) } else { Ok(()) };
    let mut compressed = Vec::new();
    for j in 0..p.hot_runs {
        // A function not materialised now (past the K opened ones when there are any).
        let path = &variants.paths[(k + j) % p.functions];
        let t = Instant::now();
        let snap = Loaded::open_with_parent_in(path, &runtime, seuss_hv::Storage { pages: Some(&variants.store), key: None })?;
        let o = Instance::from_snapshot(&env.kvm, &snap, &cfg)?.invoke(args)?;
        compressed.push(t.elapsed());
        ok(o)?;
        bar.inc(1);
    }
    let mut mapped_starts = Vec::new();
    for j in 0..p.hot_runs {
        let snap = &opened[j % k];
        let t = Instant::now();
        let o = Instance::from_snapshot(&env.kvm, snap, &cfg)?.invoke(args)?;
        mapped_starts.push(t.elapsed());
        ok(o)?;
        bar.inc(1);
    }
    let mut inst = Instance::from_snapshot(&env.kvm, &opened[0], &cfg)?;
    ok(inst.invoke(args)?)?;
    let mut hot = Vec::new();
    for _ in 0..p.hot_runs {
        inst.reset()?;
        let t = Instant::now();
        let o = inst.invoke(args)?;
        hot.push(t.elapsed());
        ok(o)?;
        bar.inc(1);
    }
    drop(inst);
    let (compressed, mapped_starts, hot) = (summary(&compressed), summary(&mapped_starts), summary(&hot));

    bar.set_message("density: codecs");
    let codec_figures = codecs(&variants.store, &variants.unique)?;

    // Live clones of one function.
    bar.set_message("density: live clones");
    let pss2 = pss(&me);
    let mut live = Vec::new();
    for _ in 0..p.clones {
        let mut inst = Instance::from_snapshot(&env.kvm, &opened[0], &cfg)?;
        ok(inst.invoke(args)?)?;
        live.push(inst);
        bar.inc(1);
    }
    let per_clone = pss(&me).saturating_sub(pss2) as f64 / p.clones.max(1) as f64;
    drop(live);
    drop(opened);

    // The corpus, in a store of its own.
    bar.set_message("density: corpus");
    let corpus = corpus(env, p.corpus)?;
    let sources: Vec<String> = corpus.iter().map(|(_, s)| s.clone()).collect();
    let filled = fill(env, &runtime, &env.work.join("store-corpus"), &sources, &bar)?;
    let mut corpus_figures = store_figures(&filled, p.budget);
    corpus_figures["members"] = corpus
        .iter()
        .zip(&filled.diff_pages)
        .map(|((name, src), pages)| json!({"name": name, "source_bytes": src.len(), "diff_pages": pages}))
        .collect();
    corpus_figures["codecs"] = codecs(&filled.store, &filled.unique)?;

    // Warm Node.js processes.
    bar.set_message("density: node processes");
    let mut children = Vec::new();
    for _ in 0..p.node_processes {
        let mut child = Command::new("node")
            .arg(env.node_script("warm.mjs"))
            .arg(env.example("hello"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("starting node")?;
        let mut stdin = child.stdin.take().expect("piped");
        writeln!(stdin, r#"{{"name":"density"}}"#)?;
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped")).read_line(&mut line)?;
        children.push((child, stdin));
        bar.inc(1);
    }
    let node_pss: u64 = children.iter().map(|(c, _)| pss(&c.id().to_string())).sum();
    let per_node = node_pss as f64 / p.node_processes.max(1) as f64;
    for (mut c, stdin) in children {
        drop(stdin);
        let _ = c.wait();
    }
    bar.finish_and_clear();

    variant_figures["codecs"] = codec_figures;
    variant_figures["mapped"] = json!({
        "materialised": k,
        "memfd_bytes": memfd,
        "pss_growth": mapped_pss,
        "bytes_per_function": mapped.round(),
        "max_functions_in_budget": (p.budget as f64 / mapped.max(1.0)).floor(),
    });
    variant_figures["hot_start_us"] = json!({"compressed_tier": compressed, "mapped_tier": mapped_starts, "hot": hot});
    variant_figures["ratios"] = json!({
        "compressed_tier_over_mapped_tier": ratio(median(&compressed), median(&mapped_starts)),
        "mapped_tier_over_hot": ratio(median(&mapped_starts), median(&hot)),
        "bytes_per_cached_function_over_target": ratio(variant_figures["bytes_per_cached_function"].as_f64(), Some(65536.0)),
    });
    corpus_figures["ratios"] = json!({
        "bytes_per_cached_function_over_target": ratio(corpus_figures["bytes_per_cached_function"].as_f64(), Some(204800.0)),
    });
    Ok(json!({
        "runtime_snapshot_stored_bytes": runtime.stored_bytes(),
        "budget_bytes": p.budget,
        "variants": variant_figures,
        "corpus": corpus_figures,
        "live_clones": p.clones,
        "bytes_per_live_clone": per_clone.round(),
        "node_processes": p.node_processes,
        "bytes_per_node_process": per_node.round(),
        "max_node_processes_in_budget": (p.budget as f64 / per_node.max(1.0)).floor(),
        "target_bytes_per_variant": 65536,
        "target_bytes_per_corpus_function": 204800,
    }))
}

/// The human tables.
pub fn table(r: &Value) -> String {
    let v = &r["variants"];
    let c = &r["corpus"];
    let gib = r["budget_bytes"].as_f64().unwrap_or(0.0) / (1u64 << 30) as f64;
    let mut t = Table::new(
        format!("density: bytes per cached function (runtime snapshot {} bytes, once)", int(r["runtime_snapshot_stored_bytes"].as_f64())),
        &["", "hello.js variants", "corpus of different functions"],
    );
    let both = |t: &mut Table, label: &str, f: &dyn Fn(&Value) -> String| {
        t.row(vec![label.to_owned(), f(v), f(c)]);
    };
    both(&mut t, "functions", &|x| int(x["functions"].as_f64()));
    both(&mut t, "diff pages per function (p50)", &|x| int(median(&x["diff_pages_per_function"])));
    both(&mut t, "stored bytes (pack + header) per function", &|x| int(x["stored_bytes_per_function"].as_f64()));
    both(&mut t, "process PSS growth per known function", &|x| int(x["known_pss_bytes_per_function"].as_f64()));
    both(&mut t, "cached function: stored + PSS (bytes)", &|x| int(x["bytes_per_cached_function"].as_f64()));
    t.row(vec!["target (bytes)".into(), int(Some(65536.0)), int(Some(204800.0))]);
    both(&mut t, &format!("fit in {gib:.0} GiB"), &|x| int(x["max_cached_functions_in_budget"].as_f64()));
    both(&mut t, "pages put / unique pages kept", &|x| format!("{} / {}", int(x["store"]["pages_put"].as_f64()), int(x["store"]["unique_pages"].as_f64())));
    both(&mut t, "dedup (pages put / unique)", &|x| times(&x["dedup_ratio"]));
    both(&mut t, "compression (unique bytes / pack bytes)", &|x| times(&x["compression_ratio"]));
    both(&mut t, "zstd-3 ratio / decompress µs per page", &|x| {
        format!("{} / {}", times(&x["codecs"]["zstd"]["ratio"]), fixed(x["codecs"]["zstd"]["decompress_us_per_page"].as_f64(), 2))
    });
    both(&mut t, "lz4 ratio / decompress µs per page", &|x| {
        format!("{} / {}", times(&x["codecs"]["lz4"]["ratio"]), fixed(x["codecs"]["lz4"]["decompress_us_per_page"].as_f64(), 2))
    });
    let m = &v["mapped"];
    let mut tiers = Table::new(format!("density: hello.js variants per tier ({} materialised)", m["materialised"]), &["tier", "bytes per function", &format!("fit in {gib:.0} GiB")]);
    tiers.row(vec!["compressed (pack + header + PSS)".into(), int(v["bytes_per_cached_function"].as_f64()), int(v["max_cached_functions_in_budget"].as_f64())]);
    tiers.row(vec!["mapped (memfd + PSS)".into(), int(m["bytes_per_function"].as_f64()), int(m["max_functions_in_budget"].as_f64())]);
    tiers.row(vec!["live clone (PSS)".into(), int(r["bytes_per_live_clone"].as_f64()), "-".into()]);
    tiers.row(vec!["warm Node.js process (PSS)".into(), int(r["bytes_per_node_process"].as_f64()), int(r["max_node_processes_in_budget"].as_f64())]);
    let mut header = vec!["start of a hello.js variant"];
    let h = summary_header("µs");
    header.extend(h.iter().map(String::as_str));
    let mut starts = Table::new("density: hot start by tier", &header);
    for (key, label) in [
        ("compressed_tier", "compressed tier (open via store + clone + invoke)"),
        ("mapped_tier", "mapped tier (clone + invoke)"),
        ("hot", "hot (reset + invoke)"),
    ] {
        let mut row = vec![label.to_owned()];
        row.extend(summary_cells(&v["hot_start_us"][key], 1.0));
        starts.row(row);
    }
    starts.note(format!(
        "p50 ratios: compressed / mapped = {}, mapped / hot = {}",
        times(&v["ratios"]["compressed_tier_over_mapped_tier"]),
        times(&v["ratios"]["mapped_tier_over_hot"])
    ));
    t.render() + "\n" + &tiers.render() + "\n" + &starts.render()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corpus_functions_differ_and_grow_to_their_target() {
        let a = corpus_function(0, 1024);
        let b = corpus_function(1, 50 * 1024);
        assert_ne!(a, b);
        assert!(a.len() >= 600 && a.len() <= 2048, "{}", a.len());
        assert!(b.len() >= 49 * 1024 && b.len() <= 51 * 1024, "{}", b.len());
        assert!(b.contains("function main(params)"));
        assert_eq!(corpus_function(7, 4096), corpus_function(7, 4096), "deterministic");
    }
}
