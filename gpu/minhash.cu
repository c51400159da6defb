// MinHash signatures and LSH band hashes on the GPU.
//
// The math is the one described in src/stage/dedup/minhash.rs, which the CPU
// path implements; both must give the same bits:
//
//   permuted   v_i(x) = ((a_i * x + b_i) mod 2^64) >> 32        (u32; wrapping u64 ops)
//   signature  sig[i] = min over a document's shingle hashes x of v_i(x), u32::MAX if none
//   band hash  band_j = XXH3-64(little-endian bytes of sig[j*r .. j*r + r], seed j)
//
// Shingle hashes (XXH3-64 of each shingle, seed 0) are computed on the host,
// which also normalizes and tokenizes; they arrive flattened, with one
// offset per document (n + 1 offsets).
//
// Built at run time by NVRTC for the device's architecture. With SIFT_HOST
// defined it also builds as plain C++ on the host, where tests run the same
// functions against the Rust reference (tests/it/gpu.rs).

#ifdef SIFT_HOST
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>
#define SIFT_FN static inline
#define SIFT_KERNEL static
typedef uint8_t u8;
typedef uint32_t u32;
typedef uint64_t u64;
static inline u64 mul_hi(u64 a, u64 b) { return (u64)(((unsigned __int128)a * b) >> 64); }
#else
#define SIFT_FN __device__ __forceinline__
#define SIFT_KERNEL extern "C" __global__
typedef unsigned char u8;
typedef unsigned int u32;
typedef unsigned long long u64;
SIFT_FN u64 mul_hi(u64 a, u64 b) { return __umul64hi(a, b); }
#endif

#define PRIME32_1 0x9E3779B1ULL
#define PRIME32_2 0x85EBCA77ULL
#define PRIME32_3 0xC2B2AE3DULL
#define PRIME64_1 0x9E3779B185EBCA87ULL
#define PRIME64_2 0xC2B2AE3D27D4EB4FULL
#define PRIME64_3 0x165667B19E3779F9ULL
#define PRIME64_4 0x85EBCA77C2B2AE63ULL
#define PRIME64_5 0x27D4EB2F165667C5ULL
#define PRIME_MX1 0x165667919E3779F9ULL
#define PRIME_MX2 0x9FB21C651E98DF25ULL

