use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A temp directory with a store in it, and a way to run `sift` there.
pub struct Env {
    pub dir: tempfile::TempDir,
}

impl Env {
    pub fn new() -> Env {
        let env = Env::bare();
        env.ok(&["init"]);
        env
    }

    /// A temp directory without a store.
    pub fn bare() -> Env {
        Env {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn store(&self) -> PathBuf {
        self.path(".sift")
    }

    pub fn sift(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_sift"))
            .args(args)
            .current_dir(self.dir.path())
            .env("SIFT_STORE", self.store())
            .env_remove("SIFT_THREADS")
            .env("RUST_BACKTRACE", "0")
            .output()
            .expect("run sift")
    }

    /// Runs sift, asserts success, returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.sift(args);
        assert!(
            out.status.success(),
            "sift {args:?} failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8 stdout")
    }

    /// Runs sift, asserts failure without a panic, returns stderr.
    pub fn fail(&self, args: &[&str]) -> String {
        let out = self.sift(args);
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(
            !out.status.success(),
            "sift {args:?} should fail; stdout:\n{}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert!(!err.contains("panicked"), "sift {args:?} panicked:\n{err}");
        assert_eq!(out.status.code(), Some(2), "exit code; stderr:\n{err}");
        err
    }

    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        serde_json::from_str(&self.ok(args)).expect("json output")
    }

    pub fn write(&self, name: &str, content: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&p, content).unwrap();
        p
    }

    /// Imports a file and returns the `--json` summary.
    pub fn import(&self, file: &str, extra: &[&str]) -> serde_json::Value {
        let mut args = vec!["import", file, "--json"];
        args.extend_from_slice(extra);
        self.json(&args)
    }

    /// Every object file name in the store.
    pub fn objects(&self) -> BTreeSet<String> {
        walk(&self.store().join("objects"))
    }

    pub fn tmp_files(&self) -> usize {
        std::fs::read_dir(self.store().join("tmp"))
            .map(|d| d.count())
            .unwrap_or(0)
    }

    /// Shard ids of a version, in order.
    pub fn shards(&self, reference: &str) -> Vec<String> {
        let m = self.json(&["show", reference, "--json"]);
        m["segments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["shard"].as_str().unwrap().to_string())
            .collect()
    }
}

fn walk(dir: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.insert(p.file_name().unwrap().to_string_lossy().into_owned());
            }
        }
    }
    out
}

/// Deterministic pseudo-random generator (xorshift64*).
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545F4914F6CDD1D)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const WORDS: &[&str] = &[
    "the", "model", "data", "training", "corpus", "token", "web", "page", "quality", "filter",
    "news", "article", "language", "text", "dataset", "version", "shard", "row", "hash", "river",
    "mountain", "city", "history", "science", "music", "market", "energy", "garden", "winter",
    "summer", "library", "engine",
];

/// `n` JSONL rows of `{"id", "source", "text"}`, ids from `start`.
pub fn jsonl_rows(seed: u64, start: usize, n: usize) -> Vec<String> {
    let mut rng = Rng(seed.wrapping_mul(0x9E3779B97F4A7C15) | 1);
    (start..start + n)
        .map(|id| {
            let words = 20 + rng.below(120) as usize;
            let text: Vec<&str> = (0..words)
                .map(|_| WORDS[rng.below(WORDS.len() as u64) as usize])
                .collect();
            let source = ["web", "news", "forum"][rng.below(3) as usize];
            serde_json::json!({"id": id, "source": source, "text": text.join(" ")}).to_string()
        })
        .collect()
}

pub fn lines(rows: &[String]) -> String {
    rows.iter().map(|r| format!("{r}\n")).collect()
}

/// Makes an object file writable and flips one bit of byte `at`.
pub fn flip_byte(path: &Path, at: usize) {
    let mut perms = std::fs::metadata(path).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    std::fs::set_permissions(path, perms).unwrap();
    let mut bytes = std::fs::read(path).unwrap();
    let at = at % bytes.len();
    bytes[at] ^= 0x10;
    std::fs::write(path, bytes).unwrap();
}

/// Path of an object in a store.
pub fn object_path(store: &Path, id: &str) -> PathBuf {
    store.join("objects").join(&id[..2]).join(&id[2..])
}

/// The `id` column of a version, sorted.
pub fn query_ids(env: &Env, tag: &str) -> Vec<u64> {
    let mut v: Vec<u64> = env
        .ok(&[
            "query",
            &format!("SELECT id FROM \"{tag}\""),
            "--format",
            "csv",
        ])
        .lines()
        .skip(1)
        .map(|l| l.parse().unwrap())
        .collect();
    v.sort();
    v
}
