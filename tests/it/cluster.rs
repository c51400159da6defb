//! `sift run --cluster` on a scheduler and executors that are child
//! processes of the sift binary, on 127.0.0.1 with ephemeral ports.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::util::Env;

/// A child process, killed when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `sift cluster ARGS`, returns it and the first line it prints on
/// stderr (the rest is drained on a thread).
fn start(args: &[&str]) -> (Proc, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sift"))
        .arg("cluster")
        .args(args)
        .env("RUST_BACKTRACE", "0")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start sift cluster");
    let mut err = BufReader::new(child.stderr.take().expect("stderr"));
    let mut line = String::new();
    err.read_line(&mut line).expect("read stderr");
    std::thread::spawn(move || {
        let mut rest = String::new();
        while err.read_line(&mut rest).is_ok_and(|n| n > 0) {
            rest.clear();
        }
    });
    (Proc(child), line)
}

/// A scheduler (executors lost after 3 s without a heartbeat); its `df://` address.
fn scheduler() -> (Proc, String) {
    let (p, line) = start(&[
        "scheduler",
        "--bind",
        "127.0.0.1:0",
        "--executor-timeout",
        "3",
    ]);
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("df://"))
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .trim_end_matches(';')
        .to_string();
    (p, url)
}

fn executor(url: &str, extra: &[&str]) -> Proc {
    let at = url.trim_start_matches("df://");
    let mut args = vec!["executor", "--scheduler", at];
    args.extend_from_slice(extra);
    if !extra.contains(&"--tasks") {
        args.extend(["--tasks", "2"]);
    }
    let (p, line) = start(&args);
    assert!(line.contains("registering with"), "{line}");
    p
}

const SPEC: &str = r#"
[source]
path = "docs.jsonl"

[[stage]]
kind = "filter"
name = "quality"
where = "gopher_quality(text) AND gopher_repetition(text)"
rules = { short = "length(text) < 300" }

[[stage]]
kind = "dedup"
name = "near-dups"
method = "minhash"
threshold = 0.8

[[stage]]
kind = "balance"
label = "source"
strategy = "cap"
max_per_class = 30

[output]
tag = "out"
shard_size = "32KiB"
"#;

/// A store with the bundled near-duplicate sample (`copies` times, each
/// copy's ids shifted) and the filter → dedup → balance spec.
fn env(copies: usize) -> Env {
    let env = Env::new();
    let sample = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/data/web_dups.jsonl"),
    )
    .unwrap();
    let mut docs = String::new();
    for c in 0..copies {
        for line in sample.lines() {
            let mut v: serde_json::Value = serde_json::from_str(line).unwrap();
            v["id"] = (v["id"].as_u64().unwrap() + 1000 * c as u64).into();
            docs.push_str(&v.to_string());
            docs.push('\n');
        }
    }
    env.write("docs.jsonl", docs);
    env.write("p.toml", SPEC);
    env
}

