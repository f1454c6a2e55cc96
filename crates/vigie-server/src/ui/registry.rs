//! The registry: the list of sites with filters and a map, a site's page (with its vehicle
//! study), the site form, and the street network the maps draw.
use std::collections::HashSet;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Value, json};
use vigie_app::sites::SiteQuery;
use vigie_domain::geometry::BoundingBox;
use vigie_domain::site::{Lang, SiteCategory};
use vigie_store::Site;

use super::{Ctx, LangParam, Page, esc, page_ctx, render, script_json};
use crate::AppState;
use crate::error::ApiError;

/// Rows shown on the registry page.
const PAGE_ROWS: usize = 200;

/// Street segments sent for one map view; a larger view is refused (zoom in).
const MAX_SEGMENTS: usize = 60_000;

#[derive(Debug, Deserialize, Default)]
struct RegistryParams {
    lang: Option<String>,
    category: Option<String>,
    q: Option<String>,
    bbox: Option<String>,
}

fn site_href(site: &Site) -> String {
    format!("/sites/{}", site.id)
}

fn category_options(lang: Lang, selected: Option<SiteCategory>, with_any: bool) -> String {
    let any = if with_any {
        format!(r#"<option value="">{}</option>"#, super::te(lang, "any_category"))
    } else {
        String::new()
    };
    let options: String = SiteCategory::ALL
        .iter()
        .map(|c| {
            format!(
                r#"<option value="{}"{}>{}</option>"#,
                c.key(),
                if Some(*c) == selected { " selected" } else { "" },
                esc(c.name(lang))
            )
        })
        .collect();
    any + &options
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

async fn registry(
    State(state): State<AppState>,
    Query(params): Query<RegistryParams>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let ctx = match page_ctx(&state, &headers, params.lang.as_deref()).await? {
        Ok(ctx) => ctx,
        Err(redirect) => return Ok(redirect),
    };
    let query = SiteQuery { category: params.category.clone(), bbox: params.bbox.clone(), ..SiteQuery::default() };
    let (shown, found) = state.app.find_sites(&ctx.caller, query, params.q.as_deref().unwrap_or(""), PAGE_ROWS).await?;
    // Checked by the search above.
    let category = params.category.as_deref().filter(|c| !c.is_empty()).and_then(|c| SiteCategory::from_key(c).ok());
    let lang = ctx.lang;
    let rows: String = shown
        .iter()
        .map(|s| {
            format!(
                r#"<tr><td><a href="{}">{}</a></td><td>{}</td><td class="num">{:.0}</td><td class="num">{}</td></tr>"#,
                site_href(s),
                esc(&s.name),
                esc(s.category.name(lang)),
                s.area_m2,
                s.peak_occupancy.map(|o| o.to_string()).unwrap_or_default()
            )
        })
        .collect();
    let table = if shown.is_empty() {
        format!("<p>{}</p>", ctx.t("no_sites"))
    } else {
        format!(
            r#"<div class="scroll"><table><caption>{showing} {n} / {total}</caption><thead><tr><th scope="col">{name}</th><th scope="col">{cat}</th><th scope="col" class="num">{area}</th><th scope="col" class="num">{occ}</th></tr></thead><tbody>{rows}</tbody></table></div>"#,
            showing = ctx.t("showing_first"),
            n = shown.len(),
            total = found,
            name = ctx.t("site_name"),
            cat = ctx.t("site_category"),
            area = ctx.t("site_area"),
            occ = ctx.t("site_occupancy"),
        )
    };
    let new_link = if ctx.caller.can_write_org(&ctx.caller.org_id) {
        format!(r#"<a class="button" href="/sites/new">{}</a>"#, ctx.t("new_site"))
    } else {
        String::new()
    };
    let bbox_note = match &params.bbox {
        Some(b) if !b.is_empty() => format!(
            r#"<p>{} <a href="?category={}&amp;q={}">{}</a></p>"#,
            ctx.t("filtered_to_area"),
            esc(params.category.as_deref().unwrap_or("")),
            esc(params.q.as_deref().unwrap_or("")),
            ctx.t("clear_area")
        ),
        _ => String::new(),
    };
    let body = format!(
        r#"<div class="title-row"><h1>{title}</h1>{new_link}</div>
<form method="get" action="/" class="filters" role="search">
<div><label for="f-q">{text_label}</label><input id="f-q" name="q" type="search" value="{q}"></div>
<div><label for="f-cat">{cat_label}</label><select id="f-cat" name="category">{options}</select></div>
<input type="hidden" name="bbox" id="f-bbox" value="{bbox}">
<div class="actions"><button type="submit">{filter}</button><button type="button" id="filter-view" class="secondary">{filter_view}</button></div>
</form>{bbox_note}
<div id="map" class="map" role="region" aria-label="{map_label}" data-streets="/ui/streets"></div>
<script id="map-data" type="application/json">{data}</script>
{table}"#,
        title = ctx.t("sites_title"),
        text_label = ctx.t("filter_text"),
        q = esc(params.q.as_deref().unwrap_or("")),
        cat_label = ctx.t("site_category"),
        options = category_options(lang, category, true),
        bbox = esc(params.bbox.as_deref().unwrap_or("")),
        filter = ctx.t("filter"),
        filter_view = ctx.t("filter_to_view"),
        map_label = ctx.t("map_label"),
        data = script_json(&json!({"sites": map_sites(&shown.iter().collect::<Vec<_>>())})),
    );
    Ok(render(
        &ctx,
        Page { title: &super::t(lang, "sites_title"), body, scripts: &["leaflet.js", "map.js"], map: true },
    ))
}

fn fmt_num(v: Option<f64>, decimals: usize) -> String {
    v.map(|v| format!("{v:.decimals$}")).unwrap_or_else(|| "–".to_owned())
}

/// The vehicle study section: the table per access point and vehicle, and the paths for the map.
fn hvm_section(
    ctx: &Ctx,
    site: &Site,
    study: Option<&vigie_store::HvmStudy>,
    can_write: bool,
    network: bool,
) -> String {
    let run = if can_write && network {
        format!(
            r#"<button type="button" id="run-hvm" data-site="{}">{}</button><p id="hvm-status" role="status" aria-live="polite"></p>"#,
            esc(&site.id),
            ctx.t("hvm_run")
        )
    } else {
        String::new()
    };
    let Some(study) = study else {
        return format!(
            r#"<section aria-labelledby="hvm-h"><h2 id="hvm-h">{}</h2><p>{}</p>{run}</section>"#,
            ctx.t("hvm_title"),
            ctx.t(if network { "hvm_none" } else { "hvm_no_network" })
        );
    };
    let points = study.result.get("access_points").and_then(Value::as_array).cloned().unwrap_or_default();
    let mut rows = String::new();
    let mut paths = Vec::new();
    for ap in &points {
        let ap_id = ap.get("id").and_then(Value::as_str).unwrap_or("");
        let highway = ap.get("highway").and_then(Value::as_str).unwrap_or("");
        if let Some(vehicles) = ap.get("vehicles").and_then(Value::as_object) {
            for (class, impact) in vehicles {
                let num = |k: &str| impact.get(k).and_then(Value::as_f64);
                rows.push_str(&format!(
                    r#"<tr data-class="{2}"><th scope="row">{0}</th><td>{1}</td><td>{2}</td><td class="num">{3}</td><td class="num">{4}</td><td class="num">{5}</td><td class="num">{6}</td></tr>"#,
                    esc(ap_id),
                    esc(highway),
                    esc(class),
                    fmt_num(num("speed_kmh"), 0),
                    fmt_num(num("energy_kj"), 0),
                    fmt_num(num("run_up_m"), 0),
                    fmt_num(num("angle_deg"), 0)
                ));
                paths.push(json!({"ap": ap_id, "class": class, "path": impact.get("path"), "speeds": impact.get("path_speeds_kmh"), "speed_kmh": num("speed_kmh")}));
            }
        }
    }
    let mut classes: Vec<&str> = Vec::new();
    for class in paths.iter().filter_map(|p| p.get("class").and_then(Value::as_str)) {
        if !classes.contains(&class) {
            classes.push(class);
        }
    }
    let class_options: String =
        classes.iter().map(|c| format!(r#"<option value="{0}">{0}</option>"#, esc(c))).collect();
    format!(
        r#"<section aria-labelledby="hvm-h"><h2 id="hvm-h">{title}</h2>
<p>{computed} {when} · {net}: {network}</p>
<label for="hvm-class">{vehicle}</label><select id="hvm-class">{class_options}</select>
<div id="hvm-map" class="map" role="region" aria-label="{map_label}" data-streets="/ui/streets"></div>
<p class="legend">{legend}: <span class="sw" style="background:#1a9850"></span>&lt;16 <span class="sw" style="background:#91cf60"></span>&lt;32 <span class="sw" style="background:#fee08b"></span>&lt;48 <span class="sw" style="background:#fc8d59"></span>&lt;64 <span class="sw" style="background:#d73027"></span>&lt;80 <span class="sw" style="background:#7f0000"></span>≥80 km/h</p>
<script id="hvm-data" type="application/json">{data}</script>
<div class="scroll"><table><caption>{caption}</caption><thead><tr><th scope="col">{ap}</th><th scope="col">{street}</th><th scope="col">{vehicle}</th><th scope="col" class="num">{speed}</th><th scope="col" class="num">{energy}</th><th scope="col" class="num">{runup}</th><th scope="col" class="num">{angle}</th></tr></thead><tbody id="hvm-rows">{rows}</tbody></table></div>{run}</section>"#,
        title = ctx.t("hvm_title"),
        computed = ctx.t("hvm_computed"),
        when = esc(&super::assess::date_of(study.created_at_ms)),
        net = ctx.t("hvm_network"),
        network = esc(&study.network),
        vehicle = ctx.t("hvm_vehicle"),
        map_label = ctx.t("hvm_map_label"),
        legend = ctx.t("hvm_legend"),
        data = script_json(&json!({"paths": paths})),
        caption = ctx.t("hvm_table_caption"),
        ap = ctx.t("hvm_access_point"),
        street = ctx.t("hvm_street"),
        speed = ctx.t("hvm_speed"),
        energy = ctx.t("hvm_energy"),
        runup = ctx.t("hvm_run_up"),
        angle = ctx.t("hvm_angle"),
    )
}

async fn site_page(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(param): Query<LangParam>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let ctx = match page_ctx(&state, &headers, param.lang.as_deref()).await? {
        Ok(ctx) => ctx,
        Err(redirect) => return Ok(redirect),
    };
    let site = state.app.site(&ctx.caller, &id).await?;
    let study = state.app.latest_hvm_study(&ctx.caller, &site.id).await?;
    let can_write = ctx.caller.can_write_org(&site.org_id);
    let lang = ctx.lang;
    let edit = if can_write {
        format!(r#"<a class="button" href="/sites/{}/edit">{}</a>"#, esc(&site.id), ctx.t("edit_site"))
    } else {
        String::new()
    };
    let start = if can_write {
        let levels: String = (1..=5)
            .map(|l| {
                format!(
                    r#"<option value="{l}"{}>{l} – {}</option>"#,
                    if l == 3 { " selected" } else { "" },
                    ctx.t(&format!("threat_{l}"))
                )
            })
            .collect();
        // Scoring needs the people exposed: asked here when the site has no figure on record.
        let occupancy = if site.peak_occupancy.is_none() {
            format!(
                r#"<div><label for="start-occ">{}</label><input id="start-occ" name="occupancy" type="number" min="1" step="1" required></div>"#,
                ctx.t("start_occupancy")
            )
        } else {
            String::new()
        };
        format!(
            r#"<form id="start-assessment" class="inline-form" data-site="{id}"><div><label for="threat">{threat}</label><select id="threat" name="threat_level">{levels}</select></div>{occupancy}<button type="submit">{start}</button></form>"#,
            id = esc(&site.id),
            threat = ctx.t("threat_level"),
            start = ctx.t("start_assessment"),
        )
    } else {
        String::new()
    };
    let body = format!(
        r#"<p><a href="/">← {back}</a></p><div class="title-row"><h1>{name}</h1>{edit}</div>
<dl class="facts"><dt>{cat_l}</dt><dd>{cat}</dd><dt>{area_l}</dt><dd>{area:.0} m²</dd><dt>{addr_l}</dt><dd>{addr}</dd><dt>{occ_l}</dt><dd>{occ}</dd><dt>{ver_l}</dt><dd>{version}</dd></dl>
<div id="map" class="map" role="region" aria-label="{map_label}" data-streets="/ui/streets"></div>
<script id="map-data" type="application/json">{data}</script>
<section aria-labelledby="as-h"><h2 id="as-h">{assessments}</h2><ul id="assessment-list" data-site="{id}" class="plain"><li>{loading}</li></ul>{start}<p id="start-status" role="status" aria-live="polite"></p></section>
{hvm}"#,
        back = ctx.t("sites_title"),
        name = esc(&site.name),
        cat_l = ctx.t("site_category"),
        cat = esc(site.category.name(lang)),
        area_l = ctx.t("site_area_short"),
        area = site.area_m2,
        addr_l = ctx.t("site_address"),
        addr = esc(site.address.as_deref().unwrap_or("–")),
        occ_l = ctx.t("site_occupancy"),
        occ = site.peak_occupancy.map(|o| o.to_string()).unwrap_or_else(|| "–".to_owned()),
        ver_l = ctx.t("site_version"),
        version = site.version,
        map_label = ctx.t("map_label"),
        data = script_json(&json!({"sites": map_sites(&[&site])})),
        assessments = ctx.t("assessments_title"),
        id = esc(&site.id),
        loading = ctx.t("loading"),
        hvm = hvm_section(&ctx, &site, study.as_ref(), can_write, state.app.street_network().is_some()),
    );
    Ok(render(&ctx, Page { title: &site.name, body, scripts: &["leaflet.js", "map.js"], map: true }))
}

fn site_form(ctx: &Ctx, site: Option<&Site>) -> String {
    let value = |f: fn(&Site) -> String| site.map(f).unwrap_or_default();
    let data = json!({
        "id": site.map(|s| s.id.clone()),
        "version": site.map(|s| s.version),
        "geometry": site.map(|s| s.geometry.clone()),
        "tags": site.map(|s| json!(s.tags)).unwrap_or(json!({})),
    });
    format!(
        r#"<form id="site-form" class="card" novalidate>
<label for="s-name">{name_l}</label><input id="s-name" name="name" required maxlength="200" value="{name}">
<label for="s-cat">{cat_l}</label><select id="s-cat" name="category" required>{options}</select>
<label for="s-addr">{addr_l}</label><input id="s-addr" name="address" value="{addr}">
<label for="s-occ">{occ_l}</label><input id="s-occ" name="peak_occupancy" type="number" min="0" inputmode="numeric" value="{occ}">
<fieldset><legend>{geom_l}</legend><p id="draw-help">{draw_help}</p>
<div id="map" class="map" role="application" aria-label="{map_label}" aria-describedby="draw-help" data-streets="/ui/streets" data-draw="true"></div>
<p><span id="vertex-count" aria-live="polite"></span></p>
<div class="actions"><button type="button" id="add-centre" class="secondary">{add_centre}</button><button type="button" id="undo-vertex" class="secondary">{undo}</button><button type="button" id="clear-polygon" class="secondary">{clear}</button></div>
<label for="s-file">{import_l}</label><input id="s-file" type="file" accept=".geojson,.json,application/geo+json,application/json">
</fieldset>
<script id="map-data" type="application/json">{map}</script>
<script id="site-data" type="application/json">{data}</script>
<p id="form-error" class="error" role="alert"></p>
<button type="submit">{save}</button></form>"#,
        name_l = ctx.t("site_name"),
        name = esc(&value(|s| s.name.clone())),
        cat_l = ctx.t("site_category"),
        options = category_options(ctx.lang, site.map(|s| s.category), false),
        addr_l = ctx.t("site_address"),
        addr = esc(&value(|s| s.address.clone().unwrap_or_default())),
        occ_l = ctx.t("site_occupancy"),
        occ = value(|s| s.peak_occupancy.map(|o| o.to_string()).unwrap_or_default()),
        geom_l = ctx.t("site_geometry"),
        draw_help = ctx.t("draw_help"),
        map_label = ctx.t("map_label"),
        add_centre = ctx.t("add_vertex_centre"),
        undo = ctx.t("undo_vertex"),
        clear = ctx.t("clear_polygon"),
        import_l = ctx.t("import_geojson"),
        map = script_json(&json!({"sites": []})),
        save = ctx.t("save"),
    )
}

async fn new_site(
    State(state): State<AppState>,
    Query(param): Query<LangParam>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let ctx = match page_ctx(&state, &headers, param.lang.as_deref()).await? {
        Ok(ctx) => ctx,
        Err(redirect) => return Ok(redirect),
    };
    if !ctx.caller.can_write_org(&ctx.caller.org_id) {
        return Err(ApiError::forbidden("you may not create sites"));
    }
    let body = format!(
        r#"<p><a href="/">← {}</a></p><h1>{}</h1>{}"#,
        ctx.t("sites_title"),
        ctx.t("new_site"),
        site_form(&ctx, None)
    );
    Ok(render(
        &ctx,
        Page { title: &super::t(ctx.lang, "new_site"), body, scripts: &["leaflet.js", "map.js"], map: true },
    ))
}

async fn edit_site(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(param): Query<LangParam>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let ctx = match page_ctx(&state, &headers, param.lang.as_deref()).await? {
        Ok(ctx) => ctx,
        Err(redirect) => return Ok(redirect),
    };
    let site = state.app.site(&ctx.caller, &id).await?;
    if !ctx.caller.can_write_org(&site.org_id) {
        return Err(ApiError::forbidden("you may read this site but not change it"));
    }
    let body = format!(
        r#"<p><a href="/sites/{}">← {}</a></p><h1>{}: {}</h1>{}"#,
        esc(&site.id),
        esc(&site.name),
        ctx.t("edit_site"),
        esc(&site.name),
        site_form(&ctx, Some(&site))
    );
    Ok(render(
        &ctx,
        Page { title: &super::t(ctx.lang, "edit_site"), body, scripts: &["leaflet.js", "map.js"], map: true },
    ))
}

#[derive(Debug, Deserialize)]
struct StreetParams {
    bbox: String,
}

fn round6(v: f64) -> f64 {
    (v * 1e6).round() / 1e6
}

/// The street segments in a box, as `[lon1, lat1, lon2, lat2]`, each street once whatever its
/// directions. Signed-in callers only: the map is part of the pages.
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
    for node in graph.nodes_in_box(bbox.west, bbox.south, bbox.east, bbox.north) {
        for edge in graph.out_edges(node) {
            let end = graph.edge_end(edge);
            if !seen.insert((node.min(end), node.max(end))) {
                continue;
            }
            if segments.len() >= MAX_SEGMENTS {
                return Ok(Json(json!({"segments": [], "network": network.name, "too_many": true})).into_response());
            }
            let (a, b) = (graph.lon_lat(node), graph.lon_lat(end));
            segments.push([round6(a.0), round6(a.1), round6(b.0), round6(b.1)]);
        }
    }
    Ok(Json(json!({"segments": segments, "network": network.name})).into_response())
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(registry))
        .route("/sites/new", get(new_site))
        .route("/sites/{id}", get(site_page))
        .route("/sites/{id}/edit", get(edit_site))
        .route("/ui/streets", get(streets))
}
