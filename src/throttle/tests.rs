//! Unit tests of the sign-in throttle.

use std::net::IpAddr;

use super::{BURST, MAX_ADDRESSES, REFILL_SECS, Throttle};

fn ip(s: &str) -> Option<IpAddr> {
    Some(s.parse().unwrap())
}

fn drain(throttle: &Throttle, addr: Option<IpAddr>, now: i64) {
    for _ in 0..BURST {
        assert!(throttle.try_acquire(addr, now));
    }
}

#[test]
fn an_address_has_a_burst_of_attempts_then_one_per_refill_period() {
    let throttle = Throttle::default();
    drain(&throttle, ip("192.0.2.1"), 100);
    assert!(!throttle.try_acquire(ip("192.0.2.1"), 100));
    assert!(!throttle.try_acquire(ip("192.0.2.1"), 100 + REFILL_SECS - 1));
    assert!(throttle.try_acquire(ip("192.0.2.1"), 100 + REFILL_SECS));
    assert!(!throttle.try_acquire(ip("192.0.2.1"), 100 + REFILL_SECS));
    // A long quiet spell refills the whole burst and no more.
    drain(&throttle, ip("192.0.2.1"), 1_000_000);
    assert!(!throttle.try_acquire(ip("192.0.2.1"), 1_000_000));
}

#[test]
fn partial_refills_keep_the_remainder_of_a_period() {
    let throttle = Throttle::default();
    drain(&throttle, ip("192.0.2.1"), 0);
    // Two periods and a half: two attempts, and the half counts towards the third.
    let now = 2 * REFILL_SECS + REFILL_SECS / 2;
    assert!(throttle.try_acquire(ip("192.0.2.1"), now));
    assert!(throttle.try_acquire(ip("192.0.2.1"), now));
    assert!(!throttle.try_acquire(ip("192.0.2.1"), now));
    assert!(throttle.try_acquire(ip("192.0.2.1"), 3 * REFILL_SECS));
}

#[test]
fn a_success_gives_its_attempt_back() {
    let throttle = Throttle::default();
    for _ in 0..3 * BURST {
        assert!(throttle.try_acquire(ip("192.0.2.1"), 0));
        throttle.release(ip("192.0.2.1"), 0);
    }
    drain(&throttle, ip("192.0.2.1"), 0);
    throttle.release(ip("192.0.2.1"), 0);
    assert!(throttle.try_acquire(ip("192.0.2.1"), 0));
    assert!(!throttle.try_acquire(ip("192.0.2.1"), 0));
}

#[test]
fn addresses_are_counted_apart_and_ipv6_by_its_64_bit_prefix() {
    let throttle = Throttle::default();
    drain(&throttle, ip("192.0.2.1"), 0);
    assert!(throttle.try_acquire(ip("192.0.2.2"), 0));
    assert!(!throttle.try_acquire(ip("::ffff:192.0.2.1"), 0), "an IPv4-mapped address is the IPv4 one");
    drain(&throttle, ip("2001:db8:1:2::1"), 0);
    assert!(!throttle.try_acquire(ip("2001:db8:1:2:ffff::9"), 0), "the same /64");
    assert!(throttle.try_acquire(ip("2001:db8:1:3::1"), 0), "another /64");
}

#[test]
fn a_clock_that_goes_back_neither_refills_nor_fails() {
    let throttle = Throttle::default();
    drain(&throttle, ip("192.0.2.1"), 1_000);
    assert!(!throttle.try_acquire(ip("192.0.2.1"), 10));
    assert!(throttle.try_acquire(ip("192.0.2.1"), 10 + REFILL_SECS));
}

#[test]
fn past_the_table_limit_new_addresses_share_one_allowance() {
    let throttle = Throttle::default();
    for i in 0..MAX_ADDRESSES as u32 {
        assert!(throttle.try_acquire(Some(IpAddr::from(i.to_be_bytes())), 0));
    }
    drain(&throttle, ip("198.51.100.1"), 0);
    assert!(!throttle.try_acquire(ip("198.51.100.2"), 0), "the newcomers' shared allowance is used up");
    assert!(throttle.try_acquire(ip("0.0.0.1"), 0), "tracked addresses keep their own");
    // Once the tracked addresses have earned their burst back, they are forgotten and make room.
    let later = BURST as i64 * REFILL_SECS;
    drain(&throttle, ip("198.51.100.3"), later);
    assert!(!throttle.try_acquire(ip("198.51.100.3"), later));
    assert!(throttle.try_acquire(ip("198.51.100.4"), later), "each newcomer has its own allowance again");
}
