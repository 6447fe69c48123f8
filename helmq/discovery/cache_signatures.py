"""Stat signatures of files, by which the scan cache tells an unchanged file from a changed one."""

from __future__ import annotations

import os
import time

from helmq.repos.walk import RECENT_NS, stat_base

Signature = tuple[int, int, int, int]


def file_signature(path: str | os.PathLike[str]) -> Signature | None:
    """(st_mtime_ns, st_size, st_ino, st_ctime_ns) of the file, None when it cannot be
    stat'ed. The ctime catches what the mtime does not: a chmod, an mtime set back."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino, st.st_ctime_ns)


UNKNOWN = [-1, -1, -1, -1]
"""The signature of a file to read again next time: no file has it (no size is negative)."""


def trusted(sigs: list[int]) -> list[int]:
    """The signatures to keep for the next scan: a file written within RECENT_NS of now may
    change again in the same clock tick without its mtime moving, so it is read again next
    time (`UNKNOWN`), as walk does with such folders."""
    recent = time.time_ns() - RECENT_NS
    if not any(mtime >= recent for mtime in sigs[::4]):
        return sigs
    kept = list(sigs)
    for i in range(0, len(kept), 4):
        if kept[i] >= recent:
            kept[i:i + 4] = UNKNOWN
    return kept


def stat_signatures(base: str, rels: list[str]) -> tuple[list[int], bool]:
    """The signatures of the files, four numbers each in one flat list (see `file_signature`),
    and whether every file could be stat'ed (`UNKNOWN` stands for one that could not)."""
    stat = os.stat
    sigs: list[int] = []
    add = sigs.extend
    complete = True
    with stat_base(base) as (prefix, fd):
        for rel in rels:
            try:
                st = stat(prefix + rel, dir_fd=fd)
            except OSError:
                add(UNKNOWN)
                complete = False
                continue
            add((st.st_mtime_ns, st.st_size, st.st_ino, st.st_ctime_ns))
    return sigs, complete
