//! Failed sign-ins per account: after `MAX_FAILURES` within `WINDOW_MS`, the account refuses
//! sign-ins (even with the right password) until the window passes. Keyed by the email as
//! typed, existing or not, so that it reveals nothing about which accounts exist.
use std::collections::HashMap;
use std::sync::Mutex;

pub const MAX_FAILURES: usize = 5;
pub const WINDOW_MS: i64 = 15 * 60 * 1000;
/// Emails tracked at most; beyond it the oldest windows are forgotten first.
const MAX_TRACKED: usize = 100_000;

#[derive(Default)]
pub struct LoginThrottle {
    failures: Mutex<HashMap<String, Vec<i64>>>,
}

impl LoginThrottle {
    pub fn is_blocked(&self, email: &str, now_ms: i64) -> bool {
        let Ok(mut failures) = self.failures.lock() else { return true };
        match failures.get_mut(email) {
            Some(times) => {
                times.retain(|t| now_ms - t < WINDOW_MS);
                times.len() >= MAX_FAILURES
            }
            None => false,
        }
    }

    pub fn record_failure(&self, email: &str, now_ms: i64) {
        let Ok(mut failures) = self.failures.lock() else { return };
        if failures.len() >= MAX_TRACKED {
            failures.retain(|_, times| times.iter().any(|t| now_ms - t < WINDOW_MS));
        }
        failures.entry(email.to_owned()).or_default().push(now_ms);
    }

    pub fn clear(&self, email: &str) {
        if let Ok(mut failures) = self.failures.lock() {
            failures.remove(email);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_failures_block_until_the_window_passes() {
        let throttle = LoginThrottle::default();
        for i in 0..MAX_FAILURES {
            assert!(!throttle.is_blocked("a@example.org", i as i64));
            throttle.record_failure("a@example.org", i as i64);
        }
        assert!(throttle.is_blocked("a@example.org", 10));
        assert!(!throttle.is_blocked("b@example.org", 10), "other accounts are not affected");
        assert!(!throttle.is_blocked("a@example.org", WINDOW_MS + 10));
    }
}
