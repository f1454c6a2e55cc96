//! Hostile-vehicle studies as stored and shown.
use crate::id::{OrgId, SiteId, StudyId};
use std::collections::BTreeMap;

use serde::Deserialize;

/// A vehicle dynamics study of a site, kept with it. `result` is the study as
/// `vigie_hvm::analyse_site` computed it (access points, impact speeds, critical paths): a
/// document the API hands on as it is. `summary` is what Vigie itself reads of it, typed, read
/// once where the study leaves the store.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct HvmStudy {
    pub id: StudyId,
    pub site_id: SiteId,
    pub org_id: OrgId,
    pub created_at_ms: i64,
    pub created_by: String,
    pub vehicles_version: String,
    pub network: String,
    pub result: serde_json::Value,
    #[serde(skip)]
    pub summary: HvmStudySummary,
}

/// What a study says, typed: each access point's impact speed per vehicle class, and how many
/// barriers the study assumed in place.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HvmStudySummary {
    pub access_points: Vec<AccessPointSpeeds>,
    pub assumed_barriers: usize,
}

/// The impact speed of each vehicle class at one access point, in km/h.
#[derive(Debug, Clone, PartialEq)]
pub struct AccessPointSpeeds {
    pub id: String,
    pub speed_kmh: BTreeMap<String, f64>,
}

#[derive(Deserialize)]
struct ResultShape {
    access_points: Vec<AccessPointShape>,
    assumed_barriers: Vec<serde::de::IgnoredAny>,
}

#[derive(Deserialize)]
struct AccessPointShape {
    id: String,
    vehicles: BTreeMap<String, ImpactShape>,
}

#[derive(Deserialize)]
struct ImpactShape {
    speed_kmh: f64,
}

impl HvmStudySummary {
    /// The summary of a study's result document; `None` when the document does not have the
    /// shape of a study (the caller reports it as corrupt, never as zero speeds).
    pub fn of(result: &serde_json::Value) -> Option<Self> {
        let shape = ResultShape::deserialize(result).ok()?;
        Some(HvmStudySummary {
            access_points: shape
                .access_points
                .into_iter()
                .map(|p| AccessPointSpeeds {
                    id: p.id,
                    speed_kmh: p.vehicles.into_iter().map(|(class, impact)| (class, impact.speed_kmh)).collect(),
                })
                .collect(),
            assumed_barriers: shape.assumed_barriers.len(),
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_study_is_summarised_with_its_speeds() {
        let result = json!({
            "access_points": [{"id": "AP1", "lon": 24.9, "vehicles": {"M1": {"speed_kmh": 48.5, "path": []}}}],
            "assumed_barriers": [{"osm_node": 1}, {"osm_node": 2}],
            "model": {}
        });
        let summary = HvmStudySummary::of(&result).unwrap();
        assert_eq!(summary.assumed_barriers, 2);
        assert_eq!(summary.access_points[0].speed_kmh["M1"], 48.5);
    }

    #[test]
    fn an_unreadable_vehicle_study_is_reported_not_read_as_zero_speeds() {
        let speed_not_a_number = json!({"access_points": [{"id": "AP1", "vehicles": {"M1": {"speed_kmh": "fast"}}}], "assumed_barriers": []});
        assert_eq!(HvmStudySummary::of(&speed_not_a_number), None);
        assert_eq!(HvmStudySummary::of(&json!({"assumed_barriers": []})), None);
    }
}
