//! The connection activity log's writer. An invoke or a test is recorded off the request path: its
//! event goes into a queue, and one task writes what has queued up in one transaction, so that no
//! invoke waits for its own INSERT and commit, and the database sees one write transaction per batch
//! rather than one per call.
//!
//! What this trades: an event reaches the database up to `GATHER` (20 ms) after its answer has gone
//! out, unless something flushes. A batch the database does not take (it is away, its write lock is
//! held, its disk is full) is kept and tried again, with up to `BACKLOG` events waiting meanwhile.
//! Events are lost only
//! - when the process dies before they are written (not when it stops: `shutdown` writes what it
//!   can, and logs what the database did not take);
//! - when `BACKLOG` events already wait (the database took no writes for that long, or cannot keep
//!   up): the new ones are dropped, counted (`dropped`, shown on connection pages) and logged once
//!   per episode.
//!
//! The audit log of administrative changes is not written here: it stays in each change's own
//! transaction.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{Notify, mpsc, oneshot};
use tokio::time::Instant;

use crate::db::{Db, write_tx};
use crate::error::AppError;
use crate::models::connection::mark_used;
use crate::models::event::{self, NewEvent};

/// Events per transaction at most; more wait for the next one. One INSERT holds them all: 256 rows
/// of 13 values stay far below both databases' limits on bound values (32,766 and 65,535).
const BATCH: usize = 256;
/// How long the writer gathers events before a transaction.
const GATHER: Duration = Duration::from_millis(20);
/// Events that may wait in the queue before `record` waits for room. The writer empties it into its
/// backlog every `GATHER`, even while a write is under way, so `record` never waits for the database.
const QUEUE: usize = 4096;
/// Events kept while the database does not take them; past this, new events are dropped.
pub const BACKLOG: usize = 10_000;
/// A failed batch is tried again after this long, then twice as long each time, up to `RETRY_MAX`.
const RETRY_FIRST: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(5);

/// Queues activity for the writer task. Cheap to clone.
#[derive(Clone)]
pub struct Activity {
    queue: mpsc::Sender<Queued>,
    /// Cuts the writer's gathering short: a flush is waiting, or a batch is full.
    hurry: Arc<Notify>,
    counts: Arc<Counts>,
    /// How long `flush` waits for a database that does not take the events.
    wait: Duration,
}

/// What the writer reports.
#[derive(Default)]
struct Counts {
    /// Events dropped since the start because the backlog was full.
    dropped: AtomicU64,
    /// Events the writer holds that are not written yet.
    unwritten: AtomicUsize,
}

/// One connection's event, and whether to note that the connection was used.
pub struct Entry {
    pub connection_id: i64,
    pub event: NewEvent,
    pub at: i64,
    pub mark_used: bool,
}

enum Queued {
    Entry(Box<Entry>),
    /// Answered true once everything queued before it is written, false when a write failed first.
    Flush(oneshot::Sender<bool>),
}

impl Activity {
    /// Starts the writer task on the current runtime. It ends when the last `Activity` is dropped,
    /// after writing what was queued.
    pub fn start(db: Db) -> Activity {
        let (queue, received) = mpsc::channel(QUEUE);
        let hurry = Arc::new(Notify::new());
        let counts = Arc::new(Counts::default());
        let wait = db.wait();
        tokio::spawn(Writer::new(db, counts.clone()).run(received, hurry.clone()));
        Activity { queue, hurry, counts, wait }
    }

    /// Queues an entry; waits only when the queue is full (for the writer's next `GATHER`).
    pub async fn record(&self, entry: Entry) {
        if self.queue.send(Queued::Entry(Box::new(entry))).await.is_err() {
            tracing::warn!("activity writer stopped: an event was not recorded");
        }
        if self.queue.max_capacity() - self.queue.capacity() >= BATCH {
            self.hurry.notify_one();
        }
    }

    /// Queues an entry from code that cannot wait (an answer's body as it ends): at once while the
    /// queue has room, otherwise from a task that waits for it.
    pub fn record_soon(&self, entry: Entry) {
        match self.queue.try_send(Queued::Entry(Box::new(entry))) {
            Ok(()) => {
                if self.queue.max_capacity() - self.queue.capacity() >= BATCH {
                    self.hurry.notify_one();
                }
            }
            Err(mpsc::error::TrySendError::Full(queued)) => {
                let activity = self.clone();
                tokio::spawn(async move {
                    if let Queued::Entry(entry) = queued {
                        activity.record(*entry).await;
                    }
                });
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                tracing::warn!("activity writer stopped: an event was not recorded");
            }
        }
    }

