"""Discovery from an RSS 2.0, RSS 1.0 or Atom feed: every entry is an item, known by its guid.

The feed's URL (jobs.yaml `discovery.url`) stands where a repository would: it is the item's
`data.repo` and the one "repo" a successful fetch scanned, so an entry that leaves the feed
becomes `gone` and a feed that cannot be fetched or parsed leaves its items alone."""

from __future__ import annotations

import hashlib
import html
import json
import logging
import os
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser
from http.client import HTTPException
from pathlib import Path
from urllib.parse import urlsplit
from xml.etree import ElementTree as ET
from xml.parsers import expat

import helmq
from helmq.discovery.result import ScanResult
from helmq.domain.fingerprint import fingerprint, item_key
from helmq.domain.jobs import Discovery, check_url
from helmq.domain.model import Finding, Source
from helmq.errors import ConfigError, HelmqError, InputError

log = logging.getLogger(__name__)

SOURCE = Source.FEED
"""The `data.source` of every item this strategy writes."""
MAX_BYTES = 5 * 1024 * 1024
TIMEOUT = 20.0
"""Seconds for the whole fetch, not only for each read."""
MAX_SUMMARY = 2000
MAX_TITLE = 200
USER_AGENT = f"helmq/{helmq.__version__} (feed discovery)"
CACHE_FORMAT = 1

ATOM = "{http://www.w3.org/2005/Atom}"
RSS1 = "{http://purl.org/rss/1.0/}"
RDF = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"
DC = "{http://purl.org/dc/elements/1.1/}"
CONTENT = "{http://purl.org/rss/1.0/modules/content/}"


@dataclass(frozen=True)
class Entry:
    """One feed entry, reduced to plain text."""

    guid: str
    title: str
    link: str | None
    published: str | None
    summary: str


@dataclass(frozen=True)
class Feed:
    """A parsed feed: its title and entries, with the validators for the next fetch."""

    title: str
    entries: list[Entry]
    etag: str | None = None
    last_modified: str | None = None


# --- fetching ------------------------------------------------------------------------------


class _HttpRedirectsOnly(urllib.request.HTTPRedirectHandler):
    """Follow redirects to http(s) only: a feed must not lead the fetch to ftp or a file."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        if urlsplit(newurl).scheme not in ("http", "https"):
            raise urllib.error.HTTPError(newurl, code, f"redirect to {newurl} refused", headers,
                                         fp)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def fetch(url: str, *, timeout: float = TIMEOUT, max_bytes: int = MAX_BYTES,
          etag: str | None = None, last_modified: str | None = None,
          ) -> tuple[bytes, str | None, str | None] | None:
    """The feed's bytes with its ETag and Last-Modified; None when the server says it has not
    changed since `etag`/`last_modified`. Raises InputError naming the URL on any failure."""
    headers = {"User-Agent": USER_AGENT,
               "Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9, "
                         "text/xml;q=0.9, */*;q=0.1"}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    opener = urllib.request.build_opener(_HttpRedirectsOnly)
    deadline = time.monotonic() + timeout
    try:
        with opener.open(urllib.request.Request(url, headers=headers), timeout=timeout) as resp:
            length = resp.headers.get("Content-Length")
            if length and length.isdigit() and int(length) > max_bytes:
                raise InputError(f"refused: {int(length)} bytes is more than the "
                                 f"{max_bytes} a feed may have", file=url)
            chunks, size = [], 0
            while chunk := resp.read(64 * 1024):
                size += len(chunk)
                if size > max_bytes:
                    raise InputError(f"refused: more than the {max_bytes} bytes a feed may "
                                     "have", file=url)
                if time.monotonic() > deadline:
                    raise InputError(f"timed out after {timeout:.0f} s", file=url)
                chunks.append(chunk)
            return b"".join(chunks), resp.headers.get("ETag"), resp.headers.get("Last-Modified")
    except urllib.error.HTTPError as exc:
        if exc.code == 304:
            return None
        raise InputError(f"cannot fetch: HTTP {exc.code} {exc.reason}", file=url) from None
    except urllib.error.URLError as exc:
        raise InputError(f"cannot fetch: {exc.reason}", file=url) from None
    except (OSError, HTTPException, ValueError) as exc:
        raise InputError(f"cannot fetch: {exc}", file=url) from None


# --- parsing -------------------------------------------------------------------------------


class _EntityDeclared(HelmqError):
    """The document declares an XML entity: parsing stops before any is expanded."""


def _qname(name: str) -> str:
    uri, _, local = name.rpartition(" ")
    return f"{{{uri}}}{local}" if uri else local


def parse_xml(data: bytes, url: str) -> ET.Element:
    """The document's root element. A document that declares entities is refused before any
    is expanded (an entity bomb needs declarations; a feed never does); nothing external
    (DTDs, external entities) is ever loaded."""
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.buffer_text = True
    builder = ET.TreeBuilder()

    def declared(*_args: object) -> None:
        raise _EntityDeclared

    parser.EntityDeclHandler = declared
    parser.UnparsedEntityDeclHandler = declared
    parser.StartElementHandler = lambda name, attrs: builder.start(
        _qname(name), {_qname(k): v for k, v in attrs.items()})
    parser.EndElementHandler = lambda name: builder.end(_qname(name))
    parser.CharacterDataHandler = builder.data
    try:
        parser.Parse(data, True)
    except _EntityDeclared:
        raise InputError("refused: the document declares XML entities (<!ENTITY>), which a "
                         "feed never needs", file=url) from None
    except expat.ExpatError as exc:
        raise InputError(f"not well-formed XML: {expat.errors.messages[exc.code]} at line "
                         f"{exc.lineno}, column {exc.offset}", file=url) from None
    return builder.close()


class _Text(HTMLParser):
    """The text of an HTML fragment, without scripts and styles."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: object) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        elif tag in ("p", "br", "li", "div", "h1", "h2", "h3", "h4", "tr"):
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def plain_text(fragment: str | None, limit: int) -> str:
    """`fragment` (text or HTML) as one line of plain text, at most `limit` characters."""
    if not fragment:
        return ""
    if "<" in fragment:
        parser = _Text()  # converts character references itself
        parser.feed(fragment)
        parser.close()
        fragment = "".join(parser.parts)
    else:
        fragment = html.unescape(fragment)
    text = " ".join(fragment.split())
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def _date(raw: str | None) -> str | None:
    """An RFC 822 (RSS) or RFC 3339 (Atom) date as ISO 8601 UTC; the raw text if neither."""
    if not raw or not raw.strip():
        return None
    raw = raw.strip()
    for parse in (parsedate_to_datetime, datetime.fromisoformat):
        try:
            moment = parse(raw)
        except (TypeError, ValueError, IndexError):
            continue
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return raw


