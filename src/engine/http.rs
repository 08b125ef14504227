//! HTTP: the one client every network read goes through (provider requests, the pricing
//! catalogue, notifiers).
//!
//! The rules it enforces, whatever the caller asks:
//! - https only, to hosts the caller's permissions list (exact or subdomain);
//! - loopback only through `TTOP_HTTP_REDIRECT=host=http://127.0.0.1:PORT,...`, which
//!   sends a permitted host to a local server (tests, recorded responses);
//! - redirects are never followed to another host;
//! - response bodies are capped in size;
//! - every request has a timeout.
//!
//! Error text never contains headers or bodies of requests, so secrets in them cannot
//! leak through an error message.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use super::ctx::Ctx;
use crate::def::compile::Perms;

/// The env var that sends a permitted host to a local server.
pub const REDIRECT_ENV: &str = "TTOP_HTTP_REDIRECT";

/// The largest response body read (bytes).
pub const MAX_BODY: usize = 8 * 1024 * 1024;

/// Host → base URL (`http://127.0.0.1:PORT`) for `TTOP_HTTP_REDIRECT`.
#[derive(Debug, Clone, Default)]
pub struct Redirects(HashMap<String, String>);

impl Redirects {
    /// Parses `host=http://127.0.0.1:PORT,other=http://[::1]:PORT`. Targets must be
    /// loopback; anything else is ignored with an error in the returned list.
    pub fn parse(spec: &str) -> (Redirects, Vec<String>) {
        let mut map = HashMap::new();
        let mut errors = Vec::new();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let Some((host, target)) = part.split_once('=') else {
                errors.push(format!("{REDIRECT_ENV}: '{part}' is not host=http://127.0.0.1:PORT"));
                continue;
            };
            let target = target.trim().trim_end_matches('/');
            let after = target.strip_prefix("http://").unwrap_or("");
            let is_loopback =
                after.starts_with("127.") || after.starts_with("localhost:") || after.starts_with("[::1]:");
            if !is_loopback {
                errors.push(format!("{REDIRECT_ENV}: '{target}' is not a loopback http address"));
                continue;
            }
            map.insert(host.trim().to_ascii_lowercase(), target.to_string());
        }
        (Redirects(map), errors)
    }

    pub fn from_ctx(ctx: &Ctx) -> Redirects {
        ctx.env(REDIRECT_ENV)
            .map(|s| Redirects::parse(&s).0)
            .unwrap_or_default()
    }

    /// The local base URL a host is redirected to.
    pub fn target(&self, host: &str) -> Option<&str> {
        self.0.get(&host.to_ascii_lowercase()).map(String::as_str)
    }
}

/// Why a request failed. The message never holds header values or bodies.
#[derive(Debug, Clone, PartialEq)]
pub enum HttpError {
    /// Refused before sending: scheme, host or permissions.
    Refused(String),
    /// Timed out.
    Timeout,
    /// Could not connect or the connection broke.
    Network(String),
    /// The body was larger than the cap.
    TooLarge,
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HttpError::Refused(m) => write!(f, "refused: {m}"),
            HttpError::Timeout => write!(f, "timed out"),
            HttpError::Network(m) => write!(f, "network error: {m}"),
            HttpError::TooLarge => write!(f, "response larger than {} MiB", MAX_BODY / 1024 / 1024),
        }
    }
}

/// A request to send.
#[derive(Debug, Clone)]
pub struct HttpRequest {
    pub method: reqwest::Method,
    /// An `https://` URL.
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
    pub timeout: Duration,
}

impl HttpRequest {
    pub fn get(url: impl Into<String>) -> Self {
        HttpRequest {
            method: reqwest::Method::GET,
            url: url.into(),
            headers: Vec::new(),
            body: None,
            timeout: Duration::from_secs(10),
        }
    }
}

/// A response: status, headers (lower-case names) and the capped body.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The host of an `https://` URL; `None` for anything else.
pub fn https_host(url: &str) -> Option<String> {
    let u = reqwest::Url::parse(url).ok()?;
    if u.scheme() != "https" || !u.username().is_empty() || u.password().is_some() {
        return None;
    }
    u.host_str().map(str::to_ascii_lowercase)
}

/// The shared client. Redirects are not followed (a 3xx is returned to the caller, who
/// may follow it to the same host only).
fn client() -> Result<&'static reqwest::Client, HttpError> {
    static CLIENT: OnceLock<Result<reqwest::Client, String>> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            let _ = rustls::crypto::ring::default_provider().install_default();
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .user_agent(concat!("ttop/", env!("CARGO_PKG_VERSION")))
                .connect_timeout(Duration::from_secs(10))
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| HttpError::Network(format!("cannot start the HTTP client: {e}")))
}

/// The runtime blocking callers use.
pub fn runtime() -> Result<&'static Arc<tokio::runtime::Runtime>, HttpError> {
    static RT: OnceLock<Result<Arc<tokio::runtime::Runtime>, String>> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map(Arc::new)
            .map_err(|e| e.to_string())
    })
    .as_ref()
    .map_err(|e| HttpError::Network(format!("cannot start the async runtime: {e}")))
}

