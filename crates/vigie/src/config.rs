//! Settings: defaults < TOML file (`--config`) < `VIGIE_*` environment < command-line flags.
//! clap reads flags and the environment (a flag beats its variable); the file fills what
//! neither gave; defaults fill the rest. Then everything is checked once, here.
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::CliError;

pub const DEFAULT_DATABASE_URL: &str = "sqlite://./vigie-data/vigie.db";
pub const DEFAULT_BIND: &str = "127.0.0.1:8080";

/// The file, as written by a person: every field optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub database_url: Option<String>,
    #[serde(default)]
    pub server: FileServerConfig,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileServerConfig {
    pub bind: Option<String>,
    pub body_limit_bytes: Option<usize>,
    pub session_hours: Option<u32>,
    pub cookie_secure: Option<bool>,
    pub reassessment_days: Option<u32>,
    pub osm: Option<PathBuf>,
    pub smtp_url: Option<String>,
    pub mail_from: Option<String>,
    pub barrier_catalogue: Option<PathBuf>,
    pub public_url: Option<String>,
}

/// What flags and the environment gave (clap merges those two).
#[derive(Debug, Default, Clone, clap::Args)]
pub struct GlobalArgs {
    /// TOML configuration file (see `vigie default-config`).
    #[arg(long, global = true, env = "VIGIE_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Database: sqlite://PATH or postgres://USER:PASSWORD@HOST/DB.
    #[arg(long, global = true, env = "VIGIE_DATABASE_URL", value_name = "URL")]
    pub database_url: Option<String>,
}

#[derive(Debug, Default, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "VIGIE_BIND", value_name = "ADDR")]
    pub bind: Option<String>,
    /// Largest accepted request body, in bytes.
    #[arg(long, env = "VIGIE_BODY_LIMIT_BYTES")]
    pub body_limit_bytes: Option<usize>,
    /// Length of a browser session, in hours.
    #[arg(long, env = "VIGIE_SESSION_HOURS")]
    pub session_hours: Option<u32>,
    /// Mark the session cookie Secure (when served over HTTPS).
    #[arg(long, env = "VIGIE_COOKIE_SECURE")]
    pub cookie_secure: Option<bool>,
    /// Days from an assessment's validation until the next one is due.
    #[arg(long, env = "VIGIE_REASSESSMENT_DAYS")]
    pub reassessment_days: Option<u32>,
    /// OpenStreetMap extract whose streets hostile-vehicle studies run on (with --demo: the
    /// shipped Helsinki extract unless another is given).
    #[arg(long, env = "VIGIE_OSM", value_name = "FILE.osm.pbf")]
    pub osm: Option<PathBuf>,
    /// SMTP relay that mails invitation and password-reset links: smtps://USER:PASS@HOST,
    /// smtp://USER:PASS@HOST?tls=required, or smtp://HOST:PORT (unencrypted, same machine).
    #[arg(long, env = "VIGIE_SMTP_URL", value_name = "URL")]
    pub smtp_url: Option<String>,
    /// Sender of those e-mails, e.g. "Vigie <vigie@city.example>".
    #[arg(long, env = "VIGIE_MAIL_FROM", value_name = "ADDRESS")]
    pub mail_from: Option<String>,
    /// Where users reach this server (https://vigie.city.example): the links in notification
    /// e-mails and webhook calls start with it.
    #[arg(long, env = "VIGIE_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,
    /// Barrier catalogue (CSV: manufacturer,product,standard,rating,foundation,width) whose
    /// products the site page proposes against each vehicle threat (with --demo: the shipped
    /// fictional catalogue unless another is given).
    #[arg(long, env = "VIGIE_BARRIER_CATALOGUE", value_name = "FILE.csv")]
    pub barrier_catalogue: Option<PathBuf>,
    /// Load the demo: organisations, accounts and the Helsinki registry.
    #[arg(long)]
    pub demo: bool,
}

/// Checked settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub database_url: String,
    pub bind: SocketAddr,
    pub server: vigie_server::ServerConfig,
    pub osm: Option<PathBuf>,
    pub barrier_catalogue: Option<PathBuf>,
    /// The SMTP relay's URL and the sender, when e-mail is configured.
    pub mail: Option<MailSettings>,
}

#[derive(Clone)]
pub struct MailSettings {
    pub smtp_url: String,
    pub from: String,
}

impl std::fmt::Debug for MailSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailSettings")
            .field("smtp_url", &vigie_store::redact_url(&self.smtp_url))
            .field("from", &self.from)
            .finish()
    }
}

