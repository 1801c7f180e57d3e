//! A local webhook receiver for alerting's tests and benchmarks.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct WebhookDelivery {
    /// `x-tollgate-alert-id`.
    pub alert_id: String,
    /// `x-tollgate-delivery-attempt`.
    pub attempt: String,
    /// `x-tollgate-signature`.
    pub signature: String,
    /// The raw body.
    pub body: Vec<u8>,
    /// Whether it was answered 2xx.
    pub accepted: bool,
    /// When it arrived.
    pub at: Instant,
}

/// Answers 500 to its first `fail_first` requests, then 204; records every request.
pub struct WebhookReceiver {
    /// Where to send webhooks.
    pub url: String,
    received: Arc<Mutex<Vec<WebhookDelivery>>>,
    handle: actix_web::dev::ServerHandle,
}

impl WebhookReceiver {
    /// Binds on a free loopback port and serves in the background.
    pub fn start(fail_first: usize) -> Self {
        let received: Arc<Mutex<Vec<WebhookDelivery>>> = Arc::default();
        let failures = Arc::new(AtomicUsize::new(fail_first));
        let state = (received.clone(), failures);
        let server = HttpServer::new(move || {
            let state = state.clone();
            App::new().default_service(web::to(move |req: HttpRequest, body: web::Bytes| {
                let (received, failures) = state.clone();
                async move {
                    let header = |name: &str| {
                        req.headers()
                            .get(name)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("")
                            .to_owned()
                    };
                    let fail = failures
                        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                        .is_ok();
                    received.lock().unwrap().push(WebhookDelivery {
                        alert_id: header("x-tollgate-alert-id"),
                        attempt: header("x-tollgate-delivery-attempt"),
                        signature: header("x-tollgate-signature"),
                        body: body.to_vec(),
                        accepted: !fail,
                        at: Instant::now(),
                    });
                    if fail {
                        HttpResponse::InternalServerError().finish()
                    } else {
                        HttpResponse::NoContent().finish()
                    }
                }
            }))
        })
        .workers(1)
        .disable_signals()
        .bind("127.0.0.1:0")
        .expect("receiver binds");
        let url = format!("http://{}/hooks/tollgate", server.addrs()[0]);
        let server = server.run();
        let handle = server.handle();
        tokio::spawn(server);
        Self {
            url,
            received,
            handle,
        }
    }

    /// Every request so far, in order.
    pub fn received(&self) -> Vec<WebhookDelivery> {
        self.received.lock().unwrap().clone()
    }

    /// Stops the server.
    pub async fn stop(self) {
        self.handle.stop(true).await;
    }
}
