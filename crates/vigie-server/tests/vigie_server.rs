//! The API as a client sees it: authentication, organisation boundaries, error bodies
//! (snapshots), sessions and the audit of reads. Runs on SQLite, and on PostgreSQL too when
//! `VIGIE_TEST_POSTGRES_URL` is set.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // a test fails loudly
#![allow(clippy::disallowed_methods)] // tests may read the clock to name their schemas
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};
use tower::ServiceExt;
use vigie_app::Clock;
use vigie_app::secrets::{hash_password, new_secret, secret_hash};
use vigie_domain::OrgId;
use vigie_domain::access::{OrgKind, Role};
use vigie_server::{AppState, ServerConfig};
use vigie_store::{NewUser, Store, WriteContext};

#[path = "vigie_server/api_snapshots.rs"]
mod api_snapshots;

struct World {
    app: Router,
    store: Arc<dyn Store>,
    /// Bearer tokens by role name.
    admin: String,
    officer: String,
    operator: String,
    stranger: String,
    viewer: String,
    operator_site: String,
    _dir: tempfile::TempDir,
}

fn now_ms() -> i64 {
    vigie_app::SystemClock.now_ms()
}

fn ctx() -> WriteContext {
    WriteContext { at_ms: 1, actor: "test".into(), actor_org: None }
}

async fn stores() -> Vec<(Arc<dyn Store>, tempfile::TempDir)> {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("server.db").display());
    let mut all: Vec<(Arc<dyn Store>, tempfile::TempDir)> = vec![(vigie_store::open(&url).await.unwrap(), dir)];
    if let Ok(url) = std::env::var("VIGIE_TEST_POSTGRES_URL") {
        use sqlx::Connection;
        let schema = format!(
            "server_{}_{}",
            std::process::id(),
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
        );
        let mut admin = sqlx::PgConnection::connect(&url).await.unwrap();
        sqlx::query(&format!("CREATE SCHEMA {schema}")).execute(&mut admin).await.unwrap();
        let options: sqlx::postgres::PgConnectOptions = url.parse().unwrap();
        let store = vigie_store::PgStore::open_with(options.options([("search_path", schema.as_str())])).await.unwrap();
        all.push((Arc::new(store), tempfile::tempdir().unwrap()));
    }
    all
}

async fn user(store: &dyn Store, email: &str, org: &str, role: Role) -> String {
    let user = store
        .create_user(
            &ctx(),
            NewUser {
                email: email.into(),
                org_id: org.into(),
                role,
                password_hash: hash_password("a long enough password").unwrap(),
            },
        )
        .await
        .unwrap();
    let secret = new_secret("vg_");
    store.create_token(&ctx(), &user.id, "test", &secret_hash(&secret)).await.unwrap();
    secret
}

async fn worlds() -> Vec<World> {
    let mut worlds = Vec::new();
    for (store, dir) in stores().await {
        let city = store.create_org(&ctx(), "City", OrgKind::Authority).await.unwrap();
        let market = store.create_org(&ctx(), "Market Operator", OrgKind::Operator).await.unwrap();
        let other = store.create_org(&ctx(), "Other Operator", OrgKind::Operator).await.unwrap();
        store.add_oversight(&ctx(), &city.id, &market.id).await.unwrap();
        let admin = user(store.as_ref(), "admin@example.org", &city.id, Role::Admin).await;
        let officer = user(store.as_ref(), "officer@example.org", &city.id, Role::Authority).await;
        let viewer = user(store.as_ref(), "viewer@example.org", &city.id, Role::Viewer).await;
        let operator = user(store.as_ref(), "operator@example.org", &market.id, Role::Operator).await;
        let stranger = user(store.as_ref(), "stranger@example.org", &other.id, Role::Operator).await;
        let app = vigie_server::router(AppState::new(
            store.clone(),
            ServerConfig { body_limit: 64 * 1024, ..ServerConfig::default() },
        ));
        let mut world =
            World { app, store, admin, officer, operator, stranger, viewer, operator_site: String::new(), _dir: dir };
        let (status, body) =
            world.call("POST", "/api/v1/sites", Some(&world.operator.clone()), Some(site_body("Market Square"))).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        world.operator_site = body["id"].as_str().unwrap().to_owned();
        worlds.push(world);
    }
    worlds
}

fn site_body(name: &str) -> Value {
    json!({
        "name": name,
        "category": "open_air_market",
        "geometry": {"type": "Polygon", "coordinates": [[[24.952, 60.167], [24.954, 60.167], [24.954, 60.168], [24.952, 60.168], [24.952, 60.167]]]},
        "address": "Eteläranta",
        "peak_occupancy": 3000,
        "tags": {"market_days": "Mon-Sat"}
    })
}

impl World {
    async fn send(&self, request: Request<Body>) -> (StatusCode, Value, axum::http::HeaderMap) {
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        (status, body, headers)
    }

    async fn call(&self, method: &str, uri: &str, token: Option<&str>, body: Option<Value>) -> (StatusCode, Value) {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let request = match body {
            Some(body) => {
                request.header(header::CONTENT_TYPE, "application/json").body(Body::from(body.to_string())).unwrap()
            }
            None => request.body(Body::empty()).unwrap(),
        };
        let (status, body, _) = self.send(request).await;
        (status, body)
    }

    async fn raw(
        &self,
        method: &str,
        uri: &str,
        token: &str,
        content_type: Option<&str>,
        body: impl Into<Body>,
    ) -> (StatusCode, Value) {
        let mut request =
            Request::builder().method(method).uri(uri).header(header::AUTHORIZATION, format!("Bearer {token}"));
        if let Some(content_type) = content_type {
            request = request.header(header::CONTENT_TYPE, content_type);
        }
        let (status, body, _) = self.send(request.body(body.into()).unwrap()).await;
        (status, body)
    }
}

#[tokio::test]
async fn every_api_call_needs_authentication() {
    for world in worlds().await {
        for (method, path) in vigie_server::api::all_routes() {
            let path = path.replace("{id}", "some-id").replace("{question}", "some-question");
            let (status, body) = world.call(&method.to_uppercase(), &path, None, None).await;
            if path == "/healthz" || path == "/api/v1/openapi.json" {
                assert_eq!(status, StatusCode::OK, "{path} is public");
            } else if path == "/api/v1/auth/login" {
                assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{path}: {body}");
            } else {
                assert_eq!(
                    (status, body["error"]["code"].as_str()),
                    (StatusCode::UNAUTHORIZED, Some("unauthenticated")),
                    "{method} {path}"
                );
            }
        }
        let (status, body) = world.call("GET", "/api/v1/sites", Some("vg_not-a-real-token"), None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        insta::assert_json_snapshot!("unauthenticated", body);
    }
}

#[tokio::test]
async fn organisations_only_see_what_they_may() {
    for world in worlds().await {
        let site = format!("/api/v1/sites/{}", world.operator_site);
        // The owner and the overseeing authority read it; the admin too.
        for token in [&world.operator, &world.officer, &world.admin] {
            let (status, body) = world.call("GET", &site, Some(token), None).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            assert_eq!(body["name"], "Market Square");
        }
        // A stranger and a viewer of the city (which does not oversee through a viewer role
        // of another org) get exactly what a missing site gives: nothing to learn.
        let (status, denied) = world.call("GET", &site, Some(&world.stranger), None).await;
        let (missing_status, missing) =
            world.call("GET", "/api/v1/sites/00000000-0000-0000-0000-000000000000", Some(&world.stranger), None).await;
        assert_eq!((status, &denied), (missing_status, &missing));
        assert_eq!(status, StatusCode::NOT_FOUND);
        insta::assert_json_snapshot!("not_found", denied);
        let (_, viewer_view) = world.call("GET", &site, Some(&world.viewer), None).await;
        assert_eq!(viewer_view, missing, "a viewer reads only its own organisation");

        // Lists and counts leave hidden sites out.
        let (_, page) = world.call("GET", "/api/v1/sites", Some(&world.stranger), None).await;
        assert_eq!(page["total"], 0);
        let (_, page) = world.call("GET", "/api/v1/sites", Some(&world.officer), None).await;
        assert_eq!(page["total"], 1);
        let (_, page) =
            world.call("GET", &format!("/api/v1/sites?org_id={}", "someone-else"), Some(&world.officer), None).await;
        assert_eq!(page["total"], 0);

        // The authority reads but may not change another organisation's site.
        let (status, body) = world.call("PUT", &site, Some(&world.officer), Some(site_body("Renamed"))).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        insta::assert_json_snapshot!("forbidden", body);
        let (status, _) = world.call("DELETE", &site, Some(&world.stranger), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = world.call("POST", "/api/v1/sites", Some(&world.viewer), Some(site_body("Viewer's"))).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, _) = world
            .call("POST", "/api/v1/orgs", Some(&world.officer), Some(json!({"name": "New", "kind": "other"})))
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, _) =
            world.call("POST", "/api/v1/orgs", Some(&world.admin), Some(json!({"name": "New", "kind": "other"}))).await;
        assert_eq!(status, StatusCode::CREATED);

        // The owner edits with the version it read; a stale version is a conflict.
        let mut edit = site_body("Kauppatori");
        edit["version"] = json!(1);
        let (status, body) = world.call("PUT", &site, Some(&world.operator), Some(edit.clone())).await;
        assert_eq!((status, body["version"].as_i64()), (StatusCode::OK, Some(2)), "{body}");
        let (status, body) = world.call("PUT", &site, Some(&world.operator), Some(edit)).await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        insta::assert_json_snapshot!("version_conflict", body);
        let (status, body) = world.call("PUT", &site, Some(&world.operator), Some(site_body("No version"))).await;
        assert_eq!(
            (status, body["error"]["details"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("version")),
            "an edit must say which version it started from"
        );
        let (status, _) = world.call("DELETE", &site, Some(&world.operator), None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
    }
}

#[tokio::test]
async fn bad_input_gets_a_clear_error() {
    for world in worlds().await {
        let token = world.operator.clone();
        let (status, body) = world.raw("POST", "/api/v1/sites", &token, Some("application/json"), "{\"name\": ").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        insta::assert_json_snapshot!("json_malformed", body);

        let (status, body) = world
            .raw(
                "POST",
                "/api/v1/sites",
                &token,
                Some("application/json"),
                json!({"name": 12, "category": "public_square", "geometry": {}}).to_string(),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        insta::assert_json_snapshot!("json_invalid", body);

        let (status, body) = world.raw("POST", "/api/v1/sites", &token, None, site_body("x").to_string()).await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        insta::assert_json_snapshot!("unsupported_media_type", body);

        let huge = json!({"name": "x".repeat(100_000), "category": "other", "geometry": {}}).to_string();
        let (status, body) = world.raw("POST", "/api/v1/sites", &token, Some("application/json"), huge).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        insta::assert_json_snapshot!("payload_too_large", body);

        let mut open_ring = site_body("Open ring");
        open_ring["geometry"]["coordinates"][0].as_array_mut().unwrap().pop();
        let (status, body) = world.call("POST", "/api/v1/sites", Some(&token), Some(open_ring)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        insta::assert_json_snapshot!("site_geometry_invalid", body);

        let mut unknown = site_body("Castle");
        unknown["category"] = json!("castle");
        let (status, body) = world.call("POST", "/api/v1/sites", Some(&token), Some(unknown)).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("json_invalid")),
            "{body}"
        );

        let (status, body) = world.call("GET", "/api/v1/sites?bbox=24.9,60.1,25.0", Some(&token), None).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        insta::assert_json_snapshot!("validation_failed", body);

        let (status, body) = world.call("GET", "/api/v1/sites?limit=lots", Some(&token), None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        insta::assert_json_snapshot!("query_invalid", body);

        let (status, body) = world.call("GET", "/api/v1/nothing-here", Some(&token), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        insta::assert_json_snapshot!("route_not_found", body);

        let (status, body) = world.call("PATCH", "/api/v1/sites", Some(&token), None).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
        insta::assert_json_snapshot!("method_not_allowed", body);

        // Nothing of it was written.
        let (_, page) = world.call("GET", "/api/v1/sites", Some(&token), None).await;
        assert_eq!(page["total"], 1);
    }
}

#[tokio::test]
async fn a_browser_session_signs_in_and_out() {
    for world in worlds().await {
        let login = |password: &str| {
            Request::builder()
                .method("POST")
                .uri("/api/v1/auth/login")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(json!({"email": "operator@example.org", "password": password}).to_string()))
                .unwrap()
        };
        let (status, body, _) = world.send(login("wrong password!")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        insta::assert_json_snapshot!("login_failed", body);

        let (status, body, headers) = world.send(login("a long enough password")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["role"], "operator");
        let set_cookie = headers.get(header::SET_COOKIE).unwrap().to_str().unwrap().to_owned();
        assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Strict"), "{set_cookie}");
        let cookie = set_cookie.split(';').next().unwrap().to_owned();

        let with_cookie = |method: &str, uri: &str| {
            Request::builder().method(method).uri(uri).header(header::COOKIE, &cookie).body(Body::empty()).unwrap()
        };
        let (status, body, _) = world.send(with_cookie("GET", "/api/v1/me")).await;
        assert_eq!((status, body["email"].as_str()), (StatusCode::OK, Some("operator@example.org")));
        let (status, _, _) = world.send(with_cookie("POST", "/api/v1/auth/logout")).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, _, _) = world.send(with_cookie("GET", "/api/v1/me")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "the session ends at logout");

        // Five failures lock the account for a while, even against the right password.
        for _ in 0..5 {
            let (status, _, _) = world.send(login("still wrong!!")).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED);
        }
        let (status, body, _) = world.send(login("a long enough password")).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::TOO_MANY_REQUESTS, Some("too_many_requests"))
        );

        let actions: Vec<String> =
            world.store.audit_entries().await.unwrap().into_iter().map(|e| e.record.action).collect();
        assert!(
            actions.contains(&"user.login_failed".to_owned()) && actions.contains(&"user.logout".to_owned()),
            "{actions:?}"
        );
    }
}

