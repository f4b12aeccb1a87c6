//! What the `seuss serve` tests share: a real `seuss serve` child process on 127.0.0.1 with a
//! temporary state dir, a plain HTTP client (ureq), and bounded waits.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::Value;

#[path = "../common/mod.rs"]
pub mod common;

/// A fresh scratch directory for one test.
pub fn scratch(tag: &str) -> PathBuf {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let d = std::env::temp_dir().join(format!("seuss-serve-{tag}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A free port on 127.0.0.1 (bound and released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A running `seuss serve`.
pub struct Server {
    child: Option<Child>,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    /// The guest key (REST mode).
    pub key: String,
    /// The state dir.
    pub state: PathBuf,
    /// Everything the server wrote to stdout and stderr so far.
    pub stdout: Arc<Mutex<String>>,
    pub stderr: Arc<Mutex<String>>,
}

fn pump(mut r: impl Read + Send + 'static, into: Arc<Mutex<String>>, lines: Option<std::sync::mpsc::Sender<String>>) {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(&mut r);
        let mut line = String::new();
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    into.lock().unwrap().push_str(&line);
                    if let Some(tx) = &lines {
                        let _ = tx.send(line.clone());
                    }
                }
            }
        }
    });
}

impl Server {
    /// Starts `seuss serve` in REST mode on a free port with `extra` flags and waits until it
    /// printed its address and key.
    pub fn start(state: &Path, extra: &[&str]) -> Server {
        Self::spawn(state, extra, &[], false)
    }

    /// Starts `seuss serve --action-proxy` on a free port with `env` and waits for /healthz.
    pub fn proxy(state: &Path, env: &[(&str, &str)]) -> Server {
        Self::spawn(state, &[], env, true)
    }

