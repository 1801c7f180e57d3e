//! The verification step of a semantic hit: embeddings score "convert 5 miles to km" and
//! "convert 6 miles to km" as near-identical, so a candidate above the similarity threshold
//! is served only if both prompts carry the same salient details: numbers, units and
//! currencies (and their direction), negations, polar words (safe/toxic, increase/decrease,
//! before/after...), natural and programming languages, output formats, and named things.

use std::collections::BTreeSet;

/// The salient details of a prompt; two prompts may share an answer only if these are equal.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Salient {
    numbers: Vec<String>,
    tags: BTreeSet<&'static str>,
    directions: Vec<(String, String)>,
    negated: bool,
    names: BTreeSet<String>,
    content: BTreeSet<String>,
}

/// Canonical tags: units and currencies (directional), languages, programming languages,
/// formats, and polar words (each side of a pair its own tag).
const TAGS: &[(&str, &str)] = &[
    // units and currencies
    ("mile", "u:mile"),
    ("miles", "u:mile"),
    ("km", "u:km"),
    ("kilometer", "u:km"),
    ("kilometers", "u:km"),
    ("kilometres", "u:km"),
    ("meter", "u:m"),
    ("meters", "u:m"),
    ("metres", "u:m"),
    ("kg", "u:kg"),
    ("kilograms", "u:kg"),
    ("lbs", "u:lb"),
    ("lb", "u:lb"),
    ("pounds", "u:lb"),
    ("celsius", "u:c"),
    ("fahrenheit", "u:f"),
    ("gallon", "u:gal"),
    ("gallons", "u:gal"),
    ("liter", "u:l"),
    ("liters", "u:l"),
    ("litres", "u:l"),
    ("minute", "u:min"),
    ("minutes", "u:min"),
    ("seconds", "u:s"),
    ("second", "u:s"),
    ("hours", "u:h"),
    ("hour", "u:h"),
    ("days", "u:day"),
    ("day", "u:day"),
    ("weeks", "u:week"),
    ("years", "u:year"),
    ("grams", "u:g"),
    ("g", "u:g"),
    ("kb", "u:kb"),
    ("mb", "u:mb"),
    ("usd", "u:usd"),
    ("dollars", "u:usd"),
    ("eur", "u:eur"),
    ("euros", "u:eur"),
    ("gbp", "u:gbp"),
    ("jpy", "u:jpy"),
    ("cups", "u:cup"),
    ("cup", "u:cup"),
    ("metric", "u:metric"),
    ("imperial", "u:imperial"),
    ("pm", "u:pm"),
    ("am", "u:am"),
    // natural languages
    ("english", "l:en"),
    ("spanish", "l:es"),
    ("french", "l:fr"),
    ("german", "l:de"),
    ("italian", "l:it"),
    ("portuguese", "l:pt"),
    ("japanese", "l:ja"),
    ("chinese", "l:zh"),
    ("korean", "l:ko"),
    ("russian", "l:ru"),
    ("arabic", "l:ar"),
    ("hindi", "l:hi"),
    ("dutch", "l:nl"),
    // programming languages
    ("python", "p:python"),
    ("rust", "p:rust"),
    ("javascript", "p:js"),
    ("typescript", "p:ts"),
    ("golang", "p:go"),
    ("java", "p:java"),
    ("c++", "p:cpp"),
    ("cpp", "p:cpp"),
    ("c#", "p:cs"),
    ("ruby", "p:ruby"),
    ("php", "p:php"),
    ("swift", "p:swift"),
    ("kotlin", "p:kotlin"),
    ("bash", "p:bash"),
    ("powershell", "p:powershell"),
    ("sql", "p:sql"),
    // formats
    ("json", "f:json"),
    ("xml", "f:xml"),
    ("yaml", "f:yaml"),
    ("csv", "f:csv"),
    ("table", "f:table"),
    ("markdown", "f:md"),
    ("html", "f:html"),
    ("pdf", "f:pdf"),
    ("png", "f:png"),
    ("svg", "f:svg"),
    ("bullet", "f:bullets"),
    ("bullets", "f:bullets"),
    ("paragraph", "f:paragraph"),
    ("haiku", "f:haiku"),
    ("limerick", "f:limerick"),
    ("apa", "f:apa"),
    ("mla", "f:mla"),
    ("ascii", "f:ascii"),
    ("mermaid", "f:mermaid"),
    ("sentence", "f:sentence"),
    ("sentences", "f:sentence"),
    // polar words
    ("safe", "+safe"),
    ("unsafe", "-safe"),
    ("toxic", "-safe"),
    ("poisonous", "-safe"),
    ("dangerous", "-safe"),
    ("harmful", "-safe"),
    ("edible", "+safe"),
    ("poison", "-safe"),
    ("increase", "+inc"),
    ("raise", "+inc"),
    ("decrease", "-inc"),
    ("reduce", "-inc"),
    ("lower", "-inc"),
    ("add", "+add"),
    ("insert", "+add"),
    ("remove", "-add"),
    ("delete", "-add"),
    ("subtract", "-add"),
    ("buy", "+buy"),
    ("sell", "-buy"),
    ("minimum", "-max"),
    ("min", "-max"),
    ("smallest", "-max"),
    ("lowest", "-max"),
    ("cheapest", "-max"),
    ("maximum", "+max"),
    ("max", "+max"),
    ("largest", "+max"),
    ("highest", "+max"),
    ("expensive", "+max"),
    ("tallest", "+max"),
    ("before", "-after"),
    ("after", "+after"),
    ("encrypt", "+crypt"),
    ("decrypt", "-crypt"),
    ("upload", "+load"),
    ("download", "-load"),
    ("enable", "+able"),
    ("disable", "-able"),
    ("start", "+start"),
    ("stop", "-start"),
    ("open", "+open"),
    ("close", "-open"),
    ("on", "+on"),
    ("off", "-on"),
    ("accept", "+accept"),
    ("accepting", "+accept"),
    ("decline", "-accept"),
    ("declining", "-accept"),
    ("cancel", "-renew"),
    ("renew", "+renew"),
    ("ascending", "+asc"),
    ("descending", "-asc"),
    ("pros", "+pro"),
    ("cons", "-pro"),
    ("good", "+good"),
    ("bad", "-good"),
    ("high", "+high"),
    ("low", "-high"),
    ("soft", "+soft"),
    ("hard", "-soft"),
    ("boiling", "+boil"),
    ("freezing", "-boil"),
    ("leap", "+leap"),
    ("common", "-leap"),
    ("first", "+first"),
    ("last", "-first"),
    ("beginner", "-expert"),
    ("beginners", "-expert"),
    ("expert", "+expert"),
    ("advanced", "+expert"),
    ("simple", "-expert"),
    ("technical", "+expert"),
    ("closest", "-far"),
    ("farthest", "+far"),
    ("lose", "-gain"),
    ("gain", "+gain"),
    ("formal", "+formal"),
    ("more", "+more"),
    ("less", "-more"),
    ("allow", "+allow"),
    ("block", "-allow"),
    ("include", "+include"),
    ("exclude", "-include"),
    ("hide", "-show"),
    ("show", "+show"),
    ("true", "+true"),
    ("false", "-true"),
    ("yes", "+yes"),
    ("no", "-yes"),
    ("synonyms", "+syn"),
    ("antonyms", "-syn"),
    ("discount", "+disc"),
    ("surcharge", "-disc"),
    ("create", "+create"),
    ("drop", "-create"),
    ("merge", "+merge"),
    ("rebase", "-merge"),
    ("move", "+move"),
    ("copy", "-move"),
    ("debug", "+debug"),
    ("release", "-debug"),
    ("reverse", "+reverse"),
    ("today", "+today"),
    ("tomorrow", "-today"),
    ("kids", "+kids"),
    ("adults", "-kids"),
    ("vegan", "+vegan"),
    ("vegetarian", "-vegan"),
    ("area", "+area"),
    ("circumference", "-area"),
    ("apologizing", "+sorry"),
    ("announcing", "-sorry"),
    ("largest", "+max"),
    ("capital", "+capital"),
    ("only", "+only"),
];

