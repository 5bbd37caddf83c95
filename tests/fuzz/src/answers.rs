//! Outside answers for the real HTTP clients: a loopback HTTP/1.1 server that answers each
//! request with the next record of an *answer script* taken from the fuzz input.
//!
//! The Webex and WFO clients decode what servers say in many places (status, `Link`,
//! `Retry-After`, tracking ids, error bodies, list pages, single objects, audio bodies).
//! Rather than re-implementing any of that, the conversation targets call the clients'
//! public entry points, pointed at this server, so every byte of an answer goes through
//! the production code path. The server only frames answers correctly (a
//! `Content-Length` that matches the body, no body on `204`/`304`): HTTP framing is
//! hyper's job and out of scope; what is fuzzed is what the connector makes of the
//! answer.
//!
//! # Script format
//!
//! Records are separated by a line `###`. Each record is
//!
//! ```text
//! <status>
//! <Header-Name>: <value>     (zero or more lines of this shape; a space after the colon)
//! <body ...>                 (everything else, up to the next separator)
//! ```
//!
//! A first line starting with `@` is a directive for the target (which call to make).
//! `{{ORIGIN}}` anywhere is replaced by the server's `http://127.0.0.1:<port>`, so an
//! answer can point the client back here (a download link, a `Link` target). A status
//! that is not a number in 100..=999 reads as 200, and 1xx as 200 (an interim answer would
//! leave the client waiting for one that never comes). Header names lose characters that
//! are not token characters, values lose control characters, and the framing headers
//! (`Content-Length`, `Transfer-Encoding`, `Connection`) are dropped. When the script runs
//! out, every further request gets the fallback answer `200` with body `{}`, and after
//! [`MAX_REQUESTS`] requests in one conversation, `400`, so a client that loops ends.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

use crate::mutate::{RECORD_SEPARATOR, find};

/// Requests answered from one script before the server answers only `400`.
pub const MAX_REQUESTS: usize = 2000;

/// Longest request head read (the clients' requests are far smaller).
const MAX_HEAD: usize = 64 * 1024;

/// One HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
}

impl Answer {
    fn fallback() -> Self {
        Answer {
            status: 200,
            headers: vec![("content-type".to_owned(), b"application/json".to_vec())],
            body: b"{}".to_vec(),
        }
    }

    fn refusal() -> Self {
        Answer {
            status: 400,
            headers: Vec::new(),
            body: b"{\"message\":\"too many requests in one conversation\"}".to_vec(),
        }
    }

    /// The answer on the wire.
    fn to_bytes(&self) -> Vec<u8> {
        let no_body = matches!(self.status, 204 | 304);
        let mut out = format!("HTTP/1.1 {} Fuzz\r\n", self.status).into_bytes();
        for (name, value) in &self.headers {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value);
            out.extend_from_slice(b"\r\n");
        }
        if no_body {
            out.extend_from_slice(b"\r\n");
        } else {
            out.extend_from_slice(format!("content-length: {}\r\n\r\n", self.body.len()).as_bytes());
            out.extend_from_slice(&self.body);
        }
        out
    }
}

/// A parsed answer script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    /// The `@…` first line, without the `@`.
    pub directive: Option<String>,
    pub answers: Vec<Answer>,
}

const FRAMING_HEADERS: [&str; 7] = [
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "upgrade",
    "te",
    "trailer",
];

impl Script {
    /// Reads a script (see the module documentation); `origin` replaces `{{ORIGIN}}`.
    pub fn parse(input: &[u8], origin: &str) -> Script {
        let input = replace_all(input, b"{{ORIGIN}}", origin.as_bytes());
        let mut rest: &[u8] = &input;
        let mut directive = None;
        if rest.first() == Some(&b'@') {
            let end = rest.iter().position(|&c| c == b'\n').unwrap_or(rest.len());
            directive = Some(String::from_utf8_lossy(&rest[1..end]).trim().to_owned());
            rest = &rest[(end + 1).min(rest.len())..];
        }
        let mut answers = Vec::new();
        loop {
            let (record, next) = match find(rest, RECORD_SEPARATOR) {
                Some(at) => (&rest[..at], Some(&rest[at + RECORD_SEPARATOR.len()..])),
                None => (rest, None),
            };
            answers.push(parse_record(record));
            match next {
                Some(n) => rest = n,
                None => break,
            }
        }
        Script { directive, answers }
    }
}

fn parse_record(record: &[u8]) -> Answer {
    let mut lines = record.split_inclusive(|&c| c == b'\n');
    let status_line = lines.next().unwrap_or_default();
    let status = std::str::from_utf8(status_line)
        .ok()
        .and_then(|s| s.trim().parse::<u16>().ok())
        .filter(|s| (200..=999).contains(s))
        .unwrap_or(200);
    let mut consumed = status_line.len();
    let mut headers = Vec::new();
    for line in lines {
        let Some(colon) = line.iter().position(|&c| c == b':') else {
            break;
        };
        let name = &line[..colon];
        let spaced = matches!(line.get(colon + 1), None | Some(b' ' | b'\t' | b'\r' | b'\n'));
        if name.is_empty()
            || !spaced
            || !name
                .iter()
                .all(|c| c.is_ascii_alphanumeric() || *c == b'-' || *c == b'_')
        {
            break;
        }
        consumed += line.len();
        let name = String::from_utf8_lossy(name).to_ascii_lowercase();
        if FRAMING_HEADERS.contains(&name.as_str()) {
            continue;
        }
        let value: Vec<u8> = line[colon + 1..]
            .iter()
            .copied()
            .filter(|&c| c == b'\t' || (c >= 0x20 && c != 0x7f))
            .collect();
        let value = value.trim_ascii().to_vec();
        headers.push((name, value));
    }
    Answer {
        status,
        headers,
        body: record[consumed..].to_vec(),
    }
}

