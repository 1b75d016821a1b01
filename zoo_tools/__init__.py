"""Tools built on zoo_core: ``zoo doctor`` (doctor), attention explanations (explain), ONNX
and TorchScript export (export) and ``zoo new-plugin`` (scaffold, with its templates/).
Nothing here is imported by the core; each module imports what it needs."""
