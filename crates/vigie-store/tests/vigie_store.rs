//! Story tests: the same stories on every backend. SQLite always; PostgreSQL whenever
//! `VIGIE_TEST_POSTGRES_URL` is set (each test then works in a schema of its own).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // a test fails loudly
#![allow(clippy::disallowed_methods)] // tests may read the clock to name their schemas
use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::json;
use sqlx::Connection;
use sqlx::postgres::PgConnectOptions;
use vigie_domain::access::{LinkPurpose, OrgKind, Role};
use vigie_domain::audit::verify_chain;
use vigie_domain::geometry::BoundingBox;
use vigie_domain::site::{SiteCategory, SiteInput};
use vigie_domain::{ActionId, AssessmentId, OrgId, SiteId};
use vigie_store::{
    AccountStore, AssessmentSummary, AuditFilter, NewSite, NewUser, PgStore, ScenarioRisk, SiteFilter, SiteStore,
    SqliteStore, Store, StoreError, UserChange, WriteContext,
};

struct Backend {
    store: Arc<dyn Store>,
    _dir: Option<tempfile::TempDir>,
}

async fn backends() -> Vec<Backend> {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("story.db").display());
    let mut all = vec![Backend { store: Arc::new(SqliteStore::open(&url).await.unwrap()), _dir: Some(dir) }];
    if let Ok(url) = std::env::var("VIGIE_TEST_POSTGRES_URL") {
        let schema = format!("story_{}", unique_suffix());
        let mut admin = sqlx::PgConnection::connect(&url)
            .await
            .expect("VIGIE_TEST_POSTGRES_URL is set but PostgreSQL is unreachable");
        sqlx::query(&format!("CREATE SCHEMA {schema}")).execute(&mut admin).await.unwrap();
        let options: PgConnectOptions = url.parse().unwrap();
        let options = options.options([("search_path", schema.as_str())]);
        all.push(Backend { store: Arc::new(PgStore::open_with(options).await.unwrap()), _dir: None });
    }
    all
}

fn unique_suffix() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("{nanos:x}_{:x}_{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed))
}

fn ctx(at_ms: i64) -> WriteContext {
    WriteContext { at_ms, actor: "cli".into(), actor_org: None }
}

fn square(lon: f64, lat: f64) -> serde_json::Value {
    let d = 0.001;
    json!({"type": "Polygon", "coordinates": [[[lon, lat], [lon + d, lat], [lon + d, lat + d], [lon, lat + d], [lon, lat]]]})
}

fn site(name: &str, category: SiteCategory, lon: f64, lat: f64, source_ref: Option<&str>) -> NewSite {
    let input = SiteInput {
        name: name.into(),
        category,
        geometry: square(lon, lat),
        address: None,
        peak_occupancy: Some(500),
        tags: BTreeMap::new(),
    };
    NewSite { site: input.validate().unwrap(), source_ref: source_ref.map(str::to_owned) }
}

#[tokio::test]
async fn organisations_users_and_tokens() {
    for backend in backends().await {
        let store = &backend.store;
        let name = store.backend();
        let org = store.create_org(&ctx(1), "Helsinki City", OrgKind::Authority).await.unwrap();
        assert!(
            matches!(store.create_org(&ctx(2), "Helsinki City", OrgKind::Other).await, Err(StoreError::Conflict(_))),
            "{name}"
        );
        assert_eq!(store.org_by_name("Helsinki City").await.unwrap().map(|o| o.id), Some(org.id.clone()));

        let user = store
            .create_user(
                &ctx(3),
                NewUser {
                    email: "Officer@Example.org ".into(),
                    org_id: org.id.clone(),
                    role: Role::Authority,
                    password_hash: "$argon2id$x".into(),
                },
            )
            .await
            .unwrap();
        assert_eq!(user.email, "officer@example.org");
        let dup = store
            .create_user(
                &ctx(4),
                NewUser {
                    email: "officer@example.org".into(),
                    org_id: org.id.clone(),
                    role: Role::Viewer,
                    password_hash: "h".into(),
                },
            )
            .await;
        assert!(matches!(dup, Err(StoreError::Conflict(_))), "{name}");
        assert_eq!(
            store.user_by_email("OFFICER@example.org").await.unwrap().map(|u| u.password_hash),
            Some("$argon2id$x".to_owned())
        );

        let token = store.create_token(&ctx(5), &user.id, "laptop", "hash-1").await.unwrap();
        let principal = store.principal_for_token("hash-1").await.unwrap().unwrap();
        assert_eq!((principal.user_id.as_str(), principal.role), (user.id.as_str(), Role::Authority));
        assert!(store.principal_for_token("hash-2").await.unwrap().is_none());
        store.revoke_token(&ctx(6), &user.id, &token.id).await.unwrap();
        assert!(store.principal_for_token("hash-1").await.unwrap().is_none(), "{name}: revoked tokens stop working");
        assert!(matches!(store.revoke_token(&ctx(7), &user.id, &token.id).await, Err(StoreError::NotFound(_))));

        store.create_session(&ctx(10), "session-1", &user.id, 1_000).await.unwrap();
        assert!(store.principal_for_session("session-1", 999).await.unwrap().is_some());
        assert!(
            store.principal_for_session("session-1", 1_000).await.unwrap().is_none(),
            "{name}: expired sessions stop working"
        );

        let operator = store.create_org(&ctx(11), "Market Hall Ltd", OrgKind::Operator).await.unwrap();
        store.add_oversight(&ctx(12), &org.id, &operator.id).await.unwrap();
        store.add_oversight(&ctx(13), &org.id, &operator.id).await.unwrap();
        assert_eq!(store.oversight_links().await.unwrap(), [(org.id.clone(), operator.id.clone())], "{name}: once");
        store.create_session(&ctx(14), "session-2", &user.id, 10_000).await.unwrap();
        let principal = store.principal_for_session("session-2", 20).await.unwrap().unwrap();
        assert_eq!(principal.overseen_orgs, vec![operator.id.clone()]);
    }
}

