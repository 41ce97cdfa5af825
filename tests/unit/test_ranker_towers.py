"""The bag-of-embeddings towers' options: word pieces (characters of Chinese words, trigrams of others),
one embedding table for both towers, and the moving average of the weights that is validated and kept."""

import numpy as np
import pytest

from deepqa.errors import ConfigError
from deepqa.ranker.pieces import MAX_PIECES, piece_table, pieces_of
from deepqa.ranker.training import averaged_weights, build_ranker
from tests.conftest import make_config

WORDS = ["<pad>", "<go>", "<eos>", "<unk>", "我们", "你们", "hello", "help", "a"]


def test_pieces_are_characters_of_chinese_words_and_marked_trigrams_of_others():
    assert pieces_of("我们") == ["我", "们"]
    assert pieces_of("hello") == ["<he", "hel", "ell", "llo", "lo>"]
    assert pieces_of("a") == ["<a>"]
    table = piece_table(WORDS)
    assert table.shape == (len(WORDS), MAX_PIECES) and not table[:4].any()  # specials have no pieces
    assert table[4, 1] == table[5, 1] != 0  # 我们 and 你们 share 们
    assert table[6, 0] == table[7, 0] and table[6, 1] == table[7, 1]  # hello and help share <he and hel
    assert np.array_equal(piece_table(WORDS), table)  # the same vocabulary, the same table
    assert (piece_table(["<pad>", "<go>", "<eos>", "<unk>", "x" * 40]) > 0).sum() == MAX_PIECES


def test_shared_embedding_and_word_pieces_change_the_towers():
    plain = build_ranker(make_config("ranker.dim=8", "ranker.share_embedding=false", "ranker.word_pieces=false"), WORDS)
    shared = build_ranker(make_config("ranker.dim=8", "ranker.share_embedding=true", "ranker.word_pieces=true"), WORDS)
    assert shared.context_towers[0].embedding is shared.response_towers[0].embedding
    assert shared.context_towers[0].pieces is shared.response_towers[0].pieces
    assert plain.context_towers[0].embedding is not plain.response_towers[0].embedding
    # A word is its own embedding plus the mean of its pieces': changing a piece moves every word that has it.
    tower = shared.context_towers[0]
    before = tower.word_vectors(np.array([[4, 5, 6]])).numpy()
    table = tower.pieces.vectors
    shared_piece = piece_table(WORDS)[4, 1]
    table.assign(table.numpy() + np.eye(table.shape[0], dtype=np.float32)[shared_piece][:, None])
    moved = np.abs(tower.word_vectors(np.array([[4, 5, 6]])).numpy() - before).max(axis=-1)[0]
    assert moved[0] == pytest.approx(0.5) and moved[1] == pytest.approx(0.5) and moved[2] == 0
    with pytest.raises(ConfigError, match="bow encoder"):
        make_config("ranker.encoder=transformer", "ranker.share_embedding=true")


def test_averaged_weights_are_in_the_model_only_within_the_block():
    import keras

    config = make_config("ranker.dim=8", "ranker.average_momentum=0.5")
    model = build_ranker(config, WORDS)
    optimizer = keras.optimizers.Adam(0.1, use_ema=True, ema_momentum=0.5)
    variables = model.trainable_variables
    optimizer.build(variables)
    for step in range(3):
        optimizer.apply_gradients([(np.ones(v.shape, np.float32), v) for v in variables])
    current = [v.numpy().copy() for v in variables]
    with averaged_weights(model, optimizer):
        inside = [v.numpy().copy() for v in variables]
    assert not np.allclose(inside[0], current[0])  # the average lags behind the weights
    assert all(np.array_equal(v.numpy(), c) for v, c in zip(variables, current))  # and training goes on from these
    plain = keras.optimizers.Adam(0.1)
    with averaged_weights(model, plain):
        assert all(np.array_equal(v.numpy(), c) for v, c in zip(variables, current))


def test_an_ensemble_scores_by_the_mean_of_its_members_cosines():
    model = build_ranker(make_config("ranker.dim=8", "ranker.ensemble=3"), WORDS)
    contexts, responses = np.array([[4, 5, 0], [6, 7, 8]]), np.array([[8, 0], [4, 6]])
    joined_contexts, joined_responses = model.contexts(contexts).numpy(), model.responses(responses).numpy()
    assert joined_contexts.shape == (2, 24) and np.allclose(np.linalg.norm(joined_contexts, axis=1), 1.0)
    members = model.member_logits({"context_ids": contexts, "response_ids": responses}).numpy()
    assert members.shape == (3, 2, 2) and not np.allclose(members[0], members[1])  # members start apart
    cosines = joined_contexts @ joined_responses.T
    assert np.allclose(cosines, members.mean(axis=0) * model.temperature, atol=1e-5)
    assert np.allclose(model({"context_ids": contexts, "response_ids": responses}).numpy(), members.mean(axis=0),
                       atol=1e-4)


def test_the_time_limit_cuts_the_epoch_under_way_short_and_keeps_its_validated_weights(tiny_run, tmp_path):
    import json
    import shutil

    from deepqa.data.dataset import Dataset
    from deepqa.files import DATASET_FILE, RANKER_WEIGHTS
    from deepqa.ranker.training import train_ranker

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    dataset = Dataset.load(json.loads((run / DATASET_FILE).read_text())["path"])
    config = make_config("ranker.dim=8", "ranker.batch_size=16", "ranker.epochs=3", "ranker.max_minutes=0.000001",
                         "ranker.ensemble=2")
    metrics = train_ranker(config, dataset, run)
    (cut,) = metrics["history"]
    assert metrics["stopped"] == "time_limit" and cut["batches"] == 1 and (run / RANKER_WEIGHTS).is_file()
    assert 0 <= cut["val_recall_at_1"] <= 1


def test_a_response_tower_makes_the_last_turns_features_once_and_gives_the_same_vectors():
    model = build_ranker(make_config("ranker.dim=8"), WORDS)
    context, response = model.context_towers[0], model.response_towers[0]
    assert response.single_turn and not context.single_turn
    answers = np.array([[4, 6, 7, 0], [8, 0, 0, 0]])  # one turn each: no <eos>
    single = response.features(answers, answers != 0).numpy()
    response.single_turn = False
    assert np.allclose(single, response.features(answers, answers != 0).numpy())
    turns = np.array([[4, 2, 6, 7]])  # two turns: the last turn's features differ from the whole text's
    assert not np.allclose(*np.split(response.features(turns, turns != 0).numpy(), 2, axis=-1))


def test_a_frozen_tower_answers_as_before_from_its_word_table_made_once():
    model = build_ranker(make_config("ranker.dim=8", "ranker.ensemble=2"), WORDS)
    ids = np.array([[4, 5, 6, 0], [7, 8, 2, 4]])
    before = model.contexts(ids).numpy(), model.responses(ids).numpy()
    model.freeze()
    assert np.allclose(model.contexts(ids).numpy(), before[0]) and np.allclose(model.responses(ids).numpy(), before[1])
    pieces = model.context_towers[0].pieces.vectors
    pieces.assign(pieces.numpy() + 1.0)  # a frozen table does not follow the weights any more
    assert np.allclose(model.contexts(ids).numpy(), before[0])
