//! `sift_curate._sift`: the Rust half of the Python package. Each method
//! opens what it needs from the library crate the CLI uses, releases the GIL
//! for the work, and hands Arrow data over through the C data interface
//! (`arrow-pyarrow`): no row becomes a Python object here.
//!
//! Errors become `sift_curate.errors` exceptions carrying sift's message and
//! hint; the Python half (`sift_curate/__init__.py`) adds pandas, polars,
//! Hugging Face and sharded, shuffled batches on top.

use std::path::PathBuf;
use std::sync::Arc;

use arrow::array::{RecordBatch, RecordBatchIterator, RecordBatchReader};
use arrow::datatypes::SchemaRef;
use arrow::ffi_stream::ArrowArrayStreamReader;
use arrow_pyarrow::{FromPyArrow, IntoPyArrow, ToPyArrow};
use pyo3::prelude::*;

use sift::store::Store as SiftStore;

/// An exception of `sift_curate.errors` (`kind`) with sift's message and hint.
fn error(py: Python<'_>, kind: &str, message: String, hint: Option<String>) -> PyErr {
    let made = py
        .import("sift_curate.errors")
        .and_then(|m| m.getattr(kind))
        .and_then(|class| class.call1((message, hint)));
    match made {
        Ok(e) => PyErr::from_value(e),
        Err(e) => e,
    }
}

/// Maps sift's error types to exceptions, keeping their hints.
trait Raise<T> {
    fn raise(self, py: Python<'_>) -> PyResult<T>;
}

macro_rules! raises {
    ($($t:ty => $kind:literal),* $(,)?) => {$(
        impl<T> Raise<T> for Result<T, $t> {
            fn raise(self, py: Python<'_>) -> PyResult<T> {
                self.map_err(|e| error(py, $kind, e.to_string(), e.hint()))
            }
        }
    )*};
}

raises! {
    sift::version::ReadError => "StoreError",
    sift::spec::Error => "SpecError",
    sift::stage::RunError => "RunError",
    sift::version::import::ImportError => "StoreError",
    sift::query::Error => "QueryError",
    sift::explain::ExplainError => "StoreError",
    sift::version::diff::DiffError => "StoreError",
}

impl<T> Raise<T> for Result<T, sift::store::Error> {
    fn raise(self, py: Python<'_>) -> PyResult<T> {
        use sift::store::Error as E;
        self.map_err(|e| {
            let kind = match &e {
                E::UnknownRef { .. } | E::AmbiguousRef { .. } | E::NoSuchTag { .. } => {
                    "NotFoundError"
                }
                E::NotAStore { .. } => "NotFoundError",
                _ => "StoreError",
            };
            error(py, kind, e.to_string(), e.hint())
        })
    }
}

/// JSON text as a Python value (dicts keep their order).
fn json<'py>(py: Python<'py>, value: &impl serde::Serialize) -> PyResult<Bound<'py, PyAny>> {
    let text = serde_json::to_string(value).expect("sift's outputs serialize");
    py.import("json")?.call_method1("loads", (text,))
}

/// Batches as a `pyarrow.Table`, through one C stream.
fn table<'py>(
    py: Python<'py>,
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
) -> PyResult<Bound<'py, PyAny>> {
    let reader: Box<dyn RecordBatchReader + Send> = Box::new(RecordBatchIterator::new(
        batches.into_iter().map(Ok),
        schema,
    ));
    reader.into_pyarrow(py)?.call_method0("read_all")
}

/// Runs `work` on a thread of its own while this one waits with the GIL
/// released, checking for Ctrl-C: an interrupt raises `KeyboardInterrupt` at
/// once. A read is then abandoned (its result dropped); a write goes on to
/// its atomic commit or its rollback, so the store never holds half of it.
fn interruptible<T: Send + 'static>(
    py: Python<'_>,
    work: impl FnOnce() -> T + Send + 'static,
) -> PyResult<T> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("sift".into())
        .spawn(move || {
            let _ = tx.send(work());
        })
        .map_err(|e| error(py, "SiftError", format!("cannot start a thread: {e}"), None))?;
    let mut rx = rx;
    loop {
        let (got, back) = py.detach(move || {
            let got = rx.recv_timeout(std::time::Duration::from_millis(50));
            (got, rx)
        });
        rx = back;
        match got {
            Ok(v) => return Ok(v),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => py.check_signals()?,
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                return Err(error(py, "SiftError", "the work panicked".into(), None));
            }
        }
    }
}

fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// A sift store.
#[pyclass(module = "sift_curate._sift", frozen)]
struct Store {
    inner: SiftStore,
    threads: usize,
}

/// One version of a store.
#[pyclass(module = "sift_curate._sift", frozen)]
struct Version {
    store: SiftStore,
    inner: sift::version::Version,
    threads: usize,
}

impl Store {
    fn wrap(&self, v: sift::version::Version) -> Version {
        Version {
            store: self.inner.clone(),
            inner: v,
            threads: self.threads,
        }
    }
}

#[pymethods]
impl Store {
    /// Opens the store at `path` (a folder holding `objects/`, `catalog/`).
    #[new]
    #[pyo3(signature = (path, threads=None))]
    fn new(py: Python<'_>, path: PathBuf, threads: Option<usize>) -> PyResult<Self> {
        let inner = py.detach(|| SiftStore::open(&path)).raise(py)?;
        Ok(Store {
            inner,
            threads: threads.unwrap_or_else(default_threads).max(1),
        })
    }

    /// Creates a store at `path` (or opens the one there).
    #[staticmethod]
    #[pyo3(signature = (path, threads=None))]
    fn init(py: Python<'_>, path: PathBuf, threads: Option<usize>) -> PyResult<Self> {
        let inner = py
            .detach(|| SiftStore::open(&path).or_else(|_| SiftStore::init(&path)))
            .raise(py)?;
        Ok(Store {
            inner,
            threads: threads.unwrap_or_else(default_threads).max(1),
        })
    }

    #[getter]
    fn path(&self) -> PathBuf {
        self.inner.root().to_path_buf()
    }

    /// The version a tag, id or unique id prefix names.
    fn version(&self, py: Python<'_>, reference: &str) -> PyResult<Version> {
        let v = py
            .detach(|| sift::version::resolve(&self.inner, reference))
            .raise(py)?;
        Ok(self.wrap(v))
    }

