//! The verification step of a semantic hit: embeddings score "convert 5 miles to km" and
//! "convert 6 miles to km" as near-identical, so a candidate above the similarity threshold
//! is served only if both prompts carry the same salient details: numbers, units and
//! currencies (and their direction), negations, polar words (safe/toxic, increase/decrease,
//! before/after...), natural and programming languages, output formats, and named things; and
//! the same structure: grammatical persons, quantifier scope, tense, and who does what to whom
//! (names in order unless passive, no two words trading places). Sentences of pleasantries are
//! left out first; a typo or another ending of a word is not a different word.

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
    /// Grammatical persons of the pronouns (the assistant addressed as "you" left out).
    persons: BTreeSet<&'static str>,
    /// Person of the last pronoun: often whose question it is ("... how much will she pay?").
    last_person: Option<&'static str>,
    /// Quantifiers that set a statement's scope (all / only / most / exactly / at least...).
    scope: BTreeSet<&'static str>,
    /// Names in order of first appearance (who does what to whom).
    name_order: Vec<String>,
    /// A passive voice marker ("was bitten by"): names may then come in either order.
    passive: bool,
    /// Tenses marked by auxiliaries (was / will...): "how old was I" is not "how old will I be".
    tenses: BTreeSet<&'static str>,
    /// Tags, names and content words in order: two of them trading places is a swap of roles
    /// ("the pilot greets the passenger" / "the passenger greets the pilot").
    sequence: Vec<String>,
}

/// Auxiliaries and time words that mark a tense.
const TENSES: &[(&str, &str)] = &[
    ("was", "past"),
    ("were", "past"),
    ("did", "past"),
    ("had", "past"),
    ("ago", "past"),
    ("yesterday", "past"),
    ("will", "future"),
    ("won't", "future"),
    ("i'll", "future"),
    ("shall", "future"),
    ("tomorrow", "future"),
];

/// Forms of "to be" before a passive participle.
const BE: &[&str] = &[
    "is", "are", "was", "were", "be", "been", "being", "get", "got",
];

/// The numbers in a word with hyphens, a hyphen kept as a minus sign where it starts the word
/// or follows a letter ("-16", "x-3"; not "2020-2021" or "5-hour").
fn signed_numbers(word: &str) -> Vec<String> {
    let chars: Vec<char> = word.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
            i += 1;
        }
        let minus = start > 0
            && chars[start - 1] == '-'
            && (start == 1 || chars[start - 2].is_alphabetic());
        let digits: String = chars[start..i].iter().collect();
        let digits = digits.trim_end_matches('.');
        out.push(if minus {
            format!("-{digits}")
        } else {
            digits.to_owned()
        });
    }
    out
}

/// Whether `b` is `a` with two of its words trading places and nothing else changed.
fn swapped(a: &[String], b: &[String]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let differ: Vec<usize> = (0..a.len()).filter(|&i| a[i] != b[i]).collect();
    differ.len() == 2 && a[differ[0]] == b[differ[1]] && a[differ[1]] == b[differ[0]]
}

/// Pronouns and their grammatical person.
const PERSONS: &[(&str, &str)] = &[
    ("i", "1s"),
    ("me", "1s"),
    ("my", "1s"),
    ("mine", "1s"),
    ("myself", "1s"),
    ("i'm", "1s"),
    ("i've", "1s"),
    ("i'd", "1s"),
    ("i'll", "1s"),
    ("we", "1p"),
    ("us", "1p"),
    ("our", "1p"),
    ("ours", "1p"),
    ("we're", "1p"),
    ("we've", "1p"),
    ("you", "2"),
    ("your", "2"),
    ("yours", "2"),
    ("yourself", "2"),
    ("you're", "2"),
    ("he", "3m"),
    ("him", "3m"),
    ("his", "3m"),
    ("himself", "3m"),
    ("he's", "3m"),
    ("she", "3f"),
    ("her", "3f"),
    ("hers", "3f"),
    ("herself", "3f"),
    ("she's", "3f"),
    ("they", "3p"),
    ("them", "3p"),
    ("their", "3p"),
    ("theirs", "3p"),
    ("they're", "3p"),
];

/// Words of pleasantries and of talk about the request itself ("Hope you're having a good day.",
/// "Could you help me with the following?", "Many thanks in advance."): a sentence made only of
/// these, greeting words ([`GREETINGS`], at least one), stopwords and pronouns, with no third
/// person or quotes, asks nothing, so its pronouns say nothing about whose question it is.
const PLEASANTRIES: &[&str] = &[
    "assistant",
    "much",
    "many",
    "request",
    "wonder",
    "having",
    "good",
    "great",
    "nice",
    "day",
    "morning",
    "afternoon",
    "evening",
    "time",
    "love",
    "right",
    "tried",
    "trying",
    "searching",
    "confused",
    "stuck",
    "curious",
    "following",
    "below",
    "know",
    "very",
    "really",
    "lot",
    "while",
    "you're",
    "you'd",
    "i'd",
    "i've",
    "i'm",
];