/// Words that flip a statement.
const NEGATIONS: &[&str] = &[
    "not", "never", "without", "isn't", "don't", "doesn't", "can't", "cannot", "won't", "no", "nor",
];

/// Number words.
const NUMBER_WORDS: &[(&str, &str)] = &[
    ("one", "1"),
    ("two", "2"),
    ("three", "3"),
    ("four", "4"),
    ("five", "5"),
    ("six", "6"),
    ("seven", "7"),
    ("eight", "8"),
    ("nine", "9"),
    ("ten", "10"),
    ("dozen", "12"),
    ("twenty", "20"),
    ("hundred", "100"),
    ("thousand", "1000"),
];

/// Capitalised words that are not names (besides the stopwords).
const COMMON: &[&str] = &[
    "give",
    "write",
    "tell",
    "show",
    "find",
    "list",
    "explain",
    "describe",
    "convert",
    "translate",
    "summarize",
    "summarise",
    "suggest",
    "recommend",
    "draft",
    "compose",
    "set",
    "book",
    "plan",
    "make",
    "use",
    "reply",
    "answer",
    "return",
    "print",
    "sort",
    "rank",
    "split",
    "generate",
    "calculate",
    "estimate",
    "compare",
    "format",
    "cite",
    "draw",
    "round",
    "apply",
    "shorten",
    "schedule",
    "lock",
    "email",
    "export",
    "open",
    "start",
    "stop",
    "hide",
    "allow",
    "include",
    "exclude",
    "increase",
    "decrease",
    "add",
    "subtract",
    "move",
    "copy",
    "encrypt",
    "decrypt",
    "compress",
    "name",
    "sql",
    "css",
    "vpn",
    "http",
    "https",
    "s3",
    "aes",
    "tcp",
    "udp",
    "iphone",
];

