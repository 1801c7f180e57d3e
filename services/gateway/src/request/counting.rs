//! Token counting that would hold an HTTP worker runs beside it. Counting is about 80 ns a
//! token of prose and far slower on text the BPE merges in long runs: a 4 MiB prompt of one
//! letter takes 2 s (docs/benchmarks.md). On the worker that serves it, such a count would
//! stall every other tenant's request on that worker; here it runs on the blocking pool, one
//! such count at a time in the process (on 2 cores the workers keep the other), and one count
//! of each tenant at a time in that queue, so a tenant sending many waits behind its own.

use std::sync::{Arc, LazyLock};

use dashmap::DashMap;
use prometheus_client::metrics::counter::Counter;
use tokio::sync::Semaphore;
use tollgate_billing::Tokenizer;
use uuid::Uuid;

use crate::error::ApiError;

/// Prompts bounded above this many tokens (about their bytes) are counted off the worker:
/// about 1 ms of counting for prose.
pub const HEAVY_COUNT_TOKENS: u32 = 16 * 1024;

/// One heavy count at a time in the process: the other core stays with the HTTP workers.
static HEAVY_COUNTS: Semaphore = Semaphore::const_new(1);

/// Each tenant's turn to queue for [`HEAVY_COUNTS`] (a tenant's entry lives while it has a
/// count queued or running). Both queues are first come, first served, so another tenant waits
/// for at most one count of each tenant ahead of it.
static TENANT_TURNS: LazyLock<DashMap<Uuid, Arc<Semaphore>>> = LazyLock::new(DashMap::new);

/// Counts one tenant may have queued or running; more are refused at once (503), so a tenant
/// cannot pile up requests, each holding its body, behind its own.
pub const MAX_QUEUED_PER_TENANT: usize = 8;

/// Forgets a tenant's entry in [`TENANT_TURNS`] once nobody holds or waits for it (the map's
/// own reference is the last), whether its count ran or its caller went away waiting.
struct ForgetIdle(Uuid);

impl Drop for ForgetIdle {
    fn drop(&mut self) {
        TENANT_TURNS.remove_if(&self.0, |_, turns| Arc::strong_count(turns) == 1);
    }
}

/// Whether counting text bounded by `upper_bound` tokens with `tokenizer` should leave the
/// worker: a long text, or an encoder still to be built (tens of milliseconds).
pub fn is_heavy(tokenizer: Tokenizer, upper_bound: u32) -> bool {
    upper_bound > HEAVY_COUNT_TOKENS || !tokenizer.is_built()
}

/// Runs `count` for `tenant` on the blocking pool once no other heavy count is running and
/// none of the tenant's own is queued ahead of it. The count keeps its turns until it ends, even
/// when the request waiting for it is gone (a client that hangs up cannot start a second count).
pub async fn off_worker(
    counted: &Counter,
    tenant: Uuid,
    count: impl FnOnce() -> u32 + Send + 'static,
) -> Result<u32, ApiError> {
    let stopped = |_| ApiError::Internal("token counting stopped".into());
    // Declared first, dropped last: after this call's own reference to the entry.
    let _forget = ForgetIdle(tenant);
    let own = {
        let entry = TENANT_TURNS
            .entry(tenant)
            .or_insert_with(|| Arc::new(Semaphore::new(1)));
        // The map's reference, and one for each count queued or running.
        if Arc::strong_count(&entry) > MAX_QUEUED_PER_TENANT {
            return Err(ApiError::Unavailable(format!(
                "{MAX_QUEUED_PER_TENANT} long prompts of this tenant are already being counted; retry later"
            )));
        }
        entry.clone()
    };
    let own_turn = own.acquire_owned().await.map_err(stopped)?;
    let turn = HEAVY_COUNTS.acquire().await.map_err(stopped)?;
    counted.inc();
    tokio::task::spawn_blocking(move || {
        let _forget = ForgetIdle(tenant);
        let tokens = count();
        drop((turn, own_turn));
        tokens
    })
    .await
    .map_err(|e| ApiError::Internal(format!("token counting failed: {e}")))
}

