//! The normalize stage: repairs and normalizes a text column.
//!
//! Fixes run in this order, each only when switched on:
//!
//! | fix | what it does |
//! |---|---|
//! | `mojibake` | UTF-8 that was decoded as Windows-1252 or Latin-1 (`cafÃ©`, `donâ€™t`) is decoded again, up to three layers |
//! | `line_endings` | `\r\n`, `\r`, U+0085, U+2028 and U+2029 become `\n` |
//! | `controls` | control characters other than `\t` and `\n` are removed |
//! | `zero_width` | U+200B, U+2060, U+FEFF (a stray byte-order mark) and soft hyphens are removed |
//! | `nfc` / `nfkc` | Unicode normalization form (`form`) |
//! | `whitespace` | runs of spaces and tabs become one space, lines lose trailing spaces, and more than one blank line becomes one |
//!
//! The mojibake fix is a documented subset of Python's `ftfy.fix_text`: it
//! decodes a character sequence again only where its Windows-1252 bytes form
//! one whole UTF-8 character, so it never breaks text that was right. On
//! UTF-8 decoded as Windows-1252 or Latin-1, once or twice, it gives what
//! `ftfy.fix_encoding` gives (146 cases in `tests/data/mojibake_*.jsonl`, made
//! by `bench/transform_parity.py`). ftfy
//! also uncurls quotes, fixes HTML entities, Latin ligatures and more
//! encodings (MacRoman, cp437), and weighs a "badness" score; sift does none
//! of that (see `bench/transform.sh` for the two side by side).

use std::borrow::Cow;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::{IsNormalized, is_nfc_quick, is_nfkc_quick};

use super::transform::{self, Edit, Fate, TextRewrite};
use super::{Check, Context, ExplainContext, Invalid, Kind, Outcome, Planned, Reason, RunError};
use crate::version::selection::SelectionSet;

/// A normalize stage's spec.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// A name for stats and `sift explain` (default: the kind and position).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The text column to normalize.
    #[serde(default = "super::text_column")]
    pub column: String,
    /// Unicode normalization form: `nfc`, `nfkc` or `none`.
    #[serde(default)]
    pub form: Form,
    /// Repair UTF-8 decoded as Windows-1252 or Latin-1.
    #[serde(default = "super::yes")]
    pub mojibake: bool,
    /// Unify line endings to `\n`.
    #[serde(default = "super::yes")]
    pub line_endings: bool,
    /// Remove control characters other than tab and newline.
    #[serde(default = "super::yes")]
    pub controls: bool,
    /// Remove zero-width spaces, word joiners, stray byte-order marks and soft hyphens.
    #[serde(default = "super::yes")]
    pub zero_width: bool,
    /// Collapse runs of spaces and tabs, trailing spaces and blank lines.
    #[serde(default)]
    pub whitespace: bool,
}

/// A Unicode normalization form.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Form {
    #[default]
    Nfc,
    Nfkc,
    None,
}

/// One fix, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fix {
    Mojibake,
    LineEndings,
    Controls,
    ZeroWidth,
    Nfc,
    Nfkc,
    Whitespace,
}

impl Fix {
    fn name(self) -> &'static str {
        match self {
            Fix::Mojibake => "mojibake",
            Fix::LineEndings => "line_endings",
            Fix::Controls => "controls",
            Fix::ZeroWidth => "zero_width",
            Fix::Nfc => "nfc",
            Fix::Nfkc => "nfkc",
            Fix::Whitespace => "whitespace",
        }
    }

    /// The text fixed, or `None` when the fix changes nothing.
    fn apply(self, text: &str) -> Option<String> {
        let out = match self {
            Fix::Mojibake => mojibake(text)?,
            Fix::LineEndings => {
                if !text.contains(['\r', '\u{85}', '\u{2028}', '\u{2029}']) {
                    return None;
                }
                text.replace("\r\n", "\n")
                    .replace(['\r', '\u{85}', '\u{2028}', '\u{2029}'], "\n")
            }
            Fix::Controls => {
                let bad = |c: char| c.is_control() && c != '\n' && c != '\t';
                if !text.contains(bad) {
                    return None;
                }
                text.chars().filter(|c| !bad(*c)).collect()
            }
            Fix::ZeroWidth => {
                let zw = |c: char| matches!(c, '\u{200B}' | '\u{2060}' | '\u{FEFF}' | '\u{AD}');
                if !text.contains(zw) {
                    return None;
                }
                text.chars().filter(|c| !zw(*c)).collect()
            }
            Fix::Nfc => {
                if is_nfc_quick(text.chars()) == IsNormalized::Yes {
                    return None;
                }
                text.nfc().collect()
            }
            Fix::Nfkc => {
                if is_nfkc_quick(text.chars()) == IsNormalized::Yes {
                    return None;
                }
                text.nfkc().collect()
            }
            Fix::Whitespace => collapse(text),
        };
        (out != text).then_some(out)
    }
}

