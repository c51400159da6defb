//! The published rule sets (Gopher quality and repetition, C4, FineWeb).

use super::*;

/// Gopher quality (datatrove defaults); `None` keeps, `Some(reason)` drops.
pub fn gopher_quality_reason(text: &str) -> Option<&'static str> {
    gopher_quality_doc(&Doc::new(text))
}

/// [`gopher_quality_reason`] of a document whose tokens may be shared.
pub fn gopher_quality_doc(doc: &Doc) -> Option<&'static str> {
    let text = doc.text;
    let t = doc.tokens();
    let s = words(t);
    let n = t.len();
    if s.len() < 50 {
        return Some("gopher_short_doc");
    }
    if s.len() > 100_000 {
        return Some("gopher_long_doc");
    }
    let mean = ratio(s.iter().map(|w| chars(w)).sum(), s.len());
    if mean < 3.0 {
        return Some("gopher_below_avg_threshold");
    }
    if mean > 10.0 {
        return Some("gopher_above_avg_threshold");
    }
    if ratio(hash_count(text), n) > 0.1 {
        return Some("gopher_too_many_hashes");
    }
    if ratio(ellipsis_count(text), n) > 0.1 {
        return Some("gopher_too_many_ellipsis");
    }
    let lines = splitlines(text);
    if bullet_lines(&lines) > 0.9 {
        return Some("gopher_too_many_bullets");
    }
    if ellipsis_lines(&lines) > 0.3 {
        return Some("gopher_too_many_end_ellipsis");
    }
    if ratio(t.iter().filter(|w| w.chars().any(is_alpha)).count(), n) < 0.8 {
        return Some("gopher_below_alpha_threshold");
    }
    if distinct_stop_words_up_to(t, 2) < 2 {
        return Some("gopher_enough_stop_words");
    }
    None
}

/// Gopher repetition (datatrove defaults); `None` keeps, `Some(reason)` drops.
pub fn gopher_repetition_reason(text: &str) -> Option<&'static str> {
    gopher_repetition_doc(&Doc::new(text))
}

/// [`gopher_repetition_reason`] of a document whose tokens may be shared.
pub fn gopher_repetition_doc(doc: &Doc) -> Option<&'static str> {
    let text = doc.text;
    let c = chars(text);
    if c == 0 {
        return Some("empty");
    }
    let p = paragraphs(text);
    let (pd, pc) = dups(p.iter().copied());
    if ratio(pd, p.len()) > 0.3 {
        return Some("dup_para_frac");
    }
    if ratio(pc, c) > 0.2 {
        return Some("dup_para_char_frac");
    }
    let l = rep_lines(text);
    let (ld, lc) = dups(l.iter().copied());
    if ratio(ld, l.len()) > 0.3 {
        return Some("dup_line_frac");
    }
    if ratio(lc, c) > 0.2 {
        return Some("dup_line_char_frac");
    }
    let t = doc.tokens();
    super::ngrams::with_grams(t, |g| {
        for (n, thr, reason) in [
            (2, 0.20, "top_2_gram"),
            (3, 0.18, "top_3_gram"),
            (4, 0.16, "top_4_gram"),
        ] {
            if t.len() >= n && ratio(g.top(n), c) > thr {
                return Some(reason);
            }
        }
        for (n, thr, reason) in [
            (5, 0.15, "duplicated_5_n_grams"),
            (6, 0.14, "duplicated_6_n_grams"),
            (7, 0.13, "duplicated_7_n_grams"),
            (8, 0.12, "duplicated_8_n_grams"),
            (9, 0.11, "duplicated_9_n_grams"),
            (10, 0.10, "duplicated_10_n_grams"),
        ] {
            if ratio(g.duplicated(n), c) > thr {
                return Some(reason);
            }
        }
        None
    })
}

