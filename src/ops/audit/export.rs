//! Exports of a filtered view of the log, as CSV (RFC 4180) or a JSON array, streamed newest first
//! in batches read one after another: no maximum, and memory stays one batch whatever the size.
//!
//! A CSV cell that a spreadsheet would read as a formula (one that begins with `=`, `+`, `-`, `@`,
//! a tab or a carriage return) gets a leading `'`, as the OWASP guidance on CSV injection says:
//! service names, usernames and typed sign-in names are anyone's text.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use actix_web::web::{Bytes, Data};
use futures_core::Stream;

use super::summary::{entry_json, summary};
use crate::error::AppError;
use crate::models::audit::{self, AuditEntry, Direction, Filter, Position};
use crate::state::AppState;

/// Rows read per batch.
const BATCH: i64 = 500;

/// The columns of a CSV export, in order.
pub const CSV_HEADER: [&str; 9] =
    ["time", "actor", "action", "object_type", "object", "source", "summary", "details", "id"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Json,
}

/// A cell, neutralised against formula injection and quoted (every cell is quoted, which RFC 4180
/// allows, so a comma, quote or line break inside needs no other case).
pub fn csv_cell(value: &str) -> String {
    let risky = value.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let mut cell = String::with_capacity(value.len() + 3);
    cell.push('"');
    if risky {
        cell.push('\'');
    }
    cell.push_str(&value.replace('"', "\"\""));
    cell.push('"');
    cell
}

/// One CSV record, ended by CRLF.
pub fn csv_row(cells: &[&str]) -> String {
    let mut row = cells.iter().map(|c| csv_cell(c)).collect::<Vec<_>>().join(",");
    row.push_str("\r\n");
    row
}

fn csv_entry(e: &AuditEntry) -> String {
    let (at, id) = (crate::clock::rfc3339(e.at), e.id.to_string());
    let summary = summary(&e.details);
    csv_row(&[
        &at,
        &e.actor,
        &e.action,
        &e.target_type,
        &e.target,
        e.source.as_deref().unwrap_or_default(),
        &summary,
        &e.details,
        &id,
    ])
}

type Batch = Pin<Box<dyn Future<Output = Result<Vec<AuditEntry>, AppError>>>>;

/// The export as a body stream: the opening (the CSV header or `[`), one chunk per batch, and the
/// close. A batch that fails ends the stream with the error (the answer is cut short).
pub struct Export {
    state: Data<AppState>,
    filter: Filter,
    format: Format,
    opened: bool,
    rows_written: bool,
    next: Option<Batch>,
}

impl Export {
    pub fn new(state: Data<AppState>, filter: Filter, format: Format) -> Export {
        let mut export = Export { state, filter, format, opened: false, rows_written: false, next: None };
        export.next = Some(export.batch(None));
        export
    }

    fn batch(&self, after: Option<Position>) -> Batch {
        let (state, filter) = (self.state.clone(), self.filter.clone());
        let after = after.map(|p| (p, Direction::Older));
        // Writes and long reads go to the blocking threads (`Db::run`), not the HTTP worker.
        Box::pin(async move { state.db.run(move |c| Ok(audit::page(c, &filter, after, BATCH)?)).await })
    }

    fn encode(&mut self, rows: &[AuditEntry]) -> String {
        let mut out = String::new();
        for e in rows {
            match self.format {
                Format::Csv => out.push_str(&csv_entry(e)),
                Format::Json => {
                    out.push_str(if self.rows_written { ",\n" } else { "\n" });
                    out.push_str(&entry_json(e).to_string());
                }
            }
            self.rows_written = true;
        }
        out
    }
}

impl Stream for Export {
    type Item = Result<Bytes, AppError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if !this.opened {
            this.opened = true;
            let opening = match this.format {
                Format::Csv => csv_row(&CSV_HEADER),
                Format::Json => "[".to_owned(),
            };
            return Poll::Ready(Some(Ok(Bytes::from(opening))));
        }
        let Some(next) = this.next.as_mut() else { return Poll::Ready(None) };
        let rows = match next.as_mut().poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Err(e)) => {
                this.next = None;
                tracing::warn!(error = %e, "an audit log export was cut short");
                return Poll::Ready(Some(Err(e)));
            }
            Poll::Ready(Ok(rows)) => rows,
        };
        let mut out = this.encode(&rows);
        let last = rows.last().map(|e| Position { at: e.at, id: e.id });
        this.next = last.filter(|_| rows.len() as i64 == BATCH).map(|p| this.batch(Some(p)));
        if this.next.is_none() && this.format == Format::Json {
            out.push_str(if this.rows_written { "\n]\n" } else { "]\n" });
        }
        Poll::Ready(Some(Ok(Bytes::from(out))))
    }
}
