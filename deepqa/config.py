"""The one module that reads ``config.ini``: typed sections, profiles and ``--set`` overrides.

Precedence, lowest first: the defaults declared here, the config file, the ``[profile:NAME]``
section chosen with ``--profile``, then each ``--set section.key=value`` in order.
Every problem (unknown section or key, a value of the wrong type, an unknown profile) is a
:class:`~deepqa.errors.ConfigError` whose message names the culprit and what is accepted.
"""

from __future__ import annotations

import configparser
import dataclasses
import difflib
import os
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from deepqa import atomic
from deepqa.errors import ConfigError

PROFILE_PREFIX = "profile:"
SOURCE_PREFIX = "source:"
PROJECT_CONFIG = Path(__file__).resolve().parent.parent / "config.ini"

CorpusFormat = Literal["chitchat", "chatterbot", "cornell", "conv", "pairs", "lightweight", "jsonl", "sql"]
TokenizerType = Literal["word", "jieba", "char", "mixed", "sentencepiece"]


def setting(default: Any, *, minimum: float | None = None, maximum: float | None = None,
            separator: str = ",") -> Any:
    """A dataclass field with optional inclusive numeric bounds checked on load; lists split on ``separator``."""
    metadata = {"min": minimum, "max": maximum, "separator": separator}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass
class SourceConfig:
    """Where one corpus comes from: the ``[corpus]`` section or a ``[source:NAME]`` section."""

    format: CorpusFormat = "chitchat"
    path: str = ""
    encoding: str = "auto"
    language: str = "english"
    sql_url: str = ""
    sql_query: str = ""


@dataclass
class CorpusConfig(SourceConfig):
    """The corpus to prepare and where the prepared dataset goes."""

    sources: list[str] = setting([])
    dataset_dir: str = "data/chitchat"
    max_conversations: int = setting(0, minimum=0)


@dataclass
class TokenizerConfig:
    """How text is normalized and split into tokens."""

    type: TokenizerType = "word"
    lowercase: bool = True
    user_dict: str = ""
    sp_model_type: Literal["unigram", "bpe"] = "unigram"
    sp_vocab_size: int = setting(8000, minimum=8)
    sp_character_coverage: float = setting(0.9995, minimum=0.5, maximum=1.0)
    sp_byte_fallback: bool = False
    workers: int = setting(0, minimum=0)


@dataclass
class VocabConfig:
    """Which tokens get an id."""

    min_count: int = setting(1, minimum=1)
    max_size: int = setting(20000, minimum=5)


@dataclass
class SamplesConfig:
    """How conversations become (question, answer) training samples."""

    context_turns: int = setting(0, minimum=0)
    max_question_length: int = setting(20, minimum=1)
    max_answer_length: int = setting(20, minimum=1)
    length_policy: Literal["truncate", "drop"] = "truncate"
    max_unk_ratio: float = setting(0.5, minimum=0.0, maximum=1.0)
    drop_duplicates: bool = True
    valid_fraction: float = setting(0.05, minimum=0.0, maximum=0.5)
    test_fraction: float = setting(0.05, minimum=0.0, maximum=0.5)
    seed: int = 1234


@dataclass
class ModelConfig:
    """Which encoder-decoder to build, and what all architectures share."""

    type: Literal["lstm", "gru", "transformer"] = "lstm"
    embedding_dim: int = setting(256, minimum=2)
    share_embedding: bool = True
    pretrained_embeddings: str = ""
    dropout: float = setting(0.1, minimum=0.0, maximum=0.9)


@dataclass
class LstmConfig:
    """The recurrent encoder-decoder (``lstm`` or ``gru``) with attention."""

    layers: int = setting(2, minimum=1)
    units: int = setting(256, minimum=2)
    bidirectional: bool = True
    attention: Literal["luong", "bahdanau"] = "luong"


@dataclass
class TransformerConfig:
    """The Transformer encoder-decoder built from keras-hub layers."""

    encoder_layers: int = setting(2, minimum=1)
    decoder_layers: int = setting(2, minimum=1)
    heads: int = setting(4, minimum=1)
    feedforward_dim: int = setting(512, minimum=2)
    tie_output_embedding: bool = True


