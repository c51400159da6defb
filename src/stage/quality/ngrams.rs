//! Word n-gram statistics of Gopher repetition, from one pass over a
//! document's tokens.
//!
//! The top n-gram rule compares windows token by token (the published
//! windows are tokens joined by a space, and tokens hold no whitespace), so
//! each token is interned and a window of up to 4 tokens is its ids packed
//! into a `u128`: exact (longer windows hash their ids). The duplicated n-gram rule (n = 5–10) compares the
//! tokens concatenated with no separator (`ab·c` equals `a·bc`), so a window
//! is keyed by two polynomial hashes of its bytes modulo 2^61 − 1 and its
//! byte length, each window in O(1) from prefix hashes at token boundaries.
//! The tables other than the interning one are reused across documents
//! (one set per thread).

use std::cell::RefCell;
use std::collections::HashMap;

use foldhash::fast::FixedState;

type Map<K, V> = HashMap<K, V, FixedState>;

/// The Mersenne prime 2^61 − 1.
const M: u64 = (1 << 61) - 1;
/// Two fixed bases below M.
const BASES: [u64; 2] = [0x0f3d_5b79_a2c4_e681, 0x1b7e_1516_28ae_d2a6];
/// Powers of the bases kept in a table; longer windows use exponentiation.
const POW_TABLE: usize = 4096;

fn mulmod(a: u64, b: u64) -> u64 {
    let p = a as u128 * b as u128;
    // 2^61 ≡ 1 (mod M); a, b < M keeps the sum below 2M.
    let r = (p as u64 & M) + (p >> 61) as u64;
    if r >= M { r - M } else { r }
}

fn addmod(a: u64, b: u64) -> u64 {
    let r = a + b;
    if r >= M { r - M } else { r }
}

fn powmod(mut b: u64, mut e: usize) -> u64 {
    let mut r = 1;
    while e > 0 {
        if e & 1 == 1 {
            r = mulmod(r, b);
        }
        b = mulmod(b, b);
        e >>= 1;
    }
    r
}

fn pow_table() -> &'static [[u64; 2]] {
    static TABLE: std::sync::OnceLock<Vec<[u64; 2]>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = Vec::with_capacity(POW_TABLE);
        let mut p = [1u64, 1u64];
        for _ in 0..POW_TABLE {
            t.push(p);
            p = [mulmod(p[0], BASES[0]), mulmod(p[1], BASES[1])];
        }
        t
    })
}

fn pow(len: usize) -> [u64; 2] {
    match pow_table().get(len) {
        Some(p) => *p,
        None => [powmod(BASES[0], len), powmod(BASES[1], len)],
    }
}

#[derive(Default)]
struct Scratch {
    ids: Vec<u32>,
    /// Code points before token i (len + 1 entries).
    chars: Vec<u32>,
    /// Bytes before token i (len + 1 entries).
    bytes: Vec<usize>,
    /// Prefix hashes of the concatenated tokens before token i.
    hash: Vec<[u64; 2]>,
    table: Table,
}

/// An open-addressing table of `u128` keys with a `(u32, u32)` value,
/// cleared in O(1) by a generation stamp: one pass of one n size per reset.
#[derive(Default)]
struct Table {
    slots: Vec<Slot>,
    generation: u32,
    bits: u32,
}

/// A key, its value and the generation that wrote it: one probe reads one
/// 32-byte slot.
#[derive(Default, Clone, Copy)]
#[repr(C, align(32))]
struct Slot {
    key: u128,
    val: (u32, u32),
    stamp: u32,
}

impl Table {
    /// Empties the table, sized for `n` keys.
    fn reset(&mut self, n: usize) {
        let size = (2 * n).next_power_of_two().max(16);
        if size > self.slots.len() || (self.slots.len() > 1 << 16 && size * 8 < self.slots.len()) {
            self.slots = vec![Slot::default(); size];
            self.generation = 0;
        }
        if self.generation == u32::MAX {
            self.slots.fill(Slot::default());
            self.generation = 0;
        }
        self.generation += 1;
        self.bits = size.trailing_zeros();
    }

