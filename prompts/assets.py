"""Checking uploaded media by content (magic bytes and real parsers), never by name or Content-Type.

``inspect_upload(data)`` returns a ``CheckedMedia`` (what to store) or raises
``AssetError`` with one of the messages below. Nothing here touches the database or storage.

- Images (PNG, JPEG, WEBP, GIF) are checked with Pillow: the pixel count is compared with
  ``ASSET_MAX_IMAGE_PIXELS`` from the header, before any decoding; ``verify()`` then a full ``load()``
  catches corrupt and truncated files; Pillow's decompression-bomb warning is an error. The image
  is re-encoded in its own format, which drops EXIF, XMP and text chunks (the ICC colour profile is
  kept; EXIF orientation is applied first). Animated GIFs keep their first frame only.
  A thumbnail (WEBP, at most ``ASSET_THUMBNAIL_SIZE`` px) is made for the editor.
- Audio: WAV (RIFF/WAVE, PCM, parsed with the stdlib ``wave`` module) and MP3 (an ID3v2 tag or a
  frame sync, then valid MPEG audio frame headers). ID3 tags are removed; the audio is kept as is.
- PDF: ``%PDF-`` at the start and ``%%EOF`` near the end; ZIP archives and PDFs with JavaScript or
  launch actions are refused. Pages are counted roughly for display.
- SVG, HTML, XML, scripts, empty files, unknown types and files over the limits are refused.
"""

from __future__ import annotations

import io
import re
import warnings
import wave
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ValidationError
from PIL import Image, ImageOps, UnidentifiedImageError

from prompts.models import AssetKind

EMPTY_FILE = "The file is empty."
UNKNOWN_TYPE = (
    "This file type is not supported. Upload a PNG, JPEG, WEBP or GIF image, a WAV or MP3 audio file, or a PDF."
)
SVG_REFUSED = "SVG images are not accepted (they can carry scripts); upload a PNG, JPEG, WEBP or GIF instead."
ACTIVE_CONTENT_REFUSED = "The file contains HTML or script content disguised as media; it was refused."
TOO_LARGE = "The file is {size} but {kind} files may be at most {limit}."
TOO_MANY_PIXELS = "The image is {width} x {height} pixels; images may have at most {limit} megapixels."
DECOMPRESSION_BOMB = "The image would expand to too many pixels (a decompression bomb); it was refused."
DAMAGED_IMAGE = "The file is not a valid {format} image: it is damaged or truncated."
DAMAGED_WAV = "The file is not a valid WAV file: it is damaged or truncated."
UNSUPPORTED_WAV = "Only uncompressed PCM WAV audio is supported."
DAMAGED_MP3 = "The file is not a valid MP3 file: no valid MPEG audio frame was found."
PDF_NO_EOF = "The file is not a complete PDF: the end-of-file marker is missing (is it truncated?)."
ZIP_REFUSED = "The file is a ZIP archive, not a PDF; ZIP files (and Office documents) are not accepted."
PDF_ACTIVE = "PDFs with JavaScript or launch actions are not accepted."
NAME_MAX = 255

IMAGE_MIME = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp", "GIF": "image/gif"}
IMAGE_EXT = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp", "GIF": "gif"}

_MARKUP_RE = re.compile(rb"<\s*(?:!doctype|html|script|svg|\?xml|iframe|body|head|object|embed)\b", re.IGNORECASE)
_SVG_RE = re.compile(rb"<\s*svg\b", re.IGNORECASE)


class AssetError(ValidationError):
    """An upload was refused; the message says why (a validation error on ``file``)."""

    def __init__(self, message: str) -> None:
        self.text = message
        super().__init__({"file": [message]})

    def __str__(self) -> str:
        return self.text


@dataclass
class CheckedMedia:
    kind: str
    mime_type: str
    extension: str
    data: bytes
    width: int | None = None
    height: int | None = None
    page_count: int | None = None
    duration: float | None = None
    thumbnail: bytes | None = field(default=None, repr=False)


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{int(value)} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} bytes"  # pragma: no cover


def limits() -> dict[str, int]:
    return {
        AssetKind.IMAGE: settings.ASSET_MAX_IMAGE_BYTES,
        AssetKind.AUDIO: settings.ASSET_MAX_AUDIO_BYTES,
        AssetKind.DOCUMENT: settings.ASSET_MAX_DOCUMENT_BYTES,
    }


def max_upload_bytes() -> int:
    """The largest upload any kind allows; bigger uploads are refused before being read."""
    return max(limits().values())


def check_size(size: int, kind: str) -> None:
    limit = limits()[kind]
    if size > limit:
        raise AssetError(TOO_LARGE.format(size=human_size(size), kind=kind, limit=human_size(limit)))


