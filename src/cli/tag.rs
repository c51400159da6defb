use std::process::ExitCode;

use clap::Args;
use schemars::JsonSchema;
use serde::Serialize;

use super::printer::{Printer, say};

use super::Global;

#[derive(Debug, Args)]
pub struct TagArgs {
    /// Tag name.
    #[arg(required_unless_present = "delete")]
    pub name: Option<String>,
    /// Version to tag: a tag, id or unique id prefix.
    #[arg(required_unless_present = "delete")]
    pub reference: Option<String>,
    /// Delete this tag.
    #[arg(long, value_name = "NAME", conflicts_with_all = ["name", "reference"])]
    pub delete: Option<String>,
}

#[derive(Debug, Args)]
pub struct TagsArgs {
    /// Print the tags as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(g: &Global, a: TagArgs) -> anyhow::Result<ExitCode> {
    let pr = Printer::new(false);
    let store = g.open_store()?;
    let c = store.catalog()?;
    if let Some(name) = a.delete {
        let old = c.delete_tag(&name)?;
        say!(pr, "deleted tag {name} (was {})", old.short());
        return Ok(ExitCode::SUCCESS);
    }
    let (name, reference) = (a.name.expect("required"), a.reference.expect("required"));
    let id = c.resolve(&reference)?;
    match c.set_tag(&name, &id)? {
        Some(old) if old != id => {
            say!(
                pr,
                "moved tag {name} from {} to {}",
                old.short(),
                id.short()
            )
        }
        _ => say!(pr, "tagged {} as {name}", id.short()),
    }
    Ok(ExitCode::SUCCESS)
}

/// One line of `sift tags --json`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct TagEntry {
    pub tag: String,
    pub version: crate::store::ObjectId,
}

pub fn list(g: &Global, a: TagsArgs) -> anyhow::Result<ExitCode> {
    let pr = Printer::new(a.json);
    let store = g.open_store()?;
    let tags = store.catalog()?.tags()?;
    if a.json {
        let out: Vec<TagEntry> = tags
            .iter()
            .map(|(t, id)| TagEntry {
                tag: t.clone(),
                version: *id,
            })
            .collect();
        pr.json(&out)?;
    } else {
        for (t, id) in tags {
            say!(pr, "{t}\t{}", id.short());
        }
    }
    Ok(ExitCode::SUCCESS)
}
