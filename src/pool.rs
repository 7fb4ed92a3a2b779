//! The crate's rayon worker pools: one per thread count, per process, rebuilt after `fork()`.
//!
//! Every parallel computation in tierscope runs inside [`install`] (or on a pool from [`pool`]),
//! never on rayon's global pool. The global pool cannot be rebuilt: once a parent process has
//! used it, a forked child inherits a pool whose worker threads do not exist there, and the
//! first parallel call in the child waits for them forever. Building a fresh pool per call avoids
//! that but pays thread start-up on every call, so pools are cached here, keyed by thread count
//! and by the process id that built them. When the process id changes (we are in a forked
//! child), the inherited pools are leaked with [`std::mem::forget`] — their threads do not exist
//! in the child and dropping them could block — and new pools are built on demand.
//!
//! `clippy.toml` bans `ThreadPoolBuilder::build`, `build_global` and `build_scoped` everywhere
//! else, so new parallel code has to come through this module.
//!
//! Worker `i` of a pool is named `tierscope-{i}`, and inside [`install`] on an `n`-thread pool
//! [`rayon::current_thread_index`] is `Some(0..n)` (the encoder maps workers to sessions by it).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use rayon::ThreadPool;

use crate::error::{Result, TierscopeError};
use crate::runtime::available_cores;

/// The pools of one process.
struct Pools {
    pid: u32,
    by_threads: HashMap<usize, Arc<ThreadPool>>,
}

/// Pools by thread count, valid for the process that built them.
struct Registry(Mutex<Option<Pools>>);

/// This process's pools. The lock is held only to look up or insert a pool (never while a pool
/// starts or runs work), so a fork while another thread is inside is as unlikely as it can be.
static POOLS: Registry = Registry::new();

impl Registry {
    const fn new() -> Self {
        Self(Mutex::new(None))
    }

    /// The pools, after forgetting any that another process (the parent, before a fork) built.
    fn lock(&self, pid: u32) -> MutexGuard<'_, Option<Pools>> {
        let mut guard = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if guard.as_ref().is_some_and(|p| p.pid != pid) {
            // Inherited across fork(): the workers live in the parent only, and dropping the
            // pools could block on locks or threads that do not exist here. Leak them.
            std::mem::forget(guard.take());
        }
        guard
    }

    /// Process `pid`'s pool with `threads` (resolved, > 0) workers, started on first use.
    fn get(&self, pid: u32, threads: usize) -> Result<Arc<ThreadPool>> {
        if let Some(found) = self.lock(pid).as_ref().and_then(|p| p.by_threads.get(&threads).cloned()) {
            return Ok(found);
        }
        // Start it without holding the lock; if another thread won the race, use its pool (this
        // one shuts down when dropped, which does not wait for its workers).
        let fresh = Arc::new(build(threads)?);
        let mut guard = self.lock(pid);
        let pools = guard.get_or_insert_with(|| Pools { pid, by_threads: HashMap::new() });
        Ok(pools.by_threads.entry(threads).or_insert(fresh).clone())
    }
}

/// The thread count `threads` stands for: itself, or the available cores for 0.
pub fn resolve(threads: usize) -> usize {
    if threads == 0 {
        available_cores()
    } else {
        threads
    }
}

/// Start a pool of `threads` workers named `tierscope-{i}`.
// The one place in the crate that builds a rayon pool: everything else gets its pool from
// `pool()`/`install()`, so pools are shared and rebuilt after fork (see the module docs).
#[allow(clippy::disallowed_methods)]
fn build(threads: usize) -> Result<ThreadPool> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("tierscope-{i}"))
        .build()
        .map_err(|e| TierscopeError::invalid("threads", format!("a usable thread count: {e}")))
}

/// This process's pool with `threads` workers (0 = the available cores), started on first use.
///
/// The same thread count always returns the same pool within a process; a forked child gets
/// pools of its own. An error (the threads could not be started) names the `threads` argument.
pub fn pool(threads: usize) -> Result<Arc<ThreadPool>> {
    POOLS.get(std::process::id(), resolve(threads))
}

/// Run `op` on this process's pool with `threads` workers (0 = the available cores) and return
/// its result. Parallel iterators, `rayon::join` and `rayon::scope` inside `op` use that pool.
pub fn install<R: Send>(threads: usize, op: impl FnOnce() -> R + Send) -> Result<R> {
    Ok(pool(threads)?.install(op))
}

/// Run `op` where parallel work belongs: directly when the caller is already a rayon worker
/// (nested work stays on the caller's pool), otherwise on the default pool (`install(0, op)`).
/// For helpers that are called both from inside pool work and from plain threads.
pub fn current_or_default<R: Send>(op: impl FnOnce() -> R + Send) -> Result<R> {
    if rayon::current_thread_index().is_some() {
        Ok(op())
    } else {
        install(0, op)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rayon::prelude::*;

    #[test]
    fn same_thread_count_returns_the_same_pool() {
        let a = pool(3).unwrap();
        let b = pool(3).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(a.current_num_threads(), 3);
        assert!(Arc::ptr_eq(&pool(0).unwrap(), &pool(available_cores()).unwrap()));
    }

    #[test]
    fn different_thread_counts_get_different_pools() {
        let a = pool(1).unwrap();
        let b = pool(2).unwrap();
        assert!(!Arc::ptr_eq(&a, &b));
        assert_eq!((a.current_num_threads(), b.current_num_threads()), (1, 2));
    }

    #[test]
    fn install_runs_on_a_named_pool_thread() {
        for threads in [1, 2, 4] {
            let (index, name) = install(threads, || {
                (rayon::current_thread_index(), std::thread::current().name().map(str::to_string))
            })
            .unwrap();
            let index = index.expect("install runs on a worker");
            assert!(index < threads);
            assert_eq!(name, Some(format!("tierscope-{index}")));
            // Every task of a parallel iterator inside runs on the same pool.
            let indices: Vec<usize> = install(threads, || {
                (0..64).into_par_iter().map(|_| rayon::current_thread_index().unwrap()).collect()
            })
            .unwrap();
            assert!(indices.iter().all(|&i| i < threads));
        }
    }

    #[test]
    fn current_or_default_stays_on_the_callers_pool() {
        assert!(current_or_default(rayon::current_thread_index).unwrap().is_some());
        let p = pool(2).unwrap();
        let inner = install(2, || {
            current_or_default(|| (rayon::current_thread_index(), p.current_thread_index())).unwrap()
        })
        .unwrap();
        assert!(inner.0.is_some() && inner.0 == inner.1);
    }

    #[test]
    fn a_pool_from_another_process_is_replaced() {
        // A registry of its own, so the other tests' shared pools are untouched.
        let registry = Registry::new();
        let parent = registry.get(1, 2).unwrap();
        assert!(Arc::ptr_eq(&parent, &registry.get(1, 2).unwrap()));
        // As after fork(): the same registry seen from another process id.
        let child = registry.get(2, 2).unwrap();
        assert!(!Arc::ptr_eq(&parent, &child));
        assert!(Arc::ptr_eq(&child, &registry.get(2, 2).unwrap()));
        assert_eq!(child.install(|| rayon::current_thread_index().map(|i| i < 2)), Some(true));
    }
}
