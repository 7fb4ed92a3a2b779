"""The router's Python API on the real default router (all-MiniLM-L6-v2 int8 + BANKING77 head)."""

from __future__ import annotations

import json
import multiprocessing as mp
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import tierscope
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tierscope import Decision, RouteBatch, Router, _core
from tierscope.data import banking77, tier_map


def test_route_returns_a_calibrated_decision(router: Router) -> None:
    d = router.route("I think someone stole my card and is using it")
    assert isinstance(d, Decision)
    assert d.tier in router.tiers and router.tiers == ("cheap", "capable")
    assert d.tier == "capable" and not d.fallback and d.reason is None
    assert abs(sum(d.probabilities.values()) - 1.0) < 1e-5
    assert d.confidence == pytest.approx(max(d.probabilities.values()), abs=1e-6)
    assert 0.0 <= d.tail_score <= 1.0
    assert router.route("How do I activate my new card?").tier == "cheap"


def test_default_router_metrics_are_recorded(router: Router) -> None:
    m = router.metrics
    assert m["banking77_test_accuracy"] > 0.85
    assert m["banking77_test_ece"] < 0.05
    assert np.sum(m["banking77_test_confusion"]) == 3080
    assert m["int8_fp32_tier_agreement"] >= 0.995
    ref = router.reference
    assert ref is not None and sum(ref["confidence_counts"]) == ref["n"] == 10003


def test_the_model_under_test_was_built_and_checked_on_this_cpu(router: Router) -> None:
    """The agreement above is the one measured on this machine's CPU class, not copied from another."""
    from tierscope._runtime import cpu_info

    checks = router.config["provenance"]["checks"]
    here = cpu_info()
    assert checks["checked_on"]["isa"] == here["isa"], "models/ was built on another CPU: rerun `make model`"
    assert checks["checked_on"]["features"] == here["features"]
    assert checks["int8_fp32_tier_agreement"] == router.metrics["int8_fp32_tier_agreement"]
    assert checks["int8_fp32_tier_agreement"] >= checks["min_tier_agreement"] == 0.995
    assert checks["batch_independence_max_diff"] <= 1e-5


def test_default_router_agrees_with_the_fp32_router_now(
    router: Router, fp32_dir: Path, queries: list[str]
) -> None:
    """Measured again in this test run, on this CPU: the shipped router's tiers vs the fp32 router's."""
    fp32 = Router.load(fp32_dir)
    ours = router.route_batch(queries)
    assert (ours.tier_index == fp32.route_batch(queries).tier_index).mean() >= 0.995
    assert ours.guarded is None  # shipped without the fp32 guard (tierscope.models.default_router)


def test_precision_guard_redecides_only_close_calls(
    guarded_router: Router, fp32_dir: Path, queries: list[str]
) -> None:
    router = guarded_router
    guard = router.guard
    assert guard is not None and 0.0 < guard["margin"] < 0.25
    texts = queries[:600]
    guarded = router.route_batch(texts, with_embeddings=True)
    int8 = Router.load(router.path, guard=False).route_batch(texts, with_embeddings=True)
    fp32 = Router.load(fp32_dir).route_batch(texts, with_embeddings=True)
    assert int8.guarded is None and guarded.guarded is not None
    top_two = np.sort(int8.probabilities, axis=1)[:, -2:]
    close = (top_two[:, 1] - top_two[:, 0]) < 2 * guard["margin"]
    # Issue 15: rows whose tail score is within the guard's tail_margin of the tail threshold
    # (decided, or sent to the fallback tier by it) are re-decided too.
    reasons = np.array(int8.reason, dtype=object)
    eligible = np.array([r is None or r == "off_distribution" for r in reasons])
    gap = np.abs(np.nan_to_num(int8.tail_score, nan=-9.0) - router.config["thresholds"]["max_tail_score"])
    near_tail = eligible & (gap < guard.get("tail_margin", 0.0))
    np.testing.assert_array_equal(guarded.guarded, (close & ~int8.fallback) | near_tail)
    g = guarded.guarded
    # Guarded rows are the fp32 router's rows; the others are the int8 router's, untouched.
    np.testing.assert_array_equal(guarded.probabilities[g], fp32.probabilities[g])
    np.testing.assert_array_equal(guarded.probabilities[~g], int8.probabilities[~g])
    assert guarded.embeddings is not None and fp32.embeddings is not None and int8.embeddings is not None
    np.testing.assert_array_equal(guarded.embeddings[g], fp32.embeddings[g])
    np.testing.assert_array_equal(guarded.tail_score[~g], int8.tail_score[~g])
    first = int(np.flatnonzero(g)[0])
    assert guarded[first].guarded and not guarded[int(np.flatnonzero(~g)[0])].guarded
    assert router.route(texts[first]).guarded
    assert "guarded" in guarded.to_pandas().columns