    /// SQL over the store's versions (each tag is a table): a `pyarrow.Table`.
    fn query<'py>(&self, py: Python<'py>, sql: &str) -> PyResult<Bound<'py, PyAny>> {
        let (store, threads, sql) = (self.inner.clone(), self.threads, sql.to_string());
        let (schema, batches) = interruptible(py, move || {
            let mut batches = Vec::new();
            sift::query::run(&store, &sql, threads, &|_| {}, |b| {
                batches.push(b.clone());
                Ok(())
            })
            .map(|schema| (schema, batches))
        })?
        .raise(py)?;
        table(py, schema, batches)
    }

    /// Versions, newest first, as `sift log --json` gives them.
    fn log<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let versions = py
            .detach(|| self.inner.catalog().and_then(|c| c.versions()))
            .raise(py)?;
        json(py, &versions)
    }

    /// Tag → version id.
    fn tags<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let tags = py
            .detach(|| self.inner.catalog().and_then(|c| c.tags()))
            .raise(py)?;
        let map: serde_json::Map<String, serde_json::Value> = tags
            .into_iter()
            .map(|(t, id)| (t, id.hex().into()))
            .collect();
        json(py, &map)
    }

    /// Runs a pipeline and commits its result, as `sift run` does: a spec
    /// file (TOML or YAML), or its fields as JSON text (`json`), whose
    /// relative paths are resolved against the working directory.
    #[pyo3(signature = (spec, tag=None, message=None, json=None))]
    fn run(
        &self,
        py: Python<'_>,
        spec: Option<PathBuf>,
        tag: Option<String>,
        message: Option<String>,
        json: Option<String>,
    ) -> PyResult<Version> {
        let parsed = match (spec, json) {
            (Some(path), _) => sift::spec::parse_file(&path),
            (None, Some(text)) => {
                // JSON is YAML: the spec parser reads it, with line numbers.
                let here = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
                sift::spec::parse_str(&here.join("python-spec.yaml"), text)
            }
            (None, None) => {
                return Err(error(py, "SpecError", "no spec given".into(), None));
            }
        }
        .raise(py)?;
        let plan = sift::plan::validate(&self.inner, parsed).raise(py)?;
        let opts = sift::pipeline::RunOptions {
            threads: self.threads,
            tags: tag.into_iter().collect(),
            message,
            device: None,
            memory: None,
            remote: None,
        };
        struct Quiet;
        impl sift::stage::Observer for Quiet {}
        let store = self.inner.clone();
        let ran = interruptible(py, move || {
            sift::pipeline::run(&store, &plan, &opts, &Quiet)
        })?
        .raise(py)?;
        Ok(self.wrap(ran.version))
    }

    /// What changed from version `a` to `b`, as `sift diff --json` gives it.
    #[pyo3(signature = (a, b, key=None, label=None, rows=3))]
    fn diff<'py>(
        &self,
        py: Python<'py>,
        a: &str,
        b: &str,
        key: Option<Vec<String>>,
        label: Option<String>,
        rows: usize,
    ) -> PyResult<Bound<'py, PyAny>> {
        let va = sift::version::resolve(&self.inner, a).raise(py)?;
        let vb = sift::version::resolve(&self.inner, b).raise(py)?;
        let label = label.or_else(|| sift::version::diff::default_label(&va, &vb));
        let opts = sift::version::diff::Options {
            keys: key.unwrap_or_default(),
            label,
            samples: rows,
        };
        let (store, a, b) = (self.inner.clone(), a.to_string(), b.to_string());
        let d = interruptible(py, move || {
            sift::version::diff::diff(&store, (&va, &a), (&vb, &b), &opts)
        })?
        .raise(py)?;
        json(py, &d)
    }

    /// Why row `row` (the source's row number) is in version `reference`, or
    /// which stage removed it, as `sift explain --json` gives it.
    fn explain<'py>(
        &self,
        py: Python<'py>,
        reference: &str,
        row: u64,
    ) -> PyResult<Bound<'py, PyAny>> {
        let v = sift::version::resolve(&self.inner, reference).raise(py)?;
        let e = py
            .detach(|| sift::explain::explain(&self.inner, &v, &sift::explain::RowRef::Index(row)))
            .raise(py)?;
        json(py, &e)
    }

    /// Commits Arrow data (anything with `__arrow_c_stream__`: a
    /// `pyarrow.Table`, a polars frame, …) as a new version.
    #[pyo3(signature = (data, tag=None, message=None))]
    fn commit(
        &self,
        py: Python<'_>,
        data: &Bound<'_, PyAny>,
        tag: Option<String>,
        message: Option<String>,
    ) -> PyResult<Version> {
        let reader = ArrowArrayStreamReader::from_pyarrow_bound(data)?;
        let schema = reader.schema();
        let batches: Vec<RecordBatch> = py
            .detach(|| reader.collect::<Result<Vec<_>, _>>())
            .map_err(|e| error(py, "StoreError", format!("reading the data: {e}"), None))?;
        let info = sift::version::import::ImportInfo {
            inputs: vec!["python".into()],
            message,
            tags: tag.into_iter().collect(),
            reuse: false,
        };
        let opts = sift::store::shard::ShardOptions {
            target: sift::store::shard::DEFAULT_SHARD_SIZE,
            threads: self.threads,
        };
        let store = self.inner.clone();
        let v = interruptible(py, move || {
            sift::version::import::import_batches(
                &store,
                schema,
                batches.into_iter().map(Ok),
                None,
                opts,
                info,
            )
        })?
        .raise(py)?;
        Ok(self.wrap(v))
    }
}

#[pymethods]
impl Version {
    /// The version id: BLAKE3 of its manifest.
    #[getter]
    fn id(&self) -> String {
        self.inner.id.hex()
    }

    /// The content id: BLAKE3 of the schema and the rows' fingerprints in order.
    #[getter]
    fn content_id(&self) -> String {
        self.inner.manifest.content_id.clone()
    }

    #[getter]
    fn rows(&self) -> u64 {
        self.inner.manifest.stats.rows
    }

    /// The number of segments (the units `iter_batches` shards by).
    #[getter]
    fn segments(&self) -> usize {
        self.inner.manifest.segments.len()
    }

    /// Rows per segment, in order.
    #[getter]
    fn segment_rows(&self) -> Vec<u64> {
        self.inner
            .manifest
            .segments
            .iter()
            .map(|s| s.selected_rows)
            .collect()
    }

