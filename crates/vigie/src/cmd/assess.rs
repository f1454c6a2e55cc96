//! `vigie assess`: owned by the assess work; placeholder until it lands.
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum Command {}

pub fn run(command: Command) -> Result<(), crate::error::CliError> {
    match command {}
}
