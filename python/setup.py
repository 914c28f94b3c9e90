"""Packaging for the aether Python binding.

Pure ctypes: nothing is compiled. At build time the shared library is copied
into the package (aether/_lib/libaether.so) when one is found: $AETHER_LIB
(a file or a directory), else ../build/libaether.so next to this file. Without
one the package still installs and finds the library at import time through
AETHER_LIB or the system loader.
"""

import os
import re
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

HERE = os.path.dirname(os.path.abspath(__file__))
NAMES = ("libaether.so", "libaether.dylib", "aether.dll")


def find_library():
    env = os.environ.get("AETHER_LIB")
    dirs = []
    if env:
        if os.path.isfile(env):
            return env
        dirs.append(env)
    else:
        dirs.append(os.path.join(HERE, "..", "build"))
    for d in dirs:
        for name in NAMES:
            path = os.path.join(d, name)
            if os.path.isfile(path):
                return path
    return None


def version():
    header = os.path.join(HERE, "..", "include", "aether", "core.h")
    try:
        with open(header) as f:
            m = re.search(r'#define AETHER_VERSION_STRING "([^"]+)"', f.read())
        return m.group(1) if m else "0.0.0"
    except OSError:
        return "0.0.0"


class BuildWithLibrary(build_py):
    def run(self):
        build_py.run(self)
        lib = find_library()
        dest_dir = os.path.join(self.build_lib, "aether", "_lib")
        if lib is None:
            shutil.rmtree(dest_dir, ignore_errors=True)  # no stale copy from a previous build
            print("aether: no libaether found (set AETHER_LIB); installing without a "
                  "bundled library")
            return
        os.makedirs(dest_dir, exist_ok=True)
        # copy the real file under its plain name (symlinks resolved)
        dest = os.path.join(dest_dir, os.path.basename(lib).split(".so")[0] + ".so"
                            if ".so" in os.path.basename(lib) else os.path.basename(lib))
        shutil.copyfile(os.path.realpath(lib), dest)
        print("aether: bundled %s" % os.path.realpath(lib))


class BinaryDistribution(Distribution):
    """The wheel carries a native library: give it a platform tag."""

    def has_ext_modules(self):
        return find_library() is not None


setup(
    name="aether",
    version=version(),
    description="Streaming temporal attention over WiFi CSI frames (ctypes binding of libaether)",
    long_description=open(os.path.join(HERE, "README.md")).read(),
    long_description_content_type="text/markdown",
    license="MIT",
    packages=["aether"],
    python_requires=">=3.7",
    install_requires=["numpy"],
    cmdclass={"build_py": BuildWithLibrary},
    distclass=BinaryDistribution,
    zip_safe=False,
)
