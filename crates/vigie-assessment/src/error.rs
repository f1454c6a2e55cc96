//! The crate's one error enum, with stable snake_case codes for the shells.
use serde_json::{Value, json};
use vigie_domain::{Code, Failure};

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
    pub fn code(&self) -> Code {
        match self {
            AssessmentError::MethodologyParse { .. } => Code::MethodologyParseFailed,
            AssessmentError::MethodologyInvalid { .. } => Code::MethodologyInvalid,
            AssessmentError::InputMalformed { .. } => Code::AssessmentInputMalformed,
            AssessmentError::VersionMismatch { .. } => Code::MethodologyVersionMismatch,
            AssessmentError::UnknownQuestion { .. } => Code::UnknownQuestion,
            AssessmentError::UnknownAnswer { .. } => Code::UnknownAnswer,
            AssessmentError::NotApplicableRefused { .. } => Code::NotApplicableRefused,
            AssessmentError::QuestionNotForCategory { .. } => Code::QuestionNotForCategory,
            AssessmentError::UnknownMeasure { .. } => Code::UnknownMeasure,
            AssessmentError::InvalidInput { .. } => Code::AssessmentInputInvalid,
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

impl From<AssessmentError> for Failure {
    fn from(err: AssessmentError) -> Self {
        Failure::new(err.code(), err.to_string()).with_details(err.details())
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
        assert!(codes.iter().all(|c| c.key().chars().all(|ch| ch.is_ascii_lowercase() || ch == '_')));
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), all.len());
    }
}
