//! Row fingerprints and the canonical schema.
//!
//! A row's fingerprint is xxh3-128 of its canonical encoding: the row's
//! values in schema order, each prefixed by a one-byte type tag, variable
//! length values prefixed by their length. The encoding is *logical*: an
//! `Int32` and an `Int64` holding 7 encode the same, as do `Utf8`,
//! `LargeUtf8` and `Utf8View`, and a dictionary-encoded column encodes as
//! its values. So the fingerprint — and with it the content id — depends on
//! the rows, not on how a reader or writer chose to lay them out.

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{
    DataType, Date32Type, Date64Type, Decimal128Type, Float16Type, Float32Type, Float64Type,
    Int8Type, Int16Type, Int32Type, Int64Type, Schema, TimeUnit, UInt8Type, UInt16Type, UInt32Type,
    UInt64Type,
};
use xxhash_rust::xxh3::xxh3_128;

/// xxh3-128 of a row's canonical encoding.
pub type Fingerprint = u128;

/// Error for a column whose type has no canonical encoding.
#[derive(Debug, thiserror::Error)]
#[error("column '{column}' has type {data_type}, which sift cannot fingerprint yet")]
pub struct UnsupportedType {
    pub column: String,
    pub data_type: DataType,
}

const TAG_NULL: u8 = 0;
const TAG_BOOL: u8 = 1;
const TAG_INT: u8 = 2;
const TAG_UINT: u8 = 3;
const TAG_FLOAT: u8 = 4;
const TAG_STRING: u8 = 5;
const TAG_BINARY: u8 = 6;
const TAG_DATE: u8 = 7;
const TAG_TIMESTAMP: u8 = 8;
const TAG_DECIMAL: u8 = 9;
const TAG_LIST: u8 = 10;
const TAG_STRUCT: u8 = 11;

/// The logical type name used in the canonical schema.
pub fn logical_type(dt: &DataType) -> Option<String> {
    Some(match dt {
        DataType::Null => "null".into(),
        DataType::Boolean => "bool".into(),
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 => "int".into(),
        DataType::UInt8 | DataType::UInt16 | DataType::UInt32 | DataType::UInt64 => "uint".into(),
        DataType::Float16 | DataType::Float32 | DataType::Float64 => "float".into(),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "string".into(),
        DataType::Binary
        | DataType::LargeBinary
        | DataType::BinaryView
        | DataType::FixedSizeBinary(_) => "binary".into(),
        DataType::Date32 | DataType::Date64 => "date".into(),
        DataType::Timestamp(unit, tz) => {
            format!(
                "timestamp({},{})",
                unit_name(unit),
                tz.as_deref().unwrap_or("")
            )
        }
        DataType::Decimal128(p, s) => format!("decimal({p},{s})"),
        DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
            format!("list<{}>", logical_type(f.data_type())?)
        }
        DataType::Struct(fields) => {
            let inner: Option<Vec<String>> = fields
                .iter()
                .map(|f| Some(format!("{}:{}", f.name(), logical_type(f.data_type())?)))
                .collect();
            format!("struct<{}>", inner?.join(","))
        }
        DataType::Dictionary(_, value) => logical_type(value)?,
        _ => return None,
    })
}

fn unit_name(unit: &TimeUnit) -> &'static str {
    match unit {
        TimeUnit::Second => "s",
        TimeUnit::Millisecond => "ms",
        TimeUnit::Microsecond => "us",
        TimeUnit::Nanosecond => "ns",
    }
}

/// The canonical schema text: `name:type` per column, in order, one per line.
pub fn canonical_schema(schema: &Schema) -> Result<String, UnsupportedType> {
    let mut out = String::new();
    for field in schema.fields() {
        let ty = logical_type(field.data_type()).ok_or_else(|| UnsupportedType {
            column: field.name().clone(),
            data_type: field.data_type().clone(),
        })?;
        out.push_str(field.name());
        out.push(':');
        out.push_str(&ty);
        out.push('\n');
    }
    Ok(out)
}

