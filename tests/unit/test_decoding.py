"""Decoding: cached equals uncached greedy, beam width 1 equals greedy, n-best sorted, beam search stops
once settled, sampling knobs, no special tokens in replies, option checks, and one trace for any batch."""

import numpy as np
import pytest

from deepqa.config import DecodeConfig, with_values
from deepqa.inference.decoding import Decoder, checked_options
from deepqa.errors import ConfigError
from deepqa.models import build_model
from deepqa.data.vocab import EOS, GO, PAD, UNK
from tests.conftest import TINY_MODEL, make_config

VOCAB = 40
ENCODER = np.array([[5, 6, 7, 0, 0, 0], [8, 9, 10, 11, 12, 13], [14, 15, 0, 0, 0, 0]], "int32")
GREEDY = DecodeConfig(strategy="greedy", no_repeat_ngram_size=0, repetition_penalty=1.0, allow_unk=True, min_length=0)


@pytest.fixture(scope="module", params=["lstm", "transformer"])
def model(request):
    import keras

    keras.utils.set_random_seed(1)  # the same weights whatever ran before: no near-tie decides a test by chance
    config = make_config(*TINY_MODEL, f"model.type={request.param}", "samples.max_question_length=6",
                         "samples.max_answer_length=7")
    return build_model(config, VOCAB)


def naive_greedy(model, encoder_ids, max_length):
    """Re-run the whole decoder over the prefix at every step: the uncached reference."""
    prefix = np.full((len(encoder_ids), 1), GO, dtype=np.int32)
    for _ in range(max_length):
        logits = np.array(model({"encoder_ids": encoder_ids, "decoder_ids": prefix}))[:, -1]
        logits[:, [PAD, GO]] = -np.inf
        prefix = np.concatenate([prefix, logits.argmax(-1)[:, None].astype(np.int32)], axis=1)
    rows = []
    for row in prefix[:, 1:].tolist():
        rows.append(row[:row.index(EOS)] if EOS in row else row)
    return rows


def test_cached_greedy_equals_uncached_greedy(model):
    decoder = Decoder(model, 8)
    cached = [group[0].ids for group in decoder.generate(ENCODER, GREEDY)]
    assert cached == naive_greedy(model, ENCODER, 8)


def test_beam_width_one_equals_greedy_and_n_best_is_sorted(model):
    decoder = Decoder(model, 8)
    greedy = decoder.generate(ENCODER, GREEDY)
    beam_one = decoder.generate(ENCODER, with_values("decode", GREEDY, {"strategy": "beam", "beam_width": 1}))
    assert [g[0].ids for g in greedy] == [b[0].ids for b in beam_one]
    n_best = decoder.generate(ENCODER, with_values("decode", GREEDY, {"strategy": "beam", "beam_width": 5,
                                                                      "num_answers": 4}))
    for group in n_best:
        scores = [h.score for h in group]
        assert len(group) == 4 and scores == sorted(scores, reverse=True)
        assert len({tuple(h.ids) for h in group}) == 4


def test_replies_never_hold_special_tokens_and_respect_lengths(model):
    decoder = Decoder(model, 8)
    options = DecodeConfig(strategy="sample", temperature=5.0, num_answers=3, seed=3, min_length=4, max_length=6)
    for group in decoder.generate(ENCODER, options):
        for hypothesis in group:
            assert not {PAD, GO, EOS, UNK} & set(hypothesis.ids)
            assert 4 <= len(hypothesis.ids) <= 6


def test_sampling_knobs(model):
    decoder = Decoder(model, 8)
    same = [decoder.generate(ENCODER, DecodeConfig(strategy="sample", seed=7))[0][0].ids for _ in range(2)]
    assert same[0] == same[1]
    top1 = decoder.generate(ENCODER, with_values("decode", GREEDY, {"strategy": "sample", "top_k": 1, "seed": 1}))
    assert [g[0].ids for g in top1] == [g[0].ids for g in decoder.generate(ENCODER, GREEDY)]
    nucleus = decoder.generate(ENCODER, with_values("decode", GREEDY, {"strategy": "sample", "top_p": 0.01, "seed": 2}))
    assert [g[0].ids for g in nucleus] == [g[0].ids for g in decoder.generate(ENCODER, GREEDY)]
    no_repeat = decoder.generate(ENCODER, DecodeConfig(strategy="greedy", no_repeat_ngram_size=1, min_length=8))
    for group in no_repeat:
        assert len(set(group[0].ids)) == len(group[0].ids)


def test_one_trace_serves_every_batch_and_length(model):
    decoder = Decoder(model, 8)
    decoder.generate(ENCODER, GREEDY)
    decoder.generate(ENCODER[:1, :2], GREEDY)
    decoder.generate(np.tile(ENCODER, (3, 1)), with_values("decode", GREEDY, {"strategy": "beam"}))
    decoder.generate(ENCODER, with_values("decode", GREEDY, {"strategy": "sample", "temperature": 0.3, "top_k": 3}))
    assert decoder._sample.experimental_get_tracing_count() == 1
    assert [f.experimental_get_tracing_count() for f in decoder._beams.values()] == [1]


