//! The pages through the whole router: who is sent to the sign-in page, and which buttons each
//! role is offered.
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};
use tower::ServiceExt;
use vigie_domain::access::{OrgKind, Role};
use vigie_store::{NewUser, Store, WriteContext};

use crate::{AppState, ServerConfig};
use vigie_app::secrets::{hash_password, new_secret, secret_hash};

const PASSWORD: &str = "a long enough password";

struct World {
    app: Router,
    _dir: tempfile::TempDir,
}

fn ctx() -> WriteContext {
    WriteContext { at_ms: 1, actor: "test".into(), actor_org: None }
}

/// A city with an assessor, an officer and a viewer; returns the world and the assessor's token.
async fn world() -> (World, String) {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        vigie_store::open(&format!("sqlite://{}", dir.path().join("ui.db").display())).await.unwrap();
    let city = store.create_org(&ctx(), "City", OrgKind::Authority).await.unwrap();
    let mut assessor_token = String::new();
    for (email, role) in [
        ("assessor@example.org", Role::Assessor),
        ("officer@example.org", Role::Authority),
        ("viewer@example.org", Role::Viewer),
    ] {
        let user = store
            .create_user(
                &ctx(),
                NewUser {
                    email: email.into(),
                    org_id: city.id.clone(),
                    role,
                    password_hash: hash_password(PASSWORD).unwrap(),
                },
            )
            .await
            .unwrap();
        if role == Role::Assessor {
            assessor_token = new_secret("vg_");
            store.create_token(&ctx(), &user.id, "test", &secret_hash(&assessor_token)).await.unwrap();
        }
    }
    let app = crate::router(AppState::new(store, ServerConfig::default()));
    (World { app, _dir: dir }, assessor_token)
}

impl World {
    async fn send(&self, request: Request<Body>) -> (StatusCode, String, axum::http::HeaderMap) {
        let response = self.app.clone().oneshot(request).await.unwrap();
        let (status, headers) = (response.status(), response.headers().clone());
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        (status, String::from_utf8_lossy(&bytes).into_owned(), headers)
    }

    async fn page(&self, uri: &str, cookie: Option<&str>) -> (StatusCode, String, axum::http::HeaderMap) {
        let mut request = Request::builder().uri(uri);
        if let Some(cookie) = cookie {
            request = request.header(header::COOKIE, cookie);
        }
        self.send(request.body(Body::empty()).unwrap()).await
    }

    /// Signs in through the form; returns the session cookie.
    async fn sign_in(&self, email: &str) -> String {
        let body = format!("email={}&password={}", email.replace('@', "%40"), PASSWORD.replace(' ', "+"));
        let request = Request::builder()
            .method("POST")
            .uri("/login")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .unwrap();
        let (status, _, headers) = self.send(request).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        headers.get(header::SET_COOKIE).unwrap().to_str().unwrap().split(';').next().unwrap().to_owned()
    }

    async fn api(&self, uri: &str, token: &str, body: Value) -> Value {
        let request = Request::builder()
            .method("POST")
            .uri(uri)
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        let (status, body, _) = self.send(request).await;
        assert!(status.is_success(), "{status} {body}");
        serde_json::from_str(&body).unwrap()
    }
}

