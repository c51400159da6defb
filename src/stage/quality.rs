//! Text-quality metrics and the published rule sets (Gopher, C4, FineWeb).
//!
//! Every function here follows the reference behaviour documented in
//! `QUALITY_RULES.md` (datatrove's filters): lengths are Unicode code
//! points, each rule uses its own line splitter, and comparisons are strict
//! or inclusive exactly as published. The functions are pure; [`udfs`]
//! registers them with DataFusion so any filter expression can use them.
//!
//! Where datatrove divides by zero (an empty document), sift defines the
//! result: ratios are 0.0 and every rule set drops the document.

use std::collections::{HashMap, HashSet};

/// Unicode Sentence_Terminal minus the reference's exclusions, plus Khmer
/// U+17D6, U+17D9, U+17DA: 159 characters.
pub const TERM_PUNCT: &[char] = &[
    '\u{0021}',
    '\u{002E}',
    '\u{003F}',
    '\u{0589}',
    '\u{061D}',
    '\u{061E}',
    '\u{061F}',
    '\u{06D4}',
    '\u{0700}',
    '\u{0701}',
    '\u{0702}',
    '\u{07F9}',
    '\u{0837}',
    '\u{0839}',
    '\u{083D}',
    '\u{083E}',
    '\u{0964}',
    '\u{0965}',
    '\u{104A}',
    '\u{104B}',
    '\u{1362}',
    '\u{1367}',
    '\u{1368}',
    '\u{166E}',
    '\u{1735}',
    '\u{1736}',
    '\u{17D4}',
    '\u{17D5}',
    '\u{17D6}',
    '\u{17D9}',
    '\u{17DA}',
    '\u{1803}',
    '\u{1809}',
    '\u{1944}',
    '\u{1945}',
    '\u{1AA8}',
    '\u{1AA9}',
    '\u{1AAA}',
    '\u{1AAB}',
    '\u{1B5A}',
    '\u{1B5B}',
    '\u{1B5E}',
    '\u{1B5F}',
    '\u{1B7D}',
    '\u{1B7E}',
    '\u{1C3B}',
    '\u{1C3C}',
    '\u{1C7E}',
    '\u{1C7F}',
    '\u{203C}',
    '\u{203D}',
    '\u{2047}',
    '\u{2048}',
    '\u{2049}',
    '\u{2E2E}',
    '\u{2E3C}',
    '\u{2E53}',
    '\u{2E54}',
    '\u{3002}',
    '\u{A4FF}',
    '\u{A60E}',
    '\u{A60F}',
    '\u{A6F3}',
    '\u{A6F7}',
    '\u{A876}',
    '\u{A877}',
    '\u{A8CE}',
    '\u{A8CF}',
    '\u{A92F}',
    '\u{A9C8}',
    '\u{A9C9}',
    '\u{AA5D}',
    '\u{AA5E}',
    '\u{AA5F}',
    '\u{AAF0}',
    '\u{AAF1}',
    '\u{ABEB}',
    '\u{FE52}',
    '\u{FE56}',
    '\u{FE57}',
    '\u{FF01}',
    '\u{FF0E}',
    '\u{FF1F}',
    '\u{FF61}',
    '\u{10A56}',
    '\u{10A57}',
    '\u{10F55}',
    '\u{10F56}',
    '\u{10F57}',
    '\u{10F58}',
    '\u{10F59}',
    '\u{10F86}',
    '\u{10F87}',
    '\u{10F88}',
    '\u{10F89}',
    '\u{11047}',
    '\u{11048}',
    '\u{110BE}',
    '\u{110BF}',
    '\u{110C0}',
    '\u{110C1}',
    '\u{11141}',
    '\u{11142}',
    '\u{11143}',
    '\u{111C5}',
    '\u{111C6}',
    '\u{111CD}',
    '\u{111DE}',
    '\u{111DF}',
    '\u{11238}',
    '\u{11239}',
    '\u{1123B}',
    '\u{1123C}',
    '\u{112A9}',
    '\u{1144B}',
    '\u{1144C}',
    '\u{115C2}',
    '\u{115C3}',
    '\u{115C9}',
    '\u{115CA}',
    '\u{115CB}',
    '\u{115CC}',
    '\u{115CD}',
    '\u{115CE}',
    '\u{115CF}',
    '\u{115D0}',
    '\u{115D1}',
    '\u{115D2}',
    '\u{115D3}',
    '\u{115D4}',
    '\u{115D5}',
    '\u{115D6}',
    '\u{115D7}',
    '\u{11641}',
    '\u{11642}',
    '\u{1173C}',
    '\u{1173D}',
    '\u{1173E}',
    '\u{11944}',
    '\u{11946}',
    '\u{11A42}',
    '\u{11A43}',
    '\u{11A9B}',
    '\u{11A9C}',
    '\u{11C41}',
    '\u{11C42}',
    '\u{11EF7}',
    '\u{11EF8}',
    '\u{11F43}',
    '\u{11F44}',
    '\u{16A6E}',
    '\u{16A6F}',
    '\u{16AF5}',
    '\u{16B37}',
    '\u{16B38}',
    '\u{16B44}',
    '\u{16E98}',
    '\u{1BC9F}',
    '\u{1DA88}',
];

