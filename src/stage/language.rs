//! The language stage: keep rows whose text is in one of the wanted
//! languages, with a score of at least `min_score`.
//!
//! ```text
//! text ─▶ model ─▶ (language, score)
//!      ─▶ kept if language ∈ languages and score ≥ min_score
//! ```
//!
//! The model is whatlang (embedded: nothing to download), or any fastText
//! language model given by path (`model = { fasttext = "lid.176.ftz" }`:
//! lid.176 `.bin`/`.ftz`, GlotLID). A fastText model's BLAKE3 is in the stage
//! hash and its spec's `inputs`, and its bytes are kept in the store (see
//! [`super::models`]), so a version says which model filtered it.
//!
//! With whatlang, languages are named by ISO 639-1 (`en`) or 639-3 (`eng`)
//! codes and reported by their 639-1 code. With fastText they are reported
//! by the model's labels (`en` for lid.176, `eng_Latn` for GlotLID), and a
//! wanted code matches a label by either standard (`eng` matches lid.176's
//! `en`, `en` matches GlotLID's `eng_Latn`). The top label decides, as with
//! datatrove's `LanguageFilter` at a threshold above 0.5.
//! `language(text)` and `language_score(text)` are UDFs for any filter and
//! for `sift query`; they answer with whatlang.

use datafusion::prelude::SessionContext;
use roaring::RoaringBitmap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::dedup::texts;
use super::models;
use super::{
    Check, Context, ExplainContext, Invalid, Kind, Outcome, Part, Planned, Reason, RunError,
    StageStats,
};
use crate::version::selection::SelectionSet;
use crate::version::stats::{LanguageStats, RowCount};

/// A language stage's spec.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// A name for stats and `sift explain` (default: the kind and position).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The text column (default `text`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    /// The languages to keep, as ISO 639-1 (`en`) or 639-3 (`eng`) codes.
    pub languages: Vec<String>,
    /// The least score a kept row's language must have, in [0, 1] (default 0.5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_score: Option<f64>,
    /// The model: `"whatlang"` (the default, embedded in sift) or
    /// `{ fasttext = "lid.176.ftz" }`, a fastText language model relative to the spec file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<Model>,
}

/// Language identification models.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Model {
    /// whatlang 0.18: trigram profiles of 70 languages, embedded in sift.
    #[default]
    Whatlang,
    /// A fastText language model file (lid.176 `.bin`/`.ftz`, GlotLID), relative to the spec file.
    Fasttext(String),
}

/// What answers.
#[derive(Debug)]
pub enum Detector {
    Whatlang,
    FastText(models::Model),
}

impl Detector {
    /// The detected language and its score; `None` when the model cannot tell.
    pub fn detect(&self, text: &str) -> Option<(String, f64)> {
        match self {
            Detector::Whatlang => detect(text).map(|(l, s)| (l.to_string(), s)),
            Detector::FastText(m) => m
                .predict(text, 1)
                .into_iter()
                .next()
                .map(|p| (p.label, p.prob)),
        }
    }

    fn describe(&self) -> String {
        match self {
            Detector::Whatlang => "whatlang 0.18".into(),
            Detector::FastText(m) => m.describe(),
        }
    }
}

/// A validated language stage.
#[derive(Debug)]
pub struct Plan {
    pub column: String,
    /// The wanted languages as the model names them (639-1 codes for whatlang), in spec order.
    pub languages: Vec<String>,
    pub min_score: f64,
    pub model: Detector,
}

