"""python -m aether --version: which package and which C library are in use."""

import os
import sys

import aether

USAGE = """usage: python -m aether [--version | --help]

Python binding of libaether (streaming temporal attention over WiFi CSI frames).

  --version   print the package's version and location, and the version and
              path of the C library it loaded
  --help      show this message

The library is taken from $AETHER_LIB when set, else the copy bundled in the
package. The command-line tool for recordings and models is the `aether`
program built with the C library.
"""


def package_version():
    """The version setup.py recorded when it built the package; None for the
    source tree used in place (PYTHONPATH=python, or an editable install)."""
    try:
        from aether import _version
    except ImportError:
        return None
    return _version.version


def version_text():
    here = os.path.dirname(os.path.abspath(aether.__file__))
    pkg = package_version()
    lib = aether.version()
    if pkg:
        first = "aether %s (package at %s)" % (pkg, here)
    else:
        first = "aether from the source tree at %s (editable or PYTHONPATH)" % here
    lines = [first, "libaether %s (%s)" % (lib, aether.lib_path)]
    if pkg and pkg != lib:
        lines.append("note: the loaded library's version differs from the package's")
    return "\n".join(lines)


def main(argv=None):
    args = sys.argv[1:] if argv is None else list(argv)
    if not args or args[0] in ("-h", "--help", "help"):
        sys.stdout.write(USAGE)
        return 0
    if args == ["--version"] or args == ["-V"]:
        print(version_text())
        return 0
    sys.stderr.write("python -m aether: unknown argument %r\n\n%s" % (" ".join(args), USAGE))
    return 2


if __name__ == "__main__":
    sys.exit(main())
