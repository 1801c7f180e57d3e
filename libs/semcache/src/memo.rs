//! Recently made prompt embeddings, per tenant: the same last user message asked again (in
//! another conversation, with other sampling settings, or after its exact entry changed)
//! reuses its vector instead of running the model again, the largest cost of a semantic lookup.
//!
//! Keys are the tenant and a SHA-256 of the text, so one tenant's questions never shorten
//! another tenant's lookups (no timing signal across tenants), a tenant's purge forgets its
//! vectors, and no prompt text is kept here. Bounded: the oldest vector goes first once
//! `capacity` are held.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};
use uuid::Uuid;

type MemoKey = (Uuid, [u8; 32]);

/// A bounded map from (tenant, text) to the text's embedding.
pub struct EmbeddingMemo {
    capacity: usize,
    held: Mutex<Held>,
}

#[derive(Default)]
struct Held {
    vectors: HashMap<MemoKey, Arc<[f32]>>,
    /// Insertion order, for evicting the oldest.
    order: VecDeque<MemoKey>,
}

fn key_of(tenant: Uuid, text: &str) -> MemoKey {
    (tenant, Sha256::digest(text.as_bytes()).into())
}

impl EmbeddingMemo {
    /// A memo of at most `capacity` vectors (0: keeps nothing).
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            held: Mutex::new(Held::default()),
        }
    }

    /// The vector remembered for `text` in `tenant`.
    pub fn get(&self, tenant: Uuid, text: &str) -> Option<Vec<f32>> {
        if self.capacity == 0 {
            return None;
        }
        let key = key_of(tenant, text);
        let held = self.held.lock().ok()?;
        held.vectors.get(&key).map(|v| v.to_vec())
    }

    /// Remembers `vector` as the embedding of `text` in `tenant`.
    pub fn put(&self, tenant: Uuid, text: &str, vector: &[f32]) {
        if self.capacity == 0 {
            return;
        }
        let key = key_of(tenant, text);
        let Ok(mut held) = self.held.lock() else {
            return;
        };
        if held.vectors.insert(key, vector.into()).is_none() {
            held.order.push_back(key);
        }
        while held.vectors.len() > self.capacity {
            let Some(oldest) = held.order.pop_front() else {
                break;
            };
            held.vectors.remove(&oldest);
        }
    }

    /// Forgets every vector of `tenant`.
    pub fn forget(&self, tenant: Uuid) {
        if let Ok(mut held) = self.held.lock() {
            held.vectors.retain(|(owner, _), _| *owner != tenant);
            held.order.retain(|(owner, _)| *owner != tenant);
        }
    }

    /// Vectors held.
    pub fn len(&self) -> usize {
        self.held.lock().map_or(0, |h| h.vectors.len())
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenant_gets_back_only_its_own_vectors() {
        let memo = EmbeddingMemo::new(8);
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        memo.put(a, "how do I reset my password", &[0.6, 0.8]);
        assert_eq!(
            memo.get(a, "how do I reset my password"),
            Some(vec![0.6, 0.8])
        );
        assert_eq!(memo.get(b, "how do I reset my password"), None);
        assert_eq!(memo.get(a, "how do I reset my passwords"), None);
    }

    #[test]
    fn the_oldest_vector_goes_first_and_the_bound_holds() {
        let memo = EmbeddingMemo::new(2);
        let tenant = Uuid::new_v4();
        memo.put(tenant, "one", &[1.0]);
        memo.put(tenant, "two", &[2.0]);
        memo.put(tenant, "two", &[2.0]);
        memo.put(tenant, "three", &[3.0]);
        assert_eq!(memo.len(), 2);
        assert_eq!(memo.get(tenant, "one"), None);
        assert_eq!(memo.get(tenant, "two"), Some(vec![2.0]));
        assert_eq!(memo.get(tenant, "three"), Some(vec![3.0]));
    }

    #[test]
    fn forgetting_a_tenant_keeps_the_others() {
        let memo = EmbeddingMemo::new(8);
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        memo.put(a, "same question", &[1.0]);
        memo.put(b, "same question", &[1.0]);
        memo.forget(a);
        assert_eq!(memo.get(a, "same question"), None);
        assert_eq!(memo.get(b, "same question"), Some(vec![1.0]));
        assert_eq!(memo.len(), 1);
    }

    #[test]
    fn capacity_zero_keeps_nothing() {
        let memo = EmbeddingMemo::new(0);
        let tenant = Uuid::new_v4();
        memo.put(tenant, "one", &[1.0]);
        assert!(memo.is_empty());
        assert_eq!(memo.get(tenant, "one"), None);
    }
}
