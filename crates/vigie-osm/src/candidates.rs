//! Public-space candidates: the named areas of an extract whose tags say they are one of
//! Vigie's site categories.
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use geo::{Coord, Polygon};
use serde::Serialize;
use vigie_domain::geometry::SiteGeometry;
use vigie_domain::site::SiteCategory;

use crate::rings::{assemble_polygons, ring_coords, stitch_rings};
use crate::{ExtractFilter, OsmError, OsmExtract, OsmNode, OsmRelation, OsmWay, Progress, read_extract};

/// One line of the tag → category table: every `(key, values)` condition must hold, the tag's
/// value being one of `values`.
#[derive(Debug)]
pub struct CategoryRule {
    pub category: SiteCategory,
    pub all_of: &'static [(&'static str, &'static [&'static str])],
}

/// How OSM tags map to site categories. The first rule that matches wins, so a cathedral also
/// tagged `tourism=attraction` is a place of worship, and a station with a museum a transport hub.
///
/// | tags | category |
/// | --- | --- |
/// | `amenity=place_of_worship` | `place_of_worship` |
/// | `amenity=marketplace` | `open_air_market` |
/// | `shop=mall`, `shop=department_store` | `shopping_centre` |
/// | `amenity=theatre\|arts_centre\|nightclub\|cinema\|concert_hall\|events_venue` | `venue` |
/// | `leisure=stadium`; `leisure=sports_centre` + `building=stadium` | `stadium` |
/// | `place=square` | `public_square` |
/// | `highway=pedestrian` + `area=yes` | `pedestrian_zone` |
/// | `railway=station`, `public_transport=station` | `transport_hub` |
/// | `tourism=attraction\|museum` | `tourist_site` |
pub const CATEGORY_RULES: &[CategoryRule] = &[
    CategoryRule { category: SiteCategory::PlaceOfWorship, all_of: &[("amenity", &["place_of_worship"])] },
    CategoryRule { category: SiteCategory::OpenAirMarket, all_of: &[("amenity", &["marketplace"])] },
    CategoryRule { category: SiteCategory::ShoppingCentre, all_of: &[("shop", &["mall", "department_store"])] },
    CategoryRule {
        category: SiteCategory::Venue,
        all_of: &[("amenity", &["theatre", "arts_centre", "nightclub", "cinema", "concert_hall", "events_venue"])],
    },
    CategoryRule { category: SiteCategory::Stadium, all_of: &[("leisure", &["stadium"])] },
    CategoryRule {
        category: SiteCategory::Stadium,
        all_of: &[("leisure", &["sports_centre"]), ("building", &["stadium"])],
    },
    CategoryRule { category: SiteCategory::PublicSquare, all_of: &[("place", &["square"])] },
    CategoryRule {
        category: SiteCategory::PedestrianZone,
        all_of: &[("highway", &["pedestrian"]), ("area", &["yes"])],
    },
    CategoryRule { category: SiteCategory::TransportHub, all_of: &[("railway", &["station"])] },
    CategoryRule { category: SiteCategory::TransportHub, all_of: &[("public_transport", &["station"])] },
    CategoryRule { category: SiteCategory::TouristSite, all_of: &[("tourism", &["attraction", "museum"])] },
];

fn tag<'t>(tags: &'t [(String, String)], key: &str) -> Option<&'t str> {
    tags.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// Where [`category_of`] keeps the value of each key the rules read. A `match` on the key is
/// much cheaper than a scan of the tags per rule, and this runs for every tagged node.
fn key_slot(key: &str) -> Option<usize> {
    Some(match key {
        "amenity" => 0,
        "shop" => 1,
        "leisure" => 2,
        "building" => 3,
        "place" => 4,
        "highway" => 5,
        "area" => 6,
        "railway" => 7,
        "public_transport" => 8,
        "tourism" => 9,
        _ => return None,
    })
}

