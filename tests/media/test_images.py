"""Bad and odd image files: each gives a clear ImageError naming the file, or the right picture."""
from __future__ import annotations


import cv2
import numpy as np
import pytest

from conftest import DATA_PHOTO

from emotion_cam.media.images import ImageError, decode_image, read_image


@pytest.fixture(scope="module")
def photo():
    return DATA_PHOTO


def _pil():
    return pytest.importorskip("PIL.Image", reason="Pillow (dev extra) writes the CMYK, palette and EXIF test files")


def make_corrupt(tmp, photo):
    data = bytearray(photo.read_bytes())
    data[200:4000] = b"\x00" * 3800  # smash the Huffman tables and the start of scan
    data = b"\xff\xd8\xff\xe0" + bytes(data[600:1200])
    (tmp / "corrupt.jpg").write_bytes(data)
    return tmp / "corrupt.jpg"


def make_truncated(tmp, photo):
    (tmp / "truncated.jpg").write_bytes(photo.read_bytes()[:300])
    return tmp / "truncated.jpg"


def make_empty(tmp, photo):
    (tmp / "empty.png").write_bytes(b"")
    return tmp / "empty.png"


def make_text(tmp, photo):
    (tmp / "notes.jpg").write_text("these are not the pixels you are looking for\n")
    return tmp / "notes.jpg"


def make_huge(tmp, photo):
    # A real 8000x7000 grayscale PNG (56 MP): compresses to a few hundred KB.
    cv2.imwrite(str(tmp / "huge.png"), np.zeros((7000, 8000), np.uint8))
    return tmp / "huge.png"


BAD = [
    (make_corrupt, "truncated or corrupt"),
    (make_truncated, "truncated or corrupt"),
    (make_empty, "empty"),
    (make_text, "not an image"),
    (make_huge, "megapixels"),
]


@pytest.mark.parametrize("make, reason", BAD, ids=[m.__name__[5:] for m, _ in BAD])
def test_bad_files_give_a_clear_error(tmp_path, photo, make, reason):
    path = make(tmp_path, photo)
    with pytest.raises(ImageError) as err:
        read_image(path)
    assert reason in str(err.value)
    assert str(path) in str(err.value)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(ImageError, match="no such file"):
        read_image(tmp_path / "nope.jpg")
    with pytest.raises(ImageError, match="folder"):
        read_image(tmp_path)


def test_sixteen_bit_png_is_scaled_to_eight_bit(tmp_path, photo):
    img = cv2.imread(str(photo))
    cv2.imwrite(str(tmp_path / "deep.png"), img.astype(np.uint16) * 257)
    out = read_image(tmp_path / "deep.png")
    assert out.dtype == np.uint8 and out.shape == img.shape
    assert np.abs(out.astype(int) - img.astype(int)).max() <= 1


def test_grayscale_becomes_three_channels(tmp_path, photo):
    cv2.imwrite(str(tmp_path / "gray.png"), cv2.imread(str(photo), cv2.IMREAD_GRAYSCALE))
    assert read_image(tmp_path / "gray.png").shape[2] == 3


def test_cmyk_jpeg_reads_as_bgr_with_faces(tmp_path, photo, pipeline):
    Image = _pil()
    Image.open(photo).convert("CMYK").save(tmp_path / "cmyk.jpg")
    out = read_image(tmp_path / "cmyk.jpg")
    assert out.shape[2] == 3
    assert len(pipeline.process_image(out).faces) == 1


def test_palette_png(tmp_path, photo, pipeline):
    Image = _pil()
    Image.open(photo).convert("P", palette=Image.Palette.ADAPTIVE, colors=256).save(tmp_path / "palette.png")
    out = read_image(tmp_path / "palette.png")
    assert out.dtype == np.uint8 and out.shape[2] == 3
    assert len(pipeline.process_image(out).faces) == 1


def test_exif_rotation_is_applied(tmp_path, photo, pipeline):
    """A camera stores a portrait shot sideways with orientation 6; the face must come out upright."""
    Image = _pil()
    upright = Image.open(photo)
    sideways = upright.transpose(Image.Transpose.ROTATE_90)  # what the sensor stored
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    sideways.save(tmp_path / "rotated.jpg", exif=exif.tobytes(), quality=95)
    out = read_image(tmp_path / "rotated.jpg")
    assert out.shape[:2] == (upright.height, upright.width)
    assert len(pipeline.process_image(out).faces) == 1


def test_rgba_png_and_bytes(tmp_path, photo):
    img = cv2.imread(str(photo))
    rgba = np.dstack([img, np.full(img.shape[:2], 255, np.uint8)])
    ok, buf = cv2.imencode(".png", rgba)
    out = decode_image(buf.tobytes(), "rgba.png")
    assert out.shape == img.shape


def test_large_image_is_downscaled(tmp_path):
    cv2.imwrite(str(tmp_path / "wide.jpg"), np.full((3000, 6000, 3), 128, np.uint8))
    out = read_image(tmp_path / "wide.jpg")
    assert max(out.shape[:2]) == 4096


def test_webp_bmp_tiff_roundtrip(tmp_path, photo):
    img = cv2.imread(str(photo))
    for ext in (".webp", ".bmp", ".tiff"):
        path = tmp_path / f"face{ext}"
        assert cv2.imwrite(str(path), img)
        assert read_image(path).shape == img.shape


def test_heic_is_named_unsupported_and_avif_is_listed(tmp_path):
    heic = tmp_path / "IMG_0001.HEIC"
    heic.write_bytes(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(200))
    with pytest.raises(ImageError, match="HEIC/HEIF images are not supported: convert it to JPEG or PNG"):
        read_image(heic)
    with pytest.raises(ImageError, match="AVIF"):
        read_image(_text_file(tmp_path))


def _text_file(tmp_path):
    path = tmp_path / "notes.jpg"
    path.write_text("not an image")
    return path
