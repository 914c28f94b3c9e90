"""Packaging for the aether Python binding.

Pure ctypes: no extension module is compiled, but the wheel carries the C
library (aether/_lib/libaether.so) so that the installed package imports on
its own. The library to bundle is, in this order:

1. $AETHER_LIB (a file, or a directory holding libaether.so). A relative
   path is taken relative to the directory the install was started from
   ($PWD; pip runs this script inside python/), then to the current
   directory. If it is set but names nothing, the build fails.
2. The source tree's build/libaether.so (../build next to this file).
3. A fresh build: CMake configures the repository root into a temporary
   directory and builds the target aether_shared only.

If none of these works the build fails and says what to do: a package that
cannot import is never installed.

pip >= 21.3 builds a local directory in place, so ../ is the repository root
(`pip install ./python` from the root).
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
NAMES = ("libaether.so", "libaether.dylib", "aether.dll")
CMAKE_OPTIONS = ["-DCMAKE_BUILD_TYPE=Release", "-DAETHER_BUILD_TOOLS=OFF",
                 "-DAETHER_BUILD_TESTS=OFF", "-DAETHER_BUILD_BENCH=OFF",
                 # the compiler's warnings are the developers' gate, not the installer's
                 "-DAETHER_WERROR=OFF"]
DEBIAN_BUILD_DEPS = "cmake gcc libcjson-dev zlib1g-dev"
BUILD_HINT = ("either install the build tools (Debian: apt-get install %s)\n"
              "  and run pip again, which then builds the library, or build it yourself and run\n"
              "  pip again from the repository root:\n"
              "      cmake -S . -B build && cmake --build build --target aether_shared\n"
              "  or set AETHER_LIB to an existing libaether.so or the directory holding it."
              % DEBIAN_BUILD_DEPS)
ENV_HINT = ("point AETHER_LIB at an existing libaether.so (or the directory holding it;\n"
            "  a relative path is taken from the directory pip runs in), or unset it to\n"
            "  use the source tree's build/ or a fresh CMake build.")


class LibraryError(Exception):
    def __init__(self, message, hint=BUILD_HINT):
        Exception.__init__(self, message)
        self.hint = hint


def log(msg):
    sys.stderr.write("aether: %s\n" % msg)
    sys.stderr.flush()


def version():
    header = os.path.join(ROOT, "include", "aether", "core.h")
    try:
        with open(header) as f:
            m = re.search(r'#define AETHER_VERSION_STRING "([^"]+)"', f.read())
        return m.group(1) if m else "0.0.0"
    except OSError:
        return "0.0.0"


def lib_in_dir(d):
    for name in NAMES:
        path = os.path.join(d, name)
        if os.path.isfile(path):
            return path
    return None


def sanitized(path):
    """An ASan/TSan/MSan build aborts an uninstrumented Python that loads it."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return False
    return any(s in data for s in (b"__asan_init", b"__tsan_init", b"__msan_init"))


