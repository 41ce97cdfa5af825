"""Typed settings: the base class of every config section, the table of sections, and one-line errors.

Types, coercion, bounds and defaults come from pydantic v2: a section is a :class:`Settings` model whose
fields are its keys. Text from an ini file, an environment variable or ``--set`` is coerced (``"on"`` is
true, ``"8"`` is 8); JSON values from the API are checked strictly (``"8"`` is not an integer). NaN and
infinity are refused everywhere. A section declares whether it is fixed when a dataset or run is built
(``BUILD``) or chosen by the deployment that uses a trained run (``RUN``).
"""

from __future__ import annotations

import difflib
import typing
from typing import Any, ClassVar, Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from deepqa.errors import ConfigError

BUILD = "build"  # frozen into the dataset and the run bundle
RUN = "run"  # chosen by the deployment: project config.ini or --config, environment, --set

# Section name -> settings class, in registration order. Components add theirs when they register.
SECTIONS: dict[str, type["Settings"]] = {}


class Settings(BaseModel):
    """One config section: typed keys with defaults and bounds, and the checks that span sections."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False,
                              protected_namespaces=(), use_attribute_docstrings=True)

    section: ClassVar[str] = ""
    stage: ClassVar[str] = BUILD

    def __setattr__(self, name: str, value: Any) -> None:
        try:
            super().__setattr__(name, value)
        except ValidationError as exc:
            raise ConfigError(describe(exc, self.section, {name: value})) from None

    def as_tuple(self) -> tuple:
        """A hashable summary of every value (requests with equal settings are decoded together)."""
        return tuple(self.model_dump().items())

    def check(self, config: Any) -> None:
        """Rules between this section and others of ``config``; raise :class:`ConfigError` when one fails."""

    def replace(self, **changes: Any) -> "Settings":
        """A copy with ``changes`` applied and every rule of the section checked again."""
        try:
            return type(self).model_validate({**self.model_dump(), **changes})
        except ValidationError as exc:
            raise ConfigError(describe(exc, self.section)) from None


def setting(default: Any, *, minimum: float | None = None, maximum: float | None = None, separator: str = ",",
            secret: bool = False) -> Any:
    """A section key with its default, inclusive bounds, the separator of a list written as text, and whether
    it is a secret that is never written to a saved config."""
    extra = {"separator": separator, "secret": secret}
    if isinstance(default, list):
        return Field(default_factory=lambda: list(default), ge=minimum, le=maximum, json_schema_extra=extra)
    return Field(default, ge=minimum, le=maximum, json_schema_extra=extra)


def register_section(cls: type[Settings]) -> type[Settings]:
    """Make ``cls`` the settings of section ``cls.section``; the same name for another class is an error."""
    known = SECTIONS.get(cls.section)
    if known is not None and known is not cls:
        raise ConfigError(f"section [{cls.section}] is declared twice: by {known.__qualname__} and {cls.__qualname__}")
    SECTIONS[cls.section] = cls
    return cls


def field_extra(cls: type[Settings], key: str) -> dict:
    """The deepqa metadata (separator, secret) of one key."""
    extra = cls.model_fields[key].json_schema_extra
    return extra if isinstance(extra, dict) else {}


def coerce_text(cls: type[Settings], key: str, raw: str) -> Any:
    """The value of ``raw`` text for a key, before validation: lists are split on the key's separator."""
    raw = raw.strip()
    annotation = cls.model_fields[key].annotation
    if typing.get_origin(annotation) is list:
        separator = field_extra(cls, key).get("separator", ",")
        return [item.strip() for item in raw.replace("\n", separator).split(separator) if item.strip()]
    return raw


def format_value(value: Any, separator: str = ",") -> str:
    """Serialize a typed setting the way :func:`coerce_text` reads it back."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return f"{separator} ".join(str(item) for item in value)
    return str(value)


def describe(exc: ValidationError, section: str, raw: Mapping[str, Any] | None = None,
             origins: Mapping[str, str] | None = None) -> str:
    """The first problem of a validation error as one line naming the section, the key, the value given and,
    where known, where that value came from."""
    error = exc.errors()[0]
    message = error["msg"].removeprefix("Value error, ")
    if not error["loc"]:
        return f"[{section}] {message}"
    key = str(error["loc"][0])
    given = (raw or {}).get(key, error.get("input"))
    where = f" (from {origins[key]})" if origins and key in origins else ""
    if error["type"] == "extra_forbidden":
        return unknown("key", key, list(SECTIONS[section].model_fields) if section in SECTIONS else [],
                       f" in [{section}]").args[0] + where
    return f"[{section}] {key} = {given!r}: {message}{where}"


def unknown(kind: str, name: str, accepted: list[str], context: str = "") -> ConfigError:
    """The error for an unknown name, with the closest accepted one and the full list."""
    close = difflib.get_close_matches(name, accepted, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return ConfigError(f"unknown {kind} {name!r}{context}{hint}; accepted: {', '.join(sorted(accepted))}")


def build(cls: type[Settings], values: Mapping[str, Any], origins: Mapping[str, str] | None = None,
          strict: bool = False) -> Settings:
    """A section from ``values`` (text is coerced unless ``strict``), with one-line errors."""
    try:
        return cls.model_validate(dict(values), strict=strict)
    except ValidationError as exc:
        raise ConfigError(describe(exc, cls.section, values, origins)) from None
