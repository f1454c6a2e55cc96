//! The methodology: scenarios, domains, questions with graded answers and options for
//! consideration, and the scoring parameters. Read from the TOML files under `methodology/`,
//! embedded in the binary, and checked once at load: a methodology that loads is consistent.
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use vigie_domain::site::{Lang, SiteCategory};

use crate::error::AssessmentError;

/// The methodology files compiled into the binary: the header, then one file per domain (every
/// `methodology/questions/*.toml`, sorted by path; listed by `build.rs`).
const EMBEDDED_HEADER: (&str, &str) = ("methodology.toml", include_str!("../../../methodology/methodology.toml"));
include!(concat!(env!("OUT_DIR"), "/embedded_questions.rs"));

/// In a question's `scenarios`, the key that stands for every scenario not listed by name.
pub const ALL_SCENARIOS: &str = "all";
/// Highest answer grade: nothing in place.
pub const WORST_GRADE: u8 = 4;
/// Scenario weights of a question: 1 contributes, 2 important, 3 critical.
pub const MAX_WEIGHT: u8 = 3;

/// A text in both languages of the product.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Text {
    pub en: String,
    pub fr: String,
}

impl Text {
    pub fn get(&self, lang: Lang) -> &str {
        match lang {
            Lang::En => &self.en,
            Lang::Fr => &self.fr,
        }
    }
}

/// What a measure costs, roughly: low (< €5k or staff time), medium (< €50k), high (more).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CostBand {
    Low,
    Medium,
    High,
}

/// How much a measure changes the free, open character of the place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpennessImpact {
    None,
    Low,
    Medium,
    High,
}

impl CostBand {
    pub fn label(self, lang: Lang) -> &'static str {
        match (self, lang) {
            (CostBand::Low, Lang::En) => "Low cost",
            (CostBand::Low, Lang::Fr) => "Coût faible",
            (CostBand::Medium, Lang::En) => "Medium cost",
            (CostBand::Medium, Lang::Fr) => "Coût moyen",
            (CostBand::High, Lang::En) => "High cost",
            (CostBand::High, Lang::Fr) => "Coût élevé",
        }
    }
}

