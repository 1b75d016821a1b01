"""The training loop's companions: callbacks (gradient flow, curves, TensorBoard)."""
