//! Audit of reads with group commit. A read of a sensitive object is answered only once its
//! audit entry is committed; entries that arrive together share one transaction (one fsync),
//! so auditing every read does not cap reads at the disk's sync rate.
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};
use vigie_domain::access::Principal;
use vigie_domain::audit::AuditRecord;
use vigie_store::Store;

use crate::Failure;

/// Entries written in one transaction at most.
const MAX_BATCH: usize = 512;

type Pending = (AuditRecord, oneshot::Sender<bool>);

#[derive(Clone)]
pub struct AuditSink {
    queue: mpsc::Sender<Pending>,
}

impl AuditSink {
    pub fn spawn(store: Arc<dyn Store>) -> Self {
        let (queue, mut incoming) = mpsc::channel::<Pending>(4 * MAX_BATCH);
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(MAX_BATCH);
            while incoming.recv_many(&mut batch, MAX_BATCH).await > 0 {
                let (records, replies): (Vec<_>, Vec<_>) = batch.drain(..).unzip();
                let committed = match store.append_audit(&records).await {
                    Ok(()) => true,
                    Err(err) => {
                        tracing::error!(code = err.code().key(), error = %err, entries = records.len(), "audit entries could not be written");
                        false
                    }
                };
                for reply in replies {
                    let _ = reply.send(committed);
                }
            }
        });
        AuditSink { queue }
    }

    /// Appends an entry through the group commit; returns once it is committed.
    pub async fn append(&self, record: AuditRecord) -> Result<(), Failure> {
        let (reply, committed) = oneshot::channel();
        self.queue.send((record, reply)).await.map_err(|_| Failure::internal())?;
        match committed.await {
            Ok(true) => Ok(()),
            _ => Err(Failure::internal()),
        }
    }

    /// Records that `caller` read an object; fails closed when the entry cannot be written.
    pub async fn read(
        &self,
        caller: &Principal,
        at_ms: i64,
        object_type: &str,
        object_id: Option<&str>,
        details: serde_json::Value,
    ) -> Result<(), Failure> {
        let record = AuditRecord {
            at_ms,
            actor: caller.user_id.to_string(),
            actor_org: Some(caller.org_id.to_string()),
            action: format!("{object_type}.read"),
            object_type: object_type.to_owned(),
            object_id: object_id.map(str::to_owned),
            details,
        };
        self.append(record).await
    }
}
