//! The prelude's helpers (`prelude.js` returns them to `engine::init`): kept in Rust, never in
//! a global, so user code can neither replace nor reach them.

use boa_engine::JsObject;

/// The helpers object (`commonjs`, `requireId`, `exportNames`, `findMain`, `call`, `finish`,
/// `error`, `hash`).
#[derive(Clone)]
pub struct Helpers(pub JsObject);