def test_router_with_guard_saves_and_reloads(
    guarded_router: Router, tmp_path: Path, queries: list[str]
) -> None:
    router = guarded_router
    router.save(tmp_path / "copy")
    again = Router.load(tmp_path / "copy")
    assert again.guard == router.guard
    a, b = again.route_batch(queries[:200]), router.route_batch(queries[:200])
    np.testing.assert_array_equal(a.probabilities, b.probabilities)
    assert a.guarded is not None and b.guarded is not None
    np.testing.assert_array_equal(a.guarded, b.guarded)


def test_a_bad_guard_file_is_a_clear_error(guarded_router: Router, tmp_path: Path) -> None:
    from tierscope.exceptions import InvalidInputError, ModelLoadError

    guarded_router.save(tmp_path / "r")
    (tmp_path / "r" / "guard.json").write_text(json.dumps({"router": "../elsewhere", "margin": 0.1}))
    with pytest.raises(ModelLoadError, match="subdirectory"):
        Router.load(tmp_path / "r")
    (tmp_path / "r" / "guard.json").write_text(json.dumps({"router": "guard", "margin": 0.7}))
    with pytest.raises(InvalidInputError, match="margin"):
        Router.load(tmp_path / "r")
    assert Router.load(tmp_path / "r", guard=False).guard is None


def test_batch_columns_are_in_input_order(router: Router, queries: list[str]) -> None:
    texts = queries[:200]
    batch = router.route_batch(texts)
    assert isinstance(batch, RouteBatch) and len(batch) == 200
    assert batch.probabilities.shape == (200, 2) and batch.probabilities.dtype == np.float32
    reversed_batch = router.route_batch(texts[::-1])
    np.testing.assert_allclose(reversed_batch.probabilities[::-1], batch.probabilities, atol=1e-5)
    assert list(batch.tier[:3]) == [batch[i].tier for i in range(3)]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_decision_does_not_depend_on_the_batch(
    router: Router, queries: list[str], data: st.DataObject
) -> None:
    probe_index = data.draw(st.integers(0, len(queries) - 1))
    others = data.draw(st.lists(st.integers(0, len(queries) - 1), min_size=1, max_size=80))
    position = data.draw(st.integers(0, len(others)))
    batch_texts = [queries[i] for i in others]
    batch_texts.insert(position, queries[probe_index])
    alone = router.route(queries[probe_index])
    mixed = router.route_batch(batch_texts)[position]
    assert mixed.tier == alone.tier
    for tier in router.tiers:
        assert abs(mixed.probabilities[tier] - alone.probabilities[tier]) <= 1e-5
    assert abs(mixed.tail_score - alone.tail_score) <= 1e-4


def test_embeddings_are_unit_vectors_on_request(router: Router, queries: list[str]) -> None:
    batch = router.route_batch(queries[:10], with_embeddings=True)
    assert batch.embeddings is not None and batch.embeddings.shape == (10, 384)
    np.testing.assert_allclose(np.linalg.norm(batch.embeddings, axis=1), 1.0, atol=1e-5)
    assert router.route_batch(queries[:3]).embeddings is None


def test_to_pandas_and_to_arrow(router: Router, queries: list[str]) -> None:
    batch = router.route_batch(queries[:5])
    df = batch.to_pandas()
    assert list(df.columns[:4]) == ["tier", "tier_index", "p_cheap", "p_capable"]
    table = batch.to_arrow()
    assert table.num_rows == 5 and table.column("tier").to_pylist() == list(batch.tier)


# -- bad and odd inputs -------------------------------------------------------------------------