#[tokio::test]
async fn password_spraying_from_one_address_is_refused() {
    // One password tried on many accounts never trips the per-account count; the address's
    // count stops it, even for a real account with its right password, and only there.
    for world in worlds().await {
        let login = |email: &str, password: &str, peer: &str, forwarded: Option<&str>| {
            let mut request = Request::builder()
                .method("POST")
                .uri("/api/v1/auth/login")
                .header(header::CONTENT_TYPE, "application/json");
            if let Some(forwarded) = forwarded {
                request = request.header("x-forwarded-for", forwarded);
            }
            let mut request =
                request.body(Body::from(json!({"email": email, "password": password}).to_string())).unwrap();
            request
                .extensions_mut()
                .insert(axum::extract::ConnectInfo(std::net::SocketAddr::new(peer.parse().unwrap(), 50000)));
            request
        };
        for i in 0..vigie_app::throttle::MAX_FAILURES_PER_ADDRESS {
            let (status, _, _) =
                world.send(login(&format!("user{i}@example.org"), "Summer2026!", "203.0.113.7", None)).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED);
        }
        let (status, body, _) =
            world.send(login("operator@example.org", "a long enough password", "203.0.113.7", None)).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::TOO_MANY_REQUESTS, Some("too_many_requests")),
            "{body}"
        );
        assert!(body["error"]["message"].as_str().unwrap().contains("network address"), "{body}");
        // Through a reverse proxy on this machine, the address it forwards is the one counted.
        let (status, _, _) =
            world.send(login("operator@example.org", "a long enough password", "127.0.0.1", Some("203.0.113.7"))).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        let (status, body, _) = world
            .send(login("operator@example.org", "a long enough password", "198.51.100.20", Some("203.0.113.99")))
            .await;
        assert_eq!(status, StatusCode::OK, "another address signs in: {body}");
    }
}

#[tokio::test]
async fn the_web_pages_sign_in_list_sites_and_sign_out() {
    for world in worlds().await {
        let (status, _, headers) = world.send(Request::builder().uri("/").body(Body::empty()).unwrap()).await;
        assert_eq!(
            (status, headers.get(header::LOCATION).unwrap().to_str().unwrap()),
            (StatusCode::SEE_OTHER, "/login")
        );
        let (status, page, _) = world
            .send(
                Request::builder()
                    .uri("/login")
                    .header(header::ACCEPT_LANGUAGE, "fr-FR,fr;q=0.9")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        assert!(page.as_str().unwrap().contains("Mot de passe"));
        let form = |password: &str| {
            Request::builder()
                .method("POST")
                .uri("/login")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(format!("email=operator%40example.org&password={password}")))
                .unwrap()
        };
        let (status, page, _) = world.send(form("nope")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(page.as_str().unwrap().contains("Wrong email or password"));
        let (status, _, headers) = world.send(form("a+long+enough+password")).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let cookie = headers.get(header::SET_COOKIE).unwrap().to_str().unwrap().split(';').next().unwrap().to_owned();
        let (status, page, _) = world
            .send(Request::builder().uri("/?lang=en").header(header::COOKIE, &cookie).body(Body::empty()).unwrap())
            .await;
        assert_eq!(status, StatusCode::OK);
        let page = page.as_str().unwrap().to_owned();
        assert!(
            page.contains("Market Square") && page.contains("Open-air market") && page.contains("operator@example.org"),
            "{page}"
        );
        let (status, _, headers) = world
            .send(
                Request::builder()
                    .method("POST")
                    .uri("/logout")
                    .header(header::COOKIE, &cookie)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(
            (status, headers.get(header::LOCATION).unwrap().to_str().unwrap()),
            (StatusCode::SEE_OTHER, "/login")
        );
        let (status, _, _) =
            world.send(Request::builder().uri("/").header(header::COOKIE, &cookie).body(Body::empty()).unwrap()).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
    }
}

#[tokio::test]
async fn reads_and_writes_are_audited_in_an_intact_chain() {
    for world in worlds().await {
        let site = format!("/api/v1/sites/{}", world.operator_site);
        let reads = (0..10).map(|_| world.call("GET", &site, Some(&world.officer), None));
        // Concurrent, so that their audit entries share group commits.
        for (status, _) in futures::future::join_all(reads).await {
            assert_eq!(status, StatusCode::OK);
        }
        let entries = world.store.audit_entries().await.unwrap();
        let site_reads = entries
            .iter()
            .filter(|e| {
                e.record.action == "site.read" && e.record.object_id.as_deref() == Some(world.operator_site.as_str())
            })
            .count();
        assert_eq!(site_reads, 10);
        assert!(entries.iter().any(|e| e.record.action == "site.create"));
        assert!(vigie_domain::audit::verify_chain(&entries).is_ok());
        let (status, tokens) =
            world.call("POST", "/api/v1/tokens", Some(&world.viewer), Some(json!({"name": "phone"}))).await;
        assert_eq!(status, StatusCode::CREATED);
        let secret = tokens["token"].as_str().unwrap().to_owned();
        let (status, _) = world.call("GET", "/api/v1/me", Some(&secret), None).await;
        assert_eq!(status, StatusCode::OK);
        let (status, _) = world
            .call("DELETE", &format!("/api/v1/tokens/{}", tokens["id"].as_str().unwrap()), Some(&world.viewer), None)
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, _) = world.call("GET", "/api/v1/me", Some(&secret), None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "a revoked token stops working");
        let (_, list) = world.call("GET", "/api/v1/tokens", Some(&world.viewer), None).await;
        assert!(list.to_string().contains("revoked_at_ms") && !list.to_string().contains(&secret));
    }
}

/// The photo fixture is a real 32×24 JPEG written by Pillow with an EXIF GPS block
/// (60°10'2.5"N 24°57'12.25"E) in big-endian TIFF order.
const PHOTO_WITH_GPS: &[u8] = include_bytes!("fixtures/photo-with-gps.jpg");
const LATITUDE_60_1: [u8; 8] = [0, 0, 0, 60, 0, 0, 0, 1];

impl World {
    /// The first question that applies to an open-air market, with its best and worst answers.
    async fn market_question(&self) -> (String, String, String, Value) {
        let (status, methodology) = self.call("GET", "/api/v1/methodology?lang=fr", Some(&self.operator), None).await;
        assert_eq!(status, StatusCode::OK);
        let question = methodology["questions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|q| q["applies_to"].as_array().unwrap().iter().any(|c| c == "open_air_market"))
            .unwrap()
            .clone();
        let answers = question["answers"].as_array().unwrap();
        let best = answers.iter().find(|a| a["grade"] == 0).unwrap()["id"].as_str().unwrap().to_owned();
        let worst = answers.iter().max_by_key(|a| a["grade"].as_u64()).unwrap()["id"].as_str().unwrap().to_owned();
        (question["id"].as_str().unwrap().to_owned(), best, worst, methodology)
    }
}

#[tokio::test]
async fn an_assessment_goes_from_the_site_to_a_validated_score_and_a_tracked_plan() {
    for world in worlds().await {
        let site = world.operator_site.clone();
        let (question, best, worst, methodology) = world.market_question().await;
        assert!(methodology["scenarios"].as_array().unwrap().len() >= 10);

        // The operator starts a draft; the site's own occupancy is used.
        let (status, created) = world
            .call(
                "POST",
                &format!("/api/v1/sites/{site}/assessments"),
                Some(&world.operator),
                Some(json!({"threat_level": 3})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let id = created["id"].as_str().unwrap().to_owned();
        assert_eq!((created["status"].as_str(), created["site"]["occupancy"].as_u64()), (Some("draft"), Some(3000)));
        assert_eq!(created["methodology_version"], methodology["version"]);

        // Another operator, and a viewer of the city (which oversees the market only through
        // its authority role), see nothing; the overseeing authority reads it.
        for token in [&world.stranger, &world.viewer] {
            let (status, body) = world.call("GET", &format!("/api/v1/assessments/{id}"), Some(token), None).await;
            assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));
            let (status, _) = world
                .call(
                    "PUT",
                    &format!("/api/v1/assessments/{id}/answers/{question}"),
                    Some(token),
                    Some(json!({"answer": best})),
                )
                .await;
            assert_eq!(status, StatusCode::NOT_FOUND);
        }
        let (status, _) = world.call("GET", &format!("/api/v1/assessments/{id}"), Some(&world.officer), None).await;
        assert_eq!(status, StatusCode::OK);

        // Answers one by one, with a note, a position and the time; a stale write is a
        // conflict that shows what is stored now.
        let uri = format!("/api/v1/assessments/{id}/answers/{question}");
        let (status, answer) = world.call("PUT", &uri, Some(&world.operator), Some(json!({"answer": worst, "note": "Nobody checks bags at the north gate", "gps": {"lat": 60.1675, "lon": 24.9531, "accuracy_m": 5.0}, "observed_at_ms": 1_763_800_000_000i64, "base_version": 0}))).await;
        assert_eq!((status, answer["version"].as_i64()), (StatusCode::OK, Some(1)), "{answer}");
        let (status, _) =
            world.call("PUT", &uri, Some(&world.officer), Some(json!({"answer": best, "base_version": 1}))).await;
        assert_eq!(
            status,
            StatusCode::FORBIDDEN,
            "an authority reads and validates, it does not answer for the operator"
        );
        let (status, second) =
            world.call("PUT", &uri, Some(&world.operator), Some(json!({"answer": best, "base_version": 1}))).await;
        assert_eq!((status, second["version"].as_i64()), (StatusCode::OK, Some(2)));
        let (status, conflict) =
            world.call("PUT", &uri, Some(&world.operator), Some(json!({"answer": worst, "base_version": 1}))).await;
        assert_eq!(
            (status, conflict["error"]["code"].as_str()),
            (StatusCode::CONFLICT, Some("answer_conflict")),
            "{conflict}"
        );
        assert_eq!(
            (
                conflict["error"]["details"]["current"]["answer"].as_str(),
                conflict["error"]["details"]["current"]["version"].as_i64()
            ),
            (Some(best.as_str()), Some(2))
        );
        let (status, body) = world
            .call(
                "PUT",
                &format!("/api/v1/assessments/{id}/answers/no.such_question"),
                Some(&world.operator),
                Some(json!({"answer": "a0"})),
            )
            .await;
        assert_eq!(
            (status, body["error"]["code"].as_str(), body["error"]["details"]["question"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("unknown_question"), Some("no.such_question"))
        );
        let (status, body) = world.call("PUT", &uri, Some(&world.operator), Some(json!({"answer": "a9"}))).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("unknown_answer"))
        );
        let (status, body) = world
            .call("PUT", &uri, Some(&world.operator), Some(json!({"answer": best, "gps": {"lat": 123.0, "lon": 0.0}})))
            .await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("validation_failed"))
        );

        // In bulk: every applicable question at its worst answer but ours.
        let mut bulk = serde_json::Map::new();
        for q in methodology["questions"].as_array().unwrap() {
            let applies = q["applies_to"].as_array().unwrap().iter().any(|c| c == "open_air_market");
            if applies && q["id"] != question.as_str() {
                let worst =
                    q["answers"].as_array().unwrap().iter().max_by_key(|a| a["grade"].as_u64()).unwrap()["id"].clone();
                bulk.insert(q["id"].as_str().unwrap().to_owned(), json!({"answer": worst}));
            }
        }
        let answered = bulk.len() + 1;
        let (status, body) = world
            .call(
                "POST",
                &format!("/api/v1/assessments/{id}/answers"),
                Some(&world.operator),
                Some(json!({"answers": bulk})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");

        // A photo: the type is read from the bytes, the GPS block is wiped.
        assert!(PHOTO_WITH_GPS.windows(8).any(|w| w == LATITUDE_60_1), "the fixture carries a position");
        let photos = format!("/api/v1/assessments/{id}/photos?question={question}");
        let (status, photo) = world
            .raw("POST", &photos, &world.operator, Some("application/octet-stream"), PHOTO_WITH_GPS.to_vec())
            .await;
        assert_eq!(
            (status, photo["content_type"].as_str(), photo["location_removed"].as_bool()),
            (StatusCode::CREATED, Some("image/jpeg"), Some(true)),
            "{photo}"
        );
        let request = Request::builder()
            .uri(format!("/api/v1/photos/{}", photo["id"].as_str().unwrap()))
            .header(header::AUTHORIZATION, format!("Bearer {}", world.officer))
            .body(Body::empty())
            .unwrap();
        let response = world.app.clone().oneshot(request).await.unwrap();
        assert_eq!(response.headers()[header::CONTENT_TYPE], "image/jpeg");
        let served = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        assert_eq!(served.len(), PHOTO_WITH_GPS.len());
        assert!(!served.windows(8).any(|w| w == LATITUDE_60_1), "the position is gone");
        let (status, kept) = world
            .raw("POST", &format!("{photos}&keep_location=true"), &world.operator, None, PHOTO_WITH_GPS.to_vec())
            .await;
        assert_eq!((status, kept["location_kept"].as_bool()), (StatusCode::CREATED, Some(true)));
        let (status, body) =
            world.raw("POST", &photos, &world.operator, Some("image/jpeg"), b"GIF89a not a photo".to_vec()).await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        insta::assert_json_snapshot!("photo_type_unsupported", body);
        let (status, body) =
            world.raw("POST", &photos, &world.operator, Some("image/jpeg"), vec![0xFFu8; 10 * 1024 * 1024 + 1]).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::PAYLOAD_TOO_LARGE, Some("payload_too_large"))
        );
        let (status, body) =
            world.raw("POST", &photos, &world.operator, Some("image/jpeg"), PHOTO_WITH_GPS[..200].to_vec()).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("photo_malformed"))
        );
        let (_, read) = world.call("GET", &format!("/api/v1/assessments/{id}"), Some(&world.operator), None).await;
        assert_eq!(read["answers"].as_object().unwrap().len(), answered);
        assert_eq!(read["answers"][&question]["photos"].as_array().unwrap().len(), 2);

        // Scores with names and explanations that add up.
        let (status, score) =
            world.call("GET", &format!("/api/v1/assessments/{id}/score?lang=fr"), Some(&world.operator), None).await;
        assert_eq!(status, StatusCode::OK, "{score}");
        let vehicle =
            score["report"]["scenarios"].as_array().unwrap().iter().find(|s| s["id"] == "vehicle_as_weapon").unwrap();
        assert!(vehicle["name"].as_str().unwrap().to_lowercase().contains("véhicule"), "{vehicle}");
        assert!(vehicle["risk"].as_u64().unwrap() >= 1 && vehicle["risk_band"].is_string());
        assert!(!vehicle["contributions"].as_array().unwrap().is_empty());
        assert_eq!((score["peer_percentile"].clone(), score["peers"].as_u64()), (Value::Null, Some(0)));
        let proposed = score["report"]["actions"].as_array().unwrap();
        let measure = proposed[0]["measure"].as_str().unwrap().to_owned();
        assert!(proposed[0]["label"].is_string());

        // What-if: the proposed measures never make anything worse.
        let all_measures: Vec<Value> = proposed.iter().map(|a| a["measure"].clone()).collect();
        let (status, what_if) = world
            .call(
                "POST",
                &format!("/api/v1/assessments/{id}/what-if"),
                Some(&world.operator),
                Some(json!({"measures": all_measures})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{what_if}");
        assert!(
            what_if["deltas"]["scenarios"]
                .as_array()
                .unwrap()
                .iter()
                .all(|d| d["vulnerability"].as_i64().unwrap() <= 0)
        );
        assert!(
            what_if["deltas"]["scenarios"].as_array().unwrap().iter().any(|d| d["vulnerability"].as_i64().unwrap() < 0)
        );

        // Lifecycle: the operator submits; it cannot validate its own; the authority does.
        let transition = format!("/api/v1/assessments/{id}/transition");
        let (status, body) =
            world.call("POST", &transition, Some(&world.operator), Some(json!({"to": "validated"}))).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::CONFLICT, Some("assessment_transition_invalid")),
            "a draft is submitted first"
        );
        let (status, _) =
            world.call("POST", &transition, Some(&world.operator), Some(json!({"to": "submitted"}))).await;
        assert_eq!(status, StatusCode::OK);
        let (status, body) = world.call("PUT", &uri, Some(&world.operator), Some(json!({"answer": worst}))).await;
        assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("assessment_locked")));
        let (status, body) =
            world.call("POST", &transition, Some(&world.operator), Some(json!({"to": "validated"}))).await;
        assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")));
        let before = now_ms();
        let (status, validated) =
            world.call("POST", &transition, Some(&world.officer), Some(json!({"to": "validated"}))).await;
        assert_eq!((status, validated["status"].as_str()), (StatusCode::OK, Some("validated")), "{validated}");
        let due = validated["due_at_ms"].as_i64().unwrap();
        assert!(
            (before + 364 * 86_400_000..=now_ms() + 365 * 86_400_000).contains(&due),
            "due a year after validation by default"
        );
        assert!(validated["summary"]["max_risk_band"].is_string());
        let (status, _) = world.call("POST", &transition, Some(&world.officer), Some(json!({"to": "draft"}))).await;
        assert_eq!(status, StatusCode::CONFLICT, "a validated assessment is immutable");

        // The action plan: from a proposed measure to done, with the expected risk.
        let (status, action) = world.call("POST", &format!("/api/v1/assessments/{id}/actions"), Some(&world.operator), Some(json!({"title": "Bag checks at the north gate", "owner": "Security manager", "due_date": "2027-02-01", "measure_id": measure, "question_id": question}))).await;
        assert_eq!((status, action["status"].as_str()), (StatusCode::CREATED, Some("open")), "{action}");
        let (status, body) = world
            .call(
                "POST",
                &format!("/api/v1/assessments/{id}/actions"),
                Some(&world.operator),
                Some(json!({"title": "x", "due_date": "2027-02-30"})),
            )
            .await;
        assert_eq!(
            (status, body["error"]["details"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("due_date"))
        );
        let (status, plan) =
            world.call("GET", &format!("/api/v1/assessments/{id}/actions"), Some(&world.officer), None).await;
        assert_eq!(status, StatusCode::OK, "{plan}");
        assert_eq!((plan["progress"]["open"].as_u64(), plan["progress"]["percent_done"].as_u64()), (Some(1), Some(0)));
        let now: Vec<i64> =
            plan["risk_now"].as_array().unwrap().iter().map(|r| r["vulnerability"].as_i64().unwrap()).collect();
        let after: Vec<i64> = plan["risk_after_pending_actions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["vulnerability"].as_i64().unwrap())
            .collect();
        assert!(now.iter().zip(&after).all(|(n, a)| a <= n) && now != after, "{now:?} → {after:?}");
        let action_uri = format!("/api/v1/actions/{}", action["id"].as_str().unwrap());
        let (status, done) = world.call("PUT", &action_uri, Some(&world.operator), Some(json!({"title": "Bag checks at the north gate", "status": "done", "evidence": "Two stewards since 1 Feb", "measure_id": measure, "version": 1}))).await;
        assert_eq!(
            (status, done["status"].as_str(), done["version"].as_i64()),
            (StatusCode::OK, Some("done"), Some(2))
        );
        let (status, body) =
            world.call("PUT", &action_uri, Some(&world.operator), Some(json!({"title": "stale", "version": 1}))).await;
        assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("conflict")));
        let (status, _) =
            world.call("PUT", &action_uri, Some(&world.stranger), Some(json!({"title": "hijack", "version": 2}))).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (_, plan) =
            world.call("GET", &format!("/api/v1/assessments/{id}/actions"), Some(&world.operator), None).await;
        assert_eq!(plan["progress"]["percent_done"].as_u64(), Some(100));

        // History and the dashboard: the authority sees the market; a stranger sees nothing.
        let (_, history) =
            world.call("GET", &format!("/api/v1/sites/{site}/assessments"), Some(&world.officer), None).await;
        assert_eq!(history["items"].as_array().unwrap().len(), 1);
        let (status, dashboard) = world.call("GET", "/api/v1/dashboard", Some(&world.officer), None).await;
        assert_eq!(status, StatusCode::OK, "{dashboard}");
        assert_eq!(
            dashboard["sites_by_risk_band"].as_object().unwrap().values().map(|v| v.as_u64().unwrap()).sum::<u64>(),
            1
        );
        assert_eq!(dashboard["sites"][0]["site_name"], "Market Square");
        let (_, empty) = world.call("GET", "/api/v1/dashboard", Some(&world.stranger), None).await;
        assert!(
            empty["sites"].as_array().unwrap().is_empty() && empty["pending_actions"].as_array().unwrap().is_empty()
        );

        // Every read of it is in the audit log, and no note or photo content is.
        let entries = world.store.audit_entries().await.unwrap();
        vigie_domain::audit::verify_chain(&entries).unwrap();
        let reads = |kind: &str| entries.iter().filter(|e| e.record.action == format!("{kind}.read")).count();
        for kind in ["assessment", "assessment_score", "photo", "action_plan", "dashboard"] {
            assert!(reads(kind) > 0, "reads of {kind} are audited");
        }
        assert!(
            !entries.iter().any(|e| e.record.details.to_string().contains("north gate")),
            "notes stay out of the audit log"
        );
    }
}

