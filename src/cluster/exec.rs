//! The plan node a cluster runs for a stage, and the codec that ships it.
//!
//! `StageExec` is a leaf with one partition per segment of the stage's input;
//! partition `i` runs [`StageTask::run`] on segment `i` and yields one row:
//! (segment, the rows it kept as a serialized Roaring bitmap, its removals
//! per rule as JSON). Ballista's stock codec does not know the node, so
//! sift's scheduler, executors and client all carry [`Codec`], which
//! encodes it as the task's JSON behind a tag and hands everything else to
//! Ballista's own.

use std::path::PathBuf;
use std::sync::Arc;

use arrow::array::{
    Array, AsArray, BinaryArray, RecordBatch, StringArray, UInt32Array, UInt64Array,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, UInt32Type, UInt64Type};
use ballista_core::serde::BallistaPhysicalExtensionCodec;
use datafusion::common::{DataFusionError, Result};
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::{AggregateUDF, ScalarUDF, WindowUDF};
use datafusion::physical_expr::EquivalenceProperties;
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties,
};
use datafusion_proto::physical_plan::{PhysicalExtensionCodec, PhysicalProtoConverterExtension};
use futures::TryStreamExt;
use roaring::RoaringBitmap;

use crate::pipeline::task::{Mode, Output, StageTask, TaskError};
use crate::stage::Part;

/// What marks a sift node in a serialized plan.
const TAG: &[u8] = b"sift-stage-task\n";
const BUCKETS_TAG: &[u8] = b"sift-buckets\n";

/// Runs a stage on the segments its input names: a partition per segment.
/// The input is a memory scan of segment numbers, which Ballista knows how
/// to cut into each task's share (a custom leaf would run whole in every task).
#[derive(Debug)]
pub struct StageExec {
    pub task: StageTask,
    input: Arc<dyn ExecutionPlan>,
    /// The executor's own path to the store, if it differs from the client's.
    store: Option<PathBuf>,
    /// The sift version this process runs (see [`StageTask::check_version`]).
    version: String,
    properties: Arc<PlanProperties>,
}

impl StageExec {
    /// The plan for `task`: its segments as partitions.
    pub fn plan(task: StageTask, version: String) -> Result<Arc<StageExec>> {
        let numbers = Arc::new(Schema::new(vec![Field::new(
            "segment",
            DataType::UInt32,
            false,
        )]));
        let segments: Vec<u32> = match &task.only {
            Some(only) => only.clone(),
            None => (0..task.segments as u32).collect(),
        };
        let partitions = segments
            .into_iter()
            .map(|s| {
                RecordBatch::try_new(numbers.clone(), vec![Arc::new(UInt32Array::from(vec![s]))])
                    .map(|b| vec![b])
            })
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let input: Arc<dyn ExecutionPlan> =
            MemorySourceConfig::try_new_exec(&partitions, numbers, None)?;
        Ok(Arc::new(StageExec::new(task, input, None, version)))
    }

    fn new(
        task: StageTask,
        input: Arc<dyn ExecutionPlan>,
        store: Option<PathBuf>,
        version: String,
    ) -> StageExec {
        let properties = PlanProperties::new(
            EquivalenceProperties::new(schema(task.mode)),
            Partitioning::UnknownPartitioning(
                input.properties().output_partitioning().partition_count(),
            ),
            EmissionType::Incremental,
            Boundedness::Bounded,
        );
        StageExec {
            task,
            input,
            store,
            version,
            properties: Arc::new(properties),
        }
    }
}

/// The one input of a unary node.
fn one_input<'a>(
    name: &str,
    children: &'a [Arc<dyn ExecutionPlan>],
) -> Result<&'a Arc<dyn ExecutionPlan>> {
    match children {
        [input] => Ok(input),
        _ => Err(DataFusionError::Internal(format!(
            "{name} takes one input, not {}",
            children.len()
        ))),
    }
}

