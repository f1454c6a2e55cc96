//! Integration tests of the methodology and the scoring engine (one test binary per crate).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // a test fails loudly

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use vigie_assessment::score::{Source, Target};
use vigie_assessment::{
    AssessmentInput, Methodology, SiteContext, apportion, percentile, score, score_numbers, what_if,
};
use vigie_domain::site::{Lang, SiteCategory};

fn methodology() -> &'static Methodology {
    match Methodology::embedded() {
        Ok(m) => m,
        Err(err) => panic!("the embedded methodology must load: {err}"),
    }
}

fn input(category: SiteCategory, answers: BTreeMap<String, String>) -> AssessmentInput {
    AssessmentInput {
        methodology_version: methodology().version.clone(),
        site: SiteContext { category, occupancy: 3000, area_m2: 6000.0, visibility: None },
        threat_level: 4,
        answers,
    }
}

const WORKED_EXAMPLE: &str = include_str!("../../../methodology/examples/christmas-market.json");

// ── The methodology as data ──────────────────────────────────────────────────────────────

#[test]
fn the_methodology_covers_the_required_scenarios_domains_and_questions() {
    let m = methodology();
    let ids: BTreeSet<&str> = m.scenarios.iter().map(|s| s.id.as_str()).collect();
    for required in [
        "vehicle_as_weapon",
        "bladed_weapon",
        "marauding_firearms",
        "person_borne_ied",
        "vehicle_borne_ied",
        "placed_ied",
        "fire_as_weapon",
        "cbrn",
        "hostile_drone",
        "insider",
        "hostile_reconnaissance",
    ] {
        assert!(ids.contains(required), "missing scenario {required}");
    }
    assert!(m.scenarios.iter().filter(|s| !s.precursor).count() >= 10);
    assert!(m.scenarios.iter().any(|s| s.id == "hostile_reconnaissance" && s.precursor));
    assert!(m.domains.len() >= 10);
    assert!(m.questions.len() >= 100, "{} questions", m.questions.len());
    assert!(m.questions.iter().all(|q| (2..=5).contains(&q.answers.len())));
    assert!(m.questions.iter().any(|q| q.allows_na));
}

/// The key check: every text of the methodology exists in English and in French, and the
/// two differ wherever a sentence is translated (a copy left untranslated is caught).
#[test]
fn every_text_exists_in_both_languages() {
    let m = methodology();
    let mut pairs: Vec<(String, &str, &str)> = Vec::new();
    for s in &m.scenarios {
        pairs.push((format!("scenario {}", s.id), &s.name.en, &s.name.fr));
        pairs.push((format!("scenario {} description", s.id), &s.description.en, &s.description.fr));
    }
    for d in &m.domains {
        pairs.push((format!("domain {}", d.id), &d.name.en, &d.name.fr));
        pairs.push((format!("domain {} description", d.id), &d.description.en, &d.description.fr));
    }
    for b in &m.risk_bands {
        pairs.push((format!("risk band {}", b.id), &b.name.en, &b.name.fr));
    }
    for q in &m.questions {
        pairs.push((q.id.clone(), &q.en, &q.fr));
        for a in &q.answers {
            pairs.push((format!("{} answer {}", q.id, a.id), &a.en, &a.fr));
        }
        for me in &q.measures {
            pairs.push((me.id.clone(), &me.en, &me.fr));
        }
    }
    for (what, en, fr) in pairs {
        assert!(!en.trim().is_empty() && !fr.trim().is_empty(), "{what}: a language is missing");
        if en.split_whitespace().count() > 2 {
            assert_ne!(en, fr, "{what}: the French text is a copy of the English one");
        }
    }
}

