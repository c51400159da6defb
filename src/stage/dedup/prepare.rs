//! The first pass done elsewhere: a cluster's executors hash the rows no
//! band sidecar holds yet, segment by segment, and the stage then runs here
//! on sidecars alone (`sift run --cluster`).
//!
//! ```text
//!  client: missing rows per segment ──▶ executors: hash_rows ─▶ sidecar bytes
//!  client: merge with the sidecar there was ─▶ put, catalog ─▶ run (all rows from sidecars)
//! ```
//!
//! The sidecars are the ones a local first pass writes, so the result is
//! the same bits: this is the cache an incremental run already trusts.

use roaring::RoaringBitmap;

use super::collect::{Docs, hash_rows};
use super::minhash::Permutations;
use super::{Method, Plan, Verify, sidecar};
use crate::stage::{Context, RunError};
use crate::store::ObjectId;
use crate::store::catalog::{Catalog, band_sidecar_key};
use crate::version::selection::{SelectionSet, segment_columns};

/// What the object naming each segment's sidecar for executors starts with.
const SOURCES_MAGIC: &[u8] = b"SIFTBSRC";

fn keep_sigs(plan: &Plan) -> bool {
    plan.method == Method::Minhash && plan.verify != Verify::Exact
}

/// The band sidecars of the rows a stage reads: where the catalog names
/// them (one catalog, opened once), and what they hold.
struct Sidecars {
    catalog: Catalog,
    params: String,
    phash: String,
    keep_sigs: bool,
}

impl Sidecars {
    fn open(cx: &Context, plan: &Plan) -> Result<Sidecars, RunError> {
        let keep_sigs = keep_sigs(plan);
        let params = sidecar::params(plan, keep_sigs);
        Ok(Sidecars {
            catalog: cx.store.catalog()?,
            phash: sidecar::params_hash(&params),
            params,
            keep_sigs,
        })
    }

    /// Segment `i`'s catalog key, and its sidecar's id if there is one.
    fn id(&self, cx: &Context, i: usize) -> Result<(String, Option<ObjectId>), RunError> {
        let key = band_sidecar_key(&cx.source.manifest.segments[i].shard, &self.phash);
        let id = self.catalog.band_sidecar(&key)?;
        Ok((key, id))
    }

    /// Segment `i`'s catalog key, and its sidecar if there is one and it decodes.
    fn existing(
        &self,
        cx: &Context,
        plan: &Plan,
        i: usize,
    ) -> Result<(String, Option<Docs>), RunError> {
        let (key, id) = self.id(cx, i)?;
        let docs = id
            .and_then(|id| cx.store.objects().get(&id).ok())
            .and_then(|b| sidecar::decode(&b, &self.params, plan, self.keep_sigs, i as u32).ok());
        Ok((key, docs))
    }
}

/// Per segment, the rows of `input` no sidecar holds (`None` when none lacks one).
pub(super) fn missing(
    cx: &Context,
    plan: &Plan,
    input: &SelectionSet,
) -> Result<Option<SelectionSet>, RunError> {
    let sidecars = Sidecars::open(cx, plan)?;
    let mut out = Vec::with_capacity(input.0.len());
    for (i, sel) in input.0.iter().enumerate() {
        if sel.is_empty() {
            out.push(RoaringBitmap::new());
            continue;
        }
        let (_, docs) = sidecars.existing(cx, plan, i)?;
        out.push(match docs {
            Some(d) => sel - &sidecar::rows_of(&d),
            None => sel.clone(),
        });
    }
    let todo = SelectionSet(out);
    Ok((todo.rows() > 0).then_some(todo))
}

/// An executor's share: the first pass over rows `rows` of segment `i`, as
/// sidecar bytes.
pub(super) fn hash_segment(
    cx: &Context,
    plan: &Plan,
    i: usize,
    rows: &RoaringBitmap,
) -> Result<Vec<u8>, RunError> {
    let keep_sigs = keep_sigs(plan);
    let seg = &cx.source.manifest.segments[i];
    let batches = segment_columns(cx.store, seg, rows, Some(&plan.read_columns()))?;
    let perms = Permutations::new(plan.num_perm, plan.seed);
    let docs = hash_rows(
        cx,
        (i as u32, true),
        &batches,
        plan,
        &perms,
        None,
        keep_sigs,
    )?;
    Ok(sidecar::encode(&sidecar::params(plan, keep_sigs), &docs))
}

