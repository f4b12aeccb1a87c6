//! `js_source`: a function's JavaScript source as the host sees it before anything is built.
//!
//! [`check`] parses the source the way the launcher will accept it (a script first, an ES
//! module second) and reports the first syntax error with line and column, so `cargo xtask
//! build-image` and the node's action creation refuse a broken function at once instead of at
//! its first invocation.

#![warn(missing_docs)]

pub mod bundle;

/// First line of a bundle payload (a function with its node_modules, [`bundle::bundle`]); the
/// launcher's `bundle::MARKER` is the same.
pub const BUNDLE_MARKER: &str = "//@seuss-bundle/1\n";

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
    /// The source is empty (or only whitespace and comments).
    #[error("{name}: the function is empty: define `function main(params)` (or `module.exports = main`, `export default function main`)")]
    Empty {
        /// The file (or action) name used in messages.
        name: String,
    },
    /// A bundle payload ([`BUNDLE_MARKER`]) whose manifest is broken.
    #[error("{name}: not a valid function bundle: {message}")]
    Bundle {
        /// The file (or action) name used in messages.
        name: String,
        /// What is wrong.
        message: String,
    },
    /// The source defines no `main` the launcher would find.
    #[error("{name}: the function defines no main: use `function main(params)`, `module.exports = main`, `exports.main = ...`, `export default function main(params)` or `export function main(params)`")]
    NoMain {
        /// The file (or action) name used in messages.
        name: String,
    },
}

/// Checks only the syntax of `source` (named `name` in messages): a script or, failing that, an
/// ES module. For functions whose entry point is named otherwise (OpenWhisk's `exec.main`), where
/// the caller supplies the entry glue.
pub fn check_syntax(name: &str, source: &str) -> Result<(), SourceError> {
    if source.starts_with(BUNDLE_MARKER) {
        return check(name, source);
    }
    let script_err = match Parser::new(Source::from_bytes(source)).parse_script(&Scope::new_global(), &mut Interner::default()) {
        Ok(_) => return Ok(()),
        Err(e) => e,
    };
    if Parser::new(Source::from_bytes(source)).parse_module(&Scope::new_global(), &mut Interner::default()).is_ok() {
        return Ok(());
    }
    Err(syntax_error(name, source, &script_err))
}

/// Checks `source` (named `name` in messages) as a script and, failing that, as an ES module:
/// the syntax, and that it defines a `main` where the launcher's `findMain` looks (a global
/// `function main` / `var main`, `module.exports = ...`, `exports.main = ...`, `export default`,
/// `export function main`, `export const main`, `export { f as main }`). A top-level
/// expression that names `exports` or `main` (`global.main = f`, `globalThis.main = f`) is
/// given the benefit of the doubt: Node.js accepts it, and a `main` that is still missing is
/// reported by the import itself.
pub fn check(name: &str, source: &str) -> Result<(), SourceError> {
    if let Some(manifest) = source.strip_prefix(BUNDLE_MARKER) {
        return check_bundle(name, manifest);
    }
    let mut interner = Interner::default();
    let script_err = match Parser::new(Source::from_bytes(source)).parse_script(&Scope::new_global(), &mut interner) {
        Ok(script) => return check_script_main(name, &script, &interner),
        Err(e) => e,
    };
    let mut interner = Interner::default();
    if let Ok(module) = Parser::new(Source::from_bytes(source)).parse_module(&Scope::new_global(), &mut interner) {
        let main = interner.get("main");
        let names = module.items().exported_names();
        if names.iter().any(|n| *n == boa_interner::Sym::DEFAULT || Some(*n) == main) {
            return Ok(());
        }
        return Err(if module.items().items().is_empty() { SourceError::Empty { name: name.to_owned() } } else { SourceError::NoMain { name: name.to_owned() } });
    }
    Err(syntax_error(name, source, &script_err))
}

/// Whether `source` parses as a script (the launcher's first choice; else an ES module).
pub(crate) fn parses_as_script(source: &str) -> bool {
    Parser::new(Source::from_bytes(source)).parse_script(&Scope::new_global(), &mut Interner::default()).is_ok()
}

