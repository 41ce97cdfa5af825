"""The one module that reads ``config.ini``: typed sections, profiles, overrides and the deployment.

Two kinds of settings. Build-time sections ([corpus] [tokenizer] [vocab] [samples] [model], the
model's own section, [train] [tuner]) are frozen into the dataset and the run bundle. Run-time sections
([decode] [eval] [serve]) belong to the deployment that uses a trained run.

Precedence, lowest first, for ``prepare``, ``train`` and ``tune`` (:func:`load_config`): the defaults
declared here and by the components, the config file, the ``[profile:NAME]`` section chosen with
``--profile``, the environment (``DEEPQA_<SECTION>_<KEY>``, run-time sections only), then each
``--set section.key=value`` in order.

For ``chat``, ``evaluate``, ``serve``, ``export-log`` and the WSGI entry (:func:`load_deployment`): the
run's build-time sections as trained; run-time settings from the defaults, then the run's own
``[decode]`` (the decoding it was probed with), then what the deployment's config file (``--config``,
else ``./config.ini``, else the project's) sets explicitly, then the environment, then ``--set``.

Every problem (unknown section or key, a value of the wrong type or out of range, NaN, a rule between
keys such as heads dividing the width) is a one-line :class:`~deepqa.errors.ConfigError` raised while
loading, naming the key, the value, where it came from and what is accepted.
"""

from __future__ import annotations

import configparser
import copy
import math
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, ClassVar, Iterable, Literal, Mapping

from pydantic import AfterValidator, Field, model_validator

from deepqa import atomic, registry
from deepqa.errors import ConfigError
from deepqa.settings import (BUILD, RUN, SECTIONS, Settings, build, coerce_text, field_extra, format_value,
                             register_section, setting, unknown)

PROFILE_PREFIX = "profile:"
SOURCE_PREFIX = "source:"
ENV_PREFIX = "DEEPQA_"
PROJECT_CONFIG = Path(__file__).resolve().parent.parent / "config.ini"
MAX_NGRAM = 6  # the longest repeated n-gram the decoder can ban
MAX_SOURCE_WEIGHT = 100.0

CorpusFormat = Annotated[str, AfterValidator(lambda name: registry.CORPUS_FORMATS.check(name))]
TokenizerType = Annotated[str, AfterValidator(lambda name: registry.TOKENIZERS.check(name))]
ModelType = Annotated[str, AfterValidator(lambda name: registry.MODELS.check(name))]
StrategyName = Annotated[str, AfterValidator(lambda name: registry.STRATEGIES.check(name))]
RankerEncoder = Annotated[str, AfterValidator(lambda name: registry.RANKER_ENCODERS.check(name))]


class SourceConfig(Settings):
    """Where one corpus comes from: the ``[corpus]`` section or a ``[source:NAME]`` section."""

    section = "source"
    format: CorpusFormat = "chitchat"
    path: str = ""
    encoding: str = "auto"
    language: str = "english"
    sql_url: str = ""
    sql_query: str = ""


@register_section
class CorpusConfig(SourceConfig):
    """The corpus to prepare and where the prepared dataset goes."""

    section = "corpus"
    sources: list[str] = setting([])
    dataset_dir: str = "data/chitchat"
    max_conversations: int = setting(0, minimum=0)

    @model_validator(mode="after")
    def _weights(self) -> "CorpusConfig":
        parse_sources(self)
        return self

    def check(self, config: "Config") -> None:
        for name, _ in parse_sources(self):
            if name not in config.sources:
                defined = ", ".join(sorted(config.sources)) or "none"
                raise ConfigError(f"[corpus] sources names {name!r} but there is no [source:{name}] section; "
                                  f"defined sources: {defined}")


@register_section
class TokenizerConfig(Settings):
    """How text is normalized and split into tokens."""

    section = "tokenizer"
    type: TokenizerType = "word"
    lowercase: bool = True
    user_dict: str = ""
    sp_model_type: Literal["unigram", "bpe"] = "unigram"
    sp_vocab_size: int = setting(8000, minimum=8, maximum=1_000_000)
    sp_character_coverage: float = setting(0.9995, minimum=0.5, maximum=1.0)
    sp_byte_fallback: bool = False
    workers: int = setting(0, minimum=0, maximum=1024)