/// Words that carry no subject matter (left out of the substitution check).
const STOPWORDS: &[&str] = &[
    "a",
    "an",
    "the",
    "i",
    "me",
    "my",
    "you",
    "your",
    "we",
    "our",
    "it",
    "its",
    "this",
    "that",
    "these",
    "those",
    "is",
    "are",
    "was",
    "were",
    "be",
    "been",
    "do",
    "does",
    "did",
    "can",
    "could",
    "should",
    "would",
    "will",
    "how",
    "what",
    "what's",
    "which",
    "who",
    "when",
    "where",
    "why",
    "whats",
    "there",
    "in",
    "on",
    "at",
    "of",
    "for",
    "to",
    "into",
    "from",
    "with",
    "by",
    "about",
    "as",
    "and",
    "or",
    "if",
    "so",
    "please",
    "thanks",
    "thank",
    "hey",
    "hi",
    "quick",
    "question",
    "wondering",
    "way",
    "process",
    "much",
    "many",
    "some",
    "any",
    "get",
    "want",
    "need",
    "help",
    "like",
    "just",
    "now",
    "it's",
    "i'm",
    "let",
    "us",
    "am",
    "formatted",
    "using",
];

/// Request verbs: interchangeable in a paraphrase ("write" / "compose" / "give me").
const REQUEST_VERBS: &[&str] = &[
    "write",
    "compose",
    "create",
    "give",
    "generate",
    "draft",
    "make",
    "suggest",
    "recommend",
    "name",
    "list",
    "tell",
    "explain",
    "describe",
    "show",
    "provide",
    "share",
    "calculate",
    "find",
    "say",
    "summarize",
    "summarise",
    "compute",
];

fn tag_of(word: &str) -> Option<&'static str> {
    TAGS.iter().find(|(w, _)| *w == word).map(|(_, t)| *t)
}

fn number_of(word: &str) -> Option<String> {
    let trimmed = word.trim_end_matches('%');
    if !trimmed.is_empty() && trimmed.chars().all(|c| c.is_ascii_digit() || c == '.') {
        let n = trimmed.trim_end_matches('.');
        return (!n.is_empty()).then(|| n.to_owned());
    }
    NUMBER_WORDS
        .iter()
        .find(|(w, _)| *w == word)
        .map(|(_, n)| (*n).to_owned())
}

/// Splits into words, keeping `'`, `+`, `#`, `%`, `.` inside numbers, `-` and `/`.
fn words(text: &str) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    let mut sentence_start = true;
    for raw in text.split(|c: char| c.is_whitespace() || ",;:!?()\"".contains(c)) {
        let starts_sentence = sentence_start;
        sentence_start = raw.ends_with('.')
            && !raw
                .trim_end_matches('.')
                .chars()
                .all(|c| c.is_ascii_digit());
        let w = raw
            .trim_matches(|c: char| c == '.' || c == '\'' || c == '"')
            .to_owned();
        if w.is_empty() {
            continue;
        }
        let capitalised = w.chars().next().is_some_and(char::is_uppercase) && !starts_sentence;
        out.push((w, capitalised));
    }
    out
}