def _text(element: ET.Element | None) -> str | None:
    if element is None:
        return None
    return "".join(element.itertext()).strip() or None


def _entry(title: str | None, guid: str | None, link: str | None, published: str | None,
           summary: str | None) -> Entry:
    title_text = plain_text(title, MAX_TITLE)
    link = (link or "").strip() or None
    return Entry(guid=(guid or "").strip() or link or title_text,
                 title=title_text or link or "(untitled entry)", link=link,
                 published=_date(published), summary=plain_text(summary, MAX_SUMMARY))


def _atom_link(entry: ET.Element) -> str | None:
    links = entry.findall(f"{ATOM}link")
    for link in links:
        if link.get("rel", "alternate") == "alternate" and link.get("href"):
            return link.get("href")
    return next((link.get("href") for link in links if link.get("href")), None)


def parse_feed(data: bytes, url: str) -> Feed:
    """The entries of an RSS 2.0, RSS 1.0 or Atom document; InputError if it is none."""
    root = parse_xml(data, url)
    if root.tag == "rss":
        channel = root.find("channel")
        if channel is None:
            raise InputError("not an RSS feed: <rss> has no <channel>", file=url)
        entries = [_entry(item.findtext("title"), item.findtext("guid"), item.findtext("link"),
                          item.findtext("pubDate") or item.findtext(f"{DC}date"),
                          item.findtext("description") or item.findtext(f"{CONTENT}encoded"))
                   for item in channel.findall("item")]
        return Feed(plain_text(channel.findtext("title"), MAX_TITLE), entries)
    if root.tag == f"{RDF}RDF":
        channel = root.find(f"{RSS1}channel")
        entries = [_entry(item.findtext(f"{RSS1}title"), item.get(f"{RDF}about"),
                          item.findtext(f"{RSS1}link"), item.findtext(f"{DC}date"),
                          item.findtext(f"{RSS1}description"))
                   for item in root.findall(f"{RSS1}item")]
        title = channel.findtext(f"{RSS1}title") if channel is not None else None
        return Feed(plain_text(title, MAX_TITLE), entries)
    if root.tag == f"{ATOM}feed":
        entries = [_entry(_text(entry.find(f"{ATOM}title")), entry.findtext(f"{ATOM}id"),
                          _atom_link(entry),
                          entry.findtext(f"{ATOM}published") or entry.findtext(f"{ATOM}updated"),
                          _text(entry.find(f"{ATOM}summary"))
                          or _text(entry.find(f"{ATOM}content")))
                   for entry in root.findall(f"{ATOM}entry")]
        return Feed(plain_text(_text(root.find(f"{ATOM}title")), MAX_TITLE), entries)
    raise InputError(f"not an RSS or Atom feed (the root element is <{root.tag}>)", file=url)


