//! What an assessor supplies: the site's context, the national threat level and the answers;
//! and its resolution against a methodology (every id checked, the culprit named).
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use vigie_domain::site::{MAX_PEAK_OCCUPANCY, SiteCategory};

use crate::error::AssessmentError;
use crate::model::{Methodology, WORST_GRADE, category_position};

/// The answer id meaning "not applicable here"; only questions with `allows_na` accept it.
pub const NOT_APPLICABLE: &str = "na";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteContext {
    pub category: SiteCategory,
    /// People reasonably expected on site at once, at peak.
    pub occupancy: u32,
    /// Area open to the public, in square metres.
    pub area_m2: f64,
    /// 1 (known only locally) … 5 (national or world icon); the methodology default if absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visibility: Option<u8>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssessmentInput {
    pub methodology_version: String,
    pub site: SiteContext,
    /// National threat level on a 1–5 scale (UK: low … critical; see docs/methodology.md for
    /// the French Vigipirate levels).
    pub threat_level: u8,
    /// Question id → answer id, or `"na"`. A question left out is unanswered and counts as
    /// grade 4 (nothing in place) until answered.
    pub answers: BTreeMap<String, String>,
}

impl AssessmentInput {
    /// Parses the JSON of `vigie assess score --answers FILE.json`; serde's message names the
    /// missing or unexpected field, with its line and column.
    pub fn from_json(text: &str) -> Result<Self, AssessmentError> {
        serde_json::from_str(text).map_err(|err| AssessmentError::InputMalformed {
            message: err.to_string(),
            line: err.line(),
            column: err.column(),
        })
    }
}

/// The state of one question in an assessment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Slot {
    /// The question does not apply to this category of site.
    Excluded,
    Unanswered,
    NotApplicable,
    Answered {
        answer: u8,
        grade: u8,
    },
}

impl Slot {
    /// The grade that counts in a score, if the question counts at all.
    /// The index of the chosen answer, if any.
    pub fn answer(self) -> Option<usize> {
        match self {
            Slot::Answered { answer, .. } => Some(usize::from(answer)),
            _ => None,
        }
    }

    pub fn grade(self) -> Option<u8> {
        match self {
            Slot::Excluded | Slot::NotApplicable => None,
            Slot::Unanswered => Some(WORST_GRADE),
            Slot::Answered { grade, .. } => Some(grade),
        }
    }
}

/// An input checked against a methodology: the site's derived factors and one slot per question.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Resolved {
    pub category: SiteCategory,
    pub threat_level: u8,
    pub visibility: u8,
    pub occupancy: u32,
    pub area_m2: f64,
    pub slots: Vec<Slot>,
}

impl Methodology {
    pub(crate) fn resolve(&self, input: &AssessmentInput) -> Result<Resolved, AssessmentError> {
        if input.methodology_version != self.version {
            return Err(AssessmentError::VersionMismatch {
                expected: self.version.clone(),
                found: input.methodology_version.clone(),
            });
        }
        if !(1..=5).contains(&input.threat_level) {
            return Err(AssessmentError::input("threat_level", "must be 1 (low) to 5 (critical)"));
        }
        let site = &input.site;
        if site.occupancy > MAX_PEAK_OCCUPANCY {
            return Err(AssessmentError::input(
                "site.occupancy",
                format!("{} is more than {MAX_PEAK_OCCUPANCY} people", site.occupancy),
            ));
        }
        if !site.area_m2.is_finite() || site.area_m2 < 1.0 {
            return Err(AssessmentError::input("site.area_m2", "must be a number of square metres, at least 1"));
        }
        let visibility = site.visibility.unwrap_or(self.parameters.default_visibility);
        if !(1..=5).contains(&visibility) {
            return Err(AssessmentError::input("site.visibility", "must be 1 (local) to 5 (national or world icon)"));
        }
        let bit = 1u16 << category_position(site.category);
        let mut slots: Vec<Slot> = self
            .index
            .question_categories
            .iter()
            .map(|mask| if mask & bit == 0 { Slot::Excluded } else { Slot::Unanswered })
            .collect();
        // Answers come sorted by question id (BTreeMap): merge them with the sorted questions.
        let mut sorted = self.index.questions_sorted.iter().copied().peekable();
        for (question_id, answer_id) in &input.answers {
            let id_of = |qi: &usize| self.questions.get(*qi).map(|q| q.id.as_str());
            while sorted.next_if(|qi| id_of(qi).is_some_and(|id| id < question_id.as_str())).is_some() {}
            let unknown = || AssessmentError::UnknownQuestion { question: question_id.clone() };
            let qi = sorted.next_if(|qi| id_of(qi) == Some(question_id.as_str())).ok_or_else(unknown)?;
            let (Some(question), Some(slot)) = (self.questions.get(qi), slots.get_mut(qi)) else {
                return Err(unknown());
            };
            if *slot == Slot::Excluded {
                return Err(AssessmentError::QuestionNotForCategory {
                    question: question_id.clone(),
                    category: site.category.key().to_owned(),
                });
            }
            *slot = if answer_id == NOT_APPLICABLE {
                if !question.allows_na {
                    return Err(AssessmentError::NotApplicableRefused { question: question_id.clone() });
                }
                Slot::NotApplicable
            } else {
                let (ai, answer) =
                    question.answers.iter().enumerate().find(|(_, a)| &a.id == answer_id).ok_or_else(|| {
                        let mut expected: Vec<&str> = question.answers.iter().map(|a| a.id.as_str()).collect();
                        if question.allows_na {
                            expected.push(NOT_APPLICABLE);
                        }
                        AssessmentError::UnknownAnswer {
                            question: question_id.clone(),
                            answer: answer_id.clone(),
                            expected: expected.join(", "),
                        }
                    })?;
                Slot::Answered { answer: ai as u8, grade: answer.grade }
            };
        }
        Ok(Resolved {
            category: site.category,
            threat_level: input.threat_level,
            visibility,
            occupancy: site.occupancy,
            area_m2: site.area_m2,
            slots,
        })
    }
}
