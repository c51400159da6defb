//! fsck, gc, the catalog rebuild, concurrent writers and crashes.

use std::process::{Command, Stdio};
use std::time::Duration;

use super::util::{Env, Rng, flip_byte, jsonl_rows, lines, object_path};

/// A store with an import (tagged), a second import and a pipeline run.
fn populated() -> Env {
    let env = Env::new();
    env.write("a.jsonl", lines(&jsonl_rows(1, 0, 600)));
    env.write("b.jsonl", lines(&jsonl_rows(2, 0, 300)));
    env.import("a.jsonl", &["--tag", "raw", "--shard-size", "8KiB"]);
    env.import("b.jsonl", &["--shard-size", "8KiB"]);
    env.write(
        "p.toml",
        "[source]\nversion = \"raw\"\n\n[[stage]]\nkind = \"filter\"\nwhere = \"source <> 'web'\"\n\n[[stage]]\nkind = \"balance\"\nlabel = \"source\"\nstrategy = \"cap\"\nmax_per_class = 150\n\n[output]\ntag = \"clean\"\ncompact_below = 0\n",
    );
    env.ok(&["run", "p.toml"]);
    env
}

fn fsck(env: &Env, args: &[&str]) -> (i32, serde_json::Value) {
    let mut a = vec!["fsck", "--json"];
    a.extend_from_slice(args);
    let out = env.sift(&a);
    let v = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("fsck --json: {e}\n{}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code().unwrap_or(-1), v)
}

fn errors(report: &serde_json::Value) -> Vec<serde_json::Value> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] == "error")
        .cloned()
        .collect()
}

/// Object ids a version's manifest names, by kind.
fn named(env: &Env, tag: &str) -> Vec<(String, String)> {
    let m = env.json(&["show", tag, "--json"]);
    let mut out = vec![(
        "manifest".to_string(),
        m["id"].as_str().unwrap().to_string(),
    )];
    for s in m["segments"].as_array().unwrap() {
        for k in ["shard", "fingerprints", "selection"] {
            if let Some(id) = s[k].as_str() {
                out.push((k.to_string(), id.to_string()));
            }
        }
    }
    out
}

#[test]
fn a_healthy_store_checks_clean() {
    let env = populated();
    for args in [&[][..], &["--read-data"][..]] {
        let (code, r) = fsck(&env, args);
        assert_eq!(code, 0, "{r}");
        assert!(errors(&r).is_empty(), "{r}");
        assert_eq!(r["manifests"], 3, "two imports and the run: {r}");
        assert_eq!(r["tags"], 2);
    }
    let text = env.ok(&["fsck"]);
    assert!(text.contains("no errors"), "{text}");
}

/// Reads what uses an object of `kind` in version `clean`; returns the error.
fn read(env: &Env, kind: &str) -> String {
    if kind == "fingerprints" {
        env.fail(&["diff", "raw", "clean", "--stat"])
    } else {
        env.fail(&["cat", "clean"])
    }
}

