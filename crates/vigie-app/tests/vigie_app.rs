//! The one error-code table as every shell sees it: every variant of every error enum converts
//! into a code whose HTTP status is a client error, unless the failure is Vigie's own fault;
//! and the body every shell prints is pinned for every code.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // a test fails loudly

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use vigie_app::{App, Clock, Settings};
use vigie_assessment::AssessmentError;
use vigie_domain::access::{OrgKind, Role};
use vigie_domain::{Code, DomainError, Failure};
use vigie_hvm::HvmError;
use vigie_osm::OsmError;
use vigie_search::SearchError;
use vigie_store::{NewUser, StoreError, WriteContext};

/// One value of each variant. The `match` in each list makes this fail to compile when a
/// variant is added without a sample here.
fn domain_errors() -> Vec<DomainError> {
    let all = vec![
        DomainError::GeometryInvalid { reason: "r".into() },
        DomainError::validation("f", "m"),
        DomainError::Transition { message: "m".into() },
        DomainError::Forbidden { message: "m".into() },
        DomainError::PhotoUnsupported { message: "m".into() },
        DomainError::PhotoMalformed { message: "m".into() },
        DomainError::MarkingInvalid { given: "TLP:WHITE".into() },
        DomainError::LanguageInvalid { given: "de".into() },
    ];
    for e in &all {
        match e {
            DomainError::GeometryInvalid { .. }
            | DomainError::Validation { .. }
            | DomainError::Transition { .. }
            | DomainError::Forbidden { .. }
            | DomainError::PhotoUnsupported { .. }
            | DomainError::PhotoMalformed { .. }
            | DomainError::MarkingInvalid { .. }
            | DomainError::LanguageInvalid { .. } => {}
        }
    }
    all
}

fn assessment_errors() -> Vec<AssessmentError> {
    let all = vec![
        AssessmentError::MethodologyParse { file: "f".into(), message: "m".into() },
        AssessmentError::MethodologyInvalid { reason: "r".into() },
        AssessmentError::InputMalformed { message: "m".into(), line: 1, column: 2 },
        AssessmentError::VersionMismatch { expected: "a".into(), found: "b".into() },
        AssessmentError::UnknownQuestion { question: "q".into() },
        AssessmentError::UnknownAnswer { question: "q".into(), answer: "a".into(), expected: "g0".into() },
        AssessmentError::NotApplicableRefused { question: "q".into() },
        AssessmentError::QuestionNotForCategory { question: "q".into(), category: "c".into() },
        AssessmentError::UnknownMeasure { measure: "m".into() },
        AssessmentError::InvalidInput { field: "f".into(), message: "m".into() },
    ];
    for e in &all {
        match e {
            AssessmentError::MethodologyParse { .. }
            | AssessmentError::MethodologyInvalid { .. }
            | AssessmentError::InputMalformed { .. }
            | AssessmentError::VersionMismatch { .. }
            | AssessmentError::UnknownQuestion { .. }
            | AssessmentError::UnknownAnswer { .. }
            | AssessmentError::NotApplicableRefused { .. }
            | AssessmentError::QuestionNotForCategory { .. }
            | AssessmentError::UnknownMeasure { .. }
            | AssessmentError::InvalidInput { .. } => {}
        }
    }
    all
}

fn hvm_errors() -> Vec<HvmError> {
    let all = vec![
        HvmError::RatingUnreadable { input: "i".into(), reason: "r".into() },
        HvmError::VehiclesInvalid { reason: "r".into() },
        HvmError::VehicleUnknown { key: "k".into(), known: "M1".into() },
        HvmError::CatalogueInvalid { line: 2, reason: "r".into() },
        HvmError::ParameterInvalid { name: "n".into(), reason: "r".into() },
    ];
    for e in &all {
        match e {
            HvmError::RatingUnreadable { .. }
            | HvmError::VehiclesInvalid { .. }
            | HvmError::VehicleUnknown { .. }
            | HvmError::CatalogueInvalid { .. }
            | HvmError::ParameterInvalid { .. } => {}
        }
    }
    all
}

fn osm_errors() -> Vec<OsmError> {
    let all = vec![
        OsmError::Unreadable { path: "p".into(), source: std::io::Error::other("e") },
        OsmError::NotPbf { path: "p".into(), reason: "r".into() },
        OsmError::Corrupt { path: "p".into(), reason: "r".into() },
    ];
    for e in &all {
        match e {
            OsmError::Unreadable { .. } | OsmError::NotPbf { .. } | OsmError::Corrupt { .. } => {}
        }
    }
    all
}

fn search_errors() -> Vec<SearchError> {
    let all = vec![
        SearchError::DocumentUnreadable { name: "a".into(), reason: "b".into() },
        SearchError::DocumentFormatUnsupported { name: "a".into() },
        SearchError::MarkingInvalid { given: "x".into() },
        SearchError::LanguageInvalid { given: "x".into() },
        SearchError::QueryInvalid { reason: "x".into() },
        SearchError::GlossaryInvalid { reason: "x".into() },
        SearchError::IndexBusy { reason: "x".into() },
        SearchError::IndexFailed { reason: "x".into() },
    ];
    for e in &all {
        match e {
            SearchError::DocumentUnreadable { .. }
            | SearchError::DocumentFormatUnsupported { .. }
            | SearchError::MarkingInvalid { .. }
            | SearchError::LanguageInvalid { .. }
            | SearchError::QueryInvalid { .. }
            | SearchError::GlossaryInvalid { .. }
            | SearchError::IndexBusy { .. }
            | SearchError::IndexFailed { .. } => {}
        }
    }
    all
}

