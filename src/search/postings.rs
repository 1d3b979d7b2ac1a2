//! The index's position lists, packed: each list holds ascending positions, stored as the gaps between
//! neighbours in LEB128 varints (seven bits a byte, the high bit set on every byte but a number's
//! last). Most gaps fit a byte or two, so a list takes about a third of the memory of `u32`s; at a
//! million connections that is the difference between an index that fits the memory target and one
//! that does not (`bench/README.md`). A list is read forwards from its start or backwards from its
//! end: a number's last byte is the one with the high bit clear, so the bytes before it up to the
//! previous such byte are the rest of it.

/// Where a list lies in `Postings::bytes`, how many positions it holds and its last one.
#[derive(Debug, Clone, Copy, Default)]
pub struct List {
    pub start: u32,
    pub len: u32,
    pub count: u32,
    /// Its last position plus one (the sum of its gaps): where a backward walk starts.
    pub end: u32,
}

/// Bytes a gap takes.
pub fn encoded_len(gap: u32) -> u32 {
    match gap {
        0..0x80 => 1,
        0x80..0x4000 => 2,
        0x4000..0x20_0000 => 3,
        0x20_0000..0x1000_0000 => 4,
        _ => 5,
    }
}

/// Writes `gap` at `out[at..]`; returns the bytes written.
pub fn write(out: &mut [u8], at: usize, mut gap: u32) -> u32 {
    let mut n = 0;
    loop {
        let byte = (gap & 0x7f) as u8;
        gap >>= 7;
        if gap == 0 {
            out[at + n] = byte;
            return n as u32 + 1;
        }
        out[at + n] = byte | 0x80;
        n += 1;
    }
}

/// A list's positions in ascending order.
pub struct Forward<'a> {
    bytes: &'a [u8],
    at: usize,
    /// The last position read, plus one.
    sum: u32,
}

impl<'a> Forward<'a> {
    pub fn new(bytes: &'a [u8]) -> Forward<'a> {
        Forward { bytes, at: 0, sum: 0 }
    }
}

impl Iterator for Forward<'_> {
    type Item = u32;

    fn next(&mut self) -> Option<u32> {
        let (mut gap, mut shift) = (0u32, 0);
        loop {
            let byte = *self.bytes.get(self.at)?;
            self.at += 1;
            gap |= u32::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                break;
            }
            shift += 7;
        }
        self.sum += gap;
        Some(self.sum - 1)
    }
}

/// A list's positions in descending order.
pub struct Backward<'a> {
    bytes: &'a [u8],
    /// The bytes not read yet: `bytes[..end]`.
    end: usize,
    /// The position last read (or the list's end), plus one.
    sum: u32,
}

impl<'a> Backward<'a> {
    pub fn new(bytes: &'a [u8], list_end: u32) -> Backward<'a> {
        Backward { bytes, end: bytes.len(), sum: list_end }
    }
}

impl Iterator for Backward<'_> {
    type Item = u32;

    fn next(&mut self) -> Option<u32> {
        if self.end == 0 {
            return None;
        }
        // bytes[end - 1] ends the gap that led to the position `sum - 1`; its other bytes have the
        // high bit set.
        let mut start = self.end - 1;
        while start > 0 && self.bytes[start - 1] & 0x80 != 0 {
            start -= 1;
        }
        let gap = self.bytes[start..self.end]
            .iter()
            .rev()
            .fold(0u32, |gap, byte| (gap << 7) | u32::from(byte & 0x7f));
        self.end = start;
        let position = self.sum - 1;
        self.sum -= gap;
        Some(position)
    }
}
