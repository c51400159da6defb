//! `minhash_bands(text)`: a text's MinHash band hashes, as a dedup stage with
//! `method = "minhash"` and every other setting at its default computes them
//! (normalized text, 5-word shingles, 128 permutations of seed 1, the bands
//! and rows chosen for threshold 0.8 with exact verification). Two texts are
//! candidates of that stage when they share a value at the same position.
//! Usable in any filter or `sift query`, and in a cluster's executors.

use std::sync::Arc;

use arrow::array::{Array, AsArray, ListBuilder, UInt64Builder};
use arrow::datatypes::{DataType, Field};
use datafusion::error::DataFusionError;
use datafusion::logical_expr::{ColumnarValue, ScalarUDF, Volatility, create_udf};

use super::minhash::{self, Permutations};
use super::normalize::{normalize_into, shingles};
use super::{EXACT_VERIFY_LSH_FACTOR, Shingle};

/// The defaults of a MinHash dedup stage (see `Spec::validate`).
const NGRAM: usize = 5;
const NUM_PERM: usize = 128;
const SEED: u64 = 1;
const THRESHOLD: f64 = 0.8;

/// Band hashes of one text under the defaults.
pub(super) struct Bands {
    perms: Permutations,
    bands: usize,
    rows: usize,
}

impl Bands {
    pub(super) fn new() -> Bands {
        let (bands, rows) = minhash::optimal_params(THRESHOLD * EXACT_VERIFY_LSH_FACTOR, NUM_PERM);
        Bands {
            perms: Permutations::new(NUM_PERM, SEED),
            bands,
            rows,
        }
    }

    /// Appends the band hashes of `text` to `out`; `norm` and `sh` are scratch.
    fn of(&self, text: &str, norm: &mut String, sh: &mut Vec<u64>, out: &mut Vec<u64>) {
        normalize_into(text, norm);
        shingles(norm, Shingle::Word, NGRAM, sh);
        let sig = self.perms.signature_of(sh);
        minhash::band_hashes(&sig, self.bands, self.rows, out);
    }
}

/// The `minhash_bands(text)` UDF: a list of unsigned 64-bit band hashes,
/// null for a null text.
pub(crate) fn minhash_bands() -> ScalarUDF {
    let bands = Arc::new(Bands::new());
    let item = Arc::new(Field::new("item", DataType::UInt64, false));
    create_udf(
        "minhash_bands",
        vec![DataType::Utf8],
        DataType::List(item.clone()),
        Volatility::Immutable,
        Arc::new(move |args: &[ColumnarValue]| {
            let rows = crate::stage::quality::udfs::rows_of(args);
            let arr = args[0].to_array(rows)?;
            let arr = arrow::compute::cast(&arr, &DataType::Utf8)?;
            let texts = arr.as_string_opt::<i32>().ok_or_else(|| {
                DataFusionError::Execution("minhash_bands(text): text must be a string".into())
            })?;
            let mut out = ListBuilder::new(UInt64Builder::with_capacity(texts.len() * bands.bands))
                .with_field(item.clone());
            let (mut norm, mut sh, mut hashes) = (String::new(), Vec::new(), Vec::new());
            for v in texts.iter() {
                match v {
                    None => out.append_null(),
                    Some(text) => {
                        hashes.clear();
                        bands.of(text, &mut norm, &mut sh, &mut hashes);
                        out.values().append_slice(&hashes);
                        out.append(true);
                    }
                }
            }
            Ok(ColumnarValue::Array(Arc::new(out.finish())))
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{StringArray, UInt64Array};

    #[test]
    fn the_udf_gives_the_band_hashes_of_a_default_minhash_stage() {
        let udf = minhash_bands();
        let texts = StringArray::from(vec![
            Some("The quick brown fox jumps over the lazy dog near the river bank"),
            None,
            Some("the QUICK brown fox jumps over the lazy dog, near the river bank!"),
        ]);
        let args = datafusion::logical_expr::ScalarFunctionArgs {
            args: vec![ColumnarValue::Array(Arc::new(texts))],
            arg_fields: vec![Arc::new(Field::new("text", DataType::Utf8, true))],
            number_rows: 3,
            return_field: Arc::new(Field::new(
                "b",
                DataType::List(Arc::new(Field::new("item", DataType::UInt64, false))),
                true,
            )),
            config_options: Default::default(),
        };
        let ColumnarValue::Array(out) = udf.invoke_with_args(args).unwrap() else {
            panic!("an array")
        };
        let list = out.as_list::<i32>();
        assert!(list.is_null(1));
        let row = |i: usize| -> Vec<u64> {
            let v = list.value(i);
            v.as_any()
                .downcast_ref::<UInt64Array>()
                .unwrap()
                .values()
                .to_vec()
        };
        // The stage's own computation, by hand.
        let (bands, rows) = minhash::optimal_params(0.8 * EXACT_VERIFY_LSH_FACTOR, 128);
        let mut sh = Vec::new();
        shingles(
            &super::super::normalize::normalize(
                "The quick brown fox jumps over the lazy dog near the river bank",
            ),
            Shingle::Word,
            5,
            &mut sh,
        );
        let mut want = Vec::new();
        minhash::band_hashes(
            &Permutations::new(128, 1).signature_of(&sh),
            bands,
            rows,
            &mut want,
        );
        assert_eq!(row(0), want);
        assert_eq!(want.len(), bands);
        // Case and punctuation are normalized away: the same bands.
        assert_eq!(row(2), want);
    }
}