// --- The guidance library (issue 5) ---

/// The state of a world's server, with a library index in memory.
async fn library_state(store: &Arc<dyn Store>) -> AppState {
    AppState::new(store.clone(), ServerConfig { body_limit: 64 * 1024, ..ServerConfig::default() })
        .with_library(vigie_app::library::open(store.as_ref(), None).await.unwrap())
}

/// The worlds, with a library index in memory.
async fn library_worlds() -> Vec<World> {
    let mut worlds = worlds().await;
    for world in &mut worlds {
        world.app = vigie_server::router(library_state(&world.store).await);
    }
    worlds
}

fn upload(filename: &str, text: &str, marking: &str) -> Value {
    use base64::Engine;
    json!({"filename": filename, "content_base64": base64::engine::general_purpose::STANDARD.encode(text), "marking": marking, "tags": ["guide"]})
}

async fn post_document(world: &World, token: &str, body: Value) -> (StatusCode, Value) {
    world.call("POST", "/api/v1/library/documents", Some(token), Some(body)).await
}

const AMBER_TEXT: &str = "# Plan du marché\n\n## Bornes\n\nLes bornes escamotables de l'entrée nord restent baissées le mardi, relève de la garde à six heures.";
const CLEAR_TEXT: &str =
    "# Guide public\n\n## Bornes\n\nDes bornes escamotables protègent les places piétonnes des véhicules béliers.";

#[tokio::test]
async fn library_search_never_shows_or_counts_another_organisations_amber_passages() {
    for world in library_worlds().await {
        let (status, amber) = world
            .call(
                "POST",
                "/api/v1/library/documents",
                Some(&world.operator),
                Some(upload("plan-marche.md", AMBER_TEXT, "TLP:AMBER")),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{amber}");
        assert_eq!((amber["status"].as_str(), amber["version"].as_i64()), (Some("created"), Some(1)));
        let (status, clear) = world
            .call(
                "POST",
                "/api/v1/library/documents",
                Some(&world.officer),
                Some(upload("guide.md", CLEAR_TEXT, "TLP:CLEAR")),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{clear}");

        let search = "/api/v1/library/search?q=bornes%20escamotables";
        let (status, own) = world.call("GET", search, Some(&world.operator), None).await;
        assert_eq!((status, own["total"].as_u64()), (StatusCode::OK, Some(2)), "{own}");
        let (_, other) = world.call("GET", search, Some(&world.stranger), None).await;
        assert_eq!(other["total"].as_u64(), Some(1), "the other organisation's AMBER passage is not counted: {other}");
        assert_eq!(other["results"][0]["document_id"], clear["document_id"]);
        // Even an administrator of the overseeing city does not read the operator's AMBER text.
        let (_, admin) = world.call("GET", search, Some(&world.admin), None).await;
        assert_eq!(admin["total"].as_u64(), Some(1));

        let (_, docs) = world.call("GET", "/api/v1/library/documents", Some(&world.stranger), None).await;
        assert_eq!(docs["total"].as_u64(), Some(1), "{docs}");
        let amber_doc = format!("/api/v1/library/documents/{}", amber["document_id"].as_str().unwrap());
        let (status, body) = world.call("GET", &amber_doc, Some(&world.stranger), None).await;
        assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));
        let (status, full) = world.call("GET", &amber_doc, Some(&world.operator), None).await;
        assert_eq!(status, StatusCode::OK);
        let passage = format!("/api/v1/library/passages/{}", full["passages"][0]["id"].as_str().unwrap());
        assert_eq!(world.call("GET", &passage, Some(&world.stranger), None).await.0, StatusCode::NOT_FOUND);
        let (status, read) = world.call("GET", &passage, Some(&world.operator), None).await;
        assert_eq!((status, read["marking"].as_str()), (StatusCode::OK, Some("TLP:AMBER")));

        // The same file again changes nothing; a changed one is a new version.
        let (status, again) = world
            .call(
                "POST",
                "/api/v1/library/documents",
                Some(&world.operator),
                Some(upload("plan-marche.md", AMBER_TEXT, "TLP:AMBER")),
            )
            .await;
        assert_eq!(
            (status, again["status"].as_str(), again["version"].as_i64()),
            (StatusCode::OK, Some("unchanged"), Some(1))
        );
        let changed = AMBER_TEXT.replace("mardi", "jeudi");
        let (_, updated) = world
            .call(
                "POST",
                "/api/v1/library/documents",
                Some(&world.operator),
                Some(upload("plan-marche.md", &changed, "TLP:AMBER")),
            )
            .await;
        assert_eq!(
            (updated["status"].as_str(), updated["version"].as_i64(), &updated["document_id"]),
            (Some("updated"), Some(2), &amber["document_id"])
        );
        let (_, found) = world.call("GET", "/api/v1/library/search?q=jeudi", Some(&world.operator), None).await;
        assert_eq!(found["total"].as_u64(), Some(1), "the new version is searchable at once: {found}");

        let entries = world.store.audit_entries().await.unwrap();
        let actions: Vec<&str> = entries.iter().map(|e| e.record.action.as_str()).collect();
        assert_eq!(actions.iter().filter(|a| **a == "library.ingest").count(), 4);
        assert!(actions.contains(&"library_search.read") && actions.contains(&"library_passage.read"));
        assert!(
            entries.iter().all(|e| !e.record.details.to_string().contains("relève de la garde")),
            "no AMBER text in the audit log"
        );
    }
}

