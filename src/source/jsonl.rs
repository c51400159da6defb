//! JSONL (plain, `.gz`, `.zst`) through arrow's tape decoder, and the
//! line-by-line rescan that locates an error.

use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use arrow::array::RecordBatch;
use arrow::datatypes::{Schema, SchemaRef};
use arrow::error::ArrowError;

use super::{BATCH_ROWS, Error, INFER_ROWS, Skipped, Skips, open_text};

pub(super) fn infer(path: &Path) -> Result<Schema, Error> {
    let sink = Arc::new(AtomicU64::new(0));
    let reader = open_text(path, sink.clone())?;
    match arrow::json::reader::infer_json_schema(reader, Some(INFER_ROWS)) {
        Ok((schema, _)) => Ok(schema),
        Err(e) => Err(
            locate_json_error(path, None, sink).unwrap_or_else(|| Error::Row {
                path: path.to_path_buf(),
                line: 0,
                reason: e.to_string(),
            }),
        ),
    }
}

/// The schema of the first rows that read as JSON objects (bad lines skipped).
pub(super) fn infer_skipping(path: &Path) -> Result<Schema, Error> {
    let mut reader = open_text(path, Arc::new(AtomicU64::new(0)))?;
    let mut good = Vec::new();
    let (mut rows, mut line) = (0usize, Vec::new());
    while rows < INFER_ROWS {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .map_err(|source| Error::Io {
                path: path.to_path_buf(),
                source,
            })?;
        if n == 0 {
            break;
        }
        if matches!(
            serde_json::from_slice::<serde_json::Value>(&line),
            Ok(serde_json::Value::Object(_))
        ) {
            good.extend_from_slice(&line);
            if !line.ends_with(b"\n") {
                good.push(b'\n');
            }
            rows += 1;
        }
    }
    arrow::json::reader::infer_json_schema(std::io::Cursor::new(good), Some(INFER_ROWS))
        .map(|(s, _)| s)
        .map_err(|e| Error::Row {
            path: path.to_path_buf(),
            line: 0,
            reason: e.to_string(),
        })
}

/// JSONL through arrow's tape decoder, in blocks of whole lines.
pub(super) struct JsonlBatches {
    path: PathBuf,
    schema: SchemaRef,
    coerce: bool,
    reader: Box<dyn BufRead + Send>,
    decoder: arrow::json::reader::Decoder,
    block: Vec<u8>,
    pos: usize,
    eof: bool,
    failed: bool,
    /// With `on_bad_row = "skip"`: where skipped lines are recorded, the
    /// lines read before the current block, and the batches of that block.
    skip: Option<Skips>,
    lines_before: u64,
    pending: std::collections::VecDeque<RecordBatch>,
}

impl JsonlBatches {
    pub(super) fn new(
        path: &Path,
        schema: SchemaRef,
        coerce: bool,
        progress: Arc<AtomicU64>,
        skip: Option<Skips>,
    ) -> Result<Self, Error> {
        let reader = open_text(path, progress)?;
        Ok(JsonlBatches {
            path: path.to_path_buf(),
            decoder: json_decoder(schema.clone(), coerce, BATCH_ROWS).map_err(|e| Error::Row {
                path: path.to_path_buf(),
                line: 0,
                reason: e.to_string(),
            })?,
            schema,
            coerce,
            reader,
            block: Vec::new(),
            pos: 0,
            eof: false,
            failed: false,
            skip,
            lines_before: 0,
            pending: Default::default(),
        })
    }

