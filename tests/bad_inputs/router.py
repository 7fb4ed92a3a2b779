"""Bad inputs for the router (issue 11): router.json paths that escape the directory, special
files, size caps, model/tokenizer mismatches, and every bad argument of Router.load, route,
route_batch, fit and save."""

from __future__ import annotations

import json
import math
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tierscope import Router
from tierscope.exceptions import InvalidInputError, ModelLoadError, TierscopeFileNotFoundError

from tests.bad_inputs import Case, Context, behaves, expect

ROUTER_FILES = ("model.onnx", "tokenizer.json", "router.json")
TEXTS = ["my card was stolen", "how do I top up", "a charge I do not know", "change my pin"]
TIERS = ["capable", "cheap", "capable", "cheap"]


def copy(ctx: Context, name: str = "r") -> Path:
    """A copy of the default router's own files (no guard) in ``ctx.tmp``."""
    d = ctx.tmp / name
    d.mkdir()
    for f in ROUTER_FILES:
        shutil.copy(ctx.default_dir / f, d / f)
    if (ctx.default_dir / "tail_index.bin").exists():  # the tail score's kNN index (issue 15)
        shutil.copy(ctx.default_dir / "tail_index.bin", d / "tail_index.bin")
    return d


def edited(ctx: Context, edit: Callable[[dict[str, Any], Path], Any]) -> Path:
    """A copy whose router.json went through ``edit(config, directory)``."""
    d = copy(ctx)
    config = json.loads((d / "router.json").read_text())
    edit(config, d)
    (d / "router.json").write_text(json.dumps(config))
    return d


def set_model(field: str, value: str) -> Callable[[Context], Any]:
    def call(ctx: Context) -> Any:
        return Router.load(edited(ctx, lambda c, _d: c["model"].update({field: value})), sessions=1)

    return call


def replaced_dir(ctx: Context, name: str, make: Callable[[Path, Context], Any]) -> Path:
    """A copy whose file ``name`` was replaced by ``make(path, ctx)``."""
    d = copy(ctx)
    (d / name).unlink()
    make(d / name, ctx)
    return d


def replaced(name: str, make: Callable[[Path, Context], Any]) -> Callable[[Context], Any]:
    """Load a copy whose file ``name`` was replaced by ``make(path, ctx)``."""
    return lambda ctx: Router.load(replaced_dir(ctx, name, make), sessions=1)


def _touch(path: Path) -> Path:
    path.touch()
    return path


def outside_link(path: Path, ctx: Context) -> None:
    outside = ctx.tmp / "outside" / path.name
    outside.parent.mkdir(exist_ok=True)
    shutil.copy(ctx.default_dir / path.name, outside)
    path.symlink_to(outside)


def with_guard(
    spec_router: Any, make: Callable[[Path, Context], Any] | None = None
) -> Callable[[Context], Any]:
    def call(ctx: Context) -> Any:
        d = copy(ctx)
        (d / "guard.json").write_text(json.dumps({"router": spec_router, "margin": 0.05}))
        if make is not None:
            make(d, ctx)
        return Router.load(d, sessions=1)

    return call


def guard_json_dev_zero(ctx: Context) -> Any:
    d = copy(ctx)
    (d / "guard.json").symlink_to("/dev/zero")
    return Router.load(d, sessions=1)


def bare_encoder(ctx: Context) -> Path:
    """An encoder directory without router.json (fit then uses its max_length argument)."""
    d = copy(ctx, "bare")
    (d / "router.json").unlink()
    return d


def smaller_tokenizer(ctx: Context) -> Any:
    d = copy(ctx)
    tok = json.loads((d / "tokenizer.json").read_text())
    vocab = tok["model"]["vocab"]
    for word in [w for w, i in vocab.items() if i >= 30000]:
        del vocab[word]
    (d / "tokenizer.json").write_text(json.dumps(tok))
    return Router.load(d, sessions=1)


def load(**options: Any) -> Callable[[Context], Any]:
    return lambda ctx: Router.load(ctx.default_dir, **options)


def fit(**options: Any) -> Callable[[Context], Any]:
    def call(ctx: Context) -> Any:
        args: dict[str, Any] = {"texts": TEXTS, "tiers": TIERS, "encoder": ctx.default_dir, "sessions": 1}
        args.update(options)
        return Router.fit(args.pop("texts"), args.pop("tiers"), **args)

    return call