#[test]
fn any_damaged_object_is_found_and_named_with_the_versions_it_breaks() {
    let env = populated();
    let version = env.json(&["show", "clean", "--json"])["id"].clone();
    // One object of each kind (a middle segment's, for the per-segment kinds).
    let all = named(&env, "clean");
    let mut picked: Vec<(String, String)> = Vec::new();
    for kind in ["manifest", "shard", "fingerprints", "selection"] {
        let of_kind: Vec<_> = all.iter().filter(|(k, _)| k == kind).collect();
        assert!(!of_kind.is_empty(), "the version has a {kind}");
        picked.push(of_kind[of_kind.len() / 2].clone());
    }
    for (kind, id) in picked {
        let path = object_path(&env.store(), &id);
        let original = std::fs::read(&path).unwrap();
        // A flipped byte: found by --read-data, and by reading the version.
        flip_byte(&path, original.len() / 2);
        let (code, r) = fsck(&env, &["--read-data"]);
        assert_eq!(code, 1, "{kind}");
        let errs = errors(&r);
        assert!(
            errs.iter().any(|e| e["subject"] == id.as_str()
                && e["message"].as_str().unwrap().contains("corrupt")),
            "{kind}: {errs:?}"
        );
        let breaks = errs.iter().any(|e| {
            e["versions"]
                .as_array()
                .is_some_and(|v| v.contains(&version))
        });
        assert!(
            breaks || kind == "manifest",
            "{kind}: the finding names the version: {errs:?}"
        );
        let err = read(&env, &kind);
        assert!(err.contains(&id[..12]), "{kind}: {err}");
        // Truncated or missing: found without --read-data.
        std::fs::write(&path, &original[..original.len() / 2]).unwrap();
        if kind != "manifest" {
            let (code, r) = fsck(&env, &[]);
            let shard_only = kind == "shard";
            assert!(code == 1 || !shard_only, "{kind}: truncation {r}");
        }
        std::fs::remove_file(&path).unwrap();
        let (code, r) = fsck(&env, &[]);
        assert_eq!(code, 1, "{kind}: missing");
        assert!(
            errors(&r)
                .iter()
                .any(|e| e["message"].as_str().unwrap().contains("missing")
                    || e["message"].as_str().unwrap().contains("not whole")),
            "{kind}: {r}"
        );
        let err = read(&env, &kind);
        assert!(err.contains(&id[..12]), "{kind}: {err}");
        std::fs::write(&path, &original).unwrap();
        let (code, r) = fsck(&env, &["--read-data"]);
        assert_eq!(code, 0, "{kind}: restored {r}");
    }
}

#[test]
fn a_deleted_catalog_comes_back_whole_with_its_tags() {
    let env = populated();
    env.ok(&["tag", "keep", "raw"]);
    env.ok(&["tag", "gone", "raw"]);
    env.ok(&["tag", "--delete", "gone"]);
    env.ok(&["tag", "raw", "clean"]); // moved
    let before_tags = env.ok(&["tags"]);
    let before_log = env.ok(&["log"]);
    std::fs::remove_dir_all(env.store().join("catalog")).unwrap();
    assert!(env.fail(&["show", "clean"]).contains("unknown ref"));
    let (_, r) = fsck(&env, &[]);
    assert!(
        r["findings"].to_string().contains("not in the catalog"),
        "{r}"
    );
    let out = env.ok(&["fsck", "--rebuild-catalog"]);
    assert!(
        out.contains("rebuilt the catalog: 3 versions, 3 tags"),
        "{out}"
    );
    assert_eq!(env.ok(&["tags"]), before_tags);
    assert_eq!(env.ok(&["log"]), before_log);
    let (code, r) = fsck(&env, &["--read-data"]);
    assert_eq!(code, 0, "{r}");
    assert!(!r["findings"].to_string().contains("disagree"), "{r}");
}

