//! Hand-computed cases and properties of the HVM engine (one integration-test binary).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // a test fails loudly

use proptest::prelude::*;
use vigie_domain::geometry::SiteGeometry;
use vigie_hvm::dynamics::{KMH_PER_MS, corner_radius};
use vigie_hvm::graph::{EARTH_RADIUS_M, WaySpec};
use vigie_hvm::rating::Rating;
use vigie_hvm::vda::Impact;
use vigie_hvm::{Analyser, DynamicsParams, StreetGraph, VdaResult, VehicleClass, VehicleSet, analyse_site, synthetic};

const LON0: f64 = 24.95;
const LAT0: f64 = 60.17;

/// Degrees for a point `x` m east and `y` m north of the origin (same planar model as the crate).
fn at(x: f64, y: f64) -> (f64, f64) {
    let ky = EARTH_RADIUS_M.to_radians();
    let kx = ky * LAT0.to_radians().cos();
    (LON0 + x / kx, LAT0 + y / ky)
}

fn way(id: i64, nodes: &[(i64, f64, f64)]) -> WaySpec {
    WaySpec {
        osm_way: id,
        highway: "residential".into(),
        nodes: nodes.iter().map(|&(n, x, y)| (n, at(x, y).0, at(x, y).1)).collect(),
    }
}

/// A rectangle site from (x0, y0) to (x1, y1) metres.
fn site(x0: f64, y0: f64, x1: f64, y1: f64) -> SiteGeometry {
    let ring: Vec<[f64; 2]> =
        [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)].iter().map(|&(x, y)| [at(x, y).0, at(x, y).1]).collect();
    SiteGeometry::from_geojson(&serde_json::json!({"type": "Polygon", "coordinates": [ring]})).unwrap()
}

fn n3c() -> VehicleClass {
    VehicleSet::default_set().unwrap().get("N3C").unwrap().clone()
}

fn run(graph: &StreetGraph, s: &SiteGeometry) -> VdaResult {
    analyse_site(graph, s, &[n3c()], &DynamicsParams::default())
}

/// The access point nearest to (x, y) metres and its N3C impact.
fn impact_near(r: &VdaResult, x: f64, y: f64) -> Impact {
    let (lon, lat) = at(x, y);
    let ap = r
        .access_points
        .iter()
        .min_by(|a, b| {
            ((a.lon - lon).abs() + (a.lat - lat).abs()).total_cmp(&((b.lon - lon).abs() + (b.lat - lat).abs()))
        })
        .unwrap();
    ap.vehicles["N3C"].clone()
}

fn kmh(v: f64) -> f64 {
    v * KMH_PER_MS
}

#[test]
fn straight_road() {
    // West of the site a straight 200 m road (nodes every 50 m) runs through it, and 10 m beyond.
    let g = StreetGraph::from_ways(
        &[way(
            1,
            &[
                (1, -200.0, 0.0),
                (2, -150.0, 0.0),
                (3, -100.0, 0.0),
                (4, -50.0, 0.0),
                (5, -10.0, 0.0),
                (6, 20.0, 0.0),
                (7, 50.0, 0.0),
            ],
        )],
        &[],
    );
    let r = run(&g, &site(0.0, -20.0, 40.0, 20.0));
    assert_eq!(r.access_points.len(), 2, "{:?}", r.access_points);
    let west = impact_near(&r, 0.0, 0.0);
    let expected = kmh(n3c().speed_after(0.0, 200.0));
    assert!((west.speed_kmh - expected).abs() < 0.15, "{} vs {expected}", west.speed_kmh);
    assert!((west.run_up_m - 200.0).abs() < 0.5, "{}", west.run_up_m);
    assert!((west.angle_deg - 90.0).abs() < 0.1);
    assert_eq!(west.path.len(), 6, "5 nodes then the crossing");
    assert!((west.energy_kj - 0.5 * 7200.0 * (west.speed_kmh / 3.6f64).powi(2) / 1000.0).abs() < 2.0);
    // From the east end: 10 m of run-up only, never through the site.
    let east = impact_near(&r, 40.0, 0.0);
    assert!((east.speed_kmh - kmh(n3c().speed_after(0.0, 10.0))).abs() < 0.15, "{}", east.speed_kmh);
}

