"""How each language writes comments and string literals, and which language a file is in."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TypedDict


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


class _Comments(TypedDict):
    """The comment keywords of a CommentSyntax, shared by several languages."""

    line: tuple[str, ...]
    block: tuple[tuple[str, str], ...]


_C_LIKE: _Comments = {"line": (SLASHES,), "block": (C_BLOCK,)}

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
