/// A request or answer that cannot be translated.
#[derive(Debug, thiserror::Error)]
pub enum TranslateError {
    /// The client's request is not valid in its own format (a client error).
    #[error("{0}")]
    Invalid(String),
    /// The client's request uses something the provider's format cannot express.
    #[error("{0}")]
    Unsupported(String),
    /// The provider answered with something that is not its documented format.
    #[error("provider answered with an unexpected body: {0}")]
    BadAnswer(String),
}
