//! The metrics: counts, ratios and fractions over tokens and lines.

use std::collections::HashSet;

use super::ngrams::with_grams;

use super::*;

pub(super) fn ratio(num: usize, den: usize) -> f64 {
    if den == 0 {
        0.0
    } else {
        num as f64 / den as f64
    }
}

/// Non-symbol word tokens (Gopher rule 1's |S|).
pub fn word_count(text: &str) -> usize {
    words(&tokens(text)).len()
}

/// Mean code-point length of non-symbol words (Gopher rule 2).
pub fn mean_word_length(text: &str) -> f64 {
    let w = words(&tokens(text));
    ratio(w.iter().map(|t| chars(t)).sum(), w.len())
}

/// `#` characters in `text`.
pub(super) fn hash_count(text: &str) -> usize {
    memchr::memchr_iter(b'#', text.as_bytes()).count()
}

/// `...` (non-overlapping, as `str.count`) and `…` in `text`.
pub(super) fn ellipsis_count(text: &str) -> usize {
    let b = text.as_bytes();
    memchr::memmem::find_iter(b, "...").count() + memchr::memmem::find_iter(b, "…").count()
}

/// `#` characters per token (Gopher rule 3).
pub fn hash_to_word_ratio(text: &str) -> f64 {
    ratio(hash_count(text), tokens(text).len())
}

/// `...` and `…` occurrences per token (Gopher rule 4).
pub fn ellipsis_to_word_ratio(text: &str) -> f64 {
    ratio(ellipsis_count(text), tokens(text).len())
}

/// (`#` + `...` + `…`) per token.
pub fn symbol_to_word_ratio(text: &str) -> f64 {
    ratio(hash_count(text) + ellipsis_count(text), tokens(text).len())
}

/// Share of tokens with at least one alphabetic character (Gopher rule 7).
pub fn alpha_word_fraction(text: &str) -> f64 {
    let t = tokens(text);
    ratio(
        t.iter().filter(|w| w.chars().any(is_alpha)).count(),
        t.len(),
    )
}

pub const STOP_WORDS: &[&str] = &["the", "be", "to", "of", "and", "that", "have", "with"];

/// Distinct Gopher stop words present as exact, case-sensitive tokens.
pub fn stopword_count(text: &str) -> usize {
    distinct_stop_words(&tokens(text))
}

pub(super) fn distinct_stop_words(toks: &[&str]) -> usize {
    distinct_stop_words_up_to(toks, STOP_WORDS.len())
}

/// [`distinct_stop_words`], counting no further than `cap`.
pub(super) fn distinct_stop_words_up_to(toks: &[&str], cap: usize) -> usize {
    let mut seen = 0u8;
    for t in toks {
        // Every stop word has 2 to 4 bytes.
        if !(2..=4).contains(&t.len()) {
            continue;
        }
        if let Some(i) = STOP_WORDS.iter().position(|w| w == t) {
            seen |= 1 << i;
            if seen.count_ones() as usize >= cap {
                break;
            }
        }
    }
    seen.count_ones() as usize
}

/// Lines (splitlines) whose lstrip starts with `•` or `-`.
pub fn bullet_line_fraction(text: &str) -> f64 {
    bullet_lines(&splitlines(text))
}

pub(super) fn bullet_lines(lines: &[&str]) -> f64 {
    let n = lines.iter().filter(|l| {
        let l = l.trim_start_matches(is_py_space);
        l.starts_with('•') || l.starts_with('-')
    });
    ratio(n.count(), lines.len())
}

/// Lines (splitlines) whose rstrip ends with `...` or `…`.
pub fn ellipsis_line_fraction(text: &str) -> f64 {
    ellipsis_lines(&splitlines(text))
}

pub(super) fn ellipsis_lines(lines: &[&str]) -> f64 {
    let n = lines.iter().filter(|l| {
        let l = l.trim_end_matches(is_py_space);
        l.ends_with("...") || l.ends_with('…')
    });
    ratio(n.count(), lines.len())
}

/// (duplicate count, duplicate chars) of items, first occurrences excluded.
pub(super) fn dups<'a>(items: impl IntoIterator<Item = &'a str>) -> (usize, usize) {
    let mut seen: HashSet<&str, foldhash::fast::FixedState> = HashSet::default();
    let (mut count, mut chars_) = (0, 0);
    for it in items {
        if !seen.insert(it) {
            count += 1;
            chars_ += chars(it);
        }
    }
    (count, chars_)
}

