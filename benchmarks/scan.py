"""Speed and recall of helmq's TODO scan against ripgrep and leasot, on three real source trees.

    python benchmarks/scan.py [--rounds 5] [--work DIR] [--json] [--diff N]

What it does:

* downloads the sdists of celery 5.5.3, SQLAlchemy 2.0.44 and Django 5.2.8 from PyPI (URL and
  sha256 from PyPI's JSON API) and unpacks them once under `<work>/tree` (skipped when there);
* needs `rg` (ripgrep) on the PATH and installs leasot 14 with `npm install --prefix
  <work>/node leasot@14` when it is not there yet;
* times, `--rounds` times over that same tree: helmq's full scan (`autodo_scan` with a fresh,
  empty cache dir, so every file is read), helmq's rescan of the unchanged tree (the same cache
  dir again), `rg -n 'TODO|FIXME|XXX|HACK|BUG'` over all files, and `leasot -x -r json` over
  `**/*.py` (with `--tags XXX,HACK,BUG` so it looks for the same markers as helmq; `--leasot-tags
  ''` runs it with its own TODO/FIXME only);
* prints the best time of each (and the median), the ratios helmq/rg, helmq/leasot and
  rescan/full, and the goals: full scan <= 3x ripgrep, unchanged rescan <= 10% of a full scan;
* compares helmq's code-comment findings in `.py` files with leasot's by (file, line): both
  counts, how many only one of them found, and every difference, with its source line and a
  guessed reason, in `<work>/scan-diff.txt` (`--diff N` prints N of each side).

helmq runs in this process (imports not timed); rg and leasot run as subprocesses with their
output piped back, so their times include process start-up (a few ms for rg, ~0.1 s for node).
The exit status is 0 when both goals are met, 2 when one is missed, 1 when the run failed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))

SDISTS = (("celery", "5.5.3"), ("sqlalchemy", "2.0.44"), ("django", "5.2.8"))
RG_PATTERN = "TODO|FIXME|XXX|HACK|BUG"
LEASOT_SPEC = "leasot@14"
LEASOT_GLOB = "**/*.py"
FULL_GOAL = 3.0
"""helmq's full scan may take at most this many times ripgrep's time."""
RESCAN_GOAL = 0.10
"""An unchanged rescan may take at most this share of a full scan."""
DEFAULT_WORK = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "helmq-bench/scan"
HTTP_TIMEOUT = 120.0
TOOL_TIMEOUT = 600.0


class BenchError(RuntimeError):
    """The benchmark could not produce a trustworthy figure."""


# --- the tree and the tools -----------------------------------------------------------------

def _pypi_json(api: str) -> dict[str, Any] | None:
    """The document of a PyPI JSON API address, None when it is not there (404)."""
    try:
        with urllib.request.urlopen(api, timeout=HTTP_TIMEOUT) as response:
            return json.load(response)
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise BenchError(f"cannot read {api}: {exc}") from exc
    except OSError as exc:
        raise BenchError(f"cannot read {api}: {exc}") from exc


def _sdist_release(name: str, version: str) -> tuple[str, str, str]:
    """(url, sha256, filename) of a release's sdist, from PyPI's JSON API: the release's
    document, else the project's (some mirrors serve only that one)."""
    api = f"https://pypi.org/pypi/{name}/{version}/json"
    meta = _pypi_json(api)
    files = meta["urls"] if meta is not None else []
    if meta is None:
        api = f"https://pypi.org/pypi/{name}/json"
        files = (_pypi_json(api) or {}).get("releases", {}).get(version, [])
    for entry in files:
        if entry.get("packagetype") == "sdist":
            return urljoin(api, entry["url"]), entry["digests"]["sha256"], entry["filename"]
    raise BenchError(f"{name} {version} has no sdist on PyPI")


def _download(url: str, sha256: str, dest: Path) -> None:
    """Fetch url to dest, checking its sha256; dest appears only when complete and right."""
    tmp = dest.with_name(dest.name + ".part")
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT) as response, tmp.open("wb") as out:
            while chunk := response.read(1 << 20):
                digest.update(chunk)
                out.write(chunk)
    except OSError as exc:
        raise BenchError(f"cannot download {url}: {exc}") from exc
    if digest.hexdigest() != sha256:
        tmp.unlink(missing_ok=True)
        raise BenchError(f"{url}: sha256 {digest.hexdigest()} is not PyPI's {sha256}")
    tmp.replace(dest)


