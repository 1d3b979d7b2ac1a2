//! The per-address sign-in throttle. The per-account lock (`models::user`) stops guessing at one known
//! account; it cannot stop an address that tries many usernames, unknown ones included, which have no
//! row to lock. So each client address gets an allowance of `BURST` attempts that earns one back every
//! `REFILL_SECS`; an attempt takes one before its password is checked and a successful sign-in gives
//! it back, so only failures use the allowance up. An address with none left is refused with the one
//! sign-in message, whatever the username, before any lookup.
//!
//! The address is the TCP peer's: behind a reverse proxy every client shares the proxy's address and
//! so one allowance (forwarded headers are not trusted: any client could set them). The table is in
//! memory and per instance, and bounded: past `MAX_ADDRESSES` tracked addresses, new ones share a
//! single allowance until the table empties.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

/// Failed attempts an address may make in a row.
pub const BURST: u32 = 10;
/// Seconds after which an address earns one attempt back.
pub const REFILL_SECS: i64 = 6;
/// Addresses tracked one by one.
const MAX_ADDRESSES: usize = 10_000;

/// An address's remaining attempts, as of `at`.
#[derive(Debug, Clone, Copy)]
struct Allowance {
    left: u32,
    at: i64,
}

impl Allowance {
    fn full(now: i64) -> Allowance {
        Allowance { left: BURST, at: now }
    }

    /// Adds the attempts earned since `at`.
    fn refill(&mut self, now: i64) {
        if now <= self.at {
            // A clock that went back earns nothing, and loses nothing either.
            self.at = self.at.min(now);
            return;
        }
        let earned = (now - self.at) / REFILL_SECS;
        self.left = u32::try_from(earned).unwrap_or(u32::MAX).saturating_add(self.left).min(BURST);
        self.at = if self.left == BURST { now } else { self.at + earned * REFILL_SECS };
    }

    fn is_full(&self, now: i64) -> bool {
        let mut copy = *self;
        copy.refill(now);
        copy.left == BURST
    }
}

/// Addresses are counted whole for IPv4 and by /64 for IPv6, where one host holds a whole /64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Client {
    V4(u32),
    V6(u64),
    /// No peer address (not a TCP connection): one allowance for all such requests.
    Unknown,
}

impl Client {
    fn of(addr: Option<IpAddr>) -> Client {
        match addr.map(|a| a.to_canonical()) {
            Some(IpAddr::V4(v4)) => Client::V4(v4.to_bits()),
            Some(IpAddr::V6(v6)) => Client::V6((v6.to_bits() >> 64) as u64),
            None => Client::Unknown,
        }
    }
}

#[derive(Default)]
struct Table {
    clients: HashMap<Client, Allowance>,
    /// The allowance shared by addresses that arrive while the table is full.
    overflow: Option<Allowance>,
}

impl Table {
    fn allowance(&mut self, client: Client, now: i64) -> &mut Allowance {
        if !self.clients.contains_key(&client) && self.clients.len() >= MAX_ADDRESSES {
            // A full allowance is the same as none tracked: forget those first.
            self.clients.retain(|_, a| !a.is_full(now));
        }
        if self.clients.contains_key(&client) || self.clients.len() < MAX_ADDRESSES {
            return self.clients.entry(client).or_insert_with(|| Allowance::full(now));
        }
        self.overflow.get_or_insert_with(|| Allowance::full(now))
    }
}

/// The throttle of one instance.
#[derive(Default)]
pub struct Throttle {
    table: Mutex<Table>,
}

impl Throttle {
    /// Takes an attempt from `addr`'s allowance; false when it has none left.
    pub fn try_acquire(&self, addr: Option<IpAddr>, now: i64) -> bool {
        let mut table = self.table.lock().unwrap_or_else(|e| e.into_inner());
        let allowance = table.allowance(Client::of(addr), now);
        allowance.refill(now);
        if allowance.left == 0 {
            return false;
        }
        allowance.left -= 1;
        true
    }

    /// Gives back the attempt of a sign-in that succeeded.
    pub fn release(&self, addr: Option<IpAddr>, now: i64) {
        let mut table = self.table.lock().unwrap_or_else(|e| e.into_inner());
        let allowance = table.allowance(Client::of(addr), now);
        allowance.refill(now);
        allowance.left = (allowance.left + 1).min(BURST);
    }
}

#[cfg(test)]
mod tests;
