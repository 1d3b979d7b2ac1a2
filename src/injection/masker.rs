//! Masking echoes of secrets: in a whole text (`mask`), and in a text that arrives in pieces
//! (`Masker`), where a secret may straddle two of them.
//!
//! Both find every occurrence of every secret and replace each run of overlapping or touching
//! occurrences with one `[redacted]`: no byte of any secret survives, whichever of two overlapping
//! secrets comes first.

use memchr::memmem::Finder;

/// What replaces an echoed secret.
const REDACTED: &[u8] = b"[redacted]";
/// Secrets shorter than this are not masked: they would mask ordinary text.
const MIN_SECRET: usize = 3;

/// The secrets to look for, each with its vectorised substring search.
struct Needles {
    finders: Vec<Finder<'static>>,
    longest: usize,
}

impl Needles {
    fn new(secrets: &[String]) -> Needles {
        let finders: Vec<Finder<'static>> = secrets
            .iter()
            .filter(|s| s.len() >= MIN_SECRET)
            .map(|s| Finder::new(s.as_bytes()).into_owned())
            .collect();
        let longest = finders.iter().map(|f| f.needle().len()).max().unwrap_or(0);
        Needles { finders, longest }
    }

    /// The byte ranges to mask in `data`: every occurrence that starts before `starts_before` and
    /// ends after `from`, cut to begin at `from` at the earliest, merged where they overlap or touch,
    /// in order.
    fn ranges(&self, data: &[u8], from: usize, starts_before: usize) -> Vec<(usize, usize)> {
        let mut found: Vec<(usize, usize)> = Vec::new();
        let first = from.saturating_sub(self.longest.saturating_sub(1));
        for finder in &self.finders {
            let len = finder.needle().len();
            // Overlapping occurrences too: in `aaaa`, `aaa` is at 0 and at 1.
            let mut pos = first;
            while let Some(i) = finder.find(&data[pos..]) {
                let at = pos + i;
                if at >= starts_before {
                    break;
                }
                if at + len > from {
                    found.push((at.max(from), at + len));
                }
                pos = at + 1;
            }
        }
        found.sort_unstable();
        let mut merged: Vec<(usize, usize)> = Vec::with_capacity(found.len());
        for (start, end) in found {
            match merged.last_mut() {
                Some(last) if start <= last.1 => last.1 = last.1.max(end),
                _ => merged.push((start, end)),
            }
        }
        merged
    }
}

/// Replaces every occurrence of each secret (at least 3 bytes long) in `data` with `[redacted]`.
/// Each secret is found with a vectorised substring search: an answer is searched for a dozen or more
/// forms of each secret (see `secret_values`).
pub fn mask(data: &[u8], secrets: &[String]) -> Vec<u8> {
    Masker::new(secrets).whole(data)
}

/// Masks a text that arrives in pieces, with the same result as `mask` of the whole. It holds back
/// the last `longest secret − 1` bytes it was given: they may be the start of a secret that the next
/// piece completes. Anything earlier is final, since a secret starting there lies wholly inside what
/// it has seen; one that starts there and reaches into the held-back bytes is masked whole.
pub struct Masker {
    needles: Needles,
    /// The last bytes already given out (as they came, unmasked): a secret starting among them may
    /// go on into the next piece. At most `longest secret − 1` of them.
    context: Vec<u8>,
    /// Bytes held back, not given out yet.
    pending: Vec<u8>,
    /// What was given out ends with a `[redacted]` that covers up to its very end: a secret that
    /// goes on from there, or starts right there, belongs to it (as `mask` merges touching ones).
    redacting: bool,
}

impl Masker {
    pub fn new(secrets: &[String]) -> Masker {
        Masker { needles: Needles::new(secrets), context: Vec::new(), pending: Vec::new(), redacting: false }
    }

    /// Takes the next piece; returns what is final so far, masked (possibly nothing).
    pub fn push(&mut self, piece: &[u8]) -> Vec<u8> {
        self.step(piece, false)
    }

    /// The text is complete: what was held back, masked.
    pub fn finish(&mut self) -> Vec<u8> {
        self.step(&[], true)
    }

    /// Masks `data` as a text of its own, as `mask` does, and leaves the masker as new: one masker
    /// serves an answer's header values and then its body, building its searches once (each secret
    /// has a dozen masked forms, and an answer has several headers).
    pub fn whole(&mut self, data: &[u8]) -> Vec<u8> {
        let out = self.step(data, true);
        self.context.clear();
        self.pending.clear();
        self.redacting = false;
        out
    }

