//! The CLI's error: a stable code, a message for a person, optional details. `main` prints it
//! (as JSON on stdout when `--json` was asked, else as text on stderr) and exits non-zero.
use serde_json::Value;

#[derive(Debug)]
pub struct CliError {
    pub code: String,
    pub message: String,
    pub details: Value,
}

impl CliError {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        CliError { code: code.into(), message: message.into(), details: Value::Null }
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }
}

impl CliError {
    /// The same shape as the API's errors: `{"error": {"code", "message", "details"}}`.
    pub fn to_json(&self) -> Value {
        let mut error = serde_json::json!({ "code": self.code, "message": self.message });
        if !self.details.is_null() {
            error["details"] = self.details.clone();
        }
        serde_json::json!({ "error": error })
    }
}

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} [{}]", self.message, self.code)
    }
}

impl std::error::Error for CliError {}

impl From<vigie_domain::DomainError> for CliError {
    fn from(err: vigie_domain::DomainError) -> Self {
        CliError::new(err.code(), err.to_string()).with_details(err.details())
    }
}
