//! Errors in OpenAI's shape, `{"error": {"message", "type", "param", "code"}}`, so every
//! OpenAI client raises its usual exception types; and the JSON body extractor that
//! answers a bad body in that shape too.

use axum::Json;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::json;

use autobranch_core::ModelError;

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub kind: &'static str,
    pub param: Option<String>,
    pub code: Option<&'static str>,
    /// Seconds a client should wait before retrying (429).
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// A request the server cannot take as it is (400), naming the field.
    pub fn invalid(param: impl Into<Option<String>>, message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
            kind: "invalid_request_error",
            param: param.into(),
            code: None,
            retry_after: None,
        }
    }

    /// Any other status, with OpenAI's error type for it.
    pub fn status(status: StatusCode, message: impl Into<String>) -> Self {
        let (kind, code) = match status.as_u16() {
            401 => ("authentication_error", Some("invalid_api_key")),
            404 => ("invalid_request_error", Some("model_not_found")),
            413 => ("invalid_request_error", Some("request_too_large")),
            429 => ("rate_limit_error", Some("rate_limit_exceeded")),
            504 => ("timeout_error", Some("timeout")),
            s if s >= 500 => ("server_error", None),
            _ => ("invalid_request_error", None),
        };
        Self { status, message: message.into(), kind, param: None, code, retry_after: None }
    }

    /// A model backend's error: a refused request is 400, a broken model or a backend
    /// failure 500, an unreachable model 503.
    pub fn model(e: ModelError) -> Self {
        match e {
            ModelError::InvalidRequest(m) => Self::invalid(None, m),
            ModelError::Unavailable(m) => Self::status(StatusCode::SERVICE_UNAVAILABLE, m),
            other => Self::status(StatusCode::INTERNAL_SERVER_ERROR, other.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error": {
            "message": self.message, "type": self.kind, "param": self.param, "code": self.code,
        }});
        let mut response = (self.status, Json(body)).into_response();
        if let Some(secs) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        if self.status == StatusCode::PAYLOAD_TOO_LARGE {
            // The rest of the body was never read, so the connection ends here; saying so
            // keeps a client from sending its next request on it (it would meet a closed
            // socket: "server disconnected without sending a response").
            response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }
}

/// A JSON body whose rejection (too large, not JSON, wrong shape) is an [`ApiError`].
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(Self(v)),
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Err(ApiError::status(StatusCode::PAYLOAD_TOO_LARGE, format!("the request body is too large: {e}")))
            }
            Err(e) => Err(ApiError::invalid(None, format!("the request body is not valid: {}", e.body_text()))),
        }
    }
}
