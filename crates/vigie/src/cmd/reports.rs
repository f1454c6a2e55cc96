//! `vigie field-reports`: the field reports an account may read (`--as EMAIL`), as JSON.
use clap::Subcommand;
use serde_json::json;
use vigie_domain::report::FieldReport;

use super::{open_app, print_json};
use crate::config::GlobalArgs;
use crate::error::CliError;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The reports the account may read, newest first.
    List {
        /// The account on whose behalf to read.
        #[arg(long = "as", value_name = "EMAIL")]
        as_user: String,
    },
}

pub async fn run(global: &GlobalArgs, command: Command) -> Result<(), CliError> {
    let (app, _, _) = open_app(global).await?;
    match command {
        Command::List { as_user } => {
            let caller = app.console().principal_of(&as_user).await?;
            let items: Vec<_> = app.reports(&caller).await?.iter().map(FieldReport::to_json).collect();
            print_json(&json!({ "items": items }));
        }
    }
    Ok(())
}
