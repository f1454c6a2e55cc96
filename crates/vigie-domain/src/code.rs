//! The one table of error codes: every failure Vigie reports, with its stable key, the HTTP
//! status the API answers with and the exit code of the command line. Every layer's error
//! enum converts into a [`Failure`] once, naming a [`Code`] of this table, so the API and the
//! CLI always report the same code for the same failure (after Meilisearch's
//! `make_error_codes!`).
//!
//! Exit codes follow BSD `sysexits.h`, so scripts can tell bad input (65) from a missing file
//! (66), a service that is down (69), a bug (70), an unwritable file (73), a busy resource (75),
//! a refusal (77) and bad configuration (78).
use serde::Serialize;
use serde_json::Value;

/// `sysexits.h` values used by the table.
mod exit {
    pub const DATA: u8 = 65;
    pub const NO_INPUT: u8 = 66;
    pub const UNAVAILABLE: u8 = 69;
    pub const SOFTWARE: u8 = 70;
    pub const CANT_CREATE: u8 = 73;
    pub const IO: u8 = 74;
    pub const TEMP_FAIL: u8 = 75;
    pub const NO_PERM: u8 = 77;
    pub const CONFIG: u8 = 78;
}

macro_rules! error_codes {
    ($($variant:ident = $key:literal, $status:literal, $exit:expr;)*) => {
        /// A stable, machine-readable error code.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code {
            $($variant,)*
        }

        impl Code {
            /// Every code, in table order.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// The snake_case key clients see (`site_geometry_invalid`).
            pub fn key(self) -> &'static str {
                match self {
                    $(Code::$variant => $key,)*
                }
            }

            /// The HTTP status the API answers with.
            pub fn http_status(self) -> u16 {
                match self {
                    $(Code::$variant => $status,)*
                }
            }

            /// The command line's exit code.
            pub fn exit_code(self) -> u8 {
                match self {
                    $(Code::$variant => $exit,)*
                }
            }
        }
    };
}

error_codes! {
    // Who is calling, and may they.
    Unauthenticated = "unauthenticated", 401, exit::NO_PERM;
    LoginFailed = "login_failed", 401, exit::NO_PERM;
    SecondFactorNeeded = "second_factor_needed", 401, exit::NO_PERM;
    SecondFactorEnrolmentRequired = "second_factor_enrolment_required", 403, exit::NO_PERM;
    Forbidden = "forbidden", 403, exit::NO_PERM;
    TooManyRequests = "too_many_requests", 429, exit::TEMP_FAIL;
    // What is asked for.
    NotFound = "not_found", 404, exit::DATA;
    RouteNotFound = "route_not_found", 404, exit::DATA;
    MethodNotAllowed = "method_not_allowed", 405, exit::DATA;
    // Concurrent changes and states that forbid a change.
    Conflict = "conflict", 409, exit::DATA;
    VersionConflict = "version_conflict", 409, exit::DATA;
    AnswerConflict = "answer_conflict", 409, exit::DATA;
    AssessmentLocked = "assessment_locked", 409, exit::DATA;
    AssessmentTransitionInvalid = "assessment_transition_invalid", 409, exit::DATA;
    MethodologyVersionMismatch = "methodology_version_mismatch", 409, exit::DATA;
    MethodologyVersionUnavailable = "methodology_version_unavailable", 409, exit::DATA;
    // Requests the server cannot read.
    PayloadTooLarge = "payload_too_large", 413, exit::DATA;
    UnsupportedMediaType = "unsupported_media_type", 415, exit::DATA;
    JsonMalformed = "json_malformed", 400, exit::DATA;
    JsonInvalid = "json_invalid", 422, exit::DATA;
    QueryInvalid = "query_invalid", 400, exit::DATA;
    // Input that breaks a rule.
    ValidationFailed = "validation_failed", 422, exit::DATA;
    IncompleteReasonRequired = "incomplete_reason_required", 422, exit::DATA;
    SiteGeometryInvalid = "site_geometry_invalid", 422, exit::DATA;
    GeojsonInvalid = "geojson_invalid", 422, exit::DATA;
    PhotoTypeUnsupported = "photo_type_unsupported", 415, exit::DATA;
    PhotoMalformed = "photo_malformed", 422, exit::DATA;
    AssessmentInputInvalid = "assessment_input_invalid", 422, exit::DATA;
    AssessmentInputMalformed = "assessment_input_malformed", 422, exit::DATA;
    UnknownQuestion = "unknown_question", 422, exit::DATA;
    UnknownAnswer = "unknown_answer", 422, exit::DATA;
    NotApplicableRefused = "not_applicable_refused", 422, exit::DATA;
    QuestionNotForCategory = "question_not_for_category", 422, exit::DATA;
    UnknownMeasure = "unknown_measure", 422, exit::DATA;
    HvmVehicleUnknown = "hvm_vehicle_unknown", 422, exit::DATA;
    HvmParameterInvalid = "hvm_parameter_invalid", 422, exit::DATA;
    HvmRatingUnreadable = "hvm_rating_unreadable", 422, exit::DATA;
    HvmCatalogueInvalid = "hvm_catalogue_invalid", 422, exit::DATA;
    HvmVehiclesInvalid = "hvm_vehicles_invalid", 422, exit::DATA;
    DocumentUnreadable = "document_unreadable", 422, exit::DATA;
    DocumentFormatUnsupported = "document_format_unsupported", 422, exit::DATA;
    MarkingInvalid = "marking_invalid", 422, exit::DATA;
    LanguageInvalid = "language_invalid", 422, exit::DATA;
    OsmFileUnreadable = "osm_file_unreadable", 422, exit::NO_INPUT;
    OsmNotPbf = "osm_not_pbf", 422, exit::DATA;
    OsmTruncated = "osm_truncated", 422, exit::DATA;
    // Files and settings of the command line.
    FileUnreadable = "file_unreadable", 422, exit::NO_INPUT;
    AnswersFileUnreadable = "answers_file_unreadable", 422, exit::NO_INPUT;
    FileUnwritable = "file_unwritable", 500, exit::CANT_CREATE;
    OutputFailed = "output_failed", 500, exit::IO;
    PasswordMissing = "password_missing", 422, exit::DATA;
    ConfigUnreadable = "config_unreadable", 500, exit::CONFIG;
    ConfigInvalid = "config_invalid", 500, exit::CONFIG;
    DatabaseUrlInvalid = "database_url_invalid", 500, exit::CONFIG;
    DatabaseMissing = "database_missing", 500, exit::NO_INPUT;
    ImportRejectedAll = "import_rejected_all", 422, exit::DATA;
    BackupFailed = "backup_failed", 500, exit::CANT_CREATE;
    BackupUnsupported = "backup_unsupported", 422, exit::UNAVAILABLE;
    FileTooLarge = "file_too_large", 413, exit::DATA;
    DemoRefused = "demo_refused", 409, exit::DATA;
    // The audit log does not verify: someone changed or removed entries.
    AuditChainBroken = "audit_chain_broken", 500, exit::DATA;
    // Parts of the server that are missing or busy.
    HvmNetworkMissing = "hvm_network_missing", 503, exit::UNAVAILABLE;
    LibraryUnavailable = "library_unavailable", 503, exit::UNAVAILABLE;
    SearchIndexBusy = "search_index_busy", 503, exit::TEMP_FAIL;
    BindFailed = "bind_failed", 500, exit::UNAVAILABLE;
    // Faults of Vigie itself or of what it runs on: logged, never detailed to the client.
    SearchIndexFailed = "search_index_failed", 500, exit::SOFTWARE;
    GlossaryInvalid = "glossary_invalid", 500, exit::SOFTWARE;
    MethodologyParseFailed = "methodology_parse_failed", 500, exit::SOFTWARE;
    MethodologyInvalid = "methodology_invalid", 500, exit::SOFTWARE;
    StorageFailed = "storage_failed", 500, exit::SOFTWARE;
    StorageCorrupt = "storage_corrupt", 500, exit::SOFTWARE;
    ServerFailed = "server_failed", 500, exit::SOFTWARE;
    RuntimeFailed = "runtime_failed", 500, exit::SOFTWARE;
    DemoFailed = "demo_failed", 500, exit::SOFTWARE;
    Internal = "internal", 500, exit::SOFTWARE;
}

