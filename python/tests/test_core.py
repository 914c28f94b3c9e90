import pickle
import threading

import numpy as np
import pytest

import aether
from conftest import bits_equal, rng_f32


def test_version_from_library():
    assert aether.version() == aether.__version__
    assert aether.__version__.count(".") == 2
    assert aether.lib_path.endswith(("libaether.so", "libaether.dylib", "aether.dll")) or \
        "aether" in aether.lib_path


def test_status_names_and_messages():
    assert aether.status_name(0) == "AETHER_OK"
    assert aether.status_name(20) == "AETHER_ERR_CACHE_FULL"
    assert aether.strerror(44) == "blob CRC mismatch"
    assert aether.status_name(9999) == "AETHER_ERR_UNKNOWN"


def test_exception_hierarchy():
    assert issubclass(aether.ShapeMismatchError, aether.ArgumentError)
    assert issubclass(aether.ShapeMismatchError, ValueError)
    assert issubclass(aether.BlobCrcError, aether.BlobError)
    assert issubclass(aether.CacheFullError, aether.CacheError)
    assert issubclass(aether.AetherIOError, OSError)
    assert issubclass(aether.NoMemError, MemoryError)
    e = aether.CacheFullError(20, "AETHER_ERR_CACHE_FULL", "KV cache capacity exceeded")
    e2 = pickle.loads(pickle.dumps(e))
    assert type(e2) is aether.CacheFullError and e2.name == e.name and str(e2) == str(e)


def test_crc32():
    assert aether.crc32(b"123456789") == 0xCBF43926
    assert aether.crc32(b"") == 0


def test_kernel_mode_roundtrip():
    assert aether.get_kernel_mode() == "reference"
    assert aether.kernel_name() == "reference"
    with aether.kernel_mode("auto"):
        assert aether.get_kernel_mode() == "auto"
        assert aether.kernel_name() in ("reference", "avx2", "avx512", "neon")
    assert aether.get_kernel_mode() == "reference"
    with pytest.raises(ValueError):
        aether.set_kernel_mode("turbo")
    assert aether.cpu_features() <= {"avx2", "avx512", "neon"}


def test_unsupported_mode_raises_with_status():
    missing = {"avx2", "avx512", "neon"} - aether.cpu_features()
    if not missing:
        pytest.skip("this CPU supports every path")
    with pytest.raises(aether.UnsupportedError) as ei:
        aether.set_kernel_mode(sorted(missing)[0])
    assert ei.value.name == "AETHER_ERR_UNSUPPORTED"
    assert aether.get_kernel_mode() == "reference"


def test_threads_setting_and_results_independent_of_threads():
    q = rng_f32(300, 4, 16, seed=1)
    k = rng_f32(300, 4, 16, seed=2)
    v = rng_f32(300, 4, 16, seed=3)
    one = aether.attention.forward(q, k, v, window=16, block_size=8)
    aether.set_num_threads(4)
    try:
        assert aether.get_num_threads() == 4
        four = aether.attention.forward(q, k, v, window=16, block_size=8)
    finally:
        aether.set_num_threads(1)
    assert bits_equal(one, four)
    with pytest.raises(aether.InvalidArgError):
        aether.set_num_threads(0)


def test_python_threads_run_concurrently_and_agree():
    """ctypes drops the GIL in C calls; results must not depend on it."""
    q = rng_f32(200, 2, 16, seed=4)
    ref = aether.attention.forward(q, q, q, window=8, block_size=4)
    results, errors = [], []

    def work():
        try:
            for _ in range(5):
                results.append(aether.attention.forward(q, q, q, window=8, block_size=4))
        except Exception as exc:  # pragma: no cover
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(results) == 20 and all(bits_equal(r, ref) for r in results)


def test_softmax():
    p = aether.softmax(np.array([1.0, 2.0, 3.0], np.float32))
    assert p.dtype == np.float32 and abs(float(p.sum()) - 1.0) < 1e-6
    assert np.argmax(p) == 2


def _import_with(env_lib):
    import os
    import subprocess
    import sys
    env = dict(os.environ)
    env["AETHER_LIB"] = env_lib
    env["PYTHONPATH"] = os.path.dirname(os.path.dirname(aether.__file__))
    return subprocess.run([sys.executable, "-c", "import aether; print(aether.lib_path)"],
                          env=env, capture_output=True, text=True, timeout=60)


def test_library_lookup_env_file_dir_and_missing(tmp_path):
    import os
    r = _import_with(os.path.dirname(aether.lib_path))
    if os.path.basename(aether.lib_path) == "libaether.so":
        assert r.returncode == 0 and r.stdout.strip() == aether.lib_path
    r = _import_with(str(tmp_path / "nope" / "libaether.so"))
    assert r.returncode != 0
    assert "ImportError" in r.stderr and "cannot find or load the C library" in r.stderr
    assert "AETHER_LIB" in r.stderr


def test_missing_symbol_raises_unsupported():
    from aether import _lib
    stub = _lib._Missing("aether_does_not_exist")
    assert not stub
    with pytest.raises(aether.UnsupportedError, match="aether_does_not_exist"):
        stub()
