//! Hostile vehicle mitigation (HVM) for Vigie: the street graph a hostile driver can use, the
//! vehicle dynamics on it, the speeds at a site's access points, crash-rating strings and the
//! check that a rated barrier covers a threat. Pure computation; the only I/O is in [`osm`].
//! The model and every parameter are described in `docs/hvm.md`.
#![deny(clippy::indexing_slicing)] // pure code: a bad index is an error to return, not a panic

pub mod coverage;
pub mod dynamics;
pub mod graph;
pub mod osm;
pub mod rating;
pub mod render;
pub mod synthetic;
pub mod vda;

pub use coverage::{
    Catalogue, Coverage, Product, RecommendParams, Recommendation, Requirement, check, recommend, requirement,
};
pub use dynamics::{DynamicsParams, VehicleClass, VehicleSet};
pub use graph::{GraphOptions, StreetGraph};

pub use rating::{Rating, Standard};
pub use vda::{Analyser, VdaResult, analyse_site};
pub use vigie_domain::DomainError;

/// A message a person reads, in English and French, with a stable code for programs.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Note {
    pub code: &'static str,
    pub en: String,
    pub fr: String,
}

impl Note {
    pub fn new(code: &'static str, en: impl Into<String>, fr: impl Into<String>) -> Self {
        Note { code, en: en.into(), fr: fr.into() }
    }
}

/// The crate's one error enum; each variant has a stable code (see [`HvmError::code`]).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum HvmError {
    #[error("cannot read the rating \"{input}\": {reason}")]
    RatingUnreadable { input: String, reason: String },
    #[error("the vehicle classes are invalid: {reason}")]
    VehiclesInvalid { reason: String },
    #[error("unknown vehicle class \"{key}\"; known classes: {known}")]
    VehicleUnknown { key: String, known: String },
    #[error("the barrier catalogue is invalid at line {line}: {reason}")]
    CatalogueInvalid { line: usize, reason: String },
    #[error("{name}: {reason}")]
    ParameterInvalid { name: String, reason: String },
}

impl HvmError {
    pub fn code(&self) -> vigie_domain::Code {
        match self {
            HvmError::RatingUnreadable { .. } => vigie_domain::Code::HvmRatingUnreadable,
            HvmError::VehiclesInvalid { .. } => vigie_domain::Code::HvmVehiclesInvalid,
            HvmError::VehicleUnknown { .. } => vigie_domain::Code::HvmVehicleUnknown,
            HvmError::CatalogueInvalid { .. } => vigie_domain::Code::HvmCatalogueInvalid,
            HvmError::ParameterInvalid { .. } => vigie_domain::Code::HvmParameterInvalid,
        }
    }

    pub fn details(&self) -> serde_json::Value {
        match self {
            HvmError::RatingUnreadable { input, .. } => serde_json::json!({ "input": input }),
            HvmError::VehicleUnknown { key, known } => serde_json::json!({ "vehicle": key, "known": known }),
            HvmError::CatalogueInvalid { line, .. } => serde_json::json!({ "line": line }),
            HvmError::ParameterInvalid { name, .. } => serde_json::json!({ "parameter": name }),
            HvmError::VehiclesInvalid { .. } => serde_json::Value::Null,
        }
    }

    pub(crate) fn parameter(name: &str, reason: impl Into<String>) -> Self {
        HvmError::ParameterInvalid { name: name.to_owned(), reason: reason.into() }
    }
}

impl From<HvmError> for vigie_domain::Failure {
    fn from(err: HvmError) -> Self {
        vigie_domain::Failure::new(err.code(), err.to_string()).with_details(err.details())
    }
}

/// A site outline from GeoJSON: a Polygon or MultiPolygon geometry, a Feature holding one, or a
/// FeatureCollection with exactly one such feature.
pub fn site_from_geojson(
    value: &serde_json::Value,
) -> Result<vigie_domain::geometry::SiteGeometry, vigie_domain::DomainError> {
    let invalid = |reason: String| vigie_domain::DomainError::GeometryInvalid { reason };
    match value.get("type").and_then(serde_json::Value::as_str) {
        Some("Feature") => match value.get("geometry") {
            Some(g) if !g.is_null() => site_from_geojson(g),
            _ => Err(invalid("the Feature has no geometry".into())),
        },
        Some("FeatureCollection") => {
            match value.get("features").and_then(serde_json::Value::as_array).map(Vec::as_slice) {
                Some([one]) => site_from_geojson(one),
                Some(many) => Err(invalid(format!(
                    "the FeatureCollection holds {} features; a site file must hold exactly one (a Polygon or MultiPolygon)",
                    many.len()
                ))),
                None => Err(invalid("the FeatureCollection has no \"features\" array".into())),
            }
        }
        _ => vigie_domain::geometry::SiteGeometry::from_geojson(value),
    }
}
