"""What each scanner found in each file and looked at in one scan, as the scan cache holds it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from helmq.discovery.cache_format import Tail, finding_from_row, finding_row
from helmq.discovery.cache_signatures import Signature
from helmq.domain.model import Finding


@dataclass
class FileResult:
    """What one scanner found in one file."""

    findings: list[Finding] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    skipped: bool = False


def result_to_json(result: FileResult) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if result.findings:
        out["findings"] = [finding_row(f) for f in result.findings]
    if result.warnings:
        out["warnings"] = list(result.warnings)
    if result.skipped:
        out["skipped"] = True
    return out


def result_from_json(raw: dict[str, Any]) -> FileResult:
    rows, warnings = raw.get("findings"), raw.get("warnings")
    return FileResult(findings=[finding_from_row(row) for row in rows] if rows else [],
                      warnings=[str(w) for w in warnings] if warnings else [],
                      skipped=raw.get("skipped") is True)


MALFORMED = (AttributeError, IndexError, KeyError, TypeError, ValueError)
"""What reading back a result the cache holds raises when it was not written by this code."""


def holds_something(result: FileResult) -> bool:
    return bool(result.findings or result.warnings or result.skipped)


@dataclass
class Scanned:
    """What one scanner (a kind) looked at in one scan."""

    paths: list[str] = field(default_factory=list)
    """The files it looked at, in order."""
    sigs: list[int] = field(default_factory=list)
    """Their signatures when it did, four numbers each, in the same order."""
    found: dict[str, dict[str, Any]] = field(default_factory=dict)
    """The results of those that held something, in the same order; most hold nothing."""
    listing: str | None = None
    """The key of the file list (`RepoFiles.key`) `paths` are all the picked files of."""
    _index: dict[str, int] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def checked(cls, raw: Any, tail: Tail) -> Scanned:
        """A scanner's entries read back from the cache; ValueError when malformed. Each
        result is checked where it is used: a malformed one is a miss."""
        if (not isinstance(raw, dict) or type(raw.get("paths")) is not list
                or type(raw.get("found")) is not dict
                or not (raw.get("listing") is None or type(raw["listing"]) is str)):
            raise ValueError("malformed entries")
        sigs = tail.take(raw.get("sigs"))
        try:
            if "\0" in "/".join(raw["paths"]):  # the join checks each is a string, in C
                raise ValueError("a NUL in a path")
        except TypeError:
            raise ValueError("malformed entries") from None
        if len(sigs) != 4 * len(raw["paths"]):
            raise ValueError("as many signatures as paths expected")
        return cls(raw["paths"], sigs, raw["found"], raw["listing"])

    def as_json(self, sigs_in_tail: bool) -> dict[str, Any]:
        return {"paths": self.paths, "sigs": len(self.sigs) if sigs_in_tail else self.sigs,
                "found": self.found, "listing": self.listing}

    def _positions(self) -> dict[str, int]:
        if self._index is None:
            self._index = {rel: i for i, rel in enumerate(self.paths)}
        return self._index

    def signature(self, rel: str) -> list[int] | None:
        """The signature `rel` had, None when it was not looked at."""
        i = self._positions().get(rel)
        return None if i is None else self.sigs[4 * i:4 * i + 4]

    def add(self, rel: str, sig: Signature, found: dict[str, Any] | None) -> None:
        """Record a file looked at (again)."""
        i = self._positions().get(rel)
        if i is None:
            self._positions()[rel] = len(self.paths)
            self.paths.append(rel)
            self.sigs.extend(sig)
        else:
            self.sigs[4 * i:4 * i + 4] = sig
        if found:
            self.found[rel] = found
        else:
            self.found.pop(rel, None)

    def cached_result(self, rel: str) -> FileResult | None:
        """The result of `rel` when it held nothing or its stored result is sound, else None."""
        raw = self.found.get(rel)
        if raw is None:
            return FileResult()
        try:
            return result_from_json(raw)
        except MALFORMED:
            return None

