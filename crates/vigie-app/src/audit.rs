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

/// Entries read per page while verifying.
const VERIFY_PAGE: u32 = 10_000;

/// Verifies the whole chain page by page, in bounded memory; returns the count and the last
/// entry (the head). The command line (`vigie audit verify`, `vigie restore`) and the audit
/// viewer both use it.
pub async fn verify_chain(store: &dyn Store) -> crate::Result<(u64, Option<vigie_domain::audit::StoredAuditEntry>)> {
    let mut verifier = vigie_domain::audit::ChainVerifier::default();
    let mut last: Option<vigie_domain::audit::StoredAuditEntry> = None;
    loop {
        let page = store.audit_page(last.as_ref().map_or(0, |e| e.seq), VERIFY_PAGE).await?;
        if page.is_empty() {
            break;
        }
        for entry in &page {
            verifier.push(entry).map_err(|broken| {
                Failure::new(
                    crate::Code::AuditChainBroken,
                    format!("the audit log was tampered with at entry {}: {}", broken.seq, broken.reason),
                )
                .with_details(serde_json::json!(broken))
            })?;
        }
        last = page.into_iter().last();
    }
    // Every organisation's creation is audited: an empty log beside them was emptied.
    if verifier.count() == 0 && !store.list_orgs().await?.is_empty() {
        return Err(Failure::new(
            crate::Code::AuditChainBroken,
            "the audit log is empty although the database holds organisations: it was emptied",
        ));
    }
    Ok((verifier.count(), last))
}

/// The audit viewer's page size, at most.
pub const MAX_AUDIT_ROWS: u32 = 500;

impl crate::App {
    /// The newest audit entries matching `filter`, for an administrator. Viewing the log is
    /// itself audited (with the filter, never the entries).
    pub async fn audit_log(
        &self,
        caller: &Principal,
        mut filter: vigie_store::AuditFilter,
    ) -> crate::Result<Vec<vigie_domain::audit::StoredAuditEntry>> {
        if !caller.is_admin() {
            return Err(Failure::forbidden("only an administrator reads the audit log"));
        }
        filter.limit = filter.limit.clamp(1, MAX_AUDIT_ROWS);
        let entries = self.store.audit_search(&filter).await?;
        let asked = serde_json::json!({
            "actor": filter.actor, "object_type": filter.object_type, "object_id": filter.object_id,
            "action": filter.action_prefix, "from_ms": filter.from_ms, "to_ms": filter.to_ms, "rows": entries.len(),
        });
        self.audit_read(caller, "audit_log", None, asked).await?;
        Ok(entries)
    }

    /// Verifies the whole chain for an administrator: the count and the head, or the first
    /// broken entry as the failure.
    pub async fn verify_audit_log(
        &self,
        caller: &Principal,
    ) -> crate::Result<(u64, Option<vigie_domain::audit::StoredAuditEntry>)> {
        if !caller.is_admin() {
            return Err(Failure::forbidden("only an administrator verifies the audit log"));
        }
        let outcome = verify_chain(self.store.as_ref()).await;
        self.audit_read(caller, "audit_log", None, serde_json::json!({"verify": outcome.is_ok()})).await?;
        outcome
    }
}
