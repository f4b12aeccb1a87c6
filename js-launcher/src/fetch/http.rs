//! HTTP/1.1 on bytes (no I/O): the request head `fetch` writes, the response head it parses
//! (with `httparse`), and the body framing it decodes (`Content-Length`, chunked transfer
//! coding, or "until the server closes").

use std::fmt::Write as _;

use thiserror::Error;

/// Longest response head accepted (status line and header fields).
pub const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Most response header fields accepted.
pub const MAX_HEADERS: usize = 256;
/// Largest response body accepted (the body is buffered whole).
pub const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// A malformed or over-large response.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum HttpError {
    /// The response head could not be parsed.
    #[error("invalid HTTP response: {0}")]
    BadHead(String),
    /// The response head is longer than [`MAX_HEAD_BYTES`] or has more than [`MAX_HEADERS`] fields.
    #[error("the response head exceeds the limit of {MAX_HEAD_BYTES} bytes and {MAX_HEADERS} header fields")]
    HeadTooLarge,
    /// The response body is longer than [`MAX_BODY_BYTES`].
    #[error("the response body exceeds the 64 MiB limit of fetch in this runtime")]
    BodyTooLarge,
    /// `Content-Length` is not a number, or differs between repeated fields.
    #[error("invalid content-length header: {0:?}")]
    BadContentLength(String),
    /// A chunk of a chunked body is malformed.
    #[error("invalid chunked encoding in the response body")]
    BadChunk,
}

/// What the request head needs to know.
#[derive(Debug)]
pub struct RequestHead<'a> {
    /// Method (already validated as an HTTP token by the JS side).
    pub method: &'a str,
    /// Path and query, e.g. `/a?b=c`.
    pub target: &'a str,
    /// The `Host` header's value (`host` or `host:port`).
    pub host: &'a str,
    /// Header fields from the request (names and values validated by the JS side).
    pub headers: &'a [(String, String)],
    /// Body length (`None`: no body).
    pub body_len: Option<usize>,
}

/// Serialises a request head. Adds `Host`, `Connection: keep-alive`, `Content-Length` (a
/// `POST`/`PUT` without a body sends `0`, as fetch does), and defaults for `Accept` and
/// `User-Agent` when the request has none; drops header fields that fetch does not let a
/// script set (`Host`, `Connection`, `Content-Length`, `Transfer-Encoding`, `Keep-Alive`,
/// `Upgrade`, `TE`, `Trailer`).
pub fn encode_request(head: &RequestHead<'_>) -> Vec<u8> {
    let mut s = String::with_capacity(256);
    let _ = write!(s, "{} {} HTTP/1.1\r\nhost: {}\r\nconnection: keep-alive\r\n", head.method, head.target, head.host);
    let mut out = s.into_bytes();
    let has = |name: &str| head.headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
    for (name, value) in head.headers {
        let lower = name.to_ascii_lowercase();
        if matches!(
            lower.as_str(),
            "host" | "connection" | "content-length" | "transfer-encoding" | "keep-alive" | "upgrade" | "te" | "trailer"
        ) {
            continue;
        }
        // Header values are byte strings: one byte per character (the JS side checked < 256).
        out.extend(name.chars().map(|c| c as u32 as u8));
        out.extend_from_slice(b": ");
        out.extend(value.chars().map(|c| c as u32 as u8));
        out.extend_from_slice(b"\r\n");
    }
    let mut s = String::new();
    if !has("accept") {
        s.push_str("accept: */*\r\n");
    }
    if !has("user-agent") {
        s.push_str("user-agent: seuss-js\r\n");
    }
    match head.body_len {
        Some(n) => {
            let _ = write!(s, "content-length: {n}\r\n");
        }
        None if head.method == "POST" || head.method == "PUT" => s.push_str("content-length: 0\r\n"),
        None => {}
    }
    s.push_str("\r\n");
    out.extend_from_slice(s.as_bytes());
    out
}

/// A parsed response head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHead {
    /// Status code.
    pub status: u16,
    /// Reason phrase (bytes as Latin-1, as fetch's `statusText`).
    pub reason: String,
    /// Header fields in arrival order (values as Latin-1 strings, as fetch's `Headers`).
    pub headers: Vec<(String, String)>,
    /// Whether the server lets the connection be reused after this response.
    pub keep_alive: bool,
}

