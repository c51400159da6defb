use std::collections::HashMap;
use std::process::ExitCode;

use clap::Args;
use schemars::JsonSchema;
use serde::Serialize;

use super::printer::{Printer, say, say_raw};

use super::{Global, ui};
use crate::store::ObjectId;

#[derive(Debug, Args)]
pub struct LogArgs {
    /// Show the history of this version (tag, id or id prefix) instead of every version.
    pub reference: Option<String>,
    /// Print the versions as JSON.
    #[arg(long)]
    pub json: bool,
}

/// One version in `sift log --json`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct LogEntry {
    pub id: ObjectId,
    pub tags: Vec<String>,
    pub content_id: String,
    pub rows: u64,
    /// Bytes of the shards the version refers to.
    pub bytes: u64,
    pub created: String,
    pub message: Option<String>,
    pub parents: Vec<ObjectId>,
}

pub fn run(g: &Global, a: LogArgs) -> anyhow::Result<ExitCode> {
    let pr = Printer::new(a.json);
    let store = g.open_store()?;
    let (shown, tags) = {
        let c = store.catalog()?;
        let start = a.reference.as_deref().map(|r| c.resolve(r)).transpose()?;
        (c.history(start)?, c.tags()?)
    };
    let mut tags_of: HashMap<ObjectId, Vec<String>> = HashMap::new();
    for (t, id) in tags {
        tags_of.entry(id).or_default().push(t);
    }
    if a.json {
        let out: Vec<LogEntry> = shown
            .iter()
            .map(|e| LogEntry {
                id: e.id,
                tags: tags_of.get(&e.id).cloned().unwrap_or_default(),
                content_id: e.content_id.clone(),
                rows: e.rows,
                bytes: e.bytes,
                created: e.created.clone(),
                message: e.message.clone(),
                parents: e.parents.clone(),
            })
            .collect();
        pr.json(&out)?;
        return Ok(ExitCode::SUCCESS);
    }
    if shown.is_empty() {
        say!(pr, "no versions yet; create one with `sift import FILE`");
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<Vec<String>> = shown
        .iter()
        .map(|e| {
            let from = e
                .parents
                .iter()
                .map(|p| {
                    tags_of
                        .get(p)
                        .and_then(|t| t.first().cloned())
                        .unwrap_or_else(|| p.short())
                })
                .collect::<Vec<_>>()
                .join(",");
            vec![
                e.id.short(),
                tags_of.get(&e.id).map(|t| t.join(",")).unwrap_or_default(),
                ui::count(e.rows),
                ui::bytes(e.bytes),
                ui::when(&e.created),
                if from.is_empty() { "-".into() } else { from },
                e.message.clone().unwrap_or_default(),
            ]
        })
        .collect();
    say_raw!(
        pr,
        "{}",
        ui::table(
            &[
                "VERSION", "TAGS", "ROWS", "SIZE", "CREATED", "FROM", "MESSAGE"
            ],
            &rows
        )
    );
    Ok(ExitCode::SUCCESS)
}
