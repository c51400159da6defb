//! The one way handlers write their results: human text, or typed JSON
//! with `--json`. Progress and warnings go to stderr, never through here.

use std::fmt::Display;
use std::io::Write;

use serde::Serialize;

/// Writes a command's result to stdout.
#[derive(Debug, Clone, Copy)]
pub struct Printer {
    json: bool,
}

impl Printer {
    pub fn new(json: bool) -> Printer {
        Printer { json }
    }

    /// Whether `--json` was asked for.
    pub fn is_json(&self) -> bool {
        self.json
    }

    /// Writes `value` as pretty JSON.
    pub fn json<T: Serialize + ?Sized>(&self, value: &T) -> anyhow::Result<()> {
        let text = serde_json::to_string_pretty(value)?;
        self.line(text);
        Ok(())
    }

    /// Writes `value` as JSON on one line (for output meant for line-based tools).
    pub fn json_line<T: Serialize + ?Sized>(&self, value: &T) -> anyhow::Result<()> {
        let text = serde_json::to_string(value)?;
        self.line(text);
        Ok(())
    }

    /// Writes `value` as JSON with `--json`, else the text `human` renders.
    pub fn emit<T: Serialize + ?Sized>(
        &self,
        value: &T,
        human: impl FnOnce(&T) -> String,
    ) -> anyhow::Result<()> {
        if self.json {
            self.json(value)
        } else {
            self.text(human(value));
            Ok(())
        }
    }

    /// Stdout, for commands that stream rows (`cat`, `query`).
    pub fn stream(&self) -> std::io::StdoutLock<'static> {
        std::io::stdout().lock()
    }

    /// A line of text.
    pub fn line(&self, text: impl Display) {
        self.text(format_args!("{text}\n"));
    }

    /// Text as it is.
    pub fn text(&self, text: impl Display) {
        let mut out = std::io::stdout().lock();
        // A closed pipe ends the process (SIGPIPE); other write errors have
        // nowhere better to go than the exit code of the next write.
        let _ = write!(out, "{text}");
    }
}

/// `say!(pr, "…", args)`: a line through the printer `p`, like `println!`.
macro_rules! say {
    ($p:expr) => {
        $p.line("")
    };
    ($p:expr, $($arg:tt)*) => {
        $p.line(format_args!($($arg)*))
    };
}

/// `say_raw!(pr, "…", args)`: text through the printer `p`, like `print!`.
macro_rules! say_raw {
    ($p:expr, $($arg:tt)*) => {
        $p.text(format_args!($($arg)*))
    };
}

pub(crate) use {say, say_raw};