/// Stores what the executors hashed: each segment's sidecar, merged with
/// the one there was.
pub(super) fn absorb(
    cx: &Context,
    plan: &Plan,
    prepared: Vec<(usize, Vec<u8>)>,
) -> Result<(), RunError> {
    let sidecars = Sidecars::open(cx, plan)?;
    let (params, keep_sigs) = (&sidecars.params, sidecars.keep_sigs);
    let mut written = Vec::with_capacity(prepared.len());
    for (i, bytes) in prepared {
        let fresh = sidecar::decode(&bytes, params, plan, keep_sigs, i as u32).map_err(|e| {
            RunError::Cluster {
                stage: cx.index + 1,
                name: cx.name.to_string(),
                message: format!("segment {i}'s band hashes from an executor do not read: {e}"),
                hint: Some("run the same sift on the client and the executors".into()),
            }
        })?;
        let (key, there) = sidecars.existing(cx, plan, i)?;
        let all = match there {
            // Rows the sidecar gained meanwhile are not hashed twice.
            Some(t) => {
                let new = sidecar::rows_of(&fresh) - &sidecar::rows_of(&t);
                sidecar::merge(
                    t,
                    sidecar::select(&fresh, &new, plan, keep_sigs),
                    plan,
                    keep_sigs,
                )
            }
            None => fresh,
        };
        let id = cx.store.objects().put(&sidecar::encode(params, &all))?.id;
        written.push((key, id));
    }
    if !written.is_empty() {
        sidecars.catalog.set_band_sidecars(&written)?;
    }
    Ok(())
}

/// Where each segment's band hashes are, for executors to give (band, hash,
/// document) rows to the engine's grouping: the sidecars' ids, which the
/// client reads from the catalog (executors do not open it). `None` unless
/// every segment with rows has a sidecar holding them (MinHash only, and not
/// against earlier versions, whose rows are numbered first).
pub(super) fn band_sources(
    cx: &Context,
    plan: &Plan,
    input: &SelectionSet,
) -> Result<Option<Vec<u8>>, RunError> {
    if plan.method != Method::Minhash || !plan.against.is_empty() {
        return Ok(None);
    }
    let sidecars = Sidecars::open(cx, plan)?;
    let mut ids = Vec::with_capacity(input.0.len());
    for (i, sel) in input.0.iter().enumerate() {
        if sel.is_empty() {
            ids.push(None);
            continue;
        }
        match sidecars.id(cx, i)?.1 {
            Some(id) => ids.push(Some(id)),
            None => return Ok(None),
        }
    }
    let sources = serde_json::json!({ "params": sidecars.params, "sidecars": ids });
    // Not a JSON object at the first byte: `fsck` takes those for manifests.
    let mut out = SOURCES_MAGIC.to_vec();
    out.extend(serde_json::to_vec(&sources).expect("json"));
    Ok(Some(out))
}

/// An executor's share of the grouping: the (band, hash, document) rows of
/// rows `rows` of segment `i`, from its sidecar, numbered from `first`.
pub(super) fn band_rows(
    cx: &Context,
    plan: &Plan,
    i: usize,
    rows: &RoaringBitmap,
    first: u64,
    sources: &[u8],
) -> Result<Vec<(u32, u64, u32)>, RunError> {
    let keep_sigs = keep_sigs(plan);
    let params = sidecar::params(plan, keep_sigs);
    let bad = |why: String| RunError::Cluster {
        stage: cx.index + 1,
        name: cx.name.to_string(),
        message: format!("segment {i}'s band hashes: {why}"),
        hint: Some("run the same sift on the client and the executors".into()),
    };
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let json = sources
        .strip_prefix(SOURCES_MAGIC)
        .ok_or_else(|| bad("the sources are not sift's".into()))?;
    let v: serde_json::Value =
        serde_json::from_slice(json).map_err(|e| bad(format!("the sources do not read: {e}")))?;
    if v["params"].as_str() != Some(params.as_str()) {
        return Err(bad("they were made with other parameters".into()));
    }
    let id: ObjectId = v["sidecars"][i]
        .as_str()
        .ok_or_else(|| bad("no sidecar is named".into()))?
        .parse()
        .map_err(bad)?;
    let all = sidecar::decode(
        &cx.store.objects().get(&id)?,
        &params,
        plan,
        keep_sigs,
        i as u32,
    )
    .map_err(|e| bad(e.to_string()))?;
    if !rows.is_subset(&sidecar::rows_of(&all)) {
        return Err(bad("the sidecar lacks rows".into()));
    }
    let docs = sidecar::select(&all, rows, plan, keep_sigs);
    let mut out = Vec::with_capacity(docs.bands.len());
    for (k, hashes) in docs.bands.chunks_exact(plan.bands.max(1)).enumerate() {
        let doc = u32::try_from(first + k as u64).map_err(|_| bad("over 2^32 documents".into()))?;
        for (band, hash) in hashes.iter().enumerate() {
            out.push((band as u32, *hash, doc));
        }
    }
    Ok(out)
}
