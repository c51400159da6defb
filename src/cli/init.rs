use std::process::ExitCode;

use super::Global;
use super::printer::{Printer, say};
use crate::store::Store;

pub fn run(g: &Global) -> anyhow::Result<ExitCode> {
    let pr = Printer::new(false);
    Store::init(&g.store)?;
    say!(
        pr,
        "initialized an empty sift store in {}",
        g.store.display()
    );
    Ok(ExitCode::SUCCESS)
}