#[tokio::test]
async fn accounts_are_administered_disabled_and_opened_by_one_time_links() {
    for backend in backends().await {
        let store = &backend.store;
        let name = store.backend();
        let org = store.create_org(&ctx(1), "City", OrgKind::Authority).await.unwrap();
        let new = |email: &str| NewUser {
            email: email.into(),
            org_id: org.id.clone(),
            role: Role::Assessor,
            password_hash: "unusable".into(),
        };
        let user = store.create_user(&ctx(2), new("steward@example.org")).await.unwrap();
        store.create_user(&ctx(3), new("another@example.org")).await.unwrap();
        let listed: Vec<String> = store.list_users(Some(&org.id)).await.unwrap().into_iter().map(|u| u.email).collect();
        assert_eq!(listed, ["another@example.org", "steward@example.org"], "{name}: by email");
        assert!(store.list_users(Some(&OrgId::new("elsewhere"))).await.unwrap().is_empty());

        // A one-time link: live until used or expired; a newer one replaces it.
        store.create_account_link(&ctx(10), &user.id, "link-1", LinkPurpose::Invite, 1_000).await.unwrap();
        assert_eq!(store.account_link_user("link-1", 999).await.unwrap().map(|u| u.id), Some(user.id.clone()));
        assert!(store.account_link_user("link-1", 1_000).await.unwrap().is_none(), "{name}: expired");
        store.create_account_link(&ctx(11), &user.id, "link-2", LinkPurpose::Reset, 5_000).await.unwrap();
        assert!(store.account_link_user("link-1", 20).await.unwrap().is_none(), "{name}: replaced by the newer link");
        let used = store.use_account_link(&ctx(30), "link-2", "$argon2id$new").await.unwrap();
        assert_eq!(used.map(|u| u.id), Some(user.id.clone()));
        assert_eq!(store.user_by_email("steward@example.org").await.unwrap().unwrap().password_hash, "$argon2id$new");
        assert!(store.use_account_link(&ctx(31), "link-2", "$argon2id$again").await.unwrap().is_none(), "{name}: once");
        store.set_password(&ctx(32), &user.id, "$argon2id$changed").await.unwrap();
        assert_eq!(
            store.user_by_email("steward@example.org").await.unwrap().unwrap().password_hash,
            "$argon2id$changed"
        );

        // Disabled: its sessions end and its tokens stop, until it is enabled again.
        store.create_session(&ctx(40), "session-1", &user.id, 100_000).await.unwrap();
        store.create_token(&ctx(41), &user.id, "laptop", "token-1").await.unwrap();
        let change = |role, disabled, manages_org| UserChange { role, disabled, manages_org };
        let changed = store.update_user(&ctx(42), &user.id, change(Role::Viewer, true, false)).await.unwrap();
        assert_eq!((changed.role, changed.disabled_at_ms), (Role::Viewer, Some(42)));
        assert!(store.principal_for_session("session-1", 50).await.unwrap().is_none(), "{name}: session ended");
        assert!(store.principal_for_token("token-1").await.unwrap().is_none(), "{name}: token stopped");
        let enabled = store.update_user(&ctx(43), &user.id, change(Role::Viewer, false, true)).await.unwrap();
        assert_eq!((enabled.disabled_at_ms, enabled.manages_org), (None, true));
        let principal = store.principal_for_token("token-1").await.unwrap().unwrap();
        assert_eq!((principal.role, principal.manages_org), (Role::Viewer, true), "{name}");
        assert!(store.principal_for_session("session-1", 50).await.unwrap().is_none(), "{name}: ended for good");
        assert!(matches!(
            store.update_user(&ctx(44), &vigie_domain::UserId::new("nobody"), change(Role::Viewer, true, false)).await,
            Err(StoreError::NotFound(_))
        ));

        let actions: Vec<String> = store.audit_entries().await.unwrap().into_iter().map(|e| e.record.action).collect();
        for action in ["user.link_invite", "user.link_reset", "user.password", "user.update"] {
            assert!(actions.iter().any(|a| a == action), "{name}: {action} is audited");
        }

        // The audit viewer's search: by actor, by the start of an action (its `_` taken
        // literally), by time, newest first.
        let search = |filter: AuditFilter| async move { store.audit_search(&filter).await.unwrap() };
        let links =
            search(AuditFilter { action_prefix: Some("user.link_".into()), limit: 10, ..Default::default() }).await;
        let seen: Vec<&str> = links.iter().map(|e| e.record.action.as_str()).collect();
        assert_eq!(seen, ["user.link_reset", "user.link_invite"], "{name}");
        let literal =
            search(AuditFilter { action_prefix: Some("user_".into()), limit: 10, ..Default::default() }).await;
        assert!(literal.is_empty(), "{name}: `_` is not a wildcard");
        let by_link = search(AuditFilter { actor: Some(user.id.to_string()), limit: 10, ..Default::default() }).await;
        assert_eq!(by_link.len(), 1, "{name}: the password set through the link is the user's own act");
        let window = search(AuditFilter {
            from_ms: Some(40),
            to_ms: Some(43),
            object_type: Some("user".into()),
            limit: 10,
            ..Default::default()
        })
        .await;
        assert_eq!(
            window.iter().map(|e| e.record.at_ms).collect::<Vec<_>>(),
            [42, 40],
            "{name}: the token (41) is not a user"
        );
        assert_eq!(search(AuditFilter { limit: 2, ..Default::default() }).await.len(), 2);

        // A second factor: required by the organisation, the user must enrol first; a time
        // step is used once, and never an earlier one.
        let org = store.set_org_second_factor(&ctx(65), &org.id, true).await.unwrap();
        assert!(org.second_factor_required);
        assert!(store.principal_for_token("token-1").await.unwrap().unwrap().must_enrol_second_factor, "{name}");
        store.set_second_factor(&ctx(66), &user.id, Some("JBSWY3DPEHPK3PXP")).await.unwrap();
        let found = store.user_by_email("steward@example.org").await.unwrap().unwrap();
        assert_eq!((found.totp_secret.as_deref(), found.user.second_factor), (Some("JBSWY3DPEHPK3PXP"), true));
        assert!(!store.principal_for_token("token-1").await.unwrap().unwrap().must_enrol_second_factor, "{name}");
        assert!(store.use_second_factor_step(&user.id, 100).await.unwrap());
        assert!(!store.use_second_factor_step(&user.id, 100).await.unwrap(), "{name}: a code works once");
        assert!(!store.use_second_factor_step(&user.id, 99).await.unwrap(), "{name}: never an earlier one");
        assert!(store.use_second_factor_step(&user.id, 101).await.unwrap());
        // A reset link is the way back for someone who lost their phone: it removes it.
        store.create_account_link(&ctx(67), &user.id, "link-3", LinkPurpose::Reset, 5_000).await.unwrap();
        let reset = store.use_account_link(&ctx(68), "link-3", "$argon2id$after-reset").await.unwrap().unwrap();
        assert!(!reset.second_factor, "{name}");
        assert!(store.user_by_email("steward@example.org").await.unwrap().unwrap().totp_secret.is_none(), "{name}");
        store.set_second_factor(&ctx(69), &user.id, Some("JBSWY3DPEHPK3PXP")).await.unwrap();
        store.set_second_factor(&ctx(69), &user.id, None).await.unwrap();
        assert!(!store.user_by_email("steward@example.org").await.unwrap().unwrap().user.second_factor);
        store.set_org_second_factor(&ctx(70), &org.id, false).await.unwrap();
        let actions: Vec<String> = store.audit_entries().await.unwrap().into_iter().map(|e| e.record.action).collect();
        for action in ["user.second_factor_on", "user.second_factor_off", "org.second_factor"] {
            assert!(actions.iter().any(|a| a == action), "{name}: {action} is audited");
        }
    }
}

