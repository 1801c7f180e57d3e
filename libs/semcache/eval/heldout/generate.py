#!/usr/bin/env python3
"""Held-out evaluation pairs for the semantic cache (independent of the verifier).

Prints JSON lines to stdout:
  {"a", "b", "hit", "kind", "why", "domain", "family", "split"}

Every pair comes from a template family: a slot sampler, several surface forms
that mean the same thing for the same slots, and near-miss mutations that change
exactly one salient thing (a slot, a swap of two slots, or a flipped
scope/tense/person/negation word).  The split is by family: a stable hash of
the family name puts ~40% of families in "dev" and the rest in "test".

Python 3 standard library only; deterministic for a fixed SEED.
    python3 generate.py > pairs.jsonl
"""
import hashlib
import json
import random
import re
import sys

SEED = 20240611
TARGET_TOTAL = 4000
SHARE = {"paraphrase": 0.40, "near_miss": 0.50, "unrelated": 0.10}
NEAR_KINDS = ["direction", "role", "person", "scope", "negation", "quantity",
              "number", "format", "time", "entity", "language", "unit"]
PARA_WHYS = {"reword": 0.22, "reorder": 0.14, "typo": 0.12, "filler": 0.14,
             "formality": 0.12, "contraction": 0.10, "synonym": 0.16}


def split_of(family):
    h = int(hashlib.sha256(family.encode("utf-8")).hexdigest(), 16)
    return "dev" if h % 100 < 40 else "test"


# ---------------------------------------------------------------- values ---

ONES = ("zero one two three four five six seven eight nine ten eleven twelve "
        "thirteen fourteen fifteen sixteen seventeen eighteen nineteen").split()
TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy",
        "eighty", "ninety"]


