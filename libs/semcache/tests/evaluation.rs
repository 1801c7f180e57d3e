//! The hit decision on the repo's labelled set, with the real model: precision >= 0.95 and
//! recall >= 0.6 at the default threshold (the target). Prints the figures.

use tollgate_semcache::DEFAULT_THRESHOLD;
use tollgate_semcache::evaluation::{parse_pairs, report, score};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hit_decision_meets_the_precision_and_recall_target() {
    let embedder = crate::real_embedder();
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/eval/pairs.jsonl")).unwrap();
    let pairs = parse_pairs(&text).unwrap();
    assert!(pairs.len() >= 400);
    let scored = score(&embedder, pairs).await.unwrap();
    for threshold in [0.6, 0.7, 0.75, 0.8, 0.85, 0.9] {
        let plain = report(&scored, threshold, false);
        let verified = report(&scored, threshold, true);
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
        .filter(|s| s.similarity >= DEFAULT_THRESHOLD && s.details_agree && !s.pair.hit)
    {
        println!(
            "false hit ({}): {:?} ~ {:?} ({:.3})",
            s.pair.why, s.pair.a, s.pair.b, s.similarity
        );
    }
    let result = report(&scored, DEFAULT_THRESHOLD, true);
    assert!(
        result.precision >= 0.95 && result.recall >= 0.6,
        "precision {:.3}, recall {:.3} at threshold {DEFAULT_THRESHOLD}",
        result.precision,
        result.recall
    );
}

/// The held-out set (written without reading the verifier, split once by template family):
/// the test part is only scored. Its figures may not fall below what the verifier reached when
/// they were recorded in docs/benchmarks.md (precision 0.887, recall 0.453); issue 24's target
/// is 0.95 and 0.60.
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
    let overall = counts_by(&scored, DEFAULT_THRESHOLD, true, |_| Some(String::new()));
    let counts = overall[""];
    println!(
        "held-out test part: precision {:.3}, recall {:.3}, {} false hits of {} pairs",
        counts.precision(),
        counts.recall(),
        counts.false_hits,
        counts.pairs
    );
    assert!(
        counts.precision() >= 0.88 && counts.recall() >= 0.44,
        "precision {:.3}, recall {:.3}",
        counts.precision(),
        counts.recall()
    );
}
