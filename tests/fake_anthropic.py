"""A fake Anthropic Messages API on 127.0.0.1 for tests.

The real `anthropic` SDK and the real `claude` CLI talk to it through ANTHROPIC_BASE_URL;
nothing in helmq knows it is fake. It serves `POST /v1/messages` (SSE streaming and plain
JSON, with or without `?beta=true`), `POST /v1/messages/count_tokens` and `HEAD /api/hello`,
and logs every request, API key redacted, as one JSON line.

Replies are scripted three ways, tried in this order for each `POST /v1/messages`:
1. a queue of one-shot replies: `fake.script(rate_limited(), rate_limited(), text("ok"))`;
2. rules: `fake.when(contains="classify", reply=json_reply({...}), times=1)`;
3. the default reply (`text("ok")` unless given).
A reply may also be a callable `(request_json) -> Reply`.

Standalone: `python tests/fake_anthropic.py --port 0 --script FILE [--log FILE]` prints its
URL on the first line of stdout and serves until SIGINT/SIGTERM. FILE is JSON:
`{"queue": [SPEC…], "rules": [{"contains": "…", "reply": SPEC, "times": 1}], "default": SPEC}`
with SPEC as accepted by `Reply.from_spec` (e.g. `{"tool_use": {"name": "Write", "input":
{…}}}`, `{"text": "done"}`, `{"error": 529}`, `{"json": {…}}`, `{"hang": true}`).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import signal
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

REDACTED_HEADERS = frozenset({"x-api-key", "authorization", "proxy-authorization", "cookie"})
DEFAULT_MODEL = "claude-haiku-4-5-20251001"

ERROR_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "overloaded_error": 529,
}
ERROR_TYPE = {status: kind for kind, status in ERROR_STATUS.items()}


@dataclass(frozen=True)
class Usage:
    """Token counts a reply reports, as the API's `usage` object."""

    input_tokens: int = 10
    output_tokens: int = 5
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(vars(self))


@dataclass(frozen=True)
class Reply:
    """What the fake answers to one request."""

    content: tuple[dict[str, Any], ...] = ()
    """Content blocks: {"type": "text", "text"}, {"type": "tool_use", "name", "input"[, "id"]},
    {"type": "thinking", "thinking"}."""
    usage: Usage = field(default_factory=Usage)
    model: str | None = None
    """None: echo the request's model."""
    stop_reason: str | None = None
    """None: `tool_use` when a tool_use block is present, else `end_turn`."""
    status: int = 200
    error_type: str | None = None
    error_message: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    delay: float = 0.0
    """Seconds to wait before answering (a slow reply)."""
    stream_error: str | None = None
    """Streams: send `event: error` of this type after the first block (non-streaming
    requests get the matching HTTP error instead)."""
    hang: bool = False
    """Never finish: a stream trickles pings, a plain request gets no answer, until stop()."""
    disconnect: bool = False
    """Drop the connection: a stream after its first block, a plain request before answering."""

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> Reply:
        """A reply from a JSON-able spec (the standalone script format)."""
        spec = dict(spec)
        usage = Usage(**spec.pop("usage", {}))
        common = {k: spec.pop(k) for k in ("model", "stop_reason", "delay") if k in spec}
        common["usage"] = usage
        if "error" in spec:
            status = int(spec.pop("error"))
            return error(status, spec.pop("type", None), spec.pop("message", ""),
                         retry_after_ms=spec.pop("retry_after_ms", None), **common)
        if spec.pop("disconnect", False):
            return replace(text(spec.pop("text", "partial")), disconnect=True, **common)
        if spec.pop("hang", False):
            return replace(text(""), hang=True, **common)
        if "stream_error" in spec:
            return replace(text(spec.pop("text", "partial")),
                           stream_error=spec.pop("stream_error"), **common)
        blocks: list[dict[str, Any]] = []
        if "thinking" in spec:
            blocks.append({"type": "thinking", "thinking": spec.pop("thinking")})
        if "text" in spec:
            blocks.append({"type": "text", "text": spec.pop("text")})
        if "json" in spec:
            blocks.append({"type": "text", "text": json.dumps(spec.pop("json"))})
        tools = spec.pop("tool_use", [])
        for tool in [tools] if isinstance(tools, dict) else tools:
            blocks.append({"type": "tool_use", **tool})
        if spec:
            raise ValueError(f"unknown reply spec keys: {sorted(spec)}")
        return Reply(content=tuple(blocks), **common)


