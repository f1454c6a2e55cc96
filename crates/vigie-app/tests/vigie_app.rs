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

/// A fresh SQLite store in a folder that lives as long as the returned guard.
async fn sqlite_store() -> (Arc<dyn vigie_store::Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = vigie_store::open(&format!("sqlite://{}", dir.path().join("app.db").display())).await.unwrap();
    (store, dir)
}

#[tokio::test]
async fn a_session_ends_when_its_hours_are_over() {
    let (store, _dir) = sqlite_store().await;
    let ctx = WriteContext { at_ms: 1, actor: "test".into(), actor_org: None };
    let org = store.create_org(&ctx, "City", OrgKind::Authority).await.unwrap();
    let password_hash = vigie_app::secrets::hash_password("a long enough password").unwrap();
    let user = NewUser { email: "officer@example.org".into(), org_id: org.id, role: Role::Authority, password_hash };
    store.create_user(&ctx, user).await.unwrap();
    let clock = Arc::new(TestClock(AtomicI64::new(1_000_000)));
    let app = App::new(store, Settings { session_hours: 2, reassessment_days: 365, public_url: None })
        .with_clock(clock.clone());

    let session = app.sign_in("Officer@Example.org ", "a long enough password", None, None).await.unwrap();
    assert_eq!(session.max_age_s, 2 * 3600);
    clock.0.store(1_000_000 + 2 * 3_600_000 - 1, Ordering::SeqCst);
    assert!(app.principal_for_session(&session.secret).await.unwrap().is_some(), "still open a millisecond before");
    clock.0.store(1_000_000 + 2 * 3_600_000 + 1, Ordering::SeqCst);
    assert!(app.principal_for_session(&session.secret).await.unwrap().is_none(), "closed once its hours are over");
}

fn code_of<T>(outcome: Result<T, Failure>) -> Option<Code> {
    outcome.err().map(|e| e.code)
}

/// The 6-digit code an authenticator app shows at `now_ms` for a base32 key.
fn app_code(secret: &str, now_ms: i64) -> String {
    let key = totp_rs::Secret::try_from_base32(secret).unwrap();
    let totp = totp_rs::Builder::new().with_secret(key).build().unwrap();
    totp.generate(u64::try_from(now_ms / 1000).unwrap()).to_string()
}

#[tokio::test]
async fn an_organisation_admin_manages_its_own_accounts_and_a_second_factor_guards_sign_in() {
    let (store, _dir) = sqlite_store().await;
    let ctx = WriteContext { at_ms: 1, actor: "test".into(), actor_org: None };
    let city = store.create_org(&ctx, "City", OrgKind::Authority).await.unwrap();
    let mall = store.create_org(&ctx, "Mall", OrgKind::Operator).await.unwrap();
    let password = "a long enough password";
    let password_hash = vigie_app::secrets::hash_password(password).unwrap();
    let mut ids = Vec::new();
    for (email, org, role) in [
        ("admin@example.org", &city.id, Role::Admin),
        ("officer@example.org", &city.id, Role::Authority),
        ("manager@example.org", &mall.id, Role::Operator),
    ] {
        let new = NewUser { email: email.into(), org_id: org.clone(), role, password_hash: password_hash.clone() };
        ids.push(store.create_user(&ctx, new).await.unwrap().id);
    }
    let clock = Arc::new(TestClock(AtomicI64::new(1_800_000_000_000)));
    let app = App::new(store, Settings { session_hours: 2, reassessment_days: 365, public_url: None })
        .with_clock(clock.clone());
    let admin = app.sign_in("admin@example.org", password, None, None).await.unwrap().principal;
    let change = |role, manages_org| vigie_store::UserChange { role, disabled: false, manages_org };
    app.update_user(&admin, &ids[2], change(Role::Operator, true)).await.unwrap();

    // The mall's own administrator: its users only, never an administrator's role.
    let manager = app.sign_in("manager@example.org", password, None, None).await.unwrap().principal;
    assert!(manager.manages_org);
    let emails: Vec<String> = app.users(&manager).await.unwrap().into_iter().map(|u| u.email).collect();
    assert_eq!(emails, ["manager@example.org"]);
    assert_eq!(
        code_of(app.invite_user(&manager, "x@example.org", &city.id, Role::Viewer).await),
        Some(Code::Forbidden)
    );
    assert_eq!(code_of(app.invite_user(&manager, "x@example.org", &mall.id, Role::Admin).await), Some(Code::Forbidden));
    let guard = app.invite_user(&manager, "guard@example.org", &mall.id, Role::Viewer).await.unwrap();
    assert_eq!(code_of(app.update_user(&manager, &ids[1], change(Role::Viewer, false)).await), Some(Code::NotFound));
    assert_eq!(code_of(app.reset_link(&manager, &ids[0]).await), Some(Code::NotFound));
    assert_eq!(
        code_of(app.update_user(&manager, &ids[2], change(Role::Operator, false)).await),
        Some(Code::ValidationFailed),
        "a manager cannot give up managing"
    );
    let officer = app.sign_in("officer@example.org", password, None, None).await.unwrap().principal;
    assert_eq!(code_of(app.users(&officer).await), Some(Code::Forbidden));

    // A second factor: set up with a code from the app; then every sign-in needs a fresh code.
    let setup = app.second_factor_setup(&manager).unwrap();
    assert!(setup.uri.starts_with("otpauth://totp/Vigie:manager%40example.org?"), "{}", setup.uri);
    let now = clock.0.load(Ordering::SeqCst);
    assert_eq!(
        code_of(app.enable_second_factor(&manager, &setup.secret, "000000").await),
        Some(Code::ValidationFailed)
    );
    let first = app_code(&setup.secret, now);
    app.enable_second_factor(&manager, &setup.secret, &first).await.unwrap();
    assert_eq!(code_of(app.sign_in("manager@example.org", password, None, None).await), Some(Code::SecondFactorNeeded));
    assert_eq!(
        code_of(app.sign_in("manager@example.org", password, Some(&first), None).await),
        Some(Code::LoginFailed),
        "the code that turned it on does not open a session"
    );
    clock.0.store(now + 30_000, Ordering::SeqCst);
    let next = app_code(&setup.secret, now + 30_000);
    app.sign_in("manager@example.org", password, Some(&next), None).await.unwrap();
    assert_eq!(
        code_of(app.sign_in("manager@example.org", password, Some(&next), None).await),
        Some(Code::LoginFailed),
        "a code works once"
    );

    // The mall requires it: its users without one must set it up first; the city is not theirs.
    app.set_org_second_factor(&manager, &mall.id, true).await.unwrap();
    assert_eq!(code_of(app.set_org_second_factor(&manager, &city.id, true).await), Some(Code::Forbidden));
    let guard_session = app.accept_link(&guard.secret, "the guard's own password").await.unwrap();
    assert!(guard_session.principal.must_enrol_second_factor);
    assert_eq!(
        code_of(app.disable_second_factor(&manager, password).await),
        Some(Code::Forbidden),
        "not while the organisation requires it"
    );
}
