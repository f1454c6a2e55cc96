//! Threat levels: an authority sets the level (1–5, the methodology's scale) for its whole
//! jurisdiction or for a polygon of it, from a given time. The level in force at a site is, for
//! each authority, its latest decision covering the site, and across authorities the highest.
use crate::error::DomainError;
use crate::geometry::SiteGeometry;
use crate::id::{BulletinId, OrgId, ThreatLevelId, UserId};

pub const MAX_REASON_CHARS: usize = 2_000;

/// What the authority decides; checked by [`ThreatLevelDraft::check`] before it is stored.
#[derive(Debug, Clone, PartialEq)]
pub struct ThreatLevelDraft {
    pub level: u8,
    /// A GeoJSON Polygon or MultiPolygon; none for the whole jurisdiction.
    pub area: Option<serde_json::Value>,
    pub reason: String,
    pub effective_ms: i64,
    /// The bulletin that announced the change, when one did.
    pub bulletin: Option<BulletinId>,
}

impl ThreatLevelDraft {
    /// The area as a checked shape (none for the whole jurisdiction).
    pub fn check(&self) -> Result<Option<SiteGeometry>, DomainError> {
        if !(1..=5).contains(&self.level) {
            return Err(DomainError::validation("level", "a threat level is 1 (low) to 5 (critical)"));
        }
        let reason = self.reason.trim();
        if reason.is_empty() || reason.chars().count() > MAX_REASON_CHARS {
            return Err(DomainError::validation(
                "reason",
                format!("give the reason for the level, in 1 to {MAX_REASON_CHARS} characters"),
            ));
        }
        if reason.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
            return Err(DomainError::validation("reason", "must not contain control characters"));
        }
        if self.effective_ms < 0 {
            return Err(DomainError::validation("effective", "a time after 1970"));
        }
        self.area.as_ref().map(SiteGeometry::warning_area).transpose()
    }
}

/// The body of `POST /api/v1/threat-levels`.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThreatLevelRequest {
    pub level: u8,
    #[serde(default)]
    pub area: Option<serde_json::Value>,
    pub reason: String,
    /// RFC 3339; now when absent.
    #[serde(default)]
    pub effective: Option<String>,
}

impl ThreatLevelRequest {
    pub fn into_draft(self, now_ms: i64) -> Result<ThreatLevelDraft, DomainError> {
        Ok(ThreatLevelDraft {
            level: self.level,
            area: self.area,
            reason: self.reason,
            effective_ms: match &self.effective {
                Some(text) => crate::bulletin::time_ms("effective", text)?,
                None => now_ms,
            },
            bulletin: None,
        })
    }
}

/// A threat level as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct ThreatLevel {
    pub id: ThreatLevelId,
    /// The authority that set it.
    pub org_id: OrgId,
    pub set_by: UserId,
    pub created_at_ms: i64,
    pub draft: ThreatLevelDraft,
}

impl ThreatLevel {
    pub fn to_json(&self) -> serde_json::Value {
        let d = &self.draft;
        serde_json::json!({
            "id": self.id,
            "org_id": self.org_id,
            "set_by": self.set_by,
            "created_at": crate::bulletin::rfc3339(self.created_at_ms),
            "level": d.level,
            "area": d.area,
            "whole_jurisdiction": d.area.is_none(),
            "reason": d.reason,
            "effective": crate::bulletin::rfc3339(d.effective_ms),
            "bulletin_id": d.bulletin,
        })
    }
}

/// The level in force at `at_ms` among the decisions that cover a site: for each authority the
/// decision it made last among those already in effect (a later decision supersedes an
/// earlier one, backdated or not), then the highest of those. None when no authority has
/// decided anything for the site.
pub fn level_in_force<'a>(covering: impl IntoIterator<Item = &'a ThreatLevel>, at_ms: i64) -> Option<&'a ThreatLevel> {
    let mut latest: Vec<&ThreatLevel> = Vec::new();
    for level in covering.into_iter().filter(|l| l.draft.effective_ms <= at_ms) {
        let key = |l: &ThreatLevel| (l.created_at_ms, l.draft.effective_ms);
        match latest.iter_mut().find(|l| l.org_id == level.org_id) {
            Some(kept) if key(kept) < key(level) => *kept = level,
            Some(_) => {}
            None => latest.push(level),
        }
    }
    latest.into_iter().max_by_key(|l| (l.draft.level, l.draft.effective_ms))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn level(org: &str, value: u8, effective_ms: i64, created_at_ms: i64) -> ThreatLevel {
        ThreatLevel {
            id: format!("{org}-{value}-{effective_ms}").into(),
            org_id: org.into(),
            set_by: "u".into(),
            created_at_ms,
            draft: ThreatLevelDraft { level: value, area: None, reason: "r".into(), effective_ms, bulletin: None },
        }
    }

    #[test]
    fn an_authoritys_latest_decision_applies_and_the_highest_authority_wins() {
        let levels =
            [level("city", 4, 10, 10), level("city", 2, 20, 20), level("nation", 3, 5, 5), level("nation", 1, 1, 30)];
        assert_eq!(level_in_force(&levels[..3], 15).map(|l| l.draft.level), Some(4));
        // The city lowered to 2; the nation's 3 still holds.
        assert_eq!(level_in_force(&levels[..3], 25).map(|l| l.draft.level), Some(3));
        // Until the nation decides (at 30) on 1, backdated to 1: its latest decision applies.
        assert_eq!(level_in_force(&levels[..3], 35).map(|l| l.draft.level), Some(3));
        assert_eq!(level_in_force(&levels, 35).map(|l| l.draft.level), Some(2));
        // Nothing in effect yet.
        assert_eq!(level_in_force(&levels[..3], 1), None);
        // A decision set for later does not apply before its time.
        let later = [level("city", 5, 100, 1)];
        assert_eq!(level_in_force(&later, 50), None);
    }

    #[test]
    fn a_level_needs_a_scale_value_a_reason_and_a_real_polygon() {
        let mut draft = level("city", 3, 0, 0).draft;
        assert!(draft.check().is_ok());
        draft.level = 6;
        assert!(draft.check().is_err());
        draft.level = 3;
        draft.reason = "  ".into();
        assert!(draft.check().is_err());
        draft.reason = "Attack in a neighbouring country".into();
        draft.area = Some(json!({"type": "Polygon", "coordinates": [[[24.9, 60.1], [25.0, 60.1], [24.9, 60.1]]]}));
        let err = draft.check().unwrap_err().to_string();
        assert!(err.contains("area"), "{err}");
        draft.area = Some(
            json!({"type": "Polygon", "coordinates": [[[24.9, 60.1], [25.0, 60.1], [25.0, 60.2], [24.9, 60.2], [24.9, 60.1]]]}),
        );
        let shape = draft.check().unwrap().unwrap();
        assert!(shape.contains_point(24.95, 60.15) && !shape.contains_point(25.1, 60.15));
    }
}
