//! `--metrics-addr` of `serve` and `controller-emu`: a tiny HTTP/1.1
//! endpoint for Prometheus and for health checks. `GET /metrics` is the
//! OpenMetrics text, `GET /healthz` 200 while the process is healthy (see
//! [`Exporter::unhealthy`]) and 503 otherwise. It faces the network, so it
//! reads at most one small request per connection, gives up on a slow one,
//! and serves few connections at once.

use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

/// A request head larger than this is refused (431).
const MAX_HEAD: usize = 8 * 1024;
/// A client that has not sent its request head by then is dropped.
const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// How long, and how much, a closing connection reads of what the client
/// still sends.
const LINGER: Duration = Duration::from_secs(1);
const LINGER_BYTES: usize = 64 * 1024;
/// Connections served at once; more wait in the listen queue.
const MAX_CONNECTIONS: usize = 16;

/// What the endpoint serves.
pub trait Exporter: Send + Sync + 'static {
    /// The OpenMetrics text exposition.
    fn encode(&self) -> String;
    /// `/healthz`: None when healthy, else why not.
    fn unhealthy(&self) -> Option<&'static str>;
}

/// A registry's OpenMetrics text.
pub fn encode(registry: &prometheus_client::registry::Registry) -> String {
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, registry)
        .expect("writing to a String cannot fail");
    text
}

/// Serves `listener` until the task is dropped.
pub async fn serve_metrics<E: Exporter>(listener: TcpListener, metrics: Arc<E>) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        let Ok((stream, _)) = listener.accept().await else {
            // Out of file descriptors, say: let the moment pass.
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let metrics = metrics.clone();
        tokio::spawn(async move {
            let _ = answer(stream, metrics.as_ref()).await;
            drop(permit);
        });
    }
}

async fn answer(mut stream: TcpStream, metrics: &impl Exporter) -> std::io::Result<()> {
    let head = match tokio::time::timeout(READ_TIMEOUT, read_head(&mut stream)).await {
        Ok(Ok(head)) => head,
        Ok(Err(Refused::TooLarge)) => {
            return respond(
                &mut stream,
                "431 Request Header Fields Too Large",
                "text/plain",
                "",
            )
            .await
        }
        Ok(Err(Refused::Closed)) | Err(_) => return Ok(()),
    };
    let (status, content_type, body) = route(&head, metrics);
    respond(&mut stream, status, content_type, &body).await
}

/// The response to a request head: status, content type, body.
fn route(head: &[u8], metrics: &impl Exporter) -> (&'static str, &'static str, String) {
    let line = head
        .split(|&b| b == b'\r' || b == b'\n')
        .next()
        .unwrap_or(&[]);
    let mut parts = line.split(|&b| b == b' ');
    let (method, target) = (parts.next(), parts.next());
    let path = target.map(|t| t.split(|&b| b == b'?').next().unwrap_or(t));
    match (method, path) {
        (Some(b"GET"), Some(b"/metrics")) => (
            "200 OK",
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            metrics.encode(),
        ),
        (Some(b"GET"), Some(b"/healthz")) => match metrics.unhealthy() {
            None => ("200 OK", "text/plain", "ok\n".into()),
            Some(why) => ("503 Service Unavailable", "text/plain", format!("{why}\n")),
        },
        (Some(b"GET"), Some(_)) => (
            "404 Not Found",
            "text/plain",
            "try /metrics or /healthz\n".into(),
        ),
        (Some(m), Some(_)) if !m.is_empty() => {
            ("405 Method Not Allowed", "text/plain", "GET only\n".into())
        }
        _ => (
            "400 Bad Request",
            "text/plain",
            "not an HTTP request\n".into(),
        ),
    }
}

enum Refused {
    TooLarge,
    Closed,
}

/// Reads up to the blank line that ends a request head.
async fn read_head(stream: &mut TcpStream) -> Result<Vec<u8>, Refused> {
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    loop {
        let n = stream.read(&mut buf).await.map_err(|_| Refused::Closed)?;
        if n == 0 {
            // A request without its blank line still gets an answer.
            return if head.is_empty() {
                Err(Refused::Closed)
            } else {
                Ok(head)
            };
        }
        head.extend_from_slice(&buf[..n]);
        if head.windows(4).any(|w| w == b"\r\n\r\n") || head.windows(2).any(|w| w == b"\n\n") {
            return Ok(head);
        }
        if head.len() > MAX_HEAD {
            return Err(Refused::TooLarge);
        }
    }
}

async fn respond(
    stream: &mut TcpStream,
    status: &str,
    content_type: &str,
    body: &str,
) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body.as_bytes()).await?;
    stream.shutdown().await?;
    // A lingering close: closing with unread input resets the connection,
    // and the client may lose the answer; read what is left, briefly.
    let mut sink = [0u8; 1024];
    let mut left = LINGER_BYTES;
    let linger = async {
        while left > 0 {
            match stream.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(n) => left = left.saturating_sub(n),
            }
        }
    };
    let _ = tokio::time::timeout(LINGER, linger).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serve::metrics::ServeMetrics;

    #[test]
    fn requests_are_routed_and_anything_else_is_refused() {
        let m = ServeMetrics::new("r1", "snapshot");
        let status = |head: &[u8]| route(head, &m).0;
        assert_eq!(status(b"GET /metrics HTTP/1.1\r\n\r\n"), "200 OK");
        assert_eq!(status(b"GET /metrics?x=1 HTTP/1.0\r\n\r\n"), "200 OK");
        assert_eq!(
            status(b"GET /healthz HTTP/1.1\r\n\r\n"),
            "503 Service Unavailable"
        );
        m.set_ready(true);
        assert_eq!(status(b"GET /healthz HTTP/1.1\r\n\r\n"), "200 OK");
        assert_eq!(status(b"GET /nothing HTTP/1.1\r\n\r\n"), "404 Not Found");
        assert_eq!(
            status(b"POST /metrics HTTP/1.1\r\n\r\n"),
            "405 Method Not Allowed"
        );
        for junk in [&b""[..], b"\r\n\r\n", b"\xff\xfe", b"GET"] {
            assert_eq!(status(junk), "400 Bad Request", "{junk:?}");
        }
        let body = route(b"GET /metrics HTTP/1.1\r\n\r\n", &m).2;
        assert!(
            body.contains("lockerlab_serve_broker_connected 1"),
            "{body}"
        );
        assert!(body.ends_with("# EOF\n"), "{body}");
    }
}