/// The reference's extra punctuation beyond ASCII (fullwidth `１` included, as published).
const EXTRA_PUNCT: &str = "—”％１〈、━【「」，】；“《„’∶´．（–？！：～«〉》）。…►»";

/// Python's `str.isspace` (Rust's whitespace plus U+001C–U+001F).
pub fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

pub fn is_term_punct(c: char) -> bool {
    TERM_PUNCT.binary_search(&c).is_ok()
}

/// Membership in the reference's PUNCTUATION_SET.
pub fn is_punct(c: char) -> bool {
    c.is_ascii_punctuation()
        || EXTRA_PUNCT.contains(c)
        || matches!(c as u32, 0x00..=0x08 | 0x0B..=0x1F | 0x7F..=0x9F)
        || is_term_punct(c)
}

/// Python's `str.isalpha` for one character: general category L*.
pub fn is_alpha(c: char) -> bool {
    // Letters that are alphabetic but not L* (marks, Nl) are rare; exclude the common ones.
    c.is_alphabetic() && !is_mark_or_letter_number(c)
}

fn is_mark_or_letter_number(c: char) -> bool {
    // Roman numerals and similar (Nl), and combining marks commonly flagged Other_Alphabetic.
    matches!(c as u32, 0x16EE..=0x16F0 | 0x2160..=0x2188 | 0x3007 | 0x3021..=0x3029 | 0x3038..=0x303A | 0xA6E6..=0xA6EF)
        || matches!(c as u32, 0x0300..=0x036F | 0x0483..=0x0489 | 0x0591..=0x05C7 | 0x0610..=0x061A | 0x064B..=0x065F | 0x0670 | 0x06D6..=0x06ED | 0x0900..=0x0903 | 0x093A..=0x094F | 0x0951..=0x0957 | 0x0962..=0x0963)
}

