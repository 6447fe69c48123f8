"""`feed` discovery's configuration: which URLs a feed job accepts, and how a wrong one is
reported. Nothing is fetched."""

from __future__ import annotations

from pathlib import Path

import pytest

from helmq.config.jobs import load_jobs
from helmq.discovery.registry import STRATEGIES
from helmq.domain.jobs import check_url
from helmq.errors import ConfigError
from tests.conftest import write
from tests.support.feed import wired


@pytest.mark.parametrize("url", ["ftp://example.org/feed.xml", "example.org/feed.xml",
                                 "https:///feed.xml", "file://", "javascript:alert(1)"])
def test_only_http_https_and_file_urls_are_fetched(url: str):
    with pytest.raises(ConfigError, match="expected an http://, https:// or file:// URL"):
        check_url(url)
    assert check_url("https://example.org/feed.xml") == "https://example.org/feed.xml"
    assert check_url("file:///srv/feed.xml") == "file:///srv/feed.xml"


@wired
@pytest.mark.parametrize("discovery, message", [
    ("{strategy: feed}", "the feed strategy needs a url"),
    ("{strategy: feed, url: 'ftp://example.org/x'}", "expected an http://, https:// or file://"),
    ("{strategy: feed, url: 42}", "expected a string"),
    ("{strategy: autodo_scan, url: 'https://example.org/feed.xml'}",
     "only the feed strategy takes a url"),
])
def test_a_wrong_feed_url_names_the_file_line_and_key(tmp_path: Path, discovery: str,
                                                      message: str):
    config = write(tmp_path / "jobs.yaml", f"jobs:\n  news:\n    discovery: {discovery}\n")
    with pytest.raises(ConfigError) as caught:
        load_jobs(config, strategies=STRATEGIES)
    assert message in str(caught.value)
    assert str(caught.value).startswith(f"{config}:3: jobs.news.discovery.url: ")