/// ISO 639-3 (whatlang's codes) and 639-1 codes of the languages the model knows.
const CODES: [(&str, &str); 70] = [
    ("epo", "eo"),
    ("eng", "en"),
    ("rus", "ru"),
    ("cmn", "zh"),
    ("spa", "es"),
    ("por", "pt"),
    ("ita", "it"),
    ("ben", "bn"),
    ("fra", "fr"),
    ("deu", "de"),
    ("ukr", "uk"),
    ("kat", "ka"),
    ("ara", "ar"),
    ("hin", "hi"),
    ("jpn", "ja"),
    ("heb", "he"),
    ("yid", "yi"),
    ("pol", "pl"),
    ("amh", "am"),
    ("jav", "jv"),
    ("kor", "ko"),
    ("nob", "nb"),
    ("dan", "da"),
    ("swe", "sv"),
    ("fin", "fi"),
    ("tur", "tr"),
    ("nld", "nl"),
    ("hun", "hu"),
    ("ces", "cs"),
    ("ell", "el"),
    ("bul", "bg"),
    ("bel", "be"),
    ("mar", "mr"),
    ("kan", "kn"),
    ("ron", "ro"),
    ("slv", "sl"),
    ("hrv", "hr"),
    ("srp", "sr"),
    ("mkd", "mk"),
    ("lit", "lt"),
    ("lav", "lv"),
    ("est", "et"),
    ("tam", "ta"),
    ("vie", "vi"),
    ("urd", "ur"),
    ("tha", "th"),
    ("guj", "gu"),
    ("uzb", "uz"),
    ("pan", "pa"),
    ("aze", "az"),
    ("ind", "id"),
    ("tel", "te"),
    ("pes", "fa"),
    ("mal", "ml"),
    ("ori", "or"),
    ("mya", "my"),
    ("nep", "ne"),
    ("sin", "si"),
    ("khm", "km"),
    ("tuk", "tk"),
    ("aka", "ak"),
    ("zul", "zu"),
    ("sna", "sn"),
    ("afr", "af"),
    ("lat", "la"),
    ("slk", "sk"),
    ("cat", "ca"),
    ("tgl", "tl"),
    ("hye", "hy"),
    ("cym", "cy"),
];

/// The 639-1 code for a 639-1 or 639-3 code the model knows.
fn known(code: &str) -> Option<&'static str> {
    let c = code.trim().to_ascii_lowercase();
    CODES
        .iter()
        .find(|(three, one)| *three == c || *one == c)
        .map(|(_, one)| *one)
}

/// The labels of a fastText model that a wanted code names: the label
/// itself, its language part (`eng` of `eng_Latn`), or the same language by
/// the other ISO standard.
fn matching(code: &str, labels: &[String]) -> Vec<String> {
    let c = code.trim().to_ascii_lowercase();
    let same = |l: &str| {
        let l = l.to_ascii_lowercase();
        let lang = l.split(['_', '-']).next().unwrap_or(&l).to_string();
        c == l || c == lang || known(&c).is_some_and(|k| known(&lang) == Some(k))
    };
    labels.iter().filter(|l| same(l)).cloned().collect()
}

/// The detected language (639-1) and its score; `None` when the model cannot tell.
pub fn detect(text: &str) -> Option<(&'static str, f64)> {
    let info = whatlang::detect(text)?;
    let code = info.lang().code();
    let one = CODES
        .iter()
        .find(|(three, _)| *three == code)
        .map_or(code, |(_, one)| *one);
    Some((one, info.confidence()))
}

impl Kind for Spec {
    const NAME: &'static str = "language";
    type Plan = Plan;

    fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    fn validate(&self, cx: &Check) -> Result<Plan, Invalid> {
        let column = self.column.clone().unwrap_or_else(|| "text".into());
        cx.text_column("column", &column)?;
        if self.languages.is_empty() {
            return Err(
                Invalid::new("languages", "name at least one language to keep")
                    .hint("e.g. languages = [\"en\"]"),
            );
        }
        let model = match self.model.clone().unwrap_or_default() {
            Model::Whatlang => Detector::Whatlang,
            Model::Fasttext(file) => Detector::FastText(models::Model::open(cx, "model", &file)?),
        };
        let mut languages: Vec<String> = Vec::new();
        for (i, code) in self.languages.iter().enumerate() {
            let (found, all) = match &model {
                Detector::Whatlang => (
                    known(code).map(str::to_string).into_iter().collect(),
                    CODES.iter().map(|(_, one)| one.to_string()).collect(),
                ),
                Detector::FastText(m) => {
                    let labels = m.labels();
                    (matching(code, &labels), labels)
                }
            };
            if found.is_empty() {
                return Err(Invalid::new(
                    format!("languages[{i}]"),
                    format!(
                        "`{code}` is not an ISO 639-1 or 639-3 code of a language the model knows"
                    ),
                )
                .hint(format!("{} knows: {}", model.describe(), all.join(", "))));
            }
            for c in found {
                if !languages.contains(&c) {
                    languages.push(c);
                }
            }
        }
        let min_score = self.min_score.unwrap_or(0.5);
        if !(0.0..=1.0).contains(&min_score) {
            return Err(Invalid::new(
                "min_score",
                format!("min_score must be in [0, 1], got {min_score}"),
            ));
        }
        Ok(Plan {
            column,
            languages,
            min_score,
            model,
        })
    }