    fn spawn(state: &Path, extra: &[&str], env: &[(&str, &str)], proxy: bool) -> Server {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_seuss"));
        let listen = if proxy { format!("127.0.0.1:{}", free_port()) } else { "127.0.0.1:0".to_owned() };
        cmd.args(["serve", "--listen", &listen, "--state-dir"])
            .arg(state)
            .arg("--runtime-image")
            .arg(common::image("runtime"))
            .args(extra)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if proxy {
            cmd.arg("--action-proxy");
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawning seuss serve");
        let (stdout, stderr) = (Arc::new(Mutex::new(String::new())), Arc::new(Mutex::new(String::new())));
        let (tx, rx) = std::sync::mpsc::channel();
        pump(child.stdout.take().unwrap(), stdout.clone(), Some(tx));
        pump(child.stderr.take().unwrap(), stderr.clone(), None);
        let mut s = Server { child: Some(child), addr: String::new(), key: String::new(), state: state.to_owned(), stdout, stderr };
        let until = Instant::now() + Duration::from_secs(90);
        if proxy {
            s.addr = listen;
            while Instant::now() < until {
                if try_call("GET", &s.url("/healthz")).is_some_and(|r| r.status == 200) {
                    return s;
                }
                assert!(s.running(), "seuss serve --action-proxy exited: {}", s.stderr.lock().unwrap());
                std::thread::sleep(Duration::from_millis(50));
            }
            panic!("seuss serve --action-proxy did not answer /healthz in time");
        }
        while s.key.is_empty() {
            let left = until.saturating_duration_since(Instant::now());
            let line = rx.recv_timeout(left).unwrap_or_else(|_| panic!("seuss serve did not start: {}", s.stderr.lock().unwrap()));
            if let Some(rest) = line.split("listening on http://").nth(1) {
                s.addr = rest.split_whitespace().next().unwrap().to_owned();
            }
            if let Some(rest) = line.strip_prefix("seuss serve: auth ") {
                s.key = rest.split_whitespace().next().unwrap().to_owned();
            }
        }
        s
    }

    /// `http://ADDR{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// `http://ADDR/api/v1/namespaces/_{path}`.
    pub fn api(&self, path: &str) -> String {
        self.url(&format!("/api/v1/namespaces/_{path}"))
    }

    /// Whether the process still runs.
    pub fn running(&mut self) -> bool {
        self.child.as_mut().is_some_and(|c| c.try_wait().ok().flatten().is_none())
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// Sends SIGTERM and waits (at most `limit`) for the exit.
    pub fn terminate(&mut self, limit: Duration) -> ExitStatus {
        let mut child = self.child.take().expect("running");
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        let until = Instant::now() + limit;
        loop {
            if let Some(st) = child.try_wait().unwrap() {
                return st;
            }
            if Instant::now() > until {
                let _ = child.kill();
                panic!("seuss serve did not exit within {limit:?} of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// A Prometheus metric's value (summed over label sets matching `labels`, e.g. `start="warm"`).
    pub fn metric(&self, name: &str, labels: &str) -> f64 {
        let text = call("GET", &self.url("/metrics"), None, None).body;
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .filter(|l| l.starts_with(&format!("{name} ")) || l.starts_with(&format!("{name}{{")))
            .filter(|l| labels.is_empty() || l.contains(labels))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    /// Count of sentinel lines on (stdout, stderr) so far.
    pub fn sentinels(&self) -> (usize, usize) {
        let count = |s: &Arc<Mutex<String>>| s.lock().unwrap().lines().filter(|l| *l == SENTINEL).count();
        (count(&self.stdout), count(&self.stderr))
    }

    /// Waits (at most 10 s) until both streams hold `n` sentinels; returns the counts.
    pub fn wait_sentinels(&self, n: usize) -> (usize, usize) {
        let until = Instant::now() + Duration::from_secs(10);
        loop {
            let c = self.sentinels();
            if (c.0 >= n && c.1 >= n) || Instant::now() > until {
                std::thread::sleep(Duration::from_millis(100));
                return self.sentinels();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stdout and stderr without sentinel lines, trimmed (OpenWhisk's `checkStreams`).
    pub fn streams(&self) -> (String, String) {
        let clean = |s: &Arc<Mutex<String>>| {
            s.lock().unwrap().lines().filter(|l| *l != SENTINEL).collect::<Vec<_>>().join("\n").trim().to_owned()
        };
        (clean(&self.stdout), clean(&self.stderr))
    }

    /// PUT an action from `code` (extra JSON fields merged into the body).
    pub fn create(&self, name: &str, code: &str, extra: Value) -> Reply {
        let mut body = serde_json::json!({"exec": {"kind": "nodejs:default", "code": code}});
        if let (Value::Object(b), Value::Object(e)) = (&mut body, extra) {
            for (k, v) in e {
                if k == "exec" {
                    for (ek, ev) in v.as_object().unwrap() {
                        b["exec"][ek] = ev.clone();
                    }
                } else {
                    b.insert(k, v);
                }
            }
        }
        call("PUT", &self.api(&format!("/actions/{name}?overwrite=false")), Some(&self.key), Some(&body.to_string()))
    }

    /// POST (invoke) `name` with `params` and `query`.
    pub fn invoke(&self, name: &str, query: &str, params: &str) -> Reply {
        call("POST", &self.api(&format!("/actions/{name}?{query}")), Some(&self.key), Some(params))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// OpenWhisk's log sentinel.
pub const SENTINEL: &str = "XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX";

/// An HTTP answer.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: String,
    pub headers: Vec<(String, String)>,
}

impl Reply {
    /// The body as JSON (panics with the body if it is not).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Asserts an OpenWhisk error body: status, JSON content type, `error` containing `needle`,
    /// and a 32-character `code` equal to X-Request-ID.
    pub fn assert_error(&self, status: u16, needle: &str) {
        assert_eq!(self.status, status, "{self:?}");
        assert!(self.header("content-type").is_some_and(|c| c.starts_with("application/json")), "{self:?}");
        let v = self.json();
        let err = v["error"].as_str().unwrap_or_else(|| panic!("no error string: {v}"));
        assert!(err.contains(needle), "{err:?} does not contain {needle:?}");
        let code = v["code"].as_str().expect("code");
        assert_eq!(code.len(), 32, "{v}");
        assert_eq!(self.header("x-request-id"), Some(code));
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).timeout_global(Some(Duration::from_secs(120))).build().into()
}

/// One request with Basic auth `UUID:KEY` (if given) and a JSON body (if given).
pub fn call(method: &str, url: &str, auth: Option<&str>, body: Option<&str>) -> Reply {
    call_bytes(method, url, auth, body.map(|b| b.as_bytes().to_vec()))
}

/// A request without auth or body; `None` when it cannot connect.
pub fn try_call(method: &str, url: &str) -> Option<Reply> {
    send(method, url, None, None).ok()
}

/// [`call`] with raw body bytes.
pub fn call_bytes(method: &str, url: &str, auth: Option<&str>, body: Option<Vec<u8>>) -> Reply {
    send(method, url, auth, body).unwrap_or_else(|e| panic!("{method} {url}: {e}"))
}

fn send(method: &str, url: &str, auth: Option<&str>, body: Option<Vec<u8>>) -> Result<Reply, ureq::Error> {
    let mut req = ureq::http::Request::builder().method(method).uri(url);
    if let Some(a) = auth {
        req = req.header("Authorization", format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(a)));
    }
    if body.is_some() {
        req = req.header("Content-Type", "application/json");
    }
    let req = req.body(body.unwrap_or_default()).unwrap();
    let mut resp = agent().run(req)?;
    let headers = resp.headers().iter().map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_owned())).collect();
    let status = resp.status().as_u16();
    let body = resp.body_mut().with_config().limit(64 * 1024 * 1024).read_to_string().unwrap_or_default();
    Ok(Reply { status, body, headers })
}

/// Polls `f` every 50 ms until it returns `Some`, at most `limit`.
pub fn wait_for<T>(limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let until = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < until, "condition not met within {limit:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