@dataclass
class TrainConfig:
    """The training loop, its schedule, checkpoints and hardware use."""

    epochs: int = setting(20, minimum=1)
    steps_per_epoch: int = setting(0, minimum=0)
    batch_size: int = setting(64, minimum=1)
    learning_rate: float = setting(0.001, minimum=0.0)
    schedule: Literal["warmup_decay", "plateau", "constant"] = "warmup_decay"
    warmup_steps: int = setting(500, minimum=0)
    plateau_factor: float = setting(0.5, minimum=0.01, maximum=1.0)
    plateau_patience: int = setting(1, minimum=1)
    clip_norm: float = setting(1.0, minimum=0.0)
    label_smoothing: float = setting(0.0, minimum=0.0, maximum=0.5)
    sampled_softmax: int = setting(0, minimum=0)
    length_buckets: int = setting(4, minimum=1)
    early_stopping_patience: int = setting(3, minimum=0)
    max_minutes: float = setting(0.0, minimum=0.0)
    xla: Literal["auto", "true", "false"] = "auto"
    mixed_precision: Literal["auto", "true", "false"] = "auto"
    distribution: Literal["none", "mirrored", "multi_worker"] = "none"
    save_dir: str = "save"
    probe_questions: list[str] = setting(["hello!", "how are you?", "what is your name?", "where are you from?"],
                                         separator="|")
    seed: int = 1234


@dataclass
class TunerConfig:
    """The architecture search: algorithm, budget and the ranges searched."""

    algorithm: Literal["random", "bayesian", "hyperband"] = "random"
    max_trials: int = setting(10, minimum=1)
    executions_per_trial: int = setting(1, minimum=1)
    epochs_per_trial: int = setting(3, minimum=1)
    objective: Literal["val_loss", "val_recall_at_1"] = "val_loss"
    directory: str = "tuning"
    project_name: str = "deepqa"
    overwrite: bool = False
    model_types: list[str] = setting(["lstm", "gru", "transformer"])
    layers_min: int = setting(1, minimum=1)
    layers_max: int = setting(3, minimum=1)
    units: list[int] = setting([128, 256, 512])
    embedding_dims: list[int] = setting([128, 256])
    heads: list[int] = setting([2, 4, 8])
    feedforward_dims: list[int] = setting([256, 512, 1024])
    dropout_min: float = setting(0.0, minimum=0.0, maximum=0.9)
    dropout_max: float = setting(0.3, minimum=0.0, maximum=0.9)
    learning_rate_min: float = setting(0.0001, minimum=0.0)
    learning_rate_max: float = setting(0.003, minimum=0.0)
    max_parameters: int = setting(50_000_000, minimum=1)
    max_memory_mb: int = setting(8192, minimum=1)
    final_epochs: int = setting(0, minimum=0)
    oracle_ip: str = "127.0.0.1"
    oracle_port: int = setting(8000, minimum=1, maximum=65535)
    chief_timeout_minutes: float = setting(240.0, minimum=0.0)
    seed: int = 1234


@dataclass
class DecodeConfig:
    """How replies are generated (each request or chat command may change any of these)."""

    strategy: Literal["greedy", "beam", "sample"] = "beam"
    beam_width: int = setting(4, minimum=1, maximum=64)
    length_penalty: float = setting(1.0, minimum=0.0, maximum=5.0)
    num_answers: int = setting(1, minimum=1, maximum=64)
    top_k: int = setting(0, minimum=0)
    top_p: float = setting(1.0, minimum=0.01, maximum=1.0)
    temperature: float = setting(1.0, minimum=0.01, maximum=100.0)
    no_repeat_ngram_size: int = setting(3, minimum=0)
    repetition_penalty: float = setting(1.2, minimum=1.0, maximum=10.0)
    min_length: int = setting(1, minimum=0)
    max_length: int = setting(0, minimum=0)
    allow_unk: bool = False
    seed: int = -1
    xla: bool = True


