use std::process::ExitCode;
use std::time::Duration;

use clap::Args;

use super::printer::{Printer, say};

use super::{Global, ui};

pub const EXAMPLES: &str = "\
Examples:
  # what would be deleted, and how much it frees
  sift gc --dry-run
  # keep tagged versions, untagged ones from the last 7 days, and their ancestors
  sift gc
  # keep only what tags reach, and delete unused objects now, not after the grace hour
  sift gc --keep-untagged 0 --grace 0";

#[derive(Debug, Args)]
pub struct GcArgs {
    /// Say what would be deleted; delete nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Keep untagged versions created within this many days (fractions allowed).
    #[arg(long, value_name = "DAYS", default_value_t = 7.0)]
    pub keep_untagged: f64,
    /// Never delete an object written or reused within this many seconds (protects
    /// in-flight runs).
    #[arg(long, value_name = "SECS", default_value_t = 3600)]
    pub grace: u64,
    /// Print what was (or would be) deleted as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(g: &Global, a: GcArgs) -> anyhow::Result<ExitCode> {
    let pr = Printer::new(a.json);
    anyhow::ensure!(
        a.keep_untagged.is_finite() && a.keep_untagged >= 0.0,
        "--keep-untagged must be a number of days, 0 or more"
    );
    let store = g.open_store()?;
    let r = crate::version::gc::gc(
        &store,
        Duration::from_secs_f64(a.keep_untagged * 86_400.0),
        Duration::from_secs(a.grace),
        a.dry_run,
    )?;
    if a.json {
        pr.json(&r)?;
        return Ok(ExitCode::SUCCESS);
    }
    let verb = if a.dry_run { "would delete" } else { "deleted" };
    say!(
        pr,
        "{verb} {} objects ({}) and {} versions; kept {} versions",
        ui::count(r.objects_deleted),
        ui::bytes(r.bytes_freed),
        r.versions_deleted.len(),
        r.versions_kept
    );
    for v in &r.versions_deleted {
        say!(pr, "  version {}", v.short());
    }
    if r.objects_spared > 0 {
        say!(
            pr,
            "spared {} unneeded objects younger than {}s (--grace)",
            r.objects_spared,
            a.grace
        );
    }
    Ok(ExitCode::SUCCESS)
}
