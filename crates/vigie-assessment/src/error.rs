//! The crate's one error enum, with stable snake_case codes for the shells.
use serde_json::{Value, json};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AssessmentError {
    #[error("the methodology file {file} cannot be read: {message}")]
    MethodologyParse { file: String, message: String },
    #[error("the methodology is inconsistent: {reason}")]
    MethodologyInvalid { reason: String },
    #[error("the answers are not valid JSON or miss a required field: {message}")]
    InputMalformed { message: String, line: usize, column: usize },
    #[error("these answers were made with methodology version {found}, but this is version {expected}")]
    VersionMismatch { expected: String, found: String },
    #[error("unknown question '{question}'")]
    UnknownQuestion { question: String },
    #[error("question '{question}' has no answer '{answer}'; expected one of: {expected}")]
    UnknownAnswer { question: String, answer: String, expected: String },
    #[error("question '{question}' cannot be answered 'na' (not applicable)")]
    NotApplicableRefused { question: String },
    #[error("question '{question}' does not apply to a site of category '{category}'")]
    QuestionNotForCategory { question: String, category: String },
    #[error("unknown measure '{measure}'")]
    UnknownMeasure { measure: String },
    #[error("{field}: {message}")]
    InvalidInput { field: String, message: String },
}

impl AssessmentError {
    pub fn code(&self) -> &'static str {
        match self {
            AssessmentError::MethodologyParse { .. } => "methodology_parse_failed",
            AssessmentError::MethodologyInvalid { .. } => "methodology_invalid",
            AssessmentError::InputMalformed { .. } => "assessment_input_malformed",
            AssessmentError::VersionMismatch { .. } => "methodology_version_mismatch",
            AssessmentError::UnknownQuestion { .. } => "unknown_question",
            AssessmentError::UnknownAnswer { .. } => "unknown_answer",
            AssessmentError::NotApplicableRefused { .. } => "not_applicable_refused",
            AssessmentError::QuestionNotForCategory { .. } => "question_not_for_category",
            AssessmentError::UnknownMeasure { .. } => "unknown_measure",
            AssessmentError::InvalidInput { .. } => "assessment_input_invalid",
        }
    }

    /// Machine-readable facts naming the culprit, for the `details` of the error JSON.
    pub fn details(&self) -> Value {
        match self {
            AssessmentError::MethodologyParse { file, .. } => json!({ "file": file }),
            AssessmentError::MethodologyInvalid { reason } => json!({ "reason": reason }),
            AssessmentError::InputMalformed { line, column, .. } => json!({ "line": line, "column": column }),
            AssessmentError::VersionMismatch { expected, found } => json!({ "expected": expected, "found": found }),
            AssessmentError::UnknownQuestion { question } | AssessmentError::NotApplicableRefused { question } => {
                json!({ "question": question })
            }
            AssessmentError::UnknownAnswer { question, answer, .. } => {
                json!({ "question": question, "answer": answer })
            }
            AssessmentError::QuestionNotForCategory { question, category } => {
                json!({ "question": question, "category": category })
            }
            AssessmentError::UnknownMeasure { measure } => json!({ "measure": measure }),
            AssessmentError::InvalidInput { field, .. } => json!({ "field": field }),
        }
    }

    pub(crate) fn invalid(reason: impl Into<String>) -> Self {
        AssessmentError::MethodologyInvalid { reason: reason.into() }
    }

    pub(crate) fn input(field: &str, message: impl Into<String>) -> Self {
        AssessmentError::InvalidInput { field: field.to_owned(), message: message.into() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_snake_case() {
        let all = [
            AssessmentError::MethodologyParse { file: "f".into(), message: "m".into() },
            AssessmentError::invalid("r"),
            AssessmentError::InputMalformed { message: "m".into(), line: 1, column: 2 },
            AssessmentError::VersionMismatch { expected: "a".into(), found: "b".into() },
            AssessmentError::UnknownQuestion { question: "q".into() },
            AssessmentError::UnknownAnswer { question: "q".into(), answer: "a".into(), expected: "g0".into() },
            AssessmentError::NotApplicableRefused { question: "q".into() },
            AssessmentError::QuestionNotForCategory { question: "q".into(), category: "c".into() },
            AssessmentError::UnknownMeasure { measure: "m".into() },
            AssessmentError::input("f", "m"),
        ];
        let mut codes: Vec<_> = all.iter().map(AssessmentError::code).collect();
        assert!(codes.iter().all(|c| c.chars().all(|ch| ch.is_ascii_lowercase() || ch == '_')));
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), all.len());
    }
}