def clean_name(name: str | None) -> str:
    """The client's file name for display only: base name, no control characters, bounded."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if ch.isprintable() and ch not in '<>:"|?*')
    return base.strip()[:NAME_MAX]


def sniff(data: bytes) -> str | None:
    """The real type from magic bytes: PNG/JPEG/WEBP/GIF/WAV/MP3/PDF/ZIP/SVG/MARKUP, or None."""
    head = data[:64]
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "WAV"
    if head.startswith(b"%PDF-"):
        return "PDF"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")):
        return "ZIP"
    if head.startswith(b"ID3") or _mp3_frame_at(data, 0) is not None:
        return "MP3"
    text_head = data[:2048].lstrip(b"\xef\xbb\xbf \t\r\n")
    if _SVG_RE.search(text_head):
        return "SVG"
    if _MARKUP_RE.search(text_head) or text_head.startswith((b"#!", b"<")):
        return "MARKUP"
    return None


def inspect_upload(data: bytes) -> CheckedMedia:
    """Check ``data`` and return what to store, or raise ``AssetError``."""
    if not data:
        raise AssetError(EMPTY_FILE)
    kind = sniff(data)
    if kind in IMAGE_MIME:
        check_size(len(data), AssetKind.IMAGE)
        return _image(data, kind)
    if kind == "WAV":
        check_size(len(data), AssetKind.AUDIO)
        return _wav(data)
    if kind == "MP3":
        check_size(len(data), AssetKind.AUDIO)
        return _mp3(data)
    if kind == "PDF":
        check_size(len(data), AssetKind.DOCUMENT)
        return _pdf(data)
    if kind == "ZIP":
        raise AssetError(ZIP_REFUSED)
    if kind == "SVG":
        raise AssetError(SVG_REFUSED)
    if kind == "MARKUP":
        raise AssetError(ACTIVE_CONTENT_REFUSED)
    raise AssetError(UNKNOWN_TYPE)


# --- images ----------------------------------------------------------------------------------------


def _image(data: bytes, expected: str) -> CheckedMedia:
    max_pixels = settings.ASSET_MAX_IMAGE_PIXELS

    def damaged() -> AssetError:
        if _MARKUP_RE.search(data):
            return AssetError(ACTIVE_CONTENT_REFUSED)
        return AssetError(DAMAGED_IMAGE.format(format=expected))

    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            probe = Image.open(io.BytesIO(data), formats=[expected])
            width, height = probe.size  # from the header: nothing decoded yet
            if width * height > max_pixels:
                raise AssetError(
                    TOO_MANY_PIXELS.format(width=width, height=height, limit=f"{max_pixels / 1_000_000:g}")
                )
            probe.verify()
            image = Image.open(io.BytesIO(data), formats=[expected])
            image.load()
        except AssetError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise AssetError(DECOMPRESSION_BOMB) from None
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError):
            raise damaged() from None
        if image.format != expected:
            raise damaged()
        clean = _reencode(image, expected)
    return CheckedMedia(
        kind=AssetKind.IMAGE,
        mime_type=IMAGE_MIME[expected],
        extension=IMAGE_EXT[expected],
        data=clean,
        width=width,
        height=height,
        thumbnail=_thumbnail(clean),
    )


def _reencode(image: Image.Image, fmt: str) -> bytes:
    """The pixels in a new file of the same format, without EXIF/XMP/text metadata."""
    icc = image.info.get("icc_profile")
    transparency = image.info.get("transparency")
    if fmt == "GIF":
        image.seek(0)
        frame = image.copy()
    else:
        frame = ImageOps.exif_transpose(image) or image
    frame.info = {}
    options: dict[str, object] = {}
    if icc and fmt in ("PNG", "JPEG", "WEBP"):
        options["icc_profile"] = icc
    if fmt == "JPEG":
        if frame.mode not in ("RGB", "L", "CMYK"):
            frame = frame.convert("RGB")
        options.update(quality=90, optimize=True)
    elif fmt == "WEBP":
        if frame.mode not in ("RGB", "RGBA"):
            frame = frame.convert("RGBA" if "A" in frame.getbands() or transparency is not None else "RGB")
        options.update(quality=90, method=4)
    elif fmt in ("PNG", "GIF") and transparency is not None and frame.mode in ("P", "L", "RGB"):
        options["transparency"] = transparency
    out = io.BytesIO()
    frame.save(out, format=fmt, **options)
    return out.getvalue()


def _thumbnail(data: bytes) -> bytes:
    size = settings.ASSET_THUMBNAIL_SIZE
    with Image.open(io.BytesIO(data)) as image:
        thumb = image.convert("RGBA") if image.mode in ("P", "LA", "RGBA", "PA") else image.convert("RGB")
        thumb.thumbnail((size, size))
        out = io.BytesIO()
        thumb.save(out, format="WEBP", quality=80)
    return out.getvalue()


# --- audio -----------------------------------------------------------------------------------------


def _wav(data: bytes) -> CheckedMedia:
    try:
        with wave.open(io.BytesIO(data), "rb") as reader:
            channels = reader.getnchannels()
            width = reader.getsampwidth()
            rate = reader.getframerate()
            frames = reader.getnframes()
            if channels < 1 or width < 1 or rate < 1:
                raise AssetError(DAMAGED_WAV)
            audio = reader.readframes(frames)
    except AssetError:
        raise
    except wave.Error as exc:
        if "unknown format" in str(exc):
            raise AssetError(UNSUPPORTED_WAV) from None
        raise AssetError(DAMAGED_WAV) from None
    except (EOFError, ValueError, OSError):
        raise AssetError(DAMAGED_WAV) from None
    if frames == 0 or len(audio) < frames * channels * width:
        raise AssetError(DAMAGED_WAV)
    return CheckedMedia(
        kind=AssetKind.AUDIO, mime_type="audio/wav", extension="wav", data=data, duration=round(frames / rate, 3)
    )


_MP3_BITRATES = {
    # (mpeg1?, layer) -> kbit/s by index 1..14
    (True, 3): (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    (True, 2): (32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),
    (True, 1): (32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448),
    (False, 3): (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
    (False, 2): (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
    (False, 1): (32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256),
}
_MP3_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


@dataclass
class _Frame:
    length: int
    samples: int
    rate: int


def _mp3_frame_at(data: bytes, pos: int) -> _Frame | None:
    """The MPEG audio frame header at ``pos``, if it is a valid one."""
    if pos + 4 > len(data):
        return None
    b1, b2, b3 = data[pos + 1], data[pos + 2], data[pos + 3]
    if data[pos] != 0xFF or (b1 & 0xE0) != 0xE0:
        return None
    version = (b1 >> 3) & 0x03  # 3: MPEG-1, 2: MPEG-2, 0: MPEG-2.5, 1: reserved
    layer_bits = (b1 >> 1) & 0x03  # 1: layer III, 2: layer II, 3: layer I, 0: reserved
    bitrate_index = (b2 >> 4) & 0x0F
    rate_index = (b2 >> 2) & 0x03
    if version == 1 or layer_bits == 0 or bitrate_index in (0, 15) or rate_index == 3 or (b3 & 0x03) == 2:
        return None
    layer = 4 - layer_bits
    mpeg1 = version == 3
    bitrate = _MP3_BITRATES[(mpeg1, layer)][bitrate_index - 1] * 1000
    rate = _MP3_RATES[version][rate_index]
    padding = (b2 >> 1) & 0x01
    if layer == 1:
        return _Frame(length=(12 * bitrate // rate + padding) * 4, samples=384, rate=rate)
    if layer == 3 and not mpeg1:
        return _Frame(length=72 * bitrate // rate + padding, samples=576, rate=rate)
    return _Frame(length=144 * bitrate // rate + padding, samples=1152, rate=rate)


def _mp3(data: bytes) -> CheckedMedia:
    start = 0
    if data.startswith(b"ID3"):
        if len(data) < 10:
            raise AssetError(DAMAGED_MP3)
        size_bytes = data[6:10]
        if any(b & 0x80 for b in size_bytes):
            raise AssetError(DAMAGED_MP3)
        size = (size_bytes[0] << 21) | (size_bytes[1] << 14) | (size_bytes[2] << 7) | size_bytes[3]
        footer = 10 if data[5] & 0x10 else 0
        start = 10 + size + footer
    end = len(data)
    if end - start >= 128 and data[end - 128 : end - 125] == b"TAG":  # ID3v1 at the end
        end -= 128
    # Skip padding zeros some encoders leave after the tag.
    while start < end and data[start] == 0:
        start += 1
    frame = _mp3_frame_at(data, start)
    if frame is None:
        raise AssetError(DAMAGED_MP3)
    # Walk the frames: each must be followed by another valid header (or the end of the audio).
    pos, frames, samples = start, 0, 0
    while pos < end:
        current = _mp3_frame_at(data, pos)
        if current is None:
            if frames >= 2:
                break  # trailing junk after several valid frames (e.g. an APE tag) is tolerated
            raise AssetError(DAMAGED_MP3)
        pos += current.length
        frames += 1
        samples += current.samples
    if pos > end and frames < 2:
        raise AssetError(DAMAGED_MP3)
    audio = data[start:end]
    return CheckedMedia(
        kind=AssetKind.AUDIO,
        mime_type="audio/mpeg",
        extension="mp3",
        data=audio,
        duration=round(samples / frame.rate, 3),
    )


# --- PDF -------------------------------------------------------------------------------------------

_PAGE_RE = re.compile(rb"/Type\s*/Page(?![s\w])")
_ACTIVE_PDF_RE = re.compile(rb"/(?:JavaScript|JS|Launch)(?![\w])")


def _pdf(data: bytes) -> CheckedMedia:
    if b"%%EOF" not in data[-1024:]:
        raise AssetError(PDF_NO_EOF)
    if _ACTIVE_PDF_RE.search(data):
        raise AssetError(PDF_ACTIVE)
    pages = len(_PAGE_RE.findall(data)) or None
    return CheckedMedia(
        kind=AssetKind.DOCUMENT, mime_type="application/pdf", extension="pdf", data=data, page_count=pages
    )
