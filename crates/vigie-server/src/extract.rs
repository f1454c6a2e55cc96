//! Request extractors whose rejections speak the API's error format.
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use vigie_domain::Code;

use crate::error::ApiError;

/// `Json<T>` with readable errors: malformed JSON, wrong types, missing content type,
/// oversized bodies each get their own code.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    let detail = rejection.body_text();
    match rejection {
        JsonRejection::JsonDataError(_) => ApiError::new(
            Code::JsonInvalid,
            format!("the request body does not have the expected fields or types: {}", strip_prefix(&detail)),
        ),
        JsonRejection::JsonSyntaxError(_) => {
            ApiError::new(Code::JsonMalformed, format!("the request body is not valid JSON: {}", strip_prefix(&detail)))
        }
        JsonRejection::MissingJsonContentType(_) => {
            ApiError::new(Code::UnsupportedMediaType, "send the body as JSON with 'Content-Type: application/json'")
        }
        other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::new(Code::PayloadTooLarge, "the request body is larger than the server accepts")
        }
        _ => ApiError::new(Code::JsonMalformed, "the request body could not be read"),
    }
}

/// axum prefixes its messages with a generic sentence; keep the useful part.
fn strip_prefix(detail: &str) -> &str {
    detail.split_once(": ").map_or(detail, |(_, rest)| rest)
}

/// `Query<T>` with readable errors.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| ApiQuery(value))
            .map_err(|rejection: QueryRejection| {
                ApiError::new(
                    Code::QueryInvalid,
                    format!("the query string is invalid: {}", strip_prefix(&rejection.body_text())),
                )
            })
    }
}