pub fn duplicate_paragraph_fraction(text: &str) -> f64 {
    let p = paragraphs(text);
    ratio(dups(p.iter().copied()).0, p.len())
}

pub fn duplicate_paragraph_char_fraction(text: &str) -> f64 {
    ratio(dups(paragraphs(text)).1, chars(text))
}

pub fn duplicate_line_fraction(text: &str) -> f64 {
    let l = rep_lines(text);
    ratio(dups(l.iter().copied()).0, l.len())
}

pub fn duplicate_line_char_fraction(text: &str) -> f64 {
    ratio(dups(rep_lines(text)).1, chars(text))
}

/// Characters covered by the most frequent word n-gram, over the text's length.
pub fn top_ngram_char_fraction(text: &str, n: usize) -> f64 {
    let t = tokens(text);
    ratio(with_grams(&t, |g| g.top(n)), chars(text))
}

/// Characters in repeated word n-grams (greedy, as published), over the text's length.
pub fn duplicate_ngram_char_fraction(text: &str, n: usize) -> f64 {
    let t = tokens(text);
    ratio(with_grams(&t, |g| g.duplicated(n)), chars(text))
}

/// FineWeb: lines whose raw last character is terminal punctuation.
pub fn terminal_punct_line_fraction(text: &str) -> f64 {
    let l = fineweb_lines(text);
    ratio(
        l.iter()
            .filter(|s| s.chars().next_back().is_some_and(is_term_punct))
            .count(),
        l.len(),
    )
}

/// FineWeb: lines of at most 30 code points.
pub fn short_line_fraction(text: &str) -> f64 {
    let l = fineweb_lines(text);
    ratio(l.iter().filter(|s| chars(s) <= 30).count(), l.len())
}

/// FineWeb: duplicated-line characters over the text's length without newlines.
pub fn fineweb_char_dup_ratio(text: &str) -> f64 {
    ratio(
        dups(fineweb_lines(text)).1,
        chars(text) - text.matches('\n').count(),
    )
}

/// FineWeb: newlines per token.
pub fn list_ratio(text: &str) -> f64 {
    ratio(text.matches('\n').count(), tokens(text).len())
}

pub fn lorem_ipsum(text: &str) -> bool {
    text.to_lowercase().contains("lorem ipsum")
}

pub fn has_javascript(text: &str) -> bool {
    text.to_lowercase().contains("javascript")
}

pub fn has_curly_brace(text: &str) -> bool {
    text.contains('{')
}

/// Sentences, as the C4 filter counts them with spaCy's sentencizer: after
/// a sentence-final token (`.`, `!`, `?`, one character alone), the next
/// token that is not punctuation starts a sentence, so a closing quote or
/// bracket (`left.'`) stays in the sentence it closes.
pub fn sentence_count(text: &str) -> usize {
    sentences_in(text, &tokens(text))
}

/// [`sentence_count`] of `text` whose tokens `t` are slices of it, in order.
/// Whitespace other than one space between two tokens (or after the last)
/// is a token of its own in spaCy, and not punctuation: after a sentence
/// end it starts a sentence (`left.'  #` is two, `left.' #` one).
pub(super) fn sentences_in(text: &str, t: &[&str]) -> usize {
    if t.is_empty() {
        return 0;
    }
    let offset = |s: &str| s.as_ptr() as usize - text.as_ptr() as usize;
    let space_token = |gap: &str| !gap.is_empty() && gap != " ";
    let (mut n, mut seen_end) = (1, false);
    let mut prev_end = offset(t[0]);
    for tok in t {
        let at = offset(tok);
        let end = is_sentence_end(tok);
        if seen_end && space_token(&text[prev_end..at]) {
            n += 1;
            seen_end = false;
        }
        if seen_end && !end && !is_punct_token(tok) {
            n += 1;
            seen_end = false;
        } else if end {
            seen_end = true;
        }
        prev_end = at + tok.len();
    }
    if seen_end && space_token(&text[prev_end..]) {
        n += 1;
    }
    n
}