/// Python's `str.splitlines()`.
pub fn splitlines(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut it = text.char_indices().peekable();
    while let Some((i, c)) = it.next() {
        let is_break = matches!(
            c,
            '\n' | '\r'
                | '\u{0b}'
                | '\u{0c}'
                | '\u{1c}'
                | '\u{1d}'
                | '\u{1e}'
                | '\u{85}'
                | '\u{2028}'
                | '\u{2029}'
        );
        if is_break {
            out.push(&text[start..i]);
            let mut end = i + c.len_utf8();
            if c == '\r' && it.peek().map(|(_, n)| *n) == Some('\n') {
                it.next();
                end += 1;
            }
            start = end;
        }
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

fn py_strip(s: &str) -> &str {
    s.trim_matches(is_py_space)
}

fn chars(s: &str) -> usize {
    s.chars().count()
}

const ABBREVIATIONS: &[&str] = &[
    "U.S.", "U.K.", "e.g.", "i.e.", "etc.", "vs.", "Mr.", "Mrs.", "Ms.", "Dr.", "Prof.", "Inc.",
    "Ltd.", "Co.", "Jr.", "Sr.", "St.", "Mt.", "No.", "a.m.", "p.m.", "Jan.", "Feb.", "Mar.",
    "Apr.", "Jun.", "Jul.", "Aug.", "Sep.", "Sept.", "Oct.", "Nov.", "Dec.",
];
const CLITICS: &[&str] = &[
    "n't", "'s", "'m", "'re", "'ve", "'ll", "'d", "’s", "’m", "’re", "’ve", "’ll", "’d", "n’t",
];

fn keep_whole(t: &str) -> bool {
    // Most tokens are plain words: nothing to keep whole unless a mark is present.
    if t.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return false;
    }
    ABBREVIATIONS.contains(&t)
        || matches!(t, ":)" | ":(" | ";)" | ":-)" | "--")
        || (t.chars().count() == 2
            && t.ends_with('.')
            && t.chars().next().is_some_and(char::is_alphabetic))
        || t.starts_with("http://")
        || t.starts_with("https://")
        || t.starts_with("www.")
        || (t.contains('@')
            && t.rsplit('@')
                .next()
                .is_some_and(|d| d.contains('.') && !d.ends_with('.')))
}

/// spaCy's English LIST_PUNCT, LIST_QUOTES and common currency symbols:
/// the characters that split off the edges of a whitespace chunk.
const EDGE_PUNCT: &str = "…,:;!?¿؟¡()[]{}<>_#*&。？！，、；：～·।،۔؛٪";
const QUOTES: &str = "'\"”“`‘´’‚„»«「」『』（）〔〕【】《》〈〉⟦⟧";
const CURRENCY: &str = "$£€¥฿₽₴₹₩₪₫₱₦₺₿";

/// ASCII members of EDGE_PUNCT and QUOTES.
fn ascii_edge(c: char) -> bool {
    matches!(
        c,
        ',' | ':'
            | ';'
            | '!'
            | '?'
            | '('
            | ')'
            | '['
            | ']'
            | '{'
            | '}'
            | '<'
            | '>'
            | '_'
            | '#'
            | '*'
            | '&'
            | '\''
            | '"'
            | '`'
    )
}

fn is_edge_or_quote(c: char) -> bool {
    if c.is_ascii() {
        ascii_edge(c)
    } else {
        EDGE_PUNCT.contains(c) || QUOTES.contains(c)
    }
}

fn is_prefix_char(c: char, next: Option<char>) -> bool {
    if c.is_ascii_alphanumeric() {
        return false;
    }
    is_edge_or_quote(c)
        || (!c.is_ascii() && CURRENCY.contains(c))
        || matches!(c, '$' | '§' | '%' | '=' | '—' | '–')
        || (c == '+' && !next.is_some_and(|n| n.is_ascii_digit()))
}

fn is_suffix_char(c: char, before: &str) -> bool {
    if c.is_ascii_alphanumeric() {
        return false;
    }
    if is_edge_or_quote(c) || matches!(c, '—' | '–') {
        return true;
    }
    let mut prev = before.chars().rev();
    let (p1, p2) = (prev.next(), prev.next());
    match c {
        // A period ends a token after a digit, a lowercase letter, `%`, punctuation
        // or a quote, or after two capitals (`USA.`), but not after one (`B.`).
        '.' => {
            p1.is_some_and(|p| {
                p.is_ascii_digit() || p.is_lowercase() || p == '%' || is_edge_or_quote(p)
            }) || (p1.is_some_and(char::is_uppercase) && p2.is_some_and(char::is_uppercase))
        }
        '+' | '%' => p1.is_some_and(|p| p.is_ascii_digit()),
        c if CURRENCY.contains(c) => p1.is_some_and(|p| p.is_ascii_digit()),
        _ => false,
    }
}

/// Is `cs[k]` an infix that splits out on its own?
fn is_infix(cs: &[(usize, char)], k: usize) -> bool {
    let (c, prev, next) = (cs[k].1, cs[k - 1].1, cs[k + 1].1);
    match c {
        '-' | '–' | '—' => {
            (prev.is_alphanumeric() && next.is_alphabetic())
                || (prev.is_ascii_digit() && (next.is_ascii_digit() || next == '-'))
        }
        '+' | '*' | '^' => prev.is_ascii_digit() && (next.is_ascii_digit() || next == '-'),
        ',' => prev.is_alphabetic() && next.is_alphabetic(),
        '.' => prev.is_lowercase() && next.is_uppercase(),
        ':' | '<' | '>' | '=' | '/' => prev.is_alphanumeric() && next.is_alphabetic(),
        _ => false,
    }
}

/// Word tokens `T(text)`, after spaCy's blank English tokenizer (which
/// datatrove uses): whitespace split, then prefixes and suffixes split off
/// each chunk (`...` and `…` stay whole), infixes (`well-known`, `10-20`,
/// `and/or`) and English clitics split out; URLs, e-mails, listed
/// abbreviations, `b.`, `:)` and `--` kept whole.
pub fn tokens(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for chunk in text.split(is_py_space).filter(|s| !s.is_empty()) {
        split_chunk(chunk, &mut out);
    }
    out
}

fn split_chunk<'a>(chunk: &'a str, out: &mut Vec<&'a str>) {
    let mut s = chunk;
    // Prefixes.
    loop {
        if s.is_empty() {
            return;
        }
        if keep_whole(s) {
            out.push(s);
            return;
        }
        if s.len() > 3 && s.starts_with("...") {
            out.push(&s[..3]);
            s = &s[3..];
            continue;
        }
        let mut it = s.chars();
        let c = it.next().expect("non-empty");
        if s.len() > c.len_utf8() && is_prefix_char(c, it.next()) {
            out.push(&s[..c.len_utf8()]);
            s = &s[c.len_utf8()..];
            continue;
        }
        break;
    }
    // Suffixes, collected in reverse.
    let mut suffixes = Vec::new();
    loop {
        if s.is_empty() || keep_whole(s) {
            break;
        }
        if s.len() > 3 && s.ends_with("...") {
            suffixes.push(&s[s.len() - 3..]);
            s = &s[..s.len() - 3];
            continue;
        }
        if let Some(cl) = CLITICS
            .iter()
            .find(|cl| s.len() > cl.len() && s.ends_with(*cl))
        {
            suffixes.push(&s[s.len() - cl.len()..]);
            s = &s[..s.len() - cl.len()];
            continue;
        }
        let c = s.chars().next_back().expect("non-empty");
        let before = &s[..s.len() - c.len_utf8()];
        if !before.is_empty() && is_suffix_char(c, before) {
            suffixes.push(&s[before.len()..]);
            s = before;
            continue;
        }
        break;
    }
    // Infixes.
    let maybe_infix = s.bytes().any(|b| {
        matches!(
            b,
            b'-' | b'+' | b'*' | b'^' | b',' | b'.' | b':' | b'<' | b'>' | b'=' | b'/'
        ) || b >= 0x80
    });
    if maybe_infix && !s.is_empty() && !keep_whole(s) {
        let cs: Vec<(usize, char)> = s.char_indices().collect();
        let mut start = 0;
        for k in 1..cs.len().saturating_sub(1) {
            if is_infix(&cs, k) {
                let (i, c) = cs[k];
                if start < i {
                    out.push(&s[start..i]);
                }
                out.push(&s[i..i + c.len_utf8()]);
                start = i + c.len_utf8();
            }
        }
        out.push(&s[start..]);
    } else if !s.is_empty() {
        out.push(s);
    }
    out.extend(suffixes.into_iter().rev());
}

