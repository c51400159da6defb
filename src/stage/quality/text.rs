//! Splitting text: lines, paragraphs and spaCy-like word tokens.

use super::*;

/// Python's `str.splitlines()`.
pub fn splitlines(text: &str) -> Vec<&str> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let (mut start, mut i) = (0, 0);
    while i < b.len() {
        // A break's width in bytes, or 0: `\n \r \v \f \x1c–\x1e`, U+0085
        // (C2 85) and U+2028/U+2029 (E2 80 A8/A9).
        let width = match b[i] {
            b'\n' | 0x0b | 0x0c | 0x1c..=0x1e => 1,
            b'\r' => {
                if b.get(i + 1) == Some(&b'\n') {
                    2
                } else {
                    1
                }
            }
            0xc2 if b.get(i + 1) == Some(&0x85) => 2,
            0xe2 if b.get(i + 1) == Some(&0x80) && matches!(b.get(i + 2), Some(0xa8 | 0xa9)) => 3,
            _ => 0,
        };
        if width == 0 {
            i += 1;
            continue;
        }
        out.push(&text[start..i]);
        i += width;
        start = i;
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

/// The non-empty runs of `text` between Python whitespace (`str.split()`).
pub fn py_words(text: &str) -> impl Iterator<Item = &str> {
    let b = text.as_bytes();
    let mut i = 0;
    std::iter::from_fn(move || {
        // Skip whitespace, then take up to the next.
        let space_at = |i: usize| -> usize {
            match b[i] {
                b' ' | b'\t'..=b'\r' | 0x1c..=0x1f => 1,
                c if c < 0x80 => 0,
                // A lead byte: decode the one character.
                _ => {
                    let c = text[i..].chars().next().expect("a char boundary");
                    if c.is_whitespace() { c.len_utf8() } else { 0 }
                }
            }
        };
        while i < b.len() {
            match space_at(i) {
                0 => break,
                w => i += w,
            }
        }
        if i >= b.len() {
            return None;
        }
        let start = i;
        while i < b.len() {
            // A continuation byte (10xxxxxx) is never the start of a space.
            if b[i] & 0xc0 != 0x80 && space_at(i) != 0 {
                break;
            }
            i += 1;
        }
        Some(&text[start..i])
    })
}

pub fn py_strip(s: &str) -> &str {
    s.trim_matches(is_py_space)
}

/// Code points: the bytes that are not UTF-8 continuation bytes (one loop
/// the compiler vectorizes; `chars().count()` takes a slow path below 32
/// bytes, and most words are shorter).
pub(super) fn chars(s: &str) -> usize {
    code_points(s.as_bytes())
}

/// [`chars`] of UTF-8 bytes (the n-gram tables hold tokens as bytes).
pub(super) fn code_points(b: &[u8]) -> usize {
    b.iter().filter(|&&b| (b as i8) >= -0x40).count()
}

/// spaCy's only clitic suffixes: `'s` and `'S`. The others (`n't`, `'ll`,
/// `'d`, …) split only inside a tokenizer exception (`don't`, `I'll`), so
/// `blemish'd` and `print("Don't` stay whole.
pub(super) const CLITICS: &[&str] = &["'s", "'S", "’s", "’S"];

/// Currency prefixes of more than one character (spaCy's `US$`, `C$`, `A$`).
const CURRENCY_PREFIXES: &[&str] = &["US$", "C$", "A$"];

/// A tokenizer exception (spaCy checks for one before each affix it splits
/// off): its tokens, which spell it. One token for `e.g.`, `Corp.`, `:)`,
/// `and/or`; two or more for `cannot` (`can` `not`), `dont`, `3pm`.
pub(super) fn special(t: &str) -> Option<&'static [&'static str]> {
    struct Index {
        map: std::collections::HashMap<&'static str, Vec<&'static str>, foldhash::fast::FixedState>,
        /// (first byte, last byte) pairs of the exceptions, as bits.
        ends: Vec<u64>,
        longest: usize,
    }
    static INDEX: std::sync::OnceLock<Index> = std::sync::OnceLock::new();
    let index = INDEX.get_or_init(|| {
        let mut map: std::collections::HashMap<_, _, _> = Default::default();
        for sp in super::spacy::SPECIALS {
            map.insert(*sp, vec![*sp]);
        }
        for (sp, pieces) in super::spacy::SPLITS {
            map.insert(*sp, pieces.to_vec());
        }
        let mut ends = vec![0u64; 1024];
        for sp in map.keys() {
            let b = sp.as_bytes();
            let k = (b[0] as usize) << 8 | b[b.len() - 1] as usize;
            ends[k / 64] |= 1 << (k % 64);
        }
        Index {
            longest: map.keys().map(|s| s.len()).max().unwrap_or(0),
            map,
            ends,
        }
    });
    let b = t.as_bytes();
    if b.is_empty() || b.len() > index.longest {
        return None;
    }
    let k = (b[0] as usize) << 8 | b[b.len() - 1] as usize;
    if index.ends[k / 64] & (1 << (k % 64)) == 0 {
        return None;
    }
    index.map.get(t).map(Vec::as_slice)
}