#[test]
fn long_run_up_beyond_the_local_radius() {
    let nodes: Vec<(i64, f64, f64)> =
        (0..=40).map(|i| (i + 1, -2000.0 + 50.0 * i as f64, 0.0)).chain([(100, 10.0, 0.0)]).collect();
    let g = StreetGraph::from_ways(&[way(1, &nodes)], &[]);
    let r = run(&g, &site(0.0, -20.0, 40.0, 20.0));
    let i = impact_near(&r, 0.0, 0.0);
    let expected = kmh(n3c().speed_after(0.0, 2000.0));
    assert!((i.speed_kmh - expected).abs() < 0.3, "{} vs {expected}", i.speed_kmh);
    assert!((i.run_up_m - 2000.0).abs() < 1.0);
}

#[test]
fn one_bend() {
    // 200 m southwards, a right-angle bend at B (-50, 0), then 70 m eastwards into the site.
    let g = StreetGraph::from_ways(&[way(1, &[(1, -50.0, 200.0), (2, -50.0, 0.0), (3, 20.0, 0.0)])], &[]);
    let r = run(&g, &site(0.0, -20.0, 40.0, 20.0));
    let i = impact_near(&r, 0.0, 0.0);
    let p = DynamicsParams::default();
    let radius = corner_radius(200.0, 70.0, std::f64::consts::FRAC_PI_2);
    assert!((radius - 35.0).abs() < 1e-9);
    let limit = p.corner_speed(radius);
    let before = n3c().speed_after(0.0, 200.0);
    assert!(before > limit, "the bend must bind in this case");
    let expected = kmh(n3c().speed_after(limit, 50.0));
    assert!((i.speed_kmh - expected).abs() < 0.2, "{} vs {expected}", i.speed_kmh);
    assert!((i.run_up_m - 50.0).abs() < 0.5, "run-up restarts at the bend: {}", i.run_up_m);
    // Higher friction lets the truck through the bend faster.
    let fast = analyse_site(
        &g,
        &site(0.0, -20.0, 40.0, 20.0),
        &[n3c()],
        &DynamicsParams { friction: 1.0, ..DynamicsParams::default() },
    );
    assert!(impact_near(&fast, 0.0, 0.0).speed_kmh > i.speed_kmh);
}

#[test]
fn u_turn_forces_a_stop() {
    // A: run-up eastwards to B, where the only way on is back westwards (180°) to C, then south
    // and east into the site. The run-up A→B must give nothing.
    let hairpin = [
        way(1, &[(1, -300.0, 30.0), (2, -50.0, 30.0), (3, -150.0, 30.0)]),
        way(2, &[(3, -150.0, 30.0), (4, -150.0, 0.0), (5, 20.0, 0.0)]),
    ];
    let without_run_up = [
        way(1, &[(2, -50.0, 30.0), (3, -150.0, 30.0)]),
        way(2, &[(3, -150.0, 30.0), (4, -150.0, 0.0), (5, 20.0, 0.0)]),
    ];
    let s = site(0.0, -20.0, 40.0, 20.0);
    let with = impact_near(&run(&StreetGraph::from_ways(&hairpin, &[]), &s), 0.0, 0.0);
    let without = impact_near(&run(&StreetGraph::from_ways(&without_run_up, &[]), &s), 0.0, 0.0);
    assert!((with.speed_kmh - without.speed_kmh).abs() < 0.05, "{} vs {}", with.speed_kmh, without.speed_kmh);
}

