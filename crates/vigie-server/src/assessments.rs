//! Assessments over HTTP: the methodology, assessments of a site and their answers, photos,
//! status changes, scores with explanations, what-if, the action plan and the dashboard.
//! Assessments say where a site is weak: every read is audited, and a caller who may not see
//! one gets the same "not found" as for a missing one.
use std::collections::{BTreeMap, BTreeSet};

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use vigie_assessment::{AssessmentError, AssessmentInput, Methodology, SiteContext};
use vigie_domain::DomainError;
use vigie_domain::access::Principal;
use vigie_domain::assessment::{self as rules, ActionStatus, AssessmentStatus, GpsPoint};
use vigie_domain::site::{Lang, check_text};
use vigie_store::{
    Action, ActionFields, AnswerContent, AnswerWrite, AssessedSite, Assessment, NewAssessment, NewPhoto, StoredAnswer,
    TransitionData,
};

use crate::api::{readable_site, write_context};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery};
use crate::{AppState, now_ms};

/// Largest photo accepted: a phone photo is 2–6 MB.
pub const MAX_PHOTO_BYTES: usize = 10 * 1024 * 1024;
/// Fewer validated peers than this and the percentile would tell too much about each of them.
pub const MIN_PEERS: usize = 5;
const MAX_NOTE_CHARS: usize = 4_000;

pub const ROUTES: &[(&str, &str)] = &[
    ("get", "/api/v1/methodology"),
    ("get", "/api/v1/sites/{id}/assessments"),
    ("post", "/api/v1/sites/{id}/assessments"),
    ("get", "/api/v1/assessments/{id}"),
    ("post", "/api/v1/assessments/{id}/answers"),
    ("put", "/api/v1/assessments/{id}/answers/{question}"),
    ("post", "/api/v1/assessments/{id}/photos"),
    ("get", "/api/v1/photos/{id}"),
    ("post", "/api/v1/assessments/{id}/transition"),
    ("get", "/api/v1/assessments/{id}/score"),
    ("post", "/api/v1/assessments/{id}/what-if"),
    ("get", "/api/v1/assessments/{id}/actions"),
    ("post", "/api/v1/assessments/{id}/actions"),
    ("put", "/api/v1/actions/{id}"),
    ("get", "/api/v1/dashboard"),
];

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/methodology", get(methodology))
        .route("/api/v1/sites/{id}/assessments", get(site_assessments).post(create_assessment))
        .route("/api/v1/assessments/{id}", get(get_assessment))
        .route("/api/v1/assessments/{id}/answers", post(put_answers))
        .route("/api/v1/assessments/{id}/answers/{question}", put(put_answer))
        .route(
            "/api/v1/assessments/{id}/photos",
            post(add_photo).layer(axum::extract::DefaultBodyLimit::max(MAX_PHOTO_BYTES)),
        )
        .route("/api/v1/photos/{id}", get(get_photo))
        .route("/api/v1/assessments/{id}/transition", post(transition))
        .route("/api/v1/assessments/{id}/score", get(score))
        .route("/api/v1/assessments/{id}/what-if", post(what_if))
        .route("/api/v1/assessments/{id}/actions", get(action_plan).post(create_action))
        .route("/api/v1/actions/{id}", put(update_action))
        .route("/api/v1/dashboard", get(dashboard))
}

impl From<AssessmentError> for ApiError {
    fn from(err: AssessmentError) -> Self {
        ApiError::new(err.code(), err.to_string()).with_details(err.details())
    }
}

fn methodology_data() -> Result<&'static Methodology, ApiError> {
    Methodology::embedded().map_err(|err| {
        tracing::error!(error = %err, "the embedded methodology is unreadable");
        ApiError::internal()
    })
}

