import random

import pytest

from parallel_grammar import (
    NounPhrase,
    Sentence,
    render,
    sample_unique,
    split_sets,
    translations,
)
from parallel_lexicon import ADJECTIVES, LANGS, PEOPLE, THINGS, VERBS

NP = NounPhrase

# Hand-checked translations: agreement, case, word order, elision, article rules.
KNOWN = [
    (
        Sentence(NP("man"), "buy", NP("apple", "indef", adj="red"), time="today", place="park"),
        {
            "en": "today the man buys a red apple in the park",
            "de": "heute kauft der mann einen roten apfel im park",
            "es": "hoy el hombre compra una manzana roja en el parque",
            "fr": "aujourd'hui l'homme achète une pomme rouge dans le parc",
            "it": "oggi l'uomo compra una mela rossa nel parco",
        },
    ),
    (
        Sentence("i", "have", NP("mirror", "def", adj="big")),
        {
            "en": "i have the big mirror",
            "de": "ich habe den großen spiegel",
            "es": "yo tengo el espejo grande",
            "fr": "j'ai le grand miroir",
            "it": "io ho lo specchio grande",
        },
    ),
    (
        Sentence(NP("student", "def", plural=True), "see", NP("umbrella", "num", True, 3, "white")),
        {
            "en": "the students see three white umbrellas",
            "de": "die studenten sehen drei weiße regenschirme",
            "es": "los estudiantes ven tres paraguas blancos",
            "fr": "les étudiants voient trois parapluies blancs",
            "it": "gli studenti vedono tre ombrelli bianchi",
        },
    ),
    (
        Sentence(NP("girl", "indef"), "paint", NP("house", "def", adj="small"), place="city"),
        {
            "en": "a girl paints the small house in the city",
            "de": "ein mädchen malt das kleine haus in der stadt",
            "es": "una niña pinta la casa pequeña en la ciudad",
            "fr": "une fille peint la petite maison en ville",
            "it": "una ragazza dipinge la casa piccola in città",
        },
    ),
    (
        Sentence("we", "sell", NP("book", "indef", adj="new"), time="every_day"),
        {
            "en": "every day we sell a new book",
            "de": "jeden tag verkaufen wir ein neues buch",
            "es": "cada día nosotros vendemos un libro nuevo",
            "fr": "chaque jour nous vendons un livre neuf",
            "it": "ogni giorno noi vendiamo un libro nuovo",
        },
    ),
    (
        Sentence(NP("student", "indef"), "clean", NP("umbrella", "indef"), place="school"),
        {
            "en": "a student cleans an umbrella at school",
            "de": "ein student putzt einen regenschirm in der schule",
            "es": "un estudiante limpia un paraguas en la escuela",
            "fr": "un étudiant nettoie un parapluie à l'école",
            "it": "uno studente pulisce un ombrello a scuola",
        },
    ),
    (
        Sentence(NP("child", "def"), "find", NP("box", "def", True, adj="blue"), time="evening"),
        {
            "en": "in the evening the child finds the blue boxes",
            "de": "am abend findet das kind die blauen kisten",
            "es": "por la tarde el niño encuentra las cajas azules",
            "fr": "le soir l'enfant trouve les boîtes bleues",
            "it": "la sera il bambino trova le scatole blu",
        },
    ),
    (
        Sentence("they", "carry", NP("bag", "num", True, 2, "green")),
        {
            "en": "they carry two green bags",
            "de": "sie tragen zwei grüne taschen",
            "es": "ellos llevan dos bolsos verdes",
            "fr": "ils portent deux sacs verts",
            "it": "loro portano due borse verdi",
        },
    ),
    (
        Sentence(NP("man", "def", plural=True), "have", NP("shirt", "indef", adj="yellow")),
        {
            "en": "the men have a yellow shirt",
            "de": "die männer haben ein gelbes hemd",
            "es": "los hombres tienen una camisa amarilla",
            "fr": "les hommes ont une chemise jaune",
            "it": "gli uomini hanno una camicia gialla",
        },
    ),
]


@pytest.mark.parametrize("sentence,expected", KNOWN)
@pytest.mark.parametrize("lang", ["en", *LANGS])
def test_known_translations_word_by_word(sentence, expected, lang):
    assert render(sentence, lang).split() == expected[lang].split()


def test_translations_covers_every_language():
    assert set(translations(KNOWN[0][0])) == {"en", *LANGS}


def test_every_word_form_renders_in_every_language():
    """Every noun / verb / adjective in every slot renders without a gap."""
    for lang in ("en", *LANGS):
        for noun in THINGS:
            for adj in ADJECTIVES:
                for det, pl, n in [("def", False, 0), ("indef", False, 0), ("def", True, 0), ("num", True, 4)]:
                    out = render(Sentence("he", "see", NP(noun, det, pl, n, adj)), lang)
                    assert "None" not in out and "  " not in out, out
        for person in PEOPLE:
            for verb in VERBS:
                out = render(Sentence(NP(person, "def", True), verb, NP("book")), lang)
                assert len(out.split()) >= 5, out


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(noun="dragon"), "unknown noun"),
        (dict(noun="book", det="some"), "det must be"),
        (dict(noun="book", det="num", plural=True, count=9), "count in"),
        (dict(noun="book", det="indef", plural=True), "no indefinite plural"),
        (dict(noun="book", adj="purple"), "unknown adjective"),
    ],
)
def test_bad_noun_phrase(kwargs, match):
    with pytest.raises(ValueError, match=match):
        NounPhrase(**kwargs)


def test_unknown_language():
    with pytest.raises(ValueError, match="unknown language 'nl'"):
        render(KNOWN[0][0], "nl")


def test_sampling_is_seeded_unique_and_varied():
    a = sample_unique(3600, seed=0)
    assert a == sample_unique(3600, seed=0)
    assert a != sample_unique(3600, seed=1)
    english = [render(s, "en") for s in a]
    assert len(set(english)) == 3600
    # Enough variety that every lexicon entry and construction is trained.
    words = {w for e in english for w in e.split()}
    assert {"men", "an", "every", "four", "yellow", "carries"} <= words
    sets = split_sets(a, {"test": 100, "dev": 200, "train": 3300})
    assert not {render(s, "en") for s in sets["test"]} & {render(s, "en") for s in sets["train"]}
    with pytest.raises(ValueError, match="asked for 3601"):
        split_sets(a, {"train": 3601})
