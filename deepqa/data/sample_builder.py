"""Turn encoded conversations into samples: context window, length policy and filters.

Every consecutive pair of turns (turn i-1 → turn i) is a candidate. It is dropped, and counted by
reason, when either side is empty (``empty``), when it is too long under the ``drop`` policy
(``too_long``), when its answer is mostly ``<unk>`` (``unk_answer``) or when the same question text
(with the same context) and the same answer text were already kept (``duplicate``). Under the ``truncate`` policy a long question keeps its
end (the latest words matter most) and a long answer keeps its start.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from deepqa.config import SamplesConfig
from deepqa.data.samples import Samples
from deepqa.data.vocab import EOS, UNK

DROP_REASONS = ("empty", "too_long", "unk_answer", "duplicate")


@dataclass
class EncodedConversation:
    """One conversation: its turns as id arrays, an id of each turn's text (equal texts, equal ids), its
    split, its source index, how often training repeats it, and the words behind each turn's ``<unk>`` ids
    (see :mod:`deepqa.data.unknown_words`), when they are at hand."""

    turns: list[np.ndarray]
    text_ids: list[int]
    split: int
    source: int
    repeats: int = 1
    unknown_words: list[list[str]] | None = None


@dataclass
class BuildReport:
    """What the builder kept, dropped and truncated, and the lengths it saw before truncation."""

    candidates: int = 0
    dropped: Counter = field(default_factory=lambda: Counter({reason: 0 for reason in DROP_REASONS}))
    truncated_questions: int = 0
    truncated_answers: int = 0
    question_lengths: list[int] = field(default_factory=list)
    answer_lengths: list[int] = field(default_factory=list)


def _question(turns: list[np.ndarray], index: int, context_turns: int) -> np.ndarray:
    """The question turn, preceded by up to ``context_turns`` earlier turns, each followed by <eos>."""
    first = max(0, index - 1 - context_turns)
    pieces = []
    for turn in turns[first:index - 1]:
        pieces += [turn, np.array([EOS], dtype=np.int32)]
    pieces.append(turns[index - 1])
    return np.concatenate(pieces)


def build_samples(conversations: list[EncodedConversation], config: SamplesConfig,
                  meta: dict | None = None) -> tuple[Samples, BuildReport]:
    """Samples from every consecutive turn pair, filtered and truncated as configured; with the words behind the
    answers' ``<unk>`` ids when every conversation has them."""
    report = BuildReport()
    seen: set[tuple[tuple[int, ...], int]] = set()
    encoder, decoder, splits, conversation_ids, sources = [], [], [], [], []
    keep_words = all(conversation.unknown_words is not None for conversation in conversations)
    answer_words: list[list[str]] = []
    for conversation_id, conversation in enumerate(conversations):
        turns = conversation.turns
        for index in range(1, len(turns)):
            report.candidates += 1
            question, answer = _question(turns, index, config.context_turns), turns[index]
            if len(turns[index - 1]) == 0 or len(answer) == 0:
                report.dropped["empty"] += 1
                continue
            report.question_lengths.append(len(question))
            report.answer_lengths.append(len(answer))
            too_long_q, too_long_a = len(question) > config.max_question_length, len(answer) > config.max_answer_length
            if too_long_q or too_long_a:
                if config.length_policy == "drop":
                    report.dropped["too_long"] += 1
                    continue
                report.truncated_questions += too_long_q
                report.truncated_answers += too_long_a
                question, answer = question[-config.max_question_length:], answer[:config.max_answer_length]
            if np.count_nonzero(answer == UNK) > config.max_unk_ratio * len(answer):
                report.dropped["unk_answer"] += 1
                continue
            if config.drop_duplicates:
                # Compare texts, not ids: pairs that differ only in words now mapped to <unk> are not duplicates.
                key = (tuple(conversation.text_ids[max(0, index - 1 - config.context_turns):index]),
                       conversation.text_ids[index])
                if key in seen:
                    report.dropped["duplicate"] += 1
                    continue
                seen.add(key)
            # A truncated answer keeps its start, so the words of its first <unk> ids.
            words = conversation.unknown_words[index][:np.count_nonzero(answer == UNK)] if keep_words else []
            for _ in range(conversation.repeats):
                encoder.append(question)
                decoder.append(answer)
                answer_words.append(words)
                splits.append(conversation.split)
                conversation_ids.append(conversation_id)
                sources.append(conversation.source)
    samples = Samples.from_rows(encoder, decoder, splits, conversation_ids, sources, meta,
                                answer_words if keep_words else None)
    return samples, report