/// The methodology an assessment pinned; only the embedded version can score.
fn pinned_methodology(assessment: &Assessment) -> Result<&'static Methodology, ApiError> {
    let m = methodology_data()?;
    if m.version != assessment.methodology_version {
        return Err(ApiError::new(
            "methodology_version_unavailable",
            format!(
                "this assessment was made with methodology {}, which this server does not carry (it has {})",
                assessment.methodology_version, m.version
            ),
        ));
    }
    Ok(m)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LangParam {
    lang: Option<String>,
}

fn lang_of(param: Option<&str>) -> Result<Lang, ApiError> {
    match param {
        None | Some("en") => Ok(Lang::En),
        Some("fr") => Ok(Lang::Fr),
        Some(other) => {
            Err(DomainError::validation("lang", format!("'{other}' is not a language of Vigie; use en or fr")).into())
        }
    }
}

async fn methodology(Caller(_): Caller, ApiQuery(params): ApiQuery<LangParam>) -> Result<Json<Value>, ApiError> {
    let lang = lang_of(params.lang.as_deref())?;
    Ok(Json(serde_json::to_value(methodology_data()?.view(lang)).map_err(|_| ApiError::internal())?))
}

/// Loads an assessment the caller may read; otherwise "not found", whether or not it exists.
async fn readable_assessment(state: &AppState, caller: &Principal, id: &str) -> Result<Assessment, ApiError> {
    match state.store.get_assessment(id).await? {
        Some(a) if rules::can_read(caller, &a.org_id) => Ok(a),
        _ => Err(ApiError::not_found("assessment")),
    }
}

async fn writable_assessment(state: &AppState, caller: &Principal, id: &str) -> Result<Assessment, ApiError> {
    let assessment = readable_assessment(state, caller, id).await?;
    if !caller.can_write_org(&assessment.org_id) {
        return Err(ApiError::forbidden("you may read this assessment but not change it"));
    }
    Ok(assessment)
}

fn input(
    methodology_version: &str,
    site: &AssessedSite,
    threat_level: u8,
    answers: BTreeMap<String, String>,
) -> AssessmentInput {
    AssessmentInput {
        methodology_version: methodology_version.to_owned(),
        site: SiteContext {
            category: site.category,
            occupancy: site.occupancy,
            area_m2: site.area_m2,
            visibility: site.visibility,
        },
        threat_level,
        answers,
    }
}

fn input_of(assessment: &Assessment, answers: BTreeMap<String, String>) -> AssessmentInput {
    input(&assessment.methodology_version, &assessment.site, assessment.threat_level, answers)
}

fn answer_ids(answers: &BTreeMap<String, StoredAnswer>) -> BTreeMap<String, String> {
    answers.iter().map(|(q, a)| (q.clone(), a.content.answer.clone())).collect()
}

fn assessment_json(assessment: &Assessment, answers: Option<&BTreeMap<String, StoredAnswer>>) -> Value {
    let mut value = serde_json::to_value(assessment).unwrap_or(Value::Null);
    if let Some(answers) = answers {
        value["answers"] = serde_json::to_value(answers).unwrap_or(Value::Null);
    }
    value
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    /// National threat level, 1 (low) … 5 (critical).
    threat_level: u8,
    /// People on site at peak; the site's own figure when absent.
    #[serde(default)]
    occupancy: Option<u32>,
    /// 1 (local) … 5 (national or world icon).
    #[serde(default)]
    visibility: Option<u8>,
}

async fn create_assessment(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(site_id): Path<String>,
    ApiJson(body): ApiJson<CreateBody>,
) -> Result<Response, ApiError> {
    let site = readable_site(&state, &caller, &site_id).await?;
    if !caller.can_write_org(&site.org_id) {
        return Err(ApiError::forbidden("you may read this site but not assess it"));
    }
    let occupancy = body.occupancy.or(site.peak_occupancy).ok_or_else(|| {
        DomainError::validation(
            "occupancy",
            "the site has no peak occupancy on record: give the number of people expected at peak",
        )
    })?;
    let m = methodology_data()?;
    let new = NewAssessment {
        site_id: site.id.clone(),
        org_id: site.org_id.clone(),
        methodology_version: m.version.clone(),
        threat_level: body.threat_level,
        site: AssessedSite { category: site.category, occupancy, area_m2: site.area_m2, visibility: body.visibility },
    };
    // Scoring the empty assessment checks the threat level and the site's figures the same
    // way every later score will.
    vigie_assessment::score(m, &input(&new.methodology_version, &new.site, new.threat_level, BTreeMap::new()))?;
    let assessment = state.store.create_assessment(&write_context(&caller), &new).await?;
    let location = format!("/api/v1/assessments/{}", assessment.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(assessment_json(&assessment, Some(&BTreeMap::new()))),
    )
        .into_response())
}

