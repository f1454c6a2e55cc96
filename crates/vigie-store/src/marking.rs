//! Changing the marking of a shared object (a bulletin, a field report) and who it is shared
//! with, in one transaction with its audit entry. Who may change it is the application's
//! decision (`vigie_domain::sharing::may_change_marking`); a lowered marking is flagged in the
//! audit entry, since it widens who reads.
use async_trait::async_trait;
use sqlx::{ColumnIndex, Database, Encode, Executor, IntoArguments, Type};
use vigie_domain::bulletin::Bulletin;
use vigie_domain::report::FieldReport;
use vigie_domain::sharing::{Marking, Recipients};
use vigie_domain::{BulletinId, OrgId, ReportId};

use crate::recipients::{self, Addressed};
use crate::sql::{Backend, Sql, Value, corrupt};
use crate::{Result, StoreError, WriteContext};

/// An object whose marking changes.
#[derive(Debug, Clone, Copy)]
pub enum MarkedObject<'a> {
    Bulletin(&'a BulletinId),
    FieldReport(&'a ReportId),
}

impl<'a> MarkedObject<'a> {
    /// (object table, recipients table, recipients' object column, audit object type).
    fn tables(self) -> (&'static str, &'static str, &'static str, &'static str) {
        let ((table, object_type), (recipients, id_column)) = match self {
            MarkedObject::Bulletin(_) => (("bulletins", "bulletin"), <Bulletin as Addressed>::TABLE),
            MarkedObject::FieldReport(_) => (("field_reports", "field_report"), <FieldReport as Addressed>::TABLE),
        };
        (table, recipients, id_column, object_type)
    }

    fn id(self) -> &'a str {
        match self {
            MarkedObject::Bulletin(id) => id.as_str(),
            MarkedObject::FieldReport(id) => id.as_str(),
        }
    }
}

#[async_trait]
pub trait MarkingStore: Send + Sync {
    /// Sets `object`'s marking and recipients; a bulletin gets a delivered receipt for each of
    /// `new_receipt_orgs` it had none for. Returns the previous marking; `NotFound` when the
    /// object does not exist.
    async fn change_marking(
        &self,
        ctx: &WriteContext,
        object: MarkedObject<'_>,
        marking: Marking,
        recipients: &Recipients,
        new_receipt_orgs: &[OrgId],
    ) -> Result<Marking>;
}

#[async_trait]
impl<B, DB> MarkingStore for B
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
    async fn change_marking(
        &self,
        ctx: &WriteContext,
        object: MarkedObject<'_>,
        marking: Marking,
        recipients: &Recipients,
        new_receipt_orgs: &[OrgId],
    ) -> Result<Marking> {
        let (table, recipients_table, id_column, object_type) = object.tables();
        let id = object.id();
        let mut tx = self.begin_write().await?;
        let previous: Option<String> = sqlx::query_scalar(&format!("SELECT marking FROM {table} WHERE id = $1"))
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        let previous = previous.ok_or_else(|| StoreError::NotFound(object_type.replace('_', " ")))?;
        let previous = Marking::parse(&previous).map_err(|e| corrupt("marking", e))?;
        sqlx::query(&format!("UPDATE {table} SET marking = $1 WHERE id = $2"))
            .bind(marking.label())
            .bind(id)
            .execute(&mut *tx)
            .await?;
        recipients::replace(&mut tx, recipients_table, id_column, id, recipients).await?;
        if let MarkedObject::Bulletin(bulletin) = object {
            crate::bulletins::insert_receipts(&mut tx, bulletin, ctx.at_ms, new_receipt_orgs).await?;
        }
        // Who it now goes to, counted: the names are in the object's own tables.
        let details = serde_json::json!({
            "from": previous.label(), "to": marking.label(), "lowered": marking < previous,
            "recipients": {"communities": recipients.communities.len(), "orgs": recipients.orgs.len(), "users": recipients.users.len()},
        });
        Sql::<DB>::audit(&mut tx, ctx, &format!("{object_type}.marking"), object_type, Some(id), details).await?;
        tx.commit().await?;
        Ok(previous)
    }
}
