"""TODO-style markers inside the comments of source files: a comment-syntax table per language
and a one-pass scanner. Pure and stdlib only.

The scanner is a lexer approximated by one regular expression per language, matched from one
comment to the next: it consumes code and every string-literal form of the language (Python
docstrings included) in C and stops at the next comment, so a marker counts only inside a
comment and is never seen inside a string. Text without a marker word is not lexed at all, and
lexing stops after the last marker word of a text.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, AnyStr

try:  # the regex parser is private; without it the lexer is still right, only slower
    import re._constants as sre
    import re._parser as sre_parse
except ImportError:  # pragma: no cover - a Python that moved them
    sre = sre_parse = None  # type: ignore[assignment]

MARKERS = ("TODO", "FIXME", "XXX", "HACK", "BUG")

# Upper case, a whole word, an optional `(owner)`, then `:`, whitespace or the end of the
# comment (or `;`, a mistyped `:`); the text runs to the end of the line (or of the comment,
# for a block comment that ends on the same line). The "no word character before" test
# follows each first letter (`T(?<!\wT)`), so every alternative starts with a literal and the
# regex engine skips ahead to the next T, F, X, H or B instead of trying them all everywhere.
_MARKER = re.compile(
    "(?P<marker>" + "|".join(rf"{word[0]}(?<!\w{word[0]}){word[1:]}" for word in MARKERS) + ")"
    r"(?:\((?P<owner>[^()\n]*)\))?(?:[ \t]*(?P<colon>:)|[ \t]*;|(?=\s|\Z))(?P<text>[^\n]*)"
)
# What may come before a bare marker (no `:`, no owner) on its line inside the comment.
_DECORATION = " \t#/*!-;%<>"
_LEADING_PUNCT = re.compile(r"[\s:\-\u2013\u2014]+")
# Each marker is looked for backwards (rfind runs several times faster than find or a regular
# expression) by itself or by a rare letter of it (one character is found with memrchr; every
# hit then costs a check in Python, so TODO, whose letters are all common, is found whole).
# (probe, ((marker, where the probe is in it), ...)): the X of FIXME and of XXX is one search.
_PROBES = (("TODO", (("TODO", 0),)), ("X", (("FIXME", 2), ("XXX", 2))), ("K", (("HACK", 3),)),
           ("G", (("BUG", 2),)))
_BYTE_PROBES = tuple((probe.encode(), tuple((word.encode(), at) for word, at in words))
                     for probe, words in _PROBES)
_LONGEST = max(map(len, MARKERS))
_WORD_BYTES = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")


def _is_word_char(char: str) -> bool:
    return char.isalnum() or char == "_"  # what `\w` matches in a str pattern


_Probes = tuple[tuple[AnyStr, tuple[tuple[AnyStr, int], ...]], ...]


def _last_marker_end(text: AnyStr, probes: _Probes[AnyStr],
                     is_word: Callable[[Any], bool]) -> int:
    last = -1
    size = len(text)
    for probe, words in probes:
        floor = last - _LONGEST if last > _LONGEST else 0  # only a later one can move `last`
        hit = text.rfind(probe, floor)
        while hit >= 0:
            for word, at in words:
                start = hit - at
                end = start + len(word)
                if (start >= floor and text.startswith(word, start)
                        and (start == 0 or not is_word(text[start - 1]))
                        and (end == size or not is_word(text[end]))):
                    last = max(last, end)
                    hit = -1  # the last one of this probe: on to the next probe
                    break
            else:
                hit = text.rfind(probe, floor, hit)
    return last


def last_marker_end(text: str) -> int:
    """Where the last marker word (upper case, a whole word) of the text ends; -1 if none."""
    return _last_marker_end(text, _PROBES, _is_word_char)


def may_hold_marker(data: bytes) -> bool:
    """Whether raw file bytes may hold a marker word: False when no ASCII-compatible
    encoding of them (UTF-8, Latin-1...) can."""
    return _last_marker_end(data, _BYTE_PROBES, _WORD_BYTES.__contains__) >= 0


@dataclass(frozen=True, slots=True)
class CommentHit:
    """One marker inside a comment: the text is the title (never empty), line/column 1-based."""

    marker: str
    owner: str | None
    text: str
    line: int
    column: int


@dataclass(frozen=True)
class CommentSyntax:
    """How one language writes comments and string literals, as regular expressions.

    `line`: openers of comments that run to the end of the line. `block`: (opener, closer)
    pairs; a block comment may span lines, an unclosed one runs to the end of the file.
    `strings`: each matches a whole literal (an unterminated one ends at its line or the end of
    the file). Alternatives are tried in order, so longer openers come first (`\"\"\"` before `"`).
    Group names used for back references must be unique within one syntax.
    """

    name: str
    line: tuple[str, ...] = ()
    block: tuple[tuple[str, str], ...] = ()
    strings: tuple[str, ...] = ()


# --- building blocks -------------------------------------------------------------------------
# Escaped, single-line ("..." in C): an unterminated literal ends at the end of its line.
DQ = r'"[^"\\\n]*(?:\\[\s\S][^"\\\n]*)*"?'
SQ = r"'[^'\\\n]*(?:\\[\s\S][^'\\\n]*)*'?"
# Escaped, may span lines.
DQ_ML = r'"[^"\\]*(?:\\[\s\S][^"\\]*)*(?:"|\Z)'
SQ_ML = r"'[^'\\]*(?:\\[\s\S][^'\\]*)*(?:'|\Z)"
BACKTICK_ESC = r"`[^`\\]*(?:\\[\s\S][^`\\]*)*(?:`|\Z)"  # JS template literals
BACKTICK_RAW = r"`[^`]*(?:`|\Z)"  # Go raw strings
TRIPLE_DQ = r'"""[^"\\]*(?:(?:\\[\s\S]|"(?!""))[^"\\]*)*(?:"""|\Z)'
TRIPLE_SQ = r"'''[^'\\]*(?:(?:\\[\s\S]|'(?!''))[^'\\]*)*(?:'''|\Z)"
TRIPLE_SQ_RAW = r"'''[\s\S]*?(?:'''|\Z)"  # TOML literal multi-line strings
SQ_RAW = r"'[^'\n]*'?"  # TOML literal strings, no escapes
# A character literal: exactly one (possibly escaped) character, so Rust lifetimes ('a) and
# C++14 digit separators (1'000) are not mistaken for strings.
CHAR = r"'(?:[^'\\\n]|\\(?:x[0-9a-fA-F]{2}|u\{[0-9a-fA-F]{1,6}\}|u[0-9a-fA-F]{4}|[^\n]))'"
SQL_SQ = r"'[^']*(?:''[^']*)*'?"  # doubled quote escapes; may span lines
SQL_DQ = r'"[^"]*(?:""[^"]*)*"?'
RUST_RAW = r'(?<!\w)b?r(?P<rust_hashes>#*)"[\s\S]*?(?:"(?P=rust_hashes)|\Z)'
CPP_RAW = r'(?<!\w)(?:u8|[uUL])?R"(?P<cpp_delim>[^()\\\s"]{0,16})\([\s\S]*?(?:\)(?P=cpp_delim)"|\Z)'
CS_VERBATIM = r'\$?@\$?"[^"]*(?:""[^"]*)*"?'
LUA_LONG = r"\[(?P<lua_str>=*)\[[\s\S]*?(?:\](?P=lua_str)\]|\Z)"
CSS_URL = r"(?<![\w-])url\([^)\n]*\)"  # url(http://x) in SCSS/LESS is not a // comment
# YAML quotes only open a scalar, never in the middle of one (it's fine).
YAML_DQ = r'(?<![^\s\[{,:])"[^"\\\n]*(?:\\.[^"\\\n]*)*"?'
YAML_SQ = r"(?<![^\s\[{,:])'[^'\n]*(?:''[^'\n]*)*'?"

