"""Read still images into OpenCV BGR uint8 arrays, or fail with one clear error type.

OpenCV decodes most formats but ignores EXIF orientation when decoding from
memory and silently returns ``None`` on bad data; this module applies the
orientation, normalises bit depth and channels, and turns every failure into an
``ImageError`` that names the file and the reason.
"""
from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

SUPPORTED_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
MAX_PIXELS = 50_000_000  # larger images are refused: decoding them would take gigabytes
MAX_SIDE = 4096  # larger accepted images are downscaled so detection stays interactive


class ImageError(ValueError):
    """An image that cannot be used, with the file name and a reason a user can act on."""

    def __init__(self, name: str, reason: str):
        super().__init__(f"{name}: {reason}")
        self.name = name
        self.reason = reason


def _header_size(data: np.ndarray) -> tuple[int, int] | None:
    """Width and height from the header alone, to refuse huge images before decoding them."""
    try:
        from PIL import Image  # optional: Pillow reads headers lazily
    except ImportError:  # pragma: no cover - Pillow comes with matplotlib in dev installs
        return None
    import io

    try:
        with Image.open(io.BytesIO(data.tobytes())) as im:
            return im.size
    except Exception:
        return None


def _exif_orientation(data: bytes) -> int:
    """The EXIF orientation tag (1..8) of a JPEG/TIFF/WebP, 1 when absent."""
    try:
        from PIL import Image
        import io

        with Image.open(io.BytesIO(data)) as im:
            return int(im.getexif().get(0x0112, 1))
    except Exception:
        return 1


_ORIENT = {
    2: lambda a: cv2.flip(a, 1),
    3: lambda a: cv2.rotate(a, cv2.ROTATE_180),
    4: lambda a: cv2.flip(a, 0),
    5: lambda a: cv2.flip(cv2.rotate(a, cv2.ROTATE_90_CLOCKWISE), 1),
    6: lambda a: cv2.rotate(a, cv2.ROTATE_90_CLOCKWISE),
    7: lambda a: cv2.flip(cv2.rotate(a, cv2.ROTATE_90_COUNTERCLOCKWISE), 1),
    8: lambda a: cv2.rotate(a, cv2.ROTATE_90_COUNTERCLOCKWISE),
}


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
    buf = np.frombuffer(data, dtype=np.uint8)
    size = _header_size(buf)
    if size is not None and size[0] * size[1] > MAX_PIXELS:
        raise ImageError(name, f"the image is {size[0]}x{size[1]} pixels, more than the {MAX_PIXELS // 1_000_000} megapixels EmotionCam handles")
    img = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED | cv2.IMREAD_IGNORE_ORIENTATION)
    if img is None or img.size == 0:
        head = data[:16]
        kind = "a truncated or corrupt image" if _looks_like_image(head) else "not an image file"
        raise ImageError(name, f"cannot decode: {kind} (supported: JPEG, PNG, BMP, WebP, TIFF)")
    orientation = _exif_orientation(data)
    if orientation in _ORIENT:
        img = _ORIENT[orientation](img)
    img = to_bgr8(img)
    h, w = img.shape[:2]
    if max(h, w) > max_side:
        s = max_side / max(h, w)
        img = cv2.resize(img, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
    return img


def _looks_like_image(head: bytes) -> bool:
    return head.startswith((b"\xff\xd8", b"\x89PNG", b"BM", b"II*\x00", b"MM\x00*")) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP")


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
