//! The registry: the list of sites with filters and a map, a site's page (with its vehicle
//! study), the site form, and the street network the maps draw.
use std::collections::HashSet;

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Value, json};
use vigie_app::sites::SiteQuery;
use vigie_domain::SiteId;
use vigie_domain::geometry::BoundingBox;
use vigie_domain::site::{Lang, SiteCategory};
use vigie_store::Site;

use super::{Layout, PageCtx, PageError, render, t};
use crate::AppState;
use crate::error::ApiError;

/// Rows shown on the registry page.
const PAGE_ROWS: usize = 200;

/// Street segments sent for one map view; a larger view is refused (zoom in).
const MAX_SEGMENTS: usize = 60_000;

#[derive(Debug, Deserialize, Default)]
struct RegistryParams {
    category: Option<String>,
    q: Option<String>,
    bbox: Option<String>,
}

fn site_href(site: &Site) -> String {
    format!("/sites/{}", site.id)
}

/// One choice of the category menus.
struct CategoryOption {
    key: &'static str,
    name: &'static str,
    selected: bool,
}

fn category_options(lang: Lang, selected: Option<SiteCategory>) -> Vec<CategoryOption> {
    SiteCategory::ALL
        .iter()
        .map(|c| CategoryOption { key: c.key(), name: c.name(lang), selected: Some(*c) == selected })
        .collect()
}

/// The sites as the maps draw them.
fn map_sites(sites: &[&Site]) -> Value {
    Value::Array(
        sites
            .iter()
            .map(|s| json!({"id": s.id, "name": s.name, "href": site_href(s), "geometry": s.geometry}))
            .collect(),
    )
}

/// A row of the registry's table.
struct SiteRow {
    href: String,
    name: String,
    /// Its address, else its nearest streets: what tells two sites of one name apart.
    place: String,
    category: &'static str,
    area: String,
    occupancy: String,
}

/// Where a site is, for someone telling sites apart: its address, else its nearest streets.
fn whereabouts(site: &Site, lang: Lang) -> String {
    if let Some(address) = site.address.as_deref().map(str::trim).filter(|a| !a.is_empty()) {
        return address.to_owned();
    }
    near_streets_text(site, lang)
}

fn near_streets_text(site: &Site, lang: Lang) -> String {
    match site.near_streets().as_slice() {
        [] => String::new(),
        [one] => t(lang, "near_one").replace("{a}", one),
        [a, b, ..] => t(lang, "near_two").replace("{a}", a).replace("{b}", b),
    }
}

#[derive(Template)]
#[template(path = "registry.html")]
struct RegistryPage<'a> {
    page: Layout<'a>,
    can_create: bool,
    q: &'a str,
    category: &'a str,
    bbox: &'a str,
    categories: Vec<CategoryOption>,
    map_data: Value,
    rows: Vec<SiteRow>,
    found: usize,
}

async fn registry(
    State(state): State<AppState>,
    ctx: PageCtx,
    Query(params): Query<RegistryParams>,
) -> Result<Response, PageError> {
    let query = SiteQuery { category: params.category.clone(), bbox: params.bbox.clone(), ..SiteQuery::default() };
    let (shown, found) = state.app.find_sites(&ctx.caller, query, params.q.as_deref().unwrap_or(""), PAGE_ROWS).await?;
    // Checked by the search above.
    let category = params.category.as_deref().filter(|c| !c.is_empty()).and_then(|c| SiteCategory::from_key(c).ok());
    let lang = ctx.lang;
    let rows = shown
        .iter()
        .map(|s| SiteRow {
            href: site_href(s),
            name: s.name.clone(),
            place: whereabouts(s, lang),
            category: s.category.name(lang),
            area: format!("{:.0}", s.area_m2),
            occupancy: s.peak_occupancy.map(|o| o.to_string()).unwrap_or_default(),
        })
        .collect();
    render(
        &ctx,
        &RegistryPage {
            page: ctx.layout(ctx.t("sites_title"), &["map.js"], true),
            can_create: ctx.caller.can_write_org(&ctx.caller.org_id),
            q: params.q.as_deref().unwrap_or(""),
            category: params.category.as_deref().unwrap_or(""),
            bbox: params.bbox.as_deref().unwrap_or(""),
            categories: category_options(lang, category),
            map_data: json!({"sites": map_sites(&shown.iter().collect::<Vec<_>>())}),
            rows,
            found,
        },
    )
}

