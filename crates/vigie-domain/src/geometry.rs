//! Site geometry: GeoJSON Polygon or MultiPolygon in WGS84, checked before it is stored.
use geo::orient::{Direction, Orient};
use geo::{
    BoundingRect, Contains, Coord, GeodesicArea, InteriorPoint, LineString, MultiPolygon, Point, Polygon, Validation,
};
use serde_json::Value;

use crate::error::DomainError;

/// A site smaller than this is a drawing slip, not a public space.
pub const MIN_AREA_M2: f64 = 1.0;
/// Larger than a city centre: a site must be a place people can protect as one.
pub const MAX_AREA_M2: f64 = 50_000_000.0;
/// A warning may cover a country (a million km²), not a continent.
pub const MAX_WARNING_AREA_M2: f64 = 1.0e12;
/// Vertices in a whole geometry at most. Validity checks cost up to the square of this, so it
/// bounds the work one request can cause (a real site outline has tens to hundreds).
pub const MAX_VERTICES: usize = 5_000;
/// Parts of a MultiPolygon at most (their pairwise overlap check is quadratic too).
pub const MAX_POLYGONS: usize = 200;

/// A checked site geometry and the figures derived from it.
#[derive(Debug, Clone, PartialEq)]
pub struct SiteGeometry {
    shape: MultiPolygon<f64>,
    area_m2: f64,
}

/// West, south, east, north in degrees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BoundingBox {
    pub west: f64,
    pub south: f64,
    pub east: f64,
    pub north: f64,
}

impl BoundingBox {
    /// How much two boxes overlap: the shared area over the smaller box's, 0 to 1 (in degrees,
    /// which is enough to compare neighbouring outlines).
    pub fn overlap_share(&self, other: &BoundingBox) -> f64 {
        let width = (self.east.min(other.east) - self.west.max(other.west)).max(0.0);
        let height = (self.north.min(other.north) - self.south.max(other.south)).max(0.0);
        let area = |b: &BoundingBox| (b.east - b.west) * (b.north - b.south);
        let smaller = area(self).min(area(other));
        if smaller > 0.0 { (width * height / smaller).min(1.0) } else { 0.0 }
    }

    /// Parses `west,south,east,north`, as in the `bbox` query parameter.
    pub fn parse(text: &str) -> Result<Self, DomainError> {
        let invalid =
            |why: &str| DomainError::validation("bbox", format!("expected west,south,east,north in degrees: {why}"));
        let parts: Vec<f64> = text
            .split(',')
            .map(|p| p.trim().parse::<f64>().map_err(|_| invalid(&format!("'{}' is not a number", p.trim()))))
            .collect::<Result<_, _>>()?;
        let [west, south, east, north] = parts[..] else {
            return Err(invalid(&format!("{} numbers given", parts.len())));
        };
        let bbox = BoundingBox { west, south, east, north };
        if !(-180.0..=180.0).contains(&west) || !(-180.0..=180.0).contains(&east) {
            return Err(invalid("longitudes lie between -180 and 180"));
        }
        if !(-90.0..=90.0).contains(&south) || !(-90.0..=90.0).contains(&north) {
            return Err(invalid("latitudes lie between -90 and 90"));
        }
        if west > east || south > north {
            return Err(invalid("west must not exceed east, nor south north"));
        }
        Ok(bbox)
    }

    pub fn intersects(&self, other: &BoundingBox) -> bool {
        self.west <= other.east && other.west <= self.east && self.south <= other.north && other.south <= self.north
    }
}

fn invalid(reason: impl Into<String>) -> DomainError {
    DomainError::GeometryInvalid { reason: reason.into() }
}

impl SiteGeometry {
    /// Reads and checks a GeoJSON geometry object (`{"type": "Polygon", "coordinates": …}`).
    pub fn from_geojson(value: &Value) -> Result<Self, DomainError> {
        Self::read_geojson(value, MAX_AREA_M2)
    }

    /// Reads the area of a warning (a bulletin's, a threat level's): a polygon like a site's but
    /// up to a country's size. Errors name the `area` field.
    pub fn warning_area(value: &Value) -> Result<Self, DomainError> {
        Self::read_geojson(value, MAX_WARNING_AREA_M2).map_err(|e| {
            let reason = match e {
                DomainError::GeometryInvalid { reason } => reason,
                other => other.to_string(),
            };
            DomainError::validation("area", format!("the area is not a valid polygon: {reason}"))
        })
    }

