//! The assessment part of the [`crate::Store`]: assessments, their answers, photos and action
//! plans. The SQL is shared by both backends like `sql.rs`, implemented once for every
//! [`Backend`] with the helpers of `sql.rs` (`Sql::audit`, …). Photo bytes go through two backend
//! hooks, `Backend::put_photo_bytes` and `Backend::read_photo_bytes`.
use std::collections::BTreeMap;

use sqlx::{ColumnIndex, Database, Encode, Executor, IntoArguments, QueryBuilder, Row as _, Transaction, Type};
use vigie_domain::assessment::{
    Action, ActionFields, ActionStatus, AnswerContent, AssessedSite, Assessment, AssessmentStatus, AssessmentSummary,
    Photo, StoredAnswer,
};
use vigie_domain::site::SiteCategory;
use vigie_domain::{ActionId, AssessmentId, OrgId, PhotoId, SiteId, UserId};

use crate::sql::{Backend, Sql, Value, corrupt, new_id, parse_category};
use crate::{Result, StoreError, WriteContext};

pub struct NewAssessment {
    pub site_id: SiteId,
    pub org_id: OrgId,
    pub methodology_version: String,
    pub threat_level: u8,
    pub site: AssessedSite,
}

/// One answer to write. `base_version` is the version of the answer the writer last saw
/// (0: none); `None` skips the check (bulk imports).
#[derive(Debug, Clone, PartialEq)]
pub struct AnswerWrite {
    pub question_id: String,
    pub content: AnswerContent,
    pub base_version: Option<i64>,
}

/// What a status change also records.
#[derive(Debug, Clone, Default)]
pub struct TransitionData {
    pub due_at_ms: Option<i64>,
    pub summary: Option<AssessmentSummary>,
    pub protective_measures_index: Option<u8>,
}

pub struct NewPhoto {
    pub assessment_id: AssessmentId,
    pub question_id: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
    pub location_kept: bool,
}

#[async_trait::async_trait]
pub trait AssessmentStore: Send + Sync {
    /// Starts a draft assessment of a site.
    async fn create_assessment(&self, ctx: &WriteContext, new: &NewAssessment) -> Result<Assessment>;
    async fn get_assessment(&self, id: &AssessmentId) -> Result<Option<Assessment>>;
    /// The site's assessments, newest first.
    async fn site_assessments(&self, site_id: &SiteId) -> Result<Vec<Assessment>>;
    /// Assessments of these organisations (`None`: all) in one status, for dashboards.
    async fn assessments_by_status(&self, orgs: Option<&[OrgId]>, status: AssessmentStatus) -> Result<Vec<Assessment>>;
    /// Question id → answer, with the ids of its photos.
    async fn assessment_answers(&self, assessment_id: &AssessmentId) -> Result<BTreeMap<String, StoredAnswer>>;
    /// Writes answers in one transaction, all or none. Refused unless the assessment is a draft;
    /// refused with `AnswerConflict` when an answer changed since the writer read it.
    async fn put_answers(
        &self,
        ctx: &WriteContext,
        assessment_id: &AssessmentId,
        writes: &[AnswerWrite],
    ) -> Result<Vec<StoredAnswer>>;
    /// Moves the assessment from `from` to `to` (compare-and-set: `Conflict` if it moved meanwhile).
    async fn transition_assessment(
        &self,
        ctx: &WriteContext,
        id: &AssessmentId,
        from: AssessmentStatus,
        to: AssessmentStatus,
        data: &TransitionData,
    ) -> Result<Assessment>;
    /// Protective measures indexes of the validated assessments of a category, but `exclude`.
    async fn peer_indexes(&self, category: SiteCategory, exclude: &AssessmentId) -> Result<Vec<u8>>;

    /// Stores a photo of a draft assessment (bytes already checked and cleaned).
    async fn add_photo(&self, ctx: &WriteContext, photo: &NewPhoto) -> Result<Photo>;
    async fn get_photo(&self, id: &PhotoId) -> Result<Option<Photo>>;
    /// Every photo of the assessment, oldest first.
    async fn assessment_photos(&self, assessment_id: &AssessmentId) -> Result<Vec<Photo>>;
    async fn photo_bytes(&self, photo: &Photo) -> Result<Vec<u8>>;

