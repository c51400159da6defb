//! Word n-gram statistics of Gopher repetition, from one pass over a
//! document's tokens.
//!
//! The top n-gram rule compares windows token by token (the published
//! windows are tokens joined by a space, and tokens hold no whitespace), so
//! each token is interned and a window is keyed by a hash of its ids. The
//! duplicated n-gram rule (n = 5–10) compares the tokens concatenated with
//! no separator (`ab·c` equals `a·bc`), so the tokens are copied end to end
//! once and a window is keyed by a polynomial hash of its bytes, each window
//! in O(1) from prefix hashes at token boundaries. A key only finds
//! candidates: a window equals an earlier one when their ids (top) or bytes
//! (duplicated) compare equal, so a hash collision costs a comparison and
//! never changes a count. The tables are reused across documents (one set
//! per thread).

use std::cell::RefCell;
use std::collections::HashMap;

use foldhash::fast::FixedState;

type Map<K, V> = HashMap<K, V, FixedState>;

/// An odd base for the polynomial hash modulo 2^64.
const BASE: u64 = 0x0f3d_5b79_a2c4_e681;
/// Powers of the base kept in a table; longer windows use exponentiation.
const POW_TABLE: usize = 4096;
/// A window of this many bytes or more can only repeat where its first
/// `PREFIX` bytes follow two token starts.
const PREFIX: usize = 16;

fn powmod(mut b: u64, mut e: usize) -> u64 {
    let mut r: u64 = 1;
    while e > 0 {
        if e & 1 == 1 {
            r = r.wrapping_mul(b);
        }
        b = b.wrapping_mul(b);
        e >>= 1;
    }
    r
}

fn pow_table() -> &'static [u64] {
    static TABLE: std::sync::OnceLock<Vec<u64>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = Vec::with_capacity(POW_TABLE);
        let mut p = 1u64;
        for _ in 0..POW_TABLE {
            t.push(p);
            p = p.wrapping_mul(BASE);
        }
        t
    })
}

#[derive(Default)]
struct Scratch {
    ids: Vec<u32>,
    /// Bytes before token i (len + 1 entries).
    bytes: Vec<usize>,
    /// The tokens end to end.
    cat: Vec<u8>,
    /// Prefix hashes of `cat` at token boundaries (len + 1 entries).
    hash: Vec<u64>,
    /// Whether the `PREFIX` bytes of `cat` from token i's start also follow
    /// another token's start (or run past the end).
    shared: Vec<bool>,
    /// Token i's slot in the table of prefixes, or of 2-grams.
    at: Vec<u32>,
    /// Whether the 2-gram from token i occurs more than once.
    pair_shared: Vec<bool>,
    table: Table,
}

/// An open-addressing table of 16-byte slots: a key and two values, the
/// second one nonzero in a used slot. One pass of one n size per reset.
#[derive(Default)]
struct Table {
    slots: Vec<Slot>,
    bits: u32,
}

#[derive(Default, Clone, Copy)]
#[repr(C, align(16))]
struct Slot {
    key: u64,
    a: u32,
    /// 0 in an empty slot.
    b: u32,
}

impl Table {
    /// Empties the table, sized for `n` keys.
    fn reset(&mut self, n: usize) {
        let size = (2 * n).next_power_of_two().max(16);
        if size > self.slots.len() || (self.slots.len() > 1 << 16 && size * 8 < self.slots.len()) {
            self.slots = vec![Slot::default(); size];
        } else {
            self.slots[..size].fill(Slot::default());
        }
        self.bits = size.trailing_zeros();
    }

    /// The index of the entry with `key` for which `same` holds, or of the
    /// empty slot where it goes (its `b` is 0).
    #[inline]
    fn position(&self, key: u64, same: impl Fn(&Slot) -> bool) -> usize {
        let mask = (1usize << self.bits) - 1;
        let mut at = (key.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - self.bits)) as usize;
        loop {
            let slot = &self.slots[at & mask];
            if slot.b == 0 || (slot.key == key && same(slot)) {
                return at & mask;
            }
            at = (at + 1) & mask;
        }
    }
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// A document's tokens, prepared for the n-gram rules.
pub(super) struct Grams<'s, 't> {
    s: &'s mut Scratch,
    toks: &'t [&'t str],
    hashed: bool,
    top2: Option<(u32, u32)>,
}

