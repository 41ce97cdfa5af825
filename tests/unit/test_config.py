"""Config loading: defaults, the shipped config.ini, profiles, overrides and every kind of error."""

import configparser
import re

import pytest

from deepqa.config import Config, load_config, parse_sources
from deepqa.errors import ConfigError
from tests.conftest import PROJECT_ROOT, make_config


def write_ini(tmp_path, text):
    path = tmp_path / "c.ini"
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_config_documents_every_key_with_the_default_value():
    parser = configparser.ConfigParser(interpolation=None)
    # [decode] keys stand commented out (a run keeps its own decoding where the deployment sets none).
    text = (PROJECT_ROOT / "config.ini").read_text(encoding="utf-8")
    start = text.index("\n[decode]\n")
    end = text.index("\n[", start + 1)
    keys = re.sub(r"^# ([a-z_]+ = )", r"\1", text[start:end], flags=re.M)
    parser.read_string(text[:start] + keys + text[end:])
    defaults = Config()
    for name in defaults.section_names():
        section = getattr(defaults, name)
        assert parser.has_section(name), name
        for key in type(section).model_fields:
            assert parser.has_option(name, key), f"[{name}] {key} is not in config.ini"
    assert make_config().vocab == defaults.vocab


def test_shipped_profiles_all_load():
    for profile in ("tiny", "quick", "full"):
        assert make_config(profile=profile).applied == [f"profile {profile}"]


def test_precedence_file_then_profile_then_overrides(tmp_path):
    path = write_ini(tmp_path, "[vocab]\nmax_size = 100\nmin_count = 3\n[profile:p]\nvocab.max_size = 50\n")
    config = load_config(path, "p", ["vocab.min_count=4"])
    assert (config.vocab.max_size, config.vocab.min_count) == (50, 4)
    assert load_config(path, "p", ["vocab.max_size=70"]).vocab.max_size == 70


@pytest.mark.parametrize("text, words", [
    ("[vocabulary]\nmax_size = 3\n", ["unknown section 'vocabulary'", "vocab"]),
    ("[vocab]\nmax_sise = 3\n", ["unknown key 'max_sise'", "did you mean 'max_size'", "min_count"]),
    ("[vocab]\nmax_size = many\n", ["[vocab] max_size = 'many'", "valid integer"]),
    ("[vocab]\nmax_size = 2\n", ["greater than or equal to 5"]),
    ("[tokenizer]\nlowercase = maybe\n", ["valid boolean"]),
    ("[tokenizer]\ntype = bpe\n", ["unknown tokenizer 'bpe'", "jieba", "sentencepiece"]),
    ("[samples]\nvalid_fraction = half\n", ["valid number"]),
    ("[samples]\nvalid_fraction = nan\n", ["finite number"]),
    ("[train]\nlearning_rate = inf\n", ["finite number"]),
    ("[corpus]\nsources = a:1e7\n[source:a]\nformat = pairs\n", ["weight of 'a'", "at most 100"]),
    ("[corpus]\nsources = a:nan\n[source:a]\nformat = pairs\n", ["weight of 'a'"]),
    ("[transformer]\nheads = 3\n", ["heads = 3 must divide [model] embedding_dim = 256"]),
    ("[decode]\nno_repeat_ngram_size = 8\n", ["no_repeat_ngram_size = '8'", "less than or equal to 6"]),
    ("[decode]\nnum_answers = 8\nbeam_width = 2\n", ["num_answers 8 must not exceed beam_width 2"]),
    ("[tuner]\nlayers_min = 3\nlayers_max = 2\n", ["layers_min 3 is above layers_max 2"]),
    ("[vocab\nmax_size = 3\n", ["cannot be parsed"]),
    ("[profile:x]\nvocab.nope = 1\n", ["[profile:x]", "unknown key 'nope'"]),
    ("[corpus]\nsources = a:2\n", ["no [source:a] section"]),
    ("[corpus]\nsources = a:lots\n[source:a]\nformat = pairs\n", ["weight of 'a'", "not a number"]),
    ("not an ini file\n", ["cannot be parsed"]),
])
def test_bad_config_is_a_clear_error(tmp_path, text, words):
    with pytest.raises(ConfigError) as error:
        load_config(write_ini(tmp_path, text))
    for word in words:
        assert word in str(error.value)


def test_bad_overrides_and_profiles_are_clear_errors():
    with pytest.raises(ConfigError, match="section.key=value"):
        make_config("vocab.max_size")
    with pytest.raises(ConfigError, match="unknown profile 'huge'.*tiny"):
        make_config(profile="huge")
    with pytest.raises(ConfigError, match="does not exist"):
        load_config("/nonexistent/deepqa.ini")


def test_effective_config_round_trips(tmp_path):
    config = make_config("samples.context_turns=2", "tokenizer.type=mixed", "corpus.sources=a:2.5, b",
                         "source:a.format=pairs", "source:b.format=conv", profile="tiny")
    config.save(tmp_path / "effective.ini")
    again = load_config(tmp_path / "effective.ini")
    for name in config.section_names():
        assert getattr(again, name) == getattr(config, name)
    assert again.sources == config.sources
    assert parse_sources(again.corpus) == [("a", 2.5), ("b", 1.0)]
