use std::process::ExitCode;

use clap::Args;
use schemars::JsonSchema;
use serde::Serialize;

use super::printer::{Printer, say, say_raw};

use super::{Global, ui};
use crate::version;

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Tag, version id, or unique id prefix.
    pub reference: String,
    /// Print the manifest as JSON (with its id).
    #[arg(long)]
    pub json: bool,
}

/// What `sift show --json` prints: the manifest, its id and its tags.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ShowOutput {
    #[serde(flatten)]
    pub manifest: crate::version::Manifest,
    /// The version id (the manifest's object id).
    pub id: crate::store::ObjectId,
    pub tags: Vec<String>,
    /// Nulls per column from the shards' footers (null: nested, not counted).
    pub nulls: indexmap::IndexMap<String, Option<crate::version::nulls::NullCount>>,
}

pub fn run(g: &Global, a: ShowArgs) -> anyhow::Result<ExitCode> {
    let pr = Printer::new(a.json);
    let store = g.open_store()?;
    let v = version::resolve(&store, &a.reference)?;
    let tags = store.catalog()?.tags_of(&v.id)?;
    let m = &v.manifest;
    let nulls = crate::version::nulls::null_counts(&store, &v)?;
    if a.json {
        pr.json(&ShowOutput {
            manifest: m.clone(),
            id: v.id,
            tags,
            nulls: m.schema.iter().map(|c| c.name.clone()).zip(nulls).collect(),
        })?;
        return Ok(ExitCode::SUCCESS);
    }
    say!(pr, "version   {}", v.id);
    say!(pr, "content   {}", m.content_id);
    if !tags.is_empty() {
        say!(pr, "tags      {}", tags.join(", "));
    }
    say!(pr, "created   {}", ui::when(&m.created));
    if let Some(msg) = &m.message {
        say!(pr, "message   {msg}");
    }
    say!(
        pr,
        "rows      {}  ({} of data, {} stored)",
        ui::count(m.stats.rows),
        ui::bytes(m.stats.data_bytes),
        ui::bytes(m.stats.stored_bytes)
    );
    let l = &m.lineage;
    let parents: Vec<String> = l.parents.iter().map(|p| p.short()).collect();
    say!(
        pr,
        "made by   sift {} {}{}",
        l.sift_version,
        l.command,
        if parents.is_empty() {
            String::new()
        } else {
            format!(" from {}", parents.join(", "))
        }
    );
    if !l.inputs.is_empty() {
        say!(pr, "inputs    {}", l.inputs.join(", "));
    }
    if let Some(q) = &m.quarantine {
        say!(
            pr,
            "skipped   {} bad rows (quarantine {}; `sift cat {} --quarantine` prints them)",
            ui::count(q.rows),
            q.object.short(),
            v.id.short()
        );
    }
    if let Some(p) = &l.pipeline
        && let Some(t) = token_total(&p.stages)
    {
        say!(pr, "tokens    {t}");
    }
    if let Some(p) = &l.pipeline {
        say!(
            pr,
            "pipeline  {} (spec {}) on source {}",
            p.spec_file,
            &p.spec_hash[..12],
            p.source.short()
        );
        say!(pr, "\nstages");
        say_raw!(pr, "{}", indent(&super::run::stage_report(&p.stages)));
    }
    say!(pr, "\nschema");
    let cols: Vec<Vec<String>> = m
        .schema
        .iter()
        .zip(&nulls)
        .map(|(c, n)| {
            vec![
                c.name.clone(),
                c.logical.clone(),
                c.arrow.clone(),
                match n {
                    Some(n) if n.exact => ui::count(n.nulls),
                    Some(n) => format!("≤ {}", ui::count(n.nulls)),
                    None if c.nullable => "?".into(),
                    None => "0".into(),
                },
            ]
        })
        .collect();
    say_raw!(
        pr,
        "{}",
        indent(&ui::table(&["COLUMN", "TYPE", "ARROW", "NULLS"], &cols))
    );
    say!(pr, "\nsegments ({})", m.segments.len());
    let segs: Vec<Vec<String>> = m
        .segments
        .iter()
        .map(|s| {
            vec![
                s.shard.short(),
                ui::count(s.rows),
                ui::count(s.selected_rows),
                ui::bytes(s.shard_bytes),
                s.selection
                    .map(|id| id.short())
                    .unwrap_or_else(|| "all rows".into()),
                s.repeats.map(|id| id.short()).unwrap_or_default(),
            ]
        })
        .collect();
    say_raw!(
        pr,
        "{}",
        indent(&ui::table(
            &["SHARD", "ROWS", "KEPT", "SIZE", "SELECTION", "REPEATS"],
            &segs
        ))
    );
    Ok(ExitCode::SUCCESS)
}

fn indent(s: &str) -> String {
    s.lines().map(|l| format!("  {l}\n")).collect()
}

/// `1.23 B under tokenizer.json (blake3 …), counted by stage 3 (tokens)`: the
/// last tokens stage's total of the rows it kept, and how many rows later
/// stages removed, if any (their tokens are still in the total).
fn token_total(stages: &[crate::version::manifest::StageRecord]) -> Option<String> {
    use crate::version::stats::StageStats;
    let (k, st, t) = stages
        .iter()
        .enumerate()
        .rev()
        .find_map(|(k, st)| match &st.stats {
            StageStats::Tokens(t) => Some((k, st, t)),
            _ => None,
        })?;
    let last = stages.last().map_or(st.rows_out, |s| s.rows_out);
    let later = if last < st.rows_out {
        format!(
            "; {} rows were removed after it, so this counts them too",
            ui::count(st.rows_out - last)
        )
    } else {
        String::new()
    };
    Some(format!(
        "{} under {}, counted by stage {} ({}){later}",
        ui::short_count(t.tokens_after),
        t.tokenizer,
        k + 1,
        st.name
    ))
}
