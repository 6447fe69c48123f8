"""One root for every error helmq defines, and error classes that match the stored enums."""

from __future__ import annotations

import importlib
import inspect
import pickle
import pkgutil
from datetime import UTC, datetime

import pytest

import handlers
import helmq
from helmq import errors
from helmq.domain.outcome import FailureClass, WaitReason
from helmq.errors import BudgetExceeded, EditRefused, HelmqError, LLMError, SlotBusy, TierError

SKIPPED = ("helmq.store.migrations", "helmq.cli.__main__")
"""Alembic's env runs a migration when imported; __main__ runs the CLI."""


def _modules():
    for package in (helmq, handlers):
        for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            if not info.name.startswith(SKIPPED):
                yield importlib.import_module(info.name)


def test_every_exception_helmq_defines_has_the_one_root() -> None:
    defined = [
        (module.__name__, cls) for module in _modules()
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if issubclass(cls, BaseException) and cls.__module__ == module.__name__
    ]
    assert defined, "no exception classes found: the walk is broken"
    outside = [f"{name}.{cls.__name__}" for name, cls in defined if not issubclass(cls, HelmqError)]
    assert outside == []


def test_public_errors_live_in_errors_py() -> None:
    public = [f"{module.__name__}.{cls.__name__}" for module in _modules()
              for _, cls in inspect.getmembers(module, inspect.isclass)
              if issubclass(cls, BaseException) and cls.__module__ == module.__name__
              and not cls.__name__.startswith("_") and module is not errors]
    assert public == []


def test_tier_errors_are_under_tier_error() -> None:
    assert issubclass(EditRefused, TierError) and issubclass(SlotBusy, TierError)


def _llm_errors() -> list[type[LLMError]]:
    return [cls for _, cls in inspect.getmembers(errors, inspect.isclass)
            if issubclass(cls, LLMError)]


@pytest.mark.parametrize("cls", _llm_errors(), ids=lambda c: c.__name__)
def test_llm_error_classes_are_failure_classes_and_retryable_ones_wait_reasons(cls) -> None:
    assert cls.failure_class in set(FailureClass)
    if cls.retryable:
        assert cls.failure_class in set(WaitReason)


def test_moved_errors_keep_their_attributes_across_pickling() -> None:
    budget = BudgetExceeded("spent", scope="daily", retry_at=datetime(2027, 1, 1, tzinfo=UTC))
    copy = pickle.loads(pickle.dumps(budget))
    assert (str(copy), copy.scope, copy.retry_at, copy.reason) == (
        "spent", "daily", budget.retry_at, "budget")
    refused = EditRefused("no", failure_class=FailureClass.OUT_OF_SCOPE)
    assert refused.failure_class == "out_of_scope"
    assert str(SlotBusy("held")) == "held"