/// [`SourceError::Syntax`] for a parser error in `source`.
pub(crate) fn syntax_error(name: &str, source: &str, err: &boa_parser::Error) -> SourceError {
    let (line, column) = position(err).unwrap_or_else(|| {
        let lines = source.lines().count().max(1);
        (lines as u32, source.lines().last().map_or(1, |l| l.chars().count() as u32 + 1))
    });
    SourceError::Syntax { name: name.to_owned(), line, column, message: err.to_string() }
}

/// A bundle payload: its manifest, and its entry file checked like a single-file function.
fn check_bundle(name: &str, manifest: &str) -> Result<(), SourceError> {
    let bad = |message: String| SourceError::Bundle { name: name.to_owned(), message };
    let value: serde_json::Value = serde_json::from_str(manifest).map_err(|e| bad(format!("manifest is not JSON: {e}")))?;
    let entry = value["entry"].as_str().ok_or_else(|| bad("manifest has no entry".into()))?;
    let source = value["modules"][entry]["source"].as_str().ok_or_else(|| bad(format!("manifest has no module {entry}")))?;
    check(&format!("{name}: {entry}"), source)
}

/// A script's `main`: declared at the top level, or exported through CommonJS (any top-level
/// expression statement that assigns to `module.exports` or `exports.*`).
fn check_script_main(name: &str, script: &boa_ast::Script, interner: &Interner) -> Result<(), SourceError> {
    use boa_ast::{Declaration, Statement, StatementListItem};
    use boa_interner::ToInternedString;
    let items = script.statements().statements();
    if items.is_empty() {
        return Err(SourceError::Empty { name: name.to_owned() });
    }
    let main = interner.get("main");
    let declared = |sym: boa_interner::Sym| Some(sym) == main;
    if boa_ast::operations::var_declared_names(script).into_iter().any(declared)
        || boa_ast::operations::lexically_declared_names(script).into_iter().any(declared)
    {
        return Ok(());
    }
    for item in items {
        match item {
            StatementListItem::Declaration(d) => {
                if let Declaration::FunctionDeclaration(f) = d.as_ref() {
                    if declared(f.name().sym()) {
                        return Ok(());
                    }
                }
            }
            StatementListItem::Statement(st) => {
                if let Statement::Expression(e) = st.as_ref() {
                    let text = e.to_interned_string(interner);
                    if text.contains("exports") || text.contains("main") {
                        return Ok(());
                    }
                }
            }
        }
    }
    Err(SourceError::NoMain { name: name.to_owned() })
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

    #[test]
    fn every_main_shape_the_launcher_finds_is_accepted() {
        for src in [
            "function main() { return {}; }",
            "var main = () => ({});",
            "const main = async function () { return {}; };",
            "module.exports = function (p) { return p; };",
            "module.exports = { main(p) { return p; } };",
            "exports.main = (p) => p;",
            "export default function (p) { return p; }",
            "export function main(p) { return p; }",
            "export const main = (p) => p;",
            "function f(p) { return p; }\nexport { f as main };",
        ] {
            assert_eq!(check("f.js", src), Ok(()), "{src}");
        }
    }

    #[test]
    fn main_set_on_the_global_object_is_accepted() {
        for src in ["function foo(a) { return a; } global.main = foo;", "globalThis.main = (a) => a;"] {
            assert_eq!(check("f.js", src), Ok(()), "{src}");
        }
    }

    #[test]
    fn empty_functions_and_functions_without_main_are_refused_with_the_file() {
        for src in ["", "  \n\n", "// only a comment\n/* and another */"] {
            assert_eq!(check("empty.js", src), Err(SourceError::Empty { name: "empty.js".into() }), "{src:?}");
        }
        for src in ["function handler() { return {}; }", "const x = 1;", "export function handler() {}"] {
            let e = check("nomain.js", src).unwrap_err();
            assert_eq!(e, SourceError::NoMain { name: "nomain.js".into() }, "{src}");
            assert!(e.to_string().starts_with("nomain.js: the function defines no main"), "{e}");
        }
    }
}