def test_empty_and_whitespace_text_go_to_the_fallback_tier(router: Router) -> None:
    # Issue 15 changed this deliberately: empty text used to route normally (cheap at 0.94).
    for text in ["", "   \t\n ", "\0\0", "\x01\x7f"]:
        d = router.route(text)
        assert d.fallback and d.tier == router.fallback_tier and d.reason == "empty_text", repr(text)
        assert d.tokens == 0 and np.isnan(d.confidence) and np.isnan(d.tail_score)


def test_megabyte_string_is_truncated_and_flagged(router: Router) -> None:
    d = router.route("my card payment was declined " * 40_000)
    assert d.truncated and d.tokens == 128 and d.content_discarded
    # 128 tokens of one repeated phrase are nothing like the training queries (issue 15).
    assert not d.fallback or d.reason == "off_distribution"


def test_content_discarded_is_reported_per_row(router: Router) -> None:
    texts = ["x" * 1_000_000, "", "how do I top up my card", "my card " * 100]
    batch = router.route_batch(texts)
    # The empty text never reaches the model (issue 15): it is not "discarded content" but no
    # content, sent to the fallback tier as empty_text.
    assert list(batch.content_discarded) == [True, False, False, False]
    assert list(batch.truncated) == [True, False, False, True]
    assert [d.content_discarded for d in batch] == [True, False, False, False]
    assert "content_discarded" in batch.to_pandas().columns
    # Reported, not acted on: no fallback for the texts with content (a megabyte of "x" is
    # off-distribution, which is the tail threshold acting, not the flag).
    assert list(batch.fallback[1:3]) == [True, False] and batch.reason[1] == "empty_text"
    assert batch.reason[0] in (None, "off_distribution") and batch.reason[3] in (None, "off_distribution")


@pytest.mark.parametrize(
    ("texts", "needle"),
    [
        (["ok", None], "texts[1]"),
        (["ok", 3], "`texts[1]`: expected a string, got 3"),
        ("a single string", "single str"),
        (42, "texts"),
    ],
)
def test_bad_batch_arguments_raise_invalid_input(router: Router, texts: object, needle: str) -> None:
    with pytest.raises(tierscope.InvalidInputError, match=None) as info:
        router.route_batch(texts)  # type: ignore[arg-type]
    assert needle in str(info.value)
    assert isinstance(info.value, ValueError)


def test_route_rejects_non_str(router: Router) -> None:
    with pytest.raises(tierscope.InvalidInputError, match="`text`: expected a string, got None"):
        router.route(None)  # type: ignore[arg-type]


def test_lone_surrogates_are_a_clear_error(router: Router) -> None:
    with pytest.raises(tierscope.InvalidInputError, match=r"texts\[0\].*UTF-8"):
        router.route_batch(["\ud800 broken"])
    with pytest.raises(tierscope.InvalidInputError, match=r"texts\[2\].*lone surrogate"):
        router.route_batch(["fine", "also fine", "x\udfff"])


def test_empty_list_gives_an_empty_batch(router: Router) -> None:
    batch = router.route_batch([])
    assert len(batch) == 0 and batch.probabilities.shape == (0, 2)


def test_missing_directory_is_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="router directory not found") as info:
        Router.load(tmp_path / "nope")
    assert isinstance(info.value, tierscope.TierscopeError)


