//! Rate limits of the data plane: requests per minute, tokens per minute (prompt plus reserved
//! output, trued up to the actual usage when the answer ends) and concurrent requests, per key
//! and per tenant. Each limit is a [`gcra::Gcra`] held in this gateway's memory, so a decision
//! costs two short locks and no round trip; gateways share their use over NATS ([`cluster`]).

pub mod cluster;
pub mod gcra;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use dashmap::DashMap;
use uuid::Uuid;

use self::cluster::{Cluster, Taken};
use self::gcra::{Gcra, Rate, Refused, Window};

/// The limits of one key or tenant (`None`: unlimited).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitSettings {
    /// Requests per minute.
    pub rpm: Option<u32>,
    /// Tokens per minute (prompt plus reserved output).
    pub tpm: Option<u32>,
    /// Requests in flight at once (streams included).
    pub max_concurrent: Option<u32>,
}

impl LimitSettings {
    fn is_unlimited(&self) -> bool {
        self.rpm.is_none() && self.tpm.is_none() && self.max_concurrent.is_none()
    }
}

/// Who a limit belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holder {
    /// An API key.
    Key,
    /// A tenant (all of its keys together).
    Tenant,
    /// A source address.
    Address,
}

impl Holder {
    fn name(self) -> &'static str {
        match self {
            Self::Key => "key",
            Self::Tenant => "tenant",
            Self::Address => "address",
        }
    }
}

/// Which limit refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Requests per minute.
    Requests,
    /// Tokens per minute.
    Tokens,
    /// Requests in flight.
    Concurrency,
    /// Failed authentications per minute.
    FailedAuthentications,
    /// Management API requests per minute.
    ManagementRequests,
}

/// Why a request was refused, and what the client is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limited {
    /// Whose limit.
    pub holder: Holder,
    /// Which limit.
    pub kind: Kind,
    /// The limit's value.
    pub limit: u64,
    /// When the request could pass (`None`: never, it is larger than the limit).
    pub retry_after: Option<Duration>,
    /// The headers' view of the limits at the refusal.
    pub headers: RateHeaders,
}

impl Limited {
    /// The message of the 429.
    pub fn message(&self) -> String {
        let holder = self.holder.name();
        match (self.kind, self.retry_after) {
            (Kind::Requests, _) => format!(
                "rate limit reached: the {holder}'s limit of {} requests per minute; retry after the time in Retry-After",
                self.limit
            ),
            (Kind::Tokens, Some(_)) => format!(
                "rate limit reached: the {holder}'s limit of {} tokens per minute (prompt plus requested output); retry after the time in Retry-After",
                self.limit
            ),
            (Kind::Tokens, None) => format!(
                "request too large: it needs more tokens (prompt plus requested output) than the {holder}'s limit of {} tokens per minute; lower max_tokens or shorten the prompt",
                self.limit
            ),
            (Kind::Concurrency, _) => format!(
                "too many requests in flight: the {holder}'s limit is {} at once",
                self.limit
            ),
            (Kind::FailedAuthentications, _) => format!(
                "too many failed authentications from this address (limit {} per minute); retry after the time in Retry-After",
                self.limit
            ),
            (Kind::ManagementRequests, _) => format!(
                "rate limit reached: the tenant's limit of {} management API requests per minute; retry after the time in Retry-After",
                self.limit
            ),
        }
    }
}

/// What `x-ratelimit-*` report: the tightest requests and tokens limit that applied.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateHeaders {
    /// `x-ratelimit-{limit,remaining,reset}-requests`.
    pub requests: Option<Window>,
    /// `x-ratelimit-{limit,remaining,reset}-tokens`.
    pub tokens: Option<Window>,
}