// XXH3's default secret (192 bytes).
#ifdef SIFT_HOST
static const u8 SECRET[192] = {
#else
__constant__ u8 SECRET[192] = {
#endif
    0xb8, 0xfe, 0x6c, 0x39, 0x23, 0xa4, 0x4b, 0xbe, 0x7c, 0x01, 0x81, 0x2c, 0xf7, 0x21, 0xad, 0x1c,
    0xde, 0xd4, 0x6d, 0xe9, 0x83, 0x90, 0x97, 0xdb, 0x72, 0x40, 0xa4, 0xa4, 0xb7, 0xb3, 0x67, 0x1f,
    0xcb, 0x79, 0xe6, 0x4e, 0xcc, 0xc0, 0xe5, 0x78, 0x82, 0x5a, 0xd0, 0x7d, 0xcc, 0xff, 0x72, 0x21,
    0xb8, 0x08, 0x46, 0x74, 0xf7, 0x43, 0x24, 0x8e, 0xe0, 0x35, 0x90, 0xe6, 0x81, 0x3a, 0x26, 0x4c,
    0x3c, 0x28, 0x52, 0xbb, 0x91, 0xc3, 0x00, 0xcb, 0x88, 0xd0, 0x65, 0x8b, 0x1b, 0x53, 0x2e, 0xa3,
    0x71, 0x64, 0x48, 0x97, 0xa2, 0x0d, 0xf9, 0x4e, 0x38, 0x19, 0xef, 0x46, 0xa9, 0xde, 0xac, 0xd8,
    0xa8, 0xfa, 0x76, 0x3f, 0xe3, 0x9c, 0x34, 0x3f, 0xf9, 0xdc, 0xbb, 0xc7, 0xc7, 0x0b, 0x4f, 0x1d,
    0x8a, 0x51, 0xe0, 0x4b, 0xcd, 0xb4, 0x59, 0x31, 0xc8, 0x9f, 0x7e, 0xc9, 0xd9, 0x78, 0x73, 0x64,
    0xea, 0xc5, 0xac, 0x83, 0x34, 0xd3, 0xeb, 0xc3, 0xc5, 0x81, 0xa0, 0xff, 0xfa, 0x13, 0x63, 0xeb,
    0x17, 0x0d, 0xdd, 0x51, 0xb7, 0xf0, 0xda, 0x49, 0xd3, 0x16, 0x55, 0x26, 0x29, 0xd4, 0x68, 0x9e,
    0x2b, 0x16, 0xbe, 0x58, 0x7d, 0x47, 0xa1, 0xfc, 0x8f, 0xf8, 0xb8, 0xd1, 0x7a, 0xd0, 0x31, 0xce,
    0x45, 0xcb, 0x3a, 0x8f, 0x95, 0x16, 0x04, 0x28, 0xaf, 0xd7, 0xfb, 0xca, 0xbb, 0x4b, 0x40, 0x7e,
};

// Byte-wise little-endian reads: band slices are only 4-byte aligned.
SIFT_FN u32 read32(const u8* p) {
    return (u32)p[0] | ((u32)p[1] << 8) | ((u32)p[2] << 16) | ((u32)p[3] << 24);
}
SIFT_FN u64 read64(const u8* p) { return (u64)read32(p) | ((u64)read32(p + 4) << 32); }
// The secret, with `seed` folded in as XXH3 derives a custom secret:
// 8-byte word w at byte 16k gets +seed, at byte 16k+8 gets -seed.
SIFT_FN u64 secret64(u32 at, u64 seed) {
    // `at` need not be 8-aligned (offsets 3, 7, 11, 119 occur): read the derived
    // secret byte by byte.
    u64 out = 0;
    for (u32 i = 0; i < 8; ++i) {
        u32 pos = at + i;
        u32 word = pos / 8;
        u64 w = read64(SECRET + word * 8);
        w = (word % 2 == 0) ? w + seed : w - seed;
        out |= ((w >> (8 * (pos % 8))) & 0xff) << (8 * i);
    }
    return out;
}
SIFT_FN u64 rotl64(u64 x, u32 r) { return (x << r) | (x >> (64 - r)); }
SIFT_FN u64 swap64(u64 x) {
    x = ((x & 0x00000000FFFFFFFFULL) << 32) | (x >> 32);
    x = ((x & 0x0000FFFF0000FFFFULL) << 16) | ((x >> 16) & 0x0000FFFF0000FFFFULL);
    return ((x & 0x00FF00FF00FF00FFULL) << 8) | ((x >> 8) & 0x00FF00FF00FF00FFULL);
}
SIFT_FN u32 swap32(u32 x) {
    return ((x << 24) & 0xff000000) | ((x << 8) & 0x00ff0000) | ((x >> 8) & 0x0000ff00) |
           ((x >> 24) & 0x000000ff);
}
SIFT_FN u64 fold64(u64 a, u64 b) { return (a * b) ^ mul_hi(a, b); }
SIFT_FN u64 xxh64_avalanche(u64 h) {
    h ^= h >> 33;
    h *= PRIME64_2;
    h ^= h >> 29;
    h *= PRIME64_3;
    return h ^ (h >> 32);
}
SIFT_FN u64 xxh3_avalanche(u64 h) {
    h ^= h >> 37;
    h *= PRIME_MX1;
    return h ^ (h >> 32);
}
SIFT_FN u64 rrmxmx(u64 h, u64 len) {
    h ^= rotl64(h, 49) ^ rotl64(h, 24);
    h *= PRIME_MX2;
    h ^= (h >> 35) + len;
    h *= PRIME_MX2;
    return h ^ (h >> 28);
}
// Inputs of 17..240 bytes use the default secret with the seed added per word.
SIFT_FN u64 mix16(const u8* in, u32 s, u64 seed) {
    u64 lo = read64(in), hi = read64(in + 8);
    return fold64(lo ^ (read64(SECRET + s) + seed), hi ^ (read64(SECRET + s + 8) - seed));
}

// XXH3-64 of `len` bytes with `seed` (XXH3 v0.8, every length).
SIFT_FN u64 xxh3_64(const u8* in, u64 len, u64 seed) {
    if (len <= 16) {
        if (len > 8) {
            u64 flip1 = (read64(SECRET + 24) ^ read64(SECRET + 32)) + seed;
            u64 flip2 = (read64(SECRET + 40) ^ read64(SECRET + 48)) - seed;
            u64 lo = read64(in) ^ flip1;
            u64 hi = read64(in + len - 8) ^ flip2;
            return xxh3_avalanche(len + swap64(lo) + hi + fold64(lo, hi));
        }
        if (len >= 4) {
            u64 s = seed ^ ((u64)swap32((u32)seed) << 32);
            u64 in64 = (u64)read32(in + len - 4) + ((u64)read32(in) << 32);
            u64 flip = (read64(SECRET + 8) ^ read64(SECRET + 16)) - s;
            return rrmxmx(in64 ^ flip, len);
        }
        if (len > 0) {
            u32 c = ((u32)in[0] << 16) | ((u32)in[len >> 1] << 24) | (u32)in[len - 1] | ((u32)len << 8);
            u64 flip = (u64)(read32(SECRET) ^ read32(SECRET + 4)) + seed;
            return xxh64_avalanche((u64)c ^ flip);
        }
        return xxh64_avalanche(seed ^ read64(SECRET + 56) ^ read64(SECRET + 64));
    }
    if (len <= 128) {
        u64 acc = len * PRIME64_1;
        if (len > 32) {
            if (len > 64) {
                if (len > 96) {
                    acc += mix16(in + 48, 96, seed);
                    acc += mix16(in + len - 64, 112, seed);
                }
                acc += mix16(in + 32, 64, seed);
                acc += mix16(in + len - 48, 80, seed);
            }
            acc += mix16(in + 16, 32, seed);
            acc += mix16(in + len - 32, 48, seed);
        }
        acc += mix16(in, 0, seed);
        acc += mix16(in + len - 16, 16, seed);
        return xxh3_avalanche(acc);
    }
    if (len <= 240) {
        u64 acc = len * PRIME64_1;
        u32 rounds = (u32)(len / 16);
        for (u32 i = 0; i < 8; ++i) acc += mix16(in + 16 * i, 16 * i, seed);
        acc = xxh3_avalanche(acc);
        for (u32 i = 8; i < rounds; ++i) acc += mix16(in + 16 * i, 16 * (i - 8) + 3, seed);
        acc += mix16(in + len - 16, 136 - 17, seed);
        return xxh3_avalanche(acc);
    }
    // Long inputs: stripes of 64 bytes into 8 accumulators, with the derived secret.
    u64 acc[8] = {PRIME32_3, PRIME64_1, PRIME64_2, PRIME64_3, PRIME64_4, PRIME32_2, PRIME64_5, PRIME32_1};
    const u32 stripes_per_block = (192 - 64) / 8;
    const u64 block_len = 64 * stripes_per_block;
    u64 blocks = (len - 1) / block_len;
    for (u64 n = 0; n <= blocks; ++n) {
        u64 stripes = n < blocks ? stripes_per_block : ((len - 1) - block_len * blocks) / 64;
        for (u64 s = 0; s < stripes; ++s) {
            const u8* p = in + n * block_len + s * 64;
            for (u32 i = 0; i < 8; ++i) {
                u64 v = read64(p + 8 * i);
                u64 k = v ^ secret64((u32)(s * 8 + 8 * i), seed);
                acc[i ^ 1] += v;
                acc[i] += (k & 0xffffffffULL) * (k >> 32);
            }
        }
        if (n < blocks) {
            for (u32 i = 0; i < 8; ++i) {
                u64 a = acc[i];
                a ^= a >> 47;
                a ^= secret64(192 - 64 + 8 * i, seed);
                acc[i] = a * PRIME32_1;
            }
        }
    }
    const u8* last = in + len - 64;
    for (u32 i = 0; i < 8; ++i) {
        u64 v = read64(last + 8 * i);
        u64 k = v ^ secret64(192 - 64 - 7 + 8 * i, seed);
        acc[i ^ 1] += v;
        acc[i] += (k & 0xffffffffULL) * (k >> 32);
    }
    u64 result = len * PRIME64_1;
    for (u32 i = 0; i < 4; ++i)
        result += fold64(acc[2 * i] ^ secret64(11 + 16 * i, seed), acc[2 * i + 1] ^ secret64(11 + 16 * i + 8, seed));
    return xxh3_avalanche(result);
}

// sig[doc * k + i] for one document and one permutation.
SIFT_FN void signature_one(const u64* hashes, const u64* offsets, const u64* a, const u64* b, u32 k,
                           u32 doc, u32 i, u32* sigs) {
    u64 ai = a[i], bi = b[i];
    u32 m = 0xffffffffu;
    for (u64 s = offsets[doc]; s < offsets[doc + 1]; ++s) {
        u32 v = (u32)((ai * hashes[s] + bi) >> 32);
        m = v < m ? v : m;
    }
    sigs[(u64)doc * k + i] = m;
}

// out[doc * bands + j] for one document and one band.
SIFT_FN void band_one(const u32* sigs, u32 k, u32 bands, u32 rows, u32 doc, u32 j, u64* out) {
    const u8* p = (const u8*)(sigs + (u64)doc * k + (u64)j * rows);
    out[(u64)doc * bands + j] = xxh3_64(p, (u64)rows * 4, j);
}

#ifndef SIFT_HOST
// One block per document; its threads stride over the permutations.
SIFT_KERNEL void minhash_signatures(const u64* hashes, const u64* offsets, u32 n_docs, const u64* a,
                                    const u64* b, u32 k, u32* sigs) {
    u32 doc = blockIdx.x;
    if (doc >= n_docs) return;
    for (u32 i = threadIdx.x; i < k; i += blockDim.x) signature_one(hashes, offsets, a, b, k, doc, i, sigs);
}

// One thread per (document, band).
SIFT_KERNEL void minhash_bands(const u32* sigs, u32 n_docs, u32 k, u32 bands, u32 rows, u64* out) {
    u64 t = (u64)blockIdx.x * blockDim.x + threadIdx.x;
    if (t >= (u64)n_docs * bands) return;
    band_one(sigs, k, bands, rows, (u32)(t / bands), (u32)(t % bands), out);
}
#else
// Host harness: reads commands on stdin, prints results, one per line.
//   x SEED HEX            -> XXH3-64 of the bytes
//   m K B R SEED N  then N lines "count h1 h2 ..." -> K signature values, then B band hashes, per doc
static u64 splitmix(u64* s) {
    *s += 0x9E3779B97F4A7C15ULL;
    u64 z = *s;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}
int main() {
    char cmd;
    while (scanf(" %c", &cmd) == 1) {
        if (cmd == 'x') {
            unsigned long long seed;
            char hex[70000];
            if (scanf("%llu %69999s", &seed, hex) != 2) return 2;
            std::vector<u8> bytes;
            size_t n = strcmp(hex, "-") == 0 ? 0 : strlen(hex) / 2;
            for (size_t i = 0; i < n; ++i) {
                unsigned v;
                sscanf(hex + 2 * i, "%2x", &v);
                bytes.push_back((u8)v);
            }
            printf("%llu\n", (unsigned long long)xxh3_64(bytes.data(), n, seed));
        } else if (cmd == 'm') {
            unsigned k, bands, rows, n;
            unsigned long long seed;
            if (scanf("%u %u %u %llu %u", &k, &bands, &rows, &seed, &n) != 5) return 2;
            std::vector<u64> a(k), b(k), hashes, offsets(1, 0);
            u64 s = seed;
            for (unsigned i = 0; i < k; ++i) {
                a[i] = splitmix(&s) | 1;
                b[i] = splitmix(&s);
            }
            for (unsigned d = 0; d < n; ++d) {
                unsigned c;
                if (scanf("%u", &c) != 1) return 2;
                for (unsigned i = 0; i < c; ++i) {
                    unsigned long long h;
                    if (scanf("%llu", &h) != 1) return 2;
                    hashes.push_back(h);
                }
                offsets.push_back(hashes.size());
            }
            std::vector<u32> sigs((size_t)n * k);
            std::vector<u64> out((size_t)n * bands);
            for (unsigned d = 0; d < n; ++d)
                for (unsigned i = 0; i < k; ++i) signature_one(hashes.data(), offsets.data(), a.data(), b.data(), k, d, i, sigs.data());
            for (unsigned d = 0; d < n; ++d)
                for (unsigned j = 0; j < bands; ++j) band_one(sigs.data(), k, bands, rows, d, j, out.data());
            for (unsigned d = 0; d < n; ++d) {
                for (unsigned i = 0; i < k; ++i) printf("%u ", sigs[(size_t)d * k + i]);
                for (unsigned j = 0; j < bands; ++j) printf("%llu ", (unsigned long long)out[(size_t)d * bands + j]);
                printf("\n");
            }
        } else {
            return 2;
        }
        fflush(stdout);
    }
    return 0;
}
#endif