    fn read_geojson(value: &Value, max_area_m2: f64) -> Result<Self, DomainError> {
        let object = value.as_object().ok_or_else(|| invalid("expected a GeoJSON geometry object"))?;
        let kind = object.get("type").and_then(Value::as_str).ok_or_else(|| invalid("missing \"type\""))?;
        let coordinates = object.get("coordinates").ok_or_else(|| invalid("missing \"coordinates\""))?;
        let polygons = match kind {
            "Polygon" => vec![read_polygon(coordinates, None, &mut 0)?],
            "MultiPolygon" => {
                let parts = coordinates
                    .as_array()
                    .ok_or_else(|| invalid("MultiPolygon coordinates must be an array of polygons"))?;
                if parts.is_empty() {
                    return Err(invalid("MultiPolygon has no polygon"));
                }
                if parts.len() > MAX_POLYGONS {
                    return Err(invalid(format!("more than {MAX_POLYGONS} polygons")));
                }
                {
                    let mut vertices = 0;
                    parts
                        .iter()
                        .enumerate()
                        .map(|(i, p)| read_polygon(p, Some(i), &mut vertices))
                        .collect::<Result<_, _>>()?
                }
            }
            other => {
                return Err(invalid(format!("type {other} is not accepted; a site is a Polygon or a MultiPolygon")));
            }
        };
        Self::checked(polygons, max_area_m2)
    }

    /// Checks polygons built elsewhere (for example from OpenStreetMap ways). Rings come out
    /// in the GeoJSON orientation (outer counter-clockwise, holes clockwise) whatever their
    /// winding: RFC 7946 §3.1.6 asks parsers not to reject the other one, and the geodesic area
    /// of a clockwise outer ring would be the rest of the Earth.
    pub fn from_polygons(polygons: Vec<Polygon<f64>>) -> Result<Self, DomainError> {
        Self::checked(polygons, MAX_AREA_M2)
    }

    fn checked(polygons: Vec<Polygon<f64>>, max_area_m2: f64) -> Result<Self, DomainError> {
        let polygons: Vec<Polygon<f64>> = polygons.into_iter().map(|p| p.orient(Direction::Default)).collect();
        let vertices: usize = polygons
            .iter()
            .map(|p| p.exterior().0.len() + p.interiors().iter().map(|r| r.0.len()).sum::<usize>())
            .sum();
        if vertices > MAX_VERTICES || polygons.len() > MAX_POLYGONS {
            return Err(invalid(format!("more than {MAX_VERTICES} vertices or {MAX_POLYGONS} polygons")));
        }
        let shape = MultiPolygon::new(polygons);
        if let Err(problem) = shape.check_validation() {
            return Err(invalid(problem.to_string()));
        }
        let area_m2 = shape.geodesic_area_unsigned();
        if !area_m2.is_finite() || area_m2 < MIN_AREA_M2 {
            return Err(invalid(format!("area {area_m2:.1} m² is smaller than {MIN_AREA_M2} m²")));
        }
        if area_m2 > max_area_m2 {
            return Err(invalid(format!("area {:.1} km² is larger than {} km²", area_m2 / 1e6, max_area_m2 / 1e6)));
        }
        Ok(SiteGeometry { shape, area_m2 })
    }

    pub fn area_m2(&self) -> f64 {
        self.area_m2
    }

    /// A point inside the shape (longitude, latitude): where a site is when one point must do.
    pub fn inner_point(&self) -> Option<(f64, f64)> {
        self.shape.interior_point().map(|p| (p.x(), p.y()))
    }

    pub fn contains_point(&self, lon: f64, lat: f64) -> bool {
        self.shape.contains(&Point::new(lon, lat))
    }

    pub fn shape(&self) -> &MultiPolygon<f64> {
        &self.shape
    }

    pub fn bounding_box(&self) -> Option<BoundingBox> {
        self.shape.bounding_rect().map(|r| BoundingBox {
            west: r.min().x,
            south: r.min().y,
            east: r.max().x,
            north: r.max().y,
        })
    }