impl RateHeaders {
    /// Writes the `x-ratelimit-*` headers of the limits that applied.
    pub fn apply(&self, headers: &mut actix_web::http::header::HeaderMap) {
        use actix_web::http::header::{HeaderName, HeaderValue};
        let trio = [
            (
                self.requests,
                [
                    "x-ratelimit-limit-requests",
                    "x-ratelimit-remaining-requests",
                    "x-ratelimit-reset-requests",
                ],
            ),
            (
                self.tokens,
                [
                    "x-ratelimit-limit-tokens",
                    "x-ratelimit-remaining-tokens",
                    "x-ratelimit-reset-tokens",
                ],
            ),
        ];
        for (window, [limit, remaining, reset]) in trio {
            let Some(window) = window else { continue };
            for (name, value) in [
                (limit, window.limit.to_string()),
                (remaining, window.remaining.to_string()),
                (reset, reset_text(window.reset)),
            ] {
                if let Ok(value) = HeaderValue::from_str(&value) {
                    headers.insert(HeaderName::from_static(name), value);
                }
            }
        }
    }

    fn tighten(&mut self, requests: Option<Window>, tokens: Option<Window>) {
        let tighter = |mine: Option<Window>, other: Option<Window>| match (mine, other) {
            (Some(a), Some(b)) if b.remaining < a.remaining => Some(b),
            (None, other) => other,
            (mine, _) => mine,
        };
        self.requests = tighter(self.requests, requests);
        self.tokens = tighter(self.tokens, tokens);
    }
}

/// A reset time as OpenAI writes it: `6m0s`, `1.5s`, `20ms`.
fn reset_text(reset: Duration) -> String {
    let millis = reset.as_millis();
    if millis < 1_000 {
        return format!("{millis}ms");
    }
    let minutes = millis / 60_000;
    let seconds = (millis % 60_000) as f64 / 1_000.0;
    if minutes > 0 {
        format!("{minutes}m{seconds}s")
    } else {
        format!("{seconds}s")
    }
}

/// One holder's limit state.
#[derive(Debug, Default)]
struct Meter {
    requests: Gcra,
    tokens: Gcra,
    in_flight: u32,
    /// The rates `requests` and `tokens` were last kept at (a changed limit rescales them).
    rates: (Option<Rate>, Option<Rate>),
    /// Taken here since the last report to the other gateways.
    unsent: Taken,
    /// Whether the meter is on the list of meters to report.
    reported: bool,
    /// Other gateways' use heard before this gateway knew the meter's rates.
    heard_early: Taken,
    /// Requests in flight at each other gateway, as last reported, and when (limiter clock).
    peer_in_flight: Vec<(Uuid, u32, u64)>,
}

impl Meter {
    /// Keeps the meter at `settings`' rates: what is taken stays the same share of the window
    /// when a limit changes, so raising a limit frees a holder at once.
    fn follow(&mut self, settings: &LimitSettings, now: u64) {
        let rates = (
            settings.rpm.map(Rate::per_minute),
            settings.tpm.map(Rate::per_minute),
        );
        if let (Some(from), Some(to)) = (self.rates.0, rates.0) {
            self.requests.rescale(from, to, now);
        }
        if let (Some(from), Some(to)) = (self.rates.1, rates.1) {
            self.tokens.rescale(from, to, now);
        }
        self.rates = rates;
        if !self.heard_early.is_empty() {
            let early = std::mem::take(&mut self.heard_early);
            self.apply_taken(early, now);
        }
    }

    /// Requests in flight here and at the other gateways (a count not confirmed for
    /// [`cluster::IN_FLIGHT_TTL`] no longer counts).
    fn in_flight_everywhere(&self, now: u64) -> u32 {
        let ttl = u64::try_from(cluster::IN_FLIGHT_TTL.as_nanos()).unwrap_or(u64::MAX);
        self.peer_in_flight
            .iter()
            .filter(|(_, _, at)| now.saturating_sub(*at) < ttl)
            .fold(self.in_flight, |sum, (_, n, _)| sum.saturating_add(*n))
    }