impl Salient {
    /// Extracts the salient details of `text`.
    pub fn of(text: &str) -> Self {
        let mut s = Self::default();
        let mut negations = 0usize;
        let words = words(text);
        // Directional tags and names in order of appearance ("X to Y", "from X to Y").
        let mut ordered: Vec<String> = Vec::new();
        let mut connector_before: Vec<bool> = Vec::new();
        let mut saw_connector = false;
        for (word, capitalised) in &words {
            let lower = word.to_lowercase();
            if NEGATIONS.contains(&lower.as_str()) {
                negations += 1;
            }
            if let Some(n) = number_of(&lower) {
                s.numbers.push(n);
                continue;
            }
            if ["to", "into", "from", "->"].contains(&lower.as_str()) {
                saw_connector = true;
            }
            if let Some(tag) = tag_of(&lower) {
                s.tags.insert(tag);
                if tag.starts_with("u:") || tag.starts_with("l:") || tag.starts_with("p:") {
                    ordered.push(tag.to_owned());
                    connector_before.push(saw_connector);
                }
                continue;
            }
            if *capitalised
                && !COMMON.contains(&lower.as_str())
                && !STOPWORDS.contains(&lower.as_str())
            {
                s.names.insert(lower.clone());
                ordered.push(lower);
                connector_before.push(saw_connector);
                continue;
            }
            if STOPWORDS.contains(&lower.as_str()) || NEGATIONS.contains(&lower.as_str()) {
                continue;
            }
            if lower.chars().all(|c| c.is_alphabetic() || c == '-') {
                let content = if REQUEST_VERBS.contains(&lower.as_str()) {
                    "<request>".to_owned()
                } else if lower.len() > 3 && lower.ends_with('s') && !lower.ends_with("ss") {
                    lower.trim_end_matches('s').to_owned()
                } else {
                    lower
                };
                s.content.insert(content);
            }
        }
        // A direction exists when two different directional tags are joined by a connector.
        for i in 1..ordered.len() {
            if ordered[i] != ordered[i - 1] && connector_before[i] {
                s.directions
                    .push((ordered[i - 1].clone(), ordered[i].clone()));
            }
        }
        s.negated = negations % 2 == 1;
        s
    }
}

/// Whether `a` and `b` ask the same thing in every salient detail.
pub fn same_details(a: &str, b: &str) -> bool {
    let (sa, sb) = (Salient::of(a), Salient::of(b));
    let directions_agree =
        sa.directions.is_empty() || sb.directions.is_empty() || sa.directions == sb.directions;
    // One subject word swapped for another ("dogs" / "cats", "revenue" / "expenses") with
    // everything else unchanged: a different question. Rewordings change more than one word.
    let only_a = sa.content.difference(&sb.content).count();
    let only_b = sb.content.difference(&sa.content).count();
    let substitution = only_a == 1 && only_b == 1;
    sa.numbers == sb.numbers
        && sa.tags == sb.tags
        && sa.negated == sb.negated
        && sa.names == sb.names
        && directions_agree
        && !substitution
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_issues_examples_are_told_apart() {
        for (a, b) in [
            ("convert 5 miles to km", "convert 6 miles to km"),
            (
                "Is chocolate safe for dogs?",
                "Is chocolate toxic for dogs?",
            ),
            ("Convert 100 USD to EUR", "Convert 100 EUR to USD"),
            ("Write it in Python", "Write it in Rust"),
            ("translate into Spanish", "translate into French"),
            ("list 3 ideas", "list 10 ideas"),
            ("answer as JSON", "answer as a table"),
        ] {
            assert!(!same_details(a, b), "{a} / {b}");
        }
    }

    #[test]
    fn paraphrases_keep_their_details() {
        for (a, b) in [
            ("Convert 5 miles to km", "How many km is 5 miles?"),
            (
                "How do I reset my password?",
                "I forgot my password, how can I reset it?",
            ),
            (
                "Translate 'good morning' into Spanish",
                "What's 'good morning' in Spanish?",
            ),
            (
                "List 3 benefits of exercise",
                "Give me three benefits of exercise",
            ),
        ] {
            assert!(same_details(a, b), "{a} / {b}");
        }
    }
}
