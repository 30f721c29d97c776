#!/usr/bin/env python3
"""Generate seqkit's bundled English->French corpus (``data/en-fr/``) from a small bilingual grammar.

Every sentence pair is built twice from one meaning: an English and a French realisation of the same
subject, verb, tense, polarity, objects and modifiers. The French side applies the rules a learner must
pick up: gender and number agreement of articles, adjectives, possessives and past participles;
present, passé composé (avoir/être), futur and imparfait; ``ne ... pas`` / ``ne ... jamais`` with
``pas de``; questions with ``est-ce que`` (noun subjects) or inversion (pronoun subjects, with ``-t-``);
numbers written out with ``et un(e)``, ``soixante-dix`` and ``quatre-vingts``; object pronouns placed
before the verb; contractions (``au``, ``du``, ``des``) and elision (``l'``, ``d'``, ``n'``, ``qu'``).

English may say one meaning in several ways (``does not``/``doesn't``, ``ate``/``has eaten``,
``eats``/``is eating``); French always gets one canonical form, so every English sentence has exactly
one reference. Pairs are unique on both sides and the splits share no sentence.

Usage: ``python data/make_en_fr.py [--out data/en-fr] [--seed 13] [--train 22000]``. The output is
byte-identical for the same seed (Python's ``random.Random`` is stable across versions).
"""

from __future__ import annotations

import argparse
import random
from dataclasses import dataclass, field
from pathlib import Path

VOWELS = tuple("aeiouyéèêëàâîïôûœh")


def starts_with_vowel(word: str) -> bool:
    # numerals "huit" and "onze" take no elision: "que onze", "de huit"
    return word.lower().startswith(VOWELS) and not word.lower().startswith(("huit", "onze"))


# ---------------------------------------------------------------------------------------------------
# Lexicon
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Noun:
    en: str
    en_pl: str
    fr: str
    fr_pl: str
    gender: str  # "m" | "f"
    kind: str  # person | animal | food | mass | thing | place
    tags: frozenset = field(default_factory=frozenset)

    @property
    def mass(self) -> bool:
        return self.kind == "mass"


def N(spec: str, kind: str, tags: str = "") -> Noun:
    """``"boy garçon m"`` or ``"man/men homme m"`` or ``"horse cheval/chevaux m"``; ``_`` is a space."""
    en, fr, gender = spec.split()
    en, en_pl = en.split("/") if "/" in en else (en, en + ("es" if en.endswith(("s", "sh", "ch", "x")) else "s"))
    fr, fr_pl = fr.split("/") if "/" in fr else (fr, fr if fr.endswith(("s", "x", "z")) else fr + "s")
    fix = lambda w: w.replace("_", " ")  # noqa: E731
    return Noun(fix(en), fix(en_pl), fix(fr), fix(fr_pl), gender, kind, frozenset(tags.split()))


PEOPLE = [N(s, "person") for s in [
    "boy garçon m", "girl fille f", "man/men homme m", "woman/women femme f", "child/children enfant m",
    "teacher professeur m", "student étudiant m", "doctor médecin m", "friend ami m", "brother frère m",
    "sister sœur f", "mother mère f", "father père m", "neighbour voisin m", "cook cuisinier m",
    "king roi m", "queen reine f", "baker boulanger m", "farmer fermier m", "actor acteur m",
    "actress/actresses actrice f", "uncle oncle m", "aunt tante f", "grandmother grand-mère/grands-mères f",
    "grandfather grand-père/grands-pères m", "son fils m", "soldier soldat m", "painter peintre m",
    "writer écrivain m", "nurse infirmière f", "lawyer avocat m", "waiter serveur m",
    "waitress/waitresses serveuse f", "singer chanteur m", "baby/babies bébé m", "pupil élève m",
]]
ANIMALS = [N(s, "animal") for s in [
    "cat chat m", "dog chien m", "horse cheval/chevaux m", "bird oiseau/oiseaux m", "cow vache f",
    "mouse/mice souris f", "rabbit lapin m", "duck canard m", "pig cochon m", "lion lion m",
    "elephant éléphant m", "bear ours m", "fox/foxes renard m", "wolf/wolves loup m", "goat chèvre f",
    "hen poule f", "frog grenouille f", "snake serpent m", "monkey singe m", "owl chouette f",
]]
FOODS = [N(s, "food", "dish" if s.split()[0] in {"cake", "pie", "sandwich/sandwiches", "meal"} else "")
         for s in [
    "apple pomme f", "cake gâteau/gâteaux m", "egg œuf m", "orange orange f", "banana banane f",
    "pear poire f", "strawberry/strawberries fraise f", "tomato/tomatoes tomate f", "carrot carotte f",
    "sandwich/sandwiches sandwich/sandwichs m", "pie tarte f", "lemon citron m", "meal repas m",
    "biscuit biscuit m", "peach/peaches pêche f",
]]
MASS = [N(s, "mass", t) for s, t in [
    ("bread pain m", "food"), ("cheese fromage m", "food"), ("soup soupe f", "food dish"),
    ("salad salade f", "food dish"), ("rice riz m", "food dish"), ("meat viande f", "food"),
    ("butter beurre m", "food"), ("chocolate chocolat m", "food"), ("jam confiture f", "food"),
    ("water eau f", "drink"), ("milk lait m", "drink"), ("coffee café m", "drink"), ("tea thé m", "drink"),
    ("juice jus m", "drink"), ("wine vin m", "drink"), ("lemonade limonade f", "drink"),
]]
THINGS = [N(s, "thing", t) for s, t in [
    ("book livre m", "small read open gift"), ("letter lettre f", "small read write open gift"),
    ("table table f", "fix clean paint surface"), ("chair chaise f", "fix paint surface clean"),
    ("door porte f", "open fix paint clean"), ("window fenêtre f", "open clean fix"),
    ("car voiture f", "fix wash clean vehicle"), ("bicycle vélo m", "fix wash vehicle"),
    ("key clé f", "small"), ("box/boxes boîte f", "small open"), ("bag sac m", "small open"),
    ("hat chapeau/chapeaux m", "small gift"), ("dress/dresses robe f", "wash gift"),
    ("shirt chemise f", "wash gift"), ("ball ballon m", "small gift"), ("newspaper journal/journaux m", "read small"),
    ("pen stylo m", "small gift"), ("computer ordinateur m", "fix"), ("phone téléphone m", "small fix"),
    ("cup tasse f", "small wash"), ("glass/glasses verre m", "small wash"), ("plate assiette f", "wash"),
    ("bottle bouteille f", "small open"), ("umbrella parapluie m", "small"), ("watch/watches montre f", "small gift fix"),
    ("clock horloge f", "fix"), ("lamp lampe f", "fix"), ("bed lit m", "surface"),
    ("photo photo f", ""), ("gift cadeau/cadeaux m", "small gift open"), ("map carte f", "read small"),
    ("ticket billet m", "small"), ("coat manteau/manteaux m", "wash"), ("toy jouet m", "small gift"),
    ("flower fleur f", "gift"), ("tree arbre m", "surface"), ("song chanson f", "write music"),
    ("story/stories histoire f", "read write"), ("boat bateau/bateaux m", "paint vehicle"),
    ("train train m", "vehicle"), ("bus/buses bus m", "vehicle"), ("plane avion m", "vehicle"),
    ("wall mur m", "paint clean"), ("painting tableau/tableaux m", "gift"),
    ("bridge pont m", "surface"), ("radio radio f", "music fix"), ("piano piano m", "music"),
]]
PLACES = [N(s, "place", t) for s, t in [
    ("house maison f", "visit clean paint"), ("garden jardin m", ""), ("school école f", "go"),
    ("park parc m", "go"), ("market marché m", "go"), ("city/cities ville f", "visit go"),
    ("village village m", "visit go"), ("forest forêt f", "go"), ("beach/beaches plage f", "go"),
    ("kitchen cuisine f", "clean"), ("room chambre f", "clean"), ("church/churches église f", "visit go"),
    ("station gare f", "go"), ("museum musée m", "visit go"), ("library/libraries bibliothèque f", "go"),
    ("hospital hôpital/hôpitaux m", "go"), ("restaurant restaurant m", "go"), ("hotel hôtel m", "go"),
    ("office bureau/bureaux m", "go clean"), ("river rivière f", ""), ("lake lac m", ""),
    ("mountain montagne f", "visit"), ("castle château/châteaux m", "visit go"), ("street rue f", "clean"),
    ("shop magasin m", "go"), ("farm ferme f", "visit go"), ("bank banque f", "go"),
    ("island île f", "visit"), ("field champ m", ""), ("cinema cinéma m", "go"),
]]
NOUNS = PEOPLE + ANIMALS + FOODS + MASS + THINGS + PLACES


