//! Field reports and their recipients. Which reports a reader may see, and which count in a
//! sightings window, is decided by the domain's rules in the application; these queries only
//! narrow the candidates.
use async_trait::async_trait;
use sqlx::{ColumnIndex, Database, Encode, Executor, IntoArguments, QueryBuilder, Row as _, Type};
use vigie_domain::report::{FieldReport, ReportDraft};
use vigie_domain::sharing::{Marking, Recipients};
use vigie_domain::{CommunityId, OrgId, ReportId, UserId};

use crate::recipients;
use crate::sql::{Backend, Sql, Value};
use crate::{Result, StoreError, WriteContext};

const REPORT_COLUMNS: &str =
    "id, author_user, author_org, kind, observed_at, lon, lat, site_id, text, marking, status, created_at";

/// A photo of a field report (its bytes are read with [`ReportStore::report_photo_bytes`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReportPhoto {
    pub id: String,
    pub report_id: ReportId,
    pub content_type: String,
    pub byte_size: i64,
    pub sha256: String,
    #[serde(skip)]
    pub blob_ref: String,
    pub created_at_ms: i64,
}

/// An authority's case: reports it links as one matter.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Case {
    pub id: String,
    pub org_id: OrgId,
    pub title: String,
    pub created_at_ms: i64,
    pub report_ids: Vec<ReportId>,
}

const PHOTO_COLUMNS: &str = "id, report_id, content_type, byte_size, sha256, blob_ref, created_at, created_by";

/// A box of longitude and latitude and a time span: where and when to look for similar reports.
#[derive(Debug, Clone, Copy)]
pub struct ReportWindow {
    pub west: f64,
    pub south: f64,
    pub east: f64,
    pub north: f64,
    pub from_ms: i64,
    pub to_ms: i64,
}

#[async_trait]
pub trait ReportStore: Send + Sync {
    async fn create_report(&self, ctx: &WriteContext, report: &FieldReport) -> Result<()>;
    async fn report(&self, id: &ReportId) -> Result<Option<FieldReport>>;
    /// The newest reports (at most `limit`) that `user` of `org` might read (CLEAR ones, their
    /// organisation's, and those addressed to them); the caller applies the rule.
    async fn reports_for(
        &self,
        user: &UserId,
        org: &OrgId,
        communities: &[CommunityId],
        limit: u32,
    ) -> Result<Vec<FieldReport>>;
    /// Every report observed in `window`: the candidates of a sightings count.
    async fn reports_in(&self, window: &ReportWindow) -> Result<Vec<FieldReport>>;
    /// Moves a report to a triage state; `NotFound` for an unknown report.
    async fn set_report_status(&self, ctx: &WriteContext, id: &ReportId, status: &str) -> Result<()>;
    /// The reports of `org` whose status changed, latest change first: (report, when it
    /// changed, whether the organisation has read it since).
    async fn report_updates(&self, org: &OrgId, limit: u32) -> Result<Vec<(FieldReport, i64, bool)>>;
    /// Notes that the reporter's organisation read the report (its status change is seen).
    async fn mark_report_seen(&self, id: &ReportId, at_ms: i64) -> Result<()>;
    /// Stores a photo (already cleaned) of a report.
    async fn add_report_photo(
        &self,
        ctx: &WriteContext,
        report: &ReportId,
        content_type: &str,
        bytes: &[u8],
    ) -> Result<ReportPhoto>;
    async fn report_photos(&self, report: &ReportId) -> Result<Vec<ReportPhoto>>;
    /// The photos of several reports, in one query.
    async fn photos_of_reports(&self, reports: &[ReportId]) -> Result<Vec<ReportPhoto>>;
    async fn report_photo(&self, id: &str) -> Result<Option<ReportPhoto>>;
    async fn report_photo_bytes(&self, photo: &ReportPhoto) -> Result<Vec<u8>>;
    /// Creates a case of `org` (with no report yet).
    async fn create_case(&self, ctx: &WriteContext, org: &OrgId, title: &str) -> Result<Case>;
    /// Links reports into a case and marks them `linked`, in one transaction.
    async fn link_reports(&self, ctx: &WriteContext, case_id: &str, reports: &[ReportId]) -> Result<()>;
    /// The cases of `org`, newest first, with their reports.
    async fn cases_of(&self, org: &OrgId) -> Result<Vec<Case>>;
}

