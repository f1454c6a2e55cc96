//! Threat bulletins in the pages: the list of those the caller may read, one bulletin with
//! its TLP banner in the standard's colours, the acknowledgement (a plain form, for a phone at
//! the site) and, for the author's organisation, who read and acknowledged; the compose form
//! (the script sends it to the same API as integrations).
use std::collections::HashMap;

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::http::header::LOCATION;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use vigie_domain::bulletin::{Bulletin, CERTAINTIES, RESPONSE_TYPES, SEVERITIES, STATUSES, Texts, URGENCIES};
use vigie_domain::sharing::{Marking, MembershipState, may_change_marking};
use vigie_domain::site::Lang;
use vigie_domain::{BulletinId, OrgId};

use super::{Layout, PageCtx, PageError, render};
use crate::AppState;

/// The CSS class of a marking's colours.
pub(super) fn marking_class(marking: Marking) -> &'static str {
    match marking {
        Marking::Clear => "clear",
        Marking::Green => "green",
        Marking::Amber => "amber",
        Marking::AmberStrict => "amber-strict",
        Marking::Red => "red",
    }
}

/// Who the caller may name in a form's recipients (`recipients.html`): (id, label) lists.
#[derive(Default)]
pub(super) struct RecipientChoices {
    /// The communities its organisation is a member of.
    pub communities: Vec<(String, String)>,
    /// The organisations it may address, other than its own.
    pub orgs: Vec<(String, String)>,
    /// The people it may name under TLP:RED, as "e-mail (organisation)".
    pub people: Vec<(String, String)>,
    /// The first organisation comes ticked (a report goes to the overseeing authority).
    pub first_org_checked: bool,
}

pub(super) async fn recipient_choices(
    state: &AppState,
    ctx: &PageCtx,
    first_org_checked: bool,
) -> Result<RecipientChoices, PageError> {
    let communities = state
        .app
        .my_communities(&ctx.caller)
        .await?
        .into_iter()
        .filter(|(_, state)| *state == MembershipState::Member)
        .map(|(c, _)| (c.id.to_string(), c.name))
        .collect();
    let addressable = state.app.addressable_organisations(&ctx.caller).await?;
    let people = state
        .app
        .addressable_people(&ctx.caller, &addressable)
        .await?
        .into_iter()
        .map(|(user, org)| (user.id.to_string(), format!("{} ({org})", user.email)))
        .collect();
    let orgs =
        addressable.into_iter().filter(|o| o.id != ctx.caller.org_id).map(|o| (o.id.to_string(), o.name)).collect();
    Ok(RecipientChoices { communities, orgs, people, first_org_checked })
}

/// The text in the page's language, else the other one.
fn in_lang(texts: &Texts, lang: Lang) -> String {
    let (first, second) = match lang {
        Lang::Fr => (&texts.fr, &texts.en),
        Lang::En => (&texts.en, &texts.fr),
    };
    first.as_deref().filter(|t| !t.trim().is_empty()).or(second.as_deref()).unwrap_or_default().to_owned()
}

struct BulletinRow {
    href: String,
    title: String,
    marking: &'static str,
    marking_class: &'static str,
    /// Exercise or Test, in words; empty for a real one.
    drill: String,
    org: String,
    effective: String,
    ack_due: bool,
}

fn bulletin_row(ctx: &PageCtx, b: &Bulletin, names: &HashMap<OrgId, String>, ack_due: bool) -> BulletinRow {
    BulletinRow {
        href: format!("/bulletins/{}", b.id),
        title: in_lang(&b.draft.title, ctx.lang),
        marking: b.draft.marking.label(),
        marking_class: marking_class(b.draft.marking),
        drill: drill(ctx, &b.draft.status),
        org: names.get(&b.author_org).cloned().unwrap_or_default(),
        effective: super::assess::date_of(b.draft.effective_ms),
        ack_due,
    }
}

#[derive(Template)]
#[template(path = "bulletins.html")]
struct ListPage<'a> {
    page: Layout<'a>,
    rows: Vec<BulletinRow>,
    can_send: bool,
}

async fn org_names(state: &AppState, ids: &[OrgId]) -> Result<HashMap<OrgId, String>, PageError> {
    Ok(state.app.organisation_names(ids).await?)
}

fn drill(ctx: &PageCtx, status: &str) -> String {
    if status == "Actual" { String::new() } else { ctx.t(&format!("cap_{status}")).to_owned() }
}

async fn list(State(state): State<AppState>, ctx: PageCtx) -> Result<Response, PageError> {
    let bulletins = state.app.bulletins(&ctx.caller).await?;
    let due: Vec<BulletinId> = state.app.inbox(&ctx.caller).await?.bulletins.into_iter().map(|(b, _)| b.id).collect();
    let authors: Vec<OrgId> = bulletins.iter().map(|b| b.author_org.clone()).collect();
    let names = org_names(&state, &authors).await?;
    let rows = bulletins.iter().map(|b| bulletin_row(&ctx, b, &names, due.contains(&b.id))).collect();
    let page = ListPage {
        page: ctx.layout(ctx.t("bulletins_title"), &[], false),
        rows,
        can_send: vigie_app::App::may_send_bulletins(&ctx.caller),
    };
    render(&ctx, &page)
}