@dataclass(frozen=True)
class Adj:
    en: str
    forms: tuple  # (ms, fs, mp, fp)
    pre: bool  # placed before the noun in French
    kinds: frozenset
    alt: str | None = None  # masculine singular before a vowel: bel, vieil, nouvel

    def fr(self, gender: str, plural: bool) -> str:
        return self.forms[(2 if plural else 0) + (1 if gender == "f" else 0)]


def A(en: str, ms: str, kinds: str, fs: str | None = None, mp: str | None = None, fp: str | None = None,
      pre: bool = False, alt: str | None = None) -> Adj:
    fs = fs or (ms if ms.endswith("e") else ms + "e")
    mp = mp or (ms if ms.endswith(("s", "x")) else ms + "s")
    fp = fp or fs + "s"
    return Adj(en, (ms, fs, mp, fp), pre, frozenset(kinds.split()), alt)


ADJECTIVES = [
    # before the noun
    A("small", "petit", "person animal thing place food", pre=True),
    A("big", "grand", "person animal thing place", pre=True),
    A("beautiful", "beau", "person animal thing place", "belle", "beaux", pre=True, alt="bel"),
    A("old", "vieux", "person animal thing place", "vieille", "vieux", pre=True, alt="vieil"),
    A("new", "nouveau", "person thing place", "nouvelle", "nouveaux", pre=True, alt="nouvel"),
    A("young", "jeune", "person animal", pre=True), A("good", "bon", "food mass person", "bonne", pre=True),
    A("bad", "mauvais", "food mass", pre=True), A("pretty", "joli", "thing place animal person", pre=True),
    A("long", "long", "thing", "longue", pre=True),
    # after the noun
    A("red", "rouge", "thing food"), A("blue", "bleu", "thing"), A("green", "vert", "thing food"),
    A("black", "noir", "thing animal"), A("white", "blanc", "thing animal", "blanche"),
    A("yellow", "jaune", "thing food"), A("grey", "gris", "thing animal", "grise"),
    A("happy", "heureux", "person animal", "heureuse", "heureux"), A("sad", "triste", "person animal"),
    A("tired", "fatigué", "person animal"), A("angry", "fâché", "person"), A("rich", "riche", "person"),
    A("poor", "pauvre", "person"), A("clever", "intelligent", "person animal"), A("funny", "drôle", "person"),
    A("kind", "gentil", "person animal", "gentille"), A("lazy", "paresseux", "person animal", "paresseuse", "paresseux"),
    A("clean", "propre", "thing place"), A("dirty", "sale", "thing place animal"),
    A("hot", "chaud", "mass"), A("cold", "froid", "mass"), A("heavy", "lourd", "thing"),
    A("light", "léger", "thing", "légère"), A("expensive", "cher", "thing food", "chère"),
    A("round", "rond", "thing"), A("empty", "vide", "thing"), A("broken", "cassé", "thing"),
    A("strong", "fort", "person animal"), A("fast", "rapide", "animal thing"), A("slow", "lent", "animal thing"),
    A("quiet", "calme", "person animal place"), A("noisy", "bruyant", "place person"),
    A("delicious", "délicieux", "food mass", "délicieuse", "délicieux"),
    A("fresh", "frais", "food mass", "fraîche", "frais"), A("famous", "célèbre", "person place thing"),
    A("sweet", "sucré", "food mass"), A("wet", "mouillé", "animal thing"), A("sick", "malade", "person animal"),
]


@dataclass(frozen=True)
class Verb:
    en: tuple  # (base, third singular, past, past participle, -ing), particle included ("look for")
    fr_pres: tuple  # je tu il nous vous ils
    fr_fut: str  # future stem
    fr_imp: str  # imparfait stem
    fr_pp: str
    aux: str  # "avoir" | "être"
    objects: frozenset  # noun kinds/tags taken as direct object; empty = intransitive
    subjects: frozenset = frozenset({"person"})
    progressive: bool = True  # English may say "is eating"; stative verbs may not
    motion: str = ""  # "to" | "from" | "" : which prepositional phrase fits


def en_forms(spec: str) -> tuple:
    """``"eat ate eaten eating"`` (+ optional 3sg) with a particle after ``+``: ``"look+for looked ..."``."""
    parts = spec.split()
    base, particle = (parts[0].split("+") + [""])[:2]
    past, pp, ing = parts[1:4]
    s3 = parts[4] if len(parts) > 4 else (
        base[:-1] + "ies" if base.endswith("y") and base[-2] not in "aeiou"
        else base + ("es" if base.endswith(("s", "sh", "ch", "x", "o")) else "s"))
    suffix = f" {particle}" if particle else ""
    return tuple(w + suffix for w in (base, s3, past, pp, ing))