    /// Waits until everything queued so far is in the database: before showing a connection's
    /// activity (so a user sees their own calls), at shutdown, and in tests. When the database does
    /// not take them, it waits for one attempt, and at most the database wait; false then.
    pub async fn flush(&self) -> bool {
        let (done, written) = oneshot::channel();
        if self.queue.send(Queued::Flush(done)).await.is_err() {
            return false;
        }
        self.hurry.notify_one();
        matches!(tokio::time::timeout(self.wait, written).await, Ok(Ok(true)))
    }

    /// Flushes at shutdown, and logs what the database did not take (it is lost with the process).
    pub async fn shutdown(&self) {
        if !self.flush().await && self.unwritten() > 0 {
            tracing::warn!(
                lost = self.unwritten(),
                "activity events the database did not take before shutdown are lost"
            );
        }
    }

    /// Events dropped since this instance started, because `BACKLOG` events already waited.
    pub fn dropped(&self) -> u64 {
        self.counts.dropped.load(Ordering::Relaxed)
    }

    /// Events taken from the queue and not written yet.
    pub fn unwritten(&self) -> usize {
        self.counts.unwritten.load(Ordering::Relaxed)
    }
}

/// The writer task's state.
struct Writer {
    db: Db,
    counts: Arc<Counts>,
    /// Events not written yet, oldest first (the batch being written is not in it).
    backlog: VecDeque<Entry>,
    /// Events in the batch being written.
    in_flight: usize,
    /// Events taken into the backlog so far, and events written (or refused) so far, in order.
    taken: u64,
    written: u64,
    /// Flushes waiting, each with the value of `written` that answers it.
    waiting: Vec<(u64, oneshot::Sender<bool>)>,
    /// The queue is closed: write what is left and end.
    closed: bool,
    /// Set while the database refuses batches.
    failing: Option<Failing>,
    /// Events dropped since the last successful write (logged when one succeeds again).
    dropped_lately: u64,
}

/// A run of failed batches: when to try again, and how long to wait after that.
struct Failing {
    retry_at: Instant,
    delay: Duration,
}

impl Writer {
    fn new(db: Db, counts: Arc<Counts>) -> Writer {
        Writer {
            db,
            counts,
            backlog: VecDeque::new(),
            in_flight: 0,
            taken: 0,
            written: 0,
            waiting: Vec::new(),
            closed: false,
            failing: None,
            dropped_lately: 0,
        }
    }

    async fn run(mut self, mut received: mpsc::Receiver<Queued>, hurry: Arc<Notify>) {
        loop {
            if self.backlog.is_empty() {
                self.answer_flushes(false);
                if self.closed {
                    return;
                }
                match received.recv().await {
                    Some(queued) => self.take(queued),
                    None => self.closed = true,
                }
            }
            self.gather(&mut received, &hurry).await;
            if !self.backlog.is_empty() {
                self.write_batch(&mut received).await;
            }
        }
    }

    /// Takes what has queued up, and waits while more may come: `GATHER` (or until a retry is due,
    /// while the database refuses batches), cut short by a flush or a full batch. It sleeps instead
    /// of waiting on the queue, so that an event does not wake it on its way in: each wake is a
    /// switch to this task's thread. And it gathers at all because every commit costs a WAL write
    /// and sync, and makes each SQLite reader's cached pages stale.
    async fn gather(&mut self, received: &mut mpsc::Receiver<Queued>, hurry: &Notify) {
        let until = self.failing.as_ref().map_or(Instant::now() + GATHER, |f| f.retry_at);
        loop {
            self.drain(received);
            let hurried = !self.waiting.is_empty() || (self.failing.is_none() && self.backlog.len() >= BATCH);
            // Once the queue is closed nothing more comes, but a failing database still gets its pause.
            if hurried || (self.closed && self.failing.is_none()) || Instant::now() >= until {
                return;
            }
            tokio::select! {
                _ = tokio::time::sleep_until(until) => {}
                _ = hurry.notified() => {}
            }
        }
    }

    /// Takes everything queued now.
    fn drain(&mut self, received: &mut mpsc::Receiver<Queued>) {
        loop {
            match received.try_recv() {
                Ok(queued) => self.take(queued),
                Err(mpsc::error::TryRecvError::Empty) => return,
                Err(mpsc::error::TryRecvError::Disconnected) => {
                    self.closed = true;
                    return;
                }
            }
        }
    }

    fn take(&mut self, queued: Queued) {
        match queued {
            Queued::Entry(_) if self.backlog.len() + self.in_flight >= BACKLOG => {
                if self.dropped_lately == 0 {
                    tracing::warn!(
                        "{BACKLOG} activity events wait for the database: new ones are dropped until it \
                         takes writes again"
                    );
                }
                self.dropped_lately += 1;
                self.counts.dropped.fetch_add(1, Ordering::Relaxed);
            }
            Queued::Entry(entry) => {
                self.backlog.push_back(*entry);
                self.taken += 1;
            }
            Queued::Flush(done) => self.waiting.push((self.taken, done)),
        }
        self.counts.unwritten.store(self.backlog.len() + self.in_flight, Ordering::Relaxed);
    }

