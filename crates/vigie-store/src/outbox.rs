//! Notifications out: organisations' webhooks and the outbox. A bulletin's deliveries are
//! queued in the bulletin's own transaction ([`crate::BulletinStore::create_bulletin`]), so a
//! notification is never lost and an endpoint that is down never holds a bulletin back; the
//! delivery worker takes what is due, and every attempt is recorded.
use async_trait::async_trait;
use sqlx::{ColumnIndex, Database, Encode, Executor, IntoArguments, QueryBuilder, Row as _, Transaction, Type};
use vigie_domain::{BulletinId, OrgId};

use crate::sql::{Backend, Sql, Value, new_id};
use crate::{Result, StoreError, WriteContext};

/// A notification to queue: an e-mail to an address or a call to a webhook (by id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDelivery {
    pub channel: Channel,
    pub target: String,
    pub org_id: OrgId,
    pub subject: String,
    pub body: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Email,
    Webhook,
}

impl Channel {
    pub fn key(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Webhook => "webhook",
        }
    }
}

/// A queued notification and where it stands.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Delivery {
    pub id: String,
    pub channel: Channel,
    #[serde(skip)]
    pub target: String,
    pub org_id: OrgId,
    pub bulletin_id: Option<BulletinId>,
    #[serde(skip)]
    pub subject: String,
    #[serde(skip)]
    pub body: String,
    /// `pending`, `delivered` or `failed` (given up after the last attempt).
    pub state: String,
    pub attempts: u32,
    pub next_attempt_at_ms: i64,
    pub last_error: Option<String>,
    pub created_at_ms: i64,
    pub delivered_at_ms: Option<i64>,
}

/// What one attempt gave: delivered, failed with a next try at a time, or failed for good.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    Delivered,
    Retry { error: String, at_ms: i64 },
    GiveUp { error: String },
}

/// An organisation's endpoint for bulletins. The secret signs each body (HMAC-SHA256).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Webhook {
    pub id: String,
    pub org_id: OrgId,
    pub url: String,
    #[serde(skip)]
    pub secret: String,
    pub created_at_ms: i64,
}

#[async_trait]
pub trait OutboxStore: Send + Sync {
    async fn create_webhook(&self, ctx: &WriteContext, org: &OrgId, url: &str, secret: &str) -> Result<Webhook>;
    /// The active webhooks of these organisations.
    async fn webhooks(&self, orgs: &[OrgId]) -> Result<Vec<Webhook>>;
    /// An active webhook by id.
    async fn webhook(&self, id: &str) -> Result<Option<Webhook>>;
    /// `NotFound` when there is no such active webhook.
    async fn disable_webhook(&self, ctx: &WriteContext, id: &str) -> Result<()>;
    /// The e-mail addresses of the active users of these organisations, with their organisation.
    async fn addresses_of(&self, orgs: &[OrgId]) -> Result<Vec<(OrgId, String)>>;
    /// Pending deliveries whose time has come, oldest first.
    async fn due_deliveries(&self, now_ms: i64, limit: u32) -> Result<Vec<Delivery>>;
    /// Records an attempt and its outcome (audited when it ends the delivery).
    async fn record_attempt(&self, ctx: &WriteContext, delivery: &Delivery, attempt: &Attempt) -> Result<()>;
    async fn bulletin_deliveries(&self, bulletin: &BulletinId) -> Result<Vec<Delivery>>;
}

const DELIVERY_COLUMNS: &str = "id, channel, target, org_id, bulletin_id, subject, body, state, attempts, next_attempt_at, last_error, created_at, delivered_at";

