//! Whether a rated barrier covers a threat, barrier catalogues, and per-site recommendations.
//! Coverage compares vehicle mass, speed, angle and penetration, never kinetic energy alone:
//! equal energy is not equal performance (shared/reference/hvm.md).
use serde::Serialize;

use crate::HvmError;
use crate::dynamics::{DynamicsParams, KMH_PER_MS, VehicleClass, energy_kj};
use crate::rating::Rating;
use crate::vda::{VdaResult, round};

/// Test speeds (km/h) of IWA 14-1, ISO 22343-1 and PAS 68.
pub const TEST_SPEEDS_KMH: &[f64] = &[16.0, 32.0, 48.0, 64.0, 80.0, 96.0, 112.0];

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reason {
    /// `vehicle_mass`, `speed`, `angle`, `penetration` or `energy`.
    pub check: &'static str,
    /// Whether this check passed; null when it is shown for information only.
    pub passed: Option<bool>,
    pub en: String,
    pub fr: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Coverage {
    pub covers: bool,
    pub reasons: Vec<Reason>,
    pub rating: Rating,
    pub threat: Threat,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Threat {
    pub vehicle_class: String,
    pub mass_kg: f64,
    pub speed_kmh: f64,
    pub angle_deg: f64,
    pub standoff_m: Option<f64>,
    pub energy_kj: f64,
}

fn reason(check: &'static str, passed: Option<bool>, en: String, fr: String) -> Reason {
    Reason { check, passed, en, fr }
}

/// Does `rating` cover `threat` arriving at `speed_kmh` and `angle_deg` (90 = head-on; a test at
/// angle A covers impacts at A or less) with `standoff_m` available behind the barrier line?
pub fn check(
    rating: &Rating,
    threat: &VehicleClass,
    speed_kmh: f64,
    angle_deg: f64,
    standoff_m: Option<f64>,
) -> Coverage {
    let mut reasons = Vec::new();
    let mass_ok = rating.mass_kg >= threat.mass_kg;
    reasons.push(reason(
        "vehicle_mass",
        Some(mass_ok),
        format!(
            "test vehicle {} kg {} the {} kg of class {}",
            rating.mass_kg,
            if mass_ok { "is at least" } else { "is lighter than" },
            threat.mass_kg,
            threat.key
        ),
        format!(
            "véhicule d'essai de {} kg {} {} kg de la classe {}",
            rating.mass_kg,
            if mass_ok { "au moins aussi lourd que les" } else { "plus léger que les" },
            threat.mass_kg,
            threat.key
        ),
    ));
    let speed_ok = rating.speed_kmh >= speed_kmh;
    reasons.push(reason(
        "speed",
        Some(speed_ok),
        format!(
            "test speed {:.1} km/h {} the impact speed {:.1} km/h",
            rating.speed_kmh,
            if speed_ok { "is at least" } else { "is below" },
            speed_kmh
        ),
        format!(
            "vitesse d'essai {:.1} km/h {} la vitesse d'impact {:.1} km/h",
            rating.speed_kmh,
            if speed_ok { "au moins égale à" } else { "inférieure à" },
            speed_kmh
        ),
    ));
    let angle_ok = angle_deg <= rating.angle_deg;
    reasons.push(reason(
        "angle",
        Some(angle_ok),
        format!(
            "test angle {}° {} the impact angle {:.0}°",
            rating.angle_deg,
            if angle_ok { "covers" } else { "does not cover" },
            angle_deg
        ),
        format!(
            "angle d'essai {}° {} l'angle d'impact {:.0}°",
            rating.angle_deg,
            if angle_ok { "couvre" } else { "ne couvre pas" },
            angle_deg
        ),
    ));
    let penetration_ok = match (standoff_m, rating.penetration_m) {
        (None, _) => {
            reasons.push(reason(
                "penetration",
                None,
                "no stand-off given: penetration not checked".into(),
                "aucune distance de sécurité donnée : pénétration non vérifiée".into(),
            ));
            true
        }
        (Some(s), None) => {
            reasons.push(reason("penetration", Some(false), format!("the rating states no penetration: it cannot be shown to fit the {s} m stand-off"), format!("la classification n'indique pas de pénétration : rien ne montre qu'elle tient dans la distance de sécurité de {s} m")));
            false
        }
        (Some(s), Some(p)) => {
            let ok = p <= s;
            reasons.push(reason(
                "penetration",
                Some(ok),
                format!("penetration {p} m {} the {s} m stand-off", if ok { "fits within" } else { "exceeds" }),
                format!(
                    "pénétration de {p} m {} la distance de sécurité de {s} m",
                    if ok { "contenue dans" } else { "supérieure à" }
                ),
            ));
            ok
        }
    };
    let threat_energy = energy_kj(threat.mass_kg, speed_kmh / KMH_PER_MS);
    reasons.push(reason(
        "energy",
        None,
        format!("for information only: test energy {:.1} kJ, threat energy {:.1} kJ (energy alone never decides)", rating.energy_kj(), threat_energy),
        format!("pour information : énergie d'essai {:.1} kJ, énergie de la menace {:.1} kJ (l'énergie seule ne décide jamais)", rating.energy_kj(), threat_energy),
    ));
    Coverage {
        covers: mass_ok && speed_ok && angle_ok && penetration_ok,
        reasons,
        rating: rating.clone(),
        threat: Threat {
            vehicle_class: threat.key.clone(),
            mass_kg: threat.mass_kg,
            speed_kmh,
            angle_deg,
            standoff_m,
            energy_kj: round(threat_energy, 1),
        },
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Product {
    pub manufacturer: String,
    pub product: String,
    /// As written in the catalogue.
    pub standard: String,
    pub rating: Rating,
    pub foundation: Option<String>,
    pub width_m: Option<f64>,
}

/// Barrier products imported from CSV with the header
/// `manufacturer,product,standard,rating,foundation,width` (any order; `width` in metres).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Catalogue {
    pub products: Vec<Product>,
}

impl Catalogue {
    pub fn from_csv(text: &str) -> Result<Catalogue, HvmError> {
        let mut rows =
            csv_rows(text).into_iter().filter(|(_, r)| !matches!(r.as_slice(), [only] if only.trim().is_empty()));
        let (_, header) =
            rows.next().ok_or(HvmError::CatalogueInvalid { line: 1, reason: "the file is empty".into() })?;
        let header: Vec<String> = header.iter().map(|h| h.trim().to_ascii_lowercase().replace(' ', "_")).collect();
        let column = |names: &[&str]| header.iter().position(|h| names.contains(&h.as_str()));
        let need = |names: &[&str]| {
            column(names).ok_or_else(|| HvmError::CatalogueInvalid {
                line: 1,
                reason: format!(
                    "missing column \"{}\" (header: manufacturer,product,standard,rating,foundation,width)",
                    names.first().copied().unwrap_or_default()
                ),
            })
        };
        let (c_man, c_prod, c_std, c_rating) =
            (need(&["manufacturer"])?, need(&["product"])?, need(&["standard"])?, need(&["rating", "rating_string"])?);
        let (c_found, c_width) = (column(&["foundation"]), column(&["width", "width_m"]));
        let mut products = Vec::new();
        for (line, row) in rows {
            let cell = |c: usize| row.get(c).map(|s| s.trim().to_owned()).unwrap_or_default();
            let bad = |reason: String| HvmError::CatalogueInvalid { line, reason };
            let rating = Rating::parse(&cell(c_rating)).map_err(|e| bad(e.to_string()))?;
            let width_m = match c_width.map(cell).filter(|w| !w.is_empty()) {
                None => None,
                Some(w) => Some(
                    crate::graph::parse_width_m(&w)
                        .ok_or_else(|| bad(format!("width \"{w}\" is not a number of metres")))?,
                ),
            };
            products.push(Product {
                manufacturer: cell(c_man),
                product: cell(c_prod),
                standard: cell(c_std),
                rating,
                foundation: c_found.map(cell).filter(|f| !f.is_empty()),
                width_m,
            });
        }
        Ok(Catalogue { products })
    }
}

/// RFC 4180 rows with their starting line numbers: quoted fields may hold commas, quotes ("")
/// and line breaks.
fn csv_rows(text: &str) -> Vec<(usize, Vec<String>)> {
    let mut rows = Vec::new();
    let (mut row, mut field) = (Vec::new(), String::new());
    let (mut quoted, mut line, mut row_line) = (false, 1, 1);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', true) => quoted = false,
            ('"', false) if field.is_empty() => quoted = true,
            (',', false) => row.push(std::mem::take(&mut field)),
            ('\r', false) => {}
            ('\n', false) => {
                row.push(std::mem::take(&mut field));
                rows.push((row_line, std::mem::take(&mut row)));
                line += 1;
                row_line = line;
            }
            (c, _) => {
                if c == '\n' {
                    line += 1;
                }
                field.push(c);
            }
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push((row_line, row));
    }
    rows
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecommendParams {
    /// Stand-off (m) available behind the barrier line; None: penetration not checked.
    pub standoff_m: Option<f64>,
    /// Distance (m) before the access point at which a bend or chicane is considered.
    pub bend_distance_m: f64,
}

impl Default for RecommendParams {
    fn default() -> Self {
        RecommendParams { standoff_m: None, bend_distance_m: 20.0 }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recommendation {
    pub access_points: Vec<AccessPointAdvice>,
    pub params: RecommendParams,
    pub friction: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AccessPointAdvice {
    pub id: String,
    pub lon: f64,
    pub lat: f64,
    pub requirements: Vec<Requirement>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Requirement {
    pub vehicle_class: String,
    pub mass_kg: f64,
    pub impact_speed_kmh: f64,
    pub angle_deg: f64,
    /// The smallest test speed of IWA 14-1 / ISO 22343-1 / PAS 68 at or above the impact speed.
    pub min_test_speed_kmh: Option<f64>,
    /// E.g. `V/7200[N3C]/48/90` with the penetration to fit the stand-off.
    pub minimum_rating: Option<String>,
    pub products: Vec<ProductMatch>,
    pub speed_reduction: Vec<BendOption>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProductMatch {
    pub manufacturer: String,
    pub product: String,
    pub rating: String,
}

/// How a bend or chicane on the critical path would bring the impact speed down to a test speed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BendOption {
    pub target_speed_kmh: f64,
    /// A stop (or a bend the vehicle takes at walking pace) within this distance of the access
    /// point keeps the vehicle at or below the target: S(target) from rest.
    pub max_distance_from_rest_m: f64,
    /// The largest radius of a bend `bend_distance_m` before the access point that keeps the
    /// vehicle at or below the target; None when even a stop there is not enough.
    pub max_radius_at_distance_m: Option<f64>,
    pub en: String,
    pub fr: String,
}

/// For each access point and class of a VDA result: the minimum rating, the catalogue products
/// that cover it, and the bends that would lower the speed to each lower test speed.
pub fn recommend(
    vda: &VdaResult,
    catalogue: &Catalogue,
    classes: &[VehicleClass],
    dynamics: &DynamicsParams,
    params: &RecommendParams,
) -> Recommendation {
    let access_points = vda
        .access_points
        .iter()
        .map(|ap| {
            let requirements = classes
                .iter()
                .filter_map(|class| {
                    let impact = ap.vehicles.get(&class.key)?;
                    Some(requirement(class, impact.speed_kmh, impact.angle_deg, catalogue, dynamics, params))
                })
                .collect();
            AccessPointAdvice { id: ap.id.clone(), lon: ap.lon, lat: ap.lat, requirements }
        })
        .collect();
    Recommendation { access_points, params: params.clone(), friction: dynamics.friction }
}

/// The minimum rating against `class` arriving at `speed_kmh` and `angle_deg`, the
/// catalogue's products that cover it, and the bends that would lower the speed.
pub fn requirement(
    class: &VehicleClass,
    speed_kmh: f64,
    angle_deg: f64,
    catalogue: &Catalogue,
    dynamics: &DynamicsParams,
    params: &RecommendParams,
) -> Requirement {
    let min_test_speed_kmh = TEST_SPEEDS_KMH.iter().copied().find(|s| *s >= speed_kmh);
    let test_angle = [30.0, 45.0, 90.0].into_iter().find(|a| *a >= angle_deg).unwrap_or(90.0);
    let minimum_rating = min_test_speed_kmh.map(|s| {
        let base = format!("V/{}[{}]/{s}/{test_angle}", class.mass_kg, class.key);
        match params.standoff_m {
            Some(d) => format!("{base}, penetration ≤ {d} m"),
            None => base,
        }
    });
    let products = catalogue
        .products
        .iter()
        .filter(|p| check(&p.rating, class, speed_kmh, angle_deg, params.standoff_m).covers)
        .map(|p| ProductMatch {
            manufacturer: p.manufacturer.clone(),
            product: p.product.clone(),
            rating: p.rating.normalised.clone(),
        })
        .collect();
    let speed_reduction = TEST_SPEEDS_KMH
        .iter()
        .copied()
        .filter(|t| *t < speed_kmh)
        .map(|target| {
            let from_rest = class.distance_from_rest(target / KMH_PER_MS);
            let left = from_rest - params.bend_distance_m;
            let radius = (left > 0.0).then(|| {
                let v = class.speed_after(0.0, left);
                round(v * v / (dynamics.friction * dynamics.gravity_ms2), 1)
            });
            let d = params.bend_distance_m;
            let (en, fr) = match radius {
                Some(r) => (
                    format!("to stay at or below {target} km/h: a bend of radius ≤ {r} m at {d} m before the access point, or a stop within {from_rest:.0} m"),
                    format!("pour rester sous {target} km/h : un virage de rayon ≤ {r} m à {d} m du point d'accès, ou un arrêt à moins de {from_rest:.0} m"),
                ),
                None => (
                    format!("to stay at or below {target} km/h: a stop within {from_rest:.0} m of the access point (a bend at {d} m is too far)"),
                    format!("pour rester sous {target} km/h : un arrêt à moins de {from_rest:.0} m du point d'accès (un virage à {d} m est trop loin)"),
                ),
            };
            BendOption { target_speed_kmh: target, max_distance_from_rest_m: round(from_rest, 1), max_radius_at_distance_m: radius, en, fr }
        })
        .collect();
    Requirement {
        vehicle_class: class.key.clone(),
        mass_kg: class.mass_kg,
        impact_speed_kmh: speed_kmh,
        angle_deg,
        min_test_speed_kmh,
        minimum_rating,
        products,
        speed_reduction,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dynamics::VehicleSet;

    fn n3c() -> VehicleClass {
        VehicleSet::default_set().unwrap().get("N3C").unwrap().clone()
    }

    #[test]
    fn coverage_rules() {
        let r = Rating::parse("V/7200[N3C]/64/90:1.1").unwrap();
        assert!(check(&r, &n3c(), 55.0, 90.0, Some(5.0)).covers);
        assert!(!check(&r, &n3c(), 65.0, 90.0, Some(5.0)).covers, "speed");
        assert!(!check(&r, &n3c(), 55.0, 90.0, Some(1.0)).covers, "penetration");
        let light = Rating::parse("V/2500[N1G]/112/90:0").unwrap();
        // More energy than the threat, still not covered: a lighter test vehicle.
        let c = check(&light, &n3c(), 48.0, 90.0, None);
        assert!(light.energy_kj() > energy_kj(7200.0, 48.0 / 3.6));
        assert!(!c.covers);
        let oblique = Rating::parse("V/7200[N2A]/48/30:0.2").unwrap();
        assert!(!check(&oblique, &n3c(), 40.0, 90.0, None).covers);
        assert!(check(&oblique, &n3c(), 40.0, 20.0, None).covers);
        let unknown = Rating::parse("K12").unwrap();
        assert!(!check(&unknown, &n3c(), 40.0, 90.0, Some(10.0)).covers);
    }

    #[test]
    fn catalogue_csv() {
        let csv = "manufacturer,product,standard,rating,foundation,width\nAcme,\"Bollard, fixed\",IWA 14-1,V/7200[N3C]/80/90:1.1,C,1.2\nAcme,Block,PAS 68,V/7500[N3]/48/90:4.0/2.0,A,\n";
        let c = Catalogue::from_csv(csv).unwrap();
        assert_eq!(c.products.len(), 2);
        assert_eq!(c.products[0].product, "Bollard, fixed");
        assert_eq!(c.products[0].width_m, Some(1.2));
        let bad = Catalogue::from_csv("manufacturer,product,standard,rating\nA,B,C,garbage\n").unwrap_err();
        assert_eq!((bad.code().key(), bad.details()["line"].as_u64()), ("hvm_catalogue_invalid", Some(2)));
        assert!(Catalogue::from_csv("name,rating\n").is_err());
    }
}
