"""Model backends: the only package that imports torch, transformers or onnxruntime."""