    /// The geometry as GeoJSON: a Polygon when there is one part, else a MultiPolygon.
    pub fn to_geojson(&self) -> Value {
        let polygon_coords = |p: &Polygon<f64>| -> Value {
            std::iter::once(p.exterior())
                .chain(p.interiors())
                .map(|ring| ring.coords().map(|c| vec![c.x, c.y]).collect::<Vec<_>>())
                .collect::<Vec<_>>()
                .into()
        };
        match &self.shape.0[..] {
            [single] => serde_json::json!({"type": "Polygon", "coordinates": polygon_coords(single)}),
            parts => {
                serde_json::json!({"type": "MultiPolygon", "coordinates": parts.iter().map(polygon_coords).collect::<Vec<_>>()})
            }
        }
    }
}

/// Reads one polygon; `vertices` counts the positions read so far in the whole geometry.
fn read_polygon(value: &Value, part: Option<usize>, vertices: &mut usize) -> Result<Polygon<f64>, DomainError> {
    let at = |ring: usize| match part {
        Some(p) => format!("polygon {p}, ring {ring}"),
        None => format!("ring {ring}"),
    };
    let rings = value.as_array().ok_or_else(|| invalid("Polygon coordinates must be an array of rings"))?;
    if rings.is_empty() {
        return Err(invalid("a polygon needs an outer ring"));
    }
    let mut lines = Vec::with_capacity(rings.len());
    for (r, ring) in rings.iter().enumerate() {
        let positions = ring.as_array().ok_or_else(|| invalid(format!("{}: expected an array of positions", at(r))))?;
        *vertices += positions.len();
        if *vertices > MAX_VERTICES {
            return Err(invalid(format!("more than {MAX_VERTICES} vertices")));
        }
        let coords = positions
            .iter()
            .enumerate()
            .map(|(i, p)| read_position(p).map_err(|why| invalid(format!("{}, position {i}: {why}", at(r)))))
            .collect::<Result<Vec<_>, _>>()?;
        if coords.len() < 4 {
            return Err(invalid(format!("{}: a ring needs at least 4 positions, {} given", at(r), coords.len())));
        }
        if coords.first() != coords.last() {
            return Err(invalid(format!("{}: ring is not closed (first and last positions differ)", at(r))));
        }
        lines.push(LineString::new(coords));
    }
    let mut lines = lines.into_iter();
    let exterior = lines.next().ok_or_else(|| invalid("a polygon needs an outer ring"))?;
    Ok(Polygon::new(exterior, lines.collect()))
}