#[test]
fn a_methodology_missing_a_french_text_is_refused_with_its_culprit() {
    let header = include_str!("../../../methodology/methodology.toml");
    let broken = header.replacen("name = { en = \"Low\", fr = \"Faible\" }", "name = { en = \"Low\" }", 1);
    let err = Methodology::from_sources(("methodology.toml", &broken), &[]).unwrap_err();
    assert_eq!(err.code(), "methodology_parse_failed");
    assert!(err.to_string().contains("fr"), "{err}");

    let empty = header.replacen("fr = \"Faible\"", "fr = \"\"", 1);
    let question = include_str!("../../../methodology/questions/management.toml");
    let err = Methodology::from_sources(("methodology.toml", &empty), &[("q.toml", question)]).unwrap_err();
    assert_eq!(err.code(), "methodology_invalid");
    assert!(err.to_string().contains("risk band low"), "{err}");
}

#[test]
fn a_question_naming_an_unknown_scenario_or_grade_is_refused() {
    let header = include_str!("../../../methodology/methodology.toml");
    let file = include_str!("../../../methodology/questions/management.toml");
    for (from, to, expected) in [
        ("scenarios = { all = 1 }", "scenarios = { asteroid = 1 }", "unknown scenario 'asteroid'"),
        ("{ grade = 4, en = \"Never.\"", "{ grade = 5, en = \"Never.\"", "grade 0"),
        ("target = 0, en = \"Make a written", "target = 3, en = \"Make a written", "targets grade 3"),
    ] {
        let broken = file.replacen(from, to, 1);
        assert_ne!(broken, file, "the replacement of {from} must apply");
        let err = Methodology::from_sources(("methodology.toml", header), &[("management.toml", &broken)]).unwrap_err();
        assert!(err.to_string().contains(expected), "{err}");
    }
}

#[test]
fn the_methodology_view_has_the_documented_fields_in_each_language() {
    let m = methodology();
    for lang in [Lang::En, Lang::Fr] {
        let view = serde_json::to_value(m.view(lang)).unwrap_or_default();
        assert_eq!(view["version"], m.version.as_str());
        let q = &view["questions"][0];
        for field in ["id", "domain", "applies_to", "allows_na", "answers", "scenarios", "measures", "text"] {
            assert!(!q[field].is_null(), "question field {field}");
        }
        for field in ["id", "grade", "label"] {
            assert!(!q["answers"][0][field].is_null(), "answer field {field}");
        }
        assert!(!q["scenarios"][0]["weight"].is_null());
        assert_eq!(view["scenarios"].as_array().map(Vec::len), Some(m.scenarios.len()));
    }
    let fr = serde_json::to_value(m.view(Lang::Fr)).unwrap_or_default();
    assert_eq!(fr["domains"][2]["name"], "Contrôle d'accès et fouille");
}

// ── Input errors name their culprit ───────────────────────────────────────────────────────

#[test]
fn input_errors_name_the_culprit_with_a_stable_code() {
    let m = methodology();
    let answer = |q: &str, a: &str| BTreeMap::from([(q.to_owned(), a.to_owned())]);
    let cases = [
        (input(SiteCategory::Stadium, answer("management.nonsense", "g0")), "unknown_question", "management.nonsense"),
        (input(SiteCategory::Stadium, answer("management.security_lead", "g2")), "unknown_answer", "g2"),
        (
            input(SiteCategory::Stadium, answer("management.security_lead", "na")),
            "not_applicable_refused",
            "security_lead",
        ),
        (
            input(SiteCategory::ShoppingCentre, answer("crowd.market_layout", "g0")),
            "question_not_for_category",
            "market_layout",
        ),
    ];
    for (input, code, culprit) in cases {
        let err = score(m, &input).unwrap_err();
        assert_eq!(err.code(), code);
        assert!(err.to_string().contains(culprit), "{err}");
    }
    let mut old = input(SiteCategory::Stadium, BTreeMap::new());
    old.methodology_version = "1999.1".into();
    let err = score(m, &old).unwrap_err();
    assert_eq!(err.code(), "methodology_version_mismatch");
    assert_eq!(err.details()["found"], "1999.1");

    let mut bad = input(SiteCategory::Stadium, BTreeMap::new());
    bad.threat_level = 9;
    assert_eq!(score(m, &bad).unwrap_err().details()["field"], "threat_level");

    let missing = r#"{"methodology_version": "2026.1", "site": {"category": "stadium", "occupancy": 10, "area_m2": 100}, "answers": {}}"#;
    let err = AssessmentInput::from_json(missing).unwrap_err();
    assert_eq!(err.code(), "assessment_input_malformed");
    assert!(err.to_string().contains("threat_level"), "{err}");

    let err = what_if(m, &input(SiteCategory::Stadium, BTreeMap::new()), &["no.such.measure".into()]).unwrap_err();
    assert_eq!(err.code(), "unknown_measure");
}

