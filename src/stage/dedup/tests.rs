use super::cluster::{UnionFind, encode_details, survivor};
use super::collect::Docs;
use super::*;
use crate::store::ObjectId;

#[test]
fn normalization_follows_simplify_text() {
    assert_eq!(
        normalize("  Hello, WORLD!!  It's 2024\n\tﬁne  "),
        "hello world it s 0000 fine"
    );
    assert_eq!(normalize("Ｆｕｌｌ－width ①"), "full width 0");
    assert_eq!(normalize("..."), "");
}

#[test]
fn word_shingles_hash_the_joined_words() {
    let mut v = Vec::new();
    shingles("a bb ccc dd e", Shingle::Word, 3, &mut v);
    let want: Vec<u64> = ["a bb ccc", "bb ccc dd", "ccc dd e"]
        .iter()
        .map(|s| minhash::shingle_hash(s.as_bytes()))
        .collect();
    assert_eq!(v, want);
}

#[test]
fn short_documents_are_one_shingle() {
    let mut v = Vec::new();
    shingles("a b c", Shingle::Word, 5, &mut v);
    assert_eq!(v, vec![minhash::shingle_hash(b"a b c")]);
    shingles("a b c d e f", Shingle::Word, 5, &mut v);
    assert_eq!(v.len(), 2);
    shingles("héllo", Shingle::Char, 3, &mut v);
    assert_eq!(
        v,
        vec![
            minhash::shingle_hash("hél".as_bytes()),
            minhash::shingle_hash("éll".as_bytes()),
            minhash::shingle_hash("llo".as_bytes())
        ]
    );
}

#[test]
fn union_find_roots_are_smallest_members() {
    let mut uf = UnionFind::new(6);
    uf.union(5, 3);
    uf.union(3, 4);
    uf.union(1, 4);
    assert_eq!(uf.find(5), 1);
    assert_eq!(uf.find(0), 0);
}

#[test]
fn survivors_follow_keep() {
    let docs = Docs {
        at: vec![],
        len: vec![5, 9, 9, 2],
        score: vec![0.5, f64::NAN, 0.7, 0.7],
        keys: vec![],
        bands: vec![],
        sigs: vec![],
    };
    let m = [0, 1, 2, 3];
    let score = |order| {
        Keep::Score(KeepScore {
            by: "s".into(),
            order,
        })
    };
    assert_eq!(survivor(&m, &Keep::default(), &docs), 0);
    assert_eq!(survivor(&m, &Keep::Rule(KeepRule::Longest), &docs), 1);
    assert_eq!(survivor(&m, &score(Order::Desc), &docs), 2);
    assert_eq!(survivor(&m, &score(Order::Asc), &docs), 0);
    assert_eq!(survivor(&[1, 3], &score(Order::Asc), &docs), 3);
}

#[test]
fn details_round_trip() {
    let docs = Docs {
        at: vec![(0, 1), (2, 7)],
        len: vec![],
        score: vec![],
        keys: vec![],
        bands: vec![],
        sigs: vec![],
    };
    let bytes = encode_details(&docs, &[(1, 0, 0.9)], 0, None);
    let id = ObjectId::of(&bytes);
    let d = decode_details(&id, &bytes).unwrap();
    assert_eq!(
        d,
        vec![Removal {
            removed: (2, 7),
            kept: (0, 1),
            similarity: 0.9,
            earlier: None,
        }]
    );
}

fn plan(method: Method, bands: usize, rows: usize) -> Plan {
    Plan {
        method,
        column: "text".into(),
        shingle: Shingle::Word,
        ngram: 5,
        num_perm: bands * rows,
        bands,
        rows,
        threshold: 0.8,
        verify: Verify::Signature,
        seed: 1,
        keep: Keep::default(),
        device: DeviceChoice::Cpu,
        against: Vec::new(),
    }
}

fn docs_at(seg: u32, rows: &[u32], b: usize, perms: usize) -> Docs {
    Docs {
        at: rows.iter().map(|r| (seg, *r)).collect(),
        len: rows.iter().map(|r| r * 3).collect(),
        score: Vec::new(),
        keys: Vec::new(),
        bands: rows
            .iter()
            .flat_map(|r| (0..b as u64).map(move |j| *r as u64 * 1000 + j))
            .collect(),
        sigs: rows
            .iter()
            .flat_map(|r| (0..perms as u32).map(move |j| r * 7 + j))
            .collect(),
    }
}

fn same(a: &Docs, b: &Docs) -> bool {
    a.at == b.at && a.len == b.len && a.keys == b.keys && a.bands == b.bands && a.sigs == b.sigs
}

#[test]
fn band_sidecars_round_trip_merge_select_and_refuse_what_does_not_match() {
    let p = plan(Method::Minhash, 4, 2);
    let params = sidecar::params(&p, true);
    let a = docs_at(3, &[0, 2, 5], 4, 8);
    let bytes = sidecar::encode(&params, &a);
    assert!(same(
        &sidecar::decode(&bytes, &params, &p, true, 3).unwrap(),
        &a
    ));
    // Other parameters, other widths, damage: misses, not wrong data.
    let other = sidecar::params(
        &Plan {
            seed: 2,
            ..p.clone()
        },
        true,
    );
    assert_ne!(other, params);
    assert!(sidecar::decode(&bytes, &other, &p, true, 3).is_err());
    assert!(sidecar::decode(&bytes, &params, &p, false, 3).is_err());
    assert!(sidecar::decode(&bytes[..bytes.len() - 1], &params, &p, true, 3).is_err());
    // Merge keeps rows ascending; select picks rows in order.
    let b = docs_at(3, &[1, 3, 9], 4, 8);
    let merged = sidecar::merge(a, b, &p, true);
    assert!(same(&merged, &docs_at(3, &[0, 1, 2, 3, 5, 9], 4, 8)));
    let sel: roaring::RoaringBitmap = [1u32, 5, 9].into_iter().collect();
    assert!(same(
        &sidecar::select(&merged, &sel, &p, true),
        &docs_at(3, &[1, 5, 9], 4, 8)
    ));
    assert_eq!(sidecar::rows_of(&merged).len(), 6);
    // Exact keys.
    let e = plan(Method::Exact, 1, 1);
    let ep = sidecar::params(&e, false);
    let d = Docs {
        at: vec![(0, 4)],
        len: vec![9],
        keys: vec![u128::MAX - 5],
        ..Docs::default()
    };
    assert!(same(
        &sidecar::decode(&sidecar::encode(&ep, &d), &ep, &e, false, 0).unwrap(),
        &d
    ));
}

proptest::proptest! {
    /// The ASCII fast path gives what the Unicode path gives: a text with a
    /// word `é` added after a separator takes the Unicode path.
    #[test]
    fn ascii_normalization_equals_the_unicode_path(text in "[ -~\\n\\t]{0,60}") {
        let fast = normalize(&text);
        let slow = normalize(&format!("{text} é"));
        let want = if fast.is_empty() { "é".to_string() } else { format!("{fast} é") };
        proptest::prop_assert_eq!(slow, want);
    }
}