@dataclass
class EvalConfig:
    """How ``deepqa evaluate`` measures a run."""

    candidates_file: str = ""
    num_distractors: int = setting(9, minimum=1)
    max_cases: int = setting(1000, minimum=1)
    mmi_lambda: float = setting(0.0, minimum=0.0, maximum=1.0)
    max_generate: int = setting(500, minimum=1)
    batch_size: int = setting(64, minimum=1)
    seed: int = 1234


@dataclass
class ServeConfig:
    """The HTTP service: address, batching, limits, sessions and the conversation store."""

    host: str = "127.0.0.1"
    port: int = setting(8000, minimum=1, maximum=65535)
    threads: int = setting(16, minimum=1)
    max_batch: int = setting(16, minimum=1)
    max_wait_ms: float = setting(10.0, minimum=0.0)
    max_queue: int = setting(256, minimum=1)
    max_question_chars: int = setting(1000, minimum=1)
    max_body_bytes: int = setting(65536, minimum=256)
    request_timeout_s: float = setting(30.0, minimum=0.1)
    api_key: str = ""
    rate_limit_per_minute: int = setting(0, minimum=0)
    session_turns: int = setting(6, minimum=0)
    session_max_age_s: float = setting(1800.0, minimum=1.0)
    max_sessions: int = setting(10000, minimum=1)
    database: str = "save/conversations.sqlite3"


# Section name -> dataclass. Later stages add their sections here.
SECTIONS: dict[str, type] = {
    "corpus": CorpusConfig,
    "tokenizer": TokenizerConfig,
    "vocab": VocabConfig,
    "samples": SamplesConfig,
    "model": ModelConfig,
    "lstm": LstmConfig,
    "transformer": TransformerConfig,
    "train": TrainConfig,
    "tuner": TunerConfig,
    "decode": DecodeConfig,
    "eval": EvalConfig,
    "serve": ServeConfig,
}


