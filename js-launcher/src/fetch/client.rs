//! The HTTP/1.1 client under `fetch`: one I/O task per request, advanced over non-blocking
//! sockets, and a small pool of idle keep-alive connections. Single-threaded; knows nothing
//! of JavaScript: a task carries an opaque *waiter* `W` (the JS side's promise resolvers)
//! that it hands back in a [`Completion`].
//!
//! One task's state machine (each arrow is taken as far as the socket allows without
//! blocking, then the task waits for readiness through [`crate::platform::net::poll`]):
//!
//! ```text
//!  Start ──pooled idle connection──────────────────────┐
//!    │ resolve name (std ToSocketAddrs; IP literals    │
//!    │ need none), connect_start (non-blocking)        ▼
//!    └──► Connecting ──writable, SO_ERROR = 0──► Writing ──request sent──► Head
//!           │ refused/unreachable: next address          │ (write/EOF failure on a reused
//!           ▼ none left                                  │  connection before any response
//!         Failed ◄───────────── any I/O or HTTP error ───┤  byte: back to Start, once, on
//!           ▲                                            │  a fresh connection)
//!           │                          head parsed ──► Completion::Head
//!           └──────────────────── Body ◄───────────────┘
//!                                   │ body complete ──► Completion::Body (if claimed);
//!                                   ▼                    connection back to the pool
//!                                Finished                (keep-alive, nothing left over)
//! ```
//!
//! A task's result waits in the table until the JS side claims the body
//! ([`Client::claim_body`]); [`Client::release`] drops everything left at the end of an
//! invocation (unclaimed bodies, idle connections), [`Client::clear`] also drops tasks in
//! flight, so nothing network-related survives into the next invocation (or a snapshot).

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use crate::fetch::http::{self, Framing, HttpError, ResponseHead};
use crate::platform::net::{self as sys, Interest, PollEntry};

/// Idle keep-alive connections kept per invocation (over all origins).
const MAX_IDLE: usize = 16;
/// Read size per `recv`.
const READ_CHUNK: usize = 64 * 1024;

/// One request, as the JS side hands it over (already validated there).
#[derive(Debug)]
pub struct Request {
    /// Method token.
    pub method: String,
    /// Host name or IP literal (IPv6 without brackets).
    pub host: String,
    /// Port.
    pub port: u16,
    /// The `Host` header value.
    pub authority: String,
    /// Path and query.
    pub target: String,
    /// Header fields.
    pub headers: Vec<(String, String)>,
    /// Body bytes, if any.
    pub body: Option<Vec<u8>>,
}

/// Why a request failed, with what Node.js's fetch reports in its `cause`.
#[derive(Debug)]
pub enum NetError {
    /// The host name did not resolve.
    Dns {
        /// The name.
        host: String,
        /// The resolver's message.
        detail: String,
    },
    /// Connecting failed (for the last address tried).
    Connect {
        /// The address.
        addr: SocketAddr,
        /// The error.
        err: io::Error,
    },
    /// Reading or writing the connection failed.
    Io {
        /// `"read"` or `"write"`.
        syscall: &'static str,
        /// The error.
        err: io::Error,
    },
    /// The server closed the connection before the response was complete.
    Closed,
    /// The response is malformed or over a limit.
    Http(HttpError),
}

/// A settled step of a task, with the waiter to settle.
#[derive(Debug)]
pub enum Completion<W> {
    /// The response head arrived (or the request failed before it did).
    Head(W, Result<ResponseHead, NetError>),
    /// The body is complete (or failed).
    Body(W, Result<Vec<u8>, NetError>),
}

#[derive(Debug)]
enum Stage {
    Start,
    Connecting { addrs: Vec<SocketAddr>, next: usize },
    Writing,
    Head,
    Body,
    Finished,
    Failed(NetError),
}

#[derive(Debug)]
struct Task<W> {
    request: Request,
    wire: Vec<u8>,
    written: usize,
    stage: Stage,
    conn: Option<TcpStream>,
    reused: bool,
    retried: bool,
    buf: Vec<u8>,
    head: Option<ResponseHead>,
    framing: Framing,
    keep_alive: bool,
    /// How long the connection may stay idle before it is not reused (from the response).
    idle_ns: u64,
    body: Vec<u8>,
    head_waiter: Option<W>,
    body_waiter: Option<W>,
    head_reported: bool,
}