    fn register_udfs(ctx: &SessionContext) {
        use crate::stage::quality::udfs::{float1, reason1};
        ctx.register_udf(reason1("language", |t| detect(t).map(|(l, _)| l)));
        ctx.register_udf(float1("language_score", |t| {
            detect(t).map_or(0.0, |(_, s)| s)
        }));
    }
}

/// A language removal's evidence: what the model said.
#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
pub struct Detail {
    /// The detected language (639-1), absent when the model could not tell.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
}

/// Why a row is removed, or `None` to keep it.
fn verdict(plan: &Plan, found: &Option<(String, f64)>) -> Option<&'static str> {
    match found {
        None => Some("no_language"),
        Some((l, _)) if !plan.languages.contains(l) => Some("other_language"),
        Some((_, s)) if *s < plan.min_score => Some("low_score"),
        Some(_) => None,
    }
}

impl Plan {
    /// A segment's part: the rows kept, removals per rule, and rows per
    /// detected language (`und` where none) before and after.
    fn part(&self, cx: &Context, batches: &super::rows::SegmentBatches) -> Result<Part, RunError> {
        let mut part = Part::default();
        super::rows::segment_texts(
            cx,
            batches,
            &self.column,
            |text| self.model.detect(text),
            |row, found| {
                let lang = found.as_ref().map_or("und", |(l, _)| l.as_str());
                let counts = match part.counts.get_mut(lang) {
                    Some(c) => c,
                    None => part.counts.entry(lang.to_string()).or_insert((0, 0)),
                };
                counts.0 += 1;
                match verdict(self, &found) {
                    None => {
                        part.kept.insert(row);
                        counts.1 += 1;
                    }
                    Some(rule) => *part.removed.entry(rule.to_string()).or_default() += 1,
                }
                Ok(())
            },
        )?;
        Ok(part)
    }
}

impl Planned for Plan {
    type Detail = Detail;

    fn per_segment(&self) -> bool {
        true
    }

    fn keep_inputs(&self, store: &crate::store::Store) -> Result<(), RunError> {
        match &self.model {
            Detector::FastText(m) => m.keep(store),
            Detector::Whatlang => Ok(()),
        }
    }

    fn run(&self, cx: &Context, input: &SelectionSet) -> Result<Outcome, RunError> {
        self.keep_inputs(cx.store)?;
        let parts = super::rows::parts(cx, input, |_, batches| self.part(cx, &batches))?;
        Ok(self.merge(parts))
    }

    fn run_segment(
        &self,
        cx: &Context,
        segment: usize,
        rows: &RoaringBitmap,
    ) -> Option<Result<Part, RunError>> {
        Some(super::rows::segment(cx, segment, rows).and_then(|batches| self.part(cx, &batches)))
    }

