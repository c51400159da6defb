//! Splitting text: lines, paragraphs and spaCy-like word tokens.

use super::*;

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

pub fn py_strip(s: &str) -> &str {
    s.trim_matches(is_py_space)
}

pub(super) fn chars(s: &str) -> usize {
    s.chars().count()
}

pub(super) const ABBREVIATIONS: &[&str] = &[
    "U.S.", "U.K.", "e.g.", "i.e.", "etc.", "vs.", "Mr.", "Mrs.", "Ms.", "Dr.", "Prof.", "Inc.",
    "Ltd.", "Co.", "Jr.", "Sr.", "St.", "Mt.", "No.", "a.m.", "p.m.", "Jan.", "Feb.", "Mar.",
    "Apr.", "Jun.", "Jul.", "Aug.", "Sep.", "Sept.", "Oct.", "Nov.", "Dec.",
];
pub(super) const CLITICS: &[&str] = &[
    "n't", "'s", "'m", "'re", "'ve", "'ll", "'d", "’s", "’m", "’re", "’ve", "’ll", "’d", "n’t",
];

pub(super) fn keep_whole(t: &str) -> bool {
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
pub(super) const EDGE_PUNCT: &str = "…,:;!?¿؟¡()[]{}<>_#*&。？！，、；：～·।،۔؛٪";
pub(super) const QUOTES: &str = "'\"”“`‘´’‚„»«「」『』（）〔〕【】《》〈〉⟦⟧";
pub(super) const CURRENCY: &str = "$£€¥฿₽₴₹₩₪₫₱₦₺₿";

/// ASCII members of EDGE_PUNCT and QUOTES.
pub(super) fn ascii_edge(c: char) -> bool {
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

pub(super) fn is_edge_or_quote(c: char) -> bool {
    if c.is_ascii() {
        ascii_edge(c)
    } else {
        EDGE_PUNCT.contains(c) || QUOTES.contains(c)
    }
}

pub(super) fn is_prefix_char(c: char, next: Option<char>) -> bool {
    if c.is_ascii_alphanumeric() {
        return false;
    }
    is_edge_or_quote(c)
        || (!c.is_ascii() && CURRENCY.contains(c))
        || matches!(c, '$' | '§' | '%' | '=' | '—' | '–')
        || (c == '+' && !next.is_some_and(|n| n.is_ascii_digit()))
}

pub(super) fn is_suffix_char(c: char, before: &str) -> bool {
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
pub(super) fn is_infix(cs: &[(usize, char)], k: usize) -> bool {
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

pub(super) fn split_chunk<'a>(chunk: &'a str, out: &mut Vec<&'a str>) {
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
pub(super) fn words<'a>(toks: &[&'a str]) -> Vec<&'a str> {
    toks.iter()
        .copied()
        .filter(|t| t.chars().any(|c| !is_punct(c)))
        .collect()
}

/// Gopher repetition paragraphs: strip(text) split on `\n{2,}`.
pub(super) fn paragraphs(text: &str) -> Vec<&str> {
    split_runs(py_strip(text), 2)
}

/// Gopher repetition lines: text split on `\n+` (not trimmed).
pub(super) fn rep_lines(text: &str) -> Vec<&str> {
    split_runs(text, 1)
}

/// Splits on runs of at least `min` newlines.
pub(super) fn split_runs(text: &str, min: usize) -> Vec<&str> {
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

/// FineWeb lines: `split("\n")` without blank ones.
pub(super) fn fineweb_lines(text: &str) -> Vec<&str> {
    text.split('\n')
        .filter(|l| !py_strip(l).is_empty())
        .collect()
}
