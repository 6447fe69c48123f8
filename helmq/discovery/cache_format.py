"""How the scan cache is written down: a line of JSON with findings as rows, then the
signatures as binary numbers, in a file replaced at once.

Read straight into an array, the signatures cost no parsing; a row of a finding reads back a
third quicker than an object. A rescan of an unchanged tree does little besides reading this."""

from __future__ import annotations

import dataclasses
import logging
import os
import sys
import tempfile
from array import array
from pathlib import Path
from typing import Any

from helmq.domain.model import Finding, Recurrence

log = logging.getLogger(__name__)

FINDING_FIELDS = [f.name for f in dataclasses.fields(Finding)]
"""A finding is stored as a row of these, in this order. A cache names them: one written with
other fields is not read."""
_DATA = FINDING_FIELDS.index("data")
_RECURRENCE = FINDING_FIELDS.index("recurrence")


def finding_row(finding: Finding) -> list[Any]:
    """A finding as a JSON row."""
    # Not dataclasses.astuple, which deep-copies every value one by one: `data` holds plain
    # JSON values, and a copy of the dict keeps a later change to the finding out of the cache.
    row = [getattr(finding, name) for name in FINDING_FIELDS]
    row[_DATA] = dict(finding.data)
    row[_RECURRENCE] = finding.recurrence.value if finding.recurrence else None
    return row


def finding_from_row(row: list[Any]) -> Finding:
    """The finding of a JSON row; TypeError or ValueError when it is not one."""
    if row[_RECURRENCE] is not None:
        row = [*row]
        row[_RECURRENCE] = Recurrence(row[_RECURRENCE])
    return Finding(*row)


# The signatures follow the line of JSON as little-endian signed 64-bit numbers, in the order
# the JSON names them (each "sigs" there is their count). When one is out of that range (an
# inode of some network file systems), they are all written in the JSON, as lists of numbers.

def packed(signatures: list[list[int]]) -> bytes | None:
    """The signature lists one after the other as a file's tail; None when one does not fit."""
    numbers = array("q")
    try:
        for sigs in signatures:
            numbers.fromlist(sigs)
    except (OverflowError, TypeError):
        return None
    if sys.byteorder == "big":
        numbers.byteswap()
    return numbers.tobytes()


class Tail:
    """The signatures after the line of JSON of a cache file, taken in order."""

    def __init__(self, data: memoryview) -> None:
        self._numbers = array("q")
        self._numbers.frombytes(data)  # ValueError when not whole 8-byte numbers
        if sys.byteorder == "big":
            self._numbers.byteswap()
        self._taken = 0

    def take(self, stored: Any) -> list[int]:
        """The signatures a "sigs" of the JSON stands for; ValueError when there are none."""
        if type(stored) is list:
            return stored  # compared with what stat gives: a number of another type is a miss
        if type(stored) is not int or not 0 <= stored <= len(self._numbers) - self._taken:
            raise ValueError("signatures missing")
        start, self._taken = self._taken, self._taken + stored
        return self._numbers[start:self._taken].tolist()

    def check_all_taken(self) -> None:
        """ValueError when signatures are left over: the JSON is not the one they go with."""
        if self._taken != len(self._numbers):
            raise ValueError("signatures left over")


def split(raw: bytes) -> tuple[str, Tail]:
    """The JSON text and the signatures of a cache file's bytes; ValueError when it is not one."""
    end = raw.find(b"\n")
    if end < 0:
        return raw.decode("ascii"), Tail(memoryview(b""))
    return str(memoryview(raw)[:end], "ascii"), Tail(memoryview(raw)[end + 1:])


def write_at_once(path: Path, text: str, tail: bytes | None = None) -> bool:
    """Replace path with the ASCII text (then a newline and tail) at once; False, and a
    warning in the log, when it cannot be written."""
    tmp_name = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("wb", dir=path.parent, prefix=path.name, suffix=".tmp",
                                         delete=False) as tmp:
            tmp_name = tmp.name
            tmp.write(text.encode("ascii"))
            if tail is not None:
                tmp.write(b"\n")
                tmp.write(tail)
        os.replace(tmp_name, path)
        tmp_name = None
        return True
    except OSError as exc:
        log.warning("cannot write scan cache %s: %s", path, exc)
        return False
    finally:
        if tmp_name is not None:
            try:
                os.unlink(tmp_name)
            except OSError:
                pass
