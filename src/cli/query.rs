use std::process::ExitCode;

use clap::Args;

use super::printer::{Printer, say};

use super::Global;

pub const EXAMPLES: &str = "\
Examples:
  sift query \"SELECT source, count(*) AS n FROM raw GROUP BY source ORDER BY n DESC\"
  sift query \"SELECT * FROM raw WHERE length(text) < 100\" --format jsonl
  sift query \"SHOW TABLES\"
  # the rows a run removed, with the stage, rule and reason of each
  sift query \"SELECT stage_name, rule, count(*) FROM removed('web-clean') GROUP BY 1, 2\"
  sift query \"SELECT id, reason FROM removed('web-clean', 2) LIMIT 5\"";

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum QueryFormat {
    Table,
    Jsonl,
    Csv,
}

#[derive(Debug, Args)]
pub struct QueryArgs {
    /// SQL (DataFusion dialect); every tag is a table.
    pub sql: String,
    #[arg(long, value_enum, default_value = "table")]
    pub format: QueryFormat,
}

pub fn run(g: &Global, a: QueryArgs) -> anyhow::Result<ExitCode> {
    let pr = Printer::new(false);
    let store = g.open_store()?;
    let for_removed = store.clone();
    let extend = move |ctx: &datafusion::prelude::SessionContext| {
        ctx.register_udtf(
            "removed",
            std::sync::Arc::new(crate::explain::RemovedFunction {
                store: for_removed.clone(),
            }),
        );
    };
    match a.format {
        QueryFormat::Table => {
            let mut batches = Vec::new();
            let schema = crate::query::run(&store, &a.sql, g.threads(), &extend, |b| {
                batches.push(b.clone());
                Ok(())
            })?;
            // An empty result still shows its columns.
            say!(
                pr,
                "{}",
                arrow::util::pretty::pretty_format_batches_with_schema(schema, &batches)?
            );
        }
        QueryFormat::Jsonl | QueryFormat::Csv => {
            let (tx, rx) = std::sync::mpsc::sync_channel(4);
            let fmt = match a.format {
                QueryFormat::Csv => super::cat::RowFormat::Csv,
                _ => super::cat::RowFormat::Jsonl,
            };
            let writer = std::thread::spawn(move || {
                super::cat::write_rows(&pr, rx.into_iter().map(Ok), fmt)
            });
            let result = crate::query::run(&store, &a.sql, g.threads(), &extend, |b| {
                tx.send(b.clone())
                    .map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))
            });
            drop(tx);
            let written = writer.join().expect("writer thread");
            result?;
            written?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
