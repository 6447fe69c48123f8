"""The tree the scan cache tests scan: shared by the unit tests and the CLI's acceptance test."""

from __future__ import annotations

FILES = {
    "TODO.md": "# Work\n\n- [ ] write the docs !p1\n- [ ] bad tag !p9\n- [x] ship it\n",
    "docs/TODO.md": "- [ ] docs item\n",
    "src/app.py": "x = 1  # TODO: tidy app\n# FIXME(ann): broken edge case\n",
    "src/lib.js": "// HACK: remove this later\n",
    "bin/deploy": "#!/usr/bin/env bash\necho hi # TODO: deploy check\n",
    "notes.txt": "TODO: not a comment\n",
}