#[tokio::test]
async fn library_documents_follow_the_tlp_rule_and_only_their_source_changes_it() {
    for world in library_worlds().await {
        let (_, me) = world.call("GET", "/api/v1/me", Some(&world.officer), None).await;
        // RED to the city's officer alone: neither the officer's colleagues nor anyone else.
        let mut red = upload("note-rouge.md", AMBER_TEXT, "TLP:RED");
        red["recipients"] = json!({"users": [me["user_id"]]});
        let (status, note) = post_document(&world, &world.operator, red).await;
        assert_eq!(status, StatusCode::CREATED, "{note}");
        let url = format!("/api/v1/library/documents/{}", note["document_id"].as_str().unwrap());
        for (who, can) in
            [(&world.officer, true), (&world.viewer, false), (&world.admin, false), (&world.stranger, false)]
        {
            let (status, _) = world.call("GET", &url, Some(who), None).await;
            assert_eq!(status == StatusCode::OK, can, "{status}");
            let (_, found) = world.call("GET", "/api/v1/library/search?q=relève", Some(who), None).await;
            assert_eq!(found["total"].as_u64(), Some(u64::from(can)), "{found}");
        }
        // RED without a named person, GREEN without a community: refused, nothing stored.
        let (status, body) = post_document(&world, &world.operator, upload("x.md", CLEAR_TEXT, "TLP:RED")).await;
        assert_eq!(
            (status, body["error"]["details"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("recipients"))
        );
        let (status, _) = post_document(&world, &world.operator, upload("y.md", CLEAR_TEXT, "TLP:GREEN")).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

        // The officer reads it but is not its source: no change. The market lowers it to
        // CLEAR: everyone reads it, and the audit log says it was lowered.
        let lower = json!({"marking": "TLP:CLEAR"});
        let (status, _) =
            world.call("POST", &format!("{url}/marking"), Some(&world.officer), Some(lower.clone())).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, _) =
            world.call("POST", &format!("{url}/marking"), Some(&world.stranger), Some(lower.clone())).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "a reader who may not see it learns nothing");
        let (status, lowered) = world.call("POST", &format!("{url}/marking"), Some(&world.operator), Some(lower)).await;
        assert_eq!(
            (status, lowered["marking"].as_str(), lowered["version"].as_i64()),
            (StatusCode::OK, Some("TLP:CLEAR"), Some(2))
        );
        let (_, found) = world.call("GET", "/api/v1/library/search?q=relève", Some(&world.stranger), None).await;
        assert_eq!(found["total"].as_u64(), Some(1), "{found}");
        let entries = world.store.audit_entries().await.unwrap();
        let change = entries.iter().rev().find(|e| e.record.action == "library.ingest").unwrap();
        assert_eq!(
            (&change.record.details["previous_marking"], &change.record.details["lowered"]),
            (&json!("TLP:RED"), &json!(true))
        );

        // The same for a bulletin: the city raises its AMBER bulletin to RED for its officer,
        // and the market it was sent to stops reading it.
        let market = world.store.org_by_name("Market Operator").await.unwrap().unwrap().id;
        let (_, bulletin) = world
            .call(
                "POST",
                "/api/v1/bulletins",
                Some(&world.officer),
                Some(bulletin_body("TLP:AMBER", json!({"orgs": [market]}))),
            )
            .await;
        let bulletin_url = format!("/api/v1/bulletins/{}", bulletin["id"].as_str().unwrap());
        assert_eq!(world.call("GET", &bulletin_url, Some(&world.operator), None).await.0, StatusCode::OK);
        let raise = json!({"marking": "TLP:RED", "recipients": {"users": [me["user_id"]]}});
        let (status, raised) =
            world.call("POST", &format!("{bulletin_url}/marking"), Some(&world.officer), Some(raise)).await;
        assert_eq!((status, raised["marking"].as_str()), (StatusCode::OK, Some("TLP:RED")), "{raised}");
        assert_eq!(world.call("GET", &bulletin_url, Some(&world.operator), None).await.0, StatusCode::NOT_FOUND);
        let entries = world.store.audit_entries().await.unwrap();
        let change = entries.iter().rev().find(|e| e.record.action == "bulletin.marking").unwrap();
        assert_eq!(change.record.details["lowered"], json!(false));
        assert_eq!(change.record.details["from"], json!("TLP:AMBER"));
    }
}

#[tokio::test]
async fn library_uploads_are_checked_and_duplicates_collapse() {
    for world in library_worlds().await {
        let (status, body) = post_document(&world, &world.viewer, upload("a.md", CLEAR_TEXT, "TLP:CLEAR")).await;
        assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")));
        let (status, body) = post_document(&world, &world.officer, upload("a.md", CLEAR_TEXT, "TLP:WHITE")).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("marking_invalid"))
        );
        let (status, body) = post_document(&world, &world.officer, upload("a.pdf", CLEAR_TEXT, "TLP:CLEAR")).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("document_unreadable")),
            "{body}"
        );
        let (status, body) =
            post_document(&world, &world.officer, json!({"filename": "a.md", "content_base64": "***"})).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("validation_failed"))
        );
        let (status, body) = world.call("GET", "/api/v1/library/search?q=%22open", Some(&world.officer), None).await;
        assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("query_invalid")));

        let sentences: Vec<String> = (1..40)
            .map(|i| {
                format!("Mesure {i} : des bornes protègent la place {i} contre les véhicules béliers lors du marché.")
            })
            .collect();
        post_document(
            &world,
            &world.officer,
            upload("guide.md", &format!("# Guide\n\n{}", sentences.join("\n\n")), "TLP:CLEAR"),
        )
        .await;
        let (_, copy) = post_document(
            &world,
            &world.officer,
            upload("guide-copie.md", &format!("# Guide (copie)\n\n{}", sentences.join(" ")), "TLP:CLEAR"),
        )
        .await;
        assert_eq!(copy["duplicates"].as_array().map(Vec::len), Some(1), "{copy}");
        let (_, pairs) = world.call("GET", "/api/v1/library/duplicates", Some(&world.stranger), None).await;
        assert_eq!(pairs["pairs"].as_array().map(Vec::len), Some(1), "{pairs}");
        let (_, found) = world
            .call("GET", "/api/v1/library/search?q=v%C3%A9hicules%20b%C3%A9liers", Some(&world.stranger), None)
            .await;
        let documents: std::collections::BTreeSet<&str> =
            found["results"].as_array().unwrap().iter().filter_map(|h| h["document_id"].as_str()).collect();
        assert_eq!(documents.len(), 1, "one result for the pair: {found}");

        let question = &vigie_assessment::Methodology::embedded().unwrap().questions[0].id;
        let (status, related) = world
            .call("GET", &format!("/api/v1/library/related?question={question}&lang=fr"), Some(&world.stranger), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{related}");
        assert!(related["results"].is_array());
        let (status, _) =
            world.call("GET", "/api/v1/library/related?question=no.such", Some(&world.stranger), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
}

/// A one-message SMTP relay on loopback: answers the commands of RFC 5321 and hands back
/// the whole conversation as the client wrote it.
async fn smtp_sink() -> (u16, tokio::sync::oneshot::Receiver<String>) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (done, received) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let (socket, _) = listener.accept().await.unwrap();
        let (read, mut write) = socket.into_split();
        let mut lines = BufReader::new(read).lines();
        let mut heard = String::new();
        let mut in_data = false;
        write.write_all(b"220 sink ESMTP\r\n").await.unwrap();
        while let Ok(Some(line)) = lines.next_line().await {
            heard.push_str(&line);
            heard.push('\n');
            let reply: &[u8] = if in_data {
                if line != "." {
                    continue;
                }
                in_data = false;
                b"250 queued\r\n"
            } else {
                match line.get(..4).unwrap_or_default().to_ascii_uppercase().as_str() {
                    "DATA" => {
                        in_data = true;
                        b"354 go on\r\n"
                    }
                    "QUIT" => {
                        write.write_all(b"221 bye\r\n").await.unwrap();
                        break;
                    }
                    _ => b"250 ok\r\n",
                }
            };
            write.write_all(reply).await.unwrap();
        }
        let _ = done.send(heard);
    });
    (port, received)
}

#[tokio::test]
async fn an_invitation_is_mailed_when_an_smtp_relay_is_configured() {
    let (store, _dir) = stores().await.remove(0);
    let city = store.create_org(&ctx(), "City", OrgKind::Authority).await.unwrap();
    user(store.as_ref(), "admin@example.org", &city.id, Role::Admin).await;
    let (port, received) = smtp_sink().await;
    let mailer =
        vigie_app::mail::Mailer::new(&format!("smtp://127.0.0.1:{port}"), "Vigie <vigie@city.example>").unwrap();
    let app = vigie_server::router(AppState::new(store.clone(), ServerConfig::default()).with_mailer(mailer));
    let post = |uri: &str, cookie: Option<&str>, body: String| {
        let mut request = Request::builder()
            .method("POST")
            .uri(uri)
            .header(header::HOST, "vigie.city.example")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(cookie) = cookie {
            request = request.header(header::COOKIE, cookie);
        }
        request.body(Body::from(body)).unwrap()
    };
    let signed_in = app
        .clone()
        .oneshot(post("/login", None, "email=admin%40example.org&password=a+long+enough+password".into()))
        .await
        .unwrap();
    let cookie = signed_in.headers()[header::SET_COOKIE].to_str().unwrap().split(';').next().unwrap().to_owned();
    let invite = format!("email=new.guard%40example.org&org_id={}&role=viewer", city.id);
    let page = app.clone().oneshot(post("/admin/users?lang=en", Some(&cookie), invite)).await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let page = String::from_utf8(axum::body::to_bytes(page.into_body(), usize::MAX).await.unwrap().to_vec()).unwrap();
    assert!(page.contains("Sent by e-mail to new.guard@example.org."), "{page}");
    let link = page.split("data-path=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();

    let heard = received.await.unwrap();
    assert!(heard.contains("RCPT TO:<new.guard@example.org>"), "{heard}");
    assert!(heard.contains("MAIL FROM:<vigie@city.example>"), "{heard}");
    // Quoted-printable may fold long lines: compare the body with soft breaks removed.
    let body = heard.replace("=\n", "");
    assert!(body.contains(&format!("http://vigie.city.example{link}")), "the link is in the mail: {heard}");
    assert!(body.contains("You have been invited to Vigie"), "{heard}");
    assert!(body.contains("Vous =C3=AAtes invit") || body.contains("Vous êtes invit"), "in both languages: {heard}");
    let mailed =
        store.audit_entries().await.unwrap().into_iter().find(|e| e.record.action == "user.link_mailed").unwrap();
    assert_eq!(mailed.record.details["sent"], json!(true));
    assert!(!mailed.record.details.to_string().contains(&link), "the link, a secret, is not in the audit log");
}

#[tokio::test]
async fn an_authority_builds_a_community_that_only_its_members_see() {
    for world in worlds().await {
        let (admin, officer, operator, stranger, viewer) =
            (&world.admin, &world.officer, &world.operator, &world.stranger, &world.viewer);
        let forum = json!({"name": "Helsinki city-centre operators forum"});
        let (status, body) = world.call("POST", "/api/v1/communities", Some(operator), Some(forum.clone())).await;
        assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")), "{body}");
        let (status, community) = world.call("POST", "/api/v1/communities", Some(officer), Some(forum.clone())).await;
        assert_eq!(status, StatusCode::CREATED, "{community}");
        let id = community["id"].as_str().unwrap().to_owned();
        let (status, _) = world.call("POST", "/api/v1/communities", Some(admin), Some(forum)).await;
        assert_eq!(status, StatusCode::CONFLICT, "names are unique");
        let url = format!("/api/v1/communities/{id}");

        // Not a member: the community does not exist, exactly as an unknown id.
        let (status, hidden) = world.call("GET", &url, Some(operator), None).await;
        let (_, unknown) = world.call("GET", "/api/v1/communities/no-such-community", Some(operator), None).await;
        assert_eq!((status, &hidden), (StatusCode::NOT_FOUND, &unknown));
        let (_, mine) = world.call("GET", "/api/v1/communities", Some(operator), None).await;
        assert_eq!(mine["items"], json!([]));

        // The owner invites the market's operator; only the owner invites.
        let market = world.store.org_by_name("Market Operator").await.unwrap().unwrap().id;
        let other = world.store.org_by_name("Other Operator").await.unwrap().unwrap().id;
        let invite = |org: &OrgId| json!({"org_id": org});
        let (status, membership) =
            world.call("POST", &format!("{url}/members"), Some(officer), Some(invite(&market))).await;
        assert_eq!((status, membership["state"].as_str()), (StatusCode::CREATED, Some("invited")), "{membership}");
        let (status, _) = world.call("POST", &format!("{url}/members"), Some(officer), Some(invite(&market))).await;
        assert_eq!(status, StatusCode::CONFLICT);
        let (status, _) = world.call("POST", &format!("{url}/members"), Some(operator), Some(invite(&other))).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "an invited organisation does not invite");
        let (_, mine) = world.call("GET", "/api/v1/communities", Some(operator), None).await;
        assert_eq!(mine["items"][0]["membership"], "invited");
        assert_eq!(world.call("GET", &url, Some(operator), None).await.0, StatusCode::NOT_FOUND, "not yet a member");

        // Another organisation cannot accept for the market; the market's operator does.
        assert_eq!(world.call("POST", &format!("{url}/join"), Some(stranger), None).await.0, StatusCode::NOT_FOUND);
        let (status, joined) = world.call("POST", &format!("{url}/join"), Some(operator), None).await;
        assert_eq!((status, joined["state"].as_str()), (StatusCode::OK, Some("member")), "{joined}");
        let (status, seen) = world.call("GET", &url, Some(operator), None).await;
        assert_eq!(status, StatusCode::OK, "{seen}");
        let members: Vec<&str> =
            seen["members"].as_array().unwrap().iter().map(|m| m["state"].as_str().unwrap()).collect();
        assert_eq!(members, ["member", "member"]);
        let (status, hidden) = world.call("GET", &url, Some(stranger), None).await;
        assert_eq!((status, &hidden), (StatusCode::NOT_FOUND, &unknown), "strangers see nothing");
        // A viewer of the owner's organisation reads it; nobody answers for an organisation
        // without the role to.
        assert_eq!(world.call("GET", &url, Some(viewer), None).await.0, StatusCode::OK);

        // The market leaves; the owner cannot.
        let (status, left) = world.call("POST", &format!("{url}/leave"), Some(operator), None).await;
        assert_eq!((status, left["state"].as_str()), (StatusCode::OK, Some("left")), "{left}");
        assert_eq!(world.call("GET", &url, Some(operator), None).await.0, StatusCode::NOT_FOUND);
        let (status, body) = world.call("POST", &format!("{url}/leave"), Some(officer), None).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

        let actions: Vec<String> =
            world.store.audit_entries().await.unwrap().into_iter().map(|e| e.record.action).collect();
        for action in ["community.create", "community.invite", "community.membership", "community.read"] {
            assert!(actions.iter().any(|a| a == action), "{action} is audited");
        }
    }
}

