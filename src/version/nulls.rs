//! Null counts per column, from the shards' Parquet footers (no row data
//! is read): exact for whole shards, an upper bound under a selection.

use std::fs::File;

use parquet::file::reader::{FileReader, SerializedFileReader};
use schemars::JsonSchema;
use serde::Serialize;

use super::Version;
use crate::store::{self, Store};

/// Nulls in one column of a version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
pub struct NullCount {
    /// Nulls counted (at most this many when `exact` is false).
    pub nulls: u64,
    /// False when a segment keeps part of its shard, so the shard's count
    /// bounds the version's from above.
    pub exact: bool,
}

/// Null counts of each top-level column, or `None` for a column the
/// footers cannot count (nested types).
pub fn null_counts(store: &Store, v: &Version) -> Result<Vec<Option<NullCount>>, store::Error> {
    let columns = v.manifest.schema.len();
    let mut out: Vec<Option<NullCount>> = vec![
        Some(NullCount {
            nulls: 0,
            exact: true,
        });
        columns
    ];
    for seg in &v.manifest.segments {
        let path = store.objects().path(&seg.shard);
        let bad = |reason: String| store::Error::BadObject {
            id: seg.shard,
            what: "shard",
            reason,
        };
        let file = File::open(&path).map_err(|source| store::Error::Io {
            path: path.clone(),
            source,
        })?;
        let reader = SerializedFileReader::new(file).map_err(|e| bad(e.to_string()))?;
        let meta = reader.metadata();
        let descr = meta.file_metadata().schema_descr();
        let partial = seg.selection.is_some() || seg.repeats.is_some();
        // Flat columns are one leaf each; a root with several leaves, or a
        // repeated leaf, is nested and not counted.
        let mut leaves_of_root = vec![0usize; columns];
        for leaf in 0..descr.num_columns() {
            let root = descr.get_column_root_idx(leaf);
            if root < columns {
                leaves_of_root[root] += 1;
            }
        }
        for (root, slot) in out.iter_mut().enumerate() {
            let Some(count) = slot else { continue };
            let leaf = (0..descr.num_columns()).find(|&l| descr.get_column_root_idx(l) == root);
            let flat = leaves_of_root[root] == 1
                && leaf.is_some_and(|l| descr.column(l).max_rep_level() == 0);
            let Some(leaf) = leaf.filter(|_| flat) else {
                *slot = None;
                continue;
            };
            let mut nulls = Some(0u64);
            for rg in meta.row_groups() {
                let n = rg
                    .column(leaf)
                    .statistics()
                    .and_then(|s| s.null_count_opt());
                nulls = nulls.zip(n).map(|(a, b)| a + b);
            }
            match nulls {
                Some(n) => {
                    count.nulls += n;
                    count.exact &= !partial || n == 0;
                }
                None => *slot = None,
            }
        }
    }
    Ok(out)
}
