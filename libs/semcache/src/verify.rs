//! The verification step of a semantic hit: embeddings score "convert 5 miles to km" and
//! "convert 6 miles to km" as near-identical, so a candidate above the similarity threshold
//! is served only if both prompts carry the same salient details: numbers, units and
//! currencies (and their direction), negations, polar words (safe/toxic, increase/decrease,
//! before/after...), natural and programming languages, output formats, and named things; and
//! the same structure: grammatical persons, quantifier scope, tense, and who does what to whom
//! (names in order unless passive, no two words trading places). Sentences of pleasantries are
//! left out first; a typo or another ending of a word is not a different word.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashSet};

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
    /// A possessive before a word is a third party ("how old was my uncle" is not "how old
    /// was I"): `3:uncle`.
    last_person: Option<String>,
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

/// Number words that multiply the number before them ("five hundred").
const SCALES: &[(&str, u64)] = &[
    ("hundred", 100),
    ("thousand", 1_000),
    ("million", 1_000_000),
    ("billion", 1_000_000_000),
];

/// Words relating what comes before them to what comes after ("merge A into B", "A than B").
const RELATIONS: &[&str] = &["to", "into", "from", "than", "onto", "vs", "versus"];

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

/// Longest stretch of reordered shared words [`runs_traded`] examines (longer ones are left to
/// the other checks, keeping the check's cost bounded on huge prompts).
const MAX_REORDERED: usize = 48;

