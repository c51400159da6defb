//! Text normalization and shingling, shared by exact and near dedup.

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::DataType;
use unicode_normalization::UnicodeNormalization;

use super::Shingle;
use super::minhash;

/// Each ASCII byte's normalized form: digits → `0`, letters lowercased, others 0 (a separator).
const ASCII_MAP: [u8; 128] = {
    let mut m = [0u8; 128];
    let mut b = 0;
    while b < 128 {
        let c = b as u8;
        m[b] = if c.is_ascii_digit() {
            b'0'
        } else if c.is_ascii_alphanumeric() {
            c.to_ascii_lowercase()
        } else {
            0
        };
        b += 1;
    }
    m
};

/// Datatrove-like text simplification: NFKC, lowercase, digits (any numeric character) → 0,
/// punctuation and symbols → space, whitespace collapsed and trimmed.
pub fn normalize(text: &str) -> String {
    let mut out = String::new();
    normalize_into(text, &mut out);
    out
}

/// [`normalize`] into `out` (cleared first), so that a loop reuses one buffer.
pub fn normalize_into(text: &str, out: &mut String) {
    out.clear();
    if text.is_ascii() {
        // ASCII is NFKC-invariant: the same result without the Unicode
        // machinery. Without branches, too: every byte is written, and the
        // end moves on except over a separator after a separator (words
        // end every few bytes, and a branch there is mispredicted).
        let bytes = text.as_bytes();
        let mut buf = std::mem::take(out).into_bytes();
        buf.resize(bytes.len(), 0);
        let (mut len, mut space) = (0usize, true);
        for &b in bytes {
            let c = ASCII_MAP[b as usize];
            let sep = c == 0;
            buf[len] = if sep { b' ' } else { c };
            len += usize::from(!(sep && space));
            space = sep;
        }
        buf.truncate(len);
        if buf.last() == Some(&b' ') {
            buf.pop();
        }
        *out = String::from_utf8(buf).expect("ASCII");
        return;
    }
    out.reserve(text.len());
    let mut space = true;
    for c in text.nfkc().flat_map(char::to_lowercase) {
        let c = if c.is_numeric() {
            '0'
        } else if c.is_alphanumeric() {
            c
        } else {
            ' '
        };
        if c == ' ' {
            if !space {
                out.push(' ');
                space = true;
            }
        } else {
            out.push(c);
            space = false;
        }
    }
    if out.ends_with(' ') {
        out.pop();
    }
}

thread_local! {
    /// Word bounds of the text being shingled, reused from document to document.
    static WORDS: std::cell::RefCell<(Vec<usize>, Vec<usize>)> = const {
        std::cell::RefCell::new((Vec::new(), Vec::new()))
    };
}

/// Shingle hashes of a normalized text. A text shorter than one shingle is
/// one shingle of its whole (normalized) text.
pub fn shingles(norm: &str, kind: Shingle, n: usize, out: &mut Vec<u64>) {
    out.clear();
    match kind {
        Shingle::Word => {
            // Words of a normalized text are separated by single spaces, so a
            // shingle ("w1 w2 … wn") is the slice from its first word's start
            // to its last word's end. Words are the non-empty runs between spaces.
            let bytes = norm.as_bytes();
            WORDS.with_borrow_mut(|(starts, ends)| {
                starts.clear();
                ends.clear();
                let mut from = 0;
                for space in memchr::memchr_iter(b' ', bytes).chain(std::iter::once(bytes.len())) {
                    if space > from {
                        starts.push(from);
                        ends.push(space);
                    }
                    from = space + 1;
                }
                if starts.len() < n {
                    out.push(minhash::shingle_hash(bytes));
                    return;
                }
                for i in 0..=starts.len() - n {
                    out.push(minhash::shingle_hash(&bytes[starts[i]..ends[i + n - 1]]));
                }
            });
        }
        Shingle::Char => {
            let idx: Vec<usize> = norm
                .char_indices()
                .map(|(i, _)| i)
                .chain(std::iter::once(norm.len()))
                .collect();
            let chars = idx.len() - 1;
            if chars < n {
                out.push(minhash::shingle_hash(norm.as_bytes()));
                return;
            }
            for i in 0..=chars - n {
                out.push(minhash::shingle_hash(&norm.as_bytes()[idx[i]..idx[i + n]]));
            }
        }
    }
}

/// The text column of a batch (null → empty), borrowed.
pub fn texts<'a>(batch: &'a RecordBatch, column: &str) -> Vec<&'a str> {
    let col = batch.column_by_name(column).expect("validated column");
    match col.data_type() {
        DataType::Utf8 => col
            .as_string::<i32>()
            .iter()
            .map(|v| v.unwrap_or(""))
            .collect(),
        DataType::LargeUtf8 => col
            .as_string::<i64>()
            .iter()
            .map(|v| v.unwrap_or(""))
            .collect(),
        DataType::Utf8View => col
            .as_string_view()
            .iter()
            .map(|v| v.unwrap_or(""))
            .collect(),
        _ => vec![""; col.len()],
    }
}
