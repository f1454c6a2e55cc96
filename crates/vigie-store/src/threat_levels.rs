//! Threat levels and the checklist actions a level change puts in the sites' action plans. A
//! decision, its new actions, the actions it closes and the risk summaries it moves are written
//! in one transaction: a level is never stored without its checklist.
use async_trait::async_trait;
use sqlx::{ColumnIndex, Database, Encode, Executor, IntoArguments, QueryBuilder, Row as _, Type};
use vigie_domain::assessment::{Action, ActionFields, AssessmentSummary};
use vigie_domain::threat_level::{ThreatLevel, ThreatLevelDraft};
use vigie_domain::{ActionId, AssessmentId, OrgId, SiteId};

use crate::sql::{Backend, Sql, Value, corrupt, new_id};
use crate::{Result, WriteContext};

const LEVEL_COLUMNS: &str = "id, org_id, set_by, level, area, reason, effective_at, bulletin_id, created_at";

/// An action a level change adds to a site's plan (the plan of `assessment_id`).
#[derive(Debug, Clone)]
pub struct ChecklistItem {
    pub assessment_id: AssessmentId,
    pub site_id: SiteId,
    pub org_id: OrgId,
    pub fields: ActionFields,
}

/// What a level change does to the plans: actions added, pending checklist actions closed
/// (with the reason written as their evidence), and validated assessments whose risk summary
/// moves with the level.
#[derive(Debug, Clone, Default)]
pub struct Checklist {
    pub create: Vec<ChecklistItem>,
    pub close: Vec<(ActionId, String)>,
    pub rescored: Vec<(AssessmentId, AssessmentSummary)>,
}

#[async_trait]
pub trait ThreatLevelStore: Send + Sync {
    /// Stores a decision with its checklist, atomically.
    async fn set_threat_level(&self, ctx: &WriteContext, level: &ThreatLevel, checklist: &Checklist) -> Result<()>;
    /// Every decision ever made, oldest first (decisions are rare: a handful a year per authority).
    async fn threat_levels(&self) -> Result<Vec<ThreatLevel>>;
    /// The actions level changes put in the plans of these organisations' sites (all of them
    /// for `None`), cancelled ones included.
    async fn checklist_actions(&self, orgs: Option<&[OrgId]>) -> Result<Vec<Action>>;
}

fn level_from_row<DB: Database>(row: &DB::Row) -> Result<ThreatLevel>
where
    for<'n> &'n str: ColumnIndex<DB::Row>,
    String: Value<DB>,
    i64: Value<DB>,
    Option<String>: Value<DB>,
{
    let area: Option<String> = row.try_get("area")?;
    let level: i64 = row.try_get("level")?;
    Ok(ThreatLevel {
        id: row.try_get::<String, _>("id")?.into(),
        org_id: row.try_get::<String, _>("org_id")?.into(),
        set_by: row.try_get::<String, _>("set_by")?.into(),
        created_at_ms: row.try_get("created_at")?,
        draft: ThreatLevelDraft {
            level: u8::try_from(level).map_err(|e| corrupt("threat level", e))?,
            area: area.map(|a| serde_json::from_str(&a).map_err(|e| corrupt("threat level area", e))).transpose()?,
            reason: row.try_get("reason")?,
            effective_ms: row.try_get("effective_at")?,
            bulletin: row.try_get::<Option<String>, _>("bulletin_id")?.map(Into::into),
        },
    })
}

