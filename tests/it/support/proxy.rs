//! What the proxy tests share: an app that may call loopback, a streaming upstream, the admin's
//! token, and requests through `/api/v1/connections/{link}/proxy`.

use connections::config::Config;

use super::api::Api;
use super::app::{TestApp, loopback};
use super::fixtures::connected_key_connection;
use super::stream_upstream::StreamUpstream;

pub struct ProxyEnv {
    pub app: TestApp,
    pub up: StreamUpstream,
    pub api: Api,
    /// The admin's API token.
    pub token: String,
}

impl ProxyEnv {
    pub async fn start() -> ProxyEnv {
        ProxyEnv::start_with(|_| {}).await
    }

    /// With the app's configuration adjusted by `adjust` (loopback is allowed either way).
    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> ProxyEnv {
        let app = TestApp::spawn_with(|config| {
            loopback(config);
            adjust(config);
        })
        .await;
        let up = StreamUpstream::start().await;
        let token = app.token_for("admin").await;
        let api = Api::at(&app.base, &token);
        ProxyEnv { app, up, api, token }
    }

    /// The proxy URL of `link` followed by `rest` (`/items?x=1`).
    pub fn url(&self, link: &str, rest: &str) -> String {
        format!("{}/api/v1/connections/{link}/proxy{rest}", self.app.base)
    }

    /// A request through the proxy with the admin's token.
    pub fn request(&self, method: reqwest::Method, link: &str, rest: &str) -> reqwest::RequestBuilder {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
            .request(method, self.url(link, rest))
            .bearer_auth(&self.token)
    }

    /// An API Key service `link` (header `X-Api-Key`) under the upstream's `/api`, connected; returns
    /// the key.
    pub async fn key_connection(&self, link: &str) -> String {
        connected_key_connection(&self.api, link, &format!("{}/api", self.up.url)).await
    }
}
