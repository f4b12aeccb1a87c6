//! A tiny HTTP/1.1 server on 127.0.0.1 for the network experiments: one thread per
//! connection, keep-alive, every request answered with the same small JSON document after a
//! fixed delay. It stops when dropped (and with the benchmark process); a connection idle
//! for 30 s is closed.
//!
//! Functions in a clone reach it as `host.seuss.internal:PORT` (the NAT maps that name to the
//! host's 127.0.0.1); host clients use `127.0.0.1:PORT`.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// The document every request gets.
pub const BODY: &str = r#"{"ok":true,"from":"seuss bench"}"#;

/// A running server.
pub struct LocalServer {
    port: u16,
    stop: Arc<AtomicBool>,
    served: Arc<AtomicU64>,
    accept: Option<JoinHandle<()>>,
}

impl LocalServer {
    /// Listens on 127.0.0.1 (a free port) and answers every request after `delay`.
    pub fn start(delay: Duration) -> Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").context("binding the local benchmark server to 127.0.0.1")?;
        let port = listener.local_addr()?.port();
        let stop = Arc::new(AtomicBool::new(false));
        let served = Arc::new(AtomicU64::new(0));
        let (stop2, served2) = (stop.clone(), served.clone());
        let accept = std::thread::Builder::new().name("bench-http".into()).spawn(move || {
            for conn in listener.incoming() {
                if stop2.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let served = served2.clone();
                let _ = std::thread::Builder::new().name("bench-http-conn".into()).spawn(move || serve(conn, delay, &served));
            }
        })?;
        Ok(Self { port, stop, served, accept: Some(accept) })
    }

    /// Its port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Requests answered so far.
    pub fn served(&self) -> u64 {
        self.served.load(Ordering::Relaxed)
    }

    /// One request as a host client makes it (a new connection, `Connection: close`):
    /// returns the time from connect to the whole response.
    pub fn direct_request(&self) -> Result<Duration> {
        let t = Instant::now();
        let mut s = TcpStream::connect(("127.0.0.1", self.port))?;
        s.set_nodelay(true)?;
        write!(s, "GET /json HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\r\n", self.port)?;
        let mut response = Vec::new();
        s.read_to_end(&mut response)?;
        let took = t.elapsed();
        if !response.starts_with(b"HTTP/1.1 200") || !response.ends_with(BODY.as_bytes()) {
            bail!("the local server answered {:?}", String::from_utf8_lossy(&response));
        }
        Ok(took)
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
    }
}

/// Serves one connection: request heads (bodies by Content-Length) until the peer closes,
/// asks to close, or is idle for 30 s.
fn serve(mut conn: TcpStream, delay: Duration, served: &AtomicU64) {
    let _ = conn.set_nodelay(true);
    let _ = conn.set_read_timeout(Some(Duration::from_secs(30)));
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    loop {
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            if buf.len() > 64 * 1024 {
                return;
            }
            match conn.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
        let body_len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
            .min(1 << 20);
        while buf.len() < head_end + body_len {
            match conn.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        buf.drain(..head_end + body_len);
        let close = head.lines().any(|l| l.starts_with("connection:") && l.contains("close"));
        if !delay.is_zero() {
            std::thread::sleep(delay);
        }
        let response = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: {}\r\n\r\n{BODY}",
            BODY.len(),
            if close { "close" } else { "keep-alive" }
        );
        if conn.write_all(response.as_bytes()).is_err() {
            return;
        }
        served.fetch_add(1, Ordering::Relaxed);
        if close {
            let _ = conn.shutdown(Shutdown::Write);
            return;
        }
    }
}