/// Appends the canonical encoding of `array[row]` to `buf`.
fn encode_value(array: &dyn Array, row: usize, buf: &mut Vec<u8>) {
    if array.is_null(row) {
        buf.push(TAG_NULL);
        return;
    }
    macro_rules! int {
        ($t:ty) => {{
            buf.push(TAG_INT);
            buf.extend_from_slice(&(array.as_primitive::<$t>().value(row) as i64).to_le_bytes());
        }};
    }
    macro_rules! uint {
        ($t:ty) => {{
            buf.push(TAG_UINT);
            buf.extend_from_slice(&(array.as_primitive::<$t>().value(row) as u64).to_le_bytes());
        }};
    }
    fn bytes(tag: u8, b: &[u8], buf: &mut Vec<u8>) {
        buf.push(tag);
        buf.extend_from_slice(&(b.len() as u64).to_le_bytes());
        buf.extend_from_slice(b);
    }
    match array.data_type() {
        DataType::Null => buf.push(TAG_NULL),
        DataType::Boolean => {
            buf.push(TAG_BOOL);
            buf.push(array.as_boolean().value(row) as u8);
        }
        DataType::Int8 => int!(Int8Type),
        DataType::Int16 => int!(Int16Type),
        DataType::Int32 => int!(Int32Type),
        DataType::Int64 => int!(Int64Type),
        DataType::UInt8 => uint!(UInt8Type),
        DataType::UInt16 => uint!(UInt16Type),
        DataType::UInt32 => uint!(UInt32Type),
        DataType::UInt64 => uint!(UInt64Type),
        DataType::Float16 => {
            buf.push(TAG_FLOAT);
            let v = array.as_primitive::<Float16Type>().value(row).to_f64();
            buf.extend_from_slice(&v.to_bits().to_le_bytes());
        }
        DataType::Float32 => {
            buf.push(TAG_FLOAT);
            let v = array.as_primitive::<Float32Type>().value(row) as f64;
            buf.extend_from_slice(&v.to_bits().to_le_bytes());
        }
        DataType::Float64 => {
            buf.push(TAG_FLOAT);
            let v = array.as_primitive::<Float64Type>().value(row);
            buf.extend_from_slice(&v.to_bits().to_le_bytes());
        }
        DataType::Utf8 => bytes(
            TAG_STRING,
            array.as_string::<i32>().value(row).as_bytes(),
            buf,
        ),
        DataType::LargeUtf8 => bytes(
            TAG_STRING,
            array.as_string::<i64>().value(row).as_bytes(),
            buf,
        ),
        DataType::Utf8View => bytes(
            TAG_STRING,
            array.as_string_view().value(row).as_bytes(),
            buf,
        ),
        DataType::Binary => bytes(TAG_BINARY, array.as_binary::<i32>().value(row), buf),
        DataType::LargeBinary => bytes(TAG_BINARY, array.as_binary::<i64>().value(row), buf),
        DataType::BinaryView => bytes(TAG_BINARY, array.as_binary_view().value(row), buf),
        DataType::FixedSizeBinary(_) => {
            bytes(TAG_BINARY, array.as_fixed_size_binary().value(row), buf)
        }
        DataType::Date32 => {
            buf.push(TAG_DATE);
            let days = array.as_primitive::<Date32Type>().value(row) as i64;
            buf.extend_from_slice(&(days * 86_400_000).to_le_bytes());
        }
        DataType::Date64 => {
            buf.push(TAG_DATE);
            buf.extend_from_slice(&array.as_primitive::<Date64Type>().value(row).to_le_bytes());
        }
        DataType::Timestamp(_, _) => {
            buf.push(TAG_TIMESTAMP);
            // All timestamp arrays share the i64 layout; the unit is in the schema.
            let data = array.to_data();
            let values = data.buffers()[0].typed_data::<i64>();
            buf.extend_from_slice(&values[data.offset() + row].to_le_bytes());
        }
        DataType::Decimal128(_, _) => {
            buf.push(TAG_DECIMAL);
            let v = array.as_primitive::<Decimal128Type>().value(row);
            buf.extend_from_slice(&v.to_le_bytes());
        }
        DataType::List(_) => list(array.as_list::<i32>().value(row).as_ref(), buf),
        DataType::LargeList(_) => list(array.as_list::<i64>().value(row).as_ref(), buf),
        DataType::FixedSizeList(_, _) => list(array.as_fixed_size_list().value(row).as_ref(), buf),
        DataType::Struct(_) => {
            let s = array.as_struct();
            buf.push(TAG_STRUCT);
            buf.extend_from_slice(&(s.num_columns() as u64).to_le_bytes());
            for col in s.columns() {
                encode_value(col.as_ref(), row, buf);
            }
        }
        DataType::Dictionary(_, _) => {
            let dict = array.as_any_dictionary();
            let key = dict.normalized_keys()[row];
            encode_value(dict.values().as_ref(), key, buf);
        }
        // Unreachable after `canonical_schema` accepted the schema.
        other => unreachable!("unsupported type {other} passed schema check"),
    }
}