fn bulletin_body(marking: &str, recipients: Value) -> Value {
    json!({
        "title": {"fr": "Repérage suspect", "en": "Suspected hostile reconnaissance"},
        "text": {"en": "A grey van filmed the service entrances of two malls.\nPlate partly seen."},
        "marking": marking,
        "recipients": recipients,
        "urgency": "Expected", "severity": "Moderate", "certainty": "Likely", "response_type": "Monitor",
        "status": "Actual", "effective": "2026-12-07T08:00:00+02:00", "expires": "2026-12-14T08:00:00+02:00",
        "scenario": "hostile_reconnaissance"
    })
}

#[tokio::test]
async fn bulletins_reach_their_recipients_and_no_one_else() {
    for world in worlds().await {
        let (officer, operator, stranger, viewer) = (&world.officer, &world.operator, &world.stranger, &world.viewer);
        let market = world.store.org_by_name("Market Operator").await.unwrap().unwrap().id;
        let (_, community) =
            world.call("POST", "/api/v1/communities", Some(officer), Some(json!({"name": "Centre forum"}))).await;
        let forum = community["id"].as_str().unwrap().to_owned();
        let members = format!("/api/v1/communities/{forum}/members");
        world.call("POST", &members, Some(officer), Some(json!({"org_id": market}))).await;
        world.call("POST", &format!("/api/v1/communities/{forum}/join"), Some(operator), None).await;

        // AMBER to the market: the market and the city read it, the other operator does not.
        let (status, amber) = world
            .call(
                "POST",
                "/api/v1/bulletins",
                Some(officer),
                Some(bulletin_body("TLP:AMBER", json!({"orgs": [market]}))),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{amber}");
        let url = format!("/api/v1/bulletins/{}", amber["id"].as_str().unwrap());
        let (_, unknown) = world.call("GET", "/api/v1/bulletins/no-such-bulletin", Some(stranger), None).await;
        assert_eq!(world.call("GET", &url, Some(stranger), None).await, (StatusCode::NOT_FOUND, unknown.clone()));
        let (_, listed) = world.call("GET", "/api/v1/bulletins", Some(stranger), None).await;
        assert_eq!(listed["items"], json!([]), "nor listed");
        assert_eq!(world.call("GET", &url, Some(viewer), None).await.0, StatusCode::OK, "the author's organisation");
        let (_, inbox) = world.call("GET", "/api/v1/inbox", Some(operator), None).await;
        assert_eq!(
            (inbox["unread"].as_u64(), inbox["items"][0]["bulletin"]["id"].clone()),
            (Some(1), amber["id"].clone())
        );
        let (_, inbox) = world.call("GET", "/api/v1/inbox", Some(stranger), None).await;
        assert_eq!(inbox["unread"], 0, "{inbox}");
        let (status, read) = world.call("GET", &url, Some(operator), None).await;
        assert_eq!((status, read["text"]["en"].as_str().unwrap().contains('\n')), (StatusCode::OK, true), "{read}");
        let (_, receipts) = world.call("GET", &format!("{url}/receipts"), Some(officer), None).await;
        let receipt = &receipts["items"][0];
        assert_eq!(receipt["org_id"], json!(market));
        assert!(receipt["delivered_at"].is_string() && receipt["read_at"].is_string() && receipt["acked_at"].is_null());
        assert_eq!(world.call("POST", &format!("{url}/ack"), Some(stranger), None).await.0, StatusCode::NOT_FOUND);
        let (status, acked) = world.call("POST", &format!("{url}/ack"), Some(operator), None).await;
        assert_eq!((status, acked["acked_at"].is_string()), (StatusCode::OK, true), "{acked}");
        assert_eq!(world.call("GET", &format!("{url}/receipts"), Some(operator), None).await.0, StatusCode::NOT_FOUND);
        let (_, inbox) = world.call("GET", "/api/v1/inbox", Some(operator), None).await;
        assert_eq!(inbox["items"], json!([]), "acknowledged: off the inbox");

        // GREEN to the community: members read; RED to one person: only them and the author.
        let green = bulletin_body("TLP:GREEN", json!({"communities": [forum]}));
        let (status, green) = world.call("POST", "/api/v1/bulletins", Some(officer), Some(green)).await;
        assert_eq!(status, StatusCode::CREATED, "{green}");
        let green_url = format!("/api/v1/bulletins/{}", green["id"].as_str().unwrap());
        assert_eq!(world.call("GET", &green_url, Some(operator), None).await.0, StatusCode::OK);
        assert_eq!(world.call("GET", &green_url, Some(stranger), None).await.0, StatusCode::NOT_FOUND);
        let (_, me) = world.call("GET", "/api/v1/me", Some(operator), None).await;
        let red = bulletin_body("TLP:RED", json!({"users": [me["user_id"]]}));
        let (status, red) = world.call("POST", "/api/v1/bulletins", Some(officer), Some(red)).await;
        assert_eq!(status, StatusCode::CREATED, "{red}");
        let red_url = format!("/api/v1/bulletins/{}", red["id"].as_str().unwrap());
        assert_eq!(world.call("GET", &red_url, Some(operator), None).await.0, StatusCode::OK);
        assert_eq!(
            world.call("GET", &red_url, Some(viewer), None).await.0,
            StatusCode::NOT_FOUND,
            "not even colleagues"
        );
        assert_eq!(world.call("GET", &red_url, Some(officer), None).await.0, StatusCode::OK, "the author");
        let (_, listed) = world.call("GET", "/api/v1/bulletins", Some(operator), None).await;
        assert_eq!(listed["items"].as_array().unwrap().len(), 3);

        // An update names the bulletin it changes.
        let mut update = bulletin_body("TLP:AMBER", json!({"orgs": [market]}));
        update["msg_type"] = json!("Update");
        update["references"] = amber["id"].clone();
        assert_eq!(
            world.call("POST", "/api/v1/bulletins", Some(officer), Some(update.clone())).await.0,
            StatusCode::CREATED
        );

        // Bad input: a clear error, nothing stored.
        let bad = |change: &dyn Fn(&mut Value)| {
            let mut body = bulletin_body("TLP:AMBER", json!({"orgs": [market]}));
            change(&mut body);
            body
        };
        let cases: Vec<(Value, &str)> = vec![
            (bad(&|b| b["recipients"] = json!({})), "validation_failed"),
            (bad(&|b| b["marking"] = json!("TLP:WHITE")), "marking_invalid"),
            (bad(&|b| b["marking"] = json!("TLP:RED")), "validation_failed"),
            (
                bad(&|b| b["area"] = json!({"type": "Polygon", "coordinates": [[[24.9, 60.1], [24.91, 60.1]]]})),
                "validation_failed",
            ),
            (bad(&|b| b["expires"] = json!("2026-12-01T08:00:00+02:00")), "validation_failed"),
            (bad(&|b| b["effective"] = json!("tomorrow")), "validation_failed"),
            (
                bad(&|b| {
                    b["msg_type"] = json!("Cancel");
                    b["references"] = json!("no-such-bulletin");
                }),
                "validation_failed",
            ),
            (bad(&|b| b["scenario"] = json!("alien_invasion")), "validation_failed"),
        ];
        let before =
            world.call("GET", "/api/v1/bulletins", Some(officer), None).await.1["items"].as_array().unwrap().len();
        for (body, code) in cases {
            let (status, answer) = world.call("POST", "/api/v1/bulletins", Some(officer), Some(body.clone())).await;
            assert_eq!(
                (status, answer["error"]["code"].as_str()),
                (StatusCode::UNPROCESSABLE_ENTITY, Some(code)),
                "{body} → {answer}"
            );
        }
        let (status, _) = world.call("POST", "/api/v1/bulletins", Some(viewer), Some(update)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "viewers do not send");
        let after =
            world.call("GET", "/api/v1/bulletins", Some(officer), None).await.1["items"].as_array().unwrap().len();
        assert_eq!(before, after, "nothing stored");

        // The audit log keeps who sent what to whom, and every read; never the text.
        let entries = world.store.audit_entries().await.unwrap();
        for action in ["bulletin.create", "bulletin.read", "bulletin.ack", "bulletin.receipt_read"] {
            assert!(entries.iter().any(|e| e.record.action == action), "{action} is audited");
        }
        assert!(entries.iter().all(|e| !e.record.details.to_string().contains("grey van")), "no text in the audit log");
    }
}

/// Generated worlds (organisations, users of every role, communities with invitations
/// accepted or not, bulletins of every marking to random recipients): for every user and
/// every bulletin, the list and the read answer exactly what the TLP rule says, computed here
/// from the world as generated, not from what the application stored.
/// Random recipients for a generated world: each organisation, person and community of the
/// author's named with its own odds.
fn draw_recipients(
    draw: &mut impl rand::Rng,
    orgs: &[vigie_domain::access::Org],
    people: &[vigie_domain::access::Principal],
    theirs: &[vigie_domain::CommunityId],
) -> vigie_domain::sharing::Recipients {
    vigie_domain::sharing::Recipients {
        orgs: orgs.iter().filter(|_| draw.random_bool(0.3)).map(|o| o.id.clone()).collect(),
        users: people.iter().filter(|_| draw.random_bool(0.15)).map(|p| p.user_id.clone()).collect(),
        communities: theirs.iter().filter(|_| draw.random_bool(0.5)).cloned().collect(),
    }
}

/// An author among `writers`, a marking, and recipients from the author's communities that
/// name at least one person (so that RED is never refused for want of one).
fn draw_shared<'p>(
    draw: &mut impl rand::Rng,
    writers: &[&'p vigie_domain::access::Principal],
    members: &std::collections::BTreeMap<OrgId, std::collections::BTreeSet<vigie_domain::CommunityId>>,
    orgs: &[vigie_domain::access::Org],
    people: &[vigie_domain::access::Principal],
) -> (&'p vigie_domain::access::Principal, vigie_domain::sharing::Marking, vigie_domain::sharing::Recipients) {
    let author = writers[draw.random_range(0..writers.len())];
    let theirs: Vec<vigie_domain::CommunityId> =
        members.get(&author.org_id).map(|c| c.iter().cloned().collect()).unwrap_or_default();
    let marking = vigie_domain::sharing::Marking::ALL[draw.random_range(0..5)];
    let mut recipients = draw_recipients(draw, orgs, people, &theirs);
    if recipients.users.is_empty() {
        recipients.users.push(people[draw.random_range(0..people.len())].user_id.clone());
    }
    (author, marking, recipients)
}

/// An object of a generated world as written: who wrote it, its marking and recipients.
struct Written<Id> {
    id: Id,
    author: vigie_domain::UserId,
    author_org: OrgId,
    marking: vigie_domain::sharing::Marking,
    recipients: vigie_domain::sharing::Recipients,
}

impl<Id> Written<Id> {
    fn by(
        id: Id,
        author: &vigie_domain::access::Principal,
        marking: vigie_domain::sharing::Marking,
        recipients: vigie_domain::sharing::Recipients,
    ) -> Self {
        Written { id, author: author.user_id.clone(), author_org: author.org_id.clone(), marking, recipients }
    }
}

/// Whether `person`, whose organisation is a member of `communities`, may read `object`: the
/// standard's table, written out here on purpose (an oracle that called the rule under test
/// could not catch a fault in it). Naming a community under AMBER names its member
/// organisations of the moment (nobody joins after the objects here), naming a person names
/// their organisation.
fn tlp_table<Id>(
    person: &vigie_domain::access::Principal,
    communities: &[vigie_domain::CommunityId],
    people: &[vigie_domain::access::Principal],
    object: &Written<Id>,
) -> bool {
    use vigie_domain::sharing::Marking;
    let r = &object.recipients;
    object.author == person.user_id
        || match object.marking {
            Marking::Clear => true,
            Marking::Green => {
                object.author_org == person.org_id || r.communities.iter().any(|c| communities.contains(c))
            }
            Marking::Amber | Marking::AmberStrict => {
                object.author_org == person.org_id
                    || r.orgs.contains(&person.org_id)
                    || r.communities.iter().any(|c| communities.contains(c))
                    || people.iter().any(|p| p.org_id == person.org_id && r.users.contains(&p.user_id))
            }
            Marking::Red => r.users.contains(&person.user_id),
        }
}

#[tokio::test]
async fn generated_worlds_leak_no_bulletin_report_or_document() {
    use std::collections::{BTreeMap, BTreeSet};

    use rand::{Rng, SeedableRng};
    use vigie_domain::CommunityId;
    use vigie_domain::access::Principal;
    use vigie_domain::sharing::Marking;

    for (store, _dir) in stores().await {
        let app = vigie_app::App::new(store.clone(), vigie_app::Settings::default())
            .with_library(vigie_app::library::open(store.as_ref(), None).await.unwrap());
        for seed in [0x5eed_u64, 0xfeed_beef, 0x1234_5678_9abc] {
            let mut draw = rand::rngs::StdRng::seed_from_u64(seed);
            let mut orgs = Vec::new();
            for i in 0..5 {
                let kind = if i < 2 { OrgKind::Authority } else { OrgKind::Operator };
                orgs.push(store.create_org(&ctx(), &format!("Org {seed} {i}"), kind).await.unwrap());
            }
            let mut people: Vec<Principal> = Vec::new();
            for (i, org) in orgs.iter().enumerate() {
                let roles: &[Role] =
                    if i < 2 { &[Role::Authority, Role::Viewer] } else { &[Role::Operator, Role::Viewer] };
                for (j, role) in roles.iter().enumerate() {
                    let email = format!("u{seed}-{i}-{j}@example.org");
                    let new = NewUser {
                        email: email.clone(),
                        org_id: org.id.clone(),
                        role: *role,
                        password_hash: "x".into(),
                    };
                    let user = store.create_user(&ctx(), new).await.unwrap();
                    people.push(Principal {
                        user_id: user.id,
                        email,
                        org_id: org.id.clone(),
                        role: *role,
                        overseen_orgs: Vec::new(),
                        manages_org: false,
                        must_enrol_second_factor: false,
                    });
                }
            }
            // Communities of the two authorities; each other organisation is invited or not,
            // and accepts or not.
            let mut members: BTreeMap<OrgId, BTreeSet<CommunityId>> = BTreeMap::new();
            for (a, owner) in people.iter().filter(|p| p.role == Role::Authority).enumerate() {
                let community = app.create_community(owner, &format!("Community {seed} {a}")).await.unwrap();
                members.entry(owner.org_id.clone()).or_default().insert(community.id.clone());
                for org in orgs.iter().filter(|o| o.id != owner.org_id) {
                    if !draw.random_bool(0.7) {
                        continue;
                    }
                    app.invite_to_community(owner, &community.id, &org.id).await.unwrap();
                    if draw.random_bool(0.6) {
                        let answerer = people.iter().find(|p| p.org_id == org.id && p.role != Role::Viewer).unwrap();
                        app.join_community(answerer, &community.id).await.unwrap();
                        members.entry(org.id.clone()).or_default().insert(community.id.clone());
                    }
                }
            }
            // Bulletins of every marking, by authorities and operators.
            let senders: Vec<&Principal> = people.iter().filter(|p| p.role != Role::Viewer).collect();
            let mut sent = Vec::new();
            for _ in 0..20 {
                let author = senders[draw.random_range(0..senders.len())];
                let theirs: Vec<CommunityId> =
                    members.get(&author.org_id).map(|c| c.iter().cloned().collect()).unwrap_or_default();
                let marking = Marking::ALL[draw.random_range(0..5)];
                let mut recipients = draw_recipients(&mut draw, &orgs, &people, &theirs);
                let needs_more =
                    recipients.communities.is_empty() && recipients.orgs.is_empty() && recipients.users.is_empty()
                        || (marking == Marking::Green && recipients.communities.is_empty())
                        || (marking == Marking::Red && recipients.users.is_empty());
                if needs_more {
                    recipients.users.push(people[draw.random_range(0..people.len())].user_id.clone());
                    if let Some(first) = theirs.first() {
                        recipients.communities.push(first.clone());
                    }
                }
                let draft = vigie_domain::bulletin::BulletinDraft {
                    title: vigie_domain::bulletin::Texts { en: Some("t".into()), fr: None },
                    text: vigie_domain::bulletin::Texts { en: Some("x".into()), fr: None },
                    instruction: Default::default(),
                    marking,
                    recipients: recipients.clone(),
                    area: None,
                    sites: Vec::new(),
                    scenario: None,
                    urgency: "Unknown".into(),
                    severity: "Unknown".into(),
                    certainty: "Unknown".into(),
                    response_type: "Monitor".into(),
                    status: "Test".into(),
                    msg_type: "Alert".into(),
                    references: None,
                    effective_ms: 0,
                    expires_ms: None,
                };
                match app.send_bulletin(author, draft).await {
                    Ok(bulletin) => sent.push(Written::by(bulletin.id, author, marking, recipients)),
                    // GREEN from an organisation in no community: refused, nothing to read.
                    Err(err) => assert!(marking == Marking::Green && theirs.is_empty(), "{err:?}"),
                }
            }
            // Every user, every bulletin: the list and the read agree with the rule.
            let mut allowed_total = 0;
            for person in &people {
                let communities: Vec<CommunityId> =
                    members.get(&person.org_id).map(|c| c.iter().cloned().collect()).unwrap_or_default();
                let listed: BTreeSet<String> =
                    app.bulletins(person).await.unwrap().into_iter().map(|b| b.id.to_string()).collect();
                for written in &sent {
                    let (id, marking) = (&written.id, written.marking);
                    let expected = tlp_table(person, &communities, &people, written);
                    allowed_total += usize::from(expected);
                    let read = app.bulletin(person, id).await;
                    assert_eq!(read.is_ok(), expected, "{} reading {} {id}", person.email, marking.label());
                    assert_eq!(
                        listed.contains(id.as_str()),
                        expected,
                        "{} listing {} {id}",
                        person.email,
                        marking.label()
                    );
                    if let Err(err) = read {
                        assert_eq!(err.code, vigie_domain::Code::NotFound, "a denial looks like a missing bulletin");
                    }
                }
            }
            assert!(allowed_total > 0 && allowed_total < people.len() * sent.len(), "a world with both answers");
            // The inbox holds only bulletins its reader may read.
            for person in &people {
                let readable = app.bulletins(person).await.unwrap();
                for (bulletin, _) in app.inbox(person).await.unwrap().bulletins {
                    assert!(readable.iter().any(|b| b.id == bulletin.id), "{} inbox {}", person.email, bulletin.id);
                }
            }

            // Field reports of every marking: the list and the read agree with the rule too.
            let reporters: Vec<&Principal> =
                people.iter().filter(|p| matches!(p.role, Role::Authority | Role::Operator | Role::Admin)).collect();
            let mut filed = Vec::new();
            for i in 0..20 {
                let (author, marking, mut recipients) = draw_shared(&mut draw, &reporters, &members, &orgs, &people);
                if recipients.orgs.is_empty() {
                    recipients.orgs.push(orgs[draw.random_range(0..orgs.len())].id.clone());
                }
                let draft = vigie_domain::report::ReportDraft {
                    kind: "incident".into(),
                    observed_at_ms: 1_765_000_000_000 + i * 60_000,
                    lon: 24.94 + draw.random_range(0.0..0.01),
                    lat: 60.16 + draw.random_range(0.0..0.01),
                    site_id: None,
                    text: format!("report {i}"),
                    marking,
                    recipients: recipients.clone(),
                };
                match app.file_report(author, draft).await {
                    Ok(report) => filed.push(Written::by(report.id, author, marking, recipients)),
                    Err(err) => assert!(marking == Marking::Green && recipients.communities.is_empty(), "{err:?}"),
                }
            }
            for person in &people {
                let communities: Vec<CommunityId> =
                    members.get(&person.org_id).map(|c| c.iter().cloned().collect()).unwrap_or_default();
                let listed: BTreeSet<String> =
                    app.reports(person).await.unwrap().into_iter().map(|r| r.id.to_string()).collect();
                for written in &filed {
                    let (id, marking) = (&written.id, written.marking);
                    let expected = tlp_table(person, &communities, &people, written);
                    let read = app.report(person, id).await;
                    assert_eq!(read.is_ok(), expected, "{} reading report {} {id}", person.email, marking.label());
                    assert_eq!(listed.contains(id.as_str()), expected, "{} listing report {id}", person.email);
                }
            }

            // Library documents of every marking: the list, the read and the search (its hits
            // and its count) agree with the rule too.
            let mut shelved = Vec::new();
            for i in 0..12 {
                let (author, marking, recipients) = draw_shared(&mut draw, &reporters, &members, &orgs, &people);
                use base64::Engine;
                let text = format!("# Note {i}\n\nConsigne de vigilance {seed} numéro {i} pour le site.");
                let upload = vigie_app::library::Upload {
                    filename: format!("note-{i}.md"),
                    content_base64: base64::engine::general_purpose::STANDARD.encode(text),
                    marking: Some(marking.label().to_owned()),
                    recipients: recipients.clone(),
                    ..Default::default()
                };
                match app.upload_document(author, upload).await {
                    Ok(uploaded) => shelved.push(Written::by(
                        vigie_domain::DocumentId::new(uploaded.report["document_id"].as_str().unwrap()),
                        author,
                        marking,
                        recipients,
                    )),
                    Err(err) => assert!(marking == Marking::Green && recipients.communities.is_empty(), "{err:?}"),
                }
            }
            for person in &people {
                let communities: Vec<CommunityId> =
                    members.get(&person.org_id).map(|c| c.iter().cloned().collect()).unwrap_or_default();
                let listed: BTreeSet<String> = app
                    .library_document_list(person)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|d| d.document.id.to_string())
                    .collect();
                let request = vigie_app::library::SearchRequest {
                    q: format!("\"vigilance {seed}\""),
                    limit: Some(100),
                    ..Default::default()
                };
                let found = app.search_library(person, &request).await.unwrap();
                let hits: BTreeSet<String> = found["results"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|h| h["document_id"].as_str().unwrap().to_owned())
                    .collect();
                let mut expected_total = 0;
                for written in &shelved {
                    let id = &written.id;
                    let expected = tlp_table(person, &communities, &people, written);
                    expected_total += usize::from(expected);
                    let read = app.library_document(person, id).await;
                    assert_eq!(read.is_ok(), expected, "{} reading document {id}", person.email);
                    assert_eq!(listed.contains(id.as_str()), expected, "{} listing document {id}", person.email);
                    // Near-duplicates collapse into one hit: a hit must be readable, not every
                    // readable note a hit.
                    assert!(expected || !hits.contains(id.as_str()), "{} finding document {id}", person.email);
                }
                // Only this world's notes say its seed: the count is theirs alone.
                assert_eq!(found["total"].as_u64(), Some(expected_total as u64), "{} search count", person.email);
            }
        }
    }
}