/// A validated normalize stage.
#[derive(Debug)]
pub struct Plan {
    column: String,
    fixes: Vec<Fix>,
}

impl Kind for Spec {
    const NAME: &'static str = "normalize";
    type Plan = Plan;

    fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    fn validate(&self, cx: &Check) -> Result<Plan, Invalid> {
        cx.text_column("column", &self.column)?;
        let form = match self.form {
            Form::Nfc => Some(Fix::Nfc),
            Form::Nfkc => Some(Fix::Nfkc),
            Form::None => None,
        };
        let fixes: Vec<Fix> = [
            (self.mojibake, Some(Fix::Mojibake)),
            (self.line_endings, Some(Fix::LineEndings)),
            (self.controls, Some(Fix::Controls)),
            (self.zero_width, Some(Fix::ZeroWidth)),
            (true, form),
            (self.whitespace, Some(Fix::Whitespace)),
        ]
        .into_iter()
        .filter_map(|(on, f)| f.filter(|_| on))
        .collect();
        if fixes.is_empty() {
            return Err(Invalid::new("form", "every fix is switched off")
                .hint("set form = \"nfc\", or switch on a fix such as mojibake = true"));
        }
        Ok(Plan {
            column: self.column.clone(),
            fixes,
        })
    }
}

impl TextRewrite for Plan {
    fn column(&self) -> &str {
        &self.column
    }

    /// Each fix counts the rows it changed.
    fn rules(&self) -> Vec<String> {
        self.fixes.iter().map(|f| f.name().to_string()).collect()
    }

    fn rewrite<'t>(&self, text: &'t str, edits: &mut [u64]) -> Fate<Cow<'t, str>> {
        let mut cur: Cow<str> = Cow::Borrowed(text);
        for (k, f) in self.fixes.iter().enumerate() {
            if let Some(next) = f.apply(&cur) {
                edits[k] += 1;
                cur = Cow::Owned(next);
            }
        }
        match cur {
            Cow::Borrowed(_) => Fate::Same,
            Cow::Owned(s) => Fate::Changed(Cow::Owned(s)),
        }
    }

    fn edits_in(&self, text: &str) -> Vec<Edit> {
        let mut out = Vec::new();
        let mut cur = text.to_string();
        for f in &self.fixes {
            if let Some(next) = f.apply(&cur) {
                let (before, after) = first_difference(&cur, &next);
                out.push(Edit {
                    rule: f.name().into(),
                    before,
                    after,
                });
                cur = next;
            }
        }
        out
    }
}

impl Planned for Plan {
    type Detail = ();

    fn run(&self, cx: &Context, input: &SelectionSet) -> Result<Outcome, RunError> {
        transform::run(cx, input, self)
    }

    fn explain(&self, _cx: &ExplainContext) -> Result<Reason<()>, RunError> {
        // Normalizing removes no row.
        Ok(Reason::recorded())
    }

    fn edits(&self, cx: &ExplainContext) -> Result<Vec<Edit>, RunError> {
        transform::explain_row(cx, self)
    }

