use std::collections::HashMap;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::{BillingError, Tokenizer};

/// Most decimal places of a price per 1M tokens: with at most 4, every cost (price x tokens /
/// 10^6) has at most 10 decimal places and is stored exactly in `NUMERIC(20,10)`.
pub const MAX_PRICE_SCALE: u32 = 4;

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
