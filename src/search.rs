//! The connection search's name index, kept in memory by each instance.
//!
//! A search page needs its matches in name order, and neither database has an index that gives
//! substring matches in that order: FTS5 and pg_trgm give them by row, so a fragment that many
//! connections contain costs a row read for each of their names before a page can be picked. Here
//! every connection's name and link name are cut into three-byte grams, and each gram lists the
//! connections that contain it *in name order*: a search walks the shortest list of its needle's
//! grams, checks each candidate, and stops once it has the page and has counted to the cap. Only
//! the page's rows are then read from the database, by id.
//!
//! Consistency: triggers bump `connection_names_version` whenever a connection is added, removed or
//! renamed (migration 000028). Every search reads that version first, and an index of another
//! version is loaded again before it answers, so a search never misses a change that committed
//! before it began, on any instance. The request that finds the index stale loads it (a load reads
//! every connection, but only once per added, renamed or removed connection, not per search); while
//! it loads, the other requests search the database, as they do for what the index does not cover
//! (needles under three bytes, the other filters and sorts) and past `MAX_ENTRIES`.
//!
//! What it earns (a search page at 100,000 connections for a few row reads) and what it costs (memory
//! and a load time per connection) are measured in `bench/README.md`.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, Mutex, RwLock};

use diesel::prelude::*;
use diesel::sql_types::BigInt;

use crate::db::schema::connections;
use crate::db::{DbConn, static_sql};

/// How far a search counts its matches: a list says "1,000+" beyond, so that no page walks the table.
pub const COUNT_CAP: i64 = 1000;

/// How many connections a list matches: exact, or at least `n` when there are more than the cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Total {
    pub n: i64,
    /// True when there are more than `n`.
    pub at_least: bool,
}

/// Above this many connections the index is not built (its memory grows with them, and doubles
/// while it loads), and searches go to the database.
pub const MAX_ENTRIES: usize = 250_000;

/// What a search asks of the index.
#[derive(Debug, Clone, Copy)]
pub struct NameQuery<'a> {
    /// Trimmed and lowercased, as the lists' `name_lower` column holds names.
    pub needle: &'a str,
    pub owner_id: Option<i64>,
    pub descending: bool,
    pub offset: usize,
    pub limit: usize,
}

/// The ids of a page of matches, in order, and how many match in all (up to `COUNT_CAP`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub ids: Vec<i64>,
    pub total: Total,
}

/// One instance's index. Cheap to share: searches read a snapshot.
pub struct NameIndex {
    current: RwLock<Option<Arc<Snapshot>>>,
    /// Held by the one request that loads a new snapshot.
    loading: Mutex<()>,
    max_entries: usize,
}

impl Default for NameIndex {
    fn default() -> NameIndex {
        NameIndex::with_max_entries(MAX_ENTRIES)
    }
}

struct Snapshot {
    version: i64,
    /// False when there were more than `MAX_ENTRIES` connections: the database answers.
    complete: bool,
    /// By position, in (name_lower, id) order, as the lists sort by name.
    ids: Vec<i64>,
    owners: Vec<i64>,
    /// Each position's name_lower and link name, one after the other: `text[spans[at].0..spans[at].1]`
    /// and `text[spans[at].1..spans[at].2]` (one allocation instead of two a connection).
    text: String,
    spans: Vec<(u32, u32, u32)>,
    /// Each gram's range in `positions`, which lists the positions holding it in ascending order,
    /// so in name order.
    grams: HashMap<u32, (u32, u32), BuildHasherDefault<GramHasher>>,
    positions: Vec<u32>,
}

impl NameIndex {
    /// An index that gives way to the database above `max_entries` connections.
    pub fn with_max_entries(max_entries: usize) -> NameIndex {
        NameIndex { current: RwLock::default(), loading: Mutex::default(), max_entries }
    }

    /// The page `query` asks for, or `None` when the index cannot answer it now (a needle under three
    /// bytes, another request loading, too many connections): the caller searches the database.
    pub fn search(&self, conn: &mut DbConn, query: NameQuery<'_>) -> QueryResult<Option<Found>> {
        if query.needle.len() < 3 {
            return Ok(None);
        }
        let version = version(conn)?;
        let snapshot = match self.current.read().map(|s| s.clone()) {
            Ok(Some(snapshot)) if snapshot.version == version => snapshot,
            _ => match self.load(conn, version)? {
                Some(snapshot) => snapshot,
                None => return Ok(None),
            },
        };
        Ok(snapshot.complete.then(|| snapshot.search(query)))
    }

    /// Reads every connection's names into a new snapshot of `version` (read before the rows, so a
    /// change in between only makes the next search load again).
    fn load(&self, conn: &mut DbConn, version: i64) -> QueryResult<Option<Arc<Snapshot>>> {
        let Ok(_loading) = self.loading.try_lock() else { return Ok(None) };
        // Another request may have loaded this version while this one waited for the lock.
        if let Ok(Some(current)) = self.current.read().map(|s| s.clone())
            && current.version == version
        {
            return Ok(Some(current));
        }
        let rows: Vec<(i64, i64, String, String)> = connections::table
            .select((connections::id, connections::owner_id, connections::name_lower, connections::link_name))
            .limit(self.max_entries as i64 + 1)
            .load(conn)?;
        // Too many: an empty snapshot of this version remembers it, so that searches do not read
        // them all again until something changes.
        let complete = rows.len() <= self.max_entries;
        let snapshot = Arc::new(Snapshot::new(version, if complete { rows } else { Vec::new() }, complete));
        if let Ok(mut current) = self.current.write() {
            *current = Some(snapshot.clone());
        }
        Ok(Some(snapshot))
    }
}

