//! The library page: the documents the caller may read, filtered by language, marking and
//! organisation; search with hits highlighted in their passages (the script asks the library
//! API, which applies the markings); a document opened with its passages, each one linkable
//! in context; and an upload form (the script sends the file to the same API as the command
//! line's parsers).
use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::Value;
use vigie_domain::library::Marking;
use vigie_domain::{DocumentId, OrgId};

use super::{Layout, PageCtx, PageError, render};
use crate::AppState;

#[derive(Debug, Deserialize, Default)]
struct LibraryParams {
    q: Option<String>,
    /// The documents' language (`lang` is the page's).
    language: Option<String>,
    marking: Option<String>,
    org: Option<String>,
}

/// A document of the list.
struct DocumentRow {
    href: String,
    title: String,
    language: &'static str,
    marking: &'static str,
    org: String,
    date: String,
}

#[derive(Template)]
#[template(path = "library.html")]
struct LibraryPage<'a> {
    page: Layout<'a>,
    q: &'a str,
    lang_filter: &'a str,
    marking_filter: &'a str,
    org_filter: &'a str,
    orgs: Vec<(String, String)>,
    markings: Vec<&'static str>,
    documents: Vec<DocumentRow>,
    total: usize,
    can_upload: bool,
    recipients: super::bulletins::RecipientChoices,
}

async fn library(
    State(state): State<AppState>,
    ctx: PageCtx,
    Query(params): Query<LibraryParams>,
) -> Result<Response, PageError> {
    let all = state.app.library_document_list(&ctx.caller).await?;
    let orgs = state.app.organisations(&ctx.caller).await?;
    let org_name =
        |id: &str| orgs.iter().find(|o| o.id.as_str() == id).map_or_else(|| id.to_owned(), |o| o.name.clone());
    let wanted = |v: &Option<String>| v.as_deref().filter(|v| !v.is_empty()).map(str::to_owned);
    let (lang, marking, org) = (wanted(&params.language), wanted(&params.marking), wanted(&params.org));
    let documents: Vec<DocumentRow> = all
        .iter()
        .filter(|d| lang.as_deref().is_none_or(|l| d.document.language.code() == l))
        .filter(|d| marking.as_deref().is_none_or(|m| d.document.marking.label() == m))
        .filter(|d| org.as_deref().is_none_or(|o| d.document.org_id.as_str() == o))
        .map(|d| DocumentRow {
            href: format!("/library/documents/{}", d.document.id),
            title: d.document.title.clone(),
            language: d.document.language.code(),
            marking: d.document.marking.label(),
            org: org_name(d.document.org_id.as_str()),
            date: d.document.date.map(|d| d.to_string()).unwrap_or_default(),
        })
        .collect();
    let mut doc_orgs: Vec<(String, String)> =
        all.iter().map(|d| (d.document.org_id.to_string(), org_name(d.document.org_id.as_str()))).collect();
    doc_orgs.sort();
    doc_orgs.dedup();
    let can_upload = ctx.caller.can_write_org(&ctx.caller.org_id);
    let recipients = if can_upload {
        super::bulletins::recipient_choices(&state, &ctx, false).await?
    } else {
        super::bulletins::RecipientChoices::default()
    };
    let page = LibraryPage {
        page: ctx.layout(ctx.t("library_title"), &["results.js"], false),
        q: params.q.as_deref().unwrap_or(""),
        lang_filter: lang.as_deref().unwrap_or(""),
        marking_filter: marking.as_deref().unwrap_or(""),
        org_filter: org.as_deref().unwrap_or(""),
        orgs: doc_orgs,
        markings: Marking::ALL.iter().map(|m| m.label()).collect(),
        total: all.len(),
        documents,
        can_upload,
        recipients,
    };
    render(&ctx, &page)
}

/// A passage of the document page.
struct PassageRow {
    id: String,
    heading: String,
    text: String,
}

#[derive(Template)]
#[template(path = "library_document.html")]
struct DocumentPage<'a> {
    page: Layout<'a>,
    language: String,
    marking: String,
    source: String,
    passages: Vec<PassageRow>,
    /// Where its source changes the marking (`marking_change.html`); `None` for others.
    marking_url: Option<String>,
    markings: Vec<&'static str>,
    current: String,
}

/// A document with its passages, each one an anchor (`#p-ID`) that search hits link to.
async fn document(
    State(state): State<AppState>,
    ctx: PageCtx,
    Path(id): Path<DocumentId>,
) -> Result<Response, PageError> {
    let doc = state.app.library_document(&ctx.caller, &id).await?;
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    let passages = doc["passages"]
        .as_array()
        .map(|all| {
            all.iter()
                .map(|p| PassageRow { id: text(&p["id"]), heading: text(&p["heading"]), text: text(&p["text"]) })
                .collect()
        })
        .unwrap_or_default();
    let page = DocumentPage {
        page: ctx.layout(doc["title"].as_str().unwrap_or_default(), &[], false),
        language: text(&doc["language"]),
        marking: text(&doc["marking"]),
        source: text(&doc["source"]),
        passages,
        marking_url: vigie_domain::sharing::may_change_marking(&ctx.caller, &OrgId::new(text(&doc["org_id"])))
            .then(|| format!("/library/documents/{id}/marking")),
        markings: Marking::ALL.iter().map(|m| m.label()).collect(),
        current: text(&doc["marking"]),
    };
    render(&ctx, &page)
}

async fn change_marking(
    State(state): State<AppState>,
    ctx: PageCtx,
    Path(id): Path<DocumentId>,
    axum::Form(form): axum::Form<super::bulletins::MarkingForm>,
) -> Result<Response, PageError> {
    state.app.change_document_marking(&ctx.caller, &id, form.change()).await?;
    let to = format!("/library/documents/{id}");
    Ok((axum::http::StatusCode::SEE_OTHER, [(axum::http::header::LOCATION, to)]).into_response())
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/library", get(library))
        .route("/library/documents/{id}", get(document))
        .route("/library/documents/{id}/marking", axum::routing::post(change_marking))
}
