"""Shared test helpers: run the real ``zoo`` CLI in a subprocess."""
import os
import subprocess
import sys
from pathlib import Path

ZOO = [sys.executable, "-m", "zoo_cli"]


def run_zoo(*args, env=None, input=None, cwd=None, timeout=300):
    full_env = {**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "200", **(env or {})}
    return subprocess.run([*ZOO, *map(str, args)], capture_output=True, text=True, env=full_env, input=input,
                          cwd=cwd, timeout=timeout)


def write_tsv(path: Path, rows, header="text\tlabel") -> Path:
    path.write_text(header + "\n" + "\n".join(f"{t}\t{l}" for t, l in rows) + "\n", encoding="utf-8")
    return path
