//! Scoring: vulnerability, likelihood, consequence and risk per scenario, the protective
//! measures index, proposed actions, what-if and peer comparison. Integer arithmetic only, so
//! the same input gives the same bytes everywhere, and every number is split into integer
//! contributions that add up to it exactly (largest-remainder apportionment).
//! Formulas: docs/methodology.md.
use std::cmp::Reverse;

use serde::Serialize;
use vigie_domain::assessment::Completeness;

use crate::error::AssessmentError;
use crate::input::{AssessmentInput, Resolved, Slot};
use crate::model::{
    Answer, ConsequenceWeights, CostBand, MAX_WEIGHT, Methodology, OpennessImpact, Question, RiskFormula, Scenario,
    WORST_GRADE,
};

/// The number a contribution adds to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    Vulnerability,
    Likelihood,
    Threat,
    Consequence,
    Risk,
    ProtectiveMeasuresIndex,
}

/// The site and scenario factors of threat, likelihood and consequence, and the three factors
/// of a risk (threat, vulnerability, consequence), each 1–5.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Factor {
    ThreatLevel,
    Attractiveness,
    Prevalence,
    Vulnerability,
    Reconnaissance,
    Severity,
    PeopleExposed,
    CrowdDensity,
    Threat,
    Consequence,
}

/// Where a contribution comes from. Borrowed from the methodology, so that a report of
/// several hundred contributions stays small; serialised with ids (see `Contribution`).
#[derive(Debug, Clone, PartialEq)]
pub enum Source<'m> {
    /// An answer (`answer: None` when unanswered, counted as grade 4). In a weakest-point
    /// chain only the weakest link is `counted`; the others are listed with 0 points.
    Answer { question: &'m Question, answer: Option<&'m Answer>, grade: u8, weight: u32, counted: bool },
    /// A factor 1–5 with its weight in percent.
    Factor { factor: Factor, value: u8, weight: u32 },
    /// A domain's share of the site's protective measures index.
    Domain { domain: &'m str },
    /// The points a critical measure (weight 3) adds by setting the scenario's floor: a chain
    /// is only as strong as its weakest link.
    WeakestLink { question: &'m Question, grade: u8 },
}

/// One part of a number. JSON: `{"to", "kind", <the source's fields>, "points"}`, e.g.
/// `{"to": "vulnerability", "kind": "answer", "question": "perimeter.hvm_main_approaches",
/// "answer": "g1", "grade": 1, "weight": 3, "chain": "vehicle_approach", "counted": false,
/// "points": 0}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Contribution<'m> {
    pub to: Target,
    pub source: Source<'m>,
    pub points: u32,
}

impl Serialize for Contribution<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("to", &self.to)?;
        match &self.source {
            Source::Answer { question, answer, grade, weight, counted } => {
                map.serialize_entry("kind", "answer")?;
                map.serialize_entry("question", &question.id)?;
                map.serialize_entry("answer", &answer.map(|a| a.id.as_str()))?;
                map.serialize_entry("grade", grade)?;
                map.serialize_entry("weight", weight)?;
                if let Some(chain) = &question.chain {
                    map.serialize_entry("chain", chain)?;
                }
                map.serialize_entry("counted", counted)?;
            }
            Source::Factor { factor, value, weight } => {
                map.serialize_entry("kind", "factor")?;
                map.serialize_entry("factor", factor)?;
                map.serialize_entry("value", value)?;
                map.serialize_entry("weight", weight)?;
            }
            Source::Domain { domain } => {
                map.serialize_entry("kind", "domain")?;
                map.serialize_entry("domain", domain)?;
            }
            Source::WeakestLink { question, grade } => {
                map.serialize_entry("kind", "weakest_link")?;
                map.serialize_entry("question", &question.id)?;
                map.serialize_entry("grade", grade)?;
            }
        }
        map.serialize_entry("points", &self.points)?;
        map.end()
    }
}

/// The site's factors, derived from its context.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SiteFactors {
    pub threat_level: u8,
    pub visibility: u8,
    pub attractiveness: u8,
    pub people_exposed: u8,
    pub crowd_density: u8,
    pub density_per_m2: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScenarioScore<'m> {
    pub id: &'m str,
    pub precursor: bool,
    /// 0 (nothing to exploit) … 100 (nothing in place).
    pub vulnerability: u8,
    /// The vulnerability as a risk factor, 1–5 (threat × vulnerability × consequence only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vulnerability_band: Option<u8>,
    /// 1–5 (threat × vulnerability × consequence only); absent for a precursor.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threat: Option<u8>,
    /// 1–5 (likelihood × consequence only); absent for a precursor.
    pub likelihood: Option<u8>,
    pub consequence: Option<u8>,
    /// threat × vulnerability × consequence (1–125), or likelihood × consequence (1–25) in
    /// version 2026.1.
    pub risk: Option<u8>,
    pub risk_band: Option<&'m str>,
    /// A question bearing on the scenario (or on reconnaissance, which raises every threat)
    /// is unanswered and counted at the worst grade.
    pub provisional: bool,
    pub contributions: Vec<Contribution<'m>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DomainScore<'m> {
    pub id: &'m str,
    /// 0 (nothing in place) … 100 (best practice everywhere); absent when every question of
    /// the domain is not applicable.
    pub protective_measures_index: Option<u8>,
    pub counted: u32,
    pub not_applicable: u32,
    pub unanswered: u32,
    pub contributions: Vec<Contribution<'m>>,
}

