//! Strategies: the order in which a route's available deployments are tried.

use std::cmp::Ordering;
use std::str::FromStr;
use std::sync::Arc;

use tollgate_billing::{Usage, cost_of};

use crate::deployment::Deployment;
use crate::route::RequestShape;

/// How a route picks its first deployment (the others follow as fallbacks).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Strategy {
    /// Lowest tier first, then lowest priority ("cheapest viable first, paid as fallback");
    /// ties split by weight.
    #[default]
    Priority,
    /// Random, proportional to weight.
    Weighted,
    /// Cheapest estimated cost for this request (prompt + expected output at each price).
    Cost,
    /// Peak-EWMA latency x in-flight, power of two random choices.
    Latency,
    /// Fewest attempts in flight.
    LeastBusy,
    /// Blend: half normalised estimated cost, half normalised latency load (lower is better).
    Balanced,
}

impl Strategy {
    /// Config name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Priority => "priority",
            Self::Weighted => "weighted",
            Self::Cost => "cost",
            Self::Latency => "latency",
            Self::LeastBusy => "least-busy",
            Self::Balanced => "balanced",
        }
    }

    /// Orders `candidates` for one request (first = chosen, the rest = fallbacks).
    pub fn order(
        self,
        candidates: &[Arc<Deployment>],
        shape: &RequestShape,
        now_ms: u64,
    ) -> Vec<Arc<Deployment>> {
        let mut scored: Vec<(f64, &Arc<Deployment>)> = match self {
            Self::Priority => {
                // Weighted-random order first, then a stable sort by (tier, priority) keeps it
                // as the tie-break inside each group.
                let mut ordered = weighted_order(candidates);
                ordered.sort_by_key(|d| (d.tier.rank, d.priority));
                return ordered.into_iter().cloned().collect();
            }
            Self::Weighted => {
                return weighted_order(candidates).into_iter().cloned().collect();
            }
            Self::Cost => candidates
                .iter()
                .map(|d| (estimated_cost(d, shape), d))
                .collect(),
            Self::Latency => {
                let mut v: Vec<(f64, &Arc<Deployment>)> = candidates
                    .iter()
                    .map(|d| (d.health.load_score(now_ms), d))
                    .collect();
                sort_with_random_ties(&mut v);
                power_of_two_first(&mut v);
                return v.into_iter().map(|(_, d)| d.clone()).collect();
            }
            Self::LeastBusy => candidates
                .iter()
                .map(|d| (f64::from(d.health.in_flight()), d))
                .collect(),
            Self::Balanced => {
                let costs: Vec<f64> = candidates
                    .iter()
                    .map(|d| estimated_cost(d, shape))
                    .collect();
                let loads: Vec<f64> = candidates
                    .iter()
                    .map(|d| d.health.load_score(now_ms))
                    .collect();
                let max_cost = costs.iter().copied().fold(0.0, f64::max);
                let max_load = loads.iter().copied().fold(0.0, f64::max);
                let norm = |v: f64, max: f64| if max > 0.0 { v / max } else { 0.0 };
                candidates
                    .iter()
                    .enumerate()
                    .map(|(i, d)| {
                        (
                            0.5 * norm(costs[i], max_cost) + 0.5 * norm(loads[i], max_load),
                            d,
                        )
                    })
                    .collect()
            }
        };
        sort_with_random_ties(&mut scored);
        scored.into_iter().map(|(_, d)| d.clone()).collect()
    }
}

impl FromStr for Strategy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "priority" => Self::Priority,
            "weighted" => Self::Weighted,
            "cost" => Self::Cost,
            "latency" => Self::Latency,
            "least-busy" | "least_busy" => Self::LeastBusy,
            "balanced" => Self::Balanced,
            other => {
                return Err(format!(
                    "unknown strategy '{other}' (priority, weighted, cost, latency, least-busy, balanced)"
                ));
            }
        })
    }
}

/// Estimated cost of the request on `d` in USD (as f64: a ranking key, never billed).
fn estimated_cost(d: &Deployment, shape: &RequestShape) -> f64 {
    let cost = cost_of(
        Usage {
            prompt_tokens: shape.prompt_tokens,
            completion_tokens: shape.max_output_tokens,
            cached_tokens: 0,
        },
        &d.price,
    );
    cost.try_into().unwrap_or(f64::MAX)
}

/// Weighted random permutation (Efraimidis-Spirakis: key = u^(1/w), highest first): the first
/// element is chosen with probability weight / total.
fn weighted_order(candidates: &[Arc<Deployment>]) -> Vec<&Arc<Deployment>> {
    let mut keyed: Vec<(f64, &Arc<Deployment>)> = candidates
        .iter()
        .map(|d| {
            let w = f64::from(d.weight.max(1));
            (fastrand::f64().powf(1.0 / w), d)
        })
        .collect();
    keyed.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap_or(Ordering::Equal));
    keyed.into_iter().map(|(_, d)| d).collect()
}

/// Sorts ascending by score; equal scores end up in random order.
fn sort_with_random_ties(v: &mut [(f64, &Arc<Deployment>)]) {
    fastrand::shuffle(v);
    v.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(Ordering::Equal));
}

/// Power of two choices: of two random candidates, the lower-scored goes first (so the best
/// one is not chosen by every gateway at once, a herd effect on a stale figure).
fn power_of_two_first(v: &mut [(f64, &Arc<Deployment>)]) {
    if v.len() < 3 {
        return;
    }
    let a = fastrand::usize(..v.len());
    let mut b = fastrand::usize(..v.len() - 1);
    if b >= a {
        b += 1;
    }
    let pick = if v[a].0 <= v[b].0 { a } else { b };
    let chosen = v[pick];
    v.copy_within(0..pick, 1);
    v[0] = chosen;
}