/// The site category of an element with these tags, after [`CATEGORY_RULES`].
pub fn category_of(tags: &[(String, String)]) -> Option<SiteCategory> {
    let mut values: [Option<&str>; 10] = [None; 10];
    let mut any = false;
    for (key, value) in tags {
        if let Some(cell) = key_slot(key).and_then(|slot| values.get_mut(slot)) {
            *cell = Some(value);
            any = true;
        }
    }
    if !any {
        return None;
    }
    CATEGORY_RULES
        .iter()
        .find(|rule| {
            rule.all_of.iter().all(|(key, accepted)| {
                key_slot(key)
                    .and_then(|slot| values.get(slot).copied().flatten())
                    .is_some_and(|v| accepted.contains(&v))
            })
        })
        .map(|rule| rule.category)
}

/// The name to show: `name`, else the Finnish, English or Swedish name.
pub fn site_name(tags: &[(String, String)]) -> Option<&str> {
    ["name", "name:fi", "name:en", "name:sv"]
        .iter()
        .filter_map(|key| tag(tags, key))
        .map(str::trim)
        .find(|name| !name.is_empty())
}

/// A named area of the extract that could become a site.
#[derive(Debug, Clone, Serialize)]
pub struct SiteCandidate {
    /// `way/123` or `relation/456`.
    pub osm_ref: String,
    pub name: String,
    pub category: SiteCategory,
    #[serde(serialize_with = "geometry_as_geojson")]
    pub geometry: SiteGeometry,
    /// The element's OSM tags.
    pub tags: BTreeMap<String, String>,
    /// The names of the two closest named streets (within [`NEAREST_STREET_MAX_M`] of the
    /// site's centre, other than the site's own name), closest first: they tell apart sites of
    /// the same name (two stretches of one pedestrian street), and place squares and streets,
    /// which have no address.
    pub nearest_streets: Vec<String>,
}

fn geometry_as_geojson<S: serde::Serializer>(geometry: &SiteGeometry, serializer: S) -> Result<S::Ok, S::Error> {
    geometry.to_geojson().serialize(serializer)
}

/// Candidates sorted by element (relations, then ways, by id), and how many tagged features
/// were left out, by reason:
/// - `no_area`: a node, an unclosed way, or `area=no`;
/// - `unnamed`: no `name`, `name:fi`, `name:en` or `name:sv`;
/// - `incomplete_way` / `incomplete_relation`: nodes or member ways are outside the extract;
/// - `invalid_geometry`: the outline does not close, self-intersects, or its area is not
///   plausible for a site (see [`SiteGeometry::from_polygons`]);
/// - `duplicate`: a way that is the outline of a candidate relation of the same name and category.
#[derive(Debug, Default, Serialize)]
pub struct CandidateReport {
    pub candidates: Vec<SiteCandidate>,
    pub skipped: BTreeMap<String, u64>,
    pub nodes_read: u64,
}

impl CandidateReport {
    /// How many candidates each category has (categories without any are absent).
    pub fn count_by_category(&self) -> BTreeMap<SiteCategory, u64> {
        let mut counts = BTreeMap::new();
        for candidate in &self.candidates {
            *counts.entry(candidate.category).or_default() += 1;
        }
        counts
    }

    fn skip(&mut self, reason: &str) {
        *self.skipped.entry(reason.to_owned()).or_default() += 1;
    }
}

/// Reads `path` and lists its public-space candidates.
pub fn find_public_spaces(path: &Path, progress: &dyn Progress) -> Result<CandidateReport, OsmError> {
    let mapped = |tags: &crate::Tags| category_of(tags).is_some() || is_named_street(tags);
    let multipolygon = |tags: &crate::Tags| tag(tags, "type") == Some("multipolygon") && category_of(tags).is_some();
    let filter = ExtractFilter { keep_way: &mapped, keep_node: &mapped, keep_relation: &multipolygon };
    let extract = read_extract(path, &filter, progress)?;
    Ok(candidates_from_extract(&extract))
}

/// Why an element yields no area.
enum AreaError {
    Incomplete,
    Invalid,
}

