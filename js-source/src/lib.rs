//! `js_source`: a function's JavaScript source as the host sees it before anything is built.
//!
//! [`check`] parses the source the way the launcher will accept it (a script first, an ES
//! module second) and reports the first syntax error with line and column, so `cargo xtask
//! build-image` and the node's action creation refuse a broken function at once instead of at
//! its first invocation.

#![warn(missing_docs)]

use boa_ast::scope::Scope;
use boa_interner::Interner;
use boa_parser::{Parser, Source};

/// Why a source is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    /// A syntax error at `line:column` (1-based) of the file named `name`.
    #[error("{name}:{line}:{column}: {message}")]
    Syntax {
        /// The file (or action) name used in messages.
        name: String,
        /// 1-based line.
        line: u32,
        /// 1-based column.
        column: u32,
        /// The parser's message.
        message: String,
    },
}

/// Checks `source` (named `name` in messages) as a script and, failing that, as an ES module.
pub fn check(name: &str, source: &str) -> Result<(), SourceError> {
    let script_err = match Parser::new(Source::from_bytes(source)).parse_script(&Scope::new_global(), &mut Interner::default()) {
        Ok(_) => return Ok(()),
        Err(e) => e,
    };
    if Parser::new(Source::from_bytes(source)).parse_module(&Scope::new_global(), &mut Interner::default()).is_ok() {
        return Ok(());
    }
    let (line, column) = position(&script_err).unwrap_or_else(|| {
        let lines = source.lines().count().max(1);
        (lines as u32, source.lines().last().map_or(1, |l| l.chars().count() as u32 + 1))
    });
    Err(SourceError::Syntax { name: name.to_owned(), line, column, message: script_err.to_string() })
}

fn position(err: &boa_parser::Error) -> Option<(u32, u32)> {
    use boa_parser::Error as E;
    let p = match err {
        E::Expected { span, .. } | E::Unexpected { span, .. } => span.start(),
        E::General { position, .. } => *position,
        E::Lex { err: boa_parser::lexer::Error::Syntax(_, position) } => *position,
        _ => return None,
    };
    Some((p.line_number(), p.column_number()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_and_modules_pass_and_errors_name_the_place() {
        assert_eq!(check("a.js", "function main() { return {}; }"), Ok(()));
        assert_eq!(check("m.mjs", "export default function main() { return {}; }"), Ok(()));
        let e = check("bad.js", "function main() {\n  return {;\n}\n").unwrap_err();
        assert!(matches!(e, SourceError::Syntax { line: 2, .. }), "{e}");
        assert!(e.to_string().starts_with("bad.js:2:"), "{e}");
    }
}
