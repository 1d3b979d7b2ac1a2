//! A fake OAuth 2.0 authorization server for the connection tests, on 127.0.0.1 port 0: an
//! authorize endpoint that redirects straight back (no login), a token endpoint (authorization code
//! with PKCE S256, refresh with optional rotation, client credentials), RFC 7009 revocation, a small
//! protected API under `/api/` that accepts only live access tokens, and a record of every call so
//! that tests can count them. Each behaviour can be changed between steps.

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use futures_core::Stream as _;
use serde_json::json;
use sha2::{Digest, Sha256};

pub use super::provider_styles::Style;
use super::provider_styles::{bad_client, dead_grant};

/// How the client must authenticate at the token and revoke endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    Basic,
    Body,
}

/// What the fake does; tests change it with `FakeProvider::set`.
#[derive(Debug, Clone)]
pub struct Behaviour {
    /// Refuse an authorization without an S256 `code_challenge`, and a code exchange without its verifier.
    pub require_pkce: bool,
    pub client_auth: ClientAuth,
    pub refresh_tokens: bool,
    /// A used refresh token dies: reusing it answers `invalid_grant`.
    pub rotate_refresh_tokens: bool,
    /// Answer every token request with this HTTP status and OAuth error code.
    pub token_error: Option<(u16, &'static str)>,
    /// The status the revoke endpoint answers (200: revoked).
    pub revoke_status: u16,
    /// The `iss` sent back with the authorization response (RFC 9207).
    pub iss: Option<String>,
    /// The authorize endpoint refuses: `error` and `error_description`.
    pub deny: Option<(String, String)>,
    /// The `scope` of token responses; None echoes what was asked.
    pub granted_scope: Option<String>,
    pub expires_in: i64,
    /// Token answers carry no `expires_in`: the token lasts until the API refuses it (Salesforce,
    /// Notion, GitHub OAuth Apps).
    pub no_expiry: bool,
    /// Token responses wait this long (after the call is recorded), so that concurrent callers pile up.
    pub token_delay_ms: u64,
    /// What the protected API answers to a missing, unknown or killed access token.
    pub api_reject_status: u16,
    /// False: the protected API refuses every token, live or not.
    pub api_accepts: bool,
    /// A rotated-away refresh token stays valid (a provider's grace window for the previous token).
    pub grace_previous: bool,
    /// Without rotation, a refresh answer carries the presented refresh token again (HubSpot,
    /// Pipedrive) instead of none (Google, Zoho).
    pub same_refresh_token: bool,
    /// Refusals (`token_error`) quote the request they refuse in `error_description`: its form
    /// fields and Authorization header, as a careless server's debug output would.
    pub echo_in_errors: bool,
    /// Whose answer shapes the token endpoint uses.
    pub style: Style,
    /// Token answers form-encoded under `text/plain` (GitHub without `Accept: application/json`).
    pub form_answers: bool,
    /// Answer every token request with exactly this status, content type and body.
    pub raw_token_answer: Option<(u16, &'static str, Vec<u8>)>,
    /// `refresh_token_expires_in` of token answers (GitHub; Google "Refresh token expiration",
    /// https://developers.google.com/identity/protocols/oauth2#expiration).
    pub refresh_token_expires_in: Option<i64>,
    /// What the protected API answers to a dead token instead of `api_reject_status`: a status and
    /// a JSON body (Slack's HTTP 200 `{"ok":false,"error":"token_expired"}`).
    pub api_expired_answer: Option<(u16, serde_json::Value)>,
    /// Parameters the authorize endpoint adds to its redirect back (QuickBooks `realmId`, Zoho
    /// `location` and `accounts-server`).
    pub callback_params: Vec<(String, String)>,
    /// Fields every token answer carries besides the tokens (Salesforce `instance_url`, Zoho
    /// `api_domain`), at the top level.
    pub token_fields: serde_json::Value,
    /// Answer every token request with this status (429, 503) and `Retry-After` header, if any: a
    /// provider's throttle.
    pub throttle: Option<(u16, Option<String>)>,
}

impl Default for Behaviour {
    fn default() -> Self {
        Behaviour {
            require_pkce: true,
            client_auth: ClientAuth::Basic,
            refresh_tokens: true,
            rotate_refresh_tokens: true,
            token_error: None,
            revoke_status: 200,
            iss: None,
            deny: None,
            granted_scope: None,
            expires_in: 3600,
            no_expiry: false,
            token_delay_ms: 0,
            api_reject_status: 401,
            api_accepts: true,
            echo_in_errors: false,
            grace_previous: false,
            same_refresh_token: false,
            style: Style::Standard,
            form_answers: false,
            raw_token_answer: None,
            refresh_token_expires_in: None,
            api_expired_answer: None,
            callback_params: Vec::new(),
            token_fields: json!({}),
            throttle: None,
        }
    }
}

/// One call to the token endpoint, as received (after client authentication).
#[derive(Debug, Clone)]
pub struct TokenCall {
    pub grant_type: String,
    pub params: HashMap<String, String>,
    /// How the client authenticated: "basic", "body" or "none".
    pub auth: &'static str,
    /// How the parameters came: "form" or "json".
    pub format: &'static str,
}

/// One call to the revoke endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokeCall {
    pub token: String,
    pub hint: Option<String>,
}

/// One call to the protected API: the path, the access token it carried (if any) and the header
/// that carried it, as `name: value` with the name lower-cased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiCall {
    pub path: String,
    pub token: Option<String>,
    pub header: Option<String>,
    pub accepted: bool,
}

