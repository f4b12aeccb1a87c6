//! `console.*` output: to the hypervisor's log channel under our hypervisor, to the guest's
//! stdout/stderr under stock uhyve (so console lines precede the result line there).

use boa_engine::{Context, JsResult};
use boa_gc::{Finalize, Trace};
use boa_runtime::{ConsoleState, Logger};

/// Routes console lines (see module docs).
#[derive(Debug, Trace, Finalize, Clone)]
pub struct LineLogger;

/// Longest console line passed on; longer lines are cut (at a character boundary) and marked.
const MAX_LINE: usize = seuss_abi::MAX_PAYLOAD - 64;

fn emit(msg: &str, state: &ConsoleState, is_error: bool) {
    let indent = state.indent();
    let mut line = if indent == 0 { msg.to_owned() } else { format!("{:indent$}{msg}", "") };
    if line.len() > MAX_LINE {
        let mut cut = MAX_LINE;
        while !line.is_char_boundary(cut) {
            cut -= 1;
        }
        line.truncate(cut);
        line.push_str(" [line truncated]");
    }
    if crate::platform::invocation::log_line(&line, is_error) {
        return;
    }
    let mut bytes = line.into_bytes();
    bytes.push(b'\n');
    if is_error {
        crate::platform::write_stderr(&bytes);
    } else {
        crate::platform::write_stdout(&bytes);
    }
}

impl Logger for LineLogger {
    fn log(&self, msg: String, state: &ConsoleState, _: &mut Context) -> JsResult<()> {
        emit(&msg, state, false);
        Ok(())
    }
    fn info(&self, msg: String, state: &ConsoleState, _: &mut Context) -> JsResult<()> {
        emit(&msg, state, false);
        Ok(())
    }
    fn warn(&self, msg: String, state: &ConsoleState, _: &mut Context) -> JsResult<()> {
        emit(&msg, state, true);
        Ok(())
    }
    fn error(&self, msg: String, state: &ConsoleState, _: &mut Context) -> JsResult<()> {
        emit(&msg, state, true);
        Ok(())
    }
}