@dataclass
class Config:
    """The effective configuration: one typed object per section, plus the named corpus sources."""

    corpus: CorpusConfig = field(default_factory=CorpusConfig)
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    vocab: VocabConfig = field(default_factory=VocabConfig)
    samples: SamplesConfig = field(default_factory=SamplesConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    lstm: LstmConfig = field(default_factory=LstmConfig)
    transformer: TransformerConfig = field(default_factory=TransformerConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    tuner: TunerConfig = field(default_factory=TunerConfig)
    decode: DecodeConfig = field(default_factory=DecodeConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    serve: ServeConfig = field(default_factory=ServeConfig)
    sources: dict[str, SourceConfig] = field(default_factory=dict)
    profiles: dict[str, dict[str, str]] = field(default_factory=dict)
    origin: str = "built-in defaults"
    applied: list[str] = field(default_factory=list)

    def section(self, name: str) -> Any:
        """The typed object for a section name such as ``"vocab"`` or ``"source:support"``."""
        if name.startswith(SOURCE_PREFIX):
            return self.sources[name[len(SOURCE_PREFIX):]]
        return getattr(self, name)

    def to_ini(self) -> str:
        """The effective configuration as ini text that :func:`load_config` reads back unchanged."""
        lines = [
            "# Effective deepqa configuration.",
            f"# Read from: {self.origin}",
        ]
        lines += [f"# Applied: {item}" for item in self.applied]
        names = list(SECTIONS) + [SOURCE_PREFIX + name for name in self.sources]
        for name in names:
            lines.append("")
            lines.append(f"[{name}]")
            for f in dataclasses.fields(self.section(name)):
                value = getattr(self.section(name), f.name)
                lines.append(f"{f.name} = {format_value(value, f.metadata.get('separator', ','))}")
        return "\n".join(lines) + "\n"

    def save(self, path: str | os.PathLike) -> None:
        """Atomically write the effective configuration to ``path``."""
        atomic.write_text(path, self.to_ini())


def format_value(value: Any, separator: str = ",") -> str:
    """Serialize a typed setting the way the parser reads it back."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return f"{separator} ".join(str(item) for item in value)
    return str(value)


def parse_value(section: str, key: str, raw: str, annotation: Any, separator: str = ",") -> Any:
    """Parse ``raw`` as the type ``annotation``; a :class:`ConfigError` names the key on failure."""
    raw = raw.strip()
    where = f"[{section}] {key}"
    origin = typing.get_origin(annotation)
    if origin is Literal:
        choices = typing.get_args(annotation)
        if raw not in choices:
            raise ConfigError(f"{where} = {raw!r} is not accepted; accepted values: {', '.join(choices)}")
        return raw
    if annotation is bool:
        lowered = raw.lower()
        if lowered in ("true", "yes", "on", "1"):
            return True
        if lowered in ("false", "no", "off", "0"):
            return False
        raise ConfigError(f"{where} = {raw!r} is not a boolean; accepted values: true, false")
    if annotation is int:
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"{where} = {raw!r} is not an integer") from None
    if annotation is float:
        try:
            return float(raw)
        except ValueError:
            raise ConfigError(f"{where} = {raw!r} is not a number") from None
    if origin is list:
        items = [item.strip() for item in raw.replace("\n", separator).split(separator) if item.strip()]
        item_type = typing.get_args(annotation)[0]
        return [parse_value(section, key, item, item_type) for item in items]
    return raw


def _unknown(kind: str, name: str, accepted: list[str], context: str = "") -> ConfigError:
    close = difflib.get_close_matches(name, accepted, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return ConfigError(f"unknown {kind} {name!r}{context}{hint}; accepted: {', '.join(sorted(accepted))}")


def _section_type(name: str) -> type:
    if name.startswith(SOURCE_PREFIX):
        return SourceConfig
    if name in SECTIONS:
        return SECTIONS[name]
    accepted = list(SECTIONS) + [SOURCE_PREFIX + "NAME", PROFILE_PREFIX + "NAME"]
    raise _unknown("section", name, accepted)


def _set(config: Config, section: str, key: str, raw: str) -> None:
    """Assign one raw value, checking section, key, type and bounds."""
    cls = _section_type(section)
    if section.startswith(SOURCE_PREFIX):
        source_name = section[len(SOURCE_PREFIX):]
        if not source_name or "." in source_name:
            raise ConfigError(f"[{section}]: a source needs a name without dots, like [source:support]")
        config.sources.setdefault(source_name, SourceConfig())
    fields = {f.name: f for f in dataclasses.fields(cls)}
    if key not in fields:
        raise _unknown("key", key, list(fields), f" in [{section}]")
    hints = typing.get_type_hints(cls)
    meta = fields[key].metadata
    value = parse_value(section, key, raw, hints[key], meta.get("separator", ","))
    _check_bounds(section, key, value, meta)
    setattr(config.section(section), key, value)


def _check_bounds(section: str, key: str, value: Any, meta) -> None:
    if meta.get("min") is not None and value < meta["min"]:
        raise ConfigError(f"[{section}] {key} = {value} is below its minimum {meta['min']}")
    if meta.get("max") is not None and value > meta["max"]:
        raise ConfigError(f"[{section}] {key} = {value} is above its maximum {meta['max']}")


def _fits(value: Any, annotation: Any) -> bool:
    """Whether a Python value (from JSON, say) has the setting's type; ints count as floats, bools as neither."""
    if typing.get_origin(annotation) is Literal:
        return isinstance(value, str) and value in typing.get_args(annotation)
    if annotation is bool:
        return isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if annotation is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if typing.get_origin(annotation) is list:
        return isinstance(value, list) and all(_fits(item, typing.get_args(annotation)[0]) for item in value)
    return isinstance(value, str)


def with_values(section: str, current: Any, values: typing.Mapping[str, Any]) -> Any:
    """A copy of a section's object with typed ``values`` applied, each checked for name, type and bounds."""
    cls = type(current)
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    updated = dataclasses.replace(current)
    for key, value in values.items():
        if key not in fields:
            raise _unknown("key", key, list(fields), f" in [{section}]")
        annotation = hints[key]
        if not _fits(value, annotation):
            expected = (f"one of {', '.join(typing.get_args(annotation))}" if typing.get_origin(annotation) is Literal
                        else getattr(annotation, "__name__", str(annotation)))
            raise ConfigError(f"[{section}] {key} must be {expected}, got {value!r}")
        _check_bounds(section, key, value, fields[key].metadata)
        setattr(updated, key, float(value) if annotation is float else value)
    return updated


def parse_assignment(text: str) -> tuple[str, str, str]:
    """Split ``section.key=value`` into its three parts."""
    name, sep, value = text.partition("=")
    section, dot, key = name.strip().partition(".")
    if not sep or not dot or not section or not key:
        raise ConfigError(f"override {text!r} is not of the form section.key=value (for example vocab.max_size=8000)")
    return section.strip(), key.strip().lower(), value


def default_config_path() -> Path | None:
    """``config.ini`` in the working directory, else the project's own, else none (built-in defaults)."""
    for candidate in (Path.cwd() / "config.ini", PROJECT_CONFIG):
        if candidate.is_file():
            return candidate
    return None


def _read_ini(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, default_section="__no_default__")
    try:
        with open(path, encoding="utf-8") as handle:
            parser.read_file(handle)
    except FileNotFoundError:
        raise ConfigError(f"config file {str(path)!r} does not exist") from None
    except (configparser.Error, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {str(path)!r} cannot be parsed: {exc}") from None
    return parser


def load_config(
    path: str | os.PathLike | None = None,
    profile: str | None = None,
    overrides: typing.Iterable[str] = (),
) -> Config:
    """Build the effective configuration from defaults, a file, a profile and overrides."""
    config = Config()
    file_path = Path(path) if path is not None else default_config_path()
    if file_path is not None:
        parser = _read_ini(file_path)
        config.origin = str(file_path)
        for section in parser.sections():
            if section.startswith(PROFILE_PREFIX):
                config.profiles[section[len(PROFILE_PREFIX):]] = dict(parser.items(section))
                continue
            for key, raw in parser.items(section):
                try:
                    _set(config, section, key, raw)
                except ConfigError as exc:
                    raise ConfigError(f"{file_path}: {exc}") from None
    for name, assignments in config.profiles.items():
        # Validate every profile up front, so a typo is found before that profile is needed.
        for key, raw in assignments.items():
            try:
                section, sub_key, _ = parse_assignment(f"{key}={raw}")
                _set(Config(), section, sub_key, raw)
            except ConfigError as exc:
                raise ConfigError(f"[{PROFILE_PREFIX}{name}] in {config.origin}: {exc}") from None
    if profile:
        if profile not in config.profiles:
            accepted = ", ".join(sorted(config.profiles)) or "none defined"
            raise ConfigError(f"unknown profile {profile!r}; profiles in {config.origin}: {accepted}")
        for key, raw in config.profiles[profile].items():
            section, sub_key, _ = parse_assignment(f"{key}={raw}")
            _set(config, section, sub_key, raw)
        config.applied.append(f"profile {profile}")
    for override in overrides:
        section, key, raw = parse_assignment(override)
        _set(config, section, key, raw)
        config.applied.append(f"--set {override}")
    _check_sources(config)
    return config


def parse_sources(config: Config) -> list[tuple[str, float]]:
    """The ``[corpus] sources`` list as (name, weight) pairs; empty when the corpus is a single source."""
    result = []
    for item in config.corpus.sources:
        name, _, weight_text = item.partition(":")
        name = name.strip()
        try:
            weight = float(weight_text) if weight_text.strip() else 1.0
        except ValueError:
            raise ConfigError(f"[corpus] sources: weight of {name!r} is {weight_text!r}, not a number") from None
        if weight <= 0:
            raise ConfigError(f"[corpus] sources: weight of {name!r} must be above 0, got {weight}")
        result.append((name, weight))
    return result


def _check_sources(config: Config) -> None:
    for name, _ in parse_sources(config):
        if name not in config.sources:
            defined = ", ".join(sorted(config.sources)) or "none"
            raise ConfigError(
                f"[corpus] sources names {name!r} but there is no [source:{name}] section; defined sources: {defined}"
            )
