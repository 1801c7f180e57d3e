//! Upstream keys of one deployment, used in rotation, each with optional per-minute and
//! per-second request caps (fixed windows, atomics).

use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};

/// Caps of one upstream key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeyLimit {
    /// Requests per minute.
    pub rpm: Option<u32>,
    /// Requests per second.
    pub rps: Option<u32>,
}

#[derive(Debug)]
struct Window {
    length_ms: u64,
    limit: u32,
    start_ms: AtomicU64,
    count: AtomicU32,
}

impl Window {
    fn new(length_ms: u64, limit: u32) -> Self {
        Self {
            length_ms,
            limit,
            start_ms: AtomicU64::new(0),
            count: AtomicU32::new(0),
        }
    }

    fn roll(&self, now_ms: u64) {
        let start = self.start_ms.load(Ordering::Acquire);
        let current = now_ms - now_ms % self.length_ms;
        if current != start
            && self
                .start_ms
                .compare_exchange(start, current, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            self.count.store(0, Ordering::Release);
        }
    }

    fn has_room(&self, now_ms: u64) -> bool {
        self.roll(now_ms);
        self.count.load(Ordering::Acquire) < self.limit
    }

    fn take(&self, now_ms: u64) -> bool {
        self.roll(now_ms);
        self.count
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |c| {
                (c < self.limit).then_some(c + 1)
            })
            .is_ok()
    }

    fn give_back(&self) {
        let _ = self
            .count
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |c| c.checked_sub(1));
    }
}

#[derive(Debug)]
struct Slot {
    windows: Vec<Window>,
}

impl Slot {
    fn take(&self, now_ms: u64) -> bool {
        for (i, window) in self.windows.iter().enumerate() {
            if !window.take(now_ms) {
                self.windows[..i].iter().for_each(Window::give_back);
                return false;
            }
        }
        true
    }
}

/// The keys of a deployment in round-robin order.
#[derive(Debug)]
pub struct KeyRing {
    slots: Vec<Slot>,
    next: AtomicUsize,
}

impl KeyRing {
    /// A ring of keys with their caps (index = position in the deployment's key list). An empty
    /// list means one uncapped slot (the provider's own key, or none).
    pub fn new(limits: &[KeyLimit]) -> Self {
        let limits = if limits.is_empty() {
            &[KeyLimit::default()][..]
        } else {
            limits
        };
        let slots = limits
            .iter()
            .map(|l| Slot {
                windows: [(60_000, l.rpm), (1_000, l.rps)]
                    .into_iter()
                    .filter_map(|(len, cap)| cap.map(|c| Window::new(len, c)))
                    .collect(),
            })
            .collect();
        Self {
            slots,
            next: AtomicUsize::new(0),
        }
    }

    /// Whether some key has room now (no side effect).
    pub fn has_room(&self, now_ms: u64) -> bool {
        self.slots
            .iter()
            .any(|s| s.windows.iter().all(|w| w.has_room(now_ms)))
    }

    /// Takes the next key with room, round-robin; `None` when every key is at its cap.
    pub fn take(&self, now_ms: u64) -> Option<usize> {
        let n = self.slots.len();
        let first = self.next.fetch_add(1, Ordering::Relaxed);
        (0..n)
            .map(|i| (first + i) % n)
            .find(|&i| self.slots[i].take(now_ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotates_and_respects_caps() {
        let ring = KeyRing::new(&[
            KeyLimit {
                rpm: Some(2),
                rps: None,
            },
            KeyLimit {
                rpm: None,
                rps: Some(1),
            },
        ]);
        let picks: Vec<Option<usize>> = (0..4).map(|_| ring.take(500)).collect();
        // key 0 twice (rpm 2), key 1 once (rps 1), then nothing left this second.
        assert_eq!(picks.iter().flatten().filter(|&&k| k == 0).count(), 2);
        assert_eq!(picks.iter().flatten().filter(|&&k| k == 1).count(), 1);
        assert_eq!(picks.iter().filter(|p| p.is_none()).count(), 1);
        assert!(!ring.has_room(900));
        // Next second: key 1 has room again; key 0 waits for the next minute.
        assert_eq!(ring.take(1_500), Some(1));
        let next_minute = [ring.take(60_100), ring.take(60_100)];
        assert!(next_minute.contains(&Some(0)), "{next_minute:?}");
    }

    #[test]
    fn no_keys_means_one_uncapped_slot() {
        let ring = KeyRing::new(&[]);
        assert!((0..1000).all(|_| ring.take(0) == Some(0)));
    }
}