    /// What is used of each limit at `now` (a snapshot for another gateway).
    fn used(&self, now: u64) -> Taken {
        let tokens = self.rates.1.map_or(0, |rate| self.tokens.used(rate, now));
        Taken {
            requests: self.rates.0.map_or(0, |rate| self.requests.used(rate, now)),
            tokens: i64::try_from(tokens).unwrap_or(i64::MAX),
            starts: 0,
        }
    }

    /// Takes what another gateway took (or keeps it until the rates are known).
    fn apply_taken(&mut self, taken: Taken, now: u64) {
        match self.rates {
            (None, None) => {
                let early = &mut self.heard_early;
                early.requests = early.requests.saturating_add(taken.requests);
                early.tokens = early.tokens.saturating_add(taken.tokens);
            }
            (requests, tokens) => {
                if let Some(rate) = requests {
                    self.requests.take(rate, taken.requests, now);
                }
                if let Some(rate) = tokens {
                    match u64::try_from(taken.tokens) {
                        Ok(more) => self.tokens.take(rate, more, now),
                        Err(_) => self
                            .tokens
                            .give_back(rate, taken.tokens.unsigned_abs(), now),
                    }
                }
            }
        }
    }

    /// Applies another gateway's report of this meter: what it took since its last report, or
    /// (`snapshot`) its whole view of the meter, which this meter then holds at least.
    fn heard(&mut self, gateway: Uuid, taken: Taken, snapshot: bool, in_flight: u32, now: u64) {
        match (snapshot, self.rates) {
            (true, (requests, tokens)) if requests.is_some() || tokens.is_some() => {
                if let Some(rate) = requests {
                    self.requests.hold_at_least(rate, taken.requests, now);
                }
                if let Some(rate) = tokens {
                    let used = u64::try_from(taken.tokens).unwrap_or(0);
                    self.tokens.hold_at_least(rate, used, now);
                }
            }
            _ => self.apply_taken(taken, now),
        }
        self.peer_in_flight.retain(|(gw, ..)| *gw != gateway);
        if in_flight > 0 {
            self.peer_in_flight.push((gateway, in_flight, now));
        }
    }

    /// Records use to report to the other gateways (when there are any).
    fn note(&mut self, cluster: &Cluster, whose: (Holder, Uuid), change: Taken) {
        let unsent = &mut self.unsent;
        unsent.requests = unsent.requests.saturating_add(change.requests);
        unsent.tokens = unsent.tokens.saturating_add(change.tokens);
        unsent.starts = unsent.starts.saturating_add(change.starts);
        if !self.reported {
            self.reported = true;
            cluster.changed(whose.0, whose.1);
        }
    }
}

type Shared = Arc<Mutex<Meter>>;

/// The limits of every key and tenant seen by this gateway.
pub struct Limiter {
    clock: Instant,
    keys: DashMap<Uuid, Shared>,
    tenants: DashMap<Uuid, Shared>,
    /// The other gateways sharing these limits.
    cluster: Cluster,
    /// Failed authentications by source address.
    addresses: DashMap<std::net::IpAddr, Gcra>,
    auth_failures: Rate,
    /// Management requests by tenant.
    management: DashMap<Uuid, Gcra>,
    management_rate: Rate,
}

/// The limits that bound cheap abuse: failed authentications per source address and
/// management requests per tenant, per minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttles {
    /// Failed authentications one source address may make per minute.
    pub auth_failures_per_minute: u32,
    /// Management requests one tenant's keys may make per minute.
    pub management_rpm: u32,
}

/// A request's place in its key's and tenant's limits: held until the request ends (its
/// concurrency slots are then freed) and trued up to the tokens it used.
pub struct Permit {
    limiter: Arc<Limiter>,
    held: Vec<(Shared, LimitSettings, (Holder, Uuid))>,
    reserved_tokens: u64,
    /// Set once trued up (a request is billed once; a second true-up would give back twice).
    settled: std::sync::atomic::AtomicBool,
    /// What the answer's `x-ratelimit-*` headers say.
    pub headers: RateHeaders,
}