/// The candidates of an extract already read (see [`find_public_spaces`]).
pub fn candidates_from_extract(extract: &OsmExtract) -> CandidateReport {
    let mut report = CandidateReport { nodes_read: extract.nodes_read, ..CandidateReport::default() };
    let tagged_nodes =
        extract.nodes.values().filter(|n| n.tags.as_deref().is_some_and(|t| category_of(t).is_some())).count();
    for _ in 0..tagged_nodes {
        report.skip("no_area");
    }
    let ways: HashMap<i64, &OsmWay> = extract.ways.iter().map(|w| (w.id, w)).collect();
    let coord = |id: i64| extract.nodes.get(&id).map(|n: &OsmNode| Coord { x: n.lon, y: n.lat });
    // Outer ways of candidate relations, with the place they outline.
    let mut outlines: HashSet<(i64, String, SiteCategory)> = HashSet::new();
    let mut candidates = Vec::new();

    for relation in &extract.relations {
        let Some(category) = category_of(&relation.tags) else { continue };
        if tag(&relation.tags, "type") != Some("multipolygon") {
            continue;
        }
        let Some(name) = site_name(&relation.tags) else {
            report.skip("unnamed");
            continue;
        };
        let polygons = match relation_polygons(relation, &ways, &coord) {
            Ok(polygons) => polygons,
            Err(AreaError::Incomplete) => {
                report.skip("incomplete_relation");
                continue;
            }
            Err(AreaError::Invalid) => {
                report.skip("invalid_geometry");
                continue;
            }
        };
        let Ok(geometry) = SiteGeometry::from_polygons(polygons) else {
            report.skip("invalid_geometry");
            continue;
        };
        for member in relation.members.iter().filter(|m| m.kind == "way" && m.role != "inner") {
            outlines.insert((member.id, name.to_owned(), category));
        }
        candidates.push((
            (0, relation.id),
            candidate(format!("relation/{}", relation.id), name, category, geometry, &relation.tags),
        ));
    }

    for way in &extract.ways {
        let Some(category) = category_of(&way.tags) else { continue };
        if way.refs.len() < 4 || way.refs.first() != way.refs.last() || tag(&way.tags, "area") == Some("no") {
            report.skip("no_area");
            continue;
        }
        let Some(name) = site_name(&way.tags) else {
            report.skip("unnamed");
            continue;
        };
        if outlines.contains(&(way.id, name.to_owned(), category)) {
            report.skip("duplicate");
            continue;
        }
        let Some(ring) = ring_coords(&way.refs, coord) else {
            report.skip("incomplete_way");
            continue;
        };
        let geometry =
            assemble_polygons(vec![ring], vec![]).ok().and_then(|polygons| SiteGeometry::from_polygons(polygons).ok());
        let Some(geometry) = geometry else {
            report.skip("invalid_geometry");
            continue;
        };
        candidates.push(((1, way.id), candidate(format!("way/{}", way.id), name, category, geometry, &way.tags)));
    }

    candidates.sort_by_key(|(key, _)| *key);
    let streets = StreetIndex::new(extract);
    report.candidates = candidates
        .into_iter()
        .map(|(_, mut c)| {
            c.nearest_streets = streets.nearest(&c.geometry, &c.name);
            c
        })
        .collect();
    report
}

/// Highways whose names people give as "where": roads and pedestrian streets, not paths.
const STREET_TYPES: &[&str] = &[
    "motorway",
    "trunk",
    "primary",
    "secondary",
    "tertiary",
    "unclassified",
    "residential",
    "living_street",
    "pedestrian",
];

/// How far from a site's centre its nearest street may be, in metres.
pub const NEAREST_STREET_MAX_M: f64 = 300.0;

/// Grid cell of the street index, in degrees of latitude (about 220 m).
const CELL_DEG: f64 = 0.002;

fn is_named_street(tags: &[(String, String)]) -> bool {
    tag(tags, "highway").is_some_and(|h| STREET_TYPES.contains(&h)) && tag(tags, "name").is_some()
}

/// The segments of the named streets of an extract, bucketed on a grid of latitude and
/// longitude cells so that a site looks only at the streets around it.
struct StreetIndex<'a> {
    names: Vec<&'a str>,
    /// (from, to, index into `names`), as longitude / latitude.
    segments: Vec<(Coord, Coord, usize)>,
    cells: HashMap<(i64, i64), Vec<usize>>,
}

