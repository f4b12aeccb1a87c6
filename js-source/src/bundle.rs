//! A function with npm dependencies as one payload: the function file and every file it
//! reaches through `require(...)`, `import ... from`, `export ... from` and `import(...)`
//! with literal specifiers, resolved with Node's algorithm (`oxc_resolver`: `package.json`
//! `main` and `exports` with the `node` + `require`/`import` + `default` conditions,
//! `index.js`, `.json`, the `type` field for `.js` files), parsed with the engine's own parser
//! (`boa_parser`) to find the specifiers.
//!
//! ```text
//! fn.js ──parse──► specifiers ──resolve (from the requiring file's directory)──► file ──parse──► ... (each file once: cycles are fine)
//!                   └─ Node built-in (`path`, `node:fs`, ...) ─► "node:<name>"; the launcher implements or refuses it when required
//!
//! payload = BUNDLE_MARKER + JSON { "entry": "fn.js",
//!                                          "modules": { "<id>": { "kind": "cjs"|"esm"|"json", "source", "deps": { specifier: id | "node:name" } } } }
//! ```
//!
//! Ids are paths relative to the function's directory. A specifier that does not resolve is
//! left out of `deps` with a warning: like Node, the launcher throws "Cannot find module" only
//! when the code requires it (packages often try optional dependencies).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::ops::ControlFlow;
use std::path::{Component, Path, PathBuf};

use boa_ast::expression::literal::LiteralKind;
use boa_ast::expression::{Call, Expression, ImportCall};
use boa_ast::declaration::ModuleSpecifier;
use boa_ast::scope::Scope;
use boa_ast::visitor::{VisitWith, Visitor};
use boa_interner::Interner;
use boa_parser::{Parser, Source};
use oxc_resolver::{ModuleType, ResolveError, ResolveOptions, Resolver};
use serde::Serialize;

use crate::{SourceError, BUNDLE_MARKER};


/// How a module is loaded.
#[derive(Serialize, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// CommonJS (`require`, `module.exports`).
    Cjs,
    /// ES module.
    Esm,
    /// A `.json` file.
    Json,
}

#[derive(Serialize)]
struct ModuleFile {
    kind: Kind,
    source: String,
    deps: BTreeMap<String, String>,
}

#[derive(Serialize)]
struct Manifest {
    entry: String,
    modules: BTreeMap<String, ModuleFile>,
}

/// A built bundle.
#[derive(Debug)]
pub struct Bundle {
    /// The payload (starts with [`BUNDLE_MARKER`]).
    pub payload: String,
    /// Files in it.
    pub files: usize,
    /// Specifiers that did not resolve, as `file: 'specifier': reason`.
    pub warnings: Vec<String>,
}

/// Why a function could not be bundled.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// A file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// A file does not parse (as its kind says it should).
    #[error(transparent)]
    Source(#[from] SourceError),
    /// A package uses a native addon (`.node`) or WebAssembly, which cannot run here.
    #[error("{file}: '{specifier}' resolves to {target}, a {what}, which seuss functions cannot load")]
    Unsupported {
        /// The requiring file.
        file: String,
        /// The specifier.
        specifier: String,
        /// What it resolved to.
        target: String,
        /// "native addon" or "WebAssembly module".
        what: &'static str,
    },
}

/// Does `source` (the function file) import or require anything that is not a Node built-in
/// module? Functions without such imports stay plain sources (no bundle needed).
pub fn needs_bundle(name: &str, source: &str) -> Result<bool, SourceError> {
    let kind = if crate::parses_as_script(source) { Kind::Cjs } else { Kind::Esm };
    let specs = specifiers(name, source, kind, true)?;
    Ok(specs.iter().any(|s| builtin(s).is_none()))
}

/// Bundles the function at `entry` with what it imports (see the module docs).
pub fn bundle(entry: &Path) -> Result<Bundle, BundleError> {
    let read = |p: &Path| std::fs::read_to_string(p).map_err(|source| BundleError::Read { path: p.display().to_string(), source });
    let entry = std::path::absolute(entry).map_err(|source| BundleError::Read { path: entry.display().to_string(), source })?;
    let root = entry.parent().map(Path::to_path_buf).unwrap_or_default();
    let options = |conditions: &[&str], fully_specified: bool| ResolveOptions {
        condition_names: conditions.iter().map(|c| (*c).to_owned()).collect(),
        extensions: vec![".js".into(), ".json".into(), ".node".into()],
        main_fields: vec!["main".into()],
        builtin_modules: true,
        module_type: true,
        fully_specified,
        ..ResolveOptions::default()
    };
    let require = Resolver::new(options(&["node", "require"], false));
    let import = Resolver::new(options(&["node", "import"], true));

    let entry_source = read(&entry)?;
    let entry_kind = if crate::parses_as_script(&entry_source) { Kind::Cjs } else { Kind::Esm };
    let entry_id = id_of(&root, &entry);
    let mut modules = BTreeMap::new();
    let mut warnings = Vec::new();
    let mut queue = VecDeque::from([(entry.clone(), entry_kind, Some(entry_source))]);
    let mut seen = HashMap::from([(entry.clone(), ())]);
    while let Some((path, kind, source)) = queue.pop_front() {
        let source = match source {
            Some(s) => s,
            None => read(&path)?,
        };
        let id = id_of(&root, &path);
        let mut deps = BTreeMap::new();
        if kind != Kind::Json {
            let dir = path.parent().expect("a file has a directory");
            for spec in specifiers(&id, &source, kind, path == entry)? {
                if let Some(b) = builtin(&spec) {
                    deps.insert(spec, b);
                    continue;
                }
                let resolver = if kind == Kind::Esm { &import } else { &require };
                match resolver.resolve(dir, &spec) {
                    Ok(r) => {
                        let target = r.path().to_path_buf();
                        let target_kind = match r.module_type() {
                            Some(ModuleType::Module) => Kind::Esm,
                            Some(ModuleType::Json) => Kind::Json,
                            Some(ModuleType::CommonJs) | None => Kind::Cjs,
                            Some(ModuleType::Addon) | Some(ModuleType::Wasm) => {
                                let what = if r.module_type() == Some(ModuleType::Addon) { "native addon" } else { "WebAssembly module" };
                                return Err(BundleError::Unsupported { file: id, specifier: spec, target: target.display().to_string(), what });
                            }
                        };
                        deps.insert(spec, id_of(&root, &target));
                        if seen.insert(target.clone(), ()).is_none() {
                            queue.push_back((target, target_kind, None));
                        }
                    }
                    Err(ResolveError::Builtin { resolved, .. }) => {
                        deps.insert(spec, resolved);
                    }
                    Err(e) => warnings.push(format!("{id}: '{spec}' does not resolve: {e}")),
                }
            }
        }
        modules.insert(id, ModuleFile { kind, source, deps });
    }
    let files = modules.len();
    let manifest = Manifest { entry: entry_id, modules };
    let payload = format!("{BUNDLE_MARKER}{}", serde_json::to_string(&manifest).expect("a manifest serialises"));
    Ok(Bundle { payload, files, warnings })
}

