//! The lines stage: drops lines of a text column by named rules or SQL, and
//! removes a row left with no line.
//!
//! With `preset = "c4"` it is datatrove's `C4QualityFilter` with its line
//! removal: lines are stripped, citation markers deleted, and lines without
//! terminal punctuation, of fewer than 3 words, with "javascript" or a
//! cookie or terms notice dropped; a document with "lorem ipsum" or `{`, or
//! of fewer than 5 sentences, is removed; the rest is the kept lines joined
//! by newlines. Otherwise each line (its stripped text) is tested by the
//! rules of `drop`, then the SQL predicates of `drop_if` over a `line`
//! column, in spec order, and the first that holds drops it; kept lines are
//! left as they were.

use std::borrow::Cow;
use std::sync::Arc;

use arrow::array::{RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::filter::{OnError, Rule, Verdict, compile, evaluate};
use super::quality::{c4_lines, c4_policy, c4_unterminated, py_strip};
use super::transform::{self, Edit, Fate, RewriteError, TextRewrite};
use super::{Check, Context, ExplainContext, Invalid, Kind, Outcome, Planned, Reason, RunError};
use crate::version::selection::SelectionSet;

/// A lines stage's spec.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// A name for stats and `sift explain` (default: the kind and position).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The text column to clean.
    #[serde(default = "super::text_column")]
    pub column: String,
    /// A published line filter: `c4` (datatrove's `C4QualityFilter`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preset: Option<Preset>,
    /// Named line rules, tested in this order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drop: Vec<LineRule>,
    /// Words a line needs to escape `short`.
    #[serde(default = "default_min_words")]
    pub min_words: usize,
    /// Named SQL predicates over `line` (the stripped line); a line is
    /// dropped where one is true, e.g. `short = "word_count(line) < 3"`.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub drop_if: IndexMap<String, String>,
    /// What to do when a `drop_if` predicate errors or is null on a line.
    #[serde(default)]
    pub on_error: OnError,
}

fn default_min_words() -> usize {
    3
}

/// A published line filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Preset {
    /// C4 with datatrove's defaults (5 sentences, 3 words per line).
    C4,
}

/// A named line rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LineRule {
    /// Does not end with `.`, `?`, `!`, `"` or `'`, or ends with `...` (C4).
    NoTerminalPunct,
    /// Mentions "javascript" (C4).
    Javascript,
    /// Holds a cookie or terms notice ("privacy policy", "uses cookies", …; C4).
    Policy,
    /// Holds "lorem ipsum".
    LoremIpsum,
    /// Has no letter or digit (`----`, `* * *`, `|`).
    SymbolsOnly,
    /// Has fewer than `min_words` words.
    Short,
}

impl LineRule {
    fn name(self) -> &'static str {
        match self {
            LineRule::NoTerminalPunct => "no_terminal_punct",
            LineRule::Javascript => "javascript",
            LineRule::Policy => "policy",
            LineRule::LoremIpsum => "lorem_ipsum",
            LineRule::SymbolsOnly => "symbols_only",
            LineRule::Short => "short",
        }
    }

    fn drops(self, line: &str, min_words: usize) -> bool {
        match self {
            LineRule::NoTerminalPunct => c4_unterminated(line),
            LineRule::Javascript => line.to_lowercase().contains("javascript"),
            LineRule::Policy => c4_policy(&line.to_lowercase()),
            LineRule::LoremIpsum => line.to_lowercase().contains("lorem ipsum"),
            LineRule::SymbolsOnly => !line.chars().any(char::is_alphanumeric),
            LineRule::Short => line.split_whitespace().count() < min_words,
        }
    }
}

/// The rule names C4 counts edits under.
const C4_EDITS: [&str; 6] = [
    "too_long_word",
    "no_terminal_punct",
    "too_few_words",
    "javascript",
    "policy",
    "citations",
];

/// A validated lines stage.
#[derive(Debug)]
pub struct Plan {
    column: String,
    preset: Option<Preset>,
    drop: Vec<LineRule>,
    min_words: usize,
    sql: Vec<Rule>,
    on_error: OnError,
}

impl Kind for Spec {
    const NAME: &'static str = "lines";
    type Plan = Plan;

    fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    fn validate(&self, cx: &Check) -> Result<Plan, Invalid> {
        cx.text_column("column", &self.column)?;
        if self.preset.is_some() && (!self.drop.is_empty() || !self.drop_if.is_empty()) {
            return Err(Invalid::new(
                "preset",
                "a preset is a whole line filter; it takes no `drop` or `drop_if`",
            )
            .hint("use a second lines stage for more rules"));
        }
        if self.preset.is_none() && self.drop.is_empty() && self.drop_if.is_empty() {
            return Err(
                Invalid::new("drop", "name a preset, line rules or `drop_if`")
                    .hint("e.g. preset = \"c4\", or drop = [\"no_terminal_punct\", \"short\"]"),
            );
        }
        let schema = line_schema();
        let rules: Vec<(String, String, bool)> = self
            .drop_if
            .iter()
            .map(|(n, e)| (n.clone(), e.clone(), false))
            .collect();
        let sql = compile(&schema, &rules).map_err(|e| Invalid {
            field: format!("drop_if.{}", e.rule),
            message: e.message,
            hint: e
                .hint
                .or_else(|| Some("a `drop_if` predicate sees one column, `line`".into())),
        })?;
        Ok(Plan {
            column: self.column.clone(),
            preset: self.preset,
            drop: self.drop.clone(),
            min_words: self.min_words,
            sql,
            on_error: self.on_error,
        })
    }
}

/// The one column a `drop_if` predicate sees.
fn line_schema() -> arrow::datatypes::SchemaRef {
    Arc::new(Schema::new(vec![Field::new("line", DataType::Utf8, true)]))
}

/// A line's fate under the named rules: the index of the rule that drops it.
type LineVerdict = Option<usize>;

impl Plan {
    /// The named rule (index into [`TextRewrite::rules`]) dropping the
    /// stripped `line`, if any; blank lines stay.
    fn named(&self, line: &str) -> LineVerdict {
        if line.is_empty() {
            return None;
        }
        self.drop.iter().position(|r| r.drops(line, self.min_words))
    }

    /// Rebuilds a text from its lines and each line's verdict.
    fn assemble<'t>(
        &self,
        text: &'t str,
        lines: &[&'t str],
        verdicts: &[LineVerdict],
        edits: &mut [u64],
    ) -> Fate<Cow<'t, str>> {
        if verdicts.iter().all(Option::is_none) {
            return Fate::Same;
        }
        let mut kept: Vec<&str> = Vec::new();
        for (line, v) in lines.iter().zip(verdicts) {
            match v {
                Some(r) => edits[*r] += 1,
                None => kept.push(line),
            }
        }
        let out = kept.join("\n");
        let out = out.trim_matches(['\n', '\r']);
        if out.trim().is_empty() {
            return Fate::Removed("empty".into());
        }
        if out == text {
            Fate::Same
        } else {
            Fate::Changed(Cow::Owned(out.to_string()))
        }
    }

    fn c4<'t>(&self, text: &'t str, edits: &mut [u64]) -> Fate<Cow<'t, str>> {
        match c4_lines(text, true) {
            Err(rule) => Fate::Removed(rule.into()),
            Ok(l) => {
                for (rule, _) in &l.dropped {
                    let k = C4_EDITS.iter().position(|r| r == rule).expect("a C4 rule");
                    edits[k] += 1;
                }
                edits[5] += l.cited.len() as u64;
                let out = l.text();
                if out == text {
                    Fate::Same
                } else {
                    Fate::Changed(Cow::Owned(out))
                }
            }
        }
    }

    /// The verdicts of the named rules, then of `drop_if`, on every line of `texts`.
    fn verdicts(&self, all: &[(usize, &str)]) -> Result<Vec<LineVerdict>, RewriteError> {
        let mut verdicts: Vec<LineVerdict> =
            all.iter().map(|(_, l)| self.named(py_strip(l))).collect();
        if self.sql.is_empty() {
            return Ok(verdicts);
        }
        // The lines no named rule dropped, as one batch for the predicates.
        let open: Vec<usize> = (0..all.len())
            .filter(|&i| verdicts[i].is_none() && !py_strip(all[i].1).is_empty())
            .collect();
        if open.is_empty() {
            return Ok(verdicts);
        }
        let array = StringArray::from_iter_values(open.iter().map(|&i| py_strip(all[i].1)));
        let schema = line_schema();
        let batch = RecordBatch::try_new(schema, vec![Arc::new(array)]).expect("one text column");
        let sql = evaluate(&self.sql, self.on_error, &batch).map_err(|e| RewriteError {
            row: all[open[e.row]].0,
            rule: self.sql[e.rule].name.clone(),
            expr: self.sql[e.rule].expr.clone(),
            message: format!("on line {:?}: {}", shorten(all[open[e.row]].1), e.message),
        })?;
        for (&i, v) in open.iter().zip(sql) {
            verdicts[i] = match v {
                Verdict::Keep => None,
                Verdict::Removed(r) | Verdict::Errored(r, _) => Some(self.drop.len() + r),
            };
        }
        Ok(verdicts)
    }
}

