//! Who a shared object is addressed to, one row per named community, organisation or user,
//! in a table per kind of object (`bulletin_recipients`, `field_report_recipients`,
//! `library_document_recipients`): what the
//! TLP rule reads, and what narrows a reader's candidates in SQL.
use std::collections::HashMap;

use sqlx::{ColumnIndex, Database, Encode, Executor, IntoArguments, QueryBuilder, Row as _, Transaction, Type};
use vigie_domain::bulletin::Bulletin;
use vigie_domain::report::FieldReport;
use vigie_domain::sharing::Recipients;

use crate::Result;
use crate::sql::{Backend, Value};

/// Stores `recipients` of object `id` in `table`, whose object column is `id_column`.
pub(crate) async fn insert<DB>(
    tx: &mut Transaction<'_, DB>,
    table: &str,
    id_column: &str,
    id: &str,
    recipients: &Recipients,
) -> Result<()>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'n> &'n str: Encode<'n, DB> + Type<DB>,
{
    let named = recipients.communities.iter().map(|c| ("community", c.as_str()));
    let named = named
        .chain(recipients.orgs.iter().map(|o| ("org", o.as_str())))
        .chain(recipients.users.iter().map(|u| ("user", u.as_str())));
    // Many rows per statement: an AMBER bulletin to a large community names thousands.
    let named: Vec<(&str, &str)> = named.collect();
    for chunk in named.chunks(300) {
        let rows: Vec<String> = (0..chunk.len()).map(|i| format!("($1, ${}, ${})", 2 * i + 2, 2 * i + 3)).collect();
        let sql =
            format!("INSERT INTO {table} ({id_column}, kind, ref) VALUES {} ON CONFLICT DO NOTHING", rows.join(", "));
        let mut query = sqlx::query(&sql).bind(id);
        for (kind, reference) in chunk {
            query = query.bind(*kind).bind(*reference);
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}

/// Replaces the recipients of object `id` with `recipients` (a marking or sharing change).
pub(crate) async fn replace<DB>(
    tx: &mut Transaction<'_, DB>,
    table: &str,
    id_column: &str,
    id: &str,
    recipients: &Recipients,
) -> Result<()>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'n> &'n str: Encode<'n, DB> + Type<DB>,
{
    sqlx::query(&format!("DELETE FROM {table} WHERE {id_column} = $1")).bind(id).execute(&mut **tx).await?;
    insert(tx, table, id_column, id, recipients).await
}

/// One reader's own ids: a user, their organisation and its communities.
#[derive(Debug, Clone, Copy)]
pub struct Naming<'a> {
    pub user: &'a str,
    pub org: &'a str,
    pub communities: &'a [vigie_domain::CommunityId],
}

/// The recipients of the objects `ids`, with one query on `conn` (a pooled connection, or a
/// transaction's when the caller compares them with what it is about to write); with
/// `naming`, only the rows that name that reader.
pub(crate) async fn load<DB>(
    conn: &mut DB::Connection,
    table: &str,
    id_column: &str,
    ids: &[&str],
    naming: Option<Naming<'_>>,
) -> Result<HashMap<String, Recipients>>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'n> &'n str: ColumnIndex<DB::Row> + Encode<'n, DB> + Type<DB>,
    String: Value<DB>,
{
    let mut all: HashMap<String, Recipients> = HashMap::new();
    if ids.is_empty() {
        return Ok(all);
    }
    let placeholders: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
    let reader = match naming {
        None => String::new(),
        Some(n) => {
            let first = ids.len() + 1;
            let communities: Vec<String> = (0..n.communities.len()).map(|i| format!("${}", first + 2 + i)).collect();
            let in_communities = if communities.is_empty() {
                String::new()
            } else {
                format!(" OR (kind = 'community' AND ref IN ({}))", communities.join(", "))
            };
            format!(
                " AND ((kind = 'org' AND ref = ${first}) OR (kind = 'user' AND ref = ${}){in_communities})",
                first + 1
            )
        }
    };
    let sql = format!(
        "SELECT {id_column} AS object_id, kind, ref FROM {table} WHERE {id_column} IN ({}){reader} ORDER BY kind, ref",
        placeholders.join(", ")
    );
    let mut query = sqlx::query(&sql);
    for id in ids {
        query = query.bind(*id);
    }
    if let Some(n) = naming {
        query = query.bind(n.org).bind(n.user);
        for community in n.communities {
            query = query.bind(community.as_str());
        }
    }
    for row in query.fetch_all(&mut *conn).await? {
        let (id, kind, reference): (String, String, String) =
            (row.try_get("object_id")?, row.try_get("kind")?, row.try_get("ref")?);
        let to = all.entry(id).or_default();
        match kind.as_str() {
            "community" => to.communities.push(reference.into()),
            "org" => to.orgs.push(reference.into()),
            _ => to.users.push(reference.into()),
        }
    }
    Ok(all)
}

/// A shared object whose recipients live in a table of their own.
pub(crate) trait Addressed {
    /// The recipients' table and its object column.
    const TABLE: (&'static str, &'static str);
    fn object_id(&self) -> &str;
    fn recipients_mut(&mut self) -> &mut Recipients;
}

impl Addressed for Bulletin {
    const TABLE: (&'static str, &'static str) = ("bulletin_recipients", "bulletin_id");
    fn object_id(&self) -> &str {
        self.id.as_str()
    }
    fn recipients_mut(&mut self) -> &mut Recipients {
        &mut self.draft.recipients
    }
}

impl Addressed for crate::StoredDocument {
    const TABLE: (&'static str, &'static str) = ("library_document_recipients", "document_id");
    fn object_id(&self) -> &str {
        self.document.id.as_str()
    }
    fn recipients_mut(&mut self) -> &mut Recipients {
        &mut self.document.recipients
    }
}

impl Addressed for FieldReport {
    const TABLE: (&'static str, &'static str) = ("field_report_recipients", "report_id");
    fn object_id(&self) -> &str {
        self.id.as_str()
    }
    fn recipients_mut(&mut self) -> &mut Recipients {
        &mut self.draft.recipients
    }
}

/// Fills in the recipients of `objects`, with one query for all of them.
pub(crate) async fn attach<B, DB, T: Addressed>(store: &B, objects: &mut [T]) -> Result<()>
where
    B: Backend<Db = DB>,
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'n> &'n str: ColumnIndex<DB::Row> + Encode<'n, DB> + Type<DB>,
    String: Value<DB>,
{
    attach_naming(store, objects, None).await
}

/// [`attach`], keeping only the recipients that name `naming`'s reader, when given.
pub(crate) async fn attach_naming<B, DB, T: Addressed>(
    store: &B,
    objects: &mut [T],
    naming: Option<Naming<'_>>,
) -> Result<()>
where
    B: Backend<Db = DB>,
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'n> &'n str: ColumnIndex<DB::Row> + Encode<'n, DB> + Type<DB>,
    String: Value<DB>,
{
    let ids: Vec<String> = objects.iter().map(|o| o.object_id().to_owned()).collect();
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    let (table, id_column) = T::TABLE;
    let mut conn = store.pool().acquire().await?;
    let mut all = load::<DB>(&mut conn, table, id_column, &ids, naming).await?;
    for object in objects.iter_mut() {
        let found = all.remove(object.object_id()).unwrap_or_default();
        *object.recipients_mut() = found;
    }
    Ok(())
}

/// The SQL condition (after `WHERE`) that an object of `alias` is addressed to `user`, `org`
/// or one of `communities`: it narrows a reader's candidates; the rule decides.
pub(crate) fn push_addressed_to<'a, DB: Database>(
    qb: &mut QueryBuilder<'a, DB>,
    table: &str,
    id_column: &str,
    alias: &str,
    user: &'a str,
    org: &'a str,
    communities: &'a [vigie_domain::CommunityId],
) where
    &'a str: Encode<'a, DB> + Type<DB>,
{
    qb.push(format!(
        " EXISTS (SELECT 1 FROM {table} r WHERE r.{id_column} = {alias}.id AND ((r.kind = 'org' AND r.ref = "
    ));
    qb.push_bind(org);
    qb.push(") OR (r.kind = 'user' AND r.ref = ");
    qb.push_bind(user);
    qb.push(")");
    if !communities.is_empty() {
        qb.push(" OR (r.kind = 'community' AND r.ref IN (");
        let mut list = qb.separated(", ");
        for community in communities {
            list.push_bind(community.as_str());
        }
        list.push_unseparated("))");
    }
    qb.push("))");
}
