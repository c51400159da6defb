//! MinHash and LSH: the one description both the CPU path (here) and the
//! GPU kernel (`gpu/minhash.cu`) implement, bit for bit.
//!
//! ```text
//! shingle hash   x = xxh3_64(shingle bytes, seed 0)                    u64
//! permutations   (a_i, b_i), i = 0..K: a_i = splitmix64() | 1, b_i = splitmix64(),
//!                from one SplitMix64 stream seeded with the stage's `seed`
//! permuted       v_i(x) = ((a_i * x + b_i) mod 2^64) >> 32             u32 (wrapping u64 ops)
//! signature      sig[i] = min over the document's shingles of v_i(x)   u32 × K
//! band hash      band_j = xxh3_64(LE bytes of sig[j*r .. j*r + r], seed j)   j = 0..b
//! ```
//!
//! Every operation is integer and order-free (min is commutative), so any
//! split of the work, on any device, gives the same bits.

use xxhash_rust::xxh3::{xxh3_64, xxh3_64_with_seed};

/// SplitMix64 step (Steele, Lea, Flood 2014).
pub fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The K permutations of a stage.
#[derive(Debug, Clone)]
pub struct Permutations {
    pub a: Vec<u64>,
    pub b: Vec<u64>,
}

impl Permutations {
    pub fn new(k: usize, seed: u64) -> Self {
        let mut s = seed;
        let (mut a, mut b) = (Vec::with_capacity(k), Vec::with_capacity(k));
        for _ in 0..k {
            a.push(splitmix64(&mut s) | 1);
            b.push(splitmix64(&mut s));
        }
        Permutations { a, b }
    }

    pub fn len(&self) -> usize {
        self.a.len()
    }

    pub fn is_empty(&self) -> bool {
        self.a.is_empty()
    }

    /// The signature of a set of shingle hashes.
    pub fn signature(&self, shingles: impl IntoIterator<Item = u64>) -> Vec<u32> {
        let xs: Vec<u64> = shingles.into_iter().collect();
        self.signature_of(&xs)
    }

    /// The signature of a slice of shingle hashes, on the widest vector unit
    /// the CPU has (the same integer math, so the same bits, on any of them).
    pub fn signature_of(&self, xs: &[u64]) -> Vec<u32> {
        let mut sig = vec![u32::MAX; self.len()];
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512dq")
                && std::arch::is_x86_feature_detected!("avx512vl")
            {
                // SAFETY: the features were just detected.
                unsafe { fold_avx512(&self.a, &self.b, &mut sig, xs) };
                return sig;
            }
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: as above.
                unsafe { fold_avx2(&self.a, &self.b, &mut sig, xs) };
                return sig;
            }
        }
        fold(&self.a, &self.b, &mut sig, xs);
        sig
    }
}

