//! Crash-test rating strings of vehicle security barriers: PAS 68, IWA 14-1, ISO 22343-1,
//! ASTM F2656 and US DoS SD-STD-02.01 K-ratings. Sloppy strings seen in real catalogues are read
//! with a warning that says what was assumed; nothing is silently repaired, nothing is guessed.
use serde::Serialize;

use crate::{HvmError, Note};

pub const KMH_PER_MPH: f64 = 1.609344;
pub const M_PER_FT: f64 = 0.3048;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Standard {
    #[serde(rename = "PAS 68")]
    Pas68,
    #[serde(rename = "IWA 14-1")]
    Iwa14,
    #[serde(rename = "ISO 22343-1")]
    Iso22343,
    #[serde(rename = "ASTM F2656")]
    AstmF2656,
    #[serde(rename = "DoS SD-STD-02.01")]
    DosK,
}

/// A rating read from a string, in SI units.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rating {
    pub input: String,
    /// The rating written in its standard's canonical form.
    pub normalised: String,
    pub standard: Standard,
    pub vehicle_class: String,
    pub mass_kg: f64,
    pub speed_kmh: f64,
    /// The test speed as rated, for ASTM and DoS ratings.
    pub speed_mph: Option<f64>,
    pub angle_deg: f64,
    /// Penetration (m); for a penetration class (ASTM P, DoS L), the upper bound of its range.
    pub penetration_m: Option<f64>,
    pub penetration_class: Option<String>,
    /// [lowest, highest] penetration (m) of the class; highest is null when open-ended.
    pub penetration_range_m: Option<[Option<f64>; 2]>,
    pub debris_m: Option<f64>,
    /// A free-standing, Ap surface-mounted (pinned or bolted), B ≤ 0.5 m deep, C > 0.5 m deep.
    pub foundation: Option<String>,
    pub warnings: Vec<Note>,
}

/// IWA 14-1 / ISO 22343-1 classes and test masses (kg); N3E's mass range is unverified.
const ISO_CLASSES: &[(&str, f64, f64)] = &[
    ("M1", 1500.0, 1500.0),
    ("N1G", 2500.0, 2500.0),
    ("N1", 3500.0, 3500.0),
    ("N2A", 7200.0, 7200.0),
    ("N2B", 7200.0, 7200.0),
    ("N3C", 7200.0, 7200.0),
    ("N3D", 12000.0, 12000.0),
    ("N3E", 24000.0, 30000.0),
    ("N3F", 30000.0, 30000.0),
];
/// PAS 68 classes whose names IWA/ISO do not use; N3 is tested at 7,500 or 30,000 kg.
const PAS_ONLY_CLASSES: &[(&str, f64, f64)] = &[("N2", 7500.0, 7500.0), ("N3", 7500.0, 30000.0)];
const FOUNDATIONS: &[&str] = &["A", "Ap", "B", "C"];
/// ASTM F2656 test vehicles and masses (kg).
const ASTM_VEHICLES: &[(&str, f64)] = &[("PU", 2300.0), ("C", 1100.0), ("M", 6800.0), ("H", 29500.0)];

fn unreadable(input: &str, reason: impl Into<String>) -> HvmError {
    HvmError::RatingUnreadable { input: input.to_owned(), reason: reason.into() }
}

const EXPECTED: &str = "expected e.g. V/7200[N2A]/48/90:8.3/0.0 (ISO 22343-1), V/7500[N3]/80/90:2.3/4.0 (PAS 68), V/7200[N2B]/80/90:0.7 (IWA 14-1), M50/P1 (ASTM F2656) or K12 (DoS)";

