//! Failed sign-ins, counted per account and per client address within `WINDOW_MS`.
//! - An account that failed `MAX_FAILURES` times refuses sign-ins (even with the right
//!   password) until the window passes. Keyed by the email as typed, existing or not, so that
//!   it reveals nothing about which accounts exist.
//! - An address that failed `MAX_FAILURES_PER_ADDRESS` times, whatever the accounts, is refused
//!   too: that is password spraying (one common password tried on many accounts), which the
//!   per-account count never sees. IPv6 addresses count per /64, the block one subscriber gets.
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

pub const MAX_FAILURES: usize = 5;
pub const MAX_FAILURES_PER_ADDRESS: usize = 30;
pub const WINDOW_MS: i64 = 15 * 60 * 1000;
/// Keys tracked at most per kind; beyond it the expired windows are forgotten.
const MAX_TRACKED: usize = 100_000;

/// Why a sign-in is refused before the password is even checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blocked {
    Account,
    Address,
}

#[derive(Default)]
pub struct LoginThrottle {
    accounts: Failures,
    addresses: Failures,
}

impl LoginThrottle {
    pub fn blocked(&self, email: &str, address: Option<IpAddr>, now_ms: i64) -> Option<Blocked> {
        if self.accounts.count(email, now_ms) >= MAX_FAILURES {
            return Some(Blocked::Account);
        }
        let address = address.map(address_key)?;
        (self.addresses.count(&address, now_ms) >= MAX_FAILURES_PER_ADDRESS).then_some(Blocked::Address)
    }

    pub fn record_failure(&self, email: &str, address: Option<IpAddr>, now_ms: i64) {
        self.accounts.record(email, now_ms);
        if let Some(address) = address {
            self.addresses.record(&address_key(address), now_ms);
        }
    }

    /// A successful sign-in clears its account's count, not its address's: otherwise one valid
    /// account would let a sprayer start afresh.
    pub fn succeeded(&self, email: &str) {
        self.accounts.clear(email);
    }
}

/// Failure times per key, pruned to the window when read.
#[derive(Default)]
struct Failures(Mutex<HashMap<String, Vec<i64>>>);

impl Failures {
    /// A poisoned lock counts as blocked: refusing a sign-in is the safe side.
    fn count(&self, key: &str, now_ms: i64) -> usize {
        let Ok(mut failures) = self.0.lock() else { return usize::MAX };
        failures.get_mut(key).map_or(0, |times| {
            times.retain(|t| now_ms - t < WINDOW_MS);
            times.len()
        })
    }

    fn record(&self, key: &str, now_ms: i64) {
        let Ok(mut failures) = self.0.lock() else { return };
        if failures.len() >= MAX_TRACKED {
            failures.retain(|_, times| times.iter().any(|t| now_ms - t < WINDOW_MS));
        }
        failures.entry(key.to_owned()).or_default().push(now_ms);
    }

    fn clear(&self, key: &str) {
        if let Ok(mut failures) = self.0.lock() {
            failures.remove(key);
        }
    }
}

fn address_key(address: IpAddr) -> String {
    match address {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_failures_block_an_account_until_the_window_passes() {
        let throttle = LoginThrottle::default();
        for i in 0..MAX_FAILURES {
            assert_eq!(throttle.blocked("a@example.org", None, i as i64), None);
            throttle.record_failure("a@example.org", None, i as i64);
        }
        assert_eq!(throttle.blocked("a@example.org", None, 10), Some(Blocked::Account));
        assert_eq!(throttle.blocked("b@example.org", None, 10), None, "other accounts are not affected");
        assert_eq!(throttle.blocked("a@example.org", None, WINDOW_MS + 10), None);
    }

    #[test]
    fn spraying_many_accounts_from_one_address_blocks_the_address() {
        let throttle = LoginThrottle::default();
        let sprayer: IpAddr = "203.0.113.7".parse().unwrap();
        for i in 0..MAX_FAILURES_PER_ADDRESS {
            let email = format!("user{i}@example.org");
            assert_eq!(throttle.blocked(&email, Some(sprayer), 1), None);
            throttle.record_failure(&email, Some(sprayer), 1);
        }
        assert_eq!(throttle.blocked("someone.else@example.org", Some(sprayer), 2), Some(Blocked::Address));
        throttle.succeeded("user0@example.org");
        assert_eq!(
            throttle.blocked("user0@example.org", Some(sprayer), 2),
            Some(Blocked::Address),
            "a success does not reset the address"
        );
        assert_eq!(throttle.blocked("someone.else@example.org", Some("203.0.113.8".parse().unwrap()), 2), None);
        assert_eq!(throttle.blocked("someone.else@example.org", Some(sprayer), WINDOW_MS + 2), None);
    }

    #[test]
    fn ipv6_addresses_count_per_64_block() {
        assert_eq!(
            address_key("2001:db8:1:2:aaaa::1".parse().unwrap()),
            address_key("2001:db8:1:2:bbbb::9".parse().unwrap())
        );
        assert_ne!(address_key("2001:db8:1:2::1".parse().unwrap()), address_key("2001:db8:1:3::1".parse().unwrap()));
        assert_eq!(address_key("::ffff:203.0.113.7".parse().unwrap()), "203.0.113.7");
    }
}