    async fn create_action(
        &self,
        ctx: &WriteContext,
        assessment_id: &AssessmentId,
        fields: &ActionFields,
    ) -> Result<Action>;
    async fn get_action(&self, id: &ActionId) -> Result<Option<Action>>;
    /// Replaces an action's fields; `Conflict` when its version is not `expected_version`.
    async fn update_action(
        &self,
        ctx: &WriteContext,
        id: &ActionId,
        fields: &ActionFields,
        expected_version: i64,
    ) -> Result<Action>;
    async fn assessment_actions(&self, assessment_id: &AssessmentId) -> Result<Vec<Action>>;
    /// Open and in-progress actions of these organisations (`None`: all), soonest due first.
    async fn pending_actions(&self, orgs: Option<&[OrgId]>, limit: u32) -> Result<Vec<Action>>;
    /// The open and in-progress actions `user_id` owns, soonest due first.
    async fn actions_owned_by(&self, user_id: &UserId, limit: u32) -> Result<Vec<Action>>;
}

const ASSESSMENT_COLUMNS: &str = "id, site_id, org_id, methodology_version, status, threat_level, category, occupancy, area_m2, visibility, version, created_at, created_by, updated_at, submitted_at, submitted_by, validated_at, validated_by, archived_at, due_at, summary, protective_measures_index";
const ANSWER_COLUMNS: &str = "question_id, answer, note, observed_at, gps, version, updated_at, updated_by";
const PHOTO_COLUMNS: &str =
    "id, assessment_id, question_id, content_type, size_bytes, sha256, blob_ref, location_kept, created_at, created_by";
pub(crate) const ACTION_COLUMNS: &str = "id, assessment_id, site_id, org_id, title, owner, due_date, status, evidence, question_id, scenario_id, measure_id, version, created_at, created_by, updated_at, updated_by, owner_user_id, threat_level_id";

fn small(what: &str, value: i64) -> Result<u8> {
    u8::try_from(value).map_err(|e| corrupt(what, e))
}

