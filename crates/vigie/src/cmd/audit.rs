//! `vigie audit`.
use clap::Subcommand;
use serde_json::json;

use super::{open_store, print_json};
use crate::config::GlobalArgs;
use crate::error::CliError;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Recompute the hash chain; exits non-zero if any entry was changed, removed or reordered.
    Verify,
    /// Print the last entries.
    Tail {
        #[arg(long, default_value_t = 20)]
        count: usize,
    },
}

pub async fn run(global: &GlobalArgs, command: Command) -> Result<(), CliError> {
    let (store, _) = open_store(global).await?;
    let entries = store.audit_entries().await?;
    match command {
        Command::Verify => match vigie_domain::audit::verify_chain(&entries) {
            // Every organisation's creation is audited: an empty log beside them was emptied.
            Ok(0) if !store.list_orgs().await?.is_empty() => Err(CliError::new("audit_chain_broken", "the audit log is empty although the database holds organisations: it was emptied")),
            Ok(count) => {
                println!("audit log intact: {count} entries verified");
                if let Some(head) = entries.last() {
                    // Recorded elsewhere, the head lets a later check notice removed last rows.
                    println!("head: entry {} hash {}", head.seq, head.hash);
                }
                Ok(())
            }
            Err(broken) => Err(CliError::new("audit_chain_broken", format!("the audit log was tampered with at entry {}: {}", broken.seq, broken.reason)).with_details(json!(broken))),
        },
        Command::Tail { count } => {
            let tail: Vec<_> = entries
                .iter()
                .rev()
                .take(count)
                .rev()
                .map(|e| json!({"seq": e.seq, "at_ms": e.record.at_ms, "actor": e.record.actor, "action": e.record.action, "object_type": e.record.object_type, "object_id": e.record.object_id, "details": e.record.details}))
                .collect();
            print_json(&json!({ "items": tail }));
            Ok(())
        }
    }
}
