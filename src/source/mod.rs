//! Readers: JSONL (plain, `.gz`, `.zst`), CSV and Parquet files into Arrow batches.
//!
//! The fast path is arrow's own decoders. When one fails, the file is
//! scanned again line by line to say exactly where and why — the first
//! invalid UTF-8 byte, JSON syntax error (`file:line:column`), or value
//! whose type conflicts with the schema — so errors cost nothing until
//! they happen.
//!
//! One file per format: `jsonl.rs`, `csv.rs`, `parquet.rs`.

mod csv;
mod jsonl;
mod parquet;

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arrow::array::RecordBatch;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

/// Rows per batch.
pub const BATCH_ROWS: usize = 8192;
/// Records read to infer a schema, per file.
const INFER_ROWS: usize = 10_000;

/// Input formats.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    clap::ValueEnum,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Jsonl,
    Csv,
    Parquet,
}

/// Errors reading input files.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}: no such file", path.display())]
    NotFound { path: PathBuf },
    #[error("{}: cannot tell the format from the file name", path.display())]
    UnknownFormat { path: PathBuf },
    #[error("{}: read failed", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}:{line}:{column}: invalid JSON: {reason}", path.display())]
    Json {
        path: PathBuf,
        line: u64,
        column: u64,
        reason: String,
    },
    #[error("{}:{line}: invalid UTF-8 at byte {byte} of the line", path.display())]
    Utf8 {
        path: PathBuf,
        line: u64,
        byte: usize,
    },
    #[error("{}:{line}: {reason}", path.display())]
    Row {
        path: PathBuf,
        line: u64,
        reason: String,
    },
    #[error("{}: {reason}", path.display())]
    Csv { path: PathBuf, reason: String },
    #[error("{}: not a readable Parquet file: {reason}", path.display())]
    Parquet { path: PathBuf, reason: String },
    #[error("{}: schema differs from {}: {reason}", path.display(), first.display())]
    SchemaMismatch {
        path: PathBuf,
        first: PathBuf,
        reason: String,
    },
    #[error("the input holds no rows ({})", paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "))]
    Empty { paths: Vec<PathBuf> },
    #[error("bad --schema file {}: {reason}", path.display())]
    BadSchema { path: PathBuf, reason: String },
    #[error("{}: skipping bad rows works on JSONL files only", path.display())]
    SkipNeedsJsonl { path: PathBuf },
    #[error("column '{column}' has type {data_type}, which sift does not support yet")]
    Unsupported { column: String, data_type: DataType },
}

impl Error {
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            Error::UnknownFormat { .. } => "pass --format jsonl|csv|parquet".into(),
            Error::Json { .. } | Error::Utf8 { .. } => {
                "fix or remove that line; every line must be one JSON object in UTF-8".into()
            }
            Error::Row { .. } | Error::SchemaMismatch { .. } => {
                "the schema was inferred from the first rows; give the column types with --schema FILE".into()
            }
            Error::Csv { reason, .. } if reason.contains("parsing value") => {
                "the schema was inferred from the first rows; give the column types with --schema FILE".into()
            }
            Error::Csv { .. } => "every CSV row must have as many fields as the header".into(),
            Error::Empty { .. } => "import a file with at least one row".into(),
            Error::BadSchema { .. } => {
                r#"a schema file is a JSON list of {"name": ..., "type": ...}; types: string, int64, int32, float64, float32, bool, date, timestamp, binary, list<T>"#.into()
            }
            _ => return None,
        })
    }
}

/// Picks the format from a file name (`.jsonl`, `.ndjson`, `.json`, `.csv`,
/// `.parquet`, each optionally followed by `.gz` or `.zst`).
pub fn detect_format(path: &Path) -> Option<Format> {
    let name = path.file_name()?.to_string_lossy().to_ascii_lowercase();
    let name = name
        .strip_suffix(".gz")
        .or_else(|| name.strip_suffix(".zst"))
        .unwrap_or(&name);
    if name.ends_with(".jsonl") || name.ends_with(".ndjson") || name.ends_with(".json") {
        Some(Format::Jsonl)
    } else if name.ends_with(".csv") {
        Some(Format::Csv)
    } else if name.ends_with(".parquet") || name.ends_with(".pq") {
        Some(Format::Parquet)
    } else {
        None
    }
}

/// Counts bytes read from the underlying (compressed) file, for progress.
struct Counting<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

