"""Hooks: how a lower app calls code of an app above it without importing it.

Apps depend only downwards (``core`` ← ``accounts`` ← ``audit`` ← ``projects`` ←
``runs`` ← {``artifacts``, ``collab``, ``ci``, ``notifications``} ← ``portal``; the
contract is in pyproject.toml). When a lower app must trigger a higher one — a run's
purge must release its artifacts, ``/readyz`` must ask the artifact store — it owns a
``Hook`` and the higher app registers a callable into it in its ``AppConfig.ready()``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from django.core.exceptions import ImproperlyConfigured

F = TypeVar("F", bound=Callable[..., object])


class Hook(Generic[F]):
    """Named callables, called in registration order. A name registered twice with
    different callables is a programming error (ImproperlyConfigured), as a duplicate
    audit action is; registering the same one again (``ready()`` run anew when a test
    changes ``INSTALLED_APPS``) changes nothing."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._registered: dict[str, F] = {}

    def register(self, name: str, function: F) -> F:
        """Register ``function`` as ``name``; returns it, so it also works as a decorator
        argument. Raises ImproperlyConfigured when ``name`` is taken by another."""
        if name in self._registered and self._registered[name] != function:
            raise ImproperlyConfigured(f"{self.name}: '{name}' is registered twice")
        self._registered[name] = function
        return function

    def items(self) -> Iterator[tuple[str, F]]:
        """``(name, callable)`` pairs in registration order."""
        return iter(list(self._registered.items()))

    def __iter__(self) -> Iterator[F]:
        return iter(list(self._registered.values()))

    def only(self) -> F:
        """The one callable of a hook that must have exactly one (ImproperlyConfigured
        otherwise, naming the hook)."""
        if len(self._registered) != 1:
            raise ImproperlyConfigured(
                f"{self.name}: expected one registration, found {len(self._registered)}"
                " (is the app that provides it in INSTALLED_APPS?)"
            )
        return next(iter(self._registered.values()))
