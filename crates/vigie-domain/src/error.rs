use serde_json::Value;

use crate::code::{Code, Failure};

/// The domain's one error enum. Each variant has a stable machine-readable code (see
/// [`DomainError::code`]); the HTTP layer maps codes to statuses in one place.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DomainError {
    #[error("the site geometry is invalid: {reason}")]
    GeometryInvalid { reason: String },
    #[error("{field}: {message}")]
    Validation { field: String, message: String },
    #[error("{message}")]
    Transition { message: String },
    #[error("{message}")]
    Forbidden { message: String },
    #[error("{message}")]
    PhotoUnsupported { message: String },
    #[error("the photo cannot be read: {message}")]
    PhotoMalformed { message: String },
    /// A TLP marking outside TLP 2.0.
    #[error(
        "unknown marking '{given}'; expected TLP:CLEAR, TLP:GREEN, TLP:AMBER, TLP:AMBER+STRICT or TLP:RED / marquage inconnu « {given} »"
    )]
    MarkingInvalid { given: String },
    /// A language other than those Vigie speaks.
    #[error("unknown language '{given}'; expected fr or en / langue inconnue « {given} » ; attendu fr ou en")]
    LanguageInvalid { given: String },
}

impl DomainError {
    pub fn code(&self) -> Code {
        match self {
            DomainError::GeometryInvalid { .. } => Code::SiteGeometryInvalid,
            DomainError::Validation { .. } => Code::ValidationFailed,
            DomainError::Transition { .. } => Code::AssessmentTransitionInvalid,
            DomainError::Forbidden { .. } => Code::Forbidden,
            DomainError::PhotoUnsupported { .. } => Code::PhotoTypeUnsupported,
            DomainError::PhotoMalformed { .. } => Code::PhotoMalformed,
            DomainError::MarkingInvalid { .. } => Code::MarkingInvalid,
            DomainError::LanguageInvalid { .. } => Code::LanguageInvalid,
        }
    }

    pub fn details(&self) -> Value {
        match self {
            DomainError::GeometryInvalid { reason } => serde_json::json!({ "reason": reason }),
            DomainError::Validation { field, .. } => serde_json::json!({ "field": field }),
            DomainError::Transition { .. }
            | DomainError::Forbidden { .. }
            | DomainError::PhotoUnsupported { .. }
            | DomainError::PhotoMalformed { .. }
            | DomainError::MarkingInvalid { .. }
            | DomainError::LanguageInvalid { .. } => Value::Null,
        }
    }

    pub fn validation(field: &str, message: impl Into<String>) -> Self {
        DomainError::Validation { field: field.to_owned(), message: message.into() }
    }
}

impl From<DomainError> for Failure {
    fn from(err: DomainError) -> Self {
        Failure::new(err.code(), err.to_string()).with_details(err.details())
    }
}