/// The tokens of `text` (for a bill), counted off the worker when it is long. If the count
/// cannot run there (the tenant's queue is full, the runtime is shutting down), it runs here.
pub async fn text_tokens(
    counted: &Counter,
    tenant: Uuid,
    tokenizer: Tokenizer,
    text: String,
) -> u32 {
    let bound = u32::try_from(text.len()).unwrap_or(u32::MAX);
    if !is_heavy(tokenizer, bound) {
        return tokenizer.count_text(&text);
    }
    let text = Arc::new(text);
    let shared = text.clone();
    match off_worker(counted, tenant, move || tokenizer.count_text(&shared)).await {
        Ok(tokens) => tokens,
        Err(err) => {
            tracing::warn!(error = %err, "text counted on the worker");
            tokenizer.count_text(&text)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test]
    async fn long_texts_are_counted_the_same_off_the_worker() {
        let long = "the gateway counts every token ".repeat(2_000);
        assert!(is_heavy(Tokenizer::O200kBase, long.len() as u32));
        let (off, tenant) = (Counter::default(), Uuid::new_v4());
        let counted = text_tokens(&off, tenant, Tokenizer::O200kBase, long.clone()).await;
        assert_eq!(counted, Tokenizer::O200kBase.count_text(&long));
        assert!(counted > 10_000);
        assert_eq!(off.get(), 1);
        let short = text_tokens(&off, tenant, Tokenizer::O200kBase, "short".into()).await;
        assert_eq!(short, 1);
        assert_eq!(off.get(), 1, "a short text is counted where it is");
        assert!(
            !TENANT_TURNS.contains_key(&tenant),
            "an idle tenant is forgotten"
        );
    }

    #[tokio::test]
    async fn a_count_keeps_its_turn_when_its_caller_is_gone() {
        let (started, release) = (
            Arc::new(std::sync::Barrier::new(2)),
            Arc::new(std::sync::Barrier::new(2)),
        );
        let (s, r) = (started.clone(), release.clone());
        let abandoned = tokio::spawn(async move {
            off_worker(&Counter::default(), Uuid::new_v4(), move || {
                s.wait();
                r.wait();
                1
            })
            .await
        });
        tokio::task::spawn_blocking(move || started.wait())
            .await
            .ok();
        abandoned.abort();
        // The abandoned count still runs: another tenant's count waits for its turn.
        let next =
            tokio::spawn(async { off_worker(&Counter::default(), Uuid::new_v4(), || 2).await });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(!next.is_finished(), "a second count ran beside the first");
        tokio::task::spawn_blocking(move || release.wait())
            .await
            .ok();
        assert!(matches!(next.await, Ok(Ok(2))));
    }

    #[tokio::test]
    async fn a_tenant_queues_at_most_its_share_and_is_forgotten_once_idle() {
        let tenant = Uuid::new_v4();
        let release = Arc::new(std::sync::Barrier::new(2));
        let r = release.clone();
        let first = tokio::spawn(async move {
            off_worker(&Counter::default(), tenant, move || {
                r.wait();
                1
            })
            .await
        });
        while !TENANT_TURNS.contains_key(&tenant) {
            tokio::task::yield_now().await;
        }
        // The first holds its turn; the rest of the share waits behind it (the map holds one
        // reference, each count queued or running one).
        let mut waiting = Vec::new();
        while TENANT_TURNS
            .get(&tenant)
            .is_some_and(|turns| Arc::strong_count(&turns) <= MAX_QUEUED_PER_TENANT)
        {
            waiting.push(tokio::spawn(async move {
                off_worker(&Counter::default(), tenant, || 2).await
            }));
            tokio::task::yield_now().await;
        }
        let refused = off_worker(&Counter::default(), tenant, || 3).await;
        assert!(
            matches!(refused, Err(ApiError::Unavailable(_))),
            "{refused:?}"
        );
        // A waiter whose caller goes away leaves no trace.
        let gone = waiting.pop().map(|w| w.abort());
        assert!(gone.is_some());
        tokio::task::spawn_blocking(move || release.wait())
            .await
            .ok();
        assert!(matches!(first.await, Ok(Ok(1))));
        for waiter in waiting {
            assert!(matches!(waiter.await, Ok(Ok(2))));
        }
        assert!(
            !TENANT_TURNS.contains_key(&tenant),
            "an idle tenant is forgotten"
        );
    }

    #[tokio::test]
    async fn counts_run_one_at_a_time_and_a_tenant_with_many_waits_behind_its_own() {
        let (busy, patient) = (Uuid::new_v4(), Uuid::new_v4());
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let order = Arc::new(Mutex::new(Vec::new()));
        let off = Counter::default();
        let count = |tenant: Uuid, name: &'static str| {
            let (running, most, order) = (running.clone(), most.clone(), order.clone());
            off_worker(&off, tenant, move || {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(std::time::Duration::from_millis(5));
                order.lock().map(|mut o| o.push(name)).ok();
                running.fetch_sub(1, Ordering::SeqCst);
                1
            })
        };
        // The busy tenant asks for four counts before the patient one asks for one.
        let counts = futures_util::future::join_all([
            count(busy, "busy"),
            count(busy, "busy"),
            count(busy, "busy"),
            count(busy, "busy"),
            count(patient, "patient"),
        ])
        .await;
        assert!(counts.iter().all(|c| matches!(c, Ok(1))));
        assert_eq!(most.load(Ordering::SeqCst), 1, "two counts ran at once");
        assert_eq!(off.get(), 5);
        let order = order.lock().map(|o| o.clone()).unwrap_or_default();
        assert_eq!(order, ["busy", "patient", "busy", "busy", "busy"]);
    }
}