    /// Writes the oldest `BATCH` events, taking what queues up meanwhile. A batch the database did
    /// not take goes back to the front of the backlog.
    async fn write_batch(&mut self, received: &mut mpsc::Receiver<Queued>) {
        let size = self.backlog.len().min(BATCH);
        let batch: Arc<Vec<Entry>> = Arc::new(self.backlog.drain(..size).collect());
        self.in_flight = size;
        let (job, through) = (batch.clone(), Arc::new(AtomicUsize::new(0)));
        let (db, counted) = (self.db.clone(), through.clone());
        // Not bounded like a request's `run`: a batch given up on while it may still commit would be
        // written twice. The connection's own client-side timeouts end a wait for a lost server.
        let write = async move { db.run_to_end(move |c| write_each(c, &job, &counted)).await };
        tokio::pin!(write);
        let outcome = loop {
            tokio::select! {
                outcome = &mut write => break outcome,
                _ = tokio::time::sleep(GATHER) => self.drain(received),
            }
        };
        self.in_flight = 0;
        // The task has ended, so `job` is gone and the batch is ours again.
        let batch = Arc::try_unwrap(batch).unwrap_or_default();
        let through = through.load(Ordering::Relaxed);
        self.written += through as u64;
        match outcome {
            Ok(refused) => {
                if refused > 0 {
                    tracing::warn!(
                        refused,
                        "activity events refused by the database (their connection is gone)"
                    );
                }
                self.succeeded();
            }
            Err(e) => {
                for entry in batch.into_iter().skip(through).rev() {
                    self.backlog.push_front(entry);
                }
                self.failed(&e);
            }
        }
        self.counts.unwritten.store(self.backlog.len(), Ordering::Relaxed);
        self.answer_flushes(self.failing.is_some());
    }

    fn succeeded(&mut self) {
        if self.failing.take().is_some() || self.dropped_lately > 0 {
            match std::mem::take(&mut self.dropped_lately) {
                0 => tracing::info!("activity events are written again; none was lost"),
                n => tracing::warn!(dropped = n, "{n} activity events could not be written and were dropped"),
            }
        }
    }

    fn failed(&mut self, e: &AppError) {
        let delay = match &self.failing {
            None => {
                let cause = e.outage_cause();
                tracing::warn!(
                    cause,
                    "activity events cannot be written; up to {BACKLOG} are kept and tried again"
                );
                RETRY_FIRST
            }
            Some(failing) => (failing.delay * 2).min(RETRY_MAX),
        };
        self.failing = Some(Failing { retry_at: Instant::now() + delay, delay });
    }

    /// Answers the flushes whose events are written, and every one after a failed attempt (a page
    /// does not wait for an outage to end).
    fn answer_flushes(&mut self, all: bool) {
        let written = self.written;
        for (target, done) in self.waiting.extract_if(.., |(target, _)| all || *target <= written) {
            let _ = done.send(target <= written);
        }
    }
}

/// Writes `entries` in one transaction, or, when the database refuses that for another reason than
/// being unavailable (a connection deleted meanwhile), one at a time, so that a bad entry costs only
/// itself. Counts in `through` the entries written or refused, in order; stops at the first failure
/// that means the database is unavailable (returned, so that the pool learns of a lost connection).
/// Returns how many were refused.
fn write_each(
    conn: &mut crate::db::DbConn,
    entries: &[Entry],
    through: &AtomicUsize,
) -> Result<usize, AppError> {
    match write(conn, entries) {
        Ok(()) => {
            through.store(entries.len(), Ordering::Relaxed);
            return Ok(0);
        }
        Err(e) if e.database_unavailable() => return Err(e),
        Err(_) => {}
    }
    let mut refused = 0;
    for (i, one) in entries.chunks(1).enumerate() {
        match write(conn, one) {
            Ok(()) => {}
            Err(e) if e.database_unavailable() => return Err(e),
            Err(_) => refused += 1,
        }
        through.store(i + 1, Ordering::Relaxed);
    }
    Ok(refused)
}

fn write(conn: &mut crate::db::DbConn, entries: &[Entry]) -> Result<(), AppError> {
    write_tx(conn, |c| {
        let events: Vec<_> = entries.iter().map(|e| (e.connection_id, &e.event, e.at)).collect();
        event::record_all(c, &events)?;
        // One update a connection, not one a call: a busy connection's calls all ask for it, since
        // the cached row they read keeps the time it was loaded with.
        let mut used = std::collections::BTreeMap::new();
        for e in entries.iter().filter(|e| e.mark_used) {
            let at = used.entry(e.connection_id).or_insert(e.at);
            *at = (*at).max(e.at);
        }
        for (id, at) in used {
            mark_used(c, id, at)?;
        }
        Ok(())
    })
}