@register_section
class VocabConfig(Settings):
    """Which tokens get an id."""

    section = "vocab"
    min_count: int = setting(1, minimum=1)
    max_size: int = setting(20000, minimum=5, maximum=10_000_000)


@register_section
class SamplesConfig(Settings):
    """How conversations become (question, answer) training samples."""

    section = "samples"
    context_turns: int = setting(0, minimum=0, maximum=100)
    max_question_length: int = setting(20, minimum=1, maximum=10_000)
    max_answer_length: int = setting(20, minimum=1, maximum=10_000)
    length_policy: Literal["truncate", "drop"] = "truncate"
    max_unk_ratio: float = setting(0.5, minimum=0.0, maximum=1.0)
    drop_duplicates: bool = True
    valid_fraction: float = setting(0.05, minimum=0.0, maximum=0.5)
    test_fraction: float = setting(0.05, minimum=0.0, maximum=0.5)
    seed: int = 1234

    @property
    def decoder_length(self) -> int:
        """Positions of the decoder: ``<go>`` + answer in, answer + ``<eos>`` out."""
        return self.max_answer_length + 1


@register_section
class ModelConfig(Settings):
    """Which encoder-decoder to build, and what all architectures share. The architecture's own settings
    are in the section it registers ([lstm], [transformer], ...)."""

    section = "model"
    type: ModelType = "lstm"
    embedding_dim: int = setting(256, minimum=2, maximum=65536)
    share_embedding: bool = True
    pretrained_embeddings: str = ""
    dropout: float = setting(0.1, minimum=0.0, maximum=0.9)


@register_section
class TrainConfig(Settings):
    """The training loop, its schedule, checkpoints and hardware use."""

    section = "train"
    epochs: int = setting(20, minimum=1, maximum=1_000_000)
    steps_per_epoch: int = setting(0, minimum=0)
    batch_size: int = setting(64, minimum=1, maximum=1_000_000)
    learning_rate: float = setting(0.001, minimum=1e-12)
    schedule: Literal["warmup_decay", "warmup_linear", "plateau", "constant"] = "warmup_decay"
    warmup_steps: int = setting(500, minimum=0)
    plateau_factor: float = setting(0.5, minimum=0.01, maximum=1.0)
    plateau_patience: int = setting(1, minimum=1)
    clip_norm: float = setting(1.0, minimum=0.0)
    label_smoothing: float = setting(0.0, minimum=0.0, maximum=0.5)
    sampled_softmax: int = setting(0, minimum=0)
    length_buckets: int = setting(4, minimum=1, maximum=1000)
    early_stopping_patience: int = setting(3, minimum=0)
    max_minutes: float = setting(0.0, minimum=0.0)
    xla: Literal["auto", "true", "false"] = "auto"
    mixed_precision: Literal["auto", "true", "false", "bfloat16"] = "auto"
    distribution: Literal["none", "mirrored", "multi_worker"] = "none"
    save_dir: str = "save"
    probe_questions: list[str] = setting(["hello!", "how are you?", "what is your name?", "where are you from?"],
                                         separator="|")
    seed: int = 1234


@register_section
class TunerConfig(Settings):
    """The architecture search: algorithm, budget and the ranges searched."""

    section = "tuner"
    algorithm: Literal["random", "bayesian", "hyperband"] = "random"
    max_trials: int = setting(10, minimum=1)
    executions_per_trial: int = setting(1, minimum=1)
    epochs_per_trial: int = setting(3, minimum=1)
    objective: Literal["val_loss", "val_recall_at_1"] = "val_loss"
    directory: str = "tuning"
    project_name: str = "deepqa"
    overwrite: bool = False
    # Default: every registered model type.
    model_types: list[ModelType] = Field(default_factory=lambda: registry.MODELS.names(), min_length=1,
                                         json_schema_extra={"separator": ","})
    layers_min: int = setting(1, minimum=1)
    layers_max: int = setting(3, minimum=1)
    units: list[int] = setting([128, 256, 512])
    embedding_dims: list[int] = setting([128, 256])
    heads: list[int] = setting([2, 4, 8])
    feedforward_dims: list[int] = setting([256, 512, 1024])
    dropout_min: float = setting(0.0, minimum=0.0, maximum=0.9)
    dropout_max: float = setting(0.3, minimum=0.0, maximum=0.9)
    learning_rate_min: float = setting(0.0001, minimum=1e-12)
    learning_rate_max: float = setting(0.003, minimum=1e-12)
    max_parameters: int = setting(50_000_000, minimum=1)
    max_memory_mb: int = setting(8192, minimum=1)
    final_epochs: int = setting(0, minimum=0)
    oracle_ip: str = "127.0.0.1"
    oracle_port: int = setting(8000, minimum=1, maximum=65535)
    chief_timeout_minutes: float = setting(240.0, minimum=0.0)
    seed: int = 1234

    @model_validator(mode="after")
    def _ranges(self) -> "TunerConfig":
        for low, high in (("layers_min", "layers_max"), ("dropout_min", "dropout_max"),
                          ("learning_rate_min", "learning_rate_max")):
            if getattr(self, low) > getattr(self, high):
                raise ValueError(f"{low} {getattr(self, low)} is above {high} {getattr(self, high)}")
        return self


