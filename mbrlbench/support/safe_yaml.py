"""YAML from elsewhere, read as bounded data: suite files, ``--set`` values and the config.yaml of run folders
that travel between labs. A document of nested aliases ("billion laughs") expands exponentially in anything
that walks it, and deep nesting overflows recursive walkers, so size and depth are bounded before the data
is built; only YAML's plain types are built (SafeLoader), never objects."""

from __future__ import annotations

from typing import Any

import yaml

KeyPath = tuple[str | int, ...]
"""Where a value sits in a YAML document's data, e.g. ``("overrides", "mbpo", "all")``."""

MAX_ALIASES = 1_000
MAX_VALUES = 100_000  # scalars, keys and list items once every alias is expanded
MAX_DEPTH = 64  # nested mappings and lists
MAX_BYTES = 10_000_000


class UnboundedYAML(ValueError):
    """The document is larger, deeper or more aliased than the bounds, or not UTF-8 text."""


class NotText(UnboundedYAML):
    """The bytes are not UTF-8 text (a binary file given as YAML)."""


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader that counts the aliases and the nesting depth it composes."""

    aliases = 0
    depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                raise UnboundedYAML(f"more than {MAX_ALIASES:,} YAML aliases")
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise UnboundedYAML(f"nested more than {MAX_DEPTH} levels deep")
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def expanded_size(root: yaml.Node) -> int:
    """Values in the document with every alias expanded, counted once per distinct node (memoized, so a
    nested-alias bomb is measured in linear time rather than expanded)."""
    sizes: dict[int, int] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        if id(node) in sizes:
            continue
        children = _children(node)
        if done or not children:
            sizes[id(node)] = 1 + sum(sizes[id(c)] for c in children)
            continue
        stack.append((node, True))  # post-order without recursion
        stack.extend((c, False) for c in children if id(c) not in sizes)
    return sizes[id(root)]


def key_lines(root: yaml.Node) -> dict[KeyPath, int]:
    """Line (1-based) of every key and list item, keyed by its path in the data."""
    lines: dict[KeyPath, int] = {}
    stack: list[tuple[yaml.Node, KeyPath]] = [(root, ())]
    while stack:
        node, path = stack.pop()
        lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                sub = (*path, key.value)
                lines[sub] = key.start_mark.line + 1
                stack.append((value, sub))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((item, (*path, i)) for i, item in enumerate(node.value))
    return lines


def load(text: str | bytes) -> tuple[Any, dict[KeyPath, int]]:
    """The document's data and the line of each key. Raises ``UnboundedYAML`` past a bound or for bytes that
    are not UTF-8, ``yaml.YAMLError`` for invalid YAML."""
    if isinstance(text, bytes):
        if len(text) > MAX_BYTES:
            raise UnboundedYAML(f"larger than {MAX_BYTES:,} bytes")
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as err:
            raise NotText(f"not UTF-8 text (byte {err.start}): a YAML file is expected") from None
    if len(text) > MAX_BYTES:
        raise UnboundedYAML(f"larger than {MAX_BYTES:,} characters")
    if "\x00" in text:
        raise NotText("holds NUL bytes: a YAML file is expected")
    loader = _BoundedLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return None, {}
        size = expanded_size(root)
        if size > MAX_VALUES:
            raise UnboundedYAML(f"expands to {size:,} values (more than {MAX_VALUES:,})")
        data = loader.construct_document(root)
    except RecursionError:
        raise UnboundedYAML(f"nested more than {MAX_DEPTH} levels deep") from None
    finally:
        loader.dispose()
    return data, key_lines(root)


def load_file(path: Any) -> Any:
    """A bounded document's data from a file (``OSError`` if unreadable)."""
    with open(path, "rb") as f:
        raw = f.read(MAX_BYTES + 1)
    return load(raw)[0]