def _copy_router(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def test_corrupt_model_is_a_model_load_error(default_dir: Path, tmp_path: Path) -> None:
    d = _copy_router(default_dir, tmp_path / "r")
    (d / "model.onnx").write_bytes(b"\x08\x07not really onnx" * 100)
    with pytest.raises(tierscope.ModelLoadError, match="model.onnx"):
        Router.load(d)


def test_tokenizer_with_a_larger_vocabulary_is_rejected(default_dir: Path, tmp_path: Path) -> None:
    d = _copy_router(default_dir, tmp_path / "r")
    tok = json.loads((d / "tokenizer.json").read_text())
    vocab = tok["model"]["vocab"]
    for i in range(5000):
        vocab[f"zzextra{i}"] = len(vocab)
    (d / "tokenizer.json").write_text(json.dumps(tok))
    with pytest.raises(tierscope.ModelLoadError, match="vocabulary"):
        Router.load(d)


def test_tokenizer_mismatch_is_caught_even_without_a_recorded_vocab_size(
    default_dir: Path, tmp_path: Path
) -> None:
    d = _copy_router(default_dir, tmp_path / "r")
    config = json.loads((d / "router.json").read_text())
    config["model"]["vocab_size"] = None
    (d / "router.json").write_text(json.dumps(config))
    tok = json.loads((d / "tokenizer.json").read_text())
    for i in range(5000):
        tok["model"]["vocab"][f"zzextra{i}"] = len(tok["model"]["vocab"])
    (d / "tokenizer.json").write_text(json.dumps(tok))
    # The ONNX graph's embedding table (30522 rows) is read at load: caught before any inference.
    with pytest.raises(tierscope.ModelLoadError, match="tokenizer.json.*35522.*30522"):
        Router.load(d)


@pytest.mark.parametrize(
    ("edit", "needle"),
    [
        (lambda c: c.update(extra_field=1), "extra_field"),
        (lambda c: c.pop("tiers"), "tiers"),
        (lambda c: c.update(tiers=["cheap"]), "`tiers`"),
        (lambda c: c["calibration"].update(temperature=-1.0), "calibration.temperature"),
        (lambda c: c["head"]["weights"].pop(), "head.weights"),
    ],
)
def test_bad_router_json_names_the_field(default_dir: Path, tmp_path: Path, edit, needle: str) -> None:  # type: ignore[no-untyped-def]
    d = _copy_router(default_dir, tmp_path / "r")
    config = json.loads((d / "router.json").read_text())
    edit(config)
    (d / "router.json").write_text(json.dumps(config))
    with pytest.raises(tierscope.ModelLoadError, match="router.json") as info:
        Router.load(d)
    assert needle in str(info.value)


def test_thread_budget_is_enforced(default_dir: Path) -> None:
    import os

    cores = os.cpu_count() or 1
    with pytest.raises(tierscope.InvalidInputError, match="sessions × intra_threads"):
        Router.load(default_dir, sessions=cores, intra_threads=2)


def test_missing_onnxruntime_library_is_a_clear_error(tmp_path: Path, default_dir: Path) -> None:
    import subprocess
    import sys

    code = (
        "import tierscope\n"
        "try:\n"
        f"    tierscope.Router.load({str(default_dir)!r})\n"
        "except tierscope.RuntimeUnavailableError as e:\n"
        "    print('OK', e)\n"
    )
    env = {**__import__("os").environ, "TIERSCOPE_ORT_DYLIB": str(tmp_path / "libonnxruntime.so.1.99.0")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.stdout.startswith("OK"), out.stderr
    assert "pip install onnxruntime" in out.stdout


# -- fail-safe ----------------------------------------------------------------------------------


def test_low_confidence_threshold_sends_queries_to_the_capable_tier(
    default_dir: Path, tmp_path: Path
) -> None:
    d = _copy_router(default_dir, tmp_path / "r")
    config = json.loads((d / "router.json").read_text())
    config["thresholds"]["min_confidence"] = 0.999
    (d / "router.json").write_text(json.dumps(config))
    strict = Router.load(d)
    texts, _ = banking77("test")
    batch = strict.route_batch(texts[:300])
    low = batch.confidence < 0.999
    assert low.any()
    assert np.all(batch.tier[low] == "capable") and np.all(batch.fallback[low])
    assert all("min_confidence" in (batch.reason[i] or "") for i in np.flatnonzero(low))


def _nan_model(path: Path) -> None:
    """A sequence-classification model whose logits are NaN for inputs of fewer than 4 tokens (a
    one-word text: the empty text no longer reaches the model, issue 15)."""
    import onnx
    from onnx import TensorProto, helper

    nodes = [
        helper.make_node("Cast", ["attention_mask"], ["mask_f"], to=TensorProto.FLOAT),
        helper.make_node("ReduceSum", ["mask_f", "axis1"], ["count"], keepdims=1),
        helper.make_node("Sub", ["count", "three"], ["shifted"]),
        helper.make_node("Log", ["shifted"], ["first"]),
        helper.make_node("Mul", ["count", "zero"], ["second"]),
        helper.make_node("Concat", ["first", "second"], ["logits"], axis=1),
    ]
    inits = [
        helper.make_tensor("axis1", TensorProto.INT64, [1], [1]),
        helper.make_tensor("three", TensorProto.FLOAT, [], [4.0]),
        helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0]),
    ]
    graph = helper.make_graph(
        nodes,
        "nan_for_short_inputs",
        [
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["b", "s"]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["b", "s"]),
        ],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["b", 2])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))