def fr_er(inf: str) -> tuple:
    """Present forms, future stem, imparfait stem and participle of a regular -er verb."""
    stem = inf[:-2]
    nous = stem + ("eons" if stem.endswith("g") else "ons")
    pres = (stem + "e", stem + "es", stem + "e", nous, stem + "ez", stem + "ent")
    return pres, inf, nous[:-3], stem + "é"


def V(en: str, fr: str, objects: str = "", subjects: str = "person", aux: str = "avoir",
      progressive: bool = True, motion: str = "") -> Verb:
    """``fr`` is an -er infinitive, or ``"pres1 ... pres6 | fut | imp | pp"`` for an irregular verb."""
    if "|" in fr:
        pres, fut, imp, pp = (p.strip() for p in fr.split("|"))
        pres = tuple(pres.split())
    else:
        pres, fut, imp, pp = fr_er(fr)
    return Verb(en_forms(en), tuple(pres), fut, imp, pp, aux, frozenset(objects.split()),
                frozenset(subjects.split()), progressive, motion)


TRANSITIVE = [
    V("eat ate eaten eating", "manger", "food solid", "person animal"),
    V("drink drank drunk drinking", "bois bois boit buvons buvez boivent | boir | buv | bu", "drink", "person animal"),
    V("see saw seen seeing", "vois vois voit voyons voyez voient | verr | voy | vu",
      "person animal thing place", "person animal", progressive=False),
    V("watch watched watched watching", "regarder", "person animal vehicle", "person animal"),
    V("like liked liked liking", "aimer", "person animal food solid drink thing place", progressive=False),
    V("love loved loved loving", "adorer", "person animal food solid drink place", progressive=False),
    V("buy bought bought buying", "achète achètes achète achetons achetez achètent | achèter | achet | acheté",
      "food solid drink thing"),
    V("sell sold sold selling", "vends vends vend vendons vendez vendent | vendr | vend | vendu", "food solid thing"),
    V("find found found finding", "trouver", "small animal"),
    V("look+for looked looked looking", "chercher", "small person animal", "person animal"),
    V("read read read reading", "lis lis lit lisons lisez lisent | lir | lis | lu", "read"),
    V("write wrote written writing", "écris écris écrit écrivons écrivez écrivent | écrir | écriv | écrit", "write"),
    V("open opened opened opening", "ouvre ouvres ouvre ouvrons ouvrez ouvrent | ouvrir | ouvr | ouvert", "open"),
    V("close closed closed closing", "fermer", "open"),
    V("take took taken taking", "prends prends prend prenons prenez prennent | prendr | pren | pris",
      "small vehicle"),
    V("have had had having has", "ai as a avons avez ont | aur | av | eu", "person animal small",
      "person animal", progressive=False),
    V("want wanted wanted wanting", "veux veux veut voulons voulez veulent | voudr | voul | voulu",
      "food solid drink thing", "person animal", progressive=False),
    V("know knew known knowing", "connais connais connaît connaissons connaissez connaissent | connaîtr | connaiss | connu",
      "person place", progressive=False),
    V("help helped helped helping", "aider", "person"),
    V("call called called calling", "appelle appelles appelle appelons appelez appellent | appeller | appel | appelé",
      "person animal"),
    V("wait+for waited waited waiting", "attends attends attend attendons attendez attendent | attendr | attend | attendu",
      "person vehicle"),
    V("hear heard heard hearing", "entends entends entend entendons entendez entendent | entendr | entend | entendu",
      "person animal music", "person animal", progressive=False),
    V("listen+to listened listened listening", "écouter", "person music"),
    V("clean cleaned cleaned cleaning", "nettoie nettoies nettoie nettoyons nettoyez nettoient | nettoier | nettoy | nettoyé",
      "clean"),
    V("paint painted painted painting", "peins peins peint peignons peignez peignent | peindr | peign | peint", "paint"),
    V("carry carried carried carrying", "porter", "small"),
    V("prepare prepared prepared preparing", "préparer", "dish"),
    V("visit visited visited visiting", "visiter", "visit"),
    V("forget forgot forgotten forgetting", "oublier", "small", progressive=False),
    V("lose lost lost losing", "perds perds perd perdons perdez perdent | perdr | perd | perdu", "small"),
    V("draw drew drawn drawing", "dessiner", "person animal thing"),
    V("wash washed washed washing", "laver", "wash"),
    V("repair repaired repaired repairing", "réparer", "fix"),
    V("follow followed followed following", "suis suis suit suivons suivez suivent | suivr | suiv | suivi",
      "person animal", "person animal"),
    V("meet met met meeting", "rencontrer", "person"),
    V("finish finished finished finishing", "finis finis finit finissons finissez finissent | finir | finiss | fini",
      "dish read"),
    V("choose chose chosen choosing", "choisis choisis choisit choisissons choisissez choisissent | choisir | choisiss | choisi",
      "small food solid"),
    V("receive received received receiving", "reçois reçois reçoit recevons recevez reçoivent | recevr | recev | reçu",
      "gift"),
    V("send sent sent sending", "envoie envoies envoie envoyons envoyez envoient | enverr | envoy | envoyé", "gift"),
]
INTRANSITIVE = [
    V("sleep slept slept sleeping", "dors dors dort dormons dormez dorment | dormir | dorm | dormi",
      subjects="person animal"),
    V("run ran run running", "cours cours court courons courez courent | courr | cour | couru", subjects="person animal"),
    V("walk walked walked walking", "marcher", subjects="person animal"),
    V("sing sang sung singing", "chanter", subjects="person"),
    V("dance danced danced dancing", "danser"), V("work worked worked working", "travailler"),
    V("play played played playing", "jouer", subjects="person animal"),
    V("swim swam swum swimming", "nager", subjects="person animal"),
    V("laugh laughed laughed laughing", "ris ris rit rions riez rient | rir | ri | ri"),
    V("cry cried cried crying", "pleurer"),
    V("arrive arrived arrived arriving", "arriver", aux="être", motion="to", subjects="person animal"),
    V("leave left left leaving", "pars pars part partons partez partent | partir | part | parti", aux="être",
      motion="from"),
    V("come came come coming", "viens viens vient venons venez viennent | viendr | ven | venu", aux="être",
      motion="from", subjects="person animal"),
    V("go went gone going goes", "vais vas va allons allez vont | ir | all | allé", aux="être", motion="to",
      subjects="person animal"),
    V("return returned returned returning", "rentrer", aux="être", motion="to"),
    V("fall fell fallen falling", "tomber", aux="être", subjects="person animal"),
    V("stay stayed stayed staying", "rester", aux="être", subjects="person animal"),
]
LIKING = ("aime", "adore")
DEFINITE = ("def", "poss", "dem")
IMPERATIVE_VERBS = [v for v in TRANSITIVE + INTRANSITIVE
                    if v.en[0] not in {"have", "want", "know", "see", "like", "love", "hear", "receive", "lose",
                                       "forget", "arrive", "fall", "return", "cry", "laugh", "leave"}]
