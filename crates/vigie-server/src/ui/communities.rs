//! Communities in the pages: the caller's organisation's communities with their members, its
//! invitations to accept or decline, inviting organisations (the owner authority), leaving,
//! and creating one. Plain forms; the rules are the application's.
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::http::header::LOCATION;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use vigie_domain::sharing::{MembershipState, may_answer_for_org, may_create_community, may_invite};
use vigie_domain::{CommunityId, OrgId};

use super::{Layout, PageCtx, PageError, render};
use crate::AppState;

struct CommunityCard {
    id: String,
    name: String,
    /// (organisation, its state in words).
    members: Vec<(String, String)>,
    can_invite: bool,
    /// Organisations that may still be invited: (id, name).
    invitable: Vec<(String, String)>,
    can_leave: bool,
}

#[derive(Template)]
#[template(path = "communities.html")]
struct CommunitiesPage<'a> {
    page: Layout<'a>,
    communities: Vec<CommunityCard>,
    invitations: Vec<(String, String)>,
    can_answer: bool,
    can_create: bool,
}

async fn show(State(state): State<AppState>, ctx: PageCtx) -> Result<Response, PageError> {
    let mine = state.app.my_communities(&ctx.caller).await?;
    let readable_orgs = state.app.organisations(&ctx.caller).await?;
    let mut communities = Vec::new();
    let mut invitations = Vec::new();
    for (community, membership) in mine {
        if membership == MembershipState::Invited {
            invitations.push((community.id.to_string(), community.name));
            continue;
        }
        let view = state.app.community(&ctx.caller, &community.id).await?;
        let ids: Vec<OrgId> = view.members.iter().map(|m| m.org_id.clone()).collect();
        let names = state.app.organisation_names(&ids).await?;
        let members = view
            .members
            .iter()
            .filter(|m| m.state != MembershipState::Left)
            .map(|m| {
                let state_key = match m.state {
                    MembershipState::Member => "community_member",
                    _ => "community_invited",
                };
                (names.get(&m.org_id).cloned().unwrap_or_default(), ctx.t(state_key).to_owned())
            })
            .collect();
        let can_invite = may_invite(&ctx.caller, &community);
        let invitable = readable_orgs
            .iter()
            .filter(|o| !view.members.iter().any(|m| m.org_id == o.id && m.state != MembershipState::Left))
            .map(|o| (o.id.to_string(), o.name.clone()))
            .collect();
        communities.push(CommunityCard {
            id: community.id.to_string(),
            name: community.name.clone(),
            members,
            can_invite,
            invitable,
            can_leave: community.owner_org != ctx.caller.org_id && may_answer_for_org(&ctx.caller),
        });
    }
    let page = CommunitiesPage {
        page: ctx.layout(ctx.t("communities_title"), &[], false),
        communities,
        invitations,
        can_answer: may_answer_for_org(&ctx.caller),
        can_create: may_create_community(&ctx.caller),
    };
    render(&ctx, &page)
}

fn back() -> Response {
    (StatusCode::SEE_OTHER, [(LOCATION, "/communities".to_owned())]).into_response()
}

#[derive(Deserialize)]
struct CreateForm {
    name: String,
}

async fn create(
    State(state): State<AppState>,
    ctx: PageCtx,
    Form(form): Form<CreateForm>,
) -> Result<Response, PageError> {
    state.app.create_community(&ctx.caller, &form.name).await?;
    Ok(back())
}

#[derive(Deserialize)]
struct InviteForm {
    org_id: OrgId,
}

async fn invite(
    State(state): State<AppState>,
    ctx: PageCtx,
    Path(id): Path<CommunityId>,
    Form(form): Form<InviteForm>,
) -> Result<Response, PageError> {
    state.app.invite_to_community(&ctx.caller, &id, &form.org_id).await?;
    Ok(back())
}

async fn join(State(state): State<AppState>, ctx: PageCtx, Path(id): Path<CommunityId>) -> Result<Response, PageError> {
    state.app.join_community(&ctx.caller, &id).await?;
    Ok(back())
}

async fn leave(
    State(state): State<AppState>,
    ctx: PageCtx,
    Path(id): Path<CommunityId>,
) -> Result<Response, PageError> {
    state.app.leave_community(&ctx.caller, &id).await?;
    Ok(back())
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/communities", get(show).post(create))
        .route("/communities/{id}/members", post(invite))
        .route("/communities/{id}/join", post(join))
        .route("/communities/{id}/leave", post(leave))
}