impl<W> Task<W> {
    fn origin(&self) -> (String, u16) {
        (self.request.host.clone(), self.request.port)
    }

    fn interest(&self) -> Option<Interest> {
        match self.stage {
            Stage::Connecting { .. } | Stage::Writing => Some(Interest::Write),
            Stage::Head | Stage::Body => Some(Interest::Read),
            _ => None,
        }
    }
}

/// The client (see the module docs).
#[derive(Debug)]
pub struct Client<W> {
    next_id: u64,
    tasks: BTreeMap<u64, Task<W>>,
    /// Idle connections by origin, with the monotonic time (ns) after which they are not reused.
    idle: Vec<((String, u16), TcpStream, u64)>,
}

impl<W> Default for Client<W> {
    fn default() -> Self {
        Self { next_id: 1, tasks: BTreeMap::new(), idle: Vec::new() }
    }
}

fn is_transient(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted)
}

impl<W> Client<W> {
    /// Starts `request`; `waiter` is handed back with its head. Returns the task's id.
    pub fn start(&mut self, request: Request, waiter: W) -> u64 {
        let wire = http::encode_request(&http::RequestHead {
            method: &request.method,
            target: &request.target,
            host: &request.authority,
            headers: &request.headers,
            body_len: request.body.as_ref().map(Vec::len),
        });
        let id = self.next_id;
        self.next_id += 1;
        let framing = Framing::Empty;
        self.tasks.insert(
            id,
            Task {
                request,
                wire,
                written: 0,
                stage: Stage::Start,
                conn: None,
                reused: false,
                retried: false,
                buf: Vec::new(),
                head: None,
                framing,
                keep_alive: false,
                idle_ns: 0,
                body: Vec::new(),
                head_waiter: Some(waiter),
                body_waiter: None,
                head_reported: false,
            },
        );
        id
    }

    /// Asks for task `id`'s body: the completion is returned at once when the body is already
    /// complete (or failed), else handed back later by [`Client::poll`]. `None` with the waiter
    /// given back means there is no such task (never started, aborted, or released).
    pub fn claim_body(&mut self, id: u64, waiter: W) -> Result<Option<Completion<W>>, W> {
        let Some(task) = self.tasks.get_mut(&id) else { return Err(waiter) };
        match task.stage {
            Stage::Finished => {
                let task = self.tasks.remove(&id).expect("present");
                Ok(Some(Completion::Body(waiter, Ok(task.body))))
            }
            Stage::Failed(_) if task.head_reported => {
                let task = self.tasks.remove(&id).expect("present");
                let Stage::Failed(e) = task.stage else { unreachable!() };
                Ok(Some(Completion::Body(waiter, Err(e))))
            }
            _ => {
                task.body_waiter = Some(waiter);
                Ok(None)
            }
        }
    }

    /// Drops task `id` and its connection (abort, or a body nobody will read).
    pub fn abort(&mut self, id: u64) {
        self.tasks.remove(&id);
    }

    /// Whether some task still waits for the network (results are handed back as soon as they
    /// settle, so nothing else is pending).
    pub fn busy(&self) -> bool {
        self.tasks.values().any(|t| t.interest().is_some() || matches!(t.stage, Stage::Start))
    }

    /// Drops idle connections and unclaimed results; tasks in flight stay.
    pub fn release(&mut self) {
        self.idle.clear();
        self.tasks.retain(|_, t| t.interest().is_some() || matches!(t.stage, Stage::Start));
    }

    /// Drops everything.
    pub fn clear(&mut self) {
        self.idle.clear();
        self.tasks.clear();
    }