#[test]
fn bollard_cuts_the_only_approach() {
    let road = [way(1, &[(1, -200.0, 0.0), (2, -100.0, 0.0), (3, -5.0, 0.0), (4, 10.0, 0.0)])];
    let s = site(0.0, -20.0, 40.0, 20.0);
    let open = run(&StreetGraph::from_ways(&road, &[]), &s);
    assert!(open.assumed_barriers.is_empty());
    let bollard = vec![(
        2i64,
        vec![("barrier".to_string(), "bollard".to_string()), ("bollard".to_string(), "fixed".to_string())],
    )];
    let cut = run(&StreetGraph::from_ways(&road, &bollard), &s);
    let i = impact_near(&cut, 0.0, 0.0);
    // The vehicle can only start from rest at the bollard (or after it): 100 m of run-up.
    assert!((i.speed_kmh - kmh(n3c().speed_after(0.0, 100.0))).abs() < 0.15, "{}", i.speed_kmh);
    assert!(i.speed_kmh < impact_near(&open, 0.0, 0.0).speed_kmh);
    assert_eq!(cut.assumed_barriers.len(), 1);
    assert_eq!((cut.assumed_barriers[0].osm_node, cut.assumed_barriers[0].bollard.as_deref()), (2, Some("fixed")));
    // A bollard where the road meets the site boundary leaves a few metres only.
    let at_edge = vec![(3i64, vec![("barrier".to_string(), "block".to_string())])];
    let r = run(&StreetGraph::from_ways(&road, &at_edge), &s);
    assert!(impact_near(&r, 0.0, 0.0).speed_kmh < kmh(n3c().speed_after(0.0, 5.5)));
}

#[test]
fn site_without_road_access() {
    // A road passing 30 m south of the site, never entering it.
    let g = StreetGraph::from_ways(&[way(1, &[(1, -300.0, -50.0), (2, 300.0, -50.0)])], &[]);
    let r = run(&g, &site(0.0, -20.0, 40.0, 20.0));
    assert!(r.access_points.is_empty());
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["access_points"], serde_json::json!([]));
    assert_eq!(json["model"]["friction"], 0.6);
}

#[test]
fn json_shape_of_the_result() {
    let g = StreetGraph::from_ways(&[way(1, &[(1, -100.0, 0.0), (2, 10.0, 0.0)])], &[]);
    let v = serde_json::to_value(run(&g, &site(0.0, -20.0, 40.0, 20.0))).unwrap();
    let ap = &v["access_points"][0];
    assert_eq!(ap["id"], "AP1");
    for key in ["speed_kmh", "energy_kj", "run_up_m", "angle_deg", "path", "path_speeds_kmh"] {
        assert!(!ap["vehicles"]["N3C"][key].is_null(), "{key}");
    }
    assert!(v["assumed_barriers"].is_array());
    assert_eq!(v["model"]["vehicles"][0]["key"], "N3C");
}

#[test]
fn many_sites_on_one_graph_match_single_analyses() {
    let g = synthetic::city(12, 100.0, 3, LON0, LAT0, 0.05, 7);
    let sites = synthetic::sites(6, 12, 100.0, 60.0, LON0, LAT0, 7);
    let classes = VehicleSet::default_set().unwrap().classes;
    let analyser = Analyser::new(&g, &classes, &DynamicsParams::default());
    let all = analyser.analyse_sites(&sites);
    assert_eq!(all.len(), sites.len());
    for (s, r) in sites.iter().zip(&all) {
        assert_eq!(&analyse_site(&g, s, &classes, &DynamicsParams::default()), r);
    }
    assert!(all.iter().any(|r| !r.access_points.is_empty()));
}

