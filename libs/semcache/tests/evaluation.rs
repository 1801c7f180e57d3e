//! The hit decision on the repo's labelled set, with the real model: precision >= 0.95 and
//! recall >= 0.6 at the default threshold (the target). Prints the figures.

use tollgate_semcache::evaluation::{parse_pairs, report, score};
use tollgate_semcache::{Checks, DEFAULT_THRESHOLD, Precision};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hit_decision_meets_the_precision_and_recall_target() {
    let embedder = crate::real_embedder();
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/eval/pairs.jsonl")).unwrap();
    let pairs = parse_pairs(&text).unwrap();
    assert!(pairs.len() >= 400);
    let scored = score(&embedder, pairs).await.unwrap();
    for threshold in [0.6, 0.7, 0.75, 0.8, 0.85, 0.9] {
        let plain = report(&scored, threshold, Checks::NONE);
        let verified = report(&scored, threshold, Precision::Strict.checks());
        println!(
            "threshold {threshold:.2}: cosine only P {:.3} R {:.3} | verified P {:.3} R {:.3} ({} false hits of {})",
            plain.precision,
            plain.recall,
            verified.precision,
            verified.recall,
            verified.false_hits,
            verified.pairs
        );
    }
    for s in scored
        .iter()
        .filter(|s| s.served(DEFAULT_THRESHOLD, Precision::Strict.checks()) && !s.pair.hit)
    {
        println!(
            "false hit ({}): {:?} ~ {:?} ({:.3})",
            s.pair.why, s.pair.a, s.pair.b, s.similarity
        );
    }
    let result = report(&scored, DEFAULT_THRESHOLD, Precision::Strict.checks());
    assert!(
        result.precision >= 0.95 && result.recall >= 0.6,
        "precision {:.3}, recall {:.3} at threshold {DEFAULT_THRESHOLD}",
        result.precision,
        result.recall
    );
}

/// The held-out set (written without reading the verifier, split once by template family):
/// the test part is only scored. Its figures in each precision mode may not fall below what
/// the verifier reached when they were recorded in docs/benchmarks.md (strict: precision
/// 0.882, recall 0.564; balanced: 0.852, 0.605); issue 24's target is 0.95 and 0.60.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_held_out_test_part_keeps_its_precision_and_recall() {
    use std::collections::BTreeMap;

    use tollgate_semcache::evaluation::counts_by;

    let embedder = crate::real_embedder();
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/eval/heldout/pairs.jsonl"
    ))
    .unwrap();
    let pairs = parse_pairs(&text).unwrap();
    // Split by family: no family in both parts.
    let mut family_split: BTreeMap<&str, &str> = BTreeMap::new();
    for pair in &pairs {
        let split = family_split.entry(&pair.family).or_insert(&pair.split);
        assert_eq!(*split, pair.split, "family {} in both parts", pair.family);
    }
    let test: Vec<_> = pairs.into_iter().filter(|p| p.split == "test").collect();
    assert!(test.len() >= 2000);
    let scored = score(&embedder, test).await.unwrap();
    for (mode, least_precision, least_recall) in [
        (Precision::Strict, 0.875, 0.555),
        (Precision::Balanced, 0.845, 0.595),
    ] {
        let overall = counts_by(&scored, DEFAULT_THRESHOLD, mode.checks(), |_| {
            Some(String::new())
        });
        let counts = overall[""];
        println!(
            "held-out test part, {}: precision {:.3}, recall {:.3}, {} false hits of {} pairs",
            mode.as_str(),
            counts.precision(),
            counts.recall(),
            counts.false_hits,
            counts.pairs
        );
        assert!(
            counts.precision() >= least_precision && counts.recall() >= least_recall,
            "{}: precision {:.3}, recall {:.3}",
            mode.as_str(),
            counts.precision(),
            counts.recall()
        );
    }
}
