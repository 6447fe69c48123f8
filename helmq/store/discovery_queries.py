"""Discovery's queries: upsert findings by fingerprint, mark the missing gone, import queues."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, text, update
from sqlalchemy.engine import RowMapping

from helmq.domain.model import Finding, Status
from helmq.store.rows import SCAN_LOCK_KEY, RepositoryBase, ScanCounts, json_patch
from helmq.store.schema import utcnow, work_items


class DiscoveryQueries(RepositoryBase):
    """Named queries that record what discovery and imports found."""

    def upsert_findings(
        self,
        job: str,
        findings: Sequence[Finding],
        *,
        source: str,
        repos: Iterable[str],
        now: datetime | None = None,
    ) -> ScanCounts:
        """Record a discovery pass: insert new findings, refresh known ones, mark the missing gone.

        Items are matched by fingerprint, so a rescan never duplicates. Only items that came
        from `source` in one of `repos` can become gone.
        """
        now = now or utcnow()
        counts = ScanCounts()
        repos = set(repos)
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
                if r["data"].get("source") == source and r["data"].get("repo") in repos
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
                if fp not in seen and row["status"] != Status.GONE:
                    self._set_status(conn, row, Status.GONE, "no longer found by discovery", now)
                    counts.gone += 1
        return counts

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
        # Stage results live in data beside discovery's fields; keep them.
        data = {**row["data"], **f.data}
        changes = {
            k: v
            for k, v in {
                "priority": f.priority,
                "source_file": f.source_file,
                "line": f.line,
                "recurrence": recurrence,
                "data": data,
            }.items()
            if row[k] != v
        }
        status = Status(row["status"])
        content_changed = any(row["data"].get(k) != v for k, v in f.data.items())
        new_status = None
        if f.done and status not in (Status.DONE, Status.GONE) and not row["recurrence"]:
            new_status, why = Status.DONE, "marked done in its source"
        elif status is Status.GONE and not f.done:
            new_status, why = Status.PENDING, "found again by discovery"
        elif status is Status.REJECTED and content_changed:
            new_status, why = Status.PENDING, "content changed since it was rejected"
        if not changes and new_status is None:
            counts.unchanged += 1
            return
        if changes:
            if "data" in changes:
                # Merged in SQL: a stage may have written its keys since `row` was read.
                changes["data"] = json_patch(conn, f.data)
            conn.execute(
                update(work_items)
                .where(work_items.c.id == row["id"])
                .values(**changes, updated_at=now)
            )
        if new_status is not None:
            self._set_status(conn, row, new_status, why, now)
            if new_status is Status.DONE:
                counts.done += 1
                return
        counts.updated += 1

    def import_record(self, job: str, values: dict[str, Any], now: datetime | None = None) -> str:
        """Insert or update one imported item by (job, item_key); returns new/updated/unchanged."""
        now = now or utcnow()
        with self.engine.begin() as conn:
            row = conn.execute(
                select(work_items).where(
                    work_items.c.job == job, work_items.c.item_key == values["item_key"]
                )
            ).mappings().first()
            if row is None:
                item_id = conn.execute(
                    insert(work_items)
                    .values(job=job, created_at=now, updated_at=now, **values)
                    .returning(work_items.c.id)
                ).scalar_one()
                self._event(conn, item_id, "imported", to_status=values["status"], now=now)
                return "new"
            # Once imported, the database owns the status: a re-import refreshes the rest.
            changes = {k: v for k, v in values.items() if k != "status" and row[k] != v}
            if not changes:
                return "unchanged"
            conn.execute(
                update(work_items)
                .where(work_items.c.id == row["id"])
                .values(**changes, updated_at=now)
            )
            self._event(conn, row["id"], "imported", from_status=row["status"],
                        to_status=row["status"], now=now,
                        message="updated by import: " + ", ".join(sorted(changes)))
            return "updated"
