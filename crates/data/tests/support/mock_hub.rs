//! A mock Hugging Face Hub on 127.0.0.1 serving the download side of the Hub's HTTP API, as
//! the real Hub answers it, for dataset and model repos alike:
//!
//! - `GET /api/{datasets|models}/{repo}/revision/{rev}` — file list (`siblings`) and commit (`sha`);
//! - `HEAD /datasets/{repo}/resolve/{rev}/{file}` and `HEAD /{repo}/resolve/{rev}/{file}` — the
//!   file's metadata only (`ETag`, `X-Repo-Commit`, `Content-Length`), no body;
//! - `GET` on the same URLs — the content: `200` with the whole file, or `206` with the part a
//!   `Range` header asks for.
//!
//! Files are served as plain (non-Xet) files: no `X-Xet-Hash` header.
//!
//! It can require a bearer token, drop a download half way, list files it then answers 404 for,
//! and logs every request. Shared by `crates/data/tests/hub.rs` and the workspace's `tests/cli.rs`
//! (through `#[path]`), so not every item is used by each.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};

#[path = "server.rs"]
mod server;
use server::Server;

#[derive(Debug, Clone)]
pub struct Logged {
    pub method: String,
    pub path: String,
    pub range: Option<String>,
    pub authorization: Option<String>,
}

#[derive(Default)]
pub struct State {
    pub repos: BTreeMap<String, (String, BTreeMap<String, Vec<u8>>)>,
    pub token: Option<String>,
    pub drop_downloads: usize,
    /// Listed in every repo's file list but answered 404 on download.
    pub ghost_files: Vec<String>,
    pub log: Vec<Logged>,
}

pub struct MockHub {
    server: Server<State>,
    pub state: Arc<Mutex<State>>,
}

impl MockHub {
    pub fn start() -> Self {
        let server = Server::start(|stream, _addr, state| handle(stream, state));
        let state = server.state.clone();
        Self { server, state }
    }

    pub fn endpoint(&self) -> String {
        self.server.endpoint()
    }

    pub fn add_repo(&self, repo: &str, sha: &str, files: BTreeMap<String, Vec<u8>>) {
        self.state
            .lock()
            .unwrap()
            .repos
            .insert(repo.into(), (sha.into(), files));
    }

    pub fn log(&self) -> Vec<Logged> {
        self.state.lock().unwrap().log.clone()
    }

    pub fn clear_log(&self) {
        self.state.lock().unwrap().log.clear();
    }
}

fn respond(
    stream: &mut TcpStream,
    head: bool,
    status: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> std::io::Result<()> {
    let mut reply = format!(
        "HTTP/1.1 {status}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        reply.push_str(&format!("{k}: {v}\r\n"));
    }
    reply.push_str("\r\n");
    stream.write_all(reply.as_bytes())?;
    if !head {
        stream.write_all(body)?;
    }
    stream.flush()
}

fn etag_of(bytes: &[u8]) -> String {
    // Any stable content hash does; the real Hub sends the sha256 of LFS files.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}{:08x}", bytes.len())
}

fn handle(mut stream: TcpStream, state: &Mutex<State>) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut headers = BTreeMap::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let mut words = request_line.split_whitespace();
    let method = words.next().unwrap_or("GET").to_string();
    let path = words.next().unwrap_or("/").to_string();
    let head = method == "HEAD";
    let mut st = state.lock().unwrap();
    st.log.push(Logged {
        method: method.clone(),
        path: path.clone(),
        range: headers.get("range").cloned(),
        authorization: headers.get("authorization").cloned(),
    });
    if let Some(token) = &st.token
        && headers.get("authorization") != Some(&format!("Bearer {token}"))
    {
        return respond(
            &mut stream,
            head,
            "401 Unauthorized",
            &[("X-Error-Code", "GatedRepo".into())],
            b"{\"error\":\"Access to this dataset is restricted\"}",
        );
    }
    let not_found = |stream: &mut TcpStream, code: &str| {
        respond(
            stream,
            head,
            "404 Not Found",
            &[("X-Error-Code", code.into())],
            b"{\"error\":\"Repository not found\"}",
        )
    };
    let api = path
        .strip_prefix("/api/datasets/")
        .or_else(|| path.strip_prefix("/api/models/"));
    if let Some(rest) = api {
        let Some((repo, _rev)) = rest.split_once("/revision/") else {
            return not_found(&mut stream, "RepoNotFound");
        };
        let Some((sha, files)) = st.repos.get(repo) else {
            return not_found(&mut stream, "RepoNotFound");
        };
        let siblings: Vec<String> = files
            .keys()
            .chain(st.ghost_files.iter())
            .map(|f| format!("{{\"rfilename\":\"{f}\"}}"))
            .collect();
        let body = format!(
            "{{\"id\":\"{repo}\",\"sha\":\"{sha}\",\"siblings\":[{}]}}",
            siblings.join(",")
        );
        return respond(
            &mut stream,
            head,
            "200 OK",
            &[("Content-Type", "application/json".into())],
            body.as_bytes(),
        );
    }
    // Datasets resolve under /datasets/, models at the root.
    let rest = path
        .strip_prefix("/datasets/")
        .unwrap_or_else(|| path.trim_start_matches('/'));
    let Some((repo, rev_file)) = rest.split_once("/resolve/") else {
        return not_found(&mut stream, "RepoNotFound");
    };
    let Some((_rev, file)) = rev_file.split_once('/') else {
        return not_found(&mut stream, "EntryNotFound");
    };
    let Some((sha, files)) = st.repos.get(repo) else {
        return not_found(&mut stream, "RepoNotFound");
    };
    let Some(content) = files.get(file) else {
        return not_found(&mut stream, "EntryNotFound");
    };
    let (sha, content) = (sha.clone(), content.clone());
    let total = content.len();
    let range = headers.get("range").and_then(|r| r.strip_prefix("bytes="));
    let (start, end) = match range {
        Some(r) => {
            let (a, b) = r.split_once('-').unwrap();
            let a: usize = a.parse().unwrap();
            let b: usize = if b.is_empty() {
                total - 1
            } else {
                b.parse().unwrap()
            };
            (a, b.min(total - 1))
        }
        None => (0, total - 1),
    };
    let body = &content[start..=end];
    let mut headers = vec![
        ("ETag", format!("\"{}\"", etag_of(&content))),
        ("X-Repo-Commit", sha),
        ("Accept-Ranges", "bytes".into()),
    ];
    let status = if range.is_some() {
        headers.push(("Content-Range", format!("bytes {start}-{end}/{total}")));
        "206 Partial Content"
    } else {
        "200 OK"
    };
    if head {
        // Headers only: the length is the whole file's.
        let mut reply =
            format!("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: {total}\r\n");
        for (k, v) in &headers {
            reply.push_str(&format!("{k}: {v}\r\n"));
        }
        reply.push_str("\r\n");
        stream.write_all(reply.as_bytes())?;
        return stream.flush();
    }
    if st.drop_downloads > 0 {
        st.drop_downloads -= 1;
        drop(st);
        // Promise the whole body, send half of it, hang up.
        let mut reply = format!(
            "HTTP/1.1 {status}\r\nConnection: close\r\nContent-Length: {}\r\n",
            body.len()
        );
        for (k, v) in &headers {
            reply.push_str(&format!("{k}: {v}\r\n"));
        }
        reply.push_str("\r\n");
        stream.write_all(reply.as_bytes())?;
        stream.write_all(&body[..body.len() / 2])?;
        stream.flush()?;
        return stream.shutdown(std::net::Shutdown::Both);
    }
    respond(&mut stream, false, status, &headers, body)
}
