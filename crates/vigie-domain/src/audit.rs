//! The audit log's hash chain: each entry's hash covers its content and the previous hash,
//! so that changing, removing or reordering any row breaks every hash after it.
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The hash that precedes the first entry.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One audited event, as it is hashed and stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// Milliseconds since the Unix epoch.
    pub at_ms: i64,
    /// User id, or `cli` / `system` for actions without a signed-in user.
    pub actor: String,
    /// Organisation of the actor, when known.
    pub actor_org: Option<String>,
    /// What was done, e.g. `site.create`, `site.read`, `user.login_failed`.
    pub action: String,
    pub object_type: String,
    pub object_id: Option<String>,
    /// Free JSON details; never secrets.
    pub details: serde_json::Value,
}

/// Hash of `record` chained after `previous_hash` (lower-case hex SHA-256).
pub fn chain_hash(previous_hash: &str, seq: i64, record: &AuditRecord) -> String {
    let mut hasher = Sha256::new();
    // Length-prefixed fields: no two different records share a byte stream.
    for field in [
        previous_hash,
        &seq.to_string(),
        &record.at_ms.to_string(),
        &record.actor,
        record.actor_org.as_deref().unwrap_or(""),
        &record.action,
        &record.object_type,
        record.object_id.as_deref().unwrap_or(""),
        &record.details.to_string(),
    ] {
        hasher.update((field.len() as u64).to_be_bytes());
        hasher.update(field.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// A stored entry as read back for verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAuditEntry {
    pub seq: i64,
    pub record: AuditRecord,
    pub prev_hash: String,
    pub hash: String,
}

/// Where the chain breaks, if it does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainBreak {
    pub seq: i64,
    pub reason: String,
}

/// Checks a chain entry by entry, so that a log of any length is verified in pages.
#[derive(Debug, Clone)]
pub struct ChainVerifier {
    previous: String,
    expected_seq: Option<i64>,
    count: u64,
}

impl Default for ChainVerifier {
    fn default() -> Self {
        ChainVerifier { previous: GENESIS_HASH.to_owned(), expected_seq: None, count: 0 }
    }
}

impl ChainVerifier {
    /// Checks the next entry against everything pushed before it.
    pub fn push(&mut self, entry: &StoredAuditEntry) -> Result<(), ChainBreak> {
        if let Some(expected) = self.expected_seq
            && entry.seq != expected
        {
            return Err(ChainBreak {
                seq: entry.seq,
                reason: format!("expected entry {expected}, found {}: rows were removed or reordered", entry.seq),
            });
        }
        if entry.prev_hash != self.previous {
            return Err(ChainBreak {
                seq: entry.seq,
                reason: "previous-hash link does not match the entry before it".into(),
            });
        }
        let recomputed = chain_hash(&self.previous, entry.seq, &entry.record);
        if recomputed != entry.hash {
            return Err(ChainBreak {
                seq: entry.seq,
                reason: "content does not match its hash: the row was changed".into(),
            });
        }
        self.previous = recomputed;
        self.expected_seq = Some(entry.seq + 1);
        self.count += 1;
        Ok(())
    }

    /// Entries verified so far.
    pub fn count(&self) -> u64 {
        self.count
    }
}

/// Recomputes the chain over entries in sequence order.
pub fn verify_chain<'a>(entries: impl IntoIterator<Item = &'a StoredAuditEntry>) -> Result<u64, ChainBreak> {
    let mut verifier = ChainVerifier::default();
    for entry in entries {
        verifier.push(entry)?;
    }
    Ok(verifier.count())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: i64) -> Vec<StoredAuditEntry> {
        let mut previous = GENESIS_HASH.to_owned();
        (1..=n)
            .map(|seq| {
                let record = AuditRecord {
                    at_ms: 1_700_000_000_000 + seq,
                    actor: "u1".into(),
                    actor_org: Some("o1".into()),
                    action: "site.create".into(),
                    object_type: "site".into(),
                    object_id: Some(format!("s{seq}")),
                    details: serde_json::json!({"name": "Senate Square"}),
                };
                let hash = chain_hash(&previous, seq, &record);
                let entry = StoredAuditEntry { seq, record, prev_hash: previous.clone(), hash: hash.clone() };
                previous = hash;
                entry
            })
            .collect()
    }

    #[test]
    fn an_untouched_chain_verifies() {
        assert_eq!(verify_chain(&chain(5)), Ok(5));
    }

    #[test]
    fn a_changed_row_breaks_the_chain_where_it_was_changed() {
        let mut entries = chain(5);
        entries[2].record.action = "site.delete".into();
        assert_eq!(verify_chain(&entries).map_err(|b| b.seq), Err(3));
    }

    #[test]
    fn a_removed_row_breaks_the_chain() {
        let mut entries = chain(5);
        entries.remove(3);
        assert!(verify_chain(&entries).is_err());
    }
}
