use thiserror::Error;

/// Errors of price-book construction.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum BillingError {
    /// A price was negative.
    #[error("price for model '{model}' must not be negative")]
    NegativePrice {
        /// The model whose price is wrong.
        model: String,
    },
    /// A price has more decimal places than costs can carry exactly.
    #[error("price for model '{model}' has more than 4 decimal places")]
    PriceTooPrecise {
        /// The model whose price is wrong.
        model: String,
    },
    /// A price so high that a request's cost could overflow the ledger's `NUMERIC(20,10)`.
    #[error("price for model '{model}' is above 100000 USD per million tokens")]
    PriceTooHigh {
        /// The model whose price is wrong.
        model: String,
    },
    /// The same model was priced twice.
    #[error("model '{0}' is priced more than once")]
    DuplicateModel(String),
    /// A tokenizer name that tiktoken does not know.
    #[error("unknown tokenizer '{0}' (expected o200k_base or cl100k_base)")]
    UnknownTokenizer(String),
}