/// How long an idle connection is reused without a `Keep-Alive: timeout=N` hint (undici's
/// default).
const DEFAULT_KEEP_ALIVE_NS: u64 = 4_000_000_000;

impl ResponseHead {
    /// How long the connection may stay idle and still be reused: the server's
    /// `Keep-Alive: timeout=N` less one second (as undici does, so a request never races the
    /// server's close), else 4 s.
    pub fn keep_alive_ns(&self) -> u64 {
        let hint = self
            .values("keep-alive")
            .flat_map(|v| v.split(','))
            .filter_map(|p| p.trim().strip_prefix("timeout="))
            .find_map(|n| n.trim().parse::<u64>().ok());
        match hint {
            Some(secs) => secs.saturating_sub(1).saturating_mul(1_000_000_000),
            None => DEFAULT_KEEP_ALIVE_NS,
        }
    }

    fn values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers.iter().filter(move |(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

fn latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| b as char).collect()
}

/// Parses a response head from the start of `buf`: `Ok(None)` when more bytes are needed,
/// else the head and its length in bytes. Interim `1xx` responses (other than `101`) are
/// skipped, as fetch does.
pub fn parse_head(buf: &[u8]) -> Result<Option<(ResponseHead, usize)>, HttpError> {
    let mut start = 0;
    loop {
        let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut resp = httparse::Response::new(&mut fields);
        let status = match resp.parse(&buf[start..]) {
            Ok(s) => s,
            Err(httparse::Error::TooManyHeaders) => return Err(HttpError::HeadTooLarge),
            Err(e) => return Err(HttpError::BadHead(e.to_string())),
        };
        let len = match status {
            httparse::Status::Complete(len) => len,
            httparse::Status::Partial => {
                return if buf.len() - start > MAX_HEAD_BYTES { Err(HttpError::HeadTooLarge) } else { Ok(None) };
            }
        };
        if len > MAX_HEAD_BYTES {
            return Err(HttpError::HeadTooLarge);
        }
        let code = resp.code.unwrap_or(0);
        if (100..200).contains(&code) && code != 101 {
            start += len;
            continue;
        }
        let minor = resp.version.unwrap_or(1);
        let headers: Vec<(String, String)> =
            resp.headers.iter().map(|h| (h.name.to_owned(), latin1(h.value))).collect();
        let mut head = ResponseHead { status: code, reason: resp.reason.map(|r| latin1(r.as_bytes())).unwrap_or_default(), headers, keep_alive: false };
        let connection: Vec<String> =
            head.values("connection").flat_map(|v| v.split(',')).map(|t| t.trim().to_ascii_lowercase()).collect();
        head.keep_alive = if minor >= 1 {
            !connection.iter().any(|t| t == "close")
        } else {
            connection.iter().any(|t| t == "keep-alive")
        };
        return Ok(Some((head, start + len)));
    }
}

/// How the response body ends.
#[derive(Debug)]
pub enum Framing {
    /// No body (`HEAD`, `204`, `304`).
    Empty,
    /// `Content-Length` bytes remain.
    Length(u64),
    /// Chunked transfer coding.
    Chunked(Chunked),
    /// Until the server closes the connection (the connection is not reused).
    UntilClose,
}

impl Framing {
    /// The framing of `head`'s body, for a request made with `method`.
    pub fn of(head: &ResponseHead, method: &str) -> Result<Self, HttpError> {
        if method == "HEAD" || head.status == 204 || head.status == 304 || (100..200).contains(&head.status) {
            return Ok(Framing::Empty);
        }
        let codings: Vec<String> =
            head.values("transfer-encoding").flat_map(|v| v.split(',')).map(|t| t.trim().to_ascii_lowercase()).collect();
        if let Some(last) = codings.last() {
            return Ok(if last == "chunked" { Framing::Chunked(Chunked::default()) } else { Framing::UntilClose });
        }
        let mut length: Option<u64> = None;
        for value in head.values("content-length") {
            for part in value.split(',') {
                let part = part.trim();
                let n: u64 = part
                    .parse()
                    .ok()
                    .filter(|_| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))
                    .ok_or_else(|| HttpError::BadContentLength(value.to_owned()))?;
                if length.is_some_and(|l| l != n) {
                    return Err(HttpError::BadContentLength(value.to_owned()));
                }
                length = Some(n);
            }
        }
        Ok(match length {
            Some(0) => Framing::Empty,
            Some(n) if n > MAX_BODY_BYTES as u64 => return Err(HttpError::BodyTooLarge),
            Some(n) => Framing::Length(n),
            None => Framing::UntilClose,
        })
    }

