//! The operator console (`/console`): one page, its script and its styles,
//! compiled into the binary (no CDN, no Node at build or run time). It
//! signs in with the ordinary login, watches the city over the admin `ops`
//! feed on `/ws`, and acts through the same REST routes and authorization
//! as everything else.

use actix_web::{HttpResponse, web};

use super::AppState;

const PAGE: &str = include_str!("../../console/index.html");
const SCRIPT: &str = include_str!("../../console/app.js");
const STYLES: &str = include_str!("../../console/app.css");

/// `scheme://host[:port]` of a tile URL template, for the page's CSP.
fn origin(url: &str) -> Option<&str> {
    let (scheme, rest) = url.split_once("://")?;
    if !(scheme == "https" || scheme == "http") {
        return None;
    }
    let host_end = rest.find('/').unwrap_or(rest.len());
    let host = &rest[..host_end];
    if host.is_empty() || !host.chars().all(|c| c.is_ascii_alphanumeric() || "-.:{}".contains(c)) {
        return None;
    }
    Some(&url[..scheme.len() + 3 + host_end])
}

fn escape_attr(s: &str) -> String {
    s.replace('&', "&amp;").replace('"', "&quot;").replace('<', "&lt;").replace('>', "&gt;")
}

#[utoipa::path(get, path = "/console", tag = "health",
    responses((status = 200, description = "the operator console (admins sign in on the page)", content_type = "text/html")))]
pub async fn page(state: web::Data<AppState>) -> HttpResponse {
    let tiles = state.settings.console.tile_url.trim();
    let tile_origin = origin(tiles);
    let tiles = if tile_origin.is_some() { tiles } else { "" };
    let img_src = match tile_origin {
        Some(o) => format!("'self' data: {}", o.replace("{s}", "*")),
        None => "'self' data:".to_owned(),
    };
    let csp = format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src {img_src}; connect-src 'self' ws: wss:; \
         frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    );
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("Content-Security-Policy", csp))
        .insert_header(("Cache-Control", "no-cache"))
        .body(PAGE.replace("{{TILE_URL}}", &escape_attr(tiles)))
}

#[utoipa::path(get, path = "/console/app.js", tag = "health",
    responses((status = 200, description = "the console's script", content_type = "text/javascript")))]
pub async fn script() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header(("Cache-Control", "no-cache"))
        .body(SCRIPT)
}

#[utoipa::path(get, path = "/console/app.css", tag = "health",
    responses((status = 200, description = "the console's styles", content_type = "text/css")))]
pub async fn styles() -> HttpResponse {
    HttpResponse::Ok().content_type("text/css; charset=utf-8").insert_header(("Cache-Control", "no-cache")).body(STYLES)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_web_tile_url_gets_into_the_page_and_its_policy() {
        assert_eq!(origin("https://tile.openstreetmap.org/{z}/{x}/{y}.png"), Some("https://tile.openstreetmap.org"));
        assert_eq!(origin("http://127.0.0.1:8090/{z}/{x}/{y}.png"), Some("http://127.0.0.1:8090"));
        assert_eq!(origin("javascript:alert(1)"), None);
        assert_eq!(origin("https://evil\"onload=x/{z}"), None);
        assert_eq!(escape_attr("a\"b<c"), "a&quot;b&lt;c");
    }
}
