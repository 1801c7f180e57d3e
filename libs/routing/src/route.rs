//! A route: a logical model served by one or more deployments.

use std::sync::Arc;

use tollgate_billing::ModelPrice;

use crate::deployment::Deployment;
use crate::now_ms;
use crate::retry::RetryPolicy;
use crate::strategy::Strategy;

/// What the strategies know about a request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RequestShape {
    /// Prompt tokens (estimated or counted).
    pub prompt_tokens: u32,
    /// Output tokens the request may produce.
    pub max_output_tokens: u32,
}

/// A logical model and how to serve it.
#[derive(Debug)]
pub struct Route {
    /// The name clients ask for.
    pub name: String,
    /// How the first deployment is chosen.
    pub strategy: Strategy,
    /// Where it can be served.
    pub deployments: Vec<Arc<Deployment>>,
    /// Retries, fallback and deadline.
    pub retry: RetryPolicy,
    /// The dearest price of any deployment, component by component: what admission reserves
    /// so that whichever deployment answers, the estimate covers it.
    pub admission_price: ModelPrice,
    /// The request field its upstreams read as the output limit (`max_tokens`, or
    /// `max_completion_tokens` for OpenAI's reasoning models), set to the key's, the route's
    /// or the gateway's default when a request has none.
    pub output_limit_field: &'static str,
    /// Output tokens a request without a limit is reserved and sent upstream with (`None`: the
    /// gateway's default).
    pub default_max_tokens: Option<u32>,
    /// Most output tokens one request may ask for, all choices together (`max_tokens x n`);
    /// `None`: no ceiling.
    pub max_output_tokens: Option<u32>,
}

/// The deployments to try for one request, in order.
pub type Plan = Vec<Arc<Deployment>>;

impl Route {
    /// Orders the deployments `allowed` for this request: the available ones (breaker passes,
    /// no `Retry-After` pending, a key under its caps) by the route's strategy, then the
    /// unavailable ones by tier and priority (tried only if they recover in time).
    pub fn plan(&self, shape: &RequestShape, allowed: impl Fn(&Deployment) -> bool) -> Plan {
        let now = now_ms();
        let (available, mut rest): (Vec<_>, Vec<_>) = self
            .deployments
            .iter()
            .filter(|d| allowed(d))
            .cloned()
            .partition(|d| d.available(now));
        let mut plan = self.strategy.order(&available, shape, now);
        rest.sort_by_key(|d| (d.tier.rank, d.priority));
        plan.extend(rest);
        plan
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::time::Duration;

    use rust_decimal::Decimal;
    use tollgate_billing::Tokenizer;

    use super::*;
    use crate::{BreakerSettings, Health, Tier};

    fn price(input: i64, output: i64) -> ModelPrice {
        ModelPrice {
            input_per_million: Decimal::new(input, 2),
            output_per_million: Decimal::new(output, 2),
            cached_input_per_million: Decimal::new(input, 3),
            tokenizer: Tokenizer::O200kBase,
            version: "t".into(),
        }
    }

    fn deployment(
        name: &str,
        weight: u32,
        tier: u32,
        priority: u32,
        p: ModelPrice,
    ) -> Arc<Deployment> {
        Arc::new(Deployment::new(
            name.into(),
            "p".into(),
            0,
            name.into(),
            weight,
            priority,
            Tier {
                name: format!("t{tier}"),
                rank: tier,
            },
            p,
            &[],
            Arc::new(Health::new(
                BreakerSettings {
                    consecutive_failures: 2,
                    cooldown: Duration::from_secs(60),
                    ..BreakerSettings::default()
                },
                Duration::from_secs(10),
            )),
        ))
    }

    fn route(strategy: Strategy, deployments: Vec<Arc<Deployment>>) -> Route {
        Route {
            name: "r".into(),
            strategy,
            admission_price: deployments[0].price.clone(),
            deployments,
            retry: RetryPolicy::default(),
            output_limit_field: "max_tokens",
            default_max_tokens: None,
            max_output_tokens: None,
        }
    }

    fn firsts(route: &Route, n: usize) -> HashMap<String, usize> {
        let mut counts = HashMap::new();
        for _ in 0..n {
            let plan = route.plan(&RequestShape::default(), |_| true);
            *counts.entry(plan[0].name.clone()).or_insert(0) += 1;
        }
        counts
    }

    #[test]
    fn weighted_first_choice_follows_weights() {
        let r = route(
            Strategy::Weighted,
            vec![
                deployment("a", 1, 0, 0, price(100, 100)),
                deployment("b", 3, 0, 0, price(100, 100)),
            ],
        );
        let counts = firsts(&r, 20_000);
        let share_b = counts["b"] as f64 / 20_000.0;
        assert!((share_b - 0.75).abs() < 0.02, "{share_b}");
    }

    #[test]
    fn priority_prefers_lower_tier_then_priority_and_keeps_the_rest_as_fallback() {
        let r = route(
            Strategy::Priority,
            vec![
                deployment("paid", 1, 2, 0, price(100, 100)),
                deployment("free-2", 1, 0, 2, price(0, 0)),
                deployment("free-1", 1, 0, 1, price(0, 0)),
            ],
        );
        let plan = r.plan(&RequestShape::default(), |_| true);
        let names: Vec<&str> = plan.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["free-1", "free-2", "paid"]);
    }