HASH = r"#"
HASH_WORD = r"(?<![^\s;&|()])#"  # shell: `#` starts a comment only at the start of a word
HASH_SPACED = r"(?<!\S)#"  # YAML: at line start or after whitespace
HASH_LINE_START = r"^[ \t]*#"
SLASHES = r"//"
DASHES = r"--"
C_BLOCK = (r"/\*", r"\*/")
HTML_BLOCK = (r"<!--", r"-->")

_C_LIKE = {"line": (SLASHES,), "block": (C_BLOCK,)}

PYTHON = CommentSyntax("python", line=(HASH,), strings=(TRIPLE_DQ, TRIPLE_SQ, DQ, SQ))
JAVASCRIPT = CommentSyntax("javascript", **_C_LIKE, strings=(DQ, SQ, BACKTICK_ESC))
GO = CommentSyntax("go", **_C_LIKE, strings=(DQ, CHAR, BACKTICK_RAW))
RUST = CommentSyntax("rust", **_C_LIKE, strings=(RUST_RAW, DQ_ML, CHAR))
C = CommentSyntax("c", **_C_LIKE, strings=(CPP_RAW, DQ, CHAR))
JAVA = CommentSyntax("java", **_C_LIKE, strings=(TRIPLE_DQ, DQ, CHAR))  # also Kotlin, Scala
CSHARP = CommentSyntax("csharp", **_C_LIKE, strings=(CS_VERBATIM, DQ, CHAR))
SWIFT = CommentSyntax("swift", **_C_LIKE, strings=(TRIPLE_DQ, DQ))
DART = CommentSyntax("dart", **_C_LIKE, strings=(TRIPLE_DQ, TRIPLE_SQ, DQ, SQ))
PHP = CommentSyntax("php", line=(SLASHES, r"#(?!\[)"), block=(C_BLOCK,), strings=(DQ_ML, SQ_ML))
SHELL = CommentSyntax("shell", line=(HASH_WORD,), strings=(DQ_ML, r"'[^']*(?:'|\Z)"))
YAML = CommentSyntax("yaml", line=(HASH_SPACED,), strings=(YAML_DQ, YAML_SQ))
TOML = CommentSyntax("toml", line=(HASH,), strings=(TRIPLE_DQ, TRIPLE_SQ_RAW, DQ, SQ_RAW))
INI = CommentSyntax("ini", line=(r"^[ \t]*[#;]",))
SQL = CommentSyntax("sql", line=(DASHES,), block=(C_BLOCK,), strings=(SQL_SQ, SQL_DQ))
HTML = CommentSyntax("html", block=(HTML_BLOCK,))  # also XML, Markdown, SVG
CSS = CommentSyntax("css", block=(C_BLOCK,), strings=(DQ, SQ))
SCSS = CommentSyntax("scss", **_C_LIKE, strings=(CSS_URL, DQ, SQ))
RUBY = CommentSyntax("ruby", line=(HASH,), block=((r"^=begin\b", r"^=end\b"),),
                     strings=(DQ_ML, SQ_ML))