#[test]
fn geojson_and_svg_outputs() {
    let g = StreetGraph::from_ways(&[way(1, &[(1, -100.0, 0.0), (2, 10.0, 0.0)])], &[]);
    let s = site(0.0, -20.0, 40.0, 20.0);
    let r = run(&g, &s);
    let fc = vigie_hvm::render::to_geojson(&s, &r);
    assert_eq!(fc["type"], "FeatureCollection");
    let kinds: Vec<&str> =
        fc["features"].as_array().unwrap().iter().map(|f| f["properties"]["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["site", "access_point", "critical_path"]);
    let svg = vigie_hvm::render::to_svg(&g, &s, &r, &n3c(), &DynamicsParams::default(), "Test");
    assert!(
        svg.starts_with("<svg") && svg.contains("km/h") && svg.contains("AP1") && svg.trim_end().ends_with("</svg>")
    );
}

#[test]
fn path_speeds_follow_the_model() {
    let g = StreetGraph::from_ways(&[way(1, &[(1, -50.0, 200.0), (2, -50.0, 0.0), (3, 20.0, 0.0)])], &[]);
    let i = impact_near(&run(&g, &site(0.0, -20.0, 40.0, 20.0)), 0.0, 0.0);
    let limit = kmh(DynamicsParams::default().corner_speed(35.0));
    assert_eq!(i.path_speeds_kmh.len(), i.path.len());
    assert_eq!(i.path_speeds_kmh[0], 0.0);
    assert!((i.path_speeds_kmh[1] - limit).abs() < 0.1, "{:?}", i.path_speeds_kmh);
    assert_eq!(*i.path_speeds_kmh.last().unwrap(), i.speed_kmh);
}

#[test]
fn rating_check_end_to_end() {
    let r = Rating::parse("V/7200[N3C]/64/90:1.1").unwrap();
    let c = vigie_hvm::check(&r, &n3c(), 55.0, 90.0, Some(5.0));
    assert!(c.covers);
    let v = serde_json::to_value(&c).unwrap();
    assert_eq!(v["covers"], true);
    assert_eq!(v["reasons"].as_array().unwrap().len(), 5);
}

#[test]
fn recommendation_lists_covering_products_and_bends() {
    let g = StreetGraph::from_ways(&[way(1, &[(1, -100.0, 0.0), (2, 10.0, 0.0)])], &[]);
    let r = run(&g, &site(0.0, -20.0, 40.0, 20.0));
    let csv = "manufacturer,product,standard,rating,foundation,width\nA,Fast,IWA 14-1,V/7200[N3C]/80/90:1.1,C,1.2\nA,Slow,IWA 14-1,V/7200[N3C]/32/90:0.5,C,1.2\nA,Car,IWA 14-1,V/1500[M1]/112/90:0,A,1\n";
    let cat = vigie_hvm::Catalogue::from_csv(csv).unwrap();
    let rec = vigie_hvm::recommend(
        &r,
        &cat,
        &[n3c()],
        &DynamicsParams::default(),
        &vigie_hvm::RecommendParams { standoff_m: Some(5.0), bend_distance_m: 20.0 },
    );
    let req = &rec.access_points[0].requirements[0];
    let speed = req.impact_speed_kmh;
    assert!(speed > 48.0 && speed < 64.0, "{speed}");
    assert_eq!(req.min_test_speed_kmh, Some(64.0));
    assert_eq!(req.products.iter().map(|p| p.product.as_str()).collect::<Vec<_>>(), ["Fast"]);
    // Bringing it under 48 km/h: a bend at 20 m of radius r lets it reach exactly 48 km/h.
    let opt = req.speed_reduction.iter().find(|o| o.target_speed_kmh == 48.0).unwrap();
    let radius = opt.max_radius_at_distance_m.unwrap();
    let v_bend = DynamicsParams::default().corner_speed(radius);
    assert!((kmh(n3c().speed_after(v_bend, 20.0)) - 48.0).abs() < 0.2);
}

fn speeds(r: &VdaResult) -> Vec<f64> {
    r.access_points.iter().flat_map(|a| a.vehicles.values().map(|i| i.speed_kmh)).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn more_friction_never_lowers_a_speed(seed in 0u64..1000, f in 0.3f64..0.9, extra in 0.0f64..0.5) {
        let g = synthetic::city(8, 90.0, 3, LON0, LAT0, 0.05, seed);
        let s = synthetic::sites(2, 8, 90.0, 50.0, LON0, LAT0, seed);
        let classes = [n3c()];
        for site in &s {
            let low = analyse_site(&g, site, &classes, &DynamicsParams { friction: f, ..DynamicsParams::default() });
            let high = analyse_site(&g, site, &classes, &DynamicsParams { friction: f + extra, ..DynamicsParams::default() });
            for (a, b) in speeds(&low).iter().zip(speeds(&high)) {
                prop_assert!(b >= a - 0.1, "{a} -> {b}");
            }
        }
    }

    #[test]
    fn longer_run_up_never_lowers_a_speed(l1 in 1.0f64..3000.0, more in 0.0f64..500.0, bend in 0.0f64..80.0) {
        let s = site(0.0, -20.0, 40.0, 20.0);
        let road = |l: f64| StreetGraph::from_ways(&[way(1, &[(1, -30.0 - l, bend), (2, -30.0, 0.0), (3, 10.0, 0.0)])], &[]);
        let short = impact_near(&run(&road(l1), &s), 0.0, 0.0).speed_kmh;
        let long = impact_near(&run(&road(l1 + more), &s), 0.0, 0.0).speed_kmh;
        prop_assert!(long >= short - 0.1, "{short} -> {long}");
    }

    #[test]
    fn a_barrier_never_raises_a_speed(seed in 0u64..1000) {
        let open = synthetic::city(8, 90.0, 3, LON0, LAT0, 0.0, seed);
        let blocked = synthetic::city(8, 90.0, 3, LON0, LAT0, 0.3, seed);
        let classes = [n3c()];
        for site in &synthetic::sites(2, 8, 90.0, 50.0, LON0, LAT0, seed) {
            let a = analyse_site(&open, site, &classes, &DynamicsParams::default());
            let b = analyse_site(&blocked, site, &classes, &DynamicsParams::default());
            prop_assert_eq!(a.access_points.len(), b.access_points.len());
            for (x, y) in speeds(&a).iter().zip(speeds(&b)) {
                prop_assert!(y <= x + 0.1, "{x} -> {y}");
            }
        }
    }
}

#[test]
fn senate_square_on_the_helsinki_extract() {
    let pbf = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/demo/helsinki-centre.osm.pbf"));
    if !pbf.exists() {
        eprintln!("skipped: {} is absent", pbf.display());
        return;
    }
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/senaatintori.geojson")).unwrap();
    let site = vigie_hvm::site_from_geojson(&serde_json::from_str(&text).unwrap()).unwrap();
    let graph = vigie_hvm::osm::load_graph(pbf, &vigie_hvm::GraphOptions::default(), &vigie_osm::NoProgress).unwrap();
    assert!(graph.edge_count() > 5_000, "{}", graph.edge_count());
    let classes = VehicleSet::default_set().unwrap().classes;
    let r = analyse_site(&graph, &site, &classes, &DynamicsParams::default());
    assert!(!r.access_points.is_empty());
    for ap in &r.access_points {
        assert_eq!(ap.vehicles.len(), classes.len());
        let (car, truck) = (ap.vehicles["M1"].speed_kmh, ap.vehicles["N3F"].speed_kmh);
        assert!(car >= truck && truck > 5.0 && car < 180.0, "{} {car} {truck}", ap.id);
        // A loop in the predecessors is cut where the path enters it, never walked round again.
        for impact in ap.vehicles.values() {
            let distinct: std::collections::HashSet<String> = impact.path.iter().map(|p| format!("{p:?}")).collect();
            assert!(impact.path.len() <= distinct.len() + 1, "{} {}", impact.path.len(), distinct.len());
        }
    }
}

#[test]
fn site_files_in_every_geojson_wrapper() {
    let polygon = site(0.0, 0.0, 40.0, 40.0).to_geojson();
    let feature = serde_json::json!({"type": "Feature", "properties": {}, "geometry": polygon});
    let collection = serde_json::json!({"type": "FeatureCollection", "features": [feature]});
    for v in [&polygon, &feature, &collection] {
        assert!(vigie_hvm::site_from_geojson(v).is_ok());
    }
    let two = serde_json::json!({"type": "FeatureCollection", "features": [feature, feature]});
    let e = vigie_hvm::site_from_geojson(&two).unwrap_err();
    assert_eq!(e.code(), "site_geometry_invalid");
    assert!(e.to_string().contains("exactly one"));
    assert!(vigie_hvm::site_from_geojson(&serde_json::json!({"type": "Point", "coordinates": [0, 0]})).is_err());
}
