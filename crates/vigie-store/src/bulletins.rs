//! Threat bulletins, their recipients and their receipts (delivered, read, acknowledged per
//! recipient organisation). Which bulletins a reader may see is decided by the domain's TLP
//! rule in the application; [`BulletinStore::bulletins_for`] only narrows the candidates.
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sqlx::{ColumnIndex, Database, Encode, Executor, IntoArguments, QueryBuilder, Row as _, Type};
use vigie_domain::bulletin::{Bulletin, BulletinDraft, Receipt, Texts};
use vigie_domain::sharing::{Marking, Recipients};
use vigie_domain::{BulletinId, CommunityId, OrgId, SiteId, UserId};

use crate::recipients::{self, Naming};
use crate::sql::{Backend, Sql, Value};
use crate::{Result, StoreError, WriteContext};

const BULLETIN_COLUMNS: &str =
    "id, author_user, author_org, marking, status, msg_type, references_id, effective, expires, created_at, body";

/// The fields of a bulletin kept in its `body` column.
#[derive(Serialize, Deserialize)]
struct Body {
    title: Texts,
    text: Texts,
    instruction: Texts,
    area: Option<serde_json::Value>,
    sites: Vec<SiteId>,
    scenario: Option<String>,
    urgency: String,
    severity: String,
    certainty: String,
    response_type: String,
}