fn open_text(path: &Path, count: Arc<AtomicU64>) -> Result<Box<dyn BufRead + Send>, Error> {
    let file = File::open(path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => Error::NotFound {
            path: path.to_path_buf(),
        },
        _ => Error::Io {
            path: path.to_path_buf(),
            source,
        },
    })?;
    let raw = BufReader::with_capacity(1 << 20, Counting { inner: file, count });
    let name = path.to_string_lossy().to_ascii_lowercase();
    Ok(if name.ends_with(".gz") {
        Box::new(BufReader::with_capacity(
            1 << 20,
            flate2::bufread::MultiGzDecoder::new(raw),
        ))
    } else if name.ends_with(".zst") {
        let dec = zstd::stream::read::Decoder::with_buffer(raw).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Box::new(BufReader::with_capacity(1 << 20, dec))
    } else {
        Box::new(raw)
    })
}

/// What to do with a row that does not read (malformed, not UTF-8, or not
/// of the schema's types).
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    clap::ValueEnum,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum OnBadRow {
    /// Stop, naming the file, line and reason; nothing is written.
    #[default]
    Fail,
    /// Leave the row out and record it (file, line, reason, text) in the
    /// version's quarantine (JSONL sources).
    Skip,
}

/// A row left out by `on_bad_row = "skip"`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Skipped {
    pub path: String,
    pub line: u64,
    pub reason: String,
    /// The line as read (its first 1,000 bytes).
    pub text: String,
}

/// Where skipped rows are recorded while a source is read.
#[derive(Debug, Clone, Default)]
pub struct Skips(Arc<std::sync::Mutex<Vec<Skipped>>>);

impl Skips {
    pub(crate) fn record(&self, s: Skipped) {
        self.0.lock().expect("skips lock").push(s);
    }

    /// The rows skipped so far, in the order read.
    pub fn taken(&self) -> Vec<Skipped> {
        self.0.lock().expect("skips lock").clone()
    }
}

/// A set of input files with one schema.
pub struct Source {
    files: Vec<(PathBuf, Format)>,
    schema: SchemaRef,
    /// With a user-given schema, JSON numbers and booleans may fill string columns.
    coerce: bool,
    progress: Arc<AtomicU64>,
    skips: Option<Skips>,
}

impl Source {
    /// Opens `paths`, inferring the schema unless one is given; a bad row fails.
    pub fn open(
        paths: &[PathBuf],
        format: Option<Format>,
        schema: Option<SchemaRef>,
    ) -> Result<Source, Error> {
        Source::open_with(paths, format, schema, OnBadRow::Fail)
    }

    /// Opens `paths`; with `OnBadRow::Skip`, bad rows are left out (also
    /// from schema inference) and recorded in `skips()` (JSONL files only).
    pub fn open_with(
        paths: &[PathBuf],
        format: Option<Format>,
        schema: Option<SchemaRef>,
        on_bad_row: OnBadRow,
    ) -> Result<Source, Error> {
        let mut files = Vec::new();
        for p in paths {
            if !p.exists() {
                return Err(Error::NotFound { path: p.clone() });
            }
            let f = format
                .or_else(|| detect_format(p))
                .ok_or_else(|| Error::UnknownFormat { path: p.clone() })?;
            if on_bad_row == OnBadRow::Skip && f != Format::Jsonl {
                return Err(Error::SkipNeedsJsonl { path: p.clone() });
            }
            files.push((p.clone(), f));
        }
        let progress = Arc::new(AtomicU64::new(0));
        let coerce = schema.is_some();
        let schema = match schema {
            Some(s) => s,
            None => {
                let mut merged: Option<(PathBuf, Schema)> = None;
                for (p, f) in &files {
                    let s = match (f, on_bad_row) {
                        (Format::Jsonl, OnBadRow::Skip) => jsonl::infer_skipping(p)?,
                        _ => infer(p, *f)?,
                    };
                    merged = Some(match merged {
                        None => (p.clone(), s),
                        Some((first, m)) => {
                            let out =
                                Schema::try_merge([m, s]).map_err(|e| Error::SchemaMismatch {
                                    path: p.clone(),
                                    first: first.clone(),
                                    reason: e.to_string(),
                                })?;
                            (first, out)
                        }
                    });
                }
                Arc::new(merged.map(|(_, s)| s).unwrap_or_else(Schema::empty))
            }
        };
        if schema.fields().is_empty() {
            return Err(Error::Empty {
                paths: paths.to_vec(),
            });
        }
        for f in schema.fields() {
            if crate::store::fingerprint::logical_type(f.data_type()).is_none() {
                return Err(Error::Unsupported {
                    column: f.name().clone(),
                    data_type: f.data_type().clone(),
                });
            }
        }
        Ok(Source {
            files,
            schema,
            coerce,
            progress,
            skips: (on_bad_row == OnBadRow::Skip).then(Skips::default),
        })
    }

    /// The rows skipped while reading (empty unless `on_bad_row` is `skip`).
    pub fn skips(&self) -> Option<Skips> {
        self.skips.clone()
    }

    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// Total size of the input files on disk.
    pub fn total_bytes(&self) -> u64 {
        self.files
            .iter()
            .filter_map(|(p, _)| std::fs::metadata(p).ok())
            .map(|m| m.len())
            .sum()
    }

