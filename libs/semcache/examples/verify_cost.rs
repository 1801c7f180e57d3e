//! Time of the verification step per candidate (`same_details`: the details of both prompts
//! and their comparison), over every pair of a labelled set, 20 times; no model involved.
//!
//! `cargo run --release -p tollgate-semcache --example verify_cost -- PAIRS.jsonl`
use std::time::Instant;

use tollgate_semcache::evaluation::parse_pairs;
use tollgate_semcache::same_details;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .ok_or("usage: verify_cost PAIRS.jsonl")?;
    let pairs = parse_pairs(&std::fs::read_to_string(path)?)?;
    let mut times: Vec<f64> = Vec::with_capacity(pairs.len() * 20);
    for _ in 0..20 {
        for pair in &pairs {
            let start = Instant::now();
            std::hint::black_box(same_details(&pair.a, &pair.b));
            times.push(start.elapsed().as_secs_f64() * 1e6);
        }
    }
    times.sort_by(f64::total_cmp);
    let at = |q: f64| times[((times.len() - 1) as f64 * q) as usize];
    println!(
        "{} verifications: p50 {:.1} us, p99 {:.1} us, max {:.1} us",
        times.len(),
        at(0.5),
        at(0.99),
        at(1.0)
    );
    Ok(())
}