/// C4 quality (datatrove defaults: 5 sentences, 3 words per line, terminal
/// punctuation required); `None` keeps, `Some(reason)` drops. sift only
/// decides keep or drop; it does not rewrite the text as datatrove does.
pub fn c4_quality_reason(text: &str) -> Option<&'static str> {
    c4_reason(text, true)
}

pub(super) fn c4_reason(text: &str, require_terminal_punct: bool) -> Option<&'static str> {
    c4_scan(text, None, require_terminal_punct, |_| {}).err()
}

/// [`c4_quality_reason`] of a document: a line's sentences are counted on
/// the document's tokens when it has no citation to delete.
pub fn c4_quality_doc(doc: &Doc) -> Option<&'static str> {
    c4_scan(doc.text, Some(doc.tokens()), true, |_| {}).err()
}

/// What C4's line filter keeps of a document (datatrove's `C4QualityFilter`).
#[derive(Debug, Clone, PartialEq)]
pub struct C4Lines<'t> {
    /// The lines kept, stripped, citations deleted.
    pub kept: Vec<String>,
    /// The lines dropped, each with the rule that dropped it.
    pub dropped: Vec<(&'static str, &'t str)>,
    /// Lines whose citation markers were deleted.
    pub cited: Vec<&'t str>,
}

impl C4Lines<'_> {
    /// The document C4 writes: the kept lines joined by newlines, stripped.
    pub fn text(&self) -> String {
        py_strip(&self.kept.join("\n")).to_string()
    }
}

/// C4's line filter with datatrove's defaults (5 sentences, 3 words per
/// line, and terminal punctuation unless `require_terminal_punct` is false):
/// the lines it keeps and drops, or the rule that drops the whole document
/// (`lorem_ipsum`, `curly_bracket`, `too_few_sentences`).
pub fn c4_lines(text: &str, require_terminal_punct: bool) -> Result<C4Lines<'_>, &'static str> {
    let mut out = C4Lines {
        kept: Vec::new(),
        dropped: Vec::new(),
        cited: Vec::new(),
    };
    c4_scan(text, None, require_terminal_punct, |line| match line {
        C4Line::Dropped(rule, unit) => out.dropped.push((rule, unit)),
        C4Line::Kept { unit, line, cited } => {
            if cited {
                out.cited.push(unit);
            }
            out.kept.push(line.into_owned());
        }
    })?;
    Ok(out)
}

/// One line's fate in [`c4_scan`].
enum C4Line<'t> {
    Dropped(&'static str, &'t str),
    Kept {
        unit: &'t str,
        line: std::borrow::Cow<'t, str>,
        cited: bool,
    },
}

/// C4's line filter: each line's fate to `each`, in order, then the verdict.
/// `toks`, the text's own tokens, saves splitting each line again.
fn c4_scan<'t>(
    text: &'t str,
    toks: Option<&[&'t str]>,
    require_terminal_punct: bool,
    mut each: impl FnMut(C4Line<'t>),
) -> Result<(), &'static str> {
    let mut sentences = 0;
    let offset = |t: &str| t.as_ptr() as usize - text.as_ptr() as usize;
    let mut next_token = 0;
    for unit in splitlines(text) {
        let line = py_strip(unit);
        let mut words = 0;
        for w in py_words(line) {
            if w.len() > 1000 && chars(w) > 1000 {
                words = usize::MAX;
                break;
            }
            words += 1;
        }
        if words == usize::MAX {
            each(C4Line::Dropped("too_long_word", unit));
            continue;
        }
        let cleaned = remove_citations(line);
        let cited = cleaned.len() != line.len();
        if require_terminal_punct && c4_unterminated(&cleaned) {
            each(C4Line::Dropped("no_terminal_punct", unit));
            continue;
        }
        if words < 3 {
            each(C4Line::Dropped("too_few_words", unit));
            continue;
        }
        let lower = cleaned.to_lowercase();
        if lower.contains("lorem ipsum") {
            return Err("lorem_ipsum");
        }
        if lower.contains("javascript") {
            each(C4Line::Dropped("javascript", unit));
            continue;
        }
        if cleaned.contains('{') {
            return Err("curly_bracket");
        }
        if c4_policy(&lower) {
            each(C4Line::Dropped("policy", unit));
            continue;
        }
        sentences += match toks {
            // Whitespace ends every token, and every line break is
            // whitespace: the line's tokens are the text's within its span.
            Some(toks) if !cited => {
                let (start, end) = (offset(line), offset(line) + line.len());
                while next_token < toks.len() && offset(toks[next_token]) < start {
                    next_token += 1;
                }
                let first = next_token;
                while next_token < toks.len() && offset(toks[next_token]) < end {
                    next_token += 1;
                }
                sentences_in(line, &toks[first..next_token])
            }
            _ => sentence_count(&cleaned),
        };
        each(C4Line::Kept {
            unit,
            line: cleaned,
            cited,
        });
    }
    if sentences < 5 {
        return Err("too_few_sentences");
    }
    Ok(())
}

