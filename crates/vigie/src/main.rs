//! `vigie`: the command line. A thin shell: it reads settings, opens the store and calls the
//! library crates; it holds no rules of its own.
mod cmd;
mod config;
mod demo;
mod error;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::{GlobalArgs, ServeArgs};
use crate::error::CliError;

/// Vigie protects public spaces (squares, markets, stations, venues…) against terrorist
/// attacks while keeping them open: a registry of sites, on-site vulnerability assessments and
/// hostile vehicle mitigation.
#[derive(Debug, Parser)]
#[command(name = "vigie", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the web application and the API (creates the database if needed).
    Serve(ServeArgs),
    /// Create the database named by --database-url (every other command but `serve` needs
    /// it to exist).
    Init,
    /// Print a commented configuration file with every default.
    DefaultConfig,
    /// Print the settings in effect (after file, environment and flags), as JSON.
    Config(ServeArgs),
    /// Manage organisations.
    #[command(subcommand)]
    Orgs(cmd::accounts::OrgsCommand),
    /// Manage user accounts.
    #[command(subcommand)]
    Users(cmd::accounts::UsersCommand),
    /// Manage API tokens.
    #[command(subcommand)]
    Tokens(cmd::accounts::TokensCommand),
    /// The registry of public spaces: import and list sites.
    #[command(subcommand)]
    Sites(cmd::sites::Command),
    /// The audit log.
    #[command(subcommand)]
    Audit(cmd::audit::Command),
    /// Copy the SQLite database to a file, consistently, while Vigie runs.
    Backup(cmd::backup::BackupArgs),
    /// Replace the SQLite database with a backup (stop the server first).
    Restore(cmd::backup::RestoreArgs),
    /// Hostile vehicle mitigation: impact speeds, barrier ratings.
    #[command(subcommand)]
    Hvm(cmd::hvm::Command),
    /// Vulnerability assessment: score answers offline.
    #[command(subcommand)]
    Assess(cmd::assess::Command),
    /// The assessment methodology (scenarios, domains, questions).
    #[command(subcommand)]
    Methodology(cmd::methodology::Command),
    /// The guidance library: add documents, search them, near-duplicates, rebuild the index.
    #[command(subcommand)]
    Library(cmd::library::Command),
    /// Threat bulletins, on behalf of an account: list, show, send from a JSON file.
    #[command(subcommand)]
    Bulletins(cmd::bulletins::Command),
    /// Field reports, on behalf of an account: list.
    #[command(subcommand, name = "field-reports")]
    FieldReports(cmd::reports::Command),
}

fn main() -> ExitCode {
    // Scripts that asked for JSON get errors as JSON on stdout too.
    let wants_json = std::env::args().any(|arg| arg == "--json");
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("VIGIE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,vigie=info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            if wants_json {
                println!("{}", err.to_json());
            }
            eprintln!("error: {}", err.message);
            eprintln!("       (code: {})", err.code);
            if !err.details.is_null() {
                eprintln!("       {}", err.details);
            }
            ExitCode::from(err.code.exit_code())
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::new(vigie_domain::Code::RuntimeFailed, format!("cannot start: {e}")))
}

fn run(cli: Cli) -> Result<(), CliError> {
    let global = cli.global;
    match cli.command {
        Command::DefaultConfig => {
            print!("{}", config::default_config_text());
            Ok(())
        }
        Command::Config(serve) => {
            let settings = config::Settings::resolve(&global, &serve)?;
            println!("{}", serde_json::to_string_pretty(&settings.to_json()).unwrap_or_default());
            Ok(())
        }
        Command::Serve(serve) => runtime()?.block_on(cmd::serve::run(&global, &serve)),
        Command::Init => runtime()?.block_on(cmd::init(&global)),
        Command::Orgs(command) => runtime()?.block_on(cmd::accounts::orgs(&global, command)),
        Command::Users(command) => runtime()?.block_on(cmd::accounts::users(&global, command)),
        Command::Tokens(command) => runtime()?.block_on(cmd::accounts::tokens(&global, command)),
        Command::Sites(command) => runtime()?.block_on(cmd::sites::run(&global, command)),
        Command::Audit(command) => runtime()?.block_on(cmd::audit::run(&global, command)),
        Command::Backup(args) => runtime()?.block_on(cmd::backup::backup(&global, args)),
        Command::Restore(args) => runtime()?.block_on(cmd::backup::restore(&global, args)),
        Command::Hvm(command) => cmd::hvm::run(command),
        Command::Assess(command) => cmd::assess::run(command),
        Command::Methodology(command) => cmd::methodology::run(command),
        Command::Library(command) => runtime()?.block_on(cmd::library::run(&global, command)),
        Command::Bulletins(command) => runtime()?.block_on(cmd::bulletins::run(&global, command)),
        Command::FieldReports(command) => runtime()?.block_on(cmd::reports::run(&global, command)),
    }
}
