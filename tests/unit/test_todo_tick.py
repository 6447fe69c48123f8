"""Marking TODO.md items done: one box or one strikethrough, every other byte kept."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from helmq.grammar.todo_md import parse_todo
from helmq.grammar.todo_tick import tick_todo
from tests.conftest import TESTS

CORPUS = TESTS / "corpus" / "todo-md"

TODO = """\
# TODO

## Docs
- [ ] Fix broken links in docs !p1 tier:script +auto
- [x] Write the changelog
  - [ ] Nested task: update   the README @weekly

## Code
1. [ ] Remove dead code
* [ ] remove dead code in the parser
"""


def test_ticks_the_box_on_the_given_line() -> None:
    ticked = tick_todo(TODO, 4, "Fix broken links in docs")
    assert ticked == TODO.replace("- [ ] Fix broken", "- [x] Fix broken")


def test_title_matches_case_and_whitespace_insensitively_ignoring_tags() -> None:
    ticked = tick_todo(TODO, 6, "nested TASK: update the readme")
    assert ticked == TODO.replace("  - [ ] Nested", "  - [x] Nested")
    ticked = tick_todo(TODO, 4, "Fix broken links in docs  +auto !p1")
    assert ticked == TODO.replace("- [ ] Fix broken", "- [x] Fix broken")


def test_item_moved_is_found_elsewhere_in_the_file() -> None:
    # Given the item's recorded line now holds something else
    # When it is ticked by its title
    ticked = tick_todo(TODO, 2, "Fix broken links in docs")
    # Then the one unchecked line with that title is ticked
    assert ticked == TODO.replace("- [ ] Fix broken", "- [x] Fix broken")
    # And a line number past the end of the file is no obstacle either
    assert tick_todo(TODO, 999, "Fix broken links in docs") == ticked


def test_exact_title_wins_over_a_longer_title_containing_it() -> None:
    # "Remove dead code" is both an item and part of another item's title.
    ticked = tick_todo(TODO, 1, "remove dead code")
    assert ticked == TODO.replace("1. [ ] Remove", "1. [x] Remove")


def test_ambiguous_title_ticks_nothing() -> None:
    text = "- [ ] Update deps in api\n- [ ] Update deps in web\n"
    assert tick_todo(text, 5, "update deps") is None


def test_duplicate_titles_tick_only_the_one_at_the_given_line() -> None:
    text = "- [ ] Fix links\n- [ ] Fix links\n"
    assert tick_todo(text, 2, "Fix links") == "- [ ] Fix links\n- [x] Fix links\n"
    assert tick_todo(text, 3, "Fix links") is None


def test_unknown_title_ticks_nothing() -> None:
    assert tick_todo(TODO, 4, "Migrate to Postgres") is None
    assert tick_todo(TODO, 4, "   ") is None


def test_item_already_done_is_not_ticked_again() -> None:
    # The done item must not send the search off to "... in the parser" either.
    text = "- [x] Remove dead code\n- [ ] Remove dead code in the parser\n"
    assert tick_todo(text, 1, "Remove dead code") is None
    assert tick_todo(text, 7, "Remove dead code") is None


def test_crlf_and_bom_are_kept_byte_for_byte() -> None:
    text = "\ufeff- [ ] First\r\n- [ ] Second item\r\n\r\nTrailing text\r\n"
    ticked = tick_todo(text, 2, "second item")
    assert ticked == "\ufeff- [ ] First\r\n- [x] Second item\r\n\r\nTrailing text\r\n"
    assert tick_todo(text, 1, "First") == text.replace("- [ ] First", "- [x] First", 1)


def test_lone_carriage_returns_count_as_line_breaks_like_discovery_counts_them() -> None:
    text = "- [ ] First\r- [ ] Second\r"
    assert tick_todo(text, 2, "Second") == "- [ ] First\r- [x] Second\r"


def test_plain_bullet_is_struck_through() -> None:
    # Given a file of plain bullets, the way many TODO files are written
    text = "Todo\r\n=====\r\n* ~~uploadFile~~\r\n* startVncServer  \r\n* restart button\r\n"
    # When an item without a checkbox is done
    ticked = tick_todo(text, 4, "startvncserver")
    # Then its text is struck through, not given a box, and the line ending is untouched
    assert ticked == text.replace("* startVncServer  \r\n", "* ~~startVncServer~~  \r\n")


def test_plain_item_keeps_its_tags_outside_the_strikethrough() -> None:
    # Struck tags would become part of the title, and a new title is a new item.
    text = "- Rotate the logs @weekly !p2\n"
    assert tick_todo(text, 1, "Rotate the logs") == "- ~~Rotate the logs~~ @weekly !p2\n"


def test_partly_struck_plain_item_is_left_alone() -> None:
    # Wrapping it again would not read as done; better to say so than to pretend.
    text = "* ~~download progress~~ Nope, the API does not allow it\n"
    assert tick_todo(text, 1, "~~download progress~~ Nope, the API does not allow it") is None


def test_struck_plain_item_counts_as_done() -> None:
    text = "* ~~uploadFile~~\n* uploadFile progress bar\n"
    assert tick_todo(text, 1, "uploadFile") is None


def test_nested_description_bullets_are_never_ticked() -> None:
    # Nested plain bullets describe the item above; they are not items of their own.
    text = "- Ship v2\n  - remember to tag the release\n"
    assert tick_todo(text, 2, "tag the release") is None
    assert tick_todo(text, 9, "remember to tag the release") is None


def test_item_under_a_done_heading_is_already_done() -> None:
    text = "## Open\n- [ ] Other thing\n\n## Done\n- [ ] Fix links\n"
    assert tick_todo(text, 5, "Fix links") is None


@pytest.mark.parametrize(
    "text",
    [
        "```\n- [ ] Fix links\n```\n",
        "~~~md\n- [ ] Fix links\n~~~\n",
        "<!--\n- [ ] Fix links\n-->\n",
        "> - [ ] Fix links\n",
        "| - [ ] Fix links |\n",
    ],
)
def test_lines_that_are_not_items_are_never_ticked(text: str) -> None:
    assert tick_todo(text, 2, "Fix links") is None
    assert tick_todo(text, 1, "Fix links") is None


def test_item_after_a_fenced_block_is_found() -> None:
    text = "```\n- [ ] Fix links\n```\n- [ ] Fix links\n"
    assert tick_todo(text, 2, "Fix links") == "```\n- [ ] Fix links\n```\n- [x] Fix links\n"


@pytest.mark.parametrize("path", sorted(CORPUS.glob("*.md")), ids=lambda p: p.name[:12])
def test_every_open_item_of_real_files_reads_back_done(path: Path) -> None:
    # Given a real TODO file, byte for byte
    text = path.read_bytes().decode("utf-8")
    before = parse_todo(text).entries
    ticked_any = False
    for entry in (e for e in before if not e.done):
        # When one open item is ticked at its line
        ticked = tick_todo(text, entry.line, entry.title)
        if ticked is None:
            # Only a partly struck title cannot be struck out as a whole.
            assert "~~" in entry.title
            continue
        ticked_any = True
        # Then discovery reads that item, and only it, as done; every title and line is kept
        after = parse_todo(ticked).entries
        assert [(e.line, e.title) for e in after] == [(e.line, e.title) for e in before]
        assert [e.line for e, b in zip(after, before, strict=True) if e.done != b.done] == [
            entry.line
        ]
        lines_before, lines_after = re.split(r"\r\n|\r|\n", text), re.split(r"\r\n|\r|\n", ticked)
        pairs = zip(lines_before, lines_after, strict=True)
        changed = [n for n, (a, b) in enumerate(pairs, 1) if a != b]
        assert changed == [entry.line]
        assert len(ticked) - len(text) == (0 if entry.checkbox else 4)
        # And an item whose line is no longer known is found by its title when that is unique
        if sum(e.title.casefold() == entry.title.casefold() for e in before) == 1:
            assert tick_todo(text, 0, entry.title) == ticked
    assert ticked_any or all(e.done for e in before)