/// sig[i] = min(sig[i], v_i(x)) for every x: the loop the compiler vectorizes.
#[inline(always)]
fn fold(a: &[u64], b: &[u64], sig: &mut [u32], xs: &[u64]) {
    for &x in xs {
        for ((s, a), b) in sig.iter_mut().zip(a).zip(b) {
            let v = (a.wrapping_mul(x).wrapping_add(*b) >> 32) as u32;
            *s = (*s).min(v);
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq,avx512vl,avx512bw")]
fn fold_avx512(a: &[u64], b: &[u64], sig: &mut [u32], xs: &[u64]) {
    fold(a, b, sig, xs)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn fold_avx2(a: &[u64], b: &[u64], sig: &mut [u32], xs: &[u64]) {
    fold(a, b, sig, xs)
}

/// Hash of one shingle.
pub fn shingle_hash(bytes: &[u8]) -> u64 {
    xxh3_64(bytes)
}

/// Band hashes of a signature: `bands` bands of `rows` values each.
pub fn band_hashes(sig: &[u32], bands: usize, rows: usize, out: &mut Vec<u64>) {
    let mut buf = Vec::with_capacity(rows * 4);
    for j in 0..bands {
        buf.clear();
        for v in &sig[j * rows..(j + 1) * rows] {
            buf.extend_from_slice(&v.to_le_bytes());
        }
        out.push(xxh3_64_with_seed(&buf, j as u64));
    }
}

/// Fraction of equal signature values: the MinHash estimate of Jaccard.
pub fn estimate(a: &[u32], b: &[u32]) -> f64 {
    let same = a.iter().zip(b).filter(|(x, y)| x == y).count();
    same as f64 / a.len().max(1) as f64
}

/// Probability that a pair of Jaccard `s` shares a band: 1 − (1 − s^r)^b.
pub fn detection(s: f64, bands: usize, rows: usize) -> f64 {
    1.0 - (1.0 - s.powi(rows as i32)).powi(bands as i32)
}

fn integrate(f: impl Fn(f64) -> f64, lo: f64, hi: f64) -> f64 {
    // Simpson's rule; the integrands are smooth.
    let n = 512;
    let h = (hi - lo) / n as f64;
    let mut sum = f(lo) + f(hi);
    for i in 1..n {
        let x = lo + i as f64 * h;
        sum += if i % 2 == 1 { 4.0 } else { 2.0 } * f(x);
    }
    sum * h / 3.0
}

/// (bands, rows) with b·r ≤ `num_perm` minimizing 0.5·false positives +
/// 0.5·false negatives around `threshold`, as datasketch chooses them.
pub fn optimal_params(threshold: f64, num_perm: usize) -> (usize, usize) {
    let mut best = (f64::INFINITY, 1, 1);
    for b in 1..=num_perm {
        for r in 1..=num_perm / b {
            let fp = integrate(|s| detection(s, b, r), 0.0, threshold);
            let fn_ = integrate(|s| 1.0 - detection(s, b, r), threshold, 1.0);
            let err = 0.5 * fp + 0.5 * fn_;
            if err < best.0 - 1e-12 {
                best = (err, b, r);
            }
        }
    }
    (best.1, best.2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vector_units_give_the_scalar_bits() {
        let p = Permutations::new(200, 9);
        let mut s = 5u64;
        let xs: Vec<u64> = (0..1000).map(|_| splitmix64(&mut s)).collect();
        let mut scalar = vec![u32::MAX; 200];
        for x in &xs {
            for ((s, a), b) in scalar.iter_mut().zip(&p.a).zip(&p.b) {
                let v = (a.wrapping_mul(*x).wrapping_add(*b) >> 32) as u32;
                *s = (*s).min(v);
            }
        }
        assert_eq!(p.signature_of(&xs), scalar);
        assert_eq!(p.signature_of(&[]), vec![u32::MAX; 200]);
    }

    #[test]
    fn permutations_are_seeded_and_odd() {
        let p = Permutations::new(128, 42);
        assert_eq!(p.len(), 128);
        assert!(p.a.iter().all(|a| a % 2 == 1));
        assert_eq!(p.a, Permutations::new(128, 42).a);
        assert_ne!(p.a, Permutations::new(128, 43).a);
    }

    #[test]
    fn signature_is_order_free_and_estimates_jaccard() {
        let p = Permutations::new(256, 7);
        let a: Vec<u64> = (0..1000u64)
            .map(|i| shingle_hash(&i.to_le_bytes()))
            .collect();
        let mut rev = a.clone();
        rev.reverse();
        assert_eq!(p.signature(a.iter().copied()), p.signature(rev));
        // Jaccard(a, b) = 600 / 1400 ≈ 0.4286.
        let b: Vec<u64> = (400..1400u64)
            .map(|i| shingle_hash(&i.to_le_bytes()))
            .collect();
        let est = estimate(&p.signature(a), &p.signature(b));
        assert!((est - 600.0 / 1400.0).abs() < 0.08, "{est}");
    }

    #[test]
    fn optimal_params_match_datasketch_for_common_thresholds() {
        // What datasketch 1.x's `_optimal_param(t, 128, 0.5, 0.5)` returns.
        for (t, want) in [
            (0.5, (25, 5)),
            (0.6, (18, 7)),
            (0.7, (14, 9)),
            (0.8, (9, 13)),
            (0.85, (8, 16)),
            (0.9, (5, 25)),
        ] {
            assert_eq!(optimal_params(t, 128), want, "threshold {t}");
        }
    }
}

#[cfg(test)]
mod detection_tests {
    use super::*;

    /// Two sets of 300 elements with Jaccard exactly `s` (shared k, disjoint rest).
    fn pair(s: f64, salt: u64) -> (Vec<u64>, Vec<u64>) {
        let n = 300usize;
        // |A∩B| = k, |A∪B| = 2n − k, so k = 2ns / (1 + s).
        let k = ((2.0 * n as f64 * s) / (1.0 + s)).round() as usize;
        let h = |i: u64| shingle_hash(&(salt.wrapping_mul(1_000_003) ^ i).to_le_bytes());
        let shared: Vec<u64> = (0..k as u64).map(h).collect();
        let mut a = shared.clone();
        let mut b = shared;
        a.extend((0..(n - k) as u64).map(|i| h(1_000_000 + i)));
        b.extend((0..(n - k) as u64).map(|i| h(2_000_000 + i)));
        (a, b)
    }

    #[test]
    fn detection_rate_follows_the_s_curve() {
        let (bands, rows) = (9, 13);
        let perms = Permutations::new(bands * rows, 99);
        for s in [0.5, 0.7, 0.8, 0.9] {
            let trials = 300;
            let mut hits = 0;
            for t in 0..trials {
                let (a, b) = pair(s, t as u64 + (s * 1000.0) as u64 * 7919);
                let (mut ha, mut hb) = (Vec::new(), Vec::new());
                band_hashes(&perms.signature(a), bands, rows, &mut ha);
                band_hashes(&perms.signature(b), bands, rows, &mut hb);
                if ha.iter().zip(&hb).any(|(x, y)| x == y) {
                    hits += 1;
                }
            }
            let observed = hits as f64 / trials as f64;
            let expected = detection(s, bands, rows);
            assert!(
                (observed - expected).abs() < 0.09,
                "s={s}: observed {observed:.3}, expected {expected:.3}"
            );
        }
    }
}
