//! Ordered parallel maps: work spread over threads, results in index order.
//!
//! Every parallel loop in sift goes through [`map_ordered`], so results never
//! depend on the thread count or on which thread finished first. When items
//! fail, the error of the lowest failing index is returned: items are taken
//! in index order, so every index below a failure has been taken, and items
//! above it are skipped.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Runs `f(0)`, …, `f(n - 1)` on up to `threads` threads and returns the
/// results in index order, or the error of the lowest failing index.
pub fn map_ordered<T, E, F>(threads: usize, n: usize, f: F) -> Result<Vec<T>, E>
where
    T: Send,
    E: Send,
    F: Fn(usize) -> Result<T, E> + Sync,
{
    if threads <= 1 || n <= 1 {
        return (0..n).map(f).collect();
    }
    let next = AtomicUsize::new(0);
    // The lowest index that failed so far (n: none).
    let failed = AtomicUsize::new(n);
    let slots: Mutex<Vec<Option<Result<T, E>>>> = Mutex::new((0..n).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..threads.min(n) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n || i > failed.load(Ordering::Relaxed) {
                        return;
                    }
                    let r = f(i);
                    if r.is_err() {
                        failed.fetch_min(i, Ordering::Relaxed);
                    }
                    slots.lock().expect("lock")[i] = Some(r);
                }
            });
        }
    });
    let mut out = Vec::with_capacity(n);
    for slot in slots.into_inner().expect("lock") {
        match slot {
            Some(Ok(v)) => out.push(v),
            Some(Err(e)) => return Err(e),
            // Skipped after a failure at a lower index, which comes first.
            None => unreachable!("an item is skipped only after a lower one failed"),
        }
    }
    Ok(out)
}

/// [`map_ordered`] for work that cannot fail.
pub fn map<T, F>(threads: usize, n: usize, f: F) -> Vec<T>
where
    T: Send,
    F: Fn(usize) -> T + Sync,
{
    match map_ordered(threads, n, |i| Ok::<T, std::convert::Infallible>(f(i))) {
        Ok(v) => v,
        Err(never) => match never {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_in_index_order_on_any_thread_count() {
        for threads in [1, 2, 3, 8] {
            let v = map(threads, 100, |i| i * i);
            assert_eq!(v, (0..100).map(|i| i * i).collect::<Vec<_>>());
        }
    }

    #[test]
    fn the_lowest_failing_index_wins() {
        for threads in [1, 2, 4] {
            let r = map_ordered(
                threads,
                50,
                |i| {
                    if i == 17 || i == 31 { Err(i) } else { Ok(i) }
                },
            );
            assert_eq!(r, Err(17), "{threads} threads");
        }
        assert_eq!(map(4, 0, |i| i), Vec::<usize>::new());
    }
}