    /// Whether the connection can carry another request once this body is complete.
    pub fn reusable(&self) -> bool {
        !matches!(self, Framing::UntilClose)
    }

    /// Decodes body bytes from `input` into `out`; returns how many input bytes were used and
    /// whether the body is complete. Bytes after the end of the body are left unused.
    pub fn decode(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(usize, bool), HttpError> {
        let (used, done) = match self {
            Framing::Empty => (0, true),
            Framing::Length(remaining) => {
                let n = input.len().min(usize::try_from(*remaining).unwrap_or(usize::MAX));
                out.extend_from_slice(&input[..n]);
                *remaining -= n as u64;
                (n, *remaining == 0)
            }
            Framing::Chunked(c) => c.decode(input, out)?,
            Framing::UntilClose => {
                out.extend_from_slice(input);
                (input.len(), false)
            }
        };
        if out.len() > MAX_BODY_BYTES {
            return Err(HttpError::BodyTooLarge);
        }
        Ok((used, done))
    }

    /// The body's end when the server closes the connection: complete for
    /// [`Framing::UntilClose`], truncated otherwise.
    pub fn complete_at_eof(&self) -> bool {
        matches!(self, Framing::UntilClose | Framing::Empty)
    }
}

/// State of the chunked transfer decoder.
#[derive(Debug, Default)]
pub enum Chunked {
    /// Expecting a chunk-size line.
    #[default]
    Size,
    /// Inside a chunk's data, with this many bytes left.
    Data(u64),
    /// Expecting the CRLF after a chunk's data.
    DataEnd,
    /// After the last (zero-size) chunk: trailer fields until an empty line.
    Trailers,
    /// The body is complete.
    Done,
}

impl Chunked {
    fn decode(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(usize, bool), HttpError> {
        let mut pos = 0;
        loop {
            let rest = &input[pos..];
            match self {
                Chunked::Done => return Ok((pos, true)),
                Chunked::Size => match httparse::parse_chunk_size(rest) {
                    Ok(httparse::Status::Complete((used, size))) => {
                        pos += used;
                        *self = if size == 0 { Chunked::Trailers } else { Chunked::Data(size) };
                    }
                    Ok(httparse::Status::Partial) => {
                        return if rest.len() > 1024 { Err(HttpError::BadChunk) } else { Ok((pos, false)) };
                    }
                    Err(_) => return Err(HttpError::BadChunk),
                },
                Chunked::Data(left) => {
                    if rest.is_empty() {
                        return Ok((pos, false));
                    }
                    let n = rest.len().min(usize::try_from(*left).unwrap_or(usize::MAX));
                    if out.len() + n > MAX_BODY_BYTES {
                        return Err(HttpError::BodyTooLarge);
                    }
                    out.extend_from_slice(&rest[..n]);
                    pos += n;
                    *left -= n as u64;
                    if *left == 0 {
                        *self = Chunked::DataEnd;
                    }
                }
                Chunked::DataEnd => {
                    if rest.len() < 2 {
                        return Ok((pos, false));
                    }
                    if &rest[..2] != b"\r\n" {
                        return Err(HttpError::BadChunk);
                    }
                    pos += 2;
                    *self = Chunked::Size;
                }
                Chunked::Trailers => {
                    let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") else {
                        return if rest.len() > MAX_HEAD_BYTES { Err(HttpError::HeadTooLarge) } else { Ok((pos, false)) };
                    };
                    pos += eol + 2;
                    if eol == 0 {
                        *self = Chunked::Done;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(text: &str) -> ResponseHead {
        parse_head(text.as_bytes()).unwrap().unwrap().0
    }

    #[test]
    fn request_head_has_host_length_and_defaults() {
        let headers = vec![("Content-Type".to_owned(), "text/plain".to_owned()), ("Host".to_owned(), "evil".to_owned())];
        let bytes = encode_request(&RequestHead { method: "POST", target: "/a?b", host: "h:8", headers: &headers, body_len: Some(3) });
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.starts_with("POST /a?b HTTP/1.1\r\nhost: h:8\r\nconnection: keep-alive\r\n"), "{text}");
        assert!(text.contains("Content-Type: text/plain\r\n"));
        assert!(!text.contains("evil"));
        assert!(text.ends_with("content-length: 3\r\n\r\n"));
        let bytes = encode_request(&RequestHead { method: "PUT", target: "/", host: "h", headers: &[], body_len: None });
        assert!(String::from_utf8(bytes).unwrap().contains("content-length: 0\r\n"));
    }

    #[test]
    fn head_parsing_skips_interim_and_reads_keep_alive() {
        let text = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 404 Not Found\r\nX-A: 1\r\nConnection: close\r\n\r\nbody";
        let (h, len) = parse_head(text.as_bytes()).unwrap().unwrap();
        assert_eq!((h.status, h.reason.as_str(), h.keep_alive), (404, "Not Found", false));
        assert_eq!(&text[len..], "body");
        assert!(head("HTTP/1.1 200 OK\r\n\r\n").keep_alive);
        assert_eq!(head("HTTP/1.1 200 OK\r\nKeep-Alive: timeout=5\r\n\r\n").keep_alive_ns(), 4_000_000_000);
        assert_eq!(head("HTTP/1.1 200 OK\r\nKeep-Alive: max=9, timeout=1\r\n\r\n").keep_alive_ns(), 0);
        assert_eq!(head("HTTP/1.1 200 OK\r\n\r\n").keep_alive_ns(), DEFAULT_KEEP_ALIVE_NS);
        assert!(!head("HTTP/1.0 200 OK\r\n\r\n").keep_alive);
        assert!(head("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\n\r\n").keep_alive);
        assert_eq!(parse_head(b"HTTP/1.1 200 OK\r\nA: b").unwrap(), None);
        assert!(matches!(parse_head(b"HTTX/1.1 200 OK\r\n\r\n"), Err(HttpError::BadHead(_))));
    }

    #[test]
    fn framing_rules() {
        let f = |t: &str, m: &str| Framing::of(&head(t), m);
        assert!(matches!(f("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", "GET"), Ok(Framing::Length(5))));
        assert!(matches!(f("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", "HEAD"), Ok(Framing::Empty)));
        assert!(matches!(f("HTTP/1.1 204 No Content\r\n\r\n", "GET"), Ok(Framing::Empty)));
        assert!(matches!(f("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", "GET"), Ok(Framing::Chunked(_))));
        assert!(matches!(f("HTTP/1.1 200 OK\r\n\r\n", "GET"), Ok(Framing::UntilClose)));
        assert!(matches!(f("HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n", "GET"), Err(HttpError::BadContentLength(_))));
        assert!(matches!(f("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "GET"), Err(HttpError::BadContentLength(_))));
        assert!(matches!(f("HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n", "GET"), Err(HttpError::BodyTooLarge)));
    }

    #[test]
    fn chunked_decoding_byte_by_byte() {
        let body = b"4;ext=1\r\nWiki\r\n5\r\npedia\r\n0\r\nX-Trailer: y\r\n\r\nNEXT";
        let mut framing = Framing::Chunked(Chunked::default());
        let mut out = Vec::new();
        let mut pending: Vec<u8> = Vec::new();
        let mut done = false;
        let mut consumed_total = 0;
        for &b in body.iter() {
            pending.push(b);
            let (used, d) = framing.decode(&pending, &mut out).unwrap();
            pending.drain(..used);
            consumed_total += used;
            if d {
                done = true;
                break;
            }
        }
        assert!(done);
        assert_eq!(out, b"Wikipedia");
        assert_eq!(&body[consumed_total..], b"NEXT");
        let mut bad = Framing::Chunked(Chunked::default());
        assert_eq!(bad.decode(b"zz\r\n", &mut Vec::new()), Err(HttpError::BadChunk));
        let mut bad = Framing::Chunked(Chunked::default());
        assert_eq!(bad.decode(b"1\r\nabc", &mut Vec::new()), Err(HttpError::BadChunk));
    }

    #[test]
    fn length_framing_stops_at_the_body_end() {
        let mut f = Framing::Length(3);
        let mut out = Vec::new();
        assert_eq!(f.decode(b"abcdef", &mut out).unwrap(), (3, true));
        assert_eq!(out, b"abc");
    }
}