fn fmt_num(v: Option<f64>, decimals: usize) -> String {
    v.map(|v| format!("{v:.decimals$}")).unwrap_or_else(|| "–".to_owned())
}

/// A row of the vehicle study's table: one access point and vehicle.
struct HvmRow {
    access_point: String,
    highway: String,
    class: String,
    /// The class in words (car, van, 7.5 t truck…), from the vehicle classes the study used.
    class_name: String,
    /// Its side view in `vehicles.svg`, for the classes of the shipped vehicle set.
    silhouette: Option<&'static str>,
    /// Why this speed, in words: the straight run from rest it takes, the last bend.
    why: String,
    speed: String,
    energy: String,
    run_up: String,
    angle: String,
    /// The minimum barrier rating (IWA 14-1 notation), or why there is none.
    barrier: String,
    /// The catalogue's products that cover it, or that none does; empty without a catalogue.
    products: String,
}

/// The vehicle study as the site page shows it: the table per access point and vehicle, and
/// the paths for the map.
struct HvmView {
    when: String,
    network: String,
    /// The barrier catalogue the advice comes from, when the server has one.
    catalogue: Option<String>,
    classes: Vec<String>,
    rows: Vec<HvmRow>,
    data: Value,
}

/// "As fast as a straight run of 154 m from rest; the last bend that slows it is 12 m before
/// the site." Studies made before the distance from rest was kept say nothing.
fn why_this_speed(lang: Lang, from_rest: Option<f64>, run_up: Option<f64>) -> String {
    let Some(from_rest) = from_rest else { return String::new() };
    let metres = |m: f64| fmt_num(Some(m), 0);
    match run_up {
        // The run-up restarts at a bend that binds: shorter than the run from rest, a bend
        // slowed the vehicle on the way.
        Some(run_up) if run_up + 1.0 < from_rest => {
            t(lang, "hvm_why_bend").replace("{from_rest}", &metres(from_rest)).replace("{run_up}", &metres(run_up))
        }
        _ => t(lang, "hvm_why_straight").replace("{from_rest}", &metres(from_rest)),
    }
}

/// The side view drawn for a vehicle class of `methodology/vehicles.toml`.
fn silhouette(class: &str) -> Option<&'static str> {
    Some(match class.to_ascii_uppercase().as_str() {
        "M1" => "car",
        "N1G" => "pickup",
        "N1" => "van",
        "N2A" | "N2B" | "N3C" | "N3D" => "truck",
        "N3F" => "heavy-truck",
        _ => return None,
    })
}

fn hvm_view(
    study: &vigie_store::HvmStudy,
    barriers: Option<(&str, Vec<vigie_app::hvm::BarrierAdvice>)>,
    lang: Lang,
) -> HvmView {
    let advice_for = |ap: &str, class: &str| {
        barriers.as_ref().and_then(|(_, all)| all.iter().find(|a| a.access_point == ap && a.vehicle_class == class))
    };
    let points = study.result.get("access_points").and_then(Value::as_array).cloned().unwrap_or_default();
    let name_field = match lang {
        Lang::En => "name_en",
        Lang::Fr => "name_fr",
    };
    let class_name = |class: &str| -> String {
        study.result["model"]["vehicles"]
            .as_array()
            .and_then(|all| all.iter().find(|v| v["key"] == class))
            .and_then(|v| v[name_field].as_str())
            .map_or_else(
                || class.to_owned(),
                // Some names carry their class already: "Rigid truck (N3C)".
                |name| if name.contains(class) { name.to_owned() } else { format!("{name} ({class})") },
            )
    };
    let mut rows = Vec::new();
    let mut paths = Vec::new();
    for ap in &points {
        let ap_id = ap.get("id").and_then(Value::as_str).unwrap_or("");
        let highway = ap.get("highway").and_then(Value::as_str).unwrap_or("");
        if let Some(vehicles) = ap.get("vehicles").and_then(Value::as_object) {
            for (class, impact) in vehicles {
                let num = |k: &str| impact.get(k).and_then(Value::as_f64);
                let advice = advice_for(ap_id, class).map(|a| &a.requirement);
                let barrier = match advice {
                    Some(r) => r.minimum_rating.clone().unwrap_or_else(|| t(lang, "hvm_beyond_tests").to_owned()),
                    None => String::new(),
                };
                let products = match advice {
                    Some(r) if r.products.is_empty() => t(lang, "hvm_no_product").to_owned(),
                    Some(r) => r.products.iter().map(|p| p.product.as_str()).collect::<Vec<_>>().join(", "),
                    None => String::new(),
                };
                rows.push(HvmRow {
                    barrier,
                    products,
                    access_point: ap_id.to_owned(),
                    highway: highway.to_owned(),
                    class: class.clone(),
                    class_name: class_name(class),
                    silhouette: silhouette(class),
                    why: why_this_speed(lang, num("distance_from_rest_m"), num("run_up_m")),
                    speed: fmt_num(num("speed_kmh"), 0),
                    energy: fmt_num(num("energy_kj"), 0),
                    run_up: fmt_num(num("run_up_m"), 0),
                    angle: fmt_num(num("angle_deg"), 0),
                });
                paths.push(json!({"ap": ap_id, "class": class, "path": impact.get("path"), "speeds": impact.get("path_speeds_kmh"), "speed_kmh": num("speed_kmh")}));
            }
        }
    }
    let mut classes: Vec<String> = Vec::new();
    for class in paths.iter().filter_map(|p| p.get("class").and_then(Value::as_str)) {
        if !classes.iter().any(|c| c == class) {
            classes.push(class.to_owned());
        }
    }
    HvmView {
        when: super::assess::date_of(study.created_at_ms),
        network: study.network.clone(),
        catalogue: barriers.map(|(name, _)| name.to_owned()),
        classes,
        rows,
        data: json!({"paths": paths}),
    }
}