    fn merge(&self, parts: Vec<Part>) -> Outcome {
        let mut languages: std::collections::BTreeMap<String, RowCount> = Default::default();
        for p in &parts {
            for (lang, (before, after)) in &p.counts {
                let c = languages.entry(lang.clone()).or_insert(RowCount {
                    before: 0,
                    after: 0,
                });
                c.before += before;
                c.after += after;
            }
        }
        let rules = ["other_language", "low_score", "no_language"]
            .iter()
            .map(|r| (r.to_string(), 0))
            .collect();
        let mut outcome = super::merge_parts(rules, parts);
        // Most rows first; ties by code, so the order does not depend on the data's order.
        let mut languages: Vec<(String, RowCount)> = languages.into_iter().collect();
        languages.sort_by(|a, b| b.1.before.cmp(&a.1.before).then(a.0.cmp(&b.0)));
        outcome.stats = StageStats::Language(LanguageStats {
            model: self.model.describe(),
            languages: languages.into_iter().collect(),
        });
        outcome
    }

    fn explain(&self, cx: &ExplainContext) -> Result<Reason<Detail>, RunError> {
        let Some(batch) = cx.row()? else {
            return Ok(Reason::recorded());
        };
        let batch = &batch;
        let text = texts(batch, &self.column).first().copied().unwrap_or("");
        let found = self.model.detect(text);
        let Some(rule) = verdict(self, &found) else {
            return Ok(Reason::recorded());
        };
        let wanted = format!(
            "wanted {} ≥ {}",
            self.languages.join(" or "),
            self.min_score
        );
        let because = match &found {
            Some((l, s)) => format!("detected `{l}` with score {s:.2}; {wanted}"),
            None => format!("no language detected; {wanted}"),
        };
        Ok(Reason {
            rule: Some(rule.into()),
            expr: None,
            because,
            detail: Detail {
                language: found.as_ref().map(|(l, _)| l.clone()),
                score: found.as_ref().map(|(_, s)| *s),
            },
        })
    }

    fn describe(&self) -> Vec<String> {
        vec![format!(
            "keep `{}` in {} with score ≥ {} (model {})",
            self.column,
            self.languages.join(", "),
            self.min_score,
            match &self.model {
                Detector::Whatlang => "whatlang, embedded".to_string(),
                Detector::FastText(m) => m.describe(),
            }
        )]
    }

    fn inputs(&self) -> super::Inputs {
        match &self.model {
            Detector::Whatlang => super::Inputs::new(),
            Detector::FastText(m) => m.inputs(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_model_names_languages_of_short_and_long_texts() {
        let cases = [
            (
                "en",
                "The quick brown fox jumps over the lazy dog and runs away into the forest.",
            ),
            (
                "de",
                "Der schnelle braune Fuchs springt über den faulen Hund und läuft in den Wald.",
            ),
            (
                "fr",
                "Le renard brun rapide saute par-dessus le chien paresseux et court dans la forêt.",
            ),
            (
                "es",
                "El rápido zorro marrón salta sobre el perro perezoso y corre hacia el bosque.",
            ),
            (
                "it",
                "La veloce volpe marrone salta sopra il cane pigro e corre verso la foresta.",
            ),
            (
                "pt",
                "A rápida raposa marrom pula sobre o cão preguiçoso e corre para a floresta.",
            ),
            (
                "ru",
                "Быстрая коричневая лиса прыгает через ленивую собаку и убегает в лес.",
            ),
            (
                "ja",
                "素早い茶色の狐がのろまな犬を飛び越えて森の中へ走っていった。",
            ),
            (
                "nl",
                "De snelle bruine vos springt over de luie hond en rent het bos in.",
            ),
            (
                "pl",
                "Szybki brązowy lis przeskakuje nad leniwym psem i biegnie do lasu.",
            ),
        ];
        for (want, text) in cases {
            let (got, score) = detect(text).unwrap();
            assert_eq!(got, want, "{text}");
            assert!(score > 0.0, "{text}");
            // A long text (the same sentence ten times) gets the same answer.
            let long = [text; 10].join(" ");
            assert_eq!(detect(&long).unwrap().0, want);
        }
        assert_eq!(detect(""), None);
    }

    #[test]
    fn codes_of_both_standards_are_known_and_others_refused() {
        assert_eq!(known("en"), Some("en"));
        assert_eq!(known("ENG"), Some("en"));
        assert_eq!(known("pes"), Some("fa"));
        assert_eq!(known("xx"), None);
        assert_eq!(known("klingon"), None);
    }
}