fn report_body(kind: &str, lon: f64, lat: f64, marking: &str, recipients: Value) -> Value {
    json!({
        "kind": kind, "observed_at": "2026-12-05T16:30:00+02:00", "location": {"lon": lon, "lat": lat},
        "text": "A man filmed the service entrance three days in a row.", "marking": marking, "recipients": recipients
    })
}

#[tokio::test]
async fn field_reports_reach_the_authority_and_count_sightings_without_content() {
    for world in worlds().await {
        let (officer, operator, stranger, viewer) = (&world.officer, &world.operator, &world.stranger, &world.viewer);
        let city = world.store.org_by_name("City").await.unwrap().unwrap().id;
        let to_city = json!({"orgs": [city]});
        // The market reports; another operator reported something similar 40 m away the day
        // before (and once more, which counts once); a RED report nearby to someone else does not count.
        let (status, report) = world
            .call(
                "POST",
                "/api/v1/field-reports",
                Some(operator),
                Some(report_body("hostile_reconnaissance", 24.9458, 60.1686, "TLP:AMBER", to_city.clone())),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{report}");
        let url = format!("/api/v1/field-reports/{}", report["id"].as_str().unwrap());
        let (_, alone) = world.call("GET", &url, Some(operator), None).await;
        assert_eq!(alone["similar_nearby"], json!({"organisations": 0}));
        for _ in 0..2 {
            let other = report_body("suspicious_activity", 24.9463, 60.1688, "TLP:AMBER", to_city.clone());
            assert_eq!(
                world.call("POST", "/api/v1/field-reports", Some(stranger), Some(other)).await.0,
                StatusCode::CREATED
            );
        }
        let (_, me) = world.call("GET", "/api/v1/me", Some(officer), None).await;
        // The city's own RED note, to its officer alone: another organisation nearby, not counted.
        let red = report_body("incident", 24.9459, 60.1686, "TLP:RED", json!({"users": [me["user_id"]]}));
        assert_eq!(world.call("POST", "/api/v1/field-reports", Some(officer), Some(red)).await.0, StatusCode::CREATED);
        let (_, seen) = world.call("GET", &url, Some(operator), None).await;
        assert_eq!(seen["similar_nearby"], json!({"organisations": 1}), "{seen}");
        // The authority reads it (without the count, which is the reporter's), the other
        // operator does not, and nothing in the count says who or what.
        let (status, received) = world.call("GET", &url, Some(officer), None).await;
        assert_eq!((status, received.get("similar_nearby")), (StatusCode::OK, None));
        let (_, unknown) = world.call("GET", "/api/v1/field-reports/no-such-report", Some(stranger), None).await;
        assert_eq!(world.call("GET", &url, Some(stranger), None).await, (StatusCode::NOT_FOUND, unknown));
        let (_, listed) = world.call("GET", "/api/v1/field-reports", Some(officer), None).await;
        assert_eq!(listed["items"].as_array().unwrap().len(), 4, "the city reads all four");

        // A photo from the phone: stored without its position; read by those who read the report.
        let photos = format!("{url}/photos");
        let (status, _) = world.raw("POST", &photos, officer, Some("image/jpeg"), PHOTO_WITH_GPS.to_vec()).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "the reporting organisation adds the photos");
        let (status, added) = world.raw("POST", &photos, operator, Some("image/jpeg"), PHOTO_WITH_GPS.to_vec()).await;
        assert_eq!(status, StatusCode::CREATED, "{added}");
        let (status, _) = world.raw("POST", &photos, operator, Some("image/jpeg"), b"not an image".to_vec()).await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        let (_, with_photo) = world.call("GET", &url, Some(officer), None).await;
        assert_eq!(with_photo["photos"][0]["url"], added["url"]);
        let served = world
            .app
            .clone()
            .oneshot(
                Request::builder()
                    .uri(added["url"].as_str().unwrap())
                    .header(header::AUTHORIZATION, format!("Bearer {officer}"))
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(served.status(), StatusCode::OK);
        let served = axum::body::to_bytes(served.into_body(), usize::MAX).await.unwrap();
        assert!(!served.windows(8).any(|w| w == LATITUDE_60_1), "the position is gone");
        assert_eq!(
            world.call("GET", added["url"].as_str().unwrap(), Some(stranger), None).await.0,
            StatusCode::NOT_FOUND
        );

        // Triage by the authority it was sent to; not by the reporter, nor a viewer.
        let triage = |status: &str| json!({"status": status});
        assert_eq!(world.call("PATCH", &url, Some(operator), Some(triage("closed"))).await.0, StatusCode::FORBIDDEN);
        assert_eq!(world.call("PATCH", &url, Some(viewer), Some(triage("closed"))).await.0, StatusCode::FORBIDDEN);
        let (status, body) = world.call("PATCH", &url, Some(officer), Some(triage("sorted"))).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        let (status, triaged) = world.call("PATCH", &url, Some(officer), Some(triage("under_review"))).await;
        assert_eq!((status, triaged["status"].as_str()), (StatusCode::OK, Some("under_review")), "{triaged}");
        // The reporter's inbox has the change, new until it reads the report.
        let report_items = |inbox: &Value| -> Vec<Value> {
            inbox["items"].as_array().unwrap().iter().filter(|i| i["kind"] == "report_status").cloned().collect()
        };
        let (_, inbox) = world.call("GET", "/api/v1/inbox", Some(operator), None).await;
        let updates = report_items(&inbox);
        assert_eq!((updates.len(), updates[0]["unread"].as_bool()), (1, Some(true)), "{inbox}");
        assert_eq!(updates[0]["field_report"]["status"], "under_review");
        world.call("GET", &url, Some(operator), None).await;
        let (_, inbox) = world.call("GET", "/api/v1/inbox", Some(operator), None).await;
        assert_eq!(report_items(&inbox)[0]["unread"], false);
        let (_, theirs) = world.call("GET", "/api/v1/inbox", Some(stranger), None).await;
        assert!(report_items(&theirs).is_empty(), "another organisation's inbox has none of it");

        // The authority links the market's and the other operator's reports into one case.
        let (_, all) = world.call("GET", "/api/v1/field-reports", Some(officer), None).await;
        let theirs =
            all["items"].as_array().unwrap().iter().find(|r| r["kind"] == "suspicious_activity").unwrap()["id"].clone();
        let case = json!({"title": "Grey van around the market", "report_ids": [report["id"], theirs]});
        assert_eq!(
            world.call("POST", "/api/v1/cases", Some(operator), Some(case.clone())).await.0,
            StatusCode::FORBIDDEN
        );
        let (status, bad) = world
            .call("POST", "/api/v1/cases", Some(officer), Some(json!({"title": "x", "report_ids": ["nope"]})))
            .await;
        assert_eq!(
            (status, bad["error"]["details"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("report_ids"))
        );
        let (status, opened) = world.call("POST", "/api/v1/cases", Some(officer), Some(case)).await;
        assert_eq!((status, opened["report_ids"].as_array().map(Vec::len)), (StatusCode::CREATED, Some(2)), "{opened}");
        let (_, linked) = world.call("GET", &url, Some(officer), None).await;
        assert_eq!(linked["status"], "linked");
        let (_, cases) = world.call("GET", "/api/v1/cases", Some(officer), None).await;
        assert_eq!(cases["items"][0]["title"], "Grey van around the market");
        let (_, none) = world.call("GET", "/api/v1/cases", Some(operator), None).await;
        assert_eq!(none, json!({"items": []}), "a case is the authority's own");

        // Bad input: a clear error, nothing stored.
        for (body, field) in [
            (report_body("rumour", 24.9, 60.1, "TLP:AMBER", to_city.clone()), "kind"),
            (report_body("incident", 24.9, 95.0, "TLP:AMBER", to_city.clone()), "location"),
            (report_body("incident", 24.9, 60.1, "TLP:AMBER", json!({})), "recipients"),
            (report_body("incident", 24.9, 60.1, "TLP:RED", to_city.clone()), "recipients"),
        ] {
            let (status, answer) = world.call("POST", "/api/v1/field-reports", Some(operator), Some(body)).await;
            assert_eq!(
                (status, answer["error"]["details"]["field"].as_str()),
                (StatusCode::UNPROCESSABLE_ENTITY, Some(field)),
                "{answer}"
            );
        }
        let entries = world.store.audit_entries().await.unwrap();
        for action in ["field_report.create", "field_report.read", "field_report.triage", "case.create", "case.link"] {
            assert!(entries.iter().any(|e| e.record.action == action), "{action} is audited");
        }
        assert!(entries.iter().all(|e| !e.record.details.to_string().contains("filmed")), "no text in the audit log");
    }
}

#[tokio::test]
async fn a_threat_level_moves_the_sites_risk_and_makes_a_checklist_that_lowering_closes() {
    for world in worlds().await {
        let (officer, operator, stranger) = (&world.officer, &world.operator, &world.stranger);
        let site = world.operator_site.clone();
        // The market's assessment, started at level 2 and validated as it is.
        let (_, created) = world
            .call(
                "POST",
                &format!("/api/v1/sites/{site}/assessments"),
                Some(operator),
                Some(json!({"threat_level": 2})),
            )
            .await;
        let id = created["id"].as_str().unwrap().to_owned();
        let transition = format!("/api/v1/assessments/{id}/transition");
        world.call("POST", &transition, Some(operator), Some(json!({"to": "submitted"}))).await;
        let (status, body) = world
            .call("POST", &transition, Some(officer), Some(json!({"to": "validated", "reason": "first visit"})))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let max_risk = |dashboard: &Value| dashboard["sites"][0]["max_risk"].as_u64().unwrap();
        let (_, before) = world.call("GET", "/api/v1/dashboard", Some(officer), None).await;
        let (_, score) = world.call("GET", &format!("/api/v1/assessments/{id}/score"), Some(operator), None).await;
        assert_eq!(score["threat_level"], json!({"level": 2, "source": "assessment"}));

        // Only an authority sets a level; the operator and another operator cannot.
        let raise = json!({"level": 4, "reason": "Attaque dans un pays voisin"});
        for token in [operator, stranger] {
            let (status, _) = world.call("POST", "/api/v1/threat-levels", Some(token), Some(raise.clone())).await;
            assert_eq!(status, StatusCode::FORBIDDEN);
        }
        let (status, set) = world.call("POST", "/api/v1/threat-levels?lang=fr", Some(officer), Some(raise)).await;
        assert_eq!(status, StatusCode::CREATED, "{set}");
        assert_eq!(
            (set["level"].as_u64(), set["sites"].as_u64(), set["whole_jurisdiction"].as_bool()),
            (Some(4), Some(1), Some(true))
        );
        let created_actions = set["actions_created"].as_u64().unwrap();
        assert!(created_actions >= 3, "{set}");

        // The site is scored at 4 and its dashboard figure moved with it.
        let (_, score) = world.call("GET", &format!("/api/v1/assessments/{id}/score"), Some(operator), None).await;
        assert_eq!(
            (score["threat_level"]["level"].as_u64(), score["threat_level"]["source"].as_str()),
            (Some(4), Some("authority"))
        );
        let (_, after) = world.call("GET", "/api/v1/dashboard", Some(officer), None).await;
        assert!(max_risk(&after) > max_risk(&before), "{before} → {after}");

        // The checklist is in the site's plan, in French, marked as coming from the level.
        let (_, plan) = world.call("GET", &format!("/api/v1/assessments/{id}/actions"), Some(operator), None).await;
        let checklist: Vec<&Value> =
            plan["actions"].as_array().unwrap().iter().filter(|a| a["threat_level_id"] == set["id"]).collect();
        assert_eq!(checklist.len() as u64, created_actions);
        assert!(checklist.iter().any(|a| a["title"].as_str().unwrap().contains("briefing")), "{checklist:?}");
        // The operator does one; the authority sees the progress site by site.
        let first = checklist.iter().find(|a| a["measure_id"].as_str().unwrap().ends_with("shift_briefing")).unwrap();
        let done = json!({"title": first["title"], "status": "done", "version": first["version"], "measure_id": first["measure_id"]});
        let (status, body) = world
            .call("PUT", &format!("/api/v1/actions/{}", first["id"].as_str().unwrap()), Some(operator), Some(done))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (_, levels) = world.call("GET", "/api/v1/threat-levels", Some(officer), None).await;
        assert_eq!(levels["items"][0]["id"], set["id"]);
        let progress = &levels["sites"][0];
        assert_eq!((progress["site_id"].as_str(), progress["level"].as_u64()), (Some(site.as_str()), Some(4)));
        assert_eq!((progress["total"].as_u64(), progress["done"].as_u64()), (Some(created_actions), Some(1)));
        // The operator reads the level that applies to it; another operator nothing.
        let (_, theirs) = world.call("GET", "/api/v1/threat-levels", Some(operator), None).await;
        assert_eq!(theirs["items"].as_array().unwrap().len(), 1);
        let (_, none) = world.call("GET", "/api/v1/threat-levels", Some(stranger), None).await;
        assert_eq!(none, json!({"items": [], "sites": []}));

        // Lowering to 3 over a polygon around the market closes the level-4 measures and keeps
        // what applies at 3 (and what is done).
        let around = json!({"type": "Polygon", "coordinates": [[[24.94, 60.16], [24.96, 60.16], [24.96, 60.17], [24.94, 60.17], [24.94, 60.16]]]});
        let (status, lowered) = world
            .call(
                "POST",
                "/api/v1/threat-levels",
                Some(officer),
                Some(json!({"level": 3, "reason": "Threat assessed lower", "area": around})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{lowered}");
        assert_eq!((lowered["sites"].as_u64(), lowered["actions_created"].as_u64()), (Some(1), Some(0)));
        let closed = lowered["actions_closed"].as_u64().unwrap();
        assert!(closed >= 1 && closed < created_actions, "{lowered}");
        let (_, plan) = world.call("GET", &format!("/api/v1/assessments/{id}/actions"), Some(operator), None).await;
        let cancelled = plan["actions"].as_array().unwrap().iter().filter(|a| a["status"] == "cancelled").count();
        assert_eq!(cancelled as u64, closed);
        assert!(plan["actions"].as_array().unwrap().iter().any(|a| a["status"] == "done"));
        // A polygon elsewhere reaches no site.
        let elsewhere = json!({"type": "Polygon", "coordinates": [[[25.1, 60.2], [25.2, 60.2], [25.2, 60.25], [25.1, 60.25], [25.1, 60.2]]]});
        let (_, far) = world
            .call(
                "POST",
                "/api/v1/threat-levels",
                Some(officer),
                Some(json!({"level": 5, "reason": "Elsewhere", "area": elsewhere})),
            )
            .await;
        assert_eq!((far["sites"].as_u64(), far["actions_created"].as_u64()), (Some(0), Some(0)));

        // Bad input: a clear error naming the field, nothing stored.
        let bad_area = json!({"type": "Polygon", "coordinates": [[[24.9, 60.1], [25.0, 60.1], [24.9, 60.1]]]});
        for (body, field) in [
            (json!({"level": 6, "reason": "r"}), "level"),
            (json!({"level": 3, "reason": " "}), "reason"),
            (json!({"level": 3, "reason": "r", "area": bad_area}), "area"),
            (json!({"level": 3, "reason": "r", "effective": "tomorrow"}), "effective"),
        ] {
            let (status, answer) = world.call("POST", "/api/v1/threat-levels", Some(officer), Some(body)).await;
            assert_eq!(
                (status, answer["error"]["details"]["field"].as_str()),
                (StatusCode::UNPROCESSABLE_ENTITY, Some(field)),
                "{answer}"
            );
        }
        let (_, levels) = world.call("GET", "/api/v1/threat-levels", Some(officer), None).await;
        assert_eq!(levels["items"].as_array().unwrap().len(), 3);

        // A bulletin can carry the change; a drill cannot.
        let city = world.store.org_by_name("City").await.unwrap().unwrap().id;
        let market = world.store.org_by_name("Market Operator").await.unwrap().unwrap().id;
        let mut bulletin = bulletin_body("TLP:AMBER", json!({"orgs": [market]}));
        bulletin["threat_level"] = json!(5);
        bulletin["status"] = json!("Exercise");
        let (status, answer) = world.call("POST", "/api/v1/bulletins", Some(officer), Some(bulletin.clone())).await;
        assert_eq!(
            (status, answer["error"]["details"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("threat_level"))
        );
        bulletin["status"] = json!("Actual");
        let (status, sent) = world.call("POST", "/api/v1/bulletins", Some(officer), Some(bulletin)).await;
        assert_eq!(status, StatusCode::CREATED, "{sent}");
        assert_eq!(
            (sent["threat_level"]["level"].as_u64(), &sent["threat_level"]["bulletin_id"]),
            (Some(5), &sent["id"])
        );
        let (_, score) = world.call("GET", &format!("/api/v1/assessments/{id}/score"), Some(operator), None).await;
        assert_eq!(score["threat_level"]["level"].as_u64(), Some(5));
        assert_ne!(city, market);

        let entries = world.store.audit_entries().await.unwrap();
        assert_eq!(entries.iter().filter(|e| e.record.action == "threat_level.set").count(), 4);
        assert!(entries.iter().any(|e| e.record.action == "assessment.rescore"));
    }
}

/// An SMTP relay on loopback that takes any number of messages on any number of connections
/// and hands each message's DATA over as it arrives.
async fn smtp_inbox() -> (u16, tokio::sync::mpsc::UnboundedReceiver<String>) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (deliver, messages) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let deliver = deliver.clone();
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut lines = BufReader::new(read).lines();
                let mut message = String::new();
                let mut in_data = false;
                write.write_all(b"220 sink ESMTP\r\n").await.unwrap();
                while let Ok(Some(line)) = lines.next_line().await {
                    if in_data {
                        if line == "." {
                            in_data = false;
                            let _ = deliver.send(std::mem::take(&mut message));
                            write.write_all(b"250 queued\r\n").await.unwrap();
                        } else {
                            message.push_str(&line);
                            message.push('\n');
                        }
                        continue;
                    }
                    let reply: &[u8] = match line.get(..4).unwrap_or_default().to_ascii_uppercase().as_str() {
                        "DATA" => {
                            in_data = true;
                            b"354 go on\r\n"
                        }
                        "QUIT" => b"221 bye\r\n",
                        _ => b"250 ok\r\n",
                    };
                    write.write_all(reply).await.unwrap();
                }
            });
        }
    });
    (port, messages)
}

