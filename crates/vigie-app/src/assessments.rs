//! Assessments: starting one for a site, answers, photos, status changes, scores with
//! explanations, what-if, the action plan and the dashboard. Assessments say where a site is
//! weak: every read is audited, and a caller who may not see one gets the same "not found" as
//! for a missing one.
use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};
use vigie_assessment::{AssessmentError, AssessmentInput, Methodology, SiteContext};
use vigie_domain::access::Principal;
use vigie_domain::assessment::{self as rules, ActionStatus, AssessmentStatus, GpsPoint};
use vigie_domain::site::{Lang, check_text};
use vigie_domain::{ActionId, AssessmentId, DomainError, PhotoId, SiteId};
use vigie_store::{
    Action, ActionFields, AnswerContent, AnswerWrite, AssessedSite, Assessment, AssessmentSummary, HvmStudy,
    NewAssessment, NewPhoto, Photo, ScenarioRisk, StoredAnswer, TransitionData,
};

use crate::{App, Code, Failure, Result, blocking};

/// Largest photo accepted: a phone photo is 2–6 MB.
pub const MAX_PHOTO_BYTES: usize = 10 * 1024 * 1024;
/// Fewer validated peers than this and the percentile would tell too much about each of them.
pub const MIN_PEERS: usize = 5;
const MAX_NOTE_CHARS: usize = 4_000;
/// The dashboard lists re-assessments due within this many days (and overdue ones).
const DUE_HORIZON_DAYS: i64 = 90;
const VEHICLE_SCENARIO: &str = "vehicle_as_weapon";

/// The methodology this server carries.
pub fn methodology() -> Result<&'static Methodology> {
    Methodology::embedded().map_err(|err| {
        tracing::error!(error = %err, "the embedded methodology is unreadable");
        Failure::internal()
    })
}

/// The methodology an assessment pinned: the current one or an earlier version this server
/// still carries, so that an assessment keeps the results of the version it was made with.
pub(crate) fn pinned_methodology(assessment: &Assessment) -> Result<&'static Methodology> {
    let pinned = Methodology::embedded_version(&assessment.methodology_version).map_err(|err| {
        tracing::error!(error = %err, "the embedded methodology is unreadable");
        Failure::internal()
    })?;
    pinned.ok_or_else(|| {
        Failure::new(
            Code::MethodologyVersionUnavailable,
            format!(
                "this assessment was made with methodology {}, which this server does not carry (it has {})",
                assessment.methodology_version,
                methodology().map(|m| m.version.as_str()).unwrap_or("none")
            ),
        )
    })
}

/// The language a caller asked for: English unless `fr`.
pub fn lang_of(param: Option<&str>) -> Result<Lang> {
    match param {
        None | Some("en") => Ok(Lang::En),
        Some("fr") => Ok(Lang::Fr),
        Some(other) => {
            Err(DomainError::validation("lang", format!("'{other}' is not a language of Vigie; use en or fr")).into())
        }
    }
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

/// The threat level an assessment is scored with: the one an authority set for the site when
/// one is in force, else the one given when the assessment started.
#[derive(Debug, Clone)]
pub struct ScoringLevel {
    pub level: u8,
    pub decision: Option<vigie_domain::threat_level::ThreatLevel>,
}

impl ScoringLevel {
    fn to_json(&self) -> Value {
        match &self.decision {
            None => json!({"level": self.level, "source": "assessment"}),
            Some(d) => json!({"level": self.level, "source": "authority", "threat_level_id": d.id, "org_id": d.org_id,
                "reason": d.draft.reason, "effective": vigie_domain::bulletin::rfc3339(d.draft.effective_ms)}),
        }
    }
}

fn answer_ids(answers: &BTreeMap<String, StoredAnswer>) -> BTreeMap<String, String> {
    answers.iter().map(|(q, a)| (q.clone(), a.content.answer.clone())).collect()
}

/// Starting an assessment: the national threat level, 1 (low) … 5 (critical); people on site
/// at peak (the site's own figure when absent); visibility, 1 (local) … 5 (national or world
/// icon).
#[derive(Debug, Clone)]
pub struct NewAssessmentRequest {
    pub threat_level: u8,
    pub occupancy: Option<u32>,
    pub visibility: Option<u8>,
}

/// One answer as a client sends it. `base_version`: the version of this answer the client last
/// saw (0 for none); when the stored one differs, the write is refused as a conflict.
#[derive(Debug, Clone)]
pub struct AnswerDraft {
    pub question_id: String,
    pub answer: String,
    pub note: Option<String>,
    pub observed_at_ms: Option<i64>,
    pub gps: Option<GpsPoint>,
    pub base_version: Option<i64>,
}

impl AnswerDraft {
    fn into_write(self) -> Result<AnswerWrite> {
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
            question_id: self.question_id,
            content: AnswerContent { answer: self.answer, note, observed_at_ms: self.observed_at_ms, gps: self.gps },
            base_version: self.base_version,
        })
    }
}

