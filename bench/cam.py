"""Image explanation speed and faithfulness on the image page's default CNN (EfficientNet-Lite0).

1. Per-image latency (median of RUNS, one image, 224 x 224 after preprocessing) of the plain timm
   forward pass (the same model object, inference mode), of the page's recognition (decode,
   preprocess, forward, top-k), and of each explanation method as the page runs it, with the
   ratio to the plain forward pass measured in the same run.
2. ROAD on the example photos: the class-probability drop when each map's most highlighted
   10 / 20 / 50 % of pixels are removed (higher = more faithful), per method and for the random
   and edge-detector baselines, per photo and averaged.

Run: .venv/bin/python bench/cam.py [--runs N] [--photos all|three]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

import backend  # noqa: E402, F401  # hides triton on CPU before torchvision loads
from backend.runtime.model_cache import get_model  # noqa: E402
from backend.runtime.registry import EFFICIENTNET  # noqa: E402
from backend.vision.cams import class_activation_map
from backend.vision.cnn_inside import look_inside  # noqa: E402
from backend.vision.explain_image import explain_image
from backend.vision.image_decoding import EXAMPLES, example_image  # noqa: E402
from backend.vision.introspection import default_cam_layer, network_input  # noqa: E402
from backend.vision.pixel_attributions import pixel_attribution
from backend.vision.recognition import recognise  # noqa: E402
from backend.vision.road import BASELINE_NAMES  # noqa: E402
from backend.vision.saliency import CAM_METHODS, METHODS, PIXEL_METHODS  # noqa: E402
from bench.backend_overhead import median_seconds  # noqa: E402

THREE = ("Cat (Chelsea)", "Coffee cup", "Grace Hopper")


def latency(runs: int) -> None:
    handle = get_model(EFFICIENTNET.key)
    photo = example_image("Cat (Chelsea)")
    pixels = network_input(handle, photo)
    layer = default_cam_layer(handle).name
    category = int(handle.model(pixels).argmax())

    def plain() -> None:
        with torch.inference_mode():
            handle.model(pixels)

    rows = [("plain timm forward (inference mode)", median_seconds(plain, runs))]
    base = rows[0][1]
    rows.append(("recognition as the page runs it (preprocess + forward + top-5)", median_seconds(lambda: recognise(photo), runs)))
    for method in CAM_METHODS:
        n = max(3, runs // 5) if method == "scorecam" else runs
        with handle.lock:
            seconds = median_seconds(lambda m=method: class_activation_map(handle, pixels, category, m, layer), n)
        rows.append((f"{METHODS[method]} ({layer})", seconds))
    for method in PIXEL_METHODS:
        with handle.lock:
            seconds = median_seconds(lambda m=method: pixel_attribution(handle, pixels, category, m), max(3, runs // 3) if method == "ig" else runs)
        rows.append((f"{METHODS[method]} (Captum{', 32 steps' if method == 'ig' else ''})", seconds))
    rows.append(("ROAD for Grad-CAM + 2 baselines (9 imputations)",
                 median_seconds(lambda: explain_image(photo, methods=("gradcam",)).road, 3)))
    rows.append(("how a CNN sees (filters + 3 depths, 8 channels)", median_seconds(lambda: look_inside(photo), runs)))
    print(f"\nLatency per image (median of {runs}; Score-CAM {max(3, runs // 5)}, IG {max(3, runs // 3)}), CPU threads: {torch.get_num_threads()}")
    print(f"| {'what':<66} | {'ms':>8} | {'x plain forward':>15} |")
    print(f"|{'-' * 68}|{'-' * 10}|{'-' * 17}|")
    for name, seconds in rows:
        print(f"| {name:<66} | {seconds * 1000:8.1f} | {seconds / base:15.2f} |")


def road(photos: tuple[str, ...]) -> None:
    methods = (*CAM_METHODS, *PIXEL_METHODS)
    means: dict[str, list[float]] = {}
    print("\nROAD: probability drop (points) when the top 10 / 20 / 50 % of each map is removed")
    for name in photos:
        found = explain_image(example_image(name), methods=methods)
        print(f"\n{name}: {found.label}, p = {found.probability:.3f} (ROAD {found.road.seconds:.1f} s)")
        for key, drops in found.road.drops.items():
            label = BASELINE_NAMES.get(key, METHODS.get(key, key))
            means.setdefault(label, []).append(found.road.mean_drop(key))
            print(f"  {label:<28} " + " / ".join(f"{d * 100:5.1f}" for d in drops) + f"   mean {np.mean(drops) * 100:5.1f}")
    print(f"\nMean over {len(photos)} photos and the three fractions (points):")
    print(f"| {'map':<28} | {'mean drop':>9} |")
    print(f"|{'-' * 30}|{'-' * 11}|")
    for label, values in sorted(means.items(), key=lambda item: -np.mean(item[1])):
        print(f"| {label:<28} | {np.mean(values) * 100:9.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--photos", choices=("all", "three"), default="all")
    args = parser.parse_args()
    latency(args.runs)
    road(tuple(EXAMPLES) if args.photos == "all" else THREE)


if __name__ == "__main__":
    main()