struct InboxReport {
    href: String,
    label: String,
    status: String,
    changed: String,
    unread: bool,
}

#[derive(Template)]
#[template(path = "inbox.html")]
struct InboxPage<'a> {
    page: Layout<'a>,
    bulletins: Vec<BulletinRow>,
    invitations: Vec<String>,
    reports: Vec<InboxReport>,
}

/// The inbox: bulletins to acknowledge, community invitations, and the organisation's field
/// reports whose status changed.
async fn inbox(State(state): State<AppState>, ctx: PageCtx) -> Result<Response, PageError> {
    let inbox = state.app.inbox(&ctx.caller).await?;
    let authors: Vec<OrgId> = inbox.bulletins.iter().map(|(b, _)| b.author_org.clone()).collect();
    let names = org_names(&state, &authors).await?;
    let bulletins = inbox
        .bulletins
        .iter()
        .map(|(b, receipt)| bulletin_row(&ctx, b, &names, receipt.read_at_ms.is_none()))
        .collect();
    let reports = inbox
        .report_updates
        .iter()
        .map(|(r, changed, seen)| InboxReport {
            href: format!("/field-reports#report-{}", r.id),
            label: format!(
                "{} · {}",
                ctx.t(&format!("report_kind_{}", r.draft.kind)),
                super::assess::date_of(r.draft.observed_at_ms)
            ),
            status: ctx.t(&format!("report_status_{}", r.status)).to_owned(),
            changed: super::assess::date_of(*changed),
            unread: !seen,
        })
        .collect();
    let page = InboxPage {
        page: ctx.layout(ctx.t("inbox_title"), &[], false),
        bulletins,
        invitations: inbox.invitations.into_iter().map(|c| c.name).collect(),
        reports,
    };
    render(&ctx, &page)
}

struct ReceiptRow {
    org: String,
    delivered: String,
    read: String,
    acked: String,
}

#[derive(Template)]
#[template(path = "bulletin.html")]
struct ViewPage<'a> {
    page: Layout<'a>,
    marking: &'static str,
    marking_class: &'static str,
    drill: String,
    text: String,
    instruction: String,
    facts: Vec<(&'a str, String)>,
    ack_url: Option<String>,
    receipts: Option<Vec<ReceiptRow>>,
    /// The bulletin's area and sites, for the map; `None` when it names neither.
    map_data: Option<serde_json::Value>,
    /// Where its source changes the marking (`marking_change.html`); `None` for others.
    marking_url: Option<String>,
    markings: Vec<&'static str>,
    current: &'static str,
}

async fn view(State(state): State<AppState>, ctx: PageCtx, Path(id): Path<BulletinId>) -> Result<Response, PageError> {
    let bulletin: Bulletin = state.app.bulletin(&ctx.caller, &id).await?;
    let open = state.app.awaits_acknowledgement(&ctx.caller, &id).await?;
    let receipts = if bulletin.author_org == ctx.caller.org_id {
        Some(state.app.bulletin_receipts(&ctx.caller, &id).await?)
    } else {
        None
    };
    let mut ids = vec![bulletin.author_org.clone()];
    ids.extend(receipts.iter().flatten().map(|r| r.org_id.clone()));
    let names = org_names(&state, &ids).await?;
    let name = |org: &OrgId| names.get(org).cloned().unwrap_or_default();
    let when = |ms: Option<i64>| ms.map(super::assess::date_of).unwrap_or_else(|| "–".to_owned());
    let receipts = receipts.map(|all| {
        all.into_iter()
            .map(|r| ReceiptRow {
                org: name(&r.org_id),
                delivered: super::assess::date_of(r.delivered_at_ms),
                read: when(r.read_at_ms),
                acked: when(r.acked_at_ms),
            })
            .collect()
    });
    let d = &bulletin.draft;
    let cap = |value: &str| ctx.t(&format!("cap_{value}")).to_owned();
    let mut facts = vec![
        (ctx.t("bulletin_from"), name(&bulletin.author_org)),
        (ctx.t("bulletin_effective"), super::assess::date_of(d.effective_ms)),
    ];
    if let Some(expires) = d.expires_ms {
        facts.push((ctx.t("bulletin_expires"), super::assess::date_of(expires)));
    }
    facts.push((ctx.t("bulletin_urgency"), cap(&d.urgency)));
    facts.push((ctx.t("bulletin_severity"), cap(&d.severity)));
    facts.push((ctx.t("bulletin_certainty"), cap(&d.certainty)));
    facts.push((ctx.t("bulletin_response"), cap(&d.response_type)));
    // The sites the author named are part of what it shares, under the bulletin's marking.
    let named_sites = state.app.bulletin_sites(&ctx.caller, &bulletin).await?;
    if !named_sites.is_empty() {
        facts.push((
            ctx.t("bulletin_sites"),
            named_sites.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", "),
        ));
    }
    let map_data = (d.area.is_some() || !named_sites.is_empty()).then(|| {
        let sites: Vec<_> = named_sites
            .iter()
            .map(|s| serde_json::json!({"id": s.id, "name": s.name, "geometry": s.geometry}))
            .collect();
        serde_json::json!({"sites": sites, "areas": d.area.iter().collect::<Vec<_>>()})
    });
    let scripts: &[&str] = if map_data.is_some() { &["map.js"] } else { &[] };
    let page = ViewPage {
        page: ctx.layout(&in_lang(&d.title, ctx.lang), scripts, map_data.is_some()),
        marking: d.marking.label(),
        marking_class: marking_class(d.marking),
        drill: drill(&ctx, &d.status),
        text: in_lang(&d.text, ctx.lang),
        instruction: in_lang(&d.instruction, ctx.lang),
        facts,
        ack_url: open.then(|| format!("/bulletins/{id}/ack")),
        receipts,
        map_data,
        marking_url: may_change_marking(&ctx.caller, &bulletin.author_org).then(|| format!("/bulletins/{id}/marking")),
        markings: Marking::ALL.iter().map(|m| m.label()).collect(),
        current: d.marking.label(),
    };
    render(&ctx, &page)
}

