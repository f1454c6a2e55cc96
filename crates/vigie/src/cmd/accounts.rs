//! `vigie orgs|users|tokens`.
use std::io::{BufRead, IsTerminal, Write};

use super::{open_app, print_json};
use crate::config::GlobalArgs;
use crate::error::CliError;
use clap::Subcommand;
use serde_json::json;
use vigie_domain::TokenId;
use vigie_domain::access::{OrgKind, Role};

#[derive(Debug, Subcommand)]
pub enum OrgsCommand {
    /// Create an organisation.
    Add {
        #[arg(long)]
        name: String,
        /// authority, operator or other.
        #[arg(long)]
        kind: String,
    },
    /// List organisations.
    List,
    /// Let an authority read the sites of another organisation.
    Oversee {
        /// The authority's name.
        #[arg(long)]
        authority: String,
        /// The overseen organisation's name.
        #[arg(long)]
        org: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Create a user. The password comes from VIGIE_PASSWORD, else from standard input.
    Add {
        #[arg(long)]
        email: String,
        /// The organisation's name.
        #[arg(long)]
        org: String,
        /// admin, authority, assessor, operator or viewer.
        #[arg(long)]
        role: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokensCommand {
    /// Create an API token for a user; the token is printed alone on the last line.
    Create {
        #[arg(long)]
        email: String,
        /// A label to recognise the token by.
        #[arg(long, default_value = "cli")]
        name: String,
    },
    /// List a user's tokens (never their secrets).
    List {
        #[arg(long)]
        email: String,
    },
    /// Revoke a token by its id.
    Revoke {
        #[arg(long)]
        email: String,
        #[arg(long)]
        id: String,
    },
}

pub async fn orgs(global: &GlobalArgs, command: OrgsCommand) -> Result<(), CliError> {
    let (app, _, _) = open_app(global).await?;
    let console = app.console();
    match command {
        OrgsCommand::Add { name, kind } => {
            let org = console.create_organisation(&name, OrgKind::from_key(&kind)?).await?;
            print_json(&json!(org));
        }
        OrgsCommand::List => print_json(&json!({ "items": console.organisations().await? })),
        OrgsCommand::Oversee { authority, org } => {
            let (authority, overseen) = console.oversee(&authority, &org).await?;
            println!("{} now oversees {}", authority.name, overseen.name);
        }
    }
    Ok(())
}

fn read_password() -> Result<String, CliError> {
    if let Ok(password) = std::env::var("VIGIE_PASSWORD") {
        return Ok(password);
    }
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("Password (at least {} characters): ", vigie_app::secrets::MIN_PASSWORD_CHARS);
        let _ = std::io::stderr().flush();
    }
    let mut line = String::new();
    stdin.lock().read_line(&mut line).map_err(|e| {
        CliError::new(vigie_domain::Code::PasswordMissing, format!("cannot read the password from standard input: {e}"))
    })?;
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    if password.is_empty() {
        return Err(CliError::new(
            vigie_domain::Code::PasswordMissing,
            "no password: set VIGIE_PASSWORD or write it on standard input",
        ));
    }
    Ok(password)
}

pub async fn users(global: &GlobalArgs, command: UsersCommand) -> Result<(), CliError> {
    match command {
        UsersCommand::Add { email, org, role } => {
            // Checked before the password is asked for.
            let role = Role::from_key(&role)?;
            vigie_app::console::check_email(&email)?;
            let password = read_password()?;
            let (app, _, _) = open_app(global).await?;
            let user = app.console().add_user(email, &org, role, &password).await?;
            print_json(&json!(user));
            Ok(())
        }
    }
}

pub async fn tokens(global: &GlobalArgs, command: TokensCommand) -> Result<(), CliError> {
    let (app, _, _) = open_app(global).await?;
    let console = app.console();
    match command {
        TokensCommand::Create { email, name } => {
            let (user, created) = console.create_token(&email, &name).await?;
            eprintln!("Token {} created for {}. Keep it secret: it is shown only now.", created.token.id, user.email);
            println!("{}", created.secret);
        }
        TokensCommand::List { email } => print_json(&json!({ "items": console.tokens(&email).await? })),
        TokensCommand::Revoke { email, id } => {
            console.revoke_token(&email, &TokenId::new(id.as_str())).await?;
            println!("revoked {id}");
        }
    }
    Ok(())
}
