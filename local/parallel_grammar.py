"""A small synchronous grammar: one derivation -> aligned English, de, es, fr, it.

No permissive parallel corpus installs from a package registry (Debian has the KJV and
a Spanish Bible only), so the ST and multilingual recipes generate their text::

    sentence := [TIME] SUBJECT VERB OBJECT [PLACE]
    SUBJECT  := pronoun | DET person            (def sg, indef sg, def pl, 2-4 pl)
    OBJECT   := DET [ADJ] thing

Each language renders the same ``Sentence`` with its own rules: gender and number
agreement of articles and adjectives, German accusative adjective declension and
verb-second order after a fronted time, adjective position (after the noun in es / fr
colours / it, before it in English, German and French ``grand``/``petit``), French
and Italian elision (``l'homme``, ``j'ai``), Italian ``lo``/``gli``/``uno`` before
s+consonant and z, English ``a``/``an``. Text is lower case without punctuation.

Limits: present tense, declaratives, one adjective, subjects are people and objects
are things; times and places are fixed phrases (their internal contractions are
written out in the lexicon, not derived).
"""

import random
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Union

# A sibling in local/ (a script's own folder is on sys.path; pytest.ini adds it for tests).
from parallel_lexicon import (
    ADJECTIVES,
    LANGS,
    NUMBERS,
    PEOPLE,
    PLACES,
    PRONOUNS,
    THINGS,
    TIMES,
    VERBS,
)

DETS = ("def", "indef", "num")
_PERSON = {"1sg": 0, "3sg": 1, "1pl": 2, "3pl": 3}


@dataclass(frozen=True)
class NounPhrase:
    """A noun with its determiner: ``def`` / ``indef`` (singular or, for def, plural)
    or ``num`` (``count`` 2-4, plural)."""

    noun: str
    det: str = "def"
    plural: bool = False
    count: int = 0
    adj: Optional[str] = None

    def __post_init__(self):
        if self.noun not in PEOPLE and self.noun not in THINGS:
            raise ValueError(f"unknown noun {self.noun!r}")
        if self.det not in DETS:
            raise ValueError(f"det must be one of {DETS}, got {self.det!r}")
        if self.det == "num" and (self.count not in NUMBERS or not self.plural):
            raise ValueError(f"det 'num' needs plural=True and count in {list(NUMBERS)}")
        if self.det == "indef" and self.plural:
            raise ValueError("no indefinite plural: use det='num'")
        if self.adj is not None and self.adj not in ADJECTIVES:
            raise ValueError(f"unknown adjective {self.adj!r}")


@dataclass(frozen=True)
class Sentence:
    """One derivation. ``subject`` is a pronoun key (``i he she we they``) or a
    person noun phrase; ``obj`` a thing noun phrase."""

    subject: Union[str, NounPhrase]
    verb: str
    obj: NounPhrase
    time: Optional[str] = None
    place: Optional[str] = None

    @property
    def person(self) -> str:
        if isinstance(self.subject, str):
            return PRONOUNS[self.subject][1]
        return "3pl" if self.subject.plural else "3sg"


def _starts_with_vowel(word: str) -> bool:
    # NOTE(espeak_st): every h-word of the lexicon (fr "homme") has a mute h.
    return word[:1] in "aeiouyàâéèêîôûœh"


def _join_elided(words: List[str]) -> str:
    """``["l'", "homme"]`` -> ``"l'homme"``: a word ending in ``'`` joins the next."""
    out = ""
    for w in words:
        out += w if out.endswith("'") or not out else " " + w
    return out


# ---------------------------------------------------------------- English
def _np_en(np_: NounPhrase) -> List[str]:
    sg, pl = (PEOPLE.get(np_.noun) or THINGS[np_.noun])[0]
    words = ([np_.adj] if np_.adj else []) + [pl if np_.plural else sg]
    if np_.det == "def":
        return ["the"] + words
    if np_.det == "num":
        return [NUMBERS[np_.count]["en"]] + words
    return ["an" if words[0][:1] in "aeiou" else "a"] + words  # "a house", "an apple"


def _render_en(s: Sentence) -> List[str]:
    subj = [PRONOUNS[s.subject][0]] if isinstance(s.subject, str) else _np_en(s.subject)
    base, third = VERBS[s.verb][0]
    verb = third if s.person == "3sg" else base
    words = subj + [verb] + _np_en(s.obj)
    return ([TIMES[s.time]["en"]] if s.time else []) + words + (
        [PLACES[s.place]["en"]] if s.place else []
    )


