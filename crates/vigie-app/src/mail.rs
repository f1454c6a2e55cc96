//! E-mail, when an SMTP server is configured: the one-time link of an invitation or a password
//! reset goes to the user as well as being shown to the administrator. Nothing else is mailed,
//! so no protected data (site weaknesses, TLP-marked text) can leave this way.
use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde_json::json;
use vigie_domain::DomainError;
use vigie_domain::access::Principal;
use vigie_domain::audit::AuditRecord;

use crate::accounts::AccountLink;
use crate::{App, Result};

/// How long one delivery may take before the administrator is told it failed.
const SEND_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);

/// An SMTP relay and the sender address.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl std::fmt::Debug for Mailer {
    // The URL may hold the relay's password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer").field("from", &self.from.to_string()).finish()
    }
}

impl Mailer {
    /// `url`: `smtps://user:pass@host` (TLS), `smtp://user:pass@host?tls=required`
    /// (STARTTLS) or `smtp://host:port` (unencrypted, for a relay on the same machine).
    pub fn new(url: &str, from: &str) -> Result<Self> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| DomainError::validation("smtp_url", format!("the SMTP address is not usable: {e}")))?
            .timeout(Some(SEND_TIMEOUT))
            .build();
        let from = from.parse().map_err(|e| {
            DomainError::validation("mail_from", format!("the sender '{from}' is not an e-mail address: {e}"))
        })?;
        Ok(Mailer { transport, from })
    }

    pub(crate) async fn send(&self, to: &str, subject: &str, body: String) -> std::result::Result<(), String> {
        let to: Mailbox = to.parse().map_err(|e| format!("{e}"))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body)
            .map_err(|e| e.to_string())?;
        self.transport.send(message).await.map(|_| ()).map_err(|e| e.to_string())
    }
}

/// What became of the e-mail of a one-time link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// No SMTP server is configured: the administrator hands the link on.
    NotConfigured,
    Sent,
    /// The relay refused or could not be reached; the link still works.
    Failed(String),
}

impl App {
    pub fn with_mailer(mut self, mailer: Mailer) -> Self {
        self.mailer = Some(std::sync::Arc::new(mailer));
        self
    }

    /// Mails a one-time link just made to its user. `subject` and `body` are the shell's
    /// words in the user's languages, the link's address inside the body. The attempt is
    /// audited (without the address: it is a secret).
    pub async fn mail_account_link(
        &self,
        caller: &Principal,
        link: &AccountLink,
        subject: &str,
        body: String,
    ) -> Result<Delivery> {
        let Some(mailer) = &self.mailer else { return Ok(Delivery::NotConfigured) };
        let delivery = match mailer.send(&link.user.email, subject, body).await {
            Ok(()) => Delivery::Sent,
            Err(reason) => {
                tracing::warn!(%reason, "the e-mail of a one-time link was not sent");
                Delivery::Failed(reason)
            }
        };
        let record = AuditRecord {
            at_ms: self.now_ms(),
            actor: caller.user_id.to_string(),
            actor_org: Some(caller.org_id.to_string()),
            action: "user.link_mailed".into(),
            object_type: "user".into(),
            object_id: Some(link.user.id.to_string()),
            details: json!({"to": link.user.email, "sent": delivery == Delivery::Sent}),
        };
        self.audit.append(record).await?;
        Ok(delivery)
    }
}
