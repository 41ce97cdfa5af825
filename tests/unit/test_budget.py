"""The parameter estimate equals the built model's count, for every architecture and option."""

import pytest

from deepqa.models import build_model
from deepqa.train.budget import estimate_memory_mb, estimate_parameters
from tests.conftest import make_config

VARIANTS = [
    ("lstm", ()),
    ("gru", ("lstm.layers=2",)),
    ("lstm", ("lstm.bidirectional=false", "lstm.attention=bahdanau", "model.share_embedding=false", "lstm.layers=3")),
    ("gru", ("lstm.attention=bahdanau", "lstm.bidirectional=false")),
    ("lstm", ("lstm.tie_output_embedding=true",)),
    ("gru", ("lstm.tie_output_embedding=true", "model.share_embedding=false", "lstm.bidirectional=false")),
    ("transformer", ()),
    ("transformer", ("model.share_embedding=false", "transformer.tie_output_embedding=false",
                     "transformer.encoder_layers=3")),
]


@pytest.mark.parametrize("model_type, extra", VARIANTS)
def test_estimate_is_exact(model_type, extra):
    config = make_config(f"model.type={model_type}", "model.embedding_dim=16", "lstm.units=12", "lstm.layers=2",
                         "transformer.heads=2", "transformer.feedforward_dim=24", *extra)
    assert estimate_parameters(config, 50) == build_model(config, 50).count_params()


def test_memory_grows_with_batch_and_vocabulary():
    small = make_config("train.batch_size=8")
    large = make_config("train.batch_size=256")
    assert estimate_memory_mb(large, 20000) > estimate_memory_mb(small, 20000) > estimate_memory_mb(small, 100)
    sampled = make_config("train.batch_size=256", "train.sampled_softmax=512")
    assert estimate_memory_mb(sampled, 20000) < estimate_memory_mb(large, 20000)