fn cell_of(c: Coord) -> (i64, i64) {
    // Saturating float-to-int casts: an out-of-range coordinate lands in an edge cell.
    ((c.x / CELL_DEG).floor() as i64, (c.y / CELL_DEG).floor() as i64)
}

impl<'a> StreetIndex<'a> {
    fn new(extract: &'a OsmExtract) -> Self {
        let mut index = StreetIndex { names: Vec::new(), segments: Vec::new(), cells: HashMap::new() };
        for way in extract.ways.iter().filter(|w| is_named_street(&w.tags)) {
            let Some(name) = tag(&way.tags, "name") else { continue };
            index.names.push(name);
            let name_at = index.names.len() - 1;
            let coords: Vec<Coord> =
                way.refs.iter().filter_map(|id| extract.nodes.get(id)).map(|n| Coord { x: n.lon, y: n.lat }).collect();
            for pair in coords.windows(2) {
                let [a, b] = pair else { continue };
                let at = index.segments.len();
                index.segments.push((*a, *b, name_at));
                // A segment is filed under the cells of its two ends: OSM street segments are
                // short (tens of metres), far shorter than a cell.
                for cell in [cell_of(*a), cell_of(*b)] {
                    let list = index.cells.entry(cell).or_default();
                    if list.last() != Some(&at) {
                        list.push(at);
                    }
                }
            }
        }
        index
    }

    /// The two closest named streets to the centre of `geometry` whose name is not
    /// `own_name`, closest first.
    fn nearest(&self, geometry: &SiteGeometry, own_name: &str) -> Vec<String> {
        use geo::Centroid;
        let Some(centre) = geometry.shape().centroid().map(|p| p.0) else { return Vec::new() };
        // Metres per degree here: an equirectangular projection is exact enough at 300 m.
        let m_per_deg_lat = 111_320.0;
        let m_per_deg_lon = m_per_deg_lat * centre.y.to_radians().cos();
        let project = |c: Coord| Coord { x: (c.x - centre.x) * m_per_deg_lon, y: (c.y - centre.y) * m_per_deg_lat };
        let reach_lat = (NEAREST_STREET_MAX_M / m_per_deg_lat / CELL_DEG).ceil() as i64;
        let reach_lon = (NEAREST_STREET_MAX_M / m_per_deg_lon.max(1.0) / CELL_DEG).ceil() as i64;
        let (cx, cy) = cell_of(centre);
        let own = own_name.to_lowercase();
        // The closest stretch of each street.
        let mut closest: HashMap<usize, f64> = HashMap::new();
        for x in cx - reach_lon..=cx + reach_lon {
            for y in cy - reach_lat..=cy + reach_lat {
                for &at in self.cells.get(&(x, y)).into_iter().flatten() {
                    let Some(&(a, b, name_at)) = self.segments.get(at) else { continue };
                    if self.names.get(name_at).is_some_and(|n| n.to_lowercase() == own) {
                        continue;
                    }
                    let distance = distance_to_segment(project(a), project(b));
                    if distance <= NEAREST_STREET_MAX_M {
                        let entry = closest.entry(name_at).or_insert(distance);
                        *entry = entry.min(distance);
                    }
                }
            }
        }
        let mut by_distance: Vec<(f64, &str)> =
            closest.into_iter().filter_map(|(at, d)| self.names.get(at).map(|n| (d, *n))).collect();
        by_distance.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(b.1)));
        let mut names: Vec<String> = Vec::new();
        for (_, name) in by_distance {
            if !names.iter().any(|n| n == name) {
                names.push(name.to_owned());
            }
            if names.len() == 2 {
                break;
            }
        }
        names
    }
}

/// Distance from the origin to the segment a–b, in the segment's units.
fn distance_to_segment(a: Coord, b: Coord) -> f64 {
    let d = Coord { x: b.x - a.x, y: b.y - a.y };
    let length2 = d.x * d.x + d.y * d.y;
    let t = if length2 > 0.0 { (-(a.x * d.x + a.y * d.y) / length2).clamp(0.0, 1.0) } else { 0.0 };
    (a.x + t * d.x).hypot(a.y + t * d.y)
}