impl Limiter {
    /// A limiter with no meters yet, and `throttles`. A key's or tenant's limits come with
    /// each request (what is stored for it; an unset limit is no limit).
    pub fn new(throttles: Throttles) -> Arc<Self> {
        Arc::new(Self {
            clock: Instant::now(),
            keys: DashMap::new(),
            tenants: DashMap::new(),
            cluster: Cluster::new(),
            addresses: DashMap::new(),
            auth_failures: Rate::per_minute(throttles.auth_failures_per_minute),
            management: DashMap::new(),
            management_rate: Rate::per_minute(throttles.management_rpm),
        })
    }

    /// Whether `address` may try to authenticate: refused once it failed too often lately.
    pub fn may_authenticate(&self, address: std::net::IpAddr) -> Result<(), Limited> {
        let Some(meter) = self.addresses.get(&address) else {
            return Ok(());
        };
        meter
            .check(self.auth_failures, 1, self.now())
            .map_err(|refused| single(Holder::Address, Kind::FailedAuthentications, refused))
    }

    /// Counts a failed authentication from `address`.
    pub fn failed_authentication(&self, address: std::net::IpAddr) {
        let now = self.now();
        self.addresses
            .entry(address)
            .or_default()
            .take(self.auth_failures, 1, now);
    }

    /// Takes one management request of `tenant`, or says when one fits again.
    pub fn management_request(&self, tenant: Uuid) -> Result<(), Limited> {
        let now = self.now();
        let mut meter = self.management.entry(tenant).or_default();
        meter
            .check(self.management_rate, 1, now)
            .map_err(|refused| single(Holder::Tenant, Kind::ManagementRequests, refused))?;
        meter.take(self.management_rate, 1, now);
        Ok(())
    }

