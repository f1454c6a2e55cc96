//! The CLI's error is the one every layer reports: a [`vigie_domain::Failure`] with a code of
//! the one table. `main` prints it (as JSON on stdout when `--json` was asked, else as text on
//! stderr) and exits with the code's exit status.
pub use vigie_domain::Failure as CliError;
