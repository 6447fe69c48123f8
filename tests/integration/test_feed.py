"""`feed` discovery (RSS 2.0, RSS 1.0 and Atom served by a local http.server) and the feed
job's handler (the real anthropic SDK against the fake Messages API)."""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from fake_anthropic import FakeAnthropic, json_reply, overloaded, text

from handlers.feed import HANDLER, process
from helmq.config.jobs import load_jobs
from helmq.config.settings import Settings
from helmq.discovery.feed import MAX_BYTES, SOURCE, scan_feed
from helmq.discovery.registry import STRATEGIES
from helmq.domain.model import Stage, Status, Tier
from helmq.runtime import stage_context
from helmq.store.repository import Repository
from helmq.tiers.context import StageContext
from tests.conftest import TESTS, write
from tests.support.feed import wired

CORPUS = TESTS / "corpus_feeds"
SUMMARISE = "You summarise one entry of a feed"
REVIEW = "You review one change"
KEY = "sk-ant-test-feed-0123456789"


class FeedServer:
    """A folder served on 127.0.0.1, with the headers of every request kept; `/stream/N`
    sends N bytes without a Content-Length, `/to-file` and `/to-ftp` redirect away from http."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.requests: list[tuple[str, dict[str, str], int]] = []
        server = self

        class Handler(SimpleHTTPRequestHandler):
            def __init__(self, *args, **kw) -> None:
                super().__init__(*args, directory=str(server.root), **kw)

            def log_message(self, *args) -> None:
                pass

            def send_response(self, code, message=None) -> None:
                server.requests.append((self.path, dict(self.headers), code))
                super().send_response(code, message)

            def do_GET(self) -> None:
                if self.path.startswith("/stream/"):
                    self.send_response(200)
                    self.send_header("Content-Type", "application/rss+xml")
                    self.end_headers()
                    left = int(self.path.rsplit("/", 1)[1])
                    try:
                        while left > 0:
                            self.wfile.write(b" " * min(left, 65536))
                            left -= 65536
                    except OSError:
                        pass  # the client stopped reading, as it should
                    return
                if self.path in ("/to-file", "/to-ftp"):
                    self.send_response(302)
                    self.send_header("Location", (server.root / "rss2.xml").as_uri()
                                     if self.path == "/to-file" else "ftp://127.0.0.1/rss2.xml")
                    self.end_headers()
                    return
                super().do_GET()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{name}"

    def stop(self) -> None:
        if self.thread.is_alive():
            self.httpd.shutdown()
            self.httpd.server_close()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[FeedServer]:
    """The corpus feeds, copied to a folder the test may change, served over HTTP."""
    root = tmp_path / "www"
    shutil.copytree(CORPUS, root)
    server = FeedServer(root)
    yield server
    server.stop()


def by_guid(result) -> dict[str, dict]:
    return {f.data["guid"]: f.data for f in result.findings}


# --- parsing -------------------------------------------------------------------------------


def test_rss2_entries_are_items_deduplicated_by_guid(served: FeedServer):
    url = served.url("rss2.xml")
    result = scan_feed(url)
    assert result.scanned == [url]
    # the third entry repeats the first one's guid: the first is kept, and it is said
    assert list(by_guid(result)) == ["release-2.0", "https://example.org/1.9.3"]
    [warning] = result.warnings
    assert url in warning and "1 entry repeats" in warning
    first, second = result.findings
    assert first.title == "libexample 2.0 drops Python 3.8"
    assert first.data == {
        "title": "libexample 2.0 drops Python 3.8",
        "description": "Python 3.8 is no longer supported. Fish & chips.",
        "scope": "Release notes", "source": SOURCE, "repo": url, "feed": url,
        "link": "https://example.org/2.0", "guid": "release-2.0",
        "published": "2026-11-03T08:30:00Z",
        "summary": "Python 3.8 is no longer supported. Fish & chips.", "tier": "llm_call"}
    assert (first.source_file, first.line) == ("https://example.org/2.0", 0)
    # no guid: the link identifies it; content:encoded and dc:date stand in
    assert second.data["summary"] == "Fixes a path traversal in extract()."
    assert second.data["published"] == "2026-10-20T12:00:00Z"
    assert first.item_key.startswith("libexample-2-0-drops-python-3-8-")
    assert first.fingerprint != second.fingerprint


def test_atom_entries_use_id_alternate_link_and_plain_text(served: FeedServer):
    result = scan_feed(served.url("atom.xml"))
    assert result.warnings == []
    entries = by_guid(result)
    deprecation = entries["urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa6a"]
    assert deprecation["title"] == "Deprecating the v1 API"
    assert deprecation["link"] == "https://blog.example.org/v1-deprecation"
    assert deprecation["published"] == "2026-11-01T16:30:02Z"
    assert deprecation["summary"] == "The v1 API goes away in March."
    assert deprecation["scope"] == "Project blog"
    builds = entries["tag:blog.example.org,2026:faster-builds"]
    assert (builds["title"], builds["summary"]) == ("Faster builds",
                                                    "Builds take half the time now.")
    untitled = entries["tag:blog.example.org,2026:untitled"]
    assert untitled["title"] == "https://blog.example.org/untitled"


def test_rss1_items_are_read_too(served: FeedServer):
    [entry] = scan_feed(served.url("rss1.xml")).findings
    assert (entry.title, entry.data["guid"], entry.data["scope"]) == (
        "Mirror moved", "https://news.example.org/a", "News")


def test_a_file_url_is_read_and_the_fetch_says_who_it_is(served: FeedServer, tmp_path: Path):
    result = scan_feed((CORPUS / "atom.xml").as_uri())
    assert len(result.findings) == 3 and result.warnings == []
    scan_feed(served.url("atom.xml"))
    path, headers, _ = served.requests[-1]
    assert path == "/atom.xml"
    assert headers["User-Agent"].startswith("helmq/")
    assert "application/atom+xml" in headers["Accept"]


# --- what is refused -----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["bomb.xml", "external_entity.xml"])
def test_entity_declarations_are_refused_before_any_expansion(served: FeedServer, name: str):
    url = served.url(name)
    started = time.monotonic()
    result = scan_feed(url)
    assert time.monotonic() - started < 2
    assert (result.findings, result.scanned) == ([], [])
    [warning] = result.warnings
    assert warning.startswith(f"{url}: refused: the document declares XML entities")


def test_an_oversized_feed_is_refused_with_or_without_a_length(served: FeedServer):
    write(served.root / "huge.xml", b"<rss>" + b" " * MAX_BYTES + b"</rss>")
    for url in (served.url("huge.xml"), served.url(f"stream/{MAX_BYTES + 10}")):
        result = scan_feed(url)
        assert (result.findings, result.scanned) == ([], []), url
        [warning] = result.warnings
        assert warning.startswith(f"{url}: refused: ") and str(MAX_BYTES) in warning


@pytest.mark.parametrize("path, scheme", [("to-file", "file://"), ("to-ftp", "ftp://")])
def test_a_redirect_may_not_leave_http(served: FeedServer, path: str, scheme: str):
    result = scan_feed(served.url(path))
    assert (result.findings, result.scanned) == ([], [])
    assert "HTTP 302" in result.warnings[0] and scheme in result.warnings[0]
    assert [p for p, _, _ in served.requests] == [f"/{path}"]


@pytest.mark.parametrize("body, reason", [
    (b"<rss><channel><item>", "not well-formed XML"),
    (b"<html><body>Not a feed</body></html>", "not an RSS or Atom feed (the root element is "
                                              "<html>)"),
    (b"<rss version='2.0'/>", "<rss> has no <channel>"),
])
def test_a_document_that_is_no_feed_is_a_warning(served: FeedServer, body: bytes, reason: str):
    write(served.root / "bad.xml", body)
    result = scan_feed(served.url("bad.xml"))
    assert result.scanned == [] and reason in result.warnings[0]


# --- rescans: gone, unreachable, unchanged -------------------------------------------------


def upsert(repo: Repository, result, job: str = "news"):
    return repo.upsert_findings(job, result.findings, sources={SOURCE}, repos=result.scanned)


def statuses(repo: Repository) -> dict[str, str]:
    return {i.data["guid"]: str(i.status) for i in repo.list_items()}


def test_an_entry_that_leaves_the_feed_is_gone_and_a_repost_is_the_same_item(
        repo: Repository, served: FeedServer):
    # Given the feed scanned once: two items, the reposted guid counted once
    url = served.url("rss2.xml")
    counts = upsert(repo, scan_feed(url))
    assert (counts.new, counts.gone) == (2, 0)
    assert upsert(repo, scan_feed(url)).unchanged == 2

    # When the feed is fetched again without its second entry
    feed = served.root / "rss2.xml"
    xml = feed.read_text(encoding="utf-8")
    second = xml.index("<item>", xml.index("<item>") + 1)
    feed.write_text(xml[:second] + xml[xml.index("</item>", second) + 7:], encoding="utf-8")
    counts = upsert(repo, scan_feed(url))

    # Then that entry's item is gone and the other is untouched
    assert (counts.new, counts.gone, counts.unchanged) == (0, 1, 1)
    assert statuses(repo) == {"release-2.0": "pending", "https://example.org/1.9.3": "gone"}


def test_a_feed_that_cannot_be_fetched_marks_nothing_gone(repo: Repository, served: FeedServer,
                                                         tmp_path: Path):
    url = served.url("atom.xml")
    upsert(repo, scan_feed(url))
    # Given the server answers 404, then nothing at all, then garbage
    (served.root / "atom.xml").rename(served.root / "moved.xml")
    missing = scan_feed(url)
    served.stop()
    refused = scan_feed(url, timeout=5)
    for result, reason in ((missing, "HTTP 404"), (refused, "cannot fetch: ")):
        # Then each is a warning naming the URL, and no item is marked gone
        assert result.scanned == [] and result.findings == []
        assert result.warnings[0].startswith(f"{url}: ") and reason in result.warnings[0]
        counts = upsert(repo, result)
        assert (counts.gone, counts.new) == (0, 0)
    assert set(statuses(repo).values()) == {"pending"}


def test_an_unchanged_feed_is_not_downloaded_again(served: FeedServer, tmp_path: Path):
    url = served.url("atom.xml")
    first = scan_feed(url, cache_dir=tmp_path / "cache")
    again = scan_feed(url, cache_dir=tmp_path / "cache")
    assert [c for _, _, c in served.requests] == [200, 304]
    assert "If-Modified-Since" in served.requests[1][1]
    assert again.findings == first.findings and again.scanned == [url]
    # A corrupt cache means one full fetch, not a failure
    [cache_file] = (tmp_path / "cache").iterdir()
    cache_file.write_text("{not json", encoding="utf-8")
    assert scan_feed(url, cache_dir=tmp_path / "cache").findings == first.findings
    assert served.requests[-1][2] == 200


# --- jobs.yaml (needs the strategy registered) ---------------------------------------------


@wired
def test_a_feed_job_is_configured_by_url_and_scanned_without_repos(
        repo: Repository, served: FeedServer, tmp_path: Path):
    from helmq.control.scan import scan_jobs

    url = served.url("rss2.xml")
    config = write(tmp_path / "jobs.yaml", f"""\