@register_section
class RankerConfig(Settings):
    """The response ranker: a dual encoder trained after the generator, and its index of training answers."""

    section = "ranker"
    enabled: bool = False
    encoder: RankerEncoder = "bow"
    dim: int = setting(128, minimum=2, maximum=65536)
    layers: int = setting(1, minimum=1, maximum=64)
    heads: int = setting(4, minimum=1, maximum=1024)
    dropout: float = setting(0.2, minimum=0.0, maximum=0.9)
    epochs: int = setting(8, minimum=1, maximum=100_000)
    max_minutes: float = setting(0.0, minimum=0.0)
    batch_size: int = setting(512, minimum=2, maximum=100_000)
    learning_rate: float = setting(0.002, minimum=1e-12)
    temperature: float = setting(0.05, minimum=0.001, maximum=10.0)
    # The four below default to how bundles made before they existed were trained, so those still load;
    # config.ini sets the measured choices.
    # Pairs of towers trained side by side, each with its own loss; the score is the mean of their cosines.
    ensemble: int = setting(1, minimum=1, maximum=16)
    # bow: one embedding table for the context and answer towers.
    share_embedding: bool = False
    # bow: a word's vector adds the mean of its pieces' (characters of Chinese words, trigrams of others).
    word_pieces: bool = False
    # Validate and keep an exponential moving average of the weights with this momentum (0: the weights).
    average_momentum: float = setting(0.0, minimum=0.0, maximum=0.9999)
    lexical_weight: float = setting(0.5, minimum=0.0, maximum=10.0)
    # The lexical part's weight in the training logits, beside which the towers learn what it misses.
    training_lexical_weight: float = setting(0.5, minimum=0.0, maximum=10.0)
    unknown_word_boost: float = setting(10.0, minimum=0.0, maximum=100.0)
    unknown_word_rate: float = setting(0.05, minimum=0.0, maximum=0.5)
    # Share of each batch that is a cluster of pairs with similar contexts (hard negatives); 0: random batches.
    hard_negatives: float = setting(0.0, minimum=0.0, maximum=1.0)
    max_index: int = setting(200_000, minimum=1)
    # An index of more answers is searched through an approximate graph (hnswlib, when installed); 0: never.
    approximate_above: int = setting(300_000, minimum=0)
    seed: int = 1234

    def check(self, config: "Config") -> None:
        registry.RANKER_ENCODERS.get(self.encoder).check(self)