async fn site_assessments(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(site_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let site = readable_site(&state, &caller, &site_id).await?;
    let items = state.store.site_assessments(&site.id).await?;
    let ids: Vec<&str> = items.iter().map(|a| a.id.as_str()).collect();
    state.audit.read(&caller, now_ms(), "assessment", None, json!({"site_id": site.id, "list": ids})).await?;
    Ok(Json(json!({ "items": items })))
}

async fn get_assessment(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let assessment = readable_assessment(&state, &caller, &id).await?;
    let answers = state.store.assessment_answers(&assessment.id).await?;
    let photos = state.store.assessment_photos(&assessment.id).await?;
    state
        .audit
        .read(&caller, now_ms(), "assessment", Some(&assessment.id), json!({"org_id": assessment.org_id}))
        .await?;
    let mut value = assessment_json(&assessment, Some(&answers));
    value["photos"] = serde_json::to_value(&photos).map_err(|_| ApiError::internal())?;
    Ok(Json(value))
}

/// One answer as a client sends it. `base_version`: the version of this answer the client last
/// saw (0 for none); when the stored one differs, the write is refused as a conflict.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AnswerBody {
    answer: String,
    #[serde(default)]
    note: Option<String>,
    #[serde(default)]
    observed_at_ms: Option<i64>,
    #[serde(default)]
    gps: Option<GpsPoint>,
    #[serde(default)]
    base_version: Option<i64>,
}

impl AnswerBody {
    fn into_write(self, question_id: String) -> Result<AnswerWrite, ApiError> {
        let note = self.note.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty());
        if let Some(note) = &note {
            check_text("note", &note.replace(['\n', '\r', '\t'], " "))?;
            if note.chars().count() > MAX_NOTE_CHARS {
                return Err(DomainError::validation("note", format!("at most {MAX_NOTE_CHARS} characters")).into());
            }
        }
        if let Some(gps) = &self.gps {
            gps.check()?;
        }
        if self.observed_at_ms.is_some_and(|t| t < 0) {
            return Err(DomainError::validation("observed_at_ms", "a time in milliseconds since 1970").into());
        }
        Ok(AnswerWrite {
            question_id,
            content: AnswerContent { answer: self.answer, note, observed_at_ms: self.observed_at_ms, gps: self.gps },
            base_version: self.base_version,
        })
    }
}

/// Checks answer ids against the pinned methodology (unknown question or answer, N/A where it
/// cannot apply, a question for another category) by scoring the assessment as it would be.
async fn write_answers(
    state: &AppState,
    caller: &Principal,
    id: &str,
    writes: Vec<AnswerWrite>,
) -> Result<Vec<StoredAnswer>, ApiError> {
    let assessment = writable_assessment(state, caller, id).await?;
    let m = pinned_methodology(&assessment)?;
    let mut answers = answer_ids(&state.store.assessment_answers(&assessment.id).await?);
    for write in &writes {
        answers.insert(write.question_id.clone(), write.content.answer.clone());
    }
    vigie_assessment::score(m, &input_of(&assessment, answers))?;
    Ok(state.store.put_answers(&write_context(caller), &assessment.id, &writes).await?)
}

