"""Vocabulary: fixed special ids, OOV mapping, bounds on ids, size limits, determinism, save/load."""

from collections import Counter

import numpy as np
import pytest

from deepqa.errors import DatasetError
from deepqa.data.vocab import EOS, GO, PAD, SPECIAL_TOKENS, UNK, Vocabulary

COUNTS = Counter({"hello": 5, "world": 3, "b": 2, "a": 2, "rare": 1})


def test_special_ids_are_fixed():
    vocab = Vocabulary.build(COUNTS)
    assert (PAD, GO, EOS, UNK) == (0, 1, 2, 3)
    assert [vocab.word2id[t] for t in SPECIAL_TOKENS] == [0, 1, 2, 3]
    assert vocab.id2word[4:] == ["hello", "world", "a", "b", "rare"]  # by count, ties by token


def test_min_count_and_max_size():
    assert Vocabulary.build(COUNTS, min_count=2).id2word[4:] == ["hello", "world", "a", "b"]
    assert len(Vocabulary.build(COUNTS, max_size=6)) == 6
    assert Vocabulary.build(Counter({"<unk>": 9, "x": 1})).id2word == list(SPECIAL_TOKENS) + ["x"]


def test_oov_maps_to_unk_and_no_id_escapes_the_table():
    vocab = Vocabulary.build(COUNTS, min_count=2)
    ids = vocab.encode(["hello", "never-seen", "rare", ""])
    assert ids.tolist() == [4, UNK, UNK, UNK]
    assert ids.dtype == np.int32 and ids.min() >= 0 and ids.max() < len(vocab)
    assert vocab.decode([4, -1, 10_000, PAD, GO, 5, EOS, 4]) == ["hello", "<unk>", "<unk>", "world"]
    assert vocab.decode([4, EOS, 5], skip_special=False) == ["hello", "<eos>", "world"]


def test_decode_shows_the_words_behind_unk_in_order_and_unk_where_none_is_left():
    vocab = Vocabulary.build(COUNTS, min_count=2)
    tokens = vocab.decode([UNK, 4, UNK, -1, UNK], unknown_words=["zorblax", "quux"])
    assert tokens == ["zorblax", "hello", "quux", "<unk>", "<unk>"]  # an id out of range is no <unk> of the text


def test_coverage():
    vocab = Vocabulary.build(COUNTS, min_count=2)
    assert vocab.coverage(COUNTS) == pytest.approx(12 / 13)
    assert vocab.coverage(Counter()) == 1.0


def test_save_load_round_trip_and_bad_files(tmp_path):
    vocab = Vocabulary.build(COUNTS)
    vocab.save(tmp_path / "vocab.json", tokenizer="word")
    again = Vocabulary.load(tmp_path / "vocab.json")
    assert again.id2word == vocab.id2word and again.fingerprint == vocab.fingerprint
    (tmp_path / "bad.json").write_text('{"id2word": ["a", "b"]}')
    with pytest.raises(DatasetError, match="must start with"):
        Vocabulary.load(tmp_path / "bad.json")
    with pytest.raises(DatasetError, match="does not exist"):
        Vocabulary.load(tmp_path / "none.json")
    with pytest.raises(DatasetError, match="twice"):
        Vocabulary(list(SPECIAL_TOKENS) + ["x", "x"])