impl Rating {
    /// Reads a rating string.
    pub fn parse(input: &str) -> Result<Rating, HvmError> {
        let mut warnings = Vec::new();
        let (hint, rest) = strip_standard_prefix(input.trim());
        if rest.is_empty() {
            return Err(unreadable(input, format!("the string is empty; {EXPECTED}")));
        }
        let compact: String = rest.chars().filter(|c| !c.is_whitespace()).collect();
        if compact.len() != rest.len() {
            warnings.push(Note::new(
                "spaces_removed",
                "spaces inside the rating were ignored",
                "les espaces dans la classification ont été ignorés",
            ));
        }
        let upper = compact.to_ascii_uppercase();
        let mut rating = if let Some(r) = parse_dos(&upper, &mut warnings) {
            r
        } else if let Some(r) = parse_astm(&upper, &mut warnings) {
            r
        } else {
            parse_vehicle_test(input, &compact, hint, &mut warnings)?
        };
        if let Some(h) = hint
            && h != rating.standard
        {
            rating.warnings.push(Note::new(
                "standard_prefix_differs",
                format!(
                    "the prefix names {} but the figures read as {}",
                    standard_name(h),
                    standard_name(rating.standard)
                ),
                format!(
                    "le préfixe indique {} mais les valeurs se lisent comme {}",
                    standard_name(h),
                    standard_name(rating.standard)
                ),
            ));
        }
        rating.input = input.to_owned();
        warnings.append(&mut rating.warnings);
        rating.warnings = warnings;
        Ok(rating)
    }

    pub fn energy_kj(&self) -> f64 {
        crate::dynamics::energy_kj(self.mass_kg, self.speed_kmh / crate::dynamics::KMH_PER_MS)
    }
}

pub fn standard_name(s: Standard) -> &'static str {
    match s {
        Standard::Pas68 => "PAS 68",
        Standard::Iwa14 => "IWA 14-1",
        Standard::Iso22343 => "ISO 22343-1",
        Standard::AstmF2656 => "ASTM F2656",
        Standard::DosK => "DoS SD-STD-02.01",
    }
}

/// A leading standard name such as "PAS 68:2013", "IWA 14-1:2013 " or "ASTM F2656-15".
fn strip_standard_prefix(s: &str) -> (Option<Standard>, &str) {
    const PREFIXES: &[(&str, Standard)] = &[
        ("PAS68", Standard::Pas68),
        ("PAS 68", Standard::Pas68),
        ("IWA14-1", Standard::Iwa14),
        ("IWA 14-1", Standard::Iwa14),
        ("ISO22343-1", Standard::Iso22343),
        ("ISO 22343-1", Standard::Iso22343),
        ("ASTM F2656", Standard::AstmF2656),
        ("ASTMF2656", Standard::AstmF2656),
    ];
    for (p, standard) in PREFIXES {
        if s.len() >= p.len() && s.is_char_boundary(p.len()) && s[..p.len()].eq_ignore_ascii_case(p) {
            let rest = s[p.len()..]
                .trim_start_matches([':', '-'])
                .trim_start_matches(|c: char| c.is_ascii_digit())
                .trim_start_matches([',', ':', ' ']);
            return (Some(*standard), rest.trim());
        }
    }
    (None, s)
}

fn number_prefix(s: &str) -> Option<(f64, &str)> {
    let end = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
    let n = s[..end].parse::<f64>().ok()?;
    Some((n, &s[end..]))
}

/// `K4`, `K8`, `K12`, optionally with `L1`–`L3` after `-`, `/` or nothing.
fn parse_dos(s: &str, warnings: &mut Vec<Note>) -> Option<Rating> {
    let rest = s.strip_prefix('K')?;
    let (k, rest) = number_prefix(rest)?;
    let mph = match k as u32 {
        4 if k == 4.0 => 30.0,
        8 if k == 8.0 => 40.0,
        12 if k == 12.0 => 50.0,
        _ => return None,
    };
    let level = rest.trim_start_matches(['-', '/']);
    let (class, range_ft) = match level {
        "" => (None, None),
        "L3" => (Some("L3"), Some([0.0, 3.0])),
        "L2" => (Some("L2"), Some([3.0, 20.0])),
        "L1" => (Some("L1"), Some([20.0, 50.0])),
        _ => return None,
    };
    if class.is_none() {
        warnings.push(Note::new("penetration_not_stated", "no penetration level (L1–L3) is given: the penetration is unknown and a stand-off cannot be checked", "aucun niveau de pénétration (L1–L3) n'est indiqué : la pénétration est inconnue et la distance de sécurité ne peut pas être vérifiée"));
    }
    let range = range_ft.map(|[lo, hi]: [f64; 2]| [Some(lo * M_PER_FT), Some(hi * M_PER_FT)]);
    let normalised = match class {
        Some(c) => format!("K{k}/{c}"),
        None => format!("K{k}"),
    };
    Some(us_rating(normalised, Standard::DosK, "M", 6800.0, mph, class, range))
}

