//! Field reports in the pages: the reports the caller may read, each with its marking, and for
//! the authority it was sent to the triage (a plain form) and the map of reports with the
//! sightings clusters; the report form, phone first, which keeps a report on the phone when
//! the network is down and sends it when it returns (`report.js`).
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::http::header::LOCATION;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use serde_json::json;
use vigie_domain::access::Role;
use vigie_domain::report::{REPORT_KINDS, TRIAGE_STATES};
use vigie_domain::sharing::Marking;
use vigie_domain::{OrgId, ReportId};

use super::bulletins::marking_class;
use super::{Layout, PageCtx, PageError, render};
use crate::AppState;

struct ReportCard {
    id: String,
    kind: String,
    observed: String,
    marking: &'static str,
    marking_class: &'static str,
    status: String,
    status_key: String,
    org: String,
    text: String,
    /// For the reporter's organisation: how many other organisations reported something
    /// similar nearby.
    similar: Option<usize>,
    /// The caller is an authority it was sent to: it triages.
    can_triage: bool,
    /// In a sightings cluster (the authority's view): its number.
    cluster: Option<usize>,
    /// The photos' addresses.
    photos: Vec<String>,
    /// The cases (of the caller's organisation) it is linked into.
    cases: Vec<String>,
    /// The caller's organisation is its source: it may change the marking.
    can_mark: bool,
}

#[derive(Template)]
#[template(path = "field_reports.html")]
struct ListPage<'a> {
    page: Layout<'a>,
    cards: Vec<ReportCard>,
    states: Vec<(&'static str, String)>,
    markings: Vec<&'static str>,
    clusters: usize,
    map_data: serde_json::Value,
    /// The caller's organisation's cases: (id, title, number of reports).
    cases: Vec<(String, String, usize)>,
}

async fn list(State(state): State<AppState>, ctx: PageCtx) -> Result<Response, PageError> {
    let reports = state.app.reports(&ctx.caller).await?;
    let org_ids: Vec<OrgId> = reports.iter().map(|r| r.author_org.clone()).collect();
    let names = state.app.organisation_names(&org_ids).await?;
    let authority = matches!(ctx.caller.role, Role::Authority | Role::Admin);
    let clusters = if authority { vigie_app::App::sightings_clusters(&reports) } else { Vec::new() };
    let cluster_of = |id: &ReportId| clusters.iter().position(|c| c.iter().any(|r| &r.id == id)).map(|i| i + 1);
    let mut photos = state.app.photos_of(&ctx.caller, &reports).await?;
    let cases = state.app.cases(&ctx.caller).await?;
    let mut cards = Vec::new();
    for r in &reports {
        let similar = if r.author_org == ctx.caller.org_id {
            state.app.report(&ctx.caller, &r.id).await?.similar_nearby
        } else {
            None
        };
        cards.push(ReportCard {
            id: r.id.to_string(),
            kind: ctx.t(&format!("report_kind_{}", r.draft.kind)).to_owned(),
            observed: super::assess::date_of(r.draft.observed_at_ms),
            marking: r.draft.marking.label(),
            marking_class: marking_class(r.draft.marking),
            status: ctx.t(&format!("report_status_{}", r.status)).to_owned(),
            status_key: r.status.clone(),
            org: names.get(&r.author_org).cloned().unwrap_or_default(),
            text: r.draft.text.clone(),
            similar,
            can_triage: authority && r.draft.recipients.orgs.contains(&ctx.caller.org_id),
            cluster: cluster_of(&r.id),
            photos: photos
                .remove(&r.id)
                .unwrap_or_default()
                .iter()
                .map(|p| format!("/api/v1/field-reports/{}/photos/{}", r.id, p.id))
                .collect(),
            cases: cases.iter().filter(|c| c.report_ids.contains(&r.id)).map(|c| c.title.clone()).collect(),
            can_mark: vigie_domain::sharing::may_change_marking(&ctx.caller, &r.author_org),
        });
    }
    let points: Vec<_> = reports
        .iter()
        .map(|r| {
            json!({"lon": r.draft.lon, "lat": r.draft.lat, "label": format!("{} · {}", ctx.t(&format!("report_kind_{}", r.draft.kind)), super::assess::date_of(r.draft.observed_at_ms)), "cluster": cluster_of(&r.id)})
        })
        .collect();
    let page = ListPage {
        page: ctx.layout(ctx.t("reports_title"), &["map.js"], true),
        markings: Marking::ALL.iter().map(|m| m.label()).collect(),
        states: TRIAGE_STATES.iter().map(|s| (*s, ctx.t(&format!("report_status_{s}")).to_owned())).collect(),
        clusters: clusters.len(),
        cards,
        map_data: json!({"reports": points}),
        cases: cases.iter().map(|c| (c.id.clone(), c.title.clone(), c.report_ids.len())).collect(),
    };
    render(&ctx, &page)
}