/// An option for consideration proposed by a low grade.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProposedAction<'m> {
    pub measure: &'m str,
    pub question: &'m str,
    pub domain: &'m str,
    pub grade: u8,
    pub target_grade: u8,
    pub cost: CostBand,
    pub openness: OpennessImpact,
    /// Σ over scenarios of weight × grades gained × the scenario's risk: higher first.
    pub priority: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScoreReport<'m> {
    pub methodology_version: &'m str,
    pub completeness: Completeness,
    /// Some applicable question is unanswered and counted at the worst grade.
    pub provisional: bool,
    pub factors: SiteFactors,
    pub scenarios: Vec<ScenarioScore<'m>>,
    pub protective_measures_index: Option<u8>,
    pub protective_measures_contributions: Vec<Contribution<'m>>,
    pub domains: Vec<DomainScore<'m>>,
    pub actions: Vec<ProposedAction<'m>>,
    pub unanswered: Vec<&'m str>,
}

/// Scores an assessment against the methodology it was made with.
pub fn score<'m>(m: &'m Methodology, input: &AssessmentInput) -> Result<ScoreReport<'m>, AssessmentError> {
    let resolved = m.resolve(input)?;
    Ok(score_resolved(m, &resolved))
}

/// The numbers of a report without its explanations: what peer statistics and bulk
/// rescoring need. `score_numbers(m, input)` equals `score(m, input)?.numbers()`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScoreNumbers<'m> {
    pub factors: SiteFactors,
    pub scenarios: Vec<ScenarioNumbers<'m>>,
    pub protective_measures_index: Option<u8>,
    /// Per domain, in methodology order: its protective measures index.
    pub domains: Vec<(&'m str, Option<u8>)>,
}

/// One scenario's numbers, as in `ScenarioScore`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ScenarioNumbers<'m> {
    pub id: &'m str,
    pub vulnerability: u8,
    pub threat: Option<u8>,
    pub likelihood: Option<u8>,
    pub consequence: Option<u8>,
    pub risk: Option<u8>,
    pub risk_band: Option<&'m str>,
}

impl<'m> ScoreReport<'m> {
    /// The report's numbers, without explanations.
    pub fn numbers(&self) -> ScoreNumbers<'m> {
        ScoreNumbers {
            factors: self.factors,
            scenarios: self
                .scenarios
                .iter()
                .map(|s| ScenarioNumbers {
                    id: s.id,
                    vulnerability: s.vulnerability,
                    threat: s.threat,
                    likelihood: s.likelihood,
                    consequence: s.consequence,
                    risk: s.risk,
                    risk_band: s.risk_band,
                })
                .collect(),
            protective_measures_index: self.protective_measures_index,
            domains: self.domains.iter().map(|d| (d.id, d.protective_measures_index)).collect(),
        }
    }
}

/// The numbers of `score` without building the explanations, the proposed actions or the
/// unanswered list: the same code with those parts switched off at compile time, for
/// scoring many stored assessments (peer statistics) where one report is not read.
pub fn score_numbers<'m>(m: &'m Methodology, input: &AssessmentInput) -> Result<ScoreNumbers<'m>, AssessmentError> {
    let resolved = m.resolve(input)?;
    Ok(score_resolved_with::<false>(m, &resolved).numbers())
}

/// Integer division rounded half up.
fn round_div(num: u64, den: u64) -> u64 {
    (2 * num + den) / (2 * den)
}

/// Splits `total` into integer shares proportional to `parts`, adding up exactly to `total`
/// (largest remainder; ties go to the earlier part). All zeros when the parts are all zero.
pub fn apportion(total: u64, parts: &[u64]) -> Vec<u64> {
    let mut out = Vec::with_capacity(parts.len());
    apportion_into(total, parts, &mut out, &mut Vec::new());
    out
}