/// Pushes the tokens of exception `s` (with `pieces`), as slices of `s`.
fn push_pieces<'a>(out: &mut Vec<&'a str>, s: &'a str, pieces: &[&str]) {
    let mut at = 0;
    for p in pieces {
        out.push(&s[at..at + p.len()]);
        at += p.len();
    }
}

/// The byte length of a unit that ends `s` right after an ASCII digit
/// (`10km` → `km`): spaCy's `(?<=[0-9])(?:UNITS)` suffix, leftmost match.
fn unit_suffix(s: &str) -> Option<usize> {
    static UNITS: std::sync::OnceLock<
        std::collections::HashSet<&'static str, foldhash::fast::FixedState>,
    > = std::sync::OnceLock::new();
    let units = UNITS.get_or_init(|| super::spacy::UNITS.iter().copied().collect());
    let b = s.as_bytes();
    (1..b.len())
        .filter(|&p| b[p - 1].is_ascii_digit() && s.is_char_boundary(p))
        .find(|&p| units.contains(&s[p..]))
        .map(|p| b.len() - p)
}

/// spaCy's URL_PATTERN, which keeps a token whole once its prefixes and
/// suffixes are split off: an optional scheme and user, then a host name
/// whose last label is lower-case letters (`example.org`, `a.b@x.com`,
/// `https://x.org/a?b=1`), or a public IPv4 address
/// (`http://209.67.75.168/a/b.htm`; not `10.…`, `127.…`, `169.254.…`,
/// `192.168.…` or `172.16–31.…`, which the pattern excludes).
pub(super) fn url_match(t: &str) -> bool {
    static URL: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    static IP: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    if t.bytes().any(|b| b.is_ascii_digit()) && t.contains('.') {
        let ip = IP.get_or_init(|| {
            regex::Regex::new(concat!(
                r"^(?:[\w+\-.]{2,}://)?(?:\S+(?::\S*)?@)?",
                r"((?:[1-9]\d?|1\d\d|2[01]\d|22[0-3])(?:\.(?:1?\d{1,2}|2[0-4]\d|25[0-5])){2}",
                r"(?:\.(?:[1-9]\d?|1\d\d|2[0-4]\d|25[0-4])))",
                r"(?::\d{2,5})?(?:[/?#]\S*)?$",
            ))
            .expect("a valid pattern")
        });
        if let Some(host) = ip.captures(t).and_then(|c| c.get(1)) {
            let octets: Vec<u32> = host
                .as_str()
                .split('.')
                .map(|o| o.parse().unwrap_or(0))
                .collect();
            let private = matches!(octets[..], [10 | 127, ..] | [169, 254, ..] | [192, 168, ..])
                || matches!(octets[..], [172, b, ..] if (16..=31).contains(&b));
            if !private {
                return true;
            }
        }
    }
    // The last label needs a `.` followed by two letters that are not ASCII
    // capitals or digits.
    let b = t.as_bytes();
    let label = |i: usize| {
        b.get(i)
            .is_some_and(|&c| c.is_ascii_lowercase() || c >= 0x80)
    };
    if !(1..b.len()).any(|i| b[i - 1] == b'.' && label(i) && label(i + 1)) {
        return false;
    }
    URL.get_or_init(|| {
        regex::Regex::new(concat!(
            r"^(?:[\w+\-.]{2,}://)?(?:\S+(?::\S*)?@)?",
            r"(?:(?:[A-Za-z0-9\x{a1}-\x{ffff}][A-Za-z0-9\x{a1}-\x{ffff}_-]{0,62})?[A-Za-z0-9\x{a1}-\x{ffff}]\.)+",
            r"[\p{Ll}\p{Lo}\p{Lm}]{2,63}(?::\d{2,5})?(?:[/?#]\S*)?$",
        ))
        .expect("a valid pattern")
    })
    .is_match(t)
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

/// spaCy's LIST_QUOTES, `,` among them.
fn is_quote(c: char) -> bool {
    c == ',' || QUOTES.contains(c)
}

pub(super) fn is_prefix_char(c: char, next: Option<char>) -> bool {
    if c.is_ascii_alphanumeric() {
        return false;
    }
    is_edge_or_quote(c)
        || (!c.is_ascii() && (CURRENCY.contains(c) || is_icon(c)))
        || matches!(c, '$' | '§' | '%' | '=' | '—' | '–')
        || (c == '+' && !next.is_some_and(|n| n.is_ascii_digit()))
}

pub(super) fn is_suffix_char(c: char, before: &str) -> bool {
    if c.is_ascii_alphanumeric() {
        return false;
    }
    if is_edge_or_quote(c) || matches!(c, '—' | '–') || is_icon(c) {
        return true;
    }
    let mut prev = before.chars().rev();
    let (p1, p2) = (prev.next(), prev.next());
    match c {
        // A period ends a token after a digit, a lowercase letter, `%²-+|`,
        // punctuation or a quote, or after two capitals (`USA.`), but not
        // after one (`B.`). (`|` is in spaCy's class: PUNCT's separators.)
        '.' => {
            p1.is_some_and(|p| {
                p.is_ascii_digit()
                    || is_spacy_lower(p)
                    || matches!(p, '%' | '²' | '-' | '+' | '|')
                    || is_edge_or_quote(p)
            }) || (p1.is_some_and(is_spacy_upper) && p2.is_some_and(is_spacy_upper))
        }
        '+' | '%' => p1.is_some_and(|p| p.is_ascii_digit()),
        c if CURRENCY.contains(c) => p1.is_some_and(|p| p.is_ascii_digit()),
        _ => false,
    }
}

/// The length in characters of the infix at `cs[k]` that splits out on its
/// own, or 0. spaCy tries its infix patterns in order and takes the first
/// that matches: a hyphen between digits, then a hyphen run of spaCy's
/// `HYPHENS` (`-`, `--`, `---`, `–`, `—`, `——`, `~`) after a letter or digit
/// and before a letter (`politics--who`, but not `10–20` or `a----b`).
pub(super) fn infix_len(cs: &[(usize, char)], k: usize) -> usize {
    let at = |i: usize| cs.get(i).map(|&(_, c)| c);
    // spaCy's `[{a}0-9]` and `[{a}]`.
    let alnum = |c: char| is_spacy_alpha(c) || c.is_ascii_digit();
    let alpha = is_spacy_alpha;
    let (c, prev, next) = (cs[k].1, cs[k - 1].1, cs[k + 1].1);
    // A run of `c` from k of at most `most` characters before a letter.
    let run_before_letter = |most: usize| {
        let run = cs[k..].iter().take_while(|&&(_, r)| r == c).count();
        if run <= most && at(k + run).is_some_and(alpha) {
            run
        } else {
            0
        }
    };
    match c {
        '-' if prev.is_ascii_digit() && (next.is_ascii_digit() || next == '-') => 1,
        '-' if alnum(prev) => run_before_letter(3),
        '—' if alnum(prev) => run_before_letter(2),
        '–' | '~' => usize::from(alnum(prev) && alpha(next)),
        '+' | '*' | '^' => {
            usize::from(prev.is_ascii_digit() && (next.is_ascii_digit() || next == '-'))
        }
        ',' => usize::from(alpha(prev) && alpha(next)),
        // After a lowercase letter or a quote, before a capital or a quote
        // (spaCy's quotes include `,`): `for."To`, `ab.,cd`.
        '.' => usize::from(
            (is_spacy_lower(prev) || is_quote(prev)) && (is_spacy_upper(next) || is_quote(next)),
        ),
        '…' => 1,
        ':' | '<' | '>' | '=' | '/' => usize::from(alnum(prev) && alpha(next)),
        c => usize::from(is_icon(c)),
    }
}

/// A document and its word tokens, split once and shared by every rule set
/// and metric that reads them.
pub struct Doc<'a> {
    pub text: &'a str,
    tokens: std::cell::OnceCell<Vec<&'a str>>,
}

