//! `rust-http-get http://HOST[:PORT]/PATH`: one HTTP/1.1 GET with `std::net::TcpStream`,
//! printing the status line, then the body, on stdout. Exit status 0 for a 2xx answer, 1 for
//! any other answer, 2 when the request could not be made (the error on stderr).
//!
//! ```sh
//! cargo xtask build-image examples/rust-http-get -o get.img
//! seuss run get.img --allow-net host.seuss.internal:8080 -- http://host.seuss.internal:8080/
//! ```

#[cfg(target_os = "hermit")]
use libos as _;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

fn main() {
    let Some(url) = std::env::args().nth(1) else {
        eprintln!("usage: rust-http-get http://HOST[:PORT]/PATH");
        std::process::exit(2);
    };
    match get(&url) {
        Ok((status, body)) => {
            let code: u16 = status.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
            println!("{status}");
            print!("{body}");
            std::process::exit(if (200..300).contains(&code) { 0 } else { 1 });
        }
        Err(e) => {
            eprintln!("rust-http-get: {url}: {e}");
            std::process::exit(2);
        }
    }
}

fn get(url: &str) -> Result<(String, String), String> {
    let rest = url.strip_prefix("http://").ok_or("only http:// URLs")?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (h, p.parse::<u16>().map_err(|_| format!("bad port in {authority}"))?),
        None => (authority, 80),
    };
    let mut stream = TcpStream::connect((host, port)).map_err(|e| match e.raw_os_error() {
        Some(13) => format!("connection to {host}:{port} refused by the egress policy (allow it with --allow-net {host}:{port})"),
        _ => format!("connect to {host}:{port}: {e}"),
    })?;
    stream.set_read_timeout(Some(Duration::from_secs(20))).map_err(|e| e.to_string())?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: rust-http-get\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).map_err(|e| format!("send: {e}"))?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).map_err(|e| format!("receive: {e}"))?;
    let text = String::from_utf8_lossy(&response);
    let (head, body) = text.split_once("\r\n\r\n").ok_or("no HTTP header in the answer")?;
    let status = head.lines().next().unwrap_or_default().to_owned();
    Ok((status, body.to_owned()))
}
