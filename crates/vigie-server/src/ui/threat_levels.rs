//! The threat-level page: the decisions that apply to the caller, the checklist progress site
//! by site, and for authorities the form that sets a level (whole jurisdiction or an area drawn
//! on the map; posted to the API by `threat_level.js`).
use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use serde_json::json;
use vigie_app::sites::SiteQuery;
use vigie_app::threat_levels::SiteChecklist;
use vigie_domain::OrgId;
use vigie_domain::access::Role;

use super::{PageCtx, PageError, render};
use crate::AppState;

pub const LEVEL_KEYS: [(u8, &str); 5] =
    [(1, "threat_1"), (2, "threat_2"), (3, "threat_3"), (4, "threat_4"), (5, "threat_5")];

pub struct LevelRow {
    pub level: u8,
    pub label: String,
    pub whole: bool,
    pub reason: String,
    pub effective: String,
    pub org: String,
    pub from_bulletin: Option<String>,
}

#[derive(Template)]
#[template(path = "threat_levels.html")]
struct ThreatLevelsPage<'a> {
    page: super::Layout<'a>,
    levels: Vec<LevelRow>,
    /// Sites with a checklist, and those where a level is in force but no assessment holds one.
    sites: Vec<SiteChecklist>,
    without_plan: Vec<SiteChecklist>,
    can_set: bool,
    choices: Vec<(u8, String)>,
    map_data: serde_json::Value,
}

fn level_label(page: &super::Layout<'_>, level: u8) -> String {
    let key = LEVEL_KEYS.iter().find(|(l, _)| *l == level).map_or("threat_level", |(_, k)| k);
    format!("{level} · {}", page.t(key))
}

async fn show(State(state): State<AppState>, ctx: PageCtx) -> Result<Response, PageError> {
    let view = state.app.threat_levels(&ctx.caller).await?;
    let org_ids: Vec<OrgId> = view.levels.iter().map(|l| l.org_id.clone()).collect();
    let names = state.app.organisation_names(&org_ids).await?;
    let can_set = ctx.caller.role == Role::Authority;
    let scripts: &[&str] = if can_set { &["map.js", "threat_level.js"] } else { &[] };
    let page = ctx.layout(ctx.t("threat_levels_title"), scripts, can_set);
    let levels = view
        .levels
        .iter()
        .map(|l| LevelRow {
            level: l.draft.level,
            label: level_label(&page, l.draft.level),
            whole: l.draft.area.is_none(),
            reason: l.draft.reason.clone(),
            effective: super::assess::date_of(l.draft.effective_ms),
            org: names.get(&l.org_id).cloned().unwrap_or_default(),
            from_bulletin: l.draft.bulletin.as_ref().map(ToString::to_string),
        })
        .collect();
    // The authority draws on a map of its sites, with the areas already decided in grey.
    let map_data = if can_set {
        let query = SiteQuery { limit: Some(vigie_store::MAX_PAGE), ..SiteQuery::default() };
        let sites = state.app.list_sites(&ctx.caller, query).await?;
        let sites: Vec<_> =
            sites.items.iter().map(|s| json!({"id": s.id, "name": s.name, "geometry": s.geometry})).collect();
        let areas: Vec<_> = view.levels.iter().filter_map(|l| l.draft.area.clone()).collect();
        json!({"sites": sites, "areas": areas})
    } else {
        json!({})
    };
    let choices = LEVEL_KEYS.iter().map(|&(level, key)| (level, format!("{level} · {}", ctx.t(key)))).collect();
    let (sites, without_plan) = view.sites.into_iter().partition(|s| s.total > 0);
    render(&ctx, &ThreatLevelsPage { page, levels, sites, without_plan, can_set, choices, map_data })
}

pub fn routes() -> Router<AppState> {
    Router::new().route("/threat-levels", get(show))
}
