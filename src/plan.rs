//! A validated pipeline: everything checked before any work is done.
//!
//! Validation resolves the source (expands the glob and infers the schema, or
//! resolves the version), compiles every expression against the source's
//! columns, and checks the output options. After it, nothing downstream
//! re-checks input, and nothing has been written.

use std::path::PathBuf;

use arrow::datatypes::SchemaRef;

use crate::source::{Format, Source};
use crate::spec::{self, OnError, Parsed, StageKind};
use crate::stage::balance::{BalancePlan, Strategy};
use crate::stage::dedup::{DedupPlan, Method};
use crate::stage::filter::{self, Rule};
use crate::store::Store;
use crate::version::{self, Version};

/// Default: compact a segment whose selection keeps under a quarter of its shard.
pub const DEFAULT_COMPACT_BELOW: f64 = 0.25;

/// Where the rows come from.
#[derive(Debug)]
pub enum PlanSource {
    Files {
        paths: Vec<PathBuf>,
        format: Option<Format>,
        schema: Option<SchemaRef>,
    },
    Version(Box<Version>),
}

/// A stage, ready to run.
#[derive(Debug)]
pub struct PlanStage {
    pub index: usize,
    pub name: String,
    pub kind: StageKind,
    /// Canonical JSON of the stage's parameters.
    pub spec: String,
    /// BLAKE3 of `spec` and sift's version.
    pub hash: String,
    pub rules: Vec<Rule>,
    pub on_error: OnError,
    /// For a dedup stage.
    pub dedup: Option<DedupPlan>,
    /// For a balance stage.
    pub balance: Option<BalancePlan>,
}

/// A validated pipeline.
#[derive(Debug)]
pub struct Plan {
    pub parsed: Parsed,
    /// The spec as canonical JSON, and its BLAKE3.
    pub canonical: String,
    pub hash: String,
    pub source: PlanSource,
    pub schema: SchemaRef,
    pub stages: Vec<PlanStage>,
    pub tag: Option<String>,
    pub message: Option<String>,
    pub shard_size: u64,
    pub compact_below: f64,
}