ETRE = V("be was been being is", "suis es est sommes êtes sont | ser | ét | été", progressive=False)
AVOIR = TRANSITIVE[15]
FUT_END = ("ai", "as", "a", "ons", "ez", "ont")
IMP_END = ("ais", "ais", "ait", "ions", "iez", "aient")

# English -> French avoir idioms: "is hungry" -> "a faim"
AVOIR_IDIOMS = [("hungry", "faim"), ("thirsty", "soif"), ("cold", "froid"), ("hot", "chaud"),
                ("afraid", "peur"), ("sleepy", "sommeil"), ("right", "raison"), ("wrong", "tort")]

EN_UNITS = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
            "fifteen sixteen seventeen eighteen nineteen").split()
EN_TENS = {20: "twenty", 30: "thirty", 40: "forty", 50: "fifty", 60: "sixty", 70: "seventy", 80: "eighty",
           90: "ninety"}
FR_UNITS = ("zéro un deux trois quatre cinq six sept huit neuf dix onze douze treize quatorze quinze seize "
            "dix-sept dix-huit dix-neuf").split()
FR_TENS = {20: "vingt", 30: "trente", 40: "quarante", 50: "cinquante", 60: "soixante"}


def en_number(n: int) -> str:
    if n < 20:
        return EN_UNITS[n]
    if n == 100:
        return "a hundred"
    tens, unit = n // 10 * 10, n % 10
    return EN_TENS[tens] + (f"-{EN_UNITS[unit]}" if unit else "")


def fr_number(n: int, feminine: bool = False) -> str:
    """1..100 in words, traditional spelling: vingt et un, soixante et onze, quatre-vingts, quatre-vingt-un."""
    if n < 20:
        word = FR_UNITS[n]
    elif n < 70:
        tens, unit = n // 10 * 10, n % 10
        word = FR_TENS[tens] + ("" if unit == 0 else " et un" if unit == 1 else f"-{FR_UNITS[unit]}")
    elif n < 80:
        word = "soixante et onze" if n == 71 else f"soixante-{FR_UNITS[n - 60]}"
    elif n < 100:
        word = "quatre-vingts" if n == 80 else f"quatre-vingt-{FR_UNITS[n - 80]}"
    else:
        word = "cent"
    if feminine and (word == "un" or word.endswith((" un", "-un"))):
        word += "e"
    return word


# Time expressions per tense: (English, French). "{n}" takes a number of days.
TIMES = {
    "present": [("today", "aujourd'hui"), ("every day", "tous les jours"), ("every morning", "tous les matins"),
                ("in the evening", "le soir"), ("on Sundays", "le dimanche")],
    "past": [("yesterday", "hier"), ("last week", "la semaine dernière"), ("last year", "l'année dernière"),
             ("this morning", "ce matin"), ("last night", "hier soir"), ("on Monday", "lundi"),
             ("on Saturday", "samedi"), ("{n} days ago", "il y a {n} jours")],
    "future": [("tomorrow", "demain"), ("next week", "la semaine prochaine"), ("next year", "l'année prochaine"),
               ("tonight", "ce soir"), ("soon", "bientôt"), ("on Friday", "vendredi"), ("in {n} days", "dans {n} jours")],
    "imperfect": [("every summer", "chaque été"), ("every day", "tous les jours"), ("at that time", "à cette époque")],
}

# ---------------------------------------------------------------------------------------------------
# Phrases: a phrase is a pair of token lists (English, French) plus agreement features
# ---------------------------------------------------------------------------------------------------


@dataclass
class Subject:
    en: list
    fr: list
    person: int  # 0..5: je tu il nous vous ils
    gender: str
    pronoun: str | None  # the French subject pronoun when it is one ("il"), else None
    en_kind: str  # "I" | "you" | "3s" | "pl"
    kind: str = "person"  # noun kind of the subject, for choosing predicates


PRONOUNS = [  # English, French, person, gender, English agreement
    ("I", "je", 0, "m", "I"), ("you", "vous", 4, "m", "you"), ("he", "il", 2, "m", "3s"),
    ("she", "elle", 2, "f", "3s"), ("we", "nous", 3, "m", "pl"), ("they", "ils", 5, "m", "pl"),
]
OBJ_PRONOUNS = [  # English, French clitic, gender, plural
    ("me", "me", "m", False), ("him", "le", "m", False), ("her", "la", "f", False), ("us", "nous", "m", True),
    ("you", "vous", "m", True), ("them", "les", "m", True),
]
POSSESSIVES = [  # English, (ms, fs, pl) French
    ("my", ("mon", "ma", "mes")), ("your", ("votre", "votre", "vos")), ("his", ("son", "sa", "ses")),
    ("her", ("son", "sa", "ses")), ("our", ("notre", "notre", "nos")), ("their", ("leur", "leur", "leurs")),
]