async fn put_answer(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path((id, question)): Path<(String, String)>,
    ApiJson(body): ApiJson<AnswerBody>,
) -> Result<Json<StoredAnswer>, ApiError> {
    let write = body.into_write(question)?;
    let mut stored = write_answers(&state, &caller, &id, vec![write]).await?;
    stored.pop().map(Json).ok_or_else(ApiError::internal)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BulkBody {
    answers: BTreeMap<String, AnswerBody>,
}

async fn put_answers(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<BulkBody>,
) -> Result<Json<Value>, ApiError> {
    if body.answers.is_empty() {
        return Err(DomainError::validation("answers", "give at least one answer").into());
    }
    let writes = body.answers.into_iter().map(|(q, a)| a.into_write(q)).collect::<Result<Vec<_>, _>>()?;
    let stored = write_answers(&state, &caller, &id, writes).await?;
    Ok(Json(json!({ "answers": stored })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PhotoParams {
    question: String,
    #[serde(default)]
    keep_location: Option<bool>,
}

async fn add_photo(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    ApiQuery(params): ApiQuery<PhotoParams>,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response, ApiError> {
    let assessment = writable_assessment(&state, &caller, &id).await?;
    let body = body.map_err(|_| {
        ApiError::new("payload_too_large", format!("a photo may be at most {} MB", MAX_PHOTO_BYTES / (1024 * 1024)))
    })?;
    let m = pinned_methodology(&assessment)?;
    if m.question(&params.question).is_none() {
        return Err(AssessmentError::UnknownQuestion { question: params.question }.into());
    }
    let keep = params.keep_location.unwrap_or(false);
    let bytes = body.to_vec();
    let clean = tokio::task::spawn_blocking(move || vigie_domain::photo::clean(&bytes, keep))
        .await
        .map_err(|_| ApiError::internal())??;
    let photo = NewPhoto {
        assessment_id: assessment.id.clone(),
        question_id: params.question,
        content_type: clean.content_type.to_owned(),
        bytes: clean.bytes,
        location_kept: keep,
    };
    let stored = state.store.add_photo(&write_context(&caller), &photo).await?;
    let mut value = serde_json::to_value(&stored).map_err(|_| ApiError::internal())?;
    value["location_removed"] = json!(clean.location_removed);
    Ok((StatusCode::CREATED, Json(value)).into_response())
}

async fn get_photo(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let photo = state.store.get_photo(&id).await?.ok_or_else(|| ApiError::not_found("photo"))?;
    let assessment =
        readable_assessment(&state, &caller, &photo.assessment_id).await.map_err(|_| ApiError::not_found("photo"))?;
    let bytes = state.store.photo_bytes(&photo).await?;
    state
        .audit
        .read(
            &caller,
            now_ms(),
            "photo",
            Some(&photo.id),
            json!({"assessment_id": assessment.id, "org_id": assessment.org_id}),
        )
        .await?;
    Ok((
        [
            (header::CONTENT_TYPE, photo.content_type),
            (header::CACHE_CONTROL, "private, max-age=3600".to_owned()),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
        ],
        bytes,
    )
        .into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TransitionBody {
    to: String,
}

async fn transition(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<TransitionBody>,
) -> Result<Json<Value>, ApiError> {
    let assessment = readable_assessment(&state, &caller, &id).await?;
    let to = AssessmentStatus::from_key(&body.to)?;
    rules::check_transition(&caller, &assessment.org_id, assessment.status, to, assessment.submitted_by.as_deref())?;
    let mut data = TransitionData::default();
    if to == AssessmentStatus::Validated {
        let m = pinned_methodology(&assessment)?;
        let answers = answer_ids(&state.store.assessment_answers(&assessment.id).await?);
        let report = vigie_assessment::score(m, &input_of(&assessment, answers))?;
        let now = now_ms();
        data.due_at_ms = Some(rules::reassessment_due_ms(now, state.config.reassessment_days));
        data.protective_measures_index = report.protective_measures_index;
        data.summary = Some(summary_of(&report));
    }
    let moved = state
        .store
        .transition_assessment(&write_context(&caller), &assessment.id, assessment.status, to, &data)
        .await?;
    Ok(Json(assessment_json(&moved, None)))
}

/// What dashboards need of a validated assessment: the risk of each scenario and the worst.
fn summary_of(report: &vigie_assessment::ScoreReport<'_>) -> Value {
    let scenarios: Vec<Value> = report
        .scenarios
        .iter()
        .filter_map(|s| {
            Some(json!({"id": s.id, "risk": s.risk?, "band": s.risk_band?, "vulnerability": s.vulnerability}))
        })
        .collect();
    let worst = report.scenarios.iter().filter_map(|s| Some((s.risk?, s.risk_band?))).max_by_key(|(risk, _)| *risk);
    json!({
        "protective_measures_index": report.protective_measures_index,
        "max_risk": worst.map(|w| w.0),
        "max_risk_band": worst.map(|w| w.1),
        "scenarios": scenarios,
    })
}

/// Adds the names of scenarios, domains, questions and measures in `lang` next to their ids.
fn with_names(m: &Methodology, lang: Lang, mut report: Value) -> Value {
    let view = m.view(lang);
    let scenario_names: BTreeMap<&str, &str> = view.scenarios.iter().map(|s| (s.id, s.name)).collect();
    let domain_names: BTreeMap<&str, &str> = view.domains.iter().map(|d| (d.id, d.name)).collect();
    let band_names: BTreeMap<&str, &str> = view.risk_bands.iter().map(|b| (b.id, b.name)).collect();
    let measure_labels: BTreeMap<&str, &str> =
        view.questions.iter().flat_map(|q| q.measures.iter().map(|me| (me.id, me.label))).collect();
    let question_texts: BTreeMap<&str, &str> = view.questions.iter().map(|q| (q.id, q.text)).collect();
    let name = |names: &BTreeMap<&str, &str>, id: &Value| {
        id.as_str().and_then(|i| names.get(i)).map(|n| json!(n)).unwrap_or(Value::Null)
    };
    if let Some(scenarios) = report["scenarios"].as_array_mut() {
        for s in scenarios {
            s["name"] = name(&scenario_names, &s["id"]);
            s["risk_band_name"] = name(&band_names, &s["risk_band"]);
        }
    }
    if let Some(domains) = report["domains"].as_array_mut() {
        for d in domains {
            d["name"] = name(&domain_names, &d["id"]);
        }
    }
    if let Some(actions) = report["actions"].as_array_mut() {
        for a in actions {
            a["label"] = name(&measure_labels, &a["measure"]);
            a["question_text"] = name(&question_texts, &a["question"]);
        }
    }
    report
}

const VEHICLE_SCENARIO: &str = "vehicle_as_weapon";

/// What the site's latest vehicle study says about the vehicle scenario: per class, the highest
/// impact speed over the access points and where. Shown next to the assessor's answers (it
/// does not change the score: the answers say what is in place, the study what it must stop).
fn hvm_evidence(study: &vigie_store::HvmStudy) -> Value {
    let points = study.result["access_points"].as_array().map(Vec::as_slice).unwrap_or_default();
    let mut worst: BTreeMap<String, (f64, Value)> = BTreeMap::new();
    for point in points {
        for (class, impact) in point["vehicles"].as_object().into_iter().flatten() {
            let speed = impact["speed_kmh"].as_f64().unwrap_or(0.0);
            if worst.get(class).is_none_or(|(best, _)| speed > *best) {
                worst.insert(class.clone(), (speed, point["id"].clone()));
            }
        }
    }
    json!({
        "study_id": study.id,
        "created_at_ms": study.created_at_ms,
        "access_points": points.len(),
        "assumed_barriers": study.result["assumed_barriers"].as_array().map_or(0, Vec::len),
        "max_impact": worst.into_iter().map(|(class, (speed, point))| json!({"vehicle": class, "speed_kmh": speed, "access_point": point})).collect::<Vec<_>>(),
    })
}

async fn score(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    ApiQuery(params): ApiQuery<LangParam>,
) -> Result<Json<Value>, ApiError> {
    let lang = lang_of(params.lang.as_deref())?;
    let assessment = readable_assessment(&state, &caller, &id).await?;
    let m = pinned_methodology(&assessment)?;
    let answers = answer_ids(&state.store.assessment_answers(&assessment.id).await?);
    let report = vigie_assessment::score(m, &input_of(&assessment, answers))?;
    let peers = state.store.peer_indexes(assessment.site.category, &assessment.id).await?;
    let percentile = match report.protective_measures_index {
        Some(index) if peers.len() >= MIN_PEERS => vigie_assessment::percentile(index, &peers),
        _ => None,
    };
    let mut report_json = with_names(m, lang, serde_json::to_value(&report).map_err(|_| ApiError::internal())?);
    if let Some(study) = state.store.latest_hvm_study(&assessment.site_id).await?
        && let Some(vehicle) =
            report_json["scenarios"].as_array_mut().and_then(|all| all.iter_mut().find(|s| s["id"] == VEHICLE_SCENARIO))
    {
        vehicle["hvm_evidence"] = hvm_evidence(&study);
    }
    state
        .audit
        .read(&caller, now_ms(), "assessment_score", Some(&assessment.id), json!({"org_id": assessment.org_id}))
        .await?;
    Ok(Json(json!({
        "assessment_id": assessment.id,
        "status": assessment.status,
        "report": report_json,
        "peer_percentile": percentile,
        "peers": peers.len(),
        "min_peers": MIN_PEERS,
    })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WhatIfBody {
    measures: Vec<String>,
    #[serde(default)]
    lang: Option<String>,
}

async fn what_if(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<WhatIfBody>,
) -> Result<Json<Value>, ApiError> {
    let lang = lang_of(body.lang.as_deref())?;
    let assessment = readable_assessment(&state, &caller, &id).await?;
    let m = pinned_methodology(&assessment)?;
    let answers = answer_ids(&state.store.assessment_answers(&assessment.id).await?);
    let result = vigie_assessment::what_if(m, &input_of(&assessment, answers), &body.measures)?;
    let mut value = serde_json::to_value(&result).map_err(|_| ApiError::internal())?;
    for side in ["before", "after"] {
        value[side] = with_names(m, lang, value[side].take());
    }
    state
        .audit
        .read(
            &caller,
            now_ms(),
            "assessment_score",
            Some(&assessment.id),
            json!({"org_id": assessment.org_id, "what_if": body.measures}),
        )
        .await?;
    Ok(Json(value))
}

/// The body of an action (create and update). `version`: the one last read (updates only).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ActionBody {
    title: String,
    #[serde(default)]
    owner: Option<String>,
    #[serde(default)]
    due_date: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    evidence: Option<String>,
    #[serde(default)]
    question_id: Option<String>,
    #[serde(default)]
    scenario_id: Option<String>,
    #[serde(default)]
    measure_id: Option<String>,
    #[serde(default)]
    version: Option<i64>,
}

fn optional_text(field: &str, value: Option<String>, max: usize) -> Result<Option<String>, ApiError> {
    let value = value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    if let Some(v) = &value {
        check_text(field, &v.replace(['\n', '\r', '\t'], " "))?;
        if v.chars().count() > max {
            return Err(DomainError::validation(field, format!("at most {max} characters")).into());
        }
    }
    Ok(value)
}

impl ActionBody {
    fn into_fields(self, m: &Methodology) -> Result<(ActionFields, Option<i64>), ApiError> {
        let title = optional_text("title", Some(self.title), 300)?
            .ok_or_else(|| DomainError::validation("title", "an action needs a title"))?;
        let due_date = optional_text("due_date", self.due_date, 10)?;
        if let Some(date) = &due_date {
            rules::check_date("due_date", date)?;
        }
        if let Some(q) = &self.question_id
            && m.question(q).is_none()
        {
            return Err(AssessmentError::UnknownQuestion { question: q.clone() }.into());
        }
        if let Some(s) = &self.scenario_id
            && !m.scenarios.iter().any(|sc| &sc.id == s)
        {
            return Err(DomainError::validation("scenario_id", format!("unknown scenario '{s}'")).into());
        }
        if let Some(measure) = &self.measure_id
            && !m.questions.iter().any(|q| q.measures.iter().any(|me| &me.id == measure))
        {
            return Err(AssessmentError::UnknownMeasure { measure: measure.clone() }.into());
        }
        let fields = ActionFields {
            title,
            owner: optional_text("owner", self.owner, 200)?,
            due_date,
            status: self.status.as_deref().map(ActionStatus::from_key).transpose()?.unwrap_or(ActionStatus::Open),
            evidence: optional_text("evidence", self.evidence, 4_000)?,
            question_id: self.question_id,
            scenario_id: self.scenario_id,
            measure_id: self.measure_id,
        };
        Ok((fields, self.version))
    }
}

/// The plan: its actions, progress, and the risk now and once the pending actions are done.
async fn plan_json(state: &AppState, assessment: &Assessment) -> Result<Value, ApiError> {
    let m = pinned_methodology(assessment)?;
    let actions = state.store.assessment_actions(&assessment.id).await?;
    let answers = answer_ids(&state.store.assessment_answers(&assessment.id).await?);
    let pending_measures: Vec<String> = actions
        .iter()
        .filter(|a| a.fields.status.is_pending())
        .filter_map(|a| a.fields.measure_id.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let result = vigie_assessment::what_if(m, &input_of(assessment, answers), &pending_measures)?;
    let risks = |report: &vigie_assessment::ScoreReport<'_>| -> Vec<Value> {
        report
            .scenarios
            .iter()
            .filter_map(|s| {
                Some(json!({"id": s.id, "risk": s.risk?, "risk_band": s.risk_band?, "vulnerability": s.vulnerability}))
            })
            .collect()
    };
    let count = |status: ActionStatus| actions.iter().filter(|a| a.fields.status == status).count();
    let counted = actions.len() - count(ActionStatus::Cancelled);
    let done = count(ActionStatus::Done);
    Ok(json!({
        "assessment_id": assessment.id,
        "actions": actions,
        "progress": {
            "total": actions.len(),
            "open": count(ActionStatus::Open),
            "in_progress": count(ActionStatus::InProgress),
            "done": done,
            "cancelled": count(ActionStatus::Cancelled),
            "percent_done": (done * 100 + counted / 2).checked_div(counted),
        },
        "pending_measures": pending_measures,
        "risk_now": risks(&result.before),
        "risk_after_pending_actions": risks(&result.after),
        "protective_measures_index_now": result.before.protective_measures_index,
        "protective_measures_index_after": result.after.protective_measures_index,
    }))
}

async fn action_plan(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let assessment = readable_assessment(&state, &caller, &id).await?;
    let plan = plan_json(&state, &assessment).await?;
    state
        .audit
        .read(&caller, now_ms(), "action_plan", Some(&assessment.id), json!({"org_id": assessment.org_id}))
        .await?;
    Ok(Json(plan))
}

async fn create_action(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ActionBody>,
) -> Result<Response, ApiError> {
    let assessment = writable_assessment(&state, &caller, &id).await?;
    let (fields, _) = body.into_fields(pinned_methodology(&assessment)?)?;
    let action = state.store.create_action(&write_context(&caller), &assessment.id, &fields).await?;
    Ok((StatusCode::CREATED, Json(action)).into_response())
}

async fn update_action(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ActionBody>,
) -> Result<Json<Action>, ApiError> {
    let action = state.store.get_action(&id).await?.ok_or_else(|| ApiError::not_found("action"))?;
    let assessment =
        readable_assessment(&state, &caller, &action.assessment_id).await.map_err(|_| ApiError::not_found("action"))?;
    if !caller.can_write_org(&assessment.org_id) {
        return Err(ApiError::forbidden("you may read this action plan but not change it"));
    }
    let (fields, version) = body.into_fields(pinned_methodology(&assessment)?)?;
    let version = version.ok_or_else(|| {
        DomainError::validation("version", "send the version of the action you last read, to detect concurrent edits")
    })?;
    Ok(Json(state.store.update_action(&write_context(&caller), &action.id, &fields, version).await?))
}

/// Sites by risk band (their latest validated assessment), re-assessments due within 90 days
/// or overdue, and pending actions soonest due first.
async fn dashboard(State(state): State<AppState>, Caller(caller): Caller) -> Result<Json<Value>, ApiError> {
    let readable = caller.readable_orgs();
    let validated = state.store.assessments_by_status(readable.as_deref(), AssessmentStatus::Validated).await?;
    let mut latest: BTreeMap<&str, &Assessment> = BTreeMap::new();
    for a in &validated {
        let newer = latest.get(a.site_id.as_str()).is_none_or(|b| a.validated_at_ms > b.validated_at_ms);
        if newer {
            latest.insert(&a.site_id, a);
        }
    }
    let mut by_band: BTreeMap<String, u64> = BTreeMap::new();
    let mut sites = Vec::new();
    let now = now_ms();
    let horizon = now + 90 * 86_400_000;
    let mut due = Vec::new();
    let ids: Vec<&str> = latest.keys().copied().collect();
    let names = state.store.site_names(&ids).await?;
    for a in latest.values() {
        let band = a.summary.as_ref().and_then(|s| s["max_risk_band"].as_str()).unwrap_or("unknown").to_owned();
        *by_band.entry(band.clone()).or_default() += 1;
        let name = names.get(&a.site_id);
        sites.push(json!({"site_id": a.site_id, "site_name": name, "assessment_id": a.id, "max_risk": a.summary.as_ref().map(|s| s["max_risk"].clone()), "max_risk_band": band, "due_at_ms": a.due_at_ms}));
        if a.due_at_ms.is_some_and(|d| d <= horizon) {
            due.push(json!({"site_id": a.site_id, "site_name": name, "assessment_id": a.id, "due_at_ms": a.due_at_ms, "overdue": a.due_at_ms.is_some_and(|d| d <= now)}));
        }
    }
    due.sort_by_key(|d| d["due_at_ms"].as_i64());
    let actions = state.store.pending_actions(readable.as_deref(), 50).await?;
    state.audit.read(&caller, now, "dashboard", None, json!({"sites": sites.len(), "actions": actions.len()})).await?;
    Ok(Json(
        json!({"sites_by_risk_band": by_band, "sites": sites, "reassessments_due": due, "pending_actions": actions}),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_vehicle_evidence_keeps_the_fastest_impact_of_each_class() {
        let impact = |speed: f64| json!({"speed_kmh": speed, "energy_kj": 1.0, "run_up_m": 10.0, "angle_deg": 90.0, "path": [], "path_speeds_kmh": []});
        let study = vigie_store::HvmStudy {
            id: "study".into(),
            site_id: "site".into(),
            org_id: "org".into(),
            created_at_ms: 5,
            created_by: "u".into(),
            vehicles_version: "v".into(),
            network: "helsinki".into(),
            result: json!({
                "access_points": [
                    {"id": "AP1", "vehicles": {"M1": impact(48.0), "N3C": impact(31.5)}},
                    {"id": "AP2", "vehicles": {"M1": impact(52.5), "N3C": impact(30.0)}},
                ],
                "assumed_barriers": [{"osm_node": 1}],
            }),
        };
        let evidence = hvm_evidence(&study);
        assert_eq!(evidence["access_points"], 2);
        assert_eq!(evidence["assumed_barriers"], 1);
        assert_eq!(
            evidence["max_impact"],
            json!([{"vehicle": "M1", "speed_kmh": 52.5, "access_point": "AP2"}, {"vehicle": "N3C", "speed_kmh": 31.5, "access_point": "AP1"}])
        );
    }
}
