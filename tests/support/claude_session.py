"""Values shared by the unit and integration tests of the Claude session tier."""

from __future__ import annotations

from datetime import UTC, datetime

KEY = "sk-ant-fake-claude-session-key-42"
MODEL = "claude-haiku-4-5"
T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
