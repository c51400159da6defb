//! The worked examples of the published rules, as expectations.

use super::*;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-4
}

#[test]
fn term_punct_has_159_chars_sorted() {
    assert_eq!(TERM_PUNCT.len(), 159);
    assert!(TERM_PUNCT.windows(2).all(|w| w[0] < w[1]));
    for c in ['.', '!', '?', '。', '।', '\u{17D6}'] {
        assert!(is_term_punct(c), "{c}");
    }
    for c in ['"', ':', ';', ',', '\u{2024}'] {
        assert!(!is_term_punct(c), "{c}");
    }
}

#[test]
fn chars_counts_code_points() {
    for s in [
        "",
        "a",
        "héllo",
        "€uro 😀",
        &"ü".repeat(40),
        &"abc😀".repeat(20),
    ] {
        assert_eq!(chars(s), s.chars().count(), "{s}");
    }
}

#[test]
fn tokens_follow_the_reference_rules() {
    assert_eq!(tokens("end."), ["end", "."]);
    assert_eq!(tokens("(yes)"), ["(", "yes", ")"]);
    assert_eq!(tokens("#tag"), ["#", "tag"]);
    assert_eq!(tokens("what?!"), ["what", "?", "!"]);
    assert_eq!(tokens("5% $10"), ["5", "%", "$", "10"]);
    assert_eq!(tokens("Wait... what…"), ["Wait", "...", "what", "…"]);
    assert_eq!(
        tokens("well-known 10-20"),
        ["well", "-", "known", "10", "-", "20"]
    );
    assert_eq!(
        tokens("don't it's I'm"),
        ["do", "n't", "it", "'s", "I", "'m"]
    );
    assert_eq!(
        tokens("see https://x.org/a?b=1 or me@x.org"),
        ["see", "https://x.org/a?b=1", "or", "me@x.org"]
    );
    assert_eq!(
        tokens("3.5 U.S. e.g. Mr. b. :) --"),
        ["3.5", "U.S.", "e.g.", "Mr.", "b.", ":)", "--"]
    );
}

#[test]
fn shared_primitives() {
    assert_eq!(
        splitlines("a\nb\r\nc\rd\u{2028}e\n"),
        ["a", "b", "c", "d", "e"]
    );
    assert_eq!(splitlines("a\n\nb"), ["a", "", "b"]);
    assert!(is_py_space('\u{1c}') && !'\u{1c}'.is_whitespace());
    assert!(is_punct('１') && is_punct('\u{7f}') && !is_punct('\t') && !is_punct('\n'));
    assert_eq!("......".matches("...").count(), 2);
    for t in ["......", ".....…….. #a ## …", "", "#…...#"] {
        assert_eq!(
            ellipsis_count(t),
            t.matches("...").count() + t.matches('…').count(),
            "{t}"
        );
        assert_eq!(hash_count(t), t.matches('#').count(), "{t}");
    }
    // The length test in distinct_stop_words_up_to.
    assert!(STOP_WORDS.iter().all(|w| (2..=4).contains(&w.len())));
    let t = tokens("the cat and the dog have a bone with that");
    assert_eq!(distinct_stop_words(&t), 5);
    assert_eq!(distinct_stop_words_up_to(&t, 2), 2);
}

#[test]
fn gopher_quality_worked_examples() {
    let t = "The cat sat.\nIt was happy!";
    assert_eq!(tokens(t).len(), 8);
    assert_eq!(word_count(t), 6);
    assert!(close(mean_word_length(t), 19.0 / 6.0));
    assert!(close(alpha_word_fraction(t), 0.75));
    assert!(close(hash_to_word_ratio("#tag #fun is here"), 2.0 / 6.0));
    assert!(close(ellipsis_to_word_ratio("Wait... what…"), 0.5));
    assert_eq!(word_count("Wait... what…"), 2);
    assert!(close(
        bullet_line_fraction("• one\n- two\nthree"),
        2.0 / 3.0
    ));
    assert!(close(
        ellipsis_line_fraction("Go on...\nStop.\nWell…"),
        2.0 / 3.0
    ));
    assert!(close(alpha_word_fraction("I have 2 cats."), 0.6));
    assert!(close(mean_word_length("I have 2 cats."), 2.5));
    assert_eq!(stopword_count("the cat, the dog"), 1);
    assert_eq!(stopword_count("The cat and the dog"), 2);
}

