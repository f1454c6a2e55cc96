//! Notifications out: when a bulletin is sent, an e-mail to each user of the recipient
//! organisations (the named people for TLP:RED) and a signed call to each of their webhooks,
//! queued with the bulletin in its transaction; a worker delivers what is due, retries with
//! backoff and records every attempt. Nothing above TLP:GREEN is in a body
//! ([`vigie_domain::notification`]).
use std::time::Duration;

use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;
use vigie_domain::access::Principal;
use vigie_domain::bulletin::Bulletin;
use vigie_domain::notification::{bulletin_email, bulletin_webhook_body, retry_delay_ms};
use vigie_domain::sharing::Marking;
use vigie_domain::{BulletinId, DomainError, OrgId};
use vigie_store::{Attempt, Channel, Delivery, NewDelivery, Webhook, WriteContext};

use crate::{App, Failure, Result};

/// How long one webhook call may take.
const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);
/// Deliveries taken per round of the worker.
const ROUND: u32 = 200;

/// `sha256=` and the hex HMAC-SHA256 of `body` under `secret`: the `X-Vigie-Signature` header,
/// which the receiver recomputes to know the call came from Vigie and was not altered.
pub fn signature(secret: &str, body: &[u8]) -> String {
    // HMAC takes a key of any length.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| unreachable!());
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// What a round of the worker did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryRound {
    pub delivered: usize,
    pub retrying: usize,
    pub failed: usize,
}

impl App {
    fn link(&self, path: &str) -> String {
        match &self.settings.public_url {
            Some(base) => format!("{}{path}", base.trim_end_matches('/')),
            None => path.to_owned(),
        }
    }

    /// The notifications a new bulletin queues: an e-mail per user of each recipient
    /// organisation (only the named people under TLP:RED; only when an SMTP relay is set) and
    /// a call per webhook of those organisations.
    pub(crate) async fn bulletin_notifications(
        &self,
        bulletin: &Bulletin,
        receipt_orgs: &[OrgId],
    ) -> Result<Vec<NewDelivery>> {
        let link = self.link(&format!("/bulletins/{}", bulletin.id));
        let mut queued = Vec::new();
        if self.mailer.is_some() {
            let (subject, body) = bulletin_email(bulletin, &link);
            let addresses = if bulletin.draft.marking == Marking::Red {
                let mut named = Vec::new();
                for user in &bulletin.draft.recipients.users {
                    if let Some(u) = self.store.user_by_id(user).await?
                        && u.disabled_at_ms.is_none()
                    {
                        named.push((u.org_id, u.email));
                    }
                }
                named
            } else {
                self.store.addresses_of(receipt_orgs).await?
            };
            queued.extend(addresses.into_iter().map(|(org_id, address)| NewDelivery {
                channel: Channel::Email,
                target: address,
                org_id,
                subject: subject.clone(),
                body: body.clone(),
            }));
        }
        let api = self.link(&format!("/api/v1/bulletins/{}", bulletin.id));
        let body = bulletin_webhook_body(bulletin, &link, &api).to_string();
        queued.extend(self.store.webhooks(receipt_orgs).await?.into_iter().map(|hook| NewDelivery {
            channel: Channel::Webhook,
            target: hook.id,
            org_id: hook.org_id,
            subject: "bulletin.created".into(),
            body: body.clone(),
        }));
        Ok(queued)
    }

    /// Delivers what is due: one attempt each, recorded; a failure is retried later with
    /// backoff and given up (and audited) after the last attempt. Returns what happened.
    pub async fn deliver_due(&self) -> Result<DeliveryRound> {
        let due = self.store.due_deliveries(self.now_ms(), ROUND).await?;
        let mut round = DeliveryRound::default();
        let ctx = WriteContext { at_ms: self.now_ms(), actor: "notifier".into(), actor_org: None };
        for delivery in due {
            let outcome = match delivery.channel {
                Channel::Email => self.send_email(&delivery).await,
                Channel::Webhook => self.call_webhook(&delivery).await,
            };
            let attempt = match outcome {
                Ok(()) => {
                    round.delivered += 1;
                    Attempt::Delivered
                }
                Err(error) => match retry_delay_ms(delivery.attempts + 1) {
                    Some(delay) => {
                        round.retrying += 1;
                        tracing::warn!(channel = delivery.channel.key(), %error, "a notification will be retried");
                        Attempt::Retry { error, at_ms: self.now_ms() + delay }
                    }
                    None => {
                        round.failed += 1;
                        tracing::error!(channel = delivery.channel.key(), %error, "a notification was given up");
                        Attempt::GiveUp { error }
                    }
                },
            };
            let ctx = WriteContext { at_ms: self.now_ms(), ..ctx.clone() };
            self.store.record_attempt(&ctx, &delivery, &attempt).await?;
        }
        Ok(round)
    }

