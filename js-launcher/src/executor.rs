//! The job executor: promise jobs, `setTimeout`/`setInterval` timers, and waiting.
//!
//! Boa hands every job to [`JobExecutor::enqueue_job`]. [`run_jobs`](Executor::run_jobs)
//! drains promise/generic jobs, then runs timers that are due; when only future timers are
//! left it *waits* through one libos call ([`crate::platform::invocation::sleep_ns`]), which our
//! hypervisor turns into a host-side sleep (a waiting guest burns no host core). It returns
//! when no work is left at all.
//!
//! Network requests (`fetch`, [`crate::fetch`]) are work too: while one is in flight the wait
//! goes through [`crate::fetch::wait`], which sleeps on the sockets and the next timer at once
//! (`poll`), and settles the requests that made progress.

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::rc::Rc;

use boa_engine::context::time::JsInstant;
use boa_engine::job::{GenericJob, IntervalJob, Job, JobExecutor, NativeAsyncJob, PromiseJob, TimeoutJob};
use boa_engine::{Context, JsResult};

enum Timer {
    Timeout(TimeoutJob),
    Interval(IntervalJob),
}

impl Timer {
    fn cancelled(&self) -> bool {
        match self {
            Timer::Timeout(t) => t.cancelled(),
            Timer::Interval(i) => i.cancelled(),
        }
    }
}

/// See the module docs.
#[derive(Default)]
pub struct Executor {
    promise_jobs: RefCell<VecDeque<PromiseJob>>,
    generic_jobs: RefCell<VecDeque<GenericJob>>,
    /// Engine-internal jobs with a future (module loading through `bundle::BundleLoader`,
    /// whose futures are ready at once).
    async_jobs: RefCell<VecDeque<NativeAsyncJob>>,
    /// Timers by due time; the `u64` keeps insertion order among equal deadlines.
    timers: RefCell<BTreeMap<(JsInstant, u64), Timer>>,
    next_seq: RefCell<u64>,
}

impl Executor {
    fn add_timer(&self, due: JsInstant, timer: Timer) {
        let mut seq = self.next_seq.borrow_mut();
        *seq += 1;
        self.timers.borrow_mut().insert((due, *seq), timer);
    }

    /// Drops every pending job (after an invocation failed, so nothing leaks into the next).
    pub fn clear(&self) {
        self.promise_jobs.borrow_mut().clear();
        self.generic_jobs.borrow_mut().clear();
        self.async_jobs.borrow_mut().clear();
        self.timers.borrow_mut().clear();
        // [fetch] requests in flight, idle connections, unref'd timers.
        crate::fetch::clear();
    }

    fn run_ready(&self, context: &mut Context) -> JsResult<()> {
        loop {
            let job = self.promise_jobs.borrow_mut().pop_front();
            if let Some(job) = job {
                job.call(context)?;
                continue;
            }
            let job = self.generic_jobs.borrow_mut().pop_front();
            if let Some(job) = job {
                job.call(context)?;
                continue;
            }
            let job = self.async_jobs.borrow_mut().pop_front();
            match job {
                Some(job) => {
                    let cell = RefCell::new(&mut *context);
                    futures_lite::future::block_on(job.call(&cell))?;
                }
                None => return Ok(()),
            }
        }
    }
}

impl JobExecutor for Executor {
    fn enqueue_job(self: Rc<Self>, job: Job, context: &mut Context) {
        match job {
            Job::PromiseJob(p) => self.promise_jobs.borrow_mut().push_back(p),
            Job::GenericJob(g) => self.generic_jobs.borrow_mut().push_back(g),
            Job::AsyncJob(a) => self.async_jobs.borrow_mut().push_back(a),
            Job::TimeoutJob(t) => {
                let due = context.clock().now() + t.timeout();
                self.add_timer(due, Timer::Timeout(t));
            }
            Job::IntervalJob(i) => {
                let due = context.clock().now() + i.interval();
                self.add_timer(due, Timer::Interval(i));
            }
            // FinalizationRegistry clean-ups: dropping one only delays finalizers forever.
            _ => {}
        }
    }

    fn run_jobs(self: Rc<Self>, context: &mut Context) -> JsResult<()> {
        loop {
            self.run_ready(context)?;
            // Next timer that is not cancelled.
            let next = {
                let mut timers = self.timers.borrow_mut();
                timers.retain(|_, t| !t.cancelled());
                timers.keys().next().copied()
            };
            // [fetch] network requests in flight keep the loop alive like timers; when no work
            // is left at all, per-invocation network state is dropped.
            let Some(key) = next else {
                if crate::fetch::busy() {
                    crate::fetch::wait(context, None)?;
                    continue;
                }
                crate::fetch::release();
                return Ok(());
            };
            let now = context.clock().now();
            if key.0 > now {
                // [fetch] waits for sockets too (and only sleeps when there are none).
                let wait = key.0 - now;
                crate::fetch::wait(context, Some(std::time::Duration::from_nanos(u64::try_from(wait.as_nanos()).unwrap_or(u64::MAX))))?;
                continue;
            }
            // [fetch] settle network steps that are ready before running a due timer.
            if crate::fetch::busy() {
                crate::fetch::wait(context, Some(std::time::Duration::ZERO))?;
                if !self.promise_jobs.borrow().is_empty() || !self.generic_jobs.borrow().is_empty() {
                    continue;
                }
            }
            let timer = self.timers.borrow_mut().remove(&key);
            match timer {
                Some(Timer::Timeout(t)) => {
                    t.call(context)?;
                }
                Some(Timer::Interval(i)) => {
                    i.call(context)?;
                    if !i.cancelled() {
                        let due = context.clock().now() + i.interval();
                        self.add_timer(due, Timer::Interval(i));
                    }
                }
                None => {}
            }
        }
    }
}

impl Executor {
    /// Runs every job and timer until none is left (see the module docs).
    pub fn run_jobs_now(self: Rc<Self>, context: &mut Context) -> JsResult<()> {
        JobExecutor::run_jobs(self, context)
    }
}
