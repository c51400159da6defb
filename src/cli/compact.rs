use std::process::ExitCode;

use clap::Args;

use super::printer::{Printer, say};

use super::{Global, ui};
use crate::store::shard::{DEFAULT_SHARD_SIZE, ShardOptions};
use crate::version::{self, compact::compact};

#[derive(Debug, Args)]
pub struct CompactArgs {
    /// Tag, version id, or unique id prefix.
    pub reference: String,
    /// Rewrite segments whose selection keeps less than this fraction of their shard.
    #[arg(long, default_value_t = 1.0)]
    pub below: f64,
    /// Tag the compacted version.
    #[arg(long, value_name = "NAME")]
    pub tag: Vec<String>,
    #[arg(short, long)]
    pub message: Option<String>,
}

pub fn run(g: &Global, a: CompactArgs) -> anyhow::Result<ExitCode> {
    let pr = Printer::new(false);
    let store = g.open_store()?;
    let v = version::resolve(&store, &a.reference)?;
    let opts = ShardOptions {
        target: DEFAULT_SHARD_SIZE,
        threads: g.threads(),
    };
    let c = compact(&store, &v, a.below.clamp(0.0, 1.0), opts, a.message, &a.tag)?;
    let Some(new) = c.version else {
        say!(
            pr,
            "nothing to compact: no segment of {} keeps less than {:.0}% of its shard",
            v.id.short(),
            a.below * 100.0
        );
        return Ok(ExitCode::SUCCESS);
    };
    say!(
        pr,
        "compacted {} segment(s) of {} into version {} ({} new bytes); content id unchanged: {}",
        c.rewritten,
        v.id.short(),
        new.id.short(),
        ui::bytes(c.new_bytes),
        &new.manifest.content_id[..12]
    );
    Ok(ExitCode::SUCCESS)
}
