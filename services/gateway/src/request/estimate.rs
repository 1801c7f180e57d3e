//! What admission reserves for: a request's size before it is served.

use tollgate_billing::{ModelPrice, Tokenizer, Usage, cost_of};

use super::chat::ChatRequest;

/// A request's tokens as admission sees them: the output reserve, and the prompt either
/// bounded cheaply or counted exactly (only when the bound does not fit).
#[derive(Debug, Clone, Copy)]
pub struct Estimate<'a> {
    request: &'a ChatRequest,
    tokenizer: Tokenizer,
    output_tokens: u32,
}

impl<'a> Estimate<'a> {
    /// The estimate of `request` on a route counted with `tokenizer`; the output reserve is
    /// the request's limit, else `default_max_tokens`.
    pub fn new(request: &'a ChatRequest, tokenizer: Tokenizer, default_max_tokens: u32) -> Self {
        Self {
            request,
            tokenizer,
            output_tokens: request.output_reserve(default_max_tokens),
        }
    }

    /// The cost at `price` with the prompt's cheap upper bound (no tokenizing).
    pub fn upper_cost(&self, price: &ModelPrice) -> rust_decimal::Decimal {
        cost_of(self.usage(self.request.prompt_token_upper_bound()), price)
    }

    /// The cost at `price` with the prompt counted exactly.
    pub fn counted_cost(&self, price: &ModelPrice) -> rust_decimal::Decimal {
        cost_of(self.counted_usage(), price)
    }

    /// The prompt counted exactly and the whole output reserve: the most a provider can have
    /// done for the request. A long prompt not counted yet ([`ChatRequest::count_prompt`]) is
    /// never counted here, on the calling worker: its cheap bound stands in.
    pub fn counted_usage(&self) -> Usage {
        let prompt = if self.request.is_heavy_to_count(self.tokenizer) {
            self.request.prompt_token_upper_bound()
        } else {
            self.request.prompt_tokens(self.tokenizer)
        };
        self.usage(prompt)
    }

    /// Whether the counted figures would stand on the cheap bound: a long prompt not counted yet.
    pub fn uncounted(&self) -> bool {
        self.request.is_heavy_to_count(self.tokenizer)
    }

    /// The prompt's cheap upper bound and the whole output reserve together (what a token rate
    /// limit reserves while it has room for it).
    pub fn upper_tokens(&self) -> u64 {
        u64::from(self.request.prompt_token_upper_bound()) + u64::from(self.output_tokens)
    }

    /// The tokens of [`Estimate::counted_usage`] together (what a token rate limit reserves
    /// near its end).
    pub fn counted_tokens(&self) -> u64 {
        let usage = self.counted_usage();
        u64::from(usage.prompt_tokens) + u64::from(usage.completion_tokens)
    }

    fn usage(&self, prompt_tokens: u32) -> Usage {
        Usage {
            prompt_tokens,
            completion_tokens: self.output_tokens,
            cached_tokens: 0,
        }
    }
}