fn apportion_into(total: u64, parts: &[u64], out: &mut Vec<u64>, scratch: &mut Vec<u128>) {
    out.clear();
    let sum: u64 = parts.iter().sum();
    if sum == 0 {
        out.resize(parts.len(), 0);
        return;
    }
    scratch.clear();
    // Scores are small (≤ 100 over a few thousand points): when every `total × part` fits in
    // 32 bits, divide in 32 bits, which many x86 processors do several times faster.
    let small =
        u32::try_from(sum).ok().filter(|s| u64::from(*s).checked_mul(total).is_some_and(|p| p <= u64::from(u32::MAX)));
    let mut given = 0;
    for (i, part) in parts.iter().enumerate() {
        // Zero parts are common (answers at grade 0) and need no division.
        if *part == 0 || total == 0 {
            out.push(0);
            continue;
        }
        let (share, remainder) = match small {
            Some(sum32) => {
                let exact = (total * part) as u32;
                (u64::from(exact / sum32), u64::from(exact % sum32))
            }
            None => {
                let exact = total * part;
                (exact / sum, exact % sum)
            }
        };
        out.push(share);
        given += share;
        if remainder > 0 {
            // One integer key: larger remainder first, then the earlier part.
            scratch.push((u128::from(remainder) << 64) | u128::from(u64::MAX - i as u64));
        }
    }
    // The `left` largest remainders get one more unit; a partial selection is enough.
    let left = (total - given) as usize;
    if left == 0 {
        return;
    }
    if left < scratch.len() {
        scratch.select_nth_unstable_by(left - 1, |a, b| b.cmp(a));
    }
    for key in scratch.iter().take(left) {
        if let Some(count) = out.get_mut((u64::MAX - *key as u64) as usize) {
            *count += 1;
        }
    }
}

/// 1 plus the number of thresholds reached.
fn band<T: PartialOrd>(value: T, thresholds: &[T; 4]) -> u8 {
    1 + thresholds.iter().filter(|t| value >= **t).count() as u8
}

/// A chain's weakest link: its grade, the chain's heaviest weight, the question and the
/// index of its contribution (meaningless without explanations).
#[derive(Clone, Copy)]
struct Link {
    grade: u8,
    weight: u8,
    question: usize,
    at: usize,
}

/// In `Scratch::grades`: the question does not count (excluded or not applicable).
const NO_GRADE: u8 = u8::MAX;

/// Reusable buffers for one scoring run.
#[derive(Default)]
struct Scratch {
    units: Vec<(usize, u64)>,
    parts: Vec<u64>,
    shares: Vec<u64>,
    order: Vec<u128>,
    /// Per question: the grade that counts, or `NO_GRADE` (a flat table, so that the loops
    /// over each scenario's questions do not branch on the slot's kind).
    grades: Vec<u8>,
    /// Per chain: its weakest link so far.
    chains: Vec<Option<Link>>,
}

impl Scratch {
    /// Apportions `total` over the units and writes the points into the contributions.
    fn distribute(&mut self, total: u64, contributions: &mut [Contribution<'_>]) {
        self.parts.clear();
        self.parts.extend(self.units.iter().map(|(_, raw)| *raw));
        apportion_into(total, &self.parts, &mut self.shares, &mut self.order);
        for ((at, _), share) in self.units.iter().zip(&self.shares) {
            if let Some(contribution) = contributions.get_mut(*at) {
                contribution.points = *share as u32;
            }
        }
    }
}

fn site_factors(m: &Methodology, r: &Resolved) -> SiteFactors {
    let p = &m.parameters;
    let people_exposed = band(r.occupancy, &p.people_exposed_thresholds);
    let density_per_m2 = f64::from(r.occupancy) / r.area_m2;
    let crowd_density = band(density_per_m2, &p.crowd_density_thresholds);
    let category = m.index.attractiveness.get(crate::model::category_position(r.category)).copied().unwrap_or(1);
    let attractiveness = round_div(u64::from(category) + u64::from(r.visibility) + u64::from(people_exposed), 3) as u8;
    SiteFactors {
        threat_level: r.threat_level,
        visibility: r.visibility,
        attractiveness,
        people_exposed,
        crowd_density,
        density_per_m2,
    }
}

/// Vulnerability of one scenario: grade points over possible points, N/A left out, chains at
/// their weakest link. With `EXPLAIN`, pushes the answer contributions; returns the value.
fn vulnerability<'m, const EXPLAIN: bool>(
    m: &'m Methodology,
    r: &Resolved,
    scenario: usize,
    contributions: &mut Vec<Contribution<'m>>,
    scratch: &mut Scratch,
) -> u8 {
    scratch.units.clear();
    scratch.chains.clear();
    scratch.chains.resize(m.index.chain_count, None);
    let (mut raw, mut possible) = (0u64, 0u64);
    // The weakest critical link: (grade, question, contribution index) of the worst unit of
    // weight 3; the contribution index means nothing without `EXPLAIN`.
    let mut weakest: Option<(u8, usize, usize)> = None;
    for &(qi, weight) in m.index.scenario_questions.get(scenario).map_or(&[][..], Vec::as_slice) {
        let grade = scratch.grades.get(qi).copied().unwrap_or(NO_GRADE);
        if grade == NO_GRADE {
            continue;
        }
        let at = contributions.len();
        let chain = m.index.question_chain.get(qi).copied().flatten();
        if EXPLAIN && let (Some(question), Some(slot)) = (m.questions.get(qi), r.slots.get(qi)) {
            contributions.push(Contribution {
                to: Target::Vulnerability,
                source: Source::Answer {
                    question,
                    answer: slot.answer().and_then(|a| question.answers.get(a)),
                    grade,
                    weight: u32::from(weight),
                    counted: chain.is_none(),
                },
                points: 0,
            });
        }
        match chain {
            None => {
                let points = u64::from(grade) * u64::from(weight);
                if EXPLAIN {
                    scratch.units.push((at, points));
                }
                raw += points;
                possible += u64::from(WORST_GRADE) * u64::from(weight);
                if weight == MAX_WEIGHT {
                    weakest = weakest_of(weakest, grade, qi, at);
                }
            }
            Some(ci) => {
                let Some(link) = scratch.chains.get_mut(ci) else { continue };
                *link = Some(match *link {
                    Some(held) if held.grade >= grade => Link { weight: held.weight.max(weight), ..held },
                    Some(held) => Link { grade, weight: held.weight.max(weight), question: qi, at },
                    None => Link { grade, weight, question: qi, at },
                });
            }
        }
    }
    for link in scratch.chains.iter().flatten() {
        let points = u64::from(link.grade) * u64::from(link.weight);
        if EXPLAIN {
            if let Some(Contribution { source: Source::Answer { counted, .. }, .. }) = contributions.get_mut(link.at) {
                *counted = true;
            }
            scratch.units.push((link.at, points));
        }
        raw += points;
        possible += u64::from(WORST_GRADE) * u64::from(link.weight);
        if link.weight == MAX_WEIGHT {
            weakest = weakest_of(weakest, link.grade, link.question, link.at);
        }
    }
    // Every question N/A: the scenario has nothing to exploit here.
    let mean = if possible == 0 { 0 } else { round_div(100 * raw, possible) };
    if EXPLAIN {
        scratch.distribute(mean, contributions);
    }
    let Some((grade, qi, _)) = weakest else { return mean as u8 };
    let floor = u64::from(m.parameters.weakest_link_floor.get(usize::from(grade)).copied().unwrap_or(0));
    if floor <= mean {
        return mean as u8;
    }
    if EXPLAIN && let Some(question) = m.questions.get(qi) {
        contributions.push(Contribution {
            to: Target::Vulnerability,
            source: Source::WeakestLink { question, grade },
            points: (floor - mean) as u32,
        });
    }
    floor as u8
}

