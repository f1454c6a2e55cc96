//! The life of an assessment and of its action plan: who may move it from one status to the
//! next, what may change in each status, and the checks on what people type in.
use crate::id::{ActionId, AssessmentId, OrgId, PhotoId, SiteId, UserId};
use serde::{Deserialize, Serialize};

use crate::access::{Principal, Role};
use crate::error::DomainError;

/// draft → submitted → validated → archived. A validated assessment is immutable: only its
/// action plan moves on; archiving keeps it, read-only, in the site's history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AssessmentStatus {
    Draft,
    Submitted,
    Validated,
    Archived,
}

impl AssessmentStatus {
    pub const ALL: [AssessmentStatus; 4] = [Self::Draft, Self::Submitted, Self::Validated, Self::Archived];

    pub fn key(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Submitted => "submitted",
            Self::Validated => "validated",
            Self::Archived => "archived",
        }
    }

    pub fn from_key(key: &str) -> Result<Self, DomainError> {
        Self::ALL.into_iter().find(|s| s.key() == key).ok_or_else(|| {
            DomainError::validation(
                "to",
                format!("unknown status '{key}'; expected draft, submitted, validated or archived"),
            )
        })
    }

    /// Answers, notes and photos change only while the assessment is a draft.
    pub fn answers_editable(self) -> bool {
        self == Self::Draft
    }
}

/// May `who` see the assessments of `owner_org`? The same rule as for its sites.
pub fn can_read(who: &Principal, owner_org: &OrgId) -> bool {
    who.can_read_org(owner_org)
}

/// May `who` validate (or send back) an assessment of `owner_org`: an admin, or an authority of
/// that organisation or overseeing it.
pub fn can_validate(who: &Principal, owner_org: &OrgId) -> bool {
    match who.role {
        Role::Admin => true,
        Role::Authority => who.can_read_org(owner_org),
        Role::Assessor | Role::Operator | Role::Viewer => false,
    }
}

/// Checks a status change. `submitted_by` is who submitted it: a validator other than an
/// admin must be someone else (four eyes).
pub fn check_transition(
    who: &Principal,
    owner_org: &OrgId,
    from: AssessmentStatus,
    to: AssessmentStatus,
    submitted_by: Option<&str>,
) -> Result<(), DomainError> {
    use AssessmentStatus::*;
    let allowed = match (from, to) {
        (Draft, Submitted) | (Draft, Archived) => who.can_write_org(owner_org),
        (Submitted, Draft) => who.can_write_org(owner_org) || can_validate(who, owner_org),
        (Submitted, Validated) => {
            if can_validate(who, owner_org) && !who.is_admin() && submitted_by == Some(who.user_id.as_str()) {
                return Err(DomainError::Transition {
                    message: "you submitted this assessment: someone else with the authority role must validate it"
                        .into(),
                });
            }
            can_validate(who, owner_org)
        }
        (Validated, Archived) => who.can_write_org(owner_org) || can_validate(who, owner_org),
        _ => {
            return Err(DomainError::Transition {
                message: format!("an assessment cannot go from {} to {}", from.key(), to.key()),
            });
        }
    };
    if allowed {
        Ok(())
    } else {
        Err(DomainError::Forbidden {
            message: format!("your role may not move this assessment from {} to {}", from.key(), to.key()),
        })
    }
}

/// When the next assessment is due: a set period after validation.
pub fn reassessment_due_ms(validated_at_ms: i64, period_days: u32) -> i64 {
    validated_at_ms.saturating_add(i64::from(period_days).saturating_mul(86_400_000))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionStatus {
    Open,
    InProgress,
    Done,
    Cancelled,
}

impl ActionStatus {
    pub const ALL: [ActionStatus; 4] = [Self::Open, Self::InProgress, Self::Done, Self::Cancelled];

    pub fn key(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::InProgress => "in_progress",
            Self::Done => "done",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn from_key(key: &str) -> Result<Self, DomainError> {
        Self::ALL.into_iter().find(|s| s.key() == key).ok_or_else(|| {
            DomainError::validation(
                "status",
                format!("unknown action status '{key}'; expected open, in_progress, done or cancelled"),
            )
        })
    }

    /// Still to be done: counts in the expected risk after the plan.
    pub fn is_pending(self) -> bool {
        matches!(self, Self::Open | Self::InProgress)
    }
}

/// A calendar date as `YYYY-MM-DD`, checked (month lengths, leap years).
pub fn check_date(field: &str, text: &str) -> Result<(), DomainError> {
    let bad = || DomainError::validation(field, format!("'{text}' is not a date written YYYY-MM-DD"));
    let bytes = text.as_bytes();
    if bytes.len() != 10 || bytes.get(4) != Some(&b'-') || bytes.get(7) != Some(&b'-') {
        return Err(bad());
    }
    let number = |range: std::ops::Range<usize>| {
        text.get(range).filter(|s| s.bytes().all(|b| b.is_ascii_digit())).and_then(|s| s.parse::<u32>().ok())
    };
    let (Some(year), Some(month), Some(day)) = (number(0..4), number(5..7), number(8..10)) else {
        return Err(bad());
    };
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return Err(bad()),
    };
    if year < 1970 || day == 0 || day > days {
        return Err(bad());
    }
    Ok(())
}

/// A GPS fix as the browser gives it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GpsPoint {
    pub lat: f64,
    pub lon: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accuracy_m: Option<f64>,
}

