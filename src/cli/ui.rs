//! Human output: sizes, counts, tables and progress bars (on stderr, only on a terminal).

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// `1234567` → `1.2 MiB`: binary units, the ones sizes are given in
/// (`--shard-size 64MiB`), everywhere sift prints a size.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// A rows-per-second key for progress templates: `{rows_per_sec}` → `3,707 rows/s`.
pub fn rows_per_sec(state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write) {
    let _ = write!(w, "{} rows/s", count(state.per_sec() as u64));
}

/// A large count in short form: `987`, `12.3 K`, `4.56 M`, `1.23 B`, `2.50 T`.
pub fn short_count(n: u64) -> String {
    // A value that rounds up to 1000 of a unit is shown in the next (999,999 → 1.00 M).
    let units = [(1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")];
    for (size, unit) in units {
        let v = n as f64 / size;
        if v >= 0.9995 || (unit == "K" && n >= 1000) {
            let digits = if v >= 99.95 {
                0
            } else if v >= 9.995 {
                1
            } else {
                2
            };
            return format!("{v:.digits$} {unit}");
        }
    }
    n.to_string()
}

/// `1234567` → `1,234,567`.
pub fn count(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Left-aligned columns, two spaces apart.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<w$}  ", w = widths[i]));
            }
        }
        s.trim_end().to_string() + "\n"
    };
    let mut out = line(header.to_vec());
    for r in rows {
        out.push_str(&line(r.iter().map(|s| s.as_str()).collect()));
    }
    out
}

/// A byte-progress bar fed from a shared counter; hidden unless stderr is a terminal.
pub struct ByteProgress {
    bar: ProgressBar,
    stop: Arc<AtomicU64>,
    ticker: Option<std::thread::JoinHandle<()>>,
}

impl ByteProgress {
    pub fn new(label: &str, total: u64, counter: Arc<AtomicU64>) -> Self {
        let bar = if std::io::stderr().is_terminal() {
            ProgressBar::new(total)
        } else {
            ProgressBar::hidden()
        };
        bar.set_style(
            ProgressStyle::with_template(
                "{msg:>10} [{bar:30}] {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} eta {eta}",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        bar.set_message(label.to_string());
        let stop = Arc::new(AtomicU64::new(0));
        let ticker = (!bar.is_hidden()).then(|| {
            let (bar, stop) = (bar.clone(), stop.clone());
            std::thread::spawn(move || {
                while stop.load(Ordering::Relaxed) == 0 {
                    bar.set_position(counter.load(Ordering::Relaxed));
                    std::thread::sleep(Duration::from_millis(100));
                }
            })
        });
        ByteProgress { bar, stop, ticker }
    }
}

impl Drop for ByteProgress {
    fn drop(&mut self) {
        self.stop.store(1, Ordering::Relaxed);
        if let Some(t) = self.ticker.take() {
            let _ = t.join();
        }
        self.bar.finish_and_clear();
    }
}

/// Short local display of an RFC 3339 time: `2026-11-24 05:30`.
pub fn when(rfc3339: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .map(|t| {
            t.with_timezone(&chrono::Local)
                .format("%Y-%m-%d %H:%M")
                .to_string()
        })
        .unwrap_or_else(|_| rfc3339.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(bytes(999), "999 B");
        assert_eq!(bytes(1_500_000), "1.4 MiB");
        assert_eq!(bytes(64 << 20), "64.0 MiB");
        assert_eq!(count(1234567), "1,234,567");
        assert_eq!(count(12), "12");
    }

    #[test]
    fn short_counts_round_into_the_next_unit() {
        for (n, want) in [
            (0, "0"),
            (999, "999"),
            (1_000, "1.00 K"),
            (12_345, "12.3 K"),
            (999_499, "999 K"),
            (999_999, "1.00 M"),
            (1_234_567_890, "1.23 B"),
            (99_960_000, "100 M"),
            (2_500_000_000_000, "2.50 T"),
        ] {
            assert_eq!(short_count(n), want, "{n}");
        }
    }
}
