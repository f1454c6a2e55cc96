//! `vigie orgs|users|tokens`.
use std::io::{BufRead, IsTerminal, Write};

use clap::Subcommand;
use serde_json::json;
use vigie_domain::access::{OrgKind, Role};
use vigie_store::NewUser;

use super::{cli_context, open_store, org_named, print_json, user_with_email};
use crate::config::GlobalArgs;
use crate::error::CliError;

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
    let (store, _) = open_store(global).await?;
    match command {
        OrgsCommand::Add { name, kind } => {
            let kind = OrgKind::from_key(&kind)?;
            if name.trim().is_empty() {
                return Err(CliError::new(vigie_domain::Code::ValidationFailed, "an organisation needs a name"));
            }
            let org = store.create_org(&cli_context(), &name, kind).await?;
            print_json(&json!(org));
        }
        OrgsCommand::List => print_json(&json!({ "items": store.list_orgs().await? })),
        OrgsCommand::Oversee { authority, org } => {
            let authority = org_named(store.as_ref(), &authority).await?;
            if authority.kind != OrgKind::Authority {
                return Err(CliError::new(
                    vigie_domain::Code::ValidationFailed,
                    format!("'{}' is not an authority; only authorities oversee others", authority.name),
                ));
            }
            let overseen = org_named(store.as_ref(), &org).await?;
            store.add_oversight(&cli_context(), &authority.id, &overseen.id).await?;
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
            let role = Role::from_key(&role)?;
            if !email.contains('@') {
                return Err(CliError::new(
                    vigie_domain::Code::ValidationFailed,
                    format!("'{email}' is not an email address"),
                ));
            }
            let password = read_password()?;
            let password_hash = vigie_app::secrets::hash_password(&password)?;
            let (store, _) = open_store(global).await?;
            let org = org_named(store.as_ref(), &org).await?;
            let user =
                store.create_user(&cli_context(), NewUser { email, org_id: org.id, role, password_hash }).await?;
            print_json(&json!(user));
            Ok(())
        }
    }
}

pub async fn tokens(global: &GlobalArgs, command: TokensCommand) -> Result<(), CliError> {
    let (store, _) = open_store(global).await?;
    match command {
        TokensCommand::Create { email, name } => {
            let user = user_with_email(store.as_ref(), &email).await?;
            let secret = vigie_app::secrets::new_secret("vg_");
            let token =
                store.create_token(&cli_context(), &user.id, &name, &vigie_app::secrets::secret_hash(&secret)).await?;
            eprintln!("Token {} created for {}. Keep it secret: it is shown only now.", token.id, user.email);
            println!("{secret}");
        }
        TokensCommand::List { email } => {
            let user = user_with_email(store.as_ref(), &email).await?;
            print_json(&json!({ "items": store.list_tokens(&user.id).await? }));
        }
        TokensCommand::Revoke { email, id } => {
            let user = user_with_email(store.as_ref(), &email).await?;
            store.revoke_token(&cli_context(), &user.id, &id).await?;
            println!("revoked {id}");
        }
    }
    Ok(())
}
