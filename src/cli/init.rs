use std::process::ExitCode;

use super::Global;
use crate::store::Store;

pub fn run(g: &Global) -> anyhow::Result<ExitCode> {
    Store::init(&g.store)?;
    println!("initialized an empty sift store in {}", g.store.display());
    Ok(ExitCode::SUCCESS)
}
