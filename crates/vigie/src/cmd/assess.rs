//! `vigie assess`: score an on-site vulnerability assessment offline, from a JSON file.
use std::path::PathBuf;

use clap::{Args, Subcommand};
use serde::Serialize;
use vigie_assessment::{AssessmentInput, Methodology, ScoreReport, score, what_if};
use vigie_domain::site::Lang;

use crate::error::CliError;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Score an assessment: vulnerability, likelihood, consequence and risk per scenario,
    /// protective measures index, proposed actions, each number with its contributions.
    Score(ScoreArgs),
    /// What changes once a set of measures is in place (e.g. the open actions of a plan).
    WhatIf(WhatIfArgs),
}

#[derive(Debug, Args)]
pub struct ScoreArgs {
    /// JSON file: {"methodology_version", "site": {"category", "occupancy", "area_m2"},
    /// "threat_level", "answers": {"QUESTION_ID": "ANSWER_ID" | "na"}}.
    #[arg(long)]
    pub answers: PathBuf,
    /// Language of the text output: fr or en.
    #[arg(long, default_value = "en")]
    pub lang: String,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct WhatIfArgs {
    #[command(flatten)]
    pub score: ScoreArgs,
    /// A measure id (as in `vigie methodology show`); repeat for several.
    #[arg(long = "measure", required = true)]
    pub measures: Vec<String>,
}

/// Appends one formatted line to a `String`.
macro_rules! say {
    ($out:expr, $($arg:tt)*) => {{
        $out.push_str(&format!($($arg)*));
        $out.push('\n');
    }};
}
pub(crate) use say;

/// Writes to stdout in one go; a closed pipe (`| head`) ends the output quietly.
pub(crate) fn emit(text: &str) -> Result<(), CliError> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(CliError::new(vigie_domain::Code::OutputFailed, format!("cannot write the output: {e}")))
        }
        _ => Ok(()),
    }
}

pub(crate) fn print_json(value: &impl Serialize) -> Result<(), CliError> {
    let mut text = serde_json::to_string_pretty(value)
        .map_err(|e| CliError::new(vigie_domain::Code::OutputFailed, format!("cannot write the JSON output: {e}")))?;
    text.push('\n');
    emit(&text)
}

pub fn run(command: Command) -> Result<(), CliError> {
    match command {
        Command::Score(args) => {
            let (methodology, input, lang) = load(&args)?;
            let report = score(methodology, &input)?;
            if args.json {
                return print_json(&report);
            }
            let mut out = String::new();
            print_report(&mut out, methodology, &report, lang);
            emit(&out)
        }
        Command::WhatIf(args) => {
            let (methodology, input, lang) = load(&args.score)?;
            let plan = what_if(methodology, &input, &args.measures)?;
            if args.score.json {
                return print_json(&plan);
            }
            let mut out = String::new();
            print_report(&mut out, methodology, &plan.after, lang);
            let (heading, vulnerability, risk) = match lang {
                Lang::Fr => ("Écarts (après − avant)", "vulnérabilité", "risque"),
                Lang::En => ("Changes (after − before)", "vulnerability", "risk"),
            };
            say!(out, "\n{heading}:");
            for d in &plan.deltas.scenarios {
                say!(out, "  {:<24} {vulnerability} {:+4}  {risk} {:+3}", d.id, d.vulnerability, d.risk.unwrap_or(0));
            }
            emit(&out)
        }
    }
}

fn load(args: &ScoreArgs) -> Result<(&'static Methodology, AssessmentInput, Lang), CliError> {
    let lang = Lang::from_code(&args.lang)?;
    let methodology = Methodology::embedded()?;
    let text = std::fs::read_to_string(&args.answers).map_err(|e| {
        CliError::new(vigie_domain::Code::AnswersFileUnreadable, format!("cannot read {}: {e}", args.answers.display()))
            .with_details(serde_json::json!({ "path": args.answers.display().to_string() }))
    })?;
    let input = AssessmentInput::from_json(&text).map_err(|err| {
        let mut details = err.details();
        details["path"] = serde_json::Value::String(args.answers.display().to_string());
        CliError::from(err).with_details(details)
    })?;
    Ok((methodology, input, lang))
}

fn print_report(out: &mut String, m: &Methodology, report: &ScoreReport<'_>, lang: Lang) {
    let fr = lang == Lang::Fr;
    let name =
        |id: &str| m.scenarios.iter().find(|s| s.id == id).map_or(id.to_owned(), |s| s.name.get(lang).to_owned());
    let band =
        |id: Option<&str>| m.risk_bands.iter().find(|b| Some(b.id.as_str()) == id).map_or("", |b| b.name.get(lang));
    say!(
        out,
        "{:<50} {:>5} {:>3} {:>3} {:>4}",
        if fr { "Scénario" } else { "Scenario" },
        "Vuln.",
        if fr { "V" } else { "L" },
        "C",
        if fr { "Risque" } else { "Risk" }
    );
    for s in &report.scenarios {
        let show = |v: Option<u8>| v.map_or("–".to_owned(), |v| v.to_string());
        say!(
            out,
            "{:<50} {:>5} {:>3} {:>3} {:>4}  {}",
            name(s.id),
            s.vulnerability,
            show(s.likelihood),
            show(s.consequence),
            show(s.risk),
            band(s.risk_band)
        );
    }
    let pmi = report.protective_measures_index.map_or("–".to_owned(), |v| v.to_string());
    say!(out, "\n{}: {pmi}/100", if fr { "Indice des mesures de protection" } else { "Protective measures index" });
    for d in &report.domains {
        let domain = m.domains.iter().find(|x| x.id == d.id).map_or(d.id, |x| x.name.get(lang));
        let value = d.protective_measures_index.map_or("–".to_owned(), |v| v.to_string());
        say!(out, "  {domain:<58} {value:>4}");
    }
    if !report.actions.is_empty() {
        say!(out, "\n{}:", if fr { "Actions proposées, par priorité" } else { "Proposed actions, by priority" });
        for a in report.actions.iter().take(15) {
            let label = m
                .question(a.question)
                .and_then(|q| q.measures.iter().find(|me| me.id == a.measure))
                .map_or(a.measure, |me| if fr { me.fr.as_str() } else { me.en.as_str() });
            say!(out, "  {:>4}  {label} ({}, {})", a.priority, a.cost.label(lang), a.openness.label(lang));
        }
    }
    if !report.unanswered.is_empty() {
        say!(
            out,
            "\n{} {}",
            report.unanswered.len(),
            if fr {
                "question(s) sans réponse, comptée(s) comme « rien en place »."
            } else {
                "question(s) unanswered, counted as \"nothing in place\"."
            }
        );
    }
}