#[async_trait]
impl<B, DB> ReportStore for B
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
    async fn create_report(&self, ctx: &WriteContext, report: &FieldReport) -> Result<()> {
        let d = &report.draft;
        let mut tx = self.begin_write().await?;
        sqlx::query(&format!(
            "INSERT INTO field_reports ({REPORT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        ))
        .bind(report.id.as_str())
        .bind(report.author.as_str())
        .bind(report.author_org.as_str())
        .bind(&d.kind)
        .bind(d.observed_at_ms)
        .bind(d.lon)
        .bind(d.lat)
        .bind(d.site_id.as_ref().map(|s| s.to_string()))
        .bind(&d.text)
        .bind(d.marking.label())
        .bind(&report.status)
        .bind(report.created_at_ms)
        .execute(&mut *tx)
        .await?;
        recipients::insert(&mut tx, "field_report_recipients", "report_id", report.id.as_str(), &d.recipients).await?;
        // What was seen may be TLP:RED: the audit log keeps the report's kind and marking only.
        Sql::<DB>::audit(
            &mut tx,
            ctx,
            "field_report.create",
            "field_report",
            Some(&report.id),
            serde_json::json!({"kind": d.kind, "marking": d.marking.label()}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn report(&self, id: &ReportId) -> Result<Option<FieldReport>> {
        let row = sqlx::query(&format!("SELECT {REPORT_COLUMNS} FROM field_reports WHERE id = $1"))
            .bind(id.as_str())
            .fetch_optional(self.pool())
            .await?;
        let Some(row) = row else { return Ok(None) };
        let mut found = vec![report_from_row::<DB>(&row)?];
        recipients::attach(self, &mut found).await?;
        Ok(found.pop())
    }

    async fn reports_for(
        &self,
        user: &UserId,
        org: &OrgId,
        communities: &[CommunityId],
        limit: u32,
    ) -> Result<Vec<FieldReport>> {
        let mut qb = QueryBuilder::<DB>::new(format!(
            "SELECT {REPORT_COLUMNS} FROM field_reports f WHERE f.marking = 'TLP:CLEAR' OR f.author_org = "
        ));
        qb.push_bind(org.as_str());
        qb.push(" OR");
        recipients::push_addressed_to(
            &mut qb,
            "field_report_recipients",
            "report_id",
            "f",
            user.as_str(),
            org.as_str(),
            communities,
        );
        qb.push(" ORDER BY f.created_at DESC, f.id LIMIT ");
        qb.push_bind(i64::from(limit));
        let rows = self.fetch_built(qb).await?;
        let mut found = rows.iter().map(report_from_row::<DB>).collect::<Result<Vec<_>>>()?;
        recipients::attach(self, &mut found).await?;
        Ok(found)
    }

    async fn reports_in(&self, window: &ReportWindow) -> Result<Vec<FieldReport>> {
        let rows = sqlx::query(&format!("SELECT {REPORT_COLUMNS} FROM field_reports WHERE lat BETWEEN $1 AND $2 AND lon BETWEEN $3 AND $4 AND observed_at BETWEEN $5 AND $6"))
            .bind(window.south)
            .bind(window.north)
            .bind(window.west)
            .bind(window.east)
            .bind(window.from_ms)
            .bind(window.to_ms)
            .fetch_all(self.pool())
            .await?;
        let mut found = rows.iter().map(report_from_row::<DB>).collect::<Result<Vec<_>>>()?;
        recipients::attach(self, &mut found).await?;
        Ok(found)
    }

    async fn set_report_status(&self, ctx: &WriteContext, id: &ReportId, status: &str) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let changed = sqlx::query("UPDATE field_reports SET status = $1, status_changed_at = $2 WHERE id = $3")
            .bind(status)
            .bind(ctx.at_ms)
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
        if B::rows_affected(&changed) == 0 {
            return Err(StoreError::NotFound("field report".into()));
        }
        Sql::<DB>::audit(
            &mut tx,
            ctx,
            "field_report.triage",
            "field_report",
            Some(id),
            serde_json::json!({"status": status}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn report_updates(&self, org: &OrgId, limit: u32) -> Result<Vec<(FieldReport, i64, bool)>> {
        let rows = sqlx::query(&format!("SELECT {REPORT_COLUMNS}, status_changed_at, reporter_seen_at FROM field_reports WHERE author_org = $1 AND status_changed_at IS NOT NULL ORDER BY status_changed_at DESC, id LIMIT $2"))
            .bind(org.as_str())
            .bind(i64::from(limit))
            .fetch_all(self.pool())
            .await?;
        let mut found = Vec::new();
        for row in &rows {
            let changed: i64 = row.try_get("status_changed_at")?;
            let seen: Option<i64> = row.try_get("reporter_seen_at")?;
            found.push((report_from_row::<DB>(row)?, changed, seen.is_some_and(|s| s >= changed)));
        }
        let mut reports: Vec<FieldReport> = found.iter().map(|(r, _, _)| r.clone()).collect();
        recipients::attach(self, &mut reports).await?;
        Ok(reports.into_iter().zip(found).map(|(r, (_, changed, seen))| (r, changed, seen)).collect())
    }

    async fn mark_report_seen(&self, id: &ReportId, at_ms: i64) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE field_reports SET reporter_seen_at = $1 WHERE id = $2")
            .bind(at_ms)
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    #[tracing::instrument(skip_all)]
    async fn add_report_photo(
        &self,
        ctx: &WriteContext,
        report: &ReportId,
        content_type: &str,
        bytes: &[u8],
    ) -> Result<ReportPhoto> {
        use sha2::Digest as _;
        let sha256 = hex::encode(sha2::Sha256::digest(bytes));
        let photo = ReportPhoto {
            id: crate::sql::new_id(),
            report_id: report.clone(),
            content_type: content_type.to_owned(),
            byte_size: i64::try_from(bytes.len()).unwrap_or(i64::MAX),
            sha256: sha256.clone(),
            blob_ref: String::new(),
            created_at_ms: ctx.at_ms,
        };
        let mut tx = self.begin_write().await?;
        let blob_ref = self.put_photo_bytes(&mut tx, &sha256, bytes).await?;
        sqlx::query(&format!(
            "INSERT INTO field_report_photos ({PHOTO_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        ))
        .bind(&photo.id)
        .bind(report.as_str())
        .bind(content_type)
        .bind(photo.byte_size)
        .bind(&sha256)
        .bind(&blob_ref)
        .bind(ctx.at_ms)
        .bind(&ctx.actor)
        .execute(&mut *tx)
        .await?;
        Sql::<DB>::audit(
            &mut tx,
            ctx,
            "field_report.photo_add",
            "field_report",
            Some(report),
            serde_json::json!({"photo_id": photo.id, "sha256": sha256}),
        )
        .await?;
        tx.commit().await?;
        Ok(ReportPhoto { blob_ref, ..photo })
    }

    async fn report_photos(&self, report: &ReportId) -> Result<Vec<ReportPhoto>> {
        let rows = sqlx::query(&format!(
            "SELECT {PHOTO_COLUMNS} FROM field_report_photos WHERE report_id = $1 ORDER BY created_at, id"
        ))
        .bind(report.as_str())
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(photo_from_row::<DB>).collect()
    }

    async fn photos_of_reports(&self, reports: &[ReportId]) -> Result<Vec<ReportPhoto>> {
        let mut found = Vec::new();
        for chunk in reports.chunks(500) {
            let mut qb = QueryBuilder::<DB>::new(format!(
                "SELECT {PHOTO_COLUMNS} FROM field_report_photos WHERE report_id IN ("
            ));
            let mut list = qb.separated(", ");
            for id in chunk {
                list.push_bind(id.as_str());
            }
            list.push_unseparated(") ORDER BY created_at, id");
            for row in self.fetch_built(qb).await? {
                found.push(photo_from_row::<DB>(&row)?);
            }
        }
        Ok(found)
    }

    async fn create_case(&self, ctx: &WriteContext, org: &OrgId, title: &str) -> Result<Case> {
        let case = Case {
            id: crate::sql::new_id(),
            org_id: org.clone(),
            title: title.to_owned(),
            created_at_ms: ctx.at_ms,
            report_ids: Vec::new(),
        };
        let mut tx = self.begin_write().await?;
        sqlx::query("INSERT INTO cases (id, org_id, title, created_at, created_by) VALUES ($1, $2, $3, $4, $5)")
            .bind(&case.id)
            .bind(org.as_str())
            .bind(title)
            .bind(ctx.at_ms)
            .bind(&ctx.actor)
            .execute(&mut *tx)
            .await?;
        Sql::<DB>::audit(&mut tx, ctx, "case.create", "case", Some(&case.id), serde_json::json!({"org_id": org}))
            .await?;
        tx.commit().await?;
        Ok(case)
    }

    async fn link_reports(&self, ctx: &WriteContext, case_id: &str, reports: &[ReportId]) -> Result<()> {
        let mut tx = self.begin_write().await?;
        for report in reports {
            sqlx::query("INSERT INTO case_reports (case_id, report_id, linked_at, linked_by) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING")
                .bind(case_id)
                .bind(report.as_str())
                .bind(ctx.at_ms)
                .bind(&ctx.actor)
                .execute(&mut *tx)
                .await?;
            sqlx::query("UPDATE field_reports SET status = 'linked', status_changed_at = $1 WHERE id = $2 AND status <> 'linked'")
                .bind(ctx.at_ms)
                .bind(report.as_str())
                .execute(&mut *tx)
                .await?;
        }
        Sql::<DB>::audit(&mut tx, ctx, "case.link", "case", Some(case_id), serde_json::json!({"reports": reports}))
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn cases_of(&self, org: &OrgId) -> Result<Vec<Case>> {
        let rows = sqlx::query("SELECT c.id, c.org_id, c.title, c.created_at, r.report_id FROM cases c LEFT JOIN case_reports r ON r.case_id = c.id WHERE c.org_id = $1 ORDER BY c.created_at DESC, c.id, r.linked_at, r.report_id")
            .bind(org.as_str())
            .fetch_all(self.pool())
            .await?;
        let mut cases: Vec<Case> = Vec::new();
        for row in &rows {
            let id: String = row.try_get("id")?;
            let report: Option<String> = row.try_get("report_id")?;
            if cases.last().is_none_or(|c| c.id != id) {
                cases.push(Case {
                    id,
                    org_id: row.try_get::<String, _>("org_id")?.into(),
                    title: row.try_get("title")?,
                    created_at_ms: row.try_get("created_at")?,
                    report_ids: Vec::new(),
                });
            }
            if let (Some(case), Some(report)) = (cases.last_mut(), report) {
                case.report_ids.push(report.into());
            }
        }
        Ok(cases)
    }

    async fn report_photo(&self, id: &str) -> Result<Option<ReportPhoto>> {
        let row = sqlx::query(&format!("SELECT {PHOTO_COLUMNS} FROM field_report_photos WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(photo_from_row::<DB>).transpose()
    }

    async fn report_photo_bytes(&self, photo: &ReportPhoto) -> Result<Vec<u8>> {
        self.read_photo_bytes(&photo.blob_ref).await
    }
}

fn photo_from_row<DB: Database>(row: &DB::Row) -> Result<ReportPhoto>
where
    for<'n> &'n str: ColumnIndex<DB::Row>,
    String: Value<DB>,
    i64: Value<DB>,
{
    Ok(ReportPhoto {
        id: row.try_get("id")?,
        report_id: row.try_get::<String, _>("report_id")?.into(),
        content_type: row.try_get("content_type")?,
        byte_size: row.try_get("byte_size")?,
        sha256: row.try_get("sha256")?,
        blob_ref: row.try_get("blob_ref")?,
        created_at_ms: row.try_get("created_at")?,
    })
}

fn report_from_row<DB: Database>(row: &DB::Row) -> Result<FieldReport>
where
    for<'n> &'n str: ColumnIndex<DB::Row>,
    String: Value<DB>,
    i64: Value<DB>,
    f64: Value<DB>,
    Option<String>: Value<DB>,
{
    let marking: String = row.try_get("marking")?;
    Ok(FieldReport {
        id: row.try_get::<String, _>("id")?.into(),
        author: row.try_get::<String, _>("author_user")?.into(),
        author_org: row.try_get::<String, _>("author_org")?.into(),
        created_at_ms: row.try_get("created_at")?,
        status: row.try_get("status")?,
        draft: ReportDraft {
            kind: row.try_get("kind")?,
            observed_at_ms: row.try_get("observed_at")?,
            lon: row.try_get("lon")?,
            lat: row.try_get("lat")?,
            site_id: row.try_get::<Option<String>, _>("site_id")?.map(Into::into),
            text: row.try_get("text")?,
            marking: Marking::parse(&marking).map_err(|e| StoreError::Corrupt(format!("field report marking: {e}")))?,
            recipients: Recipients::default(),
        },
    })
}