/// Words without which a sentence is no pleasantry ("Good morning!" may be the text to
/// translate; "Hope you're well." is not).
const GREETINGS: &[&str] = &[
    "ask",
    "asking",
    "wondering",
    "thank",
    "thanks",
    "hello",
    "hope",
    "appreciate",
    "appreciated",
    "sorry",
    "regards",
    "cheers",
    "advance",
    "dear",
    "kindly",
    "grateful",
    "assist",
    "assistance",
    "bother",
    "bothering",
];

/// Words before a "you" that addresses the assistant ("can you", "thank you").
const ADDRESS: &[&str] = &[
    "can", "could", "would", "will", "thank", "do", "please", "want", "need", "if",
];

/// Quantifier words and their scope.
const SCOPES: &[(&str, &str)] = &[
    ("all", "all"),
    ("every", "all"),
    ("each", "all"),
    ("whole", "whole"),
    ("entire", "whole"),
    ("none", "none"),
    ("only", "only"),
    ("most", "most"),
    ("majority", "most"),
    ("exactly", "exactly"),
    ("least", "at-least"),
    ("fewer", "at-most"),
];

/// Inflections: "beat" / "beaten", "merge" / "merged", "load" / "loading".
const ENDINGS: &[&str] = &["s", "es", "d", "ed", "n", "en", "ing"];

/// Whether `a` and `b` are one word: a typo apart, or one the other plus an inflection (both
/// four letters or more; "week" / "weekend" and "cheese" / "cheesecake" are other words).
fn same_word(a: &str, b: &str) -> bool {
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    let inflected = short.chars().count() >= 4
        && !long.contains('-')
        && long
            .strip_prefix(short)
            .is_some_and(|ending| ENDINGS.contains(&ending));
    typo_of(a, b) || inflected
}

/// Whether `b` is `a` with one typo: a letter left out or added, or two neighbours swapped
/// (words of four letters or more), or one letter changed after the first (six or more;
/// shorter words, and words with another first letter, differ by a letter too often: "cold" /
/// "bold", "height" / "weight", "million" / "billion").
fn typo_of(a: &str, b: &str) -> bool {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let (short, long) = if a.len() <= b.len() {
        (&a, &b)
    } else {
        (&b, &a)
    };
    if short.len() < 4 || long.len() - short.len() > 1 {
        return false;
    }
    let prefix = short.iter().zip(long).take_while(|(x, y)| x == y).count();
    let suffix = short
        .iter()
        .rev()
        .zip(long.iter().rev())
        .take_while(|(x, y)| x == y)
        .count()
        .min(short.len() - prefix);
    if long.len() > short.len() {
        return prefix + suffix >= short.len();
    }
    let n = short.len();
    let swapped = prefix + 2 <= n
        && a[prefix] == b[prefix + 1]
        && a[prefix + 1] == b[prefix]
        && a[prefix + 2..] == b[prefix + 2..];
    swapped || (n >= 6 && prefix >= 1 && prefix + suffix + 1 == n)
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

/// `text` without its sentences of pleasantries (see [`PLEASANTRIES`]), or all of it if nothing
/// else is left.
fn without_pleasantries(text: &str) -> String {
    let mut kept = String::with_capacity(text.len());
    let mut sentence = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        sentence.push(c);
        let ends = matches!(c, '!' | '?' | '\n')
            || (c == '.' && chars.peek().is_none_or(|n| n.is_whitespace()));
        if ends || chars.peek().is_none() {
            let words: Vec<String> = sentence
                .split(|c: char| !(c.is_alphanumeric() || c == '\''))
                .filter(|w| !w.is_empty())
                .map(str::to_lowercase)
                .collect();
            let third_person = |w: &String| {
                PERSONS
                    .iter()
                    .any(|(p, person)| p == w && person.starts_with('3'))
            };
            let pleasantry = words.iter().any(|w| GREETINGS.contains(&w.as_str()))
                && !sentence.contains(['"', ':'])
                && !words.iter().any(third_person)
                && words.iter().all(|w| {
                    STOPWORDS.contains(&w.as_str())
                        || GREETINGS.contains(&w.as_str())
                        || PLEASANTRIES.contains(&w.as_str())
                        || PERSONS.iter().any(|(p, _)| p == w)
                        || ADDRESS.contains(&w.as_str())
                });
            if !pleasantry {
                kept.push_str(&sentence);
            }
            sentence.clear();
        }
    }
    if kept.trim().is_empty() {
        return text.to_owned();
    }
    kept
}

