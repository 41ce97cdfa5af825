"""Name → component registries: corpus readers, tokenizers, models and decoding strategies.

A component registers itself with its name and, where it has any, the settings class of its own config
section. Everything that needs the list of names (config validation, the tuner's search space, the API
and its OpenAPI document, the chat console) asks the registry, so adding a component is one entry.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any, Callable, Generic, TypeVar

from deepqa.errors import ConfigError
from deepqa.settings import SECTIONS, Settings, register_section, unknown

T = TypeVar("T")


class Registry(Generic[T]):
    """The components of one kind, by name; ``package`` is imported first so that its modules register."""

    def __init__(self, kind: str, setting: str, package: str):
        self.kind, self.setting, self.package = kind, setting, package
        self._entries: dict[str, T] = {}
        self._settings: dict[str, type[Settings]] = {}

    def register(self, *names: str, settings: type[Settings] | None = None) -> Callable[[T], T]:
        """Decorator: make the component selectable under each of ``names``; a name taken already is an error."""

        def decorate(component: T) -> T:
            for name in names:
                if name in self._entries and self._entries[name] is not component:
                    raise ConfigError(f"{self.kind} {name!r} is registered twice")
                self._entries[name] = component
                if settings is not None:
                    self._settings[name] = register_section(settings)
            return component

        return decorate

    def unregister(self, name: str) -> None:
        """Remove a component and the section it brought (tests that register a temporary one clean up)."""
        self._entries.pop(name, None)
        settings = self._settings.pop(name, None)
        if settings is not None and settings not in self._settings.values():
            SECTIONS.pop(settings.section, None)

    def load(self) -> "Registry[T]":
        """Import the registry's package, whose ``__init__`` imports every built-in component."""
        importlib.import_module(self.package)
        return self

    def names(self) -> list[str]:
        """Every registered name, in registration order."""
        return list(self.load()._entries)

    def get(self, name: str) -> T:
        """The component registered as ``name``; an unknown name is a one-line error listing the accepted ones."""
        self.load()
        if name not in self._entries:
            raise unknown(self.kind, name, list(self._entries), f" for {self.setting}")
        return self._entries[name]

    def settings_of(self, name: str) -> type[Settings] | None:
        """The settings class of the section that belongs to ``name``, if it has one."""
        self.get(name)
        return self._settings.get(name)

    def check(self, name: Any) -> Any:
        """``name`` if registered, else a ``ValueError`` (the form pydantic validators raise)."""
        if name not in self.names():
            raise ValueError(f"unknown {self.kind} {name!r}; accepted: {', '.join(self.names())}")
        return name


CORPUS_FORMATS: Registry[Any] = Registry("corpus format", "[corpus] format", "deepqa.data.corpus")
TOKENIZERS: Registry[Any] = Registry("tokenizer", "[tokenizer] type", "deepqa.data.text")
MODELS: Registry[Any] = Registry("model type", "[model] type", "deepqa.models")
STRATEGIES: Registry[Any] = Registry("decoding strategy", "[decode] strategy", "deepqa.inference.strategies")
RANKER_ENCODERS: Registry[Any] = Registry("ranker encoder", "[ranker] encoder", "deepqa.ranker")
ALL = (CORPUS_FORMATS, TOKENIZERS, MODELS, STRATEGIES, RANKER_ENCODERS)


def import_submodules(package: str, path: list[str]) -> None:
    """Import every module of a registry's package, so that each component in it registers itself: a new
    component is a new module, with no list of imports to extend."""
    for module in pkgutil.iter_modules(path):
        importlib.import_module(f"{package}.{module.name}")


def load_all() -> None:
    """Import every registry's package, so that every section and name is known."""
    for registry in ALL:
        registry.load()