/// Validates a parsed spec against the store.
pub fn validate(store: &Store, parsed: Parsed) -> Result<Plan, spec::Error> {
    let p = &parsed.pipeline;
    let canonical = serde_json::to_string(p).expect("spec serializes");
    let hash = blake3::hash(canonical.as_bytes()).to_hex().to_string();

    let (source, schema) = match (&p.source.path, &p.source.version) {
        (Some(_), Some(_)) | (None, None) => {
            return Err(parsed.invalid(
                "source",
                "[source]",
                "give exactly one of `path` or `version`",
                Some("`path = \"data/*.jsonl\"` or `version = \"raw\"`".into()),
            ));
        }
        (Some(pattern), None) => {
            let full = parsed.dir().join(pattern);
            let mut paths: Vec<PathBuf> = glob::glob(&full.to_string_lossy())
                .map_err(|e| {
                    parsed.invalid("source.path", pattern, format!("bad glob: {e}"), None)
                })?
                .filter_map(Result::ok)
                .filter(|p| p.is_file())
                .collect();
            paths.sort();
            if paths.is_empty() {
                return Err(parsed.invalid(
                    "source.path",
                    pattern,
                    format!("no file matches {}", full.display()),
                    Some("paths are relative to the spec file's directory".into()),
                ));
            }
            let schema_file = match &p.source.schema {
                Some(s) => Some(
                    crate::source::read_schema_file(&parsed.dir().join(s))
                        .map_err(|e| parsed.invalid("source.schema", s, e.to_string(), e.hint()))?,
                ),
                None => None,
            };
            let src = Source::open(&paths, p.source.format, schema_file.clone())
                .map_err(|e| parsed.invalid("source.path", pattern, e.to_string(), e.hint()))?;
            let schema = src.schema();
            (
                PlanSource::Files {
                    paths,
                    format: p.source.format,
                    schema: schema_file,
                },
                schema,
            )
        }
        (None, Some(reference)) => {
            let v = version::resolve(store, reference).map_err(|e| {
                parsed.invalid("source.version", reference, e.to_string(), e.hint())
            })?;
            let schema = v.schema().map_err(|e| {
                parsed.invalid("source.version", reference, e.to_string(), e.hint())
            })?;
            if v.manifest.segments.iter().any(|s| s.repeats.is_some()) {
                return Err(parsed.invalid(
                    "source.version",
                    reference,
                    format!("version {} repeats rows (it was oversampled); pipelines read versions whose rows appear once", v.id.short()),
                    Some("run the pipeline on the oversampled version's source, or export it and import the export".into()),
                ));
            }
            (PlanSource::Version(Box::new(v)), schema)
        }
    };

    let mut stages = Vec::new();
    for (i, s) in p.stages.iter().enumerate() {
        let name = s
            .name
            .clone()
            .unwrap_or_else(|| format!("{}-{}", kind_name(s.kind), i + 1));
        let field = |f: &str| format!("stage {} ({name}), field `{f}`", i + 1);
        let needle = s.name.as_deref().unwrap_or("kind");
        check_fields(&parsed, s, &field)?;
        let (mut compiled, mut dedup, mut balance) = (Vec::new(), None, None);
        match s.kind {
            StageKind::Filter => {
                let mut rules: Vec<(String, String, bool)> = Vec::new();
                if let Some(w) = &s.where_ {
                    rules.push(("where".into(), w.clone(), true));
                }
                for (rname, expr) in &s.rules {
                    rules.push((rname.clone(), expr.clone(), false));
                }
                if rules.is_empty() {
                    return Err(parsed.invalid(
                        &field("where"),
                        needle,
                        "a filter needs `where` or `[stage.rules]`",
                        Some("e.g. where = \"word_count(text) >= 50\"".into()),
                    ));
                }
                compiled = filter::compile(&schema, &rules).map_err(|e| {
                    let f = if e.rule == "where" {
                        field("where")
                    } else {
                        field(&format!("rules.{}", e.rule))
                    };
                    parsed.invalid(&f, &e.expr, e.message, e.hint)
                })?;
            }
            StageKind::Dedup => {
                dedup = Some(dedup_plan(&parsed, s, &schema, &field, needle)?);
            }
            StageKind::Balance => {
                let plan = balance_plan(&parsed, s, &schema, &field, needle)?;
                if plan.strategy == Strategy::Oversample && i + 1 < p.stages.len() {
                    return Err(parsed.invalid(
                        &field("strategy"),
                        "oversample",
                        "an oversampling balance must be the last stage",
                        Some("later stages would see each repeated row once; move the other stages before it".into()),
                    ));
                }
                balance = Some(plan);
            }
        }
        let mut params = serde_json::to_value(s).expect("stage serializes");
        let obj = params.as_object_mut().expect("stage is an object");
        // Neither the name nor the device changes what a stage computes.
        obj.remove("name");
        obj.remove("device");
        let spec = serde_json::to_string(&params).expect("json");
        let hash = blake3::hash(format!("{spec}\nsift {}", env!("CARGO_PKG_VERSION")).as_bytes())
            .to_hex()
            .to_string();
        stages.push(PlanStage {
            index: i,
            name,
            kind: s.kind,
            spec,
            hash,
            rules: compiled,
            on_error: s.on_error,
            dedup,
            balance,
        });
    }

    let o = &p.output;
    if let Some(t) = &o.tag {
        crate::store::catalog::validate_tag(t)
            .map_err(|e| parsed.invalid("output.tag", t, e.to_string(), e.hint()))?;
    }
    let shard_size = match &o.shard_size {
        Some(s) => crate::cli::parse_size(s)
            .map_err(|e| parsed.invalid("output.shard_size", s, e, None))?,
        None => crate::store::shard::DEFAULT_SHARD_SIZE,
    };
    let compact_below = o.compact_below.unwrap_or(DEFAULT_COMPACT_BELOW);
    if !(0.0..=1.0).contains(&compact_below) {
        return Err(parsed.invalid(
            "output.compact_below",
            "compact_below",
            "must be between 0 and 1",
            None,
        ));
    }
    Ok(Plan {
        tag: o.tag.clone(),
        message: o.message.clone(),
        parsed,
        canonical,
        hash,
        source,
        schema,
        stages,
        shard_size,
        compact_below,
    })
}