def test_a_failing_query_falls_back_alone(default_dir: Path, tmp_path: Path) -> None:
    d = tmp_path / "nan"
    d.mkdir()
    _nan_model(d / "model.onnx")
    shutil.copyfile(default_dir / "tokenizer.json", d / "tokenizer.json")
    config = {
        "format_version": 1,
        "tiers": ["cheap", "capable"],
        "model": {"kind": "sequence_classification", "output": "logits", "max_length": 64},
    }
    (d / "router.json").write_text(json.dumps(config))
    r = Router.load(d)
    batch = r.route_batch(["where is my card", "card", "what is the exchange rate today"])
    assert list(batch.fallback) == [False, True, False]
    assert batch[1].tier == "capable" and "non-finite" in (batch[1].reason or "")
    assert np.isnan(batch.confidence[1]) and not np.isnan(batch.confidence[0])
    assert r.route("card").fallback and r.route("").reason == "empty_text"


def test_sequence_classification_model_matches_the_encoder_router(fp32_dir: Path, tmp_path: Path) -> None:
    from tierscope.models.encoder_export import build_sequence_classification_onnx

    enc = Router.load(fp32_dir)
    config = enc.config
    d = tmp_path / "seqcls"
    d.mkdir()
    build_sequence_classification_onnx(
        fp32_dir / "model.onnx",
        np.array(config["head"]["weights"], dtype=np.float32),
        np.array(config["head"]["bias"], dtype=np.float32),
        d / "model.onnx",
    )
    shutil.copyfile(fp32_dir / "tokenizer.json", d / "tokenizer.json")
    seq_config = {
        "format_version": 1,
        "tiers": config["tiers"],
        "model": {"kind": "sequence_classification", "output": "logits", "max_length": 128},
        "calibration": config["calibration"],
    }
    (d / "router.json").write_text(json.dumps(seq_config))
    seq = Router.load(d)
    texts, _ = banking77("test")
    a = enc.route_batch(texts[:64])
    b = seq.route_batch(texts[:64])
    np.testing.assert_allclose(a.probabilities, b.probabilities, atol=1e-4)
    assert np.all(np.isnan(b.tail_score))


# -- threads, GIL, fork, panics -----------------------------------------------------------------


def test_gil_is_released_during_route_batch(default_dir: Path, queries: list[str]) -> None:
    r = Router.load(default_dir, sessions=1)
    stop = threading.Event()
    counter = [0]

    def spin() -> None:
        while not stop.is_set():
            counter[0] += 1

    texts = queries[:600]
    r.route_batch(texts[:10])
    t = threading.Thread(target=spin)
    t.start()
    time.sleep(0.05)
    try:
        before = counter[0]
        start = time.perf_counter()
        r.route_batch(texts)
        elapsed = time.perf_counter() - start
        during = counter[0] - before
    finally:
        stop.set()
        t.join()
    # With the GIL held for the whole call the spinning thread could not advance at all.
    assert elapsed > 0.1
    assert during > 50_000, f"only {during} Python iterations ran during a {elapsed:.2f}s route_batch"


def test_detached_helper_lets_threads_overlap() -> None:
    threads = [threading.Thread(target=_core._sleep_detached, args=(0.4,)) for _ in range(4)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert time.perf_counter() - start < 1.2


def test_sixteen_threads_get_the_sequential_results(router: Router, queries: list[str]) -> None:
    chunks = [queries[i * 20 : (i + 1) * 20] for i in range(16)]
    sequential = [router.route_batch(c).probabilities for c in chunks]
    results: list[np.ndarray | None] = [None] * 16
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            results[i] = router.route_batch(chunks[i]).probabilities
        except BaseException as e:  # noqa: BLE001 - surfaced below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors
    for seq, par in zip(sequential, results, strict=True):
        assert par is not None
        np.testing.assert_allclose(par, seq, atol=1e-6)


def _route_in_child(router: Router, text: str, queue: mp.Queue) -> None:  # type: ignore[type-arg]
    try:
        queue.put(("ok", router.route(text).tier, router.route_batch([text, text + "?"]).tier.tolist()))
    except BaseException as e:  # noqa: BLE001 - reported to the parent
        queue.put(("error", repr(e), []))


def test_forked_child_can_route(router: Router, queries: list[str]) -> None:
    router.route_batch(queries[:50])  # make sure the parent's threads and sessions exist
    parent = router.route(queries[0]).tier
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_route_in_child, args=(router, queries[0], queue))
    child.start()
    child.join(timeout=120)
    if child.is_alive():
        child.kill()
        pytest.fail("the forked child hung while routing")
    status, tier, batch_tiers = queue.get(timeout=5)
    assert status == "ok", tier
    assert tier == parent and batch_tiers[0] == parent