#[tokio::test]
async fn sites_are_created_read_updated_listed_and_deleted() {
    for backend in backends().await {
        let store = &backend.store;
        let name = store.backend();
        let a = store.create_org(&ctx(1), "A", OrgKind::Operator).await.unwrap();
        let b = store.create_org(&ctx(1), "B", OrgKind::Operator).await.unwrap();
        let square_site = store
            .create_site(&ctx(2), &a.id, &site("Senate Square", SiteCategory::PublicSquare, 24.951, 60.169, None))
            .await
            .unwrap();
        assert_eq!(square_site.version, 1);
        assert!((square_site.area_m2 - 6_195.0).abs() < 100.0, "{}", square_site.area_m2);
        let market = store
            .create_site(&ctx(2), &a.id, &site("Market Square", SiteCategory::OpenAirMarket, 24.953, 60.167, None))
            .await
            .unwrap();
        store
            .create_site(&ctx(2), &b.id, &site("Tampere Hall", SiteCategory::Venue, 23.77, 61.49, None))
            .await
            .unwrap();

        let got = store.get_site(&square_site.id).await.unwrap().unwrap();
        assert_eq!(got, square_site, "{name}: a site reads back as written");

        let updated = store
            .update_site(
                &ctx(3),
                &square_site.id,
                &site("Senaatintori", SiteCategory::PublicSquare, 24.951, 60.169, None),
                Some(1),
            )
            .await
            .unwrap();
        assert_eq!((updated.name.as_str(), updated.version, updated.updated_at_ms), ("Senaatintori", 2, 3));
        let stale = store
            .update_site(
                &ctx(4),
                &square_site.id,
                &site("Stale edit", SiteCategory::PublicSquare, 24.951, 60.169, None),
                Some(1),
            )
            .await;
        assert!(matches!(stale, Err(StoreError::Conflict(_))), "{name}: a stale version is refused");

        let all = store.list_sites(&SiteFilter { limit: 50, ..Default::default() }).await.unwrap();
        assert_eq!(all.total, 3);
        let only_a = store
            .list_sites(&SiteFilter { orgs: Some(vec![a.id.clone()]), limit: 1, ..Default::default() })
            .await
            .unwrap();
        assert_eq!(
            (only_a.total, only_a.items.len()),
            (2, 1),
            "{name}: total counts every match, the page holds the limit"
        );
        let second = store
            .list_sites(&SiteFilter { orgs: Some(vec![a.id.clone()]), limit: 1, offset: 1, ..Default::default() })
            .await
            .unwrap();
        assert_ne!(second.items[0].id, only_a.items[0].id);
        let markets = store
            .list_sites(&SiteFilter { category: Some(SiteCategory::OpenAirMarket), limit: 50, ..Default::default() })
            .await
            .unwrap();
        assert_eq!(markets.items.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), vec!["Market Square"]);
        let helsinki = BoundingBox { west: 24.9, south: 60.1, east: 25.0, north: 60.2 };
        let in_box =
            store.list_sites(&SiteFilter { bbox: Some(helsinki), limit: 50, ..Default::default() }).await.unwrap();
        assert_eq!(in_box.total, 2, "{name}: the bounding box keeps Helsinki only");
        let b_in_box = store
            .list_sites(&SiteFilter {
                orgs: Some(vec![b.id.clone()]),
                bbox: Some(helsinki),
                limit: 50,
                ..Default::default()
            })
            .await
            .unwrap();
        let a_in_box = store
            .list_sites(&SiteFilter {
                orgs: Some(vec![a.id.clone()]),
                bbox: Some(helsinki),
                limit: 50,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!((a_in_box.total, b_in_box.total), (2, 0), "{name}: organisation and box together");
        let nobody =
            store.list_sites(&SiteFilter { orgs: Some(vec![]), limit: 50, ..Default::default() }).await.unwrap();
        assert_eq!(nobody.total, 0);
        let names = store.site_names(&[&square_site.id, &SiteId::new("no-such-site"), &square_site.id]).await.unwrap();
        assert_eq!(
            names.into_iter().collect::<Vec<_>>(),
            vec![(square_site.id.clone(), "Senaatintori".to_owned())],
            "{name}: names by id, missing ids left out"
        );
        assert!(store.site_names(&[]).await.unwrap().is_empty());

        // The spatial index follows a site that moves, and one that goes.
        let tampere = BoundingBox { west: 23.7, south: 61.4, east: 23.9, north: 61.6 };
        let count_in = |bbox| async move {
            store.list_sites(&SiteFilter { bbox: Some(bbox), limit: 50, ..Default::default() }).await.unwrap().total
        };
        store
            .update_site(
                &ctx(4),
                &market.id,
                &site("Market Square", SiteCategory::OpenAirMarket, 23.76, 61.50, None),
                None,
            )
            .await
            .unwrap();
        assert_eq!(
            (count_in(helsinki).await, count_in(tampere).await),
            (1, 2),
            "{name}: a moved site is found where it is now"
        );
        let edge = BoundingBox { west: 23.76 + 0.001, south: 61.50, east: 23.8, north: 61.6 };
        assert_eq!(count_in(edge).await, 1, "{name}: a box touching a site's side finds it");

        store.delete_site(&ctx(5), &square_site.id).await.unwrap();
        assert_eq!(count_in(helsinki).await, 0, "{name}: a deleted site leaves the index");
        assert!(store.get_site(&square_site.id).await.unwrap().is_none());
        assert!(matches!(store.delete_site(&ctx(6), &square_site.id).await, Err(StoreError::NotFound(_))));
    }
}

#[tokio::test]
async fn reimporting_the_same_sources_changes_nothing() {
    for backend in backends().await {
        let store = &backend.store;
        let org = store.create_org(&ctx(1), "City", OrgKind::Authority).await.unwrap();
        let batch = vec![
            site("Cathedral", SiteCategory::PlaceOfWorship, 24.952, 60.170, Some("osm:way/1")),
            site("Station", SiteCategory::TransportHub, 24.941, 60.171, Some("osm:way/2")),
        ];
        let first = store.import_sites(&ctx(2), &org.id, &batch).await.unwrap();
        assert_eq!((first.imported, first.updated, first.unchanged), (2, 0, 0));
        let again = store.import_sites(&ctx(3), &org.id, &batch).await.unwrap();
        assert_eq!((again.imported, again.updated, again.unchanged), (0, 0, 2));
        let changed = vec![site("Helsinki Cathedral", SiteCategory::PlaceOfWorship, 24.952, 60.170, Some("osm:way/1"))];
        let third = store.import_sites(&ctx(4), &org.id, &changed).await.unwrap();
        assert_eq!((third.imported, third.updated, third.unchanged), (0, 1, 0));
        assert_eq!(store.list_sites(&SiteFilter { limit: 50, ..Default::default() }).await.unwrap().total, 2);

        // A person corrects the station; the next import must not undo it.
        let station = first.created[1].clone();
        let mut edited = site("Central Railway Station", SiteCategory::TransportHub, 24.941, 60.171, None);
        edited.site.peak_occupancy = Some(20_000);
        store.update_site(&ctx(5), &station, &edited, None).await.unwrap();
        let fourth = store.import_sites(&ctx(6), &org.id, &batch).await.unwrap();
        assert_eq!(
            (fourth.updated, fourth.locally_edited),
            (1, 1),
            "the cathedral reverts to the source, the edited station stays"
        );
        assert_eq!(store.get_site(&station).await.unwrap().unwrap().peak_occupancy, Some(20_000));
    }
}

#[tokio::test]
async fn every_write_is_in_the_audit_chain() {
    for backend in backends().await {
        let store = &backend.store;
        let org = store.create_org(&ctx(1), "City", OrgKind::Authority).await.unwrap();
        let created = store
            .create_site(&ctx(2), &org.id, &site("Square", SiteCategory::PublicSquare, 24.95, 60.17, None))
            .await
            .unwrap();
        store.delete_site(&ctx(3), &created.id).await.unwrap();
        let entries = store.audit_entries().await.unwrap();
        let actions: Vec<&str> = entries.iter().map(|e| e.record.action.as_str()).collect();
        assert_eq!(actions, vec!["org.create", "site.create", "site.delete"]);
        assert_eq!(verify_chain(&entries), Ok(3));
        let pages: Vec<i64> = store
            .audit_page(1, 1)
            .await
            .unwrap()
            .iter()
            .chain(&store.audit_page(2, 5).await.unwrap())
            .map(|e| e.seq)
            .collect();
        assert_eq!(pages, vec![2, 3], "pages follow the sequence");
        let tail: Vec<i64> = store.audit_tail(2).await.unwrap().iter().map(|e| e.seq).collect();
        assert_eq!(tail, vec![2, 3], "the tail is oldest first");
    }
}

#[tokio::test]
async fn concurrent_writers_keep_the_audit_chain_whole() {
    for backend in backends().await {
        let store = backend.store.clone();
        let org = store.create_org(&ctx(1), "City", OrgKind::Authority).await.unwrap();
        let mut tasks = Vec::new();
        for i in 0..20 {
            let store = store.clone();
            let org_id = org.id.clone();
            tasks.push(tokio::spawn(async move {
                store
                    .create_site(
                        &ctx(10 + i),
                        &org_id,
                        &site(&format!("Site {i}"), SiteCategory::Other, 24.9 + i as f64 * 0.002, 60.17, None),
                    )
                    .await
                    .map(|_| ())
            }));
        }
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        let entries = store.audit_entries().await.unwrap();
        assert_eq!(verify_chain(&entries), Ok(21), "{}", store.backend());
    }
}

#[tokio::test]
async fn hvm_studies_are_kept_with_their_site_and_go_with_it() {
    for backend in backends().await {
        let store = &backend.store;
        let org = store.create_org(&ctx(1), "City", OrgKind::Authority).await.unwrap();
        let square = store
            .create_site(&ctx(2), &org.id, &site("Square", SiteCategory::PublicSquare, 24.95, 60.17, None))
            .await
            .unwrap();
        assert!(store.latest_hvm_study(&square.id).await.unwrap().is_none());
        for (at, speed) in [(3, 40.0), (4, 52.5)] {
            let study = vigie_store::NewHvmStudy {
                site_id: square.id.clone(),
                org_id: org.id.clone(),
                vehicles_version: "1".into(),
                network: "helsinki".into(),
                result: json!({"access_points": [{"id": "AP1", "vehicles": {"M1": {"speed_kmh": speed}}}], "assumed_barriers": []}),
            };
            store.create_hvm_study(&ctx(at), &study).await.unwrap();
        }
        let latest = store.latest_hvm_study(&square.id).await.unwrap().unwrap();
        assert_eq!(latest.result["access_points"][0]["vehicles"]["M1"]["speed_kmh"], 52.5, "{}", store.backend());
        assert_eq!(latest.summary.access_points[0].speed_kmh["M1"], 52.5, "read typed: {}", store.backend());
        let not_a_study = vigie_store::NewHvmStudy {
            site_id: square.id.clone(),
            org_id: org.id.clone(),
            vehicles_version: "1".into(),
            network: "helsinki".into(),
            result: json!({"access_points": [{"speed_kmh": 40.0}]}),
        };
        assert!(
            matches!(store.create_hvm_study(&ctx(5), &not_a_study).await, Err(StoreError::Corrupt(_))),
            "a result without the shape of a study is refused, never stored to be read as zero speeds"
        );
        store.delete_site(&ctx(6), &square.id).await.unwrap();
        assert!(store.latest_hvm_study(&square.id).await.unwrap().is_none(), "studies go with their site");
    }
}

mod assessments {
    use super::*;
    use vigie_domain::assessment::{ActionStatus, AssessmentStatus, GpsPoint};
    use vigie_store::{
        ActionFields, AnswerContent, AnswerWrite, AssessedSite, AssessmentStore, NewAssessment, NewPhoto,
        TransitionData,
    };

    fn answer(question: &str, answer: &str, base_version: Option<i64>) -> AnswerWrite {
        AnswerWrite {
            question_id: question.into(),
            content: AnswerContent { answer: answer.into(), note: None, observed_at_ms: None, gps: None },
            base_version,
        }
    }

    fn action(title: &str, status: ActionStatus, due: Option<&str>) -> ActionFields {
        ActionFields {
            title: title.into(),
            owner: Some("Facilities".into()),
            owner_user_id: None,
            due_date: due.map(str::to_owned),
            status,
            evidence: None,
            question_id: None,
            scenario_id: None,
            measure_id: Some("bag_inspection".into()),
        }
    }

    #[tokio::test]
    async fn an_assessment_is_answered_submitted_validated_and_kept() {
        for backend in backends().await {
            let store = &backend.store;
            let name = store.backend();
            let org = store.create_org(&ctx(1), "Market Hall Ltd", OrgKind::Operator).await.unwrap();
            let site = store
                .create_site(
                    &ctx(2),
                    &org.id,
                    &site("Old Market Hall", SiteCategory::OpenAirMarket, 24.95, 60.16, None),
                )
                .await
                .unwrap();
            let new = NewAssessment {
                site_id: site.id.clone(),
                org_id: org.id.clone(),
                methodology_version: "2026.1".into(),
                threat_level: 3,
                site: AssessedSite {
                    category: SiteCategory::OpenAirMarket,
                    occupancy: 800,
                    area_m2: site.area_m2,
                    visibility: Some(2),
                },
            };
            let assessment = store.create_assessment(&ctx(3), &new).await.unwrap();
            assert_eq!(
                (assessment.status, assessment.version, assessment.threat_level),
                (AssessmentStatus::Draft, 1, 3),
                "{name}"
            );
            assert_eq!(assessment.site.visibility, Some(2));

            // One by one, with a note and a position; then a stale write is a conflict that
            // carries what is stored now, and replaying a write that landed is not.
            let mut first = answer("access.public_entrance_search", "a2", Some(0));
            first.content.note = Some("Side door on Eteläranta unguarded".into());
            first.content.gps = Some(GpsPoint { lat: 60.1672, lon: 24.9534, accuracy_m: Some(6.0) });
            first.content.observed_at_ms = Some(1_700_000_000_000);
            let stored = store.put_answers(&ctx(4), &assessment.id, std::slice::from_ref(&first)).await.unwrap();
            assert_eq!(
                (stored[0].version, stored[0].content.note.as_deref()),
                (1, Some("Side door on Eteläranta unguarded")),
                "{name}"
            );
            assert_eq!(
                store.put_answers(&ctx(5), &assessment.id, std::slice::from_ref(&first)).await.unwrap()[0].version,
                1,
                "{name}: a replay changes nothing"
            );
            let other = answer("access.public_entrance_search", "a0", Some(1));
            store.put_answers(&ctx(6), &assessment.id, &[other]).await.unwrap();
            match store
                .put_answers(&ctx(7), &assessment.id, &[answer("access.public_entrance_search", "a3", Some(1))])
                .await
            {
                Err(StoreError::AnswerConflict { current }) => {
                    assert_eq!((current.content.answer.as_str(), current.version), ("a0", 2), "{name}")
                }
                other => panic!("{name}: expected a conflict, got {other:?}"),
            }
            // Bulk: all or none.
            let bulk = [answer("management.plan", "na", None), answer("access.public_entrance_search", "a1", Some(1))];
            assert!(
                matches!(
                    store.put_answers(&ctx(8), &assessment.id, &bulk).await,
                    Err(StoreError::AnswerConflict { .. })
                ),
                "{name}"
            );
            assert!(
                !store.assessment_answers(&assessment.id).await.unwrap().contains_key("management.plan"),
                "{name}: nothing of a refused batch lands"
            );
            store
                .put_answers(
                    &ctx(9),
                    &assessment.id,
                    &[answer("management.plan", "na", None), answer("access.public_entrance_search", "a1", Some(2))],
                )
                .await
                .unwrap();

            // A photo's bytes come back exactly, and the answer lists it.
            let bytes = vec![0xFF, 0xD8, 0xFF, 0xD9, 1, 2, 3];
            let photo = store
                .add_photo(
                    &ctx(10),
                    &NewPhoto {
                        assessment_id: assessment.id.clone(),
                        question_id: "access.public_entrance_search".into(),
                        content_type: "image/jpeg".into(),
                        bytes: bytes.clone(),
                        location_kept: false,
                    },
                )
                .await
                .unwrap();
            assert_eq!(
                store.photo_bytes(&store.get_photo(&photo.id).await.unwrap().unwrap()).await.unwrap(),
                bytes,
                "{name}"
            );
            let answers = store.assessment_answers(&assessment.id).await.unwrap();
            assert_eq!(answers["access.public_entrance_search"].photos, vec![photo.id.clone()], "{name}");
            assert_eq!(answers["access.public_entrance_search"].version, 3);

            // Submitted: answers and photos are locked; a stale status change is refused.
            let submitted = store
                .transition_assessment(
                    &ctx(11),
                    &assessment.id,
                    AssessmentStatus::Draft,
                    AssessmentStatus::Submitted,
                    &TransitionData::default(),
                )
                .await
                .unwrap();
            assert_eq!(
                (submitted.status, submitted.submitted_by.as_deref()),
                (AssessmentStatus::Submitted, Some("cli")),
                "{name}"
            );
            assert!(
                matches!(
                    store.put_answers(&ctx(12), &assessment.id, &[answer("management.plan", "a0", None)]).await,
                    Err(StoreError::Locked(_))
                ),
                "{name}"
            );
            assert!(
                matches!(
                    store
                        .transition_assessment(
                            &ctx(12),
                            &assessment.id,
                            AssessmentStatus::Draft,
                            AssessmentStatus::Submitted,
                            &TransitionData::default()
                        )
                        .await,
                    Err(StoreError::Conflict(_))
                ),
                "{name}"
            );
            let summary = AssessmentSummary {
                completeness: Some(vigie_domain::assessment::Completeness {
                    applicable: 90,
                    answered: 80,
                    not_applicable: 4,
                    unanswered: 6,
                }),
                incomplete_reason: Some("the roof could not be reached".into()),
                max_risk: Some(12),
                max_risk_band: Some("high".into()),
                protective_measures_index: Some(41),
                scenarios: vec![ScenarioRisk {
                    band: "high".into(),
                    id: "vehicle_as_weapon".into(),
                    risk: 12,
                    vulnerability: 80,
                }],
            };
            let data = TransitionData {
                due_at_ms: Some(13 + 365 * 86_400_000),
                summary: Some(summary.clone()),
                protective_measures_index: Some(41),
            };
            let validated = store
                .transition_assessment(
                    &ctx(13),
                    &assessment.id,
                    AssessmentStatus::Submitted,
                    AssessmentStatus::Validated,
                    &data,
                )
                .await
                .unwrap();
            assert_eq!(
                (validated.due_at_ms, validated.protective_measures_index, validated.validated_at_ms),
                (Some(13 + 365 * 86_400_000), Some(41), Some(13)),
                "{name}"
            );
            assert_eq!(validated.summary, Some(summary.clone()), "{name}");
            let read = store.get_assessment(&assessment.id).await.unwrap().unwrap();
            assert_eq!(read.summary, Some(summary), "the summary comes back typed from the store: {name}");
            assert_eq!(
                store.peer_indexes(SiteCategory::OpenAirMarket, &AssessmentId::new("another")).await.unwrap(),
                vec![41],
                "{name}"
            );
            assert!(store.peer_indexes(SiteCategory::OpenAirMarket, &assessment.id).await.unwrap().is_empty());
            assert_eq!(
                store
                    .assessments_by_status(Some(std::slice::from_ref(&org.id)), AssessmentStatus::Validated)
                    .await
                    .unwrap()
                    .len(),
                1
            );
            assert!(
                store
                    .assessments_by_status(Some(&[OrgId::new("other")]), AssessmentStatus::Validated)
                    .await
                    .unwrap()
                    .is_empty()
            );

            // The action plan moves on after validation, with optimistic versions.
            let later = store
                .create_action(
                    &ctx(14),
                    &assessment.id,
                    &action("Bag checks at all doors", ActionStatus::Open, Some("2027-03-01")),
                )
                .await
                .unwrap();
            let undated = store
                .create_action(
                    &ctx(15),
                    &assessment.id,
                    &action("Brief the stallholders", ActionStatus::InProgress, None),
                )
                .await
                .unwrap();
            // An owner with an account sees the action among their own.
            let owner = store
                .create_user(
                    &ctx(16),
                    NewUser {
                        email: "caretaker@example.org".into(),
                        org_id: org.id.clone(),
                        role: Role::Operator,
                        password_hash: "h".into(),
                    },
                )
                .await
                .unwrap();
            let sooner = store
                .create_action(
                    &ctx(16),
                    &assessment.id,
                    &ActionFields {
                        owner_user_id: Some(owner.id.clone()),
                        ..action("Lock the loading bay", ActionStatus::Open, Some("2026-12-15"))
                    },
                )
                .await
                .unwrap();
            let owned: Vec<ActionId> =
                store.actions_owned_by(&owner.id, 10).await.unwrap().into_iter().map(|a| a.id).collect();
            assert_eq!(owned, std::slice::from_ref(&sooner.id), "{name}");
            assert_eq!(
                store.get_action(&sooner.id).await.unwrap().unwrap().fields.owner_user_id,
                Some(owner.id.clone())
            );
            let done = store
                .update_action(
                    &ctx(17),
                    &later.id,
                    &action("Bag checks at all doors", ActionStatus::Done, Some("2027-03-01")),
                    1,
                )
                .await
                .unwrap();
            assert_eq!((done.fields.status, done.version), (ActionStatus::Done, 2), "{name}");
            assert!(
                matches!(
                    store.update_action(&ctx(18), &later.id, &action("x", ActionStatus::Open, None), 1).await,
                    Err(StoreError::Conflict(_))
                ),
                "{name}"
            );
            let pending: Vec<ActionId> =
                store.pending_actions(None, 10).await.unwrap().into_iter().map(|a| a.id).collect();
            assert_eq!(
                pending,
                vec![sooner.id.clone(), undated.id.clone()],
                "{name}: soonest due first, undated last, done left out"
            );
            assert_eq!(store.assessment_actions(&assessment.id).await.unwrap().len(), 3);

            // History, and nothing is lost: the site cannot be deleted from under its assessments.
            assert_eq!(store.site_assessments(&site.id).await.unwrap().len(), 1);
            assert!(matches!(store.delete_site(&ctx(19), &site.id).await, Err(StoreError::Conflict(_))), "{name}");
            let archived = store
                .transition_assessment(
                    &ctx(20),
                    &assessment.id,
                    AssessmentStatus::Validated,
                    AssessmentStatus::Archived,
                    &TransitionData::default(),
                )
                .await
                .unwrap();
            assert_eq!(archived.archived_at_ms, Some(20));
            assert!(
                matches!(
                    store.create_action(&ctx(21), &assessment.id, &action("late", ActionStatus::Open, None)).await,
                    Err(StoreError::Locked(_))
                ),
                "{name}"
            );

            let entries = store.audit_entries().await.unwrap();
            verify_chain(&entries).unwrap();
            let actions: Vec<&str> = entries.iter().map(|e| e.record.action.as_str()).collect();
            for expected in [
                "assessment.create",
                "assessment.answer",
                "assessment.photo_add",
                "assessment.submitted",
                "assessment.validated",
                "action.create",
                "action.update",
                "assessment.archived",
            ] {
                assert!(actions.contains(&expected), "{name}: {expected} audited");
            }
            assert!(
                !entries.iter().any(|e| e.record.details.to_string().contains("Eteläranta")),
                "{name}: notes stay out of the audit log"
            );
        }
    }

    #[tokio::test]
    async fn a_sqlite_backup_carries_the_photos_and_a_restore_drops_the_stale_index() {
        let dir = tempfile::tempdir().unwrap();
        let store =
            SqliteStore::open(&format!("sqlite://{}", dir.path().join("live/vigie.db").display())).await.unwrap();
        let org = store.create_org(&ctx(1), "Org", OrgKind::Operator).await.unwrap();
        let site = store
            .create_site(&ctx(2), &org.id, &site("Square", SiteCategory::PublicSquare, 24.9, 60.1, None))
            .await
            .unwrap();
        let new = NewAssessment {
            site_id: site.id,
            org_id: org.id,
            methodology_version: "2026.1".into(),
            threat_level: 2,
            site: AssessedSite {
                category: SiteCategory::PublicSquare,
                occupancy: 100,
                area_m2: 1000.0,
                visibility: None,
            },
        };
        let assessment = store.create_assessment(&ctx(3), &new).await.unwrap();
        let bytes = vec![0x89, b'P', b'N', b'G', 7, 7, 7];
        store
            .add_photo(
                &ctx(4),
                &NewPhoto {
                    assessment_id: assessment.id.clone(),
                    question_id: "q".into(),
                    content_type: "image/png".into(),
                    bytes: bytes.clone(),
                    location_kept: true,
                },
            )
            .await
            .unwrap();
        let backup = dir.path().join("backups/monday.db");
        std::fs::create_dir_all(backup.parent().unwrap()).unwrap();
        store.backup(&backup).await.unwrap();
        store.close().await;

        let restored_url = format!("sqlite://{}", dir.path().join("elsewhere/vigie.db").display());
        let stale_index = dir.path().join("elsewhere/vigie.library-index");
        std::fs::create_dir_all(&stale_index).unwrap();
        std::fs::write(stale_index.join("generation"), "7").unwrap();
        vigie_store::restore_sqlite(&restored_url, &backup).await.unwrap();
        assert!(!stale_index.exists(), "the search index of the replaced database is dropped, to be rebuilt");
        let restored = SqliteStore::open(&restored_url).await.unwrap();
        let photos = restored.assessment_photos(&assessment.id).await.unwrap();
        assert_eq!(photos.len(), 1, "a photo of a question not yet answered is listed too");
        assert_eq!(restored.photo_bytes(&photos[0]).await.unwrap(), bytes);
    }
}

#[path = "vigie_store/library.rs"]
mod library;
