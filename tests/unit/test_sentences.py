"""Answers cut by the length limit: back to their last whole sentence, or not replies at all."""

import numpy as np

from deepqa.data.sentences import mended_rows, sentence_end_flags, whole_sentences

WORDS = ["<pad>", "<go>", "<eos>", "<unk>", "i", "like", "it", ".", "!", "so", "much", "。", "好", "now."]
ENDS = sentence_end_flags(WORDS)


def test_tokens_ending_with_a_stop_end_sentences():
    assert [WORDS[i] for i in np.flatnonzero(ENDS)] == [".", "!", "。", "now."]


def test_an_answer_filling_the_limit_goes_back_to_its_last_sentence_end():
    assert whole_sentences(np.array([4, 5, 6, 7, 9, 10]), 6, ENDS).tolist() == [4, 5, 6, 7]  # "i like it . so much"
    assert whole_sentences(np.array([4, 8, 4, 5, 13, 9]), 6, ENDS).tolist() == [4, 8, 4, 5, 13]


def test_shorter_answers_and_answers_ending_a_sentence_stay_as_they_are():
    assert whole_sentences(np.array([4, 5, 6]), 6, ENDS).tolist() == [4, 5, 6]  # under the limit: not cut
    assert whole_sentences(np.array([12, 12, 12, 11]), 4, ENDS).tolist() == [12, 12, 12, 11]
    assert whole_sentences(np.array([], np.int32), 4, ENDS).tolist() == []


def test_an_answer_filling_the_limit_without_a_sentence_end_cannot_be_mended():
    assert whole_sentences(np.array([4, 5, 6, 9]), 4, ENDS) is None
    rows = [np.array([4, 5, 6, 9]), np.array([4, 7, 9, 10]), np.array([5])]
    assert [(at, row.tolist()) for at, row in mended_rows(rows, 4, ENDS)] == [(1, [4, 7]), (2, [5])]
    assert [(at, row.tolist()) for at, row in mended_rows(rows[:1], 4, ENDS)] == [(0, [4, 5, 6, 9])]  # none can be: all kept