impl Salient {
    /// Extracts the salient details of `text`.
    pub fn of(text: &str) -> Self {
        let mut s = Self::default();
        let mut negations = 0usize;
        let words = words(&without_pleasantries(&text.replace('\u{2019}', "'")));
        // Directional tags and names in order of appearance ("X to Y", "from X to Y").
        let mut ordered: Vec<String> = Vec::new();
        let mut connector_before: Vec<bool> = Vec::new();
        let mut saw_connector = false;
        let lowered: Vec<String> = words.iter().map(|(w, _)| w.to_lowercase()).collect();
        // Where the last form of "to be" was, for the passive.
        let mut last_be: Option<usize> = None;
        for (i, (_, capitalised)) in words.iter().enumerate() {
            let lower = lowered[i].clone();
            let before = i.checked_sub(1).map_or("", |j| lowered[j].as_str());
            let next = lowered.get(i + 1).map(String::as_str);
            if NEGATIONS.contains(&lower.as_str()) {
                negations += 1;
            }
            if let Some((_, person)) = PERSONS.iter().find(|(w, _)| *w == lower) {
                // "can you ...", "thank you": the assistant; "how do I ...", "can I ...",
                // "give me ...": whoever asks, as in the imperative ("read a file in Kotlin").
                let addressed = *person == "2" && ADDRESS.contains(&before);
                let asker = (lower == "i" && ["do", "can"].contains(&before))
                    || (lower == "me"
                        && (REQUEST_VERBS.contains(&before) || ["help", "let"].contains(&before)));
                if !addressed && !asker {
                    s.persons.insert(person);
                    s.last_person = Some(person);
                }
            }
            let scope = match (before, lower.as_str()) {
                ("at", "most") | ("or", "less" | "fewer") => Some("at-most"),
                ("or", "more") => Some("at-least"),
                // Superlatives: "the most popular", "the least expensive".
                ("the", "most" | "least") => None,
                _ => SCOPES.iter().find(|(w, _)| *w == lower).map(|(_, s)| *s),
            };
            if let Some(scope) = scope {
                s.scope.insert(scope);
            }
            // "Will you ...?" asks now; "I was wondering ..." is politeness.
            let politeness = (matches!(lower.as_str(), "will" | "would") && next == Some("you"))
                || (lower == "was" && matches!(next, Some("wondering" | "hoping")));
            if let Some((_, tense)) = TENSES.iter().find(|(w, _)| *w == lower)
                && !politeness
            {
                s.tenses.insert(tense);
            }
            if lower.contains('-') && lower.chars().any(|c| c.is_ascii_digit()) {
                // "a 5-hour flight", "-16", "x-3": the numbers inside a hyphenated word.
                s.numbers.extend(signed_numbers(&lower));
            }
            // "was bitten by", "was Gatlin beaten by": not "divided by" or "sorted by".
            if BE.contains(&lower.as_str()) {
                last_be = Some(i);
            }
            let passive_verb = before.ends_with("ed") || before.ends_with("en");
            if lower == "by" && passive_verb && last_be.is_some_and(|at| i - at <= 3) {
                s.passive = true;
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
                s.sequence.push(tag.to_owned());
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
                s.sequence.push(lower.clone());
                if s.names.insert(lower.clone()) {
                    s.name_order.push(lower.clone());
                }
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
                s.sequence.push(content.clone());
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
    Salient::of(a).agrees_with(&Salient::of(b))
}

impl Salient {
    /// Whether the prompts these details came from ask the same thing.
    pub fn agrees_with(&self, other: &Salient) -> bool {
        let (sa, sb) = (self, other);
        let directions_agree =
            sa.directions.is_empty() || sb.directions.is_empty() || sa.directions == sb.directions;
        // A name written in lower case in the other prompt ("Canada" / "canada") is the same
        // name, not a content word of its own.
        let only = |x: &Salient, y: &Salient| -> Vec<String> {
            x.content
                .iter()
                .filter(|w| !y.content.contains(*w) && !y.names.contains(*w))
                .cloned()
                .collect()
        };
        let names_agree = |x: &Salient, y: &Salient| {
            x.names
                .iter()
                .all(|n| y.names.contains(n) || y.content.contains(n))
        };
        // One subject word swapped for another ("dogs" / "cats", "revenue" / "expenses") with
        // everything else unchanged: a different question. Rewordings change more than one
        // word. A typo ("adress" / "address") or another form of the same word ("beat" /
        // "beaten") is not a substitution.
        let (only_a, only_b) = (only(sa, sb), only(sb, sa));
        let substitution =
            only_a.len() == 1 && only_b.len() == 1 && !same_word(&only_a[0], &only_b[0]);
        // The same names in another order without a passive voice: roles swapped ("Aisha lent
        // Ivan" / "Ivan lent Aisha").
        let shared_order = |x: &Salient, y: &Salient| -> Vec<String> {
            x.name_order
                .iter()
                .filter(|n| y.names.contains(*n))
                .cloned()
                .collect()
        };
        let roles_agree =
            (sa.passive || sb.passive || shared_order(sa, sb) == shared_order(sb, sa))
                && !swapped(&sa.sequence, &sb.sequence);
        sa.numbers == sb.numbers
            && sa.tags == sb.tags
            && sa.negated == sb.negated
            && names_agree(sa, sb)
            && names_agree(sb, sa)
            && sa.persons == sb.persons
            && sa.last_person == sb.last_person
            && sa.scope == sb.scope
            && sa.tenses == sb.tenses
            && roles_agree
            && directions_agree
            && !substitution
    }
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
    fn whose_question_who_does_what_and_its_scope_are_details() {
        for (a, b) in [
            (
                "My brother and I split a bill: I paid $40. How much does he owe me?",
                "My brother and I split a bill: I paid $40. How much do I owe him?",
            ),
            (
                "Can you check my essay for errors?",
                "Can you check her essay for errors?",
            ),
            (
                "Last week Maria paid Tomas $50. Who owes whom?",
                "Last week Tomas paid Maria $50. Who owes whom?",
            ),
            ("Are all snakes venomous?", "Are some snakes venomous?"),
            (
                "Select the orders with at least 3 items",
                "Select the orders with at most 3 items",
            ),
        ] {
            assert!(!same_details(a, b), "{a} / {b}");
        }
    }

    #[test]
    fn near_spellings_signs_and_meaningful_short_sentences_are_differences() {
        for (a, b) in [
            (
                "What is 3 million divided by 7?",
                "What is 3 billion divided by 7?",
            ),
            (
                "What is the average height of a man?",
                "What is the average weight of a man?",
            ),
            ("Plan a week in Lisbon", "Plan a weekend in Lisbon"),
            (
                "How do I make cheese at home?",
                "How do I make cheesecake at home?",
            ),
            (
                "What is the square root of -16?",
                "What is the square root of 16?",
            ),
            ("Solve x-3 = 7", "Solve x+3 = 7"),
            (
                "Translate into French. Good morning!",
                "Translate into French. Good evening!",
            ),
            (
                "Suggest a birthday gift. It's for her.",
                "Suggest a birthday gift. It's for him.",
            ),
        ] {
            assert!(!same_details(a, b), "{a} / {b}");
        }
    }

    #[test]
    fn typos_pleasantries_and_the_passive_are_not_differences() {
        for (a, b) in [
            (
                "How do I change the adress on my account?",
                "How do I change the address on my account?",
            ),
            (
                "Hope you are having a great day. Which planet is the hottest?",
                "Which planet is the hottest?",
            ),
            (
                "Is the Louvre bigger than the Prado? Thank you very much for your help.",
                "Is the Louvre bigger than the Prado?",
            ),
            (
                "Did Bolt beat Gatlin in 2015?",
                "Was Gatlin beaten by Bolt in 2015?",
            ),
        ] {
            assert!(same_details(a, b), "{a} / {b}");
        }
        assert!(typo_of("recieve", "receive"));
        assert!(typo_of("oder", "order"));
        assert!(!typo_of("cold", "bold"));
        assert!(!typo_of("lighter", "heavier"));
    }

    #[test]
    fn hostile_text_neither_panics_nor_matches_what_it_should_not() {
        let long = "Convert 5 miles to km and Maria pays Tomas. ".repeat(2_000);
        let odd = [
            "",
            "\0\0\0",
            "\u{1}\u{7f}\u{202e}?!.",
            "’’’ ’s I’m -- - -0 -.5 x-y-1-2-",
            "e\u{301}te\u{301} \u{1F600} 東京 ÇA",
            "Thank you. Thank you.",
            long.as_str(),
        ];
        for a in odd {
            for b in odd {
                let _ = same_details(a, b);
            }
        }
        assert!(!same_details(&long, "Convert 6 miles to km"));
        assert!(same_details(&long, &long));
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
