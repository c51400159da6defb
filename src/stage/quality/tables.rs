//! Character classes and punctuation tables, as the reference defines them.

/// spaCy's LIST_ICONS (other symbols: box drawing, emoji, `©`, `°`), which
/// its tokenizer splits off as prefixes, suffixes and infixes, so each is a
/// token of its own.
pub fn is_icon(c: char) -> bool {
    !c.is_ascii() && in_ranges(super::spacy::ICONS, c)
}

/// spaCy's ALPHA, the letters its hyphen, comma and `:<>=/` infixes sit
/// between (ASCII letters, Latin, Greek, Cyrillic, CJK, … but not `ⁿ`).
pub fn is_spacy_alpha(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_alphabetic()
    } else {
        in_ranges(super::spacy::ALPHA, c)
    }
}

/// spaCy's ALPHA_LOWER (caseless scripts count as lower and upper).
pub fn is_spacy_lower(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_lowercase()
    } else {
        in_ranges(super::spacy::ALPHA_LOWER, c)
    }
}

/// spaCy's ALPHA_UPPER.
pub fn is_spacy_upper(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_uppercase()
    } else {
        in_ranges(super::spacy::ALPHA_UPPER, c)
    }
}

fn in_ranges(ranges: &[(char, char)], c: char) -> bool {
    ranges
        .binary_search_by(|(lo, hi)| {
            if *hi < c {
                std::cmp::Ordering::Less
            } else if *lo > c {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

/// spaCy's `is_punct`: every character of general category P*.
pub fn is_punct_token(t: &str) -> bool {
    t.chars().all(|c| {
        if c.is_ascii() {
            // The ASCII P* characters; `$+<=>^`|~` are symbols (S*).
            c.is_ascii_punctuation()
                && !matches!(c, '$' | '+' | '<' | '=' | '>' | '^' | '`' | '|' | '~')
        } else {
            in_ranges(super::spacy::PUNCTUATION, c)
        }
    })
}

/// A token that ends a sentence for spaCy's sentencizer: one of its
/// sentence-final characters, alone (`..`, `...` and `!!` end none).
pub fn is_sentence_end(t: &str) -> bool {
    let mut cs = t.chars();
    match (cs.next(), cs.next()) {
        (Some(c), None) => super::spacy::SENTENCE_ENDS.binary_search(&c).is_ok(),
        _ => false,
    }
}

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
pub(super) const EXTRA_PUNCT: &str = "—”％１〈、━【「」，】；“《„’∶´．（–？！：～«〉》）。…►»";

/// Python's `str.isspace` (Rust's whitespace plus U+001C–U+001F).
pub fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

pub fn is_term_punct(c: char) -> bool {
    TERM_PUNCT.binary_search(&c).is_ok()
}

/// Membership in the reference's PUNCTUATION_SET.
pub fn is_punct(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_punctuation() || matches!(c as u32, 0x00..=0x08 | 0x0B..=0x1F | 0x7F);
    }
    c.is_ascii_punctuation()
        || EXTRA_PUNCT.contains(c)
        || matches!(c as u32, 0x00..=0x08 | 0x0B..=0x1F | 0x7F..=0x9F)
        || is_term_punct(c)
}

/// Python's `str.isalpha` for one character: general category L*.
pub fn is_alpha(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_alphabetic()
    } else {
        // Python's table (letters only: not the marks of Thai or Devanagari
        // that Rust's `is_alphabetic` also counts).
        in_ranges(super::spacy::ISALPHA, c)
    }
}