jobs:
  news:
    internal: false
    emoji: "📰"
    discovery: {{strategy: feed, url: "{url}", interval: 3600}}
    handler: handlers.feed.process
""")
    jobs = load_jobs(config, strategies=STRATEGIES)
    assert jobs.jobs["news"].discovery.url == url
    [scan] = scan_jobs(repo, jobs, cache_dir=tmp_path / "cache")
    assert (scan.job, scan.counts.new) == ("news", 2)
    assert {i.job for i in repo.list_items()} == {"news"}


# --- the handler -----------------------------------------------------------------------------


class Feeds:
    """A feed job's items in a store, and stage contexts with or without an API key."""

    def __init__(self, repo: Repository, db_url: str, tmp_path: Path, served: FeedServer,
                 fake: FakeAnthropic) -> None:
        self.repo, self.tmp, self.fake, self.db_url = repo, tmp_path, fake, db_url
        self.url = served.url("atom.xml")
        strategy = (f'discovery: {{strategy: feed, url: "{self.url}"}}'
                    if "feed" in STRATEGIES else "")
        self.config = write(tmp_path / "jobs.yaml", f"""\
jobs:
  news:
    internal: false
    {strategy}
    handler: {HANDLER}
    eligibility: {{require_user_idle_minutes: 0}}
""")
        self.jobs = load_jobs(self.config, strategies=STRATEGIES)
        upsert(repo, scan_feed(self.url))

    def ctx(self, *, key: str | None = KEY) -> StageContext:
        settings = Settings(
            state_dir=self.tmp / "state", database_url=self.db_url, broker_url="memory://",
            config_path=self.config, last_active_path=self.tmp / "last_active.json",
            anthropic_api_key=key, anthropic_base_url=self.fake.url, llm_backoff_base=0.001,
            models={"execute": "claude-sonnet-5-5", "review": "claude-haiku-4-5"})
        self.settings = settings
        return stage_context(settings, engine=self.repo.engine, jobs=self.jobs)

    def item(self, title: str = "Deprecating the v1 API"):
        [item] = [i for i in self.repo.list_items() if i.title == title]
        return item