/// `path` relative to `root` with `/` separators (`..` where it lies outside).
fn id_of(root: &Path, path: &Path) -> String {
    let mut rel = PathBuf::new();
    let root: Vec<_> = root.components().collect();
    let path: Vec<_> = path.components().collect();
    let common = root.iter().zip(&path).take_while(|(a, b)| a == b).count();
    for _ in common..root.len() {
        rel.push("..");
    }
    for c in &path[common..] {
        if let Component::Normal(n) = c {
            rel.push(n);
        }
    }
    rel.to_string_lossy().replace('\\', "/")
}

/// Node's built-in modules: `node:<name>` for a built-in specifier.
fn builtin(specifier: &str) -> Option<String> {
    const NODE: &[&str] = &[
        "assert", "assert/strict", "async_hooks", "buffer", "child_process", "cluster", "console", "constants", "crypto",
        "dgram", "diagnostics_channel", "dns", "dns/promises", "domain", "events", "fs", "fs/promises", "http", "http2",
        "https", "inspector", "module", "net", "os", "path", "path/posix", "path/win32", "perf_hooks", "process",
        "punycode", "querystring", "readline", "repl", "stream", "stream/promises", "stream/web", "string_decoder", "sys",
        "timers", "timers/promises", "tls", "trace_events", "tty", "url", "util", "util/types", "v8", "vm", "wasi",
        "worker_threads", "zlib",
    ];
    if let Some(bare) = specifier.strip_prefix("node:") {
        return Some(format!("node:{bare}"));
    }
    NODE.contains(&specifier).then(|| format!("node:{specifier}"))
}

/// The literal specifiers of `source`: `require('x')` calls (CommonJS), import and export-from
/// declarations (ES modules) and `import('x')` (both).
fn specifiers(name: &str, source: &str, kind: Kind, entry: bool) -> Result<Vec<String>, SourceError> {
    let mut interner = Interner::default();
    let out = match kind {
        Kind::Esm => {
            let module = Parser::new(Source::from_bytes(source))
                .parse_module(&Scope::new_global(), &mut interner)
                .map_err(|e| crate::syntax_error(name, source, &e))?;
            let mut found = Specifiers { interner: &interner, require: None, out: Vec::new() };
            let _ = module.visit_with(&mut found);
            found.out
        }
        Kind::Cjs => {
            // A CommonJS file runs inside a function (top-level `return` is allowed); the
            // function file itself is a script, as the launcher runs it.
            let text = if entry { source.to_owned() } else { format!("(function (exports, require, module, __filename, __dirname) {{{source}\n}})") };
            let script = Parser::new(Source::from_bytes(&text))
                .parse_script(&Scope::new_global(), &mut interner)
                .map_err(|e| crate::syntax_error(name, &text, &e))?;
            let require = interner.get("require");
            let mut found = Specifiers { interner: &interner, require, out: Vec::new() };
            let _ = script.visit_with(&mut found);
            found.out
        }
        Kind::Json => Vec::new(),
    };
    Ok(out)
}

struct Specifiers<'i> {
    interner: &'i Interner,
    /// The symbol of `require` (CommonJS only).
    require: Option<boa_interner::Sym>,
    out: Vec<String>,
}

impl Specifiers<'_> {
    fn push(&mut self, sym: boa_interner::Sym) {
        let s = self.interner.resolve_expect(sym).to_string();
        if !self.out.contains(&s) {
            self.out.push(s);
        }
    }

    fn push_literal(&mut self, e: &Expression) {
        if let Expression::Literal(lit) = e {
            if let LiteralKind::String(sym) = lit.kind() {
                self.push(*sym);
            }
        }
    }
}

impl<'ast> Visitor<'ast> for Specifiers<'_> {
    type BreakTy = ();

    fn visit_call(&mut self, node: &'ast Call) -> ControlFlow<()> {
        if let (Expression::Identifier(id), [arg]) = (node.function(), node.args()) {
            if Some(id.sym()) == self.require {
                self.push_literal(arg);
            }
        }
        node.visit_with(self)
    }

    fn visit_import_call(&mut self, node: &'ast ImportCall) -> ControlFlow<()> {
        self.push_literal(node.specifier());
        node.visit_with(self)
    }

    fn visit_module_specifier(&mut self, node: &'ast ModuleSpecifier) -> ControlFlow<()> {
        self.push(node.sym());
        ControlFlow::Continue(())
    }
}
