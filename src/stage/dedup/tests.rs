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
    let bytes = encode_details(&docs, &[(1, 0, 0.9)]);
    let id = ObjectId::of(&bytes);
    let d = decode_details(&id, &bytes).unwrap();
    assert_eq!(
        d,
        vec![Removal {
            removed: (2, 7),
            kept: (0, 1),
            similarity: 0.9
        }]
    );
}
