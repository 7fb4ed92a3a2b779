//! Locating and initialising the ONNX Runtime shared library.