/// The columns a [`StageExec`] partition yields: (segment, part, parts,
/// data, meta), a segment's data cut in parts of at most [`PART_BYTES`] and
/// its [`Part`] as JSON (removals and counts; the kept rows are the data),
/// or for band rows (band, hash, doc), in batches of at most [`BATCH_ROWS`].
/// Small batches: Arrow Flight refuses a message over 16 MiB, and a
/// segment's band sidecar is tens of MB.
pub fn schema(mode: Mode) -> SchemaRef {
    Arc::new(match mode {
        Mode::Bands => Schema::new(vec![
            Field::new("band", DataType::UInt32, false),
            Field::new("hash", DataType::UInt64, false),
            Field::new("doc", DataType::UInt32, false),
        ]),
        Mode::Run | Mode::Prepare => Schema::new(vec![
            Field::new("segment", DataType::UInt32, false),
            Field::new("part", DataType::UInt32, false),
            Field::new("parts", DataType::UInt32, false),
            Field::new("data", DataType::Binary, false),
            Field::new("meta", DataType::Utf8, false),
        ]),
    })
}

impl DisplayAs for StageExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(
            f,
            "SiftStageExec: stage {} ({}, {}), {} segments",
            self.task.index + 1,
            self.task.name,
            self.task.kind,
            self.task.segments
        )
    }
}

impl ExecutionPlan for StageExec {
    fn name(&self) -> &str {
        "SiftStageExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(
            &Arc<dyn datafusion::physical_expr::PhysicalExpr>,
        ) -> Result<datafusion::common::tree_node::TreeNodeRecursion>,
    ) -> Result<datafusion::common::tree_node::TreeNodeRecursion> {
        Ok(datafusion::common::tree_node::TreeNodeRecursion::Continue)
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![true]
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let input = one_input("SiftStageExec", &children)?;
        Ok(Arc::new(StageExec::new(
            self.task.clone(),
            input.clone(),
            self.store.clone(),
            self.version.clone(),
        )))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let input = self.input.execute(partition, context)?;
        let task = Arc::new(self.task.clone());
        let store = self.store.clone();
        let version = self.version.clone();
        let out = schema(self.task.mode);
        let stream = {
            let out = out.clone();
            input
                .and_then(move |numbers| {
                    let (task, store, version, out) =
                        (task.clone(), store.clone(), version.clone(), out.clone());
                    async move {
                        let segments: Vec<u32> = numbers
                            .column(0)
                            .as_primitive_opt::<UInt32Type>()
                            .map(|a| a.values().to_vec())
                            .unwrap_or_default();
                        let parts = tokio::task::spawn_blocking(move || {
                            task.check_version(&version)?;
                            segments
                                .into_iter()
                                .map(|s| Ok((s, task.run(store.as_deref(), s as usize, 1)?)))
                                .collect::<std::result::Result<Vec<_>, TaskError>>()
                        })
                        .await
                        .map_err(|e| DataFusionError::Execution(format!("the task panicked: {e}")))?
                        .map_err(|e| DataFusionError::Execution(encode_error(&e)))?;
                        parts_batches(&out, &parts)
                    }
                })
                .map_ok(|batches| futures::stream::iter(batches.into_iter().map(Ok)))
                .try_flatten()
        };
        Ok(Box::pin(RecordBatchStreamAdapter::new(out, stream)))
    }
}

/// Candidate pairs from band rows: after the engine's shuffle has put each
/// (band, hash) in one partition, a partition's rows give its buckets' pairs
/// by dedup's own rule ([`crate::stage::dedup::bucket_pairs`]).
#[derive(Debug)]
pub struct BucketsExec {
    input: Arc<dyn ExecutionPlan>,
    properties: Arc<PlanProperties>,
}

impl BucketsExec {
    pub fn new(input: Arc<dyn ExecutionPlan>) -> BucketsExec {
        let properties = PlanProperties::new(
            EquivalenceProperties::new(pairs_schema()),
            Partitioning::UnknownPartitioning(
                input.properties().output_partitioning().partition_count(),
            ),
            EmissionType::Final,
            Boundedness::Bounded,
        );
        BucketsExec {
            input,
            properties: Arc::new(properties),
        }
    }
}

fn pairs_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("doc", DataType::UInt32, false),
        Field::new("rep", DataType::UInt32, false),
    ]))
}

impl DisplayAs for BucketsExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "SiftBucketsExec")
    }
}

