//! One version of the name index: every connection's names in name order, and for each three-byte
//! gram the positions holding it (`postings`), so that a search walks the shortest list of its
//! needle's grams in name order and checks each candidate.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use super::postings::{self, Backward, Forward, List};
use super::{COUNT_CAP, Found, NameQuery, Total};

/// The columns a snapshot is made of, in the order the rows were read.
#[derive(Default)]
pub struct Columns {
    pub ids: Vec<i64>,
    pub owners: Vec<i64>,
    /// Each row's name_lower and link name, one after the other: `text[span.0..span.1]` and
    /// `text[span.1..span.2]` (one allocation for all of them instead of two a connection).
    pub text: String,
    pub spans: Vec<(u32, u32, u32)>,
}

impl Columns {
    pub fn push(&mut self, id: i64, owner_id: i64, name_lower: &str, link_name: &str) {
        let start = self.text.len() as u32;
        self.text.push_str(name_lower);
        let middle = self.text.len() as u32;
        self.text.push_str(link_name);
        self.ids.push(id);
        self.owners.push(owner_id);
        self.spans.push((start, middle, self.text.len() as u32));
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }
}

pub struct Snapshot {
    pub version: i64,
    /// False when there were more than the index's limit of connections: the database answers.
    pub complete: bool,
    /// By position, in (name_lower, id) order, as the lists sort by name.
    pub ids: Vec<i64>,
    owners: Vec<i64>,
    /// As read (`Columns::text`); the spans are in position order.
    text: String,
    spans: Vec<(u32, u32, u32)>,
    /// Each gram's list of positions in `postings`.
    grams: HashMap<u32, List, BuildHasherDefault<GramHasher>>,
    postings: Vec<u8>,
}

impl Snapshot {
    /// An index of `columns`, or (`complete` false) one that only remembers its version.
    pub fn new(version: i64, columns: Columns, complete: bool) -> Snapshot {
        let Columns { ids, owners, mut text, spans } = columns;
        // Grown by doubling while the rows streamed in: up to half of it would be spare.
        text.shrink_to_fit();
        let name = |i: usize| &text[spans[i].0 as usize..spans[i].1 as usize];
        let mut order: Vec<u32> = (0..ids.len() as u32).collect();
        order.sort_unstable_by(|&a, &b| {
            let (a, b) = (a as usize, b as usize);
            (name(a), ids[a]).cmp(&(name(b), ids[b]))
        });
        let mut snapshot = Snapshot {
            version,
            complete,
            ids: order.iter().map(|&i| ids[i as usize]).collect(),
            owners: order.iter().map(|&i| owners[i as usize]).collect(),
            spans: order.iter().map(|&i| spans[i as usize]).collect(),
            text,
            grams: HashMap::default(),
            postings: Vec::new(),
        };
        drop(order);
        snapshot.index_grams();
        snapshot
    }

    /// Two passes over every position's grams: measure each list, then write it, so that all of them
    /// share one allocation of the exact size. A gram met twice in one position (its name and link
    /// name share most) is listed once: positions come in order, so it is then the list's last.
    fn index_grams(&mut self) {
        let mut lists: HashMap<u32, List, BuildHasherDefault<GramHasher>> = HashMap::default();
        for at in 0..self.ids.len() {
            let seen = at as u32 + 1;
            for gram in grams_of(self.name(at)).chain(grams_of(self.link_name(at))) {
                let list = lists.entry(gram).or_default();
                if list.end != seen {
                    (list.len, list.count) =
                        (list.len + postings::encoded_len(seen - list.end), list.count + 1);
                    list.end = seen;
                }
            }
        }
        let mut next = 0u32;
        for list in lists.values_mut() {
            (list.start, next, list.len, list.end) = (next, next + list.len, 0, 0);
        }
        let mut bytes = vec![0; next as usize];
        for at in 0..self.ids.len() {
            let seen = at as u32 + 1;
            for gram in grams_of(self.name(at)).chain(grams_of(self.link_name(at))) {
                if let Some(list) = lists.get_mut(&gram).filter(|list| list.end != seen) {
                    list.len +=
                        postings::write(&mut bytes, (list.start + list.len) as usize, seen - list.end);
                    list.end = seen;
                }
            }
        }
        lists.shrink_to_fit();
        (self.grams, self.postings) = (lists, bytes);
    }

    fn name(&self, at: usize) -> &str {
        &self.text[self.spans[at].0 as usize..self.spans[at].1 as usize]
    }

    fn link_name(&self, at: usize) -> &str {
        &self.text[self.spans[at].1 as usize..self.spans[at].2 as usize]
    }

    /// The bytes the snapshot holds, for the log line of a load.
    pub fn bytes(&self) -> usize {
        self.ids.capacity() * 8
            + self.owners.capacity() * 8
            + self.text.capacity()
            + self.spans.capacity() * 12
            + self.grams.capacity() * (4 + size_of::<List>())
            + self.postings.capacity()
    }

    pub fn search(&self, q: NameQuery<'_>) -> Found {
        let want = q.offset + q.limit;
        let cap = COUNT_CAP as usize;
        // Every match holds every gram of the needle, so the shortest list holds them all; a gram
        // that no name holds means no match.
        let shortest = grams_of(q.needle)
            .map(|gram| self.grams.get(&gram).copied().unwrap_or_default())
            .min_by_key(|list| list.count)
            .unwrap_or_default();
        let bytes = &self.postings[shortest.start as usize..(shortest.start + shortest.len) as usize];
        let mut order: Box<dyn Iterator<Item = u32>> = if q.descending {
            Box::new(Backward::new(bytes, shortest.end))
        } else {
            Box::new(Forward::new(bytes))
        };
        let (mut n, mut ids) = (0usize, Vec::with_capacity(q.limit));
        while n <= cap || n < want {
            let Some(at) = order.next() else { break };
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

/// A multiplicative hash for grams: a build looks up tens of millions of them, and SipHash, which
/// guards maps keyed by what an attacker sends, is needlessly slow for that. Names are chosen by
/// admins; a collision costs a probe, not a wrong answer.
#[derive(Default)]
pub struct GramHasher(u64);

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
