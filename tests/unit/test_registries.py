"""Registries own their components: a toy decoding strategy and a toy model, registered from this file
alone, are accepted by the config, the tuner's search space, the budget, the API and its OpenAPI document."""

import keras
import keras_tuner as kt
import pytest
from keras import ops

from deepqa.config import load_config
from deepqa.errors import ConfigError
from deepqa.inference.chatbot import Chatbot
from deepqa.inference.strategies import Strategy
from deepqa.models import Seq2Seq, build_model
from deepqa.registry import MODELS, STRATEGIES, Registry
from deepqa.settings import Settings, setting
from deepqa.train.budget import estimate_parameters
from deepqa.train.tuning import DeepQAHyperModel
from serve.app import create_app
from serve.openapi import openapi_document
from tests.conftest import PROJECT_ROOT, make_config


class ToySettings(Settings):
    """The toy model's own section."""

    section = "toy"
    width: int = setting(4, minimum=1, maximum=64)


class ToySeq2Seq(Seq2Seq):
    """A bag-of-words encoder and a decoder that reads one token and the question's mean embedding."""

    @classmethod
    def search_space(cls, hp, tuner):
        return {"toy": {"width": hp.Choice("toy_width", [2, 4])}}

    def __init__(self, vocab_size, model, settings, question_length, decoder_length, **kwargs):
        super().__init__(vocab_size, model, settings, question_length, decoder_length, **kwargs)
        self.embedding = keras.layers.Embedding(vocab_size, settings.width)
        self.output_layer = keras.layers.Dense(vocab_size, dtype="float32")

    def features(self, inputs, training=False):
        question = ops.mean(self.embedding(inputs["encoder_ids"]), axis=1, keepdims=True)
        return self.embedding(inputs["decoder_ids"]) + question

    def project(self, features):
        return self.output_layer(features)

    def output_weights(self):
        return ops.transpose(self.output_layer.kernel), self.output_layer.bias

    def embedding_tables(self):
        return [self.embedding.embeddings]

    def encode(self, encoder_ids, max_length):
        return {"question": ops.mean(self.embedding(encoder_ids), axis=1)}

    def decode_step(self, token_ids, state, index):
        return self.project(self.embedding(token_ids) + state["question"]), state


class EchoFirstAnswer(Strategy):
    """Greedy decoding, registered under another name."""

    @classmethod
    def check(cls, options):
        if options.num_answers != 1:
            raise ValueError("the toy strategy gives one answer")

    @classmethod
    def generate(cls, decoder, encoder_ids, options):
        return decoder.sample(encoder_ids, options, greedy=True)


@pytest.fixture
def toy_components():
    MODELS.register("toy", settings=ToySettings)(ToySeq2Seq)
    STRATEGIES.register("toy_greedy")(EchoFirstAnswer)
    yield
    MODELS.unregister("toy")
    STRATEGIES.unregister("toy_greedy")


def test_a_duplicate_name_is_an_error_and_an_unknown_one_lists_the_accepted():
    registry = Registry("widget", "[x] widget", "deepqa.models")
    registry.register("a")(object)
    with pytest.raises(ConfigError, match="registered twice"):
        registry.register("a")(dict)
    with pytest.raises(ConfigError, match="unknown widget 'b'.*accepted: a"):
        registry.get("b")
    with pytest.raises(ConfigError, match="registered twice"):
        MODELS.register("lstm")(ToySeq2Seq)


def test_a_toy_model_is_accepted_by_config_tuner_and_budget(toy_components):
    config = make_config("model.type=toy", "toy.width=3", "samples.max_question_length=5",
                         "samples.max_answer_length=4")
    assert config.toy.width == 3 and "[toy]" in config.to_ini()
    with pytest.raises(ConfigError, match=r"\[toy\] width = '99'"):
        make_config("model.type=toy", "toy.width=99")
    model = build_model(config, 30)
    assert model.get_config()["settings"] == {"width": 3}
    assert estimate_parameters(config, 30) == model.count_params() == 30 * 3 + 3 * 30 + 30
    hp = kt.HyperParameters()
    tuned = DeepQAHyperModel(make_config("tuner.model_types=toy, lstm")).build(hp)
    assert "toy_width" in hp.values and tuned.model.type in ("toy", "lstm")
    if tuned.model.type == "toy":
        assert tuned.toy.width == hp.values["toy_width"]


def test_a_toy_strategy_is_accepted_by_config_api_and_openapi(toy_components, tiny_run, tmp_path):
    assert make_config("decode.strategy=toy_greedy").decode.strategy == "toy_greedy"
    with pytest.raises(ConfigError, match="one answer"):
        make_config("decode.strategy=toy_greedy", "decode.num_answers=2", "decode.beam_width=4")
    enum = openapi_document()["paths"]["/api/v1/question"]["post"]["requestBody"]["content"]["application/json"][
        "schema"]["properties"]["decoding"]["properties"]["strategy"]["enum"]
    assert "toy_greedy" in enum and "beam" in enum
    bot = Chatbot.load(tiny_run, overrides=[f"serve.database={tmp_path / 'db.sqlite3'}"])
    client = create_app(bot.config, bot).test_client()
    toy = client.post("/api/v1/question", json={"question": "question 3 about 3?",
                                                "decoding": {"strategy": "toy_greedy"}})
    greedy = client.post("/api/v1/question", json={"question": "question 3 about 3?",
                                                   "decoding": {"strategy": "greedy"}})
    assert toy.status_code == 200 and toy.get_json()["answer"] == greedy.get_json()["answer"]
    refused = client.post("/api/v1/question", json={"question": "hi", "decoding": {"strategy": "toy_greedy",
                                                                                  "num_answers": 2}})
    assert refused.status_code == 400 and "one answer" in refused.get_json()["error"]["message"]


def test_without_the_toy_components_their_names_are_refused():
    with pytest.raises(ConfigError, match="unknown model type 'toy'"):
        load_config(PROJECT_ROOT / "config.ini", None, ["model.type=toy"])