fn read_position(value: &Value) -> Result<Coord<f64>, String> {
    let numbers = value.as_array().ok_or("expected [longitude, latitude]")?;
    if !(2..=3).contains(&numbers.len()) {
        return Err(format!("expected [longitude, latitude], got {} numbers", numbers.len()));
    }
    let lon = numbers.first().and_then(Value::as_f64).ok_or("longitude is not a number")?;
    let lat = numbers.get(1).and_then(Value::as_f64).ok_or("latitude is not a number")?;
    if !(-180.0..=180.0).contains(&lon) {
        return Err(format!("longitude {lon} is outside -180..180 (coordinates must be WGS84 degrees)"));
    }
    if !(-90.0..=90.0).contains(&lat) {
        return Err(format!("latitude {lat} is outside -90..90 (coordinates must be WGS84 degrees)"));
    }
    Ok(Coord { x: lon, y: lat })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// About 111 m × 55 m around Senate Square, Helsinki.
    fn square() -> Value {
        json!({"type": "Polygon", "coordinates": [[[24.951, 60.169], [24.953, 60.169], [24.953, 60.170], [24.951, 60.170], [24.951, 60.169]]]})
    }

    fn reason(value: Value) -> String {
        match SiteGeometry::from_geojson(&value) {
            Err(DomainError::GeometryInvalid { reason }) => reason,
            other => format!("unexpected: {other:?}"),
        }
    }

    #[test]
    fn a_valid_polygon_has_a_geodesic_area() {
        let geometry = SiteGeometry::from_geojson(&square()).unwrap_or_else(|e| unreachable!("{e}"));
        // 0.002° of longitude at 60.17° N ≈ 111 m, 0.001° of latitude ≈ 111 m.
        assert!((geometry.area_m2() - 12_390.0).abs() < 100.0, "{}", geometry.area_m2());
        assert_eq!(geometry.to_geojson(), square());
    }

    #[test]
    fn clockwise_rings_are_accepted_and_rewound() {
        // Regression: a clockwise outer ring was refused as larger than the area limit.
        let clockwise = json!({"type": "Polygon", "coordinates": [[[24.951, 60.169], [24.951, 60.170], [24.953, 60.170], [24.953, 60.169], [24.951, 60.169]]]});
        let geometry = SiteGeometry::from_geojson(&clockwise).unwrap_or_else(|e| unreachable!("{e}"));
        let counter_clockwise = SiteGeometry::from_geojson(&square()).unwrap_or_else(|e| unreachable!("{e}"));
        assert!((geometry.area_m2() - counter_clockwise.area_m2()).abs() < 1e-6);
        let ring = &geometry.to_geojson()["coordinates"][0];
        let signed: f64 = ring
            .as_array()
            .map(|r| {
                r.windows(2)
                    .map(|w| {
                        w[0][0].as_f64().unwrap_or(0.0) * w[1][1].as_f64().unwrap_or(0.0)
                            - w[1][0].as_f64().unwrap_or(0.0) * w[0][1].as_f64().unwrap_or(0.0)
                    })
                    .sum()
            })
            .unwrap_or(0.0);
        assert!(signed > 0.0, "the stored outer ring is counter-clockwise: {ring}");
    }

    #[test]
    fn open_rings_are_refused() {
        let open = json!({"type": "Polygon", "coordinates": [[[24.951, 60.169], [24.953, 60.169], [24.953, 60.170], [24.951, 60.170]]]});
        assert!(reason(open).contains("not closed"));
    }

    #[test]
    fn self_intersecting_rings_are_refused() {
        let bowtie = json!({"type": "Polygon", "coordinates": [[[24.951, 60.169], [24.953, 60.170], [24.953, 60.169], [24.951, 60.170], [24.951, 60.169]]]});
        let why = reason(bowtie);
        assert!(why.contains("intersect"), "{why}");
    }

    #[test]
    fn projected_coordinates_are_refused_with_a_hint() {
        let projected = json!({"type": "Polygon", "coordinates": [[[385000.0, 6672000.0], [385100.0, 6672000.0], [385100.0, 6672100.0], [385000.0, 6672000.0]]]});
        assert!(reason(projected).contains("WGS84"));
    }

    #[test]
    fn points_and_huge_or_tiny_areas_are_refused() {
        assert!(reason(json!({"type": "Point", "coordinates": [24.9, 60.1]})).contains("not accepted"));
        let tiny = json!({"type": "Polygon", "coordinates": [[[24.951, 60.169], [24.951001, 60.169], [24.951001, 60.169001], [24.951, 60.169]]]});
        assert!(reason(tiny).contains("smaller"));
        let huge =
            json!({"type": "Polygon", "coordinates": [[[20.0, 55.0], [30.0, 55.0], [30.0, 65.0], [20.0, 55.0]]]});
        assert!(reason(huge).contains("larger"));
    }

    #[test]
    fn oversized_geometries_are_refused_before_the_quadratic_checks() {
        let ring: Vec<Value> = (0..=MAX_VERTICES).map(|i| json!([24.9 + i as f64 * 1e-6, 60.1])).collect();
        assert!(reason(json!({"type": "Polygon", "coordinates": [ring]})).contains("vertices"));
        let many: Vec<Value> = (0..=MAX_POLYGONS).map(|_| square()["coordinates"].clone()).collect();
        assert!(reason(json!({"type": "MultiPolygon", "coordinates": many})).contains("polygons"));
    }

    #[test]
    fn overlap_share_is_the_shared_part_of_the_smaller_box() {
        let b = |west, south, east, north| BoundingBox { west, south, east, north };
        assert!((b(0.0, 0.0, 2.0, 2.0).overlap_share(&b(1.0, 1.0, 3.0, 3.0)) - 0.25).abs() < 1e-12);
        assert!((b(0.0, 0.0, 4.0, 4.0).overlap_share(&b(1.0, 1.0, 2.0, 2.0)) - 1.0).abs() < 1e-12);
        assert_eq!(b(0.0, 0.0, 1.0, 1.0).overlap_share(&b(2.0, 2.0, 3.0, 3.0)), 0.0);
    }

    #[test]
    fn bbox_parsing_explains_mistakes() {
        assert!(BoundingBox::parse("24.9,60.1,25.0,60.2").is_ok());
        assert!(BoundingBox::parse("24.9,60.1,25.0").is_err());
        assert!(BoundingBox::parse("25.0,60.1,24.9,60.2").is_err());
        assert!(BoundingBox::parse("a,b,c,d").is_err());
    }
}