    fn step(&mut self, piece: &[u8], last: bool) -> Vec<u8> {
        let longest = self.needles.longest;
        if longest == 0 {
            let mut out = std::mem::take(&mut self.pending);
            out.extend_from_slice(piece);
            return out;
        }
        let mut data = std::mem::take(&mut self.context);
        let from = data.len();
        data.extend_from_slice(&self.pending);
        data.extend_from_slice(piece);
        self.pending.clear();
        let cut = if last { data.len() } else { data.len().saturating_sub(longest - 1) };
        if cut <= from {
            self.pending = data.split_off(from);
            self.context = data;
            return Vec::new();
        }
        let ranges = self.needles.ranges(&data, from, cut);
        // A run that starts before the cut may end after it: it is final all the same.
        let end = ranges.last().map_or(cut, |r| r.1.max(cut));
        let mut out = Vec::with_capacity(end - from + REDACTED.len());
        let mut copied = from;
        for (i, &(start, stop)) in ranges.iter().enumerate() {
            out.extend_from_slice(&data[copied..start]);
            let continues = i == 0 && start == from && self.redacting;
            if !continues {
                out.extend_from_slice(REDACTED);
            }
            copied = stop;
        }
        out.extend_from_slice(&data[copied..end]);
        self.redacting = ranges.last().is_some_and(|&(_, stop)| stop == end);
        self.pending = data.split_off(end);
        let keep = data.len().saturating_sub(longest - 1);
        self.context = data.split_off(keep);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    /// `text` fed to a `Masker` cut at every pair of places, against `mask` of the whole.
    fn every_split_matches_whole(text: &str, list: &[&str]) {
        let secrets = secrets(list);
        let whole = mask(text.as_bytes(), &secrets);
        let bytes = text.as_bytes();
        for i in 0..=bytes.len() {
            for j in i..=bytes.len() {
                let mut masker = Masker::new(&secrets);
                let mut out = masker.push(&bytes[..i]);
                out.extend(masker.push(&bytes[i..j]));
                out.extend(masker.push(&bytes[j..]));
                out.extend(masker.finish());
                assert_eq!(
                    String::from_utf8_lossy(&out),
                    String::from_utf8_lossy(&whole),
                    "cut at {i} and {j}"
                );
            }
        }
    }

    #[test]
    fn a_secret_split_anywhere_across_pieces_is_masked_as_in_the_whole_text() {
        every_split_matches_whole("key=abc-SECRET-123&other=abc-SECRET-123", &["abc-SECRET-123"]);
        every_split_matches_whole("xx tok-1tok-1 yy", &["tok-1", "Bearer tok-1"]);
        every_split_matches_whole("no secret here at all", &["abc-SECRET-123"]);
        every_split_matches_whole("ab", &["abc-SECRET-123"]);
    }

    #[test]
    fn overlapping_secrets_leave_no_byte_of_either() {
        let out = mask(b"1xabcdef2", &secrets(&["abcdef", "xab"]));
        assert_eq!(out, b"1[redacted]2");
        every_split_matches_whole("1xabcdef2", &["abcdef", "xab"]);
    }

    #[test]
    fn random_texts_of_overlapping_secrets_cut_anywhere_mask_like_the_whole() {
        // A fixed linear congruential sequence: the same cases on every run.
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = |n: u64| {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            (seed >> 33) % n
        };
        let list = ["abab", "bab", "abc", "cabca"];
        for _ in 0..300 {
            let text: String = (0..next(40)).map(|_| ['a', 'b', 'c', 'x'][next(4) as usize]).collect();
            let whole = mask(text.as_bytes(), &secrets(&list));
            let mut masker = Masker::new(&secrets(&list));
            let mut out = Vec::new();
            let mut rest = text.as_bytes();
            while !rest.is_empty() {
                let take = (next(6) as usize).min(rest.len());
                out.extend(masker.push(&rest[..take]));
                rest = &rest[take..];
            }
            out.extend(masker.finish());
            assert_eq!(String::from_utf8_lossy(&out), String::from_utf8_lossy(&whole), "{text}");
            // No secret survives in what was given out.
            let shown = String::from_utf8_lossy(&whole).replace("[redacted]", "|");
            assert!(list.iter().all(|s| !shown.contains(s)), "{text} → {shown}");
        }
    }

    #[test]
    fn short_secrets_are_not_masked_and_without_secrets_pieces_pass_at_once() {
        assert_eq!(mask(b"ab ab", &secrets(&["ab"])), b"ab ab");
        let mut masker = Masker::new(&secrets(&["ab"]));
        assert_eq!(masker.push(b"ab ab"), b"ab ab");
        assert!(masker.finish().is_empty());
    }

    #[test]
    fn the_masker_holds_back_less_than_the_longest_secret() {
        let mut masker = Masker::new(&secrets(&["0123456789"]));
        assert_eq!(masker.push(&[b'x'; 100]).len(), 91);
        assert_eq!(masker.finish().len(), 9);
    }

    #[test]
    fn one_masker_masks_text_after_text_each_as_on_its_own() {
        let list = secrets(&["0123456789", "sekret"]);
        let mut masker = Masker::new(&list);
        // A text that ends inside a secret's start, and one that ends right after a secret: neither
        // carries into the next text, and a secret split across two texts is no secret.
        for text in ["a 01234", "56789 b", "x sekret", "sekret y", "", "0123456789"] {
            assert_eq!(masker.whole(text.as_bytes()), mask(text.as_bytes(), &list), "{text}");
        }
        assert_eq!(masker.whole(b"ab sekret"), b"ab [redacted]");
        assert_eq!(masker.push(b"0123456789 tail"), b"[redacted]", "and then streams as new");
        assert_eq!(masker.finish(), b" tail");
    }
}
