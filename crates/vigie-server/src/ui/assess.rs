//! The assessment pages: the dashboard, the on-site form (mobile-first, works offline) and the
//! results. The pages are shells the scripts fill from the JSON API, so that the assessment
//! form keeps working from the browser's cache when the network drops.
use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use serde_json::json;
use vigie_app::sites::SiteQuery;
use vigie_domain::AssessmentId;

use super::{Layout, PageCtx, PageError, render};
use crate::AppState;
use crate::error::ApiError;

/// `YYYY-MM-DD HH:MM` (UTC) of a time in milliseconds.
pub fn date_of(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .map(|t| {
            format!("{}-{:02}-{:02} {:02}:{:02} UTC", t.year(), u8::from(t.month()), t.day(), t.hour(), t.minute())
        })
        .unwrap_or_default()
}

/// What the caller may do with an assessment, for the scripts to offer only those buttons
/// (the API checks again): write its answers and actions, and validate it. `None` when the
/// assessment is missing or unreadable: the script then shows the API's error.
struct Rights {
    can_write: bool,
    can_validate: bool,
}

async fn rights(state: &AppState, ctx: &PageCtx, id: &AssessmentId) -> Result<Option<Rights>, ApiError> {
    let rights = state.app.assessment_rights(&ctx.caller, id).await?;
    Ok(rights.map(|(can_write, can_validate)| Rights { can_write, can_validate }))
}

/// What the scripts are told of the caller and their `Rights`, as data attributes.
struct RightsAttrs<'a> {
    user: &'a str,
    admin: bool,
    can_write: bool,
    can_validate: bool,
}

fn rights_attrs<'a>(ctx: &'a PageCtx, rights: Option<&Rights>) -> RightsAttrs<'a> {
    RightsAttrs {
        user: &ctx.caller.user_id,
        admin: ctx.caller.is_admin(),
        can_write: rights.is_some_and(|r| r.can_write),
        can_validate: rights.is_some_and(|r| r.can_validate),
    }
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage<'a> {
    page: Layout<'a>,
    map_data: serde_json::Value,
    /// Sites where a threat level is in force, with their checklist progress.
    checklists: Vec<vigie_app::threat_levels::SiteChecklist>,
}

async fn dashboard(State(state): State<AppState>, ctx: PageCtx) -> Result<Response, PageError> {
    let query = SiteQuery { limit: Some(vigie_store::MAX_PAGE), ..SiteQuery::default() };
    let page = state.app.list_sites(&ctx.caller, query).await?;
    let sites: Vec<_> = page
        .items
        .iter()
        .map(|s| json!({"id": s.id, "name": s.name, "href": format!("/sites/{}", s.id), "geometry": s.geometry}))
        .collect();
    render(
        &ctx,
        &DashboardPage {
            page: ctx.layout(ctx.t("dashboard_title"), &["map.js", "results.js"], true),
            map_data: json!({"sites": sites}),
            checklists: state.app.threat_levels(&ctx.caller).await?.sites,
        },
    )
}

#[derive(Template)]
#[template(path = "assessment.html")]
struct AssessmentPage<'a> {
    page: Layout<'a>,
    id: &'a str,
    rights: RightsAttrs<'a>,
}

async fn assessment(
    State(state): State<AppState>,
    ctx: PageCtx,
    Path(id): Path<AssessmentId>,
) -> Result<Response, PageError> {
    let rights = rights(&state, &ctx, &id).await?;
    render(
        &ctx,
        &AssessmentPage {
            page: ctx.layout(ctx.t("assessment_title"), &["assess.js"], false),
            id: &id,
            rights: rights_attrs(&ctx, rights.as_ref()),
        },
    )
}

#[derive(Template)]
#[template(path = "results.html")]
struct ResultsPage<'a> {
    page: Layout<'a>,
    id: &'a str,
    rights: RightsAttrs<'a>,
    /// Who may own an action: (user id, email) of the assessment's organisation.
    owners: Vec<(String, String)>,
}

async fn results(
    State(state): State<AppState>,
    ctx: PageCtx,
    Path(id): Path<AssessmentId>,
) -> Result<Response, PageError> {
    let rights = rights(&state, &ctx, &id).await?;
    let owners = if rights.as_ref().is_some_and(|r| r.can_write) {
        state.app.action_owners(&ctx.caller, &id).await?.into_iter().map(|u| (u.id.to_string(), u.email)).collect()
    } else {
        Vec::new()
    };
    render(
        &ctx,
        &ResultsPage {
            page: ctx.layout(ctx.t("results_title"), &["results.js"], false),
            id: &id,
            rights: rights_attrs(&ctx, rights.as_ref()),
            owners,
        },
    )
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/dashboard", get(dashboard))
        .route("/assessments/{id}", get(assessment))
        .route("/assessments/{id}/results", get(results))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_utc_minutes() {
        assert_eq!(date_of(0), "1970-01-01 00:00 UTC");
        assert_eq!(date_of(1_700_000_000_000), "2023-11-14 22:13 UTC");
    }
}
