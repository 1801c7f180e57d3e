//! Sharing rate limits between gateways without a round trip per request.
//!
//! Every gateway keeps every key's and tenant's meters in memory and decides alone. Every
//! [`SYNC_INTERVAL`] it reports what it took since its last report (requests, tokens with their
//! true-ups, requests in flight) on core NATS (`<prefix>.limits`), and applies what the others
//! report to its own meters as if it had taken it; so over time every gateway's meters hold the
//! whole cluster's use. Between two reports a gateway may take only its share of a limit's free
//! room: `1/N` of the room it saw at its last report, `N` the gateways heard from lately. When
//! that share is smaller than one request, the room goes whole to one gateway per interval (a
//! rotation by the holder's id), so a nearly spent limit is not taken `N` times over. Alone, a
//! gateway reports nothing and its limits are exact.
//!
//! Worst case: a gateway's view lacks what the others took since their last report (at most
//! their share each) and their reports still in flight, so `N` gateways exceed a limit by at
//! most `(N - 1) / N` of one interval's free room, and only while the reports of that interval
//! are in flight; the overdraft is then waited off by everyone. See docs/architecture.md for
//! the figures measured on two gateways.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Holder, Limiter};

/// How often a gateway reports what it took.
pub const SYNC_INTERVAL: Duration = Duration::from_millis(50);
/// A gateway that sent nothing for this long is gone (its meters' in-flight counts too).
const PEER_TTL: Duration = Duration::from_secs(3);
/// A gateway with nothing to report still says it is there this often (and repeats the
/// in-flight counts of its busy meters).
const HEARTBEAT: Duration = Duration::from_secs(1);
/// Another gateway's in-flight count of a meter stops counting when not repeated this long (a
/// lost report cannot hold a concurrency slot for longer).
pub const IN_FLIGHT_TTL: Duration = Duration::from_secs(3);
/// Most meters in one report (a report stays far below NATS's payload limit).
const METERS_PER_REPORT: usize = 2_000;

/// What a gateway took from one meter since its last report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Taken {
    /// Requests.
    #[serde(rename = "r", default, skip_serializing_if = "is_zero")]
    pub requests: u64,
    /// Tokens (negative: more given back by true-ups than taken).
    #[serde(rename = "t", default, skip_serializing_if = "is_zero_i64")]
    pub tokens: i64,
    /// Requests started (a share of the concurrency limit; not sent).
    #[serde(skip)]
    pub starts: u32,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

fn is_zero_i64(v: &i64) -> bool {
    *v == 0
}

impl Taken {
    /// Whether nothing was taken.
    pub fn is_empty(&self) -> bool {
        self.requests == 0 && self.tokens == 0 && self.starts == 0
    }
}

/// One meter's line in a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct MeterReport {
    /// `k` (key) or `t` (tenant).
    h: char,
    id: Uuid,
    #[serde(flatten)]
    taken: Taken,
    /// Requests in flight at the reporting gateway.
    #[serde(rename = "f")]
    in_flight: u32,
}

/// A gateway's report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Report {
    gw: Uuid,
    meters: Vec<MeterReport>,
    /// The lines are the gateway's whole view of each meter (what is used of each limit now),
    /// not what it took since its last report: sent when it starts and when it hears a gateway
    /// new to it, so a newcomer learns what was used before it came.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    snapshot: bool,
}

/// The gateways sharing the limits, as this one knows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Members {
    /// How many (this one included).
    pub count: u64,
    /// This gateway's place among them (ordered by id).
    pub rank: u64,
}

impl Members {
    const ALONE: Self = Self { count: 1, rank: 0 };

    /// Whether this gateway gets the whole room of holder `id` in the current interval
    /// (`interval`: the number of [`SYNC_INTERVAL`]s since the epoch).
    pub fn owns(&self, id: Uuid, interval: u64) -> bool {
        let spread = (id.as_u128() as u64).wrapping_add(interval);
        spread % self.count == self.rank
    }

    /// Whether `weight` more may be taken by this gateway from a limit with `free` room as it
    /// sees it, having taken `unsent` since its last report: within its share of the room it
    /// saw then, or the whole room when the share is smaller than `weight` and it is the
    /// interval's owner.
    pub fn allows(&self, free: u64, unsent: u64, weight: u64, owner: bool) -> bool {
        if self.count <= 1 {
            return true;
        }
        let share = free.saturating_add(unsent) / self.count;
        unsent.saturating_add(weight) <= share || (owner && share < weight && weight <= free)
    }
}

/// The number of [`SYNC_INTERVAL`]s since the Unix epoch by this machine's clock (gateways
/// agree on it as far as their clocks agree).
pub fn current_interval() -> u64 {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    u64::try_from(since_epoch.as_millis() / SYNC_INTERVAL.as_millis()).unwrap_or(0)
}

/// The cluster side of a [`Limiter`]: who else is there and which meters changed.
pub struct Cluster {
    gateway_id: Uuid,
    members: RwLock<Members>,
    /// The other gateways and when each was last heard from (limiter clock, ns).
    peers: Mutex<HashMap<Uuid, u64>>,
    /// Meters with something to report.
    changed: Mutex<Vec<(Holder, Uuid)>>,
    /// Whether the next report is a snapshot (at start, and after a new gateway was heard).
    snapshot_due: std::sync::atomic::AtomicBool,
}