    /// The manifest, as `sift show --json` gives it.
    #[getter]
    fn manifest<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        json(py, &self.inner.manifest)
    }

    /// The schema, as a `pyarrow.Schema`.
    #[getter]
    fn schema<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let s = self.inner.schema().raise(py)?;
        s.as_ref().to_pyarrow(py)
    }

    /// The rows of some segments (all, by default), in the order given, as
    /// a `pyarrow.Table`; only `columns` are read when given. With
    /// `shuffle_seed`, each segment's rows come in the order of
    /// `permutation(rows, shuffle_seed, segment + 1)`.
    #[pyo3(signature = (segments=None, columns=None, shuffle_seed=None))]
    fn read<'py>(
        &self,
        py: Python<'py>,
        segments: Option<Vec<usize>>,
        columns: Option<Vec<String>>,
        shuffle_seed: Option<u64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let n = self.inner.manifest.segments.len();
        let segments = segments.unwrap_or_else(|| (0..n).collect());
        if let Some(bad) = segments.iter().find(|&&s| s >= n) {
            return Err(error(
                py,
                "SiftError",
                format!("segment {bad} is out of range: the version has {n}"),
                None,
            ));
        }
        let full = self.inner.schema().raise(py)?;
        let schema = match &columns {
            None => full,
            Some(names) => {
                let mut fields = Vec::new();
                for c in names {
                    let f = full.field_with_name(c).map_err(|_| {
                        let all: Vec<&str> =
                            full.fields().iter().map(|f| f.name().as_str()).collect();
                        error(
                            py,
                            "SiftError",
                            format!("the version has no column `{c}`"),
                            Some(format!("its columns are: {}", all.join(", "))),
                        )
                    })?;
                    fields.push(f.clone());
                }
                Arc::new(arrow::datatypes::Schema::new(fields))
            }
        };
        let (store, version, threads) = (self.store.clone(), self.inner.clone(), self.threads);
        // Segments on every thread, put back in order.
        let batches = interruptible(py, move || {
            sift::par::map_ordered(
                threads,
                segments.len(),
                |k| -> Result<Vec<RecordBatch>, sift::version::ReadError> {
                    let batches = sift::version::segment_columns(
                        &store,
                        &version,
                        &segments[k..k + 1],
                        columns.as_deref(),
                    )?;
                    match (shuffle_seed, batches.first()) {
                        (Some(seed), Some(first)) if batches.len() + first.num_rows() > 2 => {
                            let rows = arrow::compute::concat_batches(&first.schema(), &batches)
                                .map_err(|e| sift::version::ReadError::Mismatch {
                                    id: version.manifest.segments[segments[k]].shard,
                                    reason: e.to_string(),
                                })?;
                            let order = arrow::array::UInt32Array::from(permutation(
                                rows.num_rows(),
                                seed,
                                segments[k] as u64 + 1,
                            ));
                            let taken = arrow::compute::take_record_batch(&rows, &order)
                                .expect("a permutation of the rows");
                            Ok(vec![taken])
                        }
                        _ => Ok(batches),
                    }
                },
            )
            .map(|per| per.into_iter().flatten().collect::<Vec<_>>())
        })?
        .raise(py)?;
        // A shard's own schema may differ in metadata; the version's names the columns.
        let batches = batches
            .into_iter()
            .map(|b| RecordBatch::try_new(schema.clone(), b.columns().to_vec()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| error(py, "StoreError", e.to_string(), None))?;
        table(py, schema, batches)
    }
}

/// A permutation of `0..n` from a seeded SplitMix64 and a Fisher–Yates
/// shuffle: the same on every platform (`stream` separates uses of one seed).
#[pyfunction]
fn permutation(n: usize, seed: u64, stream: u64) -> Vec<u32> {
    let mut state = seed
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(stream.wrapping_mul(0xBF58_476D_1CE4_E5B9));
    let mut next = || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let mut out: Vec<u32> = (0..n as u32).collect();
    for i in (1..n).rev() {
        let j = (next() % (i as u64 + 1)) as usize;
        out.swap(i, j);
    }
    out
}

/// The module `sift_curate._sift`.
#[pymodule]
fn _sift(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Store>()?;
    m.add_class::<Version>()?;
    m.add_function(wrap_pyfunction!(permutation, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
