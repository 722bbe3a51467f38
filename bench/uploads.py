"""What the worst allowed upload costs: peak memory and time through the real image pipeline.

Builds, in memory, the largest images STORAGE_MAX_PIXELS allows (39.7 MP: a flat RGBA PNG
of a few hundred KB, the cheapest bytes for the most pixels, and a detailed JPEG) and runs
each through what the service does with it:

- upload:      decode + re-encode of the original, as `storage.services.upload_file` does;
- variants:    decode + the 256 px and 1280 px copies, as `storage.services.make_variants`;
- recognition: `ai_assistant.recognition.pipeline.preprocess_photo` (1024 px JPEG for the model);
- parallel:    four uploads of the PNG at once in threads, as four requests would run
               (with room to wait for a decode slot).

Each measurement runs in a fresh process: the growth of its RSS (sampled every millisecond
from /proc/self/statm, peak minus the RSS before the call) is the pipeline's own; Pillow
allocates pixels outside Python's allocator, so tracemalloc would not see them. Reports
the median of --runs (Linux only).

    .venv/bin/python bench/uploads.py [--runs 5] [--only upload,variants,...]
"""

import argparse
import inspect
import io
import json
import multiprocessing
import os
import resource
import statistics
import sys
import threading
import time
from contextlib import nullcontext
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WIDTH, HEIGHT = 7280, 5456  # 39.72 MP, under the default 40 MP cap
STAGES = ("upload", "variants", "recognition", "parallel")


def build_inputs() -> dict[str, bytes]:
    from PIL import Image, ImageDraw

    png = Image.new("RGBA", (WIDTH, HEIGHT), (200, 60, 40, 255))
    ImageDraw.Draw(png).rectangle((0, 0, WIDTH // 2, HEIGHT), fill=(30, 90, 200, 255))
    png_bytes = io.BytesIO()
    png.save(png_bytes, format="PNG")
    del png
    # Noise scaled up keeps the JPEG realistically detailed (a few MB, like a camera's).
    noise = Image.effect_noise((WIDTH // 8, HEIGHT // 8), 64).convert("RGB")
    jpeg = noise.resize((WIDTH, HEIGHT), Image.Resampling.BICUBIC)
    jpeg_bytes = io.BytesIO()
    jpeg.save(jpeg_bytes, format="JPEG", quality=90)
    return {"png": png_bytes.getvalue(), "jpeg": jpeg_bytes.getvalue()}


def _setup_django() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fitness.settings")
    import django

    django.setup()


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 2**20


class _PeakRss:
    """The highest RSS seen while the block runs, sampled every millisecond (the process's
    own ru_maxrss would include Django's start-up)."""

    def __enter__(self) -> "_PeakRss":
        self.start = self.peak = _rss_mb()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._done.wait(0.001):
            self.peak = max(self.peak, _rss_mb())

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()
        self.peak = max(self.peak, _rss_mb())

    @property
    def growth(self) -> float:
        return self.peak - self.start


def _run_stage(stage: str, data: bytes) -> None:
    from django.conf import settings

    from ai_assistant.recognition import pipeline as recognition
    from storage import images, services

    cap = settings.STORAGE_MAX_PIXELS
    slot = getattr(images, "decode_slot", None)

    def upload() -> None:
        with slot() if slot else nullcontext():
            images.encode_image(images.decode_image(io.BytesIO(data), max_pixels=cap))

    if stage in ("upload", "parallel"):
        if stage == "upload":
            upload()
            return
        # Long enough for all four to get their turn however loaded the machine is: what
        # is measured is the memory of four requests under the decode bound.
        settings.STORAGE_DECODE_WAIT_SECONDS = 600
        threads = [threading.Thread(target=upload) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    elif stage == "variants":
        # The same script measures older code too, whose decode_image had no max_side.
        drafts = "max_side" in inspect.signature(images.decode_image).parameters
        options = {"max_side": max(services.VARIANT_SIDES.values())} if drafts else {}
        with slot() if slot else nullcontext():
            decoded = images.decode_image(io.BytesIO(data), max_pixels=cap, **options)
            for side in services.VARIANT_SIDES.values():
                images.encode_image(decoded, max_side=side)
    elif stage == "recognition":
        recognition.preprocess_photo(io.BytesIO(data))


def _child(stage: str, data: bytes, results) -> None:
    _setup_django()
    with _PeakRss() as rss:
        started = time.perf_counter()
        _run_stage(stage, data)
        seconds = time.perf_counter() - started
    results.put({"seconds": seconds, "mb": rss.growth})


def measure(stage: str, data: bytes, runs: int) -> dict:
    context = multiprocessing.get_context("spawn")
    samples = []
    for _ in range(runs):
        results = context.Queue()
        process = context.Process(target=_child, args=(stage, data, results))
        process.start()
        samples.append(results.get(timeout=600))
        process.join()
    return {
        "seconds_median": round(statistics.median(s["seconds"] for s in samples), 2),
        "peak_rss_mb_median": round(statistics.median(s["mb"] for s in samples)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--only", default=",".join(STAGES))
    args = parser.parse_args()
    inputs = build_inputs()
    report = {
        "pixels": WIDTH * HEIGHT,
        "input_bytes": {kind: len(data) for kind, data in inputs.items()},
        "runs": args.runs,
    }
    for stage in args.only.split(","):
        kinds = ["png"] if stage == "parallel" else ["png", "jpeg"]
        for kind in kinds:
            report[f"{stage}/{kind}"] = measure(stage, inputs[kind], args.runs)
            print(f"{stage}/{kind}: {report[f'{stage}/{kind}']}", file=sys.stderr)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