/// Keeps the higher grade; on a tie the earlier link stays.
fn weakest_of(current: Option<(u8, usize, usize)>, grade: u8, qi: usize, at: usize) -> Option<(u8, usize, usize)> {
    match current {
        Some((g, _, _)) if g >= grade => current,
        _ => Some((grade, qi, at)),
    }
}

/// A weighted mean of factors 1–5 (weights in percent), rounded; with `EXPLAIN`, with its
/// contributions.
fn weighted_factor<'m, const EXPLAIN: bool>(
    target: Target,
    factors: &[(Factor, u8, u32)],
    contributions: &mut Vec<Contribution<'m>>,
    scratch: &mut Scratch,
) -> u8 {
    scratch.units.clear();
    let mut sum = 0u64;
    for &(factor, value, weight) in factors {
        sum += u64::from(value) * u64::from(weight);
        if EXPLAIN {
            scratch.units.push((contributions.len(), u64::from(value) * u64::from(weight)));
            contributions.push(Contribution {
                to: target,
                source: Source::Factor { factor, value, weight },
                points: 0,
            });
        }
    }
    let value = round_div(sum, 100).clamp(1, 5);
    if EXPLAIN {
        scratch.distribute(value, contributions);
    }
    value as u8
}

/// A scenario's consequence: the weighted mean of its severity and the site's exposure and
/// density.
fn consequence_of<'m, const EXPLAIN: bool>(
    scenario: &Scenario,
    factors: &SiteFactors,
    cw: &ConsequenceWeights,
    contributions: &mut Vec<Contribution<'m>>,
    scratch: &mut Scratch,
) -> u8 {
    weighted_factor::<EXPLAIN>(
        Target::Consequence,
        &[
            (Factor::Severity, scenario.severity, cw.severity),
            (Factor::PeopleExposed, factors.people_exposed, cw.people_exposed),
            (Factor::CrowdDensity, factors.crowd_density, cw.crowd_density),
        ],
        contributions,
        scratch,
    )
}

/// ln 1 … ln 5 in thousandths: a factor's weight in a product is its share of the product's
/// logarithm, so a factor of 1 (it multiplies nothing) gets no share and doubling a factor
/// weighs the same whichever factor it is.
const LN_MILLI: [u64; 5] = [0, 693, 1099, 1386, 1609];

