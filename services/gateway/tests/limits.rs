//! Server-side limits against hostile clients, over raw TCP: a request head over 128 KiB gets
//! 431, and a client that sends its request head slowly (slowloris) or not at all is
//! disconnected (actix's client request timeout, 5 s) while everyone else is served. The body
//! limit (413) is tested in chat.rs.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

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
    let stack = Stack::start().await;
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
    assert!(
        slow_dropped,
        "a client trickling its headers for 15 s is disconnected"
    );
    assert!(silent_closed, "a silent connection is closed");

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
