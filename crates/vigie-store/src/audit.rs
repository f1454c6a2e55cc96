//! The audit log: an append-only hash chain, written in the transaction of each write and on
//! its own for reads and denials.
use async_trait::async_trait;
use sqlx::{ColumnIndex, Database, Encode, Executor, IntoArguments, Type};
use vigie_domain::audit::{AuditRecord, StoredAuditEntry};

use crate::Result;
use crate::sql::{Backend, Sql, Value};

#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Appends audit entries on their own (reads of sensitive objects, failed logins), all
    /// in one transaction.
    async fn append_audit(&self, records: &[AuditRecord]) -> Result<()>;
    /// The whole audit log in sequence order (tests and small logs; see `audit_page`).
    async fn audit_entries(&self) -> Result<Vec<StoredAuditEntry>> {
        let mut all = Vec::new();
        loop {
            let page = self.audit_page(all.last().map_or(0, |e: &StoredAuditEntry| e.seq), 10_000).await?;
            if page.is_empty() {
                return Ok(all);
            }
            all.extend(page);
        }
    }
    /// Up to `limit` entries after sequence number `after_seq`, in order: verification walks
    /// the log page by page, in bounded memory.
    async fn audit_page(&self, after_seq: i64, limit: u32) -> Result<Vec<StoredAuditEntry>>;
    /// The last `count` entries, oldest first.
    async fn audit_tail(&self, count: u32) -> Result<Vec<StoredAuditEntry>>;
    /// The newest entries that match every given field of `filter` (up to `filter.limit`),
    /// newest first: what the audit viewer shows.
    async fn audit_search(&self, filter: &AuditFilter) -> Result<Vec<StoredAuditEntry>>;
}

/// What the audit viewer asks for; `None` fields match everything.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// A user id, `cli`, `system` or `anonymous`.
    pub actor: Option<String>,
    pub object_type: Option<String>,
    pub object_id: Option<String>,
    /// An action (`site.update`) or the start of one (`site.`).
    pub action_prefix: Option<String>,
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    pub limit: u32,
}

#[async_trait]
impl<B, DB> AuditStore for B
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
    async fn append_audit(&self, records: &[AuditRecord]) -> Result<()> {
        let mut tx = self.begin_write().await?;
        for record in records {
            Sql::<DB>::append_audit_in(&mut tx, record).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn audit_page(&self, after_seq: i64, limit: u32) -> Result<Vec<StoredAuditEntry>> {
        let rows = sqlx::query("SELECT seq, at, actor, actor_org, action, object_type, object_id, details, prev_hash, hash FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2")
            .bind(after_seq)
            .bind(i64::from(limit))
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(Sql::<DB>::audit_from_row).collect()
    }

    async fn audit_tail(&self, count: u32) -> Result<Vec<StoredAuditEntry>> {
        let rows = sqlx::query("SELECT seq, at, actor, actor_org, action, object_type, object_id, details, prev_hash, hash FROM audit_log ORDER BY seq DESC LIMIT $1")
            .bind(i64::from(count))
            .fetch_all(self.pool())
            .await?;
        let mut entries = rows.iter().map(Sql::<DB>::audit_from_row).collect::<Result<Vec<_>>>()?;
        entries.reverse();
        Ok(entries)
    }

    async fn audit_search(&self, filter: &AuditFilter) -> Result<Vec<StoredAuditEntry>> {
        // Only the conditions asked for are written, each with its own placeholder: both
        // databases then know every parameter's type.
        let mut conditions = Vec::new();
        let mut texts: Vec<String> = Vec::new();
        let mut numbers: Vec<i64> = Vec::new();
        let text_fields = [
            ("actor = ", filter.actor.clone()),
            ("object_type = ", filter.object_type.clone()),
            ("object_id = ", filter.object_id.clone()),
            // `LIKE` with the wildcards of the prefix escaped: an action is matched by its start.
            (
                "action LIKE ",
                filter
                    .action_prefix
                    .as_ref()
                    .map(|p| format!("{}%", p.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"))),
            ),
        ];
        for (condition, value) in text_fields {
            if let Some(value) = value {
                texts.push(value);
                let escape = if condition.starts_with("action") { " ESCAPE '\\'" } else { "" };
                conditions.push(format!("{condition}${}{escape}", texts.len()));
            }
        }
        for (condition, value) in [("at >= ", filter.from_ms), ("at < ", filter.to_ms)] {
            if let Some(value) = value {
                numbers.push(value);
                conditions.push(format!("{condition}${}", texts.len() + numbers.len()));
            }
        }
        let filter_sql =
            if conditions.is_empty() { String::new() } else { format!("WHERE {}", conditions.join(" AND ")) };
        let sql = format!(
            "SELECT seq, at, actor, actor_org, action, object_type, object_id, details, prev_hash, hash FROM audit_log {filter_sql} ORDER BY seq DESC LIMIT ${}",
            texts.len() + numbers.len() + 1
        );
        let mut query = sqlx::query(&sql);
        for text in &texts {
            query = query.bind(text.as_str());
        }
        for number in &numbers {
            query = query.bind(*number);
        }
        let rows = query.bind(i64::from(filter.limit)).fetch_all(self.pool()).await?;
        rows.iter().map(Sql::<DB>::audit_from_row).collect()
    }
}
