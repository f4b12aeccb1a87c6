//! `js-launcher`: the guest program of every JS function image (see the library docs).

fn main() {
    js_launcher::run(None)
}
