"""Shared test helpers: run the real ``zoo`` CLI in a subprocess."""
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ZOO = [sys.executable, "-m", "zoo_cli"]


def run_zoo(*args, env=None, input=None, cwd=None, timeout=300):
    full_env = {**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "200", **(env or {})}
    return subprocess.run([*ZOO, *map(str, args)], capture_output=True, text=True, env=full_env, input=input,
                          cwd=cwd, timeout=timeout)


def write_tsv(path: Path, rows, header="text\tlabel") -> Path:
    path.write_text(header + "\n" + "\n".join(f"{t}\t{l}" for t, l in rows) + "\n", encoding="utf-8")
    return path


def make_dist(root: Path, name: str, module: str, files: dict[str, str], version: str = "1.0") -> Path:
    """Source tree of a real distribution with a ``zoo`` entry point naming ``module``."""
    src = root / name
    (src / module).mkdir(parents=True)
    for fname, text in files.items():
        (src / module / fname).write_text(textwrap.dedent(text))
    (src / "pyproject.toml").write_text(textwrap.dedent(f'''
        [build-system]
        requires = ["setuptools>=64"]
        build-backend = "setuptools.build_meta"
        [project]
        name = "{name}"
        version = "{version}"
        [project.entry-points.zoo]
        {module} = "{module}"
        [tool.setuptools]
        packages = ["{module}"]
    '''))
    return src


def pip_install_target(target: Path, *sources) -> Path:
    """pip-install distributions (no deps, no build isolation) into a folder for PYTHONPATH."""
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                    "--target", str(target), *map(str, sources)], check=True, capture_output=True)
    return target


PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def is_png(path) -> bool:
    data = path.read_bytes()
    return data[:8] == PNG_MAGIC and len(data) > 2000


def zoo_in_process(capsys, *args) -> tuple[int, str, str]:
    """The real CLI entry point, in this process (a subprocess costs seconds of imports)."""
    from zoo_cli.main import main

    try:
        main([str(a) for a in args])
        code = 0
    except SystemExit as e:
        code = e.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def write_tiny_langid_tsv(path: Path) -> Path:
    """21 words of English, German and Finnish, each four times: a task a model memorises."""
    rows = [(w, lang) for lang, words in (("en", ["the", "house", "water", "friend", "night", "green", "would"]),
                                          ("de", ["das", "haus", "wasser", "freund", "nacht", "grün", "würde"]),
                                          ("fi", ["talo", "vesi", "ystävä", "yö", "vihreä", "olisi", "että"]))
            for w in words]
    return write_tsv(path, rows * 4)
