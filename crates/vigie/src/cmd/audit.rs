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
    match command {
        Command::Verify => {
            let (count, head) = vigie_app::audit::verify_chain(store.as_ref()).await?;
            println!("audit log intact: {count} entries verified");
            if let Some(head) = head {
                // Recorded elsewhere, the head lets a later check notice removed last rows.
                println!("head: entry {} hash {}", head.seq, head.hash);
            }
            Ok(())
        }
        Command::Tail { count } => {
            let tail: Vec<_> = store
                .audit_tail(u32::try_from(count).unwrap_or(u32::MAX))
                .await?
                .into_iter()
                .map(|e| json!({"seq": e.seq, "at_ms": e.record.at_ms, "actor": e.record.actor, "action": e.record.action, "object_type": e.record.object_type, "object_id": e.record.object_id, "details": e.record.details}))
                .collect();
            print_json(&json!({ "items": tail }));
            Ok(())
        }
    }
}