    /// Advances every task: waits up to `timeout` for a socket to become ready when no task
    /// can move without waiting (`None`: no limit), then returns what settled.
    pub fn poll(&mut self, timeout: Option<Duration>) -> io::Result<Vec<Completion<W>>> {
        let mut out = Vec::new();
        // Tasks that can move without waiting first (new ones, pending reports).
        let ids: Vec<u64> = self.tasks.keys().copied().collect();
        for id in &ids {
            self.advance(*id, false, &mut out);
        }
        if !out.is_empty() {
            return Ok(out);
        }
        let ids: Vec<u64> = self.tasks.iter().filter(|(_, t)| t.interest().is_some()).map(|(id, _)| *id).collect();
        if ids.is_empty() {
            return Ok(out);
        }
        let mut entries: Vec<PollEntry> = ids
            .iter()
            .map(|id| {
                let t = &self.tasks[id];
                PollEntry {
                    fd: sys::fd_of(t.conn.as_ref().expect("a waiting task has a connection")),
                    interest: t.interest().expect("filtered"),
                    ready: false,
                }
            })
            .collect();
        sys::poll(&mut entries, timeout)?;
        for (id, e) in ids.iter().zip(&entries) {
            if e.ready {
                self.advance(*id, true, &mut out);
            }
        }
        Ok(out)
    }

    fn take_idle(&mut self, origin: &(String, u16)) -> Option<TcpStream> {
        let now = crate::platform::monotonic_ns();
        self.idle.retain(|(_, _, expiry)| *expiry > now);
        while let Some(pos) = self.idle.iter().rposition(|(o, _, _)| o == origin) {
            let (_, conn, _) = self.idle.remove(pos);
            // A connection the server closed (or wrote to) while idle is useless.
            let mut probe = [0u8; 1];
            match (&conn).read(&mut probe) {
                Err(e) if is_transient(&e) => return Some(conn),
                _ => continue,
            }
        }
        None
    }

    /// Moves task `id` as far as it goes without blocking. `ready`: poll said its socket is.
    fn advance(&mut self, id: u64, ready: bool, out: &mut Vec<Completion<W>>) {
        let Some(mut task) = self.tasks.remove(&id) else { return };
        if let Err(e) = self.step(&mut task, ready) {
            task.conn = None;
            task.stage = Stage::Failed(e);
        }
        if !task.head_reported {
            if let Some(head) = task.head.take() {
                task.head_reported = true;
                if let Some(w) = task.head_waiter.take() {
                    out.push(Completion::Head(w, Ok(head)));
                }
            } else if matches!(task.stage, Stage::Failed(_)) {
                let Stage::Failed(e) = std::mem::replace(&mut task.stage, Stage::Finished) else { unreachable!() };
                if let Some(w) = task.head_waiter.take() {
                    out.push(Completion::Head(w, Err(e)));
                }
                return; // the task is over
            } else {
                self.tasks.insert(id, task);
                return;
            }
        }
        match task.stage {
            Stage::Finished => {
                if let Some(conn) = task.conn.take() {
                    if task.keep_alive && task.framing.reusable() && task.buf.is_empty() {
                        if self.idle.len() >= MAX_IDLE {
                            self.idle.remove(0);
                        }
                        let expiry = crate::platform::monotonic_ns().saturating_add(task.idle_ns);
                        self.idle.push((task.origin(), conn, expiry));
                    }
                }
                if let Some(w) = task.body_waiter.take() {
                    out.push(Completion::Body(w, Ok(std::mem::take(&mut task.body))));
                    return;
                }
            }
            Stage::Failed(_) => {
                if let Some(w) = task.body_waiter.take() {
                    let Stage::Failed(e) = std::mem::replace(&mut task.stage, Stage::Finished) else { unreachable!() };
                    out.push(Completion::Body(w, Err(e)));
                    return;
                }
            }
            _ => {}
        }
        self.tasks.insert(id, task);
    }