    fn describe(&self) -> Vec<String> {
        vec![
            format!("column  {}", self.column),
            format!(
                "fixes   {}",
                self.fixes
                    .iter()
                    .map(|f| f.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ]
    }
}

/// Short views of `a` and `b` around where they first differ.
fn first_difference(a: &str, b: &str) -> (String, String) {
    let start = a
        .char_indices()
        .zip(b.chars())
        .find(|((_, x), y)| x != y)
        .map_or(a.len().min(b.len()), |((i, _), _)| i);
    // The common suffix, so the views cover the changed span only.
    let common_end = a
        .bytes()
        .rev()
        .zip(b.bytes().rev())
        .take_while(|(x, y)| x == y)
        .count()
        .min(a.len() - start)
        .min(b.len() - start);
    let end_a = floor(a, a.len() - common_end);
    let end_b = floor(b, b.len() - common_end);
    (
        transform::around(a, start, end_a.max(start)),
        transform::around(b, start, end_b.max(start)),
    )
}

fn floor(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i += 1;
    }
    i
}

/// The Windows-1252 byte a character came from, as ftfy's "sloppy" codec
/// reads it (the five bytes Windows-1252 leaves undefined map to the C1
/// controls, as in Latin-1).
fn cp1252_byte(c: char) -> Option<u8> {
    let v = c as u32;
    if v < 0x80 || (0xA0..=0xFF).contains(&v) || (0x80..=0x9F).contains(&v) {
        return Some(v as u8);
    }
    const HIGH: [(char, u8); 27] = [
        ('€', 0x80),
        ('‚', 0x82),
        ('ƒ', 0x83),
        ('„', 0x84),
        ('…', 0x85),
        ('†', 0x86),
        ('‡', 0x87),
        ('ˆ', 0x88),
        ('‰', 0x89),
        ('Š', 0x8A),
        ('‹', 0x8B),
        ('Œ', 0x8C),
        ('Ž', 0x8E),
        ('\u{2018}', 0x91),
        ('\u{2019}', 0x92),
        ('\u{201C}', 0x93),
        ('\u{201D}', 0x94),
        ('•', 0x95),
        ('–', 0x96),
        ('—', 0x97),
        ('˜', 0x98),
        ('™', 0x99),
        ('š', 0x9A),
        ('›', 0x9B),
        ('œ', 0x9C),
        ('ž', 0x9E),
        ('Ÿ', 0x9F),
    ];
    HIGH.iter().find(|(h, _)| *h == c).map(|(_, b)| *b)
}

/// Repairs UTF-8 read as Windows-1252: each run of characters whose bytes
/// form one whole multi-byte UTF-8 character is replaced by it. Three layers
/// at most; `None` when there is nothing to repair.
pub fn mojibake(text: &str) -> Option<String> {
    let mut cur: Option<String> = None;
    for _ in 0..3 {
        let src = cur.as_deref().unwrap_or(text);
        match mojibake_once(src) {
            Some(next) => cur = Some(next),
            None => break,
        }
    }
    cur
}

fn mojibake_once(text: &str) -> Option<String> {
    // Mojibake of UTF-8 always holds a lead byte from Â..ô.
    if !text.chars().any(|c| ('\u{C2}'..='\u{F4}').contains(&c)) {
        return None;
    }
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut changed = false;
    let mut i = 0;
    while i < chars.len() {
        let lead = cp1252_byte(chars[i]).filter(|b| (0xC2..=0xF4).contains(b));
        if let Some(lead) = lead {
            let len = match lead {
                0xC2..=0xDF => 2,
                0xE0..=0xEF => 3,
                _ => 4,
            };
            if i + len <= chars.len() {
                let mut bytes = vec![lead];
                for c in &chars[i + 1..i + len] {
                    match cp1252_byte(*c).filter(|b| (0x80..=0xBF).contains(b)) {
                        Some(b) => bytes.push(b),
                        None => break,
                    }
                }
                if bytes.len() == len
                    && let Ok(s) = std::str::from_utf8(&bytes)
                {
                    out.push_str(s);
                    changed = true;
                    i += len;
                    continue;
                }
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    changed.then_some(out)
}

/// Runs of spaces and tabs to one space, no trailing spaces, one blank line at most.
fn collapse(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank = 0;
    for (k, line) in text.split('\n').enumerate() {
        let words: Vec<&str> = line.split([' ', '\t']).filter(|w| !w.is_empty()).collect();
        let line = words.join(" ");
        if line.is_empty() {
            blank += 1;
            if blank > 1 {
                continue;
            }
        } else {
            blank = 0;
        }
        if k > 0 {
            out.push('\n');
        }
        out.push_str(&line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(fixes: &[Fix]) -> Plan {
        Plan {
            column: "text".into(),
            fixes: fixes.to_vec(),
        }
    }

    fn fix(p: &Plan, text: &str) -> String {
        let mut n = vec![0; p.fixes.len()];
        match p.rewrite(text, &mut n) {
            Fate::Same => text.to_string(),
            Fate::Changed(c) => c.into_owned(),
            Fate::Removed(r) => panic!("removed by {r}"),
        }
    }

    #[test]
    fn mojibake_is_repaired_as_ftfy_repairs_it() {
        // Examples from ftfy's documentation.
        assert_eq!(
            mojibake("âœ” No problems").as_deref(),
            Some("✔ No problems")
        );
        assert_eq!(
            mojibake("The Mona Lisa doesnÃƒÂ¢Ã¢â€šÂ¬Ã¢â€žÂ¢t have eyebrows.").as_deref(),
            Some("The Mona Lisa doesn\u{2019}t have eyebrows.")
        );
        assert_eq!(mojibake("cafÃ© crÃ¨me").as_deref(), Some("café crème"));
        // Right text stays as it is.
        for ok in ["café crème", "Ã alone", "naïve — “quoted”", "plain ascii"] {
            assert_eq!(mojibake(ok), None, "{ok}");
        }
    }

    #[test]
    fn fixes_run_in_order_and_count_rows() {
        let p = plan(&[
            Fix::LineEndings,
            Fix::Controls,
            Fix::ZeroWidth,
            Fix::Nfkc,
            Fix::Whitespace,
        ]);
        assert_eq!(
            fix(
                &p,
                "\u{FEFF}ﬁne\u{200B} day\r\n\r\n\r\n  two\u{7}\t spaces  "
            ),
            "fine day\n\ntwo spaces"
        );
        let mut n = vec![0; 5];
        p.rewrite("a\r\nb", &mut n);
        assert_eq!(n, [1, 0, 0, 0, 0]);
        let nfc = plan(&[Fix::Nfc]);
        assert_eq!(fix(&nfc, "e\u{301}"), "é");
        let edits = nfc.edits_in("cafe\u{301} noir");
        assert_eq!(edits[0].rule, "nfc");
        assert!(edits[0].after.contains('é'), "{edits:?}");
    }
}