    /// The next batch when bad lines are skipped: each block of whole lines
    /// is decoded on its own; a block that fails is decoded line by line,
    /// and the lines that fail alone are recorded and left out.
    fn next_skipping(&mut self) -> Option<Result<RecordBatch, Error>> {
        loop {
            if let Some(b) = self.pending.pop_front() {
                return Some(Ok(b));
            }
            if self.eof {
                return None;
            }
            if let Err(e) = self.refill() {
                self.failed = true;
                return Some(Err(e));
            }
            let block = std::mem::take(&mut self.block);
            self.pos = 0;
            match decode_all(&self.schema, self.coerce, &block) {
                Ok(batches) => self.pending.extend(batches),
                Err(_) => {
                    let mut good = Vec::with_capacity(block.len());
                    for (i, line) in block.split(|&b| b == b'\n').enumerate() {
                        if line.iter().all(u8::is_ascii_whitespace) {
                            continue;
                        }
                        let reason = match std::str::from_utf8(line) {
                            Err(e) => Some(format!(
                                "invalid UTF-8 at byte {} of the line",
                                e.valid_up_to()
                            )),
                            // A line is bad when the decoder refuses it, as in a
                            // failing import; serde_json words a syntax error best.
                            Ok(_) => decode_all(&self.schema, self.coerce, line).err().map(|e| {
                                match serde_json::from_slice::<serde_json::Value>(line) {
                                    Err(j) => {
                                        format!("invalid JSON: {}", strip_position(&j.to_string()))
                                    }
                                    Ok(_) => describe_arrow_json(e),
                                }
                            }),
                        };
                        match reason {
                            Some(reason) => self.skip.as_ref().expect("skipping").record(Skipped {
                                path: self.path.display().to_string(),
                                line: self.lines_before + i as u64 + 1,
                                reason,
                                text: String::from_utf8_lossy(&line[..line.len().min(1000)])
                                    .into_owned(),
                            }),
                            None => {
                                good.extend_from_slice(line);
                                good.push(b'\n');
                            }
                        }
                    }
                    match decode_all(&self.schema, self.coerce, &good) {
                        Ok(batches) => self.pending.extend(batches),
                        Err(e) => {
                            self.failed = true;
                            return Some(Err(Error::Row {
                                path: self.path.clone(),
                                line: self.lines_before,
                                reason: describe_arrow_json(e),
                            }));
                        }
                    }
                }
            }
            self.lines_before += block.iter().filter(|&&b| b == b'\n').count() as u64;
        }
    }

    fn fail(&mut self, e: ArrowError) -> Error {
        self.failed = true;
        let sink = Arc::new(AtomicU64::new(0));
        locate_json_error(&self.path, Some((self.schema.clone(), self.coerce)), sink)
            .unwrap_or_else(|| Error::Row {
                path: self.path.clone(),
                line: 0,
                reason: e.to_string(),
            })
    }

    /// Refills `block` with up to ~4 MiB of whole lines.
    fn refill(&mut self) -> Result<(), Error> {
        let tail = self.block.split_off(self.pos);
        self.block = tail;
        self.pos = 0;
        let mut chunk = Vec::with_capacity(4 << 20);
        (&mut self.reader)
            .take(4 << 20)
            .read_to_end(&mut chunk)
            .map_err(|source| Error::Io {
                path: self.path.clone(),
                source,
            })?;
        if chunk.is_empty() {
            self.eof = true;
        } else {
            // Complete the last line so the block holds whole lines only.
            self.reader
                .read_until(b'\n', &mut chunk)
                .map_err(|source| Error::Io {
                    path: self.path.clone(),
                    source,
                })?;
        }
        self.block.extend_from_slice(&chunk);
        Ok(())
    }
}

/// Every row of `text` (whole lines), in batches of at most `BATCH_ROWS`.
fn decode_all(
    schema: &SchemaRef,
    coerce: bool,
    text: &[u8],
) -> Result<Vec<RecordBatch>, ArrowError> {
    let mut d = json_decoder(schema.clone(), coerce, BATCH_ROWS)?;
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < text.len() {
        pos += d.decode(&text[pos..])?;
        if let Some(b) = d.flush()? {
            out.push(b);
        }
    }
    if let Some(b) = d.flush()? {
        out.push(b);
    }
    Ok(out)
}

pub(super) fn json_decoder(
    schema: SchemaRef,
    coerce: bool,
    rows: usize,
) -> Result<arrow::json::reader::Decoder, ArrowError> {
    arrow::json::ReaderBuilder::new(schema)
        .with_batch_size(rows)
        .with_strict_mode(true)
        .with_coerce_primitive(coerce)
        .build_decoder()
}

