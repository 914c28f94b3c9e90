"""Smoke test of examples/plot_probabilities.py (text mode, no matplotlib)."""

import os
import subprocess
import sys

import pytest

import aether
from conftest import ROOT, data_path

SCRIPT = os.path.join(ROOT, "examples", "plot_probabilities.py")
# Hide matplotlib even where it is installed: the example must fall back.
NO_MPL = ("import runpy, sys; sys.modules['matplotlib'] = None; sys.argv = sys.argv[1:]; "
          "runpy.run_path(sys.argv[0], run_name='__main__')")


def _env():
    env = dict(os.environ)
    env["AETHER_LIB"] = aether.lib_path
    env["PYTHONPATH"] = os.pathsep.join(
        [os.path.dirname(os.path.dirname(aether.__file__))] +
        [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    return env


def _run(*args, tmp_path):
    if not os.path.exists(SCRIPT):
        pytest.skip("examples/ not present")
    r = subprocess.run([sys.executable, "-c", NO_MPL, SCRIPT] + list(args), cwd=str(tmp_path),
                       env=_env(), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def test_example_text_table_demo_model(tmp_path):
    out = _run(data_path("esp32-raw-2node.csi.jsonl"), "--limit", "300", "--rows", "5",
               tmp_path=tmp_path)
    assert "t (s)  class 0  class 1  class 2  class 3" in out
    assert "300 frames used (node" in out
    counts = out.strip().splitlines()[-1]
    assert counts.startswith("argmax counts:")
    assert sum(int(x.split(":")[1]) for x in counts.split()[2:]) == 300
    assert not os.path.exists(os.path.join(str(tmp_path), "probabilities.png"))


def test_example_with_blob_file_all_nodes(tmp_path):
    blob = tmp_path / "demo.rvne"
    aether.Blob.demo().save(blob)
    out = _run(data_path("amplitude-features.csi.jsonl"), "--blob", str(blob), "--node", "all",
               tmp_path=tmp_path)
    assert "253 frames used (node all)" in out


def test_example_png_when_matplotlib_available(tmp_path):
    pytest.importorskip("matplotlib")
    r = subprocess.run([sys.executable, SCRIPT, data_path("amplitude-features.csi.jsonl"),
                        "--out", "p.png"], cwd=str(tmp_path), env=_env(),
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "p.png").stat().st_size > 1000
