//! The registry: sites, and the hostile-vehicle studies kept with them.
use std::collections::HashMap;

use async_trait::async_trait;
use sqlx::QueryBuilder;
use sqlx::{ColumnIndex, Database, Encode, Executor, IntoArguments, Row as _, Type};
use vigie_domain::hvm::HvmStudySummary;
use vigie_domain::{OrgId, SiteId};

use crate::sql::{Backend, SITE_COLUMNS, Sql, Value, corrupt, new_id};
use crate::{
    HvmStudy, ImportOutcome, NewHvmStudy, NewSite, Result, Site, SiteFilter, SitePage, StoreError, WriteContext,
};

#[async_trait]
pub trait SiteStore: Send + Sync {
    async fn create_site(&self, ctx: &WriteContext, org_id: &OrgId, site: &NewSite) -> Result<Site>;
    async fn get_site(&self, id: &SiteId) -> Result<Option<Site>>;
    /// The names of the sites among `ids` that exist, by id: one query for a whole list
    /// (dashboards name hundreds of sites), not one per site.
    async fn site_names(&self, ids: &[&SiteId]) -> Result<HashMap<SiteId, String>>;
    /// Replaces a site's fields; with `expected_version`, refuses (Conflict) when the stored
    /// version differs, so that a concurrent edit is never silently overwritten.
    async fn update_site(
        &self,
        ctx: &WriteContext,
        id: &SiteId,
        site: &NewSite,
        expected_version: Option<i64>,
    ) -> Result<Site>;
    async fn delete_site(&self, ctx: &WriteContext, id: &SiteId) -> Result<()>;
    async fn list_sites(&self, filter: &SiteFilter) -> Result<SitePage>;
    /// Imports sites in one transaction: all or nothing. Sites whose `source_ref` the
    /// organisation already holds are updated when they changed, else skipped.
    async fn import_sites(&self, ctx: &WriteContext, org_id: &OrgId, sites: &[NewSite]) -> Result<ImportOutcome>;

    /// Stores a hostile-vehicle study of a site (the result JSON of `vigie_hvm::analyse_site`).
    async fn create_hvm_study(&self, ctx: &WriteContext, study: &NewHvmStudy) -> Result<HvmStudy>;
    /// The site's most recent study, if any.
    async fn latest_hvm_study(&self, site_id: &SiteId) -> Result<Option<HvmStudy>>;
}

