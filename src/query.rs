//! SQL over versions with DataFusion: every tag is a table.
//!
//! A table streams its version's segments through [`crate::version::rows`],
//! so reading verifies each object and applies selections exactly as `cat`
//! and `export` do.

use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use datafusion::catalog::streaming::StreamingTable;
use datafusion::catalog::{SchemaProvider, TableProvider};
use datafusion::error::DataFusionError;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::execution::TaskContext;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::streaming::PartitionStream;
use datafusion::prelude::{SessionConfig, SessionContext};
use futures::StreamExt;

use crate::store::Store;
use crate::version::Version;

/// Errors of a query.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Store(#[from] crate::store::Error),
    #[error("{}", crate::stage::filter::sql_message(&.0.to_string()).0)]
    DataFusion(DataFusionError),
}

impl From<DataFusionError> for Error {
    fn from(e: DataFusionError) -> Self {
        Error::DataFusion(e)
    }
}

impl Error {
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::Store(e) => e.hint(),
            Error::DataFusion(e) => {
                let (msg, hint) = crate::stage::filter::sql_message(&e.to_string());
                if msg.starts_with("no table") {
                    Some("every tag is a table, and so is every version by id or unique id prefix (`sift tags`, `sift log`); quote names with '-' or '.' like \"v1.0\"".into())
                } else {
                    hint
                }
            }
        }
    }
}

#[derive(Debug)]
struct VersionPartition {
    store: Store,
    version: Version,
    schema: SchemaRef,
}

impl PartitionStream for VersionPartition {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn execute(&self, _ctx: Arc<TaskContext>) -> SendableRecordBatchStream {
        let rows = crate::version::rows(&self.store, &self.version);
        let iter: Box<dyn Iterator<Item = Result<RecordBatch, DataFusionError>> + Send> = match rows
        {
            Ok(r) => Box::new(r.map(|b| b.map_err(|e| DataFusionError::External(Box::new(e))))),
            Err(e) => Box::new(std::iter::once(Err(DataFusionError::External(Box::new(e))))),
        };
        Box::pin(RecordBatchStreamAdapter::new(
            self.schema.clone(),
            futures::stream::iter(iter),
        ))
    }
}

/// A version as a table.
fn table(store: &Store, id: &crate::store::ObjectId) -> Result<Arc<dyn TableProvider>, Error> {
    let version = crate::version::load(store, id)?;
    let schema = version.schema()?;
    let part = VersionPartition {
        store: store.clone(),
        version,
        schema: schema.clone(),
    };
    Ok(Arc::new(StreamingTable::try_new(
        schema,
        vec![Arc::new(part)],
    )?))
}

/// The tables of a store: every tag, and any version by id or unique id
/// prefix (`SELECT * FROM "3f2a9c"`), tagged or not.
#[derive(Debug)]
struct Versions {
    store: Store,
    tags: Vec<String>,
}

#[async_trait::async_trait]
impl SchemaProvider for Versions {
    fn table_names(&self) -> Vec<String> {
        self.tags.clone()
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>, DataFusionError> {
        let Ok(id) = self.store.catalog().and_then(|c| c.resolve(name)) else {
            return Ok(None);
        };
        table(&self.store, &id)
            .map(Some)
            .map_err(|e| DataFusionError::External(Box::new(e)))
    }

    fn table_exist(&self, name: &str) -> bool {
        self.store.catalog().and_then(|c| c.resolve(name)).is_ok()
    }
}

/// A session whose tables are the store's versions, by tag, id or id prefix.
pub fn session(store: &Store, threads: usize) -> Result<SessionContext, Error> {
    let config = SessionConfig::new()
        .with_target_partitions(threads.max(1))
        .with_information_schema(true);
    let ctx = SessionContext::new_with_config(config);
    crate::stage::register_udfs(&ctx);
    let tags = store
        .catalog()?
        .tags()?
        .into_iter()
        .map(|(t, _)| t)
        .collect();
    let versions = Versions {
        store: store.clone(),
        tags,
    };
    let catalog = ctx
        .catalog("datafusion")
        .expect("a new session has its default catalog");
    catalog.register_schema("public", Arc::new(versions))?;
    Ok(ctx)
}

/// Runs `sql` and hands each result batch to `each`; `extend` may add
/// functions to the session first (the CLI adds `removed()`).
pub fn run(
    store: &Store,
    sql: &str,
    threads: usize,
    extend: &dyn Fn(&SessionContext),
    mut each: impl FnMut(&RecordBatch) -> Result<(), DataFusionError>,
) -> Result<SchemaRef, Error> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .build()
        .map_err(|e| DataFusionError::External(Box::new(e)))?;
    rt.block_on(async {
        let ctx = session(store, threads)?;
        extend(&ctx);
        let df = ctx.sql(sql).await?;
        let mut stream = df.execute_stream().await?;
        let schema = stream.schema();
        while let Some(batch) = stream.next().await {
            each(&batch?)?;
        }
        Ok(schema)
    })
}
