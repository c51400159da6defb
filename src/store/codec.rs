//! The two layouts of sift's binary objects, in one place.
//!
//! ```text
//! records:  magic (8 bytes) │ count (u64 LE) │ count × a fixed-width record
//! parts:    magic (8 bytes) │ count (u64 LE) │ count × (length (u64 LE) │ bytes)
//! ```
//!
//! Records hold fingerprint sidecars (16-byte fingerprints), repeat counts
//! (row, copies), and the details objects of dedup (removed row, kept row,
//! Jaccard) and balance (row, class, rank). Parts hold one item per segment:
//! selection sets and repeat sets.

/// Encodes fixed-width records after `magic` and their count.
pub fn encode_records<const W: usize>(
    magic: &[u8; 8],
    records: impl ExactSizeIterator<Item = [u8; W]>,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + W * records.len());
    out.extend_from_slice(magic);
    out.extend_from_slice(&(records.len() as u64).to_le_bytes());
    for r in records {
        out.extend_from_slice(&r);
    }
    out
}

/// The records [`encode_records`] wrote, or why the bytes are not such an object.
pub fn decode_records<'a, const W: usize>(
    magic: &[u8; 8],
    bytes: &'a [u8],
) -> Result<impl ExactSizeIterator<Item = [u8; W]> + 'a, &'static str> {
    if bytes.len() < 16 || &bytes[..8] != magic {
        return Err("missing header");
    }
    let n = u64::from_le_bytes(bytes[8..16].try_into().expect("8 bytes")) as usize;
    let body = &bytes[16..];
    if body.len() != n.saturating_mul(W) {
        return Err("length does not match its count");
    }
    Ok(body.chunks_exact(W).map(|c| c.try_into().expect("W bytes")))
}

/// `W` bytes from little-endian u32s.
pub fn u32s<const N: usize, const W: usize>(values: [u32; N]) -> [u8; W] {
    const { assert!(W == 4 * N, "a record of N u32s is 4·N bytes") };
    let mut out = [0u8; W];
    for (i, v) in values.iter().enumerate() {
        out[i * 4..i * 4 + 4].copy_from_slice(&v.to_le_bytes());
    }
    out
}

/// The `i`-th little-endian u32 of a record.
pub fn u32_at(record: &[u8], i: usize) -> u32 {
    u32::from_le_bytes(record[i * 4..i * 4 + 4].try_into().expect("4 bytes"))
}

/// Encodes length-prefixed parts after `magic` and their count.
pub fn encode_parts(magic: &[u8; 8], parts: &[Vec<u8>]) -> Vec<u8> {
    let mut out = magic.to_vec();
    out.extend_from_slice(&(parts.len() as u64).to_le_bytes());
    for p in parts {
        out.extend_from_slice(&(p.len() as u64).to_le_bytes());
        out.extend_from_slice(p);
    }
    out
}

/// The parts [`encode_parts`] wrote, or why the bytes are not such an object.
pub fn decode_parts<'a>(magic: &[u8; 8], bytes: &'a [u8]) -> Result<Vec<&'a [u8]>, &'static str> {
    if bytes.len() < 16 || &bytes[..8] != magic {
        return Err("missing header");
    }
    let n = u64::from_le_bytes(bytes[8..16].try_into().expect("8 bytes")) as usize;
    let mut rest = &bytes[16..];
    let mut out = Vec::with_capacity(n.min(1 << 20));
    for _ in 0..n {
        if rest.len() < 8 {
            return Err("truncated");
        }
        let len = u64::from_le_bytes(rest[..8].try_into().expect("8 bytes")) as usize;
        rest = &rest[8..];
        if rest.len() < len {
            return Err("truncated");
        }
        out.push(&rest[..len]);
        rest = &rest[len..];
    }
    if !rest.is_empty() {
        return Err("trailing bytes");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_and_parts_round_trip_and_refuse_damage() {
        let bytes = encode_records(b"TESTREC1", [[1u8, 2], [3, 4]].into_iter());
        assert_eq!(bytes.len(), 16 + 4);
        let back: Vec<[u8; 2]> = decode_records(b"TESTREC1", &bytes).unwrap().collect();
        assert_eq!(back, [[1, 2], [3, 4]]);
        assert!(decode_records::<2>(b"TESTREC1", &bytes[..bytes.len() - 1]).is_err());
        assert!(decode_records::<2>(b"OTHERMAG", &bytes).is_err());
        let parts = encode_parts(b"TESTPRT1", &[vec![9, 9], vec![]]);
        assert_eq!(
            decode_parts(b"TESTPRT1", &parts).unwrap(),
            [&[9u8, 9][..], &[][..]]
        );
        assert!(decode_parts(b"TESTPRT1", &parts[..parts.len() - 1]).is_err());
        let r: [u8; 8] = u32s([7, 9]);
        assert_eq!((u32_at(&r, 0), u32_at(&r, 1)), (7, 9));
    }
}