/// Splits a product of factors 1–5 into integer contributions, one per factor, in proportion
/// to each factor's share of the product's logarithm; a product of ones goes to the first.
fn product_contributions<'m>(
    product: u8,
    parts: [(Factor, u8); 3],
    contributions: &mut Vec<Contribution<'m>>,
    scratch: &mut Scratch,
) {
    scratch.units.clear();
    let ln = |value: u8| LN_MILLI.get(usize::from(value.saturating_sub(1))).copied().unwrap_or(0);
    let all_ones = parts.iter().all(|(_, value)| *value <= 1);
    for (i, (factor, value)) in parts.into_iter().enumerate() {
        let weight = if all_ones { u64::from(i == 0) } else { ln(value) };
        scratch.units.push((contributions.len(), weight));
        contributions.push(Contribution {
            to: Target::Risk,
            source: Source::Factor { factor, value, weight: ln(value) as u32 },
            points: 0,
        });
    }
    scratch.distribute(u64::from(product), contributions);
}

pub(crate) fn score_resolved<'m>(m: &'m Methodology, r: &Resolved) -> ScoreReport<'m> {
    score_resolved_with::<true>(m, r)
}

/// The report; without `EXPLAIN`, the same numbers with every contribution list, the actions
/// and the unanswered list left empty (see `score_numbers`).
fn score_resolved_with<'m, const EXPLAIN: bool>(m: &'m Methodology, r: &Resolved) -> ScoreReport<'m> {
    let p = &m.parameters;
    let factors = site_factors(m, r);
    let mut scratch = Scratch::default();
    scratch.grades.extend(r.slots.iter().map(|slot| slot.grade().unwrap_or(NO_GRADE)));
    let mut scenarios: Vec<ScenarioScore<'m>> = m
        .scenarios
        .iter()
        .enumerate()
        .map(|(si, s)| {
            let mut contributions = if EXPLAIN {
                Vec::with_capacity(m.index.scenario_questions.get(si).map_or(0, Vec::len) + 16)
            } else {
                Vec::new()
            };
            let vulnerability = vulnerability::<EXPLAIN>(m, r, si, &mut contributions, &mut scratch);
            ScenarioScore {
                id: &s.id,
                precursor: s.precursor,
                vulnerability,
                vulnerability_band: None,
                threat: None,
                likelihood: None,
                consequence: None,
                risk: None,
                risk_band: None,
                // Only reports show it: the numbers-only path (peer statistics) skips the scan.
                provisional: EXPLAIN
                    && m.index
                        .scenario_questions
                        .get(si)
                        .is_some_and(|qs| qs.iter().any(|(qi, _)| r.slots.get(*qi) == Some(&Slot::Unanswered))),
                contributions,
            }
        })
        .collect();
    let reconnaissance_provisional = scenarios.iter().any(|s| s.precursor && s.provisional);
    for score in scenarios.iter_mut() {
        score.provisional |= reconnaissance_provisional;
    }
    let reconnaissance = scenarios
        .iter()
        .filter(|s| s.precursor)
        .map(|s| band(s.vulnerability, &p.vulnerability_thresholds))
        .max()
        .unwrap_or(1);
    let cw = &p.consequence_weights;
    for (score, scenario) in scenarios.iter_mut().zip(&m.scenarios) {
        if scenario.precursor {
            continue;
        }
        let contributions = &mut score.contributions;
        let vulnerability_band = band(score.vulnerability, &p.vulnerability_thresholds);
        let risk = match &p.risk {
            RiskFormula::LikelihoodConsequence { likelihood_weights: lw } => {
                let likelihood_start = contributions.len();
                let likelihood = weighted_factor::<EXPLAIN>(
                    Target::Likelihood,
                    &[
                        (Factor::ThreatLevel, factors.threat_level, lw.threat_level),
                        (Factor::Attractiveness, factors.attractiveness, lw.attractiveness),
                        (Factor::Prevalence, scenario.prevalence, lw.prevalence),
                        (Factor::Vulnerability, vulnerability_band, lw.vulnerability),
                        (Factor::Reconnaissance, reconnaissance, lw.reconnaissance),
                    ],
                    contributions,
                    &mut scratch,
                );
                let likelihood_end = contributions.len();
                let consequence = consequence_of::<EXPLAIN>(scenario, &factors, cw, contributions, &mut scratch);
                // risk = likelihood × consequence = Σ (likelihood contribution × consequence).
                for i in likelihood_start..likelihood_end {
                    let Some(c) = contributions.get(i) else { break };
                    let risk = Contribution {
                        to: Target::Risk,
                        source: c.source.clone(),
                        points: c.points * u32::from(consequence),
                    };
                    contributions.push(risk);
                }
                score.likelihood = Some(likelihood);
                score.consequence = Some(consequence);
                likelihood * consequence
            }
            RiskFormula::ThreatVulnerabilityConsequence { threat_weights: tw } => {
                let threat = weighted_factor::<EXPLAIN>(
                    Target::Threat,
                    &[
                        (Factor::ThreatLevel, factors.threat_level, tw.threat_level),
                        (Factor::Attractiveness, factors.attractiveness, tw.attractiveness),
                        (Factor::Prevalence, scenario.prevalence, tw.prevalence),
                        (Factor::Reconnaissance, reconnaissance, tw.reconnaissance),
                    ],
                    contributions,
                    &mut scratch,
                );
                let consequence = consequence_of::<EXPLAIN>(scenario, &factors, cw, contributions, &mut scratch);
                let risk = threat * vulnerability_band * consequence;
                if EXPLAIN {
                    product_contributions(
                        risk,
                        [
                            (Factor::Threat, threat),
                            (Factor::Vulnerability, vulnerability_band),
                            (Factor::Consequence, consequence),
                        ],
                        contributions,
                        &mut scratch,
                    );
                }
                score.threat = Some(threat);
                score.vulnerability_band = Some(vulnerability_band);
                score.consequence = Some(consequence);
                risk
            }
        };
        score.risk = Some(risk);
        score.risk_band = m.risk_bands.iter().rev().find(|b| b.min <= risk).map(|b| b.id.as_str());
    }
    let (domains, site_index, site_contributions) = protective_measures::<EXPLAIN>(m, r, &mut scratch);
    let (actions, unanswered) = if EXPLAIN {
        let unanswered = m
            .questions
            .iter()
            .zip(&r.slots)
            .filter(|(_, slot)| **slot == Slot::Unanswered)
            .map(|(q, _)| q.id.as_str())
            .collect();
        (proposed_actions(m, r, &scenarios), unanswered)
    } else {
        (Vec::new(), Vec::new())
    };
    let completeness = completeness_of(&r.slots);
    ScoreReport {
        methodology_version: &m.version,
        completeness,
        provisional: completeness.provisional(),
        factors,
        scenarios,
        protective_measures_index: site_index,
        protective_measures_contributions: site_contributions,
        domains,
        actions,
        unanswered,
    }
}