    /// Bytes read so far (shared counter, for a progress bar).
    pub fn progress(&self) -> Arc<AtomicU64> {
        self.progress.clone()
    }

    /// All rows, file after file, in order.
    pub fn batches(self) -> impl Iterator<Item = Result<RecordBatch, Error>> + Send {
        let schema = self.schema.clone();
        let progress = self.progress.clone();
        let coerce = self.coerce;
        let skips = self.skips.clone();
        self.files.into_iter().flat_map(
            move |(path, format)| -> Box<dyn Iterator<Item = Result<RecordBatch, Error>> + Send> {
                match file_batches(
                    &path,
                    format,
                    schema.clone(),
                    coerce,
                    progress.clone(),
                    skips.clone(),
                ) {
                    Ok(it) => it,
                    Err(e) => Box::new(std::iter::once(Err(e))),
                }
            },
        )
    }
}

fn infer(path: &Path, format: Format) -> Result<Schema, Error> {
    match format {
        Format::Jsonl => jsonl::infer(path),
        Format::Csv => csv::infer(path),
        Format::Parquet => parquet::infer(path),
    }
}

fn file_batches(
    path: &Path,
    format: Format,
    schema: SchemaRef,
    coerce: bool,
    progress: Arc<AtomicU64>,
    skips: Option<Skips>,
) -> Result<Batches, Error> {
    Ok(match format {
        Format::Jsonl => Box::new(jsonl::JsonlBatches::new(
            path, schema, coerce, progress, skips,
        )?),
        Format::Csv => csv::batches(path, schema, progress)?,
        Format::Parquet => parquet::batches(path, schema, progress)?,
    })
}

/// A file's batches.
type Batches = Box<dyn Iterator<Item = Result<RecordBatch, Error>> + Send>;

/// Reads a `--schema` file: a JSON list of `{"name", "type", "nullable"?}`.
pub fn read_schema_file(path: &Path) -> Result<SchemaRef, Error> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Col {
        name: String,
        #[serde(rename = "type")]
        ty: String,
        #[serde(default = "yes")]
        nullable: bool,
    }
    fn yes() -> bool {
        true
    }
    let bad = |reason: String| Error::BadSchema {
        path: path.to_path_buf(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
    let cols: Vec<Col> = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
    if cols.is_empty() {
        return Err(bad("it lists no columns".into()));
    }
    let fields = cols
        .into_iter()
        .map(|c| {
            let dt = parse_type(&c.ty)
                .ok_or_else(|| bad(format!("unknown type '{}' for column '{}'", c.ty, c.name)))?;
            Ok(Field::new(c.name, dt, c.nullable))
        })
        .collect::<Result<Vec<_>, Error>>()?;
    Ok(Arc::new(Schema::new(fields)))
}

fn parse_type(t: &str) -> Option<DataType> {
    let t = t.trim();
    if let Some(inner) = t.strip_prefix("list<").and_then(|r| r.strip_suffix('>')) {
        return Some(DataType::new_list(parse_type(inner)?, true));
    }
    Some(match t.to_ascii_lowercase().as_str() {
        "string" | "utf8" | "str" | "text" => DataType::Utf8,
        "int64" | "int" | "integer" | "long" => DataType::Int64,
        "int32" => DataType::Int32,
        "int16" => DataType::Int16,
        "int8" => DataType::Int8,
        "uint64" => DataType::UInt64,
        "uint32" => DataType::UInt32,
        "float64" | "float" | "double" => DataType::Float64,
        "float32" => DataType::Float32,
        "bool" | "boolean" => DataType::Boolean,
        "date" | "date32" => DataType::Date32,
        "timestamp" => DataType::Timestamp(TimeUnit::Microsecond, None),
        "binary" => DataType::Binary,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_from_names() {
        assert_eq!(
            detect_format(Path::new("a/b.jsonl.gz")),
            Some(Format::Jsonl)
        );
        assert_eq!(detect_format(Path::new("x.CSV")), Some(Format::Csv));
        assert_eq!(detect_format(Path::new("x.parquet")), Some(Format::Parquet));
        assert_eq!(
            detect_format(Path::new("x.ndjson.zst")),
            Some(Format::Jsonl)
        );
        assert_eq!(detect_format(Path::new("x.txt")), None);
    }

    #[test]
    fn schema_types_parse() {
        assert_eq!(
            parse_type("list<string>"),
            Some(DataType::new_list(DataType::Utf8, true))
        );
        assert_eq!(parse_type("INT64"), Some(DataType::Int64));
        assert_eq!(parse_type("nope"), None);
    }
}