#[tokio::test]
async fn signed_out_callers_are_sent_to_sign_in_and_get_no_streets() {
    let (world, _) = world().await;
    for uri in [
        "/",
        "/dashboard",
        "/library",
        "/sites/new",
        "/sites/x",
        "/sites/x/edit",
        "/assessments/x",
        "/assessments/x/results",
    ] {
        let (status, _, headers) = world.page(uri, None).await;
        assert_eq!(
            (status, headers.get(header::LOCATION).map(|l| l.to_str().unwrap())),
            (StatusCode::SEE_OTHER, Some("/login")),
            "{uri}"
        );
    }
    let (status, body, _) = world.page("/ui/streets?bbox=24.9,60.1,25.0,60.2", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    // A session that was closed is no better than none.
    let (status, _, _) = world.page("/ui/streets?bbox=24.9,60.1,25.0,60.2", Some("vigie_session=not-a-session")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn each_role_is_offered_only_what_it_may_do() {
    let (world, token) = world().await;
    let site = world
        .api(
            "/api/v1/sites",
            &token,
            json!({"name": "Market Square", "category": "open_air_market", "peak_occupancy": 3000,
                   "geometry": {"type": "Polygon", "coordinates": [[[24.952, 60.167], [24.954, 60.167], [24.954, 60.168], [24.952, 60.168], [24.952, 60.167]]]}}),
        )
        .await;
    let site_id = site["id"].as_str().unwrap();
    let assessment =
        world.api(&format!("/api/v1/sites/{site_id}/assessments"), &token, json!({"threat_level": 3})).await;
    let results = format!("/assessments/{}/results?lang=en", assessment["id"].as_str().unwrap());
    let site_page = format!("/sites/{site_id}?lang=en");

    let viewer = world.sign_in("viewer@example.org").await;
    let (_, page, _) = world.page("/?lang=en", Some(&viewer)).await;
    assert!(page.contains("Market Square") && !page.contains(r#"href="/sites/new""#), "{page}");
    let (_, page, _) = world.page(&site_page, Some(&viewer)).await;
    assert!(
        page.contains("Market Square")
            && !page.contains("/edit\"")
            && !page.contains("start-assessment")
            && !page.contains("run-hvm"),
        "{page}"
    );
    let (_, page, _) = world.page(&results, Some(&viewer)).await;
    assert!(page.contains(r#"data-can-write="" data-can-validate="""#) && !page.contains("action-form"), "{page}");

    let assessor = world.sign_in("assessor@example.org").await;
    let (_, page, _) = world.page(&site_page, Some(&assessor)).await;
    assert!(page.contains("/edit\"") && page.contains("start-assessment"), "{page}");
    let (_, page, _) = world.page(&results, Some(&assessor)).await;
    assert!(page.contains(r#"data-can-write="1" data-can-validate="""#) && page.contains("action-form"), "{page}");

    let officer = world.sign_in("officer@example.org").await;
    let (_, page, _) = world.page(&results, Some(&officer)).await;
    assert!(page.contains(r#"data-can-write="1" data-can-validate="1""#), "{page}");
}

#[tokio::test]
async fn failed_pages_answer_html_in_the_callers_language_and_the_api_keeps_json() {
    let (world, _) = world().await;
    let viewer = world.sign_in("viewer@example.org").await;
    let is_html = |headers: &axum::http::HeaderMap| {
        headers.get(header::CONTENT_TYPE).is_some_and(|v| v.to_str().unwrap().starts_with("text/html"))
    };

    // A missing (or hidden) site: the dashboard is the way back.
    let (status, page, headers) = world.page("/sites/nope?lang=fr", Some(&viewer)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{page}");
    assert!(is_html(&headers), "{headers:?}");
    assert!(
        page.contains(r#"<html lang="fr">"#)
            && page.contains("Page introuvable")
            && page.contains(r#"href="/dashboard?lang=fr""#),
        "{page}"
    );

    // A page the role does not allow.
    let (status, page, headers) = world.page("/sites/new?lang=en", Some(&viewer)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{page}");
    assert!(
        is_html(&headers) && page.contains("Not allowed") && page.contains(r#"href="/dashboard?lang=en""#),
        "{page}"
    );

    // A filter the server cannot read.
    let (status, page, headers) = world.page("/?category=nonsense&lang=en", Some(&viewer)).await;
    assert!(status.is_client_error() && status != StatusCode::NOT_FOUND, "{status} {page}");
    assert!(is_html(&headers) && page.contains("Request not understood"), "{page}");

    // An unknown page, signed out: the language from the browser, the way back is the sign-in page.
    let request = Request::builder()
        .uri("/no/such/page")
        .header(header::ACCEPT_LANGUAGE, "fr-FR,fr;q=0.9")
        .body(Body::empty())
        .unwrap();
    let (status, page, headers) = world.send(request).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        is_html(&headers) && page.contains("Page introuvable") && page.contains(r#"href="/login?lang=fr""#),
        "{page}"
    );

    // Under /api the errors stay JSON.
    let (status, body, headers) = world.page("/api/v1/no-such-route", Some(&viewer)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(!is_html(&headers), "{headers:?}");
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["error"]["code"], "route_not_found");
}

#[tokio::test]
async fn text_and_json_from_the_store_cannot_break_out_of_the_page() {
    let (world, token) = world().await;
    let name = r#"</script><b id="x">"&'"#;
    world
        .api(
            "/api/v1/sites",
            &token,
            json!({"name": name, "category": "open_air_market", "peak_occupancy": 10,
                   "geometry": {"type": "Polygon", "coordinates": [[[24.952, 60.167], [24.954, 60.167], [24.954, 60.168], [24.952, 60.168], [24.952, 60.167]]]}}),
        )
        .await;
    let viewer = world.sign_in("viewer@example.org").await;
    let (status, page, _) = world.page("/?lang=en", Some(&viewer)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!page.contains("<b id="), "{page}");
    // In the map's JSON, `<` cannot close the script element.
    assert_eq!(page.matches("</script>").count(), page.matches("<script").count(), "{page}");
}