LUA = CommentSyntax("lua", line=(DASHES,), block=((r"--\[(?P<lua_c>=*)\[", r"\](?P=lua_c)\]"),),
                    strings=(LUA_LONG, DQ, SQ))
HASKELL = CommentSyntax("haskell", line=(r"--(?![!#$%&*+./<=>?@\\^|~:])",),
                        block=((r"\{-", r"-\}"),), strings=(DQ, CHAR))
DOCKERFILE = CommentSyntax("dockerfile", line=(HASH_LINE_START,))
MAKEFILE = CommentSyntax("makefile", line=(r"(?<!\\)#",))
HCL = CommentSyntax("hcl", line=(HASH, SLASHES), block=(C_BLOCK,), strings=(DQ,))
R = CommentSyntax("r", line=(HASH,), strings=(DQ_ML, SQ_ML))
ELIXIR = CommentSyntax("elixir", line=(HASH,), strings=(TRIPLE_DQ, DQ_ML, SQ))
ERLANG = CommentSyntax("erlang", line=(r"%",), strings=(DQ, r"\$[\s\S]"))
LISP = CommentSyntax("lisp", line=(r";",), strings=(DQ_ML, r"\\[\s\S]"))
TEX = CommentSyntax("tex", line=(r"(?<!\\)%",))

