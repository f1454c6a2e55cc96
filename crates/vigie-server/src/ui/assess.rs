//! The assessment pages: the dashboard, the on-site form (mobile-first, works offline) and the
//! results. The pages are shells the scripts fill from the JSON API, so that the assessment
//! form keeps working from the browser's cache when the network drops.
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use serde_json::json;
use vigie_app::sites::SiteQuery;

use super::{Ctx, LangParam, Page, esc, page_ctx, render, script_json};
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

async fn rights(state: &AppState, ctx: &Ctx, id: &str) -> Result<Option<Rights>, ApiError> {
    let rights = state.app.assessment_rights(&ctx.caller, id).await?;
    Ok(rights.map(|(can_write, can_validate)| Rights { can_write, can_validate }))
}

/// The data attributes that hand `Rights` and the caller to the scripts.
fn rights_attrs(ctx: &Ctx, rights: Option<&Rights>) -> String {
    let flag = |b: bool| if b { "1" } else { "" };
    format!(
        r#" data-user="{user}" data-admin="{admin}" data-can-write="{write}" data-can-validate="{validate}""#,
        user = esc(&ctx.caller.user_id),
        admin = flag(ctx.caller.is_admin()),
        write = flag(rights.is_some_and(|r| r.can_write)),
        validate = flag(rights.is_some_and(|r| r.can_validate)),
    )
}

async fn dashboard(
    State(state): State<AppState>,
    Query(param): Query<LangParam>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let ctx = match page_ctx(&state, &headers, param.lang.as_deref()).await? {
        Ok(ctx) => ctx,
        Err(redirect) => return Ok(redirect),
    };
    let query = SiteQuery { limit: Some(vigie_store::MAX_PAGE), ..SiteQuery::default() };
    let page = state.app.list_sites(&ctx.caller, query).await?;
    let sites: Vec<_> = page
        .items
        .iter()
        .map(|s| json!({"id": s.id, "name": s.name, "href": format!("/sites/{}", s.id), "geometry": s.geometry}))
        .collect();
    let body = format!(
        r#"<h1>{title}</h1>
<div id="dashboard" class="grid2"><section aria-labelledby="d-bands"><h2 id="d-bands">{bands}</h2><div id="d-bands-body"><p>{loading}</p></div></section>
<section aria-labelledby="d-due"><h2 id="d-due">{due}</h2><div id="d-due-body"><p>{loading}</p></div></section>
<section aria-labelledby="d-actions" class="wide"><h2 id="d-actions">{actions}</h2><div id="d-actions-body"><p>{loading}</p></div></section></div>
<h2>{map_title}</h2><div id="map" class="map" role="region" aria-label="{map_label}" data-streets="/ui/streets"></div>
<script id="map-data" type="application/json">{data}</script>"#,
        title = ctx.t("dashboard_title"),
        bands = ctx.t("dash_by_band"),
        due = ctx.t("dash_due"),
        actions = ctx.t("dash_actions"),
        loading = ctx.t("loading"),
        map_title = ctx.t("dash_map"),
        map_label = ctx.t("map_label"),
        data = script_json(&json!({"sites": sites})),
    );
    Ok(render(
        &ctx,
        Page {
            title: &super::t(ctx.lang, "dashboard_title"),
            body,
            scripts: &["leaflet.js", "map.js", "results.js"],
            map: true,
        },
    ))
}

async fn assessment(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(param): Query<LangParam>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let ctx = match page_ctx(&state, &headers, param.lang.as_deref()).await? {
        Ok(ctx) => ctx,
        Err(redirect) => return Ok(redirect),
    };
    let rights = rights(&state, &ctx, &id).await?;
    let body = format!(
        r#"<div id="assessment" data-id="{id}" data-lang="{lang}"{rights}>
<p id="net-status" class="net" role="status" aria-live="polite"></p>
<h1 id="a-title">{title}</h1>
<div class="progress-wrap"><progress id="a-progress" max="1" value="0" aria-labelledby="a-progress-label"></progress><span id="a-progress-label"></span></div>
<nav id="a-domains" aria-label="{domains}" class="domain-tabs"></nav>
<div id="a-conflicts"></div>
<form id="a-form" novalidate><div id="a-questions" tabindex="-1"><p>{loading}</p></div></form>
<div class="actions pager"><button type="button" id="a-prev" class="secondary">{prev}</button><button type="button" id="a-next">{next}</button></div>
<p><a id="a-results" href="/assessments/{id}/results">{results}</a></p>
<div id="a-submit-wrap"></div></div>"#,
        id = esc(&id),
        lang = ctx.lang.code(),
        rights = rights_attrs(&ctx, rights.as_ref()),
        title = ctx.t("assessment_title"),
        domains = ctx.t("domains"),
        loading = ctx.t("loading"),
        prev = ctx.t("previous_domain"),
        next = ctx.t("next_domain"),
        results = ctx.t("see_results"),
    );
    Ok(render(&ctx, Page { title: &super::t(ctx.lang, "assessment_title"), body, scripts: &["assess.js"], map: false }))
}

