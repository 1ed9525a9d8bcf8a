"""A structured diff of two content documents, for the history page and the diff API.

``content_diff(old, new)`` returns::

    {"messages": [{"status": "unchanged"|"added"|"removed"|"changed",
                   "old_index": int|None, "new_index": int|None,
                   "old_role": str|None, "new_role": str|None,
                   "parts": [{"status": ..., "type": ..., "old": part|None, "new": part|None,
                              # text parts that changed:
                              "words": [{"op": "equal"|"insert"|"delete", "text": ...}, ...],
                              "unified": "--- old\\n+++ new\\n@@ ...",
                              # media parts that changed (asset ids, URLs or variable names):
                              "old_source": {...}|None, "new_source": {...}|None}]}],
     "variables": {"added": [...], "removed": [...], "changed": [{"name", "old", "new"}]},
     "model": {"added": {...}, "removed": {...}, "changed": {key: {"old", "new"}}},
     "changed": bool}

Messages and parts are aligned with difflib's SequenceMatcher; inside a replaced run, items of the
same role (or part type) are paired by similarity, so inserting a message at the top shows one added
message rather than every message changed.
"""

from __future__ import annotations

import difflib
import json
import re
from typing import Any

_WORD_RE = re.compile(r"\s+|\w+|[^\w\s]")


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def word_diff(old: str, new: str) -> list[dict[str, str]]:
    """Word-level changes: runs of equal, deleted and inserted text."""
    a, b = _WORD_RE.findall(old), _WORD_RE.findall(new)
    out: list[dict[str, str]] = []

    def push(op: str, text: str) -> None:
        if not text:
            return
        if out and out[-1]["op"] == op:
            out[-1]["text"] += text
        else:
            out.append({"op": op, "text": text})

    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            push("equal", "".join(a[i1:i2]))
        else:
            push("delete", "".join(a[i1:i2]))
            push("insert", "".join(b[j1:j2]))
    return out


def unified_diff(old: str, new: str) -> str:
    return "".join(
        difflib.unified_diff(
            old.splitlines(keepends=True), new.splitlines(keepends=True), fromfile="old", tofile="new", lineterm="\n"
        )
    )


def _source(part: dict[str, Any] | None) -> dict[str, Any] | None:
    if part is None or part.get("type") == "text":
        return None
    return {key: part[key] for key in ("asset", "url", "variable", "detail") if key in part}


def _part_entry(status: str, old: dict[str, Any] | None, new: dict[str, Any] | None) -> dict[str, Any]:
    kind = (new or old or {}).get("type")
    entry: dict[str, Any] = {"status": status, "type": kind, "old": old, "new": new}
    if status == "changed":
        if old and new and old.get("type") == new.get("type") == "text":
            entry["words"] = word_diff(old.get("text", ""), new.get("text", ""))
            entry["unified"] = unified_diff(old.get("text", ""), new.get("text", ""))
        else:
            entry["old_source"] = _source(old)
            entry["new_source"] = _source(new)
    return entry


def _similarity(a: Any, b: Any) -> float:
    """0 for items that can't be the same thing (another role or part type), else a rough text ratio."""
    if not isinstance(a, dict) or not isinstance(b, dict):
        return 0.0
    if a.get("role") != b.get("role") or a.get("type") != b.get("type"):
        return 0.0
    return max(difflib.SequenceMatcher(None, _key(a), _key(b), autojunk=False).quick_ratio(), 0.01)


def _pair_block(old: list[Any], new: list[Any], i1: int, j1: int) -> list[tuple[str, int | None, int | None]]:
    """Order-preserving best pairing inside a replaced block (a small LCS over similarity)."""
    n, m = len(old), len(new)
    sim = [[_similarity(old[i], new[j]) for j in range(m)] for i in range(n)]
    score = [[0.0] * (m + 1) for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        for j in range(m - 1, -1, -1):
            best = max(score[i + 1][j], score[i][j + 1])
            if sim[i][j] > 0:
                best = max(best, score[i + 1][j + 1] + sim[i][j])
            score[i][j] = best
    pairs: list[tuple[str, int | None, int | None]] = []
    i = j = 0
    while i < n or j < m:
        if i < n and j < m and sim[i][j] > 0 and score[i][j] == score[i + 1][j + 1] + sim[i][j]:
            pairs.append(("changed", i1 + i, j1 + j))
            i, j = i + 1, j + 1
        elif i < n and (j == m or score[i][j] == score[i + 1][j]):
            pairs.append(("removed", i1 + i, None))
            i += 1
        else:
            pairs.append(("added", None, j1 + j))
            j += 1
    return pairs


def _align(old: list[Any], new: list[Any]) -> list[tuple[str, int | None, int | None]]:
    """(status, old index, new index) triples; inside a replaced block, similar items pair up as 'changed'."""
    pairs: list[tuple[str, int | None, int | None]] = []
    matcher = difflib.SequenceMatcher(None, [_key(x) for x in old], [_key(x) for x in new], autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            pairs.extend(("unchanged", i1 + k, j1 + k) for k in range(i2 - i1))
        elif tag == "delete":
            pairs.extend(("removed", i, None) for i in range(i1, i2))
        elif tag == "insert":
            pairs.extend(("added", None, j) for j in range(j1, j2))
        else:
            pairs.extend(_pair_block(old[i1:i2], new[j1:j2], i1, j1))
    return pairs


def _parts_diff(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for status, i, j in _align(old, new):
        a = old[i] if i is not None else None
        b = new[j] if j is not None else None
        out.append(_part_entry(status, a, b))
    return out


def _mapping_diff(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    return {
        "added": {k: v for k, v in new.items() if k not in old},
        "removed": {k: v for k, v in old.items() if k not in new},
        "changed": {k: {"old": old[k], "new": new[k]} for k in old if k in new and _key(old[k]) != _key(new[k])},
    }


def content_diff(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    old_messages, new_messages = old.get("messages") or [], new.get("messages") or []
    messages = []
    for status, i, j in _align(old_messages, new_messages):
        a = old_messages[i] if i is not None else None
        b = new_messages[j] if j is not None else None
        entry: dict[str, Any] = {
            "status": status,
            "old_index": i,
            "new_index": j,
            "old_role": a["role"] if a else None,
            "new_role": b["role"] if b else None,
        }
        if status == "unchanged":
            entry["parts"] = [_part_entry("unchanged", p, p) for p in b["content"]]  # type: ignore[index]
        elif status == "added":
            entry["parts"] = [_part_entry("added", None, p) for p in b["content"]]  # type: ignore[index]
        elif status == "removed":
            entry["parts"] = [_part_entry("removed", p, None) for p in a["content"]]  # type: ignore[index]
        else:
            entry["parts"] = _parts_diff(a["content"], b["content"])  # type: ignore[index]
        messages.append(entry)

    old_vars = {v["name"]: v for v in old.get("variables") or []}
    new_vars = {v["name"]: v for v in new.get("variables") or []}
    variables = {
        "added": [new_vars[n] for n in new_vars if n not in old_vars],
        "removed": [old_vars[n] for n in old_vars if n not in new_vars],
        "changed": [
            {"name": n, "old": old_vars[n], "new": new_vars[n]}
            for n in old_vars
            if n in new_vars and _key(old_vars[n]) != _key(new_vars[n])
        ],
    }
    model = _mapping_diff(old.get("model") or {}, new.get("model") or {})
    changed = any(m["status"] != "unchanged" for m in messages) or any(variables.values()) or any(model.values())
    return {"messages": messages, "variables": variables, "model": model, "changed": changed}