class Grammar:
    """Draws meanings at random and realises them in both languages."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    # -- helpers ------------------------------------------------------------------------------------
    def pick(self, seq):
        return self.rng.choice(seq)

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def nouns(self, want: frozenset) -> list:
        return [n for n in NOUNS if n.kind in want or n.tags & want or ("solid" in want and n.mass
                                                                          and "food" in n.tags)]

    def number(self) -> int:
        if self.chance(0.75):
            return self.rng.randint(2, 12)
        return self.rng.randint(13, 100)

    # -- noun phrases -------------------------------------------------------------------------------
    def noun_phrase(self, noun: Noun, det: str | None = None, plural: bool | None = None,
                    adj: bool | None = None, negated: bool = False, generic: bool = False):
        """Return (English tokens, French tokens, plural). ``det``: def, indef, num, poss, dem.

        ``negated``: the phrase is the object of a negated verb (``pas de``); ``generic``: the object of
        a verb of liking, where French uses the definite article for a class (``il aime les pommes``)."""
        if det is None:
            choices = ["def", "def", "indef", "poss", "dem"] + ([] if noun.mass else ["num"])
            det = self.pick(choices)
        if noun.mass:
            plural = False
        elif generic and det == "indef":
            plural = True
        elif plural is None:
            plural = det == "num" or self.chance(0.35)
        adjective = None
        if adj is None:
            adj = self.chance(0.3)
        if adj:
            kind = "food" if noun.kind == "mass" and "food" in noun.tags else noun.kind
            fits = [a for a in ADJECTIVES if kind in a.kinds or noun.kind in a.kinds]
            adjective = self.pick(fits) if fits else None
        fr_noun = noun.fr_pl if plural else noun.fr
        en_noun = noun.en_pl if plural else noun.en
        g = noun.gender
        # French core: [pre-adj] noun [post-adj]
        core = [fr_noun]
        if adjective is not None:
            form = adjective.fr(g, plural)
            if adjective.pre:
                if adjective.alt and g == "m" and not plural and starts_with_vowel(fr_noun):
                    form = adjective.alt
                core = [form, fr_noun]
            else:
                core = [fr_noun, form]
        en_core = ([adjective.en] if adjective else []) + [en_noun]
        first = core[0]
        if det == "def":
            en = ["the"] + en_core
            fr = ["les" if plural else ("le" if g == "m" else "la")] + core
        elif det == "indef":
            if negated and not generic:
                en_det = ["any"] if (plural or noun.mass) and self.chance(0.5) else (
                    [] if plural or noun.mass else [self.article(en_core[0])])
                return en_det + en_core, ["de"] + core, plural
            if plural or noun.mass:
                en = (["some"] if self.chance(0.3) else []) + en_core
                if generic:  # "he likes apples" -> "il aime les pommes"
                    en = en_core
                    fr = ["les" if plural else ("le" if g == "m" else "la")] + core
                elif noun.mass:  # partitive: "de le pain" -> "du pain", "de la eau" -> "de l'eau"
                    fr = ["de", "le" if g == "m" else "la"] + core
                else:
                    fr = (["de"] if adjective is not None and adjective.pre else ["des"]) + core
            else:
                en = [self.article(en_core[0])] + en_core
                fr = ["un" if g == "m" else "une"] + core
        elif det == "num":
            n = self.number()
            en = [en_number(n)] + en_core
            fr = [fr_number(n, g == "f")] + core
        elif det == "poss":
            en_poss, forms = self.pick(POSSESSIVES)
            fr_det = forms[2] if plural else forms[0] if g == "m" or starts_with_vowel(first) else forms[1]
            en, fr = [en_poss] + en_core, [fr_det] + core
        else:  # demonstrative
            en = ["these" if plural else "this"] + en_core
            fr_det = "ces" if plural else "cette" if g == "f" else "cet" if starts_with_vowel(first) else "ce"
            fr = [fr_det] + core
        return en, fr, plural

    @staticmethod
    def article(word: str) -> str:
        return "an" if word[0] in "aeiou" else "a"

    def subject(self, kinds: frozenset, pronoun_p: float = 0.4,
                dets: tuple = ("def", "def", "indef", "poss", "dem", "num"), adj: bool | None = None) -> Subject:
        if self.chance(pronoun_p):
            en, fr, person, gender, en_kind = self.pick(PRONOUNS)
            return Subject([en], [fr], person, gender, fr, en_kind)
        noun = self.pick([n for n in NOUNS if n.kind in kinds])
        en, fr, plural = self.noun_phrase(noun, det=self.pick(dets), adj=adj)
        if fr[0] in ("des", "de") and en[0] != "some":  # "some children" play; bare plurals are generic
            en = ["some"] + en
        return Subject(en, fr, 5 if plural else 2, noun.gender, None, "pl" if plural else "3s", noun.kind)

    def place_phrase(self, kind: str = "loc", verb: Verb | None = None):
        """A prepositional phrase: location ("in the garden"), destination ("to the market"), origin."""
        if kind == "loc" and self.chance(0.25):
            noun = self.pick([n for n in NOUNS if "surface" in n.tags])
            preps = [("under", "sous"), ("near", "près de")] + ([("on", "sur")] if noun.en != "tree" else [])
            en_p, fr_p = self.pick(preps)
        else:
            noun = self.pick(PLACES)
            if kind == "to":
                en_p, fr_p = ("at" if verb is not None and verb.en[0] == "arrive" else "to", "à")
            elif kind == "from":
                en_p, fr_p = ("from", "de")
            else:
                en_p, fr_p = self.pick([("in", "dans"), ("near", "près de"), ("behind", "derrière"),
                                        ("in front of", "devant"), ("next to", "à côté de")])
        en, fr, _ = self.noun_phrase(noun, det=self.pick(["def", "def", "def", "poss", "dem", "indef"]),
                                     plural=False if kind != "loc" else None, adj=self.chance(0.15))
        return en_p.split() + en, fr_p.split() + fr

    # -- verbs ----------------------------------------------------------------------------------------
    @staticmethod
    def fr_finite(verb: Verb, tense: str, person: int) -> str:
        if tense == "present":
            return verb.fr_pres[person]
        if tense == "future":
            return verb.fr_fut + FUT_END[person]
        return verb.fr_imp + IMP_END[person]

    @staticmethod
    def agree(pp: str, gender: str, plural: bool) -> str:
        if gender == "f":
            pp += "e"
        if plural and not pp.endswith("s"):
            pp += "s"
        return pp

    def fr_verb(self, verb: Verb, tense: str, subj: Subject, neg: str | None = None, invert: bool = False,
                clitic: tuple | None = None, preceding_obj: tuple | None = None):
        """French verb group tokens. ``neg`` is "pas" or "jamais"; ``clitic`` = (French, gender, plural)
        of an object pronoun; ``preceding_obj`` = (gender, plural) of a direct object placed before the
        verb (``combien de pommes a-t-il achetées``). With ``invert`` the subject pronoun is attached."""
        plural = subj.person >= 3
        if tense == "past":
            aux = ETRE if verb.aux == "être" else AVOIR
            finite = self.fr_finite(aux, "present", subj.person)
            if verb.aux == "être":
                participle = self.agree(verb.fr_pp, subj.gender, plural)
            elif clitic is not None:  # a direct object pronoun before avoir: "il l'a vue"
                participle = self.agree(verb.fr_pp, clitic[1], clitic[2])
            elif preceding_obj is not None:
                participle = self.agree(verb.fr_pp, *preceding_obj)
            else:
                participle = verb.fr_pp
            rest = [participle]
        else:
            finite = self.fr_finite(verb, tense, subj.person)
            rest = []
        if invert:
            link = "-t-" if finite.endswith(("e", "a")) else "-"
            finite = f"{finite}{link}{subj.pronoun}"
        tokens = ([clitic[0]] if clitic else []) + [finite]
        if neg:
            tokens = ["ne"] + tokens + [neg]
        return tokens + rest

    def en_verb(self, verb: Verb, tense: str, subj: Subject, neg: bool = False, question: bool = False,
                dated: bool = False):
        """English verb group. For questions returns (auxiliary, rest); else (None, tokens).

        The passé composé is said as the simple past, or as the present perfect when no time phrase
        dates it (``dated``): "*has eaten yesterday" is not English."""
        base, s3, past, pp, ing = verb.en
        k = subj.en_kind
        be_pres = {"I": "am", "3s": "is"}.get(k, "are")
        be_past = "was" if k in ("I", "3s") else "were"
        if tense == "present":
            if verb.progressive and self.chance(0.3):
                return self._aux(be_pres, [ing], neg, question)
            if neg or question:
                return self._aux("does" if k == "3s" else "do", [base], neg, question)
            return None, [s3 if k == "3s" else base]
        if tense == "past":
            if not dated and self.chance(0.25):
                return self._aux("has" if k == "3s" else "have", [pp], neg, question)
            if neg or question:
                return self._aux("did", [base], neg, question)
            return None, [past]
        if tense == "future":
            return self._aux("will", [base], neg, question)
        return self._aux(be_past, [ing], neg, question)  # imperfect -> past progressive

    def _aux(self, aux: str, rest: list, neg: bool, question: bool):
        if question:
            return aux, rest
        if neg:
            short = {"does": "doesn't", "do": "don't", "did": "didn't", "will": "won't", "is": "isn't",
                     "are": "aren't", "was": "wasn't", "were": "weren't", "has": "hasn't", "have": "haven't"}
            if aux in short and self.chance(0.4):
                return None, [short[aux]] + rest
            return None, [aux, "not"] + rest
        return None, [aux] + rest

    def tense(self, progressive: bool = True) -> str:
        tenses = ["present", "present", "past", "past", "future"] + (["imperfect"] if progressive else [])
        return self.pick(tenses)

    def time_phrase(self, tense: str):
        en, fr = self.pick(TIMES[tense])
        if "{n}" in en:
            n = self.rng.randint(2, 30)
            en, fr = en.format(n=en_number(n)), fr.format(n=fr_number(n))
        return en.split(), fr.split()

    # -- clause types -------------------------------------------------------------------------------
    def action_clause(self, question: bool = False):
        """Subject + verb (+ object | pronoun) (+ place) (+ time); statement, negation or yes/no question."""
        transitive = self.chance(0.65)
        verb = self.pick(TRANSITIVE if transitive else INTRANSITIVE)
        subj = self.subject(verb.subjects)
        tense = self.tense(verb.progressive)
        neg = not question and self.chance(0.3)
        never = neg and tense == "present" and self.chance(0.25)
        freq = None
        if not neg and not question and tense == "present" and self.chance(0.12):
            freq = self.pick([("often", "souvent"), ("always", "toujours"), ("sometimes", "parfois")])
        clitic = None
        en_obj, fr_obj = [], []
        if verb.objects:
            if not question and self.chance(0.2) and "person" in verb.objects and verb is not AVOIR:
                en_o, fr_o, g, pl = self.pick(OBJ_PRONOUNS)
                if not (subj.en == ["I"] and en_o == "me") and not (subj.en == ["we"] and en_o == "us") and \
                        not (subj.en == ["you"] and en_o == "you"):
                    clitic = (fr_o, g, pl)
                    en_obj = [en_o]
            if clitic is None:
                noun = self.pick(self.nouns(verb.objects))
                en_obj, fr_obj, _ = self.noun_phrase(noun, negated=neg, generic=verb.fr_pres[0] in LIKING)
        extra_en, extra_fr = [], []
        if not verb.objects or self.chance(0.25):
            if verb.motion and self.chance(0.8):
                extra_en, extra_fr = self.place_phrase(verb.motion, verb)
            elif self.chance(0.5):
                extra_en, extra_fr = self.place_phrase("loc")
            elif self.chance(0.4) and "person" in verb.subjects:
                en_f, fr_f, _ = self.noun_phrase(self.pick(PEOPLE), det="poss", plural=False, adj=False)
                extra_en, extra_fr = ["with"] + en_f, ["avec"] + fr_f
        time_en, time_fr, time_front = [], [], False
        if freq is None and self.chance(0.35):
            time_en, time_fr = self.time_phrase(tense)
            time_front = self.chance(0.3) and not question
        neg_word = "jamais" if never else "pas" if neg else None
        fr_vp = self.fr_verb(verb, tense, subj, neg_word, invert=question and subj.pronoun not in (None, "je"),
                             clitic=clitic)
        if never:
            en_aux, en_vp = None, ["never", verb.en[1] if subj.en_kind == "3s" else verb.en[0]]
        else:
            en_aux, en_vp = self.en_verb(verb, tense, subj, neg, question, dated=bool(time_en))
        if freq:  # English: before the simple present verb; French: after the finite verb
            en_aux, en_vp = None, [freq[0], verb.en[1] if subj.en_kind == "3s" else verb.en[0]]
            fr_vp = fr_vp + [freq[1]]
        # assemble
        if question:
            en = [en_aux] + subj.en + en_vp + en_obj + extra_en + time_en
            if subj.pronoun not in (None, "je"):
                fr = fr_vp + fr_obj + extra_fr + time_fr
            else:
                fr = ["est-ce", "que"] + subj.fr + fr_vp + fr_obj + extra_fr + time_fr
            return en, fr, "?"
        en = subj.en + (en_vp if en_aux is None else [en_aux] + en_vp) + en_obj + extra_en
        fr = subj.fr + fr_vp + fr_obj + extra_fr
        if time_front:
            return time_en + [","] + en, time_fr + [","] + fr, "."
        return en + time_en, fr + time_fr, "."

    def copula_clause(self, question: bool = False):
        """Subject + be + adjective | place | avoir idiom | age."""
        subj = self.subject(frozenset({"person", "animal", "thing", "place", "food"}), pronoun_p=0.3, adj=False)
        tense = self.pick(["present", "present", "imperfect", "future"])
        neg = not question and self.chance(0.25)
        k = subj.en_kind
        be = {"present": {"I": "am", "3s": "is"}.get(k, "are"), "imperfect": "was" if k in ("I", "3s") else "were",
              "future": "will"}[tense]
        plural = subj.person >= 3
        noun_kind = subj.kind
        what = self.rng.random()
        if what < 0.5:  # adjective
            fits = [a for a in ADJECTIVES if noun_kind in a.kinds]
            adj = self.pick(fits)
            en_pred, fr_pred = [adj.en], [adj.fr(subj.gender, plural)]
            verb = ETRE
        elif what < 0.7:  # place
            en_pred, fr_pred = self.place_phrase("loc")
            verb = ETRE
        elif what < 0.88 and noun_kind in ("person", "animal"):
            en_pred, idiom = self.pick(AVOIR_IDIOMS)
            en_pred, fr_pred, verb = [en_pred], [idiom], AVOIR
            if en_pred == ["right"] or en_pred == ["wrong"]:
                if noun_kind != "person":
                    en_pred, fr_pred = ["hungry"], ["faim"]
        elif noun_kind in ("person", "animal"):
            n = self.rng.randint(2, 99) if self.chance(0.95) else 1
            en_pred = [en_number(n), "year" if n == 1 else "years", "old"]
            fr_pred = [fr_number(n), "an" if n == 1 else "ans"]
            verb = AVOIR
        else:
            adj = self.pick([a for a in ADJECTIVES if noun_kind in a.kinds])
            en_pred, fr_pred, verb = [adj.en], [adj.fr(subj.gender, plural)], ETRE
        fr_vp = self.fr_verb(verb, tense, subj, "pas" if neg else None,
                             invert=question and subj.pronoun not in (None, "je"))
        en_be = ["will", "be"] if tense == "future" else [be]
        if question:
            en = [en_be[0]] + subj.en + en_be[1:] + en_pred
            fr = fr_vp + fr_pred if subj.pronoun not in (None, "je") else ["est-ce", "que"] + subj.fr + fr_vp + fr_pred
            return en, fr, "?"
        if neg:
            short = {"is": "isn't", "are": "aren't", "was": "wasn't", "were": "weren't", "will": "won't"}
            en_be = ([short[en_be[0]]] + en_be[1:]) if en_be[0] in short and self.chance(0.4) else \
                en_be[:1] + ["not"] + en_be[1:]
        return subj.en + en_be + en_pred, subj.fr + fr_vp + fr_pred, "."

    def there_is(self, question: bool = False):
        noun = self.pick([n for n in NOUNS if n.kind in ("person", "animal", "thing", "food")])
        tense = self.pick(["present", "present", "imperfect", "future"])
        neg = not question and self.chance(0.3)
        en_np, fr_np, plural = self.noun_phrase(noun, det=self.pick(["indef", "indef", "num"]), negated=neg)
        if en_np and en_np[0] == "some":
            en_np = en_np[1:]
        place_en, place_fr = self.place_phrase("loc")
        fr_verb = {"present": "a", "imperfect": "avait", "future": "aura"}[tense]
        if tense == "future":
            en_be = ["will", "be"]
        else:
            en_be = [("are" if plural else "is") if tense == "present" else ("were" if plural else "was")]
        if question:
            en = [en_be[0], "there"] + en_be[1:] + en_np + place_en
            link = "-t-" if fr_verb.endswith("a") else "-"
            return en, ["y", f"{fr_verb}{link}il"] + fr_np + place_fr, "?"
        if neg:
            counted = fr_np[0] != "de"  # "il n'y a pas trois chats" keeps its number
            if not counted and self.chance(0.5):  # "there is no cat", "there are no cats"
                if en_np[0] in ("a", "an", "any"):
                    en_np = en_np[1:]
                en = ["there"] + en_be + ["no"] + en_np + place_en
            else:
                if not counted and en_np[0] not in ("a", "an", "any"):
                    en_np = ["any"] + en_np
                en = ["there"] + en_be[:1] + ["not"] + en_be[1:] + en_np + place_en
            return en, ["il", "ne", "y", fr_verb, "pas"] + fr_np + place_fr, "."
        return ["there"] + en_be + en_np + place_en, ["il", "y", fr_verb] + fr_np + place_fr, "."

    def wh_question(self):
        kind = self.pick(["where", "what", "who", "how_many", "how_old", "why"])
        tense = self.pick(["present", "past", "future"])
        if kind == "where":
            subj = self.subject(frozenset({"person", "animal", "thing"}), pronoun_p=0.0, dets=DEFINITE)
            k = subj.en_kind
            tense = self.pick(["present", "imperfect", "future"])
            en_be = {"present": ["is" if k == "3s" else "are"], "imperfect": ["was" if k == "3s" else "were"],
                     "future": ["will"]}[tense]
            fr_v = self.fr_finite(ETRE, tense, subj.person)
            return ["where"] + en_be + subj.en + (["be"] if tense == "future" else []), ["où", fr_v] + subj.fr, "?"
        if kind == "how_old":
            subj = self.subject(frozenset({"person", "animal"}), pronoun_p=0.5, dets=DEFINITE)
            k = subj.en_kind
            be = {"I": "am", "3s": "is"}.get(k, "are")
            fr_v = self.fr_finite(AVOIR, "present", subj.person)
            if subj.pronoun:
                link = "-t-" if fr_v.endswith(("a", "e")) else "-"
                return ["how", "old", be] + subj.en, ["quel", "âge", f"{fr_v}{link}{subj.pronoun}"], "?"
            return ["how", "old", be] + subj.en, ["quel", "âge", fr_v] + subj.fr, "?"
        if kind == "why":
            subj = self.subject(frozenset({"person", "animal"}), pronoun_p=0.5, dets=DEFINITE)
            adj = self.pick([a for a in ADJECTIVES if "person" in a.kinds and not a.pre])
            plural = subj.person >= 3
            k = subj.en_kind
            be = {"I": "am", "3s": "is"}.get(k, "are")
            invert = subj.pronoun not in (None, "je")
            fr_vp = self.fr_verb(ETRE, "present", subj, invert=invert)
            fr = ["pourquoi"] + (fr_vp if invert else ["est-ce", "que"] + subj.fr + fr_vp)
            return ["why", be] + subj.en + [adj.en], fr + [adj.fr(subj.gender, plural)], "?"
        verb = self.pick([v for v in TRANSITIVE if v.objects & {"food", "thing", "small", "read"}])
        if kind == "who":
            noun = self.pick(self.nouns(verb.objects))
            en_obj, fr_obj, _ = self.noun_phrase(noun, det=self.pick(["def", "poss", "dem"]))
            subj = Subject(["who"], ["qui"], 2, "m", None, "3s")
            _, en_vp = self.en_verb(verb, tense, subj)
            return ["who"] + en_vp + en_obj, ["qui"] + self.fr_verb(verb, tense, subj) + fr_obj, "?"
        subj = self.subject(verb.subjects, pronoun_p=0.5)
        invert = subj.pronoun not in (None, "je")
        aux, en_vp = self.en_verb(verb, tense, subj, question=True)
        if kind == "what":
            fr_vp = self.fr_verb(verb, tense, subj, invert=invert)
            fr = ["que"] + fr_vp if invert else ["que", "est-ce", "que"] + subj.fr + fr_vp
            return ["what", aux] + subj.en + en_vp, fr, "?"
        # how many
        noun = self.pick([n for n in self.nouns(verb.objects) if n.kind not in ("mass", "place", "person")])
        fr_vp = self.fr_verb(verb, tense, subj, invert=invert, preceding_obj=(noun.gender, True))
        head_en, head_fr = ["how", "many", noun.en_pl], ["combien", "de", noun.fr_pl]
        fr = head_fr + (fr_vp if invert else ["est-ce", "que"] + subj.fr + fr_vp)
        return head_en + [aux] + subj.en + en_vp, fr, "?"

    def imperative(self):
        verb = self.pick(IMPERATIVE_VERBS)
        lets = self.chance(0.3)
        neg = self.chance(0.3)
        person = 3 if lets else 4
        form = verb.fr_pres[person]
        en_obj, fr_obj = [], []
        if verb.objects:
            noun = self.pick(self.nouns(verb.objects))
            en_obj, fr_obj, _ = self.noun_phrase(noun, negated=neg)
        elif verb.motion:
            en_obj, fr_obj = self.place_phrase(verb.motion, verb)
        base = verb.en[0]
        if lets:
            en = ["let's"] + (["not"] if neg else []) + [base]
        else:
            en = (["don't"] if self.chance(0.5) else ["do", "not"]) + [base] if neg else [base]
        fr = (["ne", form, "pas"] if neg else [form]) + fr_obj
        return en + en_obj, fr, "!"

    def weather(self, tense: str):
        table = {
            "rain": ({"present": "it is raining", "past": "it rained", "imperfect": "it was raining",
                      "future": "it will rain"},
                     {"present": "il pleut", "past": "il a plu", "imperfect": "il pleuvait", "future": "il pleuvra"}),
            "snow": ({"present": "it is snowing", "past": "it snowed", "imperfect": "it was snowing",
                      "future": "it will snow"},
                     {"present": "il neige", "past": "il a neigé", "imperfect": "il neigeait", "future": "il neigera"}),
            "cold": ({"present": "it is cold", "past": "it was cold", "imperfect": "it was cold",
                      "future": "it will be cold"},
                     {"present": "il fait froid", "past": "il faisait froid", "imperfect": "il faisait froid",
                      "future": "il fera froid"}),
            "hot": ({"present": "it is hot", "past": "it was hot", "imperfect": "it was hot",
                     "future": "it will be hot"},
                    {"present": "il fait chaud", "past": "il faisait chaud", "imperfect": "il faisait chaud",
                     "future": "il fera chaud"}),
            "nice": ({"present": "the weather is nice", "past": "the weather was nice",
                      "imperfect": "the weather was nice", "future": "the weather will be nice"},
                     {"present": "il fait beau", "past": "il faisait beau", "imperfect": "il faisait beau",
                      "future": "il fera beau"}),
        }
        en, fr = table[self.pick(sorted(table))]
        return en[tense].split(), fr[tense].split()

    # -- sentences ----------------------------------------------------------------------------------
    def sentence(self):
        r = self.rng.random()
        if r < 0.36:
            en, fr, end = self.action_clause()
        elif r < 0.48:
            en, fr, end = self.action_clause(question=True)
        elif r < 0.62:
            en, fr, end = self.copula_clause()
        elif r < 0.68:
            en, fr, end = self.copula_clause(question=True)
        elif r < 0.75:
            en, fr, end = self.there_is(question=self.chance(0.25))
        elif r < 0.84:
            en, fr, end = self.wh_question()
        elif r < 0.89:
            en, fr, end = self.imperative()
        else:  # two clauses: "and", "but", "because"
            en1, fr1, _ = self.action_clause() if self.chance(0.6) else self.copula_clause()
            en_c, fr_c = self.pick([("and", "et"), ("but", "mais"), ("because", "parce que")])
            if self.chance(0.3):
                en2, fr2 = self.weather(self.pick(["present", "past", "future"]))
            else:
                en2, fr2, _ = self.action_clause() if self.chance(0.5) else self.copula_clause()
            en = en1 + ([","] if en_c == "but" else []) + [en_c] + en2
            fr = fr1 + ([","] if fr_c == "mais" else []) + fr_c.split() + fr2
            end = "."
        return detokenize_en(en, end), detokenize_fr(fr, end)


# ---------------------------------------------------------------------------------------------------
# Surface rules: elision, contraction, spacing, capitals
# ---------------------------------------------------------------------------------------------------

ELIDE = {"le": "l'", "la": "l'", "de": "d'", "ne": "n'", "je": "j'", "me": "m'", "que": "qu'"}
CONTRACT = {("à", "le"): "au", ("à", "les"): "aux", ("de", "le"): "du", ("de", "les"): "des",
            ("de", "des"): "de"}  # "près de des arbres" -> "près d'arbres" (elided below)


def french_surface(tokens: list) -> list:
    words = [w for t in tokens for w in ([t] if t in (",",) else t.split())]
    out: list = []
    for i, w in enumerate(words):
        nxt = words[i + 1] if i + 1 < len(words) else ""
        if w in ELIDE and nxt and starts_with_vowel(nxt) and nxt not in (",",):
            out.append(ELIDE[w])
            continue
        if out and (out[-1], w) in CONTRACT:
            out[-1] = CONTRACT[(out[-1], w)]
            if out[-1] == "de" and nxt and starts_with_vowel(nxt):
                out[-1] = "d'"
            continue
        out.append(w)
    return out


def _join(words: list) -> str:
    text = ""
    for w in words:
        if not text:
            text = w
        elif w == "," or text.endswith("'") or w.startswith("-"):
            text += w
        else:
            text += " " + w
    return text


def _capitalize(text: str) -> str:
    return text[:1].upper() + text[1:]


def detokenize_en(tokens: list, end: str) -> str:
    return _capitalize(_join(tokens)) + end


def detokenize_fr(tokens: list, end: str) -> str:
    text = _capitalize(_join(french_surface(tokens)))
    return text + (" " + end if end in "?!" else end)  # French spacing before ? and !


# ---------------------------------------------------------------------------------------------------


def generate(seed: int, n_total: int) -> list:
    """``n_total`` distinct pairs; no English and no French sentence appears twice."""
    grammar = Grammar(random.Random(seed))
    pairs, seen_en, seen_fr = [], set(), set()
    attempts = 0
    while len(pairs) < n_total:
        attempts += 1
        if attempts > 50 * n_total:
            raise RuntimeError("grammar too small for the requested size")
        en, fr = grammar.sentence()
        if en in seen_en or fr in seen_fr:
            continue
        seen_en.add(en)
        seen_fr.add(fr)
        pairs.append((en, fr))
    return pairs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "en-fr")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--train", type=int, default=22000)
    parser.add_argument("--valid", type=int, default=1000)
    parser.add_argument("--test", type=int, default=1000)
    args = parser.parse_args()
    pairs = generate(args.seed, args.train + args.valid + args.test)
    splits = {"test": pairs[:args.test], "valid": pairs[args.test:args.test + args.valid],
              "train": pairs[args.test + args.valid:]}
    args.out.mkdir(parents=True, exist_ok=True)
    for name, rows in splits.items():
        for side, lang in ((0, "en"), (1, "fr")):
            with open(args.out / f"{name}.{lang}", "w", encoding="utf-8", newline="\n") as fh:
                fh.writelines(row[side] + "\n" for row in rows)
        print(f"{name}: {len(rows)} pairs")


if __name__ == "__main__":
    main()