def text(body: str, **kw: Any) -> Reply:
    """A plain text reply."""
    return Reply(content=({"type": "text", "text": body},), **_usage_kw(kw))


def json_reply(data: Any, **kw: Any) -> Reply:
    """A text reply holding `data` as JSON (what structured output returns)."""
    return text(json.dumps(data), **kw)


def tool_use(name: str, tool_input: dict[str, Any], *, preamble: str | None = None,
             tool_id: str | None = None, **kw: Any) -> Reply:
    """A reply that asks the client to run tool `name` (e.g. the claude CLI's Write)."""
    blocks: list[dict[str, Any]] = []
    if preamble:
        blocks.append({"type": "text", "text": preamble})
    block = {"type": "tool_use", "name": name, "input": tool_input}
    if tool_id:
        block["id"] = tool_id
    blocks.append(block)
    return Reply(content=tuple(blocks), **_usage_kw(kw))


def error(status: int, error_type: str | None = None, message: str = "", *,
          retry_after_ms: int | None = None, **kw: Any) -> Reply:
    """An HTTP error reply with the API's error body."""
    headers: list[tuple[str, str]] = list(kw.pop("headers", ()))
    if retry_after_ms is not None:
        headers += [("retry-after-ms", str(retry_after_ms)),
                    ("retry-after", str(max(1, round(retry_after_ms / 1000))))]
    kind = error_type or ERROR_TYPE.get(status, "api_error")
    return Reply(status=status, error_type=kind, error_message=message or kind.replace("_", " "),
                 headers=tuple(headers), **_usage_kw(kw))


def rate_limited(retry_after_ms: int = 1, **kw: Any) -> Reply:
    """429 rate_limit_error with retry-after headers."""
    return error(429, "rate_limit_error", "Number of requests has exceeded your rate limit",
                 retry_after_ms=retry_after_ms, **kw)


def overloaded(**kw: Any) -> Reply:
    """529 overloaded_error."""
    return error(529, "overloaded_error", "Overloaded", **kw)


def bad_request(message: str = "messages: field required", **kw: Any) -> Reply:
    """400 invalid_request_error."""
    return error(400, "invalid_request_error", message, **kw)


def mid_stream_error(error_type: str = "overloaded_error", partial: str = "partial",
                     **kw: Any) -> Reply:
    """A stream that starts, sends some text, then an `event: error`."""
    return replace(text(partial, **kw), stream_error=error_type)


def disconnect(partial: str = "partial", **kw: Any) -> Reply:
    """A reply whose connection drops before it is complete."""
    return replace(text(partial, **kw), disconnect=True)


def slow(reply: Reply, seconds: float) -> Reply:
    """`reply`, sent after `seconds`."""
    return replace(reply, delay=seconds)


def hang(**kw: Any) -> Reply:
    """A reply that never finishes (streams trickle pings) until the server stops."""
    return replace(text("", **kw), hang=True)


def _usage_kw(kw: dict[str, Any]) -> dict[str, Any]:
    """Accept usage numbers as plain keywords: input_tokens=…, cache_read_input_tokens=…."""
    fields = ("input_tokens", "output_tokens", "cache_creation_input_tokens",
              "cache_read_input_tokens")
    numbers = {k: kw.pop(k) for k in fields if k in kw}
    if numbers:
        kw["usage"] = replace(kw.get("usage", Usage()), **numbers)
    return kw


ReplySource = Reply | Callable[[dict[str, Any]], Reply]


@dataclass
class Rule:
    """A reply for requests that match; `times` None = forever."""

    reply: ReplySource
    contains: str | None = None
    last_user_contains: str | None = None
    tool_result: bool | None = None
    model: str | None = None
    stream: bool | None = None
    match: Callable[[dict[str, Any]], bool] | None = None
    times: int | None = None

    def matches(self, body: dict[str, Any]) -> bool:
        if self.times is not None and self.times <= 0:
            return False
        if self.contains is not None and self.contains not in request_text(body):
            return False
        if self.last_user_contains is not None and \
                self.last_user_contains not in _blocks_text(_last_user(body)):
            return False
        if self.tool_result is not None and self.tool_result != _has_tool_result(body):
            return False
        if self.model is not None and body.get("model") != self.model:
            return False
        if self.stream is not None and bool(body.get("stream")) != self.stream:
            return False
        return self.match is None or bool(self.match(body))