fn read_file(path: Option<&Path>) -> Result<FileConfig, CliError> {
    let Some(path) = path else { return Ok(FileConfig::default()) };
    let text = std::fs::read_to_string(path).map_err(|e| {
        CliError::new(
            vigie_domain::Code::ConfigUnreadable,
            format!("cannot read the configuration file {}: {e}", path.display()),
        )
    })?;
    toml::from_str(&text).map_err(|e| {
        CliError::new(
            vigie_domain::Code::ConfigInvalid,
            format!("the configuration file {} is invalid: {e}", path.display()),
        )
    })
}

impl Settings {
    pub fn resolve(global: &GlobalArgs, serve: &ServeArgs) -> Result<Settings, CliError> {
        let file = read_file(global.config.as_deref())?;
        let defaults = vigie_server::ServerConfig::default();
        let database_url =
            global.database_url.clone().or(file.database_url).unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());
        let bind_text = serve.bind.clone().or(file.server.bind).unwrap_or_else(|| DEFAULT_BIND.to_owned());
        let bind = bind_text.parse().map_err(|_| {
            CliError::new(
                vigie_domain::Code::ConfigInvalid,
                format!("bind address '{bind_text}' is not of the form IP:PORT, e.g. 127.0.0.1:8080"),
            )
        })?;
        let server = vigie_server::ServerConfig {
            body_limit: serve.body_limit_bytes.or(file.server.body_limit_bytes).unwrap_or(defaults.body_limit),
            session_hours: serve.session_hours.or(file.server.session_hours).unwrap_or(defaults.session_hours),
            cookie_secure: serve.cookie_secure.or(file.server.cookie_secure).unwrap_or(defaults.cookie_secure),
            reassessment_days: serve
                .reassessment_days
                .or(file.server.reassessment_days)
                .unwrap_or(defaults.reassessment_days),
            public_url: serve.public_url.clone().or(file.server.public_url),
        };
        if let Some(url) = &server.public_url
            && !(url.starts_with("https://") || url.starts_with("http://"))
        {
            return Err(CliError::new(
                vigie_domain::Code::ConfigInvalid,
                format!("public_url '{url}' must start with https:// (or http://)"),
            ));
        }
        if server.body_limit < 1024 {
            return Err(CliError::new(vigie_domain::Code::ConfigInvalid, "body_limit_bytes must be at least 1024"));
        }
        if !(1..=720).contains(&server.session_hours) {
            return Err(CliError::new(vigie_domain::Code::ConfigInvalid, "session_hours must be between 1 and 720"));
        }
        if !(1..=3650).contains(&server.reassessment_days) {
            return Err(CliError::new(
                vigie_domain::Code::ConfigInvalid,
                "reassessment_days must be between 1 and 3650",
            ));
        }
        let osm = serve.osm.clone().or(file.server.osm);
        let smtp_url = serve.smtp_url.clone().or(file.server.smtp_url);
        let mail_from = serve.mail_from.clone().or(file.server.mail_from);
        let mail = match (smtp_url, mail_from) {
            (Some(smtp_url), Some(from)) => Some(MailSettings { smtp_url, from }),
            (None, None) => None,
            _ => {
                return Err(CliError::new(
                    vigie_domain::Code::ConfigInvalid,
                    "e-mail needs both smtp_url and mail_from (the relay and the sender)",
                ));
            }
        };
        let barrier_catalogue = serve.barrier_catalogue.clone().or(file.server.barrier_catalogue);
        Ok(Settings { database_url, bind, server, osm, barrier_catalogue, mail })
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "database_url": vigie_store::redact_url(&self.database_url),
            "server": {
                "bind": self.bind.to_string(),
                "body_limit_bytes": self.server.body_limit,
                "session_hours": self.server.session_hours,
                "cookie_secure": self.server.cookie_secure,
                "reassessment_days": self.server.reassessment_days,
                "osm": self.osm.as_ref().map(|p| p.display().to_string()),
                "barrier_catalogue": self.barrier_catalogue.as_ref().map(|p| p.display().to_string()),
                "smtp_url": self.mail.as_ref().map(|m| vigie_store::redact_url(&m.smtp_url)),
                "mail_from": self.mail.as_ref().map(|m| m.from.clone()),
                "public_url": self.server.public_url,
            }
        })
    }
}