/// How many applicable questions are answered, not applicable and unanswered.
fn completeness_of(slots: &[Slot]) -> Completeness {
    let count = |pick: fn(&Slot) -> bool| slots.iter().filter(|s| pick(s)).count() as u32;
    Completeness {
        applicable: count(|s| *s != Slot::Excluded),
        answered: count(|s| matches!(s, Slot::Answered { .. })),
        not_applicable: count(|s| *s == Slot::NotApplicable),
        unanswered: count(|s| *s == Slot::Unanswered),
    }
}

/// Protective measures index per domain and for the site: protection points (4 − grade) ×
/// weight over possible points, where a question weighs the sum of its scenario weights.
/// Without `EXPLAIN`, no contributions.
fn protective_measures<'m, const EXPLAIN: bool>(
    m: &'m Methodology,
    r: &Resolved,
    scratch: &mut Scratch,
) -> (Vec<DomainScore<'m>>, Option<u8>, Vec<Contribution<'m>>) {
    let mut domains: Vec<DomainScore<'m>> = m
        .domains
        .iter()
        .map(|d| DomainScore {
            id: &d.id,
            protective_measures_index: None,
            counted: 0,
            not_applicable: 0,
            unanswered: 0,
            contributions: Vec::new(),
        })
        .collect();
    // Per domain: (protection points, possible points).
    let mut totals = vec![(0u64, 0u64); domains.len()];
    let per_question = m.questions.iter().zip(&r.slots).zip(&m.index.question_domain).zip(&m.index.question_pmi_weight);
    for (((question, &slot), &di), &pmi_weight) in per_question {
        let (Some(domain), Some(total)) = (domains.get_mut(di), totals.get_mut(di)) else { continue };
        match slot {
            Slot::Excluded => continue,
            Slot::NotApplicable => {
                domain.not_applicable += 1;
                continue;
            }
            Slot::Unanswered => domain.unanswered += 1,
            Slot::Answered { .. } => {}
        }
        let Some(grade) = slot.grade() else { continue };
        let weight = u64::from(pmi_weight);
        domain.counted += 1;
        if EXPLAIN {
            domain.contributions.push(Contribution {
                to: Target::ProtectiveMeasuresIndex,
                source: Source::Answer {
                    question,
                    answer: slot.answer().and_then(|a| question.answers.get(a)),
                    grade,
                    weight: weight as u32,
                    counted: true,
                },
                points: 0,
            });
        }
        total.0 += protection_points(grade, weight);
        total.1 += u64::from(WORST_GRADE) * weight;
    }
    for (domain, (protection, possible)) in domains.iter_mut().zip(&totals) {
        if *possible == 0 {
            continue;
        }
        let value = round_div(100 * protection, *possible);
        if EXPLAIN {
            scratch.parts.clear();
            scratch.parts.extend(domain.contributions.iter().map(|c| match c.source {
                Source::Answer { grade, weight, .. } => protection_points(grade, u64::from(weight)),
                _ => 0,
            }));
            apportion_into(value, &scratch.parts, &mut scratch.shares, &mut scratch.order);
            for (c, share) in domain.contributions.iter_mut().zip(&scratch.shares) {
                c.points = *share as u32;
            }
        }
        domain.protective_measures_index = Some(value as u8);
    }
    let (protection, possible) = totals.iter().fold((0, 0), |(a, b), (p, q)| (a + p, b + q));
    if possible == 0 {
        return (domains, None, Vec::new());
    }
    let value = round_div(100 * protection, possible);
    if !EXPLAIN {
        return (domains, Some(value as u8), Vec::new());
    }
    let parts: Vec<u64> = totals.iter().map(|(p, _)| *p).collect();
    let shares = apportion(value, &parts);
    let site = domains
        .iter()
        .zip(shares)
        .map(|(d, share)| Contribution {
            to: Target::ProtectiveMeasuresIndex,
            source: Source::Domain { domain: d.id },
            points: share as u32,
        })
        .collect();
    (domains, Some(value as u8), site)
}