@register_section
class DecodeConfig(Settings):
    """How replies are generated (each request or chat command may change those not in ``deployment_only``)."""

    section = "decode"
    stage = RUN
    # Keys a deployment sets but a request or `/set` may not change.
    deployment_only: ClassVar[tuple[str, ...]] = ("allow_unk", "seed", "xla")

    # auto: hybrid when the run has a ranker, else generate.
    mode: Literal["auto", "generate", "rank", "hybrid"] = "auto"
    strategy: StrategyName = "beam"
    # hybrid: the beam's n-best (beam_width), this many samples (top_p) and this many retrieved answers.
    hybrid_samples: int = setting(0, minimum=0, maximum=64)
    hybrid_retrieved: int = setting(8, minimum=0, maximum=256)
    # hybrid: weight of the generator's pointwise mutual information of reply and context beside the ranker.
    hybrid_generator_weight: float = setting(0.0, minimum=0.0, maximum=10.0)
    beam_width: int = setting(4, minimum=1, maximum=64)
    length_penalty: float = setting(1.0, minimum=0.0, maximum=5.0)
    num_answers: int = setting(1, minimum=1, maximum=64)
    top_k: int = setting(0, minimum=0, maximum=1_000_000)
    top_p: float = setting(1.0, minimum=0.01, maximum=1.0)
    temperature: float = setting(1.0, minimum=0.01, maximum=100.0)
    no_repeat_ngram_size: int = setting(3, minimum=0, maximum=MAX_NGRAM)
    repetition_penalty: float = setting(1.2, minimum=1.0, maximum=10.0)
    min_length: int = setting(1, minimum=0, maximum=10_000)
    max_length: int = setting(0, minimum=0, maximum=10_000)
    allow_unk: bool = False
    seed: int = setting(-1, minimum=-1, maximum=2**31 - 1)
    xla: bool = True

    @model_validator(mode="after")
    def _strategy_rules(self) -> "DecodeConfig":
        # In rank and hybrid num_answers counts the ranker's choices; auto may become generate.
        if self.mode in ("generate", "auto"):
            registry.STRATEGIES.get(self.strategy).check(self)
        return self

    @classmethod
    def request_keys(cls) -> list[str]:
        """The keys a request or the chat console may change."""
        return [key for key in cls.model_fields if key not in cls.deployment_only]


@register_section
class EvalConfig(Settings):
    """How ``deepqa evaluate`` measures a run."""

    section = "eval"
    stage = RUN
    candidates_file: str = ""
    num_distractors: int = setting(9, minimum=1, maximum=1000)
    max_cases: int = setting(1000, minimum=1)
    mmi_lambda: float = setting(0.0, minimum=0.0, maximum=1.0)
    max_generate: int = setting(500, minimum=1)
    batch_size: int = setting(64, minimum=1, maximum=100_000)
    seed: int = 1234


@register_section
class ServeConfig(Settings):
    """The HTTP service: address, batching, limits, sessions and the conversation store."""

    section = "serve"
    stage = RUN
    host: str = "127.0.0.1"
    port: int = setting(8000, minimum=1, maximum=65535)
    threads: int = setting(16, minimum=1, maximum=1024)
    # Beam widths a request may ask for (each compiled before the server is ready); empty: [decode] beam_width.
    allowed_beam_widths: list[int] = setting([], separator=",")
    # At most this many answers (and hybrid samples) a request may ask for.
    max_num_answers: int = setting(4, minimum=1, maximum=64)
    # On SIGTERM or SIGINT: at most this long to answer the requests already received.
    shutdown_timeout_s: float = setting(30.0, minimum=0.0, maximum=3600.0)
    max_batch: int = setting(16, minimum=1, maximum=1024)
    max_wait_ms: float = setting(10.0, minimum=0.0, maximum=60_000.0)
    max_queue: int = setting(256, minimum=1)
    max_question_chars: int = setting(1000, minimum=1)
    max_body_bytes: int = setting(65536, minimum=256)
    request_timeout_s: float = setting(30.0, minimum=0.1, maximum=3600.0)
    api_key: str = setting("", secret=True)
    api_key_file: str = ""
    rate_limit_per_minute: int = setting(0, minimum=0)
    # With an API key: failed attempts per minute and client address before it is refused with 429 (0: no limit).
    failed_key_limit_per_minute: int = setting(10, minimum=0)
    # Reverse proxies in front of the server whose X-Forwarded-For is trusted for the client address (0: none).
    trusted_proxies: int = setting(0, minimum=0, maximum=16)
    # Where rate-limit counts live: memory:// (one process) or redis://host:port/db (shared by replicas).
    rate_limit_storage: str = "memory://"
    session_turns: int = setting(6, minimum=0)
    session_max_age_s: float = setting(1800.0, minimum=1.0)
    # A SQLite file, or a SQLAlchemy URL such as postgresql+psycopg://user@host/db (shared by replicas).
    database: str = "save/conversations.sqlite3"
    # Exchanges older than this many days are deleted with their feedback (0: kept for ever).
    keep_days: float = setting(0.0, minimum=0.0)
    # text: one plain line a message; json: one JSON object a line, with a request id, and a line a request.
    log_format: Literal["text", "json"] = "text"

    @model_validator(mode="after")
    def _widths_in_range(self) -> "ServeConfig":
        bad = [width for width in self.allowed_beam_widths if not 1 <= width <= 64]
        if bad:
            raise ValueError(f"allowed_beam_widths must lie between 1 and 64, not {bad[0]}")
        return self

    def served_beam_widths(self, decode: "DecodeConfig") -> list[int]:
        """The beam widths requests may use: ``allowed_beam_widths``, else the deployment's ``beam_width``."""
        return sorted(set(self.allowed_beam_widths) or {decode.beam_width})

    def resolved_api_key(self) -> str:
        """The API key: ``api_key`` (from the environment, say), else the first line of ``api_key_file``."""
        if self.api_key or not self.api_key_file:
            return self.api_key
        try:
            secret = Path(self.api_key_file).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"[serve] api_key_file {self.api_key_file!r} cannot be read: "
                              f"{getattr(exc, 'strerror', None) or exc}") from None
        if not secret:
            raise ConfigError(f"[serve] api_key_file {self.api_key_file!r} is empty")
        return secret