/// The version the triggers keep.
fn version(conn: &mut DbConn) -> QueryResult<i64> {
    diesel::select(static_sql::<BigInt>("(SELECT v FROM connection_names_version WHERE id = 1)"))
        .get_result(conn)
}

impl Snapshot {
    fn new(version: i64, mut rows: Vec<(i64, i64, String, String)>, complete: bool) -> Snapshot {
        rows.sort_unstable_by(|a, b| (&a.2, a.0).cmp(&(&b.2, b.0)));
        let mut snapshot = Snapshot {
            version,
            complete,
            ids: Vec::with_capacity(rows.len()),
            owners: Vec::with_capacity(rows.len()),
            text: String::with_capacity(rows.iter().map(|r| r.2.len() + r.3.len()).sum()),
            spans: Vec::with_capacity(rows.len()),
            grams: HashMap::default(),
            positions: Vec::new(),
        };
        for (id, owner_id, name_lower, link_name) in rows {
            let start = snapshot.text.len() as u32;
            snapshot.text.push_str(&name_lower);
            let middle = snapshot.text.len() as u32;
            snapshot.text.push_str(&link_name);
            snapshot.ids.push(id);
            snapshot.owners.push(owner_id);
            snapshot.spans.push((start, middle, snapshot.text.len() as u32));
        }
        // Two passes over every position's grams: count them, then place them, so that each list is
        // allocated once, at its size. A gram met twice in one position (its name and link name share
        // most) is counted and placed once: positions come in order, so it is the list's last one.
        let mut lists: HashMap<u32, (u32, u32, u32), BuildHasherDefault<GramHasher>> = HashMap::default();
        for at in 0..snapshot.ids.len() {
            let seen = at as u32 + 1;
            for gram in grams_of(snapshot.name(at)).chain(grams_of(snapshot.link_name(at))) {
                let (_, len, last) = lists.entry(gram).or_insert((0, 0, 0));
                if *last != seen {
                    (*len, *last) = (*len + 1, seen);
                }
            }
        }
        let mut next = 0u32;
        for (start, len, last) in lists.values_mut() {
            (*start, next, *len, *last) = (next, next + *len, 0, 0);
        }
        let mut positions = vec![0; next as usize];
        for at in 0..snapshot.ids.len() {
            let seen = at as u32 + 1;
            for gram in grams_of(snapshot.name(at)).chain(grams_of(snapshot.link_name(at))) {
                if let Some((start, len, last)) = lists.get_mut(&gram).filter(|list| list.2 != seen) {
                    positions[(*start + *len) as usize] = at as u32;
                    (*len, *last) = (*len + 1, seen);
                }
            }
        }
        snapshot.positions = positions;
        snapshot.grams = lists.into_iter().map(|(gram, (start, len, _))| (gram, (start, len))).collect();
        snapshot
    }

    fn name(&self, at: usize) -> &str {
        &self.text[self.spans[at].0 as usize..self.spans[at].1 as usize]
    }

    fn link_name(&self, at: usize) -> &str {
        &self.text[self.spans[at].1 as usize..self.spans[at].2 as usize]
    }

    fn search(&self, q: NameQuery<'_>) -> Found {
        let want = q.offset + q.limit;
        let cap = COUNT_CAP as usize;
        // Every match holds every gram of the needle, so the shortest list holds them all.
        let list = |gram| {
            self.grams
                .get(&gram)
                .map_or(&[][..], |&(start, len)| &self.positions[start as usize..(start + len) as usize])
        };
        let candidates = grams_of(q.needle).map(list).min_by_key(|l| l.len()).unwrap_or(&[]);
        let mut order: Box<dyn Iterator<Item = &u32>> =
            if q.descending { Box::new(candidates.iter().rev()) } else { Box::new(candidates.iter()) };
        let (mut n, mut ids) = (0usize, Vec::with_capacity(q.limit));
        while n <= cap || n < want {
            let Some(&at) = order.next() else { break };
            let at = at as usize;
            if q.owner_id.is_some_and(|owner| owner != self.owners[at]) {
                continue;
            }
            if !self.name(at).contains(q.needle) && !self.link_name(at).contains(q.needle) {
                continue;
            }
            if n >= q.offset && n < want {
                ids.push(self.ids[at]);
            }
            n += 1;
        }
        let total = if n > cap {
            Total { n: COUNT_CAP, at_least: true }
        } else {
            Total { n: n as i64, at_least: false }
        };
        Found { ids, total }
    }
}

/// A multiplicative hash for grams: a build looks up millions of them, and SipHash, which guards
/// maps keyed by what an attacker sends, is needlessly slow for that. Names are chosen by admins; a
/// collision costs a probe, not a wrong answer.
#[derive(Default)]
struct GramHasher(u64);

impl Hasher for GramHasher {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u32(u32::from(*b));
        }
    }

    fn write_u32(&mut self, n: u32) {
        let h = (self.0 ^ u64::from(n)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        self.0 = h ^ (h >> 29);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// A text's three-byte windows, as numbers.
fn grams_of(text: &str) -> impl Iterator<Item = u32> + '_ {
    text.as_bytes().windows(3).map(|w| u32::from_be_bytes([0, w[0], w[1], w[2]]))
}
#[cfg(test)]
mod tests;
