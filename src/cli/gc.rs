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
    /// Keep untagged versions created within this many days (fractions
    /// allowed), or a span with a unit: `12h`, `30m`, `0`.
    #[arg(long, value_name = "DAYS", default_value = "7", value_parser = days)]
    pub keep_untagged: Duration,
    /// Never delete an object written or reused within this many seconds, or a
    /// span with a unit (`10m`, `1h`): protects in-flight runs.
    #[arg(long, value_name = "SECS", default_value = "3600", value_parser = secs)]
    pub grace: Duration,
    /// Print what was (or would be) deleted as JSON.
    #[arg(long)]
    pub json: bool,
}

/// A span: a number in `unit` seconds, or with a suffix `s`, `m`, `h` or `d`.
fn span(s: &str, unit: f64, name: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, mul) = match s.char_indices().last() {
        Some((i, 's')) => (&s[..i], 1.0),
        Some((i, 'm')) => (&s[..i], 60.0),
        Some((i, 'h')) => (&s[..i], 3600.0),
        Some((i, 'd')) => (&s[..i], 86_400.0),
        _ => (s, unit),
    };
    match num.parse::<f64>() {
        Ok(n) if n.is_finite() && n >= 0.0 => Ok(Duration::from_secs_f64(n * mul)),
        _ => Err(format!(
            "'{s}' is not a span: give a number of {name}, 0 or more, or one with a unit (30s, 10m, 12h, 7d)"
        )),
    }
}

fn days(s: &str) -> Result<Duration, String> {
    span(s, 86_400.0, "days")
}

fn secs(s: &str) -> Result<Duration, String> {
    span(s, 1.0, "seconds")
}

pub fn run(g: &Global, a: GcArgs) -> anyhow::Result<ExitCode> {
    let pr = Printer::new(a.json);
    let store = g.open_store()?;
    let r = crate::version::gc::gc(&store, a.keep_untagged, a.grace, a.dry_run)?;
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
            a.grace.as_secs()
        );
    }
    Ok(ExitCode::SUCCESS)
}