#[derive(Deserialize)]
struct TriageForm {
    status: String,
}

async fn triage(
    State(state): State<AppState>,
    ctx: PageCtx,
    Path(id): Path<ReportId>,
    Form(form): Form<TriageForm>,
) -> Result<Response, PageError> {
    state.app.triage_report(&ctx.caller, &id, &form.status).await?;
    Ok((StatusCode::SEE_OTHER, [(LOCATION, format!("/field-reports#report-{id}"))]).into_response())
}

/// Its source changes a report's marking from its card, the recipients unchanged.
async fn change_marking(
    State(state): State<AppState>,
    ctx: PageCtx,
    Path(id): Path<ReportId>,
    Form(form): Form<super::bulletins::MarkingForm>,
) -> Result<Response, PageError> {
    state.app.change_report_marking(&ctx.caller, &id, form.change()).await?;
    Ok((StatusCode::SEE_OTHER, [(LOCATION, format!("/field-reports#report-{id}"))]).into_response())
}

#[derive(Template)]
#[template(path = "field_report_form.html")]
struct FormPage<'a> {
    page: Layout<'a>,
    kinds: Vec<(&'static str, String)>,
    markings: Vec<&'static str>,
    recipients: super::bulletins::RecipientChoices,
}

async fn compose(State(state): State<AppState>, ctx: PageCtx) -> Result<Response, PageError> {
    let recipients = super::bulletins::recipient_choices(&state, &ctx, true).await?;
    let page = FormPage {
        page: ctx.layout(ctx.t("report_new_title"), &["map.js", "report.js"], true),
        kinds: REPORT_KINDS.iter().map(|k| (*k, ctx.t(&format!("report_kind_{k}")).to_owned())).collect(),
        markings: Marking::ALL.iter().map(|m| m.label()).collect(),
        recipients,
    };
    render(&ctx, &page)
}

#[derive(Deserialize)]
struct CaseForm {
    /// An existing case, or empty for a new one titled `title`.
    case_id: String,
    title: Option<String>,
}

async fn link(
    State(state): State<AppState>,
    ctx: PageCtx,
    Path(id): Path<ReportId>,
    Form(form): Form<CaseForm>,
) -> Result<Response, PageError> {
    let reports = [id.clone()];
    if form.case_id.is_empty() {
        state.app.create_case(&ctx.caller, form.title.as_deref().unwrap_or_default(), &reports).await?;
    } else {
        state.app.link_to_case(&ctx.caller, &form.case_id, &reports).await?;
    }
    Ok((StatusCode::SEE_OTHER, [(LOCATION, format!("/field-reports#report-{id}"))]).into_response())
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/field-reports/{id}/case", post(link))
        .route("/field-reports", get(list))
        .route("/field-reports/new", get(compose))
        .route("/field-reports/{id}/triage", post(triage))
        .route("/field-reports/{id}/marking", post(change_marking))
}
