use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use clap::Args;
use schemars::JsonSchema;
use serde::Serialize;

use super::printer::{Printer, say};

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
    /// Print the findings as JSON.
    #[arg(long)]
    pub json: bool,
}

/// What `sift fsck --json` prints: the report, and what a rebuild did.
#[derive(Debug, Serialize, JsonSchema)]
pub struct FsckOutput {
    #[serde(flatten)]
    pub report: fsck::Report,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rebuilt: Option<fsck::Rebuilt>,
}

pub fn run(g: &Global, a: FsckArgs) -> anyhow::Result<ExitCode> {
    let pr = Printer::new(a.json);
    let store = g.open_store()?;
    let rebuilt = if a.rebuild_catalog {
        let r = fsck::rebuild_catalog(&store)?;
        if !a.json {
            say!(
                pr,
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
    let code = if report.errors() > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    };
    if a.json {
        pr.json(&FsckOutput { report, rebuilt })?;
        return Ok(code);
    } else {
        say!(
            pr,
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
            say!(
                pr,
                "{sev:<7} [phase {}] {}: {}",
                f.phase,
                f.subject,
                f.message
            );
            if !f.versions.is_empty() {
                let v: Vec<String> = f.versions.iter().map(|v| v.short()).collect();
                say!(pr, "        breaks versions: {}", v.join(", "));
            }
            if let Some(h) = &f.hint {
                say!(pr, "        hint: {h}");
            }
        }
        let errors = report.errors();
        if errors == 0 {
            say!(pr, "no errors");
        } else {
            say!(pr, "{errors} errors");
        }
    }
    Ok(code)
}