/// Whether the words `a` and `b` share come in orders that differ by two runs trading places
/// around something that stays between them ("a cheetah is shorter than a red fox" / "a red fox
/// is shorter than a cheetah", "Nia receives pens from Esra" / "Esra receives pens from Nia").
/// A run moved to the other end ("In Xcode, merge ..." / "merge ... in Xcode") is a reordered
/// paraphrase, not a swap.
fn runs_traded(a: &[String], b: &[String]) -> bool {
    let (in_a, in_b): (HashSet<&String>, HashSet<&String>) =
        (a.iter().collect(), b.iter().collect());
    let x: Vec<&String> = a.iter().filter(|w| in_b.contains(w)).collect();
    let y: Vec<&String> = b.iter().filter(|w| in_a.contains(w)).collect();
    if x.len() != y.len() {
        return false;
    }
    let prefix = x.iter().zip(&y).take_while(|(p, q)| p == q).count();
    let suffix = x[prefix..]
        .iter()
        .rev()
        .zip(y[prefix..].iter().rev())
        .take_while(|(p, q)| p == q)
        .count();
    let (x, y) = (&x[prefix..x.len() - suffix], &y[prefix..y.len() - suffix]);
    let n = x.len();
    if n > MAX_REORDERED {
        return false;
    }
    // x = first middle last, y = last middle first, with a middle of one word or more.
    (1..n).any(|first| {
        (1..n.saturating_sub(first)).any(|last| {
            let middle = n - first - last;
            x[..first] == y[n - first..]
                && x[n - last..] == y[..last]
                && x[first..first + middle] == y[last..last + middle]
        })
    })
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

/// Possessive determiners: before a noun they name a third party ("my uncle").
const POSSESSIVES: &[&str] = &["my", "your", "his", "her", "our", "their"];

/// Words of pleasantries and of talk about the request itself ("Hope you're having a good day.",
/// "Could you help me with the following?", "Many thanks in advance."): a sentence made only of
/// these, greeting words ([`GREETINGS`], at least one unless nothing else was said before it),
/// stopwords and pronouns, with no third person or quotes, asks nothing, so its pronouns say
/// nothing about whose question it is.
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
    "question",
    "got",
    "but",
    "well",
    "friend",
    "up",
    "something",
    "have",
    "couldn't",
    "answer",
    "clear",
    "find",
    "elsewhere",
    "conversation",
    "came",
    "working",
    "again",
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

/// Talk about the asking itself: a sentence of pleasantries with one of these, before anything
/// else is said, is a preamble even without a greeting word.
const ASKING_TALK: &[&str] = &[
    "question",
    "curious",
    "wondering",
    "searching",
    "tried",
    "trying",
    "confused",
    "stuck",
    "elsewhere",
    "conversation",
    "working",
    "answer",
    "help",
];

/// Words without which a sentence is no pleasantry ("Good morning!" may be the text to
/// translate; "Hope you're well." is not).
const GREETINGS: &[&str] = &[
    "hi",
    "hey",
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
    ("metre", "u:m"),
    ("kilometre", "u:km"),
    ("kms", "u:km"),
    ("mi", "u:mile"),
    ("m", "u:m"),
    ("kg", "u:kg"),
    ("kgs", "u:kg"),
    ("kilo", "u:kg"),
    ("kilos", "u:kg"),
    ("kilogram", "u:kg"),
    ("kilograms", "u:kg"),
    ("gram", "u:g"),
    ("hr", "u:h"),
    ("hrs", "u:h"),
    ("mins", "u:min"),
    ("sec", "u:s"),
    ("secs", "u:s"),
    ("week", "u:week"),
    ("year", "u:year"),
    ("litre", "u:l"),
    ("dollar", "u:usd"),
    ("euro", "u:eur"),
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
    ("ounce", "u:oz"),
    ("ounces", "u:oz"),
    ("oz", "u:oz"),
    ("milliliter", "u:ml"),
    ("milliliters", "u:ml"),
    ("millilitre", "u:ml"),
    ("millilitres", "u:ml"),
    ("ml", "u:ml"),
    ("centimeter", "u:cm"),
    ("centimeters", "u:cm"),
    ("centimetre", "u:cm"),
    ("centimetres", "u:cm"),
    ("cm", "u:cm"),
    ("millimeter", "u:mm"),
    ("millimeters", "u:mm"),
    ("mm", "u:mm"),
    ("inch", "u:in"),
    ("inches", "u:in"),
    ("foot", "u:ft"),
    ("feet", "u:ft"),
    ("ft", "u:ft"),
    ("yard", "u:yd"),
    ("yards", "u:yd"),
    ("acre", "u:acre"),
    ("acres", "u:acre"),
    ("hectare", "u:ha"),
    ("hectares", "u:ha"),
    ("tablespoon", "u:tbsp"),
    ("tablespoons", "u:tbsp"),
    ("tbsp", "u:tbsp"),
    ("teaspoon", "u:tsp"),
    ("teaspoons", "u:tsp"),
    ("tsp", "u:tsp"),
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
    // comparatives (`>`) and superlatives (`>>`): "older" is not "old" nor "oldest"
    ("larger", "+large>"),
    ("bigger", "+large>"),
    ("greater", "+large>"),
    ("smaller", "-large>"),
    ("heavier", "+heavy>"),
    ("lighter", "-heavy>"),
    ("heaviest", "+heavy>>"),
    ("lightest", "-heavy>>"),
    ("taller", "+tall>"),
    ("shorter", "-tall>"),
    ("shortest", "-tall>>"),
    ("longer", "+long>"),
    ("longest", "+long>>"),
    ("faster", "+fast>"),
    ("quicker", "+fast>"),
    ("fastest", "+fast>>"),
    ("slower", "-fast>"),
    ("slowest", "-fast>>"),
    ("older", "+old>"),
    ("oldest", "+old>>"),
    ("younger", "-old>"),
    ("youngest", "-old>>"),
    ("warmer", "+warm>"),
    ("hotter", "+warm>"),
    ("colder", "-warm>"),
    ("cooler", "-warm>"),
    ("stronger", "+strong>"),
    ("weaker", "-strong>"),
    ("richer", "+rich>"),
    ("poorer", "-rich>"),
    ("cheaper", "-price>"),
    ("pricier", "+price>"),
    ("better", "+good>"),
    ("worse", "-good>"),
    ("best", "+good>>"),
    ("worst", "-good>>"),
    ("earlier", "-after>"),
    ("later", "+after>"),
    ("closer", "-far>"),
    ("farther", "+far>"),
    ("wider", "+wide>"),
    ("narrower", "-wide>"),
    ("deeper", "+deep>"),
    ("shallower", "-deep>"),
    ("louder", "+loud>"),
    ("quieter", "-loud>"),
    ("safer", "+safe>"),
    ("riskier", "-safe>"),
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
    ("eleven", "11"),
    ("twelve", "12"),
    ("thirteen", "13"),
    ("fourteen", "14"),
    ("fifteen", "15"),
    ("sixteen", "16"),
    ("seventeen", "17"),
    ("eighteen", "18"),
    ("nineteen", "19"),
    ("dozen", "12"),
    ("twenty", "20"),
    ("thirty", "30"),
    ("forty", "40"),
    ("fifty", "50"),
    ("sixty", "60"),
    ("seventy", "70"),
    ("eighty", "80"),
    ("ninety", "90"),
    ("hundred", "100"),
    ("thousand", "1000"),
    ("million", "1000000"),
    ("billion", "1000000000"),
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

/// Whether `word` is an identifier ("release/2.4", "pablo.bakes", "user_id", "a@b.io"): it
/// names a thing whatever its case. Abbreviations ("e.g", "a.m") are not.
fn is_identifier(word: &str) -> bool {
    let separator = |c: char| "/_.@".contains(c);
    let inner = word.trim_matches(separator);
    inner.len() == word.len()
        && word.contains(separator)
        && word.chars().any(char::is_alphabetic)
        && word
            .chars()
            .all(|c| c.is_alphanumeric() || separator(c) || c == '-')
        && word.split(separator).any(|part| part.chars().count() >= 2)
}

fn tag_of(word: &str) -> Option<&'static str> {
    TAGS.iter().find(|(w, _)| *w == word).map(|(_, t)| *t)
}

fn number_of(word: &str) -> Option<String> {
    let trimmed = word.trim_end_matches('%');
    if !trimmed.is_empty() && trimmed.chars().all(|c| c.is_ascii_digit() || c == '.') {
        let n = trimmed.trim_end_matches('.');
        return (!n.is_empty()).then(|| n.to_owned());
    }
    let named = |w: &str| {
        NUMBER_WORDS
            .iter()
            .find(|(name, _)| *name == w)
            .and_then(|(_, n)| n.parse::<u32>().ok())
    };
    // "thirty-four": tens and a unit.
    if let Some((tens, unit)) = word.split_once('-') {
        return match (named(tens), named(unit)) {
            (Some(t), Some(u)) if t % 10 == 0 && (20..100).contains(&t) && u < 10 => {
                Some((t + u).to_string())
            }
            _ => None,
        };
    }
    named(word).map(|n| n.to_string())
}

/// Splits into words, keeping `'`, `+`, `#`, `%`, `.` inside numbers, `-` and `/`.
/// Splits into words, keeping `'`, `+`, `#`, `%`, `.` inside numbers, `-` and `/`: each word,
/// whether it is capitalised (a capital not at a sentence's start) and whether it starts a
/// sentence.
fn words(text: &str) -> Vec<(String, bool, bool)> {
    let mut out = Vec::new();
    let mut sentence_start = true;
    for raw in without_thousands_separators(text)
        .split(|c: char| c.is_whitespace() || ",;:!?()\"".contains(c))
    {
        if raw.is_empty() {
            continue;
        }
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
        out.push((w, capitalised, starts_sentence));
    }
    out
}

/// `text` with the commas of grouped thousands taken out ("39,000" and "1,250,000" are
/// numbers; "pow(2,100)", "1,25" and "1, 2" keep theirs): one to three digits that no digit,
/// `(`, `,` or `.` comes before, then groups of a comma and three digits.
fn without_thousands_separators(text: &str) -> Cow<'_, str> {
    if !text.contains(',') {
        return Cow::Borrowed(text);
    }
    let chars: Vec<char> = text.chars().collect();
    let digit = |i: usize| chars.get(i).is_some_and(char::is_ascii_digit);
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let opens_number =
            digit(i) && (i == 0 || !(digit(i - 1) || matches!(chars[i - 1], '(' | ',' | '.')));
        if !opens_number {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let lead = (i..chars.len()).take_while(|&j| digit(j)).count();
        let mut end = i + lead;
        let mut groups = 0;
        while lead <= 3
            && chars.get(end) == Some(&',')
            && (1..=3).all(|k| digit(end + k))
            && !digit(end + 4)
        {
            end += 4;
            groups += 1;
        }
        out.extend(chars[i..end].iter().filter(|c| groups == 0 || **c != ','));
        i = end;
    }
    Cow::Owned(out)
}