    fn now(&self) -> u64 {
        u64::try_from(self.clock.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// Admits a request by `key` of `tenant` whose size (prompt plus reserved output) is at most
    /// `tokens.0` and exactly `tokens.1()`, counted only when a token limit applies and the bound
    /// does not fit (what is reserved is trued up when the request ends); or says which limit
    /// refuses it. Nothing is taken from any limit when one refuses. With other gateways about,
    /// a request must also fit this gateway's share of each limit ([`cluster`]).
    pub fn admit(
        self: &Arc<Self>,
        key: (Uuid, LimitSettings),
        tenant: (Uuid, LimitSettings),
        tokens: (u64, impl FnOnce() -> u64),
    ) -> Result<Permit, Limited> {
        let holders = [
            (Holder::Key, key.1, &self.keys, key.0),
            (Holder::Tenant, tenant.1, &self.tenants, tenant.0),
        ];
        let mut held: Vec<(Shared, LimitSettings, (Holder, Uuid))> = Vec::with_capacity(2);
        for (holder, settings, meters, id) in &holders {
            if !settings.is_unlimited() {
                let meter = meters.entry(*id).or_default().clone();
                held.push((meter, *settings, (*holder, *id)));
            }
        }
        if held.is_empty() {
            return Ok(Permit {
                limiter: self.clone(),
                held,
                reserved_tokens: 0,
                settled: std::sync::atomic::AtomicBool::new(false),
                headers: RateHeaders::default(),
            });
        }
        let now = self.now();
        let members = self.cluster.members();
        // The owner rotation matters only with others about (it reads the wall clock).
        let interval = if members.count > 1 {
            cluster::current_interval()
        } else {
            0
        };
        // Always key first, then tenant: two requests never wait on each other's locks.
        let mut guards: Vec<_> = held
            .iter()
            .map(|(meter, ..)| meter.lock().unwrap_or_else(PoisonError::into_inner))
            .collect();
        for ((_, settings, _), meter) in held.iter().zip(guards.iter_mut()) {
            meter.follow(settings, now);
        }
        let refuse = |index: usize, kind, limit: u64, refused: Option<Refused>| Limited {
            holder: held[index].2.0,
            kind,
            limit,
            retry_after: refused.map_or(Some(Duration::from_secs(1)), |r| r.retry_after),
            headers: RateHeaders::default(),
        };
        // Beyond this gateway's share (but within the limit): try again after the next report.
        let beyond_share = |index: usize, kind, limit: u64, window: Window| Limited {
            holder: held[index].2.0,
            kind,
            limit,
            retry_after: Some(cluster::SYNC_INTERVAL),
            headers: match kind {
                Kind::Tokens => RateHeaders {
                    tokens: Some(window),
                    ..RateHeaders::default()
                },
                _ => RateHeaders {
                    requests: Some(window),
                    ..RateHeaders::default()
                },
            },
        };
        let owns = |index: usize| members.owns(held[index].2.1, interval);
        // Concurrency and requests first: a request they refuse is never tokenized.
        for (index, ((_, settings, _), meter)) in held.iter().zip(guards.iter()).enumerate() {
            if let Some(max) = settings.max_concurrent {
                let busy = meter.in_flight_everywhere(now);
                let free = u64::from(max.saturating_sub(busy));
                let unsent = u64::from(meter.unsent.starts);
                if busy >= max {
                    return Err(refuse(index, Kind::Concurrency, u64::from(max), None));
                }
                if !members.allows(free, unsent, 1, owns(index)) {
                    let mut limited = refuse(index, Kind::Concurrency, u64::from(max), None);
                    limited.retry_after = Some(cluster::SYNC_INTERVAL);
                    return Err(limited);
                }
            }
            if let Some(rate) = settings.rpm.map(Rate::per_minute) {
                if let Err(refused) = meter.requests.check(rate, 1, now) {
                    let mut limited = refuse(index, Kind::Requests, rate.limit(), Some(refused));
                    limited.headers.requests = Some(refused.window);
                    return Err(limited);
                }
                let window = meter.requests.window(rate, now);
                if !members.allows(window.remaining, meter.unsent.requests, 1, owns(index)) {
                    return Err(beyond_share(index, Kind::Requests, rate.limit(), window));
                }
            }
        }
        // The first token limit that refuses `tokens`, as the client is told.
        let token_refusal = |tokens: u64| {
            held.iter().zip(guards.iter()).enumerate().find_map(
                |(index, ((_, settings, _), meter))| {
                    let rate = settings.tpm.map(Rate::per_minute)?;
                    if let Err(refused) = meter.tokens.check(rate, tokens, now) {
                        let mut limited = refuse(index, Kind::Tokens, rate.limit(), Some(refused));
                        limited.headers.tokens = Some(refused.window);
                        return Some(limited);
                    }
                    let window = meter.tokens.window(rate, now);
                    let unsent = u64::try_from(meter.unsent.tokens).unwrap_or(0);
                    (!members.allows(window.remaining, unsent, tokens, owns(index)))
                        .then(|| beyond_share(index, Kind::Tokens, rate.limit(), window))
                },
            )
        };
        let tokens = if !held.iter().any(|(_, settings, _)| settings.tpm.is_some()) {
            0
        } else if token_refusal(tokens.0).is_none() {
            tokens.0
        } else {
            // Near a token limit the prompt is counted exactly (tokenizing costs tens of µs).
            let exact = (tokens.1)();
            if let Some(limited) = token_refusal(exact) {
                return Err(limited);
            }
            exact
        };
        let mut headers = RateHeaders::default();
        for ((_, settings, whose), meter) in held.iter().zip(guards.iter_mut()) {
            meter.in_flight += 1;
            let requests = settings.rpm.map(|rpm| {
                let rate = Rate::per_minute(rpm);
                meter.requests.take(rate, 1, now);
                meter.requests.window(rate, now)
            });
            let tokens_window = settings.tpm.map(|tpm| {
                let rate = Rate::per_minute(tpm);
                meter.tokens.take(rate, tokens, now);
                meter.tokens.window(rate, now)
            });
            headers.tighten(requests, tokens_window);
            if members.count > 1 {
                let taken = Taken {
                    requests: u64::from(settings.rpm.is_some()),
                    tokens: if settings.tpm.is_some() {
                        i64::try_from(tokens).unwrap_or(i64::MAX)
                    } else {
                        0
                    },
                    starts: 1,
                };
                meter.note(&self.cluster, *whose, taken);
            }
        }
        drop(guards);
        Ok(Permit {
            limiter: self.clone(),
            held,
            reserved_tokens: tokens,
            settled: std::sync::atomic::AtomicBool::new(false),
            headers,
        })
    }

    /// How many gateways share the limits (this one included).
    pub fn sharing_gateways(&self) -> u64 {
        self.cluster.members().count
    }

    /// This limiter's meters of one kind of holder.
    fn meters(&self, holder: Holder) -> &DashMap<Uuid, Shared> {
        match holder {
            Holder::Tenant => &self.tenants,
            _ => &self.keys,
        }
    }

    /// Forgets the meters of keys and tenants idle for a whole window (their limits are whole
    /// again), so memory follows the active holders only.
    pub fn forget_idle(&self) {
        let now = self.now();
        let ttl = u64::try_from(cluster::IN_FLIGHT_TTL.as_nanos()).unwrap_or(u64::MAX);
        let idle = |meter: &Shared| {
            let mut meter = meter.lock().unwrap_or_else(PoisonError::into_inner);
            meter
                .peer_in_flight
                .retain(|(_, _, at)| now.saturating_sub(*at) < ttl);
            meter.in_flight == 0
                && meter.peer_in_flight.is_empty()
                && !meter.reported
                && meter.requests.is_whole(now)
                && meter.tokens.is_whole(now)
        };
        self.keys
            .retain(|_, meter| Arc::strong_count(meter) > 1 || !idle(meter));
        self.tenants
            .retain(|_, meter| Arc::strong_count(meter) > 1 || !idle(meter));
        self.addresses.retain(|_, meter| !meter.is_whole(now));
        self.management.retain(|_, meter| !meter.is_whole(now));
    }
}

/// A refusal by one per-minute limit.
fn single(holder: Holder, kind: Kind, refused: Refused) -> Limited {
    Limited {
        holder,
        kind,
        limit: refused.window.limit,
        retry_after: refused.retry_after,
        headers: RateHeaders::default(),
    }
}

impl std::fmt::Debug for Permit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Permit")
            .field("limits", &self.held.len())
            .field("reserved_tokens", &self.reserved_tokens)
            .finish()
    }
}

