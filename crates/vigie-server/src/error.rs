//! The one table of API error codes and their HTTP statuses. Every error leaves the server as
//! `{"error": {"code": "…", "message": "…", "details": {…}}}`.
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use vigie_domain::DomainError;
use vigie_store::StoreError;

#[derive(Debug)]
pub struct ApiError {
    pub code: &'static str,
    pub message: String,
    pub details: Value,
}

impl ApiError {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        ApiError { code, message: message.into(), details: Value::Null }
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }

    pub fn unauthenticated() -> Self {
        ApiError::new("unauthenticated", "sign in, or send an API token as 'Authorization: Bearer …'")
    }

    /// A denial and a missing object look the same, so that a denial reveals nothing.
    pub fn not_found(what: &str) -> Self {
        ApiError::new("not_found", format!("no {what} with this id, or you may not see it"))
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        ApiError::new("forbidden", message)
    }

    pub fn internal() -> Self {
        ApiError::new("internal", "something went wrong on the server; the error was logged")
    }
}

/// Stable code → HTTP status. Unknown codes are server errors: a new code must be added here.
pub fn status_of(code: &str) -> StatusCode {
    match code {
        "unauthenticated" | "login_failed" => StatusCode::UNAUTHORIZED,
        "forbidden" => StatusCode::FORBIDDEN,
        "not_found" | "route_not_found" => StatusCode::NOT_FOUND,
        "method_not_allowed" => StatusCode::METHOD_NOT_ALLOWED,
        "conflict"
        | "version_conflict"
        | "answer_conflict"
        | "assessment_locked"
        | "assessment_transition_invalid"
        | "methodology_version_mismatch"
        | "methodology_version_unavailable" => StatusCode::CONFLICT,
        "photo_type_unsupported" => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "photo_malformed"
        | "assessment_input_invalid"
        | "unknown_question"
        | "unknown_answer"
        | "not_applicable_refused"
        | "question_not_for_category"
        | "unknown_measure" => StatusCode::UNPROCESSABLE_ENTITY,
        "payload_too_large" => StatusCode::PAYLOAD_TOO_LARGE,
        "unsupported_media_type" => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "json_malformed" | "query_invalid" => StatusCode::BAD_REQUEST,
        "validation_failed" | "site_geometry_invalid" | "json_invalid" => StatusCode::UNPROCESSABLE_ENTITY,
        "too_many_requests" => StatusCode::TOO_MANY_REQUESTS,
        "hvm_vehicle_unknown" | "hvm_parameter_invalid" => StatusCode::UNPROCESSABLE_ENTITY,
        "hvm_network_missing" => StatusCode::SERVICE_UNAVAILABLE,
        "document_unreadable" | "document_format_unsupported" | "marking_invalid" | "language_invalid" => {
            StatusCode::UNPROCESSABLE_ENTITY
        }
        "library_unavailable" | "search_index_busy" => StatusCode::SERVICE_UNAVAILABLE,
        "storage_failed" | "storage_corrupt" | "internal" => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut error = json!({"code": self.code, "message": self.message});
        if !self.details.is_null() {
            error["details"] = self.details;
        }
        (status_of(self.code), axum::Json(json!({ "error": error }))).into_response()
    }
}

impl From<DomainError> for ApiError {
    fn from(err: DomainError) -> Self {
        ApiError::new(err.code(), err.to_string()).with_details(err.details())
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Conflict(message) => ApiError::new("conflict", message),
            StoreError::NotFound(what) => ApiError::not_found(&what),
            StoreError::Locked(message) => ApiError::new("assessment_locked", message),
            StoreError::AnswerConflict { current } => ApiError::new("answer_conflict", "this answer was changed by someone else since you last saw it: keep theirs or send yours again with base_version set to theirs")
                .with_details(json!({ "question_id": current.question_id, "current": *current })),
            other => {
                // The cause goes to the log, never to the client.
                tracing::error!(code = other.code(), error = %other, "storage error");
                ApiError::new(if other.code() == "storage_corrupt" { "storage_corrupt" } else { "storage_failed" }, "the database could not complete the request; the error was logged")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_the_server_emits_has_a_deliberate_status() {
        for code in [
            "unauthenticated",
            "login_failed",
            "forbidden",
            "not_found",
            "route_not_found",
            "method_not_allowed",
            "conflict",
            "version_conflict",
            "payload_too_large",
            "unsupported_media_type",
            "json_malformed",
            "json_invalid",
            "query_invalid",
            "validation_failed",
            "site_geometry_invalid",
            "too_many_requests",
            "hvm_vehicle_unknown",
            "hvm_parameter_invalid",
            "answer_conflict",
            "assessment_locked",
            "assessment_transition_invalid",
            "methodology_version_mismatch",
            "methodology_version_unavailable",
            "photo_type_unsupported",
            "photo_malformed",
            "assessment_input_invalid",
            "unknown_question",
            "unknown_answer",
            "not_applicable_refused",
            "question_not_for_category",
            "unknown_measure",
            "document_unreadable",
            "document_format_unsupported",
            "marking_invalid",
            "language_invalid",
        ] {
            assert!(status_of(code).is_client_error(), "{code}");
        }
    }
}