impl Cluster {
    /// Alone until another gateway is heard from.
    pub fn new() -> Self {
        Self {
            gateway_id: Uuid::now_v7(),
            members: RwLock::new(Members::ALONE),
            peers: Mutex::new(HashMap::new()),
            changed: Mutex::new(Vec::new()),
            snapshot_due: std::sync::atomic::AtomicBool::new(true),
        }
    }

    /// This gateway's id in reports.
    pub fn gateway_id(&self) -> Uuid {
        self.gateway_id
    }

    /// The gateways sharing the limits now.
    pub fn members(&self) -> Members {
        *self.members.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Notes that a meter has something to report (called once per meter per interval).
    pub fn changed(&self, holder: Holder, id: Uuid) {
        self.changed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((holder, id));
    }

    /// Notes that `gateway` was heard from at `now`; the gateways found gone meanwhile. A new
    /// one gets this gateway's snapshot with the next report.
    fn heard(&self, gateway: Uuid, now: u64) -> Vec<Uuid> {
        let mut peers = self.peers.lock().unwrap_or_else(PoisonError::into_inner);
        let new = peers.insert(gateway, now).is_none();
        drop(peers);
        if !new {
            return Vec::new();
        }
        self.snapshot_due
            .store(true, std::sync::atomic::Ordering::Relaxed);
        self.recount(now)
    }

    /// Forgets gateways silent for [`PEER_TTL`] and recomputes the members; the ones forgotten.
    fn recount(&self, now: u64) -> Vec<Uuid> {
        let ttl = u64::try_from(PEER_TTL.as_nanos()).unwrap_or(u64::MAX);
        let mut peers = self.peers.lock().unwrap_or_else(PoisonError::into_inner);
        let mut gone = Vec::new();
        peers.retain(|id, at| {
            let alive = now.saturating_sub(*at) < ttl;
            if !alive {
                gone.push(*id);
            }
            alive
        });
        let mut ids: Vec<Uuid> = peers.keys().copied().collect();
        drop(peers);
        ids.push(self.gateway_id);
        ids.sort_unstable();
        let rank = ids
            .iter()
            .position(|id| *id == self.gateway_id)
            .unwrap_or(0);
        *self.members.write().unwrap_or_else(PoisonError::into_inner) = Members {
            count: ids.len() as u64,
            rank: rank as u64,
        };
        gone
    }
}

impl Default for Cluster {
    fn default() -> Self {
        Self::new()
    }
}

/// Starts reporting this gateway's use every [`SYNC_INTERVAL`] and applying the others' on
/// `client` (a connection without echo); returns the two tasks.
pub fn start(
    limiter: Arc<Limiter>,
    client: async_nats::Client,
    subject_prefix: &str,
) -> Vec<tokio::task::JoinHandle<()>> {
    let subject = format!("{subject_prefix}.limits");
    let reporter = {
        let (limiter, client, subject) = (limiter.clone(), client.clone(), subject.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(SYNC_INTERVAL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut last_sent: Option<tokio::time::Instant> = None;
            loop {
                tick.tick().await;
                let heartbeat_due = last_sent.is_none_or(|at| at.elapsed() >= HEARTBEAT);
                let snapshot = limiter
                    .cluster
                    .snapshot_due
                    .swap(false, std::sync::atomic::Ordering::Relaxed);
                let reports = limiter.take_reports(snapshot, heartbeat_due);
                if reports.is_empty() && !heartbeat_due && !snapshot {
                    continue;
                }
                let gw = limiter.cluster.gateway_id;
                let mut chunks: Vec<Vec<MeterReport>> = reports
                    .chunks(METERS_PER_REPORT)
                    .map(<[MeterReport]>::to_vec)
                    .collect();
                if chunks.is_empty() {
                    chunks.push(Vec::new());
                }
                for meters in chunks {
                    let report = Report {
                        gw,
                        meters,
                        snapshot,
                    };
                    let Ok(payload) = serde_json::to_vec(&report) else {
                        continue;
                    };
                    if let Err(err) = client.publish(subject.clone(), payload.into()).await {
                        tracing::debug!(error = %err, "rate limit report not sent");
                    }
                }
                last_sent = Some(tokio::time::Instant::now());
            }
        })
    };
    let listener = tokio::spawn(async move {
        loop {
            match client.subscribe(subject.clone()).await {
                Ok(mut messages) => {
                    while let Some(message) = messages.next().await {
                        if let Ok(report) = serde_json::from_slice::<Report>(&message.payload) {
                            limiter.apply_report(report);
                        }
                    }
                }
                Err(err) => tracing::warn!(error = %err, "rate limit subscription failed"),
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
    vec![reporter, listener]
}

impl Limiter {
    /// The lines of the next report, resetting what each meter has to report: what every
    /// changed meter took since the last report; with `heartbeat` also the in-flight count of
    /// every busy meter (so a lost report does not leave a count behind for long); with
    /// `snapshot` every meter's whole state instead.
    fn take_reports(&self, snapshot: bool, heartbeat: bool) -> Vec<MeterReport> {
        let now = self.now();
        for gone in self.cluster.recount(now) {
            self.forget_gateway(gone);
        }
        let changed = std::mem::take(
            &mut *self
                .cluster
                .changed
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        let mut reports = Vec::with_capacity(changed.len());
        let mut line = |holder: Holder, id: Uuid, meter: &mut super::Meter| {
            let taken = std::mem::take(&mut meter.unsent);
            meter.reported = false;
            let taken = if snapshot { meter.used(now) } else { taken };
            reports.push(MeterReport {
                h: holder_code(holder),
                id,
                taken,
                in_flight: meter.in_flight,
            });
        };
        if snapshot || heartbeat {
            for holder in [Holder::Key, Holder::Tenant] {
                for entry in self.meters(holder).iter() {
                    let mut meter = entry.value().lock().unwrap_or_else(PoisonError::into_inner);
                    let busy = meter.in_flight > 0 || meter.reported;
                    if busy || snapshot && !meter.used(now).is_empty() {
                        line(holder, *entry.key(), &mut meter);
                    }
                }
            }
        } else {
            for (holder, id) in changed {
                let Some(meter) = self.meters(holder).get(&id).map(|m| m.clone()) else {
                    continue;
                };
                let mut meter = meter.lock().unwrap_or_else(PoisonError::into_inner);
                line(holder, id, &mut meter);
            }
        }
        reports
    }

    /// Applies another gateway's report to this one's meters.
    fn apply_report(&self, report: Report) {
        if report.gw == self.cluster.gateway_id {
            return;
        }
        let now = self.now();
        for gone in self.cluster.heard(report.gw, now) {
            self.forget_gateway(gone);
        }
        for line in report.meters {
            let Some(holder) = holder_of(line.h) else {
                continue;
            };
            let meter = self.meters(holder).entry(line.id).or_default().clone();
            let mut meter = meter.lock().unwrap_or_else(PoisonError::into_inner);
            meter.heard(report.gw, line.taken, report.snapshot, line.in_flight, now);
        }
    }

    /// Drops what a departed gateway had in flight.
    fn forget_gateway(&self, gateway: Uuid) {
        for meters in [&self.keys, &self.tenants] {
            for meter in meters.iter() {
                meter
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .peer_in_flight
                    .retain(|(gw, ..)| *gw != gateway);
            }
        }
    }
}

fn holder_code(holder: Holder) -> char {
    match holder {
        Holder::Tenant => 't',
        _ => 'k',
    }
}

fn holder_of(code: char) -> Option<Holder> {
    match code {
        'k' => Some(Holder::Key),
        't' => Some(Holder::Tenant),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alone_everything_that_fits_is_allowed() {
        assert!(Members::ALONE.allows(1, 0, 1, false));
        assert!(Members::ALONE.allows(10, 500, 10, false));
    }

    #[test]
    fn with_others_a_gateway_takes_its_share_of_the_room_it_saw_at_its_last_report() {
        let two = Members { count: 2, rank: 0 };
        // 100 free: 50 each. Having taken 30 (70 left in view), 20 more fit, 21 do not.
        assert!(two.allows(70, 30, 20, false));
        assert!(!two.allows(70, 30, 21, false));
        // A share below one request: only the interval's owner takes the rest.
        assert!(!two.allows(1, 0, 1, false));
        assert!(two.allows(1, 0, 1, true));
        assert!(
            !two.allows(0, 0, 1, true),
            "nothing free is nothing for anyone"
        );
        // The owner's privilege does not apply while the share is a request or more.
        assert!(!two.allows(2, 1, 1, true));
    }

    #[test]
    fn the_room_goes_to_one_gateway_per_interval_in_turn() {
        let id = Uuid::now_v7();
        for interval in 0..10 {
            let owners = (0..3)
                .filter(|rank| {
                    Members {
                        count: 3,
                        rank: *rank,
                    }
                    .owns(id, interval)
                })
                .count();
            assert_eq!(owners, 1, "interval {interval}");
        }
        let first = (0..3).find(|rank| {
            Members {
                count: 3,
                rank: *rank,
            }
            .owns(id, 0)
        });
        let next = (0..3).find(|rank| {
            Members {
                count: 3,
                rank: *rank,
            }
            .owns(id, 1)
        });
        assert_ne!(first, next, "the turn moves on");
    }

    #[test]
    fn a_report_round_trips_compactly() {
        let report = Report {
            gw: Uuid::nil(),
            snapshot: false,
            meters: vec![MeterReport {
                h: 'k',
                id: Uuid::nil(),
                taken: Taken {
                    requests: 2,
                    tokens: -40,
                    starts: 2,
                },
                in_flight: 1,
            }],
        };
        let json = serde_json::to_string(&report).unwrap();
        assert!(!json.contains("starts"), "{json}");
        let back: Report = serde_json::from_str(&json).unwrap();
        assert_eq!(back.meters[0].taken.tokens, -40);
        assert_eq!(back.meters[0].taken.starts, 0);
    }
}