def parse_sources(corpus: CorpusConfig) -> list[tuple[str, float]]:
    """The ``[corpus] sources`` list as (name, weight) pairs; empty when the corpus is a single source."""
    result = []
    for item in corpus.sources:
        name, _, weight_text = item.partition(":")
        name = name.strip()
        try:
            weight = float(weight_text) if weight_text.strip() else 1.0
        except ValueError:
            raise ValueError(f"sources: weight of {name!r} is {weight_text!r}, not a number") from None
        if not math.isfinite(weight) or not 0 < weight <= MAX_SOURCE_WEIGHT:
            raise ValueError(f"sources: weight of {name!r} must be above 0 and at most {MAX_SOURCE_WEIGHT:g}, "
                             f"got {weight_text.strip()}")
        result.append((name, weight))
    return result


@dataclass(frozen=True)
class Assignment:
    """One ``[section] key = raw`` from a file, a profile, the environment or ``--set``, and where it came from."""

    section: str
    key: str
    raw: str
    where: str


class Config:
    """The effective configuration: one typed object per section (``config.model``, ``config.lstm``, ...),
    plus the named corpus sources. Build one with :func:`load_config` or :func:`load_deployment`."""

    def __init__(self, sections: Mapping[str, Settings] | None = None,
                 sources: Mapping[str, SourceConfig] | None = None):
        registry.load_all()
        given = dict(sections or {})
        self._sections = {name: given.get(name) or cls() for name, cls in ordered_sections().items()}
        self.sources: dict[str, SourceConfig] = dict(sources or {})
        self.profiles: dict[str, list[Assignment]] = {}
        self.origin = "built-in defaults"
        self.applied: list[str] = []

    def __getattr__(self, name: str) -> Any:
        sections = self.__dict__.get("_sections")
        if sections is not None and name in sections:
            return sections[name]
        raise AttributeError(f"no config section {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        sections = self.__dict__.get("_sections")
        if sections is not None and name in sections:
            sections[name] = value
        else:
            super().__setattr__(name, value)

    def with_sections(self, **sections: Settings) -> "Config":
        """A copy with some sections replaced, every rule between sections checked again."""
        updated = copy.deepcopy(self)
        for name, value in sections.items():
            setattr(updated, name, value)
        return updated.validate()

    def section(self, name: str) -> Settings:
        """The typed object for a section name such as ``"vocab"`` or ``"source:support"``."""
        if name.startswith(SOURCE_PREFIX):
            return self.sources[name[len(SOURCE_PREFIX):]]
        return self._sections[name]

    def section_names(self, stage: str | None = None) -> list[str]:
        """The sections, optionally only those of one stage (``BUILD`` or ``RUN``)."""
        return [name for name, value in self._sections.items() if stage is None or value.stage == stage]

    def validate(self) -> "Config":
        """Check every rule between sections; the first broken one is a :class:`ConfigError`."""
        for value in self._sections.values():
            value.check(self)
        return self

    def to_ini(self) -> str:
        """The effective configuration as ini text that :func:`load_config` reads back; secrets are left out."""
        lines = ["# Effective deepqa configuration.", f"# Read from: {self.origin}"]
        lines += [f"# Applied: {item}" for item in self.applied]
        for name in self.section_names() + [SOURCE_PREFIX + name for name in self.sources]:
            value = self.section(name)
            lines += ["", f"[{name}]"]
            for key in type(value).model_fields:
                extra = field_extra(type(value), key)
                text = "" if extra.get("secret") else format_value(getattr(value, key), extra.get("separator", ","))
                lines.append(f"{key} = {text}")
        return "\n".join(lines) + "\n"

    def save(self, path: str | os.PathLike) -> None:
        """Atomically write the effective configuration to ``path``."""
        atomic.write_text(path, self.to_ini())


def ordered_sections() -> dict[str, type[Settings]]:
    """Every known section, build-time ones first, each kind in registration order."""
    registry.load_all()
    return {name: cls for stage in (BUILD, RUN) for name, cls in SECTIONS.items() if cls.stage == stage}


def parse_assignment(text: str, where: str | None = None) -> Assignment:
    """``section.key=value`` as an :class:`Assignment`."""
    name, sep, value = text.partition("=")
    section, dot, key = name.strip().partition(".")
    if not sep or not dot or not section or not key:
        raise ConfigError(f"override {text!r} is not of the form section.key=value (for example vocab.max_size=8000)")
    return Assignment(section.strip(), key.strip().lower(), value, where or f"--set {text}")


def default_config_path() -> Path | None:
    """``config.ini`` in the working directory, else the project's own, else none (built-in defaults)."""
    for candidate in (Path.cwd() / "config.ini", PROJECT_CONFIG):
        if candidate.is_file():
            return candidate
    return None


def read_file(path: str | os.PathLike) -> tuple[list[Assignment], dict[str, list[Assignment]]]:
    """The assignments of a config file and of each of its ``[profile:NAME]`` sections."""
    path = Path(path)
    try:
        if not stat.S_ISREG(path.stat().st_mode):
            raise ConfigError(f"config file {str(path)!r} is not a regular file")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file {str(path)!r} does not exist") from None
    except UnicodeDecodeError:
        raise ConfigError(f"config file {str(path)!r} is not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(f"config file {str(path)!r} cannot be read: {exc.strerror}") from None
    parser = configparser.ConfigParser(interpolation=None, default_section="__no_default__")
    try:
        parser.read_string(text, source=str(path))
    except configparser.Error as exc:
        message = " ".join(str(exc).split())
        raise ConfigError(f"config file {str(path)!r} cannot be parsed: {message}") from None
    assignments, profiles = [], {}
    for section in parser.sections():
        if section.startswith(PROFILE_PREFIX):
            profile = section[len(PROFILE_PREFIX):]
            where = f"[{section}] in {path}"
            profiles[profile] = [parse_assignment(f"{key}={raw}", where) for key, raw in parser.items(section)]
        else:
            assignments += [Assignment(section, key, raw, str(path)) for key, raw in parser.items(section)]
    return assignments, profiles


def environment_assignments(environ: Mapping[str, str]) -> list[Assignment]:
    """``DEEPQA_<SECTION>_<KEY>`` variables of the run-time sections; an unknown key under a section's prefix
    is an error (a typo must not pass silently)."""
    result = []
    for name, cls in ordered_sections().items():
        if cls.stage != RUN:
            continue
        prefix = f"{ENV_PREFIX}{name.upper()}_"
        for variable in sorted(environ):
            if variable.startswith(prefix):
                key = variable[len(prefix):].lower()
                if key not in cls.model_fields:
                    raise unknown("key", key, list(cls.model_fields), f" in [{name}] (environment variable {variable})")
                result.append(Assignment(name, key, environ[variable], f"environment variable {variable}"))
    return result


class _Builder:
    """Collects assignments section by section, then builds each section once, so that rules between keys
    see the final values whatever the order they were given in."""

    def __init__(self, base: Config):
        self.base = base
        self.sections = ordered_sections()
        self.values: dict[str, dict[str, Any]] = {}
        self.origins: dict[str, dict[str, str]] = {}

    def add(self, item: Assignment) -> None:
        if item.section.startswith(SOURCE_PREFIX):
            name = item.section[len(SOURCE_PREFIX):]
            if not name or "." in name:
                raise ConfigError(f"[{item.section}]: a source needs a name without dots, like [source:support]")
            cls: type[Settings] = SourceConfig
        elif item.section in self.sections:
            cls = self.sections[item.section]
        else:
            accepted = list(self.sections) + [SOURCE_PREFIX + "NAME", PROFILE_PREFIX + "NAME"]
            raise unknown("section", item.section, accepted, f" (from {item.where})")
        if item.key not in cls.model_fields:
            raise unknown("key", item.key, list(cls.model_fields), f" in [{item.section}] (from {item.where})")
        self.values.setdefault(item.section, {})[item.key] = coerce_text(cls, item.key, item.raw)
        self.origins.setdefault(item.section, {})[item.key] = item.where

    def build(self) -> Config:
        config = self.base
        for name, values in self.values.items():
            if name.startswith(SOURCE_PREFIX):
                source = name[len(SOURCE_PREFIX):]
                current = config.sources.get(source, SourceConfig()).model_dump()
                config.sources[source] = build(SourceConfig, {**current, **values}, self.origins[name])
            else:
                cls = type(config.section(name))
                built = build(cls, {**config.section(name).model_dump(), **values}, self.origins[name])
                setattr(config, name, built)
        return config.validate()


def _apply(config: Config, assignments: Iterable[Assignment]) -> Config:
    builder = _Builder(config)
    for item in assignments:
        builder.add(item)
    return builder.build()


def load_config(path: str | os.PathLike | None = None, profile: str | None = None, overrides: Iterable[str] = (),
                environ: Mapping[str, str] | None = None) -> Config:
    """The configuration of a build-time command: defaults, a file, a profile, the environment's run-time
    settings, and ``--set`` overrides, every rule checked."""
    config = Config()
    file_path = Path(path) if path is not None else default_config_path()
    assignments: list[Assignment] = []
    if file_path is not None:
        assignments, config.profiles = read_file(file_path)
        config.origin = str(file_path)
    for items in config.profiles.values():
        _apply(Config(), assignments + items)  # every profile checked up front: a typo is found before it is needed
    if profile:
        if profile not in config.profiles:
            accepted = ", ".join(sorted(config.profiles)) or "none defined"
            raise ConfigError(f"unknown profile {profile!r}; profiles in {config.origin}: {accepted}")
        assignments += config.profiles[profile]
        config.applied.append(f"profile {profile}")
    assignments += environment_assignments(environ or {})
    for override in overrides:
        assignments.append(parse_assignment(override))
        config.applied.append(f"--set {override}")
    return _apply(config, assignments)


def load_deployment(run_config: Config, path: str | os.PathLike | None = None, overrides: Iterable[str] = (),
                    environ: Mapping[str, str] | None = None) -> Config:
    """The configuration a trained run is used with: its build-time sections as trained, run-time sections
    from the run's ``[decode]``, the deployment file's explicit run-time keys, the environment and ``--set``
    (which may name run-time sections only)."""
    config = copy.deepcopy(run_config)
    for name in config.section_names(RUN):
        setattr(config, name, ordered_sections()[name]())
    config.decode = run_config.decode
    file_path = Path(path) if path is not None else default_config_path()
    assignments: list[Assignment] = []
    if file_path is not None:
        in_file, _ = read_file(file_path)
        _apply(Config(), in_file)  # the whole file is checked, though only its run-time keys apply here
        assignments = [item for item in in_file if item.section in config.section_names(RUN)]
        config.origin = f"{run_config.origin}; deployment {file_path}"
    assignments += environment_assignments(environ or {})
    for override in overrides:
        item = parse_assignment(override)
        if item.section not in config.section_names(RUN):
            names = [f"[{name}]" for name in config.section_names(RUN)]
            allowed = ", ".join(names[:-1]) + " and " + names[-1]
            raise ConfigError(f"--set {override}: a trained run's [{item.section}] is fixed; only {allowed} "
                              "settings apply to it (train a new run to change the others)")
        assignments.append(item)
    return _apply(config, assignments)


def with_values(section: str, current: Settings, values: Mapping[str, Any]) -> Settings:
    """A copy of a section with JSON-typed ``values`` applied, checked strictly (``"8"`` is not an integer)."""
    cls = type(current)
    for key in values:
        if key not in cls.model_fields:
            raise unknown("key", key, list(cls.model_fields), f" in [{section}]")
    return build(cls, {**current.model_dump(), **values}, strict=True)


def with_text(section: str, current: Settings, key: str, raw: str) -> Settings:
    """A copy of a section with one key set from text (as typed in the chat console)."""
    cls = type(current)
    if key not in cls.model_fields:
        raise unknown("key", key, list(cls.model_fields), f" in [{section}]")
    return build(cls, {**current.model_dump(), key: coerce_text(cls, key, raw)})