pub fn kind_name(k: StageKind) -> &'static str {
    match k {
        StageKind::Filter => "filter",
        StageKind::Dedup => "dedup",
        StageKind::Balance => "balance",
    }
}

/// Refuses a field set on a stage kind it does not apply to.
fn check_fields(
    parsed: &Parsed,
    s: &spec::StageSpec,
    field: &dyn Fn(&str) -> String,
) -> Result<(), spec::Error> {
    use StageKind::{Balance, Dedup, Filter};
    let fields: [(&str, bool, &[StageKind]); 23] = [
        ("where", s.where_.is_some(), &[Filter]),
        ("rules", !s.rules.is_empty(), &[Filter]),
        ("on_error", s.on_error != OnError::Fail, &[Filter]),
        ("method", s.method.is_some(), &[Dedup]),
        ("column", s.column.is_some(), &[Dedup]),
        ("shingle", s.shingle.is_some(), &[Dedup]),
        ("ngram", s.ngram.is_some(), &[Dedup]),
        ("num_perm", s.num_perm.is_some(), &[Dedup]),
        ("bands", s.bands.is_some(), &[Dedup]),
        ("rows", s.rows.is_some(), &[Dedup]),
        ("threshold", s.threshold.is_some(), &[Dedup]),
        ("verify", s.verify.is_some(), &[Dedup]),
        ("keep", s.keep.is_some(), &[Dedup]),
        ("device", s.device.is_some(), &[Dedup]),
        ("seed", s.seed.is_some(), &[Dedup, Balance]),
        ("label", s.label.is_some(), &[Balance]),
        ("strategy", s.strategy.is_some(), &[Balance]),
        ("max_per_class", s.max_per_class.is_some(), &[Balance]),
        ("min_per_class", s.min_per_class.is_some(), &[Balance]),
        ("proportions", !s.proportions.is_empty(), &[Balance]),
        ("total", s.total.is_some(), &[Balance]),
        ("per_class", s.per_class.is_some(), &[Balance]),
        ("null_label", s.null_label.is_some(), &[Balance]),
    ];
    for (f, set, kinds) in fields {
        if set && !kinds.contains(&s.kind) {
            let owners: Vec<&str> = kinds.iter().map(|k| kind_name(*k)).collect();
            return Err(parsed.invalid(
                &field(f),
                f,
                format!(
                    "`{f}` belongs to {} stages, not {}",
                    owners.join(" and "),
                    kind_name(s.kind)
                ),
                None,
            ));
        }
    }
    Ok(())
}