/// C4's end-of-line test: the line does not end with `.`, `?`, `!`, `"` or
/// `'`, or it ends with `...`.
pub fn c4_unterminated(line: &str) -> bool {
    let ends = [".", "?", "!", "\"", "'"].iter().any(|e| line.ends_with(e));
    !ends || line.ends_with("...")
}

/// C4's cookie and terms notices, in a lowercased line.
pub fn c4_policy(lower: &str) -> bool {
    const POLICY: [&str; 6] = [
        "terms of use",
        "privacy policy",
        "cookie policy",
        "uses cookies",
        "use of cookies",
        "use cookies",
    ];
    POLICY.iter().any(|p| lower.contains(p))
}

/// C4's paragraph filter (datatrove's `C4ParagraphFilter`, from mC4): at
/// least 3 lines, and the 3 longest of at least 200 code points each.
pub fn c4_paragraph(text: &str) -> bool {
    let mut lens: Vec<usize> = text.split('\n').map(chars).collect();
    if lens.len() < 3 {
        return false;
    }
    lens.sort_unstable_by(|a, b| b.cmp(a));
    lens[2] >= 200
}

/// Deletes `[digits]`, `[edit]` and `[citation needed]` (case-sensitive).
pub fn remove_citations(line: &str) -> std::borrow::Cow<'_, str> {
    if !line.contains('[') {
        return std::borrow::Cow::Borrowed(line);
    }
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(i) = rest.find('[') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let digits = tail[1..].bytes().take_while(u8::is_ascii_digit).count();
        let skip = if tail[1 + digits..].starts_with(']') {
            Some(digits + 2)
        } else if tail.starts_with("[edit]") {
            Some(6)
        } else if tail.starts_with("[citation needed]") {
            Some(17)
        } else {
            None
        };
        match skip {
            Some(k) => rest = &tail[k..],
            None => {
                out.push('[');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    std::borrow::Cow::Owned(out)
}

/// FineWeb quality (datatrove defaults); `None` keeps, `Some(reason)` drops.
pub fn fineweb_quality_reason(text: &str) -> Option<&'static str> {
    fineweb_quality_doc(&Doc::new(text))
}

/// [`fineweb_quality_reason`] of a document whose tokens may be shared.
pub fn fineweb_quality_doc(doc: &Doc) -> Option<&'static str> {
    let text = doc.text;
    let l = fineweb_lines(text);
    if l.is_empty() {
        return Some("empty");
    }
    if terminal_punct_line_fraction(text) < 0.12 {
        return Some("line_punct_ratio");
    }
    if short_line_fraction(text) > 0.67 {
        return Some("short_line_ratio");
    }
    if fineweb_char_dup_ratio(text) > 0.01 {
        return Some("char_dup_ratio");
    }
    if ratio(text.matches('\n').count(), doc.tokens().len()) > 0.3 {
        return Some("list_ratio");
    }
    None
}