// ── The worked example of docs/methodology.md ─────────────────────────────────────────────

/// The named scenario of a report.
fn scenario<'r, 'm>(
    report: &'r vigie_assessment::ScoreReport<'m>,
    id: &str,
) -> &'r vigie_assessment::score::ScenarioScore<'m> {
    report.scenarios.iter().find(|s| s.id == id).unwrap_or_else(|| panic!("scenario {id}"))
}

/// A scenario's contributions to one number, by source, leaving out zeros.
fn points(s: &vigie_assessment::score::ScenarioScore<'_>, target: Target) -> Vec<(String, u32)> {
    s.contributions
        .iter()
        .filter(|c| c.to == target && c.points > 0)
        .map(|c| match &c.source {
            Source::Answer { question, .. } => (question.id.clone(), c.points),
            Source::WeakestLink { question, .. } => (format!("weakest link {}", question.id), c.points),
            Source::Factor { factor, .. } => (format!("{factor:?}"), c.points),
            Source::Domain { domain } => (domain.to_string(), c.points),
        })
        .collect()
}

fn owned(pairs: &[(&str, u32)]) -> Vec<(String, u32)> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

#[test]
fn the_worked_example_of_the_documentation_is_reproduced() {
    let m = methodology();
    let input = AssessmentInput::from_json(WORKED_EXAMPLE).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(input.methodology_version, m.version, "the worked example uses the current methodology");
    let report = score(m, &input).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.factors.attractiveness, 3);
    assert_eq!(report.factors.people_exposed, 3);
    assert_eq!(report.factors.crowd_density, 2);
    let vehicle = scenario(&report, "vehicle_as_weapon");
    assert_eq!(vehicle.vulnerability, 60);
    assert_eq!(vehicle.vulnerability_band, Some(4));
    assert_eq!(vehicle.threat, Some(3));
    assert_eq!(vehicle.likelihood, None);
    assert_eq!(vehicle.consequence, Some(4));
    assert_eq!(vehicle.risk, Some(48));
    assert_eq!(vehicle.risk_band, Some("high"));
    assert_eq!(
        points(vehicle, Target::Vulnerability),
        owned(&[
            ("perimeter.hvm_event_closures", 3),
            ("perimeter.delivery_vehicles", 2),
            ("training.vehicle_attack_reflexes", 1),
            ("crowd.market_layout", 1),
            ("weakest link perimeter.hvm_event_closures", 53),
        ])
    );
    assert_eq!(points(vehicle, Target::Threat), owned(&[("ThreatLevel", 1), ("Attractiveness", 1), ("Prevalence", 1)]));
    assert_eq!(points(vehicle, Target::Consequence), owned(&[("Severity", 3), ("PeopleExposed", 1)]));
    assert_eq!(points(vehicle, Target::Risk), owned(&[("Threat", 14), ("Vulnerability", 17), ("Consequence", 17)]));
    // Marauding firearms, nothing to exploit: low, where version 2026.1 said high (12).
    let firearms = scenario(&report, "marauding_firearms");
    assert_eq!((firearms.vulnerability, firearms.risk, firearms.risk_band), (0, Some(12), Some("low")));
    assert_eq!(report.protective_measures_index, Some(99));
    assert_eq!(report.domains[1].protective_measures_index, Some(75));
    let first = &report.actions[0];
    assert_eq!(first.measure, "perimeter.hvm_event_closures.temporary_hvm");
    assert_eq!(first.priority, 432);

    let after =
        what_if(m, &input, &["perimeter.hvm_event_closures.temporary_hvm".into()]).unwrap_or_else(|e| panic!("{e}"));
    let delta = after.deltas.scenarios.iter().find(|d| d.id == "vehicle_as_weapon").unwrap_or_else(|| panic!("delta"));
    assert_eq!(delta.vulnerability, -40);
    assert_eq!(delta.threat, Some(0));
    assert_eq!(delta.risk, Some(-24));
    assert_eq!(scenario(&after.after, "vehicle_as_weapon").risk_band, Some("medium"));
    assert_eq!(delta.decided_by, None);

    // Checking delivery vehicles changes nothing for vehicle ramming while the event closures
    // (the weakest critical link) set the floor: the what-if names them.
    let checked = what_if(m, &input, &["perimeter.delivery_vehicles.vehicle_register".into()]).unwrap();
    let delta = checked.deltas.scenarios.iter().find(|d| d.id == "vehicle_as_weapon").unwrap();
    assert_eq!((delta.vulnerability, delta.risk), (0, Some(0)));
    assert_eq!(delta.decided_by, Some("perimeter.hvm_event_closures"));
    // Raising the main approaches, a stronger member of the closures' chain, is decided by the
    // closures too.
    let approaches = what_if(m, &input, &["perimeter.hvm_main_approaches.rated_hvm".into()]).unwrap();
    let delta = approaches.deltas.scenarios.iter().find(|d| d.id == "vehicle_as_weapon").unwrap();
    assert_eq!((delta.vulnerability, delta.decided_by), (0, Some("perimeter.hvm_event_closures")));
}

