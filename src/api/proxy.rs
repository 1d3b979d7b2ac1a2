//! `ANY /api/v1/connections/{link}/proxy/{path…}`: the transparent proxy (see `ops::proxy`). The
//! handler hands the request over as it came and sends the answer back as it streams.

use actix_web::body::SizedStream;
use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};

use crate::auth::guard::ApiInvoker;
use crate::error::AppError;
use crate::ops::proxy::{self, ProxyRequest};
use crate::state::AppState;

/// The route's pattern in the route table.
pub const ROUTE: &str = "/api/v1/connections/{link}/proxy/{path:.*}";

/// The raw path after `/api/v1/connections/{link}/proxy`, still percent-encoded as the caller sent
/// it (the router's decoded `{path}` would hide an encoded `/` or `..`); `None` for another path.
pub fn proxied_path(raw: &str) -> Option<&str> {
    let rest = raw.strip_prefix("/api/v1/connections/")?;
    let (_, rest) = rest.split_once('/')?;
    let rest = rest.strip_prefix("proxy")?;
    (rest.is_empty() || rest.starts_with('/')).then_some(rest)
}

/// Sends the request through the connection and streams the answer back.
pub async fn proxy_connection(
    ApiInvoker { user, scope }: ApiInvoker,
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, AppError> {
    let link = req.match_info().get("link").unwrap_or_default().to_owned();
    let path = proxied_path(req.uri().path()).ok_or(AppError::NotFound)?.to_owned();
    let method = reqwest::Method::from_bytes(req.method().as_str().as_bytes())
        .map_err(|_| AppError::MethodNotAllowed(String::new()))?;
    let headers = req
        .headers()
        .iter()
        .map(|(name, value)| (name.as_str().to_owned(), value.as_bytes().to_vec()))
        .collect();
    let request = ProxyRequest { method, path, query: req.query_string().to_owned(), headers, body };
    let answer = proxy::proxy(&state, &user, &scope, &link, request).await?;
    let status = StatusCode::from_u16(answer.status)
        .map_err(|_| AppError::Upstream(format!("The upstream answered with status {}.", answer.status)))?;
    let mut res = HttpResponse::build(status);
    for (name, value) in answer.headers {
        // What the upstream sent parsed as a header there; a value that does not here is left out.
        if let (Ok(name), Ok(value)) =
            (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_bytes(&value))
        {
            res.append_header((name, value));
        }
    }
    Ok(match answer.length {
        Some(length) => res.body(SizedStream::new(length, answer.body)),
        None => res.streaming(answer.body),
    })
}

#[cfg(test)]
mod tests {
    use super::proxied_path;

    #[test]
    fn the_proxied_path_is_what_follows_proxy_as_sent() {
        assert_eq!(proxied_path("/api/v1/connections/desk/proxy/a/%2e%2e/b"), Some("/a/%2e%2e/b"));
        assert_eq!(proxied_path("/api/v1/connections/desk/proxy/"), Some("/"));
        assert_eq!(proxied_path("/api/v1/connections/desk/proxy"), Some(""));
        assert_eq!(proxied_path("/api/v1/connections/desk/proxyx/a"), None);
        assert_eq!(proxied_path("/api/v1/connections/desk/invoke"), None);
    }
}
