//! Webhooks as the Standard Webhooks specification signs them: a JSON POST
//! with `webhook-id` (the notification's id, the consumer's idempotency
//! key), `webhook-timestamp` (Unix seconds) and `webhook-signature`
//! (`v1,` + base64 of HMAC-SHA256 over `id.timestamp.body`, keyed with the
//! base64-decoded part of a `whsec_…` secret).

use std::time::Duration;

use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use uuid::Uuid;

/// The endpoint and its key.
pub struct Hook {
    client: reqwest::Client,
    url: String,
    key: Vec<u8>,
}

/// The signing key of a `whsec_<base64>` secret; None for anything else.
pub fn key_of(secret: &str) -> Option<Vec<u8>> {
    let encoded = secret.trim().strip_prefix("whsec_")?;
    STANDARD
        .decode(encoded)
        .ok()
        .filter(|key| (16..=128).contains(&key.len()))
}

/// The `webhook-signature` value of one message.
pub fn sign(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, key);
    let mut context = hmac::Context::with_key(&key);
    context.update(id.as_bytes());
    context.update(b".");
    context.update(timestamp.to_string().as_bytes());
    context.update(b".");
    context.update(body);
    format!("v1,{}", STANDARD.encode(context.sign().as_ref()))
}

impl Hook {
    /// A client for `url` (no redirects followed) whose requests time out
    /// after `timeout`.
    pub fn new(url: &str, key: &[u8], timeout: Duration) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            client,
            url: url.to_owned(),
            key: key.to_vec(),
        })
    }

    /// POSTs `body`, signed; any 2xx is success.
    pub async fn post(&self, id: Uuid, body: &serde_json::Value) -> Result<(), String> {
        let bytes = serde_json::to_vec(body).map_err(|_| "the payload could not be encoded")?;
        let id = format!("msg_{}", id.simple());
        let timestamp = chrono::Utc::now().timestamp();
        let signature = sign(&self.key, &id, timestamp, &bytes);
        let response = self
            .client
            .post(&self.url)
            .header("content-type", "application/json")
            .header("webhook-id", &id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(bytes)
            .send()
            .await
            .map_err(|err| {
                if err.is_timeout() {
                    "the endpoint did not answer in time".to_owned()
                } else {
                    "the endpoint could not be reached".to_owned()
                }
            })?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("the endpoint answered {}", status.as_u16()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_the_specifications_example() {
        // The example of the Standard Webhooks specification.
        let key = key_of("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let signature = sign(
            &key,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1_614_265_330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn a_secret_without_its_prefix_or_not_base64_is_no_key() {
        assert!(key_of("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_none());
        assert!(key_of("whsec_not base64!").is_none());
        assert!(key_of("whsec_").is_none());
        assert!(key_of("whsec_c2hvcnQ=").is_none(), "5 bytes is too short");
    }
}
