"""Read still images into OpenCV BGR uint8 arrays, or fail with one clear error type.

OpenCV returns ``None`` on bad data and happily allocates gigabytes for a huge
image; this module checks the header size first, normalises bit depth and
channels, and turns every failure into an ``ImageError`` naming the file and
the reason.
"""
from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

SUPPORTED_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".avif")
SUPPORTED_NAMES = "JPEG, PNG, BMP, WebP, TIFF, AVIF"
# ISO-BMFF brands (bytes 8-12 after "ftyp"): AVIF OpenCV decodes; HEIC/HEIF (iPhone photos) it cannot.
AVIF_BRANDS = (b"avif", b"avis")
HEIF_BRANDS = (b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1")
MAX_PIXELS = 50_000_000  # larger images are refused: decoding them would take gigabytes
MAX_SIDE = 4096  # larger accepted images are downscaled so detection stays interactive


class ImageError(ValueError):
    """An image that cannot be used, with the file name and a reason a user can act on."""

    def __init__(self, name: str, reason: str):
        super().__init__(f"{name}: {reason}")
        self.name = name
        self.reason = reason


def header_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG, JPEG, BMP, WebP or TIFF header, to refuse huge images before decoding them."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP" and len(data) >= 30:
        return _webp_size(data)
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return _tiff_size(data)
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if data[:2] == b"BM" and len(data) >= 26:
        return int.from_bytes(data[18:22], "little", signed=True), abs(int.from_bytes(data[22:26], "little", signed=True))
    if data[:2] == b"\xff\xd8":
        i = 2
        while i + 9 < len(data):
            if data[i] != 0xFF:
                return None
            marker = data[i + 1]
            if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
                i += 2
                continue
            length = int.from_bytes(data[i + 2:i + 4], "big")
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                return int.from_bytes(data[i + 7:i + 9], "big"), int.from_bytes(data[i + 5:i + 7], "big")
            i += 2 + length
    return None


def _webp_size(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8X":  # extended: 24-bit canvas width-1 and height-1
        return int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1
    if chunk == b"VP8L" and data[20] == 0x2F:  # lossless: 14-bit width-1 and height-1
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8 " and data[23:26] == b"\x9d\x01\x2a":  # lossy key frame: 14-bit width and height
        return int.from_bytes(data[26:28], "little") & 0x3FFF, int.from_bytes(data[28:30], "little") & 0x3FFF
    return None


def _tiff_size(data: bytes) -> tuple[int, int] | None:
    """ImageWidth (256) and ImageLength (257) from the first IFD; None if the file is too short to say."""
    order = "little" if data[:2] == b"II" else "big"
    ifd = int.from_bytes(data[4:8], order)
    if ifd + 2 > len(data):
        return None
    size = {}
    for k in range(int.from_bytes(data[ifd:ifd + 2], order)):
        entry = data[ifd + 2 + 12 * k: ifd + 14 + 12 * k]
        if len(entry) < 12:
            break
        tag, kind = int.from_bytes(entry[:2], order), int.from_bytes(entry[2:4], order)
        if tag in (256, 257):
            size[tag] = int.from_bytes(entry[8:10], order) if kind == 3 else int.from_bytes(entry[8:12], order)
    return (size[256], size[257]) if len(size) == 2 else None


def to_bgr8(img: np.ndarray) -> np.ndarray:
    """Any decoded array (gray, BGRA, 16-bit, float) as 3-channel uint8 BGR."""
    if img.dtype == np.uint16:
        img = (img >> 8).astype(np.uint8)
    elif img.dtype != np.uint8:
        img = np.clip(img.astype(np.float32) * (255.0 if img.max() <= 1.0 else 1.0), 0, 255).astype(np.uint8)
    if img.ndim == 2:
        return cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    if img.shape[2] == 4:
        # Composite transparency over white, as image viewers show it.
        alpha = img[..., 3:4].astype(np.float32) / 255.0
        return (img[..., :3].astype(np.float32) * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)
    if img.shape[2] == 1:
        return cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    return np.ascontiguousarray(img[..., :3])


def decode_image(data: bytes, name: str = "<bytes>", max_side: int = MAX_SIDE) -> np.ndarray:
    """Decode image bytes to BGR uint8 with EXIF orientation applied, downscaled to ``max_side``."""
    if not data:
        raise ImageError(name, "the file is empty")
    size = header_size(data)
    if size is not None and size[0] * size[1] > MAX_PIXELS:
        raise ImageError(name, f"the image is {size[0]}x{size[1]} pixels, more than the {MAX_PIXELS // 1_000_000} megapixels EmotionCam handles")
    # ANYDEPTH|ANYCOLOR keeps 16-bit and colour/gray as stored and, unlike IMREAD_UNCHANGED,
    # applies the EXIF orientation; alpha is dropped (faces are never transparent).
    try:
        img = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_ANYDEPTH | cv2.IMREAD_ANYCOLOR)
    except cv2.error:  # OpenCV's own limits (e.g. over 2^30 pixels) and decoder failures
        img = None
    if img is None or img.size == 0:
        if data[4:8] == b"ftyp" and data[8:12] in HEIF_BRANDS:
            raise ImageError(name, f"HEIC/HEIF images are not supported: convert it to JPEG or PNG first "
                                   f"(supported: {SUPPORTED_NAMES})")
        kind = "a truncated or corrupt image" if looks_like_image(data[:16]) else "not an image file"
        raise ImageError(name, f"cannot decode: {kind} (supported: {SUPPORTED_NAMES})")
    img = to_bgr8(img)
    h, w = img.shape[:2]
    if h * w > MAX_PIXELS:
        raise ImageError(name, f"the image is {w}x{h} pixels, more than the {MAX_PIXELS // 1_000_000} megapixels EmotionCam handles")
    if max(h, w) > max_side:
        s = max_side / max(h, w)
        img = cv2.resize(img, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
    return img


def looks_like_image(head: bytes) -> bool:
    """From the first 16 bytes: a photo format (HEIC included: a photo, even if one we cannot decode)."""
    return (head.startswith((b"\xff\xd8", b"\x89PNG", b"BM", b"II*\x00", b"MM\x00*"))
            or (head[:4] == b"RIFF" and head[8:12] == b"WEBP")
            or (head[4:8] == b"ftyp" and head[8:12] in AVIF_BRANDS + HEIF_BRANDS))


def read_image(path: str | os.PathLike, max_side: int = MAX_SIDE) -> np.ndarray:
    """Read an image file as BGR uint8; raises ``ImageError`` for anything unusable."""
    path = Path(path)
    name = str(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ImageError(name, "no such file") from None
    except IsADirectoryError:
        raise ImageError(name, "is a folder, not an image") from None
    except OSError as exc:
        raise ImageError(name, f"cannot read: {exc.strerror or exc}") from None
    return decode_image(data, name, max_side)