impl OpennessImpact {
    pub fn label(self, lang: Lang) -> &'static str {
        match (self, lang) {
            (OpennessImpact::None, Lang::En) => "No effect on openness",
            (OpennessImpact::None, Lang::Fr) => "Sans effet sur l'ouverture du lieu",
            (OpennessImpact::Low, Lang::En) => "Slight effect on openness",
            (OpennessImpact::Low, Lang::Fr) => "Effet léger sur l'ouverture du lieu",
            (OpennessImpact::Medium, Lang::En) => "Noticeable effect on openness",
            (OpennessImpact::Medium, Lang::Fr) => "Effet sensible sur l'ouverture du lieu",
            (OpennessImpact::High, Lang::En) => "Strong effect on openness",
            (OpennessImpact::High, Lang::Fr) => "Effet fort sur l'ouverture du lieu",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub id: String,
    /// A precursor (hostile reconnaissance) has a vulnerability but no risk of its own: it
    /// raises the likelihood of every other scenario.
    #[serde(default)]
    pub precursor: bool,
    pub prevalence: u8,
    pub severity: u8,
    pub name: Text,
    pub description: Text,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Domain {
    pub id: String,
    pub name: Text,
    pub description: Text,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RiskBand {
    pub id: String,
    /// Lowest risk in the band.
    pub min: u8,
    pub name: Text,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LikelihoodWeights {
    pub threat_level: u32,
    pub attractiveness: u32,
    pub prevalence: u32,
    pub vulnerability: u32,
    pub reconnaissance: u32,
}

/// The threat of one scenario at one site, each factor 1–5, weights in percent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThreatWeights {
    pub threat_level: u32,
    pub attractiveness: u32,
    pub prevalence: u32,
    pub reconnaissance: u32,
}

/// How a scenario's risk is formed (docs/methodology.md §8).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "formula", rename_all = "snake_case", deny_unknown_fields)]
pub enum RiskFormula {
    /// Version 2026.1: risk = likelihood × consequence (1–25), vulnerability one of the
    /// likelihood's weighted factors.
    LikelihoodConsequence { likelihood_weights: LikelihoodWeights },
    /// From version 2026.2: risk = threat × vulnerability × consequence (1–125), each 1–5.
    ThreatVulnerabilityConsequence { threat_weights: ThreatWeights },
}

impl RiskFormula {
    /// The highest risk the formula can give.
    pub fn max_risk(&self) -> u8 {
        match self {
            RiskFormula::LikelihoodConsequence { .. } => 25,
            RiskFormula::ThreatVulnerabilityConsequence { .. } => 125,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsequenceWeights {
    pub severity: u32,
    pub people_exposed: u32,
    pub crowd_density: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Parameters {
    pub action_threshold_grade: u8,
    pub risk: RiskFormula,
    pub consequence_weights: ConsequenceWeights,
    pub people_exposed_thresholds: [u32; 4],
    pub crowd_density_thresholds: [f64; 4],
    pub vulnerability_thresholds: [u8; 4],
    /// Floor on a scenario's vulnerability set by its weakest critical measure, by grade.
    pub weakest_link_floor: [u8; 5],
    pub default_visibility: u8,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Answer {
    /// `g<grade>` unless the file names it.
    #[serde(default)]
    pub id: String,
    pub grade: u8,
    pub en: String,
    pub fr: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Measure {
    /// Unique in the methodology: `<question id>.<local id>` once loaded.
    pub id: String,
    pub cost: CostBand,
    pub openness: OpennessImpact,
    /// The grade the question reaches once the measure is in place.
    pub target: u8,
    pub en: String,
    pub fr: String,
    /// Library passages on putting the measure in place (phrases or passage ids).
    #[serde(default)]
    pub guidance: Vec<String>,
    /// The threat level (1–5) from which the measure belongs to the site's stepped-up posture:
    /// when an authority raises the level to it or above, it becomes a checklist action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_threat_level: Option<u8>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Question {
    pub id: String,
    /// Set from the file the question is in.
    #[serde(default)]
    pub domain: String,
    /// Questions sharing a chain are scored at their weakest link for each scenario.
    #[serde(default)]
    pub chain: Option<String>,
    /// Empty in the file means every category; filled in at load.
    #[serde(default)]
    pub applies_to: Vec<SiteCategory>,
    #[serde(default)]
    pub allows_na: bool,
    /// Scenario id → weight 1–3 (`all` in the file: every scenario not named).
    pub scenarios: BTreeMap<String, u8>,
    pub en: String,
    pub fr: String,
    pub answers: Vec<Answer>,
    pub measures: Vec<Measure>,
    /// References to guidance passages in the library (filled once the library exists).
    #[serde(default)]
    pub guidance: Vec<String>,
}

impl Question {
    pub fn text(&self, lang: Lang) -> &str {
        pick(lang, &self.en, &self.fr)
    }
}

fn pick<'a>(lang: Lang, en: &'a str, fr: &'a str) -> &'a str {
    match lang {
        Lang::En => en,
        Lang::Fr => fr,
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HeaderFile {
    version: String,
    parameters: Parameters,
    category_attractiveness: BTreeMap<String, u8>,
    risk_bands: Vec<RiskBand>,
    scenarios: Vec<Scenario>,
    domains: Vec<Domain>,
    #[serde(default)]
    previous: Vec<PreviousVersion>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct QuestionFile {
    domain: String,
    question: Vec<Question>,
}

/// Indexes computed at load so that scoring does no string work beyond the answers.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Index {
    pub question_by_id: HashMap<String, usize>,
    /// Question indexes in id order, to resolve the (sorted) answers in one merge pass.
    pub questions_sorted: Vec<usize>,
    pub measure_by_id: HashMap<String, (usize, usize)>,
    /// Per question: its domain index, its chain index, the categories it applies to (bit
    /// set by `SiteCategory::ALL` position) and its weight in the protective measures index.
    pub question_domain: Vec<usize>,
    pub question_chain: Vec<Option<usize>>,
    pub question_categories: Vec<u16>,
    pub question_pmi_weight: Vec<u32>,
    /// Per scenario: the questions bearing on it with their weight, in methodology order.
    pub scenario_questions: Vec<Vec<(usize, u8)>>,
    /// Per question: the scenarios it bears on with their weight.
    pub question_scenarios: Vec<Vec<(usize, u8)>>,
    pub chain_count: usize,
    /// Per category position: attractiveness 1–5.
    pub attractiveness: Vec<u8>,
}

/// Earlier versions the binary still scores, for the assessments made with them: what differed
/// from the current header (the questions, scenarios and domains are the same).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PreviousVersion {
    version: String,
    parameters: Parameters,
    risk_bands: Vec<RiskBand>,
}

/// A loaded, checked methodology.
#[derive(Debug, Clone, PartialEq)]
pub struct Methodology {
    pub version: String,
    pub parameters: Parameters,
    pub category_attractiveness: BTreeMap<String, u8>,
    pub risk_bands: Vec<RiskBand>,
    pub scenarios: Vec<Scenario>,
    pub domains: Vec<Domain>,
    pub questions: Vec<Question>,
    pub(crate) index: Index,
}

/// The current version first, then the earlier ones it still carries.
static EMBEDDED: OnceLock<Result<Vec<Methodology>, AssessmentError>> = OnceLock::new();

pub(crate) fn category_position(category: SiteCategory) -> usize {
    SiteCategory::ALL.iter().position(|c| *c == category).unwrap_or(0)
}

impl Methodology {
    /// The current methodology compiled into this binary, parsed and checked once.
    pub fn embedded() -> Result<&'static Methodology, AssessmentError> {
        Self::embedded_versions()?.first().ok_or_else(|| AssessmentError::invalid("no methodology is embedded"))
    }

    /// Every version compiled into this binary, the current one first.
    pub fn embedded_versions() -> Result<&'static [Methodology], AssessmentError> {
        EMBEDDED
            .get_or_init(|| Methodology::versions_from_sources(EMBEDDED_HEADER, &EMBEDDED_QUESTIONS))
            .as_deref()
            .map_err(Clone::clone)
    }

    /// The embedded version an assessment pinned, current or earlier; `None` when this binary
    /// does not carry it.
    pub fn embedded_version(version: &str) -> Result<Option<&'static Methodology>, AssessmentError> {
        Ok(Self::embedded_versions()?.iter().find(|m| m.version == version))
    }

    /// Parses and checks a methodology from its header and question files: `(name, text)`.
    pub fn from_sources(header: (&str, &str), question_files: &[(&str, &str)]) -> Result<Self, AssessmentError> {
        Self::versions_from_sources(header, question_files)?
            .into_iter()
            .next()
            .ok_or_else(|| AssessmentError::invalid("no methodology is embedded"))
    }

    /// The current version and every earlier one the header lists, each checked.
    fn versions_from_sources(
        header: (&str, &str),
        question_files: &[(&str, &str)],
    ) -> Result<Vec<Self>, AssessmentError> {
        let parse_error = |file: &str, err: toml::de::Error| AssessmentError::MethodologyParse {
            file: file.to_owned(),
            message: err.to_string(),
        };
        let head: HeaderFile = toml::from_str(header.1).map_err(|e| parse_error(header.0, e))?;
        let mut questions = Vec::new();
        for (name, text) in question_files {
            let file: QuestionFile = toml::from_str(text).map_err(|e| parse_error(name, e))?;
            for mut question in file.question {
                if !question.domain.is_empty() && question.domain != file.domain {
                    return Err(AssessmentError::invalid(format!(
                        "question '{}' in {name} names domain '{}' but the file is for '{}'",
                        question.id, question.domain, file.domain
                    )));
                }
                question.domain.clone_from(&file.domain);
                questions.push(question);
            }
        }
        // Questions follow the header's domain order whatever the order of the files; a question
        // of an unknown domain goes last, for `validate` to report.
        let domain_position = |domain: &str| head.domains.iter().position(|d| d.id == domain).unwrap_or(usize::MAX);
        questions.sort_by_key(|q: &Question| domain_position(&q.domain));
        let mut current = Methodology {
            version: head.version,
            parameters: head.parameters,
            category_attractiveness: head.category_attractiveness,
            risk_bands: head.risk_bands,
            scenarios: head.scenarios,
            domains: head.domains,
            questions,
            index: Index::default(),
        };
        current.complete();
        let earlier: Vec<Methodology> = head
            .previous
            .into_iter()
            .map(|previous| Methodology {
                version: previous.version,
                parameters: previous.parameters,
                risk_bands: previous.risk_bands,
                ..current.clone()
            })
            .collect();
        let mut versions = vec![current];
        versions.extend(earlier);
        unique_ids("methodology version", versions.iter().map(|m| m.version.as_str()))?;
        for methodology in &mut versions {
            methodology.validate()?;
            methodology.index = methodology.build_index();
        }
        Ok(versions)
    }

    /// Fills in what the files leave implicit: answer ids, full measure ids, all categories.
    fn complete(&mut self) {
        for question in &mut self.questions {
            for answer in &mut question.answers {
                if answer.id.is_empty() {
                    answer.id = format!("g{}", answer.grade);
                }
            }
            for measure in &mut question.measures {
                measure.id = format!("{}.{}", question.id, measure.id);
            }
            // `all = w` stands for every scenario not listed by name.
            if let Some(weight) = question.scenarios.remove(ALL_SCENARIOS) {
                for scenario in &self.scenarios {
                    question.scenarios.entry(scenario.id.clone()).or_insert(weight);
                }
            }
            if question.applies_to.is_empty() {
                question.applies_to = SiteCategory::ALL.to_vec();
            }
        }
    }

    /// Every rule a methodology must satisfy; the first broken one is reported.
    pub fn validate(&self) -> Result<(), AssessmentError> {
        let fail = |reason: String| Err(AssessmentError::invalid(reason));
        if self.version.trim().is_empty() {
            return fail("the version is empty".into());
        }
        self.validate_parameters()?;
        let scenario_ids = unique_ids("scenario", self.scenarios.iter().map(|s| s.id.as_str()))?;
        let domain_ids = unique_ids("domain", self.domains.iter().map(|d| d.id.as_str()))?;
        unique_ids("risk band", self.risk_bands.iter().map(|b| b.id.as_str()))?;
        unique_ids("question", self.questions.iter().map(|q| q.id.as_str()))?;
        for scenario in &self.scenarios {
            check_text(&format!("scenario {} name", scenario.id), &scenario.name)?;
            check_text(&format!("scenario {} description", scenario.id), &scenario.description)?;
            if !(1..=5).contains(&scenario.prevalence) || !(1..=5).contains(&scenario.severity) {
                return fail(format!("scenario {}: prevalence and severity must be 1 to 5", scenario.id));
            }
        }
        if !self.scenarios.iter().any(|s| s.precursor) || self.scenarios.iter().all(|s| s.precursor) {
            return fail("there must be at least one precursor scenario and one threat scenario".into());
        }
        for domain in &self.domains {
            check_text(&format!("domain {} name", domain.id), &domain.name)?;
            check_text(&format!("domain {} description", domain.id), &domain.description)?;
        }
        for band in &self.risk_bands {
            check_text(&format!("risk band {} name", band.id), &band.name)?;
        }
        let mins: Vec<u8> = self.risk_bands.iter().map(|b| b.min).collect();
        let max_risk = self.parameters.risk.max_risk();
        if mins.first() != Some(&1) || !mins.is_sorted_by(|a, b| a < b) || mins.iter().any(|m| *m > max_risk) {
            return fail(format!("risk bands must start at 1 and rise strictly up to at most {max_risk}"));
        }
        for question in &self.questions {
            self.validate_question(question, &scenario_ids, &domain_ids)?;
        }
        self.validate_coverage()
    }

    fn validate_parameters(&self) -> Result<(), AssessmentError> {
        let p = &self.parameters;
        let c = &p.consequence_weights;
        let (weights_sum_to_100, vulnerability_weighs) = match &p.risk {
            RiskFormula::LikelihoodConsequence { likelihood_weights: l } => (
                l.threat_level + l.attractiveness + l.prevalence + l.vulnerability + l.reconnaissance == 100,
                l.vulnerability > 0,
            ),
            RiskFormula::ThreatVulnerabilityConsequence { threat_weights: t } => {
                (t.threat_level + t.attractiveness + t.prevalence + t.reconnaissance == 100, true)
            }
        };
        let checks = [
            (weights_sum_to_100, "likelihood or threat weights must sum to 100"),
            (c.severity + c.people_exposed + c.crowd_density == 100, "consequence weights must sum to 100"),
            (vulnerability_weighs, "vulnerability must weigh on likelihood"),
            ((1..=WORST_GRADE).contains(&p.action_threshold_grade), "action threshold grade must be 1 to 4"),
            ((1..=5).contains(&p.default_visibility), "default visibility must be 1 to 5"),
            (p.people_exposed_thresholds.is_sorted_by(|a, b| a < b), "people thresholds must rise"),
            (
                p.crowd_density_thresholds.is_sorted_by(|a, b| a < b)
                    && p.crowd_density_thresholds.iter().all(|t| t.is_finite() && *t > 0.0),
                "crowd density thresholds must be positive and rise",
            ),
            (
                p.weakest_link_floor[0] == 0 && p.weakest_link_floor.is_sorted() && p.weakest_link_floor[4] <= 100,
                "weakest link floors must start at 0 and rise within 0–100",
            ),
            (
                p.vulnerability_thresholds.is_sorted_by(|a, b| a < b) && p.vulnerability_thresholds[3] <= 100,
                "vulnerability thresholds must rise within 0–100",
            ),
        ];
        if let Some((_, reason)) = checks.iter().find(|(ok, _)| !ok) {
            return Err(AssessmentError::invalid(*reason));
        }
        for category in SiteCategory::ALL {
            match self.category_attractiveness.get(category.key()) {
                Some(v) if (1..=5).contains(v) => {}
                _ => {
                    return Err(AssessmentError::invalid(format!(
                        "category_attractiveness.{} must be given, 1 to 5",
                        category.key()
                    )));
                }
            }
        }
        if let Some(key) = self.category_attractiveness.keys().find(|k| SiteCategory::from_key(k).is_err()) {
            return Err(AssessmentError::invalid(format!("category_attractiveness: unknown category '{key}'")));
        }
        Ok(())
    }

    fn validate_question(
        &self,
        q: &Question,
        scenario_ids: &BTreeSet<&str>,
        domain_ids: &BTreeSet<&str>,
    ) -> Result<(), AssessmentError> {
        let fail = |reason: String| Err(AssessmentError::invalid(format!("question {}: {reason}", q.id)));
        if !is_key(&q.id.replace('.', "_")) {
            return fail("the id must be lowercase letters, digits, '_' and '.'".into());
        }
        if !domain_ids.contains(q.domain.as_str()) {
            return fail(format!("unknown domain '{}'", q.domain));
        }
        check_pair(&q.id, &q.en, &q.fr)?;
        if q.scenarios.is_empty() {
            return fail("bears on no scenario".into());
        }
        for (scenario, weight) in &q.scenarios {
            if !scenario_ids.contains(scenario.as_str()) {
                return fail(format!("unknown scenario '{scenario}'"));
            }
            if !(1..=MAX_WEIGHT).contains(weight) {
                return fail(format!("weight {weight} for '{scenario}' is not 1 to {MAX_WEIGHT}"));
            }
        }
        let categories: BTreeSet<_> = q.applies_to.iter().collect();
        if categories.len() != q.applies_to.len() {
            return fail("a category is listed twice in applies_to".into());
        }
        if !(2..=5).contains(&q.answers.len()) {
            return fail("needs 2 to 5 answers".into());
        }
        let grades: Vec<u8> = q.answers.iter().map(|a| a.grade).collect();
        if !grades.is_sorted_by(|a, b| a < b) || grades.first() != Some(&0) || grades.last() != Some(&WORST_GRADE) {
            return fail("answers must run from grade 0 (best practice) to 4 (nothing in place), rising".into());
        }
        unique_ids(&format!("answer of {}", q.id), q.answers.iter().map(|a| a.id.as_str()))?;
        for answer in &q.answers {
            if answer.id == crate::input::NOT_APPLICABLE {
                return fail("'na' is reserved for not applicable".into());
            }
            check_pair(&format!("{} answer {}", q.id, answer.id), &answer.en, &answer.fr)?;
        }
        if q.measures.is_empty() {
            return fail("needs at least one option for consideration (measure)".into());
        }
        unique_ids(&format!("measure of {}", q.id), q.measures.iter().map(|m| m.id.as_str()))?;
        for measure in &q.measures {
            check_pair(&measure.id, &measure.en, &measure.fr)?;
            if measure.target >= WORST_GRADE || !grades.contains(&measure.target) {
                return fail(format!("measure {} targets grade {}, which no answer has", measure.id, measure.target));
            }
            if measure.from_threat_level.is_some_and(|level| !(2..=5).contains(&level)) {
                return fail(format!("measure {} steps up from a threat level outside 2–5", measure.id));
            }
        }
        if q.guidance.iter().chain(q.measures.iter().flat_map(|m| &m.guidance)).any(|g| g.trim().is_empty()) {
            return fail("empty guidance reference".into());
        }
        Ok(())
    }

    /// Every threat scenario and every domain must be assessed for every category, else a
    /// score would rest on nothing.
    fn validate_coverage(&self) -> Result<(), AssessmentError> {
        for category in SiteCategory::ALL {
            let applicable: Vec<&Question> =
                self.questions.iter().filter(|q| q.applies_to.contains(&category)).collect();
            for scenario in &self.scenarios {
                if !applicable.iter().any(|q| q.scenarios.contains_key(&scenario.id)) {
                    return Err(AssessmentError::invalid(format!(
                        "no question on scenario '{}' applies to category '{}'",
                        scenario.id,
                        category.key()
                    )));
                }
            }
            for domain in &self.domains {
                if !applicable.iter().any(|q| q.domain == domain.id) {
                    return Err(AssessmentError::invalid(format!(
                        "no question of domain '{}' applies to category '{}'",
                        domain.id,
                        category.key()
                    )));
                }
            }
        }
        Ok(())
    }

    fn build_index(&self) -> Index {
        let domain_pos: HashMap<&str, usize> =
            self.domains.iter().enumerate().map(|(i, d)| (d.id.as_str(), i)).collect();
        let mut chains: HashMap<&str, usize> = HashMap::new();
        let mut index = Index { scenario_questions: vec![Vec::new(); self.scenarios.len()], ..Index::default() };
        for (qi, q) in self.questions.iter().enumerate() {
            index.question_by_id.insert(q.id.clone(), qi);
            for (mi, m) in q.measures.iter().enumerate() {
                index.measure_by_id.insert(m.id.clone(), (qi, mi));
            }
            index.question_domain.push(domain_pos.get(q.domain.as_str()).copied().unwrap_or(0));
            index.question_chain.push(q.chain.as_deref().map(|c| {
                let next = chains.len();
                *chains.entry(c).or_insert(next)
            }));
            index.question_categories.push(q.applies_to.iter().fold(0u16, |bits, c| bits | 1 << category_position(*c)));
            index.question_pmi_weight.push(q.scenarios.values().map(|w| u32::from(*w)).sum());
            // Methodology order, not the map's alphabetical order, for stable explanations.
            let mut weights = Vec::new();
            for (si, s) in self.scenarios.iter().enumerate() {
                if let Some(weight) = q.scenarios.get(&s.id) {
                    if let Some(questions) = index.scenario_questions.get_mut(si) {
                        questions.push((qi, *weight));
                    }
                    weights.push((si, *weight));
                }
            }
            index.question_scenarios.push(weights);
        }
        index.questions_sorted = (0..self.questions.len()).collect();
        index.questions_sorted.sort_by_key(|&qi| self.questions.get(qi).map(|q| q.id.as_str()));
        index.chain_count = chains.len();
        index.attractiveness =
            SiteCategory::ALL.iter().map(|c| self.category_attractiveness.get(c.key()).copied().unwrap_or(1)).collect();
        index
    }

    pub fn question(&self, id: &str) -> Option<&Question> {
        self.index.question_by_id.get(id).and_then(|&i| self.questions.get(i))
    }

    /// The stepped-up posture of a site of `category` at threat level `level`: the measures
    /// that apply from that level or below, with their question, in methodology order.
    pub fn posture(&self, level: u8, category: SiteCategory) -> Vec<(&Question, &Measure)> {
        self.questions
            .iter()
            .filter(|q| q.applies_to.contains(&category))
            .flat_map(|q| q.measures.iter().map(move |m| (q, m)))
            .filter(|(_, m)| m.from_threat_level.is_some_and(|from| from <= level))
            .collect()
    }

    /// The measure with this full id (`question.measure`).
    pub fn measure(&self, id: &str) -> Option<&Measure> {
        let (question, _) = id.rsplit_once('.')?;
        self.question(question)?.measures.iter().find(|m| m.id == id)
    }

    /// The methodology in one language, shaped for `vigie methodology show --json` and the API.
    pub fn view(&self, lang: Lang) -> MethodologyView<'_> {
        MethodologyView {
            version: &self.version,
            lang,
            scenarios: self
                .scenarios
                .iter()
                .map(|s| ScenarioView {
                    id: &s.id,
                    name: s.name.get(lang),
                    description: s.description.get(lang),
                    precursor: s.precursor,
                    prevalence: s.prevalence,
                    severity: s.severity,
                })
                .collect(),
            domains: self
                .domains
                .iter()
                .map(|d| DomainView { id: &d.id, name: d.name.get(lang), description: d.description.get(lang) })
                .collect(),
            questions: self.questions.iter().map(|q| self.question_view(q, lang)).collect(),
            risk_bands: self
                .risk_bands
                .iter()
                .map(|b| RiskBandView { id: &b.id, min: b.min, name: b.name.get(lang) })
                .collect(),
            parameters: &self.parameters,
            category_attractiveness: &self.category_attractiveness,
        }
    }

    fn question_view<'m>(&'m self, q: &'m Question, lang: Lang) -> QuestionView<'m> {
        QuestionView {
            id: &q.id,
            domain: &q.domain,
            chain: q.chain.as_deref(),
            text: q.text(lang),
            applies_to: q.applies_to.iter().map(|c| c.key()).collect(),
            allows_na: q.allows_na,
            answers: q
                .answers
                .iter()
                .map(|a| AnswerView { id: &a.id, grade: a.grade, label: pick(lang, &a.en, &a.fr) })
                .collect(),
            scenarios: self
                .scenarios
                .iter()
                .filter_map(|s| q.scenarios.get(&s.id).map(|w| WeightView { id: &s.id, weight: *w }))
                .collect(),
            measures: q
                .measures
                .iter()
                .map(|m| MeasureView {
                    id: &m.id,
                    label: pick(lang, &m.en, &m.fr),
                    cost: m.cost,
                    cost_label: m.cost.label(lang),
                    openness: m.openness,
                    openness_label: m.openness.label(lang),
                    target_grade: m.target,
                    guidance: &m.guidance,
                })
                .collect(),
            guidance: &q.guidance,
        }
    }
}

fn is_key(id: &str) -> bool {
    !id.is_empty() && id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn unique_ids<'a>(what: &str, ids: impl Iterator<Item = &'a str>) -> Result<BTreeSet<&'a str>, AssessmentError> {
    let mut seen = BTreeSet::new();
    for id in ids {
        if !is_key(&id.replace('.', "_")) {
            return Err(AssessmentError::invalid(format!(
                "{what} id '{id}' must be lowercase letters, digits and '_'"
            )));
        }
        if !seen.insert(id) {
            return Err(AssessmentError::invalid(format!("{what} id '{id}' is used twice")));
        }
    }
    Ok(seen)
}

fn check_text(what: &str, text: &Text) -> Result<(), AssessmentError> {
    check_pair(what, &text.en, &text.fr)
}

/// The key check: every text exists, non-empty, in English and in French.
fn check_pair(what: &str, en: &str, fr: &str) -> Result<(), AssessmentError> {
    for (lang, text) in [("en", en), ("fr", fr)] {
        if text.trim().is_empty() {
            return Err(AssessmentError::invalid(format!("{what}: the {lang} text is missing or empty")));
        }
    }
    Ok(())
}

#[derive(Debug, Serialize)]
pub struct MethodologyView<'m> {
    pub version: &'m str,
    pub lang: Lang,
    pub scenarios: Vec<ScenarioView<'m>>,
    pub domains: Vec<DomainView<'m>>,
    pub questions: Vec<QuestionView<'m>>,
    pub risk_bands: Vec<RiskBandView<'m>>,
    pub parameters: &'m Parameters,
    pub category_attractiveness: &'m BTreeMap<String, u8>,
}

#[derive(Debug, Serialize)]
pub struct ScenarioView<'m> {
    pub id: &'m str,
    pub name: &'m str,
    pub description: &'m str,
    pub precursor: bool,
    pub prevalence: u8,
    pub severity: u8,
}

#[derive(Debug, Serialize)]
pub struct DomainView<'m> {
    pub id: &'m str,
    pub name: &'m str,
    pub description: &'m str,
}

#[derive(Debug, Serialize)]
pub struct RiskBandView<'m> {
    pub id: &'m str,
    pub min: u8,
    pub name: &'m str,
}

#[derive(Debug, Serialize)]
pub struct QuestionView<'m> {
    pub id: &'m str,
    pub domain: &'m str,
    pub chain: Option<&'m str>,
    pub text: &'m str,
    pub applies_to: Vec<&'static str>,
    pub allows_na: bool,
    pub answers: Vec<AnswerView<'m>>,
    pub scenarios: Vec<WeightView<'m>>,
    pub measures: Vec<MeasureView<'m>>,
    pub guidance: &'m [String],
}

