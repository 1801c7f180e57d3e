use std::collections::HashMap;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::{BillingError, Tokenizer};

/// Most decimal places of a price per 1M tokens: with at most 4, every cost (price x tokens /
/// 10^6) has at most 10 decimal places and is stored exactly in `NUMERIC(20,10)`.
pub const MAX_PRICE_SCALE: u32 = 4;

/// Highest price per 1M tokens: with it, even u32::MAX prompt and completion tokens cost less
/// than 10^9 USD, so every cost fits the ledger's `NUMERIC(20,10)` (10 integer digits).
pub const MAX_PRICE_PER_MILLION: Decimal = Decimal::from_parts(100_000, 0, 0, false, 0);

/// Prices of one model in USD per one million tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelPrice {
    /// USD per 1M prompt (input) tokens.
    pub input_per_million: Decimal,
    /// USD per 1M completion (output) tokens.
    pub output_per_million: Decimal,
    /// USD per 1M prompt tokens read from the provider's prompt cache.
    pub cached_input_per_million: Decimal,
    /// Tokenizer used to count this model's tokens when the provider reports none.
    pub tokenizer: Tokenizer,
    /// Version label of this price, recorded in every usage event.
    pub version: String,
}

/// Validated map of model name to price, built once from config.
#[derive(Debug, Clone, Default)]
pub struct PriceBook {
    prices: HashMap<String, ModelPrice>,
}

impl PriceBook {
    /// Builds a price book, rejecting negative prices and duplicate models.
    pub fn new(
        entries: impl IntoIterator<Item = (String, ModelPrice)>,
    ) -> Result<Self, BillingError> {
        let mut prices = HashMap::new();
        for (model, price) in entries {
            let all = [
                price.input_per_million,
                price.output_per_million,
                price.cached_input_per_million,
            ];
            if all.iter().any(Decimal::is_sign_negative) {
                return Err(BillingError::NegativePrice { model });
            }
            let finest = all.iter().map(|p| p.normalize().scale()).max().unwrap_or(0);
            if finest > MAX_PRICE_SCALE {
                return Err(BillingError::PriceTooPrecise { model });
            }
            if all.iter().any(|p| *p > MAX_PRICE_PER_MILLION) {
                return Err(BillingError::PriceTooHigh { model });
            }
            if prices.contains_key(&model) {
                return Err(BillingError::DuplicateModel(model));
            }
            prices.insert(model, price);
        }
        Ok(Self { prices })
    }

    /// The price of `model`, if it is priced.
    pub fn get(&self, model: &str) -> Option<&ModelPrice> {
        self.prices.get(model)
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;
    use crate::{Usage, cost_of};

    fn priced(output: &str) -> ModelPrice {
        ModelPrice {
            input_per_million: Decimal::ONE,
            output_per_million: Decimal::from_str(output).unwrap(),
            cached_input_per_million: Decimal::ZERO,
            tokenizer: Tokenizer::O200kBase,
            version: "t".into(),
        }
    }

    #[test]
    fn a_price_that_could_overflow_the_ledger_is_refused() {
        // Found by the money fuzz target: 4,259,999 USD per 1M tokens x u32::MAX tokens costs
        // more than NUMERIC(20,10) holds.
        assert_eq!(
            PriceBook::new([("m".to_owned(), priced("100000.0001"))]).unwrap_err(),
            BillingError::PriceTooHigh { model: "m".into() }
        );
        let highest = priced("100000");
        assert!(PriceBook::new([("m".to_owned(), highest.clone())]).is_ok());
        let all = Usage {
            prompt_tokens: u32::MAX,
            completion_tokens: u32::MAX,
            cached_tokens: 0,
        };
        assert!(cost_of(all, &highest) < Decimal::from(10_000_000_000_u64));
    }
}