    fn step(&mut self, task: &mut Task<W>, mut ready: bool) -> Result<(), NetError> {
        loop {
            match &mut task.stage {
                Stage::Start => {
                    let origin = task.origin();
                    if !task.retried {
                        if let Some(conn) = self.take_idle(&origin) {
                            task.conn = Some(conn);
                            task.reused = true;
                            task.stage = Stage::Writing;
                            continue;
                        }
                    }
                    task.reused = false;
                    task.conn = None;
                    let addrs = resolve(&task.request.host, task.request.port)?;
                    task.stage = Stage::Connecting { addrs, next: 0 };
                }
                Stage::Connecting { addrs, next } => {
                    if let Some(conn) = &task.conn {
                        if !ready {
                            return Ok(());
                        }
                        let addr = addrs[*next - 1];
                        let outcome = match conn.take_error() {
                            Ok(None) => conn.peer_addr().map(|_| ()),
                            Ok(Some(e)) | Err(e) => Err(e),
                        };
                        match outcome {
                            Ok(()) => {
                                let _ = conn.set_nodelay(true);
                                task.stage = Stage::Writing;
                                continue;
                            }
                            Err(err) if *next >= addrs.len() => return Err(NetError::Connect { addr, err: sys::connect_error(&task.origin().0, &addr, err) }),
                            Err(_) => task.conn = None,
                        }
                    }
                    let addr = addrs[*next];
                    *next += 1;
                    match sys::connect_start(&addr) {
                        Ok(conn) => {
                            task.conn = Some(conn);
                            ready = false;
                        }
                        Err(err) if *next >= addrs.len() => return Err(NetError::Connect { addr, err: sys::connect_error(&task.origin().0, &addr, err) }),
                        Err(_) => {}
                    }
                }
                Stage::Writing => {
                    let conn = task.conn.as_ref().expect("writing needs a connection");
                    let body = task.request.body.as_deref().unwrap_or_default();
                    let total = task.wire.len() + body.len();
                    while task.written < total {
                        let chunk = if task.written < task.wire.len() {
                            &task.wire[task.written..]
                        } else {
                            &body[task.written - task.wire.len()..]
                        };
                        match (&*conn).write(chunk) {
                            Ok(0) => return self.reused_failed(task, NetError::Closed),
                            Ok(n) => task.written += n,
                            Err(e) if is_transient(&e) => return Ok(()),
                            Err(err) => return self.reused_failed(task, NetError::Io { syscall: "write", err }),
                        }
                    }
                    task.stage = Stage::Head;
                    // The response cannot be there yet: wait for readability.
                    ready = false;
                }
                Stage::Head => {
                    if !ready {
                        return Ok(());
                    }
                    match read_some(task) {
                        Ok(None) => return Ok(()),
                        Ok(Some(0)) if task.buf.is_empty() => return self.reused_failed(task, NetError::Closed),
                        Ok(Some(0)) => return Err(NetError::Closed),
                        Ok(Some(_)) => {}
                        Err(e) if task.buf.is_empty() => return self.reused_failed(task, e),
                        Err(e) => return Err(e),
                    }
                    if let Some((head, len)) = http::parse_head(&task.buf).map_err(NetError::Http)? {
                        task.framing = Framing::of(&head, &task.request.method).map_err(NetError::Http)?;
                        task.keep_alive = head.keep_alive;
                        task.idle_ns = head.keep_alive_ns();
                        task.buf.drain(..len);
                        task.head = Some(head);
                        task.stage = Stage::Body;
                    }
                }
                Stage::Body => {
                    let input = std::mem::take(&mut task.buf);
                    let (used, done) = task.framing.decode(&input, &mut task.body).map_err(NetError::Http)?;
                    task.buf = input[used..].to_vec();
                    if done {
                        task.stage = Stage::Finished;
                        return Ok(());
                    }
                    if !ready {
                        return Ok(());
                    }
                    match read_some(task)? {
                        None => return Ok(()),
                        Some(0) if task.framing.complete_at_eof() => {
                            task.keep_alive = false;
                            task.stage = Stage::Finished;
                            return Ok(());
                        }
                        Some(0) => return Err(NetError::Closed),
                        Some(_) => {}
                    }
                }
                Stage::Finished | Stage::Failed(_) => return Ok(()),
            }
        }
    }

    /// A failure on a connection taken from the pool before any response byte arrived: the
    /// server may have closed it while idle, so start over once on a fresh connection.
    fn reused_failed(&mut self, task: &mut Task<W>, e: NetError) -> Result<(), NetError> {
        if task.reused && !task.retried && task.buf.is_empty() {
            task.retried = true;
            task.reused = false;
            task.conn = None;
            task.written = 0;
            task.stage = Stage::Start;
            return self.step(task, false);
        }
        Err(e)
    }
}

