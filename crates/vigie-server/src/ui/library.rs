//! The library page: search the reference documents, hits highlighted in their passages. The
//! page is a form; the script asks the library API, which applies the documents' markings.
use askama::Template;
use axum::Router;
use axum::extract::Query;
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;

use super::{Layout, PageCtx, PageError, render};
use crate::AppState;

#[derive(Debug, Deserialize, Default)]
struct SearchParams {
    q: Option<String>,
}

#[derive(Template)]
#[template(path = "library.html")]
struct LibraryPage<'a> {
    page: Layout<'a>,
    q: &'a str,
}

async fn library(ctx: PageCtx, Query(params): Query<SearchParams>) -> Result<Response, PageError> {
    let q = params.q.as_deref().unwrap_or("");
    render(&ctx, &LibraryPage { page: ctx.layout(ctx.t("library_title"), &["results.js"], false), q })
}

pub fn routes() -> Router<AppState> {
    Router::new().route("/library", get(library))
}