#[derive(Template)]
#[template(path = "site.html")]
struct SitePage<'a> {
    page: Layout<'a>,
    site: &'a Site,
    category: &'static str,
    area: String,
    address: &'a str,
    /// "near X and Y", empty when the site was not imported from OSM.
    near: String,
    /// Just made, it looks like these sites of its organisation (same name, same place).
    look_alikes: Vec<SiteRow>,
    occupancy: String,
    map_data: Value,
    can_write: bool,
    threat_levels: Vec<(u8, &'a str)>,
    /// Whether a street network is loaded, so that a study can run.
    network: bool,
    hvm: Option<HvmView>,
}

#[derive(Debug, Deserialize, Default)]
struct SitePageParams {
    /// Set by the site form on the page it opens after making a site: check for look-alikes.
    created: Option<String>,
}

async fn site_page(
    State(state): State<AppState>,
    ctx: PageCtx,
    Path(id): Path<SiteId>,
    Query(params): Query<SitePageParams>,
) -> Result<Response, PageError> {
    let (site, study) = state.app.site_with_latest_study(&ctx.caller, &id).await?;
    let look_alikes = match params.created {
        Some(_) => state.app.look_alikes_of(&ctx.caller, &id).await?,
        None => Vec::new(),
    };
    let can_write = state.app.can_write_site(&ctx.caller, &site);
    render(
        &ctx,
        &SitePage {
            page: ctx.layout(&site.name, &["map.js", "site.js"], true),
            site: &site,
            category: site.category.name(ctx.lang),
            area: format!("{:.0}", site.area_m2),
            address: site.address.as_deref().unwrap_or("–"),
            near: near_streets_text(&site, ctx.lang),
            look_alikes: look_alikes
                .iter()
                .map(|other| SiteRow {
                    href: site_href(other),
                    name: other.name.clone(),
                    place: whereabouts(other, ctx.lang),
                    category: other.category.name(ctx.lang),
                    area: format!("{:.0}", other.area_m2),
                    occupancy: String::new(),
                })
                .collect(),
            occupancy: site.peak_occupancy.map(|o| o.to_string()).unwrap_or_else(|| "–".to_owned()),
            map_data: json!({"sites": map_sites(&[&site])}),
            can_write,
            threat_levels: super::threat_levels::LEVEL_KEYS.iter().map(|&(level, key)| (level, ctx.t(key))).collect(),
            network: state.app.street_network().is_some(),
            hvm: study.as_ref().map(|s| {
                let barriers = state.app.barrier_catalogue().zip(state.app.study_barriers(s));
                hvm_view(s, barriers.map(|(c, advice)| (c.name.as_str(), advice)), ctx.lang)
            }),
        },
    )
}

#[derive(Template)]
#[template(path = "site_form.html")]
struct SiteFormPage<'a> {
    page: Layout<'a>,
    /// The site being changed; `None` for a new one.
    editing: Option<&'a Site>,
    name: &'a str,
    categories: Vec<CategoryOption>,
    address: &'a str,
    occupancy: String,
    site_data: Value,
}