#[derive(Debug, Serialize)]
pub struct AnswerView<'m> {
    pub id: &'m str,
    pub grade: u8,
    pub label: &'m str,
}

#[derive(Debug, Serialize)]
pub struct WeightView<'m> {
    pub id: &'m str,
    pub weight: u8,
}

#[derive(Debug, Serialize)]
pub struct MeasureView<'m> {
    pub id: &'m str,
    pub label: &'m str,
    pub cost: CostBand,
    pub cost_label: &'static str,
    pub openness: OpennessImpact,
    pub openness_label: &'static str,
    pub target_grade: u8,
    pub guidance: &'m [String],
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_french_text_is_refused() {
        assert!(check_pair("q", "Is there a plan?", " ").is_err());
        assert!(check_pair("q", "Is there a plan?", "Existe-t-il un plan ?").is_ok());
    }

    #[test]
    fn the_embedded_methodology_loads_and_passes_every_check() {
        let m = Methodology::embedded();
        assert!(m.is_ok(), "{m:?}");
    }

    #[test]
    fn the_posture_grows_with_the_threat_level_and_fits_the_category() {
        let m = Methodology::embedded().unwrap();
        let ids = |level, category| -> Vec<String> {
            m.posture(level, category).iter().map(|(_, measure)| measure.id.clone()).collect()
        };
        assert!(ids(1, SiteCategory::ShoppingCentre).is_empty());
        let (three, five) = (ids(3, SiteCategory::ShoppingCentre), ids(5, SiteCategory::ShoppingCentre));
        assert!(!three.is_empty() && three.len() < five.len());
        assert!(three.iter().all(|id| five.contains(id)));
        assert!(five.contains(&"access.public_entrance_search.full_screening".to_owned()));
        // Searching at the entrances does not apply to an open square.
        assert!(!ids(5, SiteCategory::PublicSquare).iter().any(|id| id.starts_with("access.public_entrance_search")));
        assert!(
            m.measure("access.public_entrance_search.full_screening").is_some_and(|me| me.from_threat_level == Some(5))
        );
        assert!(m.measure("nothing.here").is_none());
    }

    #[test]
    fn keys_are_snake_case() {
        assert!(is_key("vehicle_as_weapon"));
        assert!(!is_key("Vehicle"));
        assert!(!is_key(""));
    }
}
