//! Money, price book, token counting and cost math.
//!
//! Knows nothing of HTTP, tenants or events: it turns token counts into exact USD amounts
//! ([`rust_decimal::Decimal`], never floats) and counts tokens with tiktoken where a provider
//! does not report usage.

mod cost;
mod error;
mod prices;
mod tokens;

pub use cost::{MONEY_LIMIT, Usage, cost_of};
pub use error::BillingError;
pub use prices::{MAX_PRICE_PER_MILLION, MAX_PRICE_SCALE, ModelPrice, PriceBook};
pub use rust_decimal::Decimal;
pub use tokens::{ChatMessageText, Tokenizer};