def probe(path):
    """Load the library in a child interpreter; its version, or LibraryError."""
    code = ("import ctypes, sys\n"
            "lib = ctypes.CDLL(sys.argv[1])\n"
            "lib.aether_version.restype = ctypes.c_char_p\n"
            "print(lib.aether_version().decode())\n")
    try:
        out = subprocess.run([sys.executable, "-c", code, path], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, universal_newlines=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as exc:
        raise LibraryError("%s cannot be loaded: %s" % (path, exc))
    if out.returncode != 0:
        err = (out.stderr.strip().splitlines() or ["exit status %d" % out.returncode])[-1]
        raise LibraryError("%s cannot be loaded by %s: %s" % (path, sys.executable, err))
    return out.stdout.strip()


def start_dirs():
    """Where a relative AETHER_LIB may be relative to, most likely first."""
    dirs = []
    pwd = os.environ.get("PWD")
    if pwd and os.path.isabs(pwd) and os.path.isdir(pwd):
        dirs.append(os.path.normpath(pwd))
    cwd = os.getcwd()
    if cwd not in dirs:
        dirs.append(cwd)
    return dirs


def from_env(value):
    value = os.path.expanduser(value)
    bases = [""] if os.path.isabs(value) else start_dirs()
    tried = []
    for base in bases:
        path = os.path.normpath(os.path.join(base, value))
        if os.path.isfile(path):
            return path
        if os.path.isdir(path):
            lib = lib_in_dir(path)
            if lib:
                return lib
            raise LibraryError("AETHER_LIB=%s: the directory %s holds no %s"
                               % (value, path, " / ".join(NAMES)), ENV_HINT)
        tried.append(path)
    raise LibraryError("AETHER_LIB=%s names no file or directory (tried %s)"
                       % (value, ", ".join(tried)), ENV_HINT)


def cmake_build(tmp):
    """Build aether_shared into tmp; the library path, or LibraryError."""
    if not (os.path.isfile(os.path.join(ROOT, "CMakeLists.txt"))
            and os.path.isdir(os.path.join(ROOT, "src"))):
        raise LibraryError("the C sources are not next to this package (%s), so the "
                           "library cannot be built here" % ROOT)
    cmake = shutil.which("cmake")
    if not cmake:
        raise LibraryError("no built library was found and cmake is not installed")
    cc = os.environ.get("CC")
    if not cc and not any(shutil.which(c) for c in ("cc", "gcc", "clang")):
        raise LibraryError("no built library was found and there is no C compiler "
                           "(cc, gcc or clang)")
    jobs = os.environ.get("CMAKE_BUILD_PARALLEL_LEVEL") or str(os.cpu_count() or 1)
    steps = [[cmake, "-S", ROOT, "-B", tmp] + CMAKE_OPTIONS,
             [cmake, "--build", tmp, "--target", "aether_shared", "--parallel", jobs]]
    log("building libaether with CMake in %s" % tmp)
    for cmd in steps:
        log("running: %s" % " ".join(cmd))
        sys.stdout.flush()
        if subprocess.call(cmd, stdout=sys.stderr) != 0:
            raise LibraryError("the CMake build of libaether failed (its output is above)")
    lib = lib_in_dir(tmp)
    if not lib:
        raise LibraryError("the CMake build finished but left no libaether in %s" % tmp)
    return lib


def locate(tmp):
    """(path, origin, version) of the library to bundle, checked by loading
    it; LibraryError when there is none."""
    env = os.environ.get("AETHER_LIB")
    if env:
        lib = from_env(env)
        if sanitized(lib):
            raise LibraryError("AETHER_LIB=%s is a sanitizer build (%s): Python cannot load "
                               "it without the sanitizer runtime" % (env, lib), ENV_HINT)
        try:
            return lib, "AETHER_LIB=%s" % env, probe(lib)
        except LibraryError as exc:
            raise LibraryError(str(exc), ENV_HINT)
    tree = lib_in_dir(os.path.join(ROOT, "build"))
    if tree and sanitized(tree):
        log("skipping %s: a sanitizer build" % tree)
    elif tree:
        try:
            return tree, "the source tree's build/", probe(tree)
        except LibraryError as exc:
            log("skipping %s" % exc)
    lib = cmake_build(tmp)
    return lib, "a CMake build of the repository", probe(lib)


class BuildWithLibrary(build_py):
    def run(self):
        # Start from an empty package directory: no module or library left over
        # from an earlier build of a different tree.
        shutil.rmtree(os.path.join(self.build_lib, "aether"), ignore_errors=True)
        build_py.run(self)
        tmp = tempfile.mkdtemp(prefix="aether-lib-")
        try:
            try:
                lib, origin, lib_version = locate(tmp)
            except LibraryError as exc:
                sys.stderr.write("\nerror: aether cannot be installed without libaether: %s.\n"
                                 "  To fix it, %s\n\n" % (exc, exc.hint))
                raise SystemExit(1)
            dest_dir = os.path.join(self.build_lib, "aether", "_lib")
            os.makedirs(dest_dir, exist_ok=True)
            real = os.path.realpath(lib)
            # the real file (symlinks resolved) under its plain name
            name = os.path.basename(lib)
            name = name[:name.index(".so") + 3] if ".so" in name else name
            shutil.copyfile(real, os.path.join(dest_dir, name))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        with open(os.path.join(self.build_lib, "aether", "_version.py"), "w") as f:
            f.write('"""Written by setup.py when the package was built."""\n'
                    "version = %r\nbundled_from = %r\n" % (version(), real))
        log("bundled %s (libaether %s, from %s)" % (real, lib_version, origin))
        if lib_version != version():
            log("warning: the library reports version %s, the package is %s"
                % (lib_version, version()))


class BinaryDistribution(Distribution):
    """The wheel always carries a native library: give it a platform tag."""

    def has_ext_modules(self):
        return True


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