EXTENSIONS: dict[str, CommentSyntax] = {
    **dict.fromkeys((".py", ".pyi", ".pyw", ".bzl", ".star"), PYTHON),
    **dict.fromkeys((".js", ".jsx", ".mjs", ".cjs", ".ts", ".tsx", ".mts", ".cts"), JAVASCRIPT),
    ".go": GO,
    ".rs": RUST,
    **dict.fromkeys((".c", ".h", ".cc", ".cpp", ".cxx", ".hh", ".hpp", ".hxx", ".ino", ".m",
                     ".mm", ".proto"), C),
    **dict.fromkeys((".java", ".kt", ".kts", ".scala", ".groovy", ".gradle"), JAVA),
    ".cs": CSHARP,
    ".swift": SWIFT,
    ".dart": DART,
    ".php": PHP,
    **dict.fromkeys((".sh", ".bash", ".zsh", ".ksh", ".fish"), SHELL),
    **dict.fromkeys((".yml", ".yaml"), YAML),
    ".toml": TOML,
    **dict.fromkeys((".ini", ".cfg", ".conf"), INI),
    ".sql": SQL,
    **dict.fromkeys((".html", ".htm", ".xhtml", ".xml", ".svg", ".md", ".markdown"), HTML),
    ".css": CSS,
    **dict.fromkeys((".scss", ".less"), SCSS),
    **dict.fromkeys((".rb", ".rake", ".gemspec"), RUBY),
    ".lua": LUA,
    ".hs": HASKELL,
    ".dockerfile": DOCKERFILE,
    **dict.fromkeys((".mk", ".mak"), MAKEFILE),
    **dict.fromkeys((".tf", ".tfvars", ".hcl"), HCL),
    ".r": R,
    **dict.fromkeys((".ex", ".exs"), ELIXIR),
    **dict.fromkeys((".erl", ".hrl"), ERLANG),
    **dict.fromkeys((".clj", ".cljs", ".cljc", ".el", ".lisp", ".scm"), LISP),
    **dict.fromkeys((".tex", ".sty"), TEX),
}
"""By lower-case file suffix."""

FILENAMES: dict[str, CommentSyntax] = {
    **dict.fromkeys(("Dockerfile", "Containerfile"), DOCKERFILE),
    **dict.fromkeys(("Makefile", "makefile", "GNUmakefile"), MAKEFILE),
    "CMakeLists.txt": SHELL,
    **dict.fromkeys(("Rakefile", "Gemfile", "Vagrantfile", "Podfile"), RUBY),
    **dict.fromkeys(("BUILD", "BUILD.bazel", "WORKSPACE", "Tiltfile"), PYTHON),
    "Jenkinsfile": JAVA,
    **dict.fromkeys((".bashrc", ".bash_profile", ".zshrc", ".profile", ".envrc"), SHELL),
}
"""By exact file name; checked before the suffix."""

_PROGRAM = re.compile(r"[A-Za-z]+")
_INTERPRETERS: dict[str, CommentSyntax] = {
    **dict.fromkeys(("sh", "bash", "zsh", "ksh", "dash", "ash"), SHELL),
    "python": PYTHON,
    **dict.fromkeys(("node", "deno", "bun"), JAVASCRIPT),
    "ruby": RUBY,
    "lua": LUA,
    "php": PHP,
}


def syntax_for(name: str, first_line: str = "") -> CommentSyntax | None:
    """The comment syntax of a file by its name, else by its `#!` line; None when unknown."""
    if name in FILENAMES:
        return FILENAMES[name]
    if name.startswith(("Dockerfile.", "Containerfile.")):
        return DOCKERFILE
    dot = name.rfind(".")
    if dot > 0 and name[dot:].lower() in EXTENSIONS:
        return EXTENSIONS[name[dot:].lower()]
    return _by_shebang(first_line)


