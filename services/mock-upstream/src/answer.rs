//! The deterministic answer: words picked by a hash of the prompt.

/// Common English words; each answer is a sequence of these.
const WORDS: [&str; 32] = [
    "the",
    "gateway",
    "answers",
    "every",
    "request",
    "with",
    "care",
    "and",
    "counts",
    "tokens",
    "exactly",
    "so",
    "that",
    "each",
    "tenant",
    "pays",
    "only",
    "for",
    "what",
    "it",
    "used",
    "while",
    "cached",
    "prompts",
    "return",
    "quickly",
    "from",
    "memory",
    "in",
    "a",
    "few",
    "milliseconds",
];

/// A composed answer.
pub struct Composed {
    /// Streamable pieces (their concatenation is the answer).
    pub pieces: Vec<String>,
    /// Completion tokens of the answer.
    pub completion_tokens: u32,
    /// Cut short by the output limit.
    pub truncated: bool,
}

/// The answer to a prompt: `completion_words` words, never more tokens than `limit`.
pub fn compose(
    tokenizer: tollgate_billing::Tokenizer,
    prompt_parts: &[&str],
    limit: Option<u32>,
    completion_words: u32,
) -> Composed {
    let words = limit.map_or(completion_words, |l| l.min(completion_words));
    let truncated = limit.is_some_and(|l| l < completion_words);
    let mut pieces = answer_pieces(prompt_parts, words);
    let mut completion_tokens = tokenizer.count_text(&pieces.concat());
    // Like a real provider, never produce more tokens than the limit allows.
    while let Some(limit) = limit
        && completion_tokens > limit
        && pieces.pop().is_some()
    {
        completion_tokens = tokenizer.count_text(&pieces.concat());
    }
    Composed {
        pieces,
        completion_tokens,
        truncated,
    }
}

/// FNV-1a, stable across runs and platforms.
fn fnv1a(parts: &[&str]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for byte in part.bytes().chain(std::iter::once(0)) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}

/// The answer's pieces as streamed: the first word, then each further word with a leading space.
pub fn answer_pieces(prompt_parts: &[&str], words: u32) -> Vec<String> {
    let mut state = fnv1a(prompt_parts);
    (0..words)
        .map(|i| {
            // xorshift64* step
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            let pick = state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 59;
            let word = WORDS[usize::try_from(pick).unwrap_or(0) % WORDS.len()];
            if i == 0 {
                word.to_owned()
            } else {
                format!(" {word}")
            }
        })
        .collect()
}

/// Deterministic unit-length embedding of `text`.
pub fn embedding(text: &str, dimensions: usize) -> Vec<f32> {
    let mut state = fnv1a(&[text]) | 1;
    let raw: Vec<f32> = (0..dimensions)
        .map(|_| {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            let unit =
                (state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 40) as f32 / (1u64 << 24) as f32;
            unit * 2.0 - 1.0
        })
        .collect();
    let norm = raw
        .iter()
        .map(|x| x * x)
        .sum::<f32>()
        .sqrt()
        .max(f32::EPSILON);
    raw.into_iter().map(|x| x / norm).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_prompt_same_answer_other_prompt_other_answer() {
        let a = answer_pieces(&["user", "hello"], 12);
        assert_eq!(a, answer_pieces(&["user", "hello"], 12));
        assert_ne!(a, answer_pieces(&["user", "hello!"], 12));
        assert_eq!(a.len(), 12);
        assert!(!a[0].starts_with(' ') && a[1].starts_with(' '));
    }

    #[test]
    fn embedding_is_unit_length_and_deterministic() {
        let e = embedding("abc", 16);
        let norm: f32 = e.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4);
        assert_eq!(e, embedding("abc", 16));
    }
}
