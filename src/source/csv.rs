//! CSV with a header row, through arrow's reader.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use arrow::datatypes::{Schema, SchemaRef};
use arrow::error::ArrowError;

use super::{BATCH_ROWS, Batches, Error, INFER_ROWS, open_text};

pub(super) fn infer(path: &Path) -> Result<Schema, Error> {
    let reader = open_text(path, Arc::new(AtomicU64::new(0)))?;
    let fmt = arrow::csv::reader::Format::default().with_header(true);
    fmt.infer_schema(reader, Some(INFER_ROWS))
        .map(|(s, _)| s)
        .map_err(|e| csv_error(path, e))
}

pub(super) fn batches(
    path: &Path,
    schema: SchemaRef,
    progress: Arc<AtomicU64>,
) -> Result<Batches, Error> {
    let reader = open_text(path, progress)?;
    let r = arrow::csv::ReaderBuilder::new(schema)
        .with_header(true)
        .with_batch_size(BATCH_ROWS)
        .build(reader)
        .map_err(|e| csv_error(path, e))?;
    let path = path.to_path_buf();
    Ok(Box::new(r.map(move |b| b.map_err(|e| csv_error(&path, e)))))
}

fn csv_error(path: &Path, e: ArrowError) -> Error {
    let reason = match e {
        ArrowError::CsvError(m) | ArrowError::ParseError(m) => m,
        other => other.to_string(),
    };
    Error::Csv {
        path: path.to_path_buf(),
        reason,
    }
}