/// Runs `f` on the n-gram tables of `toks`, which are built once and shared
/// by every rule `f` checks.
pub(super) fn with_grams<R>(toks: &[&str], f: impl FnOnce(&mut Grams) -> R) -> R {
    SCRATCH.with(|cell| {
        let mut guard = cell.borrow_mut();
        let s: &mut Scratch = &mut guard;
        s.ids.clear();
        s.bytes.clear();
        s.cat.clear();
        s.hash.clear();
        s.shared.clear();
        s.bytes.push(0);
        for t in toks {
            s.cat.extend_from_slice(t.as_bytes());
            s.bytes.push(s.cat.len());
        }
        let mut g = Grams {
            s: &mut *s,
            toks,
            hashed: false,
            top2: None,
        };
        g.intern();
        f(&mut g)
    })
}

impl Grams<'_, '_> {
    fn intern(&mut self) {
        let mut intern: Map<&str, u32> =
            Map::with_capacity_and_hasher(self.toks.len(), FixedState::default());
        for t in self.toks {
            let next = intern.len() as u32;
            self.s.ids.push(*intern.entry(t).or_insert(next));
        }
    }

    /// Prefix hashes, and which token starts share their next `PREFIX`
    /// bytes with another one.
    fn hashes(&mut self) {
        if self.hashed {
            return;
        }
        let s = &mut *self.s;
        let tokens = self.toks.len();
        s.table.reset(tokens);
        s.at.clear();
        let cat = &s.cat;
        for &start in &s.bytes[..tokens] {
            let Some(head) = cat.get(start..start + PREFIX) else {
                s.at.push(u32::MAX);
                continue;
            };
            let v = u128::from_le_bytes(head.try_into().expect("PREFIX bytes"));
            let key = (v as u64) ^ ((v >> 64) as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
            let at = s.table.position(key, |slot| {
                cat[slot.a as usize..slot.a as usize + PREFIX] == *head
            });
            let slot = &mut s.table.slots[at];
            if slot.b == 0 {
                *slot = Slot {
                    key,
                    a: start as u32,
                    b: 0,
                };
            }
            slot.b = slot.b.saturating_add(1);
            s.at.push(at as u32);
        }
        let slots = &s.table.slots;
        s.shared.extend(
            s.at.iter()
                .map(|&at| at == u32::MAX || slots[at as usize].b > 1),
        );
        let mut h = 0u64;
        s.hash.push(h);
        for w in s.bytes.windows(2) {
            for &byte in &s.cat[w[0]..w[1]] {
                h = h.wrapping_mul(BASE).wrapping_add(byte as u64 + 1);
            }
            s.hash.push(h);
        }
        self.hashed = true;
    }

    /// Code points of tokens `i..i + n`.
    fn chars(&self, i: usize, n: usize) -> usize {
        super::text::code_points(&self.s.cat[self.s.bytes[i]..self.s.bytes[i + n]])
    }

    /// Characters covered by the most frequent n-gram: its length
    /// with the spaces between its tokens, times its count.
    pub(super) fn top(&mut self, n: usize) -> usize {
        let tokens = self.toks.len();
        if n == 0 || tokens < n {
            return 0;
        }
        let (count, first) = match n {
            1 => self.count_windows(1, false),
            _ => {
                let top2 = self.pairs();
                if n == 2 {
                    top2
                } else {
                    self.count_windows(n, true)
                }
            }
        };
        (self.chars(first as usize, n) + (n - 1)) * count as usize
    }

    /// The most frequent 2-gram (its count and first index), and which
    /// 2-grams occur more than once, computed once.
    fn pairs(&mut self) -> (u32, u32) {
        if let Some(top2) = self.top2 {
            return top2;
        }
        let top2 = self.count_windows(2, false);
        let s = &mut *self.s;
        let slots = &s.table.slots;
        s.pair_shared.clear();
        s.pair_shared
            .extend(s.at.iter().map(|&at| slots[at as usize].b > 1));
        self.top2 = Some(top2);
        top2
    }

    /// The count and first index of the most frequent n-gram; ties go to
    /// the one that occurs first. With `repeated_pairs`, only the windows
    /// whose first 2-gram occurs twice are counted, since every other one
    /// occurs once (n ≥ 2). Without, each window's slot is kept in `at`.
    fn count_windows(&mut self, n: usize, repeated_pairs: bool) -> (u32, u32) {
        let tokens = self.toks.len();
        let s = &mut *self.s;
        s.table.reset(tokens);
        s.at.clear();
        let (ids, shared) = (&s.ids, &s.pair_shared);
        let mut best = (0u32, 0u32);
        for i in 0..=tokens - n {
            if repeated_pairs && !shared[i] {
                continue;
            }
            let window = &ids[i..i + n];
            let key = window.iter().fold(0u64, |k, &id| {
                (k.rotate_left(29) ^ id as u64).wrapping_mul(0xff51_afd7_ed55_8ccd)
            });
            let at = s.table.position(key, |slot| {
                let first = slot.a as usize;
                ids[first..first + n] == *window
            });
            let slot = &mut s.table.slots[at];
            if slot.b == 0 {
                *slot = Slot {
                    key,
                    a: i as u32,
                    b: 0,
                };
            }
            slot.b += 1;
            if slot.b > best.0 || (slot.b == best.0 && slot.a < best.1) {
                best = (slot.b, slot.a);
            }
            if !repeated_pairs {
                s.at.push(at as u32);
            }
        }
        if repeated_pairs && best.0 < 2 {
            // Every window occurs once: the first one wins.
            best = (1, 0);
        }
        best
    }

    /// Characters in repeated n-grams, greedily: a window seen before counts
    /// its characters and the scan skips past it.
    pub(super) fn duplicated(&mut self, n: usize) -> usize {
        let tokens = self.toks.len();
        if n == 0 || tokens < n {
            return 0;
        }
        self.hashes();
        let s = &mut *self.s;
        s.table.reset(tokens);
        let pows = pow_table();
        let (bytes, cat, hash, shared) = (&s.bytes, &s.cat, &s.hash, &s.shared);
        let (mut i, mut rep) = (0, 0);
        while i + n <= tokens {
            let (start, len) = (bytes[i], bytes[i + n] - bytes[i]);
            if len >= PREFIX && !shared[i] {
                // No other window starts with these bytes: it is no repeat,
                // and none will repeat it.
                i += 1;
                continue;
            }
            let p = match pows.get(len) {
                Some(p) => *p,
                None => powmod(BASE, len),
            };
            let h = hash[i + n].wrapping_sub(hash[i].wrapping_mul(p));
            let key = h ^ (len as u64).rotate_left(40);
            let window = &cat[start..start + len];
            let at = s.table.position(key, |slot| {
                let j = slot.a as usize;
                bytes[j + n] - bytes[j] == len && cat[bytes[j]..bytes[j] + len] == *window
            });
            let slot = &mut s.table.slots[at];
            if slot.b == 0 {
                *slot = Slot {
                    key,
                    a: i as u32,
                    b: 1,
                };
                i += 1;
            } else {
                rep += super::text::code_points(window);
                i += n;
            }
        }
        rep
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    /// The published definitions, by strings.
    fn top_slow(toks: &[&str], n: usize) -> usize {
        if toks.len() < n {
            return 0;
        }
        let mut counts: HashMap<String, (usize, usize)> = HashMap::new();
        for i in 0..=toks.len() - n {
            counts.entry(toks[i..i + n].join(" ")).or_insert((0, i)).0 += 1;
        }
        let (count, first) = counts
            .values()
            .copied()
            .max_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)))
            .unwrap();
        toks[first..first + n].join(" ").chars().count() * count
    }

    fn dup_slow(toks: &[&str], n: usize) -> usize {
        let mut seen = HashSet::new();
        let (mut i, mut rep) = (0, 0);
        while i + n <= toks.len() {
            let w = toks[i..i + n].concat();
            if !seen.insert(w.clone()) {
                rep += w.chars().count();
                i += n;
            } else {
                i += 1;
            }
        }
        rep
    }

    #[test]
    fn n_grams_match_the_string_definitions() {
        let text = "ab c a bc d ab c a bc d é ü é ü x y x y x y a b c d e f a b c d e f g";
        let toks: Vec<&str> = text.split(' ').collect();
        with_grams(&toks, |g| {
            for n in 1..=8 {
                assert_eq!(g.top(n), top_slow(&toks, n), "top {n}");
            }
            for n in 1..=10 {
                assert_eq!(g.duplicated(n), dup_slow(&toks, n), "dup {n}");
            }
        });
        // Concatenation, not the token sequence, decides a duplicate.
        let toks = ["ab", "c", "x", "a", "bc"];
        with_grams(&toks, |g| assert_eq!(g.duplicated(2), 3));
        assert_eq!(dup_slow(&toks, 2), 3);
    }

    #[test]
    fn long_windows_use_exponentiation() {
        let long = "w".repeat(POW_TABLE + 10);
        let toks = [long.as_str(), "a", long.as_str(), "a", "b"];
        with_grams(&toks, |g| {
            assert_eq!(g.duplicated(2), dup_slow(&toks, 2));
        });
        assert_eq!(powmod(BASE, 5000), {
            let mut p = 1u64;
            for _ in 0..5000 {
                p = p.wrapping_mul(BASE);
            }
            p
        });
    }

    /// Thue–Morse strings over any two bytes and their complements hash
    /// alike modulo 2^64 from 2,048 bytes on: the key collides, and the
    /// comparison keeps the counts exact.
    #[test]
    fn hash_collisions_do_not_change_counts() {
        let thue_morse: String = (0..2048u32)
            .map(|i| if i.count_ones() % 2 == 0 { 'a' } else { 'b' })
            .collect();
        let complement: String = thue_morse
            .chars()
            .map(|c| if c == 'a' { 'b' } else { 'a' })
            .collect();
        let toks = [thue_morse.as_str(), complement.as_str(), "x"];
        with_grams(&toks, |g| {
            g.hashes();
            let p = pow_table()[2048];
            let h = |i: usize| g.s.hash[i + 1].wrapping_sub(g.s.hash[i].wrapping_mul(p));
            assert_eq!(h(0), h(1), "the two tokens' hashes collide");
            assert_eq!(g.duplicated(1), 0);
            assert_eq!(g.top(1), 2048);
        });
        let toks = [
            thue_morse.as_str(),
            complement.as_str(),
            thue_morse.as_str(),
        ];
        with_grams(&toks, |g| assert_eq!(g.duplicated(1), 2048));
    }

    proptest::proptest! {
        /// Windows over a small alphabet repeat often, also across token
        /// bounds (`ab·c`, `a·bc`), and longer ones share their first
        /// `PREFIX` bytes with windows they do not equal.
        #[test]
        fn n_grams_match_the_definitions_on_any_tokens(
            toks in proptest::collection::vec(
                proptest::sample::select(vec![
                    "a", "b", "ab", "ba", "é", "aé", "c", "abcdefgh", "abcdefghab", "cdefghab",
                ]),
                0..60,
            ),
            n in 1usize..12,
        ) {
            with_grams(&toks, |g| {
                proptest::prop_assert_eq!(g.top(n), top_slow(&toks, n));
                proptest::prop_assert_eq!(g.duplicated(n), dup_slow(&toks, n));
                Ok(())
            })?;
        }
    }
}