def fit_with(edit: Callable[[dict[str, Any], Path], Any]) -> Callable[[Context], Any]:
    return lambda ctx: Router.fit(TEXTS, TIERS, encoder=edited(ctx, edit), sessions=1)


def listing(path: Path) -> list[str]:
    return sorted(p.name for p in path.iterdir())


def save_over_link(name: str) -> Callable[[Context], Any]:
    """Save into a destination whose ``name`` is a symlink to a file outside it."""

    def call(ctx: Context) -> Any:
        dest = ctx.tmp / "dest"
        dest.mkdir()
        victim = ctx.tmp / f"victim-{name}"
        victim.write_text("precious")
        (dest / name).symlink_to(victim)
        ctx.router.save(dest)
        return ctx.tmp

    return call


def victim_intact(name: str) -> Callable[[Any, Context], bool]:
    def check(_result: Any, ctx: Context) -> bool:
        dest = ctx.tmp / "dest"
        return (
            (ctx.tmp / f"victim-{name}").read_text() == "precious"
            and not (dest / name).is_symlink()
            and Router.load(dest, sessions=1, guard=False).tiers == ("cheap", "capable")
        )

    return check


def save_guard_link(ctx: Context) -> Any:
    dest = ctx.tmp / "dest"
    dest.mkdir()
    (ctx.tmp / "elsewhere").mkdir()
    (dest / "guard").symlink_to(ctx.tmp / "elsewhere")
    return ctx.router.save(dest)


def fit_canonical_names(ctx: Context) -> Any:
    """An encoder whose router.json names its files in a subdirectory: out_dir gets canonical names."""
    enc = copy(ctx, "enc")
    (enc / "sub").mkdir()
    for f in ("model.onnx", "tokenizer.json"):
        (enc / f).rename(enc / "sub" / f)
    config = json.loads((enc / "router.json").read_text())
    config["model"].update(file="sub/model.onnx", tokenizer="sub/tokenizer.json")
    (enc / "router.json").write_text(json.dumps(config))
    before = listing(ctx.tmp)
    out = ctx.tmp / "out"
    router = Router.fit(TEXTS, TIERS, encoder=enc, out_dir=out, sessions=1)
    return before, listing(ctx.tmp), listing(out), router.config["model"]


def route_big(text: str, **options: Any) -> Callable[[Context], Any]:
    def call(ctx: Context) -> Any:
        router = ctx.router if not options else Router.load(ctx.default_dir, sessions=1, **options)
        return router.route(text)

    return call


MB10 = 10 * 1024 * 1024

