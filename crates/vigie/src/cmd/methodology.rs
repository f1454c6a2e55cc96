//! `vigie methodology`: the assessment methodology embedded in this binary.
use clap::{Args, Subcommand};
use vigie_assessment::Methodology;
use vigie_domain::site::Lang;

use super::assess::say;
use crate::error::CliError;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the whole methodology: scenarios, domains, questions, graded answers, weights and
    /// options for consideration.
    Show(ShowArgs),
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Language of the texts: fr or en.
    #[arg(long, default_value = "en")]
    pub lang: String,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

pub fn run(command: Command) -> Result<(), CliError> {
    match command {
        Command::Show(args) => show(&args),
    }
}

fn show(args: &ShowArgs) -> Result<(), CliError> {
    let lang = Lang::from_code(&args.lang)?;
    let methodology = Methodology::embedded()?;
    let view = methodology.view(lang);
    if args.json {
        return super::assess::print_json(&view);
    }
    let mut out = String::new();
    let (title, scenarios, domains) = match lang {
        Lang::En => ("Vigie assessment methodology", "Threat scenarios", "Domains and questions"),
        Lang::Fr => ("Méthodologie d'évaluation Vigie", "Scénarios de menace", "Domaines et questions"),
    };
    say!(out, "{title} {}\n\n{scenarios}:", view.version);
    for s in &view.scenarios {
        say!(out, "  {:<24} {}", s.id, s.name);
    }
    say!(out, "\n{domains}:");
    for d in &view.domains {
        say!(out, "\n■ {}", d.name);
        for q in view.questions.iter().filter(|q| q.domain == d.id) {
            say!(out, "  {} — {}", q.id, q.text);
            for a in &q.answers {
                say!(out, "      [{}] {}", a.id, a.label);
            }
            if q.allows_na {
                say!(out, "      [na] {}", if lang == Lang::Fr { "Sans objet" } else { "Not applicable" });
            }
        }
    }
    super::assess::emit(&out)
}
