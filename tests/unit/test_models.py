"""Every model type: output shapes, cached decoding equal to the full decoder, save/load, embeddings."""

import numpy as np
import pytest

from deepqa.errors import ConfigError
from deepqa.models import MODELS, build_model
from deepqa.models.embeddings import load_pretrained_embeddings
from deepqa.data.vocab import Vocabulary
from tests.conftest import TINY_MODEL, make_config

VARIANTS = [
    ("lstm", ()),
    ("lstm", ("lstm.bidirectional=false", "lstm.attention=bahdanau", "lstm.layers=2", "model.share_embedding=false")),
    ("lstm", ("lstm.tie_output_embedding=true", "model.share_embedding=false")),
    ("gru", ()),
    ("gru", ("lstm.attention=bahdanau", "lstm.tie_output_embedding=true")),
    ("transformer", ()),
    ("transformer", ("transformer.tie_output_embedding=false", "model.share_embedding=false",
                     "transformer.decoder_layers=2")),
]
VOCAB = 30
ENCODER = np.array([[5, 6, 7, 0, 0, 0], [8, 9, 10, 11, 12, 13]], "int32")
DECODER = np.array([[1, 5, 6, 0, 0, 0], [1, 7, 8, 9, 10, 11]], "int32")


def tiny(model_type, extra=()):
    config = make_config(*TINY_MODEL, f"model.type={model_type}", "samples.max_question_length=6",
                         "samples.max_answer_length=5", *extra)
    return build_model(config, VOCAB), config


def test_registry():
    assert set(MODELS.names()) == {"lstm", "gru", "transformer"}


@pytest.mark.parametrize("model_type, extra", VARIANTS)
def test_shapes_and_cached_decoding_match_the_full_decoder(model_type, extra):
    model, _ = tiny(model_type, extra)
    logits = np.asarray(model({"encoder_ids": ENCODER, "decoder_ids": DECODER}))
    assert logits.shape == (2, 6, VOCAB) and logits.dtype == np.float32
    state = model.encode(ENCODER, 6)
    for index in range(6):
        step_logits, state = model.decode_step(DECODER[:, index], state, index)
        # Row 0 is padded after 3 tokens: compare where the decoder input is real.
        rows = [0, 1] if index < 3 else [1]
        np.testing.assert_allclose(np.asarray(step_logits)[rows], logits[rows, index], atol=1e-5)
    weights, biases = model.output_weights()
    assert tuple(weights.shape) == (VOCAB, model.features({"encoder_ids": ENCODER, "decoder_ids": DECODER}).shape[-1])
    assert tuple(biases.shape) == (VOCAB,)


@pytest.mark.parametrize("model_type", ["lstm", "transformer"])
def test_padding_does_not_change_the_outputs(model_type):
    model, _ = tiny(model_type)
    short = model({"encoder_ids": ENCODER[:1, :3], "decoder_ids": DECODER[:1, :3]})
    padded = model({"encoder_ids": ENCODER[:1], "decoder_ids": DECODER[:1]})
    np.testing.assert_allclose(np.asarray(short), np.asarray(padded)[:, :3], atol=1e-5)


@pytest.mark.parametrize("model_type", ["gru", "transformer"])
def test_save_and_load_give_identical_outputs(tmp_path, model_type):
    model, config = tiny(model_type)
    model.save_weights(tmp_path / "m.weights.h5")
    again = build_model(config, VOCAB)
    again.load_weights(tmp_path / "m.weights.h5")
    inputs = {"encoder_ids": ENCODER, "decoder_ids": DECODER}
    np.testing.assert_array_equal(np.asarray(model(inputs)), np.asarray(again(inputs)))


@pytest.mark.parametrize("model_type", ["lstm", "gru"])
def test_a_tied_recurrent_model_projects_through_its_decoder_embedding(tmp_path, model_type):
    model, config = tiny(model_type, ("lstm.tie_output_embedding=true", "model.share_embedding=false"))
    inputs = {"encoder_ids": ENCODER, "decoder_ids": DECODER}
    model.save_weights(tmp_path / "m.weights.h5")
    again = build_model(config, VOCAB)
    again.load_weights(tmp_path / "m.weights.h5")
    np.testing.assert_array_equal(np.asarray(model(inputs)), np.asarray(again(inputs)))
    model.output_bias().assign(np.arange(VOCAB, dtype=np.float32))
    embedding = model.decoder_embedding.embeddings
    embedding.assign(np.zeros(embedding.shape, np.float32))
    # With a zero embedding every logit is the output bias alone: nothing else projects the features.
    np.testing.assert_allclose(np.asarray(model.project(model.features(inputs)))[0, 0], np.arange(VOCAB))


def test_transformer_width_must_divide_into_heads():
    with pytest.raises(ConfigError, match="must divide"):
        tiny("transformer", ("model.embedding_dim=10", "transformer.heads=4"))


@pytest.mark.parametrize("suffix", [".txt", ".bin"])
def test_pretrained_word2vec_rows_are_loaded(tmp_path, suffix):
    model, _ = tiny("lstm")
    vocabulary = Vocabulary(["<pad>", "<go>", "<eos>", "<unk>", "hello", "world"] + [f"w{i}" for i in range(24)])
    vectors = {"hello": np.arange(8, dtype=np.float32), "absent": np.ones(8, dtype=np.float32)}
    path = tmp_path / f"vectors{suffix}"
    if suffix == ".txt":
        path.write_text("2 8\n" + "".join(f"{w} {' '.join(map(str, v))}\n" for w, v in vectors.items()))
    else:
        path.write_bytes(b"2 8\n" + b"".join(w.encode() + b" " + v.tobytes() + b"\n" for w, v in vectors.items()))
    before = np.asarray(model.embedding_tables()[0]).copy()
    assert load_pretrained_embeddings(str(path), vocabulary, model.embedding_tables()) == 1
    after = np.asarray(model.embedding_tables()[0])
    np.testing.assert_array_equal(after[4], np.arange(8))
    np.testing.assert_array_equal(after[5], before[5])
    bad = tmp_path / "bad.txt"
    bad.write_text("hello 1 2 3\n")
    with pytest.raises(ConfigError, match="embedding_dim is 8"):
        load_pretrained_embeddings(str(bad), vocabulary, model.embedding_tables())