def request_text(body: dict[str, Any]) -> str:
    """All text of a request: system prompt and every message's text and tool results."""
    parts = [_blocks_text(body.get("system"))]
    parts += [_blocks_text(m.get("content")) for m in body.get("messages") or []
              if isinstance(m, dict)]
    return "\n".join(parts)


def _blocks_text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        content = [content]
    out = []
    for block in content if isinstance(content, list) else []:
        if not isinstance(block, dict):
            continue
        if "text" in block:
            out.append(str(block["text"]))
        if "content" in block:  # tool_result blocks nest their own content
            out.append(_blocks_text(block["content"]))
    return "\n".join(out)


def _last_user(body: dict[str, Any]) -> Any:
    for message in reversed(body.get("messages") or []):
        if isinstance(message, dict) and message.get("role") == "user":
            return message.get("content")
    return None


def _has_tool_result(body: dict[str, Any]) -> bool:
    content = _last_user(body)
    return isinstance(content, list) and any(
        isinstance(b, dict) and b.get("type") == "tool_result" for b in content)


class FakeAnthropic:
    """The fake server: start it (or use it as a context manager), point clients at `.url`."""

    def __init__(self, log_path: Path | str | None = None, *, port: int = 0,
                 default: ReplySource | None = None, ping_interval: float = 0.2) -> None:
        if log_path is None:
            handle, log_path = tempfile.mkstemp(prefix="fake-anthropic-", suffix=".jsonl")
            os.close(handle)
        self.log_path = Path(log_path)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_path.write_text("")  # a fresh log per server
        self.default: ReplySource = default or text("ok")
        self.ping_interval = ping_interval
        self._queue: list[ReplySource] = []
        self._rules: list[Rule] = []
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._stopping = threading.Event()
        self._server = _Server(("127.0.0.1", port), _Handler)
        self._server.fake = self
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The base URL for ANTHROPIC_BASE_URL / `Anthropic(base_url=…)`."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeAnthropic:
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True,
                                        name="fake-anthropic")
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; hanging replies end and their connections close."""
        self._stopping.set()
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(5)
        self._server.server_close()

    def __enter__(self) -> FakeAnthropic:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- scripting -------------------------------------------------------------------

    def script(self, *replies: ReplySource) -> FakeAnthropic:
        """Queue one-shot replies for the next `POST /v1/messages` calls, in order."""
        with self._lock:
            self._queue.extend(replies)
        return self

    def when(self, *, reply: ReplySource, contains: str | None = None,
             last_user_contains: str | None = None, tool_result: bool | None = None,
             model: str | None = None, stream: bool | None = None,
             match: Callable[[dict[str, Any]], bool] | None = None,
             times: int | None = None) -> FakeAnthropic:
        """Answer requests that match every given condition with `reply` (first rule wins)."""
        with self._lock:
            self._rules.append(Rule(reply, contains, last_user_contains, tool_result, model,
                                    stream, match, times))
        return self

    def load_script(self, spec: dict[str, Any]) -> FakeAnthropic:
        """Queue, rules and default from a JSON-able spec (see the module docstring)."""
        self.script(*(Reply.from_spec(s) for s in spec.get("queue", [])))
        for rule in spec.get("rules", []):
            rule = dict(rule)
            self.when(reply=Reply.from_spec(rule.pop("reply")), **rule)
        if "default" in spec:
            self.default = Reply.from_spec(spec["default"])
        return self

    def reset(self) -> None:
        """Forget queued replies and rules, and empty the log."""
        with self._lock:
            self._queue.clear()
            self._rules.clear()
            self.log_path.write_text("")

    @property
    def pending(self) -> int:
        """One-shot replies not yet used."""
        return len(self._queue)

    # --- the log -----------------------------------------------------------------------

    @property
    def requests(self) -> list[dict[str, Any]]:
        """Every request so far, oldest first, as logged (path, query, headers, body, reply)."""
        lines = self.log_path.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The bodies of every `POST /v1/messages` (not count_tokens) so far."""
        return [r["body"] for r in self.requests
                if r["method"] == "POST" and r["path"] == "/v1/messages"]

    # --- serving -----------------------------------------------------------------------

    def _choose(self, body: dict[str, Any]) -> Reply:
        with self._lock:
            source: ReplySource | None = None
            if self._queue:
                source = self._queue.pop(0)
            else:
                for rule in self._rules:
                    if rule.matches(body):
                        if rule.times is not None:
                            rule.times -= 1
                        source = rule.reply
                        break
            source = source if source is not None else self.default
        return source(body) if callable(source) else source

    def _log(self, entry: dict[str, Any]) -> None:
        line = json.dumps(entry, ensure_ascii=False, default=str)
        with self._lock, self.log_path.open("a", encoding="utf-8") as fh:
            fh.write(line + "\n")

    def _next_id(self, prefix: str) -> str:
        return f"{prefix}_fake{next(self._ids):06d}"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    fake: FakeAnthropic


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_HEAD(self) -> None:
        self._record(None, "200")
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        self._record(None, "404")
        self._send_json(404, _error_body("not_found_error", f"no GET {self.path} here"))

    def do_POST(self) -> None:
        raw = self._read_body()
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            self._record(None, "400", raw=raw.decode("utf-8", "replace"))
            self._send_json(400, _error_body("invalid_request_error", "body is not JSON"))
            return
        if not isinstance(body, dict):
            self._record(body, "400")
            self._send_json(400, _error_body("invalid_request_error", "body is not an object"))
            return
        path = urlsplit(self.path).path.rstrip("/")
        fake = self.server.fake
        if path == "/v1/messages/count_tokens":
            self._record(body, "count_tokens")
            self._send_json(200, {"input_tokens": max(1, len(request_text(body)) // 4)})
        elif path == "/v1/messages":
            reply = fake._choose(body)
            self._record(body, _describe(reply))
            self._answer(body, reply)
        else:
            self._record(body, "404")
            self._send_json(404, _error_body("not_found_error", f"no POST {path} here"))

    # --- replies -----------------------------------------------------------------------

    def _answer(self, body: dict[str, Any], reply: Reply) -> None:
        fake = self.server.fake
        if reply.delay and fake._stopping.wait(reply.delay):
            return
        streaming = bool(body.get("stream"))
        if reply.status >= 400 or (reply.stream_error and not streaming):
            status = reply.status if reply.status >= 400 else \
                ERROR_STATUS.get(reply.stream_error or "", 500)
            kind = reply.error_type or reply.stream_error or "api_error"
            self._send_json(status, _error_body(kind, reply.error_message or kind),
                            headers=reply.headers)
            return
        message = self._message(body, reply)
        if not streaming:
            if reply.disconnect:
                self._drop()
                return
            if reply.hang:
                fake._stopping.wait()
                self.close_connection = True
                return
            self._send_json(200, message, headers=reply.headers)
            return
        self._stream(message, reply)

    def _message(self, body: dict[str, Any], reply: Reply) -> dict[str, Any]:
        fake = self.server.fake
        blocks = []
        for block in reply.content:
            block = dict(block)
            if block["type"] == "tool_use":
                block.setdefault("id", fake._next_id("toolu"))
            if block["type"] == "thinking":
                block.setdefault("signature", "fake-signature")
            blocks.append(block)
        stop = reply.stop_reason or (
            "tool_use" if any(b["type"] == "tool_use" for b in blocks) else "end_turn")
        return {
            "id": fake._next_id("msg"), "type": "message", "role": "assistant",
            "model": reply.model or body.get("model") or DEFAULT_MODEL,
            "content": blocks, "stop_reason": stop, "stop_sequence": None,
            "usage": reply.usage.as_dict(),
        }

    def _stream(self, message: dict[str, Any], reply: Reply) -> None:
        fake = self.server.fake
        self.send_response(200)
        self.send_header("content-type", "text/event-stream; charset=utf-8")
        self.send_header("cache-control", "no-cache")
        self.send_header("transfer-encoding", "chunked")
        self.send_header("request-id", fake._next_id("req"))
        for name, value in reply.headers:
            self.send_header(name, value)
        self.end_headers()
        usage = message["usage"]
        start = {**message, "content": [], "stop_reason": None,
                 "usage": {**usage, "output_tokens": 1}}
        try:
            self._event("message_start", {"message": start})
            self._event("ping", {})
            if reply.hang:
                while not fake._stopping.wait(fake.ping_interval):
                    self._event("ping", {})
                return
            for index, block in enumerate(message["content"]):
                self._stream_block(index, block)
                if reply.disconnect:
                    self._drop()
                    return
                if reply.stream_error:
                    self._event("error", {"error": {
                        "type": reply.stream_error,
                        "message": reply.error_message or reply.stream_error}})
                    return
            self._event("message_delta", {
                "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
                "usage": usage})
            self._event("message_stop", {})
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        finally:
            if not reply.disconnect:
                self._end_chunks()

    def _drop(self) -> None:
        """Close the socket mid-reply, as a failing proxy or network would."""
        self.close_connection = True
        self.wfile.flush()
        self.connection.shutdown(socket.SHUT_RDWR)

    def _stream_block(self, index: int, block: dict[str, Any]) -> None:
        kind = block["type"]
        if kind == "text":
            self._event("content_block_start",
                        {"index": index, "content_block": {"type": "text", "text": ""}})
            for piece in _pieces(block["text"]):
                self._event("content_block_delta",
                            {"index": index, "delta": {"type": "text_delta", "text": piece}})
        elif kind == "tool_use":
            self._event("content_block_start", {"index": index, "content_block": {
                "type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}})
            for piece in ["", *_pieces(json.dumps(block["input"]))]:
                self._event("content_block_delta", {"index": index, "delta": {
                    "type": "input_json_delta", "partial_json": piece}})
        elif kind == "thinking":
            self._event("content_block_start", {"index": index, "content_block": {
                "type": "thinking", "thinking": "", "signature": ""}})
            self._event("content_block_delta", {"index": index, "delta": {
                "type": "thinking_delta", "thinking": block["thinking"]}})
            self._event("content_block_delta", {"index": index, "delta": {
                "type": "signature_delta", "signature": block["signature"]}})
        else:
            raise ValueError(f"fake cannot stream a {kind!r} block")
        self._event("content_block_stop", {"index": index})

    def _event(self, name: str, data: dict[str, Any]) -> None:
        payload = json.dumps({"type": name, **data})
        self._chunk(f"event: {name}\ndata: {payload}\n\n".encode())

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _end_chunks(self) -> None:
        try:
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, ValueError):
            self.close_connection = True

    def _send_json(self, status: int, data: dict[str, Any],
                   headers: tuple[tuple[str, str], ...] = ()) -> None:
        payload = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.send_header("request-id", self.server.fake._next_id("req"))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        try:
            self.wfile.write(payload)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    # --- requests ----------------------------------------------------------------------

    def _read_body(self) -> bytes:
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            out = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length) if length else b""

    def _record(self, body: Any, reply: str, raw: str | None = None) -> None:
        parts = urlsplit(self.path)
        entry = {
            "time": time.time(), "method": self.command, "path": parts.path.rstrip("/") or "/",
            "query": {k: v[-1] for k, v in parse_qs(parts.query).items()},
            "headers": {k.lower(): ("[redacted]" if k.lower() in REDACTED_HEADERS else v)
                        for k, v in self.headers.items()},
            "body": body, "reply": reply,
        }
        if raw is not None:
            entry["raw"] = raw
        self.server.fake._log(entry)


def _describe(reply: Reply) -> str:
    if reply.status >= 400:
        return f"error {reply.status} {reply.error_type}"
    if reply.hang:
        return "hang"
    if reply.disconnect:
        return "disconnect"
    if reply.stream_error:
        return f"stream_error {reply.stream_error}"
    return "message " + ",".join(b["type"] for b in reply.content)


def _error_body(kind: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": kind, "message": message}}


def _pieces(text: str, size: int = 16) -> Iterator[str]:
    """Split text into a few deltas, as the real API streams it."""
    for i in range(0, len(text), size):
        yield text[i:i + size]


def main(argv: list[str] | None = None) -> int:
    """Run the fake as a process: print its URL, serve until SIGINT/SIGTERM."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--script", type=Path, help="JSON file: queue, rules, default")
    parser.add_argument("--log", type=Path, help="JSONL request log (default: a temp file)")
    args = parser.parse_args(argv)
    fake = FakeAnthropic(args.log, port=args.port)
    if args.script:
        fake.load_script(json.loads(args.script.read_text(encoding="utf-8")))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with fake:
        print(fake.url, flush=True)
        print(f"log: {fake.log_path}", file=sys.stderr, flush=True)
        stop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