/// A question's protection points: grades better than the worst, times its weight.
fn protection_points(grade: u8, weight: u64) -> u64 {
    u64::from(WORST_GRADE - grade) * weight
}

/// Options for consideration of every answer at or above the action threshold, most
/// risk-reducing first, then cheapest, then least intrusive, then in methodology order.
fn proposed_actions<'m>(m: &'m Methodology, r: &Resolved, scenarios: &[ScenarioScore<'m>]) -> Vec<ProposedAction<'m>> {
    let max_risk = scenarios.iter().filter_map(|s| s.risk).max().unwrap_or(1);
    let risk: Vec<u32> = scenarios.iter().map(|s| u32::from(s.risk.unwrap_or(max_risk))).collect();
    let mut actions = Vec::new();
    for (qi, question) in m.questions.iter().enumerate() {
        let Some(&Slot::Answered { grade, .. }) = r.slots.get(qi) else { continue };
        if grade < m.parameters.action_threshold_grade {
            continue;
        }
        for measure in question.measures.iter().filter(|me| me.target < grade) {
            let gained = u32::from(grade - measure.target);
            let priority = m
                .index
                .question_scenarios
                .get(qi)
                .map(|ws| ws.iter().map(|(si, w)| u32::from(*w) * gained * risk.get(*si).copied().unwrap_or(0)).sum())
                .unwrap_or(0);
            actions.push(ProposedAction {
                measure: &measure.id,
                question: &question.id,
                domain: &question.domain,
                grade,
                target_grade: measure.target,
                cost: measure.cost,
                openness: measure.openness,
                priority,
            });
        }
    }
    // Stable: ties stay in methodology order.
    actions.sort_by_key(|a| (Reverse(a.priority), a.cost, a.openness));
    actions
}

/// Scores before and after a set of measures is in place, and the differences.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WhatIf<'m> {
    pub measures: Vec<&'m str>,
    pub before: ScoreReport<'m>,
    pub after: ScoreReport<'m>,
    pub deltas: Deltas<'m>,
}

/// after − before: negative risk and vulnerability, positive index mean progress.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Deltas<'m> {
    pub scenarios: Vec<ScenarioDelta<'m>>,
    pub protective_measures_index: Option<i16>,
    pub domains: Vec<DomainDelta<'m>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScenarioDelta<'m> {
    pub id: &'m str,
    pub vulnerability: i16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threat: Option<i16>,
    pub likelihood: Option<i16>,
    pub consequence: Option<i16>,
    pub risk: Option<i16>,
    /// When a measure bears on the scenario but leaves its vulnerability as it was: the
    /// question that decides instead (the weakest critical link, or the weakest way in of
    /// the measure's chain).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<&'m str>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DomainDelta<'m> {
    pub id: &'m str,
    pub protective_measures_index: Option<i16>,
}

fn diff(before: Option<u8>, after: Option<u8>) -> Option<i16> {
    Some(i16::from(after?) - i16::from(before?))
}

