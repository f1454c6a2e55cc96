//! The registry of public spaces: categories and the rules a site must satisfy.
use crate::id::{OrgId, SiteId};
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::DomainError;
use crate::geometry::SiteGeometry;

/// Kinds of public space. The first eight are the targets named by the EU action plan on the
/// protection of public spaces, COM(2017) 612; the last three complete the list for practice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SiteCategory {
    PedestrianZone,
    TouristSite,
    TransportHub,
    ShoppingCentre,
    PlaceOfWorship,
    OpenAirMarket,
    Venue,
    PublicSquare,
    Stadium,
    EventSite,
    Other,
}

impl SiteCategory {
    pub const ALL: [SiteCategory; 11] = [
        SiteCategory::PedestrianZone,
        SiteCategory::TouristSite,
        SiteCategory::TransportHub,
        SiteCategory::ShoppingCentre,
        SiteCategory::PlaceOfWorship,
        SiteCategory::OpenAirMarket,
        SiteCategory::Venue,
        SiteCategory::PublicSquare,
        SiteCategory::Stadium,
        SiteCategory::EventSite,
        SiteCategory::Other,
    ];

    /// The stable key used in files, URLs and the database.
    pub fn key(self) -> &'static str {
        match self {
            SiteCategory::PedestrianZone => "pedestrian_zone",
            SiteCategory::TouristSite => "tourist_site",
            SiteCategory::TransportHub => "transport_hub",
            SiteCategory::ShoppingCentre => "shopping_centre",
            SiteCategory::PlaceOfWorship => "place_of_worship",
            SiteCategory::OpenAirMarket => "open_air_market",
            SiteCategory::Venue => "venue",
            SiteCategory::PublicSquare => "public_square",
            SiteCategory::Stadium => "stadium",
            SiteCategory::EventSite => "event_site",
            SiteCategory::Other => "other",
        }
    }

    pub fn from_key(key: &str) -> Result<Self, DomainError> {
        Self::ALL.into_iter().find(|c| c.key() == key).ok_or_else(|| {
            let known: Vec<&str> = Self::ALL.iter().map(|c| c.key()).collect();
            DomainError::validation(
                "category",
                format!("unknown category '{key}'; expected one of: {}", known.join(", ")),
            )
        })
    }

    pub fn name(self, lang: Lang) -> &'static str {
        use SiteCategory::*;
        match (self, lang) {
            (PedestrianZone, Lang::En) => "Pedestrian zone",
            (PedestrianZone, Lang::Fr) => "Zone piétonne",
            (TouristSite, Lang::En) => "Tourist site",
            (TouristSite, Lang::Fr) => "Site touristique",
            (TransportHub, Lang::En) => "Transport hub",
            (TransportHub, Lang::Fr) => "Pôle de transport",
            (ShoppingCentre, Lang::En) => "Shopping centre",
            (ShoppingCentre, Lang::Fr) => "Centre commercial",
            (PlaceOfWorship, Lang::En) => "Place of worship",
            (PlaceOfWorship, Lang::Fr) => "Lieu de culte",
            (OpenAirMarket, Lang::En) => "Open-air market",
            (OpenAirMarket, Lang::Fr) => "Marché de plein air",
            (Venue, Lang::En) => "Concert hall / venue",
            (Venue, Lang::Fr) => "Salle de concert / de spectacle",
            (PublicSquare, Lang::En) => "Public square",
            (PublicSquare, Lang::Fr) => "Place publique",
            (Stadium, Lang::En) => "Stadium / sports venue",
            (Stadium, Lang::Fr) => "Stade / enceinte sportive",
            (EventSite, Lang::En) => "Event site",
            (EventSite, Lang::Fr) => "Site d'événement",
            (Other, Lang::En) => "Other",
            (Other, Lang::Fr) => "Autre",
        }
    }
}

/// The two languages the product speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    #[default]
    En,
    Fr,
}

impl Lang {
    /// Both languages, French first (the library's documents are mostly French).
    pub const ALL: [Lang; 2] = [Lang::Fr, Lang::En];

    /// A language code of the library (`fr`, `en`, any case), refused as `language_invalid`.
    pub fn parse(given: &str) -> Result<Self, DomainError> {
        let lower = given.trim().to_ascii_lowercase();
        Self::ALL
            .into_iter()
            .find(|l| l.code() == lower)
            .ok_or_else(|| DomainError::LanguageInvalid { given: given.to_owned() })
    }

    pub fn from_code(code: &str) -> Result<Self, DomainError> {
        match code.trim().to_ascii_lowercase().as_str() {
            "en" => Ok(Lang::En),
            "fr" => Ok(Lang::Fr),
            other => Err(DomainError::validation("lang", format!("unknown language '{other}'; expected fr or en"))),
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Fr => "fr",
        }
    }
}

/// What a user supplies to create or replace a site. The owning organisation and the
/// timestamps are not part of it: the shells decide those.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteInput {
    pub name: String,
    pub category: SiteCategory,
    pub geometry: serde_json::Value,
    #[serde(default)]
    pub address: Option<String>,
    #[serde(default)]
    pub peak_occupancy: Option<u32>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