#[test]
fn gc_keeps_what_tags_reach_and_frees_the_rest() {
    let env = populated();
    let raw_rows = env.ok(&["cat", "raw"]);
    let clean_rows = env.ok(&["cat", "clean"]);
    // Dry run: nothing deleted.
    let dry = env.json(&[
        "gc",
        "--dry-run",
        "--keep-untagged",
        "0",
        "--grace",
        "0",
        "--json",
    ]);
    assert_eq!(
        dry["versions_deleted"].as_array().unwrap().len(),
        1,
        "{dry}"
    );
    let objects = env.objects().len();
    assert_eq!(env.objects().len(), objects);
    // Default: untagged versions from the last 7 days stay.
    let kept = env.json(&["gc", "--json"]);
    assert_eq!(kept["objects_deleted"], 0, "{kept}");
    // The untagged import goes; tagged versions and their ancestors stay whole.
    let g = env.json(&["gc", "--keep-untagged", "0", "--grace", "0", "--json"]);
    assert_eq!(g["versions_deleted"].as_array().unwrap().len(), 1, "{g}");
    assert!(g["bytes_freed"].as_u64().unwrap() > 0);
    assert_eq!(env.ok(&["cat", "raw"]), raw_rows);
    assert_eq!(env.ok(&["cat", "clean"]), clean_rows);
    let (code, r) = fsck(&env, &["--read-data"]);
    assert_eq!(code, 0, "{r}");
    assert_eq!(r["orphans"], 0, "{r}");
    // Untag the run: it goes, its source (tagged raw) stays; a re-run recomputes cleanly.
    env.ok(&["tag", "--delete", "clean"]);
    env.ok(&["gc", "--keep-untagged", "0", "--grace", "0"]);
    assert!(env.fail(&["show", "clean"]).contains("unknown ref"));
    let again = env.json(&["run", "p.toml", "--json"]);
    assert_eq!(
        again["stages"][0]["cached"], false,
        "the dropped cache entry re-runs"
    );
    assert_eq!(env.ok(&["cat", "clean"]), clean_rows);
    let (code, r) = fsck(&env, &["--read-data"]);
    assert_eq!(code, 0, "{r}");
    // The grace period spares fresh objects.
    env.write("c.jsonl", lines(&jsonl_rows(3, 0, 50)));
    env.import("c.jsonl", &[]);
    let g = env.json(&["gc", "--keep-untagged", "0", "--json"]);
    assert_eq!(g["objects_deleted"], 0, "{g}");
    assert!(g["objects_spared"].as_u64().unwrap() > 0, "{g}");
}

