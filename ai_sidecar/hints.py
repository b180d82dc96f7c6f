"""Session hints -> recognizer bias. Pure, no I/O.

The user types hints for a session ("Company, role, team, anything the AI should know"). The
names in them — companies, products, technologies, people — are what a small Whisper model gets
wrong ("Zentrovix" -> "Mantravik's"), so they are given to faster-whisper as ``hotwords`` (text put
before the transcript as if it had been said earlier; it biases spelling, it adds no audio).

Biasing has a known failure: on unclear audio Whisper copies the prompt, so hint words appear that
nobody said. ``echoed`` recognises that shape (several hint terms in a row in the prompt's own
order, or a transcript made of nothing but hint terms); the stt worker then decodes again without
hints and keeps that text.
"""

from __future__ import annotations

import re

from .stable_prefix import norm_word

MAX_TERMS = 24
MAX_PROMPT_CHARS = 300  # well inside Whisper's prompt budget (224 tokens)
ECHO_RUN = 4  # this many hint terms in a row, in the prompt's order, is the prompt copied

# capitalised words that are not names
_COMMON = frozenset(
    """a an the and or but if of in on at to for from with by as is are was were be been it its this that these
    those i we you he she they our your their my me us them job role team company interview interviews position
    senior junior lead staff principal engineer engineering developer manager product products project projects
    about what who when where why how do does did can could should would will also focus focused using use used
    experience years year skills stack tech technical questions question hiring candidate candidates work working
    remote office mr mrs ms dr please note""".split()
)
_TOKEN = re.compile(r"[A-Za-z0-9][\w.+#'/-]*[\w+#]|[A-Za-z0-9]")


def _name_like(word: str) -> bool:
    """A word worth biasing: capitalised, mixed case, an acronym or with digits (``Kubernetes``,
    ``gRPC``, ``AWS``, ``S3``, ``C++``) — and not a common word."""
    core = word.strip(".'-/")
    if len(core) < 2 or norm_word(core) in _COMMON:
        return False
    return (
        core[0].isupper()
        or any(c.isupper() for c in core[1:])
        or any(c.isdigit() for c in core)
        or "+" in core
        or "#" in core
    )


def extract_terms(hints: str) -> list[str]:
    """The names in free-text hints, in order, without repeats; consecutive capitalised words stay
    together ("Marisol Okonkwo"). At most ``MAX_TERMS``."""
    terms: list[str] = []
    seen: set[str] = set()
    for line in re.split(r"[\n\r,;:()\[\]{}|!?]+|(?<=\w)\.(?=\s|$)", hints or ""):
        run: list[str] = []
        for tok in [*_TOKEN.findall(line), ""]:
            if tok and _name_like(tok):
                run.append(tok)
                continue
            if run:
                term = " ".join(run)
                key = term.lower()
                if key not in seen:
                    seen.add(key)
                    terms.append(term)
                run = []
        if len(terms) >= MAX_TERMS:
            break
    return terms[:MAX_TERMS]


def prompt(terms: list[str]) -> str | None:
    """The ``hotwords`` text for these terms (None = no bias). A glossary sentence: a bare list of
    names invites Whisper to continue the list instead of transcribing."""
    out: list[str] = []
    size = len("Glossary: .")
    for t in terms:
        if size + len(t) + 2 > MAX_PROMPT_CHARS:
            break
        out.append(t)
        size += len(t) + 2
    return f"Glossary: {', '.join(out)}." if out else None


def _term_words(terms: list[str]) -> list[list[str]]:
    return [[norm_word(w) for w in t.split() if norm_word(w)] for t in terms]


def found_terms(text: str, terms: list[str]) -> list[int]:
    """Indices (into ``terms``) of the hint terms in ``text``, in the order they occur; the result
    also says where each occurrence sits relative to the others (see ``echoed``)."""
    words = [norm_word(w) for w in text.split()]
    words = [w for w in words if w]
    tw = _term_words(terms)
    out: list[int] = []
    i = 0
    while i < len(words):
        for k, t in enumerate(tw):
            if t and words[i : i + len(t)] == t:
                out.append(k)
                i += len(t)
                break
        else:
            out.append(-1)
            i += 1
    return out


def echoed(text: str, terms: list[str]) -> bool:
    """True when ``text`` looks like the prompt copied rather than speech transcribed."""
    if not terms:
        return False
    seq = found_terms(text, terms)
    hits = [k for k in seq if k >= 0]
    if len(hits) >= 2 and len(hits) == len(seq):
        return True  # nothing but hint terms
    run = 1
    for a, b in zip(seq, seq[1:], strict=False):
        run = run + 1 if a >= 0 and b == a + 1 else 1
        if run >= ECHO_RUN:
            return True
    return False


def terms_in(text: str, terms: list[str]) -> list[str]:
    """The hint terms that appear in ``text``."""
    return [terms[k] for k in sorted({k for k in found_terms(text, terms) if k >= 0})]
