"""The UI in a real browser: Playwright driving the system Chromium against a real server.

Set HELMQ_SCREENSHOT_DIR=docs to refresh docs/ui-internal.png and docs/ui-external.png.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert

from helmq.config.jobs import load_jobs
from helmq.discovery.registry import STRATEGIES
from helmq.domain.model import Status
from helmq.store.repository import Repository
from helmq.store.schema import stage_runs
from helmq.web import serve_in_thread
from tests.conftest import free_port
from tests.support.ui import TOKEN, add, settings_for

CHROMIUM = os.environ.get("HELMQ_TEST_CHROMIUM", "/usr/bin/chromium")
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)")

JOBS = """\
jobs:
  codebase_maintenance:
    internal: true
    emoji: "🔧"
    discovery: { strategy: autodo_scan }
  doc_health:
    internal: true
    emoji: "📚"
    discovery:
      strategy: conventions
      rules: [{ name: short_modules, max_lines: 400, files: ["*.py"] }]
  issue_triage:
    emoji: "📬"
    discovery: { strategy: autodo_scan }
"""
EVIL = "<script>window.pwned = 1</script> Escape me"


def seed(repo: Repository, state: Path) -> dict[str, int]:
    """A small, varied set of items, as a user would see after a few runs."""
    now = datetime.now(UTC)
    reports, transcripts = state / "reports", state / "transcripts"
    reports.mkdir(parents=True)
    transcripts.mkdir(parents=True)
    (reports / "docs-links.md").write_text(
        "# Fix broken links in docs\n\n- tier: claude_session\n- verdict: **accept**\n\n"
        "## Diff\n\n```diff\n-[guide](old.md)\n+[guide](guide.md)\n```\n", encoding="utf-8")
    (transcripts / "sess-42.jsonl").write_text("\n".join(json.dumps(line) for line in [
        {"type": "system", "subtype": "init", "model": "claude-sonnet-4-5", "cwd": "/wt/docs"},
        {"type": "assistant", "message": {"content": [
            {"type": "text", "text": "Two links point at `old.md`; I'll fix them."},
            {"type": "tool_use", "id": "t1", "name": "Edit",
             "input": {"file_path": "README.md"}}]}},
        {"type": "user", "message": {"content": [
            {"type": "tool_result", "tool_use_id": "t1", "content": "The file was updated."}]}},
        {"type": "result", "subtype": "success", "result": "Fixed 2 links.",
         "total_cost_usd": 0.21},
    ]) + "\n", encoding="utf-8")
    ago = lambda minutes: now - timedelta(minutes=minutes)  # noqa: E731
    ids = {
        "links": add(repo, "codebase_maintenance", "Fix broken links in docs",
                     status=Status.DONE, tier="claude_session", priority=1, cost_usd=0.21,
                     session_id="sess-42", report_path=str(reports / "docs-links.md"),
                     branch="helmq/fix-broken-links", updated_at=ago(3),
                     data={"review": {"verdict": "accept"}, "claude": {
                         "transcript_path": str(transcripts / "sess-42.jsonl")}}),
        "flaky": add(repo, "codebase_maintenance", "Make the flaky scheduler test deterministic",
                     status=Status.FAILED, tier="llm_call", priority=0, cost_usd=0.043,
                     failure_class="check_failed", updated_at=ago(9)),
        "types": add(repo, "codebase_maintenance", "Add type hints to store/rows.py",
                     status=Status.NEEDS_WORK, tier="vario", priority=2, cost_usd=0.118,
                     data={"review": {"verdict": "needs_work"}}, updated_at=ago(17)),
        "ruff": add(repo, "codebase_maintenance", "Fix ruff findings in tasks/",
                    status=Status.EXECUTING, tier="script", stage="execute", priority=2,
                    updated_at=ago(1)),
        "evil": add(repo, "codebase_maintenance", EVIL, priority=3, updated_at=ago(30)),
        "readme": add(repo, "doc_health", "README mentions a removed --fast flag",
                      status=Status.WAITING, tier="llm_call", waiting_reason="no_credentials",
                      updated_at=ago(45)),
        "max": add(repo, "doc_health", "cli.py is longer than 400 lines", priority=3,
                   updated_at=ago(60)),
        "issue": add(repo, "issue_triage", "Triage: crash when jobs.yaml is empty",
                     status=Status.QUEUED, stage="classify", priority=1, updated_at=ago(2)),
        "issue2": add(repo, "issue_triage", "Triage: UI shows wrong timezone",
                      status=Status.DONE, tier="llm_call", cost_usd=0.006,
                      data={"review": {"verdict": "accept"}}, updated_at=ago(50)),
        "issue3": add(repo, "issue_triage", "Triage: support Python 3.13",
                      status=Status.REJECTED, tier="llm_call", cost_usd=0.004,
                      updated_at=ago(120)),
    }
    with repo.engine.begin() as conn:
        conn.execute(insert(stage_runs).values(
            item_id=ids["links"], stage="execute", attempt=1, tier="claude_session",
            task_id="0b6f5c1e-demo", started_at=ago(8), finished_at=ago(4), outcome="ok",
            cost_usd=0.21))
    return ids


@pytest.fixture
def ui(tmp_path: Path, repo: Repository, db_url: str) -> Iterator[dict]:
    config = tmp_path / "jobs.yaml"
    config.write_text(JOBS, encoding="utf-8")
    settings = settings_for(tmp_path, db_url)
    ids = seed(repo, settings.state_dir)
    port = free_port()
    server = serve_in_thread(settings, port=port, repo=repo,
                             jobs=load_jobs(config, strategies=STRATEGIES))
    yield {"base": f"http://127.0.0.1:{port}", "ids": ids, "repo": repo, "tmp": tmp_path}
    server.stop()


@pytest.fixture
def page(ui: dict) -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM)
        context = browser.new_context(viewport={"width": 1400, "height": 760})
        tab = context.new_page()
        dialogs: list[str] = []
        tab.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        tab.dialogs = dialogs
        yield tab
        browser.close()


def titles(page) -> list[str]:
    return page.locator("table.items td.title a").all_inner_texts()


def screenshot(page, name: str, tmp: Path) -> None:
    path = tmp / name
    page.screenshot(path=str(path), full_page=True)
    target = os.environ.get("HELMQ_SCREENSHOT_DIR")
    if target:
        shutil.copy(path, Path(target) / name)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_tabs_links_filters_actions_and_escaping(ui, page) -> None:
    base, ids, repo = ui["base"], ui["ids"], ui["repo"]

    # Both tabs render their own items
    page.goto(f"{base}/?tab=internal")
    internal = titles(page)
    assert "Fix broken links in docs" in internal and "cli.py is longer than 400 lines" in internal
    assert not any(t.startswith("Triage") for t in internal)
    screenshot(page, "ui-internal.png", ui["tmp"])
    page.click("#tab-external")
    page.wait_for_url("**/?tab=external")
    assert sorted(titles(page)) == ["Triage: UI shows wrong timezone",
                                    "Triage: crash when jobs.yaml is empty",
                                    "Triage: support Python 3.13"]
    screenshot(page, "ui-external.png", ui["tmp"])

    # The session and report links open the item's transcript and rendered report
    page.goto(f"{base}/?tab=internal")
    page.click(f'tr[data-id="{ids["links"]}"] a.session-link')
    page.wait_for_url(f"**/items/{ids['links']}/transcript")
    assert "Fixed 2 links." in page.inner_text("#transcript")
    assert page.locator(".turn.kind-tool_use code").inner_text() == "Edit"
    page.go_back()
    page.click(f'tr[data-id="{ids["links"]}"] a.report-link')
    page.wait_for_url(f"**/items/{ids['links']}/report")
    assert page.inner_text("#report h1") == "Fix broken links in docs"
    assert page.locator("#report strong").inner_text() == "accept"

    # Filtering: status from the select, then a search
    page.goto(f"{base}/?tab=internal")
    page.select_option("select[name=status]", "failed")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**status=failed**")
    assert titles(page) == ["Make the flaky scheduler test deterministic"]
    page.goto(f"{base}/?tab=internal")
    page.fill("input[name=q]", "links")
    page.press("input[name=q]", "Enter")
    page.wait_for_url("**q=links**")
    assert titles(page) == ["Fix broken links in docs"]

    # An action without the token is refused, with it it works
    page.goto(f"{base}/items/{ids['flaky']}")
    page.click("button[data-action$='/retry']")
    page.wait_for_selector("#flash.fail")
    assert "401" in page.inner_text("#flash") and "Authorization" in page.inner_text("#flash")
    assert repo.get_item(ids["flaky"]).status is Status.FAILED
    page.fill("#token", "wrong-token")
    page.click("#token-form button[type=submit]")
    page.click("button[data-action$='/retry']")
    page.wait_for_function("document.querySelector('#flash').textContent.includes('403')")
    assert repo.get_item(ids["flaky"]).status is Status.FAILED
    page.fill("#token", TOKEN)
    page.click("#token-form button[type=submit]")
    assert page.inner_text("#token-state") == "token saved in this browser"
    page.click("button[data-action$='/retry']")
    page.wait_for_selector("#flash.ok")
    page.wait_for_selector("#item-status:has-text('pending')")
    assert repo.get_item(ids["flaky"]).status is Status.PENDING
    assert TOKEN not in page.content()

    # A title holding <script> is shown as text and never runs
    page.goto(f"{base}/?tab=internal")
    assert EVIL in titles(page)
    page.goto(f"{base}/items/{ids['evil']}")
    assert page.inner_text("#item-title") == EVIL
    assert page.evaluate("window.pwned") is None
    assert page.dialogs == []