fn store_errors() -> Vec<StoreError> {
    let all = vec![
        StoreError::Conflict("c".into()),
        StoreError::Locked("l".into()),
        StoreError::NotFound("site".into()),
        StoreError::UrlInvalid("mysql://x".into()),
        StoreError::Corrupt("c".into()),
        StoreError::Backup("b".into()),
        StoreError::Database(sqlx_error()),
    ];
    for e in &all {
        match e {
            StoreError::Conflict(_)
            | StoreError::Locked(_)
            | StoreError::AnswerConflict { .. }
            | StoreError::NotFound(_)
            | StoreError::UrlInvalid(_)
            | StoreError::Corrupt(_)
            | StoreError::Backup(_)
            | StoreError::Database(_)
            | StoreError::Migration(_) => {}
        }
    }
    all
}

/// A database error without a database.
fn sqlx_error() -> sqlx::Error {
    sqlx::Error::RowNotFound
}

/// Failures that are Vigie's own fault (or its machine's) may answer 5xx; every other one must
/// tell the client what it did wrong with a 4xx.
const OWN_FAULTS: &[Code] = &[
    Code::MethodologyParseFailed,
    Code::MethodologyInvalid,
    Code::GlossaryInvalid,
    Code::SearchIndexFailed,
    Code::SearchIndexBusy,
    Code::StorageFailed,
    Code::StorageCorrupt,
    Code::DatabaseUrlInvalid,
    Code::BackupFailed,
];

fn check(failures: impl IntoIterator<Item = (String, Failure)>) {
    for (what, failure) in failures {
        let status = failure.code.http_status();
        if OWN_FAULTS.contains(&failure.code) {
            assert!(status >= 500, "{what}: {} is a fault of Vigie's, yet answers {status}", failure.code);
        } else {
            assert!((400..500).contains(&status), "{what}: {} answers {status}, not a client error", failure.code);
        }
        assert!(!failure.message.is_empty(), "{what}: no message");
    }
}

#[test]
fn every_error_variant_has_a_code_with_a_deliberate_status() {
    check(domain_errors().into_iter().map(|e| (format!("{e:?}"), e.into())));
    check(assessment_errors().into_iter().map(|e| (format!("{e:?}"), e.into())));
    check(hvm_errors().into_iter().map(|e| (format!("{e:?}"), e.into())));
    check(osm_errors().into_iter().map(|e| (format!("{e:?}"), e.into())));
    check(search_errors().into_iter().map(|e| (format!("{e:?}"), e.into())));
    check(store_errors().into_iter().map(|e| (format!("{e:?}"), e.into())));
}

#[test]
fn storage_faults_never_reach_the_client() {
    let failure: Failure = StoreError::Database(sqlx_error()).into();
    assert_eq!(failure.code, Code::StorageFailed);
    assert!(!failure.message.contains("no rows"), "the cause is logged, not shown: {}", failure.message);
}

/// The whole table, pinned: a change of key, status or exit code is a change clients and
/// scripts see, so it must show in review.
#[test]
fn the_error_code_table() {
    let mut table = String::new();
    for code in Code::ALL {
        let body = Failure::new(*code, "message").with_details(serde_json::json!({"field": "x"})).to_json();
        table.push_str(&format!("{:<32} {} {:>3}  {}\n", code.key(), code.http_status(), code.exit_code(), body));
    }
    insta::assert_snapshot!(table);
}

/// A clock the test moves by hand.
struct TestClock(AtomicI64);

impl Clock for TestClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

#[tokio::test]
async fn a_session_ends_when_its_hours_are_over() {
    let dir = tempfile::tempdir().unwrap();
    let store = vigie_store::open(&format!("sqlite://{}", dir.path().join("app.db").display())).await.unwrap();
    let ctx = WriteContext { at_ms: 1, actor: "test".into(), actor_org: None };
    let org = store.create_org(&ctx, "City", OrgKind::Authority).await.unwrap();
    let password_hash = vigie_app::secrets::hash_password("a long enough password").unwrap();
    let user = NewUser { email: "officer@example.org".into(), org_id: org.id, role: Role::Authority, password_hash };
    store.create_user(&ctx, user).await.unwrap();
    let clock = Arc::new(TestClock(AtomicI64::new(1_000_000)));
    let app = App::new(store, Settings { session_hours: 2, reassessment_days: 365 }).with_clock(clock.clone());

    let session = app.sign_in("Officer@Example.org ", "a long enough password", None).await.unwrap();
    assert_eq!(session.max_age_s, 2 * 3600);
    clock.0.store(1_000_000 + 2 * 3_600_000 - 1, Ordering::SeqCst);
    assert!(app.principal_for_session(&session.secret).await.unwrap().is_some(), "still open a millisecond before");
    clock.0.store(1_000_000 + 2 * 3_600_000 + 1, Ordering::SeqCst);
    assert!(app.principal_for_session(&session.secret).await.unwrap().is_none(), "closed once its hours are over");
}