/// Validates a balance stage against the source schema.
fn balance_plan(
    parsed: &Parsed,
    s: &spec::StageSpec,
    schema: &SchemaRef,
    field: &dyn Fn(&str) -> String,
    needle: &str,
) -> Result<BalancePlan, spec::Error> {
    let label = s.label.clone().ok_or_else(|| {
        parsed.invalid(
            &field("label"),
            needle,
            "a balance stage needs `label`",
            Some("a column, e.g. label = \"source\", or an expression".into()),
        )
    })?;
    let strategy = s.strategy.ok_or_else(|| {
        parsed.invalid(
            &field("strategy"),
            needle,
            "a balance stage needs `strategy`",
            Some("strategy = \"cap\", \"downsample\", \"proportions\" or \"oversample\"".into()),
        )
    })?;
    // A bare column name is quoted so that names SQL would fold or reject still work.
    let expr_text = if schema.field_with_name(&label).is_ok() {
        format!("\"{}\"", label.replace('"', "\"\""))
    } else {
        label.clone()
    };
    let (expr, dt) = filter::compile_expr(&filter::session(), schema, &expr_text)
        .map_err(|(m, h)| parsed.invalid(&field("label"), &label, m, h))?;
    if !crate::stage::balance::usable_label(&dt) {
        return Err(parsed.invalid(
            &field("label"),
            &label,
            format!("the label is {dt}; classes need a text, integer, boolean or date label"),
            Some("derive one, e.g. label = \"CAST(round(score) AS INT)\"".into()),
        ));
    }
    let wants = |f: &str, ok: bool| -> Result<(), spec::Error> {
        if ok {
            Ok(())
        } else {
            Err(parsed.invalid(
                &field(f),
                f,
                format!(
                    "`{f}` does not apply to strategy = \"{}\"",
                    serde_json::to_value(strategy)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default()
                ),
                None,
            ))
        }
    };
    wants(
        "max_per_class",
        s.max_per_class.is_none() || strategy == Strategy::Cap,
    )?;
    wants(
        "min_per_class",
        s.min_per_class.is_none() || strategy == Strategy::Downsample,
    )?;
    wants(
        "proportions",
        s.proportions.is_empty() || strategy == Strategy::Proportions,
    )?;
    wants(
        "total",
        s.total.is_none() || strategy == Strategy::Proportions,
    )?;
    wants(
        "per_class",
        s.per_class.is_none() || strategy == Strategy::Oversample,
    )?;
    if strategy == Strategy::Cap && s.max_per_class.is_none() {
        return Err(parsed.invalid(
            &field("max_per_class"),
            "cap",
            "strategy = \"cap\" needs `max_per_class`",
            Some("e.g. max_per_class = 1000".into()),
        ));
    }
    if strategy == Strategy::Proportions {
        if s.proportions.is_empty() {
            return Err(parsed.invalid(
                &field("proportions"),
                "proportions",
                "strategy = \"proportions\" needs `proportions`",
                Some("e.g. proportions = { web = 0.7, books = 0.3 }".into()),
            ));
        }
        if let Some((c, f)) = s
            .proportions
            .iter()
            .find(|(_, f)| !(**f > 0.0 && **f <= 1.0))
        {
            return Err(parsed.invalid(
                &field(&format!("proportions.{c}")),
                c,
                format!("a fraction must be in (0, 1], got {f}"),
                None,
            ));
        }
        let sum: f64 = s.proportions.values().sum();
        if (sum - 1.0).abs() > 1e-6 {
            return Err(parsed.invalid(
                &field("proportions"),
                "proportions",
                format!("the fractions sum to {sum}, not 1"),
                None,
            ));
        }
    }
    Ok(BalancePlan {
        label,
        expr,
        strategy,
        max_per_class: s.max_per_class,
        min_per_class: s.min_per_class,
        proportions: s.proportions.clone(),
        total: s.total,
        per_class: s.per_class,
        null_label: s.null_label.unwrap_or_default(),
        seed: s.seed.unwrap_or(1),
    })
}

/// With `verify = "exact"`, LSH bands are chosen for this fraction of the threshold.
pub const EXACT_VERIFY_LSH_FACTOR: f64 = 0.75;

