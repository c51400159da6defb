//! The README tells the truth: its command table matches `--help`, and every
//! pipeline it or `docs/` shows passes `sift check`.

use std::collections::{BTreeMap, BTreeSet};

use clap::CommandFactory;

use super::util::Env;

const REPO: &str = env!("CARGO_MANIFEST_DIR");

/// Flags every subcommand takes, listed once under the table.
const GLOBAL: &[&str] = &["help", "version", "store", "threads", "wait"];

/// Subcommands that are groups of subcommands.
const NESTED: &[&str] = &["cluster"];

/// Subcommand → the long flags the README's command table names for it.
fn table() -> BTreeMap<String, BTreeSet<String>> {
    let readme = std::fs::read_to_string(format!("{REPO}/README.md")).unwrap();
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in readme.lines().filter(|l| l.starts_with("| `sift ")) {
        let first_cell = line.split(" | ").next().unwrap();
        for usage in first_cell.split('`').skip(1).step_by(2) {
            let mut words = usage.split_whitespace();
            assert_eq!(words.next(), Some("sift"), "{usage}");
            let mut cmd = words.next().unwrap().to_string();
            // `sift cluster scheduler`: a subcommand's subcommand.
            if NESTED.contains(&cmd.as_str()) {
                cmd = format!("{cmd} {}", words.next().unwrap());
            }
            let flags = out.entry(cmd).or_default();
            for w in usage.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-')) {
                if let Some(f) = w.strip_prefix("--") {
                    flags.insert(f.to_string());
                }
            }
        }
    }
    out
}

#[test]
fn the_command_table_matches_the_cli() {
    let listed = table();
    let cli = sift::cli::Cli::command();
    let mut problems = Vec::new();
    let mut subs: Vec<(String, &clap::Command)> = Vec::new();
    for sub in cli.get_subcommands().filter(|s| !s.is_hide_set()) {
        if NESTED.contains(&sub.get_name()) {
            for inner in sub.get_subcommands().filter(|s| !s.is_hide_set()) {
                subs.push((format!("{} {}", sub.get_name(), inner.get_name()), inner));
            }
        } else {
            subs.push((sub.get_name().to_string(), sub));
        }
    }
    for (name, sub) in subs {
        let flags: BTreeSet<String> = sub
            .get_arguments()
            .filter(|a| !a.is_hide_set())
            .filter_map(|a| a.get_long().map(str::to_owned))
            .filter(|f| !GLOBAL.contains(&f.as_str()))
            .collect();
        let Some(table_flags) = listed.get(&name) else {
            problems.push(format!("`sift {name}` is missing from the table"));
            continue;
        };
        for f in flags.difference(table_flags) {
            problems.push(format!("`sift {name} --{f}` is missing from the table"));
        }
        for f in table_flags.difference(&flags) {
            problems.push(format!(
                "the table lists `sift {name} --{f}`, which does not exist"
            ));
        }
    }
    for name in listed.keys() {
        let mut words = name.split(' ');
        let found = cli
            .find_subcommand(words.next().unwrap())
            .and_then(|c| match words.next() {
                Some(inner) => c.find_subcommand(inner),
                None => Some(c),
            });
        if found.is_none() {
            problems.push(format!(
                "the table lists `sift {name}`, which does not exist"
            ));
        }
    }
    assert!(listed.len() > 10, "the table was read: {listed:?}");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The fenced blocks of a markdown file in `lang`.
fn blocks(text: &str, lang: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur: Option<String> = None;
    for line in text.lines() {
        match &mut cur {
            None if line.trim_start() == format!("```{lang}") => cur = Some(String::new()),
            Some(b) if line.trim_start() == "```" => {
                out.push(std::mem::take(b));
                cur = None;
            }
            Some(b) => {
                b.push_str(line);
                b.push('\n');
            }
            None => {}
        }
    }
    out
}

#[test]
fn every_pipeline_in_the_docs_passes_check() {
    let env = Env::new();
    // The data the examples name, and a version tagged `raw`.
    for name in ["web_sample.jsonl", "web_dups.jsonl"] {
        env.write(
            &format!("data/{name}"),
            std::fs::read(format!("{REPO}/pipelines/data/{name}")).unwrap(),
        );
    }
    env.ok(&["import", "data/web_sample.jsonl", "--tag", "raw"]);
    let mut files = vec![format!("{REPO}/README.md")];
    if let Ok(dir) = std::fs::read_dir(format!("{REPO}/docs")) {
        files.extend(
            dir.flatten()
                .map(|e| e.path().display().to_string())
                .filter(|p| p.ends_with(".md")),
        );
    }
    let mut checked = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for (lang, ext) in [("toml", "toml"), ("yaml", "yaml")] {
            for (i, block) in blocks(&text, lang).into_iter().enumerate() {
                if !block.contains("[source]") && !block.contains("source:") {
                    continue;
                }
                let spec = format!("spec-{checked}-{i}.{ext}");
                env.write(&spec, &block);
                let out = env.sift(&["check", &spec]);
                assert!(
                    out.status.success(),
                    "{file}: a {lang} block fails `sift check`:\n{block}\n{}",
                    String::from_utf8_lossy(&out.stderr)
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 1, "the README's pipeline was checked");
}

#[test]
fn every_command_has_examples_and_every_json_flag_says_what_it_prints() {
    let cli = sift::cli::Cli::command();
    let mut problems = Vec::new();
    for sub in cli.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = sub.get_name();
        let examples = sub
            .get_after_help()
            .map(|h| h.to_string())
            .unwrap_or_default();
        if !examples.starts_with("Examples:") {
            problems.push(format!("`sift {name} --help` has no examples"));
        }
        // Lines short enough that the help's wrapping never breaks a command.
        for line in examples.lines().filter(|l| l.chars().count() > 100) {
            problems.push(format!(
                "`sift {name}` example line over 100 characters: {line}"
            ));
        }
        for a in sub.get_arguments() {
            if a.get_long() == Some("json") && a.get_help().is_none() {
                problems.push(format!("`sift {name} --json` has no description"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
