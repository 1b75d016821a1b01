from ..diagnostics import callbacks_for  # noqa: F401  (temporary until the tools split lands)
