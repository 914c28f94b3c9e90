"""Shared fixtures: golden/data directories and the reference kernel mode."""

import json
import os

import numpy as np
import pytest

import aether

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GOLDEN = os.environ.get("AETHER_GOLDEN_DIR", os.path.join(ROOT, "..", "shared", "golden"))
DATA = os.environ.get("AETHER_DATA_DIR", os.path.join(ROOT, "..", "shared", "data"))


@pytest.fixture(scope="session", autouse=True)
def reference_kernels():
    """Goldens are bit-exact with the scalar reference path only."""
    aether.set_kernel_mode("reference")
    yield
    aether.set_kernel_mode("auto")


def golden_dir():
    if not os.path.isdir(GOLDEN):
        pytest.skip("golden vectors not found at %s (set AETHER_GOLDEN_DIR)" % GOLDEN)
    return GOLDEN


def data_path(name):
    path = os.path.join(DATA, name)
    if not os.path.exists(path):
        pytest.skip("recording %s not found (set AETHER_DATA_DIR)" % path)
    return path


class Case(object):
    def __init__(self, name):
        self.dir = os.path.join(golden_dir(), name)
        if not os.path.isdir(self.dir):
            pytest.skip("golden case %s missing" % name)
        with open(os.path.join(self.dir, "case.json")) as f:
            self.meta = json.load(f)

    def __getitem__(self, key):
        return np.load(os.path.join(self.dir, key + ".npy"))

    def cfg(self, **override):
        c = self.meta["config"]
        d = dict(window=c["window"], block_size=c["block_size"], globals=c["global_tokens"],
                 causal=c["causal"], log_stride=c["use_log_stride"],
                 landmarks=c["use_landmarks"], sort=c["sort_candidates"])
        d.update(override)
        return d


@pytest.fixture
def case():
    return Case


def bits_equal(a, b):
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    return a.shape == b.shape and np.array_equal(a.view(np.uint32), b.view(np.uint32))


def rng_f32(*shape, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, size=shape).astype(np.float32)