/// `M50/P1`, `M30-P1`, `PU60`, `C40-P2`.
fn parse_astm(s: &str, warnings: &mut Vec<Note>) -> Option<Rating> {
    let (vehicle, mass) = ASTM_VEHICLES.iter().find(|(v, _)| s.starts_with(v))?;
    let (mph, rest) = number_prefix(&s[vehicle.len()..])?;
    let p = rest.trim_start_matches(['-', '/']);
    let (class, range) = match p {
        "" => (None, None),
        "P1" => (Some("P1"), Some([Some(0.0), Some(1.0)])),
        "P2" => (Some("P2"), Some([Some(1.01), Some(7.0)])),
        "P3" => (Some("P3"), Some([Some(7.01), Some(30.0)])),
        "P4" => (Some("P4"), Some([Some(30.0), None])),
        _ => return None,
    };
    if ![30.0, 40.0, 50.0, 60.0].contains(&mph) {
        warnings.push(Note::new("unusual_speed", format!("{mph} mph is not an ASTM F2656 test speed (30, 40, 50, 60 mph); kept as written"), format!("{mph} mph n'est pas une vitesse d'essai ASTM F2656 (30, 40, 50, 60 mph) ; valeur conservée telle quelle")));
    }
    match class {
        None => warnings.push(Note::new("penetration_not_stated", "no penetration class (P1–P3) is given: the penetration is unknown and a stand-off cannot be checked", "aucune classe de pénétration (P1–P3) n'est indiquée : la pénétration est inconnue et la distance de sécurité ne peut pas être vérifiée")),
        Some("P4") => warnings.push(Note::new("p4_withdrawn", "P4 (30 m or more) was dropped in ASTM F2656-15: the penetration has no upper bound", "P4 (30 m ou plus) a été supprimée dans ASTM F2656-15 : la pénétration n'a pas de borne supérieure")),
        Some(_) => {}
    }
    let normalised = match class {
        Some(c) => format!("{vehicle}{mph}-{c}"),
        None => format!("{vehicle}{mph}"),
    };
    Some(us_rating(normalised, Standard::AstmF2656, vehicle, *mass, mph, class, range))
}

/// A DoS or ASTM rating: tested at 90°, speed in mph, penetration as a class with a range.
fn us_rating(
    normalised: String,
    standard: Standard,
    vehicle: &str,
    mass_kg: f64,
    mph: f64,
    class: Option<&str>,
    range: Option<[Option<f64>; 2]>,
) -> Rating {
    Rating {
        input: String::new(),
        normalised,
        standard,
        vehicle_class: vehicle.to_owned(),
        mass_kg,
        speed_kmh: mph * KMH_PER_MPH,
        speed_mph: Some(mph),
        angle_deg: 90.0,
        penetration_m: range.and_then(|r| r[1]),
        penetration_class: class.map(str::to_owned),
        penetration_range_m: range,
        debris_m: None,
        foundation: None,
        warnings: Vec::new(),
    }
}

