//! Export: a version as plain, materialized files any tool can read.
//!
//! Parquet goes to `DIR/data/train-00000-of-0000N.parquet`, the layout
//! `datasets.load_dataset("parquet", data_dir=DIR)` expects. Files are
//! written under a temporary name and renamed when complete.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use parquet::arrow::ArrowWriter;

use super::{ReadError, Version, rows};
use crate::store::Store;

/// Rows of canonical data per exported file (about).
pub const FILE_BYTES: u64 = 256 << 20;

/// Export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    Parquet,
    Jsonl,
}

/// Errors of an export.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{} already holds files", path.display())]
    NotEmpty { path: PathBuf },
    #[error("{} exists and was not written by sift", path.display())]
    CardExists { path: PathBuf },
    #[error("cannot write {}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error(transparent)]
    Store(#[from] crate::store::Error),
    #[error("writing {} failed", path.display())]
    Encode {
        path: PathBuf,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl Error {
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::NotEmpty { .. } => {
                Some("choose an empty directory, or pass --force to replace its data/".into())
            }
            Error::CardExists { .. } => Some(
                "pass --force to replace it with sift's dataset card, or --no-card to leave it"
                    .into(),
            ),
            Error::Read(e) => e.hint(),
            Error::Store(e) => e.hint(),
            _ => None,
        }
    }
}

/// What was written.
#[derive(Debug)]
pub struct Exported {
    pub files: Vec<PathBuf>,
    pub rows: u64,
    /// The dataset card, when one was written.
    pub card: Option<PathBuf>,
}

enum Writer {
    Parquet(ArrowWriter<File>),
    Jsonl(arrow::json::LineDelimitedWriter<BufWriter<File>>),
}

/// What an exported Parquet file says about where it came from.
pub fn provenance(v: &Version) -> Vec<(String, String)> {
    vec![
        ("sift.version_id".into(), v.id.hex()),
        ("sift.content_id".into(), v.manifest.content_id.clone()),
        ("sift.sift_version".into(), env!("CARGO_PKG_VERSION").into()),
    ]
}

