//! `vigie library`: add documents, search them, list near-duplicates, rebuild the index.
//!
//! The command line runs as the machine's operator, who holds the database anyway: a search
//! sees every document unless `--as EMAIL` restricts it to what that user may read, by the
//! API's rule (the TLP rule of bulletins and field reports: GREEN for the named communities,
//! AMBER for the named organisations, RED for the named people, besides the owning
//! organisation). With SQLite the index lives next to the database file
//! (`NAME.library-index/`); with PostgreSQL it is built in memory when needed.
use std::path::PathBuf;

use clap::Subcommand;
use serde_json::{Value, json};
use vigie_app::library as lib;
use vigie_domain::DocumentId;
use vigie_store::Store;

use super::{open_app, open_store, print_json};
use crate::config::GlobalArgs;
use crate::error::CliError;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Add documents (text, Markdown, HTML, PDF with a text layer), or new versions of them.
    /// Every file is read and checked before anything is stored.
    Ingest {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// The owning organisation's name.
        #[arg(long)]
        org: String,
        /// fr or en (detected when absent).
        #[arg(long)]
        lang: Option<String>,
        /// TLP 2.0 marking, e.g. TLP:AMBER (default TLP:CLEAR).
        #[arg(long)]
        marking: Option<String>,
        /// A community that reads it (its id; TLP:GREEN needs one; repeat for several).
        #[arg(long = "community", value_name = "ID")]
        communities: Vec<String>,
        /// An organisation that reads it, by name (TLP:AMBER; repeat for several).
        #[arg(long = "recipient-org", value_name = "NAME")]
        recipient_orgs: Vec<String>,
        /// A person who reads it, by e-mail (TLP:RED needs one; repeat for several).
        #[arg(long = "recipient", value_name = "EMAIL")]
        recipient_users: Vec<String>,
        /// A tag (repeat for several).
        #[arg(long = "tag")]
        tags: Vec<String>,
        /// Source of the documents (publisher, reference).
        #[arg(long)]
        source: Option<String>,
        /// Publication date, YYYY-MM-DD.
        #[arg(long)]
        date: Option<String>,
        /// Print JSON (the default output is one line per file).
        #[arg(long)]
        json: bool,
    },
    /// Search passages: words and "quoted phrases".
    Search {
        query: String,
        /// Only passages in this language (fr or en).
        #[arg(long)]
        lang: Option<String>,
        #[arg(long, default_value_t = 10)]
        limit: usize,
        /// Only documents with this tag (repeat for any of several).
        #[arg(long = "tag")]
        tags: Vec<String>,
        /// Only documents with this marking (repeat for any of several).
        #[arg(long = "marking")]
        markings: Vec<String>,
        /// Search as this user sees the library.
        #[arg(long = "as", value_name = "EMAIL")]
        as_user: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Near-duplicate document pairs.
    Duplicates {
        /// Only pairs this user may read.
        #[arg(long = "as", value_name = "EMAIL")]
        as_user: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Rebuild the search index from the database.
    Reindex,
}

pub async fn run(global: &GlobalArgs, command: Command) -> Result<(), CliError> {
    match command {
        Command::Ingest {
            paths,
            org,
            lang,
            marking,
            communities,
            recipient_orgs,
            recipient_users,
            tags,
            source,
            date,
            json,
        } => {
            let (app, store, settings) = open_app(global).await?;
            let org_id = app.console().organisation_named(&org).await?.id;
            let mut recipients = vigie_domain::sharing::Recipients {
                communities: communities.into_iter().map(Into::into).collect(),
                ..Default::default()
            };
            for name in &recipient_orgs {
                recipients.orgs.push(app.console().organisation_named(name).await?.id);
            }
            for email in &recipient_users {
                recipients.users.push(app.console().user_with_email(email).await?.id);
            }
            let date = date.as_deref().map(vigie_search::parse_date).transpose()?;
            let mut parsed = Vec::with_capacity(paths.len());
            for path in &paths {
                let bytes = std::fs::read(path).map_err(|e| {
                    CliError::new(vigie_domain::Code::FileUnreadable, format!("cannot read {}: {e}", path.display()))
                })?;
                let filename = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                let mut options = lib::ingest_options(
                    &org_id,
                    &filename,
                    lang.as_deref(),
                    marking.as_deref(),
                    recipients.clone(),
                    tags.clone(),
                )?;
                options.source = source.clone();
                options.date = date;
                parsed.push((path, vigie_search::parse(&bytes, &filename, options)?));
            }
            let mut documents = Vec::new();
            for (path, doc) in &parsed {
                let outcome = app.console().ingest_document(doc).await?;
                documents.push(json!({
                    "file": path.display().to_string(), "document_id": outcome.document_id, "title": doc.document.title, "version": outcome.version,
                    "status": outcome.status, "passages": outcome.passages, "pages": (doc.version.pages() * 10.0).round() / 10.0,
                }));
            }
            let every = app.console().readable_library(None).await?.documents;
            for d in &mut documents {
                let id = DocumentId::new(d["document_id"].as_str().unwrap_or_default());
                d["duplicates"] = json!(lib::duplicates_of(&every, &id));
            }
            let index = update_index(store.as_ref(), &settings.database_url).await;
            let summary = json!({"documents": documents, "index": index});
            if json {
                print_json(&summary);
            } else {
                for d in &documents {
                    println!(
                        "{} {} (version {}, {} passages, {} pages) {}",
                        d["status"].as_str().unwrap_or_default(),
                        d["document_id"].as_str().unwrap_or_default(),
                        d["version"],
                        d["passages"],
                        d["pages"],
                        d["file"].as_str().unwrap_or_default()
                    );
                    if let Some(dups) = d["duplicates"].as_array().filter(|a| !a.is_empty()) {
                        println!(
                            "  near-duplicate of: {}",
                            dups.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", ")
                        );
                    }
                }
                println!("index: {}", index.as_str().unwrap_or_default());
            }
            Ok(())
        }
        Command::Search { query, lang, limit, tags, markings, as_user, json } => {
            let request = lib::search_query(&query, lang.as_deref(), Some(limit), tags, &markings)?;
            let (app, store, settings) = open_app(global).await?;
            let library = open_index(store.as_ref(), &settings.database_url, WhenBusy::ReadIfCurrent).await?;
            let results = app.console().search_library(&library, &request, as_user.as_deref()).await?;
            if json {
                print_json(&json!({"results": results.results, "total": results.total}));
            } else {
                for hit in &results.results {
                    println!(
                        "{:6.2}  {} › {}\n        {}",
                        hit.score,
                        hit.document_title,
                        hit.heading,
                        vigie_search::highlight::snippet_as_text(&hit.snippet)
                    );
                }
                println!("{} matching passages", results.total);
            }
            Ok(())
        }
        Command::Duplicates { as_user, json } => {
            let (app, _, _) = open_app(global).await?;
            let readable = app.console().readable_library(as_user.as_deref()).await?;
            let pairs = lib::duplicate_pairs(&readable.documents);
            if json {
                print_json(&pairs);
            } else {
                for p in pairs["pairs"].as_array().into_iter().flatten() {
                    println!(
                        "{}  {}  ~  {}",
                        p["similarity"],
                        p["a"]["id"].as_str().unwrap_or_default(),
                        p["b"]["id"].as_str().unwrap_or_default()
                    );
                }
            }
            Ok(())
        }
        Command::Reindex => {
            let (store, settings) = open_store(global).await?;
            let Some(dir) = lib::index_dir(&settings.database_url) else {
                println!(
                    "PostgreSQL: the index lives in the server's memory and is rebuilt from the database at every start; nothing to do."
                );
                return Ok(());
            };
            let library = lib::open(store.as_ref(), Some(&dir)).await?;
            let passages = lib::rebuild(store.as_ref(), &library).await?;
            println!("Rebuilt the library index in {} ({passages} passages).", dir.display());
            Ok(())
        }
    }
}