impl ExecutionPlan for BucketsExec {
    fn name(&self) -> &str {
        "SiftBucketsExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(
            &Arc<dyn datafusion::physical_expr::PhysicalExpr>,
        ) -> Result<datafusion::common::tree_node::TreeNodeRecursion>,
    ) -> Result<datafusion::common::tree_node::TreeNodeRecursion> {
        Ok(datafusion::common::tree_node::TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let input = one_input("SiftBucketsExec", &children)?;
        Ok(Arc::new(BucketsExec::new(input.clone())))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let input = self.input.execute(partition, context)?;
        let out = pairs_schema();
        let fut = {
            let out = out.clone();
            async move {
                let batches: Vec<RecordBatch> = input.try_collect().await?;
                tokio::task::spawn_blocking(move || pairs_of_bands(&out, &batches))
                    .await
                    .map_err(|e| DataFusionError::Execution(format!("the task panicked: {e}")))?
            }
        };
        let stream = futures::stream::once(fut)
            .map_ok(|batches| futures::stream::iter(batches.into_iter().map(Ok)))
            .try_flatten();
        Ok(Box::pin(RecordBatchStreamAdapter::new(out, stream)))
    }
}

/// (doc, rep) of every bucket of `batches`' (band, hash, doc) rows.
fn pairs_of_bands(schema: &SchemaRef, batches: &[RecordBatch]) -> Result<Vec<RecordBatch>> {
    let mut rows = Vec::new();
    for b in batches {
        let (Some(band), Some(hash), Some(doc)) = (
            b.column(0).as_primitive_opt::<UInt32Type>(),
            b.column(1).as_primitive_opt::<UInt64Type>(),
            b.column(2).as_primitive_opt::<UInt32Type>(),
        ) else {
            return Err(DataFusionError::Internal(format!(
                "band rows have the columns {:?}",
                b.schema()
            )));
        };
        rows.extend((0..b.num_rows()).map(|r| (band.value(r), hash.value(r), doc.value(r))));
    }
    crate::stage::dedup::bucket_pairs(rows)
        .chunks(BATCH_ROWS)
        .map(|pairs| {
            Ok(RecordBatch::try_new(
                schema.clone(),
                vec![
                    Arc::new(UInt32Array::from_iter_values(pairs.iter().map(|p| p.0))),
                    Arc::new(UInt32Array::from_iter_values(pairs.iter().map(|p| p.1))),
                ],
            )?)
        })
        .collect()
}

/// The candidate pairs in `batches` (from [`BucketsExec`]).
pub fn pairs_of(batches: &[RecordBatch]) -> Result<Vec<(u32, u32)>, String> {
    let mut out = Vec::new();
    for b in batches {
        let (Some(doc), Some(rep)) = (
            b.column(0).as_primitive_opt::<UInt32Type>(),
            b.column(1).as_primitive_opt::<UInt32Type>(),
        ) else {
            return Err(format!("a result has the columns {:?}", b.schema()));
        };
        out.extend(
            doc.values()
                .iter()
                .copied()
                .zip(rep.values().iter().copied()),
        );
    }
    Ok(out)
}

/// Bytes of a segment's data per row (and batch) of results.
pub const PART_BYTES: usize = 4 << 20;
/// Rows per batch of band rows and candidate pairs.
pub const BATCH_ROWS: usize = 1 << 16;

