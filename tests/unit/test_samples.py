"""Sample building (context, length policy, filters, weights), storage and the deterministic split."""

import numpy as np
import pytest

from deepqa.config import SamplesConfig
from deepqa.errors import DatasetError
from deepqa.data.sample_builder import EncodedConversation, build_samples
from deepqa.data.samples import Samples
from deepqa.data.splits import TEST, TRAIN, VALID, assign_split, split_key
from deepqa.data.unknown_words import WordList
from deepqa.data.vocab import EOS, UNK


def ids(*values):
    return np.array(values, dtype=np.int32)


def conversation(*turns, split=TRAIN, repeats=1, texts=None):
    return EncodedConversation([ids(*t) for t in turns], texts or [hash(t) for t in turns], split, 0, repeats)


def test_consecutive_turns_become_pairs():
    samples, report = build_samples([conversation((5, 6), (7,), (8, 9))], SamplesConfig())
    assert [samples.question(i).tolist() for i in range(len(samples))] == [[5, 6], [7]]
    assert [samples.answer(i).tolist() for i in range(len(samples))] == [[7], [8, 9]]
    assert report.candidates == 2


def test_context_window_joins_previous_turns_with_eos():
    samples, _ = build_samples([conversation((5,), (6,), (7,), (8,))], SamplesConfig(context_turns=2))
    assert samples.question(2).tolist() == [5, EOS, 6, EOS, 7]
    assert samples.question(0).tolist() == [5]


def test_truncation_keeps_end_of_question_and_start_of_answer():
    config = SamplesConfig(max_question_length=2, max_answer_length=3)
    samples, report = build_samples([conversation((5, 6, 7, 8), (9, 10, 11, 12))], config)
    assert samples.question(0).tolist() == [7, 8] and samples.answer(0).tolist() == [9, 10, 11]
    assert (report.truncated_questions, report.truncated_answers) == (1, 1)
    assert report.question_lengths == [4]


def test_drop_policy_and_filters_count_reasons():
    config = SamplesConfig(max_question_length=3, max_answer_length=3, length_policy="drop", max_unk_ratio=0.5)
    samples, report = build_samples([
        conversation((5,), (), (6,)),                      # two empty-side pairs
        conversation((5, 5, 5, 5), (6,)),                  # too long
        conversation((5,), (UNK, UNK, 6)),                 # mostly <unk>
        conversation((5,), (UNK, 6)),                      # half <unk>: kept
        conversation((5,), (UNK, 6)),                      # exact duplicate
    ], config)
    assert dict(report.dropped) == {"empty": 2, "too_long": 1, "unk_answer": 1, "duplicate": 1}
    assert len(samples) == 1 and samples.answer(0).tolist() == [UNK, 6]
    kept, _ = build_samples([conversation((5,), (6,)), conversation((5,), (6,))], SamplesConfig(drop_duplicates=False))
    assert len(kept) == 2


def test_duplicates_are_judged_on_text_not_on_ids():
    same_ids_other_text = [conversation((5,), (UNK,), texts=[1, 2]), conversation((5,), (UNK,), texts=[1, 3])]
    samples, report = build_samples(same_ids_other_text, SamplesConfig(max_unk_ratio=1.0))
    assert len(samples) == 2 and report.dropped["duplicate"] == 0


def test_a_question_with_several_answers_keeps_them_all():
    samples, report = build_samples([conversation((5,), (6,)), conversation((5,), (7,))], SamplesConfig())
    assert len(samples) == 2 and report.dropped["duplicate"] == 0


def test_repeats_weight_training_conversations():
    samples, _ = build_samples([conversation((5,), (6,), repeats=3), conversation((7,), (8,), repeats=0)],
                               SamplesConfig())
    assert len(samples) == 3 and set(samples.conversation.tolist()) == {0}


def test_save_load_round_trip_and_id_bounds(tmp_path):
    samples, _ = build_samples([conversation((5, 6), (7,), split=VALID), conversation((8,), (9, 4))],
                               SamplesConfig(), {"fingerprint": "abc"})
    samples.save(tmp_path / "s.npz")
    again = Samples.load(tmp_path / "s.npz", vocab_size=10)
    assert again.meta["fingerprint"] == "abc"
    assert again.of_split("valid").question(0).tolist() == [5, 6]
    assert again.of_split("train").answer(0).tolist() == [9, 4]
    assert again.question_lengths.tolist() == [2, 1]
    with pytest.raises(DatasetError, match="outside the vocabulary of 8"):
        Samples.load(tmp_path / "s.npz", vocab_size=8)
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(DatasetError, match="not a deepqa samples file"):
        Samples.load(tmp_path / "bad.npz")


def test_split_is_deterministic_and_follows_the_fractions():
    keys = [f"conversation {i}" for i in range(20_000)]
    first = [assign_split(k, 0.1, 0.2, seed=7) for k in keys]
    assert first == [assign_split(k, 0.1, 0.2, seed=7) for k in reversed(keys)][::-1]
    shares = np.bincount(first, minlength=3) / len(keys)
    assert shares[VALID] == pytest.approx(0.1, abs=0.01) and shares[TEST] == pytest.approx(0.2, abs=0.01)
    assert first != [assign_split(k, 0.1, 0.2, seed=8) for k in keys]
    assert all(assign_split(k, 0.0, 0.0, seed=1) == TRAIN for k in keys[:100])


def test_split_key_groups_a_questions_answers():
    assert split_key(["hi", "hello"]) == split_key(["hi", "hey there"])
    assert split_key(["hi", "hello", "bye"]) != split_key(["hi", "hello", "later"])


def test_the_words_behind_answer_unk_ids_are_kept_cut_with_the_answer_saved_and_selected(tmp_path):
    conversations = [
        EncodedConversation([ids(5), ids(UNK, 6, UNK, UNK)], [1, 2], TRAIN, 0, 1, [[], ["zorblax", "quux", "wibble"]]),
        EncodedConversation([ids(UNK), ids(7, UNK)], [3, 4], TEST, 0, 1, [["hmm"], ["flarp"]]),
    ]
    samples, _ = build_samples(conversations, SamplesConfig(max_answer_length=3, max_unk_ratio=1.0))
    assert samples.answer_words(0) == ["zorblax", "quux"]  # the answer kept its first 3 ids, 2 of them <unk>
    assert samples.answer_words(1) == ["flarp"]
    samples.save(tmp_path / "s.npz")
    again = Samples.load(tmp_path / "s.npz", vocab_size=10)
    assert [again.answer_words(i) for i in range(2)] == [["zorblax", "quux"], ["flarp"]]
    assert again.of_split("test").answer_words(0) == ["flarp"]
    # Files made before the words were kept load without them.
    without, _ = build_samples([conversation((5,), (UNK, 6))], SamplesConfig())
    without.save(tmp_path / "old.npz")
    assert Samples.load(tmp_path / "old.npz").answer_words(0) is None
    # Words that do not match the <unk> ids are refused.
    broken = again.select(np.arange(2))
    broken.answer_unknown = WordList.of(["zorblax"])
    broken.save(tmp_path / "broken.npz")
    with pytest.raises(DatasetError, match="1 unknown words for 3 <unk> ids"):
        Samples.load(tmp_path / "broken.npz")
