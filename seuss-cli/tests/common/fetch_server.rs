//! The local HTTP server of the fetch tests (`node/fetch-server.mjs`: 127.0.0.1 only, exits
//! when its stdin closes or after 120 s).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use super::root;

/// The test server; killed on drop (and it exits by itself when our stdin pipe closes).
pub struct Server {
    child: Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
}

impl Server {
    /// Starts the server and reads its port.
    pub fn start() -> Self {
        let mut child = Command::new("node")
            .arg(root().join("seuss-cli/node/fetch-server.mjs"))
            .arg("120000")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starting node fetch-server.mjs");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped")).read_line(&mut line).expect("server's first line");
        let v: serde_json::Value = serde_json::from_str(line.trim()).unwrap_or_else(|e| panic!("server said {line:?}: {e}"));
        let port = v["port"].as_u64().expect("port") as u16;
        Server { child, port }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

