"""Workspace archives: writing them, and opening uploaded ones safely.

An archive is a ZIP with ``manifest.json`` (format, format_version, the asset list and which file
holds each object type), one ``<type>.json`` per object type, and ``assets/<sha256>.<ext>``.

``open_archive`` checks the whole central directory before reading a single byte: paths that could
escape (``../``, absolute, drive letters, backslashes), symbolic links, encrypted entries, too many
entries, a total uncompressed size over the cap, and compression ratios typical of ZIP bombs. Entries
are then read with a hard byte limit (the sizes in the headers are not trusted).
"""

from __future__ import annotations

import io
import posixpath
import stat
import zipfile
from dataclasses import dataclass
from typing import Any

from exports.formats import ImportRefused, dump_json, human_size, limit

MANIFEST = "manifest.json"

ZIP_BAD = "The ZIP archive can't be read: it is damaged or truncated ({error})."
ZIP_UNSAFE_PATH = "The archive contains a path that escapes it: {name!r}; nothing was imported."
ZIP_SYMLINK = "The archive contains a symbolic link ({name}); nothing was imported."
ZIP_ENCRYPTED = "The archive contains an encrypted file ({name}); nothing was imported."
ZIP_DUPLICATE = "The archive contains {name} twice; nothing was imported."
ZIP_TOO_MANY_FILES = "The archive has {count} files; at most {limit} are allowed."
ZIP_TOO_LARGE = "The archive would expand to {size}; at most {limit} is allowed (is it a ZIP bomb?)."
ZIP_RATIO = (
    "{name} is compressed {ratio:.0f} to 1; at most {limit} to 1 is allowed, so the archive was refused as a "
    "possible ZIP bomb."
)
ZIP_NO_MANIFEST = "The archive has no manifest.json at its top level; is it a Prompt Studio export?"
ZIP_MISSING_FILE = "The manifest lists {name}, but the archive has no such file."
ZIP_ENTRY_TOO_LARGE = "{name} is {size}; a file in an archive may be at most {limit}."

RATIO_MIN_BYTES = 1024 * 1024  # small entries may compress well (text); the ratio cap applies above this


def _caps() -> dict[str, int]:
    return {
        "files": limit("ZIP_MAX_FILES", 20_000),
        "total": limit("ZIP_MAX_UNCOMPRESSED_BYTES", 1024 * 1024 * 1024),
        "entry": limit("ZIP_MAX_ENTRY_BYTES", 100 * 1024 * 1024),
        "ratio": limit("ZIP_MAX_RATIO", 100),
    }


def safe_name(name: str) -> str | None:
    """The entry's normalised relative path, or None when it could escape the archive."""
    if not name or "\\" in name or name.startswith("/") or "\x00" in name:
        return None
    if len(name) >= 2 and name[1] == ":":
        return None
    if any(part == ".." for part in name.split("/")):
        return None
    normalised = posixpath.normpath(name)
    if normalised.startswith("../") or normalised in ("..", ".") or posixpath.isabs(normalised):
        return None
    return normalised


def is_zip(data: bytes) -> bool:
    return data[:4] in (b"PK\x03\x04", b"PK\x05\x06")


@dataclass
class Archive:
    zip: zipfile.ZipFile
    entries: dict[str, zipfile.ZipInfo]
    entry_limit: int

    def has(self, name: str) -> bool:
        return name in self.entries

    def read(self, name: str) -> bytes:
        info = self.entries.get(name)
        if info is None:
            raise ImportRefused(ZIP_MISSING_FILE.format(name=name))
        if info.file_size > self.entry_limit:
            raise ImportRefused(
                ZIP_ENTRY_TOO_LARGE.format(
                    name=name, size=human_size(info.file_size), limit=human_size(self.entry_limit)
                )
            )
        try:
            with self.zip.open(info) as handle:
                data = handle.read(self.entry_limit + 1)
        except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError, EOFError) as exc:
            raise ImportRefused(ZIP_BAD.format(error=exc)) from None
        if len(data) > self.entry_limit:
            raise ImportRefused(
                ZIP_ENTRY_TOO_LARGE.format(
                    name=name, size=f"over {human_size(self.entry_limit)}", limit=human_size(self.entry_limit)
                )
            )
        return data


def open_archive(data: bytes) -> Archive:
    """Check every entry of an uploaded ZIP (nothing is extracted) and return a reader for it."""
    caps = _caps()
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        raise ImportRefused(ZIP_BAD.format(error=exc)) from None
    files = [info for info in infos if not info.is_dir()]
    if len(files) > caps["files"]:
        raise ImportRefused(ZIP_TOO_MANY_FILES.format(count=len(files), limit=caps["files"]))
    total = 0
    entries: dict[str, zipfile.ZipInfo] = {}
    for info in infos:
        name = safe_name(info.filename)
        if name is None:
            raise ImportRefused(ZIP_UNSAFE_PATH.format(name=info.filename))
        if stat.S_ISLNK(info.external_attr >> 16):
            raise ImportRefused(ZIP_SYMLINK.format(name=info.filename))
        if info.flag_bits & 0x1:
            raise ImportRefused(ZIP_ENCRYPTED.format(name=info.filename))
        if info.is_dir():
            continue
        if name in entries:
            raise ImportRefused(ZIP_DUPLICATE.format(name=name))
        total += info.file_size
        if info.file_size >= RATIO_MIN_BYTES:
            ratio = info.file_size / max(info.compress_size, 1)
            if ratio > caps["ratio"]:
                raise ImportRefused(ZIP_RATIO.format(name=name, ratio=ratio, limit=caps["ratio"]))
        entries[name] = info
    if total > caps["total"]:
        raise ImportRefused(ZIP_TOO_LARGE.format(size=human_size(total), limit=human_size(caps["total"])))
    return Archive(zip=archive, entries=entries, entry_limit=caps["entry"])


def write_archive(manifest: dict[str, Any], files: dict[str, bytes]) -> bytes:
    """A ZIP with ``manifest.json`` first and then ``files`` (name -> bytes), deflated."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(MANIFEST, dump_json(manifest))
        for name, payload in files.items():
            # Media are already compressed: store them as they are.
            compress = zipfile.ZIP_STORED if name.startswith("assets/") else zipfile.ZIP_DEFLATED
            archive.writestr(name, payload, compress_type=compress)
    return out.getvalue()
