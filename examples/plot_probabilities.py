#!/usr/bin/env python3
"""Class probabilities over time for a CSI recording.

Notebook-style walk-through of the Python binding: read a recording, turn
each CSI frame into a feature vector, stream the vectors through the
temporal model frame by frame, and plot the class probabilities (or print a
table when matplotlib is not installed).

    python3 examples/plot_probabilities.py [RECORDING] [--blob MODEL.rvne]
                                           [--out probs.png] [--node N|first|all]
                                           [--limit N] [--text]

Without --blob the deterministic demo model is used (untrained weights, so
the probabilities only show that the pipeline runs end to end).
Without RECORDING, ../shared/data/esp32-raw-2node.csi.jsonl is used.
"""

import argparse
import os
import sys

import numpy as np

# %% Import the binding (in place from the source tree, or installed).
HERE = os.path.dirname(os.path.abspath(__file__))
try:
    import aether
except ImportError:
    sys.path.insert(0, os.path.join(HERE, "..", "python"))
    import aether

DEFAULT_RECORDING = os.path.join(HERE, "..", "..", "shared", "data",
                                 "esp32-raw-2node.csi.jsonl")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("recording", nargs="?", default=DEFAULT_RECORDING)
    p.add_argument("--blob", help="RVNE model blob (default: the demo blob)")
    p.add_argument("--out", default="probabilities.png", help="PNG to write (matplotlib)")
    p.add_argument("--node", default="first",
                   help="node_id to follow, 'first' (the first frame's node, default) or "
                        "'all' (every node in arrival order, one stream)")
    p.add_argument("--limit", type=int, default=0, help="stop after N frames (0 = all)")
    p.add_argument("--text", action="store_true", help="print a table even with matplotlib")
    p.add_argument("--rows", type=int, default=12, help="table rows to print")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)

    # %% 1. The model: a trained blob, or the deterministic demo blob.
    blob = aether.Blob.load(args.blob) if args.blob else aether.Blob.demo()
    model = aether.Model(blob)
    print("model:", model)

    # %% 2. Read the recording and compute one feature vector per frame.
    features = aether.Features(input_dim=model.input_dim)
    session = model.stream()
    times, probs = [], []
    with aether.read_recording(args.recording) as rec:
        node = None if args.node in ("first", "all") else int(args.node)
        for frame in rec:
            if node is None and args.node == "first":
                node = frame.node_id
            if node is not None and frame.node_id != node:
                continue
            x = features.compute(frame)
            # %% 3. Stream the frame through the model (one KV cache per layer).
            logits = session.step(x)
            times.append(frame.timestamp)
            probs.append(aether.softmax(logits))
            if args.limit and len(times) >= args.limit:
                break
        stats = rec.stats
    if not times:
        print("no frames to show (node filter?)")
        return 1
    t = np.asarray(times) - times[0]
    p = np.vstack(probs)
    print("recording: %s (%s), %d records read, %d frames used (node %s), %d malformed"
          % (os.path.basename(args.recording), stats["format"], stats["records"],
             len(times), "all" if node is None else node, stats["malformed"]))

    # %% 4. Plot, or print a table when matplotlib is unavailable.
    plt = None
    if not args.text:
        try:
            import matplotlib
            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            plt = None
    if plt is not None:
        fig, ax = plt.subplots(figsize=(10, 4))
        for c in range(p.shape[1]):
            ax.plot(t, p[:, c], label="class %d" % c, linewidth=0.8)
        ax.set_xlabel("time (s)")
        ax.set_ylabel("probability")
        ax.set_ylim(0, 1)
        ax.legend(loc="upper right")
        ax.set_title(os.path.basename(args.recording))
        fig.tight_layout()
        fig.savefig(args.out, dpi=120)
        print("wrote", args.out)
    else:
        step = max(1, len(t) // max(args.rows, 1))
        header = "%9s  " % "t (s)" + "  ".join("class %d" % c for c in range(p.shape[1]))
        print(header)
        for i in range(0, len(t), step):
            print("%9.3f  " % t[i] + "  ".join("%7.4f" % v for v in p[i]))
    top = np.bincount(np.argmax(p, axis=1), minlength=p.shape[1])
    print("argmax counts:", " ".join("%d:%d" % (c, n) for c, n in enumerate(top)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