/// A line as explain shows it: up to about 80 bytes.
fn shorten(line: &str) -> String {
    transform::around(line, 0, line.len().min(56))
}

impl TextRewrite for Plan {
    fn column(&self) -> &str {
        &self.column
    }

    fn rules(&self) -> Vec<String> {
        match self.preset {
            Some(Preset::C4) => C4_EDITS.iter().map(|s| s.to_string()).collect(),
            None => self
                .drop
                .iter()
                .map(|r| r.name().to_string())
                .chain(self.sql.iter().map(|r| r.name.clone()))
                .collect(),
        }
    }

    fn rewrite<'t>(&self, text: &'t str, edits: &mut [u64]) -> Fate<Cow<'t, str>> {
        match self.rewrite_all(&[Some(text)], edits) {
            Ok(mut f) => f.pop().unwrap_or(Fate::Same),
            Err(_) => Fate::Same,
        }
    }

    fn rewrite_all<'t>(
        &self,
        texts: &[Option<&'t str>],
        edits: &mut [u64],
    ) -> Result<Vec<Fate<Cow<'t, str>>>, RewriteError> {
        if self.preset == Some(Preset::C4) {
            return Ok(texts
                .iter()
                .map(|t| t.map_or(Fate::Same, |t| self.c4(t, edits)))
                .collect());
        }
        let split: Vec<Vec<&str>> = texts
            .iter()
            .map(|t| t.map(|t| t.split('\n').collect()).unwrap_or_default())
            .collect();
        let all: Vec<(usize, &str)> = split
            .iter()
            .enumerate()
            .flat_map(|(row, lines)| lines.iter().map(move |l| (row, *l)))
            .collect();
        let verdicts = self.verdicts(&all)?;
        let mut at = 0;
        let mut out = Vec::with_capacity(texts.len());
        for (t, lines) in texts.iter().zip(&split) {
            let v = &verdicts[at..at + lines.len()];
            at += lines.len();
            out.push(match t {
                Some(t) => self.assemble(t, lines, v, edits),
                None => Fate::Same,
            });
        }
        Ok(out)
    }

    fn edits_in(&self, text: &str) -> Vec<Edit> {
        let dropped = |rule: &str, line: &str| Edit {
            rule: rule.into(),
            before: shorten(line),
            after: String::new(),
        };
        if self.preset == Some(Preset::C4) {
            let Ok(l) = c4_lines(text, true) else {
                return vec![];
            };
            let mut out: Vec<Edit> = l.dropped.iter().map(|(r, line)| dropped(r, line)).collect();
            for line in &l.cited {
                out.push(Edit {
                    rule: "citations".into(),
                    before: shorten(line),
                    after: shorten(&super::quality::remove_citations(py_strip(line))),
                });
            }
            return out;
        }
        let lines: Vec<(usize, &str)> = text.split('\n').map(|l| (0, l)).collect();
        let names = self.rules();
        match self.verdicts(&lines) {
            Ok(v) => lines
                .iter()
                .zip(v)
                .filter_map(|((_, line), v)| v.map(|r| dropped(&names[r], line)))
                .collect(),
            Err(_) => vec![],
        }
    }
}

impl Planned for Plan {
    type Detail = ();

    fn run(&self, cx: &Context, input: &SelectionSet) -> Result<Outcome, RunError> {
        transform::run(cx, input, self)
    }