impl Code {
    /// A fault of Vigie or of what it runs on, rather than of the request: answered with a
    /// status of 500 or more and logged.
    pub fn is_internal(self) -> bool {
        self.http_status() >= 500
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.key())
    }
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.key())
    }
}

impl PartialEq<&str> for Code {
    fn eq(&self, other: &&str) -> bool {
        self.key() == *other
    }
}

/// A failure as every shell reports it: `{"error": {"code", "message", "details"}}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub code: Code,
    /// For a person; never a secret, never the text of a protected object.
    pub message: String,
    /// Machine-readable context (`{"field": "name"}`), or `Null`.
    pub details: Value,
}

impl Failure {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Failure { code, message: message.into(), details: Value::Null }
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }

    pub fn unauthenticated() -> Self {
        Failure::new(Code::Unauthenticated, "sign in, or send an API token as 'Authorization: Bearer …'")
    }

    /// A denial and a missing object look the same, so that a denial reveals nothing.
    pub fn not_found(what: &str) -> Self {
        Failure::new(Code::NotFound, format!("no {what} with this id, or you may not see it"))
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Failure::new(Code::Forbidden, message)
    }

    pub fn internal() -> Self {
        Failure::new(Code::Internal, "something went wrong on the server; the error was logged")
    }

    /// The body every shell prints: `{"error": {"code", "message"[, "details"]}}`.
    pub fn to_json(&self) -> Value {
        let mut error = serde_json::json!({"code": self.code, "message": self.message});
        if !self.details.is_null()
            && let Some(object) = error.as_object_mut()
        {
            object.insert("details".into(), self.details.clone());
        }
        serde_json::json!({ "error": error })
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} [{}]", self.message, self.code)
    }
}

impl std::error::Error for Failure {}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn keys_are_distinct_snake_case() {
        let keys: BTreeSet<&str> = Code::ALL.iter().map(|c| c.key()).collect();
        assert_eq!(keys.len(), Code::ALL.len());
        for key in keys {
            assert!(key.chars().all(|c| c.is_ascii_lowercase() || c == '_'), "{key}");
        }
    }

    #[test]
    fn statuses_and_exit_codes_are_errors() {
        for code in Code::ALL {
            assert!((400..600).contains(&code.http_status()), "{code}");
            assert!(code.exit_code() > 1, "{code}: 1 is the generic failure, 2 clap's usage error");
        }
    }
}
