//! `js-launcher-test262`: js-launcher plus the test262 host hooks (`print`, `$262`), the
//! runtime image of `cargo xtask test262`. Never used for functions.

fn main() {
    js_launcher::run(Some(js_launcher::test262_host::install))
}
