"""Attachments benchmark: what checking an upload and making the copy sent upstream cost.

For a few typical images (a phone photo as JPEG, a screenshot as PNG, a large PNG near the pixel
limit, an animated GIF) it times `checks.check` (the type from the content, Pillow verify and full
load) and `prepare.render` (the copy of at most 1,568 px and 5 MB) in a fresh process per run, and
the peak RSS each adds (the check's over the file read into memory; the render's over the check's
peak), and prints one table of medians. Images are made here (noise and gradients, so
the encoders work as on real pictures); nothing is read from the network.

Run: .venv/bin/python bench/attachments.py [--runs 5]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CASES = {  # name: (width, height, format, frames)
    "phone photo 4032x3024 JPEG": (4032, 3024, "JPEG", 1),
    "screenshot 2880x1800 PNG": (2880, 1800, "PNG", 1),
    "large 6000x6000 PNG": (6000, 6000, "PNG", 1),
    "animated GIF 800x600, 20 frames": (800, 600, "GIF", 20),
}

# The peak RSS is read from /proc (VmHWM, kB) after resetting it (clear_refs 5): ru_maxrss would
# start at the parent's peak, which a forked child inherits.
CHILD = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
from app.attachments import checks, prepare
def peak():
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmHWM:"))
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")
data = open(sys.argv[2], "rb").read()
limits = checks.CheckLimits(max_bytes=1 << 30, text_max_bytes=1 << 20, max_pixels=40_000_000)
before = peak()
t0 = time.perf_counter(); got = checks.check("x", None, data, limits); t1 = time.perf_counter()
after_check = peak()
fmt = {"image/png": "PNG", "image/jpeg": "JPEG", "image/gif": "PNG", "image/webp": "WEBP"}[got.media_type]
t2 = time.perf_counter(); out_fmt, out = prepare.render(data, fmt); t3 = time.perf_counter()
after_render = peak()
print(json.dumps({"check_ms": (t1 - t0) * 1000, "render_ms": (t3 - t2) * 1000,
                  "check_mb": (after_check - before) / 1024, "render_mb": (after_render - after_check) / 1024,
                  "out_bytes": len(out), "out_fmt": out_fmt}))
"""


def make_image(width: int, height: int, fmt: str, frames: int) -> bytes:
    """A picture-like image: a gradient with noise (compresses like a photo, not like a flat fill)."""
    from PIL import Image

    def frame(seed: int) -> Image.Image:
        noise = Image.effect_noise((width, height), 40 + seed).convert("L")
        grad = Image.linear_gradient("L").resize((width, height))
        return Image.merge("RGB", (noise, grad, grad.rotate(90))).convert("RGB")

    out = io.BytesIO()
    if frames > 1:
        first, *rest = [frame(i).convert("P") for i in range(frames)]
        first.save(out, "GIF", save_all=True, append_images=rest, duration=50, loop=0)
    else:
        frame(0).save(out, fmt, **({"quality": 90} if fmt == "JPEG" else {}))
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(f"{'image':34} {'bytes':>10} {'check ms':>9} {'render ms':>10} {'check MB':>9} "
          f"{'render MB':>10} {'sent':>12}")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        for name, (w, h, fmt, frames) in CASES.items():
            data = make_image(w, h, fmt, frames)
            path = os.path.join(tmp, "image")
            Path(path).write_bytes(data)
            rows = []
            for _ in range(args.runs):
                done = subprocess.run(
                    [sys.executable, "-c", CHILD, str(ROOT), path],
                    capture_output=True, text=True, check=True,
                )  # fmt: skip
                rows.append(json.loads(done.stdout))
            med = {k: statistics.median(r[k] for r in rows) for k in rows[0] if k != "out_fmt"}
            sent = f"{rows[0]['out_fmt']} {med['out_bytes'] / 1e6:.2f} MB"
            print(f"{name:34} {len(data):>10,} {med['check_ms']:>9.1f} {med['render_ms']:>10.1f} "
                  f"{med['check_mb']:>9.0f} {med['render_mb']:>10.0f} {sent:>12}")  # fmt: skip


if __name__ == "__main__":
    main()
