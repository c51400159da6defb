//! Files a stage reads besides its rows (a fastText model, a tokenizer):
//! hashed into the stage, kept in the store, found again for explain.
//!
//! ```text
//! sift check / run:  file ─▶ bytes ─▶ BLAKE3 (the stage's `inputs.<key>`, in its hash)
//! sift run:          bytes ─▶ an object in the store (once), so the version keeps its file
//! sift explain:      inputs.<key> ─▶ the object (the file may be gone)
//! ```

use std::path::{Path, PathBuf};

use super::{Check, Inputs, Invalid, RunError};
use crate::store::{ObjectId, Store};

/// A file a stage reads, and where it came from.
#[derive(Debug, Clone)]
pub struct InputFile {
    /// The file as the spec names it.
    pub file: String,
    /// BLAKE3 of the file's bytes: its object id in the store.
    pub id: ObjectId,
    /// The key under which `inputs` records it (`model`, `tokenizer`).
    key: &'static str,
    /// The file on disk (absent when read from the store for explain).
    path: Option<PathBuf>,
}

impl InputFile {
    /// The file a stage names in `field` and its bytes: from disk (relative
    /// to the spec's directory) at check and run, or, when a recorded spec is
    /// checked again, the object its `inputs.<key>` names. `hint` says what
    /// file is wanted when it cannot be read.
    pub fn open(
        cx: &Check,
        key: &'static str,
        field: &str,
        file: &str,
        hint: &str,
    ) -> Result<(InputFile, Vec<u8>), Invalid> {
        let Some(dir) = cx.dir else {
            return Self::recorded(cx, key, field, file);
        };
        let path = dir.join(file);
        let bytes = std::fs::read(&path).map_err(|e| {
            Invalid::new(
                field,
                format!("cannot read the {key} file {}: {e}", path.display()),
            )
            .hint(format!("the path is relative to the spec file; {hint}"))
        })?;
        let f = InputFile {
            file: file.to_string(),
            id: ObjectId::of(&bytes),
            key,
            path: Some(path),
        };
        Ok((f, bytes))
    }

    fn recorded(
        cx: &Check,
        key: &'static str,
        field: &str,
        file: &str,
    ) -> Result<(InputFile, Vec<u8>), Invalid> {
        let invalid = |m: String| Invalid::new(field, m);
        let hex = cx.inputs.get(key).ok_or_else(|| {
            invalid(format!(
                "the recorded spec names {file} but not its content id"
            ))
        })?;
        let id: ObjectId = hex.parse().map_err(invalid)?;
        let bytes = cx
            .store
            .objects()
            .get(&id)
            .map_err(|e| invalid(format!("the {key} {file} ({}): {e}", id.short())))?;
        let f = InputFile {
            file: file.to_string(),
            id,
            key,
            path: None,
        };
        Ok((f, bytes))
    }

    /// A file known only by its bytes, for tests.
    #[cfg(test)]
    pub fn of_bytes(file: &str, key: &'static str, bytes: &[u8]) -> InputFile {
        InputFile {
            file: file.to_string(),
            id: ObjectId::of(bytes),
            key,
            path: None,
        }
    }

    /// The path on disk, for messages: the file as the spec names it when read from the store.
    pub fn shown(&self) -> String {
        self.path
            .as_ref()
            .map_or_else(|| self.file.clone(), |p| p.display().to_string())
    }

    /// `inputs` for the stage's hash and record.
    pub fn inputs(&self) -> Inputs {
        Inputs::from([(self.key.to_string(), self.id.hex())])
    }

    /// Keeps the file's bytes in the store (once), so the version can be
    /// explained after the file is gone. A file changed since it was checked
    /// is refused: the stage hash names the bytes that were checked.
    pub fn keep(&self, store: &Store) -> Result<(), RunError> {
        if store.objects().contains(&self.id) {
            return Ok(());
        }
        let Some(path) = &self.path else {
            return Ok(());
        };
        let bytes = std::fs::read(path).map_err(|source| crate::store::Error::Io {
            path: path.clone(),
            source,
        })?;
        if ObjectId::of(&bytes) != self.id {
            return Err(RunError::Changed {
                path: path.clone(),
                what: self.key,
            });
        }
        store.objects().put(&bytes)?;
        Ok(())
    }

    /// The file name, for stats: `lid.176.ftz`.
    pub fn name(&self) -> String {
        Path::new(&self.file)
            .file_name()
            .map_or_else(|| self.file.clone(), |n| n.to_string_lossy().into_owned())
    }

    /// `lid.176.ftz (blake3 1a2b3c4d5e6f)`.
    pub fn describe(&self) -> String {
        format!("{} (blake3 {})", self.name(), self.id.short())
    }
}
