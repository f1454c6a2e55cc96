//! Static files of the web pages, compiled into the binary and served under a path that
//! carries a hash of their content, so browsers may keep them for a year.
use std::sync::OnceLock;

use axum::extract::Path;
use axum::http::StatusCode;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

struct Asset {
    name: &'static str,
    mime: &'static str,
    body: &'static [u8],
}

const ASSETS: &[Asset] = &[
    Asset { name: "vigie.css", mime: "text/css; charset=utf-8", body: include_bytes!("../../assets/vigie.css") },
    Asset { name: "vigie.js", mime: "text/javascript; charset=utf-8", body: include_bytes!("../../assets/vigie.js") },
    Asset { name: "site.js", mime: "text/javascript; charset=utf-8", body: include_bytes!("../../assets/site.js") },
    Asset { name: "map.js", mime: "text/javascript; charset=utf-8", body: include_bytes!("../../assets/map.js") },
    Asset { name: "assess.js", mime: "text/javascript; charset=utf-8", body: include_bytes!("../../assets/assess.js") },
    Asset {
        name: "bulletin.js",
        mime: "text/javascript; charset=utf-8",
        body: include_bytes!("../../assets/bulletin.js"),
    },
    Asset {
        name: "results.js",
        mime: "text/javascript; charset=utf-8",
        body: include_bytes!("../../assets/results.js"),
    },
    Asset { name: "report.js", mime: "text/javascript; charset=utf-8", body: include_bytes!("../../assets/report.js") },
    Asset {
        name: "threat_level.js",
        mime: "text/javascript; charset=utf-8",
        body: include_bytes!("../../assets/threat_level.js"),
    },
    Asset { name: "favicon.svg", mime: "image/svg+xml", body: include_bytes!("../../assets/favicon.svg") },
    Asset { name: "vehicles.svg", mime: "image/svg+xml", body: include_bytes!("../../assets/vehicles.svg") },
    Asset {
        name: "leaflet.js",
        mime: "text/javascript; charset=utf-8",
        body: include_bytes!("../../assets/vendor/leaflet.js"),
    },
    Asset {
        name: "leaflet.css",
        mime: "text/css; charset=utf-8",
        body: include_bytes!("../../assets/vendor/leaflet.css"),
    },
];

const SERVICE_WORKER: &str = include_str!("../../assets/sw.js");

/// A hash of every asset: it changes whenever one of them does.
pub fn version() -> &'static str {
    static VERSION: OnceLock<String> = OnceLock::new();
    VERSION.get_or_init(|| {
        let mut hash = Sha256::new();
        for asset in ASSETS {
            hash.update(asset.name.as_bytes());
            hash.update(asset.body);
        }
        hash.update(SERVICE_WORKER.as_bytes());
        hex::encode(&hash.finalize()[..6])
    })
}

/// Where a page links an asset.
pub fn url(name: &str) -> String {
    format!("/assets/{}/{name}", version())
}

pub async fn serve(Path((tag, name)): Path<(String, String)>) -> Response {
    let Some(asset) = ASSETS.iter().find(|a| a.name == name) else {
        return (StatusCode::NOT_FOUND, "no such file").into_response();
    };
    // An old tag still gets the current file, but must not be kept for long.
    let cache = if tag == version() { "public, max-age=31536000, immutable" } else { "no-cache" };
    ([(CONTENT_TYPE, asset.mime), (CACHE_CONTROL, cache)], asset.body).into_response()
}

/// `/favicon.ico`, which browsers ask for whatever the page links: the SVG icon.
pub async fn favicon() -> Response {
    let icon = ASSETS.iter().find(|a| a.name == "favicon.svg").map_or(&[][..], |a| a.body);
    ([(CONTENT_TYPE, "image/svg+xml"), (CACHE_CONTROL, "public, max-age=86400")], icon).into_response()
}

/// The service worker lives at the root so that it may serve every page offline; it is told
/// the asset paths of this build.
pub async fn service_worker() -> Response {
    let list: Vec<String> = ASSETS.iter().map(|a| format!("\"{}\"", url(a.name))).collect();
    let body = SERVICE_WORKER.replace("__VERSION__", version()).replace("\"__ASSETS__\"", &list.join(","));
    ([(CONTENT_TYPE, "text/javascript; charset=utf-8"), (CACHE_CONTROL, "no-cache")], body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_carry_the_content_hash() {
        assert_eq!(url("vigie.css"), format!("/assets/{}/vigie.css", version()));
        assert_eq!(version().len(), 12);
    }
}