    fn explain(&self, cx: &ExplainContext) -> Result<Reason<()>, RunError> {
        let Some(rule) = transform::removed_by(cx, self)? else {
            return Ok(Reason::recorded());
        };
        let because = match rule.as_str() {
            "empty" => {
                let edits = transform::explain_row(cx, self)?;
                let mut by: IndexMap<&str, u64> = IndexMap::new();
                for e in &edits {
                    *by.entry(e.rule.as_str()).or_insert(0) += 1;
                }
                let by: Vec<String> = by.iter().map(|(r, n)| format!("{r} {n}")).collect();
                format!("every line was dropped ({})", by.join(", "))
            }
            "lorem_ipsum" => "a kept line holds \"lorem ipsum\" (C4 drops the document)".into(),
            "curly_bracket" => "a kept line holds `{` (C4 drops the document)".into(),
            "too_few_sentences" => "the kept lines hold fewer than 5 sentences (C4)".into(),
            other => other.to_string(),
        };
        Ok(Reason {
            rule: Some(rule),
            expr: None,
            because,
            detail: (),
        })
    }

    fn edits(&self, cx: &ExplainContext) -> Result<Vec<Edit>, RunError> {
        transform::explain_row(cx, self)
    }

    fn describe(&self) -> Vec<String> {
        let mut lines = vec![format!("column  {}", self.column)];
        if self.preset == Some(Preset::C4) {
            lines.push("preset  c4 (datatrove C4QualityFilter, lines removed)".into());
        }
        for r in &self.drop {
            let extra = if *r == LineRule::Short {
                format!(" (< {} words)", self.min_words)
            } else {
                String::new()
            };
            lines.push(format!("drop    {}{extra}", r.name()));
        }
        for r in &self.sql {
            lines.push(format!("drop    {:<12} {}", r.name, r.expr));
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(drop: &[LineRule], sql: &[(&str, &str)]) -> Plan {
        let schema = line_schema();
        let rules: Vec<(String, String, bool)> = sql
            .iter()
            .map(|(n, e)| (n.to_string(), e.to_string(), false))
            .collect();
        Plan {
            column: "text".into(),
            preset: None,
            drop: drop.to_vec(),
            min_words: 3,
            sql: compile(&schema, &rules).unwrap(),
            on_error: OnError::Fail,
        }
    }

    fn run(p: &Plan, text: &str) -> (Fate<String>, Vec<u64>) {
        let mut edits = vec![0; p.rules().len()];
        let f = p
            .rewrite_all(&[Some(text)], &mut edits)
            .unwrap()
            .pop()
            .unwrap();
        let f = match f {
            Fate::Same => Fate::Same,
            Fate::Changed(c) => Fate::Changed(c.into_owned()),
            Fate::Removed(r) => Fate::Removed(r),
        };
        (f, edits)
    }

    #[test]
    fn named_rules_and_sql_drop_lines_in_spec_order() {
        let p = plan(
            &[LineRule::Javascript, LineRule::SymbolsOnly],
            &[("short", "word_count(line) < 3")],
        );
        let text = "Home | Forum\nThe kettle boiled over twice this morning.\n----\nEnable JavaScript now.";
        let (f, edits) = run(&p, text);
        assert_eq!(
            f,
            Fate::Changed("The kettle boiled over twice this morning.".into())
        );
        assert_eq!(edits, [1, 1, 1]);
        assert_eq!(run(&p, "A line that is fine as it is.").0, Fate::Same);
        assert_eq!(run(&p, "Reply\n* * *").0, Fate::Removed("empty".into()));
        let why = p.edits_in(text);
        let rules: Vec<&str> = why.iter().map(|e| e.rule.as_str()).collect();
        assert_eq!(rules, ["short", "symbols_only", "javascript"]);
    }

    #[test]
    fn the_c4_preset_rewrites_as_datatrove_does() {
        let mut p = plan(&[], &[]);
        p.preset = Some(Preset::C4);
        let body = "It was big.[1] Yes it was. We went home. Then we slept. It rained all night.";
        let (f, edits) = run(
            &p,
            &format!("Welcome to our site\n{body}\nThis site uses cookies for ads."),
        );
        assert_eq!(
            f,
            Fate::Changed(
                "It was big. Yes it was. We went home. Then we slept. It rained all night.".into()
            )
        );
        assert_eq!(edits, [0, 1, 0, 0, 1, 1]);
        assert_eq!(
            run(&p, "Ok then.").0,
            Fate::Removed("too_few_sentences".into())
        );
        assert_eq!(
            run(&p, &format!("{body}\nSome lorem ipsum text here.")).0,
            Fate::Removed("lorem_ipsum".into())
        );
    }
}