/// Queues deliveries inside the caller's transaction.
pub(crate) async fn enqueue<DB>(
    tx: &mut Transaction<'_, DB>,
    at_ms: i64,
    bulletin: Option<&BulletinId>,
    deliveries: &[NewDelivery],
) -> Result<()>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    String: Value<DB>,
    i64: Value<DB>,
    Option<String>: Value<DB>,
{
    // Multi-row inserts: a bulletin to a large community queues thousands at once.
    const COLUMNS: usize = 11;
    for chunk in deliveries.chunks(100) {
        let rows: Vec<String> = (0..chunk.len())
            .map(|r| {
                let marks: Vec<String> = (1..=COLUMNS).map(|c| format!("${}", r * COLUMNS + c)).collect();
                format!("({})", marks.join(", "))
            })
            .collect();
        let sql = format!(
            "INSERT INTO outbox (id, channel, target, org_id, bulletin_id, subject, body, state, attempts, next_attempt_at, created_at) VALUES {}",
            rows.join(", ")
        );
        let mut query = sqlx::query(&sql);
        for d in chunk {
            query = query
                .bind(new_id())
                .bind(d.channel.key().to_owned())
                .bind(d.target.clone())
                .bind(d.org_id.to_string())
                .bind(bulletin.map(ToString::to_string))
                .bind(d.subject.clone())
                .bind(d.body.clone())
                .bind("pending".to_owned())
                .bind(0_i64)
                .bind(at_ms)
                .bind(at_ms);
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}

fn delivery_from_row<DB: Database>(row: &DB::Row) -> Result<Delivery>
where
    for<'n> &'n str: ColumnIndex<DB::Row>,
    String: Value<DB>,
    i64: Value<DB>,
    Option<String>: Value<DB>,
    Option<i64>: Value<DB>,
{
    let channel: String = row.try_get("channel")?;
    let attempts: i64 = row.try_get("attempts")?;
    Ok(Delivery {
        id: row.try_get("id")?,
        channel: if channel == "email" { Channel::Email } else { Channel::Webhook },
        target: row.try_get("target")?,
        org_id: row.try_get::<String, _>("org_id")?.into(),
        bulletin_id: row.try_get::<Option<String>, _>("bulletin_id")?.map(Into::into),
        subject: row.try_get("subject")?,
        body: row.try_get("body")?,
        state: row.try_get("state")?,
        attempts: u32::try_from(attempts).map_err(|e| crate::sql::corrupt("delivery attempts", e))?,
        next_attempt_at_ms: row.try_get("next_attempt_at")?,
        last_error: row.try_get("last_error")?,
        created_at_ms: row.try_get("created_at")?,
        delivered_at_ms: row.try_get("delivered_at")?,
    })
}

fn webhook_from_row<DB: Database>(row: &DB::Row) -> Result<Webhook>
where
    for<'n> &'n str: ColumnIndex<DB::Row>,
    String: Value<DB>,
    i64: Value<DB>,
{
    Ok(Webhook {
        id: row.try_get("id")?,
        org_id: row.try_get::<String, _>("org_id")?.into(),
        url: row.try_get("url")?,
        secret: row.try_get("secret")?,
        created_at_ms: row.try_get("created_at")?,
    })
}

fn push_orgs<'a, DB: Database>(qb: &mut QueryBuilder<'a, DB>, orgs: &'a [OrgId])
where
    &'a str: Encode<'a, DB> + Type<DB>,
{
    let mut list = qb.separated(", ");
    for org in orgs {
        list.push_bind(org.as_str());
    }
    list.push_unseparated(")");
}

#[async_trait]
impl<B, DB> OutboxStore for B
where
    B: Backend<Db = DB>,
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'n> &'n str: ColumnIndex<DB::Row> + Encode<'n, DB> + Type<DB>,
    usize: ColumnIndex<DB::Row>,
    String: Value<DB>,
    i64: Value<DB>,
    f64: Value<DB>,
    bool: Value<DB>,
    Option<String>: Value<DB>,
    Option<i64>: Value<DB>,
{
    async fn create_webhook(&self, ctx: &WriteContext, org: &OrgId, url: &str, secret: &str) -> Result<Webhook> {
        let id = new_id();
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO webhooks (id, org_id, url, secret, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&id)
        .bind(org.as_str())
        .bind(url)
        .bind(secret)
        .bind(ctx.at_ms)
        .bind(&ctx.actor)
        .execute(&mut *tx)
        .await?;
        // The URL may carry a token of the receiver's: the audit keeps its host only.
        let host = url.split("://").nth(1).and_then(|rest| rest.split(['/', '?', '@']).next()).unwrap_or_default();
        Sql::<DB>::audit(
            &mut tx,
            ctx,
            "webhook.create",
            "webhook",
            Some(&id),
            serde_json::json!({"org_id": org, "host": host}),
        )
        .await?;
        tx.commit().await?;
        Ok(Webhook {
            id,
            org_id: org.clone(),
            url: url.to_owned(),
            secret: secret.to_owned(),
            created_at_ms: ctx.at_ms,
        })
    }

    async fn webhooks(&self, orgs: &[OrgId]) -> Result<Vec<Webhook>> {
        if orgs.is_empty() {
            return Ok(Vec::new());
        }
        let mut found = Vec::new();
        for chunk in orgs.chunks(500) {
            let mut qb = QueryBuilder::<DB>::new(
                "SELECT id, org_id, url, secret, created_at FROM webhooks WHERE disabled_at IS NULL AND org_id IN (",
            );
            push_orgs(&mut qb, chunk);
            qb.push(" ORDER BY created_at, id");
            for row in self.fetch_built(qb).await? {
                found.push(webhook_from_row::<DB>(&row)?);
            }
        }
        Ok(found)
    }

    async fn webhook(&self, id: &str) -> Result<Option<Webhook>> {
        let row = sqlx::query(
            "SELECT id, org_id, url, secret, created_at FROM webhooks WHERE id = $1 AND disabled_at IS NULL",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(webhook_from_row::<DB>).transpose()
    }

    async fn disable_webhook(&self, ctx: &WriteContext, id: &str) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query("UPDATE webhooks SET disabled_at = $1 WHERE id = $2 AND disabled_at IS NULL")
            .bind(ctx.at_ms)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if B::rows_affected(&done) == 0 {
            return Err(StoreError::NotFound("webhook".into()));
        }
        Sql::<DB>::audit(&mut tx, ctx, "webhook.disable", "webhook", Some(id), serde_json::json!({})).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn addresses_of(&self, orgs: &[OrgId]) -> Result<Vec<(OrgId, String)>> {
        let mut found = Vec::new();
        for chunk in orgs.chunks(500) {
            let mut qb =
                QueryBuilder::<DB>::new("SELECT org_id, email FROM users WHERE disabled_at IS NULL AND org_id IN (");
            push_orgs(&mut qb, chunk);
            qb.push(" ORDER BY org_id, email");
            for row in self.fetch_built(qb).await? {
                found.push((row.try_get::<String, _>("org_id")?.into(), row.try_get("email")?));
            }
        }
        Ok(found)
    }

    async fn due_deliveries(&self, now_ms: i64, limit: u32) -> Result<Vec<Delivery>> {
        let rows = sqlx::query(&format!("SELECT {DELIVERY_COLUMNS} FROM outbox WHERE state = 'pending' AND next_attempt_at <= $1 ORDER BY next_attempt_at, id LIMIT $2"))
            .bind(now_ms)
            .bind(i64::from(limit))
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(delivery_from_row::<DB>).collect()
    }

    async fn record_attempt(&self, ctx: &WriteContext, delivery: &Delivery, attempt: &Attempt) -> Result<()> {
        let number = i64::from(delivery.attempts) + 1;
        let mut tx = self.begin_write().await?;
        let (ok, detail) = match attempt {
            Attempt::Delivered => (true, None),
            Attempt::Retry { error, .. } | Attempt::GiveUp { error } => (false, Some(error.clone())),
        };
        sqlx::query("INSERT INTO outbox_attempts (outbox_id, attempt, at, ok, detail) VALUES ($1, $2, $3, $4, $5)")
            .bind(&delivery.id)
            .bind(number)
            .bind(ctx.at_ms)
            .bind(ok)
            .bind(&detail)
            .execute(&mut *tx)
            .await?;
        let (state, next_at, delivered_at) = match attempt {
            Attempt::Delivered => ("delivered", delivery.next_attempt_at_ms, Some(ctx.at_ms)),
            Attempt::Retry { at_ms, .. } => ("pending", *at_ms, None),
            Attempt::GiveUp { .. } => ("failed", delivery.next_attempt_at_ms, None),
        };
        sqlx::query("UPDATE outbox SET state = $1, attempts = $2, next_attempt_at = $3, last_error = $4, delivered_at = $5 WHERE id = $6 AND state = 'pending'")
            .bind(state)
            .bind(number)
            .bind(next_at)
            .bind(&detail)
            .bind(delivered_at)
            .bind(&delivery.id)
            .execute(&mut *tx)
            .await?;
        if state != "pending" {
            // Where it went is the organisation and the channel: the address stays in the outbox.
            Sql::<DB>::audit(
                &mut tx,
                ctx,
                if ok { "notification.delivered" } else { "notification.failed" },
                "notification",
                Some(&delivery.id),
                serde_json::json!({"channel": delivery.channel.key(), "org_id": delivery.org_id, "bulletin_id": delivery.bulletin_id, "attempts": number}),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn bulletin_deliveries(&self, bulletin: &BulletinId) -> Result<Vec<Delivery>> {
        let rows = sqlx::query(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM outbox WHERE bulletin_id = $1 ORDER BY created_at, channel, id"
        ))
        .bind(bulletin.as_str())
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(delivery_from_row::<DB>).collect()
    }
}
