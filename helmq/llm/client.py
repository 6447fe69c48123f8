"""The one LLM client: a model per role, retries with backoff, JSON through a schema, cost.

Every call streams (no SDK limit on long outputs, and one code path), asks for structured
output (`output_config.format`, never a forced tool_choice, which current models refuse),
and puts the shared system prompt first with a cache breakpoint so repeated calls read it
from the prompt cache. The SDK's own retries are off: this loop retries 429/529/5xx and
mid-stream errors, honours retry-after, and ends in an `LLMError` whose `failure_class`
the stages record. The API key never appears in a message, repr or log line.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any, Generic, TypeVar

import anthropic
from pydantic import BaseModel, ValidationError

try:  # the HTTP library under the SDK: httpx2 from anthropic 2.x, httpx before
    import httpx2 as _transport
except ImportError:  # pragma: no cover
    import httpx as _transport  # type: ignore[no-redef]  # same API, older name

from helmq.errors import (
    ApiError,
    ApiOverloaded,
    AuthFailed,
    BadOutput,
    BadRequest,
    HelmqError,
    LLMError,
    LLMTimeout,
    NoCredentials,
    RateLimited,
)
from helmq.llm.pricing import TokenUsage, cost, estimate_cost

log = logging.getLogger(__name__)

T = TypeVar("T", bound=BaseModel)


class Role(StrEnum):
    """What a call is for; each role has its own model."""

    CLASSIFY = "classify"
    REVIEW = "review"
    EXECUTE = "execute"
    VARIO = "vario"


DEFAULT_MODELS: Mapping[str, str] = {
    Role.CLASSIFY: "claude-haiku-5-5",
    Role.REVIEW: "claude-haiku-5-5",
    Role.EXECUTE: "claude-sonnet-5-5",
    Role.VARIO: "claude-haiku-5-5",
}


@dataclass(frozen=True)
class LLMConfig:
    """How to reach the API and which model serves each role."""

    api_key: str | None = field(default=None, repr=False)
    base_url: str | None = None
    """None: the SDK's default (which honours ANTHROPIC_BASE_URL)."""
    models: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_MODELS))
    max_retries: int = 3
    """Retries after the first attempt, for 429, 529, 5xx and mid-stream errors."""
    timeout: float = 120.0
    """Wall-clock seconds for one attempt, streaming included."""
    backoff_base: float = 0.5
    backoff_max: float = 8.0
    max_retry_wait: float = 60.0
    """A retry-after longer than this is not waited for: the call fails with it attached."""

    @property
    def has_credentials(self) -> bool:
        return bool(self.api_key)


@dataclass(frozen=True)
class LLMResult(Generic[T]):
    """One call's answer, what it used and what it cost."""

    data: T | None
    """The validated structured output (None only on a BadOutput's result)."""
    text: str
    usage: TokenUsage
    cost_usd: Decimal | None
    """None when the model is not in the price table: unknown, not free."""
    model: str
    request_id: str | None
    stop_reason: str | None
    attempts: int


_RETRIED = (RateLimited, ApiOverloaded, ApiError)


