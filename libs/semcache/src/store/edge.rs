//! Embedded Qdrant (`qdrant-edge`): no server, the shard lives under a directory and is
//! reloaded from it on start. Calls run on the blocking pool; writes, flushes and optimisation
//! are serialised (the shard's flush expects no concurrent writer), searches run in parallel.

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::path::Path;
use std::sync::{Arc, Mutex};

use qdrant_edge::{
    CountRequest, CreateIndex, Distance, EdgeConfig, EdgeOptimizersConfig, EdgeShard,
    EdgeVectorParams, FieldIndexOperations, Filter, HnswIndexConfig, JsonPath, NamedQuery, Payload,
    PayloadFieldSchema, PayloadSchemaType, PointId, PointInsertOperations, PointOperations,
    PointStructPersisted, QueryEnum, ScrollRequest, SearchParams, SearchRequest, UpdateOperation,
    VectorInternal, VectorPersisted, VectorStructPersisted, WalOptions, WithPayloadInterface,
    WithVector,
};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{CacheEntry, DIMENSIONS, Neighbours, Scored, StoreError, VECTOR, VectorStore};

/// WAL segment size: the library's default (32 MiB per shard) is far more than cache writes need.
const WAL_SEGMENT_BYTES: usize = 4 * 1024 * 1024;

/// How the embedded shard indexes and searches its vectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EdgeTuning {
    /// Vector data (KB; a 384-d prompt is 1.5 KB) from which a segment gets an HNSW index and
    /// from which a search's filtered points are searched through it instead of scanned.
    /// `None`: the library's defaults (10 MB each).
    pub index_from_kb: Option<usize>,
    /// Beam width of HNSW searches; `None`: the library's default (the build's `ef_construct`).
    pub search_ef: Option<usize>,
}

impl EdgeTuning {
    /// The library's own settings: every tenant below 10 MB of vectors is scanned exactly.
    pub const LIBRARY: Self = Self {
        index_from_kb: None,
        search_ef: None,
    };
}

/// The embedded store. Clones share the shard.
#[derive(Clone)]
pub struct EdgeStore {
    inner: Arc<Inner>,
}

struct Inner {
    shard: EdgeShard,
    tuning: EdgeTuning,
    /// Held by every write, flush and optimisation.
    writes: Mutex<()>,
}

impl EdgeStore {
    /// Opens the shard under `dir` with the default tuning (see [`EdgeStore::open_tuned`]).
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        Self::open_tuned(dir, EdgeTuning::default())
    }

    /// Opens the shard under `dir`, creating it (with its payload indexes) if there is none,
    /// and applies `tuning` (also to a shard created with other settings).
    pub fn open_tuned(dir: &Path, tuning: EdgeTuning) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir).map_err(StoreError::of)?;
        let existing = dir.join("edge_config.json").exists();
        let shard = if existing {
            EdgeShard::load(dir, None).map_err(StoreError::of)?
        } else {
            let config = EdgeConfig::builder()
                .vector(
                    VECTOR,
                    EdgeVectorParams::builder(DIMENSIONS, Distance::Cosine).build(),
                )
                .wal_options(WalOptions {
                    segment_capacity: WAL_SEGMENT_BYTES,
                    segment_queue_len: 0,
                    retain_closed: NonZeroUsize::MIN,
                })
                .build();
            EdgeShard::new(dir, config).map_err(StoreError::of)?
        };
        if let Some(kb) = tuning.index_from_kb {
            shard
                .set_optimizers_config(EdgeOptimizersConfig {
                    indexing_threshold: Some(kb),
                    ..EdgeOptimizersConfig::default()
                })
                .map_err(StoreError::of)?;
            shard
                .set_hnsw_config(HnswIndexConfig {
                    full_scan_threshold: kb,
                    ..HnswIndexConfig::default()
                })
                .map_err(StoreError::of)?;
        }
        let store = Self {
            inner: Arc::new(Inner {
                shard,
                tuning,
                writes: Mutex::new(()),
            }),
        };
        if !existing {
            for (field, kind) in [
                ("tenant", PayloadSchemaType::Keyword),
                ("model", PayloadSchemaType::Keyword),
                ("namespace", PayloadSchemaType::Keyword),
                ("created_at", PayloadSchemaType::Integer),
                ("expires_at", PayloadSchemaType::Integer),
            ] {
                store.inner.write(UpdateOperation::FieldIndexOperation(
                    FieldIndexOperations::CreateIndex(CreateIndex {
                        field_name: field
                            .parse::<JsonPath>()
                            .map_err(|()| StoreError(format!("bad field name {field}")))?,
                        field_schema: Some(PayloadFieldSchema::FieldType(kind)),
                    }),
                ))?;
            }
        }
        Ok(store)
    }

    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Inner) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || work(&inner))
            .await
            .map_err(StoreError::of)?
    }
}

impl Inner {
    fn write(&self, operation: UpdateOperation) -> Result<(), StoreError> {
        let _serialised = self.writes.lock().map_err(StoreError::of)?;
        self.shard.update(operation).map_err(StoreError::of)
    }

    fn delete_matching(&self, filter: Filter) -> Result<(), StoreError> {
        self.write(UpdateOperation::PointOperation(
            PointOperations::DeletePointsByFilter(filter),
        ))
    }
}

