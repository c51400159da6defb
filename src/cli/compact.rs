use std::process::ExitCode;

use clap::Args;

use super::{Global, ui};
use crate::store::shard::{DEFAULT_SHARD_SIZE, ShardOptions};
use crate::version::{self, compact::compact_segments};

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
    let store = g.open_store()?;
    let v = version::resolve(&store, &a.reference)?;
    let schema = v.schema()?;
    let opts = ShardOptions {
        target: DEFAULT_SHARD_SIZE,
        threads: g.threads(),
    };
    let c = compact_segments(
        &store,
        &schema,
        v.manifest.segments.clone(),
        a.below.clamp(0.0, 1.0),
        opts,
    )?;
    if c.rewritten == 0 {
        println!(
            "nothing to compact: no segment of {} keeps less than {:.0}% of its shard",
            v.id.short(),
            a.below * 100.0
        );
        return Ok(ExitCode::SUCCESS);
    }
    let mut m = v.manifest.clone();
    m.segments = c.segments;
    m.stats.stored_bytes = m.segments.iter().map(|s| s.shard_bytes).sum();
    m.stats.new_bytes = c.new_bytes;
    m.lineage.parents = vec![v.id];
    m.lineage.command = "compact".into();
    m.message = a.message.or(m.message);
    m.created = crate::now();
    // The rows are the same, so the content id must be too; check rather than trust.
    let probe = version::Version {
        id: v.id,
        manifest: m.clone(),
    };
    let recomputed = version::recompute_content_id(&store, &probe)?;
    anyhow::ensure!(
        recomputed == v.manifest.content_id,
        "compaction changed the content id ({recomputed}); nothing was committed"
    );
    let new = version::commit(&store, m, &a.tag)?;
    println!(
        "compacted {} segment(s) of {} into version {} ({} new bytes); content id unchanged: {}",
        c.rewritten,
        v.id.short(),
        new.id.short(),
        ui::bytes(c.new_bytes),
        &new.manifest.content_id[..12]
    );
    Ok(ExitCode::SUCCESS)
}
