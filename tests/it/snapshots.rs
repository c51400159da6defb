//! What users read, pinned: the human output of check, run, explain, diff,
//! fsck and log on the bundled pipelines, and a spec error. Ids, times and
//! temp paths are filtered out. Review a change here like code
//! (`INSTA_UPDATE=always cargo test snapshots` rewrites them).

use super::util::Env;

const REPO: &str = env!("CARGO_MANIFEST_DIR");

/// The bundled pipelines and data, copied so that paths print relative.
fn bundled() -> Env {
    let env = Env::new();
    for dir in ["pipelines", "pipelines/data"] {
        for e in std::fs::read_dir(format!("{REPO}/{dir}")).unwrap() {
            let p = e.unwrap().path();
            if p.is_file() {
                let name = format!("{dir}/{}", p.file_name().unwrap().to_string_lossy());
                env.write(&name, std::fs::read(&p).unwrap());
            }
        }
    }
    env
}

fn settings(env: &Env) -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_prepend_module_to_snapshot(false);
    s.set_omit_expression(true);
    let dir = regex_escape(&env.dir.path().display().to_string());
    s.add_filter(&dir, "[DIR]");
    s.add_filter(r"\b[0-9a-f]{64}\b", "[ID]");
    s.add_filter(r"\b[0-9a-f]{12}\b", "[ID]");
    s.add_filter(r"\d{4}-\d\d-\d\d \d\d:\d\d", "[TIME]");
    s.add_filter(r"\b\d+\.\d+s\b", "[SECS]");
    // `device = "auto"` names the GPU where there is one.
    s.add_filter(r", on [^,]+, (\d+ candidate)", ", on [DEVICE], $1");
    s
}

fn regex_escape(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '/' || c == '_' || c == '-' {
                c.to_string()
            } else {
                format!("\\{c}")
            }
        })
        .collect()
}

#[test]
fn human_output_of_the_bundled_pipelines() {
    let env = bundled();
    let s = settings(&env);
    s.bind(|| {
        insta::assert_snapshot!(
            "check_filter_dedup",
            env.ok(&["check", "pipelines/filter_dedup.toml"])
        );
        insta::assert_snapshot!(
            "check_filter_balance",
            env.ok(&["check", "pipelines/filter_balance.toml"])
        );
        insta::assert_snapshot!(
            "run_filter_dedup",
            env.ok(&["run", "pipelines/filter_dedup.toml"])
        );
        insta::assert_snapshot!(
            "run_filter_balance",
            env.ok(&["run", "pipelines/filter_balance.toml"])
        );
        insta::assert_snapshot!(
            "run_web_quality",
            env.ok(&["run", "pipelines/web_quality.toml"])
        );
        insta::assert_snapshot!(
            "check_forum_clean",
            env.ok(&["check", "pipelines/forum_clean.toml"])
        );
        insta::assert_snapshot!(
            "run_forum_clean",
            env.ok(&["run", "pipelines/forum_clean.toml"])
        );
        let explain: String = ["2", "403", "40"]
            .iter()
            .map(|r| env.ok(&["explain", "forum-clean", r]))
            .collect();
        insta::assert_snapshot!("explain_forum_clean", explain);
        let explain: String = ["3", "17", "120", "0"]
            .iter()
            .map(|r| env.ok(&["explain", "web-dedup", r]))
            .chain(
                ["5", "3"]
                    .iter()
                    .map(|r| env.ok(&["explain", "web-balanced", r])),
            )
            .collect();
        insta::assert_snapshot!("explain", explain);
        insta::assert_snapshot!("diff", env.ok(&["diff", "web-quality", "web-balanced"]));
        insta::assert_snapshot!(
            "diff_stat",
            env.ok(&["diff", "web-quality", "web-balanced", "--stat"])
        );
        insta::assert_snapshot!("fsck", env.ok(&["fsck"]));
        insta::assert_snapshot!("log", env.ok(&["log"]));
        insta::assert_snapshot!("show_run", env.ok(&["show", "web-balanced"]));
    });
}

#[test]
fn a_spec_error_names_the_stage_field_and_line() {
    let env = bundled();
    env.write(
        "bad.toml",
        "[source]\npath = \"pipelines/data/web_dups.jsonl\"\n\n[[stage]]\nkind = \"dedup\"\nmethod = \"minhash\"\nthreshold = 0.8\n\n[[stage]]\nkind = \"dedup\"\nname = \"near\"\nmethod = \"minhash\"\nthreshold = \"0.8\"\n",
    );
    let s = settings(&env);
    s.bind(|| insta::assert_snapshot!("spec_error", env.fail(&["check", "bad.toml"])));
}