CASES: list[Case] = [
    # -- router.json paths that escape the directory ------------------------------------------
    *[
        expect(
            f"router-load-{field.replace('.', '-')}-{tag}",
            set_model(field.split(".")[1], value),
            ModelLoadError,
            field,
        )
        for field in ("model.file", "model.tokenizer")
        for tag, value in [
            ("parent", "../x"),
            ("parent-deep", "../../../../etc/passwd"),
            ("absolute", "/etc/passwd"),
            ("proc-environ", "/proc/self/environ"),
            ("dev-zero", "/dev/zero"),
            ("empty", ""),
            ("dotdot-inside", "sub/../../x"),
            ("dotdot", ".."),
            ("the-directory", "."),
            ("backslash-parent", "..\\x"),
        ]
    ],
    expect(
        "router-load-model-symlink-outside",
        replaced("model.onnx", outside_link),
        ModelLoadError,
        "model.file",
    ),
    expect(
        "router-load-tokenizer-symlink-outside",
        replaced("tokenizer.json", outside_link),
        ModelLoadError,
        "model.tokenizer",
    ),
    expect(
        "router-load-router-json-symlink-outside",
        replaced("router.json", outside_link),
        ModelLoadError,
        "router.json",
    ),
    expect(
        "router-load-model-symlink-dev-zero",
        replaced("model.onnx", lambda p, _c: p.symlink_to("/dev/zero")),
        ModelLoadError,
        "model.file",
    ),
    # -- special files and unreadable files ----------------------------------------------------
    expect(
        "router-load-model-is-a-directory",
        replaced("model.onnx", lambda p, _c: p.mkdir()),
        ModelLoadError,
        "regular file",
    ),
    expect(
        "router-load-router-json-is-a-directory",
        replaced("router.json", lambda p, _c: p.mkdir()),
        ModelLoadError,
        "router.json",
        "regular file",
    ),
    expect(
        "router-load-model-is-a-fifo",
        replaced("model.onnx", lambda p, _c: os.mkfifo(p)),
        ModelLoadError,
        "model.onnx",
        "regular file",
    ),
    expect(
        "router-load-tokenizer-is-a-fifo",
        replaced("tokenizer.json", lambda p, _c: os.mkfifo(p)),
        ModelLoadError,
        "tokenizer.json",
        "regular file",
    ),
    expect(
        "router-load-router-json-is-a-fifo",
        replaced("router.json", lambda p, _c: os.mkfifo(p)),
        ModelLoadError,
        "router.json",
    ),
    expect(
        "router-load-model-missing",
        replaced("model.onnx", lambda p, _c: None),
        TierscopeFileNotFoundError,
        "model file",
    ),
    expect(
        "router-load-router-json-not-utf8",
        replaced("router.json", lambda p, _c: p.write_bytes(b"\xff\xfe{")),
        ModelLoadError,
        "router.json",
    ),
    # -- size caps (sparse files: refused from their size, never read) --------------------------
    *[
        expect(
            f"router-load-{name.split('.')[0]}-over-the-cap",
            replaced(name, lambda p, _c, size=size: os.truncate(_touch(p), size)),
            ModelLoadError,
            name,
            "limit",
        )
        for name, size in [
            ("model.onnx", (2 << 30) + 1),
            ("tokenizer.json", (64 << 20) + 1),
            ("router.json", (64 << 20) + 1),
        ]
    ],
    expect(
        "router-fit-encoder-router-json-symlink-outside",
        lambda ctx: Router.fit(
            TEXTS, TIERS, encoder=replaced_dir(ctx, "router.json", outside_link), sessions=1
        ),
        ModelLoadError,
        "router.json",
        "outside",
    ),
    expect(
        "router-fit-encoder-router-json-is-a-directory",
        lambda ctx: Router.fit(
            TEXTS, TIERS, encoder=replaced_dir(ctx, "router.json", lambda p, _c: p.mkdir()), sessions=1
        ),
        ModelLoadError,
        "router.json",
        "regular file",
    ),
    # -- the precision guard's directory -------------------------------------------------------
    expect("router-load-guard-parent", with_guard("../elsewhere"), ModelLoadError, "subdirectory"),
    expect("router-load-guard-absolute", with_guard("/tmp"), ModelLoadError, "subdirectory"),
    expect("router-load-guard-empty", with_guard(""), ModelLoadError, "subdirectory"),
    expect("router-load-guard-dot", with_guard("."), ModelLoadError, "subdirectory"),
    expect("router-load-guard-not-a-string", with_guard(7), ModelLoadError, "subdirectory"),
    expect(
        "router-load-guard-symlink-outside",
        with_guard("g", lambda d, c: (d / "g").symlink_to(c.default_dir / "guard")),
        ModelLoadError,
        "outside",
    ),
    expect("router-load-guard-json-dev-zero", guard_json_dev_zero, ModelLoadError, "guard.json"),
    # -- model checks --------------------------------------------------------------------------
    expect(
        "router-load-tokenizer-smaller-than-model",
        smaller_tokenizer,
        ModelLoadError,
        "tokenizer.json",
        "30000",
        "30522",
    ),
    expect(
        "router-load-max-length-above-positions",
        lambda ctx: Router.load(edited(ctx, lambda c, _d: c["model"].update(max_length=1000)), sessions=1),
        ModelLoadError,
        "model.max_length",
        "512",
    ),
    expect(
        "router-load-max-length-513",
        lambda ctx: Router.load(edited(ctx, lambda c, _d: c["model"].update(max_length=513)), sessions=1),
        ModelLoadError,
        "model.max_length",
    ),
    # -- Router.load arguments -----------------------------------------------------------------
    expect("router-load-path-none", lambda ctx: Router.load(None), InvalidInputError, "path"),  # type: ignore[arg-type]
    expect("router-load-path-int", lambda ctx: Router.load(123), InvalidInputError, "path"),  # type: ignore[arg-type]
    expect("router-load-path-bytes", lambda ctx: Router.load(b"/tmp"), InvalidInputError, "path"),  # type: ignore[arg-type]
    expect("router-load-path-empty", lambda ctx: Router.load(""), InvalidInputError, "path"),
    expect(
        "router-load-path-missing",
        lambda ctx: Router.load(ctx.tmp / "nope"),
        TierscopeFileNotFoundError,
        "router directory",
    ),
    expect(
        "router-load-path-is-a-file",
        lambda ctx: Router.load(ctx.default_dir / "router.json"),
        InvalidInputError,
        "path",
    ),
    *[
        expect(f"router-load-{name}-{tag}", load(**{name: value}), InvalidInputError, name)
        for name, cases in {
            "sessions": [
                ("negative", -1),
                ("zero", 0),
                ("huge", 2**70),
                ("bool", True),
                ("float", 1.5),
                ("str", "2"),
            ],
            "intra_threads": [("negative", -1), ("huge", 2**70), ("zero", 0)],
            "token_budget": [
                ("huge", 2**70),
                ("zero", 0),
                ("negative", -1),
                ("none", None),
                ("float", 512.0),
            ],
            "max_batch": [("zero", 0), ("str", "64"), ("huge", 2**64)],
            "max_text_bytes": [("zero", 0), ("negative", -5), ("huge", 2**70), ("float", 1.5)],
            "guard": [("str", "yes"), ("int", 1), ("none", None)],
        }.items()
        for tag, value in cases
    ],
    # -- route / route_batch arguments ---------------------------------------------------------
    expect("router-route-none", lambda ctx: ctx.router.route(None), InvalidInputError, "`text`"),
    expect("router-route-bytes", lambda ctx: ctx.router.route(b"hi"), InvalidInputError, "`text`"),
    expect("router-route-int", lambda ctx: ctx.router.route(3), InvalidInputError, "`text`"),
    expect(
        "router-route-lone-surrogate",
        lambda ctx: ctx.router.route("card \ud800"),
        InvalidInputError,
        "`text`",
        "UTF-8",
    ),
    expect("router-batch-single-str", lambda ctx: ctx.router.route_batch("abc"), InvalidInputError, "texts"),
    expect("router-batch-int", lambda ctx: ctx.router.route_batch(42), InvalidInputError, "texts"),
    expect("router-batch-dict", lambda ctx: ctx.router.route_batch({"a": 1}), InvalidInputError, "texts"),
    expect(
        "router-batch-none-item",
        lambda ctx: ctx.router.route_batch(["ok", None]),
        InvalidInputError,
        "texts[1]",
    ),
    expect(
        "router-batch-int-item", lambda ctx: ctx.router.route_batch(["ok", 3]), InvalidInputError, "texts[1]"
    ),
    expect(
        "router-batch-bytes-item", lambda ctx: ctx.router.route_batch([b"x"]), InvalidInputError, "texts[0]"
    ),
    expect(
        "router-batch-lone-surrogate",
        lambda ctx: ctx.router.route_batch(["a", "b", "\udfff"]),
        InvalidInputError,
        "texts[2]",
        "UTF-8",
    ),
    *[
        expect(
            f"router-batch-with-embeddings-{tag}",
            lambda ctx, value=value: ctx.router.route_batch(["a"], with_embeddings=value),
            InvalidInputError,
            "with_embeddings",
        )
        for tag, value in [("str", "yes"), ("int", 1), ("none", None)]
    ],
    # -- input caps: never refused, cut and reported -------------------------------------------
    behaves(
        "router-route-10mb-no-spaces",
        route_big("x" * MB10),
        lambda d, _c: d.truncated and d.content_discarded and d.tokens == 3,
    ),
    behaves(
        "router-route-10mb-words",
        route_big("my card payment was declined " * (MB10 // 29)),
        lambda d, _c: d.truncated and d.content_discarded and d.tokens == 128,
    ),
    behaves(
        "router-route-10mb-multibyte",
        route_big("é🙂" * (MB10 // 6)),
        lambda d, _c: d.truncated and d.content_discarded,
    ),
    behaves(
        "router-route-empty-has-no-content",
        route_big(""),
        # Issue 15: empty text never reaches the model; it goes to the fallback tier.
        lambda d, _c: d.fallback and d.reason == "empty_text" and not d.truncated and d.tokens == 0,
    ),
    behaves(
        "router-route-normal-keeps-content",
        route_big("my card was declined"),
        lambda d, _c: not d.content_discarded and not d.truncated,
    ),
    behaves(
        "router-route-small-max-text-bytes",
        route_big("my card was declined twice", max_text_bytes=7),
        lambda d, _c: d.truncated and d.content_discarded and d.tokens == 4,
    ),
    behaves(
        "router-batch-flags-per-row",
        lambda ctx: ctx.router.route_batch(["x" * 200_000, "top up"]),
        lambda b, _c: list(b.content_discarded) == [True, False] and list(b.truncated) == [True, False],
    ),
    # -- Router.fit arguments (all refused before any text is embedded) ------------------------
    *[
        expect(f"router-fit-{name.replace('_', '-')}-{tag}", fit(**{name: value}), InvalidInputError, name)
        for name, cases in {
            "seed": [("negative", -1), ("huge", 2**70), ("float", 1.5), ("bool", True)],
            "min_confidence": [("above-one", 1.5), ("nan", math.nan), ("negative", -0.1), ("str", "0.5")],
            "holdout_fraction": [("zero", 0.0), ("one", 1.0), ("nan", math.nan)],
            "l2": [("negative", -1.0), ("inf", math.inf)],
            "shrinkage": [("zero", 0.0), ("two", 2.0)],
            "max_length": [("one", 1), ("huge", 2**70), ("str", "128")],
            "sessions": [("negative", -1), ("huge", 2**70)],
            "intra_threads": [("zero", 0)],
            "provenance": [("str", "x"), ("unserialisable", {"a": object()}), ("nan", {"a": math.nan})],
            "tier_order": [("single", ["cheap"]), ("duplicates", ["cheap", "cheap"]), ("str", "cheap")],
            "encoder": [("int", 123), ("none", None)],
        }.items()
        for tag, value in cases
    ],
    expect("router-fit-texts-str", fit(texts="abcd"), InvalidInputError, "texts"),
    expect("router-fit-texts-ints", fit(texts=[1, 2, 3, 4]), InvalidInputError, "texts[0]"),
    expect("router-fit-texts-surrogate", fit(texts=["a", "b", "\ud800", "d"]), InvalidInputError, "texts[2]"),
    expect("router-fit-tiers-none", fit(tiers=None), InvalidInputError, "tiers"),
    expect("router-fit-length-mismatch", fit(tiers=TIERS[:3]), InvalidInputError, "tiers"),
    expect(
        "router-fit-encoder-missing",
        lambda ctx: fit(encoder=ctx.tmp / "nope")(ctx),
        TierscopeFileNotFoundError,
        "encoder",
    ),
    expect(
        "router-fit-out-dir-is-a-file",
        lambda ctx: fit(out_dir=ctx.default_dir / "router.json")(ctx),
        InvalidInputError,
        "out_dir",
    ),
    expect(
        "router-fit-max-length-above-positions",
        lambda ctx: Router.fit(TEXTS, TIERS, encoder=bare_encoder(ctx), max_length=1000, sessions=1),
        ModelLoadError,
        "model.max_length",
    ),
    expect(
        "router-fit-encoder-model-escapes",
        fit_with(lambda c, _d: c["model"].update(file="../x")),
        ModelLoadError,
        "model.file",
    ),
    expect(
        "router-fit-encoder-tokenizer-absolute",
        fit_with(lambda c, _d: c["model"].update(tokenizer="/etc/passwd")),
        ModelLoadError,
        "model.tokenizer",
    ),
    behaves(
        "router-fit-out-dir-canonical-names",
        fit_canonical_names,
        lambda r, _c: (
            r[0] + ["out"] == r[1]
            and r[2] == sorted([*ROUTER_FILES, "tail_index.bin"])  # the tail index (issue 15)
            and (r[3]["file"], r[3]["tokenizer"]) == ("model.onnx", "tokenizer.json")
        ),
    ),
    # -- Router.save ---------------------------------------------------------------------------
    expect("router-save-none", lambda ctx: ctx.router.save(None), InvalidInputError, "path"),
    expect("router-save-int", lambda ctx: ctx.router.save(5), InvalidInputError, "path"),
    expect("router-save-empty", lambda ctx: ctx.router.save(""), InvalidInputError, "path"),
    expect(
        "router-save-over-a-file",
        lambda ctx: ctx.router.save(ctx.default_dir / "router.json"),
        InvalidInputError,
        "path",
    ),
    behaves(
        "router-save-model-symlink-not-followed", save_over_link("model.onnx"), victim_intact("model.onnx")
    ),
    behaves(
        "router-save-tokenizer-symlink-not-followed",
        save_over_link("tokenizer.json"),
        victim_intact("tokenizer.json"),
    ),
    behaves(
        "router-save-router-json-symlink-not-followed",
        save_over_link("router.json"),
        victim_intact("router.json"),
    ),
    behaves(
        "router-save-guard-json-symlink-not-followed",
        save_over_link("guard.json"),
        victim_intact("guard.json"),
    ),
    expect("router-save-guard-dir-symlink-outside", save_guard_link, InvalidInputError, "path", "outside"),
]
