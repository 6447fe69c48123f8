"""The `ports` check: a port the docs tell users to open that no config or code uses, and a
port the config publishes that no doc mentions. Reported for a person to settle, never fixed."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from helmq.checks import sources
from helmq.checks.registry import Problem
from helmq.checks.report_only import ReportOnlyCheck

WELL_KNOWN = frozenset({
    20, 21, 22, 23, 25, 53, 80, 110, 143, 443, 465, 587, 993, 995,  # internet services
    1433, 1521, 2181, 2379, 3306, 4317, 4318, 5432, 5672, 5984, 6379, 6443, 7687, 8200,
    8500, 8983, 9042, 9092, 9200, 9300, 11211, 15672, 27017,  # databases, brokers, infra
    5601, 6006, 8025, 8888, 9090, 16686,  # dashboards of tools: Kibana, Jupyter, Prometheus…
    4173, 4200, 5173,  # dev servers that run on their default: Vite, Angular
})
"""Ports of services a project uses rather than serves; their defaults need no config."""
_DOC_PORT = re.compile(
    r"(?:\blocalhost|\b127\.0\.0\.1|\b0\.0\.0\.0|\[::1?\])\s*:\s*(\d{2,5})\b"
    r"|(?:^|\s)(?:-p|--publish)[ =]?[\"']?(?:\d{1,3}(?:\.\d{1,3}){3}:)?(\d{2,5}):(\d{2,5})\b"
    r"|--port[ =](\d{2,5})\b"
    r"|(?i:\bports?)[ \t]+(\d{2,5})\b"
    r"|\b[A-Z_]*PORT=(\d{2,5})\b"
)
_KEY_VALUE = re.compile(r"(?P<key>[A-Za-z_][\w.-]*)[\"']?\s*[:=]\s*[\"']?(?P<port>\d{2,5})\b")
_ENV_DEFAULT = re.compile(
    r"[\"'](?P<key>\w*PORT\w*)[\"']\s*,\s*[\"']?(?P<port>\d{2,5})\b"  # getenv("PORT", 8000)
    r"|\b\w*PORT\s*(?:\|\||\?\?|\bor\b)\s*[\"']?(?P<fallback>\d{2,5})\b"  # env.PORT || 3000
    r"|\.listen\(\s*(?P<listen>\d{2,5})\b"
)
_EXPOSE = re.compile(r"\s*EXPOSE\s+(.*)", re.IGNORECASE)
_COMPOSE_BLOCK = re.compile(r"(?P<indent>[ \t]*)(?:-[ \t]*)?(?P<key>ports|expose)[ \t]*:"
                            r"[ \t]*(?P<rest>[^#]*)")
_COMPOSE_LONG = re.compile(r"(?:-\s*)?(target|published)\s*:\s*[\"']?(\d+)")
_DEFAULTED = re.compile(r"\$\{\w+:?-(\d+)\}")
_INFRA_KEY = re.compile(
    r"(?:^|_)(?:DB|DATABASE|POSTGRES(?:QL)?|PG|MYSQL|MARIADB|REDIS|MONGO(?:DB)?|RABBIT(?:MQ)?"
    r"|AMQP|SMTP|MAIL|IMAP|ELASTIC(?:SEARCH)?|KAFKA|ZOOKEEPER|MEMCACHED?|LDAP|SSH|FTP|PROXY)"
    r"(?:_|$)")


@dataclass(frozen=True)
class _Port:
    """A port number where a file names it."""

    file: str
    line: int
    port: int


def _number(text: str) -> int | None:
    text = _DEFAULTED.sub(r"\1", text.strip().strip("\"'")).split("/")[0]
    return int(text) if text.isdigit() and 0 < int(text) < 65536 else None


def is_port_key(key: str) -> bool:
    """Whether a settings key names a port: `port`, `HTTP_PORT`, `server.port`, `hostPort`."""
    lower = key.lower()
    return lower == "port" or lower.endswith(("_port", "-port", ".port")) or (
        key.endswith("Port") and len(key) > 4)


def _compose_entry(item: str) -> tuple[int | None, int | None]:
    """(host port, container port) of a short-syntax `ports:` entry."""
    parts = _DEFAULTED.sub(r"\1", item.strip().strip("\"'")).split(":")
    if len(parts) == 1:
        return None, _number(parts[0])
    return _number(parts[-2]), _number(parts[-1])


def compose_ports(text: str) -> Iterator[tuple[int, int | None, int | None]]:
    """(line, host port, container port) of every `ports:` and `expose:` entry of a compose
    file; the host port is None when none is published."""
    block: tuple[str, int] | None = None
    for number, line in enumerate(text.split("\n"), start=1):
        stripped = line.split(" #")[0].strip()
        if block is not None and stripped and not stripped.startswith("#"):
            indent = len(line) - len(line.lstrip())
            if indent < block[1] or (indent == block[1] and not stripped.startswith("-")):
                block = None
            elif long := _COMPOSE_LONG.match(stripped):
                port = _number(long.group(2))
                yield (number, port, None) if long.group(1) == "published" else (
                    number, None, port)
                continue
            else:
                host, container = _compose_entry(stripped.lstrip("-"))
                yield number, host if block[0] == "ports" else None, container
                continue
        if opening := _COMPOSE_BLOCK.fullmatch(line):
            rest = opening.group("rest").strip()
            if rest.startswith("["):
                for item in rest.strip("[]").split(","):
                    host, container = _compose_entry(item)
                    yield number, host if opening.group("key") == "ports" else None, container
            elif not rest:
                block = (opening.group("key"), len(opening.group("indent")))


def _declared(rel: str, text: str) -> tuple[list[_Port], list[_Port]]:
    """(ports the file declares, those of them it publishes for users to reach)."""
    declared: list[_Port] = []
    published: list[_Port] = []
    lines = text.split("\n")
    if sources.is_compose(rel):
        for number, host, container in compose_ports(text):
            declared.extend(_Port(rel, number, p) for p in (host, container) if p)
            # `5433:5432` publishes a database; `8080:80` publishes the app's own web server.
            if host and (container not in WELL_KNOWN or container in (80, 443)):
                published.append(_Port(rel, number, host))
    for number, line in enumerate(lines, start=1):
        if sources.is_dockerfile(rel) and (expose := _EXPOSE.match(line)):
            declared.extend(_Port(rel, number, p) for p in map(_number, expose.group(1).split())
                            if p)
        for match in _KEY_VALUE.finditer(line):
            port = _number(match.group("port"))
            if port and is_port_key(match.group("key")):
                declared.append(_Port(rel, number, port))
                key = match.group("key")
                if sources.is_env_file(rel) and not _INFRA_KEY.search(key.upper()):
                    published.append(_Port(rel, number, port))
        for match in _ENV_DEFAULT.finditer(line):
            port = _number(next(g for g in match.groups() if g and g.isdigit()))
            if port:
                declared.append(_Port(rel, number, port))
    return declared, [p for p in published if p.port not in WELL_KNOWN]


def doc_ports(rel: str, text: str) -> Iterator[_Port]:
    """Every port the doc tells users to reach or run on, code blocks included."""
    for number, line in enumerate(text.split("\n"), start=1):
        for match in _DOC_PORT.finditer(line):
            for group in match.groups():
                if group and (port := _number(group)):
                    yield _Port(rel, number, port)


def _numbers(text: str) -> set[int]:
    return {int(n) for n in re.findall(r"(?<![\w.])\d{2,5}(?![\w])", text)}


def _first(ports: Iterable[_Port]) -> dict[tuple[str, int], _Port]:
    """The first mention of each port in each file."""
    first: dict[tuple[str, int], _Port] = {}
    for port in ports:
        first.setdefault((port.file, port.port), port)
    return first


def _listed(ports: Iterable[_Port]) -> str:
    return ", ".join(f"{p.port} ({p.file})" for p in ports)


class PortsCheck(ReportOnlyCheck):
    """Ports in the docs and in the config that disagree; reported, not fixed."""

    name = "ports"
    keywords = ("port mismatch", "ports in docs", "documented port", "port drift")
    titles = {
        "docs": "Port {port} in {file} is used by no config",
        "config": "Port {port} published in {file} is in no doc",
    }
    not_fixed = "ports are reported, not fixed: which side is right is a person's call"

    def inspect(self, tree: sources.SourceTree) -> list[Problem]:
        """Each port a doc names that no config or code uses, per doc; when there is none,
        each port the config publishes that no doc mentions, per config file."""
        mentioned: list[_Port] = []
        doc_numbers: set[int] = set()
        for rel in filter(sources.is_doc, tree.files):
            text = tree.text(rel)
            if text is not None:
                mentioned.extend(doc_ports(rel, text))
                doc_numbers |= _numbers(text)
        declared: list[_Port] = []
        published: list[_Port] = []
        code_numbers: set[int] = set()
        for rel in tree.files:
            if sources.is_doc(rel) or not sources.is_text_like(rel):
                continue
            config = ((sources.is_code(rel) or sources.is_env_example(rel))
                      and not sources.is_ci(rel))
            # Any file naming the number, a script say, counts as using the port. Only docs
            # and the files that publish ports hold items, so only theirs count as skipped.
            text = tree.text(rel, quiet=not (sources.is_compose(rel) or sources.is_env_file(rel)))
            if text is None:
                continue
            code_numbers |= _numbers(text)
            if not config:
                continue
            found, reachable = _declared(rel, text)
            declared.extend(found)
            published.extend(reachable)
        # Nothing to compare against: a repo without port config, or docs without ports.
        if not any(p.port not in WELL_KNOWN for p in declared) or not mentioned:
            return []
        unmentioned = list(_first(p for p in published if p.port not in doc_numbers).values())
        problems = [
            self._undeclared(port, unmentioned)
            for port in _first(mentioned).values()
            if port.port not in WELL_KNOWN and port.port not in code_numbers
        ]
        # Each mismatch once: the undeclared doc port names the config's unmentioned one.
        return problems or [self._unmentioned(port) for port in unmentioned]

    @staticmethod
    def _undeclared(port: _Port, unmentioned: list[_Port]) -> Problem:
        hint = f"; the config publishes {_listed(unmentioned)}" if unmentioned else ""
        return Problem(
            file=port.file, line=port.line, key=f"port:{port.port}",
            message=f"{port.file} tells users to use port {port.port}, but no config or code "
                    f"uses it{hint}",
            detail={"port": port.port, "side": "docs",
                    "config_ports": [p.port for p in unmentioned]},
        )

    @staticmethod
    def _unmentioned(port: _Port) -> Problem:
        return Problem(
            file=port.file, line=port.line, key=f"port:{port.port}",
            message=f"{port.file} publishes port {port.port}, but no doc mentions it",
            detail={"port": port.port, "side": "config"},
        )


CHECK = PortsCheck()
