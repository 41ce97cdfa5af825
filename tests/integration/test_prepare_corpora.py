"""`deepqa prepare` on the real corpora: the shared copies and the two installed corpus packages."""

import numpy as np
import pytest

from deepqa.data.dataset import Dataset
from deepqa.data.prepare import prepare
from tests.conftest import make_config

pytestmark = pytest.mark.integration


def decoded_answers(dataset, count=50):
    return [dataset.tokenizer.detokenize(dataset.vocabulary.decode(dataset.samples.answer(i))) for i in range(count)]


def test_cornell_sample_as_released(shared_datasets, tmp_path):
    stats = prepare(make_config("corpus.format=cornell", f"corpus.path={shared_datasets / 'cornell-sample'}"), tmp_path)
    assert stats["conversations"] == 7943
    assert stats["pairs"]["candidates"] == 20401
    assert stats["sources"]["corpus"]["skipped"] == 0
    dataset = Dataset.load(tmp_path)
    assert stats["pairs"]["kept"] == len(dataset.samples) > 19000
    assert stats["vocabulary"]["coverage"]["valid"] > 0.9
    assert any(answer[:1].isupper() for answer in decoded_answers(dataset))


def test_dgk_conv_with_jieba(shared_datasets, tmp_path):
    config = make_config("corpus.format=conv", f"corpus.path={shared_datasets / 'dgk-conv'}", "tokenizer.type=jieba")
    stats = prepare(config, tmp_path)
    assert stats["conversations"] == 51339 and stats["turns"] == 267396
    assert stats["pairs"]["candidates"] == 216057
    dataset = Dataset.load(tmp_path)
    assert "我们" in dataset.vocabulary and "我" in dataset.vocabulary
    assert not any(" " in answer.strip() for answer in decoded_answers(dataset) if answer.isascii() is False
                   and all(not c.isascii() for c in answer))


def test_lccc_toy_spaced_characters(shared_datasets, tmp_path):
    config = make_config("corpus.format=pairs", f"corpus.path={shared_datasets / 'lccc-toy' / 'toy_*.txt'}",
                         "tokenizer.type=char")
    stats = prepare(config, tmp_path)
    assert stats["conversations"] == 12000 and stats["sources"]["corpus"]["skipped"] == 0
    dataset = Dataset.load(tmp_path)
    lengths = dataset.samples.question_lengths
    assert np.median(lengths) > 5  # characters, not whole spaced-out lines
    assert all(len(token) == 1 for token in dataset.vocabulary.id2word[4:200] if not token.isascii())


def test_chitchat_package_the_default_corpus(tmp_path):
    stats = prepare(make_config(), tmp_path)
    assert stats["conversations"] == 7168 and stats["pairs"]["candidates"] > 130000
    assert stats["pairs"]["kept"] > 125000 and stats["vocabulary"]["coverage"]["test"] > 0.95
    dataset = Dataset.load(tmp_path)
    assert dataset.config.corpus.format == "chitchat"


@pytest.mark.parametrize("language, tokenizer, minimum", [("english", "word", 1000), ("chinese", "mixed", 400)])
def test_chatterbot_package(tmp_path, language, tokenizer, minimum):
    config = make_config("corpus.format=chatterbot", f"corpus.language={language}", f"tokenizer.type={tokenizer}")
    stats = prepare(config, tmp_path)
    assert stats["pairs"]["kept"] > minimum


def test_blend_of_a_domain_corpus_and_a_general_one(shared_datasets, tmp_path):
    config = make_config("corpus.sources=movies:2, chat:0.25",
                         "source:movies.format=cornell", f"source:movies.path={shared_datasets / 'cornell-sample'}",
                         "source:chat.format=chatterbot", "source:chat.language=english")
    stats = prepare(config, tmp_path)
    movies, chat = stats["sources"]["movies"], stats["sources"]["chat"]
    assert movies["conversations"] == 7943 and movies["train_samples"] > 30000
    assert 0 < chat["train_samples"] < 1000
