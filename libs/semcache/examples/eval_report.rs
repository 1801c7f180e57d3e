//! The hit decision on a labelled set, per split and per kind of pair, with Wilson 95 %
//! intervals: cosine alone and with the verification step, at the default threshold (or the
//! one given). Prints Markdown tables for docs/benchmarks.md.
//!
//! `TOLLGATE_MODELS_DIR=.tollgate/models cargo run --release -p tollgate-semcache --example
//! eval_report -- libs/semcache/eval/heldout/pairs.jsonl [threshold]`
//!
//! The tables per kind are for `EVAL_PRECISION` (`strict`, the default, or `balanced`); the
//! first table has both modes. `EVAL_SHOW=dev` also lists that split's false hits and the
//! paraphrases it missed, and `EVAL_ABLATE=dev` that split's figures with each check left out
//! in turn (tune on the dev part only: the test part is scored, never looked into).

use std::path::PathBuf;

use tollgate_semcache::evaluation::{Counts, Pair, counts_by, parse_pairs, score};
use tollgate_semcache::{Check, Checks, DEFAULT_THRESHOLD, Embedder, EmbedderConfig, Precision};

fn interval((lo, hi): (f64, f64)) -> String {
    format!("[{lo:.3}, {hi:.3}]")
}

fn row(name: &str, mode: &str, plain: &Counts, verified: &Counts) {
    println!(
        "| {name} | {mode} | {} | {:.3} / {:.3} | {:.3} {} | {:.3} {} | {} |",
        verified.pairs,
        plain.precision(),
        plain.recall(),
        verified.precision(),
        interval(verified.precision_interval()),
        verified.recall(),
        interval(verified.recall_interval()),
        verified.false_hits,
    )
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .ok_or("usage: eval_report PAIRS.jsonl [threshold]")?;
    let threshold: f32 = args.next().map_or(Ok(DEFAULT_THRESHOLD), |t| t.parse())?;
    let root = PathBuf::from(std::env::var("TOLLGATE_MODELS_DIR")?);
    let embedder = Embedder::start(&EmbedderConfig::from_models_root(&root))?;
    let pairs = parse_pairs(&std::fs::read_to_string(&path)?)?;
    let scored = score(&embedder, pairs).await?;
    let split = |p: &Pair| {
        if p.split.is_empty() {
            "all".to_owned()
        } else {
            p.split.clone()
        }
    };
    let precision: Precision =
        std::env::var("EVAL_PRECISION").map_or(Ok(Precision::Strict), |p| p.parse())?;
    println!(
        "{path}, threshold {threshold}, per kind: {}",
        precision.as_str()
    );
    let overall = |checks| counts_by(&scored, threshold, checks, |p| Some(split(p)));
    let plain = overall(Checks::NONE);
    println!();
    println!(
        "| split | precision mode | pairs | cosine only P / R | verified precision [95 % CI] | verified recall [95 % CI] | false hits |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    let modes = [Precision::Strict, Precision::Balanced].map(|mode| (mode, overall(mode.checks())));
    for name in plain.keys() {
        for (mode, verified) in &modes {
            row(name, mode.as_str(), &plain[name], &verified[name]);
        }
    }
    let verified = overall(precision.checks());
    for name in verified.keys() {
        // Near-misses per kind: the share the decision refuses (their precision contribution).
        let by_why = |checks| {
            counts_by(&scored, threshold, checks, |p| {
                (split(p) == *name).then(|| format!("{} / {}", p.kind, p.why))
            })
        };
        let (plain, verified) = (by_why(Checks::NONE), by_why(precision.checks()));
        println!();
        println!("{name}: per kind");
        println!();
        println!(
            "| kind / why | pairs | cosine only served | verified served [95 % CI] | verified false hits |"
        );
        println!("| --- | --- | --- | --- | --- |");
        for (why, counts) in &verified {
            let served = |c: &Counts| c.true_hits + c.false_hits;
            let (lo, hi) = tollgate_semcache::evaluation::wilson(served(counts), counts.pairs);
            println!(
                "| {why} | {} | {:.3} | {:.3} [{lo:.3}, {hi:.3}] | {} |",
                counts.pairs,
                served(&plain[why]) as f64 / plain[why].pairs as f64,
                served(counts) as f64 / counts.pairs as f64,
                counts.false_hits,
            );
        }
    }
    if let Ok(show) = std::env::var("EVAL_SHOW") {
        println!();
        for s in scored.iter().filter(|s| split(&s.pair) == show) {
            let served = s.served(threshold, precision.checks());
            if served != s.pair.hit {
                let verdict = if served { "false hit" } else { "missed" };
                println!(
                    "{verdict} ({} / {}, {:.3}): {:?} ~ {:?}",
                    s.pair.kind, s.pair.why, s.similarity, s.pair.a, s.pair.b
                );
            }
        }
    }
    if let Ok(ablate) = std::env::var("EVAL_ABLATE") {
        ablation(&scored, threshold, &ablate, split);
    }
    Ok(())
}

/// One split's figures with every check, then with each check left out in turn, and the pairs
/// only that check turns away (paraphrases it costs, near-misses it alone stops).
fn ablation(
    scored: &[tollgate_semcache::evaluation::Scored],
    threshold: f32,
    name: &str,
    split: impl Fn(&Pair) -> String,
) {
    let part: Vec<_> = scored
        .iter()
        .filter(|s| split(&s.pair) == name)
        .cloned()
        .collect();
    println!();
    println!("{name}: each check left out");
    println!();
    println!(
        "| left out | precision | recall | false hits | paraphrases it alone turns away | near-misses it alone stops |"
    );
    println!("| --- | --- | --- | --- | --- | --- |");
    let all = Checks::all();
    let figures = |checks| counts_by(&part, threshold, checks, |_| Some(String::new()))[""];
    let every = figures(all);
    println!(
        "| nothing | {:.3} | {:.3} | {} | | |",
        every.precision(),
        every.recall(),
        every.false_hits
    );
    for check in Check::ALL {
        let without = all.without(check);
        let counts = figures(without);
        let alone = |hit: bool| {
            part.iter()
                .filter(|s| {
                    s.pair.hit == hit && s.served(threshold, without) && !s.served(threshold, all)
                })
                .count()
        };
        println!(
            "| {check:?} | {:.3} | {:.3} | {} | {} | {} |",
            counts.precision(),
            counts.recall(),
            counts.false_hits,
            alone(true),
            alone(false),
        );
    }
}