impl<DB> Sql<DB>
where
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
    fn assessment_from_row(row: &DB::Row) -> Result<Assessment> {
        let status: String = row.try_get("status")?;
        let summary: Option<String> = row.try_get("summary")?;
        let visibility: Option<i64> = row.try_get("visibility")?;
        let index: Option<i64> = row.try_get("protective_measures_index")?;
        Ok(Assessment {
            id: row.try_get::<String, _>("id")?.into(),
            site_id: row.try_get::<String, _>("site_id")?.into(),
            org_id: row.try_get::<String, _>("org_id")?.into(),
            methodology_version: row.try_get("methodology_version")?,
            status: AssessmentStatus::from_key(&status).map_err(|e| corrupt("assessment status", e))?,
            threat_level: small("threat level", row.try_get("threat_level")?)?,
            site: AssessedSite {
                category: parse_category(&row.try_get::<String, _>("category")?)?,
                occupancy: u32::try_from(row.try_get::<i64, _>("occupancy")?).map_err(|e| corrupt("occupancy", e))?,
                area_m2: row.try_get("area_m2")?,
                visibility: visibility.map(|v| small("visibility", v)).transpose()?,
            },
            version: row.try_get("version")?,
            created_at_ms: row.try_get("created_at")?,
            created_by: row.try_get("created_by")?,
            updated_at_ms: row.try_get("updated_at")?,
            submitted_at_ms: row.try_get("submitted_at")?,
            submitted_by: row.try_get("submitted_by")?,
            validated_at_ms: row.try_get("validated_at")?,
            validated_by: row.try_get("validated_by")?,
            archived_at_ms: row.try_get("archived_at")?,
            due_at_ms: row.try_get("due_at")?,
            summary: summary
                .map(|s| serde_json::from_str::<AssessmentSummary>(&s).map_err(|e| corrupt("assessment summary", e)))
                .transpose()?,
            protective_measures_index: index.map(|v| small("protective measures index", v)).transpose()?,
        })
    }

    fn answer_from_row(row: &DB::Row) -> Result<StoredAnswer> {
        let gps: Option<String> = row.try_get("gps")?;
        Ok(StoredAnswer {
            question_id: row.try_get("question_id")?,
            content: AnswerContent {
                answer: row.try_get("answer")?,
                note: row.try_get("note")?,
                observed_at_ms: row.try_get("observed_at")?,
                gps: gps.map(|g| serde_json::from_str(&g).map_err(|e| corrupt("answer position", e))).transpose()?,
            },
            photos: Vec::new(),
            version: row.try_get("version")?,
            updated_at_ms: row.try_get("updated_at")?,
            updated_by: row.try_get("updated_by")?,
        })
    }

    fn photo_from_row(row: &DB::Row) -> Result<Photo> {
        Ok(Photo {
            id: row.try_get::<String, _>("id")?.into(),
            assessment_id: row.try_get::<String, _>("assessment_id")?.into(),
            question_id: row.try_get("question_id")?,
            content_type: row.try_get("content_type")?,
            size_bytes: row.try_get("size_bytes")?,
            sha256: row.try_get("sha256")?,
            blob_ref: row.try_get("blob_ref")?,
            location_kept: row.try_get("location_kept")?,
            created_at_ms: row.try_get("created_at")?,
            created_by: row.try_get("created_by")?,
        })
    }

    pub(crate) fn action_from_row(row: &DB::Row) -> Result<Action> {
        let status: String = row.try_get("status")?;
        Ok(Action {
            id: row.try_get::<String, _>("id")?.into(),
            assessment_id: row.try_get::<String, _>("assessment_id")?.into(),
            site_id: row.try_get::<String, _>("site_id")?.into(),
            org_id: row.try_get::<String, _>("org_id")?.into(),
            fields: ActionFields {
                title: row.try_get("title")?,
                owner: row.try_get("owner")?,
                owner_user_id: row.try_get::<Option<String>, _>("owner_user_id")?.map(Into::into),
                due_date: row.try_get("due_date")?,
                status: ActionStatus::from_key(&status).map_err(|e| corrupt("action status", e))?,
                evidence: row.try_get("evidence")?,
                question_id: row.try_get("question_id")?,
                scenario_id: row.try_get("scenario_id")?,
                measure_id: row.try_get("measure_id")?,
            },
            threat_level_id: row.try_get::<Option<String>, _>("threat_level_id")?.map(Into::into),
            version: row.try_get("version")?,
            created_at_ms: row.try_get("created_at")?,
            created_by: row.try_get("created_by")?,
            updated_at_ms: row.try_get("updated_at")?,
            updated_by: row.try_get("updated_by")?,
        })
    }

    /// The rows `sql` selects with one text parameter, each turned into a `T`.
    async fn rows_where<'e, E, T>(
        executor: E,
        sql: &'e str,
        key: &'e str,
        from_row: fn(&DB::Row) -> Result<T>,
    ) -> Result<Vec<T>>
    where
        E: sqlx::Executor<'e, Database = DB>,
    {
        let rows = sqlx::query(sql).bind(key).fetch_all(executor).await?;
        rows.iter().map(from_row).collect()
    }

    /// The row `sql` selects with one text parameter, if any, turned into a `T`.
    async fn row_where<'e, E, T>(
        executor: E,
        sql: &'e str,
        key: &'e str,
        from_row: fn(&DB::Row) -> Result<T>,
    ) -> Result<Option<T>>
    where
        E: sqlx::Executor<'e, Database = DB>,
    {
        let row = sqlx::query(sql).bind(key).fetch_optional(executor).await?;
        row.as_ref().map(from_row).transpose()
    }

    async fn assessment_in(tx: &mut Transaction<'_, DB>, id: &str) -> Result<Assessment> {
        Self::row_where(
            &mut **tx,
            &format!("SELECT {ASSESSMENT_COLUMNS} FROM assessments WHERE id = $1"),
            id,
            Self::assessment_from_row,
        )
        .await?
        .ok_or_else(|| StoreError::NotFound("assessment".into()))
    }

    /// The assessment, if its answers and photos may still change.
    async fn editable_assessment(tx: &mut Transaction<'_, DB>, id: &str) -> Result<Assessment> {
        let assessment = Self::assessment_in(tx, id).await?;
        if !assessment.status.answers_editable() {
            return Err(StoreError::Locked(format!(
                "the assessment is {}: its answers and photos can no longer change",
                assessment.status.key()
            )));
        }
        Ok(assessment)
    }

    async fn action_in(tx: &mut Transaction<'_, DB>, id: &str) -> Result<Action> {
        Self::row_where(
            &mut **tx,
            &format!("SELECT {ACTION_COLUMNS} FROM actions WHERE id = $1"),
            id,
            Self::action_from_row,
        )
        .await?
        .ok_or_else(|| StoreError::NotFound("action".into()))
    }

    async fn bump(tx: &mut Transaction<'_, DB>, ctx: &WriteContext, id: &str) -> Result<()> {
        sqlx::query("UPDATE assessments SET version = version + 1, updated_at = $1 WHERE id = $2")
            .bind(ctx.at_ms)
            .bind(id)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    fn push_orgs<'a>(qb: &mut QueryBuilder<'a, DB>, orgs: Option<&'a [OrgId]>) {
        if let Some(orgs) = orgs {
            qb.push(" AND org_id IN (");
            let mut list = qb.separated(", ");
            for org in orgs {
                list.push_bind(org.as_str());
            }
            list.push_unseparated(")");
        }
    }
}

