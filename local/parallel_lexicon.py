"""The bilingual lexicon of the synthetic parallel corpus (see ``parallel_grammar``).

Every entry gives its English form and, per source language (``de es fr it``), the
forms the grammar needs: nouns their gender (``m f n``) and singular / plural, verbs
their present tense for 1sg / 3sg / 1pl / 3pl, adjectives their inflection stem or
forms, fixed phrases (times, places) their whole text. Lower case, as spoken.

Subjects are people (no adjectives); objects are things (an optional adjective), so no
language needs a personal ``a`` (Spanish) or animate-object rules.
"""

from typing import Dict, Tuple

LANGS = ("de", "es", "fr", "it")
LANG_NAMES = {
    "en": "English",
    "de": "German",
    "es": "Spanish",
    "fr": "French",
    "it": "Italian",
}

# English (singular, plural); per language (gender, singular, plural).
Noun = Tuple[Tuple[str, str], Dict[str, Tuple[str, str, str]]]

PEOPLE: Dict[str, Noun] = {
    "man": (("man", "men"), {
        "de": ("m", "mann", "männer"), "es": ("m", "hombre", "hombres"),
        "fr": ("m", "homme", "hommes"), "it": ("m", "uomo", "uomini")}),
    "woman": (("woman", "women"), {
        "de": ("f", "frau", "frauen"), "es": ("f", "mujer", "mujeres"),
        "fr": ("f", "femme", "femmes"), "it": ("f", "donna", "donne")}),
    "child": (("child", "children"), {
        "de": ("n", "kind", "kinder"), "es": ("m", "niño", "niños"),
        "fr": ("m", "enfant", "enfants"), "it": ("m", "bambino", "bambini")}),
    "girl": (("girl", "girls"), {
        "de": ("n", "mädchen", "mädchen"), "es": ("f", "niña", "niñas"),
        "fr": ("f", "fille", "filles"), "it": ("f", "ragazza", "ragazze")}),
    "boy": (("boy", "boys"), {
        "de": ("m", "junge", "jungen"), "es": ("m", "chico", "chicos"),
        "fr": ("m", "garçon", "garçons"), "it": ("m", "ragazzo", "ragazzi")}),
    "teacher": (("teacher", "teachers"), {
        "de": ("m", "lehrer", "lehrer"), "es": ("m", "profesor", "profesores"),
        "fr": ("m", "professeur", "professeurs"), "it": ("m", "maestro", "maestri")}),
    "doctor": (("doctor", "doctors"), {
        "de": ("m", "arzt", "ärzte"), "es": ("m", "médico", "médicos"),
        "fr": ("m", "médecin", "médecins"), "it": ("m", "medico", "medici")}),
    "student": (("student", "students"), {
        "de": ("m", "student", "studenten"), "es": ("m", "estudiante", "estudiantes"),
        "fr": ("m", "étudiant", "étudiants"), "it": ("m", "studente", "studenti")}),
    "farmer": (("farmer", "farmers"), {
        "de": ("m", "bauer", "bauern"), "es": ("m", "granjero", "granjeros"),
        "fr": ("m", "fermier", "fermiers"), "it": ("m", "contadino", "contadini")}),
    "sister": (("sister", "sisters"), {
        "de": ("f", "schwester", "schwestern"), "es": ("f", "hermana", "hermanas"),
        "fr": ("f", "sœur", "sœurs"), "it": ("f", "sorella", "sorelle")}),
    "cook": (("cook", "cooks"), {
        "de": ("m", "koch", "köche"), "es": ("m", "cocinero", "cocineros"),
        "fr": ("m", "cuisinier", "cuisiniers"), "it": ("m", "cuoco", "cuochi")}),
}

