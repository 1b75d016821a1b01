"""Training: the loop (loop.py), resume state (state.py), distributed data parallel
(distributed.py), gradients (gradients.py), devices and compilation (device.py), batch
prefetching (prefetch.py) and callbacks (callbacks.py)."""