# ---------------------------------------------------------------- German
_DE_DEF = {"nom": {"m": "der", "f": "die", "n": "das"}, "acc": {"m": "den", "f": "die", "n": "das"}}
_DE_INDEF = {"nom": {"m": "ein", "f": "eine", "n": "ein"}, "acc": {"m": "einen", "f": "eine", "n": "ein"}}
# Accusative adjective endings: weak after der-words, mixed after ein-words, strong
# after a bare number.
_DE_ADJ_ACC = {"def": {"m": "en", "f": "e", "n": "e", "pl": "en"},
               "indef": {"m": "en", "f": "e", "n": "es"},
               "num": {"pl": "e"}}


def _np_de(np_: NounPhrase, case: str) -> List[str]:
    gender, sg, pl = (PEOPLE.get(np_.noun) or THINGS[np_.noun])[1]["de"]
    if np_.det == "def":
        det = "die" if np_.plural else _DE_DEF[case][gender]
    elif np_.det == "indef":
        det = _DE_INDEF[case][gender]
    else:
        det = NUMBERS[np_.count]["de"]
    words = [det]
    if np_.adj:
        if case != "acc":
            raise ValueError("the grammar has adjectives on objects (accusative) only")
        slot = "pl" if np_.plural else gender
        words.append(ADJECTIVES[np_.adj]["de"][0] + _DE_ADJ_ACC[np_.det][slot])
    return words + [pl if np_.plural else sg]


def _render_de(s: Sentence) -> List[str]:
    if isinstance(s.subject, str):
        subj = [PRONOUNS[s.subject][2]["de"]]
    else:
        subj = _np_de(s.subject, "nom")
    verb = [VERBS[s.verb][1]["de"][_PERSON[s.person]]]
    rest = _np_de(s.obj, "acc") + ([PLACES[s.place]["de"]] if s.place else [])
    if s.time:  # verb second: the fronted time pushes the subject after the verb
        return [TIMES[s.time]["de"]] + verb + subj + rest
    return subj + verb + rest


# ---------------------------------------------------------------- Romance
def _adj_form(adj: str, lang: str, gender: str, plural: bool) -> str:
    forms = ADJECTIVES[adj][lang]
    return forms[(2 if plural else 0) + (gender == "f")]


def _np_es(np_: NounPhrase) -> List[str]:
    gender, sg, pl = (PEOPLE.get(np_.noun) or THINGS[np_.noun])[1]["es"]
    if np_.det == "def":
        det = {("m", False): "el", ("f", False): "la", ("m", True): "los",
               ("f", True): "las"}[gender, np_.plural]
    elif np_.det == "indef":
        det = "un" if gender == "m" else "una"
    else:
        det = NUMBERS[np_.count]["es"]
    words = [det, pl if np_.plural else sg]
    if np_.adj:
        words.append(_adj_form(np_.adj, "es", gender, np_.plural))
    return words


def _np_fr(np_: NounPhrase) -> List[str]:
    gender, sg, pl = (PEOPLE.get(np_.noun) or THINGS[np_.noun])[1]["fr"]
    noun = pl if np_.plural else sg
    pre, post = [], []
    if np_.adj:
        form = _adj_form(np_.adj, "fr", gender, np_.plural)
        (pre if ADJECTIVES[np_.adj]["fr"][4] == "pre" else post).append(form)
    after = (pre + [noun])[0]  # the word the article stands before
    if np_.det == "def":
        if np_.plural:
            det = "les"
        elif _starts_with_vowel(after):
            det = "l'"
        else:
            det = "le" if gender == "m" else "la"
    elif np_.det == "indef":
        det = "un" if gender == "m" else "une"
    else:
        det = NUMBERS[np_.count]["fr"]
    return [det] + pre + [noun] + post


def _it_lo_context(word: str) -> bool:
    """Italian s+consonant, z, gn, ps, x, y take lo / gli / uno."""
    return (
        (word[:1] == "s" and word[1:2] not in "aeiou")
        or word[:1] in "zxy"
        or word[:2] in ("gn", "ps")
    )


