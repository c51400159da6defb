use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::printer::{Printer, say, say_raw};
use indicatif::{ProgressBar, ProgressStyle};

use super::{Global, ui};
use crate::pipeline::{self, RunOptions, RunSummary};
use crate::stage;
use crate::version::StageStats;

pub const EXAMPLES: &str = "\
Examples:
  sift run pipelines/web_quality.toml
  sift run pipelines/web_quality.toml --tag web-v2 -m \"tighter filters\"
  sift run pipeline.yaml --json
  sift run pipelines/web_quality.toml --report web-quality.html
  # dedup a corpus larger than memory: sort on disk past 2 GiB
  sift run pipelines/filter_dedup.toml --memory 2GiB
  # try the stages on a seeded sample of 2,000 rows; commit nothing
  sift run pipelines/web_quality.toml --dry-run --sample 2000";

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Pipeline spec (.toml, .yaml or .yml).
    pub spec: PathBuf,
    /// Tag the result (in addition to the spec's output.tag).
    #[arg(long, value_name = "NAME")]
    pub tag: Vec<String>,
    /// Message recorded in the version (instead of the spec's).
    #[arg(short, long)]
    pub message: Option<String>,
    /// Where dedup stages compute MinHash (overrides each stage's `device`); the result is the same.
    #[arg(long, value_enum, value_name = "auto|cpu|gpu")]
    pub device: Option<crate::gpu::DeviceChoice>,
    /// Memory dedup stages may hold beyond the rows they stream (e.g. 4GiB);
    /// past it they sort on disk under the store's tmp/. Default: half of
    /// the machine's memory. The result does not depend on it.
    #[arg(long, value_name = "SIZE")]
    pub memory: Option<crate::size::ByteSize>,
    /// Run the stages on a seeded sample of the source (see --sample) and print
    /// what they did; nothing is committed and the store gains nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Rows in the dry run's sample (default 10,000).
    #[arg(long, value_name = "N", requires = "dry_run")]
    pub sample: Option<u64>,
    /// Seed of the dry run's sample: the same seed draws the same rows.
    #[arg(long, value_name = "S", default_value_t = 1, requires = "dry_run")]
    pub seed: u64,
    /// Also write the report of the version made (`sift report`) to this HTML file.
    #[arg(long, value_name = "FILE", conflicts_with = "dry_run")]
    pub report: Option<PathBuf>,
    /// Run the stages that judge rows one at a time (filter, language),
    /// dedup's hashing and grouping and balance's ranking on a cluster's
    /// executors (`sift cluster`); the rest runs here. The result is the same.
    #[arg(long, value_name = "df://HOST:PORT", conflicts_with = "dry_run")]
    pub cluster: Option<String>,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// A progress bar per stage on stderr, when it is a terminal.
struct StageBars {
    tty: bool,
    bar: std::sync::Mutex<Option<ProgressBar>>,
}

impl stage::Observer for StageBars {
    fn stage_started(&self, name: &str, rows_in: u64) {
        if !self.tty {
            return;
        }
        let bar = ProgressBar::new(rows_in);
        bar.set_style(
            ProgressStyle::with_template(
                "{msg:>12} [{bar:30}] {human_pos}/{human_len} rows {rows_per_sec} eta {eta}",
            )
            .expect("valid template")
            .with_key("rows_per_sec", ui::rows_per_sec)
            .progress_chars("=> "),
        );
        bar.set_message(name.to_string());
        *self.bar.lock().expect("lock") = Some(bar);
    }

    fn rows_done(&self, rows: u64) {
        if let Some(b) = self.bar.lock().expect("lock").as_ref() {
            b.inc(rows);
        }
    }

    fn stage_finished(&self, r: &crate::version::manifest::StageRecord) {
        if let Some(b) = self.bar.lock().expect("lock").take() {
            b.finish_and_clear();
            let how = if r.cached {
                "cached".to_string()
            } else {
                format!("{:.1}s", r.seconds)
            };
            eprintln!(
                "{:>12} {} → {} rows ({how})",
                r.name,
                ui::count(r.rows_in),
                ui::count(r.rows_out)
            );
        }
    }
}