/// Validates a dedup stage's parameters against the source schema.
fn dedup_plan(
    parsed: &Parsed,
    s: &spec::StageSpec,
    schema: &SchemaRef,
    field: &dyn Fn(&str) -> String,
    needle: &str,
) -> Result<DedupPlan, spec::Error> {
    let method = s.method.ok_or_else(|| {
        parsed.invalid(
            &field("method"),
            needle,
            "a dedup stage needs `method`",
            Some("method = \"exact\" or method = \"minhash\"".into()),
        )
    })?;
    let column = s.column.clone().unwrap_or_else(|| "text".into());
    let columns: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    match schema.field_with_name(&column) {
        Err(_) => {
            return Err(parsed.invalid(
                &field("column"),
                s.column.as_deref().unwrap_or(needle),
                format!("the source has no column '{column}'"),
                Some(format!("the source's columns are: {}", columns.join(", "))),
            ));
        }
        Ok(f)
            if !matches!(
                f.data_type(),
                arrow::datatypes::DataType::Utf8
                    | arrow::datatypes::DataType::LargeUtf8
                    | arrow::datatypes::DataType::Utf8View
            ) =>
        {
            return Err(parsed.invalid(
                &field("column"),
                s.column.as_deref().unwrap_or(needle),
                format!("column '{column}' is {}, not text", f.data_type()),
                Some("dedup reads a string column".into()),
            ));
        }
        Ok(_) => {}
    }
    let ngram = s.ngram.unwrap_or(5);
    if ngram == 0 {
        return Err(parsed.invalid(&field("ngram"), "ngram", "ngram must be at least 1", None));
    }
    let num_perm = s.num_perm.unwrap_or(128);
    if !(1..=4096).contains(&num_perm) {
        return Err(parsed.invalid(
            &field("num_perm"),
            "num_perm",
            "num_perm must be between 1 and 4096",
            None,
        ));
    }
    let threshold = s.threshold.unwrap_or(0.8);
    if !(threshold > 0.0 && threshold < 1.0) {
        return Err(parsed.invalid(
            &field("threshold"),
            "threshold",
            format!("threshold must be in (0, 1), got {threshold}"),
            None,
        ));
    }
    let (bands, rows) = match (s.bands, s.rows) {
        (Some(b), Some(r)) if b * r == num_perm && b > 0 => (b, r),
        (Some(b), Some(r)) => {
            return Err(parsed.invalid(
                &field("bands"),
                "bands",
                format!("bands × rows must equal num_perm: {b} × {r} ≠ {num_perm}"),
                Some("or omit both and give `threshold`".into()),
            ));
        }
        // With exact verification, false candidates cost only a re-read, so the
        // bands are chosen for a lower threshold: more true pairs become candidates.
        (None, None) if s.verify.unwrap_or_default() == crate::stage::dedup::Verify::Exact => {
            crate::stage::dedup::minhash::optimal_params(
                threshold * EXACT_VERIFY_LSH_FACTOR,
                num_perm,
            )
        }
        (None, None) => crate::stage::dedup::minhash::optimal_params(threshold, num_perm),
        _ => {
            return Err(parsed.invalid(
                &field("bands"),
                if s.bands.is_some() { "bands" } else { "rows" },
                "give both `bands` and `rows`, or neither",
                None,
            ));
        }
    };
    if method == Method::Exact && (s.bands.is_some() || s.shingle.is_some() || s.verify.is_some()) {
        return Err(parsed.invalid(
            &field("method"),
            "exact",
            "shingles, bands and verify apply to method = \"minhash\"",
            None,
        ));
    }
    let keep = s.keep.clone().unwrap_or_default();
    if let crate::stage::dedup::Keep::Score(k) = &keep {
        match schema.field_with_name(&k.by) {
            Err(_) => {
                return Err(parsed.invalid(
                    &field("keep.by"),
                    &k.by,
                    format!("the source has no column '{}'", k.by),
                    Some(format!("the source's columns are: {}", columns.join(", "))),
                ));
            }
            Ok(f) if !f.data_type().is_numeric() => {
                return Err(parsed.invalid(
                    &field("keep.by"),
                    &k.by,
                    format!("column '{}' is {}, not a number", k.by, f.data_type()),
                    Some("keep by a numeric score column, or use \"first\" or \"longest\"".into()),
                ));
            }
            Ok(_) => {}
        }
    }
    Ok(DedupPlan {
        method,
        column,
        shingle: s.shingle.unwrap_or_default(),
        ngram,
        num_perm,
        bands,
        rows,
        threshold,
        verify: s.verify.unwrap_or_default(),
        seed: s.seed.unwrap_or(1),
        keep,
        device: s.device.unwrap_or_default(),
    })
}