/// Sends a request under a definition's permissions (async).
pub async fn send(perms: &Perms, redirects: &Redirects, req: &HttpRequest) -> Result<HttpResponse, HttpError> {
    let host = https_host(&req.url).ok_or_else(|| {
        HttpError::Refused(format!(
            "'{}' is not an https URL with a host",
            url_for_errors(&req.url)
        ))
    })?;
    if !perms.host_allowed(&host) {
        return Err(HttpError::Refused(format!(
            "host '{host}' is not in permissions.network"
        )));
    }
    let url = match redirects.target(&host) {
        Some(base) => {
            let u = reqwest::Url::parse(&req.url).map_err(|e| HttpError::Refused(e.to_string()))?;
            let mut out = format!("{base}{}", u.path());
            if let Some(q) = u.query() {
                out.push('?');
                out.push_str(q);
            }
            out
        }
        None => req.url.clone(),
    };
    let mut rb = client()?.request(req.method.clone(), &url).timeout(req.timeout);
    for (k, v) in &req.headers {
        rb = rb.header(k, v);
    }
    if let Some(b) = &req.body {
        rb = rb.body(b.clone());
    }
    let resp = rb.send().await.map_err(|e| classify(&e))?;
    let status = resp.status().as_u16();
    let headers: Vec<(String, String)> = resp
        .headers()
        .iter()
        .filter_map(|(k, v)| {
            v.to_str()
                .ok()
                .map(|v| (k.as_str().to_ascii_lowercase(), v.to_string()))
        })
        .collect();
    if let Some(len) = resp.content_length()
        && len as usize > MAX_BODY
    {
        return Err(HttpError::TooLarge);
    }
    let mut body = Vec::new();
    let mut resp = resp;
    while let Some(chunk) = resp.chunk().await.map_err(|e| classify(&e))? {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(HttpError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(HttpResponse { status, headers, body })
}

/// Sends a request from synchronous code.
pub fn send_blocking(perms: &Perms, redirects: &Redirects, req: &HttpRequest) -> Result<HttpResponse, HttpError> {
    runtime()?.block_on(send(perms, redirects, req))
}

fn classify(e: &reqwest::Error) -> HttpError {
    if e.is_timeout() {
        HttpError::Timeout
    } else {
        // reqwest's Display includes the URL; keep only the kind so no query-string
        // secret reaches a message.
        let kind = if e.is_connect() {
            "cannot connect"
        } else if e.is_body() || e.is_decode() {
            "broken response body"
        } else if e.is_request() {
            "request failed"
        } else {
            "failed"
        };
        HttpError::Network(kind.to_string())
    }
}

/// A URL cut to scheme, host and path for messages (no query: it may carry a key).
pub fn url_for_errors(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => format!("{}://{}{}", u.scheme(), u.host_str().unwrap_or(""), u.path()),
        Err(_) => url.split('?').next().unwrap_or("").to_string(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly on purpose.
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpListener;

    use super::*;

    fn perms(hosts: &[&str]) -> Perms {
        Perms {
            network: hosts.iter().map(|h| (*h).to_string()).collect(),
            ..Perms::default()
        }
    }

    /// A one-shot loopback server answering one request with `reply`.
    fn serve_once(reply: &'static str) -> String {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        std::thread::spawn(move || {
            if let Ok((mut s, _)) = l.accept() {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf);
                let _ = s.write_all(reply.as_bytes());
            }
        });
        format!("http://{addr}")
    }

    #[test]
    fn redirect_spec_accepts_loopback_only() {
        let (r, errs) = Redirects::parse("api.example.com=http://127.0.0.1:9, evil=http://10.0.0.1:80, bad");
        assert_eq!(r.target("API.example.com"), Some("http://127.0.0.1:9"));
        assert_eq!(r.target("evil"), None);
        assert_eq!(errs.len(), 2);
    }

    #[test]
    fn refuses_undeclared_hosts_and_plain_http() {
        let p = perms(&["example.com"]);
        let r = Redirects::default();
        let e = send_blocking(&p, &r, &HttpRequest::get("https://other.test/x")).unwrap_err();
        assert_eq!(
            e,
            HttpError::Refused("host 'other.test' is not in permissions.network".into())
        );
        let e = send_blocking(&p, &r, &HttpRequest::get("http://example.com/x?key=SECRET")).unwrap_err();
        assert!(matches!(&e, HttpError::Refused(m) if !m.contains("SECRET")), "{e}");
    }

    #[test]
    fn serves_through_the_redirect_and_does_not_follow_redirects() {
        let base = serve_once("HTTP/1.1 200 OK\r\ncontent-length: 11\r\nconnection: close\r\n\r\n{\"ok\":true}");
        let (r, _) = Redirects::parse(&format!("api.example.com={base}"));
        let resp = send_blocking(
            &perms(&["example.com"]),
            &r,
            &HttpRequest::get("https://api.example.com/v1?a=b"),
        )
        .unwrap();
        assert_eq!((resp.status, resp.body.as_slice()), (200, b"{\"ok\":true}".as_slice()));
        let base = serve_once(
            "HTTP/1.1 302 Found\r\nlocation: https://evil.test/\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
        );
        let (r, _) = Redirects::parse(&format!("api.example.com={base}"));
        let resp = send_blocking(
            &perms(&["example.com"]),
            &r,
            &HttpRequest::get("https://api.example.com/"),
        )
        .unwrap();
        assert_eq!(resp.status, 302);
    }

    #[test]
    fn caps_bodies_and_times_out() {
        let base = serve_once("HTTP/1.1 200 OK\r\ncontent-length: 999999999\r\nconnection: close\r\n\r\n");
        let (r, _) = Redirects::parse(&format!("api.example.com={base}"));
        let e = send_blocking(
            &perms(&["example.com"]),
            &r,
            &HttpRequest::get("https://api.example.com/"),
        )
        .unwrap_err();
        assert_eq!(e, HttpError::TooLarge);
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let (r, _) = Redirects::parse(&format!("api.example.com=http://{addr}"));
        let mut req = HttpRequest::get("https://api.example.com/slow");
        req.timeout = Duration::from_millis(300);
        let e = send_blocking(&perms(&["example.com"]), &r, &req).unwrap_err();
        drop(l);
        assert_eq!(e, HttpError::Timeout);
    }
}