/// A webhook endpoint on loopback answering `status`, handing over each call's signature
/// header and body.
async fn webhook_endpoint(status: StatusCode) -> (String, tokio::sync::mpsc::UnboundedReceiver<(String, String)>) {
    let (deliver, calls) = tokio::sync::mpsc::unbounded_channel();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
            let deliver = deliver.clone();
            async move {
                let signature = headers.get("x-vigie-signature").and_then(|v| v.to_str().ok()).unwrap_or_default();
                let _ = deliver.send((signature.to_owned(), body));
                status
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, calls)
}

/// A clock the test moves by hand.
struct HandClock(std::sync::atomic::AtomicI64);

impl Clock for HandClock {
    fn now_ms(&self) -> i64 {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}

#[tokio::test]
async fn notifications_go_out_signed_retried_and_without_what_the_marking_protects() {
    for (store, _dir) in stores().await {
        let city = store.create_org(&ctx(), "City", OrgKind::Authority).await.unwrap();
        let market = store.create_org(&ctx(), "Market Operator", OrgKind::Operator).await.unwrap();
        let other = store.create_org(&ctx(), "Other Operator", OrgKind::Operator).await.unwrap();
        let admin = user(store.as_ref(), "admin@example.org", &city.id, Role::Admin).await;
        let officer = user(store.as_ref(), "officer@example.org", &city.id, Role::Authority).await;
        let operator = user(store.as_ref(), "guard@market.example", &market.id, Role::Operator).await;
        let stranger = user(store.as_ref(), "guard@other.example", &other.id, Role::Operator).await;
        let (smtp_port, mut mails) = smtp_inbox().await;
        let mailer =
            vigie_app::mail::Mailer::new(&format!("smtp://127.0.0.1:{smtp_port}"), "vigie@city.example").unwrap();
        let clock = Arc::new(HandClock(std::sync::atomic::AtomicI64::new(now_ms())));
        let config = ServerConfig { public_url: Some("https://vigie.city.example".into()), ..ServerConfig::default() };
        let mut state = AppState::new(store.clone(), config).with_mailer(mailer);
        state.app = state.app.clone().with_clock(clock.clone());
        let world = World {
            app: vigie_server::router(state.clone()),
            store: store.clone(),
            admin: admin.clone(),
            officer: officer.clone(),
            operator: operator.clone(),
            stranger: stranger.clone(),
            viewer: String::new(),
            operator_site: String::new(),
            _dir: tempfile::tempdir().unwrap(),
        };

        // The market's endpoint, registered by an admin; an operator may not, nor a bad address.
        let (url, mut calls) = webhook_endpoint(StatusCode::OK).await;
        let (status, _) = world
            .call("POST", "/api/v1/webhooks", Some(&operator), Some(json!({"url": url, "org_id": market.id})))
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, bad) = world.call("POST", "/api/v1/webhooks", Some(&admin), Some(json!({"url": "ftp://x"}))).await;
        assert_eq!(
            (status, bad["error"]["details"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("url"))
        );
        let (status, hook) =
            world.call("POST", "/api/v1/webhooks", Some(&admin), Some(json!({"url": url, "org_id": market.id}))).await;
        assert_eq!(status, StatusCode::CREATED, "{hook}");
        let secret = hook["secret"].as_str().unwrap().to_owned();

        // An AMBER bulletin to the market: queued with it, delivered by the worker, signed,
        // and neither the e-mail nor the call carries its words.
        let to_market = json!({"orgs": [market.id]});
        let (status, sent) = world
            .call("POST", "/api/v1/bulletins", Some(&officer), Some(bulletin_body("TLP:AMBER", to_market.clone())))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{sent}");
        let deliveries = format!("/api/v1/bulletins/{}/deliveries", sent["id"].as_str().unwrap());
        let (_, queued) = world.call("GET", &deliveries, Some(&officer), None).await;
        let states: Vec<(&str, &str)> = queued["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| (d["channel"].as_str().unwrap(), d["state"].as_str().unwrap()))
            .collect();
        assert_eq!(states, [("email", "pending"), ("webhook", "pending")], "{queued}");
        assert!(!queued.to_string().contains("guard@market.example"), "addresses stay in the outbox");
        assert_eq!(world.call("GET", &deliveries, Some(&stranger), None).await.0, StatusCode::NOT_FOUND);
        let round = state.app.deliver_due().await.unwrap();
        assert_eq!((round.delivered, round.retrying, round.failed), (2, 0, 0));
        let (signature, body) = calls.recv().await.unwrap();
        assert_eq!(signature, vigie_app::notifications::signature(&secret, body.as_bytes()));
        let call: Value = serde_json::from_str(&body).unwrap();
        assert_eq!((call["marking"].as_str(), call["bulletin_id"].as_str()), (Some("TLP:AMBER"), sent["id"].as_str()));
        assert_eq!(
            call["url"],
            json!(format!("https://vigie.city.example/bulletins/{}", sent["id"].as_str().unwrap()))
        );
        let mail = mails.recv().await.unwrap().replace("=\n", "");
        assert!(mail.contains("TLP:AMBER") && mail.contains("https://vigie.city.example/bulletins/"), "{mail}");
        for text in [&mail, &body] {
            assert!(!text.contains("grey van") && !text.contains("Plate") && !text.contains("Repérage"), "{text}");
        }
        let (_, done) = world.call("GET", &deliveries, Some(&officer), None).await;
        assert!(done["items"].as_array().unwrap().iter().all(|d| d["state"] == "delivered"), "{done}");

        // A CLEAR bulletin's words may travel.
        let (_, clear) = world
            .call("POST", "/api/v1/bulletins", Some(&officer), Some(bulletin_body("TLP:CLEAR", to_market.clone())))
            .await;
        assert_eq!(clear["marking"], "TLP:CLEAR");
        state.app.deliver_due().await.unwrap();
        let mail = mails.recv().await.unwrap().replace("=\n", "");
        assert!(mail.contains("grey van"), "{mail}");
        let (_, body) = calls.recv().await.unwrap();
        assert!(body.contains("grey van"), "{body}");

        // An endpoint that is down holds nothing back: the bulletin is stored and readable, the
        // call is retried with backoff, and given up (and audited) after the last attempt.
        let (down, _down_calls) = webhook_endpoint(StatusCode::SERVICE_UNAVAILABLE).await;
        world.call("DELETE", &format!("/api/v1/webhooks/{}", hook["id"].as_str().unwrap()), Some(&admin), None).await;
        world.call("POST", "/api/v1/webhooks", Some(&admin), Some(json!({"url": down, "org_id": market.id}))).await;
        let (status, third) =
            world.call("POST", "/api/v1/bulletins", Some(&officer), Some(bulletin_body("TLP:AMBER", to_market))).await;
        assert_eq!(status, StatusCode::CREATED);
        let first = state.app.deliver_due().await.unwrap();
        assert_eq!((first.delivered, first.retrying), (1, 1), "the e-mail goes, the call waits");
        assert_eq!(
            world
                .call("GET", &format!("/api/v1/bulletins/{}", third["id"].as_str().unwrap()), Some(&operator), None)
                .await
                .0,
            StatusCode::OK
        );
        let deliveries = format!("/api/v1/bulletins/{}/deliveries", third["id"].as_str().unwrap());
        let (_, waiting) = world.call("GET", &deliveries, Some(&officer), None).await;
        let call = waiting["items"].as_array().unwrap().iter().find(|d| d["channel"] == "webhook").unwrap().clone();
        assert_eq!((call["state"].as_str(), call["attempts"].as_u64()), (Some("pending"), Some(1)), "{waiting}");
        assert!(call["last_error"].as_str().unwrap().contains("503"), "{call}");
        assert_eq!(
            state.app.deliver_due().await.unwrap(),
            vigie_app::notifications::DeliveryRound::default(),
            "not before its time"
        );
        let mut failed = 0;
        for _ in 0..10 {
            clock.0.fetch_add(3 * 3_600_000, std::sync::atomic::Ordering::SeqCst);
            failed += state.app.deliver_due().await.unwrap().failed;
        }
        assert_eq!(failed, 1);
        let (_, gave_up) = world.call("GET", &deliveries, Some(&officer), None).await;
        let call = gave_up["items"].as_array().unwrap().iter().find(|d| d["channel"] == "webhook").unwrap().clone();
        assert_eq!(
            (call["state"].as_str(), call["attempts"].as_u64()),
            (Some("failed"), Some(u64::from(vigie_domain::notification::MAX_ATTEMPTS)))
        );
        let entries = store.audit_entries().await.unwrap();
        for action in ["webhook.create", "webhook.disable", "notification.delivered", "notification.failed"] {
            assert!(entries.iter().any(|e| e.record.action == action), "{action} is audited");
        }
        assert!(entries.iter().all(|e| !e.record.details.to_string().contains(&secret)), "no secret in the audit log");
    }
}