/// Reads what the socket has into `task.buf`: `Some(0)` at end of stream, `None` when it would
/// block.
fn read_some<W>(task: &mut Task<W>) -> Result<Option<usize>, NetError> {
    let conn = task.conn.as_ref().expect("reading needs a connection");
    let old = task.buf.len();
    task.buf.resize(old + READ_CHUNK, 0);
    let r = (&*conn).read(&mut task.buf[old..]);
    task.buf.truncate(old + *r.as_ref().unwrap_or(&0));
    match r {
        Ok(n) => Ok(Some(n)),
        Err(e) if is_transient(&e) => Ok(None),
        Err(err) => Err(NetError::Io { syscall: "read", err }),
    }
}

/// The addresses of `host:port`: IP literals directly, names through the platform's resolver
/// (`getaddrinfo` on the host, `sys_getaddrinfo` in the guest).
fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>, NetError> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    match (host, port).to_socket_addrs() {
        Ok(addrs) => {
            let addrs: Vec<SocketAddr> = addrs.collect();
            if addrs.is_empty() {
                Err(NetError::Dns { host: host.to_owned(), detail: "no addresses".into() })
            } else {
                Ok(addrs)
            }
        }
        Err(e) => Err(NetError::Dns { host: host.to_owned(), detail: e.to_string() }),
    }
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader};
    use std::net::TcpListener;

    use super::*;

    /// A server thread answering `n` requests on one connection with `body`, then closing.
    fn serve(n: usize, body: &'static str) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let (conn, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let mut w = conn;
            for _ in 0..n {
                let mut line = String::new();
                loop {
                    line.clear();
                    if reader.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
                        break;
                    }
                }
                write!(w, "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{body}", body.len()).unwrap();
            }
        });
        port
    }

    fn request(port: u16) -> Request {
        Request {
            method: "GET".into(),
            host: "127.0.0.1".into(),
            port,
            authority: format!("127.0.0.1:{port}"),
            target: "/".into(),
            headers: vec![],
            body: None,
        }
    }

    /// Polls until `id`'s body arrives.
    fn run(client: &mut Client<u32>, id: u64) -> Vec<u8> {
        let mut head = false;
        for _ in 0..1000 {
            for c in client.poll(Some(Duration::from_millis(10))).unwrap() {
                match c {
                    Completion::Head(_, r) => {
                        assert_eq!(r.unwrap().status, 200);
                        head = true;
                        if let Some(Completion::Body(_, b)) = client.claim_body(id, 2).unwrap() {
                            return b.unwrap();
                        }
                    }
                    Completion::Body(_, b) => return b.unwrap(),
                }
            }
        }
        panic!("no response (head: {head})");
    }

    #[test]
    fn keep_alive_reuses_one_connection_and_release_closes_it() {
        let port = serve(2, "hello");
        let mut client: Client<u32> = Client::default();
        let id = client.start(request(port), 1);
        assert_eq!(run(&mut client, id), b"hello");
        assert_eq!(client.idle.len(), 1, "the connection went back to the pool");
        // The server accepts one connection only: the second request must reuse it.
        let id = client.start(request(port), 1);
        assert_eq!(run(&mut client, id), b"hello");
        assert!(!client.busy());
        client.release();
        assert!(client.idle.is_empty() && client.tasks.is_empty());
    }

    #[test]
    fn clear_drops_requests_in_flight() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut client: Client<u32> = Client::default();
        client.start(request(port), 1);
        assert!(client.poll(Some(Duration::from_millis(50))).unwrap().is_empty());
        assert!(client.busy());
        client.clear();
        assert!(!client.busy() && client.tasks.is_empty());
        drop(listener);
    }

    #[test]
    fn refused_connection_reports_the_address() {
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let mut client: Client<u32> = Client::default();
        client.start(request(port), 7);
        for _ in 0..100 {
            if let Some(Completion::Head(w, r)) = client.poll(Some(Duration::from_millis(10))).unwrap().pop() {
                assert_eq!(w, 7);
                match r {
                    Err(NetError::Connect { addr, err }) => {
                        assert_eq!(addr.port(), port);
                        assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
                    }
                    other => panic!("unexpected {other:?}"),
                }
                assert!(!client.busy());
                return;
            }
        }
        panic!("no completion");
    }
}