/// What an authorization code was issued for.
#[derive(Debug, Clone)]
struct Grant {
    redirect_uri: String,
    scope: Option<String>,
    challenge: Option<String>,
}

/// The fake's state, shared with its handlers.
pub struct Provider {
    pub client_id: String,
    pub client_secret: String,
    behaviour: Mutex<Behaviour>,
    codes: Mutex<HashMap<String, Grant>>,
    /// Every token issued, with whether it is still valid.
    tokens: Mutex<HashMap<String, bool>>,
    /// Refresh token → the scope it carries.
    refresh_scopes: Mutex<HashMap<String, Option<String>>>,
    authorize_calls: Mutex<Vec<HashMap<String, String>>>,
    token_calls: Mutex<Vec<TokenCall>>,
    revoke_calls: Mutex<Vec<RevokeCall>>,
    api_calls: Mutex<Vec<ApiCall>>,
    /// Every request's method and path ("POST /tenants/acme/token"), in order.
    requests: Mutex<Vec<String>>,
    /// Every request's Host header with its method and path ("127.0.0.1:5000 POST /token").
    requests_at: Mutex<Vec<String>>,
    serial: AtomicUsize,
    /// Token requests being answered now, and the most there were at once.
    in_flight: AtomicUsize,
    peak: AtomicUsize,
    /// When each token request came and when its answer left, in order of arrival.
    spans: Mutex<Vec<(std::time::Instant, std::time::Instant)>>,
}

/// Counts a token request in flight from its arrival until its answer leaves.
struct InFlight<'a> {
    provider: &'a Provider,
    since: std::time::Instant,
}

impl<'a> InFlight<'a> {
    fn start(provider: &'a Provider) -> InFlight<'a> {
        let now = provider.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        provider.peak.fetch_max(now, Ordering::SeqCst);
        InFlight { provider, since: std::time::Instant::now() }
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.provider.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.provider.spans.lock().unwrap().push((self.since, std::time::Instant::now()));
    }
}

/// A running fake authorization server.
pub struct FakeProvider {
    pub url: String,
    /// A second origin of the same fake (another loopback port): a provider's other data centre.
    pub other_url: String,
    provider: web::Data<Provider>,
    handle: actix_web::dev::ServerHandle,
}

impl std::ops::Deref for FakeProvider {
    type Target = Provider;
    fn deref(&self) -> &Provider {
        &self.provider
    }
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).expect("random");
    hex::encode(buf)
}

impl FakeProvider {
    /// Starts a fake with the default behaviour and a client id and secret of its own.
    pub async fn start() -> FakeProvider {
        Self::start_with(Behaviour::default()).await
    }

