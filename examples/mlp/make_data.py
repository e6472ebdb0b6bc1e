#!/usr/bin/env python3
"""Writes data/train.csv and data/test.csv for train.pbtxt: a made-up, deterministic
three-class problem with four features (three Gaussian blobs in 4-d, standard
library only). Run from this directory:  python3 make_data.py"""
import random

CENTRES = [(-1.0, 0.5, 0.0, 1.0), (1.0, -0.5, 0.5, 0.0), (0.0, 1.0, -1.0, -0.5)]
SPREAD = 0.6


def rows(rng, per_class):
    out = []
    for label, centre in enumerate(CENTRES):
        for _ in range(per_class):
            out.append([round(rng.gauss(c, SPREAD), 4) for c in centre] + [label])
    rng.shuffle(out)
    return out


def write(path, data):
    with open(path, "w") as f:
        f.write("f1,f2,f3,f4,species\n")
        for r in data:
            f.write(",".join(str(v) for v in r) + "\n")


if __name__ == "__main__":
    rng = random.Random(2024)
    write("data/train.csv", rows(rng, 60))
    write("data/test.csv", rows(rng, 15))