impl<'a> Doc<'a> {
    pub fn new(text: &'a str) -> Self {
        Doc {
            text,
            tokens: std::cell::OnceCell::new(),
        }
    }

    /// [`tokens`] of the text, split on first use.
    pub fn tokens(&self) -> &[&'a str] {
        self.tokens.get_or_init(|| tokens(self.text))
    }
}

/// Word tokens `T(text)`, after spaCy's blank English tokenizer (which
/// datatrove uses): whitespace split, then prefixes and suffixes split off
/// each chunk (`...` and `…` stay whole; each icon such as `│` or `😀` is
/// one; `'s` is the only clitic suffix), infixes split out (`well-known`,
/// `politics--who`, `10-20`, `a/b`, `for."To`, `0…6`), spaCy's exceptions
/// applied (`e.g.`, `Corp.`, `:)`, `and/or` whole; `don't` as `do` `n't`;
/// overlapping ones longest first), and URLs and e-mail addresses kept
/// whole once their brackets and trailing punctuation are split off. Its
/// letter classes are spaCy's (`ALPHA`, `ALPHA_LOWER`, `ALPHA_UPPER`).
pub fn tokens(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for chunk in py_words(text) {
        split_chunk(chunk, &mut out);
    }
    out
}

pub(super) fn split_chunk<'a>(chunk: &'a str, out: &mut Vec<&'a str>) {
    // Letters only, or letters and digits that end in a letter after no
    // digit-unit boundary: nothing splits but an exception.
    let b = chunk.as_bytes();
    if b.iter().all(u8::is_ascii_alphabetic)
        || (b.iter().all(u8::is_ascii_alphanumeric) && b.last().is_some_and(u8::is_ascii_digit))
    {
        match special(chunk) {
            Some(pieces) => push_pieces(out, chunk, pieces),
            None => out.push(chunk),
        }
        return;
    }
    let start = out.len();
    split_affixes(chunk, out, true);
    if out.len() - start >= 2 {
        merge_specials(chunk, out, start);
    }
}