    pub async fn start_with(behaviour: Behaviour) -> FakeProvider {
        let provider = web::Data::new(Provider {
            client_id: format!("client-{}", random_hex(4)),
            // Characters that RFC 6749 §2.3.1 makes the client form-encode before Base64.
            client_secret: format!("canary-client-secret-{}:+/ %&=", random_hex(12)),
            behaviour: Mutex::new(behaviour),
            codes: Mutex::default(),
            tokens: Mutex::default(),
            refresh_scopes: Mutex::default(),
            authorize_calls: Mutex::default(),
            token_calls: Mutex::default(),
            revoke_calls: Mutex::default(),
            api_calls: Mutex::default(),
            requests: Mutex::default(),
            requests_at: Mutex::default(),
            serial: AtomicUsize::new(0),
            in_flight: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
            spans: Mutex::default(),
        });
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the fake provider");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let other = TcpListener::bind("127.0.0.1:0").expect("bind the fake provider's second origin");
        let other_url = format!("http://{}", other.local_addr().unwrap());
        let data = provider.clone();
        let server = HttpServer::new(move || {
            let seen = data.clone();
            App::new()
                .app_data(data.clone())
                .wrap_fn(move |req, srv| {
                    seen.requests.lock().unwrap().push(format!("{} {}", req.method(), req.path()));
                    let host = req.headers().get("host").and_then(|h| h.to_str().ok()).unwrap_or_default();
                    seen.requests_at.lock().unwrap().push(format!("{host} {} {}", req.method(), req.path()));
                    actix_web::dev::Service::call(srv, req)
                })
                .route("/authorize", web::get().to(authorize))
                .route("/token", web::post().to(token))
                .route("/revoke", web::post().to(revoke))
                .route("/api/{tail:.*}", web::route().to(protected_api))
                // The same endpoints under a tenant's path, for services with connection variables.
                .route("/tenants/{tenant}/authorize", web::get().to(authorize))
                .route("/tenants/{tenant}/token", web::post().to(token))
                .route("/tenants/{tenant}/revoke", web::post().to(revoke))
                .route("/tenants/{tenant}/api/{tail:.*}", web::route().to(protected_api))
        })
        .workers(1)
        .listen(listener)
        .expect("listen")
        .listen(other)
        .expect("listen on the second origin")
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        FakeProvider { url, other_url, provider, handle }
    }

    pub fn authorize_url(&self) -> String {
        format!("{}/authorize", self.url)
    }

    pub fn token_url(&self) -> String {
        format!("{}/token", self.url)
    }

    pub fn revoke_url(&self) -> String {
        format!("{}/revoke", self.url)
    }

    /// The base URL of the protected API (a service's `api_base_url`).
    pub fn api_url(&self) -> String {
        format!("{}/api", self.url)
    }

    /// The fake's issuer identifier (what it sends as `iss` when told to).
    pub fn issuer(&self) -> String {
        self.url.clone()
    }

    /// Changes the behaviour for the calls that follow.
    pub fn set(&self, change: impl FnOnce(&mut Behaviour)) {
        change(&mut self.behaviour.lock().unwrap());
    }

    pub async fn stop(&self) {
        self.handle.stop(false).await;
    }
}

impl Provider {
    fn behaviour(&self) -> Behaviour {
        self.behaviour.lock().unwrap().clone()
    }

    fn mint(&self, kind: &str) -> String {
        let n = self.serial.fetch_add(1, Ordering::SeqCst);
        let token = format!("canary-{kind}-{n}-{}", random_hex(12));
        self.tokens.lock().unwrap().insert(token.clone(), true);
        token
    }

    /// Issues an authorization code directly, as if the user had consented.
    pub fn mint_code(&self, redirect_uri: &str, scope: Option<&str>, challenge: Option<&str>) -> String {
        let code = self.mint("code");
        let grant = Grant {
            redirect_uri: redirect_uri.to_owned(),
            scope: scope.map(str::to_owned),
            challenge: challenge.map(str::to_owned),
        };
        self.codes.lock().unwrap().insert(code.clone(), grant);
        code
    }

    pub fn authorize_calls(&self) -> Vec<HashMap<String, String>> {
        self.authorize_calls.lock().unwrap().clone()
    }

    pub fn token_calls(&self) -> Vec<TokenCall> {
        self.token_calls.lock().unwrap().clone()
    }

    pub fn token_count(&self) -> usize {
        self.token_calls.lock().unwrap().len()
    }

    /// The most token requests the fake was answering at once.
    pub fn peak_token_requests(&self) -> usize {
        self.peak.load(Ordering::SeqCst)
    }

