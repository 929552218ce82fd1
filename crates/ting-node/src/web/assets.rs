//! The dashboard's static files, compiled into the binary: no build step, no
//! files to install, and nothing read from the disk at request time (a path
//! is looked up in a fixed table, so no request can name another file).

use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::http::ApiError;

/// Bumped with the node's version, so a browser never keeps an old script
/// after an upgrade (pages name assets with `?v=VERSION`).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// `(path under /assets/, content type, bytes)`.
const FILES: &[(&str, &str, &[u8])] = &[
    (
        "style.css",
        "text/css; charset=utf-8",
        include_bytes!("../../web/style.css"),
    ),
    ("live.js", JS, include_bytes!("../../web/live.js")),
    ("verify.js", JS, include_bytes!("../../web/verify.js")),
    ("ting-wire.js", JS, include_bytes!("../../web/ting-wire.js")),
    (
        "ting-trust.js",
        JS,
        include_bytes!("../../web/ting-trust.js"),
    ),
    (
        "vendor/noble-ed25519-3.2.0/index.js",
        JS,
        include_bytes!("../../web/vendor/noble-ed25519-3.2.0/index.js"),
    ),
    (
        "vendor/noble-ed25519-3.2.0/LICENSE",
        TEXT,
        include_bytes!("../../web/vendor/noble-ed25519-3.2.0/LICENSE"),
    ),
    (
        "vendor/noble-hashes-2.4.0/sha2.js",
        JS,
        include_bytes!("../../web/vendor/noble-hashes-2.4.0/sha2.js"),
    ),
    (
        "vendor/noble-hashes-2.4.0/_md.js",
        JS,
        include_bytes!("../../web/vendor/noble-hashes-2.4.0/_md.js"),
    ),
    (
        "vendor/noble-hashes-2.4.0/_u64.js",
        JS,
        include_bytes!("../../web/vendor/noble-hashes-2.4.0/_u64.js"),
    ),
    (
        "vendor/noble-hashes-2.4.0/utils.js",
        JS,
        include_bytes!("../../web/vendor/noble-hashes-2.4.0/utils.js"),
    ),
    (
        "vendor/noble-hashes-2.4.0/LICENSE",
        TEXT,
        include_bytes!("../../web/vendor/noble-hashes-2.4.0/LICENSE"),
    ),
];

const JS: &str = "text/javascript; charset=utf-8";
const TEXT: &str = "text/plain; charset=utf-8";

/// `GET /assets/{path}`.
pub async fn serve(Path(path): Path<String>) -> Response {
    let Some((_, kind, bytes)) = FILES.iter().find(|(p, _, _)| *p == path) else {
        return ApiError::not_found("unknown_asset", "no such file among the dashboard's assets")
            .into_response();
    };
    let mut r = (StatusCode::OK, *bytes).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::FILES;

    #[test]
    fn every_asset_is_named_once_and_has_content() {
        let mut names: Vec<&str> = FILES.iter().map(|f| f.0).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), FILES.len());
        assert!(FILES.iter().all(|f| !f.2.is_empty() && !f.0.contains("..")));
    }
}