#[async_trait::async_trait]
impl<B, DB> AssessmentStore for B
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
    async fn create_assessment(&self, ctx: &WriteContext, new: &NewAssessment) -> Result<Assessment> {
        let id = new_id();
        let mut tx = self.begin_write().await?;
        sqlx::query("INSERT INTO assessments (id, site_id, org_id, methodology_version, status, threat_level, category, occupancy, area_m2, visibility, version, created_at, created_by, updated_at) VALUES ($1, $2, $3, $4, 'draft', $5, $6, $7, $8, $9, 1, $10, $11, $10)")
            .bind(&id)
            .bind(new.site_id.as_str())
            .bind(new.org_id.as_str())
            .bind(&new.methodology_version)
            .bind(i64::from(new.threat_level))
            .bind(new.site.category.key())
            .bind(i64::from(new.site.occupancy))
            .bind(new.site.area_m2)
            .bind(new.site.visibility.map(i64::from))
            .bind(ctx.at_ms)
            .bind(&ctx.actor)
            .execute(&mut *tx)
            .await?;
        Sql::<DB>::audit(&mut tx, ctx, "assessment.create", "assessment", Some(&id), serde_json::json!({"site_id": new.site_id, "org_id": new.org_id, "methodology_version": new.methodology_version})).await?;
        let assessment = Sql::<DB>::assessment_in(&mut tx, &id).await?;
        tx.commit().await?;
        Ok(assessment)
    }

    async fn get_assessment(&self, id: &AssessmentId) -> Result<Option<Assessment>> {
        Sql::<DB>::row_where(
            self.pool(),
            &format!("SELECT {ASSESSMENT_COLUMNS} FROM assessments WHERE id = $1"),
            id,
            Sql::<DB>::assessment_from_row,
        )
        .await
    }

    async fn site_assessments(&self, site_id: &SiteId) -> Result<Vec<Assessment>> {
        Sql::<DB>::rows_where(
            self.pool(),
            &format!("SELECT {ASSESSMENT_COLUMNS} FROM assessments WHERE site_id = $1 ORDER BY created_at DESC, id"),
            site_id,
            Sql::<DB>::assessment_from_row,
        )
        .await
    }

    async fn assessments_by_status(&self, orgs: Option<&[OrgId]>, status: AssessmentStatus) -> Result<Vec<Assessment>> {
        if orgs.is_some_and(<[OrgId]>::is_empty) {
            return Ok(Vec::new());
        }
        let mut qb = QueryBuilder::<DB>::new(format!("SELECT {ASSESSMENT_COLUMNS} FROM assessments WHERE status = "));
        qb.push_bind(status.key());
        Sql::<DB>::push_orgs(&mut qb, orgs);
        qb.push(" ORDER BY site_id, created_at DESC, id");
        let rows = self.fetch_built(qb).await?;
        rows.iter().map(Sql::<DB>::assessment_from_row).collect()
    }

    async fn assessment_answers(&self, assessment_id: &AssessmentId) -> Result<BTreeMap<String, StoredAnswer>> {
        let rows = Sql::<DB>::rows_where(
            self.pool(),
            &format!("SELECT {ANSWER_COLUMNS} FROM assessment_answers WHERE assessment_id = $1"),
            assessment_id,
            Sql::<DB>::answer_from_row,
        )
        .await?;
        let mut answers: BTreeMap<String, StoredAnswer> =
            rows.into_iter().map(|a| (a.question_id.clone(), a)).collect();
        let photos = sqlx::query(
            "SELECT id, question_id FROM assessment_photos WHERE assessment_id = $1 ORDER BY created_at, id",
        )
        .bind(assessment_id.as_str())
        .fetch_all(self.pool())
        .await?;
        for row in photos {
            let question: String = row.try_get("question_id")?;
            if let Some(answer) = answers.get_mut(&question) {
                answer.photos.push(row.try_get::<String, _>("id")?.into());
            }
        }
        Ok(answers)
    }

    #[tracing::instrument(skip_all)]
    async fn put_answers(
        &self,
        ctx: &WriteContext,
        assessment_id: &AssessmentId,
        writes: &[AnswerWrite],
    ) -> Result<Vec<StoredAnswer>> {
        let mut tx = self.begin_write().await?;
        let assessment = Sql::<DB>::editable_assessment(&mut tx, assessment_id).await?;
        let mut stored = Vec::with_capacity(writes.len());
        let mut changed = Vec::new();
        for write in writes {
            let current = sqlx::query(&format!(
                "SELECT {ANSWER_COLUMNS} FROM assessment_answers WHERE assessment_id = $1 AND question_id = $2"
            ))
            .bind(assessment_id.as_str())
            .bind(&write.question_id)
            .fetch_optional(&mut *tx)
            .await?
            .as_ref()
            .map(Sql::<DB>::answer_from_row)
            .transpose()?;
            if let Some(current) = &current
                && current.content == write.content
            {
                stored.push(current.clone());
                continue;
            }
            let current_version = current.as_ref().map_or(0, |c| c.version);
            if let (Some(base), Some(current)) = (write.base_version, &current)
                && base != current_version
            {
                return Err(StoreError::AnswerConflict { current: Box::new(current.clone()) });
            }
            if write.base_version.is_some_and(|b| b != current_version) {
                return Err(StoreError::Conflict(format!(
                    "answer {} was removed since you read it",
                    write.question_id
                )));
            }
            let gps = write
                .content
                .gps
                .map(|g| serde_json::to_string(&g))
                .transpose()
                .map_err(|e| corrupt("answer position", e))?;
            sqlx::query("INSERT INTO assessment_answers (assessment_id, question_id, answer, note, observed_at, gps, version, updated_at, updated_by) VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $8) ON CONFLICT (assessment_id, question_id) DO UPDATE SET answer = excluded.answer, note = excluded.note, observed_at = excluded.observed_at, gps = excluded.gps, version = assessment_answers.version + 1, updated_at = excluded.updated_at, updated_by = excluded.updated_by")
                .bind(assessment_id.as_str())
                .bind(&write.question_id)
                .bind(&write.content.answer)
                .bind(&write.content.note)
                .bind(write.content.observed_at_ms)
                .bind(gps)
                .bind(ctx.at_ms)
                .bind(&ctx.actor)
                .execute(&mut *tx)
                .await?;
            let row = sqlx::query(&format!(
                "SELECT {ANSWER_COLUMNS} FROM assessment_answers WHERE assessment_id = $1 AND question_id = $2"
            ))
            .bind(assessment_id.as_str())
            .bind(&write.question_id)
            .fetch_one(&mut *tx)
            .await?;
            stored.push(Sql::<DB>::answer_from_row(&row)?);
            changed.push(write.question_id.clone());
        }
        if !changed.is_empty() {
            Sql::<DB>::bump(&mut tx, ctx, assessment_id).await?;
            // Question ids only: notes may hold sensitive detail and stay out of the log.
            Sql::<DB>::audit(
                &mut tx,
                ctx,
                "assessment.answer",
                "assessment",
                Some(assessment_id),
                serde_json::json!({"org_id": assessment.org_id, "questions": changed}),
            )
            .await?;
        }
        for answer in &mut stored {
            let photos = sqlx::query_scalar::<_, String>("SELECT id FROM assessment_photos WHERE assessment_id = $1 AND question_id = $2 ORDER BY created_at, id").bind(assessment_id.as_str()).bind(&answer.question_id).fetch_all(&mut *tx).await?;
            answer.photos = photos.into_iter().map(PhotoId::from).collect();
        }
        tx.commit().await?;
        Ok(stored)
    }

    #[tracing::instrument(skip_all)]
    async fn transition_assessment(
        &self,
        ctx: &WriteContext,
        id: &AssessmentId,
        from: AssessmentStatus,
        to: AssessmentStatus,
        data: &TransitionData,
    ) -> Result<Assessment> {
        let mut tx = self.begin_write().await?;
        let summary = data
            .summary
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| corrupt("assessment summary", e))?;
        let query = match to {
            AssessmentStatus::Draft => sqlx::query("UPDATE assessments SET status = $1, submitted_at = NULL, submitted_by = NULL, version = version + 1, updated_at = $2 WHERE id = $3 AND status = $4")
                .bind(to.key())
                .bind(ctx.at_ms),
            AssessmentStatus::Submitted => sqlx::query("UPDATE assessments SET status = $1, submitted_at = $2, submitted_by = $5, version = version + 1, updated_at = $2 WHERE id = $3 AND status = $4")
                .bind(to.key())
                .bind(ctx.at_ms),
            AssessmentStatus::Validated => sqlx::query("UPDATE assessments SET status = $1, validated_at = $2, validated_by = $5, due_at = $6, summary = $7, protective_measures_index = $8, version = version + 1, updated_at = $2 WHERE id = $3 AND status = $4")
                .bind(to.key())
                .bind(ctx.at_ms),
            AssessmentStatus::Archived => sqlx::query("UPDATE assessments SET status = $1, archived_at = $2, version = version + 1, updated_at = $2 WHERE id = $3 AND status = $4")
                .bind(to.key())
                .bind(ctx.at_ms),
        };
        let mut query = query.bind(id.as_str()).bind(from.key());
        if matches!(to, AssessmentStatus::Submitted | AssessmentStatus::Validated) {
            query = query.bind(&ctx.actor);
        }
        if to == AssessmentStatus::Validated {
            query = query.bind(data.due_at_ms).bind(summary).bind(data.protective_measures_index.map(i64::from));
        }
        let moved = query.execute(&mut *tx).await?;
        if B::rows_affected(&moved) == 0 {
            let now = Sql::<DB>::assessment_in(&mut tx, id).await?;
            return Err(StoreError::Conflict(format!(
                "the assessment is {} now, not {}: reload it",
                now.status.key(),
                from.key()
            )));
        }
        let assessment = Sql::<DB>::assessment_in(&mut tx, id).await?;
        let mut details = serde_json::json!({"org_id": assessment.org_id, "from": from.key()});
        // A validation with unanswered questions records how many; its reason stays with the
        // assessment, out of the log.
        if let Some(completeness) = data.summary.as_ref().and_then(|s| s.completeness) {
            details["unanswered"] = completeness.unanswered.into();
        }
        Sql::<DB>::audit(&mut tx, ctx, &format!("assessment.{}", to.key()), "assessment", Some(id), details).await?;
        tx.commit().await?;
        Ok(assessment)
    }

    async fn peer_indexes(&self, category: SiteCategory, exclude: &AssessmentId) -> Result<Vec<u8>> {
        let values: Vec<i64> = sqlx::query_scalar("SELECT protective_measures_index FROM assessments WHERE category = $1 AND status = 'validated' AND id <> $2 AND protective_measures_index IS NOT NULL")
            .bind(category.key())
            .bind(exclude.as_str())
            .fetch_all(self.pool())
            .await?;
        values.into_iter().map(|v| small("protective measures index", v)).collect()
    }

    #[tracing::instrument(skip_all)]
    async fn add_photo(&self, ctx: &WriteContext, photo: &NewPhoto) -> Result<Photo> {
        use sha2::Digest as _;
        let sha256 = hex::encode(sha2::Sha256::digest(&photo.bytes));
        let id = new_id();
        let mut tx = self.begin_write().await?;
        let assessment = Sql::<DB>::editable_assessment(&mut tx, &photo.assessment_id).await?;
        let blob_ref = self.put_photo_bytes(&mut tx, &sha256, &photo.bytes).await?;
        sqlx::query(&format!(
            "INSERT INTO assessment_photos ({PHOTO_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        ))
        .bind(&id)
        .bind(photo.assessment_id.as_str())
        .bind(&photo.question_id)
        .bind(&photo.content_type)
        .bind(i64::try_from(photo.bytes.len()).unwrap_or(i64::MAX))
        .bind(&sha256)
        .bind(&blob_ref)
        .bind(photo.location_kept)
        .bind(ctx.at_ms)
        .bind(&ctx.actor)
        .execute(&mut *tx)
        .await?;
        Sql::<DB>::bump(&mut tx, ctx, &photo.assessment_id).await?;
        Sql::<DB>::audit(&mut tx, ctx, "assessment.photo_add", "assessment", Some(&photo.assessment_id), serde_json::json!({"org_id": assessment.org_id, "photo_id": id, "question": photo.question_id, "sha256": sha256, "location_kept": photo.location_kept})).await?;
        let stored = Sql::<DB>::row_where(
            &mut *tx,
            &format!("SELECT {PHOTO_COLUMNS} FROM assessment_photos WHERE id = $1"),
            &id,
            Sql::<DB>::photo_from_row,
        )
        .await?
        .ok_or_else(|| StoreError::NotFound("photo".into()))?;
        tx.commit().await?;
        Ok(stored)
    }

    async fn get_photo(&self, id: &PhotoId) -> Result<Option<Photo>> {
        Sql::<DB>::row_where(
            self.pool(),
            &format!("SELECT {PHOTO_COLUMNS} FROM assessment_photos WHERE id = $1"),
            id,
            Sql::<DB>::photo_from_row,
        )
        .await
    }

    async fn assessment_photos(&self, assessment_id: &AssessmentId) -> Result<Vec<Photo>> {
        Sql::<DB>::rows_where(
            self.pool(),
            &format!("SELECT {PHOTO_COLUMNS} FROM assessment_photos WHERE assessment_id = $1 ORDER BY created_at, id"),
            assessment_id,
            Sql::<DB>::photo_from_row,
        )
        .await
    }

    async fn photo_bytes(&self, photo: &Photo) -> Result<Vec<u8>> {
        let bytes = self.read_photo_bytes(&photo.blob_ref).await?;
        use sha2::Digest as _;
        if hex::encode(sha2::Sha256::digest(&bytes)) != photo.sha256 {
            return Err(corrupt("photo", format!("{} does not match its checksum", photo.id)));
        }
        Ok(bytes)
    }

    #[tracing::instrument(skip_all)]
    async fn create_action(
        &self,
        ctx: &WriteContext,
        assessment_id: &AssessmentId,
        fields: &ActionFields,
    ) -> Result<Action> {
        let id = new_id();
        let mut tx = self.begin_write().await?;
        let assessment = Sql::<DB>::assessment_in(&mut tx, assessment_id).await?;
        if assessment.status == AssessmentStatus::Archived {
            return Err(StoreError::Locked("the assessment is archived: its action plan can no longer change".into()));
        }
        sqlx::query(&format!("INSERT INTO actions ({ACTION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 1, $13, $14, $13, $14, $15, NULL)"))
            .bind(&id)
            .bind(assessment_id.as_str())
            .bind(assessment.site_id.as_str())
            .bind(assessment.org_id.as_str())
            .bind(&fields.title)
            .bind(&fields.owner)
            .bind(&fields.due_date)
            .bind(fields.status.key())
            .bind(&fields.evidence)
            .bind(&fields.question_id)
            .bind(&fields.scenario_id)
            .bind(&fields.measure_id)
            .bind(ctx.at_ms)
            .bind(&ctx.actor)
            .bind(fields.owner_user_id.as_ref().map(ToString::to_string))
            .execute(&mut *tx)
            .await?;
        Sql::<DB>::audit(&mut tx, ctx, "action.create", "action", Some(&id), serde_json::json!({"org_id": assessment.org_id, "assessment_id": assessment_id, "status": fields.status.key()})).await?;
        let action = Sql::<DB>::action_in(&mut tx, &id).await?;
        tx.commit().await?;
        Ok(action)
    }

    async fn get_action(&self, id: &ActionId) -> Result<Option<Action>> {
        Sql::<DB>::row_where(
            self.pool(),
            &format!("SELECT {ACTION_COLUMNS} FROM actions WHERE id = $1"),
            id,
            Sql::<DB>::action_from_row,
        )
        .await
    }

    #[tracing::instrument(skip_all)]
    async fn update_action(
        &self,
        ctx: &WriteContext,
        id: &ActionId,
        fields: &ActionFields,
        expected_version: i64,
    ) -> Result<Action> {
        let mut tx = self.begin_write().await?;
        let current = Sql::<DB>::action_in(&mut tx, id).await?;
        if current.version != expected_version {
            return Err(StoreError::Conflict(format!(
                "the action was changed by someone else (version {} now, {expected_version} expected); reload it and apply your change again",
                current.version
            )));
        }
        if Sql::<DB>::assessment_in(&mut tx, &current.assessment_id).await?.status == AssessmentStatus::Archived {
            return Err(StoreError::Locked("the assessment is archived: its action plan can no longer change".into()));
        }
        sqlx::query("UPDATE actions SET title = $1, owner = $2, due_date = $3, status = $4, evidence = $5, question_id = $6, scenario_id = $7, measure_id = $8, version = version + 1, updated_at = $9, updated_by = $10, owner_user_id = $11 WHERE id = $12")
            .bind(&fields.title)
            .bind(&fields.owner)
            .bind(&fields.due_date)
            .bind(fields.status.key())
            .bind(&fields.evidence)
            .bind(&fields.question_id)
            .bind(&fields.scenario_id)
            .bind(&fields.measure_id)
            .bind(ctx.at_ms)
            .bind(&ctx.actor)
            .bind(fields.owner_user_id.as_ref().map(ToString::to_string))
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
        Sql::<DB>::audit(&mut tx, ctx, "action.update", "action", Some(id), serde_json::json!({"org_id": current.org_id, "status": fields.status.key(), "version": current.version + 1})).await?;
        let action = Sql::<DB>::action_in(&mut tx, id).await?;
        tx.commit().await?;
        Ok(action)
    }

    async fn assessment_actions(&self, assessment_id: &AssessmentId) -> Result<Vec<Action>> {
        Sql::<DB>::rows_where(
            self.pool(),
            &format!("SELECT {ACTION_COLUMNS} FROM actions WHERE assessment_id = $1 ORDER BY created_at, id"),
            assessment_id,
            Sql::<DB>::action_from_row,
        )
        .await
    }

    async fn actions_owned_by(&self, user_id: &UserId, limit: u32) -> Result<Vec<Action>> {
        let rows = sqlx::query(&format!(
            "SELECT {ACTION_COLUMNS} FROM actions WHERE owner_user_id = $1 AND status IN ('open', 'in_progress') ORDER BY CASE WHEN due_date IS NULL THEN 1 ELSE 0 END, due_date, created_at, id LIMIT $2"
        ))
        .bind(user_id.as_str())
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(Sql::<DB>::action_from_row).collect()
    }

    async fn pending_actions(&self, orgs: Option<&[OrgId]>, limit: u32) -> Result<Vec<Action>> {
        if orgs.is_some_and(<[OrgId]>::is_empty) {
            return Ok(Vec::new());
        }
        let mut qb = QueryBuilder::<DB>::new(format!(
            "SELECT {ACTION_COLUMNS} FROM actions WHERE status IN ('open', 'in_progress')"
        ));
        Sql::<DB>::push_orgs(&mut qb, orgs);
        // Undated actions last: NULL sorts differently on the two backends.
        qb.push(" ORDER BY CASE WHEN due_date IS NULL THEN 1 ELSE 0 END, due_date, created_at, id LIMIT ")
            .push_bind(i64::from(limit));
        let rows = self.fetch_built(qb).await?;
        rows.iter().map(Sql::<DB>::action_from_row).collect()
    }
}
