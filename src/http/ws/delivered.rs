//! Which of a booking's events a socket already has, so each is sent once
//! even when its two paths (the user's channel and the booking's actor, or
//! a replay) deliver them out of order: after a Redis outage the user's
//! channel may carry seq 6 live while the booking's actor is still catching
//! up 3 and 5 from the outbox. A high-water mark would drop 3 and 5; this
//! keeps the set of sequence numbers above the contiguous prefix.

use std::collections::BTreeSet;

/// Bound on the sequence numbers remembered above a gap that never fills
/// (events published while the socket was not listening and never replayed).
const MAX_ABOVE: usize = 256;

#[derive(Debug, Default, Clone)]
pub struct Delivered {
    /// Every seq at or below this is delivered (or deliberately skipped).
    floor: i64,
    above: BTreeSet<i64>,
}

impl Delivered {
    /// True the first time `seq` is seen: send it.
    pub fn first_time(&mut self, seq: i64) -> bool {
        if seq <= self.floor || !self.above.insert(seq) {
            return false;
        }
        while self.above.remove(&(self.floor + 1)) {
            self.floor += 1;
        }
        if self.above.len() > MAX_ABOVE {
            if let Some(lowest) = self.above.pop_first() {
                self.floor = lowest;
            }
        }
        true
    }

    pub fn contains(&self, seq: i64) -> bool {
        seq <= self.floor || self.above.contains(&seq)
    }

    /// Everything up to `seq` is accounted for (a replay covered it, or the
    /// client reloads it over REST).
    pub fn cover_up_to(&mut self, seq: i64) {
        if seq > self.floor {
            self.floor = seq;
            self.above = self.above.split_off(&(seq + 1));
            while self.above.remove(&(self.floor + 1)) {
                self.floor += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn late_events_below_a_newer_one_are_still_delivered_once() {
        let mut d = Delivered::default();
        assert!(d.first_time(1));
        assert!(d.first_time(2));
        // 6 overtakes 3..5 (another path), which then arrive.
        assert!(d.first_time(6));
        assert!(d.first_time(3));
        assert!(d.first_time(5));
        assert!(d.first_time(4));
        for seq in 1..=6 {
            assert!(!d.first_time(seq), "{seq} only once");
        }
        assert!(d.first_time(7));
    }

    #[test]
    fn a_replay_covers_its_range() {
        let mut d = Delivered::default();
        assert!(d.first_time(9));
        d.cover_up_to(7);
        assert!(d.contains(5) && !d.contains(8));
        assert!(d.first_time(8));
        assert!(!d.first_time(9));
    }

    #[test]
    fn a_gap_that_never_fills_stays_bounded() {
        let mut d = Delivered::default();
        for seq in 2..2 + MAX_ABOVE as i64 + 10 {
            assert!(d.first_time(seq));
        }
        assert!(d.above.len() <= MAX_ABOVE);
    }
}
