//! Precision and recall of the hit decision (similarity threshold + verification) on the
//! labelled pairs in `libs/semcache/eval/pairs.jsonl`.

use serde::Deserialize;

use crate::{EmbedError, Embedder, cosine, same_details};

/// One labelled pair.
#[derive(Debug, Clone, Deserialize)]
pub struct Pair {
    /// The cached prompt.
    pub a: String,
    /// The new prompt.
    pub b: String,
    /// Whether `b` may be answered with `a`'s answer.
    pub hit: bool,
    /// `paraphrase`, `near_miss` or `unrelated`.
    pub kind: String,
    /// What differs (or how it is reworded).
    pub why: String,
}

/// Parses the JSON-lines set.
pub fn parse_pairs(text: &str) -> Result<Vec<Pair>, serde_json::Error> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(serde_json::from_str)
        .collect()
}

/// A pair with its similarity and verification verdict.
#[derive(Debug, Clone)]
pub struct Scored {
    /// The pair.
    pub pair: Pair,
    /// Cosine similarity of the two prompts.
    pub similarity: f32,
    /// Whether the salient details agree.
    pub details_agree: bool,
}

/// Embeds every pair once.
pub async fn score(embedder: &Embedder, pairs: Vec<Pair>) -> Result<Vec<Scored>, EmbedError> {
    let mut scored = Vec::with_capacity(pairs.len());
    for pair in pairs {
        let a = embedder.embed(pair.a.clone()).await?;
        let b = embedder.embed(pair.b.clone()).await?;
        scored.push(Scored {
            similarity: cosine(&a, &b),
            details_agree: same_details(&pair.a, &pair.b),
            pair,
        });
    }
    Ok(scored)
}

/// Precision and recall of one decision rule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Report {
    /// Served and right / served.
    pub precision: f64,
    /// Served and right / should have been served.
    pub recall: f64,
    /// Wrongly served.
    pub false_hits: usize,
    /// Pairs.
    pub pairs: usize,
}

/// Precision and recall at `threshold`, with (`verify`) or without the verification step.
pub fn report(scored: &[Scored], threshold: f32, verify: bool) -> Report {
    let served = |s: &&Scored| s.similarity >= threshold && (!verify || s.details_agree);
    let true_hits = scored.iter().filter(served).filter(|s| s.pair.hit).count();
    let false_hits = scored.iter().filter(served).filter(|s| !s.pair.hit).count();
    let should = scored.iter().filter(|s| s.pair.hit).count();
    let ratio = |n: usize, d: usize| if d == 0 { 1.0 } else { n as f64 / d as f64 };
    Report {
        precision: ratio(true_hits, true_hits + false_hits),
        recall: ratio(true_hits, should),
        false_hits,
        pairs: scored.len(),
    }
}
