//! `vigie bulletins`: threat bulletins from the command line, on behalf of an account
//! (`--as EMAIL`): what it lists and shows is what that person may read under TLP 2.0, and
//! what it sends is audited as theirs.
use std::path::PathBuf;

use clap::Subcommand;
use serde_json::json;
use vigie_domain::BulletinId;
use vigie_domain::bulletin::{Bulletin, BulletinRequest};

use super::{open_app, print_json};
use crate::config::GlobalArgs;
use crate::error::CliError;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The bulletins the account may read, newest first.
    List {
        /// The account on whose behalf to read.
        #[arg(long = "as", value_name = "EMAIL")]
        as_user: String,
    },
    /// One bulletin, as JSON.
    Show {
        id: String,
        #[arg(long = "as", value_name = "EMAIL")]
        as_user: String,
    },
    /// Send the bulletin described in a JSON file (the API's `POST /api/v1/bulletins` body).
    Send {
        #[arg(long, value_name = "B.json")]
        file: PathBuf,
        #[arg(long = "as", value_name = "EMAIL")]
        as_user: String,
    },
    /// Change a bulletin's marking, its recipients unchanged (its source's organisation only;
    /// a lowered marking is flagged in the audit log).
    Mark {
        id: String,
        /// The new TLP 2.0 marking, e.g. TLP:AMBER.
        #[arg(long)]
        marking: String,
        #[arg(long = "as", value_name = "EMAIL")]
        as_user: String,
    },
}

pub async fn run(global: &GlobalArgs, command: Command) -> Result<(), CliError> {
    let (app, _, _) = open_app(global).await?;
    let console = app.console();
    match command {
        Command::List { as_user } => {
            let caller = console.principal_of(&as_user).await?;
            let items: Vec<_> = app.bulletins(&caller).await?.iter().map(Bulletin::to_json).collect();
            print_json(&json!({ "items": items }));
        }
        Command::Mark { id, marking, as_user } => {
            let caller = console.principal_of(&as_user).await?;
            let change = vigie_app::marking::MarkingChange { marking, recipients: None };
            print_json(&app.change_bulletin_marking(&caller, &BulletinId::from(id), change).await?.to_json());
        }
        Command::Show { id, as_user } => {
            let caller = console.principal_of(&as_user).await?;
            print_json(&app.bulletin(&caller, &BulletinId::from(id)).await?.to_json());
        }
        Command::Send { file, as_user } => {
            let caller = console.principal_of(&as_user).await?;
            let text = std::fs::read_to_string(&file).map_err(|e| {
                CliError::new(vigie_domain::Code::FileUnreadable, format!("cannot read {}: {e}", file.display()))
            })?;
            let request: BulletinRequest = serde_json::from_str(&text).map_err(|e| {
                CliError::new(
                    vigie_domain::Code::JsonMalformed,
                    format!("{} is not a bulletin: {e} (line {}, column {})", file.display(), e.line(), e.column()),
                )
            })?;
            let bulletin = app.send_bulletin(&caller, request.into_draft()?).await?;
            print_json(&bulletin.to_json());
        }
    }
    Ok(())
}