#[test]
fn completeness_counts_answered_not_applicable_and_unanswered_and_marks_figures_provisional() {
    let m = methodology();
    let complete = score(m, &AssessmentInput::from_json(WORKED_EXAMPLE).unwrap()).unwrap();
    let c = complete.completeness;
    assert_eq!(c.unanswered, 0);
    assert!(c.not_applicable >= 3);
    assert_eq!(c.answered + c.not_applicable, c.applicable);
    assert!(!complete.provisional && complete.scenarios.iter().all(|s| !s.provisional));

    let mut partial = AssessmentInput::from_json(WORKED_EXAMPLE).unwrap();
    partial.answers.remove("perimeter.hvm_main_approaches");
    let report = score(m, &partial).unwrap();
    assert_eq!(report.completeness.unanswered, 1);
    assert_eq!(report.completeness.applicable, c.applicable);
    assert!(report.provisional);
    assert!(scenario(&report, "vehicle_as_weapon").provisional);
    assert!(!scenario(&report, "cbrn").provisional, "the main approaches do not bear on CBRN");
}

#[test]
fn an_assessment_made_with_version_2026_1_keeps_its_results() {
    let old = Methodology::embedded_version("2026.1").unwrap().unwrap_or_else(|| panic!("2026.1 is carried"));
    let mut input = AssessmentInput::from_json(WORKED_EXAMPLE).unwrap_or_else(|e| panic!("{e}"));
    input.methodology_version = "2026.1".into();
    let report = score(old, &input).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.methodology_version, "2026.1");
    let vehicle = scenario(&report, "vehicle_as_weapon");
    assert_eq!((vehicle.likelihood, vehicle.consequence, vehicle.threat), (Some(4), Some(4), None));
    assert_eq!((vehicle.risk, vehicle.risk_band), (Some(16), Some("very_high")));
    assert_eq!(
        points(vehicle, Target::Likelihood),
        owned(&[("ThreatLevel", 1), ("Attractiveness", 1), ("Prevalence", 1), ("Vulnerability", 1)])
    );
    let firearms = scenario(&report, "marauding_firearms");
    assert_eq!((firearms.risk, firearms.risk_band), (Some(12), Some("high")));
    let after =
        what_if(old, &input, &["perimeter.hvm_event_closures.temporary_hvm".into()]).unwrap_or_else(|e| panic!("{e}"));
    let delta = after.deltas.scenarios.iter().find(|d| d.id == "vehicle_as_weapon").unwrap_or_else(|| panic!("delta"));
    assert_eq!((delta.likelihood, delta.risk), (Some(-1), Some(-4)));
    assert!(Methodology::embedded_version("2025.9").unwrap().is_none());
}