THINGS: Dict[str, Noun] = {
    "apple": (("apple", "apples"), {
        "de": ("m", "apfel", "äpfel"), "es": ("f", "manzana", "manzanas"),
        "fr": ("f", "pomme", "pommes"), "it": ("f", "mela", "mele")}),
    "book": (("book", "books"), {
        "de": ("n", "buch", "bücher"), "es": ("m", "libro", "libros"),
        "fr": ("m", "livre", "livres"), "it": ("m", "libro", "libri")}),
    "car": (("car", "cars"), {
        "de": ("n", "auto", "autos"), "es": ("m", "coche", "coches"),
        "fr": ("f", "voiture", "voitures"), "it": ("f", "macchina", "macchine")}),
    "house": (("house", "houses"), {
        "de": ("n", "haus", "häuser"), "es": ("f", "casa", "casas"),
        "fr": ("f", "maison", "maisons"), "it": ("f", "casa", "case")}),
    "letter": (("letter", "letters"), {
        "de": ("m", "brief", "briefe"), "es": ("f", "carta", "cartas"),
        "fr": ("f", "lettre", "lettres"), "it": ("f", "lettera", "lettere")}),
    "table": (("table", "tables"), {
        "de": ("m", "tisch", "tische"), "es": ("f", "mesa", "mesas"),
        "fr": ("f", "table", "tables"), "it": ("m", "tavolo", "tavoli")}),
    "chair": (("chair", "chairs"), {
        "de": ("m", "stuhl", "stühle"), "es": ("f", "silla", "sillas"),
        "fr": ("f", "chaise", "chaises"), "it": ("f", "sedia", "sedie")}),
    "flower": (("flower", "flowers"), {
        "de": ("f", "blume", "blumen"), "es": ("f", "flor", "flores"),
        "fr": ("f", "fleur", "fleurs"), "it": ("m", "fiore", "fiori")}),
    "shirt": (("shirt", "shirts"), {
        "de": ("n", "hemd", "hemden"), "es": ("f", "camisa", "camisas"),
        "fr": ("f", "chemise", "chemises"), "it": ("f", "camicia", "camicie")}),
    "key": (("key", "keys"), {
        "de": ("m", "schlüssel", "schlüssel"), "es": ("f", "llave", "llaves"),
        "fr": ("f", "clé", "clés"), "it": ("f", "chiave", "chiavi")}),
    "box": (("box", "boxes"), {
        "de": ("f", "kiste", "kisten"), "es": ("f", "caja", "cajas"),
        "fr": ("f", "boîte", "boîtes"), "it": ("f", "scatola", "scatole")}),
    "cup": (("cup", "cups"), {
        "de": ("f", "tasse", "tassen"), "es": ("f", "taza", "tazas"),
        "fr": ("f", "tasse", "tasses"), "it": ("f", "tazza", "tazze")}),
    "hat": (("hat", "hats"), {
        "de": ("m", "hut", "hüte"), "es": ("m", "sombrero", "sombreros"),
        "fr": ("m", "chapeau", "chapeaux"), "it": ("m", "cappello", "cappelli")}),
    "bag": (("bag", "bags"), {
        "de": ("f", "tasche", "taschen"), "es": ("m", "bolso", "bolsos"),
        "fr": ("m", "sac", "sacs"), "it": ("f", "borsa", "borse")}),
    "mirror": (("mirror", "mirrors"), {
        "de": ("m", "spiegel", "spiegel"), "es": ("m", "espejo", "espejos"),
        "fr": ("m", "miroir", "miroirs"), "it": ("m", "specchio", "specchi")}),
    "umbrella": (("umbrella", "umbrellas"), {
        "de": ("m", "regenschirm", "regenschirme"), "es": ("m", "paraguas", "paraguas"),
        "fr": ("m", "parapluie", "parapluies"), "it": ("m", "ombrello", "ombrelli")}),
    "bicycle": (("bicycle", "bicycles"), {
        "de": ("n", "fahrrad", "fahrräder"), "es": ("f", "bicicleta", "bicicletas"),
        "fr": ("m", "vélo", "vélos"), "it": ("f", "bicicletta", "biciclette")}),
}