def words(n):
    if n < 0:
        return None
    if n < 20:
        return ONES[n]
    if n < 100:
        t, o = divmod(n, 10)
        return TENS[t] + ("" if o == 0 else "-" + ONES[o])
    if n < 1000 and n % 100 == 0:
        return ONES[n // 100] + " hundred"
    if n < 100000 and n % 1000 == 0:
        w = words(n // 1000)
        return w + " thousand" if w else None
    return None


class V:
    """A slot value: alts are interchangeable surface strings (synonyms);
    at holds attributes (plural, pronoun, time zone...)."""
    __slots__ = ("alts", "k", "at")

    def __init__(self, *alts, **at):
        self.alts = tuple(alts)
        self.k = 0
        self.at = at

    def __str__(self):
        return self.alts[self.k % len(self.alts)]

    def __format__(self, spec):
        return str(self)

    @property
    def c(self):
        return self.alts[0]

    def __getitem__(self, key):
        return self.at[key]

    def get(self, key, default=None):
        return self.at.get(key, default)

    def clone(self, k=None):
        v = V(*self.alts, **self.at)
        v.k = self.k if k is None else k
        return v


def Num(n, words_ok=True):
    alts = [str(n)]
    if n < 0:
        alts.append("minus " + str(-n))
    elif words_ok:
        w = words(n)
        if w:
            alts.append(w)
    if abs(n) >= 1000:
        alts.append(f"{n:,}")
    return V(*alts, n=n)


def Year(n):
    return V(str(n), n=n)


def Pct(p):
    alts = [f"{p}%", f"{p} percent"]
    if words(p):
        alts.append(f"{words(p)} percent")
    return V(*alts, n=p)


def vary(v, rng, p0=0.6):
    v = v.clone()
    v.k = 0 if (len(v.alts) == 1 or rng.random() < p0) else rng.randrange(1, len(v.alts))
    return v


def pk(rng, pool, excl=()):
    ex = set(x.c if isinstance(x, V) else x for x in excl)
    return vary(rng.choice([v for v in pool if v.c not in ex]), rng)


def nm(rng, n, words_ok=True):
    return vary(Num(n, words_ok), rng, 0.7)


def like(new, old):
    """Clone `new` keeping the alternative index of `old` when possible."""
    v = new.clone()
    v.k = old.k if (isinstance(old, V) and old.k < len(new.alts)) else 0
    return v


def an(word):
    w = str(word).strip()
    if not w:
        return "a"
    first = w.split()[0]
    if first.isupper() and len(first) > 1:      # acronyms: an XML, a CSV
        return "an" if first[0] in "AEFHILMNORSX" else "a"
    lw = w.lower()
    if lw.startswith(("uni", "use", "usu", "eu", "one", "uk", "us ", "ura", "urug", "uti", "ure")):
        return "a"
    if lw.startswith(("hour", "honest", "heir", "xbox", "xlsx", "x-")):
        return "an"
    return "an" if lw[0] in "aeiou" else "a"


def cap(t):
    return t[:1].upper() + t[1:] if t else t


# ---------------------------------------------------------- forms, family ---

class F:
    __slots__ = ("t", "tag", "when", "low")

    def __init__(self, t, tag="", when=None, low=None):
        self.t = t
        self.tag = tag
        self.when = when
        self.low = low if low is not None else (isinstance(t, str) and t[:1].islower())


class Fam:
    def __init__(self, name, domain, sample, forms, muts, derive=None):
        self.name = name
        self.domain = domain
        self.sample = sample
        self.forms = forms
        self.muts = muts
        self.derive = derive
        self.split = split_of(name)

    def ok_forms(self, s):
        return [i for i, f in enumerate(self.forms) if f.when is None or f.when(s)]


FAMS = []


def family(name, domain, forms, muts, derive=None):
    def deco(sample):
        FAMS.append(Fam(name, domain, sample, forms, muts, derive))
        return sample
    return deco


def fix_articles(t):
    """a/an agreement with the following word (templates fill slots freely)."""
    def rep(m):
        art, word = m.group(1), m.group(2)
        if word[0].isdigit():
            num = re.match(r"\d+", word).group()
            want = "an" if (num.startswith("8") or num in ("11", "18") or
                            (len(num) in (5, 6) and num[:2] in ("11", "18"))) else "a"
        else:
            want = an(word)
        if art[0].isupper():
            want = cap(want)
        return f"{want} {word}"
    t = re.sub(r"(?<![\w'])(an?) ([A-Za-z0-9][\w+#.\-]*)", rep, t)
    return re.sub(r"(?:(?<=^)|(?<=[.?!:]\s)|(?<=\n))(An?) ([A-Za-z0-9][\w+#.\-]*)", rep, t)


def cap_word_ok(t):
    # keep brand casing such as iPhone, eBay, iCloud+
    return not (len(t) > 1 and t[0].islower() and t[1].isupper())


def tidy(t, low):
    t = re.sub(r"[ \t]+", " ", t)
    t = re.sub(r" *\n *", "\n", t)
    t = re.sub(r" +([,.;:?!])", r"\1", t)
    t = re.sub(r"(?<!\.)\.\.(?!\.)", ".", t)
    t = t.replace("?.", "?").replace("!.", "!").replace(".?", "?").replace(",.", ".")
    t = fix_articles(t.strip())
    if not low:
        if t[:1].isalpha() and cap_word_ok(t):
            t = cap(t)
        t = re.sub(r'([.?!]\s+)([a-z])(?![A-Z])', lambda m: m.group(1) + m.group(2).upper(), t)
    return t


def render(fam, s, i):
    form = fam.forms[i]
    d = {k: (str(v) if isinstance(v, V) else v) for k, v in s.items()}
    if fam.derive:
        d.update(fam.derive(s, d))
    txt = form.t(d) if callable(form.t) else form.t.format(**d)
    return tidy(txt, form.low)


# ------------------------------------------------------- mutation helpers ---

def m_swap(a, b, ok=None):
    def f(s, rng):
        if str(s[a]) == str(s[b]) or (isinstance(s[a], V) and s[a].c == s[b].c):
            return None
        s2 = dict(s)
        s2[a], s2[b] = s[b], s[a]
        return s2 if (ok is None or ok(s2)) else None
    return f


def m_pool(key, pool, ok=None):
    def f(s, rng):
        cur = s[key]
        cands = [v for v in pool if v.c != cur.c and (ok is None or ok(s, v))]
        if not cands:
            return None
        s2 = dict(s)
        s2[key] = like(rng.choice(cands), cur)
        return s2
    return f


def m_num(key, choices, ok=None, words_ok=True, ratio=None, make=None):
    """Change a number slot; ratio=r keeps only values at least r times
    larger or smaller (so the answer clearly changes)."""
    def f(s, rng):
        cur = s[key]
        n = cur["n"]
        opts = choices(s) if callable(choices) else choices
        opts = [x for x in opts if x != n and (ok is None or ok(s, x))]
        if ratio:
            opts = [x for x in opts if min(abs(x), abs(n)) > 0 and
                    max(abs(x), abs(n)) >= ratio * min(abs(x), abs(n))]
        if not opts:
            return None
        s2 = dict(s)
        x = rng.choice(opts)
        s2[key] = like(make(x) if make else Num(x, words_ok), cur)
        return s2
    return f


def m_pool_via(key, pool, pivot):
    """Change `key` to another value of `pool`, always to or from the value whose
    canonical form is in `pivot` (e.g. all <-> most, all <-> some, but not most <-> some)."""
    def f(s, rng):
        cur = s[key]
        if cur.c in pivot:
            cands = [v for v in pool if v.c not in pivot]
        else:
            cands = [v for v in pool if v.c in pivot]
        if not cands:
            return None
        s2 = dict(s)
        s2[key] = like(rng.choice(cands), cur)
        return s2
    return f


def m_flip(key):
    def f(s, rng):
        s2 = dict(s)
        s2[key] = not s[key]
        return s2
    return f


def m_any(*fs):
    def f(s, rng):
        order = list(fs)
        rng.shuffle(order)
        for g in order:
            r = g(s, rng)
            if r is not None:
                return r
        return None
    return f



# ---------------------------------------------------------- vocabularies ---

def _cities():
    rows = [
        (("New York City", "NYC"), -5), (("Los Angeles", "LA"), -8),
        (("San Francisco", "SF"), -8), (("Chicago",), -6), (("Toronto",), -5),
        (("Vancouver",), -8), (("Mexico City", "CDMX"), -6),
        (("São Paulo", "Sao Paulo"), -3), (("Rio de Janeiro", "Rio"), -3),
        (("Buenos Aires",), -3), (("Lima",), -5), (("Bogotá", "Bogota"), -5),
        (("Havana",), -5), (("Honolulu",), -10), (("London",), 0),
        (("Dublin",), 0), (("Lisbon",), 0), (("Reykjavik", "Reykjavík"), 0),
        (("Accra",), 0), (("Dakar",), 0), (("Paris",), 1), (("Berlin",), 1),
        (("Madrid",), 1), (("Rome",), 1), (("Amsterdam",), 1), (("Vienna",), 1),
        (("Stockholm",), 1), (("Prague",), 1), (("Warsaw",), 1), (("Lagos",), 1),
        (("Athens",), 2), (("Helsinki",), 2), (("Kyiv", "Kiev"), 2), (("Cairo",), 2),
        (("Johannesburg", "Joburg"), 2), (("Cape Town",), 2), (("Kigali",), 2),
        (("Istanbul",), 3), (("Nairobi",), 3), (("Addis Ababa",), 3), (("Doha",), 3),
        (("Riyadh",), 3), (("Tehran",), 3.5), (("Dubai",), 4), (("Tbilisi",), 4),
        (("Karachi",), 5), (("Delhi", "New Delhi"), 5.5), (("Mumbai", "Bombay"), 5.5),
        (("Bengaluru", "Bangalore"), 5.5), (("Kolkata", "Calcutta"), 5.5),
        (("Kathmandu",), 5.75), (("Dhaka",), 6), (("Bangkok",), 7), (("Hanoi",), 7),
        (("Ho Chi Minh City", "Saigon"), 7), (("Jakarta",), 7),
        (("Kuala Lumpur", "KL"), 8), (("Singapore",), 8), (("Manila",), 8),
        (("Hong Kong", "HK"), 8), (("Shanghai",), 8), (("Beijing",), 8),
        (("Taipei",), 8), (("Perth",), 8), (("Seoul",), 9), (("Tokyo",), 9),
        (("Osaka",), 9), (("Sydney",), 10), (("Melbourne",), 10), (("Auckland",), 12),
    ]
    return [V(*names, tz=tz) for names, tz in rows]


CITIES = _cities()
# cities with marked seasons (month changes really change weather-dependent answers)
TEMPERATE = [c for c in CITIES if c.c in (
    "New York City", "Chicago", "Toronto", "Vancouver", "Buenos Aires", "London", "Dublin", "Reykjavik",
    "Paris", "Berlin", "Madrid", "Rome", "Amsterdam", "Vienna", "Stockholm", "Prague", "Warsaw", "Athens",
    "Helsinki", "Kyiv", "Istanbul", "Tbilisi", "Tehran", "Seoul", "Tokyo", "Osaka", "Beijing", "Shanghai",
    "Sydney", "Melbourne", "Auckland", "Cape Town", "Johannesburg", "Lisbon", "San Francisco", "Perth")]

NAMES = [V(n, pr=p) for n, p in [
    ("Aisha", "she"), ("Mateo", "he"), ("Yuki", "she"), ("Priya", "she"),
    ("Oluwaseun", "he"), ("Lars", "he"), ("Chen Wei", "he"), ("Fatima", "she"),
    ("Dmitri", "he"), ("Ngozi", "she"), ("Santiago", "he"), ("Hannah", "she"),
    ("Kwame", "he"), ("Mei", "she"), ("Arjun", "he"), ("Sofia", "she"),
    ("Omar", "he"), ("Ingrid", "she"), ("Tomás", "he"), ("Leilani", "she"),
    ("Hiroshi", "he"), ("Zanele", "she"), ("Rafael", "he"), ("Anika", "she"),
    ("Bilal", "he"), ("Camille", "she"), ("Diego", "he"), ("Elif", "she"),
    ("Farhan", "he"), ("Giulia", "she"), ("Hamid", "he"), ("Isabela", "she"),
    ("Jin-woo", "he"), ("Kofi", "he"), ("Lucía", "she"), ("Malik", "he"),
    ("Nadia", "she"), ("Olga", "she"), ("Pedro", "he"), ("Rania", "she"),
    ("Siddharth", "he"), ("Tariq", "he"), ("Valentina", "she"), ("Wanjiru", "she"),
    ("Yusuf", "he"), ("Zoe", "she"), ("Amara", "she"), ("Björn", "he"),
    ("Chiara", "she"), ("Esra", "she"), ("Femi", "he"), ("Gabriel", "he"),
    ("Hye-jin", "she"), ("Ivan", "he"), ("Jamal", "he"), ("Keiko", "she"),
    ("Liam", "he"), ("Maya", "she"), ("Nikhil", "he"), ("Oscar", "he"),
    ("Ravi", "he"), ("Sakura", "she"), ("Thabo", "he"), ("Uma", "she"),
    ("Viktor", "he"), ("Ximena", "she"), ("Yara", "she"), ("Zainab", "she"),
    ("Mohammed", "he"), ("Aroha", "she"), ("Emeka", "he"), ("Sipho", "he"),
    ("Aigerim", "she"), ("Bao", "he"), ("Linh", "she"), ("Matías", "he"),
    ("Sione", "he"), ("Astrid", "she"), ("Kenji", "he"), ("Nia", "she")]]

POSS = {"she": "her", "he": "his", "they": "their"}
OBJ = {"she": "her", "he": "him", "they": "them"}

LANGS = [V("French"), V("Spanish"), V("German"), V("Italian"), V("Portuguese"),
         V("Japanese"), V("Mandarin Chinese", "Mandarin", "Chinese (Mandarin)"),
         V("Korean"), V("Arabic"), V("Hindi"), V("Swahili", "Kiswahili"),
         V("Russian"), V("Turkish"), V("Dutch"), V("Polish"), V("Vietnamese"),
         V("Indonesian", "Bahasa Indonesia"), V("Greek"), V("Hebrew"), V("Swedish"),
         V("Persian", "Farsi"), V("Yoruba"), V("Thai"), V("Ukrainian"),
         V("Bengali", "Bangla"), V("Tagalog"), V("Finnish"), V("Zulu", "isiZulu"),
         V("Czech"), V("Romanian")]
ENGLISH = V("English")
LANGS_EN = LANGS + [ENGLISH]
# languages whose third-person pronoun does not mark he/she
GENDERLESS = {"Turkish", "Finnish", "Persian", "Indonesian", "Tagalog", "Yoruba",
              "Bengali", "Thai", "Swahili", "Hindi", "Zulu"}

PLANGS = [V("Python"), V("JavaScript", "JS"), V("TypeScript", "TS"), V("Go", "Golang"),
          V("Rust"), V("Java"), V("C#", "C sharp"), V("C++"), V("Ruby"), V("PHP"),
          V("Kotlin"), V("Swift"), V("Scala"), V("Haskell"), V("Elixir"), V("Julia"),
          V("Lua"), V("Dart"), V("OCaml"), V("Clojure"), V("Perl"), V("F#"), V("Zig"),
          V("Nim"), V("Erlang")]

CURRENCIES = [V("US dollars", "USD"), V("euros", "EUR"), V("British pounds", "GBP", "pounds sterling"),
              V("Japanese yen", "JPY"), V("Indian rupees", "INR"), V("Canadian dollars", "CAD"),
              V("Australian dollars", "AUD"), V("Swiss francs", "CHF"), V("Brazilian reais", "BRL"),
              V("Mexican pesos", "MXN"), V("South African rand", "ZAR"), V("Nigerian naira", "NGN"),
              V("Kenyan shillings", "KES"), V("Swedish kronor", "SEK"), V("Polish zloty", "PLN"),
              V("Turkish lira", "TRY"), V("South Korean won", "KRW"), V("Chinese yuan", "CNY", "renminbi"),
              V("Thai baht", "THB"), V("Singapore dollars", "SGD"), V("New Zealand dollars", "NZD"),
              V("Egyptian pounds", "EGP")]

COUNTRIES = [V(*names, adj=adj, reg=reg) for names, adj, reg in [
    (("Brazil",), "Brazilian", "SA"), (("Japan",), "Japanese", "EA"),
    (("India",), "Indian", "SAS"), (("Nigeria",), "Nigerian", "AF"),
    (("Germany",), "German", "EU"), (("Canada",), "Canadian", "NA"),
    (("Mexico",), "Mexican", "CA"), (("Kenya",), "Kenyan", "AF"),
    (("Australia",), "Australian", "OC"), (("South Korea",), "South Korean", "EA"),
    (("Egypt",), "Egyptian", "ME"), (("Turkey", "Türkiye"), "Turkish", "ME"),
    (("Indonesia",), "Indonesian", "SEA"), (("Vietnam", "Viet Nam"), "Vietnamese", "SEA"),
    (("Argentina",), "Argentine", "SA"), (("Colombia",), "Colombian", "SA"),
    (("the Philippines",), "Filipino", "SEA"), (("Pakistan",), "Pakistani", "SAS"),
    (("Morocco",), "Moroccan", "AF"), (("South Africa",), "South African", "AF"),
    (("Thailand",), "Thai", "SEA"), (("France",), "French", "EU"),
    (("Italy",), "Italian", "EU"), (("Spain",), "Spanish", "EU"),
    (("Poland",), "Polish", "EU"), (("Ukraine",), "Ukrainian", "EE"),
    (("the United Kingdom", "the UK"), "British", "UK"),
    (("the United States", "the US", "the USA"), "American", "NA"),
    (("China",), "Chinese", "EA"), (("Ghana",), "Ghanaian", "AF"),
    (("Peru",), "Peruvian", "SA"), (("Chile",), "Chilean", "SA"),
    (("New Zealand",), "New Zealand", "OC"), (("Ireland",), "Irish", "EU"),
    (("Sweden",), "Swedish", "EU"), (("Saudi Arabia",), "Saudi", "ME"),
    (("the United Arab Emirates", "the UAE"), "Emirati", "ME"),
    (("Russia",), "Russian", "EE"), (("Ethiopia",), "Ethiopian", "AF"),
    (("Bangladesh",), "Bangladeshi", "SAS"), (("Sri Lanka",), "Sri Lankan", "SAS"),
    (("Nepal",), "Nepali", "SAS"), (("Jamaica",), "Jamaican", "CA"),
    (("Kazakhstan",), "Kazakh", "CAS"), (("Malaysia",), "Malaysian", "SEA")]]

MONTHS = ["January", "February", "March", "April", "May", "June", "July",
          "August", "September", "October", "November", "December"]


def month_apart(a, b, gap=4):
    ia, ib = MONTHS.index(a), MONTHS.index(b)
    d = abs(ia - ib)
    return min(d, 12 - d) >= gap



# =============================================================== families ===
# Each family: @family(name, domain, forms, mutations, derive) on a sampler.

# ------------------------------------------------------------ questions ---

LANDMARKS = [V("the Eiffel Tower"), V("the Burj Khalifa"), V("the Statue of Liberty", "Lady Liberty"),
             V("Big Ben", "the Elizabeth Tower"), V("the Leaning Tower of Pisa", "the Tower of Pisa"),
             V("the CN Tower", "Toronto's CN Tower"), V("the Tokyo Skytree", "Tokyo Skytree"),
             V("the Space Needle", "Seattle's Space Needle"), V("the Petronas Towers", "the Petronas Twin Towers"),
             V("the Washington Monument"), V("the Gateway Arch", "the St. Louis Gateway Arch"),
             V("the Shanghai Tower"), V("Taipei 101"), V("the Great Pyramid of Giza", "the Pyramid of Khufu"),
             V("the Christ the Redeemer statue", "Rio's Christ the Redeemer statue"),
             V("the Empire State Building"), V("the Lotte World Tower"), V("the Ostankino Tower"),
             V("the Sky Tower in Auckland", "Auckland's Sky Tower"), V("the Milad Tower"), V("the Atomium"),
             V("the Berlin TV Tower", "the Fernsehturm in Berlin"), V("the Shard", "the Shard in London"),
             V("the Willis Tower", "the Sears Tower"), V("One World Trade Center", "the Freedom Tower"),
             V("the Arc de Triomphe"), V("the Colosseum"), V("the Sydney Harbour Bridge")]
HEIGHT_UNITS = [V("meters", "metres"), V("feet")]


@family("landmark_height#1", "questions", [
    F("How tall is {lm} in {unit}?"), F("What is the height of {lm} in {unit}?"),
    F("{lm} height in {unit}?"), F("In {unit}, how tall is {lm}?"),
    F("how high is {lm}? answer in {unit}"), F("Tell me the height of {lm} in {unit}."),
    F("I'd like to know how tall {lm} is, in {unit}."),
    F("What's the height of {lm}, measured in {unit}?")],
    {"entity": m_pool("lm", LANDMARKS), "unit": m_pool("unit", HEIGHT_UNITS)})
def _(r):
    return {"lm": pk(r, LANDMARKS), "unit": pk(r, HEIGHT_UNITS)}


ANIMALS = [V(w, pl=p) for w, p in [
    ("cheetah", "cheetahs"), ("horse", "horses"), ("elephant", "elephants"), ("giraffe", "giraffes"),
    ("hippo", "hippos"), ("rhino", "rhinos"), ("ostrich", "ostriches"), ("kangaroo", "kangaroos"),
    ("grizzly bear", "grizzly bears"), ("polar bear", "polar bears"), ("gorilla", "gorillas"),
    ("chimpanzee", "chimpanzees"), ("zebra", "zebras"), ("moose", "moose"), ("bison", "bison"),
    ("camel", "camels"), ("lion", "lions"), ("tiger", "tigers"), ("jaguar", "jaguars"),
    ("wolf", "wolves"), ("hyena", "hyenas"), ("crocodile", "crocodiles"),
    ("alligator", "alligators"), ("greyhound", "greyhounds"), ("red fox", "red foxes"),
    ("gazelle", "gazelles"), ("wildebeest", "wildebeest"), ("warthog", "warthogs"),
    ("koala", "koalas"), ("sloth", "sloths"), ("tortoise", "tortoises"), ("emu", "emus"),
    ("llama", "llamas"), ("donkey", "donkeys"), ("reindeer", "reindeer"),
    ("orangutan", "orangutans"), ("leopard", "leopards"), ("panda", "pandas"),
    ("walrus", "walruses"), ("beaver", "beavers")]]
COMPS = [(V("faster", "quicker"), V("slower")), (V("heavier"), V("lighter")),
         (V("bigger", "larger"), V("smaller")), (V("taller"), V("shorter")),
         (V("stronger"), V("weaker"))]


def _q2_derive(s, d):
    x, y = s["x"], s["y"]
    return {"ax": f"{an(x.c)} {x.c}", "ay": f"{an(y.c)} {y.c}", "xp": x["pl"], "yp": y["pl"]}


def _q2_quantity(s, rng):
    s2 = dict(s)
    s2["cmp"], s2["anti"] = s["anti"], s["cmp"]
    return s2


@family("animal_compare#1", "questions", [
    F("Is {ax} {cmp} than {ay}?", "xy"), F("Are {xp} {cmp} than {yp}?", "xy"),
    F("is {ax} {cmp} than {ay}", "xy"), F("Is it true that {ax} is {cmp} than {ay}?", "xy"),
    F("Quick question: are {xp} generally {cmp} than {yp}?", "xy"),
    F("Is {ay} {anti} than {ax}?", "yx"), F("Would you say {yp} are {anti} than {xp}?", "yx"),
    F("is it true that {ay} is {anti} than {ax}", "yx")],
    {"direction": m_swap("x", "y"), "quantity": _q2_quantity}, _q2_derive)
def _(r):
    x = pk(r, ANIMALS)
    y = pk(r, ANIMALS, [x])
    c = r.choice(COMPS)
    return {"x": x, "y": y, "cmp": vary(c[0], r), "anti": vary(c[1], r)}


GAMES = [V(f"{y} Summer Olympics", f"{c} {y} Olympics", f"{y} Olympic Games in {c}", y=y)
         for y, c in [(1996, "Atlanta"), (2000, "Sydney"), (2004, "Athens"), (2008, "Beijing"),
                      (2012, "London"), (2016, "Rio"), (2020, "Tokyo"), (2024, "Paris")]]
OLY = [V(*n) for n in [("Kenya",), ("Jamaica",), ("Brazil",), ("Japan",), ("Australia",),
                        ("Germany",), ("China",), ("the United States", "the US", "the USA"),
                        ("Great Britain", "Team GB"), ("France",), ("Italy",), ("the Netherlands",),
                        ("South Korea",), ("Ethiopia",), ("Cuba",), ("Hungary",), ("New Zealand",),
                        ("Canada",), ("India",), ("Spain",), ("Poland",), ("Ukraine",), ("Turkey",),
                        ("Iran",), ("Uzbekistan",), ("Croatia",), ("Norway",), ("Sweden",)]]


@family("olympic_medals#1", "questions", [
    F("How many gold medals did {c} win at the {g}?"), F("{c} gold medal count at the {g}?"),
    F("At the {g}, how many golds did {c} win?"),
    F("number of gold medals won by {c} at the {g}"),
    F("What was the gold medal tally for {c} at the {g}?"),
    F("how many golds did {c} take home from the {g}"),
    F("Could you tell me how many gold medals {c} won at the {g}?")],
    {"entity": m_pool("c", OLY), "time": m_pool("g", GAMES)})
def _(r):
    return {"c": pk(r, OLY), "g": pk(r, GAMES)}


TASKS = [V(t, ger=g, tool=tl, bare=b) for t, g, tl, b in [
    ("open a wine bottle", "opening a wine bottle", "a corkscrew", "corkscrew"),
    ("hang a picture", "hanging a picture", "nails", "nails"),
    ("unclog a drain", "unclogging a drain", "chemical drain cleaner", "drain cleaner"),
    ("clean a cast-iron pan", "cleaning a cast-iron pan", "soap", "soap"),
    ("get wrinkles out of a shirt", "getting wrinkles out of a shirt", "an iron", "iron"),
    ("make coffee", "making coffee", "a coffee maker", "coffee maker"),
    ("sharpen a kitchen knife", "sharpening a kitchen knife", "a whetstone", "whetstone"),
    ("start a campfire", "starting a campfire", "matches", "matches"),
    ("whip cream", "whipping cream", "an electric mixer", "mixer"),
    ("remove a stripped screw", "removing a stripped screw", "a screw extractor", "screw extractor"),
    ("measure flour", "measuring flour", "a kitchen scale", "scale"),
    ("find north", "finding north", "a compass", "compass"),
    ("soften butter quickly", "softening butter quickly", "a microwave", "microwave"),
    ("open a can", "opening a can", "a can opener", "can opener"),
    ("level a shelf", "leveling a shelf", "a spirit level", "spirit level"),
    ("cut a board straight", "cutting a board straight", "a table saw", "table saw"),
    ("dry my hair", "drying my hair", "a hair dryer", "hair dryer"),
    ("toast bread", "toasting bread", "a toaster", "toaster"),
    ("cook rice", "cooking rice", "a rice cooker", "rice cooker"),
    ("clean windows", "cleaning windows", "a squeegee", "squeegee")]]


def _q4_derive(s, d):
    t, neg = s["task"], s["neg"]
    tool = t["tool"]
    return {"ger": t["ger"],
            "ca": f"without {tool}" if neg else f"using {tool}",
            "cb": f"if I don't have {tool}" if neg else f"with {tool}",
            "cc": f"no {t['bare']}" if neg else f"with {tool}"}


@family("howto_without#1", "questions", [
    F("Give me {n} ways to {task} {ca}."), F("What are {n} ways to {task} {cb}?"),
    F("{n} ways to {task}, {cc}?"), F("I need {n} methods for {ger} {ca}."),
    F("List {n} different ways I can {task} {ca}."),
    F("how can i {task} {cb}? give me {n} options"),
    F("What are some good ways to {task} {ca}? I'd like {n} ideas.")],
    {"negation": m_flip("neg"), "number": m_num("n", range(2, 9))}, _q4_derive)
def _(r):
    return {"task": pk(r, TASKS), "n": nm(r, r.randint(2, 7)), "neg": r.random() < 0.65}


COMPETITIONS = [
    V("FIFA World Cup", "World Cup", years=[1998, 2002, 2006, 2010, 2014, 2018, 2022]),
    V("Tour de France", years=list(range(2008, 2024))),
    V("Wimbledon men's singles title", "men's singles title at Wimbledon", years=list(range(2003, 2024))),
    V("Nobel Peace Prize", years=list(range(1995, 2024))),
    V("Eurovision Song Contest", "Eurovision", years=[y for y in range(2005, 2024) if y != 2020]),
    V("Ballon d'Or", years=[y for y in range(2005, 2024) if y != 2020]),
    V("NBA Finals", "NBA championship", years=list(range(1995, 2024))),
    V("Rugby World Cup", years=[1995, 1999, 2003, 2007, 2011, 2015, 2019, 2023]),
    V("UEFA Champions League", "Champions League", years=list(range(2000, 2024))),
    V("Booker Prize", years=list(range(2000, 2024))),
    V("Cricket World Cup", "ICC Cricket World Cup", years=[1996, 1999, 2003, 2007, 2011, 2015, 2019, 2023]),
    V("FIFA Women's World Cup", "Women's World Cup", years=[1999, 2003, 2007, 2011, 2015, 2019, 2023]),
    V("Australian Open women's singles title", years=list(range(2000, 2024))),
    V("Nobel Prize in Literature", years=[y for y in range(1995, 2024) if y != 2018]),
]


def _q5_time(s, rng):
    ys = [y for y in s["comp"]["years"] if y != s["year"]["n"]]
    y = rng.choice(ys)
    s2 = dict(s)
    s2["year"] = V(str(y), n=y)
    return s2


@family("winner_year#1", "questions", [
    F("Who won the {year} {comp}?"), F("Who won the {comp} in {year}?"), F("{year} {comp} winner?"),
    F("who was the winner of the {comp} in {year}"), F("Tell me who won the {comp} back in {year}."),
    F("In {year}, who won the {comp}?"), F("Can you remind me who won the {comp} in {year}?")],
    {"time": _q5_time,
     "entity": m_pool("comp", COMPETITIONS, ok=lambda s, v: s["year"]["n"] in v["years"])})
def _(r):
    c = pk(r, COMPETITIONS)
    y = r.choice(c["years"])
    return {"comp": c, "year": V(str(y), n=y)}


FACTS = [V(c, aux=a, pred=p) for c, a, p in [
    ("birds", "can", "fly"), ("snakes", "do", "lay eggs"), ("spiders", "are", "venomous"),
    ("mammals", "do", "give birth to live young"), ("fish", "do", "have scales"),
    ("mushrooms", "are", "safe to eat"), ("bees", "do", "die after they sting"),
    ("sharks", "do", "have to keep swimming to breathe"), ("plants", "do", "need sunlight to grow"),
    ("metals", "are", "magnetic"), ("planets", "do", "have moons"), ("reptiles", "are", "cold-blooded"),
    ("trees", "do", "lose their leaves in winter"), ("penguins", "do", "live in Antarctica"),
    ("owls", "are", "nocturnal"), ("cats", "do", "dislike water"), ("volcanoes", "are", "cone-shaped"),
    ("bacteria", "are", "harmful to humans"), ("frogs", "are", "poisonous"), ("deserts", "are", "hot"),
    ("insects", "can", "fly"), ("bats", "are", "blind"), ("jellyfish", "can", "sting"),
    ("whales", "do", "migrate"), ("crabs", "do", "walk sideways"), ("rivers", "do", "flow into the sea"),
    ("diamonds", "are", "colorless"), ("moths", "are", "attracted to light"),
    ("dogs", "can", "swim"), ("sea turtles", "do", "return to the beach where they hatched")]]
SCOPES_ALL_MOST_SOME = [V("all"), V("most", "the majority of"), V("some")]


def _q6_derive(s, d):
    f, sc = s["cat"], d["sc"]
    aux = f["aux"]
    decl = f"{sc} {f.c} {'' if aux == 'do' else aux} {f['pred']}"
    return {"aux": aux, "pred": f["pred"], "decl": decl}


@family("all_some_facts#1", "questions", [
    F("{aux} {sc} {cat} {pred}?"), F("Is it true that {decl}?"), F("{decl}, right?", low=True),
    F("Fact check: {aux} {sc} {cat} {pred}?"), F("I read that {decl}. Is that correct?"),
    F("Would it be accurate to say that {decl}?")],
    {"scope": m_pool_via("sc", SCOPES_ALL_MOST_SOME, {"all"})}, _q6_derive)
def _(r):
    return {"cat": pk(r, FACTS), "sc": pk(r, SCOPES_ALL_MOST_SOME)}


# --------------------------------------------------------- instructions ---

EMAIL_ROLES = [("manager", "new intern"), ("landlord", "tenant"), ("teacher", "student's parent"),
               ("doctor", "patient"), ("support agent", "customer"), ("coach", "team captain"),
               ("editor", "author"), ("professor", "teaching assistant"), ("project lead", "client"),
               ("HR manager", "new hire"), ("school principal", "teacher"),
               ("restaurant owner", "supplier"), ("mentor", "mentee"), ("homeowner", "contractor"),
               ("event organizer", "caterer"), ("team lead", "product manager"),
               ("store manager", "cashier"), ("researcher", "lab technician")]
EVENTS = ["meeting", "phone call", "inspection", "appointment", "visit", "check-in call", "review meeting",
          "video call", "walkthrough", "planning meeting"]
WHEN_E = [V("yesterday's", t="past"), V("tomorrow's", t="fut"), V("last week's", t="past"),
          V("next week's", t="fut"), V("last Friday's", t="past"), V("next Friday's", t="fut")]
FMT_E = [V("Keep it under 50 words.", "Keep it below 50 words."),
         V("Use bullet points for the key details.", "Put the key details in bullet points."),
         V("Write it as a single paragraph with no lists.", "Make it one paragraph, no lists."),
         V("Format it in Markdown with a heading and sections.")]


def _i1_time(s, rng):
    cur = s["tm"]
    opts = [v for v in WHEN_E if v["t"] != cur["t"]]
    s2 = dict(s)
    s2["tm"] = like(rng.choice(opts), cur)
    return s2


@family("email_role#1", "instructions", [
    F("Write an email from the {r1} to the {r2} about {tm} {ev}. {fmt}", "12"),
    F("Draft an email that the {r1} will send to the {r2} regarding {tm} {ev}. {fmt}", "12"),
    F("email from {r1} to {r2} re {tm} {ev}. {fmt}", "12"),
    F("Can you write an email from the {r1} to the {r2} about {tm} {ev}? {fmt}", "12"),
    F("Please write an email. It should go from the {r1} to the {r2} and cover {tm} {ev}. {fmt}", "12"),
    F("Write an email to the {r2} from the {r1} about {tm} {ev}. {fmt}", "21"),
    F("I need an email addressed to the {r2}, sent by the {r1}, about {tm} {ev}. {fmt}", "21")],
    {"role": m_swap("r1", "r2"), "time": _i1_time, "format": m_pool("fmt", FMT_E)})
def _(r):
    a, b = r.choice(EMAIL_ROLES)
    if r.random() < 0.5:
        a, b = b, a
    return {"r1": a, "r2": b, "tm": pk(r, WHEN_E), "ev": r.choice(EVENTS), "fmt": pk(r, FMT_E)}


COMPANIES = ["Northwind Foods", "Helios Solar", "Tata Motors", "Nestlé", "Siemens", "Samsung",
             "Toyota", "Infosys", "Alibaba", "Spotify", "Unilever", "Zara's owner Inditex",
             "Grupo Bimbo", "Naspers", "Rakuten", "Shopify", "Canva", "Jumia", "Embraer", "Natura"]
PRODUCTS_P = ["electric scooter", "frozen meals", "solar panel", "smartwatch", "cloud storage",
              "running shoe", "coffee capsule", "budget smartphone", "plant-based milk", "e-bike"]
REGIONS_P = ["Southeast Asia", "Latin America", "West Africa", "Eastern Europe", "the Middle East",
             "North America", "South Asia", "Scandinavia"]
CROPS = ["maize", "coffee", "wheat", "rice", "cocoa", "tea", "olive", "grape", "cotton", "potato"]
LIBS_P = ["pandas", "React", "Django", "Kubernetes", "PyTorch", "Rails", "Spring Boot", "Flutter",
          "TensorFlow", "Vue", "FastAPI", "Laravel"]


def make_passage(r):
    c = r.choice(CITIES).c
    n = r.choice(NAMES)
    pr = n["pr"]
    k = r.randrange(9)
    if k == 0:
        return (f"{r.choice(COMPANIES)} reported quarterly revenue of {r.randint(120, 980)} million dollars, "
                f"up {r.randint(3, 29)} percent from a year earlier. The growth was driven mainly by strong "
                f"demand for its {r.choice(PRODUCTS_P)} line in {r.choice(REGIONS_P)}. Executives warned, "
                f"however, that rising shipping costs could squeeze margins next year.")
    if k == 1:
        return (f"The city council of {c} voted on Tuesday to expand the bike-lane network by "
                f"{r.randint(20, 160)} kilometres over the next five years. Supporters say the plan will "
                f"cut traffic and improve air quality, while some shop owners worry about losing parking "
                f"spaces in front of their stores.")
    if k == 2:
        return (f"Researchers in {c} have found that people who walk at least {r.choice([20, 30, 40, 45])} "
                f"minutes a day report better sleep. The study followed {r.randint(300, 4000)} adults for a "
                f"year. The authors caution that the results show a correlation, not necessarily a cause, "
                f"and call for a controlled trial.")
    if k == 3:
        return (f"After {r.randint(3, 12)} years of restoration, the old railway station in {c} has reopened "
                f"as a public library and cafe. The project cost about {r.randint(8, 90)} million euros and was "
                f"funded partly by local donations. Visitors can still see the original iron roof and the "
                f"station clock.")
    if k == 4:
        return (f"A heatwave has pushed temperatures in {c} above {r.randint(36, 46)} degrees Celsius for the "
                f"{r.choice(['fifth', 'sixth', 'seventh', 'ninth', 'tenth'])} day in a row. Authorities have "
                f"opened cooling centres, extended the opening hours of public pools and asked residents to "
                f"avoid outdoor work during the afternoon.")
    if k == 5:
        return (f"{n.c}, a {r.randint(26, 67)}-year-old teacher from {c}, has completed a solo cycling trip "
                f"across {r.choice(COUNTRIES).c}, covering more than {r.randint(9, 60) * 100} kilometres in "
                f"{r.randint(4, 15)} weeks. {cap(pr)} raised money for a children's hospital along the way and "
                f"plans to write a book about the journey.")
    if k == 6:
        return (f"The new major version of {r.choice(LIBS_P)} adds support for asynchronous tasks and drops "
                f"compatibility with releases older than three years. Maintainers say upgrading should take "
                f"most teams less than a day, but they recommend reading the migration guide first and "
                f"running the full test suite.")
    if k == 7:
        return (f"Farmers near {c} say this year's {r.choice(CROPS)} harvest is {r.randint(15, 45)} percent "
                f"smaller than usual after months without rain. Prices at local markets have already started "
                f"to rise, and a farmers' association has asked the government for emergency support.")
    return (f"The museum in {c} will open a new wing dedicated to {r.choice(['textiles', 'maps', 'musical instruments', 'ceramics', 'early photography'])} "
            f"next spring. The collection includes more than {r.randint(2, 40) * 100} objects, many of them donated "
            f"by local families. Entry to the new wing will be free for the first {r.choice(['week', 'month', 'two weeks'])}.")


SUM_FMT = [V("bullet points", sg="bullet-point"), V("sentences", sg="sentence")]


def _i2_derive(s, d):
    lang = s["lang"]
    lp = "" if (lang.c == "English" and not s["explicit"]) else f" in {lang}"
    return {"lp": lp, "sg": s["fmt"]["sg"]}


@family("summarize_passage#1", "instructions", [
    F("Summarize the following text in {n} {fmt}{lp}:\n\n{passage}"),
    F("Can you give me a {n}-{sg} summary{lp} of this?\n\n{passage}"),
    F("{passage}\n\nSummarize the above in {n} {fmt}{lp}."),
    F("tl;dr this in {n} {fmt}{lp} pls: {passage}", low=True),
    F("Please condense this passage into {n} {fmt}{lp}.\n\n{passage}"),
    F("I need a summary{lp} of the text below, using {n} {fmt}.\n\n{passage}")],
    {"number": m_num("n", range(2, 7)), "format": m_pool("fmt", SUM_FMT),
     "language": m_pool("lang", LANGS_EN)}, _i2_derive)
def _(r):
    lang = ENGLISH.clone() if r.random() < 0.5 else pk(r, LANGS)
    return {"passage": V(make_passage(r)), "n": nm(r, r.randint(2, 5)), "fmt": pk(r, SUM_FMT),
            "lang": lang, "explicit": r.random() < 0.4}


REWRITE_TEXTS = [
    "We regret to inform you that your application was not successful this time.",
    "Hey, the meeting got moved to 3pm, don't be late.",
    "Our new app helps you track your spending and save money every month.",
    "I think we should maybe consider postponing the launch until next quarter.",
    "Thanks for your order! It will ship within two business days.",
    "The server will be down for maintenance on Sunday night.",
    "Please submit your timesheets by Friday or payroll will be delayed.",
    "I can't make it to the party, something came up.",
    "The quarterly numbers are below target and we need a plan.",
    "Your subscription renews automatically unless you cancel it.",
    "We are looking for volunteers to help at the community garden on Saturday.",
    "The new policy requires all visitors to sign in at the front desk.",
    "I finished the report but some of the data is still missing.",
    "Could you send me the slides before the call tomorrow?",
    "Our bakery now offers gluten-free bread every weekday.",
    "The bus to the airport leaves every twenty minutes from the main square."]
QUALS = [V("formal"), V("friendly"), V("confident"), V("technical"), V("persuasive", "convincing"),
         V("polite", "courteous"), V("enthusiastic"), V("casual", "informal"), V("urgent"), V("apologetic")]
FMT_R = [V("Give the result as a bulleted list of three options.", "Give me three options as a bullet list."),
         V("Return only the rewritten text, nothing else.", "Reply with just the rewritten text."),
         V("Put the result in a Markdown code block."),
         V("Return it as JSON with a 'rewrite' field.")]


def _i3_quantity(s, rng):
    s2 = dict(s)
    s2["dq"] = V("less") if s["dq"].c == "more" else V("more")
    return s2


@family("rewrite_more_less#1", "instructions", [
    F('Rewrite this to sound {dq} {q}: "{text}" {fmt}'),
    F('Make the following {dq} {q}. {fmt}\n\n"{text}"'),
    F('Can you make this sentence sound {dq} {q}? "{text}" {fmt}'),
    F('"{text}" -- rewrite it so it comes across as {dq} {q}. {fmt}'),
    F('rephrase so it sounds {dq} {q}: "{text}". {fmt}', low=True)],
    {"quantity": _i3_quantity, "format": m_pool("fmt", FMT_R)})
def _(r):
    return {"text": V(r.choice(REWRITE_TEXTS)), "q": pk(r, QUALS), "dq": V(r.choice(["more", "less"])),
            "fmt": pk(r, FMT_R)}


OOO_WHO = [V("I am", "I'm"), V("we are", "we're"), V("she is", "she's"), V("he is", "he's"),
           V("the whole team is", "our whole team is")]
OOO_DAYS = ["Monday", "next Friday", "January 8", "the 14th", "the end of the month", "after the holidays",
            "Tuesday the 3rd", "mid-August", "early September", "the 21st"]
TEAMS = ["finance team", "front desk", "IT helpdesk", "sales team", "legal department", "design team",
         "customer success team", "operations team"]


@family("out_of_office#1", "instructions", [
    F("Write an out-of-office auto-reply saying {who} away until {day} and that {name} from the {team} can help with anything urgent."),
    F("Draft an automatic email reply: {who} out of the office until {day}; urgent questions should go to {name} from the {team}."),
    F("ooo message pls - {who} away till {day}, {name} ({team}) covers urgent stuff", low=True),
    F("Can you write an away message explaining that {who} on leave until {day} and that {name} from the {team} is handling urgent requests?"),
    F("I need an out-of-office reply. Say that {who} away until {day} and point urgent matters to {name} from the {team}.")],
    {"person": m_pool("who", OOO_WHO), "entity": m_pool("name", NAMES)})
def _(r):
    return {"who": pk(r, OOO_WHO), "day": r.choice(OOO_DAYS), "name": pk(r, NAMES), "team": r.choice(TEAMS)}


POEM_TYPES = [V("haiku"), V("limerick"), V("sonnet")]
POEM_TOPICS = ["autumn in {c}", "a rainy evening in {c}", "the morning commute in {c}", "a summer night in {c}",
               "the streets of {c}", "leaving {c} for the last time", "the first snow in {c}",
               "the markets of {c}", "a quiet Sunday in {c}", "the skyline of {c} at dawn"]
RHYME = [V("rhymes", neg=False), V("doesn't rhyme", "does not rhyme", neg=True)]


def _i5_derive(s, d):
    if s["gen"]:
        n, rh = d["n"], d["rh"]
        a = f"a {n}-stanza poem that {rh}"
        b = f"a poem with {n} stanzas that {rh}"
    else:
        a = b = f"{an(d['ptype'])} {d['ptype']}"
    return {"da": a, "db": b, "topic": s["topic"].format(c=d["city"])}


def _i5_only(gen, g):
    def f(s, rng):
        return g(s, rng) if s["gen"] == gen else None
    return f


@family("poem_constraints#1", "instructions", [
    F("Write {da} about {topic}."), F("Compose {db} about {topic}."), F("{topic}: give me {da}"),
    F("Could you write me {db} on the theme of {topic}?"), F("i want {da} about {topic} pls", low=True)],
    {"format": _i5_only(False, m_pool("ptype", POEM_TYPES)),
     "number": _i5_only(True, m_num("n", range(2, 8))),
     "negation": _i5_only(True, m_pool("rh", RHYME)),
     "entity": m_pool("city", CITIES)}, _i5_derive)
def _(r):
    return {"gen": r.random() < 0.6, "ptype": pk(r, POEM_TYPES), "n": nm(r, r.randint(2, 6)),
            "rh": pk(r, RHYME), "topic": r.choice(POEM_TOPICS), "city": pk(r, CITIES)}


CONTINENTS = [V("Africa"), V("Europe"), V("Asia"), V("South America"), V("North America"), V("Oceania")]
BIG_COUNTRIES = [c for c in COUNTRIES if c.c in (
    "India", "Brazil", "Nigeria", "Germany", "Japan", "Mexico", "Indonesia", "the United States", "China",
    "France", "Canada", "Australia", "South Africa", "Turkey", "Egypt", "Kenya", "Argentina", "Spain",
    "Italy", "the United Kingdom", "Colombia", "Vietnam", "Poland", "Pakistan", "the Philippines")]
TOP_THINGS = [
    dict(thing="cities", sup=V("most populous", "largest"), anti=V("least populous"), scope="country", tail=""),
    dict(thing="countries", sup=V("largest", "biggest"), anti=V("smallest"), scope="continent", tail=" by area"),
    dict(thing="countries", sup=V("most densely populated"), anti=V("least densely populated"), scope="continent", tail=""),
    dict(thing="countries", sup=V("richest", "wealthiest"), anti=V("poorest"), scope="continent", tail=" by GDP per capita"),
    dict(thing="airports", sup=V("busiest"), anti=V("least busy", "quietest"), scope="country", tail=""),
    dict(thing="universities", sup=V("oldest"), anti=V("newest", "youngest"), scope="country", tail=""),
    dict(thing="national parks", sup=V("largest", "biggest"), anti=V("smallest"), scope="country", tail=""),
    dict(thing="cities", sup=V("highest", "highest-altitude"), anti=V("lowest", "lowest-altitude"), scope="country", tail=" by elevation"),
]
FMT_L = [V("as a bullet list", "in bullet points"),
         V("as a Markdown table", "in a Markdown table"), V("as JSON", "in JSON format"),
         V("as a comma-separated list", "separated by commas"), V("as a CSV table", "in CSV format")]


def _i6_quantity(s, rng):
    s2 = dict(s)
    s2["sup"], s2["anti"] = s["anti"], s["sup"]
    return s2


def _i6_entity(s, rng):
    pool = BIG_COUNTRIES if s["spec"]["scope"] == "country" else CONTINENTS
    return m_pool("region", pool)(s, rng)


@family("list_top#1", "instructions", [
    F("List the {k} {sup} {thing} in {region}{tail}, {fmt}."),
    F("What are the {k} {sup} {thing} in {region}{tail}? Give them {fmt}."),
    F("top {k} {sup} {thing} in {region}{tail} {fmt}", low=True),
    F("In {region}, which are the {k} {sup} {thing}{tail}? Answer {fmt}."),
    F("I'd like a list of the {k} {sup} {thing} in {region}{tail}, {fmt}.")],
    {"quantity": _i6_quantity, "number": m_num("k", range(3, 11)), "entity": _i6_entity,
     "format": m_pool("fmt", FMT_L)},
    lambda s, d: {"thing": s["spec"]["thing"], "tail": s["spec"]["tail"]})
def _(r):
    spec = r.choice(TOP_THINGS)
    region = pk(r, BIG_COUNTRIES if spec["scope"] == "country" else CONTINENTS)
    return {"spec": spec, "sup": vary(spec["sup"], r), "anti": vary(spec["anti"], r), "region": region,
            "k": nm(r, r.randint(3, 10)), "fmt": pk(r, FMT_L)}


DIALOGUE_ROLES = [("journalist", "astronaut"), ("podcast host", "chef"), ("student", "historian"),
                  ("recruiter", "software engineer"), ("detective", "witness"), ("child", "grandparent"),
                  ("tourist", "local tour guide"), ("reporter", "mayor"), ("customer", "barista"),
                  ("nurse", "patient"), ("talk-show host", "novelist"), ("teenager", "retired firefighter"),
                  ("scientist", "farmer"), ("museum curator", "street artist"), ("blogger", "beekeeper")]
DIALOGUE_TOPICS = ["their first job", "a typical working day", "the biggest mistake they ever made",
                   "how their neighborhood has changed", "climate change", "their favorite book",
                   "how they handle stress", "the best advice they ever received", "their hometown",
                   "a day that changed their life"]


def _i7_derive(s, d):
    return {"ar1": an(d["r1"]), "ar2": an(d["r2"])}


@family("dialogue_role#1", "instructions", [
    F("Write a short dialogue in which {ar1} {r1} interviews {ar2} {r2} about {topic}. Keep it to {n} lines.", "act"),
    F("Create a {n}-line conversation where {ar1} {r1} interviews {ar2} {r2} about {topic}.", "act"),
    F("dialogue: {r1} interviewing {r2} about {topic}, {n} lines", "act", low=True),
    F("Write a short dialogue in which {ar2} {r2} is interviewed by {ar1} {r1} about {topic}. Keep it to {n} lines.", "pas"),
    F("Script a {n}-line interview: {ar2} {r2} being interviewed by {ar1} {r1} on {topic}.", "pas")],
    {"role": m_swap("r1", "r2"), "number": m_num("n", range(6, 21), ratio=1.5)}, _i7_derive)
def _(r):
    a, b = r.choice(DIALOGUE_ROLES)
    if r.random() < 0.4:
        a, b = b, a
    return {"r1": a, "r2": b, "topic": r.choice(DIALOGUE_TOPICS), "n": nm(r, r.randint(6, 16))}


POV = [V("in the first person", "from a first-person point of view", "written in first person"),
       V("in the third person", "from a third-person point of view", "written in third person")]
JOBS = ["data scientist", "pediatric nurse", "landscape architect", "high school chemistry teacher",
        "freelance photographer", "civil engineer", "UX designer", "pastry chef", "marine biologist",
        "labor lawyer", "product manager", "veterinarian", "journalist", "electrician", "museum curator",
        "translator", "physiotherapist", "urban planner"]


def _i8_derive(s, d):
    pr = s["name"]["pr"]
    return {"obj": OBJ[pr], "Subj": cap(pr), "ajob": an(d["job"])}


@family("bio_person#1", "instructions", [
    F("Write a short professional bio {pov} for {name}, {ajob} {job} based in {city} with {n} years of experience."),
    F("{name} is {ajob} {job} based in {city} with {n} years of experience. Write a short bio for {obj} {pov}."),
    F("short bio {pov}: {name}, {job}, based in {city}, {n} yrs experience", low=True),
    F("Can you draft a brief professional bio {pov}? Details: {name}, {job} based in {city}, {n} years in the field."),
    F("I need a concise bio of {name} {pov}. {Subj} is {ajob} {job} based in {city} and has {n} years of experience.")],
    {"person": m_pool("pov", POV), "number": m_num("n", range(2, 31), ratio=2),
     "entity": m_pool("city", CITIES)}, _i8_derive)
def _(r):
    return {"pov": pk(r, POV), "name": pk(r, NAMES), "job": r.choice(JOBS), "city": pk(r, CITIES),
            "n": nm(r, r.randint(2, 25))}


# ------------------------------------------------------------------ code ---

SORT_ITEMS = [V("integers", "whole numbers", kind="num"), V("floating-point numbers", "floats", kind="num"),
              V("prices", kind="num"), V("strings", kind="str"), V("names", kind="str"),
              V("dates", kind="date"), V("timestamps", kind="date"), V("product titles", kind="str")]
SORT_ORDER = {
    ("num", "asc"): V("in ascending order", "in increasing order", "from smallest to largest"),
    ("num", "desc"): V("in descending order", "in decreasing order", "from largest to smallest"),
    ("str", "asc"): V("in alphabetical order", "alphabetically from A to Z", "from A to Z"),
    ("str", "desc"): V("in reverse alphabetical order", "alphabetically from Z to A", "from Z to A"),
    ("date", "asc"): V("in chronological order", "from oldest to newest", "oldest first"),
    ("date", "desc"): V("in reverse chronological order", "from newest to oldest", "newest first"),
}
NB_SORT = V(" without using the built-in sort function", " without relying on any built-in sorting function")
EMPTY = V("")


def _c1_direction(s, rng):
    d = "desc" if s["dir"] == "asc" else "asc"
    s2 = dict(s)
    s2["dir"] = d
    s2["ord"] = like(SORT_ORDER[(s["items"]["kind"], d)], s["ord"])
    return s2


def _toggle(key, on_value):
    def f(s, rng):
        s2 = dict(s)
        s2[key] = EMPTY if s[key].c else vary(on_value, rng)
        return s2
    return f


@family("code_sort#1", "code", [
    F("Write a {pl} function that sorts a list of {items} {ord}{nb}."),
    F("How do I sort a list of {items} {ord} in {pl}{nb}?"),
    F("{pl}: sort an array of {items} {ord}{nb}"),
    F("I need {pl} code to sort {items} {ord}{nb}."),
    F("Show me how to sort {items} {ord} using {pl}{nb}."),
    F("sort {items} {ord} in {pl}{nb}, how?", low=True)],
    {"direction": _c1_direction, "language": m_pool("pl", PLANGS), "negation": _toggle("nb", NB_SORT)})
def _(r):
    it = pk(r, SORT_ITEMS)
    d = r.choice(["asc", "desc"])
    return {"pl": pk(r, PLANGS), "items": it, "dir": d, "ord": vary(SORT_ORDER[(it["kind"], d)], r),
            "nb": vary(NB_SORT, r) if r.random() < 0.35 else EMPTY}


FIND_TARGETS = [("a given character", "a string"), ("a value", "a list"), ("a substring", "a longer string"),
                ("a word", "a sentence"), ("a number", "an array"), ("a key", "a list of records")]
FIRST_LAST = [V("first", "earliest"), V("last", "final")]
NB_FIND = V(" without using any built-in search methods", " without built-in search functions")


@family("code_find_index#1", "code", [
    F("Write a {pl} function that returns the index of the {fl} occurrence of {t} in {c}{nb}."),
    F("In {pl}, how do I find the position of the {fl} occurrence of {t} in {c}{nb}?"),
    F("{pl} code to get the index where {t} appears in {c} for the {flc} time{nb}"),
    F("find {flc} index of {t} in {c} ({pl}){nb}", low=True),
    F("Show me a {pl} snippet that finds the {fl} index at which {t} occurs in {c}{nb}.")],
    {"quantity": m_pool("fl", FIRST_LAST), "language": m_pool("pl", PLANGS), "negation": _toggle("nb", NB_FIND)},
    lambda s, d: {"flc": s["fl"].c})
def _(r):
    t, c = r.choice(FIND_TARGETS)
    return {"pl": pk(r, PLANGS), "t": t, "c": c, "fl": pk(r, FIRST_LAST),
            "nb": vary(NB_FIND, r) if r.random() < 0.3 else EMPTY}


FILE_FMTS = [V("CSV"), V("JSON"), V("YAML"), V("XML"), V("TOML"), V("Parquet"), V("Excel (.xlsx)", "XLSX"),
             V("TSV", "tab-separated")]


@family("code_read_file#1", "code", [
    F("How do I read {af} {fmt} file in {pl} and print the first {n} records?"),
    F("{pl}: read {af} {fmt} file and print the first {n} records"),
    F("What's the simplest way to load {af} {fmt} file using {pl} and print its first {n} records?"),
    F("Show me {pl} code that parses {af} {fmt} file and prints the first {n} records."),
    F("reading {af} {fmt} file in {pl} - how do i print just the first {n} records?", low=True)],
    {"format": m_pool("fmt", FILE_FMTS), "language": m_pool("pl", PLANGS),
     "number": m_num("n", range(2, 51), ratio=2)},
    lambda s, d: {"af": an(d["fmt"])})
def _(r):
    return {"fmt": pk(r, FILE_FMTS), "pl": pk(r, PLANGS), "n": nm(r, r.choice([3, 5, 10, 20, 25, 50]))}


DF_LIBS = [V("pandas"), V("Polars"), V("PySpark"), V("dplyr", "R's dplyr"), V("DuckDB"), V("data.table", "R's data.table")]
DF_OPS = [
    {"all": V("drop rows where all values are missing", "drop rows in which every value is missing"),
     "any": V("drop rows where any value is missing", "drop rows that contain at least one missing value")},
    {"all": V("keep only the rows where all of columns a, b and c are positive",
              "keep only the rows in which every one of columns a, b and c is positive"),
     "any": V("keep only the rows where at least one of columns a, b and c is positive",
              "keep only the rows where any of columns a, b and c is positive"),
     "none": V("keep only the rows where none of columns a, b and c is positive",
               "keep only the rows in which no column among a, b and c is positive")},
    {"all": V("check whether all the values in a column are null", "test if every value in a column is null"),
     "any": V("check whether any value in a column is null", "check if a column contains at least one null")},
    {"each": V("replace missing values in each numeric column with that column's mean",
               "fill the gaps in every numeric column with that column's mean"),
     "one": V("replace missing values in only the price column with that column's mean",
              "fill the gaps in just the price column with its mean")},
]


def _c4_scope(s, rng):
    op = DF_OPS[s["op"]]
    keys = [k for k in op if k != s["sc"]]
    k = rng.choice(keys)
    s2 = dict(s)
    s2["sc"] = k
    s2["opv"] = like(op[k], s["opv"])
    return s2


@family("dataframe_scope#1", "code", [
    F("In {lib}, how do I {opv}?"), F("How can I {opv} using {lib}?"), F("{lib}: {opv}?"),
    F("What's the idiomatic {lib} way to {opv}?"), F("I have a data frame in {lib}. How do I {opv}?"),
    F("how to {opv} with {lib}", low=True)],
    {"entity": m_pool("lib", DF_LIBS), "scope": _c4_scope})
def _(r):
    i = r.randrange(len(DF_OPS))
    k = r.choice(list(DF_OPS[i]))
    return {"lib": pk(r, DF_LIBS), "op": i, "sc": k, "opv": vary(DF_OPS[i][k], r)}


LOOP_NUMS = {"all": V("the numbers", "all the numbers", "every number"),
             "even": V("only the even numbers", "just the even numbers"),
             "odd": V("only the odd numbers", "just the odd numbers")}


def _c5_scope(s, rng):
    w = s["which"]
    k = rng.choice(["even", "odd"]) if w == "all" else "all"
    s2 = dict(s)
    s2["which"] = k
    s2["nums"] = like(LOOP_NUMS[k], s["nums"])
    return s2


def _c5_number(s, rng):
    key = rng.choice(["st", "en"])
    other = s["en" if key == "st" else "st"]["n"]
    return m_num(key, range(0, 101), ok=lambda s_, x: x != other and abs(x - other) >= 5)(s, rng)


@family("code_loop#1", "code", [
    F("Write a {pl} loop that prints {nums} from {st} to {en}."),
    F("In {pl}, print {nums} from {st} to {en} using a loop."),
    F("{pl} for loop: print {nums} from {st} to {en}"),
    F("loop from {st} to {en} in {pl} and print {nums}", low=True),
    F("How do I loop from {st} to {en} in {pl} and output {nums}?")],
    {"direction": m_swap("st", "en"), "scope": _c5_scope, "number": _c5_number,
     "language": m_pool("pl", PLANGS)})
def _(r):
    a = r.choice([0, 1, 1, 5, 10])
    b = r.choice([10, 20, 25, 30, 50, 100])
    w = r.choice(["all", "even", "odd"])
    st, en = (a, b) if r.random() < 0.75 else (b, a)
    return {"pl": pk(r, PLANGS), "st": nm(r, st), "en": nm(r, en), "which": w, "nums": vary(LOOP_NUMS[w], r)}


BRANCHES = ["main", "develop", "feature/login", "release/2.4", "hotfix/payment-bug", "staging",
            "feature/dark-mode", "experiment/new-parser", "feature/search", "release-candidate"]
GIT_TOOLS = [V("GitHub Desktop"), V("VS Code", "Visual Studio Code"), V("GitLab"), V("IntelliJ IDEA"),
             V("Sourcetree"), V("GitKraken"), V("Bitbucket"), V("Xcode")]
NB_GIT = V(" without creating a merge commit", " without making a merge commit")


@family("git_merge#1", "code", [
    F("How do I merge the {b1} branch into {b2} in {tool}{nc}?"),
    F("In {tool}, how can I merge {b1} into {b2}{nc}?"),
    F("merge {b1} into {b2} using {tool}{nc} - steps?", low=True),
    F("What are the steps in {tool} to merge branch {b1} into branch {b2}{nc}?"),
    F("Using {tool}, I want to merge {b1} into {b2}{nc}. How do I do that?")],
    {"direction": m_swap("b1", "b2"), "negation": _toggle("nc", NB_GIT), "entity": m_pool("tool", GIT_TOOLS)})
def _(r):
    b1, b2 = r.sample(BRANCHES, 2)
    return {"b1": b1, "b2": b2, "tool": pk(r, GIT_TOOLS), "nc": vary(NB_GIT, r) if r.random() < 0.35 else EMPTY}


# ----------------------------------------------------------- translation ---

@family("lang_learning#1", "translation", [
    F("How hard is it for a native {l1} speaker to learn {l2}?", "12"),
    F("How difficult is {l2} for native speakers of {l1}?", "21"),
    F("I'm a native {l1} speaker. How hard will {l2} be for me to learn?", "12"),
    F("is {l2} hard to learn if your first language is {l1}", "21", low=True),
    F("For someone whose mother tongue is {l1}, how challenging is it to learn {l2}?", "12"),
    F("{l1} speaker learning {l2}: how hard is it?", "12")],
    {"direction": m_swap("l1", "l2"),
     "language": m_pool("l2", LANGS_EN, ok=lambda s, v: v.c != s["l1"].c)})
def _(r):
    a = pk(r, LANGS_EN)
    return {"l1": a, "l2": pk(r, LANGS_EN, [a])}


PRONS = ["I", "you", "he", "she", "we", "they"]
BE = {"pres": {"I": "am", "he": "is", "she": "is"}, "past": {"I": "was", "he": "was", "she": "was"}}
BE_PREDS = ["tired", "at the train station", "late for the meeting", "learning to cook", "in the kitchen",
            "ready to leave", "worried about the exam", "on vacation", "at home", "hungry",
            "happy with the result", "busy today"]
VERB_PREDS = [("work from home", "works", "worked"), ("visit the museum", "visits", "visited"),
              ("need a new phone", "needs", "needed"), ("speak three languages", "speaks", "spoke"),
              ("miss the bus", "misses", "missed"), ("like spicy food", "likes", "liked"),
              ("live near the beach", "lives", "lived"), ("play the guitar", "plays", "played"),
              ("want to go home", "wants", "wanted"), ("drink coffee in the morning", "drinks", "drank"),
              ("understand the question", "understands", "understood"), ("know the answer", "knows", "knew")]


def make_sentence(p, tense, neg, pred):
    third = p in ("he", "she")
    if isinstance(pred, str):
        if tense == "fut":
            body = f"will not be {pred}" if neg else f"will be {pred}"
        else:
            aux = BE[tense].get(p, "are" if tense == "pres" else "were")
            body = f"{aux} not {pred}" if neg else f"{aux} {pred}"
    else:
        base, thirdf, past = pred
        rest = base.split(" ", 1)[1]
        if tense == "pres":
            if neg:
                body = f"{'does' if third else 'do'} not {base}"
            else:
                body = f"{thirdf} {rest}" if third else base
        elif tense == "past":
            body = f"did not {base}" if neg else f"{past} {rest}"
        else:
            body = f"will not {base}" if neg else f"will {base}"
    return f"{cap(p)} {body}."


TRANS_FORMS = [
    F('Translate "{sent}" into {lang}.'), F('How do you say "{sent}" in {lang}?'),
    F('{lang} translation of: "{sent}"'), F('Can you translate this sentence to {lang} for me? "{sent}"'),
    F('what\'s "{sent}" in {lang}', low=True), F('Please put the following into {lang}: "{sent}"'),
    F('I need this in {lang}: "{sent}"')]


def _t2_derive(s, d):
    pred = s["pred"]
    return {"sent": make_sentence(s["p"], s["tense"], s["neg"], pred)}


def _t2_person(s, rng):
    p = s["p"]
    opts = [q for q in PRONS if q != p and not ({p, q} == {"he", "she"})]
    s2 = dict(s)
    s2["p"] = rng.choice(opts)
    return s2


def _t2_time(s, rng):
    s2 = dict(s)
    s2["tense"] = rng.choice([t for t in ("pres", "past", "fut") if t != s["tense"]])
    return s2


@family("translate_pronoun#1", "translation", TRANS_FORMS,
        {"person": _t2_person, "time": _t2_time, "negation": m_flip("neg"),
         "language": m_pool("lang", LANGS)}, _t2_derive)
def _(r):
    pred = r.choice(BE_PREDS) if r.random() < 0.5 else r.choice(VERB_PREDS)
    return {"p": r.choice(PRONS), "tense": r.choice(["pres", "pres", "past", "fut"]),
            "neg": r.random() < 0.3, "pred": pred, "lang": pk(r, LANGS)}


STARTERS = ["tomato soup", "garlic bread", "grilled halloumi", "spring rolls", "lentil soup", "caprese salad",
            "chicken wings", "stuffed mushrooms", "hummus with flatbread", "fried calamari"]
MAINS = ["mushroom risotto", "grilled salmon with lemon butter", "beef stew", "vegetable curry",
         "roast chicken with potatoes", "spinach lasagna", "fish tacos", "lamb kebabs with rice",
         "pork dumplings", "stuffed peppers"]
DESSERTS = ["apple pie", "chocolate lava cake", "lemon tart", "vanilla ice cream", "rice pudding", "cheesecake",
            "fruit salad", "tiramisu", "carrot cake", "mango sorbet"]
FMT_T = [V("JSON"), V("CSV"), V("a Markdown table"), V("a bulleted list", "a bullet list"), V("YAML"),
         V("an HTML table")]
EXC = [V("Translate everything except the section headings.",
         "Leave the section headings untranslated but translate everything else.", neg=True),
       V("Translate everything, including the section headings.",
         "Translate the section headings as well as the dishes.", neg=False)]


@family("translate_menu#1", "translation", [
    F("Translate the menu below into {lang} and format the result as {fmt}. {ex}\n\n{menu}"),
    F("{menu}\n\nPlease translate this menu to {lang} and output it as {fmt}. {ex}"),
    F("need this menu in {lang}, as {fmt}. {ex}\n{menu}", low=True),
    F("Could you translate the following menu into {lang}? Return it as {fmt}. {ex}\n\n{menu}")],
    {"format": m_pool("fmt", FMT_T), "language": m_pool("lang", LANGS), "negation": m_pool("ex", EXC)})
def _(r):
    menu = (f"Starters: {', '.join(r.sample(STARTERS, 2))}\nMains: {', '.join(r.sample(MAINS, 2))}\n"
            f"Desserts: {', '.join(r.sample(DESSERTS, 2))}")
    return {"menu": V(menu), "lang": pk(r, LANGS), "fmt": pk(r, FMT_T), "ex": pk(r, EXC)}


SVO = [("dog", "mail carrier", "chased", "is chasing", "will chase"),
       ("teacher", "student", "thanked", "is thanking", "will thank"),
       ("doctor", "nurse", "called", "is calling", "will call"),
       ("grandmother", "boy", "hugged", "is hugging", "will hug"),
       ("coach", "player", "praised", "is praising", "will praise"),
       ("police officer", "driver", "stopped", "is stopping", "will stop"),
       ("girl", "puppy", "followed", "is following", "will follow"),
       ("customer", "waiter", "thanked", "is thanking", "will thank"),
       ("boss", "new employee", "interrupted", "is interrupting", "will interrupt"),
       ("neighbor", "plumber", "paid", "is paying", "will pay"),
       ("journalist", "senator", "interviewed", "is interviewing", "will interview"),
       ("cat", "mouse", "watched", "is watching", "will watch"),
       ("pilot", "passenger", "greeted", "is greeting", "will greet"),
       ("king", "knight", "warned", "is warning", "will warn"),
       ("farmer", "fox", "saw", "is watching", "will see"),
       ("lawyer", "judge", "thanked", "is thanking", "will thank"),
       ("baby", "nurse", "smiled at", "is smiling at", "will smile at"),
       ("goalkeeper", "striker", "blocked", "is blocking", "will block")]
TENSE_IX = {"past": 2, "pres": 3, "fut": 4}


def _t4_derive(s, d):
    v = s["verb"][TENSE_IX[s["tense"]]]
    return {"sent": f"The {s['x']} {v} the {s['y']}."}


@family("translate_svo#1", "translation", TRANS_FORMS,
        {"role": m_swap("x", "y"), "time": _t2_time, "language": m_pool("lang", LANGS)}, _t4_derive)
def _(r):
    row = r.choice(SVO)
    return {"x": row[0], "y": row[1], "verb": row, "tense": r.choice(["past", "pres", "fut"]),
            "lang": pk(r, LANGS)}


DOCS = ["legal contracts", "marketing copy", "video game dialogue", "medical leaflets", "poetry",
        "software UI strings", "recipes", "comedy subtitles", "academic papers", "product manuals",
        "children's books", "song lyrics"]


@family("translate_doc_direction#1", "translation", [
    F("What should I watch out for when translating {doc} from {l1} into {l2}?", "12"),
    F("Common pitfalls when translating {doc} from {l1} to {l2}?", "12"),
    F("I'm translating {doc} from {l1} to {l2}. What are the typical pitfalls?", "12"),
    F("When translating {doc} into {l2} from {l1}, what usually goes wrong?", "21"),
    F("translating {doc} {l1} -> {l2}, what mistakes should i watch out for", "12", low=True),
    F("What are the usual traps in translating {doc} into {l2} when the source is {l1}?", "21")],
    {"direction": m_swap("l1", "l2"),
     "language": m_pool("l2", LANGS_EN, ok=lambda s, v: v.c != s["l1"].c)})
def _(r):
    a = pk(r, LANGS_EN)
    return {"doc": r.choice(DOCS), "l1": a, "l2": pk(r, LANGS_EN, [a])}


# ----------------------------------------------------------------- maths ---

ITEMS_M = ["apples", "stickers", "marbles", "coins", "books", "pencils", "cookies", "seashells",
           "trading cards", "stamps", "crayons", "postcards", "tomatoes", "comic books"]


def _m1_derive(s, d):
    g, rcv = (d["p1"], d["p2"]) if s["g"] == 1 else (d["p2"], d["p1"])
    return {"G": g, "R": rcv}


def _m1_role(s, rng):
    if s["m"]["n"] >= min(s["n1"]["n"], s["n2"]["n"]):
        return None
    s2 = dict(s)
    s2["g"] = 3 - s["g"]
    return s2


def _m1_number(s, rng):
    lim = min(s["n1"]["n"], s["n2"]["n"])
    if rng.random() < 0.5:
        return m_num("m", range(2, lim))(s, rng)
    return m_num("n2", range(max(8, s["m"]["n"] + 1), 60))(s, rng)


@family("math_transfer#1", "maths", [
    F("{p1} has {n1} {it} and {p2} has {n2}. {G} gives {R} {m} {it}. How many {it} does {p2} have now?", "act"),
    F("{p1} starts with {n1} {it} and {p2} starts with {n2}. Then {G} hands {m} {it} to {R}. How many {it} does {p2} end up with?", "act"),
    F("{p1} has {n1} {it}, {p2} has {n2}. {G} gives {m} of them to {R}. how many does {p2} have now", "act"),
    F("{p1} has {n1} {it} and {p2} has {n2}. {R} receives {m} {it} from {G}. How many {it} does {p2} have now?", "pas"),
    F("{p2} has {n2} {it} and {p1} has {n1}. {R} is given {m} {it} by {G}. What is {p2}'s total now?", "pas")],
    {"role": _m1_role, "number": _m1_number}, _m1_derive)
def _(r):
    a = pk(r, NAMES)
    b = pk(r, NAMES, [a])
    n1, n2 = r.randint(8, 40), r.randint(8, 40)
    return {"p1": a, "p2": b, "it": r.choice(ITEMS_M), "n1": nm(r, n1), "n2": nm(r, n2),
            "m": nm(r, r.randint(2, min(n1, n2) - 1)), "g": r.choice([1, 2])}


PCT_WORDS = {"inc": (V("increased", "raised"), V("increase", "raise"), V("increase")),
             "dec": (V("decreased", "reduced"), V("decrease", "reduce"), V("decrease", "reduction"))}


def _set_dir(s, d, rng, old=None):
    s["dir"] = d
    ed, vb, nn = PCT_WORDS[d]
    if old:
        s["ed"], s["vb"], s["nn"] = like(ed, old["ed"]), like(vb, old["vb"]), like(nn, old["nn"])
    else:
        s["ed"], s["vb"], s["nn"] = vary(ed, rng), vary(vb, rng), vary(nn, rng)
    return s


def _m2_quantity(s, rng):
    return _set_dir(dict(s), "dec" if s["dir"] == "inc" else "inc", rng, s)


def _pct_mut(key, choices):
    def f(s, rng):
        cur = s[key]
        opts = [x for x in choices if x != cur["n"]]
        s2 = dict(s)
        s2[key] = like(Pct(rng.choice(opts)), cur)
        return s2
    return f


@family("percent_change#1", "maths", [
    F("What is {x} {ed} by {p}?"), F("If you {vb} {x} by {p}, what do you get?"),
    F("Calculate {x} after a {p} {nn}."), F("what's {x} with a {p} {nn}", low=True),
    F("{x} {ed} by {p} equals what?"), F("Take {x} and {vb} it by {p}. What's the result?")],
    {"quantity": _m2_quantity,
     "number": m_any(m_num("x", [20, 40, 60, 75, 80, 120, 150, 200, 250, 360, 400, 480, 500, 640, 800, 1200, 1500, 2000, 2500, 4000]),
                     _pct_mut("p", list(range(5, 95, 5))))})
def _(r):
    s = {"x": nm(r, r.choice([20, 40, 60, 75, 80, 120, 150, 200, 250, 360, 400, 480, 500, 640, 800, 1200, 1500, 2000, 2500, 4000])),
         "p": vary(Pct(r.choice(range(5, 95, 5))), r, 0.5)}
    return _set_dir(s, r.choice(["inc", "dec"]), r)


@family("percent_ratio#1", "maths", [
    F("What percentage of {b} is {a}?", "ba"), F("{a} is what percent of {b}?", "ab"),
    F("Express {a} as a percentage of {b}.", "ab"), F("{a} out of {b} as a percentage?", "ab"),
    F("What percent of {b} does {a} represent?", "ba"), F("what % of {b} is {a}", "ba", low=True)],
    {"direction": m_swap("a", "b"),
     "number": m_any(m_num("a", range(5, 501, 5), ok=lambda s, x: x != s["b"]["n"]),
                     m_num("b", range(5, 501, 5), ok=lambda s, x: x != s["a"]["n"]))})
def _(r):
    a, b = r.sample(range(5, 501, 5), 2)
    return {"a": nm(r, a), "b": nm(r, b)}


VEHICLES = ["train", "cyclist", "car", "ferry", "runner", "bus", "truck", "drone", "cargo ship", "horse rider"]
DIST_UNITS = [V("kilometers", "km", "kilometres"), V("miles")]


@family("speed_unit#1", "maths", [
    F("A {veh} covers {d} {du} in {t} hours. What's its average speed?"),
    F("If a {veh} goes {d} {du} in {t} hours, how fast is it going on average?"),
    F("average speed of a {veh} that travels {d} {du} in {t} hours?", low=True),
    F("{d} {du} in {t} hours: what average speed is that for a {veh}?"),
    F("Calculate the average speed of a {veh} travelling {d} {du} over {t} hours.")],
    {"unit": m_pool("du", DIST_UNITS),
     "number": m_any(m_num("d", range(10, 901, 10), ratio=1.3), m_num("t", range(2, 10)))})
def _(r):
    v = r.choice(VEHICLES)
    d = r.randrange(10, 50, 2) if v == "runner" else r.randrange(40, 900, 10)
    return {"veh": v, "d": nm(r, d), "du": pk(r, DIST_UNITS), "t": nm(r, r.randint(2, 9))}


def make_quadratic(r1, r2):
    b, c = -(r1 + r2), r1 * r2

    def term(coef, sym, first=False):
        if coef == 0:
            return ""
        sign = "-" if coef < 0 else "+"
        mag = abs(coef)
        body = f"{'' if mag == 1 and sym else mag}{sym}"
        return f" {sign} {body}"
    e1 = f"x^2{term(b, 'x')}{term(c, '')} = 0"
    e2 = e1.replace("x^2", "x²")
    return V(e1, e2, roots=(r1, r2))


LARGER = [V("larger", "bigger", "greater", lg=True), V("smaller", lg=False)]


def _m5_number(s, rng):
    old = s["eq"]["roots"]
    idx = 1 if s["lg"]["lg"] else 0
    for _ in range(40):
        r1, r2 = sorted(rng.sample([x for x in range(-9, 13) if x != 0], 2))
        if (r1, r2)[idx] != old[idx]:
            s2 = dict(s)
            s2["eq"] = like(make_quadratic(r1, r2), s["eq"])
            return s2
    return None


@family("quadratic_root#1", "maths", [
    F("Find the {lg} root of {eq}."), F("What is the {lg} solution of {eq}?"),
    F("Solve {eq} and give me just the {lg} root."), F("{eq}: which root is {lgc}?"),
    F("{lg} root of {eq}?", low=True), F("Of the two solutions to {eq}, which one is {lgc}?")],
    {"quantity": m_pool("lg", LARGER), "number": _m5_number}, lambda s, d: {"lgc": s["lg"].c})
def _(r):
    r1, r2 = sorted(r.sample([x for x in range(-9, 13) if x != 0], 2))
    return {"eq": vary(make_quadratic(r1, r2), r), "lg": pk(r, LARGER)}


DIV_COND = {"pos": V("divisible by {k}", "multiples of {k}"),
            "neg": V("not divisible by {k}", "not multiples of {k}"),
            "both": V("divisible by both {k} and {j}", "multiples of both {k} and {j}"),
            "either": V("divisible by at least one of {k} and {j}", "divisible by {k} or {j} (or both)")}
DIV_FLIP = {"pos": "neg", "neg": "pos", "both": "either", "either": "both"}


def _m6_flip(kinds):
    def f(s, rng):
        if s["mode"] not in kinds:
            return None
        s2 = dict(s)
        s2["mode"] = DIV_FLIP[s["mode"]]
        s2["cond"] = like(DIV_COND[s2["mode"]], s["cond"])
        return s2
    return f


@family("divisible_count#1", "maths", [
    F("How many integers from 1 to {n} are {cd}?"),
    F("Count the whole numbers between 1 and {n} (inclusive) that are {cd}."),
    F("From 1 through {n}, how many numbers are {cd}?"),
    F("how many numbers 1-{n} are {cd}", low=True),
    F("Of the integers 1, 2, ..., {n}, how many are {cd}?")],
    {"negation": _m6_flip(("pos", "neg")), "scope": _m6_flip(("both", "either")),
     "number": m_any(m_num("n", range(20, 1001, 10), ratio=1.5),
                     m_num("k", range(2, 10), ok=lambda s, x: x != s["j"]["n"]))},
    lambda s, d: {"cd": str(s["cond"]).format(k=d["k"], j=d["j"])})
def _(r):
    k, j = r.sample([2, 3, 4, 5, 6, 7, 9], 2)
    mode = r.choice(["pos", "neg", "both", "either"])
    return {"n": nm(r, r.choice(range(20, 1001, 10))), "k": nm(r, k), "j": nm(r, j), "mode": mode,
            "cond": vary(DIV_COND[mode], r)}


FACES = [("one", "ones"), ("two", "twos"), ("three", "threes"), ("four", "fours"), ("five", "fives"),
         ("six", "sixes")]
DICE_SC = {"least": V("at least one {f}", "one or more {fp}"), "exact": V("exactly one {f}"),
           "most": V("at most one {f}", "no more than one {f}"), "none": V("no {fp}", "zero {fp}"),
           "all": V("all {fp}", "{fp} on every {obj1}")}


def _m7_derive(s, d):
    if s["obj"] == "dice":
        f, fp = FACES[s["face"]]
        w = {"roll": "roll", "rolling": "rolling", "rolled": "rolled", "objs": "fair dice", "obj1": "die"}
    else:
        f, fp = ("head", "heads") if s["face"] == 0 else ("tail", "tails")
        w = {"roll": "flip", "rolling": "flipping", "rolled": "flipped", "objs": "fair coins", "obj1": "coin"}
    w["ev"] = str(s["sc"]).format(f=f, fp=fp, obj1=w["obj1"])
    return w


def _m7_scope(s, rng):
    k = rng.choice([x for x in DICE_SC if x != s["sck"]])
    s2 = dict(s)
    s2["sck"] = k
    s2["sc"] = like(DICE_SC[k], s["sc"])
    return s2


def _m7_face(s, rng):
    s2 = dict(s)
    if s["obj"] == "dice":
        s2["face"] = rng.choice([i for i in range(6) if i != s["face"]])
        return s2
    return None


@family("dice_probability#1", "maths", [
    F("If I {roll} {n} {objs}, what is the probability of getting {ev}?"),
    F("Probability of {ev} when {rolling} {n} {objs}?"),
    F("What are the chances of getting {ev} if you {roll} {n} {objs}?"),
    F("{n} {objs} are {rolled}. Find the probability of {ev}."),
    F("{roll} {n} {objs} - chance of {ev}?", low=True)],
    {"scope": _m7_scope, "number": m_num("n", range(2, 9))}, _m7_derive)
def _(r):
    obj = "dice" if r.random() < 0.65 else "coins"
    k = r.choice(list(DICE_SC))
    return {"obj": obj, "n": nm(r, r.randint(2, 6)), "face": r.randrange(6) if obj == "dice" else r.randrange(2),
            "sck": k, "sc": vary(DICE_SC[k], r)}


DIMS = {
    "len": [V("kilometers", "km", "kilometres"), V("miles"), V("meters", "metres"), V("feet", "ft"),
            V("centimeters", "cm", "centimetres"), V("yards"), V("inches")],
    "mass": [V("kilograms", "kg", "kilos"), V("pounds", "lbs"), V("grams", "g"), V("ounces", "oz"), V("stone")],
    "vol": [V("liters", "litres", "L"), V("US gallons", "gallons"), V("milliliters", "ml"), V("cups"),
            V("fluid ounces", "fl oz")],
    "area": [V("square meters", "m²"), V("square feet", "sq ft"), V("acres"), V("hectares")],
    "speed": [V("km/h", "kilometers per hour"), V("mph", "miles per hour"), V("meters per second", "m/s"),
              V("knots")],
}


@family("convert_units#1", "maths", [
    F("Convert {n} {u1} to {u2}.", "12"), F("How many {u2} are in {n} {u1}?", "21"),
    F("What is {n} {u1} in {u2}?", "12"), F("{n} {u1} to {u2}", "12"),
    F("{n} {u1} equals how many {u2}?", "12"), F("I need {n} {u1} expressed in {u2}.", "12"),
    F("how many {u2} is {n} {u1}", "21", low=True)],
    {"direction": m_swap("u1", "u2"),
     "unit": lambda s, rng: m_pool("u2", DIMS[s["dim"]], ok=lambda s_, v: v.c != s["u1"].c)(s, rng),
     "number": m_num("n", list(range(2, 21)) + list(range(25, 501, 25)), ratio=1.5)})
def _(r):
    dim = r.choice(list(DIMS))
    u1 = pk(r, DIMS[dim])
    return {"dim": dim, "u1": u1, "u2": pk(r, DIMS[dim], [u1]),
            "n": nm(r, r.choice(list(range(2, 21)) + list(range(25, 501, 25))))}


AGE_RELS = [V("sister", pr="she"), V("brother", pr="he"), V("wife", pr="she"), V("husband", pr="he"),
            V("aunt", pr="she"), V("uncle", pr="he"), V("cousin Maria", pr="she"), V("cousin Ahmed", pr="he")]


def _m9_derive(s, d):
    rel = s["rel"]
    if s["who"] == "me":
        subj = "I"
    else:
        subj = rel["pr"] if s["alt3"] else f"my {rel.c}"
    n = d["n"]
    qq = f"will {subj} be in {n} years" if s["tense"] == "fut" else f"was {subj} {n} years ago"
    return {"qq": qq}


def _m9_number(s, rng):
    opts = [m_num("n", range(2, 16)), m_num("a", range(20, 61))]
    if s["who"] == "rel":
        opts.append(m_num("d", range(2, 16)))
    return m_any(*opts)(s, rng)


@family("age_person#1", "maths", [
    F("I'm {a} years old and my {rel} is {d} years older than me. How old {qq}?"),
    F("My {rel} is {d} years older than I am, and I'm {a}. How old {qq}?"),
    F("i am {a}, my {rel} is {d} years older. how old {qq}", low=True),
    F("If I'm {a} now and my {rel} is {d} years older, how old {qq}?"),
    F("Age puzzle: I am {a}, and my {rel} is {d} years older than me. How old {qq}?")],
    {"person": lambda s, rng: dict(s, who="rel" if s["who"] == "me" else "me"),
     "time": lambda s, rng: dict(s, tense="past" if s["tense"] == "fut" else "fut"),
     "number": _m9_number}, _m9_derive)
def _(r):
    return {"a": nm(r, r.randint(20, 60)), "rel": pk(r, AGE_RELS), "d": nm(r, r.randint(2, 15)),
            "n": nm(r, r.randint(2, 15)), "who": r.choice(["me", "rel"]), "tense": r.choice(["fut", "past"]),
            "alt3": r.random() < 0.5}


# -------------------------------------------------------- multi_sentence ---

COMPANIONS = ["partner", "sister", "best friend", "dad", "mom", "husband", "wife", "roommate", "colleague",
              "grandmother", "brother", "girlfriend", "boyfriend"]
CAR = [V("We don't want to rent a car.", "We'd rather not rent a car.", "We do not want to rent a car.", neg=True),
       V("We want to rent a car.", "We'd like to rent a car.", "We're planning to rent a car.", neg=False)]
CUR_TRIP = [c for c in CURRENCIES if c.c in ("US dollars", "euros", "British pounds", "Canadian dollars",
                                             "Australian dollars", "Swiss francs", "Indian rupees",
                                             "Japanese yen", "Brazilian reais", "Mexican pesos")]


def _month_mut(key, gap=4, only=None):
    def f(s, rng):
        if only is not None and s["city"].c not in {c.c for c in only}:
            return None
        opts = [m for m in MONTHS if month_apart(m, s[key], gap)]
        return dict(s, **{key: rng.choice(opts)})
    return f


TRIP_FMT = [V("Please lay it out as a day-by-day table.", "Put it in a table with one row per day."),
            V("Format it as a bullet list.", "Use bullet points."),
            V("Keep the whole answer under 150 words.", "No more than 150 words, please."),
            V("Write one short paragraph per day.", "Give me a short paragraph for each day.")]


@family("trip_planning#1", "multi_sentence", [
    F("My {comp} and I are planning a trip to {city} in {month}. We'll have {n} days and a budget of about {amt} {cur}. {car} Can you suggest an itinerary? {fmt}", "s1"),
    F("Can you suggest an itinerary? My {comp} and I are visiting {city} in {month} for {n} days. Our budget is around {amt} {cur}. {car} {fmt}", "s2"),
    F("planning a trip to {city} with my {comp} in {month}. {n} days, roughly {amt} {cur} budget. {car} itinerary ideas? {fmt}", "s1", low=True),
    F("We ({comp} and me) will spend {n} days in {city} in {month}, with about {amt} {cur} to spend. {car} What itinerary would you recommend? {fmt}", "s3"),
    F("Could you put together an itinerary for {city}? {fmt} My {comp} and I will be there for {n} days in {month}. {car} Our total budget is about {amt} {cur}.", "s2")],
    {"entity": m_pool("city", CITIES), "number": m_num("n", range(2, 22), ratio=2),
     "negation": m_pool("car", CAR), "time": _month_mut("month", only=TEMPERATE), "unit": m_pool("cur", CUR_TRIP),
     "format": m_pool("fmt", TRIP_FMT)})
def _(r):
    return {"comp": r.choice(COMPANIONS), "city": pk(r, CITIES), "month": r.choice(MONTHS),
            "n": nm(r, r.randint(3, 14)), "amt": nm(r, r.randrange(600, 6001, 100)), "cur": pk(r, CUR_TRIP),
            "car": pk(r, CAR), "fmt": pk(r, TRIP_FMT)}


APPS = ["REST API", "chat app", "web dashboard", "Discord bot", "booking site", "image-resizing service",
        "URL shortener", "blog", "webhook receiver", "inventory tracker"]
FRAMEWORKS = [V("Flask"), V("Express"), V("Django"), V("FastAPI"), V("Spring Boot"), V("Ruby on Rails", "Rails"),
              V("Next.js"), V("Laravel"), V("NestJS"), V("Phoenix"), V("ASP.NET Core")]
PLATFORMS = [V("Heroku"), V("Vercel"), V("Render"), V("Fly.io"), V("AWS Lambda"), V("Google Cloud Run", "Cloud Run"),
             V("Azure App Service"), V("DigitalOcean App Platform"), V("Railway"), V("Netlify")]
DEPLOY_ERRS = ["exit code 1", "a 502 Bad Gateway error", "an out-of-memory error", "a 'port already in use' error",
               "a timeout during startup", "a missing environment variable error", "a segmentation fault"]
LOCAL = [V("It runs fine on my laptop", "Locally everything works", "On my own machine it works without problems", neg=False),
         V("It doesn't run on my laptop either", "It fails on my own machine too", "It does not work locally either", neg=True)]


@family("deploy_issue#1", "multi_sentence", [
    F("I'm building a {app} with {fw}. {local}. When I deploy it to {plat}, it crashes on startup with {err}. What could be causing this?", "s1"),
    F("My {fw} {app} crashes on startup with {err} after I deploy it to {plat}. {local}. Any idea what's wrong?", "s2"),
    F("deployed my {fw} {app} to {plat} and it crashes at startup ({err}). {local}. what could cause this?", "s2", low=True),
    F("What could make a {fw} {app} crash on startup with {err} on {plat}? {local}.", "s3"),
    F("I have a {app} written with {fw}. On {plat} it crashes as soon as it starts, with {err}. {local}. Where should I look?", "s1")],
    {"entity": m_any(m_pool("plat", PLATFORMS), m_pool("fw", FRAMEWORKS)), "negation": m_pool("local", LOCAL)})
def _(r):
    return {"app": r.choice(APPS), "fw": pk(r, FRAMEWORKS), "plat": pk(r, PLATFORMS), "err": r.choice(DEPLOY_ERRS),
            "local": pk(r, LOCAL)}


VEG = [V("All of my guests are vegetarian.", "Every one of my guests is vegetarian.", "Everyone coming is vegetarian."),
       V("Some of my guests are vegetarian.", "A few of my guests are vegetarian."),
       V("Most of my guests are vegetarian.", "The majority of my guests are vegetarian."),
       V("None of my guests are vegetarian.", "No one coming is vegetarian.")]
INGREDIENTS = ["mushrooms", "coconut milk", "eggplant", "chickpeas", "lentils", "tofu", "sweet potatoes", "spinach",
               "peanuts", "blue cheese", "cilantro", "olives", "chili peppers", "cashews"]
ING = [V("I'd like to use {ing} in the main course.", "I want the main course to include {ing}.", neg=False),
       V("I don't want to use {ing} in the main course.", "I want the main course to be free of {ing}.", neg=True)]


@family("dinner_party#1", "multi_sentence", [
    F("I'm hosting dinner for {n} people on Saturday. {sc} {ingp} What menu would you suggest?", "s1"),
    F("What menu would you suggest for a dinner I'm hosting for {n} people on Saturday? {sc} {ingp}", "s2"),
    F("dinner party sat, {n} people. {sc} {ingp} menu ideas?", "s1", low=True),
    F("{sc} {ingp} I'm cooking dinner for {n} people this Saturday. Could you suggest a menu?", "s3")],
    {"number": m_num("n", range(2, 31), ratio=2),
     "scope": m_pool("sc", VEG, ok=lambda s, v: {s["sc"].c[:4], v.c[:4]} != {"Some", "Most"}),
     "negation": m_pool("ingv", ING)},
    lambda s, d: {"ingp": d["ingv"].format(ing=d["ing"])})
def _(r):
    return {"n": nm(r, r.randint(4, 16)), "sc": pk(r, VEG), "ingv": pk(r, ING), "ing": r.choice(INGREDIENTS)}


WORK_REL = [V("{name} reports to me", "I manage {name}", "{name} is on my team and reports to me", up=False),
            V("I report to {name}", "{name} manages me", "{name} is my manager", up=True)]
WORK_ISSUES = ["has been taking credit for my ideas in meetings", "keeps interrupting me in meetings",
               "sends me messages late at night and expects quick replies", "keeps rewriting my work without asking",
               "often cancels our one-on-ones at the last minute", "has been making jokes about my accent",
               "copies senior leadership on every email to me", "keeps changing priorities without telling me"]


def _ms4_derive(s, d):
    pr = s["name"]["pr"]
    rel = d["rel"].format(name=d["name"])
    return {"relx": rel, "pr": pr, "Pr": cap(pr)}


@family("workplace_role#1", "multi_sentence", [
    F("I've been at my company for {y} years. {relx}. Lately {pr} {issue}. How should I address this?", "s1"),
    F("How should I handle this at work? {relx}, and lately {pr} {issue}.", "s2"),
    F("{relx}. {Pr} {issue}, and it's starting to bother me. What's the best way to bring it up?", "s1"),
    F("work question: {relx}. lately {pr} {issue}. how do i deal with it", "s1", low=True)],
    {"role": m_pool("rel", WORK_REL)}, _ms4_derive)
def _(r):
    return {"y": r.randint(2, 9), "rel": pk(r, WORK_REL), "name": pk(r, NAMES), "issue": r.choice(WORK_ISSUES)}


OWE = [V("I owe my landlord {amt} for {reason}", ll=False), V("My landlord owes me {amt} for {reason}", ll=True)]
MOVE = [V("I moved out last month.", "I moved out a month ago.", t="past"),
        V("I'm moving out next month.", "I will move out next month.", t="fut")]
REASONS = ["a repair bill", "unpaid utilities", "a broken window", "the cleaning fee", "a plumbing repair",
           "a damaged carpet", "a shared internet bill"]


@family("landlord_dispute#1", "multi_sentence", [
    F("I rent an apartment in {city}. {owex}, and it still hasn't been paid. {move} What are my options?", "s1"),
    F("What are my options here? {move} {owex}, and it still hasn't been paid.", "s2"),
    F("renting in {city}. {owex}, still unpaid. {move} options?", "s1", low=True),
    F("{move} {owex} and it hasn't been settled yet. I live in {city}. How should I handle this?", "s3")],
    {"role": m_pool("owe", OWE), "time": m_pool("move", MOVE)},
    lambda s, d: {"owex": d["owe"].format(amt=d["amt"], reason=d["reason"])})
def _(r):
    cur = r.choice(["$", "€", "£"])
    return {"city": pk(r, CITIES), "owe": pk(r, OWE), "move": pk(r, MOVE), "reason": r.choice(REASONS),
            "amt": f"{cur}{r.randrange(150, 2500, 50):,}"}


STUDY_PERS = [V("I", poss="My", s="I", strug="struggle", obj="me", can="can"),
              V("daughter", poss="My daughter's", s="she", strug="struggles", obj="her", can="can"),
              V("son", poss="My son's", s="he", strug="struggles", obj="him", can="can"),
              V("we", poss="Our", s="we", strug="struggle", obj="us", can="can")]
STUDY_WHEN = [V("tomorrow"), V("next week", "in a week"), V("in two months", "two months from now")]
SUBJECTS = [("chemistry", "stoichiometry"), ("calculus", "integration by parts"), ("biology", "genetics"),
            ("history", "the causes of World War I"), ("physics", "electric circuits"),
            ("statistics", "hypothesis testing"), ("economics", "price elasticity"), ("Spanish", "the subjunctive"),
            ("organic chemistry", "reaction mechanisms"), ("geography", "plate tectonics")]


def _ms6_derive(s, d):
    p = s["pers"]
    return {"poss": p["poss"], "sp": p["s"], "Sp": cap(p["s"]), "strug": p["strug"], "obj": p["obj"],
            "subj": s["subj"][0], "topic": s["subj"][1]}


@family("study_plan#1", "multi_sentence", [
    F("{poss} {subj} exam is {when}, and {sp} can study about {h} hours a day. {Sp} {strug} most with {topic}. Can you make a study plan for {obj}?", "s1"),
    F("Can you make a study plan for {obj}? {poss} {subj} exam is {when}. {Sp} {strug} with {topic} and can put in around {h} hours a day.", "s2"),
    F("{poss} {subj} exam is {when}. {Sp} can do roughly {h} hours of study per day, and {topic} is the hardest part. Please draft a study plan for {obj}.", "s1"),
    F("study plan needed: {subj} exam {when}, {h} hours a day available, weak spot is {topic}. it's for {obj}", "s3", low=True)],
    {"time": m_pool("when", STUDY_WHEN), "number": m_num("h", range(2, 10), ratio=2)}, _ms6_derive)
def _(r):
    return {"pers": pk(r, STUDY_PERS), "when": pk(r, STUDY_WHEN), "h": nm(r, r.randint(2, 6)),
            "subj": r.choice(SUBJECTS)}


# --------------------------------------------------------------- support ---

STORES = [V("Amazon"), V("eBay"), V("Etsy"), V("Zalando"), V("IKEA"), V("Walmart"), V("Flipkart"),
          V("Mercado Libre"), V("Jumia"), V("Rakuten"), V("Target"), V("Best Buy"), V("ASOS"), V("Shopee")]
ORDER_ACTS = ["change the shipping address on", "cancel", "add another item to", "update the payment card on",
              "change the delivery date of", "apply a discount code to", "split the delivery of"]
SHIP_TM = [V("before it ships", "before it has shipped", "while it hasn't shipped yet", t="before"),
           V("after it has shipped", "once it has shipped", "after it's already been shipped", t="after")]


@family("order_change#1", "support", [
    F("How can I {act} my {store} order {tm}?"), F("Is it possible to {act} my {store} order {tm}?"),
    F("{act} {store} order {tm} - how?", low=True), F("I need to {act} my {store} order {tm}. What are the steps?"),
    F("hi, can i {act} my {store} order {tm}?", low=True),
    F("What's the process to {act} an order on {store} {tm}?")],
    {"time": m_pool("tm", SHIP_TM), "entity": m_pool("store", STORES)})
def _(r):
    return {"act": r.choice(ORDER_ACTS), "store": pk(r, STORES), "tm": pk(r, SHIP_TM)}


CANCEL_SC = [V("just one item", "only one of the items", "a single item"), V("all the items", "every item"),
             V("some of the items", "a few of the items")]


@family("cancel_scope#1", "support", [
    F("How do I cancel {sc} in my {store} order?"), F("On {store}, is there a way to cancel {sc} from an order?"),
    F("{store} order - want to cancel {sc}, how?"), F("Can I cancel {sc} in an order I placed on {store}?"),
    F("i placed an order on {store}. how do i cancel {sc} in it", low=True)],
    {"scope": m_pool_via("sc", CANCEL_SC, {"all the items"}), "entity": m_pool("store", STORES)})
def _(r):
    return {"sc": pk(r, CANCEL_SC), "store": pk(r, STORES)}


SUBS = ["Spotify", "Netflix", "Adobe Creative Cloud", "Dropbox", "Canva", "Notion", "Duolingo", "Xbox Game Pass",
        "YouTube Premium", "Microsoft 365", "Zoom", "Audible", "Headspace", "iCloud+"]


PLAN_TIERS = [V("Basic"), V("Standard"), V("Premium"), V("Ultimate")]
PLAN_SVCS = ["Spotify", "Netflix", "Dropbox", "Canva", "Notion", "Duolingo", "Zoom", "Audible", "Headspace",
             "Slack", "Evernote", "NordVPN", "Grammarly", "Crunchyroll"]
RENEW_TM = [V("a few days before my renewal date", "just before my plan renews", t="before"),
            V("a few days after my renewal date", "just after my plan has renewed", t="after")]


@family("plan_change#1", "support", [
    F("Can I switch my {svc} subscription from the {p1} plan to the {p2} plan {tm}, and what happens to what I've already paid?", "12"),
    F("If I move from {svc} {p1} to {svc} {p2} {tm}, how is the billing handled?", "12"),
    F("{svc}: going from {p1} to {p2} {tm} - how does billing work?", "12"),
    F("What happens to my bill if I change my {svc} plan to {p2} from {p1} {tm}?", "21"),
    F("i'm on {svc} {p1} and want {p2} instead, {tm}. how does that affect my bill", "12", low=True)],
    {"direction": m_swap("p1", "p2"), "entity": m_pool("svcv", [V(x) for x in PLAN_SVCS]),
     "time": m_pool("tm", RENEW_TM)},
    lambda s, d: {"svc": d["svcv"]})
def _(r):
    a = pk(r, PLAN_TIERS)
    return {"svcv": V(r.choice(PLAN_SVCS)), "p1": a, "p2": pk(r, PLAN_TIERS, [a]), "tm": pk(r, RENEW_TM)}


ACC_PERS = [V("I", s0="I", s="I", poss="my", has="have"),
            V("mom", s0="my mom", s="she", poss="her", has="has"), V("son", s0="my son", s="he", poss="his", has="has"),
            V("grandfather", s0="my grandfather", s="he", poss="his", has="has"),
            V("wife", s0="my wife", s="she", poss="her", has="has"),
            V("daughter", s0="my daughter", s="she", poss="her", has="has")]
ACC_SVC = [V("Netflix"), V("Instagram"), V("PayPal"), V("Facebook"), V("Spotify"), V("Amazon"), V("LinkedIn"),
           V("Steam"), V("Uber"), V("Airbnb"), V("TikTok"), V("Disney+"), V("eBay")]


def _s3_derive(s, d):
    p = s["pers"]
    has = p["has"]
    acc = (f"no longer {has} access to", f"{'doesn' if has == 'has' else 'don'}'t have access anymore to") if s["neg"] \
        else (f"still {has} access to", f"{has} access to")
    return {"s0": p["s0"], "sp": p["s"], "Sp": cap(p["s"]), "poss": p["poss"], "acc": acc[s["acck"] % 2]}


@family("account_access#1", "support", [
    F("{s0} can't log in to {poss} {svc} account because {sp} forgot the password, and {sp} {acc} the email address on file. How can {sp} get back in?"),
    F("{s0} forgot {poss} {svc} password. {Sp} {acc} the email address linked to the account. What's the recovery process?"),
    F("How can {s0} recover {poss} {svc} account? {Sp} forgot the password and {acc} the registered email."),
    F("{svc} account recovery: {s0} forgot the password and {acc} the email on file. what now?")],
    {"person": m_pool_via("pers", ACC_PERS, {"I"}), "negation": m_flip("neg"), "entity": m_pool("svc", ACC_SVC)},
    _s3_derive)
def _(r):
    return {"pers": pk(r, ACC_PERS), "svc": pk(r, ACC_SVC), "neg": r.random() < 0.6, "acck": r.randrange(2)}


DEVICES = [V("iPhone"), V("Android phone", "Android"), V("iPad"), V("Mac", "MacBook"), V("Windows PC", "Windows laptop"),
           V("Chromebook"), V("Samsung Galaxy", "Galaxy phone"), V("Google Pixel", "Pixel")]
DEV_DATA = ["photos", "contacts", "WhatsApp chats", "music library", "saved passwords", "notes", "calendar events",
            "text messages", "voice memos", "podcast subscriptions"]


@family("device_transfer#1", "support", [
    F("How do I move my {data} from my {d1} to my {d2}?", "12"),
    F("What's the easiest way to transfer {data} from {a1} {d1} to {a2} {d2}?", "12"),
    F("{data} {d1} -> {d2}, how do i transfer them", "12", low=True),
    F("What's the best way to get my {data} onto my {d2} from my {d1}?", "21"),
    F("I want my {data} on my {d2}. Right now they're on my {d1}. How do I move them?", "21"),
    F("Can you explain how to copy {data} from {a1} {d1} to {a2} {d2}?", "12")],
    {"direction": m_swap("d1", "d2"),
     "entity": lambda s, rng: m_pool("d2", DEVICES, ok=lambda s_, v: v.c != s["d1"].c)(s, rng)},
    lambda s, d: {"a1": an(d["d1"]), "a2": an(d["d2"])})
def _(r):
    a = pk(r, DEVICES)
    return {"data": r.choice(DEV_DATA), "d1": a, "d2": pk(r, DEVICES, [a])}


@family("shipping_country#1", "support", [
    F("Do you offer free shipping to {country} on orders over {amt} {cur}?"),
    F("Is shipping to {country} free if my order is more than {amt} {cur}?"),
    F("free delivery to {country} for orders above {amt} {cur}?", low=True),
    F("If I spend over {amt} {cur}, do you ship to {country} for free?"),
    F("Hi, does the free shipping on orders over {amt} {cur} also apply to {country}?")],
    {"entity": m_pool("country", COUNTRIES), "number": m_num("amt", range(20, 501, 10), ratio=1.5),
     "unit": m_pool("cur", CURRENCIES)})
def _(r):
    return {"country": pk(r, COUNTRIES), "amt": nm(r, r.randrange(30, 301, 10)), "cur": pk(r, CURRENCIES)}


FAMILY_ROLES = [("the plan owner", "a family member"), ("a parent account", "a child account"),
                ("the organizer", "another member"), ("the account holder", "a secondary user"),
                ("the family manager", "a teenage member")]
FAMILY_ACTS = [("remove {y} from the plan", "{y} be removed from the plan by {x}"),
               ("see the purchase history of {y}", "the purchase history of {y} be viewed by {x}"),
               ("stop {y} from making purchases", "{y} be stopped from making purchases by {x}"),
               ("change the spending limit of {y}", "the spending limit of {y} be changed by {x}")]
FAMILY_SVC = [V("Spotify"), V("Apple"), V("Google"), V("Microsoft 365"), V("YouTube Premium"),
              V("Nintendo Switch Online"), V("Xbox"), V("Amazon"), V("Disney+")]


def _s7_derive(s, d):
    act, pas = s["act"]
    return {"actx": act.format(y=d["y"], x=d["x"]), "pasx": pas.format(y=d["y"], x=d["x"]), "asvc": an(d["svc"])}


@family("family_plan_role#1", "support", [
    F("On {asvc} {svc} family plan, can {x} {actx}?", "act"),
    F("Is {x} able to {actx} on {asvc} {svc} family plan?", "act"),
    F("{svc} family plan: can {x} {actx}?", "act"),
    F("On {asvc} {svc} family plan, can {pasx}?", "pas"),
    F("{svc} family plan question - can {pasx}?", "pas")],
    {"role": m_swap("x", "y"), "entity": m_pool("svc", FAMILY_SVC)}, _s7_derive)
def _(r):
    x, y = r.choice(FAMILY_ROLES)
    if r.random() < 0.4:
        x, y = y, x
    return {"x": x, "y": y, "act": r.choice(FAMILY_ACTS), "svc": pk(r, FAMILY_SVC)}


# ------------------------------------------------------------------ data ---

ORD_SC = [V("at least {n}", "{n} or more", "no fewer than {n}"), V("at most {n}", "{n} or fewer", "no more than {n}"),
          V("exactly {n}")]


@family("sql_order_count#1", "data", [
    F("Write a SQL query that returns the customers who placed {scn} orders in {year}."),
    F("SQL: customers with {scn} orders in {year}"),
    F("I need a query to find every customer who made {scn} orders during {year}."),
    F("How would I select customers having {scn} orders in {year} using SQL?"),
    F("Give me SQL listing customers that placed {scn} orders in the year {year}."),
    F("sql for customers who ordered {scn} times in {year}", low=True)],
    {"scope": m_pool("sc", ORD_SC), "number": m_num("n", range(2, 21)),
     "time": m_num("year", range(2015, 2026), make=Year)},
    lambda s, d: {"scn": d["sc"].format(n=d["n"])})
def _(r):
    return {"sc": pk(r, ORD_SC), "n": nm(r, r.randint(2, 12)), "year": Year(r.randint(2015, 2025))}


HL = [V("highest-paid", "best-paid", "top-earning"), V("lowest-paid", "worst-paid", "lowest-earning")]
GRP = [V("in each department", "per department", "for every department"),
       V("across the whole company", "company-wide", "in the entire company")]
SCHEMA_EMP = " Table: employees(name, department, salary)."


@family("sql_topk#1", "data", [
    F("Write a SQL query that returns the {k} {hl} employees {grp}." + SCHEMA_EMP),
    F("SQL: get the {k} {hl} employees {grp}." + SCHEMA_EMP),
    F("How would I query the {k} {hl} employees {grp}?" + SCHEMA_EMP),
    F("I need SQL for the {k} {hl} employees {grp}." + SCHEMA_EMP),
    F("sql query, {k} {hl} employees {grp}." + SCHEMA_EMP, low=True)],
    {"number": m_num("k", range(2, 11)), "quantity": m_pool("hl", HL), "scope": m_pool("grp", GRP)})
def _(r):
    return {"k": nm(r, r.randint(2, 10)), "hl": pk(r, HL), "grp": pk(r, GRP)}


SHEET_APPS = [V("Excel", "Microsoft Excel"), V("Google Sheets"), V("LibreOffice Calc"), V("Apple Numbers", "Numbers")]
CONDS = {"gt": V("greater than {n}", "more than {n}", "above {n}"), "lt": V("less than {n}", "below {n}", "smaller than {n}"),
         "eq": V("equal to {n}", "exactly {n}"), "ne": V("not equal to {n}", "anything other than {n}")}


def _d3_flip(pairs):
    def f(s, rng):
        if s["ck"] not in pairs:
            return None
        k = pairs[s["ck"]]
        s2 = dict(s)
        s2["ck"] = k
        s2["cond"] = like(CONDS[k], s["cond"])
        return s2
    return f


@family("spreadsheet_count#1", "data", [
    F("In {app}, what formula counts the cells in column {col} that are {cd}?"),
    F("{app} formula to count how many values in column {col} are {cd}?"),
    F("How do I count cells in {col}:{col} that are {cd} in {app}?"),
    F("count the cells in column {col} whose value is {cdc} ({app})", low=True),
    F("Which {app} function would count the entries in column {col} that are {cd}?")],
    {"number": m_num("n", list(range(0, 101, 5)) + [200, 500, 1000]),
     "quantity": _d3_flip({"gt": "lt", "lt": "gt"}), "negation": _d3_flip({"eq": "ne", "ne": "eq"})},
    lambda s, d: {"cd": d["cond"].format(n=d["n"]), "cdc": s["cond"].c.format(n=d["n"])})
def _(r):
    k = r.choice(["gt", "lt", "eq", "ne"])
    return {"app": pk(r, SHEET_APPS), "col": r.choice("ABCDEFGH"), "ck": k, "cond": vary(CONDS[k], r),
            "n": nm(r, r.choice(list(range(0, 101, 5)) + [200, 500, 1000]))}


ORD_NEG = [V("have never placed an order", "have never ordered anything", "haven't placed a single order", neg=True),
           V("have placed an order", "have ordered something", "have placed at least one order", neg=False)]
BEF_AFT = [V("before", "prior to"), V("after")]
DIALECTS = [V("PostgreSQL", "Postgres"), V("MySQL"), V("SQLite"), V("SQL Server", "Microsoft SQL Server"), V("Oracle"),
            V("BigQuery"), V("Snowflake"), V("MariaDB")]
SCHEMA_ORD = " Tables: customers(id, name), orders(id, customer_id, created_at)."


@family("sql_never_ordered#1", "data", [
    F("Write a {dia} query to find customers who {ordp} {tm} {date}." + SCHEMA_ORD),
    F("{dia}: list the customers that {ordp} {tm} {date}." + SCHEMA_ORD),
    F("How do I get all customers who {ordp} {tm} {date} in {dia}?" + SCHEMA_ORD),
    F("Give me a {dia} query returning the customers who {ordp} {tm} {date}." + SCHEMA_ORD),
    F("sql ({dia}) for customers who {ordp} {tm} {date}." + SCHEMA_ORD, low=True)],
    {"negation": m_pool("ordp", ORD_NEG), "time": m_pool("tm", BEF_AFT)})
def _(r):
    return {"ordp": pk(r, ORD_NEG), "tm": pk(r, BEF_AFT), "dia": pk(r, DIALECTS),
            "date": f"{r.choice(MONTHS)} 1, {r.randint(2019, 2024)}"}


CONV_FMTS = [V("CSV"), V("JSON"), V("XML"), V("YAML"), V("Excel (.xlsx)", "XLSX"), V("Parquet"), V("TSV")]
SCRIPT_LANGS = [V("Python"), V("Go"), V("Node.js", "JavaScript (Node)"), V("Ruby"), V("Rust"), V("Java"),
                V("PowerShell"), V("C#"), V("Kotlin"), V("PHP"), V("Perl")]


@family("file_convert_script#1", "data", [
    F("Write a {pl} script that converts {a1} {f1} file to {f2}."),
    F("{pl} code to turn {f1} into {f2}?"),
    F("How can I convert {f1} files into {f2} using {pl}?"),
    F("I need a {pl} program that reads {f1} and writes {f2}."),
    F("convert {f1} -> {f2} in {pl}, show me the script", low=True)],
    {"direction": m_swap("f1", "f2"),
     "format": lambda s, rng: m_pool("f2", CONV_FMTS, ok=lambda s_, v: v.c != s["f1"].c)(s, rng),
     "language": m_pool("pl", SCRIPT_LANGS)},
    lambda s, d: {"a1": an(d["f1"])})
def _(r):
    a = pk(r, CONV_FMTS)
    return {"f1": a, "f2": pk(r, CONV_FMTS, [a]), "pl": pk(r, SCRIPT_LANGS)}


USERNAMES = ["maria_dev", "kofi.codes", "tanaka_k", "lena_travels", "raj.builds", "the_real_omar", "yuki.art",
             "sam_runs", "ngozi_reads", "pablo.bakes"]
FOLLOW_FORMS = [
    ('Write a SQL query listing every user who follows "{u}".', 'Write a SQL query listing every user that "{u}" follows.'),
    ('SQL: get all followers of "{u}".', 'SQL: get all accounts followed by "{u}".'),
    ('Query for the users that follow the account "{u}".', 'Query for the users that the account "{u}" follows.'),
    ('Which SQL returns the accounts following "{u}"?', 'Which SQL returns the accounts "{u}" is following?'),
    ('I need the list of people who follow "{u}" - how do I write that in SQL?',
     'I need the list of people "{u}" follows - how do I write that in SQL?'),
    ('Write SQL that finds who is following "{u}".', 'Write SQL that finds who "{u}" is following.')]
FOLLOW_TAIL = " The table is follows(follower_id, followee_id), plus users(id, username). Return at most {n} rows."


def _follow_form(i):
    def t(d):
        base = FOLLOW_FORMS[i][0 if d["rel"] == "followers" else 1]
        return base.format(u=d["u"]) + FOLLOW_TAIL.format(n=d["n"])
    return F(t, low=False)


@family("followers_sql#1", "data", [_follow_form(i) for i in range(len(FOLLOW_FORMS))],
        {"role": lambda s, rng: dict(s, rel="following" if s["rel"] == "followers" else "followers"),
         "number": m_num("n", [5, 10, 20, 25, 50, 100, 200, 500, 1000])})
def _(r):
    return {"u": r.choice(USERNAMES), "rel": r.choice(["followers", "following"]),
            "n": nm(r, r.choice([5, 10, 20, 25, 50, 100, 200, 500, 1000]))}


# ---------------------------------------------------------------- travel ---

HOURS = [V(f"{h % 12 or 12}{'am' if h < 12 else 'pm'}", f"{h:02d}:00", f"{h % 12 or 12} {'in the morning' if h < 12 else ('in the afternoon' if h < 18 else 'in the evening')}", n=h)
         for h in range(6, 23)]


def _tr1_entity(s, rng):
    return m_pool("c2", CITIES, ok=lambda s_, v: v["tz"] not in (s["c1"]["tz"], s["c2"]["tz"]))(s, rng)


@family("timezone_flight#1", "travel", [
    F("If I leave {c1} at {h} local time on a {d}-hour flight to {c2}, what time will it be in {c2} when I land?", "12"),
    F("My flight from {c1} to {c2} departs at {h} and takes {d} hours. What's the local time when I arrive?", "12"),
    F("flying {c1} to {c2}, leaving {h}, {d} hour flight. what time do i land, local time?", "12", low=True),
    F("What local time will it be in {c2} when I land, if I depart {c1} at {h} on a {d}-hour flight?", "21"),
    F("A {d}-hour flight leaves {c1} at {h} bound for {c2}. When does it land, in {c2} local time?", "12")],
    {"direction": m_swap("c1", "c2"), "entity": _tr1_entity,
     "number": m_any(m_num("d", range(2, 16)), m_pool("h", HOURS))})
def _(r):
    a = pk(r, CITIES)
    b = pk(r, [c for c in CITIES if c["tz"] != a["tz"]])
    return {"c1": a, "c2": b, "h": pk(r, HOURS), "d": nm(r, r.randint(2, 14))}


def _tr2_derive(s, d):
    adj = s["nat"]["adj"]
    return {"adj": adj, "aadj": an(adj)}


def _tr2_direction(s, rng):
    s2 = dict(s)
    s2["nat"], s2["dest"] = s["dest"], s["nat"]
    return s2


@family("visa_need#1", "travel", [
    F("Do {adj} citizens need a visa to visit {dest}?"),
    F("Does {aadj} {adj} passport holder need a visa for {dest}?"),
    F("I have {aadj} {adj} passport. Do I need a visa to travel to {dest}?"),
    F("visa requirements for {adj} citizens going to {dest}?", low=True),
    F("Is a visa required for citizens of {nat} traveling to {dest}?"),
    F("Traveling to {dest} on {aadj} {adj} passport - is a visa needed?")],
    {"entity": m_pool("dest", COUNTRIES, ok=lambda s, v: v["reg"] != s["nat"]["reg"]),
     "direction": _tr2_direction}, _tr2_derive)
def _(r):
    a = pk(r, COUNTRIES)
    return {"nat": a, "dest": pk(r, [c for c in COUNTRIES if c["reg"] != a["reg"]])}


BAG = [V("I won't be checking a bag.", "I'm not checking any luggage.", "I will not check a bag.", neg=True),
       V("I'll be checking a bag.", "I'm planning to check a bag.", "I will check a bag.", neg=False)]


PACK_FMT = [V("Give me a checklist.", "Format it as a checklist."),
            V("Group the items in a table by category.", "Put the items in a table, grouped by category."),
            V("Just a short paragraph is fine.", "A single short paragraph is enough."),
            V("Return it as JSON grouped by category.")]


@family("packing_list#1", "travel", [
    F("What should I pack for {n} days in {city} in {month}? {bag} {fmt}"),
    F("Packing list for a {n}-day trip to {city} in {month}, please. {bag} {fmt}"),
    F("{bag} I'm going to {city} for {n} days in {month}. What should I bring? {fmt}"),
    F("help me pack: {city}, {month}, {n} days. {bag} {fmt}", low=True),
    F("I'm spending {n} days in {city} this {month}. {bag} What clothes and gear do I need? {fmt}")],
    {"entity": m_pool("city", CITIES), "time": _month_mut("month", 4, only=TEMPERATE), "negation": m_pool("bag", BAG),
     "number": m_num("n", range(2, 31), ratio=2.5), "format": m_pool("fmt", PACK_FMT)})
def _(r):
    return {"n": nm(r, r.randint(2, 21)), "city": pk(r, CITIES), "month": r.choice(MONTHS), "bag": pk(r, BAG),
            "fmt": pk(r, PACK_FMT)}


@family("city_distance#1", "travel", [
    F("How far is {c1} from {c2} in {u}?", "12"), F("How far is it from {c2} to {c1} in {u}?", "21"),
    F("Distance between {c1} and {c2} in {u}?", "12"), F("What's the distance from {c2} to {c1}, in {u}?", "21"),
    F("how many {u} between {c1} and {c2}", "12", low=True), F("{c2} to {c1}: how many {u} is that?", "21")],
    {"unit": m_pool("u", DIST_UNITS),
     "entity": lambda s, rng: m_pool("c2", CITIES, ok=lambda s_, v: v.c != s["c1"].c)(s, rng)})
def _(r):
    a = pk(r, CITIES)
    return {"c1": a, "c2": pk(r, CITIES, [a]), "u": pk(r, DIST_UNITS)}


AIRLINES = [V("Ryanair"), V("easyJet"), V("Southwest"), V("Emirates"), V("IndiGo"), V("AirAsia"), V("Lufthansa"),
            V("Delta"), V("Qantas"), V("LATAM"), V("Air Canada"), V("Turkish Airlines"), V("Ethiopian Airlines"),
            V("Wizz Air"), V("Aeromexico")]
BAG_RELS = [V("sister", pr="she"), V("brother", pr="he"), V("mom", pr="she"), V("dad", pr="he"),
            V("wife", pr="she"), V("husband", pr="he"), V("son", pr="he"), V("daughter", pr="she")]


def _tr5_derive(s, d):
    pr = s["rel"]["pr"]
    if s["who"] == "me":
        qpay, qowe = "will I pay", "do I owe"
    else:
        qpay, qowe = f"will {pr} pay", f"does {pr} owe"
    bags = lambda n: "bag" if n == 1 else "bags"
    return {"pr": pr, "obj": OBJ[pr], "qpay": qpay, "qowe": qowe,
            "bga": bags(s["na"]["n"]), "bgb": bags(s["nb"]["n"])}


def _tr5_number(s, rng):
    key = "na" if s["who"] == "me" else "nb"
    other = s["nb" if key == "na" else "na"]["n"]
    return m_num(key, range(1, 6), ok=lambda s_, x: x != other)(s, rng)


@family("baggage_person#1", "travel", [
    F("I'm flying {air} with my {rel}. I have {na} checked {bga} and {pr} has {nb}. How much {qpay} in baggage fees?"),
    F("My {rel} and I are flying {air}. I'm checking {na} {bga} and {pr} is checking {nb}. What {qpay} for checked luggage?"),
    F("{air} baggage fees: I have {na} checked {bga}, my {rel} has {nb}. how much {qowe}?"),
    F("Flying {air} with my {rel}: {na} checked {bga} for me, {nb} for {obj}. How much {qpay} for bags?")],
    {"person": lambda s, rng: dict(s, who="rel" if s["who"] == "me" else "me"), "number": _tr5_number,
     "entity": m_pool("air", AIRLINES)}, _tr5_derive)
def _(r):
    a, b = r.sample(range(1, 5), 2)
    return {"air": pk(r, AIRLINES), "rel": pk(r, BAG_RELS), "na": nm(r, a), "nb": nm(r, b),
            "who": r.choice(["me", "rel"])}


# ---------------------------------------------------------------- health ---

BMI_RELS = BAG_RELS + [V("roommate", pr="she"), V("partner", pr="he")]
W_UNITS = [V("kg", "kilograms", "kilos"), V("pounds", "lbs")]


def _h1_derive(s, d):
    rel, pr = s["rel"].c, s["rel"]["pr"]
    q = ("my BMI", "my body mass index") if s["who"] == "me" else (f"{POSS[pr]} BMI", f"my {rel}'s BMI")
    return {"q": q[s["qk"]]}


def _h1_number(s, rng):
    key = rng.choice(["w1", "h1"] if s["who"] == "me" else ["w2", "h2"])
    rngs = range(45, 121) if key[0] == "w" else range(150, 201)
    return m_num(key, rngs, ok=lambda s_, x: abs(x - s[key]["n"]) >= 5)(s, rng)


@family("bmi_two_people#1", "health", [
    F("I weigh {w1} {wu} and I'm {h1} cm tall. My {rel} weighs {w2} {wu} and is {h2} cm tall. What is {q}?"),
    F("What's {q}? I'm {h1} cm and {w1} {wu}; my {rel} is {h2} cm and {w2} {wu}."),
    F("me: {w1} {wu}, {h1} cm. my {rel}: {w2} {wu}, {h2} cm. calculate {q}", low=True),
    F("My {rel} is {h2} cm tall and weighs {w2} {wu}, while I am {h1} cm tall and weigh {w1} {wu}. Can you work out {q}?")],
    {"person": lambda s, rng: dict(s, who="rel" if s["who"] == "me" else "me"), "unit": m_pool("wu", W_UNITS),
     "number": _h1_number}, _h1_derive)
def _(r):
    w1, w2 = r.sample(range(48, 115), 2)
    h1, h2 = r.sample(range(152, 198), 2)
    return {"w1": nm(r, w1, False), "w2": nm(r, w2, False), "h1": nm(r, h1), "h2": nm(r, h2), "wu": pk(r, W_UNITS),
            "rel": pk(r, BMI_RELS), "who": r.choice(["me", "rel"]), "qk": r.randrange(2)}


CONDITIONS = ["gout", "high blood pressure", "type 2 diabetes", "acid reflux", "IBS", "high cholesterol",
              "kidney stones", "iron-deficiency anemia", "osteoporosis", "fatty liver disease", "celiac disease",
              "hypothyroidism"]
AVOID = [V("avoid", "stay away from", "cut out", neg=True), V("eat more of", "include more of", "prioritize", neg=False)]
FMT_H = [V("Give me a bullet list."), V("Put it in a two-column table.", "Format it as a table with two columns."),
         V("Answer in one short paragraph.", "Keep it to a single short paragraph."),
         V("Return it as JSON with 'food' and 'reason' fields.")]


@family("food_avoid#1", "health", [
    F("What foods should I {av} if I have {cond}? {fmt}"),
    F("I've been diagnosed with {cond}. Which foods should I {av}? {fmt}"),
    F("{cond}: which foods to {av}? {fmt}"),
    F("Could you tell me which foods to {av} when you have {cond}? {fmt}"),
    F("which foods should i {av} with {cond}. {fmt}", low=True)],
    {"negation": m_pool("av", AVOID), "format": m_pool("fmt", FMT_H)})
def _(r):
    return {"av": pk(r, AVOID), "cond": r.choice(CONDITIONS), "fmt": pk(r, FMT_H)}


MARKERS = ["blood pressure", "HDL cholesterol", "iron levels", "vitamin D levels", "resting heart rate",
           "blood sugar", "cortisol levels", "potassium levels", "platelet count", "body temperature",
           "testosterone levels", "white blood cell count"]
RAISE = [V("raise", "increase", "boost"), V("lower", "reduce", "decrease", "bring down")]
MED = [V("without medication", "without taking any medication", "without drugs", neg=True),
       V("with medication", "using medication", "with the help of medication", neg=False)]


@family("raise_lower#1", "health", [
    F("How can I {rl} my {mk} {med}?"), F("What are ways to {rl} {mk} {med}?"),
    F("tips to {rl} my {mk} {med}", low=True), F("Is it possible to {rl} my {mk} {med}, and how?"),
    F("I want to {rl} my {mk} {med}. Where do I start?")],
    {"quantity": m_pool("rl", RAISE), "negation": m_pool("med", MED)})
def _(r):
    return {"rl": pk(r, RAISE), "mk": r.choice(MARKERS), "med": pk(r, MED)}


MEDS = [V("ibuprofen", "Advil"), V("paracetamol", "acetaminophen"), V("aspirin"), V("metformin"), V("amoxicillin"),
        V("omeprazole", "Prilosec"), V("levothyroxine"), V("naproxen", "Aleve"), V("cetirizine", "Zyrtec"),
        V("iron supplements", "iron tablets"), V("vitamin D supplements"), V("magnesium supplements"),
        V("doxycycline"), V("prednisone"), V("loratadine", "Claritin")]
MEAL_TM = [V("before", "prior to"), V("after", "right after")]


@family("med_timing#1", "health", [
    F("Should I take {med} {tm} eating?"), F("Is it okay to take {med} {tm} a meal?"),
    F("{med} {tm} food - is that fine?"), F("Can {med} be taken {tm} eating?"),
    F("I have some {med}. Is it fine to take {it} {tm} meals?"),
    F("is it better to take {med} {tm} i eat", low=True)],
    {"time": m_pool("tm", MEAL_TM), "entity": m_pool("med", MEDS)},
    lambda s, d: {"it": "them" if s["med"].c.endswith("s") else "it"})
def _(r):
    return {"med": pk(r, MEDS), "tm": pk(r, MEAL_TM)}


# --------------------------------------------------------------- finance ---

@family("currency_exchange#1", "finance", [
    F("How many {c2} will I get for {n} {c1}?", "21"), F("Convert {n} {c1} to {c2}.", "12"),
    F("{n} {c1} in {c2}?", "12"), F("What's {n} {c1} worth in {c2} today?", "12"),
    F("If I exchange {n} {c1}, how many {c2} do I receive?", "12"),
    F("I have {n} {c1}. How much is that in {c2}?", "12")],
    {"direction": m_swap("c1", "c2"),
     "unit": lambda s, rng: m_pool("c2", CURRENCIES, ok=lambda s_, v: v.c != s["c1"].c)(s, rng),
     "number": m_num("n", [50, 100, 150, 200, 250, 300, 500, 750, 1000, 1500, 2000, 5000, 10000], ratio=1.5)})
def _(r):
    a = pk(r, CURRENCIES)
    return {"c1": a, "c2": pk(r, CURRENCIES, [a]), "n": nm(r, r.choice([50, 100, 150, 200, 250, 300, 500, 750, 1000, 1500, 2000, 5000, 10000]))}


FREQ = [V("monthly"), V("annually", "yearly"), V("quarterly")]


@family("compound_interest#1", "finance", [
    F("If I invest {p} {cur} at {r} annual interest, compounded {fq}, how much will I have after {y} years?"),
    F("How much will {p} {cur} grow to in {y} years at {r} a year, compounded {fq}?"),
    F("{p} {cur}, {r} per year, compounded {fq}, {y} years - final amount?"),
    F("Calculate the future value of {p} {cur} invested for {y} years at {r} interest compounded {fq}."),
    F("what will {p} {cur} be worth after {y} years at {r} compounded {fq}", low=True)],
    {"number": m_any(m_num("p", [500, 1000, 2000, 2500, 5000, 10000, 20000, 50000, 100000], ratio=1.5),
                     _pct_mut("r", list(range(2, 13))), m_num("y", range(2, 41), ratio=1.5)),
     "unit": m_pool("cur", CURRENCIES)})
def _(r):
    return {"p": nm(r, r.choice([500, 1000, 2000, 2500, 5000, 10000, 20000, 50000, 100000])), "cur": pk(r, CURRENCIES),
            "r": vary(Pct(r.randint(2, 12)), r, 0.5), "fq": pk(r, FREQ), "y": nm(r, r.randint(2, 30))}


RENT_RELS = [V("roommate", pr="she"), V("roommate", pr="he"), V("partner", pr="she"), V("partner", pr="he"),
             V("sister", pr="she"), V("brother", pr="he"), V("best friend", pr="she"), V("flatmate", pr="he")]
MONEY_SYM = [("$", "dollars"), ("€", "euros"), ("£", "pounds")]


def _money(n, cur, rng=None, k=0):
    sym, name = cur
    v = V(f"{sym}{n:,}", f"{n:,} {name}", n=n)
    v.k = k
    return v


def _fi3_derive(s, d):
    pr = s["rel"]["pr"]
    q = ("do I pay", "should I pay", "is my share") if s["who"] == "me" else \
        (f"does {pr} pay", f"should {pr} pay", f"is {POSS[pr]} share")
    return {"pr": pr, "q": q[s["qk"]]}


def _fi3_number(s, rng):
    key = rng.choice(["a", "b", "rent"])
    cur = s[key]
    lo, hi = (1500, 9000) if key != "rent" else (800, 4000)
    for _ in range(20):
        n = rng.randrange(lo, hi, 100)
        if abs(n - cur["n"]) >= 300 and not (key in "ab" and n == s["b" if key == "a" else "a"]["n"]):
            s2 = dict(s)
            s2[key] = _money(n, s["cur"], k=cur.k)
            return s2
    return None


@family("rent_split_person#1", "finance", [
    F("My {rel} and I split the rent in proportion to our incomes. I earn {a} a month and {pr} earns {b}. The rent is {rent}. How much {q}?"),
    F("Rent is {rent} a month, split by income between me and my {rel}. I make {a}, {pr} makes {b}. How much {q}?"),
    F("i make {a}/month, my {rel} makes {b}, rent is {rent}, we split it proportionally to income. how much {q}", low=True),
    F("We divide rent based on income: I bring in {a} monthly and my {rel} brings in {b}. If rent is {rent}, how much {q}?")],
    {"person": lambda s, rng: dict(s, who="rel" if s["who"] == "me" else "me"), "number": _fi3_number}, _fi3_derive)
def _(r):
    cur = r.choice(MONEY_SYM)
    a, b = r.sample(range(1500, 9000, 100), 2)
    k = 0 if r.random() < 0.6 else 1
    return {"rel": r.choice(RENT_RELS), "a": _money(a, cur, k=k), "b": _money(b, cur, k=k),
            "rent": _money(r.randrange(800, 4000, 50), cur, k=k), "cur": cur, "who": r.choice(["me", "rel"]),
            "qk": r.randrange(3)}


DEBTS = [V("credit card", "credit card balance"), V("student loan"), V("car loan", "auto loan"), V("mortgage"),
         V("personal loan"), V("medical debt"), V("payday loan"), V("buy-now-pay-later balance")]


def _fi4_derive(s, d):
    tw = s["tw"]
    return {"tw": tw, "tinv": "after" if tw == "before" else "before"}


def _fi4_number(s, rng):
    key = rng.choice(["r1", "r2"])
    other = s["r2" if key == "r1" else "r1"]["n"]
    hi = s[key]["n"] > other
    opts = [x for x in range(2, 31) if (x < other if hi else x > other)]
    return _pct_mut(key, opts)(s, rng) if opts else None


def _fi4_direction(s, rng):
    s2 = dict(s)
    s2["d1"], s2["d2"], s2["r1"], s2["r2"] = s["d2"], s["d1"], s["r2"], s["r1"]
    return s2


@family("debt_order#1", "finance", [
    F("Should I pay off my {d1} ({r1} APR) {tw} my {d2} ({r2} APR)?", "12"),
    F("Is it smarter to clear my {d1} at {r1} {tw} my {d2} at {r2}?", "12"),
    F("pay off my {d1} ({r1}) {tw} my {d2} ({r2}) - does that make sense?", "12", low=True),
    F("Should I pay off my {d2} ({r2} APR) {tinv} my {d1} ({r1} APR)?", "21"),
    F("Would it be better to tackle my {d2} at {r2} {tinv} my {d1} at {r1}?", "21")],
    {"direction": _fi4_direction, "time": lambda s, rng: dict(s, tw="after" if s["tw"] == "before" else "before"),
     "number": _fi4_number}, _fi4_derive)
def _(r):
    a = pk(r, DEBTS)
    r1, r2 = r.sample(range(2, 30), 2)
    k = 0 if r.random() < 0.7 else 1
    p1, p2 = Pct(r1), Pct(r2)
    p1.k = p2.k = k
    return {"d1": a, "d2": pk(r, DEBTS, [a]), "r1": p1, "r2": p2, "tw": r.choice(["before", "before", "after"])}


TAX_COUNTRIES = [V("the United States", "the US"), V("Canada"), V("the United Kingdom", "the UK"), V("Australia"),
                 V("India"), V("Germany"), V("France"), V("Japan"), V("Brazil"), V("South Africa"), V("Ireland"),
                 V("New Zealand"), V("Spain"), V("Mexico"), V("Kenya"), V("Nigeria"), V("the Netherlands"),
                 V("Sweden"), V("Italy"), V("Singapore")]


@family("tax_deadline#1", "finance", [
    F("When is the deadline to file income taxes for the {y} tax year in {country}?"),
    F("What's the income tax filing deadline for the {y} tax year in {country}?"),
    F("{country}: tax return deadline for the {y} tax year?"),
    F("By what date do I have to file my income tax return for {y} in {country}?"),
    F("tax filing deadline in {country} for tax year {y}?", low=True)],
    {"entity": m_pool("country", TAX_COUNTRIES), "time": m_num("y", range(2018, 2026), make=Year)})
def _(r):
    return {"country": pk(r, TAX_COUNTRIES), "y": Year(r.randint(2018, 2025))}


def _fi6_derive(s, d):
    return {"objR": OBJ[s["R"]["pr"]]}


def _fi6_number(s, rng):
    if rng.random() < 0.5:
        return m_num("paid", range(50, s["amt"]["n"], 50), ok=lambda s_, x: abs(x - s["paid"]["n"]) >= 50)(s, rng)
    return m_num("amt", range(s["paid"]["n"] + 100, 3001, 50))(s, rng)


@family("debt_between#1", "finance", [
    F("{L} lent {R} ${amt} last month, and {R} has paid back ${paid} so far. Who owes whom now, and how much?", "act"),
    F("Last month {L} lent {R} ${amt}. {R} has repaid ${paid}. Who owes whom now, and how much?", "act"),
    F("{R} borrowed ${amt} from {L} last month and has repaid ${paid}. Who owes whom now, and how much?", "pas"),
    F("{L} lent ${amt} to {R}, and so far {R} has paid back ${paid}. How much is still owed, and by whom to whom?", "act"),
    F("{L} lent ${amt} to {R}, and {R} has returned ${paid} of it. who still owes money to whom, and how much", "act"),
    F("Last month {R} borrowed ${amt} from {L}; ${paid} has been repaid since. Who owes whom, and how much is left?", "pas")],
    {"role": m_swap("L", "R"), "number": _fi6_number}, _fi6_derive)
def _(r):
    a = pk(r, NAMES)
    amt = r.randrange(200, 3001, 50)
    return {"L": a, "R": pk(r, NAMES, [a]), "amt": Num(amt, False), "paid": Num(r.randrange(50, amt - 49, 50), False)}


# --------------------------------------------------------------- science ---

PLANETS = [V("Mercury"), V("Venus"), V("Earth"), V("Mars"), V("Jupiter"), V("Saturn"), V("Uranus"), V("Neptune"),
           V("Pluto")]
TIME_UNITS = [V("minutes"), V("seconds"), V("hours")]


@family("light_travel#1", "science", [
    F("How long does it take light to travel from the Sun to {p}, in {tu}?", "12"),
    F("How many {tu} does sunlight need to reach {p}?", "12"),
    F("light travel time from the sun to {p} in {tu}?", "12", low=True),
    F("How long does light take to go from {p} to the Sun? Give the answer in {tu}.", "21"),
    F("In {tu}, how long would light need to travel from {p} to the Sun?", "21")],
    {"entity": m_pool("p", PLANETS), "unit": m_pool("tu", TIME_UNITS)})
def _(r):
    return {"p": pk(r, PLANETS), "tu": pk(r, TIME_UNITS)}


BODIES = [p for p in PLANETS if p.c != "Earth"] + [V("the Moon"), V("Titan"), V("Ganymede")]
MASS_UNITS = [V("kg", "kilograms", "kilos"), V("pounds", "lbs")]


@family("weight_on_planet#1", "science", [
    F("How much would a {m} {mu} person weigh on {p}?"),
    F("If I weigh {m} {mu} on Earth, what would I weigh on {p}?"),
    F("weight on {p} for someone who is {m} {mu} on earth?", low=True),
    F("What is the weight on {p} of a person who weighs {m} {mu} on Earth?"),
    F("Someone weighs {m} {mu} here on Earth. How much would they weigh on {p}?")],
    {"entity": m_pool("p", BODIES), "number": m_num("m", range(20, 151, 5), ratio=1.3, words_ok=False),
     "unit": m_pool("mu", MASS_UNITS)})
def _(r):
    return {"m": Num(r.randrange(40, 131, 5), False), "mu": pk(r, MASS_UNITS), "p": pk(r, BODIES)}


TEMP_UNITS = [V("Celsius", "°C", "degrees Celsius"), V("Fahrenheit", "°F", "degrees Fahrenheit"), V("Kelvin", "K")]


def _temp_ok(s):
    n = s["n"]["n"]
    if s["u1"].c == "Kelvin" and n < 0:
        return False
    return n != -40


@family("temperature_convert#1", "science", [
    F("Convert {n} {u1} to {u2}.", "12"), F("What is {n} {u1} in {u2}?", "12"),
    F("How many {u2c} is {n} {u1}?", "21"), F("{n} {u1} to {u2}?", "12"),
    F("If it's {n} {u1}, what's that in {u2}?", "12"),
    F("{n} degrees {u1c} - what is that in {u2c}?", "12")],
    {"direction": m_swap("u1", "u2", ok=_temp_ok),
     "number": m_num("n", [-30, -20, -10, 0, 5, 10, 15, 20, 25, 30, 37, 45, 60, 80, 100, 150, 180, 200, 250, 300, 350],
                     ok=lambda s, x: _temp_ok(dict(s, n=Num(x)))),
     "unit": lambda s, rng: m_pool("u2", TEMP_UNITS, ok=lambda s_, v: v.c != s["u1"].c)(s, rng)},
    lambda s, d: {"u1c": s["u1"].c, "u2c": s["u2"].c})
def _(r):
    while True:
        a = pk(r, TEMP_UNITS)
        s = {"u1": a, "u2": pk(r, TEMP_UNITS, [a]),
             "n": nm(r, r.choice([-30, -20, -10, 0, 5, 10, 15, 20, 25, 30, 37, 45, 60, 80, 100, 150, 180, 200, 250, 300, 350]))}
        if _temp_ok(s) and _temp_ok(dict(s, u1=s["u2"])):
            return s


ISOTOPES = ["A radioactive isotope", "Isotope X", "A radioactive tracer", "The isotope in the lab sample",
            "A newly discovered isotope", "Isotope Q-7"]
HL_UNITS = ["years", "days", "hours"]
SAMPLE_MASS = [V("grams", "g"), V("milligrams", "mg"), V("micrograms", "µg")]


def _sc4_number(s, rng):
    k = rng.choice(["h", "m", "t"])
    if k == "h":
        return m_num("h", range(2, 61), ok=lambda s_, x: x != s["t"]["n"])(s, rng)
    if k == "m":
        return m_num("m", range(10, 1001, 10), ratio=1.5)(s, rng)
    return m_num("t", [s["h"]["n"] * j for j in range(1, 7)])(s, rng)


@family("half_life#1", "science", [
    F("{iso} has a half-life of {h} {tu}. How much of a sample of {m} {mu} is left after {t} {tu}?"),
    F("A sample of {m} {mu} decays with a half-life of {h} {tu}. How much remains after {t} {tu}?"),
    F("half-life {h} {tu}, start with {m} {mu}, how much is left after {t} {tu}?", low=True),
    F("Given a half-life of {h} {tu}, what mass remains from {m} {mu} after {t} {tu}?"),
    F("If you start with {m} {mu} of a substance whose half-life is {h} {tu}, how much will remain after {t} {tu}?")],
    {"number": _sc4_number, "unit": m_pool("mu", SAMPLE_MASS)})
def _(r):
    h = r.randint(2, 40)
    return {"iso": r.choice(ISOTOPES), "h": nm(r, h), "tu": r.choice(HL_UNITS),
            "m": nm(r, r.randrange(20, 801, 20)), "mu": pk(r, SAMPLE_MASS), "t": nm(r, h * r.randint(2, 5))}


PRED_PREY = [("orcas", "seals"), ("owls", "mice"), ("lions", "zebras"), ("foxes", "rabbits"), ("wolves", "deer"),
             ("cheetahs", "gazelles"), ("crocodiles", "wildebeest"), ("polar bears", "seals"), ("frogs", "flies"),
             ("spiders", "flies"), ("bats", "mosquitoes"), ("ladybugs", "aphids"), ("starfish", "mussels"),
             ("herons", "frogs"), ("snakes", "frogs"), ("leopards", "baboons"), ("hawks", "snakes"),
             ("sharks", "sea turtles"), ("eagles", "fish"), ("cats", "birds")]
PP_SC = [V(""), V("all"), V("most"), V("some")]


def _sc5_derive(s, d):
    sc = d["sc"]
    return {"scp": f"{sc} {s['x']}".strip()}


@family("predator_prey#1", "science", [
    F("Do {scp} eat {y}?", "act"), F("Is it true that {scp} hunt and eat {y}?", "act"),
    F("{scp} eat {y}, right?", "act", low=True), F("Do {scp} prey on {y}?", "act"),
    F("Are {y} eaten by {scp}?", "pas"), F("Are {y} preyed on by {scp}?", "pas"),
    F("Do {y} get eaten by {scp}?", "pas")],
    {"role": m_swap("x", "y"), "scope": m_pool_via("sc", PP_SC, {"all"})}, _sc5_derive)
def _(r):
    x, y = r.choice(PRED_PREY)
    return {"x": x, "y": y, "sc": pk(r, PP_SC)}


ALT_UNITS = [V("meters", "metres", "m"), V("feet", "ft")]
TEMP2 = [V("Celsius", "°C", "degrees Celsius"), V("Fahrenheit", "°F", "degrees Fahrenheit")]


@family("boiling_altitude#1", "science", [
    F("At what temperature does water boil at {alt} {au} above sea level, in {tu}?"),
    F("What's the boiling point of water at an altitude of {alt} {au}, in {tu}?"),
    F("boiling point of water at {alt} {au} elevation in {tu}?", low=True),
    F("In {tu}, what temperature does water boil at when you're {alt} {au} above sea level?"),
    F("If I'm at {alt} {au} of altitude, at what temperature (in {tu}) will water boil?")],
    {"number": m_num("alt", range(500, 5501, 250), ratio=1.5),
     "unit": m_any(m_pool("au", ALT_UNITS), m_pool("tu", TEMP2))})
def _(r):
    return {"alt": nm(r, r.randrange(500, 5001, 250)), "au": pk(r, ALT_UNITS), "tu": pk(r, TEMP2)}


# ------------------------------------------------------- later additions ---

CAR_MODELS = [V("Toyota Corolla"), V("Honda Civic"), V("Ford Focus"), V("Volkswagen Golf", "VW Golf"),
              V("Hyundai Elantra"), V("Kia Rio"), V("Mazda3", "Mazda 3"), V("Subaru Outback"),
              V("Chevrolet Malibu", "Chevy Malibu"), V("Renault Clio"), V("Peugeot 208"), V("Suzuki Swift"),
              V("Nissan Altima"), V("Skoda Octavia"), V("Toyota Hilux"), V("Tata Nexon")]
CAR_WORD = [V("car", "automobile")]
CAR_PARTS = ["engine oil", "air filter", "brake fluid", "coolant", "cabin air filter", "spark plugs",
             "transmission fluid", "wiper blades"]


@family("vehicle_care#1", "questions", [
    F("I drive about {n} {du} a year in my {veh}, a {make}. How often should I change the {part}?"),
    F("How often should the {part} be changed on a {make} that's driven roughly {n} {du} per year?"),
    F("my {veh} is a {make} and i do around {n} {du} a year. how often do i need to change the {part}", low=True),
    F("{make} owner here, about {n} {du} a year. How frequently should I replace the {part}?"),
    F("What's the right interval for changing the {part} in my {veh} ({make}, roughly {n} {du} a year)?")],
    {"number": m_num("n", range(4000, 50001, 1000), ratio=2), "unit": m_pool("du", DIST_UNITS)})
def _(r):
    return {"n": nm(r, r.randrange(5000, 40001, 1000)), "du": pk(r, DIST_UNITS), "make": pk(r, CAR_MODELS),
            "veh": pk(r, CAR_WORD), "part": r.choice(CAR_PARTS)}


DOSE_RELS = [V("son", pr="he"), V("daughter", pr="she")]
DOSE_MEDS = [V("ibuprofen", "Advil"), V("paracetamol", "acetaminophen")]


def _dose_derive(s, d):
    return {"q": "I" if s["who"] == "me" else s["rel"]["pr"]}


def _dose_number(s, rng):
    if s["who"] == "me":
        return None
    age = s["age"]["n"]
    opts = [a for a in range(3, 12) if max(a, age) >= 1.8 * min(a, age)]
    if not opts:
        return None
    a = rng.choice(opts)
    s2 = dict(s)
    s2["age"] = like(Num(a), s["age"])
    s2["w1"] = Num(3 * a + 6 + rng.randint(-2, 2), False)
    return s2


@family("dose_person#1", "health", [
    F("My {rel} is {age} and weighs {w1} kg; I'm an adult and weigh {w2} kg. What's the maximum daily dose of {med} {q} can take?"),
    F("How much {med} can {q} take in a day? My {rel} is {age} years old and {w1} kg, and I'm an adult weighing {w2} kg."),
    F("max daily dose of {med} {q} can take? my {rel}: {age} yrs, {w1} kg. me: adult, {w2} kg", low=True),
    F("I weigh {w2} kg and my {rel} ({age} years old) weighs {w1} kg. What is the most {med} {q} should take in 24 hours?")],
    {"person": lambda s, rng: dict(s, who="rel" if s["who"] == "me" else "me"), "entity": m_pool("med", DOSE_MEDS),
     "number": _dose_number}, _dose_derive)
def _(r):
    age = r.randint(3, 11)
    return {"rel": pk(r, DOSE_RELS), "age": nm(r, age), "w1": Num(3 * age + 6 + r.randint(-2, 2), False),
            "w2": Num(r.randint(55, 105), False), "med": pk(r, DOSE_MEDS), "who": r.choice(["me", "rel"])}


# ================================================= paraphrase operations ===

CRIT = set("""not no never without except avoid don't doesn't isn't aren't won't can't cannot didn't
all some only each every none most least more less fewer increase decrease raise lower largest smallest
first last before after from into yesterday tomorrow ascending descending highest lowest larger smaller
faster slower heavier lighter bigger longer shorter taller stronger weaker above below under over greater
earliest latest oldest newest minus plus percent celsius fahrenheit kelvin either neither both exactly
longer still already anymore""".split())

GREET = ["Hi!", "Hello,", "Hey there.", "Good morning.", "Hi, hope you're well.", "Quick question.",
         "Hey, quick one:", "Hello! I have a question.", "Hi there, I need some help.", "Sorry to bother you.",
         "Hope you're having a good day.", "Hi again!", "Good evening!"]
THANKS = ["Thanks!", "Thank you.", "Thanks in advance!", "Much appreciated.", "Cheers.", "Thanks a lot.",
          "Any help is appreciated.", "Thank you so much!", "I appreciate it.", "Thanks for your help."]
CONTEXT = ["I was just curious about this.", "This came up in a conversation with a friend.",
           "I've been wondering about this for a while.", "I couldn't find a clear answer elsewhere.",
           "It's for something I'm working on.", "I tried searching but got confused.",
           "I'd like to get this right."]
FORMAL_PRE = ["Could you please assist me with the following?", "I would be grateful for your help with the following.",
              "Would you kindly help me with this request?", "Dear assistant, I would appreciate your help with the following.",
              "Good afternoon. I would like to ask the following."]
FORMAL_SUF = ["Thank you very much for your assistance.", "I appreciate your time.", "Many thanks in advance.",
              "Kind regards."]
CASUAL_PRE = ["hey ", "ok so ", "yo ", "hi, ", "quick q: ", "hmm ", "so "]

CONTR = [("do not", "don't"), ("does not", "doesn't"), ("did not", "didn't"), ("is not", "isn't"),
         ("are not", "aren't"), ("was not", "wasn't"), ("cannot", "can't"), ("will not", "won't"),
         ("should not", "shouldn't"), ("have not", "haven't"), ("has not", "hasn't"), ("what is", "what's"),
         ("it is", "it's"), ("that is", "that's"), ("I am", "I'm"), ("I would", "I'd"), ("we are", "we're"),
         ("they are", "they're"), ("you are", "you're"), ("let us", "let's"), ("how is", "how's"),
         ("there is", "there's"), ("I will", "I'll"), ("we will", "we'll"), ("she is", "she's"),
         ("he is", "he's"), ("who is", "who's"), ("where is", "where's"), ("I have been", "I've been"),
         ("we would", "we'd"), ("I have got", "I've got")]

WORD_SYN = [("How do I", "How can I"), ("Can you", "Could you"), ("suggest", "recommend"), ("photos", "pictures"),
            ("trip", "journey"), ("quickly", "fast"), ("begin", "start"), ("buy", "purchase"), ("car", "automobile"),
            ("Write", "Produce"), ("roughly", "approximately"),
            ("around", "approximately"), ("simplest", "easiest"), ("fix", "resolve"),
            ("Calculate", "Compute"), ("Find", "Determine"), ("tell me", "let me know"), ("need", "require"),
            ("Please", "Kindly"), ("options", "choices"), ("idea", "clue"), ("ways", "methods")]


def slot_words(s):
    out = set()
    for v in s.values():
        strs = v.alts if isinstance(v, V) else ([v] if isinstance(v, str) else [])
        for x in strs:
            for w in re.findall(r"[A-Za-z]+", x):
                out.add(w.lower())
    return out


KEYB = {c: n for c, n in zip("qwertyuiopasdfghjklzxcvbnm", "wqetryuiopsadfghjklkxcvbnmn")}


def do_typo(text, protect, rng):
    # never inside quoted text (what is to be translated/rewritten) or parentheses (schemas, formulas)
    quoted = [m.span() for m in re.finditer(r'"[^"]*"|\([^)]*\)', text)]
    cands = [m for m in re.finditer(r"[A-Za-z]+", text)
             if len(m.group()) >= 5 and m.group().islower() and m.group() not in CRIT
             and m.group() not in protect and not any(a <= m.start() < b for a, b in quoted)]
    if not cands:
        return None
    m = rng.choice(cands)
    w = m.group()
    i = rng.randrange(1, len(w) - 2)
    op = rng.randrange(4)
    if op == 0:
        w2 = w[:i] + w[i + 1] + w[i] + w[i + 2:]
    elif op == 1:
        w2 = w[:i] + w[i + 1:]
    elif op == 2:
        w2 = w[:i] + w[i] + w[i:]
    else:
        w2 = w[:i] + KEYB.get(w[i], w[i]) + w[i + 1:]
    if w2 == w:
        return None
    return text[:m.start()] + w2 + text[m.end():]


def do_filler(text, rng):
    k = rng.randrange(5)
    if k == 0:
        return f"{rng.choice(GREET)} {text}"
    if k == 1:
        return f"{text} {rng.choice(THANKS)}"
    if k == 2:
        return f"{rng.choice(GREET)} {text} {rng.choice(THANKS)}"
    if k == 3:
        return f"{rng.choice(CONTEXT)} {text}"
    return f"{rng.choice(GREET)} {rng.choice(CONTEXT)} {text}"


def casualize(text, rng):
    parts = re.split(r'("[^"]*")', text)
    out = []
    to_u = rng.random() < 0.5
    for p in parts:
        if len(p) >= 2 and p[0] == '"' and p[-1] == '"':
            out.append(p)
            continue
        q = p.lower()
        if to_u:
            q = re.sub(r"\byou\b", "u", q)
        q = re.sub(r"\bplease\b", "pls", q)
        q = re.sub(r"\bthanks\b", "thx", q)
        out.append(q)
    t = "".join(out).rstrip()
    t = re.sub(r"[.?!]+$", "", t)
    if rng.random() < 0.35:
        t = rng.choice(CASUAL_PRE) + t
    return t


def expand_contractions(text):
    for full, short in CONTR:
        text = re.sub(r"(?<![A-Za-z'])" + re.escape(short) + r"\b",
                      lambda m: (full if not m.group()[0].isupper() or full.startswith("I ") else cap(full)), text)
    return text


def formalize(text, rng):
    t = expand_contractions(text)
    if t[:1].islower():
        t = cap(t)
    t = f"{rng.choice(FORMAL_PRE)} {t}"
    if rng.random() < 0.4:
        t = f"{t} {rng.choice(FORMAL_SUF)}"
    return t


def do_contraction(text, rng):
    opts = []
    for full, short in CONTR:
        for m in re.finditer(r"\b" + re.escape(full) + r"\b", text, flags=re.I):
            opts.append((m.span(), short, m.group()))
        for m in re.finditer(r"(?<![A-Za-z'])" + re.escape(short) + r"\b", text, flags=re.I):
            opts.append((m.span(), full, m.group()))
    if not opts:
        return None
    (a, b), rep, orig = rng.choice(opts)
    if orig[0].isupper():
        rep = cap(rep)
    elif not rep.startswith("I"):
        rep = rep[0].lower() + rep[1:]
    return text[:a] + rep + text[b:]


def do_word_synonym(text, rng):
    opts = [(a, b) for a, b in WORD_SYN if re.search(r"\b" + re.escape(a) + r"\b", text)]
    opts += [(b, a) for a, b in WORD_SYN if re.search(r"\b" + re.escape(b) + r"\b", text)]
    if not opts:
        return None
    a, b = rng.choice(opts)
    return fix_articles(re.sub(r"\b" + re.escape(a) + r"\b", b, text, count=1))


# ========================================================= pair builders ===

def new_sample(fam, rng):
    return fam.sample(rng)


def pick_form(fam, s, rng, tag=None, exclude=None, also=None):
    cands = [i for i in fam.ok_forms(s) if (tag is None or fam.forms[i].tag == tag) and i != exclude
             and (also is None or i in fam.ok_forms(also))]
    return rng.choice(cands) if cands else None


def make_paraphrase(fam, why, rng):
    s = new_sample(fam, rng)
    i = pick_form(fam, s, rng)
    a = render(fam, s, i)
    tags = {fam.forms[j].tag for j in fam.ok_forms(s)}
    if why == "reword":
        j = pick_form(fam, s, rng, tag=fam.forms[i].tag, exclude=i)
        if j is None:
            return None
        b = render(fam, s, j)
    elif why == "reorder":
        if len(tags) < 2:
            return None
        other = [j for j in fam.ok_forms(s) if fam.forms[j].tag != fam.forms[i].tag]
        b = render(fam, s, rng.choice(other))
    elif why in ("typo", "filler", "formality", "contraction"):
        j = i if rng.random() < 0.7 else (pick_form(fam, s, rng, tag=fam.forms[i].tag, exclude=i) or i)
        base = render(fam, s, j)
        if why == "typo":
            b = do_typo(base, slot_words(s), rng)
        elif why == "filler":
            b = do_filler(base, rng)
        elif why == "formality":
            if rng.random() < 0.55:
                b = casualize(base, rng)
                if rng.random() < 0.3:
                    a = formalize(a, rng)
            else:
                b = formalize(base, rng)
        else:
            b = do_contraction(base, rng)
            if b is None:
                # try the other forms for one that contains a contractible phrase
                for j2 in fam.ok_forms(s):
                    a2 = render(fam, s, j2)
                    b2 = do_contraction(a2, rng)
                    if b2:
                        a, b = a2, b2
                        break
    elif why == "synonym":
        keys = [k for k, v in s.items() if isinstance(v, V) and len(v.alts) > 1]
        rng.shuffle(keys)
        b = None
        for k in keys:
            s2 = dict(s)
            v = s[k].clone()
            v.k = rng.choice([x for x in range(len(v.alts)) if x != s[k].k % len(v.alts)])
            s2[k] = v
            b2 = render(fam, s2, i)
            if b2 != a:
                b = b2
                break
        if b is None:
            b = do_word_synonym(a, rng)
    else:
        return None
    if not b or a == b:
        return None
    if why == "synonym" and expand_contractions(a) == expand_contractions(b):
        why = "contraction"          # the alternative differed only by a contraction
    return a, b, why


def make_near(fam, why, rng):
    s = new_sample(fam, rng)
    s2 = fam.muts[why](s, rng)
    if s2 is None:
        return None
    i = pick_form(fam, s, rng, also=s2)
    if i is None:
        return None
    j = i
    if rng.random() < 0.5:
        j2 = pick_form(fam, s2, rng, tag=fam.forms[i].tag, exclude=i, also=s)
        if j2 is not None:
            j = j2
    a, b = render(fam, s, i), render(fam, s2, j)
    if a == b:
        return None
    x = rng.random()
    if x < 0.10:
        a, b = casualize(a, rng), casualize(b, rng)
    elif x < 0.16:
        b = do_filler(b, rng)
    elif x < 0.20:
        t = do_typo(b, slot_words(s) | slot_words(s2), rng)
        b = t or b
    if a.lower() == b.lower():
        return None
    return a, b


# families close enough in topic that a pair across them is not "unrelated"
RELATED = [{"order_change#1", "cancel_scope#1"}, {"city_distance#1", "timezone_flight#1"},
           {"convert_units#1", "temperature_convert#1"}, {"translate_pronoun#1", "translate_svo#1"},
           {"sql_order_count#1", "sql_never_ordered#1"}, {"bmi_two_people#1", "dose_person#1"},
           {"lang_learning#1", "translate_doc_direction#1"}, {"percent_change#1", "percent_ratio#1"},
           {"trip_planning#1", "packing_list#1"}]


def related(a, b):
    return any(a in grp and b in grp for grp in RELATED)


def make_unrelated(fam, rng, fams):
    same_split = [g for g in fams if g.split == fam.split and g.name != fam.name and not related(g.name, fam.name)]
    same_dom = [g for g in same_split if g.domain == fam.domain]
    g = rng.choice(same_dom) if (same_dom and rng.random() < 0.4) else rng.choice(same_split)
    s, t = new_sample(fam, rng), new_sample(g, rng)
    return render(fam, s, pick_form(fam, s, rng)), render(g, t, pick_form(g, t, rng))


# ================================================================== main ===

def generate(seed=SEED, total=TARGET_TOTAL):
    rng = random.Random(seed)
    fams = FAMS
    nf = len(fams)
    quotas = {}
    for idx, f in enumerate(fams):
        t = total // nf + (1 if idx < total % nf else 0)
        p = round(t * SHARE["paraphrase"])
        u = round(t * SHARE["unrelated"])
        quotas[f.name] = {"paraphrase": p, "near_miss": t - p - u, "unrelated": u}
    done = {f.name: {"paraphrase": 0, "near_miss": 0, "unrelated": 0} for f in fams}
    near_count = {}          # (split, why) -> n
    local = {}               # (family, why) -> n
    para_count = {}
    seen = set()
    out = []
    active = list(fams)
    while active:
        nxt = []
        for f in active:
            q, d = quotas[f.name], done[f.name]
            left = {k: q[k] - d[k] for k in q if q[k] > d[k]}
            if not left:
                continue
            kind = max(left, key=lambda k: (left[k] / max(1, q[k]), k))
            rec = None
            for _attempt in range(80):
                if kind == "near_miss":
                    whys = sorted(f.muts, key=lambda w: (near_count.get((f.split, w), 0)
                                                         + 3 * local.get((f.name, w), 0) + rng.random() * 4))
                    why = whys[0] if _attempt < 40 else rng.choice(whys)
                    pair = make_near(f, why, rng)
                elif kind == "paraphrase":
                    ws = list(PARA_WHYS)
                    wts = [PARA_WHYS[w] for w in ws]
                    if len({fm.tag for fm in f.forms}) > 1:       # family has argument-order variants
                        wts[ws.index("reorder")] = 0.30
                    why = rng.choices(ws, weights=wts)[0]
                    pair = make_paraphrase(f, why, rng)
                    if pair:
                        pair, why = pair[:2], pair[2]
                else:
                    why = "unrelated"
                    pair = make_unrelated(f, rng, fams)
                if not pair:
                    continue
                a, b = pair
                if rng.random() < 0.5:
                    a, b = b, a
                key = tuple(sorted((a, b)))
                if a == b or key in seen:
                    continue
                seen.add(key)
                rec = {"a": a, "b": b, "hit": kind == "paraphrase", "kind": kind, "why": why,
                       "domain": f.domain, "family": f.name, "split": f.split}
                break
            if rec is None:
                print(f"warning: {f.name}: could not make a {kind}; dropping one from its quota", file=sys.stderr)
                q[kind] -= 1
            else:
                out.append(rec)
                d[kind] += 1
                if kind == "near_miss":
                    near_count[(f.split, rec["why"])] = near_count.get((f.split, rec["why"]), 0) + 1
                    local[(f.name, rec["why"])] = local.get((f.name, rec["why"]), 0) + 1
                elif kind == "paraphrase":
                    para_count[rec["why"]] = para_count.get(rec["why"], 0) + 1
            nxt.append(f)
        active = nxt
    return out


def main():
    names = [f.name for f in FAMS]
    assert len(names) == len(set(names)), "duplicate family names"
    for rec in generate():
        sys.stdout.write(json.dumps(rec, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
