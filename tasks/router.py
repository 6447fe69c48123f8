"""Queues and routing: execute goes to the queue of the item's tier."""

from __future__ import annotations

from typing import Any

from kombu import Queue

from helmq.domain.model import QUEUES, TIER_QUEUE, Tier

STAGE_QUEUE = {"helmq.classify": "llm", "helmq.review": "llm"}


def task_queues() -> list[Queue]:
    """One queue per tier plus `control`, each bound to its own routing key."""
    return [Queue(name, routing_key=name) for name in QUEUES]


def route_task(name: str, args: Any, kwargs: Any, options: Any, task: Any = None,
               **_kw: Any) -> dict[str, str] | None:
    """Celery router: the handoff's tier picks the execute queue; scans and ticks go to control."""
    if name == "helmq.execute":
        handoff = (args or [None])[0] or kwargs.get("handoff") or {}
        tier = handoff.get("tier") if isinstance(handoff, dict) else None
        queue = (TIER_QUEUE.get(Tier(tier))
                 if tier in Tier._value2member_map_ and isinstance(tier, str) else None)
        return {"queue": queue or "control", "routing_key": queue or "control"}
    if name in STAGE_QUEUE:
        return {"queue": STAGE_QUEUE[name], "routing_key": STAGE_QUEUE[name]}
    if name.startswith("helmq."):
        return {"queue": "control", "routing_key": "control"}
    return None