/// `text` without its sentences of pleasantries (see [`PLEASANTRIES`]), or all of it if nothing
/// else is left.
fn without_pleasantries(text: &str) -> String {
    let mut kept = String::with_capacity(text.len());
    let mut said_something = false;
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
            // A greeting word marks a pleasantry anywhere. Before anything else is said, talk
            // about the asking does too ("I have a question.", "I tried searching but got
            // confused."), unless it asks something itself or names anyone but the asker.
            let greeting = words.iter().any(|w| GREETINGS.contains(&w.as_str()));
            let preamble = !said_something
                && !sentence.trim_end().ends_with('?')
                && words.iter().any(|w| ASKING_TALK.contains(&w.as_str()))
                && words.iter().all(|w| {
                    PERSONS
                        .iter()
                        .all(|(p, person)| p != w || person.starts_with("1s"))
                });
            let pleasantry = (greeting || preamble)
                && !words.is_empty()
                && !sentence.contains(['"', ':'])
                && !words.iter().any(third_person)
                && words.iter().all(|w| {
                    STOPWORDS.contains(&w.as_str())
                        || GREETINGS.contains(&w.as_str())
                        || PLEASANTRIES.contains(&w.as_str())
                        || PERSONS.iter().any(|(p, _)| p == w)
                        || ADDRESS.contains(&w.as_str())
                });
            // "Good morning." is kept (it may be the text to translate) but says nothing yet.
            let salutation = matches!(
                words.as_slice(),
                [good, time] if good == "good"
                    && matches!(time.as_str(), "morning" | "afternoon" | "evening" | "day")
            );
            if !pleasantry {
                kept.push_str(&sentence);
                said_something |= !words.is_empty() && !salutation;
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
        let lowered: Vec<String> = words.iter().map(|(w, _, _)| w.to_lowercase()).collect();
        // Where the last form of "to be" was, for the passive.
        let mut last_be: Option<usize> = None;
        for (i, (_, capitalised, starts_sentence)) in words.iter().enumerate() {
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
                let asker = (lower == "i"
                    && (["do", "can"].contains(&before)
                        || (*starts_sentence && matches!(next, Some("need" | "want")))))
                    || (lower == "me"
                        && (REQUEST_VERBS.contains(&before) || ["help", "let"].contains(&before)));
                if !addressed && !asker {
                    s.persons.insert(person);
                    let possessed = POSSESSIVES.contains(&lower.as_str())
                        && next.is_some_and(|n| {
                            n.chars().all(char::is_alphabetic)
                                && !STOPWORDS.contains(&n)
                                && !PERSONS.iter().any(|(p, _)| *p == n)
                        });
                    s.last_person = Some(match (possessed, next) {
                        (true, Some(noun)) => format!("3:{noun}"),
                        _ => (*person).to_owned(),
                    });
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
                // "five hundred", "four thousand": one number ("3 hundred dollar bills" is
                // three bills).
                let scaled = SCALES
                    .iter()
                    .find(|(w, _)| *w == lower)
                    .filter(|_| {
                        !before.starts_with(|c: char| c.is_ascii_digit())
                            && number_of(before).is_some()
                    })
                    .and_then(|(_, scale)| {
                        let last = s.numbers.last()?.parse::<u64>().ok()?;
                        last.checked_mul(*scale)
                    });
                match scaled {
                    Some(value) => {
                        s.numbers.pop();
                        s.numbers.push(value.to_string());
                    }
                    None => s.numbers.push(n),
                }
                continue;
            }
            if ["to", "into", "from", "->"].contains(&lower.as_str()) {
                saw_connector = true;
            }
            // Relations keep their place among the words: "merge A into B", "A than B".
            if RELATIONS.contains(&lower.as_str()) {
                s.sequence.push(lower.clone());
                continue;
            }
            // "9 am", "2750 m": units only after a number ("I am", "m" alone are not).
            let unit_context = !matches!(lower.as_str(), "am" | "m") || number_of(before).is_some();
            // Not poles: "is it true that ..." asks the question itself, "show me" is a
            // request, "good morning" greets, and "on" before a word is a preposition ("prey
            // on flies"), unless a verb takes it ("turn on wifi").
            let not_pole = match lower.as_str() {
                "true" => before == "it" && next == Some("that"),
                "show" => matches!(next, Some("me" | "us")),
                "good" => matches!(next, Some("morning" | "afternoon" | "evening" | "day")),
                "on" => {
                    next.is_some_and(|n| !STOPWORDS.contains(&n))
                        && !["turn", "switch", "toggle", "log", "sign", "put"].contains(&before)
                }
                _ => false,
            };
            if not_pole {
                continue;
            }
            if let Some(tag) = tag_of(&lower).filter(|_| unit_context) {
                s.tags.insert(tag);
                s.sequence.push(tag.to_owned());
                if tag.starts_with("u:") || tag.starts_with("l:") || tag.starts_with("p:") {
                    ordered.push(tag.to_owned());
                    connector_before.push(saw_connector);
                }
                continue;
            }
            let proper = *capitalised
                && !PERSONS.iter().any(|(p, _)| *p == lower)
                && !COMMON.contains(&lower.as_str())
                && !STOPWORDS.contains(&lower.as_str());
            if proper || is_identifier(&lower) {
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

/// Whether two prompts' tags agree apart from polar words on one side only, and whether those
/// agree too. A polar word (`+x`) against its opposite (`-x`) is a tag disagreement; one whose
/// stem the other side lacks is a one-sided pole.
fn tag_agreement(a: &BTreeSet<&'static str>, b: &BTreeSet<&'static str>) -> (bool, bool) {
    let (mut tags, mut poles) = (true, true);
    for tag in a.symmetric_difference(b) {
        let other = if a.contains(tag) { b } else { a };
        let stem = tag.strip_prefix(['+', '-']);
        match stem {
            Some(stem)
                if !other
                    .iter()
                    .any(|t| t.strip_prefix(['+', '-']) == Some(stem)) =>
            {
                poles = false;
            }
            _ => tags = false,
        }
    }
    (tags, poles)
}

/// Whether `a` and `b` ask the same thing in every salient detail.
pub fn same_details(a: &str, b: &str) -> bool {
    Salient::of(a).agrees_with(&Salient::of(b), Precision::Strict)
}

/// One salient detail two prompts can disagree on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u16)]
pub enum Check {
    /// Numbers, in order.
    Numbers = 1,
    /// Units, currencies, languages and formats, and polar words against their opposites
    /// ("safe" / "toxic").
    Tags = 1 << 1,
    /// An odd number of negations.
    Negation = 1 << 2,
    /// Named things.
    Names = 1 << 3,
    /// The set of grammatical persons.
    Persons = 1 << 4,
    /// The person of the last pronoun.
    LastPerson = 1 << 5,
    /// Quantifier scope.
    Scope = 1 << 6,
    /// Tense.
    Tenses = 1 << 7,
    /// Names in the same order unless passive.
    NameOrder = 1 << 8,
    /// No two words, or two runs of words around a kept middle, trading places.
    Swap = 1 << 9,
    /// Direction between tags ("from USD to EUR").
    Directions = 1 << 10,
    /// One content word swapped for another.
    Substitution = 1 << 11,
    /// A polar word on one side only ("sort the list" / "sort the list in reverse").
    Poles = 1 << 12,
}

impl Check {
    /// Every check, in the order of the enum.
    pub const ALL: [Check; 13] = [
        Check::Numbers,
        Check::Tags,
        Check::Negation,
        Check::Names,
        Check::Persons,
        Check::LastPerson,
        Check::Scope,
        Check::Tenses,
        Check::NameOrder,
        Check::Swap,
        Check::Directions,
        Check::Substitution,
        Check::Poles,
    ];
}

/// A set of [`Check`]s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Checks(u16);

impl Checks {
    /// No check.
    pub const NONE: Checks = Checks(0);

    /// Every check.
    pub const fn all() -> Self {
        let mut set = Self::NONE;
        let mut i = 0;
        while i < Check::ALL.len() {
            set = set.with(Check::ALL[i]);
            i += 1;
        }
        set
    }

    /// This set and `check`.
    pub const fn with(self, check: Check) -> Self {
        Checks(self.0 | check as u16)
    }

    /// This set without `check`.
    pub const fn without(self, check: Check) -> Self {
        Checks(self.0 & !(check as u16))
    }

    /// Whether `check` is in the set.
    pub const fn contains(self, check: Check) -> bool {
        self.0 & check as u16 != 0
    }

    /// Whether the two sets share a check.
    pub const fn intersects(self, other: Checks) -> bool {
        self.0 & other.0 != 0
    }
}

/// How sure the cache must be before it serves a paraphrase: `strict` (the default) enforces
/// every check; `balanced` skips the two that on the held-out dev part turned away the most
/// paraphrases for the fewest near-misses (directions between units or languages, one content
/// word swapped for another).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Precision {
    /// Every check: when unsure, miss.
    #[default]
    Strict,
    /// More paraphrases served, at a measured cost in precision (docs/benchmarks.md).
    Balanced,
}

impl Precision {
    /// The checks this mode enforces.
    pub const fn checks(self) -> Checks {
        match self {
            Precision::Strict => Checks::all(),
            // Chosen on the held-out dev part: dropping these two serves 6 % more of its
            // paraphrases for 3 points of precision (docs/benchmarks.md).
            Precision::Balanced => Checks::all()
                .without(Check::Directions)
                .without(Check::Substitution),
        }
    }

    /// `strict` or `balanced`.
    pub fn as_str(self) -> &'static str {
        match self {
            Precision::Strict => "strict",
            Precision::Balanced => "balanced",
        }
    }
}

impl std::str::FromStr for Precision {
    type Err = String;

    /// `strict` or `balanced`.
    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "strict" => Ok(Self::Strict),
            "balanced" => Ok(Self::Balanced),
            other => Err(format!("'{other}' is not one of strict, balanced")),
        }
    }
}