/// Tokens with at least one character outside PUNCT_SET ("non-symbol words").
fn words<'a>(toks: &[&'a str]) -> Vec<&'a str> {
    toks.iter()
        .copied()
        .filter(|t| t.chars().any(|c| !is_punct(c)))
        .collect()
}

fn ratio(num: usize, den: usize) -> f64 {
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

/// `#` characters per token (Gopher rule 3).
pub fn hash_to_word_ratio(text: &str) -> f64 {
    ratio(text.matches('#').count(), tokens(text).len())
}

/// `...` and `…` occurrences per token (Gopher rule 4).
pub fn ellipsis_to_word_ratio(text: &str) -> f64 {
    ratio(
        text.matches("...").count() + text.matches('…').count(),
        tokens(text).len(),
    )
}

/// (`#` + `...` + `…`) per token.
pub fn symbol_to_word_ratio(text: &str) -> f64 {
    ratio(
        text.matches('#').count() + text.matches("...").count() + text.matches('…').count(),
        tokens(text).len(),
    )
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

fn distinct_stop_words(toks: &[&str]) -> usize {
    let mut seen = 0u8;
    for t in toks {
        if let Some(i) = STOP_WORDS.iter().position(|w| w == t) {
            seen |= 1 << i;
        }
    }
    seen.count_ones() as usize
}

/// Lines (splitlines) whose lstrip starts with `•` or `-`.
pub fn bullet_line_fraction(text: &str) -> f64 {
    let lines = splitlines(text);
    let n = lines.iter().filter(|l| {
        let l = l.trim_start_matches(is_py_space);
        l.starts_with('•') || l.starts_with('-')
    });
    ratio(n.count(), lines.len())
}

/// Lines (splitlines) whose rstrip ends with `...` or `…`.
pub fn ellipsis_line_fraction(text: &str) -> f64 {
    let lines = splitlines(text);
    let n = lines.iter().filter(|l| {
        let l = l.trim_end_matches(is_py_space);
        l.ends_with("...") || l.ends_with('…')
    });
    ratio(n.count(), lines.len())
}

/// (duplicate count, duplicate chars) of items, first occurrences excluded.
fn dups<'a>(items: impl IntoIterator<Item = &'a str>) -> (usize, usize) {
    let mut seen = HashSet::new();
    let (mut count, mut chars_) = (0, 0);
    for it in items {
        if !seen.insert(it) {
            count += 1;
            chars_ += chars(it);
        }
    }
    (count, chars_)
}

/// Gopher repetition paragraphs: strip(text) split on `\n{2,}`.
fn paragraphs(text: &str) -> Vec<&str> {
    split_runs(py_strip(text), 2)
}

/// Gopher repetition lines: text split on `\n+` (not trimmed).
fn rep_lines(text: &str) -> Vec<&str> {
    split_runs(text, 1)
}

/// Splits on runs of at least `min` newlines.
fn split_runs(text: &str, min: usize) -> Vec<&str> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let (mut start, mut i) = (0, 0);
    while i < b.len() {
        if b[i] == b'\n' {
            let mut j = i;
            while j < b.len() && b[j] == b'\n' {
                j += 1;
            }
            if j - i >= min {
                out.push(&text[start..i]);
                start = j;
            }
            i = j;
        } else {
            i += 1;
        }
    }
    out.push(&text[start..]);
    out
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

fn top_ngram_value(toks: &[&str], n: usize) -> usize {
    if n == 0 || toks.len() < n {
        return 0;
    }
    // Windows are keyed by a 128-bit hash of their tokens joined by one
    // space (tokens hold no whitespace, so the join is unambiguous); no
    // string is built per window.
    let mut counts: HashMap<u128, (usize, usize)> = HashMap::with_capacity(toks.len());
    let mut buf = Vec::with_capacity(256);
    for i in 0..=toks.len() - n {
        buf.clear();
        for (k, t) in toks[i..i + n].iter().enumerate() {
            if k > 0 {
                buf.push(b' ');
            }
            buf.extend_from_slice(t.as_bytes());
        }
        counts
            .entry(xxhash_rust::xxh3::xxh3_128(&buf))
            .or_insert((0, i))
            .0 += 1;
    }
    // Highest count; ties go to the n-gram that occurs first.
    let (count, first) = counts
        .values()
        .copied()
        .max_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)))
        .expect("non-empty");
    let len: usize = toks[first..first + n]
        .iter()
        .map(|t| chars(t))
        .sum::<usize>()
        + (n - 1);
    len * count
}