# Adjectives. German: the stem (endings by case/gender/article). es/it: masculine
# singular, feminine singular, masculine plural, feminine plural. fr: the same four
# plus its position: "post" (after the noun, colours) or "pre" (grand, petit).
ADJECTIVES: Dict[str, Dict[str, Tuple[str, ...]]] = {
    "red": {"de": ("rot",), "es": ("rojo", "roja", "rojos", "rojas"),
            "fr": ("rouge", "rouge", "rouges", "rouges", "post"),
            "it": ("rosso", "rossa", "rossi", "rosse")},
    "green": {"de": ("grün",), "es": ("verde", "verde", "verdes", "verdes"),
              "fr": ("vert", "verte", "verts", "vertes", "post"),
              "it": ("verde", "verde", "verdi", "verdi")},
    "black": {"de": ("schwarz",), "es": ("negro", "negra", "negros", "negras"),
              "fr": ("noir", "noire", "noirs", "noires", "post"),
              "it": ("nero", "nera", "neri", "nere")},
    "white": {"de": ("weiß",), "es": ("blanco", "blanca", "blancos", "blancas"),
              "fr": ("blanc", "blanche", "blancs", "blanches", "post"),
              "it": ("bianco", "bianca", "bianchi", "bianche")},
    "blue": {"de": ("blau",), "es": ("azul", "azul", "azules", "azules"),
             "fr": ("bleu", "bleue", "bleus", "bleues", "post"),
             "it": ("blu", "blu", "blu", "blu")},
    "yellow": {"de": ("gelb",), "es": ("amarillo", "amarilla", "amarillos", "amarillas"),
               "fr": ("jaune", "jaune", "jaunes", "jaunes", "post"),
               "it": ("giallo", "gialla", "gialli", "gialle")},
    "new": {"de": ("neu",), "es": ("nuevo", "nueva", "nuevos", "nuevas"),
            "fr": ("neuf", "neuve", "neufs", "neuves", "post"),
            "it": ("nuovo", "nuova", "nuovi", "nuove")},
    "big": {"de": ("groß",), "es": ("grande", "grande", "grandes", "grandes"),
            "fr": ("grand", "grande", "grands", "grandes", "pre"),
            "it": ("grande", "grande", "grandi", "grandi")},
    "small": {"de": ("klein",), "es": ("pequeño", "pequeña", "pequeños", "pequeñas"),
              "fr": ("petit", "petite", "petits", "petites", "pre"),
              "it": ("piccolo", "piccola", "piccoli", "piccole")},
}

# English (base, 3sg); per language (1sg, 3sg, 1pl, 3pl).
VERBS: Dict[str, Tuple[Tuple[str, str], Dict[str, Tuple[str, str, str, str]]]] = {
    "see": (("see", "sees"), {
        "de": ("sehe", "sieht", "sehen", "sehen"), "es": ("veo", "ve", "vemos", "ven"),
        "fr": ("vois", "voit", "voyons", "voient"),
        "it": ("vedo", "vede", "vediamo", "vedono")}),
    "buy": (("buy", "buys"), {
        "de": ("kaufe", "kauft", "kaufen", "kaufen"),
        "es": ("compro", "compra", "compramos", "compran"),
        "fr": ("achète", "achète", "achetons", "achètent"),
        "it": ("compro", "compra", "compriamo", "comprano")}),
    "find": (("find", "finds"), {
        "de": ("finde", "findet", "finden", "finden"),
        "es": ("encuentro", "encuentra", "encontramos", "encuentran"),
        "fr": ("trouve", "trouve", "trouvons", "trouvent"),
        "it": ("trovo", "trova", "troviamo", "trovano")}),
    "carry": (("carry", "carries"), {
        "de": ("trage", "trägt", "tragen", "tragen"),
        "es": ("llevo", "lleva", "llevamos", "llevan"),
        "fr": ("porte", "porte", "portons", "portent"),
        "it": ("porto", "porta", "portiamo", "portano")}),
    "sell": (("sell", "sells"), {
        "de": ("verkaufe", "verkauft", "verkaufen", "verkaufen"),
        "es": ("vendo", "vende", "vendemos", "venden"),
        "fr": ("vends", "vend", "vendons", "vendent"),
        "it": ("vendo", "vende", "vendiamo", "vendono")}),
    "paint": (("paint", "paints"), {
        "de": ("male", "malt", "malen", "malen"),
        "es": ("pinto", "pinta", "pintamos", "pintan"),
        "fr": ("peins", "peint", "peignons", "peignent"),
        "it": ("dipingo", "dipinge", "dipingiamo", "dipingono")}),
    "clean": (("clean", "cleans"), {
        "de": ("putze", "putzt", "putzen", "putzen"),
        "es": ("limpio", "limpia", "limpiamos", "limpian"),
        "fr": ("nettoie", "nettoie", "nettoyons", "nettoient"),
        "it": ("pulisco", "pulisce", "puliamo", "puliscono")}),
    "have": (("have", "has"), {
        "de": ("habe", "hat", "haben", "haben"),
        "es": ("tengo", "tiene", "tenemos", "tienen"),
        "fr": ("ai", "a", "avons", "ont"),
        "it": ("ho", "ha", "abbiamo", "hanno")}),
}