/// The exceptions that are two or more tokens when split without
/// exceptions (`):` is `)` `:`), by their first token, longest first, with
/// the tokens they are instead.
type Patterns = std::collections::HashMap<
    &'static str,
    Vec<(Vec<&'static str>, &'static [&'static str])>,
    foldhash::fast::FixedState,
>;

fn special_patterns() -> &'static Patterns {
    static INDEX: std::sync::OnceLock<Patterns> = std::sync::OnceLock::new();
    INDEX.get_or_init(|| {
        let mut index: Patterns = Default::default();
        let all = super::spacy::SPECIALS
            .iter()
            .map(|sp| (*sp, std::slice::from_ref(sp)))
            .chain(super::spacy::SPLITS.iter().map(|(sp, p)| (*sp, *p)));
        for (sp, pieces) in all {
            let mut toks = Vec::new();
            split_affixes(sp, &mut toks, false);
            if toks.len() >= 2 && toks != pieces {
                index.entry(toks[0]).or_default().push((toks, pieces));
            }
        }
        for v in index.values_mut() {
            v.sort_by_key(|p| std::cmp::Reverse(p.0.len()));
        }
        index
    })
}

/// spaCy's special-case matcher: runs of a chunk's tokens that spell an
/// exception (`b):` → `b` `):`) become its tokens. Where runs overlap,
/// spaCy takes the longest first, the earliest among equals, and drops a
/// run whose first or last token is in one it looked at before, taken or
/// not (`():')` is `(` `)` `:')`, not `(` `):` `'` `)`).
fn merge_specials<'a>(chunk: &'a str, out: &mut Vec<&'a str>, start: usize) {
    let index = special_patterns();
    let offset = |t: &str| t.as_ptr() as usize - chunk.as_ptr() as usize;
    let mut found: Vec<(usize, usize, &[&str])> = Vec::new();
    for i in start..out.len() {
        for (toks, pieces) in index.get(out[i]).into_iter().flatten() {
            if out.len() - i >= toks.len() && out[i..i + toks.len()] == toks[..] {
                found.push((i, i + toks.len(), pieces));
            }
        }
    }
    if found.is_empty() {
        return;
    }
    found.sort_by_key(|&(s, e, _)| (std::cmp::Reverse(e - s), s));
    let mut seen = vec![false; out.len()];
    let mut kept = Vec::new();
    for (s, e, pieces) in found {
        if !seen[s] && !seen[e - 1] {
            kept.push((s, e, pieces));
        }
        seen[s..e].fill(true);
    }
    // The kept runs do not overlap; replace them from the last.
    kept.sort_by_key(|k| std::cmp::Reverse(k.0));
    for (s, e, pieces) in kept {
        let last = out[e - 1];
        let joined = &chunk[offset(out[s])..offset(last) + last.len()];
        let mut replaced = Vec::with_capacity(pieces.len());
        push_pieces(&mut replaced, joined, pieces);
        out.splice(s..e, replaced);
    }
}

