"""The copies sent upstream: at most 1,568 px and 5 MB, the format kept where the protocol takes it
(GIF to Gemini as PNG), cached as a variant; a text file as a fenced block."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

import conversation_manager as cm
from app.attachments import AttachmentService, AttachmentSettings, prepare
from conversation_manager.json.attachments import JsonAttachmentStore
from tests.attachments.conftest import image_bytes, noisy_png


@pytest.fixture
def service(tmp_path: Path) -> AttachmentService:
    return AttachmentService(
        JsonAttachmentStore(tmp_path, durable=False),
        AttachmentSettings(),
        conversations=cm.JsonConversationStore(tmp_path),
    )


def _size(data: bytes) -> tuple[tuple[int, int], str | None]:
    with Image.open(io.BytesIO(data)) as image:
        return image.size, image.format


def test_a_small_image_goes_as_it_is(service):
    data = image_bytes("JPEG", (800, 600))
    attachment = service.upload("alice", "a.jpg", "image/jpeg", data)
    for protocol in ("responses", "chat_completions", "anthropic", "gemini"):
        assert service.image_for("alice", attachment, protocol) == ("image/jpeg", data)


@pytest.mark.parametrize(
    ("fmt", "media_type"), [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("WEBP", "image/webp")]
)
def test_a_large_image_is_downscaled_in_its_own_format(service, fmt, media_type):
    attachment = service.upload("alice", "big", None, image_bytes(fmt, (3000, 1200)))
    sent_type, sent = service.image_for("alice", attachment, "anthropic")
    assert sent_type == media_type
    assert _size(sent) == ((1568, 627), fmt)


def test_a_gif_goes_to_gemini_as_png_and_to_others_as_gif(service):
    data = image_bytes("GIF", (64, 32))
    attachment = service.upload("alice", "a.gif", "image/gif", data)
    media_type, sent = service.image_for("alice", attachment, "gemini")
    assert media_type == "image/png" and _size(sent) == ((64, 32), "PNG")
    assert service.image_for("alice", attachment, "responses") == ("image/gif", data)


def test_the_first_frame_of_an_animated_gif_is_sent(service):
    frames = [Image.new("RGB", (20, 20), c) for c in ((255, 0, 0), (0, 0, 255))]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    attachment = service.upload("alice", "anim.gif", "image/gif", buf.getvalue())
    _, sent = service.image_for("alice", attachment, "gemini")
    with Image.open(io.BytesIO(sent)) as image:
        assert image.convert("RGB").getpixel((5, 5)) == (255, 0, 0)


def test_the_copy_is_cached_as_a_variant(service, monkeypatch):
    attachment = service.upload("alice", "big.png", None, image_bytes("PNG", (2000, 100)))
    first = service.image_for("alice", attachment, "responses")

    def fail(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("rendered twice")

    monkeypatch.setattr(prepare, "render", fail)
    assert service.image_for("alice", attachment, "responses") == first


def test_a_copy_over_the_byte_limit_steps_down(service, monkeypatch):
    data = noisy_png((600, 600))
    attachment = service.upload("alice", "noise.png", None, data)
    monkeypatch.setattr(prepare, "MAX_SEND_BYTES", 200_000)
    media_type, sent = service.image_for("alice", attachment, "anthropic")
    # A PNG of noise cannot get that small: it becomes a JPEG within the limit.
    assert media_type == "image/jpeg" and len(sent) <= 200_000
    jpeg = service.upload("alice", "noise.jpg", None, image_bytes("JPEG", (600, 600), quality=100))
    monkeypatch.setattr(prepare, "MAX_SEND_BYTES", 8_000)
    media_type, sent = service.image_for("alice", jpeg, "anthropic")
    assert media_type == "image/jpeg" and len(sent) <= 8_000


def test_a_text_file_is_a_fenced_block_named_by_its_file(service):
    plain = service.upload("alice", "main.py", None, b"print('hi')\n")
    assert service.text_block("alice", plain) == "```main.py\nprint('hi')\n```"
    fenced = service.upload("alice", "README.md", None, b"a\n```sh\nls\n```\n")
    block = service.text_block("alice", fenced)
    assert block.startswith("````README.md\n") and block.endswith("\n````")
    spaced = service.upload("alice", "my notes.txt", None, b"x")
    assert service.text_block("alice", spaced) == "my notes.txt\n```\nx\n```"


def test_resolve_gives_the_users_own_attachments_only(service):
    mine = service.upload("alice", "a.txt", None, b"a")
    service.upload("bobby", "b.txt", None, b"b")
    other = service.upload("bobby", "c.txt", None, b"c")
    assert service.resolve("alice", [mine.id, mine.id]) == [mine]
    from app.attachments import BadAttachmentRequest

    for ids in ([other.id], ["../x"], ["att_" + "0" * 24]):
        with pytest.raises(BadAttachmentRequest) as refused:
            service.resolve("alice", ids)
        assert refused.value.api_code == "bad_attachment" and refused.value.status == 400


def test_a_16_bit_greyscale_png_keeps_its_tones(service):
    image = Image.new("I;16", (2000, 100), 40000)
    buf = io.BytesIO()
    image.save(buf, "PNG")
    attachment = service.upload("alice", "deep.png", None, buf.getvalue())
    _, sent = service.image_for("alice", attachment, "responses")
    with Image.open(io.BytesIO(sent)) as copy:
        assert copy.size == (1568, 78)
        assert copy.convert("L").getpixel((5, 5)) == 40000 // 256  # not clipped to white


def _frames(image: bytes) -> int:
    with Image.open(io.BytesIO(image)) as opened:
        return getattr(opened, "n_frames", 1)


@pytest.mark.parametrize("fmt", ["GIF", "WEBP", "PNG"])
def test_an_animated_original_goes_as_its_first_frame_only(service, fmt):
    frames = [Image.new("RGB", (20, 20), c) for c in ((255, 0, 0), (0, 0, 255), (0, 255, 0))]
    buf = io.BytesIO()
    frames[0].save(buf, fmt, save_all=True, append_images=frames[1:], duration=100, loop=0)
    data = buf.getvalue()
    assert _frames(data) == 3
    attachment = service.upload("alice", f"anim.{fmt.lower()}", None, data)
    media_type, sent = service.image_for("alice", attachment, "anthropic")
    assert media_type == attachment.media_type and sent != data
    assert _frames(sent) == 1
    with Image.open(io.BytesIO(sent)) as image:
        assert image.convert("RGB").getpixel((5, 5))[0] > 200  # the first (red) frame


def test_a_small_png_with_a_huge_metadata_chunk_goes_without_it(service):
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_itxt("Comment", "x" * 4_900_000, zip=False)
    buf = io.BytesIO()
    Image.new("RGB", (10, 10), (1, 2, 3)).save(buf, "PNG", pnginfo=info)
    data = buf.getvalue()
    assert len(data) > 4_900_000
    attachment = service.upload("alice", "tiny.png", "image/png", data)
    media_type, sent = service.image_for("alice", attachment, "responses")
    assert media_type == "image/png" and len(sent) < 10_000
    assert _size(sent) == ((10, 10), "PNG")


def test_exif_is_never_sent_and_the_copy_is_upright(service):
    image = Image.new("RGB", (40, 20), (255, 0, 0))
    image.paste((0, 0, 255), (0, 0, 20, 20))  # blue on the left
    exif = Image.Exif()
    exif[0x0112] = 6  # shown rotated 90 degrees clockwise: the blue goes on top
    exif.get_ifd(0x8825)[2] = (52.0, 31.0, 12.0)  # a GPS latitude
    buf = io.BytesIO()
    image.save(buf, "JPEG", exif=exif.tobytes(), quality=95)
    attachment = service.upload("alice", "where.jpg", "image/jpeg", buf.getvalue())
    _, sent = service.image_for("alice", attachment, "responses")
    with Image.open(io.BytesIO(sent)) as copy:
        assert copy.size == (20, 40)
        assert not copy.getexif() and "exif" not in copy.info
        top, bottom = copy.getpixel((10, 5)), copy.getpixel((10, 35))
    assert top[2] > 200 > top[0] and bottom[0] > 200 > bottom[2]


def test_a_cmyk_jpeg_goes_as_rgb(service):
    buf = io.BytesIO()
    Image.new("CMYK", (30, 30), (0, 255, 255, 0)).save(buf, "JPEG")
    attachment = service.upload("alice", "print.jpg", "image/jpeg", buf.getvalue())
    media_type, sent = service.image_for("alice", attachment, "anthropic")
    with Image.open(io.BytesIO(sent)) as copy:
        assert (media_type, copy.format, copy.mode) == ("image/jpeg", "JPEG", "RGB")


def test_plain_small_originals_still_go_byte_for_byte(service):
    for fmt, name in (("PNG", "a.png"), ("WEBP", "a.webp"), ("GIF", "a.gif")):
        data = image_bytes(fmt, (64, 48))
        attachment = service.upload("alice", name, None, data)
        assert service.image_for("alice", attachment, "anthropic")[1] == data
    assert prepare.sendable(image_bytes("PNG", (64, 48), mode="RGBA"))


def test_a_render_waits_for_a_free_slot():
    import threading

    data = image_bytes("PNG", (2000, 100))
    for _ in range(prepare.MAX_RENDERS):
        prepare.RENDER_SLOTS.acquire()
    done = threading.Event()
    worker = threading.Thread(target=lambda: (prepare.render(data, "PNG"), done.set()))
    try:
        worker.start()
        assert not done.wait(0.5)  # every slot is taken: it waits
    finally:
        for _ in range(prepare.MAX_RENDERS):
            prepare.RENDER_SLOTS.release()
    assert done.wait(5)
    worker.join(5)


RSS_SCRIPT = """
import resource, sys
from app.attachments import prepare
data = open(sys.argv[1], "rb").read()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
prepare.render(data, "PNG")
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)
"""


def test_rendering_a_large_sparse_png_stays_within_bounded_memory(tmp_path):
    import subprocess
    import sys

    # 6324 x 6324 RGBA (40 M pixels, the default limit): 160 MB decoded from a 155 KB file.
    path = tmp_path / "zero.png"
    Image.new("RGBA", (6324, 6324), (0, 0, 0, 0)).save(path, "PNG")
    root = Path(__file__).resolve().parents[2]
    run = subprocess.run(
        [sys.executable, "-c", RSS_SCRIPT, str(path)],
        capture_output=True,
        text=True,
        cwd=root,
        timeout=120,
        check=True,
    )
    added_mib = int(run.stdout.strip()) / 1024  # ru_maxrss is in KiB on Linux
    # The decoded source (160 MB) plus small copies; it was about 680 MiB (full-size copies).
    assert added_mib < 320, added_mib
