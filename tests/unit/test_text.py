"""Normalization and every tokenizer's round trip within its documented normalization."""

import pytest

from deepqa.config import TokenizerConfig
from deepqa.errors import ConfigError
from deepqa.data.text import TOKENIZERS, build_tokenizer, normalize
from deepqa.data.text.english import sentence_case

ENGLISH = [
    "Hello, how are you?",
    "I don't know; it's 3.14 o'clock!",
    'He said "hi there" (twice) and left...',
    "Well-known U.S. policy, e.g. taxes: 1,000.5 dollars.",
    "We'll see, won't we? They've gone.",
]
CHINESE = ["你好,最近怎么样?", "我爱Python编程,你呢?", "为什么听一面之辞就相信?只有当事人才能知道吧。"]


def tokenizer(kind, **settings):
    return build_tokenizer(TokenizerConfig(type=kind, **settings))


def test_normalization_is_nfkc_spaces_and_cjk_aware():
    assert normalize("为 什 么 听 ？ 只 有") == "为什么听?只有"
    assert normalize("  Hello,\t\r\n “World”…\u200b ") == 'Hello, "World"...'
    assert normalize("I love Python 编程 ok") == "I love Python编程ok"
    assert normalize("ＡＢＣ Don’t", lowercase=True) == "abc don't"


@pytest.mark.parametrize("kind", ["word", "mixed", "char"])
@pytest.mark.parametrize("text", ENGLISH)
def test_english_round_trip_exact_without_lowercasing(kind, text):
    tk = tokenizer(kind, lowercase=False)
    assert tk.detokenize(tk.tokenize(text)) == text


@pytest.mark.parametrize("kind", ["word", "mixed", "char"])
def test_lowercasing_round_trip_restores_sentence_case(kind):
    tk = tokenizer(kind, lowercase=True)
    text = "I think so. Do you? I'm not sure, but i'll try!"
    tokens = tk.tokenize(text)
    assert all(token == token.lower() for token in tokens)
    assert tk.detokenize(tokens) == sentence_case(normalize(text, lowercase=True))
    assert tk.detokenize(tokens) == "I think so. Do you? I'm not sure, but I'll try!"


def test_word_tokenizer_splits_contractions_and_punctuation():
    assert tokenizer("word").tokenize("Don't stop, it's fine!") == ["do", "n't", "stop", ",", "it", "'s", "fine", "!"]


@pytest.mark.parametrize("kind", ["jieba", "mixed", "char"])
@pytest.mark.parametrize("text", CHINESE)
def test_chinese_round_trip(kind, text):
    tk = tokenizer(kind, lowercase=False)
    assert tk.detokenize(tk.tokenize(text)) == text


def test_chinese_segmentation_granularity():
    assert tokenizer("char").tokenize("你好吗") == ["你", "好", "吗"]
    words = tokenizer("jieba").tokenize("我们今天去北京大学")
    assert "北京大学" in words and "".join(words) == "我们今天去北京大学"
    assert tokenizer("mixed").tokenize("我爱Python, don't you?")[:4] == ["我", "爱", "python", ","]


def test_jieba_user_dictionary_is_used_and_saved(tmp_path):
    text = "深度问答机器人"
    assert "深度问答机器人" not in tokenizer("jieba").tokenize(text)
    user_dict = tmp_path / "words.txt"
    user_dict.write_text("深度问答机器人 100000 n\n", encoding="utf-8")
    tk = tokenizer("jieba", user_dict=str(user_dict))
    assert tk.tokenize(text) == ["深度问答机器人"]
    (tmp_path / "out").mkdir()
    tk.save(tmp_path / "out")
    reloaded = build_tokenizer(TokenizerConfig(type="jieba", user_dict="/moved/away.txt"), tmp_path / "out")
    assert reloaded.tokenize(text) == ["深度问答机器人"]
    with pytest.raises(ConfigError, match="user_dict"):
        tokenizer("jieba", user_dict=str(tmp_path / "missing.txt"))


@pytest.mark.parametrize("model_type", ["unigram", "bpe"])
def test_sentencepiece_trains_saves_and_round_trips(tmp_path, model_type):
    config = TokenizerConfig(type="sentencepiece", sp_model_type=model_type, sp_vocab_size=120, lowercase=False,
                             sp_character_coverage=1.0)
    tk = build_tokenizer(config)
    corpus = [normalize(t) for t in ENGLISH * 20 + CHINESE * 20]
    tk.fit(corpus, tmp_path)
    assert (tmp_path / "tokenizer.model").is_file()
    reloaded = build_tokenizer(config, tmp_path)
    for text in ENGLISH[:2] + CHINESE:
        pieces = reloaded.tokenize(text)
        assert len(pieces) > 1
        assert reloaded.detokenize(pieces) == normalize(text)


def test_sentencepiece_that_cannot_fit_is_a_clear_error(tmp_path):
    tk = build_tokenizer(TokenizerConfig(type="sentencepiece", sp_vocab_size=10, sp_character_coverage=1.0))
    with pytest.raises(ConfigError, match="sp_vocab_size"):
        tk.fit([normalize(t) for t in CHINESE * 5], tmp_path)


def test_registry_lists_every_tokenizer():
    build_tokenizer(TokenizerConfig())
    assert set(TOKENIZERS.names()) == {"word", "jieba", "char", "mixed", "sentencepiece"}


def test_only_slow_tokenizers_of_large_corpora_use_several_processes():
    from deepqa.data.text.batch import PARALLEL_THRESHOLD, choose_workers, split_texts

    assert choose_workers(0, PARALLEL_THRESHOLD * 2, tokenizer("word")) == 1
    assert choose_workers(0, 10, tokenizer("jieba")) == 1
    assert choose_workers(3, 10, tokenizer("word")) == 3
    texts = [normalize(t) for t in CHINESE * 3000]
    jieba = tokenizer("jieba")
    assert split_texts(jieba, texts, workers=2) == [jieba.split(t) for t in texts]
