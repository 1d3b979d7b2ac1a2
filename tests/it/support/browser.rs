//! The browser side: a cookie-keeping `Browser`, the `Page` every request answers with, and readers
//! for what a page says (its text, its flash message, its Connect link).

use std::collections::HashMap;
use std::sync::Mutex;

use reqwest::header::HeaderMap;

/// An HTTP client that follows no redirects: tests look at each answer.
pub(super) fn client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// What a response looked like.
#[derive(Debug)]
pub struct Page {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

impl Page {
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    /// The CSRF token of the page's forms.
    pub fn csrf(&self) -> String {
        let marker = "name=\"csrf_token\" value=\"";
        let start = self.body.find(marker).unwrap_or_else(|| panic!("no csrf field in: {}", self.body))
            + marker.len();
        self.body[start..].split('"').next().unwrap().to_owned()
    }
}

/// A browser-like client: keeps cookies, sends the Origin a browser would, follows no redirects.
pub struct Browser {
    base: String,
    pub origin: String,
    pub http: reqwest::Client,
    pub cookies: Mutex<HashMap<String, String>>,
}

impl Browser {
    pub fn new(base: &str) -> Browser {
        Browser {
            base: base.to_owned(),
            origin: base.to_owned(),
            http: client(),
            cookies: Mutex::new(HashMap::new()),
        }
    }

    /// The same browser, sending `X-Request-Id: id` with every request.
    pub fn with_request_id(mut self, id: &str) -> Browser {
        let mut headers = HeaderMap::new();
        headers.insert("x-request-id", id.parse().unwrap());
        self.http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .default_headers(headers)
            .build()
            .unwrap();
        self
    }

    fn cookie_header(&self) -> String {
        self.cookies.lock().unwrap().iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    pub fn cookie(&self, name: &str) -> Option<String> {
        self.cookies.lock().unwrap().get(name).cloned()
    }

    pub async fn send(&self, req: reqwest::RequestBuilder) -> Page {
        let res = req.header("cookie", self.cookie_header()).send().await.expect("request");
        for value in res.headers().get_all("set-cookie") {
            let raw = value.to_str().unwrap();
            let (pair, attrs) = raw.split_once(';').unwrap_or((raw, ""));
            let (name, val) = pair.split_once('=').unwrap();
            let mut cookies = self.cookies.lock().unwrap();
            if attrs.contains("Max-Age=0") {
                cookies.remove(name.trim());
            } else {
                cookies.insert(name.trim().to_owned(), val.trim().to_owned());
            }
        }
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        Page { status, headers, body: res.text().await.unwrap_or_default() }
    }

    pub async fn get(&self, path: &str) -> Page {
        self.send(self.http.get(format!("{}{path}", self.base))).await
    }

    /// A form POST as a browser sends it from this site.
    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Page {
        self.request(reqwest::Method::POST, path, form).await
    }

    /// Any method with a form body, sent from this site.
    pub async fn request(&self, method: reqwest::Method, path: &str, form: &[(&str, &str)]) -> Page {
        let req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("origin", &self.origin)
            .form(form);
        self.send(req).await
    }

    /// A form POST carrying the CSRF token of the page at `from`.
    pub async fn submit(&self, from: &str, path: &str, form: &[(&str, &str)]) -> Page {
        let token = self.get(from).await.csrf();
        let mut fields: Vec<(&str, &str)> = vec![("csrf_token", &token)];
        fields.extend_from_slice(form);
        self.post(path, &fields).await
    }

    pub async fn sign_in(&self, username: &str, password: &str) -> Page {
        self.submit("/login", "/login", &[("username", username), ("password", password)]).await
    }
}

/// The path and query of an absolute URL on the app.
pub fn local(url: &str) -> String {
    let parsed = url::Url::parse(url).unwrap_or_else(|e| panic!("{url:?}: {e}"));
    match parsed.query() {
        Some(q) => format!("{}?{q}", parsed.path()),
        None => parsed.path().to_owned(),
    }
}

/// The Connect button's link on a details page (it carries the CSRF token).
pub fn connect_href(details: &Page) -> String {
    let marker = "id=\"connect-button\" href=\"";
    let start = details.body.find(marker).unwrap_or_else(|| panic!("no connect button in: {}", details.body))
        + marker.len();
    details.body[start..].split('"').next().unwrap().replace("&amp;", "&")
}

/// The text of a page without its markup, to read messages.
pub fn text_of(page: &Page) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in page.body.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    decode_entities(&out.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// The one-time message at the top of a page ("" when there is none).
pub fn flash_of(page: &Page) -> String {
    let Some(start) = page.body.find("<div id=\"flash\"") else { return String::new() };
    let rest = &page.body[start..];
    let Some(open) = rest
        .find("role=\"alert\">")
        .map(|i| i + 13)
        .or_else(|| rest.find("role=\"status\">").map(|i| i + 14))
    else {
        return String::new();
    };
    decode_entities(rest[open..].split("</div>").next().unwrap_or(""))
}

/// Undoes HTML escaping: `&lt;`, `&#60;`, `&#x27;` and the like.
fn decode_entities(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let entity = rest.find(';').map(|end| (&rest[1..end], end));
        let decoded = entity.and_then(|(name, end)| {
            let c = match name {
                "lt" => Some('<'),
                "gt" => Some('>'),
                "amp" => Some('&'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                _ => match name.strip_prefix("#x").or_else(|| name.strip_prefix("#X")) {
                    Some(hex) => u32::from_str_radix(hex, 16).ok().and_then(char::from_u32),
                    None => name.strip_prefix('#').and_then(|d| d.parse().ok()).and_then(char::from_u32),
                },
            };
            c.map(|c| (c, end))
        });
        match decoded {
            Some((c, end)) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Follows a 303 in the browser and returns the page it lands on.
pub async fn follow(browser: &Browser, res: &Page) -> Page {
    assert_eq!(res.status, 303, "expected a redirect: {}", res.body);
    browser.get(res.header("location")).await
}
