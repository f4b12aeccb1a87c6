//! Functions with npm dependencies: the bundle that `cargo xtask build-image` makes with
//! `js_source::bundle` (host side: Node's resolution, every file of the module graph), and
//! how the launcher loads it.
//!
//! ```text
//! payload = "//@seuss-bundle/1\n" + JSON { entry, modules: { id: { kind, source, deps: { specifier: id | "node:name" } } } }
//!
//! CommonJS (`kind: cjs`)  ──require──►  prelude.js makeRequire ─► bundleResolve (here) ─► compileCommonJs (here)
//! ES module (`kind: esm`) ──import───►  BundleLoader (here): esm → Module::parse; cjs/json/node:* → the
//!                                       prelude's require, exposed as a synthetic module (default + named keys)
//! ```
//!
//! Module ids are paths relative to the function's directory (`node_modules/lodash/lodash.js`);
//! `__filename` is `/function/<id>`. Resolution happened on the host: the guest only looks up
//! the specifier in the requiring module's `deps`.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use boa_engine::module::{ModuleLoader, Referrer, SyntheticModuleInitializer};
use boa_engine::object::builtins::JsArray;
use boa_engine::{js_string, Context, JsNativeError, JsResult, JsString, JsValue, Module, Script, Source};
use serde::Deserialize;

/// First line of a bundle payload.
pub const MARKER: &str = "//@seuss-bundle/1\n";

/// What a module is.
#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// CommonJS.
    Cjs,
    /// ES module.
    Esm,
    /// A `.json` file.
    Json,
}

/// One file of the bundle.
#[derive(Deserialize)]
pub struct ModuleFile {
    /// How it is loaded.
    pub kind: Kind,
    /// Its source text.
    pub source: String,
    /// Resolved specifiers: module id, or `node:name` for a built-in module.
    #[serde(default)]
    pub deps: HashMap<String, String>,
}

/// A parsed bundle.
#[derive(Deserialize)]
pub struct Bundle {
    /// The function's own file.
    pub entry: String,
    /// Every file, by id.
    pub modules: HashMap<String, ModuleFile>,
}

thread_local! {
    static BUNDLE: RefCell<Option<Rc<Bundle>>> = const { RefCell::new(None) };
    static ESM: RefCell<HashMap<String, Module>> = RefCell::new(HashMap::new());
    static HELPERS: RefCell<Option<crate::helpers::Helpers>> = const { RefCell::new(None) };
}

/// Parses a bundle payload (without [`MARKER`]) and makes it the current bundle.
pub fn install(text: &str, helpers: &crate::helpers::Helpers) -> Result<Rc<Bundle>, String> {
    let bundle: Bundle = serde_json::from_str(text).map_err(|e| format!("the function bundle is malformed: {e}"))?;
    if !bundle.modules.contains_key(&bundle.entry) {
        return Err(format!("the function bundle has no module for its entry {}", bundle.entry));
    }
    let bundle = Rc::new(bundle);
    BUNDLE.with(|b| *b.borrow_mut() = Some(bundle.clone()));
    set_helpers(helpers);
    Ok(bundle)
}

/// Lets ES modules import CommonJS, JSON and built-in modules through the prelude's require.
pub fn set_helpers(helpers: &crate::helpers::Helpers) {
    HELPERS.with(|h| *h.borrow_mut() = Some(helpers.clone()));
}

fn current() -> Option<Rc<Bundle>> {
    BUNDLE.with(|b| b.borrow().clone())
}

fn arg_string(args: &[JsValue], i: usize, ctx: &mut Context) -> JsResult<String> {
    Ok(args.get(i).cloned().unwrap_or_default().to_string(ctx)?.to_std_string_escaped())
}

fn not_found(specifier: &str, from: &str) -> boa_engine::JsError {
    JsNativeError::error().with_message(format!("Cannot find module '{specifier}' from '{from}'")).into()
}

/// Built-in module names (with or without `node:`) resolve without a bundle too.
fn builtin(specifier: &str) -> Option<String> {
    const NODE: [&str; 9] = ["buffer", "events", "util", "path", "url", "querystring", "string_decoder", "assert", "crypto"];
    let bare = specifier.strip_prefix("node:").unwrap_or(specifier);
    (specifier.starts_with("node:") || NODE.contains(&bare)).then(|| format!("node:{bare}"))
}

fn resolve_id(from: &str, specifier: &str) -> JsResult<String> {
    if let Some(id) = current().and_then(|b| b.modules.get(from).and_then(|m| m.deps.get(specifier).cloned())) {
        return Ok(id);
    }
    builtin(specifier).ok_or_else(|| not_found(specifier, from))
}

/// `bundleResolve(fromId, specifier)`: the id `specifier` names in module `fromId`.
pub fn resolve(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let from = arg_string(args, 0, ctx)?;
    let specifier = arg_string(args, 1, ctx)?;
    Ok(JsValue::from(JsString::from(resolve_id(&from, &specifier)?.as_str())))
}