/// The position of a risk's band among the methodology's bands, lowest 0.
fn band_rank(m: &Methodology, risk: u32) -> usize {
    m.risk_bands.iter().rposition(|b| u32::from(b.min) <= risk).unwrap_or(0)
}

#[test]
fn at_every_threat_and_consequence_vulnerability_0_is_two_bands_below_vulnerability_100() {
    let m = methodology();
    for threat in 1..=5u32 {
        for consequence in 1..=5u32 {
            let worst = band_rank(m, threat * 5 * consequence);
            let best = band_rank(m, threat * consequence);
            assert!(best <= worst.saturating_sub(2), "threat {threat}, consequence {consequence}: {best} vs {worst}");
        }
    }
}

// ── Properties ─────────────────────────────────────────────────────────────────────────────

/// A random assessment: a category, a threat level, a context and, per question, a choice
/// among its answers, `na` (when allowed) or no answer.
fn arbitrary_input() -> impl Strategy<Value = AssessmentInput> {
    let m = methodology();
    (
        0..SiteCategory::ALL.len(),
        1u8..=5,
        0u32..60_000,
        1.0f64..200_000.0,
        proptest::option::of(1u8..=5),
        proptest::collection::vec(0usize..8, m.questions.len()),
    )
        .prop_map(move |(category, threat_level, occupancy, area_m2, visibility, choices)| {
            let category = SiteCategory::ALL[category];
            let mut answers = BTreeMap::new();
            for (q, choice) in m.questions.iter().zip(choices) {
                if !q.applies_to.contains(&category) {
                    continue;
                }
                if choice < q.answers.len() {
                    answers.insert(q.id.clone(), q.answers[choice].id.clone());
                } else if choice == q.answers.len() && q.allows_na {
                    answers.insert(q.id.clone(), "na".to_owned());
                }
            }
            AssessmentInput {
                methodology_version: m.version.clone(),
                site: SiteContext { category, occupancy, area_m2, visibility },
                threat_level,
                answers,
            }
        })
}