impl GpsPoint {
    pub fn check(&self) -> Result<(), DomainError> {
        if !(self.lat.is_finite()
            && (-90.0..=90.0).contains(&self.lat)
            && self.lon.is_finite()
            && (-180.0..=180.0).contains(&self.lon))
        {
            return Err(DomainError::validation("gps", "latitude must be -90 to 90 and longitude -180 to 180 degrees"));
        }
        if self.accuracy_m.is_some_and(|a| !a.is_finite() || a < 0.0) {
            return Err(DomainError::validation("gps.accuracy_m", "must be a positive number of metres"));
        }
        Ok(())
    }
}

// --- The records of an assessment, as stored and shown.

/// The site as the assessment saw it: scores are recomputed from this, not from today's site.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AssessedSite {
    pub category: crate::site::SiteCategory,
    pub occupancy: u32,
    pub area_m2: f64,
    pub visibility: Option<u8>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Assessment {
    pub id: AssessmentId,
    pub site_id: SiteId,
    pub org_id: OrgId,
    pub methodology_version: String,
    pub status: AssessmentStatus,
    pub threat_level: u8,
    pub site: AssessedSite,
    /// Increases with every change (answers included).
    pub version: i64,
    pub created_at_ms: i64,
    pub created_by: String,
    pub updated_at_ms: i64,
    pub submitted_at_ms: Option<i64>,
    pub submitted_by: Option<String>,
    pub validated_at_ms: Option<i64>,
    pub validated_by: Option<String>,
    pub archived_at_ms: Option<i64>,
    /// When the next assessment is due (set at validation).
    pub due_at_ms: Option<i64>,
    /// Scores at validation, for dashboards.
    pub summary: Option<AssessmentSummary>,
    pub protective_measures_index: Option<u8>,
}

/// What a person says about one question.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AnswerContent {
    pub answer: String,
    pub note: Option<String>,
    pub observed_at_ms: Option<i64>,
    pub gps: Option<GpsPoint>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StoredAnswer {
    pub question_id: String,
    #[serde(flatten)]
    pub content: AnswerContent,
    pub photos: Vec<PhotoId>,
    pub version: i64,
    pub updated_at_ms: i64,
    pub updated_by: String,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Photo {
    pub id: PhotoId,
    pub assessment_id: AssessmentId,
    pub question_id: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub sha256: String,
    #[serde(skip)]
    pub blob_ref: String,
    pub location_kept: bool,
    pub created_at_ms: i64,
    pub created_by: String,
}

/// The fields of an action a person writes.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ActionFields {
    pub title: String,
    /// Who does it, in words (someone outside Vigie included).
    pub owner: Option<String>,
    /// The user of the organisation who does it, when they have an account: it is among
    /// their "my actions".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_user_id: Option<UserId>,
    pub due_date: Option<String>,
    pub status: ActionStatus,
    pub evidence: Option<String>,
    pub question_id: Option<String>,
    pub scenario_id: Option<String>,
    pub measure_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Action {
    pub id: ActionId,
    pub assessment_id: AssessmentId,
    pub site_id: SiteId,
    pub org_id: OrgId,
    #[serde(flatten)]
    pub fields: ActionFields,
    /// The threat level change that put this action on the site's checklist, if one did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threat_level_id: Option<crate::ThreatLevelId>,
    pub version: i64,
    pub created_at_ms: i64,
    pub created_by: String,
    pub updated_at_ms: i64,
    pub updated_by: String,
}

/// What dashboards need of a validated assessment, kept with it: the risk of each scenario and
/// the worst. Fields in alphabetical order, as the API has always shown them.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AssessmentSummary {
    /// How much of the assessment was answered when it was validated; absent from summaries
    /// written before it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completeness: Option<Completeness>,
    /// Why an assessment with unanswered questions was validated all the same.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incomplete_reason: Option<String>,
    pub max_risk: Option<u8>,
    pub max_risk_band: Option<String>,
    pub protective_measures_index: Option<u8>,
    pub scenarios: Vec<ScenarioRisk>,
}

/// How much of an assessment is answered. Of the `applicable` questions (those of the site's
/// category), `answered` have a grade, `not_applicable` were answered "not applicable" and
/// `unanswered` have no answer yet and count as "nothing in place": a figure computed while
/// any is unanswered is provisional.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Completeness {
    pub applicable: u32,
    pub answered: u32,
    pub not_applicable: u32,
    pub unanswered: u32,
}