/// A receipt, delivered at `at_ms`, for each of `orgs` that has none yet.
pub(crate) async fn insert_receipts<DB>(
    tx: &mut sqlx::Transaction<'_, DB>,
    bulletin: &BulletinId,
    at_ms: i64,
    orgs: &[OrgId],
) -> Result<()>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'n> &'n str: Encode<'n, DB> + Type<DB>,
    i64: Value<DB>,
{
    // Many rows per statement: a bulletin to a large community has thousands of receipts.
    for chunk in orgs.chunks(300) {
        let rows: Vec<String> = (0..chunk.len()).map(|i| format!("($1, $2, ${})", i + 3)).collect();
        let sql = format!(
            "INSERT INTO bulletin_receipts (bulletin_id, delivered_at, org_id) VALUES {} ON CONFLICT DO NOTHING",
            rows.join(", ")
        );
        let mut query = sqlx::query(&sql).bind(bulletin.as_str()).bind(at_ms);
        for org in chunk {
            query = query.bind(org.as_str());
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}

#[async_trait]
pub trait BulletinStore: Send + Sync {
    /// Stores a bulletin with its recipients, a receipt, delivered now, for each of
    /// `receipt_orgs`, and the notifications it queues, in one transaction.
    async fn create_bulletin(
        &self,
        ctx: &WriteContext,
        bulletin: &Bulletin,
        receipt_orgs: &[OrgId],
        notifications: &[crate::NewDelivery],
    ) -> Result<()>;
    async fn bulletin(&self, id: &BulletinId) -> Result<Option<Bulletin>>;
    /// The bulletins of `ids` that exist, in one query (newest first).
    /// The bulletins of `ids` that exist, in one query (newest first), each with only the
    /// recipients that name `reader`: what the TLP rule needs to decide for that reader (it
    /// only looks for the reader's own ids), not a list to show. An AMBER bulletin to a large
    /// community names thousands of organisations; the inbox reads one row of them.
    async fn bulletins_seen_by(&self, ids: &[BulletinId], reader: Naming<'_>) -> Result<Vec<Bulletin>>;
    /// The newest bulletins (at most `limit`) that `user` of `org`, whose organisation is a
    /// member of `communities`, might read: CLEAR ones, their own organisation's, and those
    /// addressed to them, their organisation or their communities. The caller applies the rule.
    async fn bulletins_for(
        &self,
        user: &UserId,
        org: &OrgId,
        communities: &[CommunityId],
        limit: u32,
    ) -> Result<Vec<Bulletin>>;
    /// Notes the first read of a bulletin by someone of `org`, when `org` has a receipt.
    async fn record_bulletin_read(&self, ctx: &WriteContext, id: &BulletinId, org: &OrgId) -> Result<()>;
    /// `org` acknowledges; `NotFound` when it is not a recipient organisation.
    async fn acknowledge_bulletin(&self, ctx: &WriteContext, id: &BulletinId, org: &OrgId) -> Result<Receipt>;
    async fn bulletin_receipts(&self, id: &BulletinId) -> Result<Vec<Receipt>>;
    /// `org`'s receipts not yet acknowledged, newest first: what its inbox lists.
    async fn open_receipts(&self, org: &OrgId, limit: u32) -> Result<Vec<(BulletinId, Receipt)>>;
}

#[async_trait]
impl<B, DB> BulletinStore for B
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
    #[tracing::instrument(skip_all)]
    async fn create_bulletin(
        &self,
        ctx: &WriteContext,
        bulletin: &Bulletin,
        receipt_orgs: &[OrgId],
        notifications: &[crate::NewDelivery],
    ) -> Result<()> {
        let d = &bulletin.draft;
        let body = Body {
            title: d.title.clone(),
            text: d.text.clone(),
            instruction: d.instruction.clone(),
            area: d.area.clone(),
            sites: d.sites.clone(),
            scenario: d.scenario.clone(),
            urgency: d.urgency.clone(),
            severity: d.severity.clone(),
            certainty: d.certainty.clone(),
            response_type: d.response_type.clone(),
        };
        let body = serde_json::to_string(&body).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let mut tx = self.begin_write().await?;
        sqlx::query(&format!(
            "INSERT INTO bulletins ({BULLETIN_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        ))
        .bind(bulletin.id.as_str())
        .bind(bulletin.author.as_str())
        .bind(bulletin.author_org.as_str())
        .bind(d.marking.label())
        .bind(&d.status)
        .bind(&d.msg_type)
        .bind(d.references.as_ref().map(|r| r.to_string()))
        .bind(d.effective_ms)
        .bind(d.expires_ms)
        .bind(bulletin.created_at_ms)
        .bind(body)
        .execute(&mut *tx)
        .await?;
        recipients::insert(&mut tx, "bulletin_recipients", "bulletin_id", bulletin.id.as_str(), &d.recipients).await?;
        insert_receipts(&mut tx, &bulletin.id, ctx.at_ms, receipt_orgs).await?;
        crate::outbox::enqueue(&mut tx, ctx.at_ms, Some(&bulletin.id), notifications).await?;
        // The text may be TLP:RED: the audit log keeps what was sent and to whom, not what it says.
        Sql::<DB>::audit(
            &mut tx,
            ctx,
            "bulletin.create",
            "bulletin",
            Some(&bulletin.id),
            serde_json::json!({
                "marking": d.marking.label(),
                "msg_type": d.msg_type,
                "status": d.status,
                "references": d.references,
                "recipient_orgs": receipt_orgs.len(),
                "notifications": notifications.len(),
            }),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn bulletin(&self, id: &BulletinId) -> Result<Option<Bulletin>> {
        let row = sqlx::query(&format!("SELECT {BULLETIN_COLUMNS} FROM bulletins WHERE id = $1"))
            .bind(id.as_str())
            .fetch_optional(self.pool())
            .await?;
        let Some(row) = row else { return Ok(None) };
        let mut found = vec![bulletin_from_row::<DB>(&row)?];
        recipients::attach(self, &mut found).await?;
        Ok(found.pop())
    }

    async fn bulletins_seen_by(&self, ids: &[BulletinId], reader: Naming<'_>) -> Result<Vec<Bulletin>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut qb = QueryBuilder::<DB>::new(format!("SELECT {BULLETIN_COLUMNS} FROM bulletins WHERE id IN ("));
        let mut list = qb.separated(", ");
        for id in ids {
            list.push_bind(id.as_str());
        }
        list.push_unseparated(") ORDER BY created_at DESC, id");
        let rows = self.fetch_built(qb).await?;
        let mut found = rows.iter().map(bulletin_from_row::<DB>).collect::<Result<Vec<_>>>()?;
        recipients::attach_naming(self, &mut found, Some(reader)).await?;
        Ok(found)
    }

    async fn bulletins_for(
        &self,
        user: &UserId,
        org: &OrgId,
        communities: &[CommunityId],
        limit: u32,
    ) -> Result<Vec<Bulletin>> {
        let mut qb = QueryBuilder::<DB>::new(format!(
            "SELECT {BULLETIN_COLUMNS} FROM bulletins b WHERE b.marking = 'TLP:CLEAR' OR b.author_org = "
        ));
        qb.push_bind(org.as_str());
        qb.push(" OR");
        recipients::push_addressed_to(
            &mut qb,
            "bulletin_recipients",
            "bulletin_id",
            "b",
            user.as_str(),
            org.as_str(),
            communities,
        );
        qb.push(" ORDER BY b.created_at DESC, b.id LIMIT ");
        qb.push_bind(i64::from(limit));
        let rows = self.fetch_built(qb).await?;
        let mut found = rows.iter().map(bulletin_from_row::<DB>).collect::<Result<Vec<_>>>()?;
        recipients::attach(self, &mut found).await?;
        Ok(found)
    }

    async fn record_bulletin_read(&self, ctx: &WriteContext, id: &BulletinId, org: &OrgId) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let first = sqlx::query(
            "UPDATE bulletin_receipts SET read_at = $1 WHERE bulletin_id = $2 AND org_id = $3 AND read_at IS NULL",
        )
        .bind(ctx.at_ms)
        .bind(id.as_str())
        .bind(org.as_str())
        .execute(&mut *tx)
        .await?;
        if B::rows_affected(&first) > 0 {
            Sql::<DB>::audit(
                &mut tx,
                ctx,
                "bulletin.receipt_read",
                "bulletin",
                Some(id),
                serde_json::json!({"org_id": org}),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn acknowledge_bulletin(&self, ctx: &WriteContext, id: &BulletinId, org: &OrgId) -> Result<Receipt> {
        let mut tx = self.begin_write().await?;
        let changed = sqlx::query("UPDATE bulletin_receipts SET acked_at = COALESCE(acked_at, $1), read_at = COALESCE(read_at, $1) WHERE bulletin_id = $2 AND org_id = $3")
            .bind(ctx.at_ms)
            .bind(id.as_str())
            .bind(org.as_str())
            .execute(&mut *tx)
            .await?;
        if B::rows_affected(&changed) == 0 {
            return Err(StoreError::NotFound("receipt".into()));
        }
        Sql::<DB>::audit(&mut tx, ctx, "bulletin.ack", "bulletin", Some(id), serde_json::json!({"org_id": org}))
            .await?;
        let row = sqlx::query("SELECT org_id, delivered_at, read_at, acked_at FROM bulletin_receipts WHERE bulletin_id = $1 AND org_id = $2")
            .bind(id.as_str())
            .bind(org.as_str())
            .fetch_one(&mut *tx)
            .await?;
        let receipt = receipt_from_row::<DB>(&row)?;
        tx.commit().await?;
        Ok(receipt)
    }

    async fn open_receipts(&self, org: &OrgId, limit: u32) -> Result<Vec<(BulletinId, Receipt)>> {
        let rows = sqlx::query("SELECT bulletin_id, org_id, delivered_at, read_at, acked_at FROM bulletin_receipts WHERE org_id = $1 AND acked_at IS NULL ORDER BY delivered_at DESC, bulletin_id LIMIT $2")
            .bind(org.as_str())
            .bind(i64::from(limit))
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|row| Ok((BulletinId::from(row.try_get::<String, _>("bulletin_id")?), receipt_from_row::<DB>(row)?)))
            .collect()
    }

    async fn bulletin_receipts(&self, id: &BulletinId) -> Result<Vec<Receipt>> {
        let rows = sqlx::query("SELECT org_id, delivered_at, read_at, acked_at FROM bulletin_receipts WHERE bulletin_id = $1 ORDER BY org_id")
            .bind(id.as_str())
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(receipt_from_row::<DB>).collect()
    }
}

fn bulletin_from_row<DB: Database>(row: &DB::Row) -> Result<Bulletin>
where
    for<'n> &'n str: ColumnIndex<DB::Row>,
    String: Value<DB>,
    i64: Value<DB>,
    Option<String>: Value<DB>,
    Option<i64>: Value<DB>,
{
    let corrupt = |what: &str, e: &dyn std::fmt::Display| StoreError::Corrupt(format!("bulletin {what}: {e}"));
    let body: Body = serde_json::from_str(&row.try_get::<String, _>("body")?).map_err(|e| corrupt("body", &e))?;
    let marking: String = row.try_get("marking")?;
    Ok(Bulletin {
        id: row.try_get::<String, _>("id")?.into(),
        author: row.try_get::<String, _>("author_user")?.into(),
        author_org: row.try_get::<String, _>("author_org")?.into(),
        created_at_ms: row.try_get("created_at")?,
        draft: BulletinDraft {
            title: body.title,
            text: body.text,
            instruction: body.instruction,
            marking: Marking::parse(&marking).map_err(|e| corrupt("marking", &e))?,
            recipients: Recipients::default(),
            area: body.area,
            sites: body.sites,
            scenario: body.scenario,
            urgency: body.urgency,
            severity: body.severity,
            certainty: body.certainty,
            response_type: body.response_type,
            status: row.try_get("status")?,
            msg_type: row.try_get("msg_type")?,
            references: row.try_get::<Option<String>, _>("references_id")?.map(BulletinId::from),
            effective_ms: row.try_get("effective")?,
            expires_ms: row.try_get("expires")?,
        },
    })
}

fn receipt_from_row<DB: Database>(row: &DB::Row) -> Result<Receipt>
where
    for<'n> &'n str: ColumnIndex<DB::Row>,
    String: Value<DB>,
    i64: Value<DB>,
    Option<i64>: Value<DB>,
{
    Ok(Receipt {
        org_id: row.try_get::<String, _>("org_id")?.into(),
        delivered_at_ms: row.try_get("delivered_at")?,
        read_at_ms: row.try_get("read_at")?,
        acked_at_ms: row.try_get("acked_at")?,
    })
}
