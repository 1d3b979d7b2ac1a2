//! Requests whose answer is streamed (the proxy): the same client, policy and failure wording as
//! `Outbound::send`, but only the answer's head is awaited, within a bound of the caller's; the body
//! is the caller's to read, at its own pace and without the size cap.

use std::time::Duration;

use url::Url;

use super::{Outbound, OutboundError, classify, failure, redacted, seconds};

/// reqwest bounds a whole exchange, body included; a streamed one may last as long as its data keeps
/// coming, which the caller bounds piece by piece. A year is, in effect, no bound.
const NO_TOTAL_LIMIT: Duration = Duration::from_secs(365 * 86_400);

impl Outbound {
    /// Sends a request and waits for the answer's status and headers: at most `head_timeout` once
    /// `body_sent` (the request's body has gone out; an upstream answers a large upload only once it
    /// has it all). The body bounds its own progress. A failure is logged as `send` logs it.
    pub async fn open(
        &self,
        url: &Url,
        request: reqwest::RequestBuilder,
        head_timeout: Duration,
        body_sent: impl Future<Output = ()>,
    ) -> Result<reqwest::Response, OutboundError> {
        let send = request.timeout(NO_TOTAL_LIMIT).send();
        let mut send = std::pin::pin!(send);
        let early = tokio::select! {
            answer = &mut send => Some(answer),
            () = body_sent => None,
        };
        let sent = match early {
            Some(answer) => Ok(answer),
            None => tokio::time::timeout(head_timeout, send).await,
        };
        let answer = match sent {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(e)) => Err(classify(url, e, head_timeout)),
            Err(_) => Err(OutboundError::Timeout(
                redacted(url),
                format!("did not answer within {}", seconds(head_timeout)),
            )),
        };
        if let Err(e) = &answer
            && !matches!(e, OutboundError::Refused(..))
        {
            crate::logs::warn(&format!("upstream {}", url.host_str().unwrap_or_default()), e);
        }
        answer
    }
}

/// What broke a streamed answer's body, in plain words and without its URL (whose query may hold a
/// secret).
pub fn body_failure(e: &reqwest::Error) -> String {
    failure(e, "", false)
}