    async fn send_email(&self, delivery: &Delivery) -> std::result::Result<(), String> {
        let Some(mailer) = &self.mailer else { return Err("no SMTP relay is configured".into()) };
        mailer.send(&delivery.target, &delivery.subject, delivery.body.clone()).await
    }

    async fn call_webhook(&self, delivery: &Delivery) -> std::result::Result<(), String> {
        let hook = match self.store.webhook(&delivery.target).await {
            Ok(Some(hook)) => hook,
            Ok(None) => return Err("the webhook was removed".into()),
            Err(e) => return Err(e.to_string()),
        };
        let client = reqwest::Client::builder()
            .timeout(WEBHOOK_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| e.to_string())?;
        let response = client
            .post(&hook.url)
            .header("Content-Type", "application/json")
            .header("X-Vigie-Event", &delivery.subject)
            .header("X-Vigie-Delivery", &delivery.id)
            .header("X-Vigie-Signature", signature(&hook.secret, delivery.body.as_bytes()))
            .body(delivery.body.clone())
            .send()
            .await
            // The URL may carry the receiver's token: say what failed, not where.
            .map_err(|e| format!("the endpoint could not be reached: {}", e.without_url()))?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(format!("the endpoint answered {}", response.status()))
        }
    }

    /// Runs [`App::deliver_due`] every `every` until the process ends (the server starts it).
    pub fn spawn_notifier(&self, every: Duration) {
        let app = self.clone();
        tokio::spawn(async move {
            loop {
                if let Err(e) = app.deliver_due().await {
                    tracing::error!(error = %e.message, "the notification round failed");
                }
                tokio::time::sleep(every).await;
            }
        });
    }

    /// Who may manage an organisation's webhooks: its own administrator, or an admin.
    fn manages_webhooks_of(caller: &Principal, org: &OrgId) -> bool {
        caller.can_manage_accounts_of(org)
    }

    /// Registers an endpoint that receives the organisation's bulletin notifications; returns
    /// it with its signing secret, shown this once.
    pub async fn create_webhook(
        &self,
        caller: &Principal,
        org: Option<&OrgId>,
        url: &str,
    ) -> Result<(Webhook, String)> {
        let org = org.unwrap_or(&caller.org_id);
        if !Self::manages_webhooks_of(caller, org) {
            return Err(Failure::forbidden("an organisation's administrator manages its webhooks"));
        }
        let url = url.trim();
        let parsed = reqwest::Url::parse(url).map_err(|_| {
            DomainError::validation("url", format!("'{url}' is not an address such as https://example.org/hook"))
        })?;
        if !matches!(parsed.scheme(), "https" | "http") || parsed.host_str().is_none() {
            return Err(DomainError::validation("url", "a webhook is an http:// or https:// address").into());
        }
        if self.store.org_by_id(org).await?.is_none() {
            return Err(DomainError::validation("org_id", format!("no organisation {org}")).into());
        }
        let secret = crate::secrets::new_secret("whsec_");
        let hook = self.store.create_webhook(&self.write_context(caller), org, url, &secret).await?;
        Ok((hook, secret))
    }

    /// The active webhooks of the caller's organisation (or of `org`, for an admin).
    pub async fn webhooks(&self, caller: &Principal, org: Option<&OrgId>) -> Result<Vec<Webhook>> {
        let org = org.unwrap_or(&caller.org_id);
        if !Self::manages_webhooks_of(caller, org) {
            return Err(Failure::forbidden("an organisation's administrator manages its webhooks"));
        }
        let hooks = self.store.webhooks(std::slice::from_ref(org)).await?;
        self.audit_read(caller, "webhook", None, json!({"org_id": org, "count": hooks.len()})).await?;
        Ok(hooks)
    }

    pub async fn remove_webhook(&self, caller: &Principal, id: &str) -> Result<()> {
        let hook = self.store.webhook(id).await?.ok_or_else(|| Failure::not_found("webhook"))?;
        if !Self::manages_webhooks_of(caller, &hook.org_id) {
            return Err(Failure::not_found("webhook"));
        }
        Ok(self.store.disable_webhook(&self.write_context(caller), id).await?)
    }

    /// Where a bulletin's notifications stand (by channel and organisation, never the
    /// addresses): for the author's organisation, as its receipts.
    pub async fn bulletin_deliveries(&self, caller: &Principal, id: &BulletinId) -> Result<Vec<Delivery>> {
        let bulletin = self.readable_bulletin(caller, id).await?;
        if bulletin.author_org != caller.org_id {
            return Err(Failure::forbidden("the author's organisation follows its bulletin's deliveries"));
        }
        Ok(self.store.bulletin_deliveries(id).await?)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_signature_is_the_rfc_4231_hmac_sha256() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        assert_eq!(
            super::signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