SUMMARY = {"summary": "The v1 API is deprecated and will be removed in March.",
           "action": "Move the client to the v2 API before March.", "relevance": "high"}


@pytest.fixture
def feeds(repo: Repository, db_url: str, tmp_path: Path, served: FeedServer) -> Iterator[Feeds]:
    with FakeAnthropic(tmp_path / "requests.jsonl") as fake:
        yield Feeds(repo, db_url, tmp_path, served, fake)


def test_the_handler_summarises_an_entry_with_one_budgeted_call(feeds: Feeds):
    feeds.fake.when(contains=SUMMARISE, reply=json_reply(SUMMARY))
    item = feeds.item()
    outcome = process(item, feeds.ctx())
    assert (outcome.status, outcome.stage, outcome.label) == (Status.QUEUED, Stage.REVIEW, "ok")
    done = outcome.data["execute"]
    assert (done["handler"], done["tier"], done["relevance"]) == (HANDLER, "llm_call", "high")
    assert done["summary"] == SUMMARY["summary"]
    assert done["report"].endswith("Entry: https://blog.example.org/v1-deprecation")
    assert (done["files"], done["scope"], done["calls"]) == ([], [], 1)
    assert outcome.cost_usd > 0 and done["usage"]["model"] == "claude-sonnet-5-5"
    [body] = feeds.fake.messages
    asked = json.dumps(body)
    assert "Deprecating the v1 API" in asked and "The v1 API goes away in March." in asked
    assert "https://blog.example.org/v1-deprecation" in asked