pub fn run(g: &Global, a: RunArgs) -> anyhow::Result<ExitCode> {
    let pr = Printer::new(a.json);
    let store = g.open_store()?;
    for t in &a.tag {
        crate::store::catalog::validate_tag(t)?;
    }
    let parsed = crate::spec::parse_file(&a.spec)?;
    let plan = crate::plan::validate(&store, parsed)?;
    // Fail now, before anything is written, if another process holds the store.
    drop(store.catalog()?);
    let opts = RunOptions {
        threads: g.threads(),
        tags: a.tag.clone(),
        message: a.message.clone(),
        device: a.device,
        memory: a.memory.map(|m| m.0),
        remote: remote(a.cluster.as_deref())?,
    };
    let bars = StageBars {
        tty: std::io::stderr().is_terminal() && !a.json,
        bar: std::sync::Mutex::new(None),
    };
    if a.dry_run {
        let sample = a.sample.unwrap_or(10_000);
        let d = pipeline::dry_run(&store, &plan, &opts, sample, a.seed, &bars)?;
        pr.emit(&d, |d| {
            format!(
                "{}\ndry run on a seeded sample of {} of {} source rows (seed {}): {} rows kept; nothing was committed\n",
                stage_report(&d.stages),
                ui::count(d.sampled),
                ui::count(d.source_rows),
                d.seed,
                ui::count(d.rows)
            )
        })?;
        return Ok(ExitCode::SUCCESS);
    }
    let ran = pipeline::run(&store, &plan, &opts, &bars)?;
    let v = &ran.version;
    let summary = RunSummary::of_run(&ran).expect("a run records its pipeline");
    if let Some(path) = &a.report {
        let name = plan
            .tag
            .clone()
            .or_else(|| a.tag.first().cloned())
            .unwrap_or_else(|| v.id.short());
        super::report::write(&store, v, &name, path, g.threads())?;
    }
    if pr.is_json() {
        pr.json(&summary)?;
        return Ok(ExitCode::SUCCESS);
    }
    say_raw!(pr, "{}", stage_report(&ran.stages));
    say!(pr);
    if ran.unchanged {
        say!(
            pr,
            "unchanged: version {} (all stages cached; it already holds this result)",
            v.id.short()
        );
    }
    say!(pr, "version  {}", v.id);
    say!(pr, "content  {}", v.manifest.content_id);
    say!(
        pr,
        "rows     {} from source {} ({} segments, {} new bytes stored)",
        ui::count(v.manifest.stats.rows),
        summary.source.short(),
        v.manifest.segments.len(),
        ui::bytes(v.manifest.stats.new_bytes)
    );
    let tags: Vec<String> = plan
        .tag
        .iter()
        .cloned()
        .chain(a.tag.iter().cloned())
        .collect();
    if !tags.is_empty() {
        say!(pr, "tagged   {}", tags.join(", "));
    }
    Ok(ExitCode::SUCCESS)
}

