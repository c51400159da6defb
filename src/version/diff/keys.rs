//! Rows paired by key into modified ones, duplicate keys, and class counts.

use std::collections::{BTreeMap, HashMap};

use arrow::array::{ArrayRef, RecordBatch};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use indexmap::IndexMap;

use super::*;

/// The key of each row of a batch: the key columns' values, joined by ", ".
pub(super) fn key_strings(batch: &RecordBatch, keys: &[String]) -> Vec<String> {
    let cols: Vec<&ArrayRef> = keys
        .iter()
        .filter_map(|k| batch.column_by_name(k))
        .collect();
    let fmts: Vec<ArrayFormatter> = cols
        .iter()
        .filter_map(|c| {
            ArrayFormatter::try_new(c.as_ref(), &FormatOptions::default().with_null("null")).ok()
        })
        .collect();
    (0..batch.num_rows())
        .map(|i| {
            fmts.iter()
                .map(|f| f.value(i).to_string())
                .collect::<Vec<_>>()
                .join(", ")
        })
        .collect()
}

/// Pairs removed and added rows by key.
pub(super) fn key_diff(
    store: &Store,
    (a, removed): (&Version, &[At]),
    (b, added): (&Version, &[At]),
    opts: &Options,
    samples: &mut Samples,
) -> Result<KeyDiff, DiffError> {
    // Changed rows of each side: key → rows (as JSON objects).
    let changed =
        |v: &Version, at: &[At]| -> Result<Vec<(String, serde_json::Value, At)>, DiffError> {
            let rows = json_rows(store, v, at)?;
            let keys: Vec<String> = rows
                .iter()
                .map(|r| {
                    opts.keys
                        .iter()
                        .map(|k| json_cell(&r[k]))
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .collect();
            Ok(keys
                .into_iter()
                .zip(rows)
                .zip(at.iter().copied())
                .map(|((k, r), at)| (k, r, at))
                .collect())
        };
    let ra = changed(a, removed)?;
    let rb = changed(b, added)?;
    let mut by_key_a: IndexMap<&str, Vec<usize>> = IndexMap::new();
    for (i, r) in ra.iter().enumerate() {
        by_key_a.entry(r.0.as_str()).or_default().push(i);
    }
    let mut by_key_b: IndexMap<&str, Vec<usize>> = IndexMap::new();
    for (i, r) in rb.iter().enumerate() {
        by_key_b.entry(r.0.as_str()).or_default().push(i);
    }
    let mut d = KeyDiff {
        columns: opts.keys.clone(),
        ..KeyDiff::default()
    };
    let columns: Vec<String> = {
        let mut c: Vec<String> = a.manifest.schema.iter().map(|c| c.name.clone()).collect();
        for col in &b.manifest.schema {
            if !c.contains(&col.name) {
                c.push(col.name.clone());
            }
        }
        c
    };
    let mut paired_a = vec![false; ra.len()];
    let mut paired_b = vec![false; rb.len()];
    for (key, ia) in &by_key_a {
        let Some(ib) = by_key_b.get(key) else {
            continue;
        };
        // Pair one to one, in order; extra rows stay added or removed.
        for (&x, &y) in ia.iter().zip(ib) {
            paired_a[x] = true;
            paired_b[y] = true;
            d.modified += 1;
            let (va, vb) = (&ra[x].1, &rb[y].1);
            let mut changes = IndexMap::new();
            for c in &columns {
                let (ca, cb) = (
                    va.get(c).cloned().unwrap_or(serde_json::Value::Null),
                    vb.get(c).cloned().unwrap_or(serde_json::Value::Null),
                );
                if ca != cb {
                    *d.changed_columns.entry(c.clone()).or_insert(0) += 1;
                    changes.insert(c.clone(), [ca, cb]);
                }
            }
            if samples.modified.len() < opts.samples {
                samples.modified.push(Modified {
                    key: key.to_string(),
                    changes,
                });
            }
        }
    }
    d.removed = paired_a.iter().filter(|p| !**p).count() as u64;
    d.added = paired_b.iter().filter(|p| !**p).count() as u64;
    samples.removed = ra
        .iter()
        .zip(&paired_a)
        .filter(|(_, p)| !**p)
        .take(opts.samples)
        .map(|(r, _)| r.1.clone())
        .collect();
    samples.added = rb
        .iter()
        .zip(&paired_b)
        .filter(|(_, p)| !**p)
        .take(opts.samples)
        .map(|(r, _)| r.1.clone())
        .collect();
    (d.duplicate_keys_a, d.duplicate_examples_a) = duplicate_keys(store, a, &opts.keys)?;
    (d.duplicate_keys_b, d.duplicate_examples_b) = duplicate_keys(store, b, &opts.keys)?;
    Ok(d)
}

/// A JSON cell as key text: strings bare, others as JSON.
pub(super) fn json_cell(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Key values that occur more than once in a version (reads only the key columns).
pub(super) fn duplicate_keys(
    store: &Store,
    v: &Version,
    keys: &[String],
) -> Result<(u64, Vec<String>), DiffError> {
    let mut seen: HashMap<u128, u32> = HashMap::new();
    let mut examples = Vec::new();
    let mut dups = 0u64;
    for batch in crate::version::columns(store, v, keys)? {
        for k in key_strings(&batch, keys) {
            let n = seen
                .entry(xxhash_rust::xxh3::xxh3_128(k.as_bytes()))
                .or_insert(0);
            *n += 1;
            if *n == 2 {
                dups += 1;
                if examples.len() < 5 {
                    examples.push(k);
                }
            }
        }
    }
    Ok((dups, examples))
}

/// Class counts of a column on both sides (reads only that column).
pub(super) fn label_counts(
    store: &Store,
    a: &Version,
    b: &Version,
    col: &str,
) -> Result<IndexMap<String, ClassChange>, DiffError> {
    let mut counts: BTreeMap<String, ClassChange> = BTreeMap::new();
    for (k, v) in [a, b].iter().enumerate() {
        for batch in crate::version::columns(store, v, &[col.to_string()])? {
            for class in key_strings(&batch, &[col.to_string()]) {
                let c = counts.entry(class).or_insert(ClassChange { a: 0, b: 0 });
                if k == 0 {
                    c.a += 1;
                } else {
                    c.b += 1;
                }
            }
        }
    }
    Ok(counts.into_iter().collect())
}