impl Iterator for JsonlBatches {
    type Item = Result<RecordBatch, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        if self.skip.is_some() {
            return self.next_skipping();
        }
        loop {
            if self.pos >= self.block.len()
                && !self.eof
                && let Err(e) = self.refill()
            {
                self.failed = true;
                return Some(Err(e));
            }
            if self.pos < self.block.len() {
                match self.decoder.decode(&self.block[self.pos..]) {
                    Ok(n) => self.pos += n,
                    Err(e) => return Some(Err(self.fail(e))),
                }
                if self.pos < self.block.len() || self.decoder.len() >= BATCH_ROWS {
                    // The decoder stopped early: its batch is full.
                    match self.decoder.flush() {
                        Ok(Some(b)) => return Some(Ok(b)),
                        Ok(None) => continue,
                        Err(e) => return Some(Err(self.fail(e))),
                    }
                }
                continue;
            }
            // End of input.
            return match self.decoder.flush() {
                Ok(Some(b)) => Some(Ok(b)),
                Ok(None) => None,
                Err(e) => Some(Err(self.fail(e))),
            };
        }
    }
}

/// Scans a JSONL file for its first bad line; `None` if none is found.
///
/// Checks, per line: UTF-8, JSON syntax (with the column), then — when a
/// schema is given — that the values decode into it (groups of lines are
/// decoded together, and a failing group line by line).
pub(super) fn locate_json_error(
    path: &Path,
    schema: Option<(SchemaRef, bool)>,
    sink: Arc<AtomicU64>,
) -> Option<Error> {
    let mut reader = open_text(path, sink).ok()?;
    let mut group: Vec<(u64, Vec<u8>)> = Vec::new();
    let mut line_no = 0u64;
    let check_group = |group: &[(u64, Vec<u8>)]| -> Option<Error> {
        let (schema, coerce) = schema.clone()?;
        let decode = |lines: &[&(u64, Vec<u8>)]| -> Result<(), ArrowError> {
            let mut d = json_decoder(schema.clone(), coerce, BATCH_ROWS)?;
            for (_, l) in lines {
                let mut off = 0;
                while off < l.len() {
                    off += d.decode(&l[off..])?;
                    d.flush()?;
                }
                d.decode(b"\n")?;
                d.flush()?;
            }
            Ok(())
        };
        if decode(&group.iter().collect::<Vec<_>>()).is_ok() {
            return None;
        }
        for item in group {
            if let Err(e) = decode(&[item]) {
                return Some(Error::Row {
                    path: path.to_path_buf(),
                    line: item.0,
                    reason: describe_arrow_json(e),
                });
            }
        }
        None
    };
    loop {
        let mut line = Vec::new();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) => break,
            Ok(_) => {}
            Err(source) => {
                return Some(Error::Io {
                    path: path.to_path_buf(),
                    source,
                });
            }
        }
        line_no += 1;
        if let Err(e) = std::str::from_utf8(&line) {
            return Some(Error::Utf8 {
                path: path.to_path_buf(),
                line: line_no,
                byte: e.valid_up_to() + 1,
            });
        }
        let trimmed = line.trim_ascii();
        if trimmed.is_empty() {
            continue;
        }
        match serde_json::from_slice::<serde_json::Value>(trimmed) {
            Err(e) => {
                let lead = line.len() - line.trim_ascii_start().len();
                return Some(Error::Json {
                    path: path.to_path_buf(),
                    line: line_no,
                    column: e.column() as u64 + lead as u64,
                    reason: strip_position(&e.to_string()),
                });
            }
            Ok(v) if !v.is_object() => {
                return Some(Error::Row {
                    path: path.to_path_buf(),
                    line: line_no,
                    reason:
                        "the line is JSON but not an object; each line must be one {...} record"
                            .into(),
                });
            }
            Ok(_) => {}
        }
        group.push((line_no, line));
        if group.len() >= 1024 {
            if let Some(e) = check_group(&group) {
                return Some(e);
            }
            group.clear();
        }
    }
    check_group(&group)
}

pub(super) fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

pub(super) fn describe_arrow_json(e: ArrowError) -> String {
    let msg = match e {
        ArrowError::JsonError(m) => m,
        other => other.to_string(),
    };
    if let Some(name) = msg
        .strip_prefix("column '")
        .and_then(|rest| rest.strip_suffix("' missing from schema"))
    {
        return format!("field '{name}' does not appear in the rows the schema was inferred from");
    }
    format!("a value does not fit the schema: {msg}")
}