#[test]
fn eight_writers_at_once_all_land() {
    let env = Env::new();
    for i in 0..8u64 {
        env.write(&format!("w{i}.jsonl"), lines(&jsonl_rows(100 + i, 0, 200)));
    }
    let children: Vec<_> = (0..8)
        .map(|i| {
            let mut c = Command::new(env!("CARGO_BIN_EXE_sift"));
            c.args(["import", &format!("w{i}.jsonl"), "--tag", &format!("w{i}")])
                .current_dir(env.dir.path())
                .env("SIFT_STORE", env.store())
                .stdout(Stdio::null())
                .stderr(Stdio::piped());
            c.spawn().unwrap()
        })
        .collect();
    for (i, c) in children.into_iter().enumerate() {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "writer {i}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let tags = env.ok(&["tags"]);
    for i in 0..8 {
        assert!(tags.contains(&format!("w{i}")), "{tags}");
        assert_eq!(
            env.ok(&["cat", &format!("w{i}")]).lines().count(),
            200,
            "w{i}"
        );
    }
    let (code, r) = fsck(&env, &["--read-data"]);
    assert_eq!(code, 0, "{r}");
    assert_eq!(r["indexed_versions"], 8);
}

/// `sift ARGS` started in the background, its output dropped.
fn spawn_quiet(env: &Env, args: &[&str]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_sift"))
        .args(args)
        .current_dir(env.dir.path())
        .env("SIFT_STORE", env.store())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Kills `sift ARGS` after `delay`, then checks the store is whole and usable.
fn kill_and_check(env: &Env, args: &[&str], delay: Duration) {
    let mut child = spawn_quiet(env, args);
    std::thread::sleep(delay);
    let _ = child.kill(); // SIGKILL
    let _ = child.wait();
    let (code, r) = fsck(env, &[]);
    assert_eq!(code, 0, "after killing {args:?} at {delay:?}: {r}");
    for line in env.ok(&["tags"]).lines() {
        let tag = line.split_whitespace().next().unwrap();
        env.ok(&["cat", tag, "--limit", "1"]);
    }
}

#[test]
fn sigkill_at_random_instants_leaves_every_version_whole() {
    let env = populated();
    env.write("big.jsonl", lines(&jsonl_rows(9, 0, 6000)));
    let mut rng = Rng(2026);
    for round in 0..6 {
        let delay = Duration::from_millis(rng.below(400));
        let tag = format!("t{round}");
        match round % 3 {
            0 => kill_and_check(
                &env,
                &[
                    "import",
                    "big.jsonl",
                    "--tag",
                    &tag,
                    "--shard-size",
                    "16KiB",
                ],
                delay,
            ),
            1 => kill_and_check(&env, &["run", "p.toml", "--tag", &tag], delay),
            _ => kill_and_check(&env, &["gc", "--keep-untagged", "0", "--grace", "0"], delay),
        }
    }
    // The next commands succeed.
    env.import("big.jsonl", &["--tag", "after", "--shard-size", "16KiB"]);
    env.ok(&["run", "p.toml"]);
    let (code, r) = fsck(&env, &["--read-data"]);
    assert_eq!(code, 0, "{r}");
    assert_eq!(env.tmp_files(), 0);
}

#[test]
fn a_dedup_killed_while_spilling_leaves_no_spill_files() {
    let env = populated();
    env.write("big.jsonl", lines(&jsonl_rows(9, 0, 4000)));
    env.import("big.jsonl", &["--tag", "big"]);
    env.write(
        "d.toml",
        "[source]\nversion = \"big\"\n\n[[stage]]\nkind = \"dedup\"\nmethod = \"minhash\"\n",
    );
    // --memory 0: a sorted run every 16 records, a verification chunk per pair.
    let run = ["run", "d.toml", "--memory", "0", "--tag", "d"];
    let tmp = env.store().join("tmp");
    let spills = || {
        std::fs::read_dir(&tmp)
            .map(|d| {
                d.flatten()
                    .filter(|e| e.file_name().to_string_lossy().contains("-spill-"))
                    .count()
            })
            .unwrap_or(0)
    };
    let mut rng = Rng(7);
    for _ in 0..3 {
        let mut child = spawn_quiet(&env, &run);
        // Kill it at a random instant once it has spilled.
        let start = std::time::Instant::now();
        while spills() == 0 && start.elapsed() < Duration::from_secs(30) {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(spills() > 0, "the run spilled nothing");
        std::thread::sleep(Duration::from_millis(rng.below(300)));
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        // The next command that opens the store removes the dead run's files, and says so.
        let (code, r) = fsck(&env, &[]);
        assert_eq!(code, 0, "{r}");
        assert_eq!(env.tmp_files(), 0);
        let found = r.to_string();
        assert!(
            found.contains("dedup spill files") && !found.contains("(0 dedup spill files"),
            "{r}"
        );
        let (_, r) = fsck(&env, &[]);
        assert!(!r.to_string().contains("spill files"), "cleaned once: {r}");
    }
    // Leftovers of a dead process are reported by the fsck that removes them.
    std::fs::write(tmp.join("999999999-spill-0"), b"run").unwrap();
    let (code, r) = fsck(&env, &[]);
    assert_eq!(code, 0, "{r}");
    assert!(
        r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["message"]
                .as_str()
                .unwrap()
                .contains("1 dedup spill files")),
        "{r}"
    );
    assert_eq!(env.tmp_files(), 0);
    // The next run finishes, with the same result as an in-memory run.
    let small = env.json(&["run", "d.toml", "--memory", "64K", "--json"]);
    assert!(small["stages"][0]["dedup"]["spilled"].as_u64().unwrap() > 0);
    assert_eq!(env.tmp_files(), 0);
    let other = Env::new();
    other.write("big.jsonl", lines(&jsonl_rows(9, 0, 4000)));
    other.import("big.jsonl", &["--tag", "big"]);
    other.write("d.toml", std::fs::read(env.path("d.toml")).unwrap());
    let big = other.json(&["run", "d.toml", "--json"]);
    assert_eq!(small["content_id"], big["content_id"]);
}

#[test]
fn gc_spans_take_units() {
    let env = Env::new();
    let r = env.json(&[
        "gc",
        "--dry-run",
        "--grace",
        "0s",
        "--keep-untagged",
        "12h",
        "--json",
    ]);
    assert_eq!(r["dry_run"], true);
    env.ok(&["gc", "--dry-run", "--grace", "1.5h", "--keep-untagged", "0"]);
    let err = env.sift(&["gc", "--grace", "5x"]);
    let err = String::from_utf8_lossy(&err.stderr);
    assert!(
        err.contains("'5x' is not a span") && err.contains("10m"),
        "{err}"
    );
}
