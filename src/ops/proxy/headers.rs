//! Which headers cross the proxy, each way.
//!
//! Hop-by-hop headers (RFC 9110 §7.6.1: `Connection` and every header it names, `Keep-Alive`,
//! `Proxy-*`, `TE`, `Trailer`, `Transfer-Encoding`, `Upgrade`) describe one connection, never the
//! message: they are dropped both ways, and each side's HTTP stack frames its own.
//!
//! Towards the upstream the caller's `Authorization` (its API token for this app) is consumed and
//! never forwarded, nor its cookies, nor `Expect`; `Accept-Encoding` is dropped so that the upstream
//! answers uncompressed and an echoed secret can be found in the text; headers an injection sets
//! replace the caller's of the same name (`injection::keeps_header`).
//!
//! Back to the caller the upstream's `Set-Cookie` is dropped (the answer is served from this app's
//! origin, where the upstream sets nothing), and so is its `Content-Security-Policy`: this app's
//! applies (`security::headers`). Every value is masked for echoed secrets.

use crate::injection::{self, Masker};

/// Hop-by-hop headers by name (with any `proxy-*`, see `hop_by_hop`).
const HOP_BY_HOP: &[&str] = &["connection", "keep-alive", "te", "trailer", "transfer-encoding", "upgrade"];

/// Request headers that never go upstream, besides hop-by-hop ones.
const NOT_FORWARDED: &[&str] =
    &["authorization", "cookie", "expect", "accept-encoding", "host", "content-length"];

/// Answer headers that never come back, besides hop-by-hop ones. `Content-Length` is set from the
/// body as it is sent (a masked text may change length).
const NOT_RETURNED: &[&str] = &["set-cookie", "content-security-policy", "content-length"];

/// The names listed in a message's `Connection` headers, lower-cased.
fn named_in_connection<'a>(headers: impl Iterator<Item = (&'a str, &'a [u8])>) -> Vec<String> {
    headers
        .filter(|(name, _)| name.eq_ignore_ascii_case("connection"))
        .flat_map(|(_, value)| {
            String::from_utf8_lossy(value)
                .split(',')
                .map(|t| t.trim().to_ascii_lowercase())
                .collect::<Vec<_>>()
        })
        .filter(|t| !t.is_empty())
        .collect()
}

/// Whether a header (its name lower-cased) is hop-by-hop in a message whose `Connection` headers
/// name `named`.
fn hop_by_hop(lower: &str, named: &[String]) -> bool {
    HOP_BY_HOP.contains(&lower) || lower.starts_with("proxy-") || named.iter().any(|n| n == lower)
}

/// The caller's headers that go upstream, in order; `injected` are the connection's credentials.
pub fn outgoing<'a>(
    headers: &'a [(String, Vec<u8>)],
    injected: &[injection::Injection],
) -> Vec<(&'a str, &'a [u8])> {
    let named = named_in_connection(headers.iter().map(|(n, v)| (n.as_str(), v.as_slice())));
    let replaced = injection::replaced_headers(injected);
    headers
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_slice()))
        .filter(|(name, _)| {
            let lower = name.to_ascii_lowercase();
            !hop_by_hop(&lower, &named)
                && !NOT_FORWARDED.contains(&lower.as_str())
                && injection::keeps_header(&lower, &replaced)
        })
        .collect()
}

/// The upstream's headers that come back, in order, each value masked by `masker`.
pub fn incoming(headers: &reqwest::header::HeaderMap, masker: &mut Masker) -> Vec<(String, Vec<u8>)> {
    let named = named_in_connection(headers.iter().map(|(n, v)| (n.as_str(), v.as_bytes())));
    headers
        .iter()
        .filter(|(name, _)| {
            let lower = name.as_str();
            !hop_by_hop(lower, &named) && !NOT_RETURNED.contains(&lower)
        })
        .map(|(name, value)| (name.as_str().to_owned(), masker.whole(value.as_bytes())))
        .collect()
}

