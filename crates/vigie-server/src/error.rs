//! Failures as the API answers them: `{"error": {"code": "…", "message": "…", "details": {…}}}`
//! with the HTTP status of the code's row in the one table (`vigie_domain::code`).
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use vigie_domain::{Code, Failure};

/// A [`Failure`] on its way to an HTTP client.
#[derive(Debug)]
pub struct ApiError(pub Failure);

impl ApiError {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        ApiError(Failure::new(code, message))
    }

    pub fn code(&self) -> Code {
        self.0.code
    }

    pub fn unauthenticated() -> Self {
        ApiError(Failure::unauthenticated())
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        ApiError(Failure::forbidden(message))
    }

    pub fn internal() -> Self {
        ApiError(Failure::internal())
    }
}

/// Every layer's error becomes a `Failure` once (in its own crate); from there, an `ApiError`.
impl<E: Into<Failure>> From<E> for ApiError {
    fn from(err: E) -> Self {
        ApiError(err.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let failure = self.0;
        if failure.code.is_internal() {
            // The message is what the client sees; the cause was logged where it was known.
            tracing::error!(code = failure.code.key(), message = %failure.message, "request failed");
        }
        let status = StatusCode::from_u16(failure.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, axum::Json(failure.to_json())).into_response()
    }
}