#[async_trait]
impl<B, DB> SiteStore for B
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
    async fn create_site(&self, ctx: &WriteContext, org_id: &OrgId, new: &NewSite) -> Result<Site> {
        let mut tx = self.begin_write().await?;
        let id = Sql::<DB>::insert_site(&mut tx, ctx, org_id, new).await?;
        Sql::<DB>::audit(
            &mut tx,
            ctx,
            "site.create",
            "site",
            Some(&id),
            serde_json::json!({"org_id": org_id, "name": new.site.name}),
        )
        .await?;
        let site = Sql::<DB>::site_in(&mut tx, &id).await?.ok_or_else(|| StoreError::NotFound("site".into()))?;
        tx.commit().await?;
        Ok(site)
    }

    #[tracing::instrument(skip_all)]
    async fn get_site(&self, id: &SiteId) -> Result<Option<Site>> {
        let row = sqlx::query(&format!("SELECT {SITE_COLUMNS} FROM sites WHERE id = $1"))
            .bind(id.as_str())
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(Sql::<DB>::site_from_row).transpose()
    }

    #[tracing::instrument(skip_all)]
    async fn site_names(&self, ids: &[&SiteId]) -> Result<HashMap<SiteId, String>> {
        let mut names = HashMap::with_capacity(ids.len());
        // Chunks keep each query well under both backends' limits on bound parameters.
        for chunk in ids.chunks(500) {
            let mut select = QueryBuilder::new("SELECT id, name FROM sites WHERE id IN (");
            let mut list = select.separated(", ");
            for id in chunk {
                list.push_bind(id.as_str());
            }
            list.push_unseparated(")");
            for row in self.fetch_built(select).await? {
                names.insert(row.try_get::<String, _>("id")?.into(), row.try_get("name")?);
            }
        }
        Ok(names)
    }

    #[tracing::instrument(skip_all)]
    async fn update_site(
        &self,
        ctx: &WriteContext,
        id: &SiteId,
        new: &NewSite,
        expected_version: Option<i64>,
    ) -> Result<Site> {
        let mut tx = self.begin_write().await?;
        let current = Sql::<DB>::site_in(&mut tx, id).await?.ok_or_else(|| StoreError::NotFound("site".into()))?;
        if let Some(expected) = expected_version
            && expected != current.version
        {
            return Err(StoreError::Conflict(format!(
                "the site was changed by someone else (version {} now, {expected} expected); reload it and apply your change again",
                current.version
            )));
        }
        if Sql::<DB>::rewrite_site(&mut tx, ctx, &current, new, false).await? {
            Sql::<DB>::audit(
                &mut tx,
                ctx,
                "site.update",
                "site",
                Some(id),
                serde_json::json!({"org_id": current.org_id, "version": current.version + 1}),
            )
            .await?;
        }
        let site = Sql::<DB>::site_in(&mut tx, id).await?.ok_or_else(|| StoreError::NotFound("site".into()))?;
        tx.commit().await?;
        Ok(site)
    }

    #[tracing::instrument(skip_all)]
    async fn delete_site(&self, ctx: &WriteContext, id: &SiteId) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let current = Sql::<DB>::site_in(&mut tx, id).await?.ok_or_else(|| StoreError::NotFound("site".into()))?;
        let assessments: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM assessments WHERE site_id = $1")
            .bind(id.as_str())
            .fetch_one(&mut *tx)
            .await?;
        if assessments > 0 {
            return Err(StoreError::Conflict(format!(
                "the site has {assessments} assessment(s), which are kept for the record: it cannot be deleted"
            )));
        }
        sqlx::query("DELETE FROM sites WHERE id = $1").bind(id.as_str()).execute(&mut *tx).await?;
        Sql::<DB>::audit(
            &mut tx,
            ctx,
            "site.delete",
            "site",
            Some(id),
            serde_json::json!({"org_id": current.org_id, "name": current.name}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    #[tracing::instrument(skip_all)]
    async fn list_sites(&self, filter: &SiteFilter) -> Result<SitePage> {
        let limit = filter.limit.clamp(1, crate::MAX_PAGE);
        let empty = SitePage { items: Vec::new(), total: 0, limit, offset: filter.offset };
        if filter.orgs.as_ref().is_some_and(Vec::is_empty) {
            return Ok(empty);
        }
        let mut count = QueryBuilder::<DB>::new("SELECT COUNT(*) FROM sites");
        Sql::<DB>::push_site_filters::<B>(&mut count, filter);
        let counted = self.fetch_built(count).await?;
        let total: i64 = counted.first().ok_or_else(|| corrupt("site count", "no row"))?.try_get(0)?;
        let mut select = QueryBuilder::<DB>::new(format!("SELECT {SITE_COLUMNS} FROM sites"));
        Sql::<DB>::push_site_filters::<B>(&mut select, filter);
        select.push(" ORDER BY name, id LIMIT ").push_bind(i64::from(limit));
        select.push(" OFFSET ").push_bind(i64::try_from(filter.offset).unwrap_or(i64::MAX));
        let rows = self.fetch_built(select).await?;
        let items = rows.iter().map(Sql::<DB>::site_from_row).collect::<Result<Vec<_>>>()?;
        Ok(SitePage { items, total: u64::try_from(total).unwrap_or(0), ..empty })
    }

    #[tracing::instrument(skip_all)]
    async fn import_sites(&self, ctx: &WriteContext, org_id: &OrgId, sites: &[NewSite]) -> Result<ImportOutcome> {
        let mut outcome = ImportOutcome::default();
        let mut tx = self.begin_write().await?;
        for new in sites {
            let existing = match &new.source_ref {
                Some(source) => {
                    sqlx::query("SELECT id, version, imported_version FROM sites WHERE org_id = $1 AND source_ref = $2")
                        .bind(org_id.as_str())
                        .bind(source)
                        .fetch_optional(&mut *tx)
                        .await?
                        .map(|row| {
                            Ok::<_, StoreError>((
                                row.try_get::<String, _>("id")?,
                                row.try_get::<i64, _>("version")?,
                                row.try_get::<Option<i64>, _>("imported_version")?,
                            ))
                        })
                        .transpose()?
                }
                None => None,
            };
            match existing {
                None => {
                    outcome.created.push(Sql::<DB>::insert_site(&mut tx, ctx, org_id, new).await?);
                    outcome.imported += 1;
                }
                // Someone edited it since the last import: their edit wins.
                Some((_, version, imported)) if imported != Some(version) => outcome.locally_edited += 1,
                Some((id, _, _)) => {
                    let current =
                        Sql::<DB>::site_in(&mut tx, &id).await?.ok_or_else(|| StoreError::NotFound("site".into()))?;
                    if Sql::<DB>::rewrite_site(&mut tx, ctx, &current, new, true).await? {
                        outcome.updated += 1;
                        outcome.changed.push(id.into());
                    } else {
                        outcome.unchanged += 1;
                    }
                }
            }
        }
        Sql::<DB>::audit(
            &mut tx,
            ctx,
            "site.import",
            "org",
            Some(org_id),
            serde_json::to_value(&outcome).map_err(|e| corrupt("import summary", e))?,
        )
        .await?;
        tx.commit().await?;
        Ok(outcome)
    }

    #[tracing::instrument(skip_all)]
    async fn create_hvm_study(&self, ctx: &WriteContext, study: &NewHvmStudy) -> Result<HvmStudy> {
        let stored = HvmStudy {
            id: new_id().into(),
            site_id: study.site_id.clone(),
            org_id: study.org_id.clone(),
            created_at_ms: ctx.at_ms,
            created_by: ctx.actor.clone(),
            vehicles_version: study.vehicles_version.clone(),
            network: study.network.clone(),
            result: study.result.clone(),
            summary: HvmStudySummary::of(&study.result)
                .ok_or_else(|| corrupt("hvm study", "the result does not have the shape of a study"))?,
        };
        let mut tx = self.begin_write().await?;
        sqlx::query("INSERT INTO hvm_studies (id, site_id, org_id, created_at, created_by, vehicles_version, network, result) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
            .bind(stored.id.as_str())
            .bind(stored.site_id.as_str())
            .bind(stored.org_id.as_str())
            .bind(stored.created_at_ms)
            .bind(&stored.created_by)
            .bind(&stored.vehicles_version)
            .bind(&stored.network)
            .bind(stored.result.to_string())
            .execute(&mut *tx)
            .await?;
        Sql::<DB>::audit(
            &mut tx,
            ctx,
            "hvm_study.create",
            "site",
            Some(&stored.site_id),
            serde_json::json!({"study_id": stored.id, "org_id": stored.org_id}),
        )
        .await?;
        tx.commit().await?;
        Ok(stored)
    }

    #[tracing::instrument(skip_all)]
    async fn latest_hvm_study(&self, site_id: &SiteId) -> Result<Option<HvmStudy>> {
        let row = sqlx::query("SELECT id, site_id, org_id, created_at, created_by, vehicles_version, network, result FROM hvm_studies WHERE site_id = $1 ORDER BY created_at DESC, id DESC LIMIT 1")
            .bind(site_id.as_str())
            .fetch_optional(self.pool())
            .await?;
        row.map(|row| {
            let result: String = row.try_get("result")?;
            let result: serde_json::Value = serde_json::from_str(&result).map_err(|e| corrupt("hvm study", e))?;
            Ok(HvmStudy {
                id: row.try_get::<String, _>("id")?.into(),
                site_id: row.try_get::<String, _>("site_id")?.into(),
                org_id: row.try_get::<String, _>("org_id")?.into(),
                created_at_ms: row.try_get("created_at")?,
                created_by: row.try_get("created_by")?,
                vehicles_version: row.try_get("vehicles_version")?,
                network: row.try_get("network")?,
                summary: HvmStudySummary::of(&result)
                    .ok_or_else(|| corrupt("hvm study", "the result does not have the shape of a study"))?,
                result,
            })
        })
        .transpose()
    }
}
