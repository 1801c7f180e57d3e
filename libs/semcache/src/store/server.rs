//! A Qdrant server over gRPC (`qdrant-client`): one collection shared by every gateway.

use std::collections::HashMap;

use qdrant_client::qdrant::point_id::PointIdOptions;
use qdrant_client::qdrant::{
    Condition, CountPointsBuilder, CreateCollectionBuilder, CreateFieldIndexCollectionBuilder,
    DeletePointsBuilder, Direction, Distance, FieldType, Filter, GetPointsBuilder, OrderByBuilder,
    PointId, PointStruct, PointsIdsList, Query, QueryPointsBuilder, Range, ScrollPointsBuilder,
    UpsertPointsBuilder, Value as QdrantValue, VectorParamsBuilder, VectorsConfigBuilder,
};
use qdrant_client::{Payload, Qdrant};
use serde_json::Value;
use uuid::Uuid;

use super::{CacheEntry, DIMENSIONS, Neighbours, Scored, StoreError, VECTOR, VectorStore};

/// A collection on a Qdrant server.
pub struct ServerStore {
    client: Qdrant,
    collection: String,
}

impl ServerStore {
    /// Connects to the server at `url` (gRPC, e.g. `http://127.0.0.1:6334`, or `https://…`
    /// for TLS) with its `api_key` if it requires one, and creates `collection` with its
    /// payload indexes if it does not exist.
    pub async fn connect(
        url: &str,
        collection: &str,
        api_key: Option<&str>,
    ) -> Result<Self, StoreError> {
        let client = Qdrant::from_url(url)
            .api_key(api_key.map(str::to_owned))
            .skip_compatibility_check()
            .build()
            .map_err(StoreError::of)?;
        let store = Self {
            client,
            collection: collection.to_owned(),
        };
        if !store
            .client
            .collection_exists(collection)
            .await
            .map_err(StoreError::of)?
        {
            let mut vectors = VectorsConfigBuilder::default();
            vectors.add_named_vector_params(
                VECTOR,
                VectorParamsBuilder::new(DIMENSIONS as u64, Distance::Cosine),
            );
            store
                .client
                .create_collection(CreateCollectionBuilder::new(collection).vectors_config(vectors))
                .await
                .map_err(StoreError::of)?;
            for (field, kind) in [
                ("tenant", FieldType::Keyword),
                ("model", FieldType::Keyword),
                ("namespace", FieldType::Keyword),
                ("created_at", FieldType::Integer),
                ("expires_at", FieldType::Integer),
            ] {
                store
                    .client
                    .create_field_index(
                        CreateFieldIndexCollectionBuilder::new(collection, field, kind).wait(true),
                    )
                    .await
                    .map_err(StoreError::of)?;
            }
        }
        Ok(store)
    }

    /// Deletes the collection (tests clean up with it).
    pub async fn drop_collection(&self) -> Result<(), StoreError> {
        self.client
            .delete_collection(&self.collection)
            .await
            .map(drop)
            .map_err(StoreError::of)
    }
}

fn is_tenant(tenant: Uuid) -> Condition {
    Condition::matches("tenant", tenant.to_string())
}

fn entry_of(id: Option<PointId>, payload: HashMap<String, QdrantValue>) -> Option<CacheEntry> {
    let Some(PointIdOptions::Uuid(id)) = id.and_then(|id| id.point_id_options) else {
        return None;
    };
    let id = Uuid::parse_str(&id).ok()?;
    let Value::Object(map) = Value::from(Payload::from(payload)) else {
        return None;
    };
    CacheEntry::from_payload(id, map)
}

impl VectorStore for ServerStore {
    async fn upsert(&self, entry: CacheEntry, vector: Option<Vec<f32>>) -> Result<(), StoreError> {
        let vectors: HashMap<String, Vec<f32>> =
            vector.map(|v| (VECTOR.to_owned(), v)).into_iter().collect();
        let point = PointStruct::new(
            entry.id.to_string(),
            vectors,
            Payload::from(entry.to_payload()),
        );
        self.client
            .upsert_points(UpsertPointsBuilder::new(&self.collection, vec![point]).wait(true))
            .await
            .map(drop)
            .map_err(StoreError::of)
    }