/// What-if: every listed measure in place (its question raised to the measure's target grade;
/// a question answered N/A stays N/A). The expected risk once a plan's open actions are done
/// is the what-if of their measures.
pub fn what_if<'m>(
    m: &'m Methodology,
    input: &AssessmentInput,
    measures: &[String],
) -> Result<WhatIf<'m>, AssessmentError> {
    let before_input = m.resolve(input)?;
    let mut after_input = before_input.clone();
    let mut applied = Vec::with_capacity(measures.len());
    // The questions a measure raised.
    let mut raised = Vec::with_capacity(measures.len());
    for id in measures {
        let unknown = || AssessmentError::UnknownMeasure { measure: id.clone() };
        let &(qi, mi) = m.index.measure_by_id.get(id).ok_or_else(unknown)?;
        let question = m.questions.get(qi).ok_or_else(unknown)?;
        let measure = question.measures.get(mi).ok_or_else(unknown)?;
        applied.push(measure.id.as_str());
        let slot = after_input.slots.get_mut(qi).ok_or_else(unknown)?;
        let raise = match *slot {
            Slot::Excluded => {
                return Err(AssessmentError::QuestionNotForCategory {
                    question: question.id.clone(),
                    category: input.site.category.key().to_owned(),
                });
            }
            Slot::NotApplicable => false,
            Slot::Unanswered => true,
            Slot::Answered { grade, .. } => grade > measure.target,
        };
        if raise && let Some(ai) = question.answers.iter().position(|a| a.grade == measure.target) {
            *slot = Slot::Answered { answer: ai as u8, grade: measure.target };
            raised.push(question);
        }
    }
    let before = score_resolved(m, &before_input);
    let after = score_resolved(m, &after_input);
    let deltas = Deltas {
        scenarios: before
            .scenarios
            .iter()
            .zip(&after.scenarios)
            .map(|(b, a)| ScenarioDelta {
                id: b.id,
                decided_by: (a.vulnerability == b.vulnerability).then(|| decider(a, &raised)).flatten(),
                vulnerability: i16::from(a.vulnerability) - i16::from(b.vulnerability),
                threat: diff(b.threat, a.threat),
                likelihood: diff(b.likelihood, a.likelihood),
                consequence: diff(b.consequence, a.consequence),
                risk: diff(b.risk, a.risk),
            })
            .collect(),
        protective_measures_index: diff(before.protective_measures_index, after.protective_measures_index),
        domains: before
            .domains
            .iter()
            .zip(&after.domains)
            .map(|(b, a)| DomainDelta {
                id: b.id,
                protective_measures_index: diff(b.protective_measures_index, a.protective_measures_index),
            })
            .collect(),
    };
    Ok(WhatIf { measures: applied, before, after, deltas })
}

/// Why raising these questions left a scenario's vulnerability as it was: the weakest critical
/// link that sets its floor, or else the counted (weakest) member of a raised question's chain.
/// `None` when no raised question bears on the scenario.
fn decider<'m>(after: &ScenarioScore<'m>, raised: &[&'m Question]) -> Option<&'m str> {
    let bears = |q: &Question| q.scenarios.contains_key(after.id);
    if !raised.iter().any(|q| bears(q)) {
        return None;
    }
    let weakest_link = after.contributions.iter().find_map(|c| match c.source {
        Source::WeakestLink { question, .. } if c.to == Target::Vulnerability => Some(question.id.as_str()),
        _ => None,
    });
    weakest_link.or_else(|| {
        raised.iter().filter(|q| bears(q)).find_map(|q| {
            let chain = q.chain.as_deref()?;
            after.contributions.iter().find_map(|c| match c.source {
                Source::Answer { question, counted: true, .. }
                    if question.chain.as_deref() == Some(chain) && question.id != q.id =>
                {
                    Some(question.id.as_str())
                }
                _ => None,
            })
        })
    })
}

/// Percentile rank of `value` among peer values (e.g. the protective measures index of the
/// validated assessments of the same category): the share of peers below it, ties counting
/// half, 0–100 rounded half up. `None` without peers.
pub fn percentile(value: u8, peers: &[u8]) -> Option<u8> {
    if peers.is_empty() {
        return None;
    }
    let below = peers.iter().filter(|p| **p < value).count() as u64;
    let equal = peers.iter().filter(|p| **p == value).count() as u64;
    Some(round_div(100 * (2 * below + equal), 2 * peers.len() as u64) as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apportion_adds_up_and_breaks_ties_in_order() {
        assert_eq!(apportion(10, &[1, 1, 1]), vec![4, 3, 3]);
        assert_eq!(apportion(0, &[5, 7]), vec![0, 0]);
        assert_eq!(apportion(3, &[0, 0]), vec![0, 0]);
        assert_eq!(apportion(7, &[2, 0, 5]), vec![2, 0, 5]);
        // Past 32 bits (the 64-bit division): the same rule.
        let big = u64::from(u32::MAX);
        assert_eq!(apportion(10, &[big, big, 1]), vec![5, 5, 0]);
        assert_eq!(apportion(big, &[1, 1, 1]), vec![1_431_655_765; 3]);
        assert_eq!(apportion(big + 1, &[1, 1, 1]), vec![1_431_655_766, 1_431_655_765, 1_431_655_765]);
    }

    #[test]
    fn round_div_rounds_half_up() {
        assert_eq!(round_div(5, 10), 1);
        assert_eq!(round_div(4, 10), 0);
        assert_eq!(round_div(250, 100), 3);
    }

    #[test]
    fn bands_count_thresholds_reached() {
        assert_eq!(band(0u8, &[20, 40, 60, 80]), 1);
        assert_eq!(band(20u8, &[20, 40, 60, 80]), 2);
        assert_eq!(band(100u8, &[20, 40, 60, 80]), 5);
    }

    #[test]
    fn percentile_counts_ties_half() {
        assert_eq!(percentile(50, &[]), None);
        assert_eq!(percentile(50, &[10, 20, 50, 90]), Some(63));
        assert_eq!(percentile(0, &[10, 20]), Some(0));
        assert_eq!(percentile(100, &[10, 20]), Some(100));
    }
}