impl Salient {
    /// Whether the prompts these details came from ask the same thing, as far as `precision`
    /// looks.
    pub fn agrees_with(&self, other: &Salient, precision: Precision) -> bool {
        !self.disagreements(other).intersects(precision.checks())
    }

    /// The checks on which the prompts these details came from disagree.
    pub fn disagreements(&self, other: &Salient) -> Checks {
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
        let passive = sa.passive || sb.passive;
        let name_order_agrees = passive || shared_order(sa, sb) == shared_order(sb, sa);
        let (tags_agree, poles_agree) = tag_agreement(&sa.tags, &sb.tags);
        [
            (Check::Numbers, sa.numbers == sb.numbers),
            (Check::Tags, tags_agree),
            (Check::Poles, poles_agree),
            (Check::Negation, sa.negated == sb.negated),
            (Check::Names, names_agree(sa, sb) && names_agree(sb, sa)),
            (Check::Persons, sa.persons == sb.persons),
            (Check::LastPerson, sa.last_person == sb.last_person),
            (Check::Scope, sa.scope == sb.scope),
            (Check::Tenses, sa.tenses == sb.tenses),
            (Check::NameOrder, name_order_agrees),
            (
                Check::Swap,
                !swapped(&sa.sequence, &sb.sequence)
                    && (passive || !runs_traded(&sa.sequence, &sb.sequence)),
            ),
            (Check::Directions, directions_agree),
            (Check::Substitution, !substitution),
        ]
        .into_iter()
        .filter(|(_, agrees)| !agrees)
        .fold(Checks::NONE, |set, (check, _)| set.with(check))
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
        // Blank lines are sentences: each must cost the same, not more as they pile up.
        let blank_lines = format!("x{}", "\n".repeat(100_000));
        let grouped = "1,000,".repeat(20_000);
        let odd = [
            blank_lines.as_str(),
            grouped.as_str(),
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

    #[test]
    fn identifiers_comparatives_traded_runs_and_possessed_parties_are_details() {
        for (a, b) in [
            // Identifiers name things whatever their case.
            (
                "SQL for the accounts followed by pablo.bakes",
                "SQL for the accounts followed by raj.builds",
            ),
            (
                "merge feature/search into main",
                "merge feature/dark-mode into main",
            ),
            // Comparatives have opposites.
            (
                "Find the larger root of x^2 - 5x + 6 = 0",
                "Find the smaller root of x^2 - 5x + 6 = 0",
            ),
            (
                "Is a hippo heavier than a giraffe?",
                "Is a hippo lighter than a giraffe?",
            ),
            // Two runs trading places around what stays between them.
            (
                "Is it true that a cheetah is shorter than a red fox?",
                "Is it true that a red fox is shorter than a cheetah?",
            ),
            ("how many cups is 13 ounces", "how many ounces is 13 cups"),
            (
                "transfer text messages from a windows pc to a pixel",
                "transfer text messages from a pixel to a windows pc",
            ),
            (
                "nia receives seventeen pencils from esra. how many does esra have?",
                "esra receives seventeen pencils from nia. how many does esra have?",
            ),
            // A possessed noun is a third party, not the one who asks.
            (
                "I am 58 and my uncle is 4 years older. How old was my uncle 9 years ago?",
                "I am 58 and my uncle is 4 years older. How old was I 9 years ago?",
            ),
            // Number words and separators are numbers.
            (
                "print the odd numbers from thirty to 10",
                "print the odd numbers from 10 to thirty",
            ),
            (
                "What is five hundred acres in hectares?",
                "What is 600 acres in hectares?",
            ),
            ("about 39,000 miles a year", "about 38,000 miles a year"),
            ("I'm thirty-four", "I'm thirty-five"),
        ] {
            assert!(!same_details(a, b), "{a} / {b}");
        }
    }

    #[test]
    fn what_a_review_found_the_loosened_rules_let_through_is_still_told_apart() {
        for (a, b) in [
            (
                "What time is it? I am in Tokyo.",
                "What day is it? I am in Tokyo.",
            ),
            (
                "Good morning!\nTranslate the line above into Japanese.",
                "Good evening!\nTranslate the line above into Japanese.",
            ),
            (
                "I love you.\nTranslate into French.",
                "We love you.\nTranslate into French.",
            ),
            ("Does he know I want a divorce?", "Does he want a divorce?"),
            (
                "My mother is 60 and she is 4 years older than my father. How old is my father?",
                "My mother is 60 and she is 4 years older than my father. How old is she?",
            ),
            (
                "My dog bit her cat. Is my dog OK?",
                "My dog bit her cat. Is her cat OK?",
            ),
            (
                "How much do 3 hundred dollar bills weigh?",
                "How much do 300 dollar bills weigh?",
            ),
            ("What is pow(2,100) mod 7?", "What is 2100 mod 7?"),
            (
                "turn on notifications on iPhone",
                "turn down notifications on iPhone",
            ),
            ("a good GPU for gaming", "the best GPU for gaming"),
            (
                "Urgent! Jordan borders which countries?",
                "Quick! Peru borders which countries?",
            ),
        ] {
            assert!(!same_details(a, b), "{a} / {b}");
        }
        assert!(same_details(
            "a budget of 1,250,000 EUR",
            "a budget of 1250000 EUR"
        ));
    }

    #[test]
    fn spelled_numbers_units_greetings_and_frames_are_not_differences() {
        for (a, b) in [
            (
                "What is five hundred acres in hectares?",
                "What is 500 acres in hectares?",
            ),
            ("about 39,000 miles a year", "about 39000 miles a year"),
            ("My sister is thirty-four.", "My sister is 34."),
            (
                "Someone weighs 65 kilos on Earth",
                "Someone weighs 65 kg on Earth",
            ),
            ("boiling point at 2750 metres", "boiling point at 2750 m"),
            // "am" is a time of day only after a number.
            (
                "I am 42. How old was my aunt 2 years ago?",
                "I'm 42. How old was my aunt 2 years ago?",
            ),
            (
                "Good morning. I have a question. How many integers from 1 to 80 are multiples of 4?",
                "How many integers from 1 to 80 are multiples of 4?",
            ),
            (
                "Dear assistant, I would appreciate your help with the following. Cheetahs eat gazelles, right?",
                "cheetahs eat gazelles, right?",
            ),
            ("Is it true that snakes eat frogs?", "Do snakes eat frogs?"),
            (
                "Show me a Rust snippet that reads a file",
                "a Rust snippet that reads a file",
            ),
            (
                "I need a Python program that reads CSV",
                "Write a Python program that reads CSV",
            ),
            ("I would like 7 ideas.", "I'd like 7 ideas."),
            (
                "Do all spiders prey on flies?",
                "Do all spiders hunt and eat flies?",
            ),
            (
                "how do I merge feature/search into main in the terminal?",
                "in the terminal, how do I merge feature/search into main?",
            ),
        ] {
            assert!(same_details(a, b), "{a} / {b}");
        }
    }

    #[test]
    fn balanced_lets_through_what_strict_turns_away_and_nothing_else() {
        let (dogs, cats) = (
            Salient::of("Is chocolate bad for dogs?"),
            Salient::of("Is chocolate bad for cats?"),
        );
        assert_eq!(
            dogs.disagreements(&cats),
            Checks::NONE.with(Check::Substitution)
        );
        assert!(!dogs.agrees_with(&cats, Precision::Strict));
        assert!(dogs.agrees_with(&cats, Precision::Balanced));
        let (mine, hers) = (
            Salient::of("Can you check my essay for errors?"),
            Salient::of("Can you check her essay for errors?"),
        );
        assert!(!mine.agrees_with(&hers, Precision::Balanced));
        let (five, six) = (
            Salient::of("convert 5 miles to km"),
            Salient::of("convert 6 miles to km"),
        );
        assert!(!five.agrees_with(&six, Precision::Balanced));
        assert_eq!(Precision::default(), Precision::Strict);
        assert_eq!("balanced".parse(), Ok(Precision::Balanced));
        assert!("Strict".parse::<Precision>().is_err());
        assert!("strict\0".parse::<Precision>().is_err());
        assert!(!Checks::all().without(Check::Poles).contains(Check::Poles));
        assert!(Check::ALL.iter().all(|c| Checks::all().contains(*c)));
    }
}