/// Characters covered by the most frequent word n-gram, over the text's length.
pub fn top_ngram_char_fraction(text: &str, n: usize) -> f64 {
    ratio(top_ngram_value(&tokens(text), n), chars(text))
}

fn dup_ngram_chars(toks: &[&str], n: usize) -> usize {
    if n == 0 || toks.len() < n {
        return 0;
    }
    // Windows are the tokens concatenated with no separator (as published, so
    // `ab·c` equals `a·bc`), keyed by a 128-bit hash of those bytes.
    let lens: Vec<usize> = toks.iter().map(|t| chars(t)).collect();
    let mut seen: HashSet<u128> = HashSet::with_capacity(toks.len());
    let mut buf = Vec::with_capacity(256);
    let (mut i, mut rep) = (0, 0);
    while i + n <= toks.len() {
        buf.clear();
        for t in &toks[i..i + n] {
            buf.extend_from_slice(t.as_bytes());
        }
        if !seen.insert(xxhash_rust::xxh3::xxh3_128(&buf)) {
            rep += lens[i..i + n].iter().sum::<usize>();
            i += n;
        } else {
            i += 1;
        }
    }
    rep
}

/// Characters in repeated word n-grams (greedy, as published), over the text's length.
pub fn duplicate_ngram_char_fraction(text: &str, n: usize) -> f64 {
    ratio(dup_ngram_chars(&tokens(text), n), chars(text))
}