    #[test]
    fn cost_picks_cheapest_for_the_request_shape() {
        // cheap-in is cheaper for long prompts; cheap-out for long answers.
        let r = route(
            Strategy::Cost,
            vec![
                deployment("cheap-in", 1, 0, 0, price(10, 1000)),
                deployment("cheap-out", 1, 0, 0, price(1000, 10)),
            ],
        );
        let long_prompt = RequestShape {
            prompt_tokens: 10_000,
            max_output_tokens: 10,
        };
        let long_answer = RequestShape {
            prompt_tokens: 10,
            max_output_tokens: 10_000,
        };
        assert_eq!(r.plan(&long_prompt, |_| true)[0].name, "cheap-in");
        assert_eq!(r.plan(&long_answer, |_| true)[0].name, "cheap-out");
    }

    #[test]
    fn latency_avoids_the_slow_deployment() {
        let slow = deployment("slow", 1, 0, 0, price(1, 1));
        let fast = deployment("fast", 1, 0, 0, price(1, 1));
        let third = deployment("third", 1, 0, 0, price(1, 1));
        for d in [&slow, &fast, &third] {
            let mut attempt = d.begin().unwrap();
            let latency = if d.name == "slow" { 500 } else { 5 };
            attempt.succeeded(Duration::from_millis(latency));
        }
        let r = route(Strategy::Latency, vec![slow, fast, third]);
        let counts = firsts(&r, 3_000);
        // P2C: the slow one is chosen only when it is paired with itself, which cannot happen.
        assert_eq!(counts.get("slow"), None, "{counts:?}");
    }

    #[test]
    fn least_busy_picks_fewest_in_flight() {
        let busy = deployment("busy", 1, 0, 0, price(1, 1));
        let idle = deployment("idle", 1, 0, 0, price(1, 1));
        let _held = busy.begin().unwrap();
        let r = route(Strategy::LeastBusy, vec![busy.clone(), idle]);
        assert_eq!(r.plan(&RequestShape::default(), |_| true)[0].name, "idle");
    }

    #[test]
    fn open_breaker_moves_a_deployment_to_the_end() {
        let broken = deployment("broken", 100, 0, 0, price(1, 1));
        let ok = deployment("ok", 1, 1, 0, price(1, 1));
        for _ in 0..2 {
            broken.begin().unwrap().failed(Duration::from_millis(1));
        }
        assert!(broken.begin().is_none(), "open breaker refuses attempts");
        let r = route(Strategy::Priority, vec![broken, ok]);
        let plan = r.plan(&RequestShape::default(), |_| true);
        assert_eq!(plan[0].name, "ok");
        assert_eq!(plan[1].name, "broken");
    }

    #[test]
    fn plan_respects_the_allowed_filter() {
        let r = route(
            Strategy::Weighted,
            vec![
                deployment("a", 1, 0, 0, price(1, 1)),
                deployment("b", 1, 0, 0, price(1, 1)),
            ],
        );
        let plan = r.plan(&RequestShape::default(), |d| d.name == "b");
        assert_eq!(plan.len(), 1);
        assert_eq!(plan[0].name, "b");
    }
}
