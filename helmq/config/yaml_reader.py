"""Reading a YAML config file so that every error names its file, line and key."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn

import yaml

from helmq.errors import ConfigError

KeyPath = tuple[str | int, ...]
"""Mapping keys as str, sequence indices as int: ("jobs", "x", "stages", 1)."""


def read_yaml(text: str, reader: YamlReader) -> Any:
    """Parse `text` as one YAML document, recording each key's line in `reader`."""
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        if root is not None:
            reader.index(root, ())
        return None if root is None else loader.construct_document(root)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(
            f"invalid YAML: {problem}", file=reader.source, line=mark.line + 1 if mark else None
        ) from None
    finally:
        loader.dispose()


def dotted(path: KeyPath) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def show(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value) if isinstance(value, str) else str(value)


def is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


class YamlReader:
    """Reads parsed YAML into values; knows each key's line so errors can point at it.

    Subclasses add converters for their own keys; every error names file, line and key."""

    def __init__(self, source: str) -> None:
        self.source = source
        # key path -> (line of the key, line of the value), both 1-based
        self.lines: dict[KeyPath, tuple[int, int]] = {}

    def index(self, node: yaml.Node, path: KeyPath, key_line: int | None = None) -> None:
        """Record where every key and value starts; reject duplicate keys, which YAML hides."""
        if path in self.lines:
            return  # an alias reached again: the first occurrence is where it is written
        value_line = node.start_mark.line + 1
        self.lines[path] = (key_line or value_line, value_line)
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for key, value in node.value:
                # `<<` merges are flattened by the constructor; their keys use the parent's line
                if not isinstance(key, yaml.ScalarNode) or key.value == "<<":
                    continue
                if key.value in seen:
                    raise ConfigError(
                        f"duplicate key {key.value!r} (each key may appear once)",
                        file=self.source,
                        line=key.start_mark.line + 1,
                        key=dotted(path + (key.value,)),
                    )
                seen.add(key.value)
                self.index(value, path + (key.value,), key.start_mark.line + 1)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                self.index(item, path + (i,))

    def fail(self, path: KeyPath, message: str, *, at_key: bool = False) -> NoReturn:
        """Raise a ConfigError at the line of `path` (or its nearest written ancestor)."""
        line = None
        for n in range(len(path), -1, -1):
            if path[:n] in self.lines:
                key_line, value_line = self.lines[path[:n]]
                line = key_line if at_key and n == len(path) else value_line
                break
        raise ConfigError(message, file=self.source, line=line, key=dotted(path) or None)

    def mapping(
        self, path: KeyPath, value: Any, allowed: tuple[str, ...], what: str
    ) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.fail(path, f"expected a mapping ({what}), got {show(value)}")
        for key in value:
            if str(key) not in allowed:
                expected = ", ".join(sorted(allowed))
                self.fail(
                    path + (str(key),),
                    f"unknown key {str(key)!r} (expected one of: {expected})",
                    at_key=True,
                )
        return {str(key): item for key, item in value.items()}

    def convert(
        self, path: KeyPath, fields: dict[str, Any], converters: dict[str, Callable[..., Any]]
    ) -> dict[str, Any]:
        return {key: converters[key](path + (key,), value) for key, value in fields.items()}

    def boolean(self, path: KeyPath, value: Any) -> bool:
        if not isinstance(value, bool):
            self.fail(path, f"expected true or false, got {show(value)}")
        return value

    def string(self, path: KeyPath, value: Any) -> str:
        if not isinstance(value, str):
            self.fail(path, f"expected a string, got {show(value)}")
        return value

    def amount(self, path: KeyPath, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            self.fail(path, f"expected a number >= 0, got {show(value)}")
        return float(value)

    def positive(self, path: KeyPath, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            self.fail(path, f"expected a whole number > 0, got {show(value)}")
        return value

    def globs(self, path: KeyPath, value: Any) -> tuple[str, ...]:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(g, str) and g for g in value):
            self.fail(path, f"expected a glob or a list of globs, got {show(value)}")
        return tuple(value)
