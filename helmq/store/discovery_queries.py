"""Discovery's queries: upsert findings by fingerprint, mark the missing gone, import queues."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, insert, select, text, update
from sqlalchemy.engine import RowMapping

from helmq.domain.clock import utcnow
from helmq.domain.model import Finding, Status
from helmq.errors import FingerprintConflict
from helmq.store.rows import SCAN_LOCK_KEY, RepositoryBase, ScanCounts, json_patch
from helmq.store.schema import scans, work_items

GONE_FROM = "gone_from"
"""The `data` key that keeps the status an item had when discovery marked it gone."""


def _found_again(gone_from: str | None, content_changed: bool) -> tuple[Status, str]:
    """The status a gone item returns to when discovery finds it again, and why.

    A disappearance may be transient (a branch without the file, a file briefly unreadable):
    finished work stays finished. A done recurring item goes back to done, so that
    reset_recurring and its last_completed decide when it runs again.
    """
    if gone_from == Status.DONE:
        return Status.DONE, "found again by discovery; done before it was gone"
    if gone_from == Status.REJECTED and not content_changed:
        return Status.REJECTED, "found again by discovery; rejected before it was gone"
    return Status.PENDING, "found again by discovery"


_IMPORT_MERGED = frozenset({"status", "data", "last_completed", "lease_until"})
"""Imported values a re-import does not simply overwrite."""




def _aware(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


class DiscoveryQueries(RepositoryBase):
    """Named queries that record what discovery and imports found."""

    def upsert_findings(
        self,
        job: str,
        findings: Sequence[Finding],
        *,
        sources: Collection[str],
        repos: Iterable[str],
        skipped: Iterable[tuple[str, str]] = (),
        now: datetime | None = None,
    ) -> ScanCounts:
        """Record a discovery pass: insert new findings, refresh known ones, mark the missing gone.

        Items are matched by fingerprint, so a rescan never duplicates. Only items that came
        from one of `sources` in one of `repos` can become gone, and not those of a file the scan
        could not read: `skipped` holds the (repo, source_file) pairs it skipped.
        """
        now = now or utcnow()
        counts = ScanCounts()
        repos = set(repos)
        skipped = {(str(r), str(path)) for r, path in skipped}
        with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                # Wait, not try: a concurrent scan of the same job would insert the same rows.
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": SCAN_LOCK_KEY})
            rows = conn.execute(
                select(work_items).where(work_items.c.job == job)
            ).mappings()
            known = {
                r["fingerprint"]: r
                for r in rows
                if r["data"].get("source") in sources and r["data"].get("repo") in repos
            }
            seen: set[str] = set()
            for f in findings:
                seen.add(f.fingerprint)
                row = known.get(f.fingerprint)
                if row is None:
                    if not f.done:
                        self._insert_finding(conn, job, f, now)
                        counts.new += 1
                    continue
                self._refresh_finding(conn, row, f, now, counts)
            for fp, row in known.items():
                if fp in seen or row["status"] == Status.GONE:
                    continue
                if (row["data"].get("repo"), row["source_file"]) in skipped:
                    # Its file could not be read this time: absent is not the same as gone.
                    counts.unchanged += 1
                    continue
                self._mark_gone(conn, row, now)
                counts.gone += 1
        return counts

    def record_scan(
        self,
        job: str,
        strategy: str,
        *,
        started_at: datetime,
        repos: Sequence[str],
        counts: ScanCounts,
        warnings: Sequence[str],
        finished_at: datetime | None = None,
    ) -> int:
        """Record that `job` ran discovery: the one row an unchanged rescan writes."""
        with self.engine.begin() as conn:
            return conn.execute(
                insert(scans)
                .values(job=job, strategy=strategy, started_at=started_at,
                        finished_at=finished_at or utcnow(), repos=list(repos),
                        counts=counts.as_dict(), warnings=list(warnings))
                .returning(scans.c.id)
            ).scalar_one()

    def _mark_gone(self, conn: Connection, row: RowMapping, now: datetime) -> None:
        """Mark an item gone, remembering its status so that a return can restore it."""
        conn.execute(
            update(work_items)
            .where(work_items.c.id == row["id"])
            .values(data=json_patch(conn, {GONE_FROM: row["status"]}))
        )
        self._set_status(conn, row, Status.GONE,
                         f"no longer found by discovery (was {row['status']})", now)

    def _insert_finding(self, conn: Connection, job: str, f: Finding, now: datetime) -> None:
        item_id = conn.execute(
            insert(work_items)
            .values(
                job=job,
                item_key=f.item_key,
                fingerprint=f.fingerprint,
                status=Status.PENDING,
                priority=f.priority,
                source_file=f.source_file,
                line=f.line,
                recurrence=f.recurrence.value if f.recurrence else None,
                data=dict(f.data),
                created_at=now,
                updated_at=now,
            )
            .returning(work_items.c.id)
        ).scalar_one()
        self._event(conn, item_id, "discovered", to_status=Status.PENDING, now=now,
                    message=f"{f.source_file}:{f.line}")

    def _refresh_finding(
        self, conn: Connection, row: RowMapping, f: Finding, now: datetime, counts: ScanCounts
    ) -> None:
        recurrence = f.recurrence.value if f.recurrence else None
        row_data = row["data"] or {}
        changes: dict[str, Any] = {
            k: v
            for k, v in {
                "priority": f.priority,
                "source_file": f.source_file,
                "line": f.line,
                "recurrence": recurrence,
            }.items()
            if row[k] != v
        }
        status = Status(row["status"])
        # Missing and null are the same to data_filter, so they compare equal here too.
        content_changed = any(row_data.get(k) != v for k, v in f.data.items())
        patch = dict(f.data)
        new_status, counted_done = None, False
        if f.done and status not in (Status.DONE, Status.GONE) and not row["recurrence"]:
            new_status, why, counted_done = Status.DONE, "marked done in its source", True
        elif status is Status.GONE:
            if row_data.get(GONE_FROM) is not None:
                patch[GONE_FROM] = None
            if f.done and not row["recurrence"]:
                new_status, why = Status.DONE, "found again by discovery, marked done in its source"
                counted_done = row_data.get(GONE_FROM) != Status.DONE
            else:
                new_status, why = _found_again(row_data.get(GONE_FROM), content_changed)
        elif status is Status.REJECTED and content_changed:
            new_status, why = Status.PENDING, "content changed since it was rejected"
        if any(row_data.get(k) != v for k, v in patch.items()):
            # Merged in SQL: a stage may have written its keys since `row` was read.
            changes["data"] = json_patch(conn, patch)
        if not changes and new_status is None:
            counts.unchanged += 1
            return
        if changes:
            conn.execute(
                update(work_items)
                .where(work_items.c.id == row["id"])
                .values(**changes, updated_at=now)
            )
        if new_status is not None:
            self._set_status(conn, row, new_status, why, now)
        if counted_done:
            counts.done += 1
        else:
            counts.updated += 1

    def import_record(self, job: str, values: dict[str, Any], now: datetime | None = None) -> str:
        """Insert or update one imported item by (job, item_key); returns new/updated/unchanged.

        A re-import merges the imported `data` keys into the item's data (stage results stay),
        moves `last_completed` only forward, and leaves the status to the database: importing
        the same entry twice changes nothing, whatever the pipeline did in between. An imported
        `waiting` item is due for a retry at once. Raises `FingerprintConflict`, writing
        nothing, when another item of the job already has the entry's fingerprint.
        """
        now = now or utcnow()
        with self.engine.begin() as conn:
            other = conn.execute(
                select(work_items.c.item_key).where(
                    work_items.c.job == job,
                    work_items.c.fingerprint == values["fingerprint"],
                    work_items.c.item_key != values["item_key"],
                )
            ).scalar()
            if other is not None:
                raise FingerprintConflict(job=job, item_key=values["item_key"],
                                          fingerprint=values["fingerprint"], owner=other)
            row = conn.execute(
                select(work_items).where(
                    work_items.c.job == job, work_items.c.item_key == values["item_key"]
                )
            ).mappings().first()
            if row is None:
                fresh = dict(values)
                if fresh["status"] == Status.WAITING and fresh.get("lease_until") is None:
                    fresh["lease_until"] = now  # claim_eligible retries waiting items when due
                item_id = conn.execute(
                    insert(work_items)
                    .values(job=job, created_at=now, updated_at=now, **fresh)
                    .returning(work_items.c.id)
                ).scalar_one()
                self._event(conn, item_id, "imported", to_status=values["status"], now=now)
                return "new"
            # Once imported, the database owns the status, the lease and the stage results.
            changes: dict[str, Any] = {
                k: v
                for k, v in values.items()
                if k not in _IMPORT_MERGED and row[k] != v
            }
            row_data = row["data"] or {}
            imported_data = values.get("data") or {}
            changed_keys = sorted(k for k, v in imported_data.items() if row_data.get(k) != v)
            if changed_keys:
                changes["data"] = json_patch(conn, {k: imported_data[k] for k in changed_keys})
            completed = _aware(values.get("last_completed"))
            if completed is not None and (
                row["last_completed"] is None or completed > row["last_completed"]
            ):
                changes["last_completed"] = completed
            if row["status"] == Status.WAITING and row["lease_until"] is None:
                changes["lease_until"] = now  # imported before waiting items got a retry time
            if not changes:
                return "unchanged"
            conn.execute(
                update(work_items)
                .where(work_items.c.id == row["id"])
                .values(**changes, updated_at=now)
            )
            what = [k for k in sorted(changes) if k != "data"] + [f"data.{k}" for k in changed_keys]
            self._event(conn, row["id"], "imported", from_status=row["status"],
                        to_status=row["status"], now=now,
                        message="updated by import: " + ", ".join(what))
            return "updated"
