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
}
