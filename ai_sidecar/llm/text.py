"""Tokenising and TF-IDF in pure Python: enough to match questions and key points without a model."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence

STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being below between
    both but by can could did do does doing down during each few for from further had has have having he her here
    hers herself him himself his i if in into is it its itself just me more most my myself no nor not now of off on
    once only or other our ours ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those to too under until up very was we were what when where which
    while who whom why will with would you your yours yourselves also us let lets let's i'm i've i'd you're
    you've you'd we're we've it's that's there's what's how's don't doesn't didn't can't won't isn't aren't wasn't
    one get got getting really okay ok well yeah yes sure thing things like know think going gonna say said
    tell me give please could would might how walk through much many lot lots""".split()
)

# spoken or abbreviated forms mapped to the words the bank uses
_ALIASES = {
    "hashmap": "hash map",
    "hashmaps": "hash maps",
    "hashtable": "hash table",
    "js": "javascript",
    "db": "database",
    "dbs": "databases",
    "k8s": "kubernetes",
    "ml": "machine learning",
    "oop": "object oriented programming",
    "url": "url",
    "urls": "url",
    "api": "api",
    "apis": "api",
    "sql": "sql",
    "nosql": "nosql",
    "postgres": "postgresql database",
    "mysql": "mysql database",
    "mongo": "mongodb",
    "co-worker": "coworker",
    "co-workers": "coworkers",
    "teammate": "coworker",
    "teammates": "coworkers",
    "colleague": "coworker",
    "colleagues": "coworkers",
}

_TOKEN = re.compile(r"[a-z0-9]+(?:['’][a-z]+)?(?:\+\+|#)?")


def words(text: str) -> list[str]:
    """Lower-case word tokens, apostrophes kept ("don't"), c++/c# kept."""
    out: list[str] = []
    for w in _TOKEN.findall(text.lower().replace("’", "'")):
        out.extend(_ALIASES.get(w, w).split())
    return out


_IRREGULAR = {
    "dealt": "deal", "led": "lead", "built": "build", "thought": "think", "taught": "teach", "made": "make",
    "chose": "choose", "chosen": "choose", "wrote": "write", "written": "write", "ran": "run", "told": "tell",
    "felt": "feel", "kept": "keep", "spent": "spend", "went": "go", "gone": "go", "did": "do", "done": "do",
    "took": "take", "taken": "take", "gave": "give", "given": "give", "began": "begin", "begun": "begin",
    "brought": "bring", "bought": "buy", "caught": "catch", "fought": "fight", "found": "find", "met": "meet",
    "sent": "send", "left": "leave", "lost": "lose", "saw": "see", "seen": "see", "broke": "break",
    "broken": "break", "grew": "grow", "grown": "grow", "knew": "know", "known": "know", "learnt": "learn",
    "children": "child", "people": "person", "data": "data", "analyses": "analysis",
}  # fmt: skip
# British spellings meet American ones (both sides go through this, so only consistency matters)
_SPELLING = (
    ("isations", "izations"), ("isation", "ization"), ("ising", "izing"), ("ised", "ized"), ("ises", "izes"),
    ("ise", "ize"), ("yse", "yze"), ("ysed", "yzed"), ("ysing", "yzing"), ("iour", "ior"), ("iours", "iors"),
    ("olour", "olor"), ("avour", "avor"), ("onour", "onor"), ("umour", "umor"), ("entre", "enter"), ("ogue", "og"),
)  # fmt: skip


def _americanise(w: str) -> str:
    if len(w) < 6:
        return w
    for uk, us in _SPELLING:
        if w.endswith(uk):
            return w[: len(w) - len(uk)] + us
    return w


def stem(w: str) -> str:
    """A light suffix stripper: plural, -ing, -ed, -ly, -ation. Crude but symmetric for query and bank."""
    w = _IRREGULAR.get(w, w)
    if len(w) <= 3 or not w.isalpha():
        return w
    w = _americanise(w)
    for suf, rep in (
        ("ational", "ate"),
        ("ization", "ize"),
        ("isation", "ize"),
        ("ations", "ate"),
        ("ation", "ate"),
        ("iness", "y"),
        ("ness", ""),
        ("ments", ""),
        ("ment", ""),
        ("ities", "ity"),
        ("ies", "y"),
        ("ing", ""),
        ("edly", ""),
        ("ed", ""),
        ("ly", ""),
        ("es", ""),
        ("s", ""),
    ):
        if w.endswith(suf) and len(w) - len(suf) >= 3:
            if suf == "s" and w.endswith("ss"):
                return w
            if suf == "es" and not w.endswith(("ses", "xes", "zes", "ches", "shes")):
                return _drop_e(w[:-1])
            base = w[: len(w) - len(suf)] + rep
            # "running" -> "runn" -> "run"
            if len(base) > 3 and base[-1] == base[-2] and base[-1] not in "lsz":
                base = base[:-1]
            return _drop_e(base)
    return _drop_e(w)


def _drop_e(w: str) -> str:
    """ "scale"/"scaling" and "cache"/"caching" meet at "scal"/"cach"."""
    return w[:-1] if len(w) > 4 and w.endswith("e") and not w.endswith("ee") else w


def terms(text: str) -> list[str]:
    """Content terms: stemmed words without stop words."""
    return [stem(w) for w in words(text) if w not in STOPWORDS and (len(w) > 1 or w.isdigit())]


def with_bigrams(ts: Sequence[str]) -> list[str]:
    return [*ts, *(f"{a}_{b}" for a, b in zip(ts, ts[1:], strict=False))]


Vector = dict[str, float]


class TfidfIndex:
    """Cosine similarity over TF-IDF vectors of unigram + bigram terms."""

    def __init__(self, docs: Iterable[Sequence[str]]) -> None:
        self.docs = [with_bigrams(d) for d in docs]
        df: Counter[str] = Counter()
        for d in self.docs:
            df.update(set(d))
        n = max(1, len(self.docs))
        self.idf = {t: math.log((1 + n) / (1 + c)) + 1.0 for t, c in df.items()}
        self.default_idf = math.log(1 + n) + 1.0
        self.vectors = [self.vector_of_terms(d, bigrams=False) for d in self.docs]

    def vector_of_terms(self, ts: Sequence[str], *, bigrams: bool = True) -> Vector:
        tf = Counter(with_bigrams(ts) if bigrams else ts)
        v = {t: (1 + math.log(c)) * self.idf.get(t, self.default_idf) for t, c in tf.items()}
        norm = math.sqrt(sum(x * x for x in v.values())) or 1.0
        return {t: x / norm for t, x in v.items()}

    def vector(self, text: str) -> Vector:
        return self.vector_of_terms(terms(text))

    def coverage(self, query_terms: Sequence[str], doc: int) -> float:
        """IDF-weighted share of the query's terms found in a document: "is the question's content there?"."""
        qs = set(query_terms)
        total = sum(self.idf.get(t, self.default_idf) for t in qs)
        if not total:
            return 0.0
        d = set(self.docs[doc])
        return sum(self.idf.get(t, self.default_idf) for t in qs if t in d) / total

    def search(self, text: str, k: int = 3) -> list[tuple[int, float]]:
        q = self.vector(text)
        scored = [(i, cosine(q, v)) for i, v in enumerate(self.vectors)]
        scored.sort(key=lambda x: -x[1])
        return scored[:k]


def cosine(a: Vector, b: Vector) -> float:
    if len(a) > len(b):
        a, b = b, a
    return sum(x * b.get(t, 0.0) for t, x in a.items())


_SENT = re.compile(r"(?<=[.!?])\s+|\n+")


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENT.split(text) if s.strip()]
