use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use clap::Args;

use super::{Global, ui};
use crate::version::fsck::{self, Severity};

pub const EXAMPLES: &str = "\
Examples:
  sift fsck                     presence and sizes of every object; manifests; catalog
  sift fsck --read-data         also re-hash every object and recompute content ids
  sift fsck --rebuild-catalog   rebuild catalog/ from the manifests and refs.log
  sift fsck --json";

#[derive(Debug, Args)]
pub struct FsckArgs {
    /// Re-hash every object and recompute every version's content id (reads all data).
    #[arg(long)]
    pub read_data: bool,
    /// Rebuild the catalog (version index and tags) from the manifest objects and
    /// refs.log, then check the store.
    #[arg(long)]
    pub rebuild_catalog: bool,
    #[arg(long)]
    pub json: bool,
}

pub fn run(g: &Global, a: FsckArgs) -> anyhow::Result<ExitCode> {
    let store = g.open_store()?;
    let rebuilt = if a.rebuild_catalog {
        let r = fsck::rebuild_catalog(&store)?;
        if !a.json {
            println!(
                "rebuilt the catalog: {} versions, {} tags{}",
                r.versions,
                r.tags,
                if r.tags_lost.is_empty() {
                    String::new()
                } else {
                    format!("; tags whose version is gone: {}", r.tags_lost.join(", "))
                }
            );
        }
        Some(r)
    } else {
        None
    };
    let done = Arc::new(AtomicU64::new(0));
    let bar = (a.read_data && !a.json && std::io::stderr().is_terminal())
        .then(|| ui::ByteProgress::new("fsck", fsck::object_bytes(&store), done.clone()));
    let report = fsck::fsck(&store, a.read_data, &|n| {
        done.fetch_add(n, Ordering::Relaxed);
    })?;
    drop(bar);
    if a.json {
        let mut v = serde_json::to_value(&report)?;
        if let Some(r) = rebuilt {
            v["rebuilt"] = serde_json::to_value(r)?;
        }
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!(
            "checked {} objects ({}){}, {} manifests, {} indexed versions, {} tags",
            ui::count(report.objects),
            ui::bytes(report.object_bytes),
            if report.read_data {
                ", all re-hashed"
            } else {
                ""
            },
            ui::count(report.manifests),
            ui::count(report.indexed_versions),
            ui::count(report.tags)
        );
        for f in &report.findings {
            let sev = match f.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
                Severity::Info => "info",
            };
            println!("{sev:<7} [phase {}] {}: {}", f.phase, f.subject, f.message);
            if !f.versions.is_empty() {
                let v: Vec<String> = f.versions.iter().map(|v| v.short()).collect();
                println!("        breaks versions: {}", v.join(", "));
            }
            if let Some(h) = &f.hint {
                println!("        hint: {h}");
            }
        }
        let errors = report.errors();
        if errors == 0 {
            println!("no errors");
        } else {
            println!("{errors} errors");
        }
    }
    Ok(if report.errors() > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
