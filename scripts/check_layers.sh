#!/bin/sh
# Folder-level include graph of the library: fails on any cycle.
#
# Every folder under src/ is a node. A quoted #include "dir/x.h" in a file of
# src/A/ is an edge A -> dir; an include of a public header "aether/x.h" is
# an edge to the folder that implements that header (the table HEADERS
# below), and the public headers' own includes are edges from their folder.
# A cycle between folders (A reaches B and B reaches A) fails the check and
# is printed as the chain of edges with one file that makes each edge.
#
# Allowed direction (a folder includes only folders listed before it):
#   core, tensor, pattern          base types, sizes, candidate patterns
#   simd                           ISA kernel tables; simd/rows.h is the leaf
#                                  row-view header every kernel folder uses
#   kernels                        scalar reference kernels and the optimised
#                                  drivers over a simd table
#   dispatch                       the one place that picks reference or an
#                                  ISA table, validates the public attention
#                                  calls and runs the chosen kernels
#   kvcache                        cache storage, landmarks, decode
#   gate                           gated kernels and gates (over kvcache)
#   head                           temporal head step (the one streaming step)
#   model, features, blob, ...     model, sessions and everything above
# Cycles involving folders this check does not own are reported the same
# way; fixing them belongs to the folder that adds the back edge.
#
# Usage: sh scripts/check_layers.sh [repo-root]
set -eu
ROOT=${1:-$(cd "$(dirname "$0")/.." && pwd)}
exec python3 - "$ROOT" <<'PY'
import os, re, sys

root = sys.argv[1]
src = os.path.join(root, "src")
inc = os.path.join(root, "include", "aether")

# Public header -> folder implementing it.
HEADERS = {
    "core.h": "core", "tensor.h": "tensor", "npy.h": "tensor",
    "pattern.h": "pattern", "dispatch.h": "dispatch",
    "attention.h": "kernels", "attention_tiled.h": "kernels",
    "attention_gated.h": "gate", "gate.h": "gate",
    "kvcache.h": "kvcache", "head.h": "head", "model.h": "model", "window.h": "model", "decision.h": "model", "export.h": "core", "recording.h": "host", "dataset.h": "host",
    "blob.h": "blob", "csi.h": "features", "features.h": "features",
    "packet.h": "packet", "tracks.h": "tracks", "train.h": "train", "quant.h": "quant",
}
INC = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
folders = sorted(d for d in os.listdir(src) if os.path.isdir(os.path.join(src, d)))
edges = {}  # (a, b) -> example file


def target(name, here):
    """Folder an include refers to (None: outside the library)."""
    if name.startswith("aether/"):
        base = name[len("aether/"):]
        if base not in HEADERS:
            sys.exit("check_layers: %s is not mapped to a folder (HEADERS)" % name)
        return HEADERS[base]
    if "/" in name:
        top = name.split("/", 1)[0]
        return top if top in folders else None
    return here  # same-folder include ("blob_internal.h")


def scan(path, here, label):
    with open(path, encoding="utf-8", errors="replace") as f:
        text = f.read()
    for name in INC.findall(text):
        t = target(name, here)
        if t and t != here:
            edges.setdefault((here, t), "%s includes %s" % (label, name))


for d in folders:
    for fn in sorted(os.listdir(os.path.join(src, d))):
        if fn.endswith((".c", ".h")):
            scan(os.path.join(src, d, fn), d, "src/%s/%s" % (d, fn))
for fn in sorted(os.listdir(inc)):
    if fn.endswith(".h"):
        if fn not in HEADERS:
            sys.exit("check_layers: include/aether/%s is not mapped to a folder (HEADERS)" % fn)
        scan(os.path.join(inc, fn), HEADERS[fn], "include/aether/" + fn)

graph = {}
for (a, b) in edges:
    graph.setdefault(a, set()).add(b)

# Strongly connected components (Tarjan, iterative).
index, low, on, stack, comps, counter = {}, {}, set(), [], [], [0]
nodes = sorted(set(graph) | {b for s in graph.values() for b in s})
for start in nodes:
    if start in index:
        continue
    work = [(start, iter(sorted(graph.get(start, ()))))]
    index[start] = low[start] = counter[0]; counter[0] += 1
    stack.append(start); on.add(start)
    while work:
        v, it = work[-1]
        nxt = next(it, None)
        if nxt is not None:
            if nxt not in index:
                index[nxt] = low[nxt] = counter[0]; counter[0] += 1
                stack.append(nxt); on.add(nxt)
                work.append((nxt, iter(sorted(graph.get(nxt, ())))))
            elif nxt in on:
                low[v] = min(low[v], index[nxt])
            continue
        work.pop()
        if work:
            low[work[-1][0]] = min(low[work[-1][0]], low[v])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop(); on.discard(w); comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                comps.append(sorted(comp))


def cycle_in(comp):
    """One cycle through the component's first folder (BFS back to it)."""
    members, first = set(comp), comp[0]
    prev, queue = {first: None}, [first]
    while queue:
        v = queue.pop(0)
        for w in sorted(graph.get(v, ())):
            if w not in members:
                continue
            if w == first:
                path = [v]
                while prev[path[-1]] is not None:
                    path.append(prev[path[-1]])
                path.reverse()
                return path + [first]
            if w not in prev:
                prev[w] = v
                queue.append(w)
    return comp


print("check_layers: %d folders, %d folder edges" % (len(folders), len(edges)))
if os.environ.get("AETHER_LAYERS_VERBOSE"):
    for a in sorted(folders):
        outs = sorted(b for (x, b) in edges if x == a and b != a)
        print("    %-10s -> %s" % (a, ", ".join(outs) if outs else "(nothing)"))
if not comps:
    print("check_layers: no cycle between folders")
    sys.exit(0)
for comp in comps:
    cyc = cycle_in(comp)
    print("check_layers: CYCLE between %s: %s" % (", ".join(comp), " -> ".join(cyc)))
    for a, b in zip(cyc, cyc[1:]):
        print("    %s -> %s: %s" % (a, b, edges[(a, b)]))
sys.exit(1)
PY