def test_a_rust_panic_never_reaches_python_as_a_panic() -> None:
    with pytest.raises(tierscope.InternalError, match="deliberate test panic"):
        _core._panic_for_test()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    texts=st.lists(
        st.one_of(
            st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=300),
            st.sampled_from(
                ["\x00", "\u202e\u200b", "🙂" * 500, "[CLS] [SEP] [PAD] [MASK]", "\ufeff", " " * 10_000]
            ),
        ),
        max_size=12,
    )
)
def test_hostile_inputs_always_yield_decisions(router: Router, texts: list[str]) -> None:
    batch = router.route_batch(texts)
    assert len(batch) == len(texts)
    assert all(t in router.tiers for t in batch.tier)
    ok = ~batch.fallback
    assert np.all(np.isfinite(batch.probabilities[ok]))


# -- training -----------------------------------------------------------------------------------


def _small_training_set() -> tuple[list[str], list[str]]:
    texts, intents = banking77("train")
    mapping = tier_map()
    rng = np.random.default_rng(3)
    idx = rng.choice(len(texts), size=400, replace=False)
    return [texts[i] for i in idx], [mapping[intents[i]] for i in idx]


def test_fit_is_deterministic_and_round_trips(default_dir: Path, tmp_path: Path) -> None:
    texts, tiers = _small_training_set()
    a = Router.fit(texts, tiers, encoder=default_dir, seed=7, out_dir=tmp_path / "a")
    b = Router.fit(texts, tiers, encoder=default_dir, seed=7)
    assert a.config["head"] == b.config["head"]
    assert a.config["calibration"] == b.config["calibration"]
    m = a.metrics
    assert 0.6 < m["holdout_accuracy"] <= 1.0 and m["n_holdout"] == 80 and m["n_train"] == 320
    assert 0 <= m["holdout_ece"] < 0.2
    reloaded = Router.load(tmp_path / "a")
    probe = ["my card was charged twice", "how do I top up"]
    np.testing.assert_allclose(
        reloaded.route_batch(probe).probabilities, b.route_batch(probe).probabilities, atol=1e-6
    )
    saved = json.loads((tmp_path / "a" / "router.json").read_text())
    # The tail score is the kNN index now (issue 15): its LOO quantiles, no v1 `tail` section.
    assert saved["reference"]["n"] == 400 and len(saved["novelty"]["distance_quantiles"]) == 1001
    assert saved.get("tail") is None


def test_fit_with_custom_tiers_needs_an_order(default_dir: Path) -> None:
    texts = ["a", "b", "c", "d"]
    with pytest.raises(tierscope.InvalidInputError, match="tier_order"):
        Router.fit(texts, ["x", "y", "x", "y"], encoder=default_dir)


@pytest.mark.parametrize(
    ("texts", "tiers", "needle"),
    [
        (["a", "b", "c"], ["cheap", "capable"], "one tier label per text"),
        (["a", "b", "c"], ["cheap", "cheap", "capable"], "at least 2 examples"),
        (["a", "b", "c", "d"], ["cheap", "capable", "cheap", "premium"], "tiers[3]"),
        ([], [], "tier_order"),
    ],
)
def test_fit_rejects_bad_labels(default_dir: Path, texts: list[str], tiers: list[str], needle: str) -> None:
    with pytest.raises(tierscope.InvalidInputError) as info:
        Router.fit(
            texts,
            tiers,
            encoder=default_dir,
            tier_order=["cheap", "capable"] if needle != "tier_order" else None,
        )
    assert needle in str(info.value)


def test_fit_rejects_a_missing_encoder(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="model file not found"):
        Router.fit(["a", "b", "c", "d"], ["cheap", "capable"] * 2, encoder=tmp_path)
