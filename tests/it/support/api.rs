//! The one JSON API client: a user's Bearer token against the app's `/api/v1`, answering `Page`s.

use std::time::Duration;

use reqwest::Method;
use serde_json::Value;

use super::app::TestApp;
use super::browser::{Page, client};

/// A user's API client.
pub struct Api {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    /// The SDAdmin `admin`'s client, with a new token of its own.
    pub async fn admin(app: &TestApp) -> Api {
        Api::for_user(app, "admin").await
    }

    /// `username`'s client, with a new token of their own.
    pub async fn for_user(app: &TestApp, username: &str) -> Api {
        Api::at(&app.base, &app.token_for(username).await)
    }

    /// A client of the app at `base` (one the test started as a process) with a token it already has.
    pub fn at(base: &str, token: &str) -> Api {
        Api { http: client(), base: base.to_owned(), token: token.to_owned() }
    }

    /// Gives up on a request after `timeout`, so that an answer the app would never send fails the
    /// test instead of stalling it.
    pub fn with_timeout(mut self, timeout: Duration) -> Api {
        self.http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .build()
            .unwrap();
        self
    }

    async fn answer(&self, method: &Method, path: &str, req: reqwest::RequestBuilder) -> Page {
        let res = req.bearer_auth(&self.token).send().await;
        let res = res.unwrap_or_else(|e| panic!("{method} {path} got no answer: {e}"));
        let (status, headers) = (res.status().as_u16(), res.headers().clone());
        Page { status, headers, body: res.text().await.unwrap_or_default() }
    }

    /// Any method, with a JSON body or none.
    pub async fn send(&self, method: Method, path: &str, body: Option<&Value>) -> Page {
        let mut req = self.http.request(method.clone(), format!("{}{path}", self.base));
        if let Some(body) = body {
            req = req.json(body);
        }
        self.answer(&method, path, req).await
    }

    /// A body sent as is, with its content type.
    pub async fn raw(&self, method: Method, path: &str, content_type: &str, body: Vec<u8>) -> Page {
        let req = self
            .http
            .request(method.clone(), format!("{}{path}", self.base))
            .header("content-type", content_type)
            .body(body);
        self.answer(&method, path, req).await
    }

    pub async fn get(&self, path: &str) -> Page {
        self.send(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Page {
        self.send(Method::POST, path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: &Value) -> Page {
        self.send(Method::PUT, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> Page {
        self.send(Method::PATCH, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Page {
        self.send(Method::DELETE, path, None).await
    }

    /// Creates something at `path` (a service, a connection) and insists on 201.
    pub async fn create(&self, path: &str, body: &Value) -> Value {
        let res = self.post(path, body).await;
        assert_eq!(res.status, 201, "create at {path}: {}", res.body);
        res.json()
    }
}

/// Invokes connection `link` with `body` (`path`, `method`, `headers`…) and returns the answer.
pub async fn invoke(api: &Api, link: &str, body: Value) -> Page {
    api.post(&format!("/api/v1/connections/{link}/invoke"), &body).await
}
