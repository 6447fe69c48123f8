"""Settings read from the environment: defaults, the LLM knobs, and errors that name the key."""

from __future__ import annotations

import pytest

from helmq.config.settings import Settings
from helmq.errors import ConfigError


def test_llm_settings_from_the_environment():
    s = Settings.from_env({"HELMQ_STATE_DIR": "/tmp/x", "ANTHROPIC_API_KEY": "sk-secret",
                           "ANTHROPIC_BASE_URL": "http://127.0.0.1:9", "HELMQ_LLM_MAX_RETRIES": "0",
                           "HELMQ_MODEL_REVIEW": "claude-opus-5-5", "HELMQ_LLM_TIMEOUT": "7.5"})
    assert (s.anthropic_base_url, s.llm_max_retries, s.llm_timeout) == (
        "http://127.0.0.1:9", 0, 7.5)
    assert s.models == {"review": "claude-opus-5-5"}
    assert "sk-secret" not in repr(s)
    assert Settings.from_env({}).claude_queue_lease_seconds == 86400.0


@pytest.mark.parametrize(("name", "raw", "message"), [
    ("HELMQ_LLM_MAX_RETRIES", "-1", "must be 0 or more"),
    ("HELMQ_LLM_TIMEOUT", "0", "must be greater than 0"),
    ("HELMQ_QUEUE_LEASE", "soon", "expected a number"),
])
def test_bad_numbers_name_their_variable(name: str, raw: str, message: str):
    with pytest.raises(ConfigError, match=message) as caught:
        Settings.from_env({name: raw})
    assert caught.value.key == name
