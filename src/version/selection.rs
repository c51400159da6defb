//! Selections: which rows of each shard a version (or a stage) keeps.
//!
//! A selection set holds one bitmap per segment of a source version, over
//! that segment's shard rows. Stages read one and produce one; both are
//! stored as objects, so a curated version costs a few bytes per thousand
//! rows and `sift explain` can replay any stage's decision.

use arrow::array::RecordBatch;
use roaring::RoaringBitmap;

use super::{
    ReadError, Segment, Version, decode_selection, open_shard_rows, read_shard_rows, select,
};
use crate::store::{self, ObjectId, Store};

const MAGIC: &[u8; 8] = b"SIFTSET1";

/// One bitmap of kept shard rows per segment.
#[derive(Debug, Clone, PartialEq)]
pub struct SelectionSet(pub Vec<RoaringBitmap>);

impl SelectionSet {
    /// The rows a version already contributes from each of its segments.
    pub fn of_version(store: &Store, v: &Version) -> Result<SelectionSet, store::Error> {
        let mut out = Vec::new();
        for seg in &v.manifest.segments {
            out.push(match &seg.selection {
                Some(id) => decode_selection(id, &store.objects().get(id)?)?,
                None => full(seg.rows),
            });
        }
        Ok(SelectionSet(out))
    }

    pub fn rows(&self) -> u64 {
        self.0.iter().map(|b| b.len()).sum()
    }

    /// The position among the selected rows of (segment, shard row), which
    /// must be selected.
    pub fn position(&self, seg: usize, row: u32) -> u64 {
        let before: u64 = self.0[..seg.min(self.0.len())]
            .iter()
            .map(|b| b.len())
            .sum();
        before + self.0.get(seg).map_or(0, |b| b.rank(row).saturating_sub(1))
    }

    pub fn encode(&self) -> Vec<u8> {
        let parts: Vec<Vec<u8>> = self
            .0
            .iter()
            .map(|b| {
                let mut buf = Vec::new();
                b.serialize_into(&mut buf)
                    .expect("writing to a Vec cannot fail");
                buf
            })
            .collect();
        crate::store::codec::encode_parts(MAGIC, &parts)
    }

    pub fn decode(id: &ObjectId, bytes: &[u8]) -> Result<SelectionSet, store::Error> {
        let bad = |reason: String| store::Error::BadObject {
            id: *id,
            what: "selection set",
            reason,
        };
        crate::store::codec::decode_parts(MAGIC, bytes)
            .map_err(|r| bad(r.into()))?
            .into_iter()
            .map(|p| RoaringBitmap::deserialize_from(p).map_err(|e| bad(e.to_string())))
            .collect::<Result<_, _>>()
            .map(SelectionSet)
    }

    /// Stores the set; returns its id.
    pub fn put(&self, store: &Store) -> Result<ObjectId, store::Error> {
        Ok(store.objects().put(&self.encode())?.id)
    }

    pub fn load(store: &Store, id: &ObjectId) -> Result<SelectionSet, store::Error> {
        SelectionSet::decode(id, &store.objects().get(id)?)
    }
}

/// Every row of a shard with `rows` rows.
pub fn full(rows: u64) -> RoaringBitmap {
    let mut b = RoaringBitmap::new();
    b.insert_range(0..rows as u32);
    b
}

/// The selected rows of one segment, with their shard row indexes.
pub fn segment_batches(
    store: &Store,
    seg: &Segment,
    sel: &RoaringBitmap,
) -> Result<Vec<(Vec<u32>, RecordBatch)>, ReadError> {
    segment_columns(store, seg, sel, None)
}

/// [`segment_batches`] decoding only the `columns` named (all when `None`;
/// names the shard lacks are left out).
pub fn segment_columns(
    store: &Store,
    seg: &Segment,
    sel: &RoaringBitmap,
    columns: Option<&[&str]>,
) -> Result<Vec<(Vec<u32>, RecordBatch)>, ReadError> {
    if sel.is_empty() {
        return Ok(Vec::new());
    }
    // A few rows of a large shard: decode only theirs.
    if sel.len() * 16 < seg.rows {
        let mut ids = sel.iter();
        let mut out = Vec::new();
        for batch in read_shard_rows(store, seg, sel, columns)? {
            let these: Vec<u32> = ids.by_ref().take(batch.num_rows()).collect();
            out.push((these, batch));
        }
        return Ok(out);
    }
    let reader = open_shard_rows(store, seg, None, columns)?;
    let mut out = Vec::new();
    let mut offset = 0u32;
    for batch in reader {
        let batch = batch.map_err(|e| ReadError::Decode {
            id: seg.shard,
            source: e.into(),
        })?;
        let n = batch.num_rows() as u32;
        let ids: Vec<u32> = sel.range(offset..offset + n).collect();
        if !ids.is_empty() {
            out.push((ids, select(seg.shard, batch, sel, offset)?));
        }
        offset += n;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_round_trip_and_reject_damage() {
        let mut a = RoaringBitmap::new();
        a.insert_range(3..1000);
        let set = SelectionSet(vec![a, RoaringBitmap::new(), full(5)]);
        let bytes = set.encode();
        let id = ObjectId::of(&bytes);
        assert_eq!(SelectionSet::decode(&id, &bytes).unwrap(), set);
        assert_eq!(set.rows(), 997 + 5);
        assert!(SelectionSet::decode(&id, &bytes[..bytes.len() - 2]).is_err());
    }
}
