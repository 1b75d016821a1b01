"""The mixer benchmark stays runnable (a smoke run at tiny lengths; nothing is timed here)."""
import importlib.util
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "mixers.py"


def test_benchmark_runs_and_reports_ratios_and_targets(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("bench_mixers", BENCH)
    bench = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "bench_mixers", bench)  # dataclasses look their module up
    monkeypatch.setattr(sys, "path", list(sys.path))  # the script adds benchmarks/ for _timing
    monkeypatch.setenv("GOMP_SPINCOUNT", "10000")  # the script sets it; undone after the test
    spec.loader.exec_module(bench)
    out = tmp_path / "table.md"
    assert bench.main(["--lengths", "8,16", "--repeats", "1", "--no-peers", "--only", "lambda,fnet,gmlp",
                       "--threads", "1", "--system-malloc", "--out", str(out)]) == 0
    text = out.read_text()
    assert "| SDPA | torch |" in text and "(1.00x)" in text
    assert "| lambda | zoo |" in text and "| gmlp | zoo |" in text
    assert "lambda fwd+bwd" not in text  # only reported when N=512 was measured
    assert "## Targets" in text and "- lambda:" in text
