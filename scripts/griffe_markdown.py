"""A griffe extension for the reference site: the docstrings' few reStructuredText habits, read as Markdown.

The docstrings are written for ``help()`` and IDEs, with two reStructuredText forms that
Markdown does not have: a paragraph ending ``::`` before an indented example, and the
``.. versionadded::`` / ``.. versionchanged::`` notes. mkdocstrings renders docstrings as
Markdown, so this rewrites those two forms as it loads each object (mkdocs.yml names it);
the docstrings themselves stay as they are.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

VERSION_NOTE = re.compile(r"^(?P<indent>\s*)\.\. version(?P<kind>added|changed):: (?P<version>\S+)(?: (?P<text>.*))?$")


def markdown(docstring: str) -> str:
    """`docstring` with ``text::`` as ``text:``, a lone ``::`` dropped, and version notes as sentences."""
    lines = []
    for line in docstring.splitlines():
        note = VERSION_NOTE.match(line)
        if note:
            added = note["kind"] == "added"
            said = f"*Added in version {note['version']}.*" if added else f"*Changed in version {note['version']}:*"
            lines.append(f"{note['indent']}{said} {note['text'] or ''}".rstrip())
            lines.append("")  # each note a paragraph of its own
        elif line.strip() == "::":
            continue
        elif line.endswith("::"):
            lines.append(line[:-1])
        else:
            lines.append(line)
    return "\n".join(lines).rstrip()


class ReStructuredTextAsMarkdown(griffe.Extension):
    """Rewrites each loaded object's docstring with `markdown`."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:  # noqa: ARG002 - griffe's hook
        """Called by griffe for every object it loads."""
        if obj.docstring is not None:
            obj.docstring.value = markdown(obj.docstring.value)