def test_option_checks():
    with pytest.raises(ConfigError, match="must not exceed beam_width"):
        DecodeConfig().replace(strategy="beam", beam_width=2, num_answers=3)
    assert checked_options(DecodeConfig(max_length=0), 10).max_length == 10
    assert checked_options(DecodeConfig(max_length=50), 10).max_length == 10
    with pytest.raises(ConfigError, match="top_p"):
        with_values("decode", DecodeConfig(), {"top_p": 0})
    with pytest.raises(ConfigError, match="unknown decoding strategy 'best'"):
        with_values("decode", DecodeConfig(), {"strategy": "best"})
    with pytest.raises(ConfigError, match="beam_width = '4'.*valid integer"):
        with_values("decode", DecodeConfig(), {"beam_width": "4"})
    with pytest.raises(ConfigError, match="unknown key 'beam'"):
        with_values("decode", DecodeConfig(), {"beam": 4})


def test_beam_settles_a_question_once_no_live_hypothesis_can_beat_its_ended_ones():
    import tensorflow as tf

    from deepqa.inference.decoding import beam_settled

    # Width 2, three questions, every hypothesis 3 tokens long, at most 10: an ended sum of -2 scores
    # -2 / ((5 + 4) / 6) = -1.33; a live sum s can still reach s / ((5 + 10) / 6) = s / 2.5.
    sums = tf.constant([-2.0, -6.0, -2.0, -3.0, -1.0, -2.0])
    lengths = tf.fill([6], 3)
    done = tf.constant([True, False, True, False, False, False])

    def settled(num_answers=1, length_penalty=1.0):
        return beam_settled(sums, lengths, done, 2, tf.constant(num_answers), tf.constant(10),
                            tf.constant(length_penalty)).numpy().tolist()

    assert settled() == [True, False, False]  # -6 / 2.5 < -1.33 < -3 / 2.5; nothing ended in the third
    assert settled(num_answers=2) == [False, False, False]  # a second answer is still being decoded
    assert settled(length_penalty=0.0) == [True, True, False]  # without the length bonus -3 cannot beat -2


@pytest.mark.parametrize("size, banned", [(1, {5, 6, 7}), (2, {7}), (3, {7}), (4, set()), (0, set())])
def test_no_repeat_ngram_bans_exactly_the_completing_tokens(size, banned):
    import tensorflow as tf

    from deepqa.inference.logit_shaping import NEG_INF, history_adjustments

    history = tf.constant([[5, 6, 7, 5, 6, 0, 0, 0]], tf.int32)  # five tokens generated so far
    adjustments = history_adjustments(history, tf.constant(5), tf.constant(1.0), tf.constant(size), 10).numpy()[0]
    assert set(np.flatnonzero(adjustments <= NEG_INF).tolist()) == banned
    assert set(np.flatnonzero(adjustments).tolist()) == banned


def test_repetition_penalty_lowers_only_generated_tokens():
    import tensorflow as tf

    from deepqa.inference.logit_shaping import NEG_INF, history_adjustments

    history = tf.constant([[5, 6, 7, 9, 0], [4, 8, 0, 0, 0]], tf.int32)
    adjustments = history_adjustments(history, tf.constant(3), tf.constant(2.0), tf.constant(2), 10).numpy()
    expected = np.zeros((2, 10), np.float32)
    expected[0, [5, 6, 7]] = -np.log(2.0)  # 9 lies beyond the three tokens generated so far
    expected[1, [0, 4, 8]] = -np.log(2.0)  # a row that ended early: <pad> stands for nothing and is banned anyway
    np.testing.assert_allclose(adjustments, expected, rtol=1e-6)
    history = tf.constant([[5, 6, 5, 0]], tf.int32)
    adjustments = history_adjustments(history, tf.constant(3), tf.constant(2.0), tf.constant(2), 10).numpy()[0]
    assert adjustments[6] <= NEG_INF and adjustments[5] == pytest.approx(-np.log(2.0))


def test_sampling_restriction_keeps_top_k_and_nucleus():
    import tensorflow as tf

    from deepqa.inference.logit_shaping import NEG_INF, restrict_for_sampling

    scores = tf.math.log(tf.constant([[0.5, 0.3, 0.15, 0.05]]))
    kept = lambda k, p: (restrict_for_sampling(scores, 1.0, k, p).numpy()[0] > NEG_INF / 2).tolist()
    assert kept(2, 1.0) == [True, True, False, False]
    assert kept(0, 0.7) == [True, True, False, False]
    assert kept(0, 0.5) == [True, False, False, False]
    assert kept(0, 1.0) == [True, True, True, True]


def test_xla_compiled_generation_gives_the_same_replies(model):
    plain, compiled = Decoder(model, 8), Decoder(model, 8, xla=True)
    for options in (GREEDY, with_values("decode", GREEDY, {"strategy": "beam", "beam_width": 3, "num_answers": 2})):
        expected = [[h.ids for h in group] for group in plain.generate(ENCODER, options)]
        assert [[h.ids for h in group] for group in compiled.generate(ENCODER, options)] == expected