def ensure_tree(work: Path, log: Callable[[str], None]) -> Path:
    """`<work>/tree` holding the unpacked sdists, each as `<name>-<version>/`."""
    tree = work / "tree"
    tree.mkdir(parents=True, exist_ok=True)
    for name, version in SDISTS:
        target = tree / f"{name}-{version}"
        if target.is_dir():
            continue
        url, sha256, filename = _sdist_release(name, version)
        archive = work / "sdists" / filename
        if not archive.is_file():
            archive.parent.mkdir(parents=True, exist_ok=True)
            log(f"downloading {url}")
            _download(url, sha256, archive)
        log(f"unpacking {archive.name}")
        with tempfile.TemporaryDirectory(dir=work) as tmp, tarfile.open(archive) as tar:
            tar.extractall(tmp, filter="data")
            [top] = Path(tmp).iterdir()  # an sdist has one top-level directory
            top.rename(target)  # atomic: a half-unpacked tree never looks complete
    return tree


def ensure_rg() -> str:
    """The path of ripgrep."""
    rg = shutil.which("rg")
    if rg is None:
        raise BenchError("ripgrep (rg) is not on the PATH; install it with "
                         "`apt-get install -y ripgrep` (or `brew install ripgrep`)")
    return rg


def ensure_leasot(work: Path, log: Callable[[str], None]) -> str:
    """The path of leasot 14 under `<work>/node`, installed there with npm when missing."""
    prefix = work / "node"
    leasot = prefix / "node_modules" / ".bin" / "leasot"
    if not leasot.exists():
        npm = shutil.which("npm")
        if npm is None or shutil.which("node") is None:
            raise BenchError("node and npm are needed for leasot; install them with "
                             "`apt-get install -y nodejs npm`")
        log(f"installing {LEASOT_SPEC} into {prefix}")
        prefix.mkdir(parents=True, exist_ok=True)
        done = subprocess.run([npm, "install", "--prefix", str(prefix), "--no-audit", "--no-fund",
                               LEASOT_SPEC], capture_output=True, text=True,
                              timeout=TOOL_TIMEOUT, check=False)
        if done.returncode != 0 or not leasot.exists():
            raise BenchError(f"npm install {LEASOT_SPEC} failed: {done.stderr.strip()[-500:]}")
    version = subprocess.run([str(leasot), "--version"], capture_output=True, text=True,
                             timeout=60, check=False).stdout.strip()
    if not version.startswith("14."):
        raise BenchError(f"{leasot} is version {version!r}, not 14.x; delete {prefix} to reinstall")
    return str(leasot)


def tool_version(argv: list[str]) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    return done.stdout.strip().splitlines()[0] if done.stdout.strip() else "?"


# --- the runs -------------------------------------------------------------------------------

