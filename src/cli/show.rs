use std::process::ExitCode;

use clap::Args;

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

pub fn run(g: &Global, a: ShowArgs) -> anyhow::Result<ExitCode> {
    let store = g.open_store()?;
    let v = version::resolve(&store, &a.reference)?;
    let tags: Vec<String> = store
        .catalog()?
        .tags()?
        .into_iter()
        .filter(|(_, id)| *id == v.id)
        .map(|(t, _)| t)
        .collect();
    let m = &v.manifest;
    if a.json {
        let mut value = serde_json::to_value(m)?;
        value["id"] = serde_json::json!(v.id);
        value["tags"] = serde_json::json!(tags);
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!("version   {}", v.id);
    println!("content   {}", m.content_id);
    if !tags.is_empty() {
        println!("tags      {}", tags.join(", "));
    }
    println!("created   {}", ui::when(&m.created));
    if let Some(msg) = &m.message {
        println!("message   {msg}");
    }
    println!(
        "rows      {}  ({} of data, {} stored)",
        ui::count(m.stats.rows),
        ui::bytes(m.stats.data_bytes),
        ui::bytes(m.stats.stored_bytes)
    );
    let l = &m.lineage;
    let parents: Vec<String> = l.parents.iter().map(|p| p.short()).collect();
    println!(
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
        println!("inputs    {}", l.inputs.join(", "));
    }
    println!("\nschema");
    let cols: Vec<Vec<String>> = m
        .schema
        .iter()
        .map(|c| {
            vec![
                c.name.clone(),
                c.logical.clone(),
                c.arrow.clone(),
                if c.nullable {
                    "null".into()
                } else {
                    "not null".into()
                },
            ]
        })
        .collect();
    print!(
        "{}",
        indent(&ui::table(&["COLUMN", "TYPE", "ARROW", "NULLS"], &cols))
    );
    println!("\nsegments ({})", m.segments.len());
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
    print!(
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