/// Brings the on-disk index up to date after an ingest. A running server holds the index:
/// then it catches up by itself on its next library request.
async fn update_index(store: &dyn Store, database_url: &str) -> Value {
    let Some(dir) = lib::index_dir(database_url) else {
        return json!("in memory (PostgreSQL): the server loads the new documents on its next library request");
    };
    match lib::open(store, Some(&dir)).await {
        Ok(_) => json!(format!("up to date in {}", dir.display())),
        Err(err) if err.code == vigie_domain::Code::SearchIndexBusy => {
            json!("in use by the running server, which adds the new documents on its next library request")
        }
        Err(err) => {
            tracing::warn!(error = %err.message, "the library index could not be updated");
            json!(format!("not updated ({}); run `vigie library reindex`", err.message))
        }
    }
}

/// What to do when another Vigie process (a running server) holds the on-disk index.
#[derive(Clone, Copy, PartialEq)]
pub enum WhenBusy {
    /// Build an index in memory from the database (a server must be able to add to it).
    BuildInMemory,
    /// Read the held index without its lock if it is up to date (a search only reads), else
    /// build one in memory.
    ReadIfCurrent,
}

/// The index to search (CLI) or serve: the one on disk next to a SQLite database, brought up
/// to date (rebuilt when missing or ahead of the database); or one built in memory from the
/// database, for PostgreSQL or when another Vigie process holds the directory.
pub async fn open_index(
    store: &dyn Store,
    database_url: &str,
    when_busy: WhenBusy,
) -> Result<std::sync::Arc<vigie_search::SharedLibrary>, CliError> {
    if let Some(dir) = lib::index_dir(database_url) {
        match lib::open(store, Some(&dir)).await {
            Ok(library) => return Ok(library),
            Err(err) if err.code == vigie_domain::Code::SearchIndexBusy => {
                if when_busy == WhenBusy::ReadIfCurrent
                    && let Some(library) = lib::open_read_only(store, &dir).await?
                {
                    return Ok(library);
                }
            }
            Err(err) => return Err(err),
        }
    }
    lib::open(store, None).await
}

/// Adds the demo library (`data/demo/library/`, embedded) for `org_id`: TLP:CLEAR, French.
pub async fn ingest_demo(console: &vigie_app::console::Console<'_>, org_id: &str) -> Result<usize, CliError> {
    let mut passages = 0;
    for entry in vigie_search::demo::demo_documents() {
        let parsed = vigie_search::parse(entry.bytes, entry.filename, entry.options(org_id))?;
        passages += console.ingest_document(&parsed).await?.passages;
    }
    Ok(passages)
}
