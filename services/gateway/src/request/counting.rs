//! Token counting that would hold an HTTP worker runs beside it. Counting is about 80 ns a
//! token of prose and far slower on text the BPE merges in long runs: a 4 MiB prompt of one
//! letter takes 2 s (docs/benchmarks.md). On the worker that serves it, such a count would
//! stall every other tenant's request on that worker; here it runs on the blocking pool, one
//! such count at a time, so the workers keep a core whatever one tenant sends.

use tokio::sync::Semaphore;
use tollgate_billing::Tokenizer;

use crate::error::ApiError;
use prometheus_client::metrics::counter::Counter;

/// Prompts bounded above this many tokens (about their bytes) are counted off the worker:
/// about 1 ms of counting for prose.
pub const HEAVY_COUNT_TOKENS: u32 = 16 * 1024;

/// One heavy count at a time in the process: the other core stays with the HTTP workers.
static HEAVY_COUNTS: Semaphore = Semaphore::const_new(1);

/// Whether counting text bounded by `upper_bound` tokens with `tokenizer` should leave the
/// worker: a long text, or an encoder still to be built (tens of milliseconds).
pub fn is_heavy(tokenizer: Tokenizer, upper_bound: u32) -> bool {
    upper_bound > HEAVY_COUNT_TOKENS || !tokenizer.is_built()
}

/// Runs `count` on the blocking pool once no other heavy count is running. The count keeps its
/// turn until it ends, even when the request waiting for it is gone (a client that hangs up
/// cannot start more counts than one at a time).
pub async fn off_worker(
    counted: &Counter,
    count: impl FnOnce() -> u32 + Send + 'static,
) -> Result<u32, ApiError> {
    counted.inc();
    let turn = HEAVY_COUNTS
        .acquire()
        .await
        .map_err(|_| ApiError::Internal("token counting stopped".into()))?;
    tokio::task::spawn_blocking(move || {
        let _turn = turn;
        count()
    })
    .await
    .map_err(|e| ApiError::Internal(format!("token counting failed: {e}")))
}

/// The tokens of `text`, counted off the worker when it is long.
pub async fn text_tokens(
    counted: &Counter,
    tokenizer: Tokenizer,
    text: String,
) -> Result<u32, ApiError> {
    let bound = u32::try_from(text.len()).unwrap_or(u32::MAX);
    if is_heavy(tokenizer, bound) {
        off_worker(counted, move || tokenizer.count_text(&text)).await
    } else {
        Ok(tokenizer.count_text(&text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn long_texts_are_counted_the_same_off_the_worker() -> Result<(), ApiError> {
        let long = "the gateway counts every token ".repeat(2_000);
        assert!(is_heavy(Tokenizer::O200kBase, long.len() as u32));
        let off = Counter::default();
        let counted = text_tokens(&off, Tokenizer::O200kBase, long.clone()).await?;
        assert_eq!(counted, Tokenizer::O200kBase.count_text(&long));
        assert!(counted > 10_000);
        assert_eq!(off.get(), 1);
        assert_eq!(
            text_tokens(&off, Tokenizer::O200kBase, "short".into()).await?,
            1
        );
        assert_eq!(off.get(), 1, "a short text is counted where it is");
        Ok(())
    }

    #[tokio::test]
    async fn a_count_keeps_its_turn_when_its_caller_is_gone() {
        let (started, release) = (
            std::sync::Arc::new(std::sync::Barrier::new(2)),
            std::sync::Arc::new(std::sync::Barrier::new(2)),
        );
        let (s, r) = (started.clone(), release.clone());
        let abandoned = tokio::spawn(async move {
            off_worker(&Counter::default(), move || {
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
        // The abandoned count still runs: the next one waits for its turn.
        let next = tokio::spawn(async { off_worker(&Counter::default(), || 2).await });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(!next.is_finished(), "a second count ran beside the first");
        tokio::task::spawn_blocking(move || release.wait())
            .await
            .ok();
        assert!(matches!(next.await, Ok(Ok(2))));
    }

    #[tokio::test]
    async fn counts_queue_for_their_turn_and_all_finish() -> Result<(), ApiError> {
        let texts: Vec<String> = (0..8).map(|i| "ab".repeat(20_000 + i)).collect();
        let off = Counter::default();
        let counts = futures_util::future::join_all(
            texts
                .iter()
                .map(|t| text_tokens(&off, Tokenizer::Cl100kBase, t.clone())),
        )
        .await;
        assert_eq!(off.get(), 8);
        for (text, count) in texts.iter().zip(counts) {
            assert_eq!(count?, Tokenizer::Cl100kBase.count_text(text));
        }
        Ok(())
    }
}
