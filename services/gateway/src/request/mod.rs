//! The request model every stage shares, below the handlers: the parsed chat request (with
//! what admission estimates from it) and the billing record gathered while it is served.

mod chat;
pub mod counting;
mod estimate;
mod record;

pub use chat::{ChatRequest, MessageText, content_text, json_object};
pub use estimate::Estimate;
pub use record::{CacheServed, Ending, RequestRecord};