/// `V/7200[N2A]/48/90:8.3/0.0` and its sloppy variants.
fn parse_vehicle_test(
    input: &str,
    s: &str,
    hint: Option<Standard>,
    warnings: &mut Vec<Note>,
) -> Result<Rating, HvmError> {
    let fail = |why: &str| unreadable(input, format!("{why}; {EXPECTED}"));
    let mut rest = match s.strip_prefix("V/").or_else(|| s.strip_prefix("v/")) {
        Some(r) => r,
        None if s.starts_with(|c: char| c.is_ascii_digit()) => {
            warnings.push(Note::new(
                "prefix_assumed",
                "no \"V/\" prefix: read as a vehicle impact test",
                "pas de préfixe « V/ » : lu comme un essai de choc de véhicule",
            ));
            s
        }
        // Regression: `K99` was reported as not starting with V/.
        None if s.strip_prefix('K').is_some_and(|k| k.starts_with(|c: char| c.is_ascii_digit())) => {
            return Err(unreadable(
                input,
                format!(
                    "{s} is not a K-rating of the US Department of State standard: the K-ratings are K4 (30 mph), K8 (40 mph) and K12 (50 mph), optionally followed by a penetration level L1, L2 or L3 (e.g. K12-L3)"
                ),
            ));
        }
        None => return Err(fail("it does not start with V/ followed by the test mass")),
    };
    let (mass, after) = number_prefix(rest).ok_or_else(|| fail("no test mass after V/"))?;
    rest = after;
    let close = match rest.chars().next() {
        Some('[') => ']',
        Some('(') => ')',
        _ => return Err(fail("the vehicle class must follow the mass in [ ] or ( )")),
    };
    let end = rest.find(close).ok_or_else(|| fail("the vehicle class bracket is not closed"))?;
    let class = rest[1..end].to_ascii_uppercase();
    rest = &rest[end + 1..];
    match rest.strip_prefix('/') {
        Some(r) => rest = r,
        None => warnings.push(Note::new(
            "slash_missing",
            "no \"/\" after the vehicle class: the next number was read as the speed",
            "pas de « / » après la classe de véhicule : le nombre suivant a été lu comme la vitesse",
        )),
    }
    let (speed, after) = number_prefix(rest).ok_or_else(|| fail("no test speed (km/h)"))?;
    rest = after.strip_prefix('/').ok_or_else(|| fail("the impact angle must follow the speed after a /"))?;
    let (angle, after) = number_prefix(rest).ok_or_else(|| fail("no impact angle (degrees)"))?;
    rest = after;
    let mut foundation = None;
    let mut figures: Vec<f64> = Vec::new();
    if let Some(r) = rest.strip_prefix(':') {
        rest = r;
    } else if let Some(r) = rest.strip_prefix('/')
        && r.starts_with(|c: char| c.is_ascii_digit())
    {
        rest = r;
        warnings.push(Note::new(
            "slash_for_colon",
            "a \"/\" stands where \":\" is expected: the number after it was read as the penetration (m)",
            "un « / » remplace le « : » attendu : le nombre qui suit a été lu comme la pénétration (m)",
        ));
    }
    while !rest.is_empty() {
        if let Some((value, after)) = number_prefix(rest) {
            figures.push(value);
            rest = after.strip_prefix('/').unwrap_or(after);
            continue;
        }
        let code = rest.trim_start_matches('/');
        match FOUNDATIONS.iter().find(|f| f.eq_ignore_ascii_case(code)) {
            Some(f) if foundation.is_none() => {
                foundation = Some((*f).to_owned());
                rest = "";
            }
            _ => return Err(fail(&format!("unexpected \"{rest}\" after the test figures"))),
        }
    }
    if figures.len() > 2 {
        return Err(fail("more than two figures (penetration, debris) after the angle"));
    }
    if !(speed > 0.0 && speed <= 200.0) {
        return Err(fail(&format!("test speed {speed} km/h is not plausible")));
    }
    if !(angle > 0.0 && angle <= 90.0) {
        return Err(fail(&format!("impact angle {angle}° must lie between 0 and 90")));
    }
    if !(500.0..=60_000.0).contains(&mass) {
        return Err(fail(&format!("test mass {mass} kg is not plausible")));
    }
    let iso = ISO_CLASSES.iter().find(|(k, ..)| *k == class);
    let pas = PAS_ONLY_CLASSES.iter().find(|(k, ..)| *k == class);
    let (standard, expected) = match (iso, pas, figures.len()) {
        (_, Some(p), _) => (Standard::Pas68, p),
        (Some(i), None, 2) if class.len() == 3 && class != "N1G" => (Standard::Iso22343, i),
        (Some(i), None, 2) => {
            let s = match hint {
                Some(Standard::Pas68) => Standard::Pas68,
                _ => Standard::Iso22343,
            };
            if hint.is_none() {
                warnings.push(Note::new("standard_ambiguous", format!("class {class} with penetration and debris figures is written the same in PAS 68 and ISO 22343-1: read as ISO 22343-1"), format!("la classe {class} avec pénétration et dispersion s'écrit de même en PAS 68 et en ISO 22343-1 : lue comme ISO 22343-1")));
            }
            (s, i)
        }
        (Some(i), None, _) => (Standard::Iwa14, i),
        (None, None, _) => return Err(fail(&format!("unknown vehicle class \"{class}\""))),
    };
    let (_, lo, hi) = *expected;
    if mass < lo || mass > hi {
        let (en, fr) = if lo == hi {
            (format!("{lo}"), format!("{lo}"))
        } else {
            (format!("{lo} or {hi}"), format!("{lo} ou {hi}"))
        };
        warnings.push(Note::new(
            "mass_differs",
            format!("test mass {mass} kg differs from the {en} kg of class {class}; kept as written"),
            format!(
                "la masse d'essai {mass} kg diffère des {fr} kg de la classe {class} ; valeur conservée telle quelle"
            ),
        ));
    }
    if standard == Standard::Pas68 && figures.len() == 1 {
        warnings.push(Note::new("debris_not_stated", format!("one figure after the angle: read as penetration; class {class} is a PAS 68 class and no debris distance is given"), format!("un seul nombre après l'angle : lu comme la pénétration ; la classe {class} est une classe PAS 68 et aucune distance de dispersion n'est donnée")));
    }
    if figures.is_empty() {
        warnings.push(Note::new(
            "penetration_not_stated",
            "no penetration figure: a stand-off cannot be checked",
            "aucune valeur de pénétration : la distance de sécurité ne peut pas être vérifiée",
        ));
    }
    let penetration = figures.first().copied();
    let debris = figures.get(1).copied();
    let mut normalised = format!("V/{mass}[{class}]/{speed}/{angle}");
    if let Some(p) = penetration {
        normalised.push_str(&format!(":{p:.1}"));
    }
    if let Some(d) = debris {
        normalised.push_str(&format!("/{d:.1}"));
    }
    if let Some(f) = &foundation {
        normalised.push_str(&format!("/{f}"));
    }
    Ok(Rating {
        input: String::new(),
        normalised,
        standard,
        vehicle_class: class,
        mass_kg: mass,
        speed_kmh: speed,
        speed_mph: None,
        angle_deg: angle,
        penetration_m: penetration,
        penetration_class: None,
        penetration_range_m: None,
        debris_m: debris,
        foundation,
        warnings: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(r: &Rating) -> Vec<&'static str> {
        r.warnings.iter().map(|w| w.code).collect()
    }

    #[test]
    fn clean_strings() {
        let r = Rating::parse("V/7200[N2A]/48/90:8.3/0.0").unwrap();
        assert_eq!(
            (r.standard, r.vehicle_class.as_str(), r.mass_kg, r.speed_kmh, r.angle_deg),
            (Standard::Iso22343, "N2A", 7200.0, 48.0, 90.0)
        );
        assert_eq!((r.penetration_m, r.debris_m), (Some(8.3), Some(0.0)));
        assert!(r.warnings.is_empty());
        let r = Rating::parse("V/12000[N3D]/48/90:0.6").unwrap();
        assert_eq!((r.standard, r.penetration_m, r.debris_m), (Standard::Iwa14, Some(0.6), None));
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);
        let r = Rating::parse("V/7500[N3]/80/90:2.3/4.0").unwrap();
        assert_eq!((r.standard, r.mass_kg), (Standard::Pas68, 7500.0));
        assert!(r.warnings.is_empty());
        let r = Rating::parse("V/30000[N3]/80/90:3.3/25.0").unwrap();
        assert!(r.warnings.is_empty());
        let r = Rating::parse("V/7500[N2]/48/45:4/1.0").unwrap();
        assert_eq!((r.angle_deg, r.penetration_m), (45.0, Some(4.0)));
        let r = Rating::parse("V/7200[N2B]/64/90:0").unwrap();
        assert_eq!(r.penetration_m, Some(0.0));
        let r = Rating::parse("V/7200[N2A]/48/30:0.2").unwrap();
        assert_eq!(r.angle_deg, 30.0);
    }

    #[test]
    fn an_unknown_k_rating_is_named_as_such() {
        let err = Rating::parse("K99").unwrap_err().to_string();
        assert!(err.contains("not a K-rating") && err.contains("K4") && !err.contains("V/"), "{err}");
        assert_eq!(Rating::parse("k12-l3").unwrap().normalised, "K12/L3");
    }

    #[test]
    fn sloppy_strings_warn() {
        assert_eq!(codes(&Rating::parse("V/7200 [N3C]/80/90:1.1").unwrap()), ["spaces_removed"]);
        let r = Rating::parse("V/7200[N2A]48/90:0.2").unwrap();
        assert_eq!((codes(&r), r.speed_kmh), (vec!["slash_missing"], 48.0));
        let r = Rating::parse("V/7200[N2A]/48/90/25.4").unwrap();
        assert_eq!((codes(&r), r.penetration_m), (vec!["slash_for_colon"], Some(25.4)));
        let r = Rating::parse("7500[N3]/80/90:2.3/4.0").unwrap();
        assert_eq!((codes(&r), r.standard), (vec!["prefix_assumed"], Standard::Pas68));
        let r = Rating::parse("V/7200(N3)/48/90:1.0").unwrap();
        assert_eq!(codes(&r), ["mass_differs", "debris_not_stated"]);
        assert_eq!(r.mass_kg, 7200.0, "never repaired");
    }

    #[test]
    fn astm_and_dos() {
        for s in ["M50/P1", "M30-P1", "M50 / P3"] {
            let r = Rating::parse(s).unwrap();
            assert_eq!((r.standard, r.mass_kg), (Standard::AstmF2656, 6800.0));
        }
        let r = Rating::parse("M50/P1").unwrap();
        assert!((r.speed_kmh - 80.467).abs() < 0.01);
        assert_eq!((r.penetration_m, r.penetration_class.as_deref()), (Some(1.0), Some("P1")));
        assert_eq!(codes(&Rating::parse("M50 / P3").unwrap()), ["spaces_removed"]);
        let r = Rating::parse("K12").unwrap();
        assert_eq!((r.standard, r.mass_kg, r.speed_mph, r.penetration_m), (Standard::DosK, 6800.0, Some(50.0), None));
        assert_eq!(codes(&r), ["penetration_not_stated"]);
        let r = Rating::parse("K8-L2").unwrap();
        assert!((r.penetration_m.unwrap() - 6.096).abs() < 1e-9);
    }

    #[test]
    fn garbage_is_an_error() {
        for s in [
            "",
            "hello",
            "V/7200[N9]/48/90:1",
            "V/7200[N2A]/48",
            "V/7200[N2A]/480/90:1",
            "V/7200[N2A]/48/120:1",
            "V/7200[N2A]/48/90:1/2/3",
            "K13",
            "X50/P1",
            "V/7200[N2A/48/90:1",
        ] {
            let e = Rating::parse(s).unwrap_err();
            assert_eq!(e.code(), "hvm_rating_unreadable", "{s}");
        }
    }

    #[test]
    fn prefix_and_foundation() {
        let r = Rating::parse("PAS 68:2013 V/7500[N3]/80/90:2.3/4.0/A").unwrap();
        assert_eq!((r.standard, r.foundation.as_deref()), (Standard::Pas68, Some("A")));
        assert_eq!(r.normalised, "V/7500[N3]/80/90:2.3/4.0/A");
    }
}