#[test]
fn gopher_quality_thresholds() {
    assert_eq!(gopher_quality_reason("too short"), Some("gopher_short_doc"));
    let good =
        "The river runs to the sea and the people of the town have lived with it for many years. "
            .repeat(4);
    assert_eq!(
        gopher_quality_reason(&good),
        None,
        "{:?}",
        words(&tokens(&good)).len()
    );
    let hashes = format!("{good} {}", "#river ".repeat(40));
    assert_eq!(
        gopher_quality_reason(&hashes),
        Some("gopher_too_many_hashes")
    );
    let no_stop =
        "Rivers run toward seas while people in towns live beside them for many years. ".repeat(5);
    assert_eq!(
        gopher_quality_reason(&no_stop),
        Some("gopher_enough_stop_words")
    );
}

#[test]
fn gopher_repetition_worked_examples() {
    let t = "Big cat.\n\nBig cat.\n\nNew dog.";
    assert_eq!(chars(t), 28);
    assert!(close(duplicate_paragraph_fraction(t), 1.0 / 3.0));
    assert!(close(duplicate_paragraph_char_fraction(t), 8.0 / 28.0));
    assert_eq!(gopher_repetition_reason(t), Some("dup_para_frac"));
    let t = "red fox\nred fox\nowl\n";
    assert!(close(duplicate_line_fraction(t), 0.25));
    assert!(close(duplicate_line_char_fraction(t), 0.35));
    assert_eq!(gopher_repetition_reason(t), Some("dup_line_char_frac"));
    assert!(close(
        top_ngram_char_fraction("to be or not to be", 2),
        10.0 / 18.0
    ));
    assert!(close(top_ngram_char_fraction("Hello world", 2), 1.0));
    assert_eq!(gopher_repetition_reason("Hello world"), Some("top_2_gram"));
    let t = "one two three four five one two three four five";
    assert!(close(duplicate_ngram_char_fraction(t, 5), 19.0 / 47.0));
    assert!(close(duplicate_ngram_char_fraction(t, 6), 0.0));
    assert!(close(
        duplicate_ngram_char_fraction("a a a a a a a", 5),
        5.0 / 13.0
    ));
    assert!(close(
        duplicate_ngram_char_fraction("a a a a a a a", 6),
        6.0 / 13.0
    ));
    assert_eq!(gopher_repetition_reason(""), Some("empty"));
}

#[test]
fn sentences_as_c4_counts_them() {
    assert_eq!(sentence_count("Hello!!! World? yes"), 3);
    assert_eq!(sentence_count("A sentence without end"), 1);
    assert_eq!(sentence_count("We sell fresh bread. Come early!"), 2);
    assert_eq!(sentence_count("Wait... Mr. Smith e.g. came"), 1);
    // A closing quote or bracket stays in its sentence; `..` ends none.
    assert_eq!(sentence_count("He left.' Then she came."), 2);
    assert_eq!(sentence_count("(It was late.) They went."), 2);
    assert_eq!(sentence_count("Wait.. what happened.. nobody knows"), 1);
}

#[test]
fn c4_worked_examples() {
    // Line-level outcomes, seen through the document verdict with enough good lines around them.
    let good = "We bake fresh bread every single day. Customers come early in the morning. \
                The ovens are warm by five. Everyone loves the smell. We close at noon.";
    assert_eq!(c4_quality_reason(good), None);
    assert_eq!(
        c4_quality_reason(&format!("{good}\nCall x{{y}} now please.")),
        Some("curly_bracket")
    );
    assert_eq!(
        c4_quality_reason(&format!("{good}\nSome lorem ipsum text here.")),
        Some("lorem_ipsum")
    );
    // A curly brace on a dropped line (no end mark) does not drop the document.
    assert_eq!(
        c4_quality_reason(&format!("{good}\nfunction f() {{ return 1 }}")),
        None
    );
    assert_eq!(
        remove_citations("It was big.[1] Yes it was."),
        "It was big. Yes it was."
    );
    assert_eq!(
        remove_citations("See [citation needed] and [edit] and [] and [x]"),
        "See  and  and  and [x]"
    );
    assert_eq!(
        c4_quality_reason("We sell fresh bread. Come early!\nIt is warm and soft today."),
        Some("too_few_sentences")
    );
    assert_eq!(c4_quality_reason(""), Some("too_few_sentences"));
}

#[test]
fn fineweb_worked_examples() {
    let t = "Home\nWe bake bread daily.\n\nContact us";
    assert!(close(terminal_punct_line_fraction(t), 1.0 / 3.0));
    assert!(close(short_line_fraction(t), 1.0));
    assert!(close(list_ratio(t), 3.0 / 8.0));
    assert_eq!(fineweb_quality_reason(t), Some("short_line_ratio"));
    let t = "Buy now\nFresh bread is baked here every day.\nBuy now";
    assert!(close(fineweb_char_dup_ratio(t), 0.14));
    assert!(close(short_line_fraction(t), 2.0 / 3.0));
    assert_eq!(fineweb_quality_reason(t), Some("char_dup_ratio"));
    let t = "Eggs\nMilk\nBread";
    assert!(close(terminal_punct_line_fraction(t), 0.0));
    assert_eq!(fineweb_quality_reason(t), Some("line_punct_ratio"));
    assert!(close(
        terminal_punct_line_fraction("He said \"yes\"\nShe left.  \nOk."),
        1.0 / 3.0
    ));
    assert_eq!(fineweb_quality_reason(""), Some("empty"));
}