fn candidate(
    osm_ref: String,
    name: &str,
    category: SiteCategory,
    geometry: SiteGeometry,
    tags: &[(String, String)],
) -> SiteCandidate {
    SiteCandidate {
        osm_ref,
        name: name.to_owned(),
        category,
        geometry,
        tags: tags.iter().cloned().collect(),
        nearest_streets: Vec::new(),
    }
}

/// The polygons of a multipolygon relation: members with role `outer` (or no role) and
/// `inner` stitched into rings, holes put in their outer ring.
fn relation_polygons(
    relation: &OsmRelation,
    ways: &HashMap<i64, &OsmWay>,
    coord: &impl Fn(i64) -> Option<Coord<f64>>,
) -> Result<Vec<Polygon<f64>>, AreaError> {
    let mut outer: Vec<&[i64]> = Vec::new();
    let mut inner: Vec<&[i64]> = Vec::new();
    for member in relation.members.iter().filter(|m| m.kind == "way") {
        let way = ways.get(&member.id).ok_or(AreaError::Incomplete)?;
        match member.role.as_str() {
            "outer" | "" => outer.push(&way.refs),
            "inner" => inner.push(&way.refs),
            _ => {}
        }
    }
    let to_lines = |rings: Vec<Vec<i64>>| {
        rings.iter().map(|ring| ring_coords(ring, coord)).collect::<Option<Vec<_>>>().ok_or(AreaError::Incomplete)
    };
    let outer = to_lines(stitch_rings(&outer).map_err(|_| AreaError::Invalid)?)?;
    let inner = to_lines(stitch_rings(&inner).map_err(|_| AreaError::Invalid)?)?;
    assemble_polygons(outer, inner).map_err(|_| AreaError::Invalid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::OsmMember;

    fn tags(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn the_table_maps_tags_to_categories_first_rule_first() {
        type Case = (&'static [(&'static str, &'static str)], Option<SiteCategory>);
        let cases: [Case; 9] = [
            (&[("amenity", "place_of_worship"), ("tourism", "attraction")], Some(SiteCategory::PlaceOfWorship)),
            (&[("amenity", "marketplace"), ("place", "square")], Some(SiteCategory::OpenAirMarket)),
            (&[("shop", "department_store")], Some(SiteCategory::ShoppingCentre)),
            (&[("amenity", "events_venue")], Some(SiteCategory::Venue)),
            (&[("leisure", "sports_centre")], None),
            (&[("leisure", "sports_centre"), ("building", "stadium")], Some(SiteCategory::Stadium)),
            (&[("highway", "pedestrian")], None),
            (&[("highway", "pedestrian"), ("area", "yes")], Some(SiteCategory::PedestrianZone)),
            (&[("public_transport", "station"), ("tourism", "museum")], Some(SiteCategory::TransportHub)),
        ];
        for (pairs, expected) in cases {
            assert_eq!(category_of(&tags(pairs)), expected, "{pairs:?}");
        }
    }

    #[test]
    fn every_key_of_the_table_has_a_slot() {
        for rule in CATEGORY_RULES {
            for (key, _) in rule.all_of {
                assert!(key_slot(key).is_some(), "{key}");
            }
        }
    }

    #[test]
    fn names_fall_back_to_the_local_languages() {
        assert_eq!(site_name(&tags(&[("name:sv", "Salutorget"), ("name:fi", "Kauppatori")])), Some("Kauppatori"));
        assert_eq!(site_name(&tags(&[("name", " "), ("name:en", "Market Square")])), Some("Market Square"));
        assert_eq!(site_name(&tags(&[("amenity", "marketplace")])), None);
    }

    /// A square about 110 m × 55 m near Senate Square, drawn as a relation of two reversed
    /// halves (ways 10, 11); the same outline as a separate way (13); a church drawn both as a
    /// relation (21) and as its outer way (14); a node-only market; an unnamed square.
    fn extract() -> OsmExtract {
        let corners = [
            (1, 24.951, 60.169),
            (2, 24.953, 60.169),
            (3, 24.953, 60.170),
            (4, 24.951, 60.170),
            (5, 24.9515, 60.1692),
            (6, 24.9525, 60.1692),
            (7, 24.9525, 60.1698),
            (8, 24.9515, 60.1698),
        ];
        let mut nodes: crate::NodeMap =
            corners.iter().map(|&(id, lon, lat)| (id, OsmNode { lon, lat, tags: None })).collect();
        nodes.insert(
            9,
            OsmNode { lon: 24.95, lat: 60.16, tags: Some(tags(&[("amenity", "marketplace"), ("name", "Torget")])) },
        );
        let square = tags(&[("place", "square"), ("name", "Testitori")]);
        let church = tags(&[("amenity", "place_of_worship"), ("name", "Kirkko")]);
        let with_type = |t: &[(String, String)]| [t, &tags(&[("type", "multipolygon")])].concat();
        let outer = |id| OsmMember { kind: "way", id, role: "outer".into() };
        OsmExtract {
            nodes,
            ways: vec![
                OsmWay { id: 10, refs: vec![3, 2, 1], tags: square.clone() },
                OsmWay { id: 11, refs: vec![3, 4, 1], tags: vec![] },
                OsmWay { id: 12, refs: vec![1, 2, 3, 4, 1], tags: tags(&[("place", "square")]) },
                OsmWay { id: 13, refs: vec![1, 2, 3, 4, 1], tags: square.clone() },
                OsmWay { id: 14, refs: vec![5, 6, 7, 8, 5], tags: church.clone() },
            ],
            relations: vec![
                OsmRelation { id: 20, members: vec![outer(10), outer(11)], tags: with_type(&square) },
                OsmRelation { id: 21, members: vec![outer(14)], tags: with_type(&church) },
            ],
            nodes_read: 9,
            ..OsmExtract::default()
        }
    }

    #[test]
    fn relations_of_split_ways_become_candidates_and_their_outlines_are_not_repeated() {
        let report = candidates_from_extract(&extract());
        let refs: Vec<&str> = report.candidates.iter().map(|c| c.osm_ref.as_str()).collect();
        assert_eq!(refs, ["relation/20", "relation/21", "way/13"], "way 14 outlines relation 21: one place");
        let square = &report.candidates[0];
        assert_eq!(square.category, SiteCategory::PublicSquare);
        assert!((square.geometry.area_m2() - 12_390.0).abs() < 100.0, "{}", square.geometry.area_m2());
        let skipped: Vec<(&str, u64)> = report.skipped.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        assert_eq!(skipped, [("duplicate", 1), ("no_area", 2), ("unnamed", 1)], "node 9 and open way 10 have no area");
        assert_eq!(report.count_by_category().get(&SiteCategory::PublicSquare), Some(&2));
    }

    #[test]
    fn missing_members_and_bad_outlines_are_counted() {
        let mut data = extract();
        data.relations[0].members.push(OsmMember { kind: "way", id: 99, role: "inner".into() });
        data.ways[3].refs = vec![1, 3, 2, 4, 1]; // a bow tie
        let report = candidates_from_extract(&data);
        let refs: Vec<&str> = report.candidates.iter().map(|c| c.osm_ref.as_str()).collect();
        assert_eq!(refs, ["relation/21"]);
        assert_eq!(report.skipped.get("incomplete_relation"), Some(&1));
        assert_eq!(report.skipped.get("invalid_geometry"), Some(&1));
    }

    #[test]
    fn candidates_serialise_with_geojson_geometry() {
        let report = candidates_from_extract(&extract());
        let json = serde_json::to_value(&report).unwrap_or_default();
        assert_eq!(json["candidates"][0]["geometry"]["type"], "Polygon");
        assert_eq!(json["candidates"][0]["category"], "public_square");
        assert_eq!(json["candidates"][0]["tags"]["name"], "Testitori");
    }
}