/// The run's summary, and the stages' removals.
fn summary(v: &serde_json::Value) -> (String, Vec<serde_json::Value>) {
    (
        v["content_id"].as_str().unwrap().to_string(),
        v["stages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["removed"].clone())
            .collect(),
    )
}

/// Nothing of a failed run is left: no output tag, no spill, a clean fsck.
fn assert_nothing_committed(env: &Env) {
    let err = env.fail(&["show", "out"]);
    assert!(err.contains("out"), "{err}");
    assert_eq!(env.tmp_files(), 0);
    env.ok(&["fsck"]);
}

#[test]
fn a_cluster_run_gives_the_local_content_id_on_two_executors_and_on_one() {
    let local = env(1);
    let ran = local.json(&["run", "p.toml", "--json"]);
    assert!(
        ran["segments"].as_u64().unwrap() > 3,
        "several segments: {ran}"
    );
    let (want, removed) = summary(&ran);
    let want_dedup = ran["stages"][1]["dedup"].clone();
    let want_balance = ran["stages"][2]["balance"].clone();
    assert!(
        want_dedup["candidates"].as_u64().unwrap() > 0,
        "{want_dedup}"
    );

    let (_s, url) = scheduler();
    let first = executor(&url, &[]);
    let _second = executor(&url, &[]);
    let two = env(1);
    let ran = two.json(&["run", "p.toml", "--cluster", &url, "--json"]);
    let (got, got_removed) = summary(&ran);
    assert_eq!(got, want, "two executors");
    assert_eq!(got_removed, removed);
    // The executors did dedup's first pass: every row's band hashes came
    // back as sidecars, and the stage read no text here to hash.
    let dedup = &ran["stages"][1]["dedup"];
    assert_eq!(dedup["reused"], ran["stages"][1]["rows_in"], "{dedup}");
    // The engine's shuffle grouped the band hashes: the same candidates.
    for k in ["candidates", "verified", "clusters", "removed", "details"] {
        assert_eq!(dedup[k], want_dedup[k], "{k}");
    }
    assert!(
        removed[0]["where"].as_u64().unwrap() > 0
            && removed[2]["class_quota"].as_u64().unwrap() > 0,
        "the filter and the balance removed rows: {removed:?}"
    );
    // The executors read the labels and ranks; the classes are the same.
    assert_eq!(ran["stages"][2]["balance"], want_balance);

    // One executor left: its tasks run on the other one.
    let pid = first.0.id();
    let work_dirs = || -> usize {
        std::fs::read_dir(std::env::temp_dir())
            .unwrap()
            .flatten()
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with(&format!("sift-executor-{pid}-"))
            })
            .count()
    };
    assert_eq!(work_dirs(), 1, "the executor's work directory");
    drop(first);
    let one = env(1);
    let (got, _) = summary(&one.json(&["run", "p.toml", "--cluster", &url, "--json"]));
    assert_eq!(got, want, "one executor");
    // The killed executor's work directory goes when another one starts.
    let _third = executor(&url, &[]);
    assert_eq!(
        work_dirs(),
        0,
        "a dead executor's work directory is removed"
    );
}

#[test]
fn killing_an_executor_mid_run_completes_with_the_same_id_or_fails_cleanly() {
    let local = env(8);
    let (want, _) = summary(&local.json(&["run", "p.toml", "--json"]));

    let (_s, url) = scheduler();
    let mut doomed = executor(&url, &["--tasks", "1"]);
    let _other = executor(&url, &["--tasks", "1"]);
    let env = env(8);
    let run = Command::new(env!("CARGO_BIN_EXE_sift"))
        .args(["run", "p.toml", "--cluster", &url, "--json"])
        .current_dir(env.dir.path())
        .env("SIFT_STORE", env.store())
        .env("RUST_BACKTRACE", "0")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(700));
    doomed.0.kill().unwrap();
    let started = Instant::now();
    let out = run.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(120),
        "the run ended after the kill"
    );
    eprintln!(
        "after the kill the run {} in {:?}: {err}",
        if out.status.success() {
            "completed"
        } else {
            "failed"
        },
        started.elapsed()
    );
    if out.status.success() {
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(summary(&v).0, want);
        env.ok(&["fsck"]);
    } else {
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains("on the cluster"), "{err}");
        assert_nothing_committed(&env);
    }
}

#[test]
fn an_unreachable_scheduler_or_a_bad_address_fails_before_anything_is_written() {
    let env = env(1);
    let before = env.objects();
    // A port nothing listens on: bind one, then let it go.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("df://127.0.0.1:{port}");
    let err = env.fail(&["run", "p.toml", "--cluster", &url]);
    assert!(
        err.contains(&format!("cannot reach the sift scheduler at {url}")),
        "{err}"
    );
    let mut settings = insta::Settings::clone_current();
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings.add_filter(&port.to_string(), "[PORT]");
    settings.add_filter(r"\(os error \d+\)", "(os error N)");
    settings.bind(|| insta::assert_snapshot!("cluster_unreachable", err));
    assert!(
        err.contains("hint: start one there with `sift cluster scheduler"),
        "{err}"
    );
    let err = env.fail(&["run", "p.toml", "--cluster", "http://host/x"]);
    assert!(err.contains("write df://HOST:PORT"), "{err}");
    assert_eq!(env.objects(), before, "nothing was written");
}

#[test]
fn an_executor_of_another_version_refuses_the_task() {
    let (_s, url) = scheduler();
    let _old = executor(&url, &["--claim-version", "0.0.1"]);
    let env = env(1);
    let err = env.fail(&["run", "p.toml", "--cluster", &url]);
    assert!(
        err.contains("stage 1 (quality) on the cluster: the executor runs sift 0.0.1"),
        "{err}"
    );
    assert!(err.contains("it refused the task"), "{err}");
    assert!(
        err.contains("hint: run the same sift on the client"),
        "{err}"
    );
    assert_nothing_committed(&env);
}