    /// When each token request came and when its answer left.
    pub fn token_spans(&self) -> Vec<(std::time::Instant, std::time::Instant)> {
        self.spans.lock().unwrap().clone()
    }

    pub fn revoke_calls(&self) -> Vec<RevokeCall> {
        self.revoke_calls.lock().unwrap().clone()
    }

    /// Every request's method and path ("POST /tenants/acme/token"), in order.
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }

    /// The requests to one origin of the fake (`url` or `other_url`): "POST /token", in order.
    pub fn requests_at(&self, origin: &str) -> Vec<String> {
        let host = format!("{} ", origin.trim_start_matches("http://"));
        let all = self.requests_at.lock().unwrap();
        all.iter().filter_map(|r| r.strip_prefix(&host).map(str::to_owned)).collect()
    }

    pub fn api_calls(&self) -> Vec<ApiCall> {
        self.api_calls.lock().unwrap().clone()
    }

    /// Token calls of one grant type.
    pub fn grants(&self, grant_type: &str) -> Vec<TokenCall> {
        self.token_calls().into_iter().filter(|c| c.grant_type == grant_type).collect()
    }

    /// Makes the provider forget a token (as if it had been revoked or had expired on its side).
    pub fn kill(&self, token: &str) {
        if let Some(active) = self.tokens.lock().unwrap().get_mut(token) {
            *active = false;
        }
    }

    /// Whether the fake would still accept `token` (issued and neither revoked nor rotated away).
    pub fn is_active(&self, token: &str) -> bool {
        self.tokens.lock().unwrap().get(token).copied().unwrap_or(false)
    }

    /// Every secret that went through the fake: the client secret, each token and code it issued,
    /// and each PKCE verifier it received. None of them may ever show up in the app's output.
    pub fn secrets(&self) -> Vec<String> {
        // The secret up to its special characters too, which an HTML page would show escaped.
        let mut all =
            vec![self.client_secret.clone(), self.client_secret.trim_end_matches(":+/ %&=").to_owned()];
        all.extend(self.tokens.lock().unwrap().keys().filter(|t| !t.starts_with("canary-code-")).cloned());
        all.extend(self.token_calls().iter().filter_map(|c| c.params.get("code_verifier").cloned()));
        all
    }

    /// The access and refresh tokens issued so far, in order.
    pub fn issued(&self, kind: &str) -> Vec<String> {
        let prefix = format!("canary-{kind}-");
        let mut tokens: Vec<(usize, String)> = self
            .tokens
            .lock()
            .unwrap()
            .keys()
            .filter_map(|t| {
                t.strip_prefix(&prefix)
                    .and_then(|rest| rest.split('-').next()?.parse().ok())
                    .map(|n| (n, t.clone()))
            })
            .collect();
        tokens.sort();
        tokens.into_iter().map(|(_, t)| t).collect()
    }

    /// Checks client authentication as `behaviour` demands; returns how the client authenticated, or
    /// why it failed.
    fn authenticate(
        &self,
        req: &HttpRequest,
        params: &HashMap<String, String>,
        behaviour: &Behaviour,
    ) -> Result<&'static str, &'static str> {
        let basic = req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Basic "))
            .and_then(|b| STANDARD.decode(b).ok())
            .and_then(|raw| String::from_utf8(raw).ok())
            .and_then(|pair| pair.split_once(':').map(|(id, secret)| (form_decode(id), form_decode(secret))));
        let body = params
            .get("client_secret")
            .map(|secret| (params.get("client_id").cloned().unwrap_or_default(), secret.clone()));
        let (how, given) = match (behaviour.client_auth, basic, body) {
            (ClientAuth::Basic, Some(pair), None) => ("basic", pair),
            (ClientAuth::Body, None, Some(pair)) => ("body", pair),
            _ => return Err("client authentication failed or used the wrong method"),
        };
        if given != (self.client_id.clone(), self.client_secret.clone()) {
            return Err("client authentication failed");
        }
        Ok(how)
    }

    fn token_response(
        &self,
        scope: Option<String>,
        refresh: Option<String>,
        behaviour: &Behaviour,
        exchange: bool,
    ) -> HttpResponse {
        let mut body = json!({ "access_token": self.mint("access"), "token_type": "Bearer" });
        if !behaviour.no_expiry {
            body["expires_in"] = behaviour.expires_in.into();
        }
        if let Some(refresh) = refresh {
            body["refresh_token"] = refresh.into();
        }
        if let Some(scope) = behaviour.granted_scope.clone().or(scope) {
            body["scope"] = scope.into();
        }
        if let Some(seconds) = behaviour.refresh_token_expires_in {
            body["refresh_token_expires_in"] = seconds.into();
        }
        if behaviour.style == Style::Slack {
            body["ok"] = true.into();
            if exchange {
                let mut user = body.take();
                user["token_type"] = "user".into();
                user["id"] = "U0FAKE".into();
                body = json!({
                    "ok": true, "access_token": self.mint("bot"), "token_type": "bot", "scope": "commands",
                    "app_id": "A0FAKE", "team": {"id": "T0FAKE", "name": "Fake"}, "authed_user": user,
                });
            }
        }
        if let (Some(body), Some(fields)) = (body.as_object_mut(), behaviour.token_fields.as_object()) {
            body.extend(fields.clone());
        }
        if behaviour.form_answers {
            let pairs: Vec<(String, String)> = body
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_owned)))
                .collect();
            let text = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
            return HttpResponse::Ok().content_type("text/plain; charset=utf-8").body(text);
        }
        HttpResponse::Ok().insert_header(("cache-control", "no-store")).json(body)
    }

    fn new_refresh_token(&self, scope: Option<String>, behaviour: &Behaviour) -> Option<String> {
        behaviour.refresh_tokens.then(|| {
            let token = self.mint("refresh");
            self.refresh_scopes.lock().unwrap().insert(token.clone(), scope);
            token
        })
    }
}