/// A site that passed every rule: trimmed name, valid geometry, computed area.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidSite {
    pub name: String,
    pub category: SiteCategory,
    pub geometry: SiteGeometry,
    pub address: Option<String>,
    pub peak_occupancy: Option<u32>,
    pub tags: BTreeMap<String, String>,
}

pub const MAX_NAME_CHARS: usize = 200;
pub const MAX_TAGS: usize = 64;
/// More people than the largest stadiums hold is a typing error, not a site.
pub const MAX_PEAK_OCCUPANCY: u32 = 500_000;

/// Refuses control characters (NUL, escapes…): they are typing accidents or attacks, and
/// some databases reject them outright.
pub fn check_text(field: &str, text: &str) -> Result<(), DomainError> {
    if text.chars().any(char::is_control) {
        return Err(DomainError::validation(field, "must not contain control characters"));
    }
    Ok(())
}

impl SiteInput {
    pub fn validate(self) -> Result<ValidSite, DomainError> {
        check_text("name", &self.name)?;
        if let Some(address) = &self.address {
            check_text("address", address)?;
        }
        for (key, value) in &self.tags {
            check_text("tags", key)?;
            check_text("tags", value)?;
        }
        let name = self.name.trim().to_owned();
        if name.is_empty() {
            return Err(DomainError::validation("name", "a site needs a name"));
        }
        if name.chars().count() > MAX_NAME_CHARS {
            return Err(DomainError::validation("name", format!("at most {MAX_NAME_CHARS} characters")));
        }
        if let Some(occupancy) = self.peak_occupancy
            && occupancy > MAX_PEAK_OCCUPANCY
        {
            return Err(DomainError::validation(
                "peak_occupancy",
                format!("{occupancy} is more than {MAX_PEAK_OCCUPANCY} people"),
            ));
        }
        if self.tags.len() > MAX_TAGS {
            return Err(DomainError::validation("tags", format!("at most {MAX_TAGS} tags")));
        }
        if let Some(key) = self.tags.keys().find(|k| k.trim().is_empty() || k.len() > 100) {
            return Err(DomainError::validation("tags", format!("tag key '{key}' must be 1 to 100 characters")));
        }
        let geometry = SiteGeometry::from_geojson(&self.geometry)?;
        let address = self.address.map(|a| a.trim().to_owned()).filter(|a| !a.is_empty());
        Ok(ValidSite {
            name,
            category: self.category,
            geometry,
            address,
            peak_occupancy: self.peak_occupancy,
            tags: self.tags,
        })
    }
}

/// A site of the registry, as stored and shown.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Site {
    pub id: SiteId,
    pub org_id: OrgId,
    pub name: String,
    pub category: SiteCategory,
    pub geometry: serde_json::Value,
    pub area_m2: f64,
    pub address: Option<String>,
    pub peak_occupancy: Option<u32>,
    pub tags: std::collections::BTreeMap<String, String>,
    pub source_ref: Option<String>,
    /// Increases with every change; clients send it back to detect concurrent edits.
    pub version: i64,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

/// The tag an OSM import fills with the names of the streets closest to a site, closest
/// first, separated by [`NEAR_STREETS_SEPARATOR`].
pub const NEAR_STREETS_TAG: &str = "vigie:near_streets";
pub const NEAR_STREETS_SEPARATOR: &str = "; ";

impl Site {
    /// The streets closest to the site (from an OSM import), closest first: they tell apart
    /// sites of the same name, and place squares and streets, which have no address.
    pub fn near_streets(&self) -> Vec<&str> {
        self.tags
            .get(NEAR_STREETS_TAG)
            .map(|v| v.split(NEAR_STREETS_SEPARATOR).map(str::trim).filter(|s| !s.is_empty()).collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_category_round_trips_through_its_key() {
        for category in SiteCategory::ALL {
            assert_eq!(SiteCategory::from_key(category.key()), Ok(category));
            let json = serde_json::to_value(category).unwrap_or_default();
            assert_eq!(json, serde_json::Value::String(category.key().to_owned()));
        }
    }

    #[test]
    fn control_characters_are_refused() {
        let input = SiteInput {
            name: "Square\0".into(),
            category: SiteCategory::Other,
            geometry: serde_json::Value::Null,
            address: None,
            peak_occupancy: None,
            tags: BTreeMap::new(),
        };
        assert_eq!(
            input.validate().map_err(|e| e.to_string()),
            Err("name: must not contain control characters".into())
        );
    }

    #[test]
    fn unknown_category_names_the_known_ones() {
        let err = SiteCategory::from_key("castle").unwrap_err();
        assert_eq!(err.code(), "validation_failed");
        assert!(err.to_string().contains("public_square"));
    }

    #[test]
    fn every_category_has_distinct_names_in_both_languages() {
        for lang in [Lang::En, Lang::Fr] {
            let mut names: Vec<_> = SiteCategory::ALL.iter().map(|c| c.name(lang)).collect();
            names.sort();
            names.dedup();
            assert_eq!(names.len(), SiteCategory::ALL.len());
        }
    }
}
