//! Precision and recall of the hit decision (similarity threshold + verification) on the
//! labelled pairs in `libs/semcache/eval/pairs.jsonl` (the development set the rules grew
//! with) and `libs/semcache/eval/heldout/pairs.jsonl` (written without reading the rules, split
//! by template family into a dev part for tuning and a test part that is only scored).

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;

use crate::{Checks, EmbedError, Embedder, Salient, cosine};

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
    /// Kind of prompt (questions, code, translation...), where the set records it.
    #[serde(default)]
    pub domain: String,
    /// Template family that produced the pair, where the set records it.
    #[serde(default)]
    pub family: String,
    /// `dev` (tune on it) or `test` (only score it), where the set is split.
    #[serde(default)]
    pub split: String,
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
    /// The checks on which the two prompts' salient details disagree.
    pub disagreements: Checks,
}

impl Scored {
    /// Whether the pair is served at `threshold` when `checks` are enforced.
    pub fn served(&self, threshold: f32, checks: Checks) -> bool {
        self.similarity >= threshold && !self.disagreements.intersects(checks)
    }
}

/// Embeds every distinct prompt of the pairs once and scores each pair.
pub async fn score(embedder: &Embedder, pairs: Vec<Pair>) -> Result<Vec<Scored>, EmbedError> {
    let mut vectors: HashMap<String, Vec<f32>> = HashMap::new();
    let mut scored = Vec::with_capacity(pairs.len());
    for pair in pairs {
        for prompt in [&pair.a, &pair.b] {
            if !vectors.contains_key(prompt) {
                let vector = embedder.embed(prompt.clone()).await?;
                vectors.insert(prompt.clone(), vector);
            }
        }
        scored.push(Scored {
            similarity: cosine(&vectors[&pair.a], &vectors[&pair.b]),
            disagreements: Salient::of(&pair.a).disagreements(&Salient::of(&pair.b)),
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

/// Precision and recall at `threshold` with `checks` enforced (`Checks::NONE`: cosine alone).
pub fn report(scored: &[Scored], threshold: f32, checks: Checks) -> Report {
    let all = counts_by(scored, threshold, checks, |_| Some(String::new()))
        .remove("")
        .unwrap_or_default();
    Report {
        precision: all.precision(),
        recall: all.recall(),
        false_hits: all.false_hits,
        pairs: scored.len(),
    }
}

/// The decision's counts on a group of pairs, with Wilson 95 % intervals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    /// Pairs in the group.
    pub pairs: usize,
    /// Should be served and were.
    pub true_hits: usize,
    /// Should not be served and were.
    pub false_hits: usize,
    /// Should be served.
    pub should: usize,
}

impl Counts {
    /// Served and right / served (1 when nothing was served).
    pub fn precision(&self) -> f64 {
        ratio(self.true_hits, self.true_hits + self.false_hits)
    }

    /// Served and right / should have been served (1 when nothing should).
    pub fn recall(&self) -> f64 {
        ratio(self.true_hits, self.should)
    }

    /// Wilson 95 % interval of the precision.
    pub fn precision_interval(&self) -> (f64, f64) {
        wilson(self.true_hits, self.true_hits + self.false_hits)
    }

    /// Wilson 95 % interval of the recall.
    pub fn recall_interval(&self) -> (f64, f64) {
        wilson(self.true_hits, self.should)
    }

    /// Of the pairs that should not be served, the share that was not (a near-miss kind's
    /// safety, where the group holds no pair that should be served).
    pub fn rejected(&self) -> f64 {
        ratio(
            self.pairs - self.should - self.false_hits,
            self.pairs - self.should,
        )
    }
}

/// The decision's counts at `threshold` with `checks` enforced, per group, `group` naming each
/// pair's group (pairs it names `None` are left out).
pub fn counts_by(
    scored: &[Scored],
    threshold: f32,
    checks: Checks,
    group: impl Fn(&Pair) -> Option<String>,
) -> BTreeMap<String, Counts> {
    let mut groups: BTreeMap<String, Counts> = BTreeMap::new();
    for s in scored {
        let Some(name) = group(&s.pair) else {
            continue;
        };
        let served = s.served(threshold, checks);
        let counts = groups.entry(name).or_default();
        counts.pairs += 1;
        counts.should += usize::from(s.pair.hit);
        counts.true_hits += usize::from(served && s.pair.hit);
        counts.false_hits += usize::from(served && !s.pair.hit);
    }
    groups
}

fn ratio(n: usize, d: usize) -> f64 {
    if d == 0 { 1.0 } else { n as f64 / d as f64 }
}

/// Wilson score interval (95 %) of `k` successes in `n` trials; (0, 1) for none.
pub fn wilson(k: usize, n: usize) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let (k, n, z) = (k as f64, n as f64, 1.96_f64);
    let p = k / n;
    let centre = (p + z * z / (2.0 * n)) / (1.0 + z * z / n);
    let half = z * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt() / (1.0 + z * z / n);
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_intervals_match_the_textbook_values() {
        let close = |(lo, hi): (f64, f64), (a, b): (f64, f64)| {
            assert!((lo - a).abs() < 1e-4 && (hi - b).abs() < 1e-4, "{lo} {hi}");
        };
        close(wilson(95, 100), (0.88825, 0.97846));
        close(wilson(0, 10), (0.0, 0.27754));
        close(wilson(10, 10), (0.72246, 1.0));
        assert_eq!(wilson(0, 0), (0.0, 1.0));
    }
}