/// Whether an answer's body is text whose echoes of secrets are masked: `text/*`, JSON, XML, a form,
/// or no declared type; and not compressed (the proxy asks for no compression, but an upstream may
/// compress all the same). Anything else passes as it is.
pub fn textual(headers: &reqwest::header::HeaderMap) -> bool {
    let value = |name| headers.get(name).and_then(|v| v.to_str().ok()).map(|v| v.trim().to_ascii_lowercase());
    if value(reqwest::header::CONTENT_ENCODING).is_some_and(|e| !e.is_empty() && e != "identity") {
        return false;
    }
    let Some(content_type) = value(reqwest::header::CONTENT_TYPE) else {
        return true;
    };
    let essence = content_type.split(';').next().unwrap_or("").trim().to_owned();
    let Some((kind, subtype)) = essence.split_once('/') else {
        return true;
    };
    kind == "text"
        || matches!(subtype, "json" | "xml" | "x-www-form-urlencoded" | "javascript" | "x-ndjson" | "ndjson")
        || subtype.ends_with("+json")
        || subtype.ends_with("+xml")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::Secret;
    use reqwest::header::{HeaderMap, HeaderValue};

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, Vec<u8>)> {
        list.iter().map(|(n, v)| (n.to_string(), v.as_bytes().to_vec())).collect()
    }

    #[test]
    fn hop_by_hop_headers_the_callers_token_and_replaced_headers_stay_behind() {
        let caller = pairs(&[
            ("Authorization", "Bearer cn_caller"),
            ("Connection", "keep-alive, X-Trace"),
            ("X-Trace", "1"),
            ("Keep-Alive", "timeout=5"),
            ("Proxy-Authorization", "Basic x"),
            ("TE", "trailers"),
            ("Upgrade", "websocket"),
            ("Cookie", "connections_session=abc"),
            ("Accept-Encoding", "gzip"),
            ("x-api-key", "forged"),
            ("Accept", "application/json"),
            ("X-Custom", "kept"),
        ]);
        let injected = vec![injection::Injection::Header("X-Api-Key".into(), Secret::new("k"))];
        let names: Vec<&str> = outgoing(&caller, &injected).into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["Accept", "X-Custom"]);
    }

    #[test]
    fn the_answer_loses_cookies_and_hop_by_hop_headers_and_echoes_are_masked() {
        let mut headers = HeaderMap::new();
        headers.insert("connection", HeaderValue::from_static("close, x-hop"));
        headers.insert("x-hop", HeaderValue::from_static("1"));
        headers.insert("set-cookie", HeaderValue::from_static("a=b"));
        headers.insert("proxy-authenticate", HeaderValue::from_static("Basic"));
        headers.insert("x-echo", HeaderValue::from_static("key=sekret-123"));
        headers.append("link", HeaderValue::from_static("<a>"));
        headers.append("link", HeaderValue::from_static("<b>"));
        let back = incoming(&headers, &mut Masker::new(&["sekret-123".to_owned()]));
        let shown: Vec<(String, String)> =
            back.into_iter().map(|(n, v)| (n, String::from_utf8(v).unwrap())).collect();
        assert_eq!(
            shown,
            [
                ("x-echo".to_owned(), "key=[redacted]".to_owned()),
                ("link".to_owned(), "<a>".to_owned()),
                ("link".to_owned(), "<b>".to_owned())
            ]
        );
    }

    #[test]
    fn text_json_xml_and_forms_are_masked_and_binary_or_compressed_bodies_are_not() {
        let with = |pairs: &[(&'static str, &'static str)]| {
            let mut headers = HeaderMap::new();
            for (n, v) in pairs {
                headers.insert(*n, HeaderValue::from_static(v));
            }
            textual(&headers)
        };
        for t in [
            "text/plain",
            "text/html; charset=utf-8",
            "application/json",
            "application/problem+json",
            "application/xml",
            "application/atom+xml",
            "application/x-www-form-urlencoded",
            "Application/JSON",
        ] {
            assert!(with(&[("content-type", t)]), "{t}");
        }
        assert!(with(&[]), "no declared type: masked");
        for t in ["application/octet-stream", "image/png", "application/pdf", "application/zip"] {
            assert!(!with(&[("content-type", t)]), "{t}");
        }
        assert!(!with(&[("content-type", "application/json"), ("content-encoding", "gzip")]));
    }
}
