"""Every error helmq raises on purpose: one root, one subtree per subsystem.

Messages say what was wrong, where (file:line for config and input files), and what to do.
"""

from __future__ import annotations


class HelmqError(Exception):
    """Root of all helmq errors."""


class ConfigError(HelmqError):
    """Settings, jobs.yaml or a CLI argument is wrong; the CLI exits 2."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        key: str | None = None,
    ) -> None:
        self.file, self.line, self.key, self.reason = file, line, key, message
        where = ""
        if file:
            where = f"{file}:{line}: " if line else f"{file}: "
        what = f"{key}: " if key else ""
        super().__init__(f"{where}{what}{message}")


class InputError(HelmqError):
    """A discovered or imported file cannot be read as what it claims to be."""

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None) -> None:
        self.file, self.line, self.reason = file, line, message
        where = f"{file}:{line}: " if file and line else (f"{file}: " if file else "")
        super().__init__(f"{where}{message}")


class QueueImportError(InputError):
    """A helm autodo queue.yaml cannot be imported at all."""


class FingerprintConflict(InputError):
    """An imported entry's fingerprint already belongs to another item of the job."""

    def __init__(self, *, job: str, item_key: str, fingerprint: str, owner: str) -> None:
        self.job, self.item_key, self.fingerprint, self.owner = job, item_key, fingerprint, owner
        super().__init__(f"item key {item_key!r}: fingerprint {fingerprint!r} already belongs "
                         f"to item {owner!r} of job {job!r}; not imported")


class StoreError(HelmqError):
    """The database is unreachable or its schema is not what this helmq expects."""


class BrokerError(HelmqError):
    """The Celery broker cannot be reached; queued items wait for the reconciler."""


class TierError(HelmqError):
    """An execution tier could not run an item."""


class WorktreeError(TierError):
    """A git worktree or branch for an item could not be prepared or inspected."""


class CheckError(TierError):
    """A script check's detector or fixer failed to run."""


class UnknownCheckError(CheckError):
    """No script check has the requested name."""