fn parts_batches(schema: &SchemaRef, parts: &[(u32, Output)]) -> Result<Vec<RecordBatch>> {
    let mut out = Vec::new();
    if schema.field(0).name() == "band" {
        let rows: Vec<(u32, u64, u32)> = parts
            .iter()
            .flat_map(|(_, o)| match o {
                Output::Bands(rows) => rows.as_slice(),
                _ => &[],
            })
            .copied()
            .collect();
        for chunk in rows.chunks(BATCH_ROWS) {
            out.push(RecordBatch::try_new(
                schema.clone(),
                vec![
                    Arc::new(UInt32Array::from_iter_values(chunk.iter().map(|r| r.0))),
                    Arc::new(UInt64Array::from_iter_values(chunk.iter().map(|r| r.1))),
                    Arc::new(UInt32Array::from_iter_values(chunk.iter().map(|r| r.2))),
                ],
            )?);
        }
        return Ok(out);
    }
    for (segment, o) in parts {
        let (data, meta) = match o {
            Output::Part(p) => {
                let mut bytes = Vec::with_capacity(p.kept.serialized_size());
                p.kept
                    .serialize_into(&mut bytes)
                    .map_err(|e| DataFusionError::Execution(e.to_string()))?;
                let meta = serde_json::to_string(p).expect("counts serialize");
                (bytes, meta)
            }
            Output::Prepared(bytes) => (bytes.clone(), String::new()),
            Output::Bands(_) => {
                return Err(DataFusionError::Internal(
                    "band rows where parts were expected".into(),
                ));
            }
        };
        let pieces: Vec<&[u8]> = if data.is_empty() {
            vec![&[]]
        } else {
            data.chunks(PART_BYTES).collect()
        };
        let n = pieces.len() as u32;
        for (k, piece) in pieces.into_iter().enumerate() {
            out.push(RecordBatch::try_new(
                schema.clone(),
                vec![
                    Arc::new(UInt32Array::from(vec![*segment])),
                    Arc::new(UInt32Array::from(vec![k as u32])),
                    Arc::new(UInt32Array::from(vec![n])),
                    Arc::new(BinaryArray::from(vec![piece])),
                    Arc::new(StringArray::from(vec![if k == 0 {
                        meta.as_str()
                    } else {
                        ""
                    }])),
                ],
            )?);
        }
    }
    Ok(out)
}

/// The parts in `batches` (from [`StageExec`]), in segment order; an error if
/// a segment is missing or came twice.
pub fn parts_of(batches: &[RecordBatch], segments: usize) -> Result<Vec<Part>, String> {
    let mut parts: Vec<Option<Part>> = vec![None; segments];
    for (s, data, meta) in rows_of(batches)? {
        let slot = parts
            .get_mut(s)
            .ok_or_else(|| format!("a result names segment {s} of {segments}"))?;
        if slot.is_some() {
            return Err(format!("segment {s} came back twice"));
        }
        let mut part: Part =
            serde_json::from_str(&meta).map_err(|e| format!("segment {s}: {e}"))?;
        part.kept = RoaringBitmap::deserialize_from(data.as_slice())
            .map_err(|e| format!("segment {s}: {e}"))?;
        *slot = Some(part);
    }
    parts
        .into_iter()
        .enumerate()
        .map(|(s, p)| p.ok_or_else(|| format!("segment {s} did not come back")))
        .collect()
}

/// The first passes in `batches` (from a prepare task), by segment in order;
/// an error unless each of `only` came back once.
pub fn prepared_of(batches: &[RecordBatch], only: &[u32]) -> Result<Vec<(usize, Vec<u8>)>, String> {
    let mut out: Vec<(usize, Vec<u8>)> = rows_of(batches)?
        .into_iter()
        .map(|(s, data, _)| (s, data))
        .collect();
    out.sort_by_key(|(s, _)| *s);
    let got: Vec<u32> = out.iter().map(|(s, _)| *s as u32).collect();
    let mut want = only.to_vec();
    want.sort_unstable();
    if got != want {
        return Err(format!(
            "the segments that came back ({}) are not those sent ({})",
            got.len(),
            want.len()
        ));
    }
    Ok(out)
}

/// A segment's result as it comes: its part count, the parts so far, and its meta.
type Pieces = (u32, Vec<Option<Vec<u8>>>, String);