#[test]
fn flags() {
    assert!(lorem_ipsum("x LOREM Ipsum y") && !lorem_ipsum("lorem"));
    assert!(has_javascript("Enable JavaScript") && has_curly_brace("a{b"));
}

/// spaCy's tokens of `tests/data/spacy_cases.txt` (from bench/spacy_tokens.py).
#[test]
fn tokens_agree_with_spacy() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/spacy_tokens.jsonl");
    let mut wrong = Vec::new();
    let mut n = 0;
    for line in std::fs::read_to_string(path).unwrap().lines() {
        let case: serde_json::Value = serde_json::from_str(line).unwrap();
        let text = case["text"].as_str().unwrap();
        let want: Vec<&str> = case["tokens"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap())
            .collect();
        let got = tokens(text);
        if got != want {
            wrong.push(format!("{text:?}\n  spaCy {want:?}\n  sift  {got:?}"));
        }
        // The sentencizer's count of each stripped line.
        let want: Vec<u64> = case["sentences"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_u64().unwrap())
            .collect();
        let got: Vec<u64> = splitlines(text)
            .into_iter()
            .map(|l| sentence_count(py_strip(l)) as u64)
            .collect();
        if got != want {
            wrong.push(format!(
                "{text:?}\n  spaCy sentences {want:?}\n  sift  sentences {got:?}"
            ));
        }
        n += 1;
    }
    assert!(n >= 25, "{n} cases");
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn icons_are_spacys_other_symbols() {
    for c in ['©', '®', '™', '★', '♥', '😀', '│', '─', '┌', '✓', '°'] {
        assert!(is_icon(c), "{c}");
    }
    // Maths symbols, currency, letters, joiners; and emoji newer than spaCy's table.
    for c in ['a', '→', '€', '-', 'é', '\u{200d}', '\u{1FA70}'] {
        assert!(!is_icon(c), "{c}");
    }
}

/// Python's `str.splitlines()`, char by char.
fn splitlines_by_chars(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut it = text.char_indices().peekable();
    while let Some((i, c)) = it.next() {
        let width = match c {
            '\r' if it.peek().map(|(_, n)| *n) == Some('\n') => {
                it.next();
                2
            }
            '\n' | '\r' | '\u{0b}' | '\u{0c}' | '\u{1c}' | '\u{1d}' | '\u{1e}' | '\u{85}'
            | '\u{2028}' | '\u{2029}' => c.len_utf8(),
            _ => continue,
        };
        out.push(&text[start..i]);
        start = i + width;
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

use proptest::strategy::Strategy;

proptest::proptest! {
    /// The byte scanners split as the char-by-char definitions do.
    #[test]
    fn byte_splitters_match_char_definitions(
        text in proptest::collection::vec(
            proptest::sample::select(vec![
                "a", "Zé", " ", "\t", "\n", "\r", "\r\n", "\u{0b}", "\u{1c}", "\u{1f}",
                "\u{85}", "\u{a0}", "\u{2028}", "\u{2029}", "\u{3000}", "…", "’", "x.y", "😀",
            ]),
            0..40,
        ).prop_map(|v| v.concat())
    ) {
        let by_chars: Vec<&str> = text.split(is_py_space).filter(|w| !w.is_empty()).collect();
        proptest::prop_assert_eq!(py_words(&text).collect::<Vec<_>>(), by_chars);
        proptest::prop_assert_eq!(splitlines(&text), splitlines_by_chars(&text));
    }
}

/// `is_alpha` is Python's `str.isalpha` (general category L*), as
/// datatrove asks it: Thai and Devanagari vowel signs, combining accents and
/// letter numbers are not letters; `ª`, `ๆ` and CJK ideographs are.
#[test]
fn alpha_is_pythons_isalpha() {
    for c in ['a', 'Z', 'é', 'ª', 'ก', 'ๆ', 'क', 'א', '中'] {
        assert!(is_alpha(c), "{c:?}");
    }
    for c in [
        '\u{0e31}', '\u{0e47}', '\u{093f}', 'Ⅲ', '〇', '\u{0301}', '1', '_',
    ] {
        assert!(!is_alpha(c), "{c:?}");
    }
    // A Thai vowel sign alone is a token with no letter.
    assert_eq!(alpha_word_fraction("ก \u{0e31} ข"), 2.0 / 3.0);
}
