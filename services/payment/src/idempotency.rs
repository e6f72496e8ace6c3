//! Idempotent charges, with Stripe's semantics.
//!
//! A client that retries `POST /v1/charges` with the same `Idempotency-Key`
//! and the same request gets the first response again (same charge id, same
//! status, same body) and is not charged twice. The same key with a
//! different request is a client bug: 409 `idempotency_key_reused`.
//!
//! What is kept per key: a *fingerprint* of the request, a keyed SipHash
//! whose key is drawn at random when the process starts (so the card number,
//! which is part of the request, can neither be read back nor brute-forced
//! from it), and the response. Never the request itself.
//!
//! Concurrent retries: each key has a slot behind an async mutex. The first
//! request holds it while it charges; a retry arriving meanwhile waits, then
//! finds the stored response and replays it. If the first request is
//! abandoned midway (client gone), the slot stays empty and the next one
//! charges.
//!
//! The store is bounded: past `capacity` keys, the oldest is forgotten.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, Hash, RandomState};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};

/// How many keys are remembered by default.
pub const DEFAULT_CAPACITY: usize = 100_000;

/// The header a replayed response carries, as at Stripe.
pub const REPLAYED_HEADER: &str = "idempotent-replayed";

/// A response as sent, kept to be sent again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: StatusCode,
    /// The JSON body.
    pub body: Bytes,
}

impl StoredResponse {
    pub fn json(status: StatusCode, body: &impl serde::Serialize) -> StoredResponse {
        // Our response types are plain structs of strings and numbers:
        // serialising them cannot fail.
        let body = serde_json::to_vec(body).expect("a response body always serialises");
        StoredResponse {
            status,
            body: Bytes::from(body),
        }
    }

    /// The response again, marked as a replay.
    pub fn replay(&self) -> Response {
        let mut response = self.clone().into_response();
        response
            .headers_mut()
            .insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
        response
    }
}

impl IntoResponse for StoredResponse {
    fn into_response(self) -> Response {
        (
            self.status,
            [(header::CONTENT_TYPE, "application/json")],
            self.body,
        )
            .into_response()
    }
}

/// Where the response to one key goes: empty until the first request with
/// the key has an answer. Holding its lock means "I am charging this key".
pub type Slot = Arc<tokio::sync::Mutex<Option<StoredResponse>>>;

/// The key was used before with a different request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("idempotency key reused with a different request")]
pub struct KeyReused;

/// See the module documentation.
#[derive(Debug, Clone)]
pub struct IdempotencyStore {
    inner: Arc<Mutex<Keys>>,
    /// Random keys for the fingerprints, drawn once per store.
    hasher: RandomState,
}

#[derive(Debug)]
struct Keys {
    capacity: usize,
    entries: HashMap<String, Entry>,
    /// Keys oldest first, for eviction.
    age: VecDeque<String>,
}

#[derive(Debug)]
struct Entry {
    fingerprint: u64,
    slot: Slot,
}

impl IdempotencyStore {
    pub fn new(capacity: usize) -> IdempotencyStore {
        IdempotencyStore {
            inner: Arc::new(Mutex::new(Keys {
                capacity: capacity.max(1),
                entries: HashMap::new(),
                age: VecDeque::new(),
            })),
            hasher: RandomState::new(),
        }
    }

    /// The fingerprint of a request (see the module documentation).
    pub fn fingerprint(&self, request: &impl Hash) -> u64 {
        self.hasher.hash_one(request)
    }

    /// The slot of `key` for a request with `fingerprint`: a new one, or the
    /// existing one if the request is the same.
    pub fn claim(&self, key: &str, fingerprint: u64) -> Result<Slot, KeyReused> {
        // Only map operations happen under this lock, never an await: a
        // poisoned lock still holds a consistent map.
        let mut keys = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(entry) = keys.entries.get(key) {
            return if entry.fingerprint == fingerprint {
                Ok(entry.slot.clone())
            } else {
                Err(KeyReused)
            };
        }
        if keys.entries.len() >= keys.capacity
            && let Some(oldest) = keys.age.pop_front()
        {
            keys.entries.remove(&oldest);
        }
        let slot = Slot::default();
        keys.entries.insert(
            key.to_owned(),
            Entry {
                fingerprint,
                slot: slot.clone(),
            },
        );
        keys.age.push_back(key.to_owned());
        Ok(slot)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_key_and_request_get_the_same_slot() {
        let store = IdempotencyStore::new(10);
        let first = store.claim("k", store.fingerprint(&"request")).unwrap();
        let again = store.claim("k", store.fingerprint(&"request")).unwrap();
        assert!(Arc::ptr_eq(&first, &again));
    }

    #[test]
    fn the_same_key_with_another_request_is_refused() {
        let store = IdempotencyStore::new(10);
        store.claim("k", store.fingerprint(&"request")).unwrap();
        assert_eq!(
            store
                .claim("k", store.fingerprint(&"other request"))
                .unwrap_err(),
            KeyReused
        );
    }

    #[test]
    fn past_capacity_the_oldest_key_is_forgotten() {
        let store = IdempotencyStore::new(2);
        let a = store.claim("a", 1).unwrap();
        store.claim("b", 1).unwrap();
        store.claim("c", 1).unwrap();
        // "a" was evicted: claiming it again gives a fresh slot, even with
        // another fingerprint.
        let a_again = store.claim("a", 2).unwrap();
        assert!(!Arc::ptr_eq(&a, &a_again));
        // "c" is still known.
        assert_eq!(store.claim("c", 2).unwrap_err(), KeyReused);
    }

    #[tokio::test]
    async fn a_replay_has_the_stored_status_and_body_and_is_marked() {
        let stored = StoredResponse::json(StatusCode::CREATED, &serde_json::json!({"id": "ch_1"}));
        let response = stored.replay();
        assert_eq!(response.status(), StatusCode::CREATED);
        assert_eq!(response.headers()[REPLAYED_HEADER], "true");
        let body = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .unwrap();
        assert_eq!(body, stored.body);
    }
}