#[test]
fn an_executor_that_cannot_read_the_store_says_so() {
    let (_s, url) = scheduler();
    let missing = std::env::temp_dir().join("sift-no-such-store");
    let _ex = executor(&url, &["--store-path", missing.to_str().unwrap()]);
    let env = env(1);
    let err = env.fail(&["run", "p.toml", "--cluster", &url]);
    assert!(
        err.contains(&format!("cannot read the store at {}", missing.display())),
        "{err}"
    );
    assert!(err.contains("--store-path"), "{err}");
    assert_nothing_committed(&env);
}

/// Runs `spec` on multilingual rows locally and on the cluster at `url`:
/// the same content id, removals and, for each stage, `stats` (its stats'
/// key in `--json`), and every stage ran on the executors.
fn same_on_the_cluster(url: &str, spec: &str, stats: &[&str], files: &[(&str, &[u8])]) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let sample = std::fs::read(root.join("pipelines/data/multilingual.jsonl")).unwrap();
    let (env, local) = (Env::new(), Env::new());
    for e in [&env, &local] {
        e.write("multi.jsonl", &sample);
        e.write("p.toml", spec);
        for (name, bytes) in files {
            e.write(name, bytes);
        }
    }
    let want = local.json(&["run", "p.toml", "--json"]);
    let out = env.sift(&["run", "p.toml", "--cluster", url, "--json"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(!err.contains("runs here"), "{err}");
    let got: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary(&got), summary(&want));
    for (i, key) in stats.iter().enumerate() {
        assert!(
            err.contains(&format!("stage {} (", i + 1)) && err.contains("on the cluster at"),
            "{err}"
        );
        assert!(!want["stages"][i][key].is_null(), "{want}");
        assert_eq!(
            got["stages"][i][key],
            want["stages"][i][key],
            "stage {}",
            i + 1
        );
    }
}

#[test]
fn language_tokens_and_classifier_stages_run_on_the_cluster_from_files_kept_in_the_store() {
    let (_s, url) = scheduler();
    let _ex = executor(&url, &[]);
    let source = "[source]\npath = \"multi.jsonl\"\n\n[output]\nshard_size = \"1KiB\"\n";
    let language = "[[stage]]\nkind = \"language\"\nlanguages = [\"en\", \"de\"]\n";
    same_on_the_cluster(
        &url,
        &format!(
            "{source}\n{language}\n[[stage]]\nkind = \"filter\"\nwhere = \"length(text) > 20\"\n"
        ),
        &["language"],
        &[],
    );
    // The tokenizer is read from the spec's directory here; the executors
    // read its bytes from the store, by the id the stage records.
    let tokenizer = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/data/tokenizer.json"),
    )
    .unwrap();
    same_on_the_cluster(
        &url,
        &format!(
            "{source}\n[[stage]]\nkind = \"tokens\"\ntokenizer = \"tok.json\"\nmin = 8\nmax = 40\n"
        ),
        &["tokens"],
        &[("tok.json", &tokenizer)],
    );
    let Some(model) = super::language::lid176() else {
        return;
    };
    let fasttext = language.replace(
        "languages = [",
        "model = { fasttext = \"lid.176.ftz\" }\nlanguages = [",
    );
    let classifier = "[[stage]]\nkind = \"classifier\"\nmodel = { fasttext = \"lid.176.ftz\" }\nlabel = \"__label__de\"\nkeep_below = 0.5\n";
    same_on_the_cluster(
        &url,
        &format!("{source}\n{fasttext}\n{classifier}"),
        &["language", "classifier"],
        &[("lid.176.ftz", &model)],
    );
    // Writing a score column writes rows: that runs here, and says why.
    let env = Env::new();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    env.write(
        "multi.jsonl",
        std::fs::read(root.join("pipelines/data/multilingual.jsonl")).unwrap(),
    );
    env.write("lid.176.ftz", &model);
    env.write(
        "p.toml",
        format!("{source}\n{classifier}score_column = \"de_score\"\n"),
    );
    let out = env.sift(&["run", "p.toml", "--cluster", &url]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("stage 1 (classifier-1) runs here: a classifier stage that writes a score column writes its rows here"),
        "{err}"
    );
}