# --- findings and the strategy -------------------------------------------------------------


def finding(url: str, feed_title: str, entry: Entry) -> Finding:
    """The item for one entry, identified by (feed URL, guid): edits to the entry keep it."""
    fp = fingerprint(url, SOURCE, entry.guid)
    return Finding(
        fingerprint=fp,
        item_key=item_key(entry.title, fp),
        title=entry.title,
        source_file=entry.link or url,
        line=0,
        data={
            "title": entry.title,
            "description": entry.summary,
            "scope": feed_title,
            "source": SOURCE,
            "repo": url,
            "feed": url,
            "link": entry.link,
            "guid": entry.guid,
            "published": entry.published,
            "summary": entry.summary,
            # A summary is one model call and changes no file.
            "tier": "llm_call",
        },
    )


class _FeedCache:
    """The last good fetch of one feed: its validators and entries, for a conditional GET."""

    def __init__(self, cache_dir: Path, url: str) -> None:
        self.url = url
        self.path = cache_dir / f"feed-{hashlib.sha256(url.encode()).hexdigest()[:16]}.json"

    def load(self) -> Feed | None:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
            if raw.get("format") != CACHE_FORMAT or raw.get("url") != self.url:
                return None
            return Feed(raw["title"], [Entry(**e) for e in raw["entries"]], raw.get("etag"),
                        raw.get("last_modified"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("feed cache %s is unusable (%s); fetching in full", self.path, exc)
            return None

    def save(self, feed: Feed) -> None:
        payload = {"format": CACHE_FORMAT, "url": self.url, **asdict(feed)}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=self.path.parent,
                                             suffix=".tmp", delete=False) as tmp:
                json.dump(payload, tmp, ensure_ascii=False)
            os.replace(tmp.name, self.path)
        except OSError as exc:
            log.warning("cannot write feed cache %s: %s", self.path, exc)


def scan_feed(url: str, *, cache_dir: Path | None = None, timeout: float = TIMEOUT,
              max_bytes: int = MAX_BYTES) -> ScanResult:
    """Every entry of the feed at `url` as a finding, the first of each guid only.

    A feed that cannot be fetched or parsed is a warning naming the URL and is not scanned,
    so none of its items becomes gone. With a cache_dir, the fetch is conditional (ETag,
    Last-Modified) and a 304 reuses the entries of the last good fetch."""
    cache = _FeedCache(cache_dir, url) if cache_dir is not None else None
    cached = cache.load() if cache is not None else None
    result = ScanResult()
    try:
        got = fetch(url, timeout=timeout, max_bytes=max_bytes,
                    etag=cached.etag if cached else None,
                    last_modified=cached.last_modified if cached else None)
        if got is None and cached is not None:
            parsed = cached
        else:
            if got is None:
                raise InputError("the server answered 304 Not Modified to a first fetch",
                                 file=url)
            data, etag, last_modified = got
            parsed = parse_feed(data, url)
            parsed = Feed(parsed.title, parsed.entries, etag, last_modified)
            if cache is not None:
                cache.save(parsed)
    except InputError as exc:
        result.warnings.append(str(exc))
        return result
    seen: set[str] = set()
    repeated = 0
    for entry in parsed.entries:
        if entry.guid in seen:
            repeated += 1
            continue
        seen.add(entry.guid)
        result.findings.append(finding(url, parsed.title, entry))
    if repeated:
        verb = "entry repeats" if repeated == 1 else "entries repeat"
        result.warnings.append(f"{url}: {repeated} {verb} an earlier entry's guid; the first "
                               "of each is kept")
    result.scanned.append(url)
    return result


def feed(repos: Sequence[Path], *, cache_dir: Path | None = None,
         discovery: Discovery | None = None) -> ScanResult:
    """The entries of the feed at the job's `discovery.url`; `repos` play no part."""
    url = discovery.url if discovery is not None else None
    if not url:
        raise ConfigError("the feed strategy needs a url", key="discovery.url")
    return scan_feed(check_url(url), cache_dir=cache_dir)