/// The commented file `vigie default-config` prints: every setting at its default.
pub fn default_config_text() -> String {
    let defaults = vigie_server::ServerConfig::default();
    format!(
        r#"# Vigie configuration. Pass it with `vigie --config FILE …` (or VIGIE_CONFIG=FILE).
# Precedence: built-in defaults < this file < VIGIE_* environment variables < command-line flags.

# Where Vigie keeps its data. SQLite (embedded, the default) or PostgreSQL (multi-user):
#   sqlite://./vigie-data/vigie.db
#   postgres://vigie:PASSWORD@localhost/vigie
# Environment: VIGIE_DATABASE_URL. Flag: --database-url.
database_url = "{DEFAULT_DATABASE_URL}"

[server]
# Address and port `vigie serve` listens on. Environment: VIGIE_BIND. Flag: --bind.
bind = "{DEFAULT_BIND}"
# Largest request body accepted, in bytes (site geometries, imports). VIGIE_BODY_LIMIT_BYTES.
body_limit_bytes = {body_limit}
# How long a browser session lasts, in hours (1 to 720). VIGIE_SESSION_HOURS.
session_hours = {session_hours}
# Send the session cookie only over HTTPS. Turn on when Vigie is behind TLS. VIGIE_COOKIE_SECURE.
cookie_secure = {cookie_secure}
# Days from an assessment's validation until the site's next assessment is due (1 to 3650).
# VIGIE_REASSESSMENT_DAYS. Flag: --reassessment-days.
reassessment_days = {reassessment_days}
# OpenStreetMap extract (.osm.pbf) whose street network hostile-vehicle studies run on.
# Without it, the API answers hvm_network_missing. VIGIE_OSM. Flag: --osm.
# osm = "data/demo/helsinki-centre.osm.pbf"
# Barrier catalogue (CSV: manufacturer,product,standard,rating,foundation,width) whose products
# the site page proposes against each vehicle threat. VIGIE_BARRIER_CATALOGUE.
# Flag: --barrier-catalogue.
# barrier_catalogue = "barriers.csv"
# SMTP relay that mails invitation and password-reset links (otherwise the administrator hands
# them on). smtps://USER:PASS@HOST (TLS), smtp://USER:PASS@HOST?tls=required (STARTTLS), or
# smtp://HOST:PORT (unencrypted: a relay on the same machine only). Set both or neither.
# VIGIE_SMTP_URL / VIGIE_MAIL_FROM. Flags: --smtp-url, --mail-from.
# smtp_url = "smtps://vigie:PASSWORD@smtp.city.example"
# mail_from = "Vigie <vigie@city.example>"
# Where users reach this server: notification e-mails and webhook calls link to it (otherwise
# their links are paths on the server). VIGIE_PUBLIC_URL. Flag: --public-url.
# public_url = "https://vigie.city.example"
"#,
        body_limit = defaults.body_limit,
        session_hours = defaults.session_hours,
        cookie_secure = defaults.cookie_secure,
        reassessment_days = defaults.reassessment_days,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_file_parses_to_the_defaults() {
        let file: FileConfig = toml::from_str(&default_config_text()).unwrap();
        assert_eq!(file.database_url.as_deref(), Some(DEFAULT_DATABASE_URL));
        assert_eq!(file.server.bind.as_deref(), Some(DEFAULT_BIND));
    }

    #[test]
    fn flags_beat_the_file_and_the_file_beats_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vigie.toml");
        std::fs::write(
            &path,
            "database_url = \"sqlite://file.db\"\n[server]\nbind = \"127.0.0.1:9000\"\nsession_hours = 2\n",
        )
        .unwrap();
        let global = GlobalArgs { config: Some(path), database_url: None };
        let serve = ServeArgs { bind: Some("127.0.0.1:9100".into()), ..Default::default() };
        let settings = Settings::resolve(&global, &serve).unwrap();
        assert_eq!(settings.database_url, "sqlite://file.db");
        assert_eq!(settings.bind.to_string(), "127.0.0.1:9100");
        assert_eq!(settings.server.session_hours, 2);
        assert_eq!(settings.server.body_limit, vigie_server::ServerConfig::default().body_limit);
    }

    #[test]
    fn unknown_keys_and_bad_addresses_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vigie.toml");
        std::fs::write(&path, "databse_url = \"x\"\n").unwrap();
        let err = Settings::resolve(&GlobalArgs { config: Some(path), database_url: None }, &ServeArgs::default())
            .unwrap_err();
        assert_eq!(err.code, "config_invalid");
        let err = Settings::resolve(
            &GlobalArgs::default(),
            &ServeArgs { bind: Some("localhost".into()), ..Default::default() },
        )
        .unwrap_err();
        assert_eq!(err.code, "config_invalid");
    }

    #[test]
    fn mail_needs_a_relay_and_a_sender_and_never_shows_the_password() {
        let relay_only = ServeArgs { smtp_url: Some("smtp://127.0.0.1:2525".into()), ..Default::default() };
        let err = Settings::resolve(&GlobalArgs::default(), &relay_only).unwrap_err();
        assert_eq!(err.code, "config_invalid");
        let both = ServeArgs {
            smtp_url: Some("smtps://vigie:s3cret@smtp.city.example".into()),
            mail_from: Some("Vigie <vigie@city.example>".into()),
            ..Default::default()
        };
        let settings = Settings::resolve(&GlobalArgs::default(), &both).unwrap();
        let shown = format!("{} {:?}", settings.to_json(), settings);
        assert!(shown.contains("smtps://vigie:***@smtp.city.example") && !shown.contains("s3cret"), "{shown}");
    }
}