/// Writes `version` under `dir/data/`.
pub fn export(
    store: &Store,
    version: &Version,
    dir: &Path,
    format: ExportFormat,
    force: bool,
    max_file_bytes: u64,
    with_card: bool,
) -> Result<Exported, Error> {
    let data = dir.join("data");
    let readme = dir.join("README.md");
    if with_card && !force && readme.is_file() {
        let old = fs::read_to_string(&readme).unwrap_or_default();
        if !old.contains(super::card::MARK) {
            return Err(Error::CardExists { path: readme });
        }
    }
    let io = |p: &Path| {
        let p = p.to_path_buf();
        move |source| Error::Io { path: p, source }
    };
    if data.is_dir() && fs::read_dir(&data).map_err(io(&data))?.next().is_some() {
        if !force {
            return Err(Error::NotEmpty { path: data });
        }
        fs::remove_dir_all(&data).map_err(io(&data))?;
    }
    fs::create_dir_all(&data).map_err(io(&data))?;
    let stats = &version.manifest.stats;
    // Files of about `max_file_bytes` of row data each, split by rows.
    let n_files = stats.data_bytes.div_ceil(max_file_bytes.max(1)).max(1);
    let rows_per_file = stats.rows.div_ceil(n_files).max(1);
    let ext = match format {
        ExportFormat::Parquet => "parquet",
        ExportFormat::Jsonl => "jsonl",
    };
    let name = |i: u64| format!("train-{i:05}-of-{n_files:05}.{ext}");
    let mut reader = rows(store, version)?;
    let schema = reader.schema();
    let mut written: Vec<(PathBuf, PathBuf)> = Vec::new();
    let mut total = 0u64;

    let open = |i: u64| -> Result<(PathBuf, Writer), Error> {
        let tmp = data.join(format!(".{}.tmp", name(i)));
        let f = File::create(&tmp).map_err(io(&tmp))?;
        let w = match format {
            ExportFormat::Parquet => {
                let mut w = ArrowWriter::try_new(
                    f,
                    schema.clone(),
                    Some(crate::store::shard::writer_properties()),
                )
                .map_err(|e| Error::Encode {
                    path: tmp.clone(),
                    source: e.into(),
                })?;
                // Provenance, readable as pyarrow's `schema.metadata`.
                for (k, v) in provenance(version) {
                    w.append_key_value_metadata(parquet::file::metadata::KeyValue::new(k, v));
                }
                Writer::Parquet(w)
            }
            ExportFormat::Jsonl => {
                Writer::Jsonl(arrow::json::LineDelimitedWriter::new(BufWriter::new(f)))
            }
        };
        Ok((tmp, w))
    };
    let close = |tmp: &Path, w: Writer| -> Result<(), Error> {
        let enc = |e: Box<dyn std::error::Error + Send + Sync>| Error::Encode {
            path: tmp.to_path_buf(),
            source: e,
        };
        match w {
            Writer::Parquet(w) => {
                let f = w.into_inner().map_err(|e| enc(e.into()))?;
                f.sync_all().map_err(io(tmp))?;
            }
            Writer::Jsonl(mut w) => {
                w.finish().map_err(|e| enc(e.into()))?;
                let mut f = w.into_inner();
                f.flush().map_err(io(tmp))?;
                f.get_ref().sync_all().map_err(io(tmp))?;
            }
        }
        Ok(())
    };

    let mut file_index = 0u64;
    let (mut tmp, mut w) = open(0)?;
    let mut in_file = 0u64;
    for batch in &mut reader {
        let mut batch = batch?;
        while batch.num_rows() > 0 {
            if in_file == rows_per_file && file_index + 1 < n_files {
                close(&tmp, w)?;
                written.push((tmp, data.join(name(file_index))));
                file_index += 1;
                (tmp, w) = open(file_index)?;
                in_file = 0;
            }
            let room = if file_index + 1 < n_files {
                (rows_per_file - in_file) as usize
            } else {
                usize::MAX
            };
            let take = room.min(batch.num_rows());
            let part = batch.slice(0, take);
            batch = batch.slice(take, batch.num_rows() - take);
            let enc = |e: Box<dyn std::error::Error + Send + Sync>| Error::Encode {
                path: tmp.clone(),
                source: e,
            };
            match &mut w {
                Writer::Parquet(pw) => pw.write(&part).map_err(|e| enc(e.into()))?,
                Writer::Jsonl(jw) => jw.write(&part).map_err(|e| enc(e.into()))?,
            }
            in_file += take as u64;
            total += take as u64;
        }
    }
    close(&tmp, w)?;
    written.push((tmp, data.join(name(file_index))));
    // Files that received no rows (a tiny version) are still written, empty, so N is right.
    while file_index + 1 < n_files {
        file_index += 1;
        let (t, w) = open(file_index)?;
        close(&t, w)?;
        written.push((t, data.join(name(file_index))));
    }
    let mut files = Vec::new();
    for (tmp, dest) in written {
        fs::rename(&tmp, &dest).map_err(io(&dest))?;
        files.push(dest);
    }
    crate::store::objects::sync_dir(&data)?;
    let card = if with_card {
        let size: u64 = files
            .iter()
            .map(|f| fs::metadata(f).map(|m| m.len()).unwrap_or(0))
            .sum();
        let text = super::card::card(version, &schema, ext, size);
        let tmp = dir.join(".README.md.tmp");
        fs::write(&tmp, text).map_err(io(&tmp))?;
        fs::rename(&tmp, &readme).map_err(io(&readme))?;
        crate::store::objects::sync_dir(dir)?;
        Some(readme)
    } else {
        None
    };
    Ok(Exported {
        files,
        rows: total,
        card,
    })
}