fn list(values: &dyn Array, buf: &mut Vec<u8>) {
    buf.push(TAG_LIST);
    buf.extend_from_slice(&(values.len() as u64).to_le_bytes());
    for i in 0..values.len() {
        encode_value(values, i, buf);
    }
}

/// Fingerprints every row of `batch`, appending to `fps`; returns the
/// canonical byte length of each row through `sizes` (used by sharding).
///
/// The batch's schema must have passed [`canonical_schema`].
pub fn fingerprint_batch(batch: &RecordBatch, fps: &mut Vec<Fingerprint>, sizes: &mut Vec<u64>) {
    let mut buf = Vec::with_capacity(4096);
    let columns = batch.columns();
    for row in 0..batch.num_rows() {
        buf.clear();
        for col in columns {
            encode_value(col.as_ref(), row, &mut buf);
        }
        fps.push(xxh3_128(&buf));
        sizes.push(buf.len() as u64);
    }
}

/// Streaming BLAKE3 of (canonical schema, ordered fingerprints): a content id.
pub struct ContentHasher(blake3::Hasher);

impl ContentHasher {
    pub fn new(canonical_schema: &str) -> Self {
        let mut h = blake3::Hasher::new();
        h.update(b"sift content v1\n");
        h.update(&(canonical_schema.len() as u64).to_le_bytes());
        h.update(canonical_schema.as_bytes());
        ContentHasher(h)
    }

    pub fn push(&mut self, fp: Fingerprint) {
        self.0.update(&fp.to_le_bytes());
    }

    pub fn finish(self) -> String {
        self.0.finalize().to_hex().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{ArrayRef, Int32Array, Int64Array, LargeStringArray, StringArray};
    use arrow::datatypes::Field;
    use std::sync::Arc;

    fn fps(cols: Vec<(&str, ArrayRef)>) -> Vec<Fingerprint> {
        let batch = RecordBatch::try_from_iter(cols).unwrap();
        let (mut f, mut s) = (vec![], vec![]);
        fingerprint_batch(&batch, &mut f, &mut s);
        f
    }

    #[test]
    fn physical_layout_does_not_change_fingerprints() {
        let a = fps(vec![
            ("id", Arc::new(Int32Array::from(vec![1, 2])) as ArrayRef),
            ("t", Arc::new(StringArray::from(vec!["a", "b"])) as ArrayRef),
        ]);
        let b = fps(vec![
            ("id", Arc::new(Int64Array::from(vec![1, 2])) as ArrayRef),
            (
                "t",
                Arc::new(LargeStringArray::from(vec!["a", "b"])) as ArrayRef,
            ),
        ]);
        assert_eq!(a, b);
        assert_ne!(a[0], a[1]);
    }

    #[test]
    fn values_are_length_prefixed() {
        // ("ab", "c") and ("a", "bc") must differ.
        let a = fps(vec![
            ("x", Arc::new(StringArray::from(vec!["ab"])) as ArrayRef),
            ("y", Arc::new(StringArray::from(vec!["c"])) as ArrayRef),
        ]);
        let b = fps(vec![
            ("x", Arc::new(StringArray::from(vec!["a"])) as ArrayRef),
            ("y", Arc::new(StringArray::from(vec!["bc"])) as ArrayRef),
        ]);
        assert_ne!(a, b);
    }

    #[test]
    fn null_differs_from_empty_string() {
        let a = fps(vec![(
            "x",
            Arc::new(StringArray::from(vec![Some(""), None])) as ArrayRef,
        )]);
        assert_ne!(a[0], a[1]);
    }

    #[test]
    fn canonical_schema_is_logical() {
        let s1 = Schema::new(vec![Field::new("t", DataType::Utf8View, true)]);
        let s2 = Schema::new(vec![Field::new("t", DataType::LargeUtf8, false)]);
        assert_eq!(
            canonical_schema(&s1).unwrap(),
            canonical_schema(&s2).unwrap()
        );
        let s3 = Schema::new(vec![Field::new("t", DataType::Int64, false)]);
        assert_ne!(
            canonical_schema(&s1).unwrap(),
            canonical_schema(&s3).unwrap()
        );
    }
}