proptest! {
    // Many inputs: the numbers-only path must never drift from the full report.
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn the_numbers_only_path_gives_the_numbers_of_the_full_report(input in arbitrary_input()) {
        let m = methodology();
        let full = score(m, &input).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let numbers = score_numbers(m, &input).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(numbers.scenarios.len(), m.scenarios.len());
        prop_assert_eq!(numbers.domains.len(), m.domains.len());
        prop_assert_eq!(numbers, full.numbers());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn scoring_is_deterministic(input in arbitrary_input()) {
        let m = methodology();
        let a = score(m, &input).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let b = score(m, &input).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(serde_json::to_string(&a).ok(), serde_json::to_string(&b).ok());
    }

    #[test]
    fn scores_stay_in_bounds_and_explanations_add_up_exactly(input in arbitrary_input()) {
        let m = methodology();
        let report = score(m, &input).map_err(|e| TestCaseError::fail(e.to_string()))?;
        for s in &report.scenarios {
            prop_assert!(s.vulnerability <= 100);
            let sum = |t: Target| s.contributions.iter().filter(|c| c.to == t).map(|c| c.points).sum::<u32>();
            prop_assert_eq!(sum(Target::Vulnerability), u32::from(s.vulnerability));
            match (s.threat, s.vulnerability_band, s.consequence, s.risk) {
                (Some(t), Some(v), Some(c), Some(r)) => {
                    prop_assert!((1..=5).contains(&t) && (1..=5).contains(&v) && (1..=5).contains(&c));
                    prop_assert_eq!(u32::from(r), u32::from(t) * u32::from(v) * u32::from(c));
                    prop_assert_eq!(sum(Target::Threat), u32::from(t));
                    prop_assert_eq!(sum(Target::Consequence), u32::from(c));
                    prop_assert_eq!(sum(Target::Risk), u32::from(r));
                    prop_assert!(s.likelihood.is_none());
                    prop_assert!(s.risk_band.is_some());
                }
                (None, None, None, None) => prop_assert!(s.precursor),
                _ => prop_assert!(false, "threat, vulnerability, consequence and risk come together"),
            }
            // The weakest link: a critical measure at grade g keeps the scenario at least
            // as vulnerable as the floor of g.
            for q in m.questions.iter().filter(|q| q.scenarios.get(s.id) == Some(&3) && q.applies_to.contains(&input.site.category)) {
                let grade = match input.answers.get(&q.id).map(String::as_str) {
                    Some("na") => continue,
                    Some(a) => q.answers.iter().find(|x| x.id == a).map_or(4, |x| x.grade),
                    None => 4,
                };
                prop_assert!(s.vulnerability >= m.parameters.weakest_link_floor[usize::from(grade)], "{} below the floor of {}", s.id, q.id);
            }
            // Every counted question bearing on the scenario is explained exactly once.
            let si = m.scenarios.iter().position(|x| x.id == s.id).unwrap_or(0);
            let expected: Vec<&str> = m.questions.iter()
                .filter(|q| q.scenarios.contains_key(&m.scenarios[si].id)
                    && q.applies_to.contains(&input.site.category)
                    && input.answers.get(&q.id).map(String::as_str) != Some("na"))
                .map(|q| q.id.as_str())
                .collect();
            let explained: Vec<&str> = s.contributions.iter()
                .filter(|c| c.to == Target::Vulnerability)
                .filter_map(|c| match &c.source { Source::Answer { question, .. } => Some(question.id.as_str()), _ => None })
                .collect();
            prop_assert_eq!(explained, expected);
        }
        if let Some(pmi) = report.protective_measures_index {
            prop_assert!(pmi <= 100);
            prop_assert_eq!(report.protective_measures_contributions.iter().map(|c| c.points).sum::<u32>(), u32::from(pmi));
        }
        for d in &report.domains {
            let sum: u32 = d.contributions.iter().map(|c| c.points).sum();
            prop_assert_eq!(sum, d.protective_measures_index.map_or(0, u32::from));
        }
    }

    #[test]
    fn a_better_answer_never_raises_a_vulnerability_or_a_risk(input in arbitrary_input(), pick in any::<prop::sample::Index>()) {
        let m = methodology();
        let before = score(m, &input).map_err(|e| TestCaseError::fail(e.to_string()))?;
        // Take one applicable question that is not N/A and give it a strictly better answer.
        let candidates: Vec<_> = m.questions.iter()
            .filter(|q| q.applies_to.contains(&input.site.category))
            .filter(|q| input.answers.get(&q.id).map(String::as_str) != Some("na"))
            .collect();
        let q = candidates[pick.index(candidates.len())];
        let grade = input.answers.get(&q.id)
            .and_then(|a| q.answers.iter().find(|x| &x.id == a))
            .map_or(4, |a| a.grade);
        let better: Vec<_> = q.answers.iter().filter(|a| a.grade < grade).collect();
        prop_assume!(!better.is_empty());
        let mut improved = input.clone();
        improved.answers.insert(q.id.clone(), better[pick.index(better.len())].id.clone());
        let after = score(m, &improved).map_err(|e| TestCaseError::fail(e.to_string()))?;
        for (b, a) in before.scenarios.iter().zip(&after.scenarios) {
            prop_assert!(a.vulnerability <= b.vulnerability, "{} vulnerability rose", b.id);
            prop_assert!(a.threat <= b.threat, "{} threat rose", b.id);
            prop_assert!(a.risk <= b.risk, "{} risk rose", b.id);
        }
        prop_assert!(after.protective_measures_index >= before.protective_measures_index);
        for (b, a) in before.domains.iter().zip(&after.domains) {
            prop_assert!(a.protective_measures_index >= b.protective_measures_index);
        }
    }

    #[test]
    fn completing_proposed_actions_never_raises_risk(input in arbitrary_input(), take in 0usize..20) {
        let m = methodology();
        let report = score(m, &input).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let measures: Vec<String> = report.actions.iter().take(take).map(|a| a.measure.to_owned()).collect();
        let plan = what_if(m, &input, &measures).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&plan.before, &report);
        for (d, (b, a)) in plan.deltas.scenarios.iter().zip(plan.before.scenarios.iter().zip(&plan.after.scenarios)) {
            prop_assert!(d.vulnerability <= 0 && d.risk.unwrap_or(0) <= 0);
            prop_assert_eq!(i16::from(a.vulnerability) - i16::from(b.vulnerability), d.vulnerability);
        }
        prop_assert!(plan.deltas.protective_measures_index.unwrap_or(0) >= 0);
    }

    #[test]
    fn risk_never_falls_when_the_threat_level_or_the_crowd_rises(input in arbitrary_input(), more_people in 0u32..20_000) {
        let m = methodology();
        let before = score(m, &input).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut raised = input.clone();
        raised.threat_level = (input.threat_level + 1).min(5);
        raised.site.occupancy += more_people;
        let after = score(m, &raised).map_err(|e| TestCaseError::fail(e.to_string()))?;
        for (b, a) in before.scenarios.iter().zip(&after.scenarios) {
            prop_assert_eq!(a.vulnerability, b.vulnerability);
            prop_assert!(a.threat >= b.threat && a.consequence >= b.consequence, "{} fell", b.id);
            prop_assert!(a.risk >= b.risk, "{} risk fell", b.id);
        }
    }

    #[test]
    fn every_answer_at_best_is_two_bands_below_every_answer_at_worst(input in arbitrary_input()) {
        let m = methodology();
        let at = |pick: fn(&[vigie_assessment::model::Answer]) -> Option<&vigie_assessment::model::Answer>| {
            let mut answers = BTreeMap::new();
            for q in m.questions.iter().filter(|q| q.applies_to.contains(&input.site.category)) {
                if let Some(a) = pick(&q.answers) {
                    answers.insert(q.id.clone(), a.id.clone());
                }
            }
            score(m, &AssessmentInput { answers, ..input.clone() })
        };
        let best = at(|answers| answers.iter().min_by_key(|a| a.grade)).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let worst = at(|answers| answers.iter().max_by_key(|a| a.grade)).map_err(|e| TestCaseError::fail(e.to_string()))?;
        for (b, w) in best.scenarios.iter().zip(&worst.scenarios).filter(|(b, _)| !b.precursor) {
            prop_assert_eq!((b.vulnerability, w.vulnerability), (0, 100), "{}", b.id);
            let (rb, rw) = (band_rank(m, u32::from(b.risk.unwrap_or(0))), band_rank(m, u32::from(w.risk.unwrap_or(0))));
            prop_assert!(rb <= rw.saturating_sub(2), "{}: band {} at best, {} at worst", b.id, rb, rw);
        }
    }

    #[test]
    fn apportion_adds_up_and_stays_within_one_of_the_exact_share(total in 0u64..10_000, parts in proptest::collection::vec(0u64..1_000, 0..60)) {
        let shares = apportion(total, &parts);
        let sum: u64 = parts.iter().sum();
        prop_assert_eq!(shares.len(), parts.len());
        if let Some(floor_of) = (sum > 0).then_some(|part: u64| total * part / sum) {
            prop_assert_eq!(shares.iter().sum::<u64>(), total);
            for (share, part) in shares.iter().zip(&parts) {
                let floor = floor_of(*part);
                prop_assert!(*share == floor || *share == floor + 1);
            }
        }
    }

    #[test]
    fn percentile_is_bounded_and_rises_with_the_value(value in 0u8..=100, peers in proptest::collection::vec(0u8..=100, 1..50)) {
        let p = percentile(value, &peers).unwrap_or(255);
        prop_assert!(p <= 100);
        if value < 100 {
            prop_assert!(percentile(value + 1, &peers).unwrap_or(0) >= p);
        }
    }
}
