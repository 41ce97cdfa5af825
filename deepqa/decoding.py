"""Step-by-step generation with a model's cached ``decode_step``: greedy decoding."""

from __future__ import annotations

from typing import Sequence

import numpy as np
from keras import ops

from deepqa.models.base import Seq2Seq
from deepqa.text import Tokenizer
from deepqa.vocab import EOS, GO, PAD, Vocabulary


def encode_questions(questions: Sequence[str], tokenizer: Tokenizer, vocabulary: Vocabulary,
                     max_length: int) -> np.ndarray:
    """Encoder ids [B, Te] of the questions, each keeping its last ``max_length`` tokens, padded with 0."""
    rows = [vocabulary.encode(tokenizer.tokenize(question))[-max_length:] for question in questions]
    width = max(1, max((len(row) for row in rows), default=1))
    batch = np.zeros((len(rows), width), dtype=np.int32)
    for index, row in enumerate(rows):
        batch[index, :len(row)] = row
    return batch


def greedy_decode(model: Seq2Seq, encoder_ids: np.ndarray, max_length: int) -> np.ndarray:
    """The most likely next token at every step, until ``<eos>`` or ``max_length`` tokens; [B, L] ids."""
    state = model.encode(encoder_ids, max_length)
    tokens = np.full((len(encoder_ids),), GO, dtype=np.int32)
    finished = np.zeros(len(encoder_ids), dtype=bool)
    outputs = []
    for index in range(max_length):
        logits, state = model.decode_step(tokens, state, index)
        tokens = np.asarray(ops.argmax(logits, axis=-1)).astype(np.int32)
        tokens[finished] = PAD
        outputs.append(tokens)
        finished |= tokens == EOS
        if finished.all():
            break
    return np.stack(outputs, axis=1)


def greedy_replies(model: Seq2Seq, questions: Sequence[str], tokenizer: Tokenizer, vocabulary: Vocabulary,
                   max_question_length: int, max_answer_length: int) -> list[str]:
    """Greedy replies to ``questions``, detokenized."""
    encoder_ids = encode_questions(questions, tokenizer, vocabulary, max_question_length)
    ids = greedy_decode(model, encoder_ids, max_answer_length + 1)
    return [tokenizer.detokenize(vocabulary.decode(row)) for row in ids]
