use serde_json::Value;

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
}

impl DomainError {
    pub fn code(&self) -> &'static str {
        match self {
            DomainError::GeometryInvalid { .. } => "site_geometry_invalid",
            DomainError::Validation { .. } => "validation_failed",
            DomainError::Transition { .. } => "assessment_transition_invalid",
            DomainError::Forbidden { .. } => "forbidden",
            DomainError::PhotoUnsupported { .. } => "photo_type_unsupported",
            DomainError::PhotoMalformed { .. } => "photo_malformed",
        }
    }

    pub fn details(&self) -> Value {
        match self {
            DomainError::GeometryInvalid { reason } => serde_json::json!({ "reason": reason }),
            DomainError::Validation { field, .. } => serde_json::json!({ "field": field }),
            DomainError::Transition { .. }
            | DomainError::Forbidden { .. }
            | DomainError::PhotoUnsupported { .. }
            | DomainError::PhotoMalformed { .. } => Value::Null,
        }
    }

    pub fn validation(field: &str, message: impl Into<String>) -> Self {
        DomainError::Validation { field: field.to_owned(), message: message.into() }
    }
}