/// The stage table (rows in and out, removals by rule, time), then each
/// dedup stage's clusters and each balance stage's classes.
pub fn stage_report(stages: &[crate::version::manifest::StageRecord]) -> String {
    let rows: Vec<Vec<String>> = stages
        .iter()
        .map(|s| {
            let detail: Vec<String> = s
                .removed
                .iter()
                .filter(|(_, n)| **n > 0)
                .map(|(k, n)| format!("{k}={}", ui::count(*n)))
                .collect();
            vec![
                s.name.clone(),
                ui::count(s.rows_in),
                ui::count(s.rows_out),
                ui::count(s.removed.values().sum()),
                if s.cached {
                    "cached".into()
                } else {
                    format!("{:.2}s", s.seconds)
                },
                detail.join(" "),
            ]
        })
        .collect();
    let mut out = ui::table(
        &["STAGE", "ROWS IN", "ROWS OUT", "REMOVED", "TIME", "BY RULE"],
        &rows,
    );
    // Each stage's stats, in pipeline order.
    for s in stages {
        if let StageStats::Dedup(d) = &s.stats {
            let hist: Vec<String> = d
                .histogram
                .iter()
                .map(|(size, n)| format!("{size}:{n}"))
                .collect();
            let params = match (d.bands, d.rows) {
                (Some(b), Some(r)) => format!(" with {b} bands × {r} rows,"),
                _ => String::new(),
            };
            let on = d
                .device
                .as_ref()
                .map(|d| format!(" on {d},"))
                .unwrap_or_default();
            out += &format!(
                "{}:{params}{on} {} candidate pairs, {} verified, {} clusters, {} rows removed; cluster sizes {}",
                s.name,
                ui::count(d.candidates),
                ui::count(d.verified),
                ui::count(d.clusters),
                ui::count(d.removed),
                if hist.is_empty() {
                    "-".into()
                } else {
                    hist.join(" ")
                }
            );
            if let Some(n) = d.reused {
                out += &format!("; {} rows' hashes from band sidecars", ui::count(n));
            }
            for a in &d.against {
                out += &format!(
                    "; {} rows duplicated rows of `{}` ({} rows, kept)",
                    ui::count(a.removed),
                    a.version,
                    ui::count(a.rows)
                );
            }
            if let Some(b) = d.spilled {
                out += &format!("; sorted {} on disk (over --memory)", ui::bytes(b));
            }
            out.push('\n');
        }
        if let StageStats::Decontaminate(d) = &s.stats {
            let b: Vec<String> = d
                .benchmarks
                .iter()
                .map(|(n, b)| {
                    format!(
                        "{n} {} removed ({} eval rows)",
                        ui::count(b.rows_removed),
                        ui::count(b.eval_rows)
                    )
                })
                .collect();
            out += &format!("{}: {}-grams: {}\n", s.name, d.ngram, b.join(", "));
        }
        if let StageStats::Transform(t) = &s.stats {
            let edits: Vec<String> = t
                .edits
                .iter()
                .filter(|(_, n)| **n > 0)
                .map(|(rule, n)| format!("{rule} {}", ui::count(*n)))
                .collect();
            out += &format!(
                "{}: rewrote {} rows ({} new): {}\n",
                s.name,
                ui::count(t.rows_changed),
                ui::bytes(t.new_bytes),
                if edits.is_empty() {
                    "no edits".into()
                } else {
                    edits.join(", ")
                }
            );
        }
        if let StageStats::Language(l) = &s.stats {
            let langs: Vec<String> = l
                .languages
                .iter()
                .map(|(code, c)| format!("{code} {}→{}", ui::count(c.before), ui::count(c.after)))
                .collect();
            out += &format!("{}: by {}: {}\n", s.name, l.model, langs.join(", "));
        }
        if let StageStats::Classifier(c) = &s.stats {
            let wrote = match &c.written {
                Some(t) => format!(" (wrote the score to {} rows)", ui::count(t.rows_changed)),
                None => String::new(),
            };
            out += &format!(
                "{}: by {}: mean score for `{}` {:.2}→{:.2}{wrote}\n",
                s.name, c.model, c.label, c.mean_before, c.mean_after
            );
        }
        if let StageStats::Tokens(t) = &s.stats {
            out += &format!(
                "{}: {} tokens read, {} kept, under {}\n",
                s.name,
                ui::short_count(t.tokens_before),
                ui::short_count(t.tokens_after),
                t.tokenizer
            );
        }
        if let StageStats::Balance(b) = &s.stats {
            out += &format!(
                "{}: balance by `{}` ({}, seed {})\n",
                s.name, b.label, b.strategy, b.seed
            );
            out += &class_table(b);
        }
    }
    out
}

/// Class counts before and after, with a bar per class scaled to the largest count.
fn class_table(b: &crate::version::stats::BalanceStats) -> String {
    const WIDTH: u64 = 30;
    let top = b
        .classes
        .values()
        .map(|c| c.before.max(c.after))
        .max()
        .unwrap_or(0)
        .max(1);
    // Solid: kept; light: removed.
    let width = |n: u64| n.saturating_mul(WIDTH).div_ceil(top) as usize;
    let bar = |before: u64, after: u64| {
        "█".repeat(width(after)) + &"░".repeat(width(before).saturating_sub(width(after)))
    };
    let mut rows: Vec<Vec<String>> = b
        .classes
        .iter()
        .map(|(name, c)| {
            vec![
                name.clone(),
                ui::count(c.before),
                ui::count(c.after),
                bar(c.before, c.after),
            ]
        })
        .collect();
    if b.null_dropped > 0 || b.null_kept > 0 {
        rows.push(vec![
            "(null label)".into(),
            ui::count(b.null_dropped + b.null_kept),
            ui::count(b.null_kept),
            bar(b.null_dropped + b.null_kept, b.null_kept),
        ]);
    }
    ui::table(&["CLASS", "BEFORE", "AFTER", ""], &rows)
}

#[cfg(feature = "cluster")]
fn remote(url: Option<&str>) -> anyhow::Result<Option<std::sync::Arc<dyn pipeline::Remote>>> {
    Ok(match url {
        Some(u) => Some(std::sync::Arc::new(crate::cluster::Client::connect(u)?)),
        None => None,
    })
}

#[cfg(not(feature = "cluster"))]
fn remote(url: Option<&str>) -> anyhow::Result<Option<std::sync::Arc<dyn pipeline::Remote>>> {
    match url {
        Some(_) => anyhow::bail!(
            "this sift was built without the `cluster` feature; build it with `--features cluster`"
        ),
        None => Ok(None),
    }
}