async fn results(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(param): Query<LangParam>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let ctx = match page_ctx(&state, &headers, param.lang.as_deref()).await? {
        Ok(ctx) => ctx,
        Err(redirect) => return Ok(redirect),
    };
    let rights = rights(&state, &ctx, &id).await?;
    // Actions are added by those who may write the assessment; the others only read the plan.
    let action_form = if rights.as_ref().is_some_and(|r| r.can_write) {
        format!(
            r#"<form id="action-form" class="card"><h3>{add_action}</h3>
<label for="ac-title">{ac_title}</label><input id="ac-title" name="title" required>
<label for="ac-owner">{ac_owner}</label><input id="ac-owner" name="owner">
<label for="ac-due">{ac_due}</label><input id="ac-due" name="due_date" type="date">
<label for="ac-measure">{ac_measure}</label><select id="ac-measure" name="measure_id"><option value="">–</option></select>
<p id="ac-error" class="error" role="alert"></p><button type="submit">{add}</button></form>"#,
            add_action = ctx.t("add_action"),
            ac_title = ctx.t("action_title"),
            ac_owner = ctx.t("action_owner"),
            ac_due = ctx.t("action_due"),
            ac_measure = ctx.t("action_measure"),
            add = ctx.t("add"),
        )
    } else {
        String::new()
    };
    let body = format!(
        r#"<div id="results" data-id="{id}" data-lang="{lang}"{rights}>
<p><a id="r-back" href="/assessments/{id}">← {back}</a></p>
<h1>{title}</h1><p id="r-status" role="status" aria-live="polite">{loading}</p>
<section aria-labelledby="r-lc" class="card"><h2 id="r-lc">{lifecycle}</h2><div id="r-lifecycle"></div></section>
<section aria-labelledby="r-sc"><h2 id="r-sc">{scenarios}</h2><div id="r-bars"></div></section>
<section aria-labelledby="r-mx"><h2 id="r-mx">{matrix}</h2><div id="r-matrix"></div></section>
<section aria-labelledby="r-pmi"><h2 id="r-pmi">{pmi}</h2><div id="r-pmi-body"></div></section>
<section aria-labelledby="r-wi"><h2 id="r-wi">{whatif}</h2><p>{whatif_help}</p><div id="r-whatif"></div></section>
<section aria-labelledby="r-gd"><h2 id="r-gd">{guidance}</h2><p>{guidance_help}</p><div id="r-guidance"></div></section>
<section aria-labelledby="r-plan"><h2 id="r-plan">{plan}</h2><div id="r-plan-body"></div>{action_form}</section></div>"#,
        id = esc(&id),
        lang = ctx.lang.code(),
        rights = rights_attrs(&ctx, rights.as_ref()),
        lifecycle = ctx.t("r_lifecycle"),
        guidance = ctx.t("r_guidance"),
        guidance_help = ctx.t("r_guidance_help"),
        back = ctx.t("assessment_title"),
        title = ctx.t("results_title"),
        loading = ctx.t("loading"),
        scenarios = ctx.t("r_scenarios"),
        matrix = ctx.t("r_matrix"),
        pmi = ctx.t("r_pmi"),
        whatif = ctx.t("r_whatif"),
        whatif_help = ctx.t("r_whatif_help"),
        plan = ctx.t("r_plan"),
    );
    Ok(render(&ctx, Page { title: &super::t(ctx.lang, "results_title"), body, scripts: &["results.js"], map: false }))
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
