"""benchmarks/langid.py: the rare-word protocol's split is what it says, the tables compare each
row with the best baseline of its own seed, and the script runs (a tiny zoo-only smoke run;
nothing is timed here)."""
import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "langid.py"


@pytest.fixture
def bench(monkeypatch):
    spec = importlib.util.spec_from_file_location("bench_langid", BENCH)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setattr(sys, "path", list(sys.path))  # the script adds benchmarks/ for _timing
    spec.loader.exec_module(module)
    return module


def test_rare_protocol_trains_on_top_words_and_tests_on_a_rarer_band_of_one_language(bench):
    from wordfreq import available_languages, top_n_list

    splits = bench.load_rare(seed=0, words_per_language=30, band=(100, 400), per_language=4)
    langs = sorted(available_languages("best"))
    lists = {lang: top_n_list(lang, 400) for lang in langs}
    train, valid, test = (set(zip(p.texts, p.labels)) for p in (splits.train, splits.valid, splits.test))
    words = [{w for w, _ in part} for part in (train, valid, test)]
    assert not (words[0] & words[1] or words[0] & words[2] or words[1] & words[2])  # word-disjoint
    assert all(w in lists[lang][:30] for w, lang in train)
    for w, lang in valid | test:
        assert w in lists[lang][100:]  # the rare band of its own language
        assert not any(w in lists[other] for other in langs if other != lang)  # and in no other list
    for part in (splits.valid, splits.test):  # per_language words of every language
        assert sorted(set(part.labels)) == langs and len(part) == 4 * len(langs)
    again = bench.load_rare(seed=0, words_per_language=30, band=(100, 400), per_language=4)
    assert again.test.texts == splits.test.texts  # a seed gives the same split
    assert bench.load_rare(seed=1, words_per_language=30, band=(100, 400), per_language=4).test.texts != \
        splits.test.texts


def test_tables_measure_every_row_against_the_best_baseline_of_its_seed(bench):
    class Args:
        words, rare_band, rare_per_language, threads = 30, [100, 400], 4, 1

    fast = next(iter(bench.BASELINES))
    rows = [dict(name=bench.ZOO, seed=0, valid=0.5, test=0.70, f1=0.6, seconds=4.0, cpu=2.0, params=10),
            dict(name=fast, seed=0, valid=0.5, test=0.60, f1=0.6, seconds=2.0, cpu=1.0, params=10),
            dict(name="svm", seed=0, valid=0.5, test=0.65, f1=0.6, seconds=1.0, cpu=1.0, params=10),
            dict(name=bench.ZOO, seed=1, valid=0.5, test=0.50, f1=0.6, seconds=2.0, cpu=3.0, params=10),
            dict(name=fast, seed=1, valid=0.5, test=0.60, f1=0.6, seconds=2.0, cpu=1.0, params=10),
            dict(name="svm", seed=1, valid=0.5, test=0.55, f1=0.6, seconds=1.0, cpu=1.0, params=10)]
    text = "\n".join(bench.table("rare", rows, (1, 2, 3), Args, []))
    assert f"| {bench.ZOO} | 0 | 0.5000 | 0.7000 | 0.6000 | 4.0 | 2.0 | 10 | +5.00 | 2.00 | 2.00 |" in text
    assert f"| {bench.ZOO} | 1 | 0.5000 | 0.5000 | 0.6000 | 2.0 | 3.0 | 10 | -10.00 | 1.00 | 3.00 |" in text
    assert "| svm | 1 | 0.5000 | 0.5500 | 0.6000 | 1.0 | 1.0 | 10 | -5.00 | 0.50 | 1.00 |" in text
    # the mean: zoo 0.60 over both seeds, margins +5 and -10; it beats the svm on 1 of 2 seeds
    assert f"| {bench.ZOO} | 0.6000 | 0.5000 - 0.7000 | 3.0 | 1.50 | 2.50 | -2.50; -10.00 | - |" in text
    assert "| svm | 0.6000 | 0.5500 - 0.6500 | 1.0 | 0.50 | 1.00 | -2.50; -5.00 | 1 of 2 |" in text


def test_benchmark_runs_zoo_only_on_both_protocols(bench, tmp_path):
    out = tmp_path / "langid.md"
    bench.main(["--protocol", "split", "rare", "--words", "100", "--rare-band", "200", "400",
                "--rare-per-language", "2", "--zoo-only", "--variant", "small", "dim=8", "--out", str(out),
                "train.epochs=1", "train.plots=false", "embed.num_bits=4096"])
    text = out.read_text()
    assert "**Split protocol**" in text and "**Rare-word protocol**" in text
    assert text.count(f"| {bench.ZOO} | 0 |") == 2 and text.count("| zoo small | 0 |") == 2
    assert "zoo small: the same plus `dim=8`" in text
