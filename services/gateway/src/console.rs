//! The web console at `/console` and the API reference at `/docs`: static files that Vite
//! builds from `console/` (`console/dist`), served from the configured directory with headers
//! that keep the pages to their own origin. Without a built console both paths answer 503
//! with the command that builds it.

use std::path::{Path, PathBuf};

use actix_files::Files;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::DefaultHeaders;
use actix_web::{HttpResponse, web};

/// Content Security Policy of the console and the docs: scripts, styles, fonts and API calls
/// from this origin only (Swagger UI sets inline styles; images may be data URLs).
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                   img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; \
                   base-uri 'none'; form-action 'self'";

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
        web::scope("/console").wrap(headers()).service(
            Files::new("", dir)
                .index_file("index.html")
                .redirect_to_slash_directory(),
        ),
    );
}

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