impl Completeness {
    /// Figures computed with unanswered questions may only fall as answers come in.
    pub fn provisional(&self) -> bool {
        self.unanswered > 0
    }
}

/// One scenario's risk in an [`AssessmentSummary`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ScenarioRisk {
    pub band: String,
    pub id: String,
    pub risk: u8,
    pub vulnerability: u8,
}

#[cfg(test)]
mod tests {
    use super::*;
    use AssessmentStatus::*;

    fn venue() -> OrgId {
        OrgId::new("venue")
    }

    fn who(role: Role, org: &str) -> Principal {
        Principal {
            user_id: format!("{}-{org}", role.key()).into(),
            email: "x@example.org".into(),
            org_id: org.into(),
            role,
            overseen_orgs: vec!["venue".into()],
            manages_org: false,
            must_enrol_second_factor: false,
        }
    }

    #[test]
    fn the_owner_submits_and_an_authority_validates() {
        let assessor = who(Role::Assessor, "venue");
        let authority = who(Role::Authority, "city");
        assert_eq!(check_transition(&assessor, &venue(), Draft, Submitted, None), Ok(()));
        assert_eq!(check_transition(&authority, &venue(), Submitted, Validated, Some(&assessor.user_id)), Ok(()));
        assert_eq!(
            check_transition(&assessor, &venue(), Submitted, Validated, Some("other")).map_err(|e| e.code().key()),
            Err("forbidden")
        );
        assert_eq!(
            check_transition(&who(Role::Viewer, "venue"), &venue(), Draft, Submitted, None).map_err(|e| e.code().key()),
            Err("forbidden")
        );
        let stranger = Principal { overseen_orgs: Vec::new(), ..who(Role::Authority, "elsewhere") };
        assert_eq!(
            check_transition(&stranger, &venue(), Submitted, Validated, Some("a")).map_err(|e| e.code().key()),
            Err("forbidden")
        );
    }

    #[test]
    fn a_validated_assessment_only_goes_to_the_archive() {
        let admin = who(Role::Admin, "platform");
        for to in [Draft, Submitted] {
            assert_eq!(
                check_transition(&admin, &venue(), Validated, to, None).map_err(|e| e.code().key()),
                Err("assessment_transition_invalid")
            );
        }
        assert_eq!(check_transition(&admin, &venue(), Validated, Archived, None), Ok(()));
        for to in AssessmentStatus::ALL {
            assert!(check_transition(&admin, &venue(), Archived, to, None).is_err());
        }
    }

    #[test]
    fn nobody_validates_what_they_submitted_except_an_admin() {
        let authority = who(Role::Authority, "venue");
        let err = check_transition(&authority, &venue(), Submitted, Validated, Some(&authority.user_id));
        assert_eq!(err.map_err(|e| e.code().key()), Err("assessment_transition_invalid"));
        let admin = who(Role::Admin, "venue");
        assert_eq!(check_transition(&admin, &venue(), Submitted, Validated, Some(&admin.user_id)), Ok(()));
    }

    #[test]
    fn dates_are_checked() {
        for good in ["2026-02-28", "2028-02-29", "2000-02-29", "2026-12-31"] {
            assert_eq!(check_date("due_date", good), Ok(()), "{good}");
        }
        for bad in [
            "2026-02-29",
            "1900-02-29",
            "2026-13-01",
            "2026-1-01",
            "26-01-01",
            "2026-04-31",
            "2026-00-10",
            "tomorrow",
            "2026-01-0a",
            "",
        ] {
            assert!(check_date("due_date", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn due_date_is_a_period_after_validation() {
        assert_eq!(reassessment_due_ms(0, 365), 365 * 86_400_000);
        assert_eq!(reassessment_due_ms(i64::MAX, 365), i64::MAX);
    }

    #[test]
    fn status_keys_round_trip() {
        for s in AssessmentStatus::ALL {
            assert_eq!(AssessmentStatus::from_key(s.key()), Ok(s));
        }
        for s in ActionStatus::ALL {
            assert_eq!(ActionStatus::from_key(s.key()), Ok(s));
        }
        assert!(ActionStatus::from_key("finished").is_err());
    }

    #[test]
    fn gps_points_are_on_earth() {
        assert!(GpsPoint { lat: 60.17, lon: 24.95, accuracy_m: Some(8.0) }.check().is_ok());
        assert!(GpsPoint { lat: 91.0, lon: 0.0, accuracy_m: None }.check().is_err());
        assert!(GpsPoint { lat: 0.0, lon: f64::NAN, accuracy_m: None }.check().is_err());
        assert!(GpsPoint { lat: 0.0, lon: 0.0, accuracy_m: Some(-1.0) }.check().is_err());
    }
}