async fn acknowledge(
    State(state): State<AppState>,
    ctx: PageCtx,
    Path(id): Path<BulletinId>,
) -> Result<Response, PageError> {
    state.app.acknowledge_bulletin(&ctx.caller, &id).await?;
    Ok((StatusCode::SEE_OTHER, [(LOCATION, format!("/bulletins/{id}"))]).into_response())
}

/// The marking form of `marking_change.html`.
#[derive(serde::Deserialize)]
pub(super) struct MarkingForm {
    marking: String,
}

impl MarkingForm {
    /// The new marking, the recipients unchanged.
    pub(super) fn change(self) -> vigie_app::marking::MarkingChange {
        vigie_app::marking::MarkingChange { marking: self.marking, recipients: None }
    }
}

async fn change_marking(
    State(state): State<AppState>,
    ctx: PageCtx,
    Path(id): Path<BulletinId>,
    axum::Form(form): axum::Form<MarkingForm>,
) -> Result<Response, PageError> {
    state.app.change_bulletin_marking(&ctx.caller, &id, form.change()).await?;
    Ok((StatusCode::SEE_OTHER, [(LOCATION, format!("/bulletins/{id}"))]).into_response())
}

#[derive(Template)]
#[template(path = "bulletin_form.html")]
struct ComposePage<'a> {
    page: Layout<'a>,
    recipients: RecipientChoices,
    markings: Vec<&'static str>,
    urgencies: Vec<(&'static str, String)>,
    severities: Vec<(&'static str, String)>,
    certainties: Vec<(&'static str, String)>,
    responses: Vec<(&'static str, String)>,
    statuses: Vec<(&'static str, String)>,
    /// The caller's readable sites, to name those concerned: (id, name).
    sites: Vec<(String, String)>,
    map_data: serde_json::Value,
}

async fn compose(State(state): State<AppState>, ctx: PageCtx) -> Result<Response, PageError> {
    if !vigie_app::App::may_send_bulletins(&ctx.caller) {
        return Err(vigie_domain::Failure::forbidden("authorities and operators send bulletins").into());
    }
    let recipients = recipient_choices(&state, &ctx, false).await?;
    let labelled = |values: &'static [&'static str]| -> Vec<(&'static str, String)> {
        values.iter().map(|v| (*v, ctx.t(&format!("cap_{v}")).to_owned())).collect()
    };
    let query = vigie_app::sites::SiteQuery { limit: Some(vigie_store::MAX_PAGE), ..Default::default() };
    let readable = state.app.list_sites(&ctx.caller, query).await?.items;
    let map_sites: Vec<_> =
        readable.iter().map(|s| serde_json::json!({"id": s.id, "name": s.name, "geometry": s.geometry})).collect();
    let page = ComposePage {
        page: ctx.layout(ctx.t("bulletin_compose_title"), &["map.js", "bulletin.js"], true),
        recipients,
        markings: Marking::ALL.iter().map(|m| m.label()).collect(),
        urgencies: labelled(URGENCIES),
        severities: labelled(SEVERITIES),
        certainties: labelled(CERTAINTIES),
        responses: labelled(RESPONSE_TYPES),
        statuses: labelled(STATUSES),
        sites: readable.iter().map(|s| (s.id.to_string(), s.name.clone())).collect(),
        map_data: serde_json::json!({"sites": map_sites, "areas": []}),
    };
    render(&ctx, &page)
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/inbox", get(inbox))
        .route("/bulletins", get(list))
        .route("/bulletins/new", get(compose))
        .route("/bulletins/{id}", get(view))
        .route("/bulletins/{id}/ack", post(acknowledge))
        .route("/bulletins/{id}/marking", post(change_marking))
}