/// An assessment with its answers and photos.
pub struct AssessmentRecord {
    pub assessment: Assessment,
    pub answers: BTreeMap<String, StoredAnswer>,
    pub photos: Vec<Photo>,
}

/// A photo just stored, and whether its location was removed from it.
pub struct StoredPhoto {
    pub photo: Photo,
    pub location_removed: bool,
}

/// The body of an action (create and update). `version`: the one last read (updates only).
#[derive(Debug, Clone, Default)]
pub struct ActionDraft {
    pub title: String,
    pub owner: Option<String>,
    /// A user of the assessment's organisation who owns the action.
    pub owner_user_id: Option<String>,
    pub due_date: Option<String>,
    pub status: Option<String>,
    pub evidence: Option<String>,
    pub question_id: Option<String>,
    pub scenario_id: Option<String>,
    pub measure_id: Option<String>,
    pub version: Option<i64>,
}

fn optional_text(field: &str, value: Option<String>, max: usize) -> Result<Option<String>> {
    let value = value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    if let Some(v) = &value {
        check_text(field, &v.replace(['\n', '\r', '\t'], " "))?;
        if v.chars().count() > max {
            return Err(DomainError::validation(field, format!("at most {max} characters")).into());
        }
    }
    Ok(value)
}

impl ActionDraft {
    fn into_fields(self, m: &Methodology) -> Result<(ActionFields, Option<i64>)> {
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
            owner_user_id: self
                .owner_user_id
                .map(|id| id.trim().to_owned())
                .filter(|id| !id.is_empty())
                .map(Into::into),
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

/// What dashboards need of a validated assessment: the risk of each scenario and the worst.
fn summary_of(report: &vigie_assessment::ScoreReport<'_>) -> AssessmentSummary {
    let scenarios: Vec<ScenarioRisk> = report
        .scenarios
        .iter()
        .filter_map(|s| {
            Some(ScenarioRisk {
                band: s.risk_band?.to_owned(),
                id: s.id.to_owned(),
                risk: s.risk?,
                vulnerability: s.vulnerability,
            })
        })
        .collect();
    let worst = report.scenarios.iter().filter_map(|s| Some((s.risk?, s.risk_band?))).max_by_key(|(risk, _)| *risk);
    AssessmentSummary {
        completeness: Some(report.completeness),
        incomplete_reason: None,
        protective_measures_index: report.protective_measures_index,
        max_risk: worst.map(|w| w.0),
        max_risk_band: worst.map(|w| w.1.to_owned()),
        scenarios,
    }
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

/// What the site's latest vehicle study says about the vehicle scenario: per class, the highest
/// impact speed over the access points and where. Shown next to the assessor's answers (it
/// does not change the score: the answers say what is in place, the study what it must stop).
fn hvm_evidence(study: &HvmStudy) -> Value {
    let mut worst: BTreeMap<&str, (f64, &str)> = BTreeMap::new();
    for point in &study.summary.access_points {
        for (class, speed) in &point.speed_kmh {
            if worst.get(class.as_str()).is_none_or(|(best, _)| speed > best) {
                worst.insert(class, (*speed, &point.id));
            }
        }
    }
    json!({
        "study_id": study.id,
        "created_at_ms": study.created_at_ms,
        "access_points": study.summary.access_points.len(),
        "assumed_barriers": study.summary.assumed_barriers,
        "max_impact": worst.into_iter().map(|(class, (speed, point))| json!({"vehicle": class, "speed_kmh": speed, "access_point": point})).collect::<Vec<_>>(),
    })
}

fn to_json(value: impl serde::Serialize) -> Result<Value> {
    serde_json::to_value(value).map_err(|_| Failure::internal())
}

impl App {
    /// The level to score an assessment with now.
    async fn scoring_level(&self, assessment: &Assessment) -> Result<ScoringLevel> {
        Ok(match self.level_in_force_at(&assessment.site_id).await? {
            Some(decision) => ScoringLevel { level: decision.draft.level, decision: Some(decision) },
            None => ScoringLevel { level: assessment.threat_level, decision: None },
        })
    }

    /// The input of an assessment's score, at the level in force.
    async fn scoring_input(&self, assessment: &Assessment) -> Result<(AssessmentInput, ScoringLevel)> {
        let level = self.scoring_level(assessment).await?;
        let answers = self.answers_of(assessment).await?;
        Ok((input(&assessment.methodology_version, &assessment.site, level.level, answers), level))
    }

    /// A validated assessment's summary scored again at `level` (its validation reason kept).
    pub(crate) async fn rescored_summary(&self, assessment: &Assessment, level: u8) -> Result<AssessmentSummary> {
        let m = pinned_methodology(assessment)?;
        let answers = self.answers_of(assessment).await?;
        let report =
            vigie_assessment::score(m, &input(&assessment.methodology_version, &assessment.site, level, answers))?;
        let mut summary = summary_of(&report);
        summary.incomplete_reason = assessment.summary.as_ref().and_then(|s| s.incomplete_reason.clone());
        Ok(summary)
    }

    /// Loads an assessment the caller may read; otherwise "not found", whether or not it
    /// exists. Not audited: callers audit what they show.
    async fn readable_assessment(&self, caller: &Principal, id: &AssessmentId) -> Result<Assessment> {
        match self.store.get_assessment(id).await? {
            Some(a) if rules::can_read(caller, &a.org_id) => Ok(a),
            _ => Err(Failure::not_found("assessment")),
        }
    }

    async fn writable_assessment(&self, caller: &Principal, id: &AssessmentId) -> Result<Assessment> {
        let assessment = self.readable_assessment(caller, id).await?;
        if !caller.can_write_org(&assessment.org_id) {
            return Err(Failure::forbidden("you may read this assessment but not change it"));
        }
        Ok(assessment)
    }

    async fn answers_of(&self, assessment: &Assessment) -> Result<BTreeMap<String, String>> {
        Ok(answer_ids(&self.store.assessment_answers(&assessment.id).await?))
    }

    pub async fn start_assessment(
        &self,
        caller: &Principal,
        site_id: &SiteId,
        request: NewAssessmentRequest,
    ) -> Result<Assessment> {
        let site = self.readable_site(caller, site_id).await?;
        if !caller.can_write_org(&site.org_id) {
            return Err(Failure::forbidden("you may read this site but not assess it"));
        }
        let occupancy = request.occupancy.or(site.peak_occupancy).ok_or_else(|| {
            DomainError::validation(
                "occupancy",
                "the site has no peak occupancy on record: give the number of people expected at peak",
            )
        })?;
        let m = methodology()?;
        let new = NewAssessment {
            site_id: site.id.clone(),
            org_id: site.org_id.clone(),
            methodology_version: m.version.clone(),
            threat_level: request.threat_level,
            site: AssessedSite {
                category: site.category,
                occupancy,
                area_m2: site.area_m2,
                visibility: request.visibility,
            },
        };
        // Scoring the empty assessment checks the threat level and the site's figures the same
        // way every later score will.
        vigie_assessment::score(m, &input(&new.methodology_version, &new.site, new.threat_level, BTreeMap::new()))?;
        Ok(self.store.create_assessment(&self.write_context(caller), &new).await?)
    }

    /// The assessments of a site.
    pub async fn site_assessments(&self, caller: &Principal, site_id: &SiteId) -> Result<Vec<Assessment>> {
        let site = self.readable_site(caller, site_id).await?;
        let items = self.store.site_assessments(&site.id).await?;
        let ids: Vec<&str> = items.iter().map(|a| a.id.as_str()).collect();
        self.audit_read(caller, "assessment", None, json!({"site_id": site.id, "list": ids})).await?;
        Ok(items)
    }

    /// An assessment with its answers and photos.
    pub async fn assessment(&self, caller: &Principal, id: &AssessmentId) -> Result<AssessmentRecord> {
        let assessment = self.readable_assessment(caller, id).await?;
        let answers = self.store.assessment_answers(&assessment.id).await?;
        let photos = self.store.assessment_photos(&assessment.id).await?;
        self.audit_read(caller, "assessment", Some(&assessment.id), json!({"org_id": assessment.org_id})).await?;
        Ok(AssessmentRecord { assessment, answers, photos })
    }

    /// What the caller may do with an assessment: `(write answers and actions, validate)`;
    /// `None` when it is missing or unreadable. For pages to offer only those buttons (each
    /// use case checks again).
    pub async fn assessment_rights(&self, caller: &Principal, id: &AssessmentId) -> Result<Option<(bool, bool)>> {
        Ok(self
            .store
            .get_assessment(id)
            .await?
            .filter(|a| rules::can_read(caller, &a.org_id))
            .map(|a| (caller.can_write_org(&a.org_id), rules::can_validate(caller, &a.org_id))))
    }

    /// Writes answers after checking them against the pinned methodology (unknown question or
    /// answer, N/A where it cannot apply, a question for another category) by scoring the
    /// assessment as it would be.
    pub async fn write_answers(
        &self,
        caller: &Principal,
        id: &AssessmentId,
        drafts: Vec<AnswerDraft>,
    ) -> Result<Vec<StoredAnswer>> {
        let writes = drafts.into_iter().map(AnswerDraft::into_write).collect::<Result<Vec<_>>>()?;
        let assessment = self.writable_assessment(caller, id).await?;
        let m = pinned_methodology(&assessment)?;
        let mut answers = self.answers_of(&assessment).await?;
        for write in &writes {
            answers.insert(write.question_id.clone(), write.content.answer.clone());
        }
        // Scoring checks the answers; the level does not change what is valid.
        vigie_assessment::score(
            m,
            &input(&assessment.methodology_version, &assessment.site, assessment.threat_level, answers),
        )?;
        Ok(self.store.put_answers(&self.write_context(caller), &assessment.id, &writes).await?)
    }

    /// Stores a photo of the answer to `question_id`, with its metadata (and, unless
    /// `keep_location`, its GPS position) removed.
    pub async fn add_photo(
        &self,
        caller: &Principal,
        id: &AssessmentId,
        question_id: String,
        keep_location: bool,
        bytes: Vec<u8>,
    ) -> Result<StoredPhoto> {
        let assessment = self.writable_assessment(caller, id).await?;
        let m = pinned_methodology(&assessment)?;
        if m.question(&question_id).is_none() {
            return Err(AssessmentError::UnknownQuestion { question: question_id }.into());
        }
        let clean = blocking(move || vigie_domain::photo::clean(&bytes, keep_location)).await??;
        let photo = NewPhoto {
            assessment_id: assessment.id.clone(),
            question_id,
            content_type: clean.content_type.to_owned(),
            bytes: clean.bytes,
            location_kept: keep_location,
        };
        let stored = self.store.add_photo(&self.write_context(caller), &photo).await?;
        Ok(StoredPhoto { photo: stored, location_removed: clean.location_removed })
    }

    /// A photo and its bytes.
    pub async fn photo(&self, caller: &Principal, id: &PhotoId) -> Result<(Photo, Vec<u8>)> {
        let photo = self.store.get_photo(id).await?.ok_or_else(|| Failure::not_found("photo"))?;
        let assessment =
            self.readable_assessment(caller, &photo.assessment_id).await.map_err(|_| Failure::not_found("photo"))?;
        let bytes = self.store.photo_bytes(&photo).await?;
        self.audit_read(
            caller,
            "photo",
            Some(&photo.id),
            json!({"assessment_id": assessment.id, "org_id": assessment.org_id}),
        )
        .await?;
        Ok((photo, bytes))
    }

    /// Moves an assessment along draft → submitted → validated → archived. Validating scores it
    /// and sets the date the next assessment is due; validating one with unanswered questions
    /// needs a `reason`, kept with its summary.
    pub async fn transition_assessment(
        &self,
        caller: &Principal,
        id: &AssessmentId,
        to: &str,
        reason: Option<&str>,
    ) -> Result<Assessment> {
        let assessment = self.readable_assessment(caller, id).await?;
        let to = AssessmentStatus::from_key(to)?;
        rules::check_transition(caller, &assessment.org_id, assessment.status, to, assessment.submitted_by.as_deref())?;
        let mut data = TransitionData::default();
        if to == AssessmentStatus::Validated {
            let m = pinned_methodology(&assessment)?;
            let (input, _) = self.scoring_input(&assessment).await?;
            let report = vigie_assessment::score(m, &input)?;
            let reason = reason.map(str::trim).filter(|r| !r.is_empty());
            let mut summary = summary_of(&report);
            if report.provisional {
                let reason = reason.ok_or_else(|| {
                    Failure::new(
                        Code::IncompleteReasonRequired,
                        format!(
                            "{} of the {} applicable questions are unanswered and count as \"nothing in place\": \
                             give the reason for validating it as it is, or send it back to be completed",
                            report.completeness.unanswered, report.completeness.applicable
                        ),
                    )
                    .with_details(json!({"unanswered": report.completeness.unanswered, "applicable": report.completeness.applicable}))
                })?;
                summary.incomplete_reason = optional_text("reason", Some(reason.to_owned()), MAX_NOTE_CHARS)?;
            }
            data.due_at_ms = Some(rules::reassessment_due_ms(self.now_ms(), self.settings.reassessment_days));
            data.protective_measures_index = report.protective_measures_index;
            data.summary = Some(summary);
        }
        Ok(self
            .store
            .transition_assessment(&self.write_context(caller), &assessment.id, assessment.status, to, &data)
            .await?)
    }

    /// The score with explanations, names in `lang`, the peer percentile (when there are
    /// enough peers) and the site's vehicle study as evidence for the vehicle scenario.
    pub async fn score(&self, caller: &Principal, id: &AssessmentId, lang: Lang) -> Result<Value> {
        let assessment = self.readable_assessment(caller, id).await?;
        let m = pinned_methodology(&assessment)?;
        let (input, level) = self.scoring_input(&assessment).await?;
        let report = vigie_assessment::score(m, &input)?;
        let peers = self.store.peer_indexes(assessment.site.category, &assessment.id).await?;
        let percentile = match report.protective_measures_index {
            Some(index) if peers.len() >= MIN_PEERS => vigie_assessment::percentile(index, &peers),
            _ => None,
        };
        let mut report_json = with_names(m, lang, to_json(&report)?);
        if let Some(study) = self.store.latest_hvm_study(&assessment.site_id).await?
            && let Some(vehicle) = report_json["scenarios"]
                .as_array_mut()
                .and_then(|all| all.iter_mut().find(|s| s["id"] == VEHICLE_SCENARIO))
        {
            vehicle["hvm_evidence"] = hvm_evidence(&study);
        }
        self.audit_read(caller, "assessment_score", Some(&assessment.id), json!({"org_id": assessment.org_id})).await?;
        Ok(json!({
            "assessment_id": assessment.id,
            "status": assessment.status,
            "report": report_json,
            "threat_level": level.to_json(),
            "peer_percentile": percentile,
            "peers": peers.len(),
            "min_peers": MIN_PEERS,
        }))
    }

    /// The score before and after the given measures are in place.
    pub async fn what_if(
        &self,
        caller: &Principal,
        id: &AssessmentId,
        measures: &[String],
        lang: Lang,
    ) -> Result<Value> {
        let assessment = self.readable_assessment(caller, id).await?;
        let m = pinned_methodology(&assessment)?;
        let (input, _) = self.scoring_input(&assessment).await?;
        let result = vigie_assessment::what_if(m, &input, measures)?;
        let mut value = to_json(&result)?;
        for side in ["before", "after"] {
            value[side] = with_names(m, lang, value[side].take());
        }
        self.audit_read(
            caller,
            "assessment_score",
            Some(&assessment.id),
            json!({"org_id": assessment.org_id, "what_if": measures}),
        )
        .await?;
        Ok(value)
    }

    /// The plan: its actions, progress, and the risk now and once the pending actions are done.
    pub async fn action_plan(&self, caller: &Principal, id: &AssessmentId) -> Result<Value> {
        let assessment = self.readable_assessment(caller, id).await?;
        let m = pinned_methodology(&assessment)?;
        let actions = self.store.assessment_actions(&assessment.id).await?;
        let (input, _) = self.scoring_input(&assessment).await?;
        let pending_measures: Vec<String> = actions
            .iter()
            .filter(|a| a.fields.status.is_pending())
            .filter_map(|a| a.fields.measure_id.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let result = vigie_assessment::what_if(m, &input, &pending_measures)?;
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
        let plan = json!({
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
        });
        self.audit_read(caller, "action_plan", Some(&assessment.id), json!({"org_id": assessment.org_id})).await?;
        Ok(plan)
    }

    pub async fn create_action(
        &self,
        caller: &Principal,
        assessment_id: &AssessmentId,
        draft: ActionDraft,
    ) -> Result<Action> {
        let assessment = self.writable_assessment(caller, assessment_id).await?;
        let (fields, _) = draft.into_fields(pinned_methodology(&assessment)?)?;
        self.check_action_owner(&assessment, &fields).await?;
        Ok(self.store.create_action(&self.write_context(caller), &assessment.id, &fields).await?)
    }

    pub async fn update_action(&self, caller: &Principal, action_id: &ActionId, draft: ActionDraft) -> Result<Action> {
        let action = self.store.get_action(action_id).await?.ok_or_else(|| Failure::not_found("action"))?;
        let assessment =
            self.readable_assessment(caller, &action.assessment_id).await.map_err(|_| Failure::not_found("action"))?;
        if !caller.can_write_org(&assessment.org_id) {
            return Err(Failure::forbidden("you may read this action plan but not change it"));
        }
        let (fields, version) = draft.into_fields(pinned_methodology(&assessment)?)?;
        self.check_action_owner(&assessment, &fields).await?;
        let version = version.ok_or_else(|| {
            DomainError::validation(
                "version",
                "send the version of the action you last read, to detect concurrent edits",
            )
        })?;
        Ok(self.store.update_action(&self.write_context(caller), &action.id, &fields, version).await?)
    }

    /// An action's owner with an account is a user of the assessment's organisation.
    async fn check_action_owner(&self, assessment: &Assessment, fields: &ActionFields) -> Result<()> {
        let Some(id) = &fields.owner_user_id else { return Ok(()) };
        match self.store.user_by_id(id).await? {
            Some(user) if user.org_id == assessment.org_id => Ok(()),
            _ => Err(DomainError::validation(
                "owner_user_id",
                "the owner must be a user of the assessment's organisation (write other owners as text)",
            )
            .into()),
        }
    }

    /// The users who may own the actions of an assessment: its organisation's, for those who
    /// may write its plan (the results page offers them).
    pub async fn action_owners(
        &self,
        caller: &Principal,
        id: &AssessmentId,
    ) -> Result<Vec<vigie_domain::access::User>> {
        let assessment = self.writable_assessment(caller, id).await?;
        let users = self.store.list_users(Some(&assessment.org_id)).await?;
        Ok(users.into_iter().filter(|u| u.disabled_at_ms.is_none()).collect())
    }

    /// Sites by risk band (their latest validated assessment), re-assessments due within
    /// [`DUE_HORIZON_DAYS`] or overdue, pending actions soonest due first, and the caller's
    /// own open actions (`my_actions`).
    pub async fn dashboard(&self, caller: &Principal) -> Result<Value> {
        let readable = caller.readable_orgs();
        let validated = self.store.assessments_by_status(readable.as_deref(), AssessmentStatus::Validated).await?;
        let mut latest: BTreeMap<&SiteId, &Assessment> = BTreeMap::new();
        for a in &validated {
            let newer = latest.get(&a.site_id).is_none_or(|b| a.validated_at_ms > b.validated_at_ms);
            if newer {
                latest.insert(&a.site_id, a);
            }
        }
        let mut by_band: BTreeMap<String, u64> = BTreeMap::new();
        let mut sites = Vec::new();
        let now = self.now_ms();
        let horizon = now + DUE_HORIZON_DAYS * 86_400_000;
        let mut due = Vec::new();
        let ids: Vec<&SiteId> = latest.keys().copied().collect();
        let names = self.store.site_names(&ids).await?;
        for a in latest.values() {
            let band = a.summary.as_ref().and_then(|s| s.max_risk_band.as_deref()).unwrap_or("unknown").to_owned();
            *by_band.entry(band.clone()).or_default() += 1;
            let name = names.get(&a.site_id);
            let completeness = a.summary.as_ref().and_then(|s| s.completeness);
            sites.push(json!({"site_id": a.site_id, "site_name": name, "assessment_id": a.id, "max_risk": a.summary.as_ref().map(|s| s.max_risk), "max_risk_band": band, "due_at_ms": a.due_at_ms, "methodology_version": a.methodology_version, "completeness": completeness, "provisional": completeness.map(|c| c.provisional())}));
            if a.due_at_ms.is_some_and(|d| d <= horizon) {
                due.push(json!({"site_id": a.site_id, "site_name": name, "assessment_id": a.id, "due_at_ms": a.due_at_ms, "overdue": a.due_at_ms.is_some_and(|d| d <= now)}));
            }
        }
        due.sort_by_key(|d| d["due_at_ms"].as_i64());
        let actions = self.store.pending_actions(readable.as_deref(), 50).await?;
        // The caller's own actions, wherever they are (an owner may be told of an action of a
        // site they do not otherwise see).
        let mine = self.store.actions_owned_by(&caller.user_id, 100).await?;
        self.audit_read(
            caller,
            "dashboard",
            None,
            json!({"sites": sites.len(), "actions": actions.len(), "my_actions": mine.len()}),
        )
        .await?;
        Ok(
            json!({"sites_by_risk_band": by_band, "sites": sites, "reassessments_due": due, "pending_actions": actions, "my_actions": mine}),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn study_with(result: Value) -> HvmStudy {
        HvmStudy {
            id: "study".into(),
            site_id: "site".into(),
            org_id: "org".into(),
            created_at_ms: 5,
            created_by: "u".into(),
            vehicles_version: "v".into(),
            network: "helsinki".into(),
            summary: vigie_domain::hvm::HvmStudySummary::of(&result).unwrap(),
            result,
        }
    }

    #[test]
    fn the_vehicle_evidence_keeps_the_fastest_impact_of_each_class() {
        let impact = |speed: f64| json!({"speed_kmh": speed, "energy_kj": 1.0, "run_up_m": 10.0, "angle_deg": 90.0, "path": [], "path_speeds_kmh": []});
        let study = study_with(json!({
            "access_points": [
                {"id": "AP1", "vehicles": {"M1": impact(48.0), "N3C": impact(31.5)}},
                {"id": "AP2", "vehicles": {"M1": impact(52.5), "N3C": impact(30.0)}},
            ],
            "assumed_barriers": [{"osm_node": 1}],
        }));
        let evidence = hvm_evidence(&study);
        assert_eq!(evidence["access_points"], 2);
        assert_eq!(evidence["assumed_barriers"], 1);
        assert_eq!(
            evidence["max_impact"],
            json!([{"vehicle": "M1", "speed_kmh": 52.5, "access_point": "AP2"}, {"vehicle": "N3C", "speed_kmh": 31.5, "access_point": "AP1"}])
        );
    }
}
