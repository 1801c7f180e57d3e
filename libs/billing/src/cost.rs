use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::ModelPrice;

/// Token counts of one request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Tokens in the prompt.
    pub prompt_tokens: u32,
    /// Tokens in the completion.
    pub completion_tokens: u32,
    /// Of `prompt_tokens`, those read from the provider's prompt cache (billed at the cached
    /// input price).
    #[serde(default)]
    pub cached_tokens: u32,
}

/// Every money amount the ledger stores is below this in magnitude: its columns are
/// `NUMERIC(20,10)`, 10 integer digits.
pub const MONEY_LIMIT: Decimal = Decimal::from_parts(1_410_065_408, 2, 0, false, 0);

const ONE_MILLION: Decimal = Decimal::from_parts(1_000_000, 0, 0, false, 0);

/// Exact cost in USD: (uncached prompt x input + cached prompt x cached input + completion x
/// output) / 1,000,000. Cached tokens beyond the prompt count are ignored.
///
/// Never rounded: rounding is for display only.
pub fn cost_of(usage: Usage, price: &ModelPrice) -> Decimal {
    let cached = usage.cached_tokens.min(usage.prompt_tokens);
    let uncached = usage.prompt_tokens - cached;
    let input = Decimal::from(uncached) * price.input_per_million
        + Decimal::from(cached) * price.cached_input_per_million;
    let output = Decimal::from(usage.completion_tokens) * price.output_per_million;
    ((input + output) / ONE_MILLION).normalize()
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use proptest::prelude::*;

    use super::*;
    use crate::Tokenizer;

    fn price(input: &str, output: &str) -> ModelPrice {
        ModelPrice {
            input_per_million: Decimal::from_str(input).unwrap_or_default(),
            output_per_million: Decimal::from_str(output).unwrap_or_default(),
            cached_input_per_million: Decimal::from_str(input).unwrap_or_default() / Decimal::TEN,
            tokenizer: Tokenizer::O200kBase,
            version: "test".into(),
        }
    }

    #[test]
    fn demo_small_cost_is_exact() {
        let usage = Usage {
            prompt_tokens: 1_000,
            completion_tokens: 500,
            cached_tokens: 0,
        };
        // 1000 * 0.15 / 1e6 + 500 * 0.60 / 1e6 = 0.00015 + 0.0003
        assert_eq!(
            cost_of(usage, &price("0.15", "0.60")).to_string(),
            "0.00045"
        );
    }

    #[test]
    fn single_token_cost_keeps_all_digits() {
        let usage = Usage {
            prompt_tokens: 1,
            completion_tokens: 1,
            cached_tokens: 0,
        };
        assert_eq!(
            cost_of(usage, &price("2.50", "10.00")).to_string(),
            "0.0000125"
        );
    }

    #[test]
    fn cached_prompt_tokens_are_billed_at_the_cached_price() {
        let usage = Usage {
            prompt_tokens: 1_000,
            completion_tokens: 100,
            cached_tokens: 400,
        };
        // 600 x 2.50 + 400 x 0.25 + 100 x 10.00 = 1500 + 100 + 1000 = 2600 per 1M
        assert_eq!(
            cost_of(usage, &price("2.50", "10.00")).to_string(),
            "0.0026"
        );
        let over = Usage {
            cached_tokens: 5_000,
            ..usage
        };
        // Never more cached tokens than prompt tokens: 1000 x 0.25 + 1000 = 1250 per 1M.
        assert_eq!(
            cost_of(over, &price("2.50", "10.00")).to_string(),
            "0.00125"
        );
    }

    #[test]
    fn zero_usage_costs_nothing() {
        assert_eq!(
            cost_of(Usage::default(), &price("2.5", "10")),
            Decimal::ZERO
        );
    }

    proptest! {
        /// Cost is additive: billing two requests separately equals billing their sum.
        #[test]
        fn cost_is_additive(
            p1 in 0u32..5_000_000, c1 in 0u32..5_000_000,
            p2 in 0u32..5_000_000, c2 in 0u32..5_000_000,
            input_cents in 0u32..100_000, output_cents in 0u32..100_000,
        ) {
            let price = ModelPrice {
                input_per_million: Decimal::new(input_cents.into(), 2),
                output_per_million: Decimal::new(output_cents.into(), 2),
                cached_input_per_million: Decimal::new(input_cents.into(), 3),
                tokenizer: Tokenizer::O200kBase,
                version: "p".into(),
            };
            let a = cost_of(Usage { prompt_tokens: p1, completion_tokens: c1, cached_tokens: p1 / 3 }, &price);
            let b = cost_of(Usage { prompt_tokens: p2, completion_tokens: c2, cached_tokens: p2 / 3 }, &price);
            let both = cost_of(Usage { prompt_tokens: p1 + p2, completion_tokens: c1 + c2, cached_tokens: p1 / 3 + p2 / 3 }, &price);
            prop_assert_eq!(a + b, both);
        }

        /// Cost multiplied back by one million gives the integer-exact product.
        #[test]
        fn cost_round_trips_to_exact_product(p in 0u32..u32::MAX, c in 0u32..u32::MAX) {
            let price = price("0.15", "0.60");
            let cost = cost_of(Usage { prompt_tokens: p, completion_tokens: c, cached_tokens: 0 }, &price);
            let expected = Decimal::from(p) * Decimal::new(15, 2) + Decimal::from(c) * Decimal::new(60, 2);
            prop_assert_eq!(cost * ONE_MILLION, expected);
        }
    }
}