fn form_decode(raw: &str) -> String {
    url::form_urlencoded::parse(format!("v={raw}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

pub(super) fn oauth_error(status: u16, error: &str, description: &str) -> HttpResponse {
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
        .json(json!({ "error": error, "error_description": description }))
}

fn with_query(base: &str, pairs: &[(&str, &str)]) -> String {
    let mut url = url::Url::parse(base).expect("redirect_uri is a URL");
    url.query_pairs_mut().extend_pairs(pairs);
    url.to_string()
}

/// Consents at once: 302 back to `redirect_uri` with a code (or the configured refusal).
async fn authorize(
    provider: web::Data<Provider>,
    query: web::Query<HashMap<String, String>>,
) -> HttpResponse {
    let q = query.into_inner();
    provider.authorize_calls.lock().unwrap().push(q.clone());
    let behaviour = provider.behaviour();
    let get = |k: &str| q.get(k).map(String::as_str);
    let (Some(redirect_uri), Some("code"), Some(client_id)) =
        (get("redirect_uri"), get("response_type"), get("client_id"))
    else {
        return HttpResponse::BadRequest()
            .body("response_type=code, client_id and redirect_uri are required");
    };
    if client_id != provider.client_id {
        return HttpResponse::BadRequest().body("unknown client");
    }
    let state = get("state").unwrap_or_default();
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    let code;
    if let Some((error, description)) = &behaviour.deny {
        pairs.extend([("error", error.as_str()), ("error_description", description.as_str())]);
    } else if behaviour.require_pkce
        && (get("code_challenge").is_none() || get("code_challenge_method") != Some("S256"))
    {
        pairs.extend([("error", "invalid_request"), ("error_description", "PKCE with S256 is required")]);
    } else {
        code = provider.mint_code(redirect_uri, get("scope"), get("code_challenge"));
        pairs.push(("code", &code));
    }
    pairs.push(("state", state));
    if let Some(iss) = &behaviour.iss {
        pairs.push(("iss", iss));
    }
    pairs.extend(behaviour.callback_params.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    HttpResponse::Found().insert_header(("location", with_query(redirect_uri, &pairs))).finish()
}

/// The parameters of a token request: a form, or a JSON object of strings (Notion).
fn token_params(req: &HttpRequest, body: &[u8]) -> (HashMap<String, String>, &'static str) {
    let json = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if json {
        let map: HashMap<String, serde_json::Value> = serde_json::from_slice(body).unwrap_or_default();
        let strings = map.into_iter().filter_map(|(k, v)| Some((k, v.as_str()?.to_owned()))).collect();
        (strings, "json")
    } else {
        (url::form_urlencoded::parse(body).into_owned().collect(), "form")
    }
}

async fn token(req: HttpRequest, provider: web::Data<Provider>, body: web::Bytes) -> HttpResponse {
    let (params, format) = token_params(&req, &body);
    let behaviour = provider.behaviour();
    let auth = match provider.authenticate(&req, &params, &behaviour) {
        Ok(how) => how,
        Err(refused) => {
            let grant_type = params.get("grant_type").cloned().unwrap_or_default();
            let call = TokenCall { grant_type, params, auth: "none", format };
            provider.token_calls.lock().unwrap().push(call);
            return bad_client(behaviour.style, refused);
        }
    };
    let grant_type = params.get("grant_type").cloned().unwrap_or_default();
    provider.token_calls.lock().unwrap().push(TokenCall {
        grant_type: grant_type.clone(),
        params: params.clone(),
        auth,
        format,
    });
    let _in_flight = InFlight::start(&provider);
    if behaviour.token_delay_ms > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(behaviour.token_delay_ms)).await;
    }
    if let Some((status, retry_after)) = &behaviour.throttle {
        let mut answer = HttpResponse::build(actix_web::http::StatusCode::from_u16(*status).unwrap());
        if let Some(value) = retry_after {
            answer.insert_header(("retry-after", value.as_str()));
        }
        return answer.json(json!({ "error": "rate_limited", "error_description": "slow down" }));
    }
    if let Some((status, content_type, body)) = behaviour.raw_token_answer.clone() {
        return HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
            .content_type(content_type)
            .body(body);
    }
    match behaviour.token_error {
        Some((500, _)) => return HttpResponse::InternalServerError().body("the fake provider fell over"),
        Some((status, error)) if behaviour.echo_in_errors => {
            let authorization =
                req.headers().get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default();
            let echo = format!("refused {params:?} with authorization {authorization}");
            return oauth_error(status, error, &echo);
        }
        Some((status, error)) => return oauth_error(status, error, "the fake provider was told to refuse"),
        None => {}
    }
    let get = |k: &str| params.get(k).map(String::as_str);
    match grant_type.as_str() {
        "authorization_code" => {
            let Some(grant) = get("code").and_then(|c| provider.codes.lock().unwrap().remove(c)) else {
                return dead_grant(behaviour.style, "unknown or used code");
            };
            if get("redirect_uri") != Some(grant.redirect_uri.as_str()) {
                return oauth_error(400, "invalid_grant", "redirect_uri does not match");
            }
            let verified = match (&grant.challenge, get("code_verifier")) {
                (Some(challenge), Some(verifier)) => {
                    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) == *challenge
                }
                (None, None) => !behaviour.require_pkce,
                _ => false,
            };
            if !verified {
                return oauth_error(400, "invalid_grant", "PKCE verification failed");
            }
            let refresh = provider.new_refresh_token(grant.scope.clone(), &behaviour);
            provider.token_response(grant.scope, refresh, &behaviour, true)
        }
        "refresh_token" => {
            let presented = get("refresh_token").unwrap_or_default().to_owned();
            if !provider.is_active(&presented) {
                return dead_grant(behaviour.style, "unknown, revoked or reused refresh token");
            }
            let scope = provider.refresh_scopes.lock().unwrap().get(&presented).cloned().flatten();
            let refresh = if behaviour.rotate_refresh_tokens {
                if !behaviour.grace_previous {
                    provider.tokens.lock().unwrap().insert(presented, false);
                }
                provider.new_refresh_token(scope.clone(), &behaviour)
            } else if behaviour.same_refresh_token {
                Some(presented)
            } else {
                None
            };
            provider.token_response(scope, refresh, &behaviour, false)
        }
        "client_credentials" => {
            provider.token_response(get("scope").map(str::to_owned), None, &behaviour, false)
        }
        _ => oauth_error(400, "unsupported_grant_type", "unsupported grant type"),
    }
}

/// RFC 7009: client authentication, then 200 whether or not the token was known.
async fn revoke(
    req: HttpRequest,
    provider: web::Data<Provider>,
    form: web::Form<HashMap<String, String>>,
) -> HttpResponse {
    let params = form.into_inner();
    let behaviour = provider.behaviour();
    provider.revoke_calls.lock().unwrap().push(RevokeCall {
        token: params.get("token").cloned().unwrap_or_default(),
        hint: params.get("token_type_hint").cloned(),
    });
    if let Err(refused) = provider.authenticate(&req, &params, &behaviour) {
        return oauth_error(401, "invalid_client", refused);
    }
    if behaviour.revoke_status != 200 {
        return HttpResponse::build(actix_web::http::StatusCode::from_u16(behaviour.revoke_status).unwrap())
            .body("revocation is unavailable");
    }
    if let Some(token) = params.get("token")
        && let Some(active) = provider.tokens.lock().unwrap().get_mut(token)
    {
        *active = false;
    }
    HttpResponse::Ok().finish()
}

/// The protected API: a live access token (or a Slack bot token) in any header's last word
/// (`Bearer x`, `Zoho-oauthtoken x`) or in `access_token` of the query answers 200 with the path; anything else
/// answers the configured rejection status. It reads a request's body to its end first, as an API
/// that checks a token after the request has arrived (the proxy streams large bodies to it).
async fn protected_api(
    req: HttpRequest,
    mut body: web::Payload,
    provider: web::Data<Provider>,
) -> HttpResponse {
    while let Some(chunk) = std::future::poll_fn(|cx| std::pin::Pin::new(&mut body).poll_next(cx)).await {
        chunk.expect("the body arrives");
    }
    let from_header = req.headers().iter().find_map(|(name, v)| {
        let value = v.to_str().ok()?;
        let word = value.rsplit(' ').next()?;
        let issued = word.starts_with("canary-access-") || word.starts_with("canary-bot-");
        issued.then(|| (word.to_owned(), format!("{name}: {value}")))
    });
    let from_query = url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == "access_token")
        .map(|(_, v)| v.into_owned());
    let (token, header) = match from_header {
        Some((token, header)) => (Some(token), Some(header)),
        None => (from_query, None),
    };
    let accepted =
        provider.behaviour().api_accepts && token.as_deref().is_some_and(|t| provider.is_active(t));
    let path = req.path().to_owned();
    provider.api_calls.lock().unwrap().push(ApiCall {
        path: path.clone(),
        token: token.clone(),
        header,
        accepted,
    });
    if accepted {
        HttpResponse::Ok().json(json!({ "ok": true, "path": path }))
    } else if let Some((status, body)) = provider.behaviour().api_expired_answer {
        HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap()).json(body)
    } else {
        let status = provider.behaviour().api_reject_status;
        HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
            .json(json!({ "error": "invalid_token" }))
    }
}