    async fn get(&self, tenant: Uuid, id: Uuid) -> Result<Option<CacheEntry>, StoreError> {
        let found = self
            .client
            .get_points(
                GetPointsBuilder::new(&self.collection, vec![PointId::from(id.to_string())])
                    .with_payload(true),
            )
            .await
            .map_err(StoreError::of)?;
        Ok(found
            .result
            .into_iter()
            .filter_map(|p| entry_of(p.id, p.payload))
            .find(|e| e.tenant == tenant))
    }

    async fn search(&self, query: Neighbours) -> Result<Vec<Scored>, StoreError> {
        let filter = Filter::must([
            is_tenant(query.tenant),
            Condition::matches("model", query.model.clone()),
            Condition::matches("namespace", query.namespace.clone()),
            Condition::range(
                "expires_at",
                Range {
                    gt: Some(query.now as f64),
                    ..Range::default()
                },
            ),
        ]);
        let found = self
            .client
            .query(
                QueryPointsBuilder::new(&self.collection)
                    .query(Query::new_nearest(query.vector))
                    .using(VECTOR)
                    .filter(filter)
                    .limit(query.limit as u64)
                    .with_payload(true),
            )
            .await
            .map_err(StoreError::of)?;
        Ok(found
            .result
            .into_iter()
            .filter_map(|p| {
                let similarity = p.score;
                entry_of(p.id, p.payload).map(|entry| Scored { entry, similarity })
            })
            .filter(|s| s.entry.tenant == query.tenant)
            .collect())
    }

    async fn count(&self, tenant: Uuid) -> Result<u64, StoreError> {
        let counted = self
            .client
            .count(
                CountPointsBuilder::new(&self.collection)
                    .filter(Filter::must([is_tenant(tenant)]))
                    .exact(true),
            )
            .await
            .map_err(StoreError::of)?;
        Ok(counted.result.map_or(0, |r| r.count))
    }

    async fn purge(&self, tenant: Uuid) -> Result<(), StoreError> {
        self.client
            .delete_points(
                DeletePointsBuilder::new(&self.collection)
                    .points(Filter::must([is_tenant(tenant)]))
                    .wait(true),
            )
            .await
            .map(drop)
            .map_err(StoreError::of)
    }

    async fn delete_expired(&self, now: i64) -> Result<(), StoreError> {
        let expired = Filter::must([Condition::range(
            "expires_at",
            Range {
                lte: Some(now as f64),
                ..Range::default()
            },
        )]);
        self.client
            .delete_points(
                DeletePointsBuilder::new(&self.collection)
                    .points(expired)
                    .wait(true),
            )
            .await
            .map(drop)
            .map_err(StoreError::of)
    }

    async fn delete_oldest(&self, tenant: Uuid, n: usize) -> Result<(), StoreError> {
        if n == 0 {
            return Ok(());
        }
        let page = self
            .client
            .scroll(
                ScrollPointsBuilder::new(&self.collection)
                    .filter(Filter::must([is_tenant(tenant)]))
                    .limit(u32::try_from(n).unwrap_or(u32::MAX))
                    .with_payload(false)
                    .order_by(OrderByBuilder::new("created_at").direction(Direction::Asc as i32)),
            )
            .await
            .map_err(StoreError::of)?;
        let ids: Vec<PointId> = page.result.into_iter().filter_map(|p| p.id).collect();
        if ids.is_empty() {
            return Ok(());
        }
        self.client
            .delete_points(
                DeletePointsBuilder::new(&self.collection)
                    .points(PointsIdsList { ids })
                    .wait(true),
            )
            .await
            .map(drop)
            .map_err(StoreError::of)
    }

    async fn maintain(&self) -> Result<(), StoreError> {
        // The server persists and optimises by itself.
        Ok(())
    }
}
