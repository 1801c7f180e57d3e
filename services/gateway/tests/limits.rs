//! Server-side limits against hostile clients, over raw TCP: a request head over 128 KiB gets
//! 431; a client that sends its request head slowly (slowloris) or not at all is disconnected
//! after `http.request_timeout_ms` while everyone else is served; an idle keep-alive
//! connection is closed after `http.idle_timeout_ms`; beyond `http.max_connections` a new
//! connection waits until one closes. The body limit (413) is tested in chat.rs.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use tollgate_mock_upstream::MockConfig;
use tollgate_testkit::Stack;

fn connect(stack: &Stack) -> TcpStream {
    TcpStream::connect(stack.url.trim_start_matches("http://")).unwrap()
}

/// Reads until the server closes the connection; `None` if it is still open after `limit`.
fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> Option<String> {
    let deadline = Instant::now() + limit;
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    while Instant::now() < deadline {
        match stream.read(&mut buf) {
            Ok(0) => return Some(String::from_utf8_lossy(&received).into_owned()),
            Ok(n) => received.extend_from_slice(&buf[..n]),
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => return Some(String::from_utf8_lossy(&received).into_owned()),
        }
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_headers_are_refused() {
    let stack = Stack::start().await;
    let mut stream = connect(&stack);
    // actix-http refuses request heads over 128 KiB (a fixed bound of its HTTP/1 decoder).
    let huge = "a".repeat(200 * 1024);
    let request = format!("GET /v1/models HTTP/1.1\r\nHost: x\r\nX-Padding: {huge}\r\n\r\n");
    let answer = tokio::task::spawn_blocking(move || {
        // The server may stop reading before the whole head is written.
        let _ = stream.write_all(request.as_bytes());
        read_until_closed(&mut stream, Duration::from_secs(20))
    })
    .await
    .unwrap()
    .expect("the connection is closed");
    assert!(
        answer.starts_with("HTTP/1.1 431"),
        "oversized head: {:?}",
        answer.lines().next()
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_or_silent_client_is_disconnected() {
    // 1 s instead of the default 5 s: both clients must be gone well before the default would
    // have cut them off.
    let stack = Stack::start_with(MockConfig::default(), |config| {
        config.http.request_timeout = Duration::from_secs(1);
    })
    .await;
    let started = Instant::now();
    // Slowloris: a request head trickling in, one header line now and then, never finished.
    let mut slow = connect(&stack);
    let mut silent = connect(&stack);
    let (slow_dropped, silent_closed) = tokio::task::spawn_blocking(move || {
        slow.write_all(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n")
            .unwrap();
        let mut dropped = false;
        for n in 0..30 {
            std::thread::sleep(Duration::from_millis(500));
            if slow
                .write_all(format!("X-Slow-{n}: 1\r\n").as_bytes())
                .is_err()
            {
                dropped = true; // the server hung up
                break;
            }
        }
        // A client that connected at the same time and sent nothing.
        let closed = read_until_closed(&mut silent, Duration::from_secs(20)).is_some();
        (dropped, closed)
    })
    .await
    .unwrap();
    let elapsed = started.elapsed();
    assert!(
        slow_dropped,
        "a client trickling its headers for 15 s is disconnected"
    );
    assert!(silent_closed, "a silent connection is closed");
    assert!(
        elapsed < Duration::from_millis(4500),
        "both were cut off by the configured 1 s timeout, not the 5 s default ({elapsed:?})"
    );

    // Meanwhile the gateway serves everyone else.
    let models = stack
        .http
        .get(format!("{}/healthz", stack.url))
        .send()
        .await
        .unwrap();
    assert_eq!(models.status(), 200);
    stack.stop().await;
}

/// Sends `GET /healthz` on a keep-alive connection and reads the whole answer; `None` if no
/// answer came within `limit`.
fn healthz(stream: &mut TcpStream, limit: Duration) -> Option<String> {
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .ok()?;
    read_response(stream, limit)
}

/// Reads one whole HTTP response (head and `content-length` body); `None` if none came
/// within `limit` (a read that times out) or the connection closed first.
fn read_response(stream: &mut TcpStream, limit: Duration) -> Option<String> {
    stream.set_read_timeout(Some(limit)).unwrap();
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&received).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length: usize = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap())
                })
                .unwrap_or(0);
            if body.len() >= length {
                return Some(text);
            }
        }
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return None,
            Ok(n) => received.extend_from_slice(&buf[..n]),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let stack = Stack::start_with(MockConfig::default(), |config| {
        config.http.idle_timeout = Duration::from_millis(500);
    })
    .await;
    let mut stream = connect(&stack);
    let (answer, closed_after) = tokio::task::spawn_blocking(move || {
        let answer = healthz(&mut stream, Duration::from_secs(10));
        let idle_since = Instant::now();
        let closed =
            read_until_closed(&mut stream, Duration::from_secs(10)).map(|_| idle_since.elapsed());
        (answer, closed)
    })
    .await
    .unwrap();
    assert!(
        answer.is_some_and(|a| a.starts_with("HTTP/1.1 200")),
        "the request on the connection is served"
    );
    let closed_after = closed_after.expect("the idle connection is closed");
    assert!(
        closed_after < Duration::from_secs(4),
        "closed by the configured 500 ms idle timeout, not the 5 s default ({closed_after:?})"
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beyond_max_connections_a_new_connection_waits_until_one_closes() {
    let stack = Stack::start_with(MockConfig::default(), |config| {
        config.workers = 1;
        config.http.max_connections = 2;
        config.http.idle_timeout = Duration::from_secs(60);
    })
    .await;
    let address = stack.url.trim_start_matches("http://").to_owned();
    let (held, waiting, served_after_close) = tokio::task::spawn_blocking(move || {
        let mut first = TcpStream::connect(&address).unwrap();
        let mut second = TcpStream::connect(&address).unwrap();
        let held = [
            healthz(&mut first, Duration::from_secs(10)).is_some(),
            healthz(&mut second, Duration::from_secs(10)).is_some(),
        ];
        // The kernel completes the handshake (the listen backlog), but the gateway does not
        // take the connection while two are open.
        let mut third = TcpStream::connect(&address).unwrap();
        let waiting = healthz(&mut third, Duration::from_millis(1500)).is_none();
        drop(first);
        let served = read_response(&mut third, Duration::from_secs(10)).unwrap_or_default();
        (held, waiting, served)
    })
    .await
    .unwrap();
    assert_eq!(held, [true, true], "the first two connections are served");
    assert!(
        waiting,
        "a third connection is not served while two are open"
    );
    assert!(
        served_after_close.starts_with("HTTP/1.1 200"),
        "once one closes, the waiting request is served: {served_after_close:?}"
    );
    stack.stop().await;
}