fn replace_all(hay: &[u8], needle: &[u8], with: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(hay.len());
    let mut rest = hay;
    while let Some(at) = find(rest, needle) {
        out.extend_from_slice(&rest[..at]);
        out.extend_from_slice(with);
        rest = &rest[at + needle.len()..];
    }
    out.extend_from_slice(rest);
    out
}

#[derive(Default)]
struct State {
    answers: VecDeque<Answer>,
    served: usize,
}

/// The loopback server. Spawn it inside the runtime that runs the clients.
pub struct AnswerServer {
    origin: String,
    state: Arc<Mutex<State>>,
    requests: Arc<AtomicUsize>,
}

impl AnswerServer {
    /// Binds `127.0.0.1:0` and serves on the current tokio runtime.
    pub async fn start() -> std::io::Result<AnswerServer> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let origin = format!("http://{}", listener.local_addr()?);
        let state = Arc::new(Mutex::new(State::default()));
        let requests = Arc::new(AtomicUsize::new(0));
        let (s, r) = (state.clone(), requests.clone());
        tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                tokio::spawn(serve(conn, s.clone(), r.clone()));
            }
        });
        Ok(AnswerServer {
            origin,
            state,
            requests,
        })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Parses `input` and makes its answers the next ones served.
    pub fn load(&self, input: &[u8]) -> Script {
        let script = Script::parse(input, &self.origin);
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.answers = script.answers.iter().cloned().collect();
        state.served = 0;
        self.requests.store(0, Ordering::Relaxed);
        script
    }

    /// Requests served since the last [`AnswerServer::load`].
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::Relaxed)
    }

    /// The answers of the loaded script not yet served.
    pub fn unserved(&self) -> usize {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).answers.len()
    }
}

async fn serve(conn: TcpStream, state: Arc<Mutex<State>>, requests: Arc<AtomicUsize>) {
    let _ = conn.set_nodelay(true);
    let mut conn = BufReader::new(conn);
    loop {
        // Request head.
        let mut head = Vec::new();
        loop {
            let before = head.len();
            match conn.read_until(b'\n', &mut head).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let line = &head[before..];
            if line == b"\r\n" || line == b"\n" {
                break;
            }
            if head.len() > MAX_HEAD {
                return;
            }
        }
        let text = String::from_utf8_lossy(&head).to_ascii_lowercase();
        let chunked = text.contains("transfer-encoding: chunked");
        let length = text
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(0);
        // Request body: read and dropped.
        if chunked {
            if discard_chunked(&mut conn).await.is_err() {
                return;
            }
        } else if tokio::io::copy(&mut (&mut conn).take(length), &mut tokio::io::sink())
            .await
            .is_err()
        {
            return;
        }
        requests.fetch_add(1, Ordering::Relaxed);
        let answer = {
            let mut st = state.lock().unwrap_or_else(|p| p.into_inner());
            st.served += 1;
            if st.served > MAX_REQUESTS {
                Answer::refusal()
            } else {
                st.answers.pop_front().unwrap_or_else(Answer::fallback)
            }
        };
        if conn.get_mut().write_all(&answer.to_bytes()).await.is_err() {
            return;
        }
    }
}

async fn discard_chunked(conn: &mut BufReader<TcpStream>) -> std::io::Result<()> {
    loop {
        let mut line = Vec::new();
        if conn.read_until(b'\n', &mut line).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let size = std::str::from_utf8(&line)
            .ok()
            .and_then(|l| u64::from_str_radix(l.trim().split(';').next().unwrap_or("0"), 16).ok())
            .unwrap_or(0);
        if size == 0 {
            // Trailers end with an empty line.
            loop {
                let mut t = Vec::new();
                if conn.read_until(b'\n', &mut t).await? == 0 || t == b"\r\n" || t == b"\n" {
                    return Ok(());
                }
            }
        }
        tokio::io::copy(&mut (&mut *conn).take(size + 2), &mut tokio::io::sink()).await?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_script_reads_status_headers_body_and_directive() {
        let s = Script::parse(
            b"@call\n404\nRetry-After: 5\nContent-Length: 3\n{\"a\":1}\n###\n200\n{{ORIGIN}}/x",
            "http://h",
        );
        assert_eq!(s.directive.as_deref(), Some("call"));
        assert_eq!(s.answers.len(), 2);
        assert_eq!(s.answers[0].status, 404);
        assert_eq!(s.answers[0].headers, vec![("retry-after".to_owned(), b"5".to_vec())]);
        assert_eq!(s.answers[0].body, b"{\"a\":1}");
        assert_eq!(s.answers[1].status, 200);
        assert_eq!(s.answers[1].body, b"http://h/x");
    }

    #[test]
    fn bad_statuses_read_as_200_and_bodies_are_not_sent_with_204() {
        for (line, want) in [("abc", 200), ("101", 200), ("1000", 200), ("999", 999), ("", 200)] {
            assert_eq!(parse_record(format!("{line}\nbody").as_bytes()).status, want, "{line}");
        }
        let a = parse_record(b"204\nx: y\nbody");
        assert!(!String::from_utf8_lossy(&a.to_bytes()).contains("body"));
    }
}