/// (segment, data, meta) of each segment in `batches`, its parts joined.
fn rows_of(batches: &[RecordBatch]) -> Result<Vec<(usize, Vec<u8>, String)>, String> {
    let mut by_segment: std::collections::BTreeMap<usize, Pieces> = Default::default();
    for b in batches {
        let (Some(seg), Some(part), Some(parts), Some(data), Some(meta)) = (
            b.column(0).as_primitive_opt::<UInt32Type>(),
            b.column(1).as_primitive_opt::<UInt32Type>(),
            b.column(2).as_primitive_opt::<UInt32Type>(),
            b.column(3).as_binary_opt::<i32>(),
            b.column(4).as_string_opt::<i32>(),
        ) else {
            return Err(format!("a result has the columns {:?}", b.schema()));
        };
        for r in 0..b.num_rows() {
            let (s, k, n) = (seg.value(r) as usize, part.value(r), parts.value(r));
            if data.is_null(r) || meta.is_null(r) || k >= n {
                return Err(format!("segment {s}'s result is damaged"));
            }
            let entry = by_segment
                .entry(s)
                .or_insert_with(|| (n, vec![None; n as usize], String::new()));
            let slot = entry
                .1
                .get_mut(k as usize)
                .filter(|p| p.is_none() && entry.0 == n)
                .ok_or_else(|| format!("segment {s} came back twice"))?;
            *slot = Some(data.value(r).to_vec());
            if k == 0 {
                entry.2 = meta.value(r).to_string();
            }
        }
    }
    by_segment
        .into_iter()
        .map(|(s, (_, pieces, meta))| {
            let mut data = Vec::new();
            for p in pieces {
                data.extend(p.ok_or_else(|| format!("part of segment {s} did not come back"))?);
            }
            Ok((s, data, meta))
        })
        .collect()
}

const ERROR_START: &str = "⟦sift-task-error ";
const ERROR_END: &str = " sift-task-error⟧";

/// A task error inside a DataFusion error's text, so that the client can
/// find it in whatever Ballista wraps it in.
fn encode_error(e: &TaskError) -> String {
    let json = serde_json::json!({ "message": e.message, "hint": e.hint });
    format!("{ERROR_START}{json}{ERROR_END}")
}

#[cfg(test)]
pub fn encode_error_for_test(e: &TaskError) -> String {
    encode_error(e)
}

/// The task error a failed job's message carries, if any.
pub fn decode_error(text: &str) -> Option<TaskError> {
    let at = text.find(ERROR_START)? + ERROR_START.len();
    let end = at + text[at..].find(ERROR_END)?;
    // Ballista may escape the text it passes on, as Debug does.
    let raw = &text[at..end];
    let v: serde_json::Value = serde_json::from_str(raw)
        .or_else(|_| serde_json::from_str(&raw.replace("\\\"", "\"").replace("\\\\", "\\")))
        .ok()?;
    Some(TaskError {
        message: v.get("message")?.as_str()?.to_string(),
        hint: v.get("hint").and_then(|h| h.as_str()).map(str::to_owned),
    })
}

/// Ballista's codec, plus sift's [`StageExec`].
#[derive(Debug)]
pub struct Codec {
    inner: BallistaPhysicalExtensionCodec,
    /// The path to the store that decoded nodes read (an executor's `--store`).
    store: Option<PathBuf>,
    /// The sift version decoded nodes check tasks against.
    version: String,
}

impl Codec {
    pub fn new(store: Option<PathBuf>, version: String) -> Codec {
        Codec {
            inner: BallistaPhysicalExtensionCodec::default(),
            store,
            version,
        }
    }
}