# Subject pronouns: English, person key (1sg 3sg 1pl 3pl), per language.
PRONOUNS: Dict[str, Tuple[str, str, Dict[str, str]]] = {
    "i": ("i", "1sg", {"de": "ich", "es": "yo", "fr": "je", "it": "io"}),
    "he": ("he", "3sg", {"de": "er", "es": "él", "fr": "il", "it": "lui"}),
    "she": ("she", "3sg", {"de": "sie", "es": "ella", "fr": "elle", "it": "lei"}),
    "we": ("we", "1pl", {"de": "wir", "es": "nosotros", "fr": "nous", "it": "noi"}),
    "they": ("they", "3pl", {"de": "sie", "es": "ellos", "fr": "ils", "it": "loro"}),
}

NUMBERS: Dict[int, Dict[str, str]] = {
    2: {"en": "two", "de": "zwei", "es": "dos", "fr": "deux", "it": "due"},
    3: {"en": "three", "de": "drei", "es": "tres", "fr": "trois", "it": "tre"},
    4: {"en": "four", "de": "vier", "es": "cuatro", "fr": "quatre", "it": "quattro"},
}

# Sentence-initial time adverbials (German then puts the verb second).
TIMES: Dict[str, Dict[str, str]] = {
    "today": {"en": "today", "de": "heute", "es": "hoy", "fr": "aujourd'hui",
              "it": "oggi"},
    "now": {"en": "now", "de": "jetzt", "es": "ahora", "fr": "maintenant",
            "it": "adesso"},
    "every_day": {"en": "every day", "de": "jeden tag", "es": "cada día",
                  "fr": "chaque jour", "it": "ogni giorno"},
    "morning": {"en": "in the morning", "de": "am morgen", "es": "por la mañana",
                "fr": "le matin", "it": "la mattina"},
    "evening": {"en": "in the evening", "de": "am abend", "es": "por la tarde",
                "fr": "le soir", "it": "la sera"},
    "sunday": {"en": "on sunday", "de": "am sonntag", "es": "el domingo",
               "fr": "le dimanche", "it": "la domenica"},
}

# Sentence-final places.
PLACES: Dict[str, Dict[str, str]] = {
    "park": {"en": "in the park", "de": "im park", "es": "en el parque",
             "fr": "dans le parc", "it": "nel parco"},
    "market": {"en": "at the market", "de": "auf dem markt", "es": "en el mercado",
               "fr": "au marché", "it": "al mercato"},
    "city": {"en": "in the city", "de": "in der stadt", "es": "en la ciudad",
             "fr": "en ville", "it": "in città"},
    "home": {"en": "at home", "de": "zu hause", "es": "en casa",
             "fr": "à la maison", "it": "a casa"},
    "garden": {"en": "in the garden", "de": "im garten", "es": "en el jardín",
               "fr": "dans le jardin", "it": "nel giardino"},
    "school": {"en": "at school", "de": "in der schule", "es": "en la escuela",
               "fr": "à l'école", "it": "a scuola"},
}