#[async_trait]
impl<B, DB> ThreatLevelStore for B
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
    async fn set_threat_level(&self, ctx: &WriteContext, level: &ThreatLevel, checklist: &Checklist) -> Result<()> {
        let d = &level.draft;
        let mut tx = self.begin_write().await?;
        sqlx::query(&format!(
            "INSERT INTO threat_levels ({LEVEL_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        ))
        .bind(level.id.as_str())
        .bind(level.org_id.as_str())
        .bind(level.set_by.as_str())
        .bind(i64::from(d.level))
        .bind(d.area.as_ref().map(ToString::to_string))
        .bind(&d.reason)
        .bind(d.effective_ms)
        .bind(d.bulletin.as_ref().map(ToString::to_string))
        .bind(level.created_at_ms)
        .execute(&mut *tx)
        .await?;
        Sql::<DB>::audit(
            &mut tx,
            ctx,
            "threat_level.set",
            "threat_level",
            Some(&level.id),
            serde_json::json!({"level": d.level, "whole_jurisdiction": d.area.is_none(), "effective_ms": d.effective_ms,
                "actions_created": checklist.create.len(), "actions_closed": checklist.close.len()}),
        )
        .await?;
        for item in &checklist.create {
            let id = new_id();
            let f = &item.fields;
            sqlx::query("INSERT INTO actions (id, assessment_id, site_id, org_id, title, owner, due_date, status, evidence, question_id, scenario_id, measure_id, version, created_at, created_by, updated_at, updated_by, owner_user_id, threat_level_id) VALUES ($1, $2, $3, $4, $5, NULL, $6, $7, NULL, $8, NULL, $9, 1, $10, $11, $10, $11, NULL, $12)")
                .bind(&id)
                .bind(item.assessment_id.as_str())
                .bind(item.site_id.as_str())
                .bind(item.org_id.as_str())
                .bind(&f.title)
                .bind(&f.due_date)
                .bind(f.status.key())
                .bind(&f.question_id)
                .bind(&f.measure_id)
                .bind(ctx.at_ms)
                .bind(&ctx.actor)
                .bind(level.id.as_str())
                .execute(&mut *tx)
                .await?;
            Sql::<DB>::audit(
                &mut tx,
                ctx,
                "action.create",
                "action",
                Some(&id),
                serde_json::json!({"org_id": item.org_id, "assessment_id": item.assessment_id, "status": f.status.key(), "threat_level_id": level.id}),
            )
            .await?;
        }
        for (id, evidence) in &checklist.close {
            let closed = sqlx::query("UPDATE actions SET status = 'cancelled', evidence = $1, version = version + 1, updated_at = $2, updated_by = $3 WHERE id = $4 AND status IN ('open', 'in_progress')")
                .bind(evidence)
                .bind(ctx.at_ms)
                .bind(&ctx.actor)
                .bind(id.as_str())
                .execute(&mut *tx)
                .await?;
            if B::rows_affected(&closed) > 0 {
                Sql::<DB>::audit(
                    &mut tx,
                    ctx,
                    "action.update",
                    "action",
                    Some(id),
                    serde_json::json!({"status": "cancelled", "threat_level_id": level.id}),
                )
                .await?;
            }
        }
        for (id, summary) in &checklist.rescored {
            let text = serde_json::to_string(summary).map_err(|e| corrupt("assessment summary", e))?;
            sqlx::query("UPDATE assessments SET summary = $1 WHERE id = $2 AND status = 'validated'")
                .bind(text)
                .bind(id.as_str())
                .execute(&mut *tx)
                .await?;
            Sql::<DB>::audit(
                &mut tx,
                ctx,
                "assessment.rescore",
                "assessment",
                Some(id),
                serde_json::json!({"threat_level_id": level.id, "max_risk": summary.max_risk}),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn threat_levels(&self) -> Result<Vec<ThreatLevel>> {
        let rows =
            sqlx::query(&format!("SELECT {LEVEL_COLUMNS} FROM threat_levels ORDER BY effective_at, created_at, id"))
                .fetch_all(self.pool())
                .await?;
        rows.iter().map(level_from_row::<DB>).collect()
    }

    async fn checklist_actions(&self, orgs: Option<&[OrgId]>) -> Result<Vec<Action>> {
        let mut qb = QueryBuilder::<DB>::new(format!(
            "SELECT {} FROM actions WHERE threat_level_id IS NOT NULL",
            crate::assessment::ACTION_COLUMNS
        ));
        if let Some(orgs) = orgs {
            if orgs.is_empty() {
                return Ok(Vec::new());
            }
            qb.push(" AND org_id IN (");
            let mut list = qb.separated(", ");
            for org in orgs {
                list.push_bind(org.as_str());
            }
            list.push_unseparated(")");
        }
        qb.push(" ORDER BY site_id, created_at, id");
        let rows = self.fetch_built(qb).await?;
        rows.iter().map(Sql::<DB>::action_from_row).collect()
    }
}
