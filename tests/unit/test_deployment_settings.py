"""Build-time settings are frozen into datasets and runs; run-time settings come from the deployment: its
config file, the environment and --set, in that order. Bad values fail when the config loads, in one line."""

import pytest

from deepqa.cli import main
from deepqa.config import load_config, load_deployment
from deepqa.errors import ConfigError
from deepqa.files import CONFIG_FILE
from tests.conftest import PROJECT_ROOT, make_config


def one_line_error(capsys, argv, *words):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and err.startswith("error: "), err
    for word in words:
        assert word in err, err


def test_bad_values_fail_at_load_in_one_line(tiny_run, tmp_path, capsys):
    one_line_error(capsys, ["chat", "--run", str(tiny_run), "--question", "hi", "--set", "decode.no_repeat_ngram_size=8"],
                   "no_repeat_ngram_size = '8'", "less than or equal to 6")
    one_line_error(capsys, ["train", "--data", str(tmp_path), "--set", "transformer.heads=3"],
                   "heads = 3 must divide [model] embedding_dim = 256")
    one_line_error(capsys, ["train", "--data", str(tmp_path), "--set", "samples.valid_fraction=nan"], "finite number")
    one_line_error(capsys, ["chat", "--run", str(tiny_run), "--question", "hi", "--set", "model.type=gru"],
                   "[model] is fixed", "[decode], [eval] and [serve]")


def test_a_data_setting_the_dataset_lacks_is_refused(tiny_run, tmp_path, capsys):
    data = (tiny_run.parent.parent / "corpus" / "data")
    one_line_error(capsys, ["train", "--data", str(data), "--profile", "tiny", "--set", "samples.max_answer_length=9",
                            "--set", f"train.save_dir={tmp_path}"],
                   "samples.max_answer_length=9 cannot apply", "max_answer_length = 20", "deepqa prepare")
    assert not list(tmp_path.iterdir())  # nothing was written


def test_resume_with_a_bad_setting_leaves_the_run_untouched(tiny_run, capsys):
    before = (tiny_run / CONFIG_FILE).read_bytes()
    one_line_error(capsys, ["train", "--resume", str(tiny_run), "--set", "decode.no_repeat_ngram_size=9",
                            "--set", "train.epochs=5"], "no_repeat_ngram_size")
    assert (tiny_run / CONFIG_FILE).read_bytes() == before


def test_precedence_run_decode_then_file_then_environment_then_set(tiny_run, tmp_path):
    trained = load_config(tiny_run / CONFIG_FILE)
    assert trained.decode.xla is False
    deploy = tmp_path / "deploy.ini"
    deploy.write_text("[decode]\nbeam_width = 6\nstrategy = greedy\n[serve]\nport = 9001\n[model]\ntype = gru\n")
    environ = {"DEEPQA_DECODE_STRATEGY": "sample", "DEEPQA_SERVE_API_KEY": "k", "DEEPQA_RUN": "ignored"}
    config = load_deployment(trained, deploy, ["decode.top_p=0.5"], environ)
    assert config.decode.xla is False  # the run's own, as the file says nothing of it
    assert config.decode.beam_width == 6 and config.serve.port == 9001  # the file
    assert config.decode.strategy == "sample" and config.serve.api_key == "k"  # the environment over the file
    assert config.decode.top_p == 0.5  # --set last
    assert config.model.type == trained.model.type  # build-time sections stay as trained
    assert "api_key = k" not in config.to_ini()  # secrets are never written out


def test_environment_typos_and_key_files(tmp_path):
    with pytest.raises(ConfigError, match="unknown key .apikey.*DEEPQA_SERVE_APIKEY.*did you mean .api_key."):
        load_config(PROJECT_ROOT / "config.ini", environ={"DEEPQA_SERVE_APIKEY": "x"})
    key_file = tmp_path / "key"
    key_file.write_text("from-a-file\n")
    assert make_config(f"serve.api_key_file={key_file}").serve.resolved_api_key() == "from-a-file"
    assert make_config(f"serve.api_key_file={key_file}", "serve.api_key=direct").serve.resolved_api_key() == "direct"
    with pytest.raises(ConfigError, match="cannot be read"):
        make_config(f"serve.api_key_file={tmp_path / 'missing'}").serve.resolved_api_key()


def test_config_files_that_are_not_files_or_not_ini(tmp_path):
    import os

    fifo = tmp_path / "fifo.ini"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError, match="not a regular file"):
        load_config(fifo)
    broken = tmp_path / "broken.ini"
    broken.write_text("[vocab]\nmax_size = 3\n[vocab]\nmin_count = 2\n")
    with pytest.raises(ConfigError) as error:
        load_config(broken)
    assert "cannot be parsed" in str(error.value) and "\n" not in str(error.value)