/// The fake itself: rotation kills a used refresh token, and client authentication is enforced.
#[tokio::test]
async fn the_fake_rotates_refresh_tokens_and_checks_the_client() {
    let fake = FakeProvider::start().await;
    let code = fake.mint_code("http://app/cb", Some("read"), None);
    fake.set(|b| {
        b.require_pkce = false;
        b.client_auth = ClientAuth::Body;
    });
    let http = reqwest::Client::new();
    let post = |mut form: Vec<(&'static str, String)>, secret: &str| {
        form.extend([("client_id", fake.client_id.clone()), ("client_secret", secret.to_owned())]);
        http.post(fake.token_url()).form(&form).send()
    };
    let first: serde_json::Value = post(
        vec![
            ("grant_type", "authorization_code".into()),
            ("code", code),
            ("redirect_uri", "http://app/cb".into()),
        ],
        &fake.client_secret,
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let refresh = first["refresh_token"].as_str().unwrap().to_owned();
    let refreshed = post(
        vec![("grant_type", "refresh_token".into()), ("refresh_token", refresh.clone())],
        &fake.client_secret,
    )
    .await
    .unwrap();
    assert_eq!(refreshed.status(), 200);
    let second: serde_json::Value = refreshed.json().await.unwrap();
    assert_ne!(second["refresh_token"].as_str().unwrap(), refresh);
    assert_eq!(second["scope"], "read");
    let reused =
        post(vec![("grant_type", "refresh_token".into()), ("refresh_token", refresh)], &fake.client_secret)
            .await
            .unwrap();
    assert_eq!(reused.status(), 400);
    assert_eq!(reused.json::<serde_json::Value>().await.unwrap()["error"], "invalid_grant");
    let wrong = post(vec![("grant_type", "client_credentials".into())], "wrong").await.unwrap();
    assert_eq!(wrong.status(), 401);
    assert_eq!(fake.token_count(), 4);
}