def run_rg(rg: str, tree: Path) -> tuple[float, int]:
    """Seconds for ripgrep over every file of the tree, and how many lines matched."""
    start = time.perf_counter()
    done = subprocess.run([rg, "-n", RG_PATTERN, "."], cwd=tree, capture_output=True,
                          timeout=TOOL_TIMEOUT, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode not in (0, 1):
        raise BenchError(f"rg failed ({done.returncode}): {done.stderr.decode()[-500:]}")
    return elapsed, done.stdout.count(b"\n")


def leasot_argv(leasot: str, tags: str) -> list[str]:
    return [leasot, "-x", "-r", "json", *(["--tags", tags] if tags else []), LEASOT_GLOB]


def run_leasot(argv: list[str], tree: Path) -> tuple[float, list[dict[str, Any]]]:
    """Seconds for leasot over the tree's `.py` files, and what it found."""
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=tree, capture_output=True, timeout=TOOL_TIMEOUT, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise BenchError(f"leasot failed ({done.returncode}): {done.stderr.decode()[-500:]}")
    try:
        found = json.loads(done.stdout)
    except ValueError as exc:
        raise BenchError(f"leasot printed no JSON: {done.stdout[:300]!r}") from exc
    return elapsed, found


def run_helmq(tree: Path, cache_root: Path) -> tuple[float, float, list[Any]]:
    """Seconds for a full scan with an empty cache and for the unchanged rescan after it,
    and the findings."""
    from helmq.discovery.registry import autodo_scan

    cache_dir = Path(tempfile.mkdtemp(prefix="round-", dir=cache_root))
    try:
        start = time.perf_counter()
        full = autodo_scan([tree], cache_dir=cache_dir)
        full_s = time.perf_counter() - start
        start = time.perf_counter()
        again = autodo_scan([tree], cache_dir=cache_dir)
        rescan_s = time.perf_counter() - start
    finally:
        shutil.rmtree(cache_dir, ignore_errors=True)
    if full.scanned != [str(tree)] or not full.findings:
        raise BenchError(f"helmq did not scan {tree}: {full.warnings[:3]}")
    if again.findings != full.findings:
        raise BenchError("the unchanged rescan found something else than the full scan")
    return full_s, rescan_s, full.findings


# --- the comparison -------------------------------------------------------------------------

Key = tuple[str, int]


@dataclass
class Comparison:
    """helmq's and leasot's findings in `.py` files, by (file, line)."""

    helmq: dict[Key, str]
    leasot: dict[Key, str]

    @property
    def only_helmq(self) -> list[Key]:
        return sorted(self.helmq.keys() - self.leasot.keys())

    @property
    def only_leasot(self) -> list[Key]:
        return sorted(self.leasot.keys() - self.helmq.keys())

    @property
    def both(self) -> int:
        return len(self.helmq.keys() & self.leasot.keys())


def compare(helmq_findings: Iterable[Any], leasot_found: Iterable[dict[str, Any]]) -> Comparison:
    """The code-comment findings of both tools in `.py` files, keyed by (file, line)."""
    helmq = {(f.source_file, f.line): f"{f.data['marker']}: {f.title}" for f in helmq_findings
             if f.data.get("source") == "code_comment" and f.source_file.endswith(".py")}
    leasot = {(Path(e["file"]).as_posix(), int(e["line"])): f"{e['tag']}: {e.get('text', '')}"
              for e in leasot_found if str(e["file"]).endswith(".py")}
    return Comparison(helmq, leasot)


_STRING_START = re.compile(r"^\s*(?:[rRbBuUfF]{0,2})(?:\"\"\"|''')")
_LEASOT_LINE = re.compile(r"^\s*#\s*@?(TODO|FIXME|XXX|HACK|BUG)(?!\w)", re.IGNORECASE)
_VENDORED = ("vendor", "third_party", "node_modules", ".venv", "venv", "site-packages", "dist",
             "build")


def reason(side: str, path: str, source: str, leasot_tags: str = "XXX,HACK,BUG") -> str:
    """A guess at why only one tool reported this line, from the line itself."""
    if side == "helmq":
        if not source.lstrip().startswith("#"):
            return "trailing comment after code (leasot reads whole-line comments only)"
        if re.match(r"\s*#[\s#]*#", source):
            return "marker after '##' (leasot wants one '#' then the tag)"
        if not leasot_tags and not re.search(r"\b(?:TODO|FIXME)\b", source):
            return "XXX, HACK or BUG (leasot looks for TODO and FIXME only, without --tags)"
        if not _LEASOT_LINE.match(source):
            return "marker later in the comment line (leasot wants the tag first)"
        return "other"
    if any(part in _VENDORED for part in Path(path).parts[:-1]):
        return "vendored/build directory (helmq passes it over)"
    tag = _LEASOT_LINE.match(source)
    if tag is None:
        if _STRING_START.match(source):
            return 'one-line docstring """TODO ...""" (a string, not a comment)'
        return "other"
    if tag[1] != tag[1].upper():
        return "tag not in upper case (leasot ignores case)"
    if re.fullmatch(r"\s*#\s*@?\w+\s*(?:\([^)]*\))?\s*:?\s*", source):
        return "marker without text or comment line below (helmq needs a title)"
    return "a '#' line inside a string or docstring (leasot does not lex strings)"


def source_line(tree: Path, key: Key, lines: dict[str, list[str]]) -> str:
    path, line = key
    if path not in lines:
        try:
            lines[path] = (tree / path).read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            lines[path] = []
    text = lines[path]
    return text[line - 1] if 0 < line <= len(text) else ""


def differences(tree: Path, comparison: Comparison,
                leasot_tags: str) -> dict[str, list[dict[str, Any]]]:
    """Each line only one tool reported, with its source line and the guessed reason."""
    cache: dict[str, list[str]] = {}
    out: dict[str, list[dict[str, Any]]] = {}
    for side, keys, found in (("helmq", comparison.only_helmq, comparison.helmq),
                              ("leasot", comparison.only_leasot, comparison.leasot)):
        rows = []
        for key in keys:
            source = source_line(tree, key, cache)
            rows.append({"file": key[0], "line": key[1], "found": found[key],
                         "source": source.strip(),
                         "reason": reason(side, key[0], source, leasot_tags)})
        out[side] = rows
    return out


def write_differences(path: Path, diff: dict[str, list[dict[str, Any]]]) -> None:
    with path.open("w", encoding="utf-8") as out:
        for side, rows in diff.items():
            out.write(f"## only {side} ({len(rows)})\n")
            for why, count in Counter(row["reason"] for row in rows).most_common():
                out.write(f"#   {count:5d}  {why}\n")
            for row in rows:
                out.write(f"{row['file']}:{row['line']}: [{row['reason']}] {row['source']}\n")
            out.write("\n")


# --- report ---------------------------------------------------------------------------------

def summary(times: list[float]) -> dict[str, float]:
    return {"best_s": min(times), "median_s": statistics.median(times), "all_s": times}


def verdict(value: float, goal: float) -> str:
    return "PASS" if value <= goal else "FAIL"


def goals(best: dict[str, float]) -> dict[str, dict[str, Any]]:
    """Both goals on the best times: full scan vs ripgrep, rescan vs full scan."""
    full_vs_rg = best["helmq_full"] / best["rg"]
    rescan_vs_full = best["helmq_rescan"] / best["helmq_full"]
    return {
        "full_vs_rg": {"ratio": full_vs_rg, "goal": FULL_GOAL,
                       "verdict": verdict(full_vs_rg, FULL_GOAL)},
        "rescan_vs_full": {"ratio": rescan_vs_full, "goal": RESCAN_GOAL,
                           "verdict": verdict(rescan_vs_full, RESCAN_GOAL)},
    }


def render(result: dict[str, Any], examples: int) -> str:
    t = result["times"]
    g = result["goals"]
    c = result["comparison"]
    lines = [
        f"tree: {result['tree']} ({result['files']} files, {result['megabytes']:.1f} MB; "
        f"{', '.join(result['sdists'])})",
        f"rounds: {result['rounds']}; {result['rg_version']}; leasot {result['leasot_version']}",
        "",
        f"{'':16}{'best':>9}{'median':>9}",
    ]
    for name in ("helmq_full", "helmq_rescan", "rg", "leasot"):
        lines.append(f"{name:16}{t[name]['best_s']:8.3f}s{t[name]['median_s']:8.3f}s")
    best = {name: t[name]["best_s"] for name in t}
    lines += [
        "",
        f"helmq/rg       {best['helmq_full'] / best['rg']:6.2f}x   "
        f"goal <= {FULL_GOAL:g}x      {g['full_vs_rg']['verdict']}",
        f"rescan/full    {g['rescan_vs_full']['ratio']:6.1%}    "
        f"goal <= {RESCAN_GOAL:.0%}      {g['rescan_vs_full']['verdict']}",
        f"rescan/rg      {best['helmq_rescan'] / best['rg']:6.2f}x",
        f"helmq/leasot   {best['helmq_full'] / best['leasot']:6.2f}x",
        "",
        f"findings: helmq {result['helmq_findings']} in all files ({result['rg_lines']} rg lines)",
        f".py comments: helmq {c['helmq']}, leasot {c['leasot']} "
        f"(tags: TODO,FIXME{',' + result['leasot_tags'] if result['leasot_tags'] else ''}); "
        f"both {c['both']}, only helmq {c['only_helmq']}, only leasot {c['only_leasot']}",
        f"differences: {result['diff_file']}",
    ]
    for side in ("helmq", "leasot"):
        rows = result["differences"][side]
        if not rows:
            continue
        lines.append(f"  only {side}, by guessed reason:")
        lines += [f"    {n:5d}  {why}"
                  for why, n in Counter(r["reason"] for r in rows).most_common()]
        for row in rows[:examples]:
            lines.append(f"      {row['file']}:{row['line']}: {row['source'][:110]}")
    return "\n".join(lines)


def tree_size(tree: Path) -> tuple[int, int]:
    files = size = 0
    for folder, _dirs, names in os.walk(tree):
        for name in names:
            files += 1
            size += os.lstat(os.path.join(folder, name)).st_size
    return files, size


def run(args: argparse.Namespace) -> dict[str, Any]:
    work = args.work.expanduser().resolve()
    work.mkdir(parents=True, exist_ok=True)
    log = (lambda msg: print(msg, file=sys.stderr)) if not args.json else (lambda msg: None)
    rg = ensure_rg()
    leasot = ensure_leasot(work, log)
    tree = ensure_tree(work, log)
    cache_root = work / "cache"
    cache_root.mkdir(exist_ok=True)
    argv = leasot_argv(leasot, args.leasot_tags)

    run_rg(rg, tree)  # warm the page cache: every round then reads from memory
    times: dict[str, list[float]] = {"helmq_full": [], "helmq_rescan": [], "rg": [], "leasot": []}
    for n in range(args.rounds):
        rg_s, rg_lines = run_rg(rg, tree)
        full_s, rescan_s, findings = run_helmq(tree, cache_root)
        leasot_s, leasot_found = run_leasot(argv, tree)
        for name, value in (("rg", rg_s), ("helmq_full", full_s), ("helmq_rescan", rescan_s),
                            ("leasot", leasot_s)):
            times[name].append(value)
        log(f"round {n + 1}: helmq {full_s:.3f}s, rescan {rescan_s:.3f}s, rg {rg_s:.3f}s, "
            f"leasot {leasot_s:.3f}s")

    comparison = compare(findings, leasot_found)
    diff = differences(tree, comparison, args.leasot_tags)
    diff_file = work / "scan-diff.txt"
    write_differences(diff_file, diff)
    summaries = {name: summary(values) for name, values in times.items()}
    files, size = tree_size(tree)
    return {
        "tree": str(tree),
        "sdists": [f"{name}-{version}" for name, version in SDISTS],
        "files": files,
        "megabytes": size / 1e6,
        "rounds": args.rounds,
        "rg_version": tool_version([rg, "--version"]),
        "leasot_version": tool_version([leasot, "--version"]),
        "leasot_argv": argv[1:],
        "leasot_tags": args.leasot_tags,
        "times": summaries,
        "goals": goals({name: s["best_s"] for name, s in summaries.items()}),
        "helmq_findings": len(findings),
        "rg_lines": rg_lines,
        "comparison": {"helmq": len(comparison.helmq), "leasot": len(comparison.leasot),
                       "both": comparison.both, "only_helmq": len(comparison.only_helmq),
                       "only_leasot": len(comparison.only_leasot)},
        "differences": diff,
        "diff_file": str(diff_file),
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--work", type=Path, default=DEFAULT_WORK,
                   help=f"where the sdists, leasot and the diff live (default {DEFAULT_WORK})")
    p.add_argument("--rounds", type=int, default=5, help="timed runs of each tool (best is kept)")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.add_argument("--diff", type=int, default=0, metavar="N",
                   help="print N example lines found only by helmq and only by leasot")
    p.add_argument("--leasot-tags", default="XXX,HACK,BUG",
                   help="tags leasot looks for besides TODO and FIXME ('' for none)")
    args = p.parse_args(argv)
    if args.rounds < 1:
        p.error("--rounds must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        result = run(args)
    except (BenchError, subprocess.TimeoutExpired) as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(render(result, args.diff))
    return 0 if all(g["verdict"] == "PASS" for g in result["goals"].values()) else 2


if __name__ == "__main__":
    sys.exit(main())
