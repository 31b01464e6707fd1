//! The one place where the edge turns a failure into the visitor's response, like Pingora's
//! `fail_to_proxy`: the edge's status, a page in the format the visitor asked for, `Retry-After`
//! per Cloudflare's structured-error table, and the incident id.
//!
//! Pages name the cause and the incident, never the origin's address or bytes: those stay in
//! the incident store.

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Response, StatusCode};

use crate::body::EdgeBody;
use crate::incident::Id;
use crate::request::itoa_u64;

/// The page format chosen from `Accept`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `text/html`, `*/*` or no `Accept`.
    Html,
    /// `application/json` or `application/problem+json`.
    Json,
    /// `text/plain`, `text/markdown` or `text/*`.
    Text,
}

impl Format {
    /// The first media range of `Accept` the edge knows decides (browsers list HTML first).
    pub fn from_accept(accept: Option<&[u8]>) -> Format {
        let Some(accept) = accept.and_then(|a| std::str::from_utf8(a).ok()) else {
            return Format::Html;
        };
        for range in accept.split(',') {
            let media = range.split(';').next().unwrap_or("").trim();
            let media = media.to_ascii_lowercase();
            match media.as_str() {
                "application/json" | "application/problem+json" => return Format::Json,
                "text/html" | "application/xhtml+xml" | "*/*" => return Format::Html,
                "text/plain" | "text/markdown" | "text/*" => return Format::Text,
                _ => {}
            }
        }
        Format::Html
    }
}

/// What went wrong, as the visitor may see it.
#[derive(Clone, Debug)]
pub struct Failure<'a> {
    /// The status the edge answers.
    pub status: u16,
    /// The cause id (`response.empty`), or a refusal reason for 4xx.
    pub cause: &'a str,
    /// The incident id, when one was stored.
    pub incident: Option<Id>,
    /// The visitor's `Host`, for the page title (escaped here).
    pub host: &'a str,
}

/// The title Cloudflare gives each code.
pub fn title(status: u16) -> &'static str {
    match status {
        400 => "Bad request",
        405 => "Method not allowed",
        413 => "Request body too large",
        421 => "Misdirected request",
        500 => "Internal server error",
        502 => "Bad gateway",
        504 => "Gateway time-out",
        520 => "Web server is returning an unknown error",
        521 => "Web server is down",
        522 => "Connection timed out",
        523 => "Origin is unreachable",
        524 => "A timeout occurred",
        525 => "SSL handshake failed",
        526 => "Invalid SSL certificate",
        530 => "Origin DNS error",
        _ => "Error",
    }
}

/// A sentence explaining the code to the visitor.
pub fn explanation(status: u16) -> &'static str {
    match status {
        520 => "The origin web server returned an empty, unknown or unexpected response.",
        521 => "The origin web server refused the connection.",
        522 => "The origin web server did not answer the connection in time.",
        523 => "There is no route to the origin web server.",
        524 => "The origin web server connected but did not send a response in time.",
        525 => "The TLS handshake with the origin web server failed.",
        526 => "The origin web server's certificate could not be validated.",
        530 => "The origin's host name does not resolve.",
        502 => "The origin web server sent a response the edge could not use.",
        _ if status < 500 => "The request was refused by the edge.",
        _ => "The edge could not complete the request.",
    }
}

/// `Retry-After` seconds per Cloudflare's structured-error table; none for TLS and DNS errors.
pub fn retry_after(status: u16) -> Option<u32> {
    match status {
        500 | 530 => Some(30),
        502 | 520 => Some(60),
        504 | 521..=524 => Some(120),
        _ => None,
    }
}

/// The edge's own response, ready to be written in either protocol.
#[derive(Clone, Debug)]
pub struct Page {
    /// The status.
    pub status: u16,
    /// `Content-Type` of the body.
    pub content_type: &'static str,
    /// `Retry-After` seconds.
    pub retry_after: Option<u32>,
    /// The incident id, when one was stored.
    pub incident: Option<Id>,
    /// The connection must close after this response (a refused request whose framing cannot
    /// be trusted).
    pub close: bool,
    /// The body.
    pub body: Bytes,
}