/// A filter from Qdrant's JSON form (the same form the server's REST API takes).
fn filter(conditions: Value) -> Result<Filter, StoreError> {
    serde_json::from_value(json!({ "must": conditions })).map_err(StoreError::of)
}

fn is_tenant(tenant: Uuid) -> Value {
    json!({"key": "tenant", "match": {"value": tenant.to_string()}})
}

fn entry_of(id: &PointId, payload: Option<Payload>) -> Option<CacheEntry> {
    match (id, payload) {
        (PointId::Uuid(id), Some(payload)) => CacheEntry::from_payload(*id, payload.0),
        _ => None,
    }
}

impl VectorStore for EdgeStore {
    async fn upsert(&self, entry: CacheEntry, vector: Option<Vec<f32>>) -> Result<(), StoreError> {
        let vectors: HashMap<String, VectorPersisted> = vector
            .map(|v| (VECTOR.to_owned(), VectorPersisted::Dense(v)))
            .into_iter()
            .collect();
        let point = PointStructPersisted {
            id: PointId::Uuid(entry.id),
            vector: VectorStructPersisted::Named(vectors),
            payload: Some(Payload(entry.to_payload())),
        };
        self.blocking(move |inner| {
            inner.write(UpdateOperation::PointOperation(
                PointOperations::UpsertPoints(PointInsertOperations::PointsList(vec![point])),
            ))
        })
        .await
    }

    async fn get(&self, tenant: Uuid, id: Uuid) -> Result<Option<CacheEntry>, StoreError> {
        let records = self
            .blocking(move |inner| {
                inner
                    .shard
                    .retrieve(
                        &[PointId::Uuid(id)],
                        Some(WithPayloadInterface::Bool(true)),
                        Some(WithVector::Bool(false)),
                    )
                    .map_err(StoreError::of)
            })
            .await?;
        Ok(records
            .into_iter()
            .filter_map(|r| entry_of(&r.id, r.payload))
            .find(|e| e.tenant == tenant))
    }

    async fn search(&self, query: Neighbours) -> Result<Vec<Scored>, StoreError> {
        let conditions = filter(json!([
            is_tenant(query.tenant),
            {"key": "model", "match": {"value": query.model}},
            {"key": "namespace", "match": {"value": query.namespace}},
            {"key": "expires_at", "range": {"gt": query.now}},
        ]))?;
        let request = SearchRequest {
            query: QueryEnum::Nearest(NamedQuery {
                query: VectorInternal::Dense(query.vector),
                using: Some(VECTOR.to_owned()),
            }),
            filter: Some(conditions),
            params: self.inner.tuning.search_ef.map(|ef| SearchParams {
                hnsw_ef: Some(ef),
                ..SearchParams::default()
            }),
            limit: query.limit,
            offset: 0,
            with_payload: Some(WithPayloadInterface::Bool(true)),
            with_vector: None,
            score_threshold: None,
        };
        let points = self
            .blocking(move |inner| inner.shard.search(request).map_err(StoreError::of))
            .await?;
        Ok(points
            .into_iter()
            .filter_map(|p| {
                let similarity = p.score;
                entry_of(&p.id, p.payload).map(|entry| Scored { entry, similarity })
            })
            .filter(|s| s.entry.tenant == query.tenant)
            .collect())
    }

    async fn count(&self, tenant: Uuid) -> Result<u64, StoreError> {
        let request: CountRequest = serde_json::from_value(json!({
            "filter": {"must": [is_tenant(tenant)]},
            "exact": true,
        }))
        .map_err(StoreError::of)?;
        let n = self
            .blocking(move |inner| inner.shard.count(request).map_err(StoreError::of))
            .await?;
        Ok(n as u64)
    }

    async fn purge(&self, tenant: Uuid) -> Result<(), StoreError> {
        let conditions = filter(json!([is_tenant(tenant)]))?;
        self.blocking(move |inner| inner.delete_matching(conditions))
            .await
    }

    async fn delete_expired(&self, now: i64) -> Result<(), StoreError> {
        let conditions = filter(json!([{"key": "expires_at", "range": {"lte": now}}]))?;
        self.blocking(move |inner| inner.delete_matching(conditions))
            .await
    }

    async fn delete_oldest(&self, tenant: Uuid, n: usize) -> Result<(), StoreError> {
        if n == 0 {
            return Ok(());
        }
        let request: ScrollRequest = serde_json::from_value(json!({
            "limit": n,
            "filter": {"must": [is_tenant(tenant)]},
            "with_payload": false,
            "order_by": {"key": "created_at", "direction": "asc"},
        }))
        .map_err(StoreError::of)?;
        self.blocking(move |inner| {
            let (records, _) = inner.shard.scroll(request).map_err(StoreError::of)?;
            let ids = records.into_iter().map(|r| r.id).collect();
            inner.write(UpdateOperation::PointOperation(
                PointOperations::DeletePoints { ids },
            ))
        })
        .await
    }

    async fn maintain(&self) -> Result<(), StoreError> {
        self.blocking(|inner| {
            let _serialised = inner.writes.lock().map_err(StoreError::of)?;
            inner.shard.flush();
            inner.shard.optimize().map_err(StoreError::of)?;
            Ok(())
        })
        .await
    }
}
