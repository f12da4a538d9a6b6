"""Reading rulebook YAML with positions, so every error can name its line.

ruamel.yaml (YAML 1.2: ``on`` and ``no`` stay strings) keeps the line of every key and list
item; :class:`Source` turns a path such as ``("points", "rules", 0, "award")`` into
``rulebook.yaml:31``. Duplicate keys are refused by the parser, never silently merged.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import RoundTripConstructor
from ruamel.yaml.error import MarkedYAMLError

from plaudit.domain.errors import Problem, RulebookError

MAX_RULEBOOK_BYTES = 1_000_000


class _Constructor(RoundTripConstructor):
    """Bare dates and times (``2027-03-01``) stay the text written: the section that reads
    one checks it and names its line (ruamel would refuse ``2027-02-30`` without a line,
    and turn ``2027-3-1`` into ``2027-03-01`` silently)."""


_Constructor.add_constructor("tag:yaml.org,2002:timestamp", _Constructor.construct_yaml_str)


class Source:
    """A parsed rulebook document and the way back from a path to its line."""

    def __init__(self, text: str, name: str = "rulebook.yaml") -> None:
        self.name = name
        self.text = text
        if len(text.encode()) > MAX_RULEBOOK_BYTES:
            raise RulebookError([Problem(name, "", f"larger than {MAX_RULEBOOK_BYTES} bytes")])
        yaml = YAML(typ="rt")
        yaml.version = (1, 2)
        yaml.allow_duplicate_keys = False
        yaml.Constructor = _Constructor
        try:
            self.document: Any = yaml.load(text)
        except MarkedYAMLError as e:
            mark = e.problem_mark or e.context_mark
            line = mark.line + 1 if mark is not None else 1
            raise RulebookError([Problem(f"{name}:{line}", "",
                                         f"not valid YAML: {e.problem or e.context}")]) from None
        except Exception as e:  # ruamel raises a few unmarked errors (duplicate keys)
            raise RulebookError([Problem(name, "", f"not valid YAML: {e}")]) from None
        if not isinstance(self.document, CommentedMap):
            raise RulebookError([Problem(f"{name}:1", "", "a rulebook is a YAML mapping")])

    def plain(self) -> Any:
        """The document as plain dicts, lists and scalars (what pydantic validates)."""
        return _plain(self.document)

    def line(self, path: Sequence[Any]) -> int:
        """1-based line of the deepest node on ``path`` that exists."""
        node: Any = self.document
        line = 1
        for part in path:
            if isinstance(node, CommentedMap) and part in node:
                line = node.lc.key(part)[0] + 1
                node = node[part]
            elif isinstance(node, CommentedSeq) and isinstance(part, int) \
                    and 0 <= part < len(node):
                line = node.lc.item(part)[0] + 1
                node = node[part]
            else:
                break
        return line

    def where(self, path: Sequence[Any]) -> str:
        return f"{self.name}:{self.line(path)}"


def dotted(path: Sequence[Any]) -> str:
    """``("points", "rules", 0, "award")`` -> ``points.rules[0].award``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _plain(node: Any) -> Any:
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    if hasattr(node, "isoformat"):  # a bare YAML date such as 2027-03-01
        return node.isoformat()
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, str):
        return str(node)
    return node


__all__ = ["Source", "dotted"]
