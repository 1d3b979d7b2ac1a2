//! How the fake provider words its answers, per provider, each as its documentation shows (the URL
//! is on each variant): refusals on HTTP 200, `status` words without `error`, error objects.

use actix_web::HttpResponse;
use serde_json::json;

use super::fake_provider::oauth_error;

/// Whose documented answer shapes the token endpoint uses, for tokens and for refusals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// RFC 6749 §5.1 and §5.2.
    Standard,
    /// Slack oauth.v2.access (https://api.slack.com/methods/oauth.v2.access) and token rotation
    /// (https://api.slack.com/authentication/rotation): HTTP 200 always; the user token nested under
    /// `authed_user` in the code exchange, at the top level in a refresh; `{"ok":false,"error":…}`.
    Slack,
    /// GitHub "Refreshing user access tokens" (https://docs.github.com/en/apps/creating-github-apps/
    /// authenticating-with-a-github-app/refreshing-user-access-tokens): `refresh_token_expires_in`,
    /// and refusals on HTTP 200 (`bad_refresh_token`, `incorrect_client_credentials`).
    GitHub,
    /// HubSpot OAuth refresh (https://developers.hubspot.com/docs/api/oauth/tokens): HTTP 400 with
    /// `{"status":"BAD_REFRESH_TOKEN","message":…}` and no `error` field.
    HubSpot,
    /// Facebook Graph API errors (https://developers.facebook.com/docs/graph-api/guides/
    /// error-handling): `{"error":{"message":…,"type":"OAuthException","code":190}}`.
    Facebook,
    /// Zoho Accounts (https://www.zoho.com/accounts/protocol/oauth/web-apps/access-token-expiry.html):
    /// refusals on HTTP 200 with an `error` word of Zoho's own. Zoho's pages show only successful
    /// answers; the words are the ones its token endpoint sends, as its client libraries handle them:
    /// `invalid_code` for a dead code or refresh token (https://github.com/schmorrison/Zoho/pull/18,
    /// https://github.com/Weble/ZohoBooksApi/issues/84) and `invalid_client_secret` for a wrong secret
    /// (https://github.com/schmorrison/Zoho/pull/34).
    Zoho,
}

/// A dead grant (an unknown, used or revoked code or refresh token) as `style` says it.
pub fn dead_grant(style: Style, description: &str) -> HttpResponse {
    match style {
        Style::Standard => oauth_error(400, "invalid_grant", description),
        Style::Slack => HttpResponse::Ok().json(json!({ "ok": false, "error": "invalid_refresh_token" })),
        Style::GitHub => HttpResponse::Ok().json(json!({
            "error": "bad_refresh_token",
            "error_description": "The refresh token passed is incorrect or expired.",
            "error_uri": "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors",
        })),
        Style::HubSpot => HttpResponse::BadRequest().json(json!({
            "status": "BAD_REFRESH_TOKEN", "message": "missing or unknown refresh token",
            "correlationId": "00000000-0000-0000-0000-000000000000",
        })),
        Style::Zoho => HttpResponse::Ok().json(json!({ "error": "invalid_code" })),
        Style::Facebook => HttpResponse::BadRequest().json(json!({ "error": {
            "message": "Error validating access token: The session has been invalidated.",
            "type": "OAuthException", "code": 190, "error_subcode": 460, "fbtrace_id": "AbCdEf",
        }})),
    }
}

/// Client credentials refused, as `style` says it.
pub fn bad_client(style: Style, description: &str) -> HttpResponse {
    match style {
        Style::Slack => HttpResponse::Ok().json(json!({ "ok": false, "error": "bad_client_secret" })),
        Style::GitHub => HttpResponse::Ok().json(json!({
            "error": "incorrect_client_credentials",
            "error_description": "The client_id and/or client_secret passed are incorrect.",
        })),
        Style::HubSpot => HttpResponse::BadRequest()
            .json(json!({ "status": "BAD_CLIENT_ID", "message": "missing or unknown client id" })),
        Style::Zoho => HttpResponse::Ok().json(json!({ "error": "invalid_client_secret" })),
        Style::Standard | Style::Facebook => oauth_error(401, "invalid_client", description),
    }
}
