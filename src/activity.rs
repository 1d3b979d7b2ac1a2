//! The connection activity log's writer. An invoke or a test is recorded off the request path: its
//! event goes into a queue, and one task writes what has queued up in one transaction. Before, every
//! invoke waited for its own INSERT and commit (measured: a quarter of an invoke's time through the
//! app, and one write transaction per call under load).
//!
//! What this trades: an event reaches the database up to `GATHER` (20 ms) after its answer has gone
//! out, unless something flushes, and the events still queued when the process dies (not when it
//! stops: `flush` runs on shutdown) are lost.
//! The audit log of administrative changes is not written here: it stays in each change's own
//! transaction.

use std::sync::Arc;

use tokio::sync::{Notify, mpsc, oneshot};

use crate::db::{Db, write_tx};
use crate::error::AppError;
use crate::models::connection::mark_used;
use crate::models::event::{self, NewEvent};

/// Events per transaction at most; more wait for the next one. One INSERT holds them all: 256 rows
/// of 11 values stay far below both databases' limits on bound values (32,766 and 65,535).
const BATCH: usize = 256;
/// How long the writer gathers events before a transaction.
const GATHER: std::time::Duration = std::time::Duration::from_millis(20);
/// Events that may wait in the queue before `record` waits for room.
const QUEUE: usize = 4096;

/// Queues activity for the writer task. Cheap to clone.
#[derive(Clone)]
pub struct Activity {
    queue: mpsc::Sender<Queued>,
    /// Cuts the writer's gathering short: a flush is waiting, or a batch is full.
    hurry: Arc<Notify>,
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
    /// Answered once everything queued before it is written.
    Flush(oneshot::Sender<()>),
}

impl Activity {
    /// Starts the writer task on the current runtime. It ends when the last `Activity` is dropped,
    /// after writing what was queued.
    pub fn start(db: Db) -> Activity {
        let (queue, received) = mpsc::channel(QUEUE);
        let hurry = Arc::new(Notify::new());
        tokio::spawn(write_queued(db, received, hurry.clone()));
        Activity { queue, hurry }
    }

    /// Queues an entry; waits only when the queue is full (the database is behind).
    pub async fn record(&self, entry: Entry) {
        if self.queue.send(Queued::Entry(Box::new(entry))).await.is_err() {
            tracing::warn!("activity writer stopped: an event was not recorded");
        }
        if self.queue.max_capacity() - self.queue.capacity() >= BATCH {
            self.hurry.notify_one();
        }
    }

    /// Waits until everything queued so far is in the database: before showing a connection's
    /// activity (so a user sees their own calls), at shutdown, and in tests.
    pub async fn flush(&self) {
        let (done, written) = oneshot::channel();
        if self.queue.send(Queued::Flush(done)).await.is_ok() {
            self.hurry.notify_one();
            let _ = written.await;
        }
    }
}

async fn write_queued(db: Db, mut received: mpsc::Receiver<Queued>, hurry: Arc<Notify>) {
    let mut batch: Vec<Entry> = Vec::new();
    let mut waiting: Vec<oneshot::Sender<()>> = Vec::new();
    while let Some(first) = received.recv().await {
        // Gather for a moment: every commit makes each SQLite reader drop and remap its memory map
        // on its next read (measured: munmap was 5% of an invoke's CPU when the writer committed
        // whatever one poll found), and costs PostgreSQL a WAL flush. The writer sleeps meanwhile
        // instead of waiting on the queue, so that an event does not wake it on its way in: each
        // wake is a switch to this task's thread (measured: 7% of an invoke's CPU). A flush, or a full
        // batch, hurries it.
        let until = tokio::time::Instant::now() + GATHER;
        let mut next = Some(first);
        loop {
            while batch.len() < BATCH && waiting.is_empty() {
                let Some(queued) = next.take().or_else(|| received.try_recv().ok()) else { break };
                match queued {
                    Queued::Entry(entry) => batch.push(*entry),
                    Queued::Flush(done) => waiting.push(done),
                }
            }
            if batch.len() >= BATCH || !waiting.is_empty() || tokio::time::Instant::now() >= until {
                break;
            }
            tokio::select! {
                _ = tokio::time::sleep_until(until) => {}
                _ = hurry.notified() => {}
            }
        }
        if !batch.is_empty() {
            let entries = std::mem::take(&mut batch);
            // One at a time after a failure (a connection deleted meanwhile), so that one bad entry
            // costs only itself. The message is the database's: events hold no secret.
            let failed = db
                .run(move |c| match write(c, &entries) {
                    Ok(()) => Ok(0),
                    Err(_) => Ok(entries.chunks(1).filter(|one| write(c, one).is_err()).count()),
                })
                .await
                .unwrap_or(usize::MAX);
            if failed > 0 {
                tracing::warn!(failed, "activity events not recorded");
            }
        }
        for done in waiting.drain(..) {
            let _ = done.send(());
        }
    }
}

fn write(conn: &mut crate::db::DbConn, entries: &[Entry]) -> Result<(), AppError> {
    write_tx(conn, |c| {
        let events: Vec<_> = entries.iter().map(|e| (e.connection_id, &e.event, e.at)).collect();
        event::record_all(c, &events)?;
        for e in entries.iter().filter(|e| e.mark_used) {
            mark_used(c, e.connection_id, e.at)?;
        }
        Ok(())
    })
}