/// Splits off prefixes, suffixes and infixes; `specials`: stop at a
/// one-token exception.
fn split_affixes<'a>(chunk: &'a str, out: &mut Vec<&'a str>, specials: bool) {
    let special = |s: &str| if specials { special(s) } else { None };
    let mut s = chunk;
    // Prefixes.
    loop {
        if s.is_empty() {
            return;
        }
        if let Some(pieces) = special(s) {
            push_pieces(out, s, pieces);
            return;
        }
        // spaCy's `\.\.+` (LIST_ELLIPSES): a run of two or more dots.
        let dots = s.bytes().take_while(|&b| b == b'.').count();
        if dots >= 2 {
            out.push(&s[..dots]);
            s = &s[dots..];
            continue;
        }
        if let Some(cur) = CURRENCY_PREFIXES
            .iter()
            .find(|cur| s.len() > cur.len() && s.starts_with(**cur))
        {
            out.push(&s[..cur.len()]);
            s = &s[cur.len()..];
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
        if s.is_empty() || special(s).is_some() {
            break;
        }
        let dots = s.bytes().rev().take_while(|&b| b == b'.').count();
        if dots >= 2 && s.len() > dots {
            suffixes.push(&s[s.len() - dots..]);
            s = &s[..s.len() - dots];
            continue;
        }
        // Every clitic has an apostrophe (`'`, or `’`, whose last byte is
        // 0x99) in its last 6 bytes.
        let tail = &s.as_bytes()[s.len().saturating_sub(6)..];
        let apostrophe = tail.iter().any(|&c| c == b'\'' || c == 0x99);
        if let Some(cl) = CLITICS
            .iter()
            .find(|cl| apostrophe && s.len() > cl.len() && s.ends_with(*cl))
        {
            suffixes.push(&s[s.len() - cl.len()..]);
            s = &s[..s.len() - cl.len()];
            continue;
        }
        if let Some(n) = unit_suffix(s) {
            suffixes.push(&s[s.len() - n..]);
            s = &s[..s.len() - n];
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
            b'-' | b'~' | b'+' | b'*' | b'^' | b',' | b'.' | b':' | b'<' | b'>' | b'=' | b'/'
        ) || b >= 0x80
    });
    if let Some(pieces) = special(s) {
        push_pieces(out, s, pieces);
    } else if maybe_infix && !s.is_empty() && !url_match(s) {
        let cs: Vec<(usize, char)> = s.char_indices().collect();
        let mut start = 0;
        let mut k = 1;
        while k + 1 < cs.len() {
            let i = cs[k].0;
            // A run of two or more dots (`for...in`), spaCy's first infix.
            let dots = cs[k..].iter().take_while(|(_, c)| *c == '.').count();
            let len = if dots >= 2 { dots } else { infix_len(&cs, k) };
            if len > 0 {
                let end = cs.get(k + len).map_or(s.len(), |&(j, _)| j);
                if start < i {
                    out.push(&s[start..i]);
                }
                out.push(&s[i..end]);
                start = end;
                k += len;
            } else {
                k += 1;
            }
        }
        if start < s.len() {
            out.push(&s[start..]);
        }
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
