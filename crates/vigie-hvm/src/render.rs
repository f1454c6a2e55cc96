//! Outputs for people and maps: a GeoJSON FeatureCollection and a hand-written SVG map with the
//! site, the streets around it and the critical paths coloured by speed.
use std::fmt::Write;

use serde_json::{Value, json};
use vigie_domain::geometry::SiteGeometry;

use crate::dynamics::{DynamicsParams, VehicleClass};
use crate::graph::{EARTH_RADIUS_M, StreetGraph};
use crate::vda::VdaResult;

/// The VDA result as a GeoJSON FeatureCollection: the site, one point per access point, one
/// line per critical path and class, one point per barrier relied on; `model` as a foreign member.
pub fn to_geojson(site: &SiteGeometry, result: &VdaResult) -> Value {
    let mut features = vec![json!({"type": "Feature", "geometry": site.to_geojson(), "properties": {"kind": "site"}})];
    for ap in &result.access_points {
        let summary: serde_json::Map<String, Value> = ap.vehicles.iter().map(|(k, i)| (k.clone(), json!({"speed_kmh": i.speed_kmh, "energy_kj": i.energy_kj, "run_up_m": i.run_up_m, "angle_deg": i.angle_deg}))).collect();
        features.push(json!({"type": "Feature", "geometry": {"type": "Point", "coordinates": [ap.lon, ap.lat]}, "properties": {"kind": "access_point", "id": ap.id, "osm_way": ap.osm_way, "highway": ap.highway, "vehicles": summary}}));
        for (class, impact) in &ap.vehicles {
            features.push(json!({"type": "Feature", "geometry": {"type": "LineString", "coordinates": impact.path}, "properties": {"kind": "critical_path", "access_point": ap.id, "vehicle_class": class, "speed_kmh": impact.speed_kmh, "run_up_m": impact.run_up_m}}));
        }
    }
    for b in &result.assumed_barriers {
        features.push(json!({"type": "Feature", "geometry": {"type": "Point", "coordinates": [b.lon, b.lat]}, "properties": {"kind": "assumed_barrier", "osm_node": b.osm_node, "barrier": b.barrier, "bollard": b.bollard}}));
    }
    json!({"type": "FeatureCollection", "features": features, "model": result.model})
}

/// Speed bands (km/h) of the map, on the test speeds of the standards.
const BANDS: &[(f64, &str)] = &[
    (16.0, "#1a9850"),
    (32.0, "#91cf60"),
    (48.0, "#fee08b"),
    (64.0, "#fc8d59"),
    (80.0, "#d73027"),
    (f64::INFINITY, "#7f0000"),
];

