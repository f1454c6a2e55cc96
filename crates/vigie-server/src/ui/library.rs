//! The library page: search the reference documents, hits highlighted in their passages. The
//! page is a form; the script asks the library API, which applies the documents' markings.
use axum::Router;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;

use super::{Page, esc, page_ctx, render};
use crate::AppState;
use crate::error::ApiError;

#[derive(Debug, Deserialize, Default)]
struct SearchParams {
    lang: Option<String>,
    q: Option<String>,
}

async fn library(
    State(state): State<AppState>,
    Query(params): Query<SearchParams>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let ctx = match page_ctx(&state, &headers, params.lang.as_deref()).await? {
        Ok(ctx) => ctx,
        Err(redirect) => return Ok(redirect),
    };
    let body = format!(
        r#"<h1>{title}</h1>
<form method="get" action="/library" role="search" class="inline-form" id="library-form"><div><label for="l-q">{query}</label><input id="l-q" name="q" type="search" value="{q}" required></div><button type="submit">{search}</button></form>
<p id="l-status" role="status" aria-live="polite"></p><ol id="l-results" class="plain"></ol>"#,
        title = ctx.t("library_title"),
        query = ctx.t("library_query"),
        q = esc(params.q.as_deref().unwrap_or("")),
        search = ctx.t("search"),
    );
    Ok(render(&ctx, Page { title: &super::t(ctx.lang, "library_title"), body, scripts: &["results.js"], map: false }))
}

pub fn routes() -> Router<AppState> {
    Router::new().route("/library", get(library))
}
