//! The test262 host hooks (INTERPRETING.md, "Host-Defined Functions"), installed only by the
//! `js-launcher-test262` binary: `$262` with `createRealm`, `detachArrayBuffer`,
//! `evalScript`, `gc`, `global` and an empty `agent` (no sample test uses agents), and for
//! the runner's driver (xtask `test262/driver.js`, which takes it and deletes the global)
//! `__test262_host` with:
//!
//! | call | result |
//! |---|---|
//! | `runScript(src)` | `["ok", completion]`, `["parse", error]` (ParseScript failed: early errors included) or `["runtime", error]` |
//! | `runModule(src)` | `["ok", promise]` (the evaluation promise) or `["parse", error]` |
//!
//! so the driver can tell a negative test's phase. `print` is the driver's own (JS).

use boa_engine::object::builtins::JsArrayBuffer;
use boa_engine::object::{FunctionObjectBuilder, JsObject, ObjectInitializer};
use boa_engine::property::Attribute;
use boa_engine::realm::Realm;
use boa_engine::{js_string, Context, JsError, JsNativeError, JsResult, JsValue, Module, NativeFunction, Script, Source};

/// [`crate::Extension`] of the test262 binary: `$262` and `__test262_host` in the main realm.
pub fn install(ctx: &mut Context) -> Result<(), String> {
    let realm = ctx.realm().clone();
    install_262(realm.clone(), ctx).map_err(|e| e.to_string())?;
    let f = |ctx: &mut Context, name: &str, f: fn(&JsValue, &[JsValue], &Realm, &mut Context) -> JsResult<JsValue>| {
        FunctionObjectBuilder::new(ctx.realm(), NativeFunction::from_copy_closure_with_captures(f, realm.clone()))
            .name(js_string!(name))
            .length(1)
            .build()
    };
    let run_script = f(ctx, "runScript", run_script);
    let run_module = f(ctx, "runModule", run_module);
    let host = ObjectInitializer::new(ctx)
        .property(js_string!("runScript"), run_script, Attribute::all())
        .property(js_string!("runModule"), run_module, Attribute::all())
        .build();
    ctx.register_global_property(js_string!("__test262_host"), host, Attribute::WRITABLE | Attribute::CONFIGURABLE)
        .map_err(|e| e.to_string())
}

/// Defines `$262` on the global object of `realm` and returns it.
fn install_262(realm: Realm, ctx: &mut Context) -> JsResult<JsObject> {
    let outer = ctx.enter_realm(realm.clone());
    let result = (|| {
        let global = ctx.global_object();
        let func = |ctx: &mut Context, name: &str, len: usize, f: fn(&JsValue, &[JsValue], &Realm, &mut Context) -> JsResult<JsValue>| {
            FunctionObjectBuilder::new(ctx.realm(), NativeFunction::from_copy_closure_with_captures(f, realm.clone()))
                .name(js_string!(name))
                .length(len)
                .build()
        };
        let create_realm = func(ctx, "createRealm", 0, create_realm);
        let detach = func(ctx, "detachArrayBuffer", 1, detach_array_buffer);
        let eval_script = func(ctx, "evalScript", 1, eval_script);
        let gc = func(ctx, "gc", 0, gc);
        let agent = ObjectInitializer::new(ctx).build();
        let obj = ObjectInitializer::new(ctx)
            .property(js_string!("createRealm"), create_realm, Attribute::all())
            .property(js_string!("detachArrayBuffer"), detach, Attribute::all())
            .property(js_string!("evalScript"), eval_script, Attribute::all())
            .property(js_string!("gc"), gc, Attribute::all())
            .property(js_string!("global"), global.clone(), Attribute::all())
            .property(js_string!("agent"), agent, Attribute::all())
            .build();
        global.define_property_or_throw(
            js_string!("$262"),
            boa_engine::property::PropertyDescriptor::builder().value(obj.clone()).writable(true).enumerable(false).configurable(true),
            ctx,
        )?;
        Ok(obj)
    })();
    ctx.enter_realm(outer);
    result
}

fn source_arg(args: &[JsValue], ctx: &mut Context) -> JsResult<String> {
    Ok(args.first().cloned().unwrap_or_default().to_string(ctx)?.to_std_string_escaped())
}

fn create_realm(_: &JsValue, _: &[JsValue], _: &Realm, ctx: &mut Context) -> JsResult<JsValue> {
    let realm = ctx.create_realm()?;
    Ok(install_262(realm, ctx)?.into())
}

fn detach_array_buffer(_: &JsValue, args: &[JsValue], _: &Realm, _: &mut Context) -> JsResult<JsValue> {
    let obj = args.first().and_then(JsValue::as_object).ok_or_else(|| JsNativeError::typ().with_message("not an ArrayBuffer"))?;
    let buffer = JsArrayBuffer::from_object(obj.clone())?;
    buffer.detach(&JsValue::undefined())?;
    Ok(JsValue::undefined())
}

fn eval_script(_: &JsValue, args: &[JsValue], realm: &Realm, ctx: &mut Context) -> JsResult<JsValue> {
    let src = source_arg(args, ctx)?;
    let script = Script::parse(Source::from_bytes(&src), Some(realm.clone()), ctx)?;
    script.evaluate(ctx)
}

fn gc(_: &JsValue, _: &[JsValue], _: &Realm, _: &mut Context) -> JsResult<JsValue> {
    boa_gc::force_collect();
    Ok(JsValue::undefined())
}

fn pair(status: &str, value: JsValue, ctx: &mut Context) -> JsValue {
    boa_engine::object::builtins::JsArray::from_iter([JsValue::from(js_string!(status)), value], ctx).into()
}

fn thrown(err: &JsError, ctx: &mut Context) -> JsValue {
    err.clone().into_opaque(ctx).unwrap_or_else(|e| JsValue::from(js_string!(e.to_string())))
}

fn run_script(_: &JsValue, args: &[JsValue], realm: &Realm, ctx: &mut Context) -> JsResult<JsValue> {
    let src = source_arg(args, ctx)?;
    let script = match Script::parse(Source::from_bytes(&src), Some(realm.clone()), ctx) {
        Ok(s) => s,
        Err(e) => {
            let v = thrown(&e, ctx);
            return Ok(pair("parse", v, ctx));
        }
    };
    match script.evaluate(ctx) {
        Ok(v) => Ok(pair("ok", v, ctx)),
        Err(e) => {
            let v = thrown(&e, ctx);
            Ok(pair("runtime", v, ctx))
        }
    }
}

fn run_module(_: &JsValue, args: &[JsValue], realm: &Realm, ctx: &mut Context) -> JsResult<JsValue> {
    let src = source_arg(args, ctx)?;
    match Module::parse(Source::from_bytes(&src), Some(realm.clone()), ctx) {
        Ok(m) => {
            let promise = m.load_link_evaluate(ctx);
            Ok(pair("ok", promise.into(), ctx))
        }
        Err(e) => {
            let v = thrown(&e, ctx);
            Ok(pair("parse", v, ctx))
        }
    }
}
