"""Rewrite the README's generated figures from this machine's default-router build and demo run.

    python scripts/readme_figures.py --router models/default-minilm-int8-v1 --demo demo-output

Run through `make readme-figures`. Each generated block sits between ``<!-- figures:NAME -->`` and
``<!-- /figures:NAME -->`` and says which CPU it came from; nothing in them is typed by hand.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any


def _day(day: int | None, onset: int) -> str:
    return "never" if day is None else f"day {day}, {day - onset:+d}"


def router_block(router_dir: Path) -> str:
    config = json.loads((router_dir / "router.json").read_text(encoding="utf-8"))
    m, prov = config["metrics"], config["provenance"]
    checks, cpu, int8 = prov["checks"], prov["checks"]["checked_on"], prov["int8"]
    guard_file = router_dir / "guard.json"
    # Recipe v3 ships without the guard; the int8-vs-fp32 error it would use is in provenance.
    guard = prov["precision_guard"]
    if guard_file.is_file():
        guard = json.loads(guard_file.read_text(encoding="utf-8"))
    size_mb = (router_dir / "model.onnx").stat().st_size / 1e6
    (c_c, c_x), (x_c, x_x) = m["banking77_test_confusion"]
    n = m["banking77_test_n"]
    return "\n".join(
        [
            f"Default router on BANKING77 test ({n:,} queries, two tiers), built and checked by "
            f"`make model` on {cpu['model']} ({cpu['isa']}):",
            "",
            "| metric | value |",
            "|---|---|",
            f"| accuracy | {m['banking77_test_accuracy']:.4f} |",
            f"| ECE (temperature-scaled) | {m['banking77_test_ece']:.4f} |",
            "| tier confusion (rows labelled, columns routed) | "
            + f"cheap {c_c} / {c_x}, capable {x_c} / {x_x} |",
            "| tier agreement with the fp32 router (as shipped"
            + (", with the precision guard" if guard_file.is_file() else ", int8 alone, no guard")
            + f") | {100 * m['int8_fp32_tier_agreement']:.2f}% "
            f"(bar {100 * checks['min_tier_agreement']:.1f}%) |",
            *(
                [
                    "| tier agreement of the int8 encoder alone | "
                    f"{100 * m['int8_unguarded_fp32_tier_agreement']:.2f}% |"
                ]
                if guard_file.is_file()
                else []
            ),  # fmt: skip
            f"| int8 probability error vs fp32 (the {100 * guard['quantile']:.1f}th percentile on BANKING77 "
            f"train; `build --guard` re-decides calls closer than twice it) | {guard['margin']:.3f} |",
            f"| `model.onnx` (int8 weights and int8 word-embedding table) | {size_mb:.1f} MB |",
            f"| largest embedding change from batching (alone vs in a batch) | "
            f"{checks['batch_independence_max_diff']:.1e} (bar {checks['max_batch_diff']:.0e}) |",
            f"| int8 weight channels widened to be saturation-free | "
            f"{int8['channels_rescaled']:,} of {int8['weight_channels']:,} |",
        ]
    )


def demo_block(demo_dir: Path) -> str:
    record: dict[str, Any] = json.loads((demo_dir / "summary.json").read_text(encoding="utf-8"))
    onset = record["onset"]
    lines = [
        f"The default run (seed {record['seed']}, {record['days']} days × {record['per_day']:,} queries "
        f"a day), from `make readme-figures` on {record['cpu']['model']} ({record['cpu']['isa']}):",
        "",
        "| arm | inference vs all-capable | cheap-tier quality launch → after | first counted alarm "
        "| net cost vs all-capable |",
        "|---|---|---|---|---|",
    ]
    for row in record["arms"]:
        if row["arm"].startswith("all capable"):
            continue
        alarm = _day(row["alarm_day"], onset)
        if row["alarm_day"] is not None and row.get("alarm_monitor"):
            alarm += f" ({row['alarm_monitor']})"
        lines.append(
            f"| {row['arm']} | {100 * row['inference_vs_all_capable']:.0f}% | "
            f"{row['cheap_quality_launch']:.3f} → {row['cheap_quality_after']:.3f} | {alarm} | "
            f"{100 * row['net_vs_all_capable']:.0f}% |"
        )
    return "\n".join(lines)


def replace_block(text: str, name: str, body: str) -> str:
    pattern = re.compile(rf"(<!-- figures:{name} -->\n)(?:.*?\n)?(<!-- /figures:{name} -->)", re.S)
    if not pattern.search(text):
        raise SystemExit(f"README has no <!-- figures:{name} --> ... <!-- /figures:{name} --> block")
    return pattern.sub(lambda m: m.group(1) + body + "\n" + m.group(2), text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--router", type=Path, required=True)
    parser.add_argument("--demo", type=Path, default=None, help="a `tierscope demo --out` directory")
    parser.add_argument("--readme", type=Path, default=Path("README.md"))
    args = parser.parse_args()
    text = args.readme.read_text(encoding="utf-8")
    text = replace_block(text, "router", router_block(args.router))
    if args.demo is not None:
        text = replace_block(text, "demo", demo_block(args.demo))
    args.readme.write_text(text, encoding="utf-8")
    print(f"updated {args.readme}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
