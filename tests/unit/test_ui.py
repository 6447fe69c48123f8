"""The UI's pure parts: metric labels, the transcript parser, and an import that opens
nothing."""

from __future__ import annotations

from helmq.runtime import Runtime
from helmq.web import create_app
from helmq.web.metrics import Snapshot, render
from helmq.web.transcript import parse_transcript
from tests.support.ui import jobs_config, settings_for


def test_metric_labels_are_escaped() -> None:
    text = render(Snapshot(items=[("pending", 'we"ird\\tier\n', 2)], oldest_pending_age=0.0,
                           durations=[], cost_today=0.0))
    assert 'helmq_items{status="pending",tier="we\\"ird\\\\tier\\n"} 2' in text


def test_transcript_parser_tolerates_junk() -> None:
    turns, cut = parse_transcript('{"type": "user", "message": {"content": "hi"}}\n[1,2]\n'
                                  '{"type": "assistant", "message": "odd"}\n\n{broken\n')
    assert not cut
    assert [(t.role, t.kind, t.text) for t in turns] == [
        ("user", "text", "hi"), ("assistant", "text", "odd"), ("raw", "unparsed", "{broken")]


def test_importing_the_ui_opens_nothing(tmp_path) -> None:
    # create_app() with a database that does not exist: nothing connects until a request
    lazy = Runtime(settings_for(tmp_path, "postgresql+psycopg://x@127.0.0.1:1/none"))
    app = create_app(lazy.settings, repo=lambda: lazy.repo, jobs=jobs_config(tmp_path))
    assert app.state.ctx._built == {} and "engine" not in lazy.__dict__