/// `bundleKind(id)`: "cjs", "esm" or "json".
pub fn kind(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let id = arg_string(args, 0, ctx)?;
    let kind = current().and_then(|b| b.modules.get(&id).map(|m| m.kind)).ok_or_else(|| not_found(&id, "the bundle"))?;
    Ok(JsValue::from(match kind {
        Kind::Cjs => js_string!("cjs"),
        Kind::Esm => js_string!("esm"),
        Kind::Json => js_string!("json"),
    }))
}

/// `compileCommonJs(id)`: a CommonJS module's wrapper function
/// `(exports, require, module, __filename, __dirname)`, or a JSON module's text.
pub fn compile_commonjs(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let id = arg_string(args, 0, ctx)?;
    let bundle = current().ok_or_else(|| not_found(&id, "the function"))?;
    let file = bundle.modules.get(&id).ok_or_else(|| not_found(&id, "the bundle"))?;
    if file.kind == Kind::Json {
        return Ok(JsValue::from(JsString::from(file.source.as_str())));
    }
    // The source's own lines keep their numbers: the wrapper's head is on line 1.
    let wrapped = format!("(function (exports, require, module, __filename, __dirname) {{{}\n}})", file.source);
    let path = std::path::PathBuf::from(&id);
    let script = Script::parse(Source::from_bytes(&wrapped).with_path(&path), None, ctx)?;
    script.evaluate(ctx)
}

/// The module loader of the launcher's context (see the module docs).
pub struct BundleLoader;

impl BundleLoader {
    fn load(referrer: &Referrer, specifier: &str, ctx: &mut Context) -> JsResult<Module> {
        let from = referrer
            .path()
            .map(|p| p.to_string_lossy().into_owned())
            .or_else(|| current().map(|b| b.entry.clone()))
            .unwrap_or_else(|| "the function".to_owned());
        let id = resolve_id(&from, specifier)?;
        if let Some(m) = ESM.with(|c| c.borrow().get(&id).cloned()) {
            return Ok(m);
        }
        let bundle = current();
        let file = bundle.as_ref().and_then(|b| b.modules.get(&id));
        let module = match file {
            Some(f) if f.kind == Kind::Esm => {
                let path = std::path::PathBuf::from(&id);
                Module::parse(Source::from_bytes(&f.source).with_path(&path), None, ctx)?
            }
            _ => {
                let helpers = HELPERS.with(|h| h.borrow().clone()).ok_or_else(|| not_found(specifier, &from))?;
                let require = helpers.0.get(js_string!("requireId"), ctx)?;
                let exports = require
                    .as_callable()
                    .ok_or_else(|| JsNativeError::typ().with_message("launcher helper missing"))?
                    .call(&JsValue::undefined(), &[JsValue::from(JsString::from(id.as_str()))], ctx)?;
                synthetic(exports, &helpers, ctx)?
            }
        };
        ESM.with(|c| c.borrow_mut().insert(id, module.clone()));
        Ok(module)
    }
}

/// An ES module view of a CommonJS value: `default` is the value, and each own enumerable
/// string key of an object or function is a named export (like Node's, but from the value
/// instead of a static scan of the source).
fn synthetic(exports: JsValue, helpers: &crate::helpers::Helpers, ctx: &mut Context) -> JsResult<Module> {
    let export_names = helpers.0.get(js_string!("exportNames"), ctx)?;
    let keys = export_names
        .as_callable()
        .ok_or_else(|| JsNativeError::typ().with_message("launcher helper missing"))?
        .call(&JsValue::undefined(), std::slice::from_ref(&exports), ctx)?;
    let keys = keys.as_object().ok_or_else(|| JsNativeError::typ().with_message("launcher helper failed"))?.clone();
    let mut names = vec![js_string!("default")];
    let n = keys.get(js_string!("length"), ctx)?.to_length(ctx)?;
    for i in 0..n {
        names.push(keys.get(i, ctx)?.to_string(ctx)?);
    }
    let list = JsArray::from_iter(names.iter().cloned().map(JsValue::from), ctx);
    let captures = JsArray::from_iter([exports, list.into()], ctx);
    let init = SyntheticModuleInitializer::from_copy_closure_with_captures(
        |m, captures, ctx| {
            let exports = captures.get(0, ctx)?;
            let names = captures.get(1, ctx)?;
            let names = names.as_object().expect("a names array");
            let n = names.get(js_string!("length"), ctx)?.to_length(ctx)?;
            for i in 0..n {
                let name = names.get(i, ctx)?.to_string(ctx)?;
                let value = if i == 0 { exports.clone() } else { exports.as_object().expect("an object has keys").get(name.clone(), ctx)? };
                m.set_export(&name, value)?;
            }
            Ok(())
        },
        captures,
    );
    Ok(Module::synthetic(&names, init, None, None, ctx))
}

impl ModuleLoader for BundleLoader {
    fn load_imported_module(
        self: Rc<Self>,
        referrer: Referrer,
        request: boa_engine::module::ModuleRequest,
        context: &RefCell<&mut Context>,
    ) -> impl std::future::Future<Output = JsResult<Module>> {
        let specifier = request.specifier().to_std_string_escaped();
        let result = Self::load(&referrer, &specifier, &mut context.borrow_mut());
        async { result }
    }
}