impl PhysicalExtensionCodec for Codec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[Arc<dyn ExecutionPlan>],
        ctx: &TaskContext,
        proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        match buf.strip_prefix(TAG) {
            Some(json) => {
                let task = StageTask::decode(json)
                    .map_err(|e| DataFusionError::Execution(encode_error(&e)))?;
                let input = one_input("SiftStageExec", inputs)?;
                Ok(Arc::new(StageExec::new(
                    task,
                    input.clone(),
                    self.store.clone(),
                    self.version.clone(),
                )))
            }
            None if buf == BUCKETS_TAG => {
                let input = one_input("SiftBucketsExec", inputs)?;
                Ok(Arc::new(BucketsExec::new(input.clone())))
            }
            None => self.inner.try_decode(buf, inputs, ctx, proto_converter),
        }
    }

    fn try_encode(
        &self,
        node: Arc<dyn ExecutionPlan>,
        buf: &mut Vec<u8>,
        proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<()> {
        match node.downcast_ref::<StageExec>() {
            Some(exec) => {
                buf.extend_from_slice(TAG);
                buf.extend_from_slice(&exec.task.encode());
                Ok(())
            }
            None if node.downcast_ref::<BucketsExec>().is_some() => {
                buf.extend_from_slice(BUCKETS_TAG);
                Ok(())
            }
            None => self.inner.try_encode(node, buf, proto_converter),
        }
    }

    fn try_decode_udf(&self, name: &str, buf: &[u8]) -> Result<Arc<ScalarUDF>> {
        self.inner.try_decode_udf(name, buf)
    }

    fn try_encode_udf(&self, node: &ScalarUDF, buf: &mut Vec<u8>) -> Result<()> {
        self.inner.try_encode_udf(node, buf)
    }

    fn try_decode_udaf(&self, name: &str, buf: &[u8]) -> Result<Arc<AggregateUDF>> {
        self.inner.try_decode_udaf(name, buf)
    }

    fn try_encode_udaf(&self, node: &AggregateUDF, buf: &mut Vec<u8>) -> Result<()> {
        self.inner.try_encode_udaf(node, buf)
    }

    fn try_decode_udwf(&self, name: &str, buf: &[u8]) -> Result<Arc<WindowUDF>> {
        self.inner.try_decode_udwf(name, buf)
    }

    fn try_encode_udwf(&self, node: &WindowUDF, buf: &mut Vec<u8>) -> Result<()> {
        self.inner.try_encode_udwf(node, buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_segments_data_comes_back_whole_in_parts_of_at_most_part_bytes() {
        let big: Vec<u8> = (0..PART_BYTES * 2 + 123)
            .map(|i| (i * 7 % 251) as u8)
            .collect();
        let prepared = [
            (3u32, Output::Prepared(big.clone())),
            (5, Output::Prepared(vec![])),
        ];
        let batches = parts_batches(&schema(Mode::Prepare), &prepared).unwrap();
        assert_eq!(batches.len(), 4, "three parts and an empty one");
        assert!(
            batches
                .iter()
                .all(|b| b.get_array_memory_size() < PART_BYTES + (1 << 20))
        );
        // Parts may come in any order.
        let mut shuffled = batches.clone();
        shuffled.reverse();
        assert_eq!(
            prepared_of(&shuffled, &[5, 3]).unwrap(),
            vec![(3, big), (5, vec![])]
        );
        // A part twice or a part missing is an error, not a wrong result.
        let twice = [batches.clone(), vec![batches[1].clone()]].concat();
        assert!(prepared_of(&twice, &[3, 5]).unwrap_err().contains("twice"));
        assert!(
            prepared_of(&batches[1..], &[3, 5])
                .unwrap_err()
                .contains("did not come back")
        );

        let mut kept = RoaringBitmap::new();
        kept.insert_range(0..100_000);
        let part = Part {
            kept,
            removed: [("short".to_string(), 7u64)].into_iter().collect(),
            counts: [("en".to_string(), (3u64, 2u64))].into_iter().collect(),
        };
        let batches =
            parts_batches(&schema(Mode::Run), &[(0, Output::Part(part.clone()))]).unwrap();
        assert_eq!(parts_of(&batches, 1).unwrap(), vec![part]);
        assert!(
            parts_of(&batches, 2)
                .unwrap_err()
                .contains("segment 1 did not come back")
        );
    }

    #[test]
    fn band_rows_and_pairs_come_in_batches_of_at_most_batch_rows() {
        let rows: Vec<(u32, u64, u32)> = (0..BATCH_ROWS as u32 * 2 + 5)
            .map(|d| (d % 3, u64::from(d / 6), d))
            .collect();
        let batches = parts_batches(&schema(Mode::Bands), &[(0, Output::Bands(rows))]).unwrap();
        assert_eq!(batches.len(), 3);
        let pairs = pairs_of_bands(&pairs_schema(), &batches).unwrap();
        assert!(pairs.iter().all(|b| b.num_rows() <= BATCH_ROWS));
        let pairs = pairs_of(&pairs).unwrap();
        // Buckets (band, hash) of two documents, d and d + 3: (d + 3, d).
        assert!(!pairs.is_empty());
        assert!(
            pairs.iter().all(|&(doc, rep)| doc == rep + 3),
            "{:?}",
            &pairs[..4]
        );
    }
}