class LLMClient:
    """Calls the Messages API for helmq's roles; thread-safe (vario shares one client)."""

    def __init__(self, config: LLMConfig, *, sleep: Callable[[float], None] = time.sleep) -> None:
        if not config.has_credentials:
            raise NoCredentials("no Anthropic API key: set ANTHROPIC_API_KEY to enable LLM tiers")
        self.config = config
        self._sleep = sleep
        self._sdk = anthropic.Anthropic(api_key=config.api_key, base_url=config.base_url,
                                        max_retries=0, timeout=config.timeout)

    def close(self) -> None:
        self._sdk.close()

    def __enter__(self) -> LLMClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"LLMClient(base_url={self.config.base_url!r}, models={dict(self.config.models)})"

    def model_for(self, role: str) -> str:
        """The model configured for `role`."""
        try:
            return self.config.models[role]
        except KeyError:
            raise BadRequest(f"no model configured for LLM role {role!r}") from None

    def estimate(self, role: str, system: str, prompt: str | Sequence[Mapping[str, Any]],
                 schema: type[BaseModel], *, instructions: str | None = None,
                 max_tokens: int = 1024, model: str | None = None) -> Decimal | None:
        """The cost to reserve before `json_call` with the same arguments (None: unknown)."""
        chars = (len(system) + len(instructions or "") + len(json.dumps(_messages(prompt)))
                 + len(json.dumps(anthropic.transform_schema(schema))))
        return estimate_cost(model or self.model_for(role), chars, max_tokens)

    def json_call(self, role: str, system: str, prompt: str | Sequence[Mapping[str, Any]],
                  schema: type[T], *, instructions: str | None = None,
                  max_tokens: int = 1024, model: str | None = None) -> LLMResult[T]:
        """Ask `role`'s model (or `model`) for JSON matching `schema`; raise an LLMError if
        that fails.

        `system` is the shared, cached prefix (keep it identical across calls of a role);
        `instructions` is per-call system text after the cache breakpoint.
        """
        model = model or self.model_for(role)
        system_blocks: list[dict[str, Any]] = [
            {"type": "text", "text": system, "cache_control": {"type": "ephemeral"}}]
        if instructions:
            system_blocks.append({"type": "text", "text": instructions})
        params = {
            "model": model, "max_tokens": max_tokens, "system": system_blocks,
            "messages": _messages(prompt),
            "output_config": {"format": {"type": "json_schema",
                                         "schema": anthropic.transform_schema(schema)}},
        }
        message, request_id, attempts = self._call(role, params)
        answer = "".join(b.text for b in message.content if b.type == "text")
        usage = TokenUsage.from_api(message.usage)
        ran = message.model or model
        result: LLMResult[T] = LLMResult(None, answer, usage, cost(ran, usage), ran, request_id,
                                         message.stop_reason, attempts)
        try:
            data = schema.model_validate_json(answer)
        except ValidationError as exc:
            why = "cut off at max_tokens" if message.stop_reason == "max_tokens" else \
                "refused" if message.stop_reason == "refusal" else _first_error(exc)
            raise BadOutput(f"{role} reply from {ran} is not JSON matching {schema.__name__}: "
                            f"{why}", request_id=request_id, attempts=attempts,
                            result=result) from None
        return LLMResult(data, answer, usage, result.cost_usd, ran, request_id,
                         message.stop_reason, attempts)

    # --- one call with retries ------------------------------------------------------------

    def _call(self, role: str, params: dict[str, Any]) -> tuple[Any, str | None, int]:
        attempts = 0
        while True:
            attempts += 1
            try:
                message, request_id = self._attempt(params)
                return message, request_id, attempts
            except (anthropic.APIError, _transport.TransportError, _Expired) as exc:
                err = self._failure(exc, attempts)
            wait = self._wait(err, attempts)
            if wait is None:
                raise err from None
            log.warning("LLM %s call to %s: %s (attempt %d), retrying in %.3fs%s", role,
                        params["model"], err.failure_class, attempts, wait,
                        f", request {err.request_id}" if err.request_id else "")
            self._sleep(wait)

    def _attempt(self, params: dict[str, Any]) -> tuple[Any, str | None]:
        fired = threading.Event()
        with self._sdk.messages.stream(**params) as stream:
            def expire() -> None:
                fired.set()
                stream.close()

            # The read timeout never fires while a server trickles pings; this does.
            timer = threading.Timer(self.config.timeout, expire)
            timer.daemon = True
            timer.start()
            try:
                message = stream.get_final_message()
            except Exception:
                if fired.is_set():
                    raise _Expired() from None
                raise
            finally:
                timer.cancel()
            if fired.is_set():  # closed under a read that then ended quietly: not whole
                raise _Expired()
            return message, stream.request_id

    def _wait(self, err: LLMError, attempts: int) -> float | None:
        """Seconds to sleep before the next attempt, or None to give up with `err`."""
        if not isinstance(err, _RETRIED) or attempts > self.config.max_retries:
            return None
        if err.retry_after is not None:
            return err.retry_after if err.retry_after <= self.config.max_retry_wait else None
        backoff = min(self.config.backoff_max, self.config.backoff_base * 2 ** (attempts - 1))
        return backoff * (1 - 0.25 * random.random())

    def _failure(self, exc: Exception, attempts: int) -> LLMError:
        """The LLMError for an SDK exception, its message scrubbed of the API key."""
        key = self.config.api_key or ""

        def make(cls: type[LLMError], message: str, **kw: Any) -> LLMError:
            if key:
                message = message.replace(key, "[redacted]")
            return cls(message, attempts=attempts, **kw)

        if isinstance(exc, _Expired | anthropic.APITimeoutError):
            return make(LLMTimeout, f"no complete reply within {self.config.timeout:g}s")
        if isinstance(exc, anthropic.APIConnectionError):
            return make(ApiError, f"cannot reach the Anthropic API at {self._sdk.base_url}: "
                                  f"{exc.message}")
        if not isinstance(exc, anthropic.APIStatusError):
            # A connection dropped mid-stream surfaces as the HTTP library's own error.
            return make(ApiError, f"the Anthropic API connection failed: {type(exc).__name__}")
        status, kind = exc.status_code, exc.type or ""
        where = f"{status} {kind}".strip() if status >= 400 else f"mid-stream {kind or 'error'}"
        detail = f"{where}: {exc.api_message or 'no message'}"
        kw = {"status": status, "request_id": exc.request_id,
              "retry_after": _retry_after(exc.response.headers)}
        if kind == "overloaded_error" or status == 529:
            return make(ApiOverloaded, f"Anthropic API overloaded ({detail})", **kw)
        if kind == "rate_limit_error" or status == 429:
            return make(RateLimited, f"Anthropic API rate limit ({detail})", **kw)
        if kind in ("authentication_error", "permission_error", "billing_error") or \
                status in (401, 402, 403):
            return make(AuthFailed, f"Anthropic API refused the key ({detail}); "
                                    "check ANTHROPIC_API_KEY and the account", **kw)
        if status >= 500 or status < 400 or status in (408, 409):
            return make(ApiError, f"Anthropic API error ({detail})", **kw)
        return make(BadRequest, f"Anthropic API rejected the request ({detail})", **kw)


class _Expired(HelmqError):
    """The wall-clock timer closed the stream."""


def _messages(prompt: str | Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    if isinstance(prompt, str):
        return [{"role": "user", "content": prompt}]
    return [dict(m) for m in prompt]


def _retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds the server asked us to wait (retry-after-ms, then retry-after), if any."""
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        raw = headers.get(name)
        if raw is None:
            continue
        try:
            return max(0.0, float(raw) / scale)
        except ValueError:
            continue
    return None


def _first_error(exc: ValidationError) -> str:
    errors = exc.errors()
    if not errors:
        return str(exc)
    first = errors[0]
    where = ".".join(str(p) for p in first.get("loc", ())) or "reply"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {first.get('msg', 'invalid')}{more}"