def _np_it(np_: NounPhrase) -> List[str]:
    gender, sg, pl = (PEOPLE.get(np_.noun) or THINGS[np_.noun])[1]["it"]
    noun = pl if np_.plural else sg
    vowel = _starts_with_vowel(noun) and noun[:1] != "h"
    if np_.det == "def":
        if gender == "f":
            det = "le" if np_.plural else ("l'" if vowel else "la")
        elif np_.plural:
            det = "gli" if vowel or _it_lo_context(noun) else "i"
        else:
            det = "l'" if vowel else ("lo" if _it_lo_context(noun) else "il")
    elif np_.det == "indef":
        if gender == "f":
            det = "un'" if vowel else "una"
        else:
            det = "uno" if _it_lo_context(noun) else "un"
    else:
        det = NUMBERS[np_.count]["it"]
    words = [det, noun]
    if np_.adj:
        words.append(_adj_form(np_.adj, "it", gender, np_.plural))
    return words


_ROMANCE_NP = {"es": _np_es, "fr": _np_fr, "it": _np_it}


def _render_romance(s: Sentence, lang: str) -> List[str]:
    np_fn = _ROMANCE_NP[lang]
    if isinstance(s.subject, str):
        subj = [PRONOUNS[s.subject][2][lang]]
    else:
        subj = np_fn(s.subject)
    verb = VERBS[s.verb][1][lang][_PERSON[s.person]]
    if lang == "fr" and subj == ["je"] and _starts_with_vowel(verb):
        subj = ["j'"]
    words = subj + [verb] + np_fn(s.obj)
    return ([TIMES[s.time][lang]] if s.time else []) + words + (
        [PLACES[s.place][lang]] if s.place else []
    )


def render(s: Sentence, lang: str) -> str:
    """The sentence in ``lang`` (``en`` or one of ``LANGS``), lower case."""
    if lang == "en":
        words = _render_en(s)
    elif lang == "de":
        words = _render_de(s)
    elif lang in _ROMANCE_NP:
        words = _render_romance(s, lang)
    else:
        raise ValueError(f"unknown language {lang!r}; choose en or one of {LANGS}")
    return _join_elided(words)


# ---------------------------------------------------------------- sampling
def _sample_np(rng: random.Random, nouns: Sequence[str], adj_prob: float) -> NounPhrase:
    det, plural = rng.choice([("def", False), ("indef", False), ("def", True), ("num", True)])
    return NounPhrase(
        noun=rng.choice(nouns),
        det=det,
        plural=plural,
        count=rng.choice(sorted(NUMBERS)) if det == "num" else 0,
        adj=rng.choice(sorted(ADJECTIVES)) if rng.random() < adj_prob else None,
    )


def sample_sentence(rng: random.Random) -> Sentence:
    """One random derivation (pronoun subject 25%, adjective 60%, time 40%, place 50%)."""
    if rng.random() < 0.25:
        subject: Union[str, NounPhrase] = rng.choice(sorted(PRONOUNS))
    else:
        subject = _sample_np(rng, sorted(PEOPLE), adj_prob=0.0)
    return Sentence(
        subject=subject,
        verb=rng.choice(sorted(VERBS)),
        obj=_sample_np(rng, sorted(THINGS), adj_prob=0.6),
        time=rng.choice(sorted(TIMES)) if rng.random() < 0.4 else None,
        place=rng.choice(sorted(PLACES)) if rng.random() < 0.5 else None,
    )


def sample_unique(n: int, seed: int, max_tries: int = 100) -> List[Sentence]:
    """``n`` derivations with distinct English renderings, in sampling order."""
    rng = random.Random(seed)
    seen: Dict[str, Sentence] = {}
    tries = 0
    while len(seen) < n:
        s = sample_sentence(rng)
        key = render(s, "en")
        if key in seen:
            tries += 1
            if tries > max_tries * n:
                raise ValueError(f"cannot draw {n} distinct sentences")
            continue
        seen[key] = s
    return list(seen.values())


def translations(s: Sentence, langs: Sequence[str] = LANGS) -> Dict[str, str]:
    """``{"en": ..., lang: ...}`` for one derivation."""
    return {lang: render(s, lang) for lang in ("en", *langs)}


def split_sets(
    sentences: Sequence[Sentence], sizes: Dict[str, int]
) -> Dict[str, List[Sentence]]:
    """Consecutive slices of ``sizes`` (no derivation is in two sets)."""
    need = sum(sizes.values())
    if need > len(sentences):
        raise ValueError(f"asked for {need} sentences ({sizes}), have {len(sentences)}")
    out: Dict[str, List[Sentence]] = {}
    start = 0
    for name, size in sizes.items():
        out[name] = list(sentences[start : start + size])
        start += size
    return out