/// FineWeb lines: `split("\n")` without blank ones.
fn fineweb_lines(text: &str) -> Vec<&str> {
    text.split('\n')
        .filter(|l| !py_strip(l).is_empty())
        .collect()
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

/// Sentences, as the C4 filter counts them: a run of sentence-final
/// punctuation tokens ends a sentence when another token follows.
pub fn sentence_count(text: &str) -> usize {
    let t = tokens(text);
    if t.is_empty() {
        return 0;
    }
    let is_end = |tok: &str| tok != "..." && tok.chars().all(is_term_punct);
    let mut n = 1;
    for i in 0..t.len() - 1 {
        if is_end(t[i]) && !is_end(t[i + 1]) {
            n += 1;
        }
    }
    n
}

/// Gopher quality (datatrove defaults); `None` keeps, `Some(reason)` drops.
pub fn gopher_quality_reason(text: &str) -> Option<&'static str> {
    let t = tokens(text);
    let s = words(&t);
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
    if ratio(text.matches('#').count(), n) > 0.1 {
        return Some("gopher_too_many_hashes");
    }
    if ratio(text.matches("...").count() + text.matches('…').count(), n) > 0.1 {
        return Some("gopher_too_many_ellipsis");
    }
    if bullet_line_fraction(text) > 0.9 {
        return Some("gopher_too_many_bullets");
    }
    if ellipsis_line_fraction(text) > 0.3 {
        return Some("gopher_too_many_end_ellipsis");
    }
    if ratio(t.iter().filter(|w| w.chars().any(is_alpha)).count(), n) < 0.8 {
        return Some("gopher_below_alpha_threshold");
    }
    if distinct_stop_words(&t) < 2 {
        return Some("gopher_enough_stop_words");
    }
    None
}

/// Gopher repetition (datatrove defaults); `None` keeps, `Some(reason)` drops.
pub fn gopher_repetition_reason(text: &str) -> Option<&'static str> {
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
    let t = tokens(text);
    for (n, thr, reason) in [
        (2, 0.20, "top_2_gram"),
        (3, 0.18, "top_3_gram"),
        (4, 0.16, "top_4_gram"),
    ] {
        if t.len() >= n && ratio(top_ngram_value(&t, n), c) > thr {
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
        if ratio(dup_ngram_chars(&t, n), c) > thr {
            return Some(reason);
        }
    }
    None
}

/// C4 quality (datatrove defaults: 5 sentences, 3 words per line, terminal
/// punctuation required); `None` keeps, `Some(reason)` drops. sift only
/// decides keep or drop; it does not rewrite the text as datatrove does.
pub fn c4_quality_reason(text: &str) -> Option<&'static str> {
    c4_reason(text, true)
}

fn c4_reason(text: &str, require_terminal_punct: bool) -> Option<&'static str> {
    const POLICY: [&str; 6] = [
        "terms of use",
        "privacy policy",
        "cookie policy",
        "uses cookies",
        "use of cookies",
        "use cookies",
    ];
    let mut sentences = 0;
    for unit in splitlines(text) {
        let line = py_strip(unit);
        let words: Vec<&str> = line.split(is_py_space).filter(|w| !w.is_empty()).collect();
        if words.iter().any(|w| chars(w) > 1000) {
            continue;
        }
        let line = remove_citations(line);
        if require_terminal_punct {
            let ends = [".", "?", "!", "\"", "'"].iter().any(|e| line.ends_with(e));
            if !ends || line.ends_with("...") {
                continue;
            }
        }
        if words.len() < 3 {
            continue;
        }
        let lower = line.to_lowercase();
        if lower.contains("lorem ipsum") {
            return Some("lorem_ipsum");
        }
        if lower.contains("javascript") {
            continue;
        }
        if line.contains('{') {
            return Some("curly_bracket");
        }
        if POLICY.iter().any(|p| lower.contains(p)) {
            continue;
        }
        sentences += sentence_count(&line);
    }
    if sentences < 5 {
        return Some("too_few_sentences");
    }
    None
}

/// Deletes `[digits]`, `[edit]` and `[citation needed]` (case-sensitive).
fn remove_citations(line: &str) -> String {
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
    out
}

/// FineWeb quality (datatrove defaults); `None` keeps, `Some(reason)` drops.
pub fn fineweb_quality_reason(text: &str) -> Option<&'static str> {
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
    if list_ratio(text) > 0.3 {
        return Some("list_ratio");
    }
    None
}

pub mod udfs;

#[cfg(test)]
mod tests;
