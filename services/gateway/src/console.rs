//! The web console at `/console` and the API reference at `/docs`: static files that Vite
//! builds from `console/` (`console/dist`), served from the configured directory with headers
//! that keep the pages to their own origin. Without a built console both paths answer 503
//! with the command that builds it.

use std::path::{Path, PathBuf};

use actix_files::Files;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::{DefaultHeaders, Next, from_fn};
use actix_web::{HttpResponse, web};

/// Content Security Policy of the console and the API reference: scripts, styles, images and
/// API calls from this origin only.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
                   img-src 'self' data:; connect-src 'self'; object-src 'none'; \
                   frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// Registers `/console` and `/docs` for the console built into `dir`, or the 503 answer that
/// says how to build it.
pub fn configure(cfg: &mut web::ServiceConfig, dir: Option<&Path>) {
    let built =
        dir.filter(|d| d.join("index.html").is_file() && d.join("docs/index.html").is_file());
    let Some(dir) = built else {
        cfg.route("/console{tail:.*}", web::get().to(not_built));
        cfg.route("/docs{tail:.*}", web::get().to(not_built));
        return;
    };
    let dir: PathBuf = dir.to_path_buf();
    cfg.service(
        web::scope("/docs")
            .wrap(headers())
            .service(Files::new("", dir.join("docs")).index_file("index.html")),
    );
    cfg.service(
        web::scope("/console")
            .wrap(from_fn(cache_control))
            .wrap(headers())
            .service(
                Files::new("", dir)
                    .index_file("index.html")
                    .redirect_to_slash_directory(),
            ),
    );
}

/// The headers of every page and asset: [`CSP`], no framing, no sniffing, no referrer, and
/// `no-cache` (checked on every load) unless [`cache_control`] says otherwise.
fn headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add((
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        ))
        .add((header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")))
        .add((
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .add((
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .add((header::CACHE_CONTROL, HeaderValue::from_static("no-cache")))
}

/// Vite names every asset by its content, so `/console/assets/` may be kept for good; the
/// pages stay `no-cache`, so an upgrade is seen on the next load.
async fn cache_control(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let immutable = req.path().starts_with("/console/assets/");
    let mut response = next.call(req).await?;
    if immutable && response.status().is_success() {
        response.headers_mut().insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=31536000, immutable"),
        );
    }
    Ok(response)
}

async fn not_built() -> HttpResponse {
    HttpResponse::ServiceUnavailable()
        .content_type("text/html; charset=utf-8")
        .body(
            "<!doctype html><title>Tollgate console</title><h1>The console is not built</h1>\
             <p>Run <code>scripts/up</code> (it installs Node.js and builds <code>console/</code>), \
             or <code>npm --prefix console ci &amp;&amp; npm --prefix console run build</code> and \
             start the gateway with <code>TOLLGATE_CONSOLE_DIR=console/dist</code>.</p>",
        )
}
