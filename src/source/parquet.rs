//! Parquet files, through the parquet crate's Arrow reader.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arrow::datatypes::{Schema, SchemaRef};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::{BATCH_ROWS, Batches, Error};

fn open(path: &Path) -> Result<File, Error> {
    File::open(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

pub(super) fn infer(path: &Path) -> Result<Schema, Error> {
    let b = ParquetRecordBatchReaderBuilder::try_new(open(path)?).map_err(|e| Error::Parquet {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    Ok(b.schema().as_ref().clone())
}

pub(super) fn batches(
    path: &Path,
    schema: SchemaRef,
    progress: Arc<AtomicU64>,
) -> Result<Batches, Error> {
    let file = open(path)?;
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let perr = |e: &dyn std::fmt::Display| Error::Parquet {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    let b = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| perr(&e))?;
    if b.schema().fields() != schema.fields() {
        return Err(Error::SchemaMismatch {
            path: path.to_path_buf(),
            first: PathBuf::from("the first file"),
            reason: format!("{:?} vs {:?}", b.schema().fields(), schema.fields()),
        });
    }
    let total_rows = b.metadata().file_metadata().num_rows().max(1) as u64;
    let r = b
        .with_batch_size(BATCH_ROWS)
        .build()
        .map_err(|e| perr(&e))?;
    let path = path.to_path_buf();
    Ok(Box::new(r.map(move |b| {
        let b = b.map_err(|e| Error::Parquet {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        progress.fetch_add(len * b.num_rows() as u64 / total_rows, Ordering::Relaxed);
        Ok(b)
    })))
}
