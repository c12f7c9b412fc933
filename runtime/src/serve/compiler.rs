//! The thread that compiles the rule set for a reload, and frees the set it replaced.
//!
//! Compiling thousands of rules takes seconds, so it never runs on the thread that evaluates
//! messages; the set is handed back and swapped in between two messages. One long-lived
//! thread does every reload and frees every replaced set, so the allocator reuses the memory
//! one set leaves for the next instead of spreading sets over the arenas of passing threads
//! (which made each reload keep the previous one's memory). A panic while compiling costs that
//! reload only; the running set stays.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc as std_mpsc;

use tokio::sync::mpsc;

use super::{Loaded, Problems, load};
use crate::actions::lanes::Lanes;

enum Job {
    Compile,
    Free(Box<Loaded>),
}

/// What a reload reads.
#[derive(Debug)]
pub(crate) struct Sources {
    pub(crate) paths: Vec<PathBuf>,
    pub(crate) skip_unsupported: bool,
    pub(crate) basic_ingest: bool,
    pub(crate) lanes: Arc<Lanes>,
}

/// The handle of the compiler thread; the thread ends when it is dropped.
#[derive(Debug)]
pub(crate) struct Compiler {
    jobs: std_mpsc::Sender<Job>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Job::Compile => "Compile",
            Job::Free(_) => "Free",
        })
    }
}

/// Gives the memory a replaced set held back to the system now: the allocator (mimalloc)
/// would otherwise keep this idle thread's free pages until its next allocation, so a reload
/// would leave the size of a whole rule set behind.
fn return_freed_memory() {
    // SAFETY: `mi_collect` has no preconditions: it only releases this thread's free pages
    // (and, forced, those of abandoned heaps) through the allocator this binary uses.
    #[expect(unsafe_code, reason = "the allocator's one call for returning freed memory")]
    unsafe {
        libmimalloc_sys::mi_collect(true);
    }
}

impl Compiler {
    /// Starts the thread; each compiled set (or the diagnostics that refused it) goes to `done`.
    pub(crate) fn start(sources: Sources, done: mpsc::Sender<Result<Loaded, Problems>>) -> Result<Compiler, String> {
        let (jobs, receiver) = std_mpsc::channel();
        std::thread::Builder::new()
            .name("iotrules-compiler".to_owned())
            .spawn(move || {
                while let Ok(job) = receiver.recv() {
                    match job {
                        Job::Compile => {
                            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                                load(&sources.paths, sources.skip_unsupported, sources.basic_ingest, &sources.lanes)
                            }))
                            .unwrap_or_else(|_| {
                                Err(Problems::said("the rule set could not be compiled (an internal error)"))
                            });
                            if done.blocking_send(result).is_err() {
                                return;
                            }
                        }
                        Job::Free(old) => {
                            drop(old);
                            return_freed_memory();
                        }
                    }
                }
            })
            .map_err(|error| format!("cannot start the compiler thread: {error}"))?;
        Ok(Compiler { jobs })
    }

    /// Compiles the rule files again; the result arrives on the `done` channel.
    pub(crate) fn compile(&self) {
        let _ = self.jobs.send(Job::Compile);
    }

    /// Frees a replaced set on the compiler thread.
    pub(crate) fn free(&self, old: Loaded) {
        let _ = self.jobs.send(Job::Free(Box::new(old)));
    }
}