fn band_colour(kmh: f64) -> &'static str {
    BANDS.iter().find(|(top, _)| kmh < *top).map(|(_, c)| *c).unwrap_or("#7f0000")
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// An SVG map of one class's critical paths: site, streets, paths coloured by speed, access
/// points with their impact speed, barriers relied on, legend in km/h, scale bar and title.
pub fn to_svg(
    graph: &StreetGraph,
    site: &SiteGeometry,
    result: &VdaResult,
    class: &VehicleClass,
    params: &DynamicsParams,
    title: &str,
) -> String {
    let Some(bbox) = site.bounding_box() else { return String::new() };
    let ky = EARTH_RADIUS_M.to_radians();
    let kx = ky * ((bbox.south + bbox.north) / 2.0).to_radians().cos();
    // The view: the site with a margin of a quarter of its size, at least 120 m, so the streets
    // leading in can be seen; long critical paths are clipped.
    let margin_m = ((bbox.east - bbox.west) * kx).max((bbox.north - bbox.south) * ky) * 0.25 + 120.0;
    let (west, east) = (bbox.west - margin_m / kx, bbox.east + margin_m / kx);
    let (south, north) = (bbox.south - margin_m / ky, bbox.north + margin_m / ky);
    let width_m = (east - west) * kx;
    let height_m = (north - south) * ky;
    let map_w = 900.0;
    let scale = map_w / width_m;
    let map_h = height_m * scale;
    let (top, legend_w) = (70.0, 190.0);
    let (w, h) = (map_w + legend_w + 30.0, map_h + top + 50.0);
    let px = |lon: f64, lat: f64| (10.0 + (lon - west) * kx * scale, top + (north - lat) * ky * scale);
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w:.0}" height="{h:.0}" viewBox="0 0 {w:.0} {h:.0}" font-family="sans-serif">"#
    );
    let _ = writeln!(
        svg,
        r##"<rect width="100%" height="100%" fill="#ffffff"/><defs><clipPath id="map"><rect x="10" y="{top}" width="{map_w:.1}" height="{map_h:.1}"/></clipPath></defs>"##
    );
    let _ = writeln!(svg, r#"<text x="10" y="28" font-size="20" font-weight="bold">{}</text>"#, esc(title));
    let _ = writeln!(
        svg,
        r##"<text x="10" y="52" font-size="13" fill="#444">Vehicle / véhicule {} ({} kg, a0 {} m/s², vmax {} km/h) · friction {} · {} access points / points d'accès</text>"##,
        esc(&class.key),
        class.mass_kg,
        class.a0_ms2,
        class.vmax_kmh,
        params.friction,
        result.access_points.len()
    );
    let _ = writeln!(
        svg,
        r##"<g clip-path="url(#map)"><rect x="10" y="{top}" width="{map_w:.1}" height="{map_h:.1}" fill="#f4f1ea"/>"##
    );
    // Site polygon(s), holes drawn with the even-odd rule.
    let mut d = String::new();
    for polygon in site.shape() {
        for ring in std::iter::once(polygon.exterior()).chain(polygon.interiors()) {
            for (i, c) in ring.coords().enumerate() {
                let (x, y) = px(c.x, c.y);
                let _ = write!(d, "{}{x:.1},{y:.1} ", if i == 0 { "M" } else { "L" });
            }
            d.push_str("Z ");
        }
    }
    let _ = writeln!(
        svg,
        r##"<path d="{d}" fill="#9ecae1" fill-opacity="0.55" stroke="#08519c" stroke-width="2" fill-rule="evenodd"/>"##
    );
    // Streets in view, each segment once.
    let mut streets = String::new();
    let mut paths_ped = String::new();
    for n in
        graph.nodes_in_box(west - margin_m / kx, south - margin_m / ky, east + margin_m / kx, north + margin_m / ky)
    {
        for e in graph.out_edges(n) {
            // Only what the graph holds is drawn: an edge is skipped if any part of it is missing.
            let (Some(&a), Some(&b)) = (graph.from.get(e), graph.to.get(e)) else { continue };
            if a > b {
                continue;
            }
            let (Some(&(lon1, lat1)), Some(&(lon2, lat2)), Some(way)) = (
                graph.coords.get(a as usize),
                graph.coords.get(b as usize),
                graph.way.get(e).and_then(|&w| graph.ways.get(w as usize)),
            ) else {
                continue;
            };
            let ((x1, y1), (x2, y2)) = (px(lon1, lat1), px(lon2, lat2));
            let highway = way.highway.as_str();
            let target =
                if matches!(highway, "pedestrian" | "footway" | "cycleway" | "path" | "bridleway" | "living_street") {
                    &mut paths_ped
                } else {
                    &mut streets
                };
            let _ = write!(target, "M{x1:.1},{y1:.1}L{x2:.1},{y2:.1}");
        }
    }
    let _ = writeln!(
        svg,
        r##"<path d="{streets}" stroke="#9a9a9a" stroke-width="3" stroke-linecap="round" fill="none"/>"##
    );
    let _ = writeln!(
        svg,
        r##"<path d="{paths_ped}" stroke="#c9b8a0" stroke-width="3" stroke-dasharray="6 3" fill="none"/>"##
    );
    // Critical paths, each segment coloured by the speed reached on it.
    for ap in &result.access_points {
        let Some(impact) = ap.vehicles.get(&class.key) else { continue };
        let points = impact.path.iter().zip(&impact.path_speeds_kmh);
        for ((&[lon1, lat1], kmh1), (&[lon2, lat2], kmh2)) in points.clone().zip(points.skip(1)) {
            let kmh = kmh1.max(*kmh2);
            let ((x1, y1), (x2, y2)) = (px(lon1, lat1), px(lon2, lat2));
            let _ = writeln!(
                svg,
                r#"<line x1="{x1:.1}" y1="{y1:.1}" x2="{x2:.1}" y2="{y2:.1}" stroke="{}" stroke-width="5" stroke-linecap="round"/>"#,
                band_colour(kmh)
            );
        }
    }
    for b in &result.assumed_barriers {
        let (x, y) = px(b.lon, b.lat);
        let _ = writeln!(
            svg,
            r##"<rect x="{:.1}" y="{:.1}" width="8" height="8" fill="#000"><title>OSM node {} barrier={}</title></rect>"##,
            x - 4.0,
            y - 4.0,
            b.osm_node,
            esc(&b.barrier)
        );
    }
    for ap in &result.access_points {
        let Some(impact) = ap.vehicles.get(&class.key) else { continue };
        let (x, y) = px(ap.lon, ap.lat);
        let colour = band_colour(impact.speed_kmh);
        let _ = writeln!(
            svg,
            r##"<circle cx="{x:.1}" cy="{y:.1}" r="7" fill="{colour}" stroke="#000" stroke-width="1.5"/>"##
        );
        let _ = writeln!(
            svg,
            r##"<text x="{:.1}" y="{:.1}" font-size="12" font-weight="bold" stroke="#fff" stroke-width="3" paint-order="stroke">{} {:.0} km/h</text>"##,
            x + 9.0,
            y - 6.0,
            esc(&ap.id),
            impact.speed_kmh
        );
    }
    svg.push_str("</g>\n");
    let _ =
        writeln!(svg, r##"<rect x="10" y="{top}" width="{map_w:.1}" height="{map_h:.1}" fill="none" stroke="#333"/>"##);
    // Scale bar: the largest round length under a fifth of the map width.
    let bar_m = [10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0]
        .into_iter()
        .rev()
        .find(|m| *m <= width_m / 5.0)
        .unwrap_or(10.0);
    let (bx, by) = (20.0, top + map_h - 18.0);
    let bar_px = bar_m * scale;
    let _ = writeln!(
        svg,
        r##"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="20" fill="#fff" fill-opacity="0.8"/><path d="M{bx:.1},{by:.1}h{bar_px:.1}M{bx:.1},{:.1}v10M{:.1},{:.1}v10" stroke="#000" stroke-width="2"/><text x="{:.1}" y="{:.1}" font-size="12">{bar_m} m</text>"##,
        bx - 5.0,
        by - 12.0,
        bar_px + 60.0,
        by - 5.0,
        bx + bar_px,
        by - 5.0,
        bx + bar_px + 6.0,
        by + 4.0
    );
    // Legend.
    let lx = map_w + 25.0;
    let _ =
        writeln!(svg, r#"<text x="{lx}" y="{}" font-size="14" font-weight="bold">Speed / vitesse</text>"#, top + 16.0);
    let mut low = 0.0;
    for (k, (high, colour)) in BANDS.iter().enumerate() {
        let y = top + 30.0 + k as f64 * 24.0;
        let label = if high.is_finite() { format!("{low:.0}–{high:.0} km/h") } else { format!("≥ {low:.0} km/h") };
        let _ = writeln!(
            svg,
            r#"<rect x="{lx}" y="{y}" width="28" height="14" fill="{colour}"/><text x="{}" y="{}" font-size="13">{label}</text>"#,
            lx + 36.0,
            y + 12.0
        );
        low = *high;
    }
    let y = top + 30.0 + BANDS.len() as f64 * 24.0 + 10.0;
    let _ = writeln!(
        svg,
        r##"<rect x="{lx}" y="{y}" width="28" height="14" fill="#9ecae1" stroke="#08519c"/><text x="{}" y="{}" font-size="13">site</text>"##,
        lx + 36.0,
        y + 12.0
    );
    let _ = writeln!(
        svg,
        r##"<line x1="{lx}" y1="{}" x2="{}" y2="{}" stroke="#9a9a9a" stroke-width="3"/><text x="{}" y="{}" font-size="13">street / rue</text>"##,
        y + 31.0,
        lx + 28.0,
        y + 31.0,
        lx + 36.0,
        y + 36.0
    );
    let _ = writeln!(
        svg,
        r##"<line x1="{lx}" y1="{}" x2="{}" y2="{}" stroke="#c9b8a0" stroke-width="3" stroke-dasharray="6 3"/><text x="{}" y="{}" font-size="13">pedestrian / piéton</text>"##,
        y + 55.0,
        lx + 28.0,
        y + 55.0,
        lx + 36.0,
        y + 60.0
    );
    let _ = writeln!(
        svg,
        r##"<circle cx="{}" cy="{}" r="6" fill="#fff" stroke="#000" stroke-width="1.5"/><text x="{}" y="{}" font-size="13">access point / accès</text>"##,
        lx + 14.0,
        y + 79.0,
        lx + 36.0,
        y + 84.0
    );
    let _ = writeln!(
        svg,
        r##"<rect x="{}" y="{}" width="8" height="8" fill="#000"/><text x="{}" y="{}" font-size="13">barrier relied on</text><text x="{}" y="{}" font-size="13">barrière supposée</text>"##,
        lx + 10.0,
        y + 99.0,
        lx + 36.0,
        y + 108.0,
        lx + 36.0,
        y + 124.0
    );
    let _ = writeln!(
        svg,
        r##"<text x="10" y="{:.1}" font-size="11" fill="#555">Speeds from the model in docs/hvm.md; OSM carries no crash rating. Map data © OpenStreetMap contributors, ODbL.</text>"##,
        top + map_h + 20.0
    );
    svg.push_str("</svg>\n");
    svg
}