def _by_shebang(first_line: str) -> CommentSyntax | None:
    """`#!/bin/bash`, `#!/usr/bin/env -S python3 -u`: the interpreter's syntax, if known."""
    if not first_line.startswith("#!"):
        return None
    words = first_line[2:].split()
    if words and words[0].rsplit("/", 1)[-1] == "env":
        words = [word for word in words[1:] if not word.startswith("-") and "=" not in word]
    if not words:
        return None
    program = _PROGRAM.match(words[0].rsplit("/", 1)[-1])
    return _INTERPRETERS.get(program[0]) if program else None


def _first_chars(items: Any) -> tuple[set[str] | None, bool]:
    """The characters a parsed regex can start with (None: any), and whether it can match the
    empty string. Lookarounds and anchors take no character, so they are passed over."""
    chars: set[str] = set()
    for op, av in items:
        if op is sre.LITERAL:
            return chars | {chr(av)}, False
        if op is sre.IN:
            if any(kind is not sre.LITERAL and kind is not sre.RANGE for kind, _ in av):
                return None, False  # a negated or category class
            for kind, value in av:
                low, high = (value, value) if kind is sre.LITERAL else value
                chars.update(map(chr, range(low, high + 1)))
            return chars, False
        if op in (sre.AT, sre.ASSERT, sre.ASSERT_NOT):
            continue
        if op is sre.SUBPATTERN:
            first, empty = _first_chars(av[3])
        elif op is sre.ATOMIC_GROUP:
            first, empty = _first_chars(av)
        elif op is sre.BRANCH:
            first, empty = set(), False
            for branch in av[1]:
                more, more_empty = _first_chars(branch)
                if more is None:
                    return None, False
                first |= more
                empty = empty or more_empty
        elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT):
            first, empty = _first_chars(av[2])
            empty = empty or av[0] == 0
        else:
            return None, False
        if first is None:
            return None, False
        chars |= first
        if not empty:
            return chars, False
    return chars, True


def _start_chars(alternatives: list[str]) -> str | None:
    """A character class of every character a token can start with; None when unknown."""
    chars: set[str] = set()
    if sre_parse is None:
        return None
    try:
        for alternative in alternatives:
            first, empty = _first_chars(sre_parse.parse(alternative, re.MULTILINE))
            if first is None or empty:
                return None
            chars |= first
    except (AttributeError, TypeError, ValueError):  # the private parser changed shape
        return None
    # NUL, which a text file never holds (binary ones are not scanned), makes a class of few
    # characters compile to a bitmap instead of a list of literals: twice as fast.
    return "".join(re.escape(char) for char in sorted(chars | {"\0"}))


_GROUP_NAME = re.compile(r"\(\?P<\w+>")


@dataclass(frozen=True)
class _Lexer:
    """`next_comment.match(text, pos)`: the code and strings from pos on, then the next comment
    (None when no comment is left). `bodies`: the body group of each comment alternative."""

    next_comment: re.Pattern[str]
    bodies: dict[str, str]
    line_comment: re.Pattern[str] | None


@functools.cache
def _compile(syntax: CommentSyntax) -> _Lexer:
    """The lexer of a syntax."""
    comments: list[str] = []
    openers: list[str] = []
    bodies: dict[str, str] = {}
    for index, (opener, closer) in enumerate(syntax.block):
        name = f"block{index}"
        bodies[name] = f"{name}_body"
        comments.append(f"(?P<{name}>{opener}(?P<{name}_body>[\\s\\S]*?)(?:{closer}|\\Z))")
        openers.append(opener)
    for index, opener in enumerate(syntax.line):
        name = f"line{index}"
        bodies[name] = f"{name}_body"
        comments.append(f"(?P<{name}>{opener}(?P<{name}_body>[^\\n]*))")
        openers.append(opener)
    # Copies of the openers for look-aheads must not name groups (Lua's `--[==[` does).
    block_openers = "|".join(_GROUP_NAME.sub("(?:", opener) for opener, _ in syntax.block)
    line_openers = "|".join(_GROUP_NAME.sub("(?:", opener) for opener in syntax.line)
    strings = "".join(f"{literal}|" for literal in syntax.strings)
    chars = _start_chars([*openers, *syntax.strings])
    # What lies between two comments that may hold a marker: code, strings, and line comments
    # without a marker word (most of them: they never reach Python). Possessive: what was
    # consumed is never given back, so a text without a comment left fails once, in linear
    # time. As in a tokenizer, a block comment beats a line comment beats a string.
    between = f"{strings}[{chars}]" if chars is not None else f"{strings}[\\s\\S]"
    if line_openers:
        between = (f"(?:{line_openers})(?![^\\n]*?(?:{'|'.join(MARKERS)}))[^\\n]*"
                   f"|(?!{line_openers})(?:{between})")
    if block_openers:
        between = f"(?!{block_openers})(?:{between})"
    skip = f"(?:[^{chars}]++|{between})*+" if chars is not None else f"(?:{between})*+"
    next_comment = re.compile(f"{skip}(?:{'|'.join(comments)})", re.MULTILINE)
    line_comment = None
    if line_openers:
        line_comment = re.compile(f"[ \\t]*(?:{line_openers})(?P<body>[^\\n]*)", re.MULTILINE)
    return _Lexer(next_comment, bodies, line_comment)