/// The visitor's response for `failure`.
pub fn respond(failure: &Failure<'_>, format: Format) -> Page {
    let status = failure.status;
    let retry = retry_after(status);
    let (content_type, body) = match format {
        Format::Json => ("application/json", json(failure, retry)),
        Format::Text => ("text/plain; charset=utf-8", text(failure)),
        Format::Html => ("text/html; charset=utf-8", html(failure)),
    };
    Page {
        status,
        content_type,
        retry_after: retry,
        incident: failure.incident,
        close: false,
        body: Bytes::from(body),
    }
}

impl Page {
    /// The reason phrase: the standard one, or the edge's title for codes without one (52x).
    pub fn reason(&self) -> &'static str {
        StatusCode::from_u16(self.status)
            .ok()
            .and_then(|c| c.canonical_reason())
            .unwrap_or_else(|| title(self.status))
    }

    /// The fields besides framing, in the order they are sent.
    fn fields(&self) -> impl Iterator<Item = (&'static str, std::borrow::Cow<'_, str>)> {
        let retry = self
            .retry_after
            .map(|s| ("retry-after", s.to_string().into()));
        let incident = self
            .incident
            .as_ref()
            .map(|id| ("originlens-incident", id.as_str().into()));
        let edge = (self.status >= 500).then_some(("originlens-error-type", "edge".into()));
        [
            Some(("content-type", self.content_type.into())),
            Some(("cache-control", "private, no-store, max-age=0".into())),
            retry,
            incident,
            edge,
        ]
        .into_iter()
        .flatten()
    }

    /// Writes the page as an HTTP/1.1 response: head, `extra` fields, and the body unless the
    /// request was HEAD.
    pub fn write_h1(&self, out: &mut Vec<u8>, extra: &[(&str, &[u8])], head_request: bool) {
        out.extend_from_slice(b"HTTP/1.1 ");
        out.extend_from_slice(itoa_u64(u64::from(self.status), &mut [0; 20]));
        out.push(b' ');
        out.extend_from_slice(self.reason().as_bytes());
        out.extend_from_slice(b"\r\n");
        for (name, value) in self.fields() {
            push_field(out, name.as_bytes(), value.as_bytes());
        }
        for (name, value) in extra {
            push_field(out, name.as_bytes(), value);
        }
        let mut digits = [0; 20];
        push_field(
            out,
            b"content-length",
            itoa_u64(self.body.len() as u64, &mut digits),
        );
        out.extend_from_slice(b"\r\n");
        if !head_request {
            out.extend_from_slice(&self.body);
        }
    }

    /// The page as a hyper response.
    pub fn into_response(self) -> Response<EdgeBody> {
        let code = StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_GATEWAY);
        let mut builder = Response::builder().status(code);
        if code.canonical_reason().is_none() {
            // 52x have no reason phrase in hyper's table: send the edge's title, not `<none>`.
            if let Ok(r) = hyper::ext::ReasonPhrase::try_from(self.reason().as_bytes().to_vec()) {
                builder = builder.extension(r);
            }
        }
        for (name, value) in self.fields() {
            if let Ok(v) = HeaderValue::from_str(&value) {
                builder = builder.header(name, v);
            }
        }
        if self.close {
            builder = builder.header(header::CONNECTION, "close");
        }
        builder
            .body(EdgeBody::full(self.body))
            .unwrap_or_else(|_| Response::new(EdgeBody::full(Bytes::new())))
    }
}