    /// The value of `key`, inserted as `init` when absent; true when it was.
    #[inline]
    fn entry(&mut self, key: u128, init: (u32, u32)) -> (&mut (u32, u32), bool) {
        let mask = (1usize << self.bits) - 1;
        let mixed = ((key as u64) ^ ((key >> 64) as u64)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let mut at = (mixed >> (64 - self.bits)) as usize;
        let generation = self.generation;
        loop {
            // Index `at & mask` keeps the probe in bounds without a check.
            let slot = &mut self.slots[at & mask];
            if slot.stamp != generation {
                *slot = Slot {
                    key,
                    val: init,
                    stamp: generation,
                };
                return (&mut self.slots[at & mask].val, false);
            }
            if slot.key == key {
                return (&mut self.slots[at & mask].val, true);
            }
            at = (at + 1) & mask;
        }
    }
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// A document's tokens, prepared for the n-gram rules.
pub(super) struct Grams<'s> {
    s: &'s mut Scratch,
    n_tokens: usize,
    hashed: bool,
}

/// Runs `f` on the n-gram tables of `toks`, which are built once and shared
/// by every rule `f` checks.
pub(super) fn with_grams<R>(toks: &[&str], f: impl FnOnce(&mut Grams) -> R) -> R {
    SCRATCH.with(|cell| {
        let mut guard = cell.borrow_mut();
        let s: &mut Scratch = &mut guard;
        s.ids.clear();
        s.chars.clear();
        s.bytes.clear();
        s.hash.clear();
        s.chars.push(0);
        s.bytes.push(0);
        let (mut c, mut b) = (0u32, 0usize);
        for t in toks {
            // Code points: the bytes that are not continuation bytes.
            c += t.bytes().filter(|&b| b & 0xc0 != 0x80).count() as u32;
            b += t.len();
            s.chars.push(c);
            s.bytes.push(b);
        }
        let mut g = Grams {
            s: &mut *s,
            n_tokens: toks.len(),
            hashed: false,
        };
        g.intern(toks);
        f(&mut g)
    })
}

impl Grams<'_> {
    fn intern(&mut self, toks: &[&str]) {
        let mut intern: Map<&str, u32> =
            Map::with_capacity_and_hasher(toks.len(), FixedState::default());
        for t in toks {
            let next = intern.len() as u32;
            self.s.ids.push(*intern.entry(t).or_insert(next));
        }
    }

    fn hashes(&mut self, toks: &[&str]) {
        if self.hashed {
            return;
        }
        let s = &mut *self.s;
        let mut h = [0u64, 0u64];
        s.hash.push(h);
        for t in toks {
            for &byte in t.as_bytes() {
                let v = byte as u64 + 1;
                h = [
                    addmod(mulmod(h[0], BASES[0]), v),
                    addmod(mulmod(h[1], BASES[1]), v),
                ];
            }
            s.hash.push(h);
        }
        self.hashed = true;
    }

    /// Code points of tokens `i..i + n`.
    fn chars(&self, i: usize, n: usize) -> usize {
        (self.s.chars[i + n] - self.s.chars[i]) as usize
    }

    /// Characters covered by the most frequent n-gram: its length
    /// with the spaces between its tokens, times its count.
    pub(super) fn top(&mut self, n: usize) -> usize {
        if n == 0 || self.n_tokens < n {
            return 0;
        }
        let s = &mut *self.s;
        s.table.reset(self.n_tokens);
        let mut buf = Vec::new();
        // Highest count; ties go to the n-gram that occurs first.
        let mut best = (0u32, 0u32);
        for i in 0..=self.n_tokens - n {
            let window = &s.ids[i..i + n];
            let key = if n <= 4 {
                window.iter().fold(0u128, |k, &id| (k << 32) | id as u128)
            } else {
                // Longer windows: a 128-bit hash of the ids.
                buf.clear();
                buf.extend(window.iter().flat_map(|id| id.to_le_bytes()));
                xxhash_rust::xxh3::xxh3_128(&buf)
            };
            let (v, _) = s.table.entry(key, (0, i as u32));
            v.0 += 1;
            if v.0 > best.0 || (v.0 == best.0 && v.1 < best.1) {
                best = *v;
            }
        }
        let (count, first) = best;
        (self.chars(first as usize, n) + (n - 1)) * count as usize
    }

    /// Characters in repeated n-grams, greedily: a window seen before counts
    /// its characters and the scan skips past it.
    pub(super) fn duplicated(&mut self, toks: &[&str], n: usize) -> usize {
        if n == 0 || self.n_tokens < n {
            return 0;
        }
        self.hashes(toks);
        let s = &mut *self.s;
        s.table.reset(self.n_tokens);
        let (mut i, mut rep) = (0, 0);
        while i + n <= self.n_tokens {
            let len = s.bytes[i + n] - s.bytes[i];
            let p = pow(len);
            let (a, e) = (s.hash[i], s.hash[i + n]);
            let h0 = addmod(e[0], M - mulmod(a[0], p[0]));
            let h1 = addmod(e[1], M - mulmod(a[1], p[1]));
            // Both hashes are below 2^61: the top bits hold the length's low bits.
            let key = (((h0 | ((len as u64) << 61)) as u128) << 64) | h1 as u128;
            if s.table.entry(key, (0, 0)).1 {
                rep += (s.chars[i + n] - s.chars[i]) as usize;
                i += n;
            } else {
                i += 1;
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
                assert_eq!(g.duplicated(&toks, n), dup_slow(&toks, n), "dup {n}");
            }
        });
        // Concatenation, not the token sequence, decides a duplicate.
        let toks = ["ab", "c", "x", "a", "bc"];
        with_grams(&toks, |g| assert_eq!(g.duplicated(&toks, 2), 3));
        assert_eq!(dup_slow(&toks, 2), 3);
    }

    #[test]
    fn long_windows_use_exponentiation() {
        let long = "w".repeat(POW_TABLE + 10);
        let toks = [long.as_str(), "a", long.as_str(), "a", "b"];
        with_grams(&toks, |g| {
            assert_eq!(g.duplicated(&toks, 2), dup_slow(&toks, 2));
        });
        assert_eq!(powmod(BASES[0], 5000), {
            let mut p = 1;
            for _ in 0..5000 {
                p = mulmod(p, BASES[0]);
            }
            p
        });
    }
}