def _title(raw: str) -> str:
    punct = _LEADING_PUNCT.match(raw)
    return " ".join((raw[punct.end():] if punct else raw).split())


def _next_line_title(text: str, marker_end: int, body_end: int, lexer: _Lexer,
                     is_line_comment: bool) -> str:
    """The title of a marker with no text of its own (`# TODO:`) from the comment line right
    under it: the next line of its block comment, or a line comment on the next line. Empty
    when there is none, or when that line is a marker of its own."""
    newline = text.find("\n", marker_end)
    if newline < 0:
        return ""
    if newline < body_end:  # inside a block comment
        line_end = text.find("\n", newline + 1)
        raw = text[newline + 1:body_end if line_end < 0 else min(line_end, body_end)]
    elif is_line_comment and lexer.line_comment is not None:
        found = lexer.line_comment.match(text, newline + 1)
        if found is None:
            return ""
        raw = found["body"]
    else:
        return ""
    raw = raw.lstrip(_DECORATION)
    return "" if _MARKER.match(raw) else _title(raw)


def scan_comments(text: str, syntax: CommentSyntax) -> list[CommentHit]:
    """Every marker with a title inside a comment of text, in order.

    The title is the text after the marker, or for a marker alone at the start of its comment
    line (`# TODO:`), the comment line right under it; a marker with neither is left out. So
    is a bare marker (no `:`, no `(owner)`) that does not start its comment line: `# see the
    TODO list` is prose, `# TODO fix` is not. A text without any marker word returns at once."""
    stop = last_marker_end(text)
    if stop < 0:
        return []
    lexer = _compile(syntax)
    hits: list[CommentHit] = []
    # Nothing past the line after the last marker (its title may be there) can change a hit.
    limit = text.find("\n", stop)
    limit = -1 if limit < 0 else text.find("\n", limit + 1)
    limit = len(text) if limit < 0 else limit
    counted_to, line, pos = 0, 1, 0
    while pos < stop:
        token = lexer.next_comment.match(text, pos, limit)
        if token is None:
            break
        name = token.lastgroup or ""
        start, end = token.span(lexer.bodies[name])
        pos = token.end()
        for found in _MARKER.finditer(text, start, end):
            at = found.start()
            line_start = max(start, text.rfind("\n", 0, at) + 1)
            heads_line = not text[line_start:at].strip(_DECORATION)
            if not heads_line and found["colon"] is None and found["owner"] is None:
                continue  # a bare word in the middle of prose ("the TODO list") is no marker
            title = _title(found["text"])
            if not title and heads_line and (found["colon"] or found["owner"] is None):
                # `XXX(a whole remark)` alone is an aside, not a heading of the lines below.
                title = _next_line_title(text, found.end(), end, lexer, name.startswith("line"))
            if not title:
                continue
            line += text.count("\n", counted_to, at)
            counted_to = at
            column = at - text.rfind("\n", 0, at)
            owner = (found["owner"] or "").strip() or None
            hits.append(CommentHit(found["marker"], owner, title, line, column))
    return hits