/// Appends `name: value` and a line end.
pub fn push_field(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

fn json(f: &Failure<'_>, retry: Option<u32>) -> String {
    let v = serde_json::json!({
        "status": f.status,
        "title": title(f.status),
        "cause": f.cause,
        "incident": f.incident.as_ref().map(Id::as_str),
        "message": explanation(f.status),
        "retryable": retry.is_some(),
        "retry_after": retry,
    });
    let mut s = v.to_string();
    s.push('\n');
    s
}

fn text(f: &Failure<'_>) -> String {
    let mut s = format!(
        "{} {}\n\n{}\n\ncause: {}\n",
        f.status,
        title(f.status),
        explanation(f.status),
        f.cause
    );
    if let Some(id) = f.incident {
        s.push_str(&format!("incident: {}\n", id.as_str()));
    }
    s
}

fn html(f: &Failure<'_>) -> String {
    let host = escape_html(f.host);
    let title = title(f.status);
    let incident = f.incident.map_or(String::new(), |id| {
        format!(
            "<p>Incident ID: <code>{}</code></p>\n",
            escape_html(id.as_str())
        )
    });
    let source = |is: bool| if is { "error" } else { "working" };
    let edge_fault = f.status < 520 && f.status != 502;
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>{host} | {status}: {title}</title>\n</head>\n<body>\n\
         <h1>{title}</h1>\n<p>Error code {status}</p>\n<p>{explain}</p>\n\
         <ul>\n<li>You: browser working</li>\n<li>Edge: {edge}</li>\n<li>{host}: host {origin}</li>\n</ul>\n\
         <p>Cause: <code>{cause}</code></p>\n{incident}</body>\n</html>\n",
        status = f.status,
        explain = explanation(f.status),
        edge = source(edge_fault),
        origin = source(!edge_fault),
        cause = escape_html(f.cause),
    )
}

fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_picks_the_format() {
        assert_eq!(Format::from_accept(None), Format::Html);
        assert_eq!(Format::from_accept(Some(b"application/json")), Format::Json);
        assert_eq!(
            Format::from_accept(Some(b"text/html,application/xhtml+xml,*/*;q=0.8")),
            Format::Html
        );
        assert_eq!(
            Format::from_accept(Some(b"application/problem+json; q=1")),
            Format::Json
        );
        assert_eq!(Format::from_accept(Some(b"text/plain")), Format::Text);
        assert_eq!(Format::from_accept(Some(b"image/png, */*")), Format::Html);
    }

    #[test]
    fn retry_after_follows_the_table() {
        assert_eq!(retry_after(520), Some(60));
        assert_eq!(retry_after(522), Some(120));
        assert_eq!(retry_after(502), Some(60));
        assert_eq!(
            (retry_after(525), retry_after(526), retry_after(400)),
            (None, None, None)
        );
    }

    #[test]
    fn pages_escape_the_host_and_carry_the_incident() {
        let id = crate::incident::IdGen::default().next();
        let f = Failure {
            status: 520,
            cause: "response.empty",
            incident: Some(id),
            host: "<script>",
        };
        let page = html(&f);
        assert!(page.contains("&lt;script&gt; | 520: Web server is returning an unknown error"));
        assert!(!page.contains("<script>"));
        let v: serde_json::Value = serde_json::from_str(&json(&f, retry_after(520))).unwrap();
        assert_eq!(v["status"], 520);
        assert_eq!(v["cause"], "response.empty");
        assert_eq!(v["incident"], id.as_str());
        assert_eq!(v["retryable"], true);
        assert_eq!(v["retry_after"], 60);
        let page = respond(&f, Format::Text);
        let mut h1 = Vec::new();
        page.write_h1(&mut h1, &[("originlens-ray", b"r1")], false);
        let h1 = String::from_utf8(h1).unwrap();
        assert!(h1.starts_with(
            "HTTP/1.1 520 Web server is returning an unknown error\r\n\
             content-type: text/plain; charset=utf-8\r\n"
        ));
        assert!(h1.contains(&format!(
            "\r\nretry-after: 60\r\noriginlens-incident: {id}\r\n"
        )));
        assert!(h1.contains(&format!(
            "\r\noriginlens-ray: r1\r\ncontent-length: {}\r\n\r\n520 Web",
            page.body.len()
        )));
        let resp = page.into_response();
        assert_eq!(resp.status(), 520);
        assert_eq!(resp.headers()["retry-after"], "60");
        assert_eq!(resp.headers()["originlens-incident"], id.as_str());
    }
}
