//! Content-defined sharding, through the library.

use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use proptest::prelude::*;
use sift::store::objects::Objects;
use sift::store::shard::{ShardOptions, write_shards};

use super::util::Rng;

fn rows(seed: u64, n: usize) -> Vec<(i64, String)> {
    let mut rng = Rng(seed | 1);
    (0..n)
        .map(|i| {
            let len = 20 + rng.below(300) as usize;
            let text: String = (0..len)
                .map(|_| (b'a' + rng.below(26) as u8) as char)
                .collect();
            (i as i64 + seed as i64 * 1_000_000, text)
        })
        .collect()
}

fn schema() -> Arc<Schema> {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("text", DataType::Utf8, false),
    ]))
}

/// The rows as batches of `chunk` rows.
fn batches(rows: &[(i64, String)], chunk: usize) -> Vec<Result<RecordBatch, std::io::Error>> {
    let schema = schema();
    rows.chunks(chunk)
        .map(|c| {
            let ids: ArrayRef =
                Arc::new(Int64Array::from(c.iter().map(|r| r.0).collect::<Vec<_>>()));
            let texts: ArrayRef = Arc::new(StringArray::from(
                c.iter().map(|r| r.1.as_str()).collect::<Vec<_>>(),
            ));
            Ok(RecordBatch::try_new(schema.clone(), vec![ids, texts]).unwrap())
        })
        .collect()
}

fn shard_ids(objects: &Objects, rows: &[(i64, String)], target: u64) -> Vec<String> {
    let (schema, batches) = (schema(), batches(rows, 97));
    let w = write_shards(
        objects,
        schema,
        batches.into_iter(),
        ShardOptions { target, threads: 1 },
    )
    .unwrap();
    w.shards.iter().map(|s| s.shard.id.hex()).collect()
}

fn new_shards(before: &[String], after: &[String]) -> usize {
    after.iter().filter(|s| !before.contains(s)).count()
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(24),
        ..ProptestConfig::default()
    })]

    /// Inserting or deleting a block (smaller than the minimum shard) changes at most two shards.
    #[test]
    fn a_block_edit_changes_at_most_two_shards(at in 0usize..1500, len in 1usize..8, insert in any::<bool>(), seed in 1u64..1000) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("tmp")).unwrap();
        let objects = Objects::new(dir.path().join("objects"), dir.path().join("tmp"));
        let base = rows(seed, 1500);
        let target = 16 * 1024;
        let before = shard_ids(&objects, &base, target);
        let mut edited = base.clone();
        if insert {
            let block = rows(seed + 7, len);
            edited.splice(at..at, block);
        } else {
            let end = (at + len).min(edited.len());
            edited.drain(at..end);
        }
        let after = shard_ids(&objects, &edited, target);
        prop_assert!(before.len() > 5);
        prop_assert!(new_shards(&before, &after) <= 2, "{} new of {}", new_shards(&before, &after), after.len());
    }
}

#[test]
fn the_same_rows_in_other_batch_sizes_give_the_same_shards() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("tmp")).unwrap();
    let objects = Objects::new(dir.path().join("objects"), dir.path().join("tmp"));
    let base = rows(42, 800);
    let a = shard_ids(&objects, &base, 8 * 1024);
    // The same rows cut into other batches, written on two threads.
    let (schema, batches) = (schema(), batches(&base, 13));
    let w = write_shards(
        &objects,
        schema,
        batches.into_iter(),
        ShardOptions {
            target: 8 * 1024,
            threads: 2,
        },
    )
    .unwrap();
    let b: Vec<String> = w.shards.iter().map(|s| s.shard.id.hex()).collect();
    assert_eq!(a, b);
}