fn site_form<'a>(ctx: &'a PageCtx, title_key: &str, site: Option<&'a Site>) -> SiteFormPage<'a> {
    SiteFormPage {
        page: ctx.layout(ctx.t(title_key), &["map.js"], true),
        editing: site,
        name: site.map_or("", |s| s.name.as_str()),
        categories: category_options(ctx.lang, site.map(|s| s.category)),
        address: site.and_then(|s| s.address.as_deref()).unwrap_or(""),
        occupancy: site.and_then(|s| s.peak_occupancy).map(|o| o.to_string()).unwrap_or_default(),
        site_data: json!({
            "id": site.map(|s| s.id.clone()),
            "version": site.map(|s| s.version),
            "geometry": site.map(|s| s.geometry.clone()),
            "tags": site.map(|s| json!(s.tags)).unwrap_or(json!({})),
        }),
    }
}

async fn new_site(ctx: PageCtx) -> Result<Response, PageError> {
    if !ctx.caller.can_write_org(&ctx.caller.org_id) {
        return Err(ApiError::forbidden("you may not create sites").into());
    }
    render(&ctx, &site_form(&ctx, "new_site", None))
}

async fn edit_site(State(state): State<AppState>, ctx: PageCtx, Path(id): Path<SiteId>) -> Result<Response, PageError> {
    let site = state.app.site(&ctx.caller, &id).await?;
    if !state.app.can_write_site(&ctx.caller, &site) {
        return Err(ApiError::forbidden("you may read this site but not change it").into());
    }
    render(&ctx, &site_form(&ctx, "edit_site", Some(&site)))
}

#[derive(Debug, Deserialize)]
struct StreetParams {
    bbox: String,
}

fn round6(v: f64) -> f64 {
    (v * 1e6).round() / 1e6
}

/// The street segments in a box, as `[lon1, lat1, lon2, lat2]`, each street once whatever its
/// directions, and the streets' names as `[lon, lat, name]`, one per street, the streets with
/// the longest segment first. Signed-in
/// callers only: the map is part of the pages.
async fn streets(
    State(state): State<AppState>,
    Query(params): Query<StreetParams>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if super::signed_in(&state, &headers).await?.is_none() {
        return Err(ApiError::unauthenticated());
    }
    let bbox = BoundingBox::parse(&params.bbox)?;
    let Some(network) = state.app.street_network() else {
        return Ok(Json(json!({"segments": [], "network": null})).into_response());
    };
    let graph = &network.graph;
    let mut seen = HashSet::new();
    let mut segments = Vec::new();
    // Each street's name once, at the middle of its longest segment in the box.
    let mut labels: std::collections::HashMap<&str, (f64, [f64; 2])> = std::collections::HashMap::new();
    for node in graph.nodes_in_box(bbox.west, bbox.south, bbox.east, bbox.north) {
        for edge in graph.out_edges(node) {
            let end = graph.edge_end(edge);
            if !seen.insert((node.min(end), node.max(end))) {
                continue;
            }
            if segments.len() >= MAX_SEGMENTS {
                return Ok(Json(json!({"segments": [], "labels": [], "network": network.name, "too_many": true}))
                    .into_response());
            }
            let (a, b) = (graph.lon_lat(node), graph.lon_lat(end));
            segments.push([round6(a.0), round6(a.1), round6(b.0), round6(b.1)]);
            if let Some(name) = graph.edge_way(edge).and_then(|w| w.name.as_deref()) {
                let length = vigie_hvm::graph::haversine_m(a.0, a.1, b.0, b.1);
                let middle = [round6((a.0 + b.0) / 2.0), round6((a.1 + b.1) / 2.0)];
                let best = labels.entry(name).or_insert((length, middle));
                if length > best.0 {
                    *best = (length, middle);
                }
            }
        }
    }
    // Longest first: a map zoomed out shows only the first ones.
    let mut labels: Vec<(&str, f64, [f64; 2])> =
        labels.into_iter().map(|(name, (length, at))| (name, length, at)).collect();
    labels.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(b.0)));
    let labels: Vec<Value> = labels.into_iter().map(|(name, _, at)| json!([at[0], at[1], name])).collect();
    Ok(Json(json!({"segments": segments, "labels": labels, "network": network.name})).into_response())
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(registry))
        .route("/sites/new", get(new_site))
        .route("/sites/{id}", get(site_page))
        .route("/sites/{id}/edit", get(edit_site))
        .route("/ui/streets", get(streets))
}