def test_without_a_key_the_handler_waits_and_calls_nothing(feeds: Feeds):
    outcome = process(feeds.item(), feeds.ctx(key=None))
    assert (outcome.status, outcome.waiting_reason) == (Status.WAITING, "no_credentials")
    assert "ANTHROPIC_API_KEY" in outcome.message
    assert outcome.retry_after_seconds is not None
    assert feeds.fake.requests == []


def test_an_overloaded_api_makes_the_item_wait_and_garbage_fails_it(feeds: Feeds):
    feeds.fake.when(contains=SUMMARISE, reply=overloaded(retry_after_ms=1))
    waiting = process(feeds.item(), feeds.ctx())
    assert (waiting.status, waiting.failure_class) == (Status.WAITING, "api_overloaded")
    feeds.fake.reset()
    feeds.fake.when(contains=SUMMARISE, reply=text("It is about the v1 API, I think."))
    failed = process(feeds.item(), feeds.ctx())
    assert (failed.status, failed.failure_class) == (Status.FAILED, "bad_output")


def test_review_feedback_reaches_the_next_round(feeds: Feeds):
    import dataclasses

    feeds.fake.when(contains=SUMMARISE, reply=json_reply(SUMMARY))
    item = dataclasses.replace(feeds.item(), review_rounds=1, data={
        **feeds.item().data, "review": {"verdict": "needs_work", "reasons": ["vague"],
                                        "feedback": "Name the month the API goes away."}})
    assert process(item, feeds.ctx()).status is Status.QUEUED
    assert "Name the month the API goes away." in json.dumps(feeds.fake.messages[-1])


# --- the whole chain (needs execute to call the job's handler) -------------------------------


def run_chain(feeds: Feeds, ctx: StageContext, item_id: int) -> list[str]:
    from helmq.control.dispatch import dispatch_tick
    from helmq.stages.runner import run_stage

    tick = dispatch_tick(feeds.repo, feeds.jobs, feeds.settings, ignore_idle=True)
    handoff = next(d.handoff for d in tick.dispatched if d.handoff["item"] == item_id)
    for stage in (Stage.CLASSIFY, Stage.EXECUTE, Stage.REVIEW):
        step = run_stage(feeds.repo, feeds.settings, ctx, stage, handoff)
        if step.next is None:
            break
        handoff = step.next
    return [r["outcome"] for r in feeds.repo.item_stage_runs(item_id)]


@wired
def test_a_feed_entry_goes_through_classify_the_handler_and_review(feeds: Feeds):
    feeds.fake.when(contains=SUMMARISE, reply=json_reply(SUMMARY))
    feeds.fake.when(contains=REVIEW, reply=json_reply(
        {"verdict": "accept", "reasons": ["faithful to the entry"], "feedback": ""}))
    item = feeds.item()
    assert run_chain(feeds, feeds.ctx(), item.id) == ["ok", "ok", "accepted"]
    done = feeds.repo.get_item(item.id)
    assert (done.status, done.tier) == (Status.DONE, Tier.LLM_CALL)
    assert done.data["execute"]["handler"] == HANDLER
    assert done.data["classify"]["by"] == "rules"  # the entry's tier tag: no classify call
    assert done.branch is None and Path(done.report_path).is_file()
    assert SUMMARY["summary"] in Path(done.report_path).read_text(encoding="utf-8")
    assert len(feeds.fake.messages) == 2  # the summary and the review


@wired
def test_a_feed_entry_waits_for_credentials_at_classify(feeds: Feeds):
    item = feeds.item()
    assert run_chain(feeds, feeds.ctx(key=None), item.id) == ["waiting"]
    waiting = feeds.repo.get_item(item.id)
    assert (waiting.status, waiting.waiting_reason) == (Status.WAITING, "no_credentials")
    assert feeds.fake.requests == []
