"""Response selection (Lowe et al. 2015): cases, recall@k, and the TF-IDF baseline.

A case is a context (the turns before the reply), the true response, and distractors. A ranker scores
every candidate; the true response's rank among them gives 1-in-2 R@1 (against the first distractor)
and 1-in-10 R@1, R@2, R@5 (against the first nine). Ties count against the true response.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from deepqa.errors import DatasetError


@dataclass
class Case:
    """One response-selection case in text form: context turns, true response, distractors."""

    context: list[str]
    response: str
    distractors: list[str]

    @property
    def candidates(self) -> list[str]:
        """The true response first, then the distractors."""
        return [self.response, *self.distractors]


def load_cases(path: str | Path) -> list[Case]:
    """Read a JSON Lines candidates file; a bad line is a :class:`DatasetError` naming it."""
    cases = []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise DatasetError(f"candidates file {str(path)!r} does not exist") from None
    except UnicodeDecodeError:
        raise DatasetError(f"candidates file {str(path)!r} is not UTF-8") from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{Path(path).name}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{where}: invalid JSON ({exc.msg})") from None
        if not isinstance(record, dict):
            raise DatasetError(f"{where}: expected an object with context, response and distractors")
        context, response, distractors = record.get("context"), record.get("response"), record.get("distractors")
        if isinstance(context, str):
            context = [context]
        if not (isinstance(context, list) and context and all(isinstance(t, str) for t in context)):
            raise DatasetError(f"{where}: context must be a non-empty list of strings")
        if not isinstance(response, str) or not response.strip():
            raise DatasetError(f"{where}: response must be a non-empty string")
        if not (isinstance(distractors, list) and distractors and all(isinstance(d, str) for d in distractors)):
            raise DatasetError(f"{where}: distractors must be a non-empty list of strings")
        cases.append(Case(context, response, distractors))
    if not cases:
        raise DatasetError(f"candidates file {str(path)!r} holds no case")
    return cases


def cases_from_conversations(conversations: Sequence[Sequence[str]], context_turns: int, count: int,
                             distractors: int, seed: int) -> list[Case]:
    """Up to ``count`` cases from conversations (lists of turns): a turn after at least one other, with the
    ``context_turns`` turns before its question as context, and ``distractors`` turns of other conversations
    (seeded draws), so that any corpus can test a bot trained on another."""
    rng = np.random.default_rng(seed)
    usable = [index for index, turns in enumerate(conversations) if len(turns) >= 2]
    if len(usable) < 2:
        raise DatasetError("building cases needs at least two conversations of two turns or more")
    cases = []
    for index in rng.permutation(usable)[:count]:
        turns = conversations[index]
        position = int(rng.integers(1, len(turns)))
        context = list(turns[max(0, position - 1 - context_turns):position])
        picked: list[str] = []
        while len(picked) < distractors:
            other = usable[int(rng.integers(len(usable)))]
            if other != index:
                candidate = conversations[other][int(rng.integers(len(conversations[other])))]
                if candidate != turns[position]:
                    picked.append(candidate)
        cases.append(Case(context, turns[position], picked))
    return cases


def ranks(scores: np.ndarray, size: int) -> np.ndarray:
    """0-based rank of candidate 0 among the first ``size`` candidates of each row (ties count against it)."""
    block = scores[:, :size]
    return np.sum(block[:, 1:] >= block[:, :1], axis=1)


def recall_report(scores: np.ndarray) -> dict:
    """1-in-2 R@1 and, when every case has nine distractors, 1-in-10 R@1, R@2 and R@5."""
    report = {"1_in_2_R@1": float(np.mean(ranks(scores, 2) < 1))}
    if scores.shape[1] >= 10:
        ten = ranks(scores, 10)
        report.update({f"1_in_10_R@{k}": float(np.mean(ten < k)) for k in (1, 2, 5)})
    return report


def chance_report(num_candidates: int) -> dict:
    """What a ranker that guesses achieves."""
    report = {"1_in_2_R@1": 0.5}
    if num_candidates >= 10:
        report.update({f"1_in_10_R@{k}": k / 10 for k in (1, 2, 5)})
    return report


def document_frequencies(documents: Sequence[Sequence[str]]) -> tuple[Counter, int]:
    """In how many documents each token occurs, and the number of documents (at least 1)."""
    frequency: Counter = Counter()
    for document in documents:
        frequency.update(set(document))
    return frequency, max(1, len(documents))


class TfidfRanker:
    """Cosine similarity of TF-IDF vectors of the context and each candidate (the Lowe et al. baseline)."""

    def __init__(self, documents: Sequence[Sequence[str]]):
        frequency, count = document_frequencies(documents)
        self.idf = {token: math.log((1 + count) / (1 + df)) + 1.0 for token, df in frequency.items()}
        self.unseen_idf = math.log(1 + count) + 1.0

    def vector(self, tokens: Sequence[str]) -> dict[str, float]:
        counts = Counter(tokens)
        vector = {t: c * self.idf.get(t, self.unseen_idf) for t, c in counts.items()}
        norm = math.sqrt(sum(v * v for v in vector.values())) or 1.0
        return {t: v / norm for t, v in vector.items()}

    def score(self, context: Sequence[str], candidates: Sequence[Sequence[str]]) -> list[float]:
        """Cosine similarity of the context with each candidate."""
        query = self.vector(context)
        return [sum(query.get(t, 0.0) * v for t, v in self.vector(candidate).items()) for candidate in candidates]


class Bm25Ranker:
    """Okapi BM25 of each candidate for the context as query (k1 = 1.2, b = 0.75), the lexical retrieval
    baseline; document frequencies and the average length come from ``documents``."""

    def __init__(self, documents: Sequence[Sequence[str]], k1: float = 1.2, b: float = 0.75):
        frequency, count = document_frequencies(documents)
        self.idf = {token: math.log(1 + (count - df + 0.5) / (df + 0.5)) for token, df in frequency.items()}
        self.unseen_idf = math.log(1 + (count + 0.5) / 0.5)
        self.average_length = max(1e-9, sum(len(d) for d in documents) / count)
        self.k1, self.b = k1, b

    def score(self, context: Sequence[str], candidates: Sequence[Sequence[str]]) -> list[float]:
        """BM25 of each candidate for the context's tokens."""
        query = Counter(context)
        scores = []
        for candidate in candidates:
            counts = Counter(candidate)
            norm = self.k1 * (1 - self.b + self.b * len(candidate) / self.average_length)
            scores.append(sum(weight * self.idf.get(token, self.unseen_idf) * counts[token] * (self.k1 + 1)
                              / (counts[token] + norm) for token, weight in query.items() if token in counts))
        return scores