impl Permit {
    /// Trues the token limits up to the `used` tokens of the finished request: the unused part
    /// of the reservation comes back, a use beyond it is taken (the holder waits it off).
    pub fn settle(&self, used: u64) {
        if self.held.is_empty() || self.settled.swap(true, std::sync::atomic::Ordering::AcqRel) {
            return;
        }
        let now = self.limiter.now();
        let shared = self.limiter.cluster.members().count > 1;
        for (meter, settings, whose) in &self.held {
            let Some(tpm) = settings.tpm else { continue };
            let rate = Rate::per_minute(tpm);
            let mut meter = meter.lock().unwrap_or_else(PoisonError::into_inner);
            if used < self.reserved_tokens {
                meter
                    .tokens
                    .give_back(rate, self.reserved_tokens - used, now);
            } else {
                meter.tokens.take(rate, used - self.reserved_tokens, now);
            }
            if shared {
                let change = i128::from(used) - i128::from(self.reserved_tokens);
                let tokens =
                    i64::try_from(change).unwrap_or(if change < 0 { i64::MIN } else { i64::MAX });
                let taken = Taken {
                    tokens,
                    ..Taken::default()
                };
                meter.note(&self.limiter.cluster, *whose, taken);
            }
        }
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if self.held.is_empty() {
            return;
        }
        let shared = self.limiter.cluster.members().count > 1;
        for (meter, _, whose) in &self.held {
            let mut meter = meter.lock().unwrap_or_else(PoisonError::into_inner);
            meter.in_flight = meter.in_flight.saturating_sub(1);
            if shared {
                // The others learn the lower in-flight count with the next report.
                meter.note(&self.limiter.cluster, *whose, Taken::default());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const THROTTLES: Throttles = Throttles {
        auth_failures_per_minute: 3,
        management_rpm: 2,
    };

    #[test]
    fn failed_authentications_and_management_requests_are_throttled() {
        let limiter = Limiter::new(THROTTLES);
        let address: std::net::IpAddr = "192.0.2.7".parse().unwrap();
        for _ in 0..3 {
            limiter.may_authenticate(address).unwrap();
            limiter.failed_authentication(address);
        }
        let refused = limiter.may_authenticate(address).unwrap_err();
        assert_eq!(refused.kind, Kind::FailedAuthentications);
        let wait = refused.retry_after.unwrap();
        assert!(
            wait > Duration::from_secs(19) && wait <= Duration::from_secs(20),
            "{wait:?}"
        );
        // Another address is not touched.
        limiter
            .may_authenticate("192.0.2.8".parse().unwrap())
            .unwrap();

        let tenant = Uuid::now_v7();
        limiter.management_request(tenant).unwrap();
        limiter.management_request(tenant).unwrap();
        let refused = limiter.management_request(tenant).unwrap_err();
        assert!(
            refused.message().contains("2 management API requests"),
            "{}",
            refused.message()
        );
        limiter.management_request(Uuid::now_v7()).unwrap();
    }

    fn limits(rpm: Option<u32>, tpm: Option<u32>, max_concurrent: Option<u32>) -> LimitSettings {
        LimitSettings {
            rpm,
            tpm,
            max_concurrent,
        }
    }

    #[test]
    fn a_refused_request_takes_nothing_from_any_limit() {
        let limiter = Limiter::new(THROTTLES);
        let (key, tenant) = (Uuid::now_v7(), Uuid::now_v7());
        let key_limits = limits(Some(10), None, None);
        let tenant_limits = limits(Some(1), None, None);
        let first = limiter
            .admit((key, key_limits), (tenant, tenant_limits), (0, || 0))
            .unwrap();
        // The tenant's limit refuses; the key's is not charged for the refusal.
        let refused = limiter
            .admit((key, key_limits), (tenant, tenant_limits), (0, || 0))
            .unwrap_err();
        assert_eq!(
            (refused.holder, refused.kind),
            (Holder::Tenant, Kind::Requests)
        );
        assert_eq!(first.headers.requests.unwrap().remaining, 0);
        let other_tenant = limiter
            .admit(
                (key, key_limits),
                (Uuid::now_v7(), LimitSettings::default()),
                (0, || 0),
            )
            .unwrap();
        assert_eq!(other_tenant.headers.requests.unwrap().remaining, 8);
    }

    #[test]
    fn the_cheap_token_bound_is_reserved_while_it_fits_and_the_exact_count_after() {
        let limiter = Limiter::new(THROTTLES);
        let (key, tenant) = (Uuid::now_v7(), Uuid::now_v7());
        let hundred = limits(None, Some(100), None);
        let unlimited = LimitSettings::default();
        let counted = std::cell::Cell::new(0);
        let exact = |n: u64| {
            let counted = &counted;
            move || {
                counted.set(counted.get() + 1);
                n
            }
        };
        let first = limiter
            .admit((key, hundred), (tenant, unlimited), (80, exact(30)))
            .unwrap();
        assert_eq!(counted.get(), 0, "the bound fits: nothing is tokenized");
        assert_eq!(first.headers.tokens.unwrap().remaining, 20);
        // The bound (80) no longer fits the 20 left; the exact count (15) does.
        let second = limiter
            .admit((key, hundred), (tenant, unlimited), (80, exact(15)))
            .unwrap();
        assert_eq!(counted.get(), 1);
        assert_eq!(second.headers.tokens.unwrap().remaining, 5);
        // The first request used 30 of its 80: the other 50 come back.
        first.settle(30);
        let third = limiter
            .admit((key, hundred), (tenant, unlimited), (50, exact(50)))
            .unwrap();
        assert_eq!(third.headers.tokens.unwrap().remaining, 5);
    }

    #[test]
    fn concurrency_is_held_until_the_permit_goes_and_tokens_are_asked_only_when_limited() {
        let limiter = Limiter::new(THROTTLES);
        let (key, tenant) = (Uuid::now_v7(), Uuid::now_v7());
        let two = limits(None, None, Some(2));
        let unlimited = LimitSettings::default();
        let asked = std::cell::Cell::new(0);
        let count = || {
            asked.set(asked.get() + 1);
            5
        };
        let a = limiter
            .admit((key, two), (tenant, unlimited), (5, count))
            .unwrap();
        let b = limiter
            .admit((key, two), (tenant, unlimited), (5, count))
            .unwrap();
        let refused = limiter
            .admit((key, two), (tenant, unlimited), (5, count))
            .unwrap_err();
        assert_eq!(
            (refused.holder, refused.kind),
            (Holder::Key, Kind::Concurrency)
        );
        assert_eq!(
            asked.get(),
            0,
            "no token limit: the prompt is never counted"
        );
        drop(a);
        let c = limiter
            .admit((key, two), (tenant, unlimited), (5, count))
            .unwrap();
        drop((b, c));
        limiter.forget_idle();
        assert!(limiter.keys.is_empty(), "an idle meter is forgotten");
    }

    #[test]
    fn the_token_reservation_is_trued_up_by_the_permit() {
        let limiter = Limiter::new(THROTTLES);
        let (key, tenant) = (Uuid::now_v7(), Uuid::now_v7());
        let tight = limits(None, Some(100), None);
        let unlimited = LimitSettings::default();
        let first = limiter
            .admit((key, tight), (tenant, unlimited), (70, || 70))
            .unwrap();
        assert_eq!(first.headers.tokens.unwrap().remaining, 30);
        assert!(
            limiter
                .admit((key, tight), (tenant, unlimited), (70, || 70))
                .is_err()
        );
        first.settle(20);
        // A second true-up (a request billed twice by mistake) gives nothing back again.
        first.settle(0);
        let second = limiter
            .admit((key, tight), (tenant, unlimited), (70, || 70))
            .unwrap();
        assert!(second.headers.tokens.unwrap().remaining <= 10);
        let too_large = limiter
            .admit((key, tight), (tenant, unlimited), (101, || 101))
            .unwrap_err();
        assert_eq!(too_large.retry_after, None);
        assert!(too_large.message().starts_with("request too large"));
    }

    #[test]
    fn raising_a_limit_admits_a_holder_at_once() {
        let limiter = Limiter::new(THROTTLES);
        let (key, tenant) = (Uuid::now_v7(), Uuid::now_v7());
        let unlimited = LimitSettings::default();
        let one = limits(Some(1), None, None);
        drop(
            limiter
                .admit((key, one), (tenant, unlimited), (0, || 0))
                .unwrap(),
        );
        assert!(
            limiter
                .admit((key, one), (tenant, unlimited), (0, || 0))
                .is_err()
        );
        let ten = limits(Some(10), None, None);
        let admitted = limiter
            .admit((key, ten), (tenant, unlimited), (0, || 0))
            .unwrap();
        assert_eq!(admitted.headers.requests.unwrap().remaining, 8);
    }

    #[test]
    fn reset_times_are_written_as_openai_does() {
        assert_eq!(reset_text(Duration::from_millis(20)), "20ms");
        assert_eq!(reset_text(Duration::from_millis(1_500)), "1.5s");
        assert_eq!(reset_text(Duration::from_secs(360)), "6m0s");
    }
}
