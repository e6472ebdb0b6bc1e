#!/usr/bin/env python3
"""Writes the SQAM's answers from the VAE codes of the 872 emoji (the encoder's z_mean.npy, rows in
the sorted order of the PNG files), Python's standard library only:

  data/codes/sentiment_codes.npy  float32 [3, 16]   the codes of 1f621, 1f608, 1f389 (negative, neutral,
                                                    positive), standardised per dimension over those 3
                                                    rows as sklearn.preprocessing.scale: mean 0,
                                                    population std 1 (a constant dimension stays 0)
  data/codes/emoji_codes.npy      float32 [872, 16] every emoji's code, standardised with the same
                                                    means and stds (so the three keep their codes)
  data/codes/correct.npy          float32 [T, 16]   per tweet of Tweets.csv: its sentiment's code
  data/codes/incorrect.npy        float32 [T, 16]   one of the other two sentiments' codes, drawn with
                                                    random.Random(seed), as the notebook's random.sample

  python3 prepare_answers.py Z_MEAN.npy PNG_DIR [--seed 1]       (paths as given; run from anywhere)
"""
import argparse
import ast
import csv
import math
import os
import random
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SENTIMENT_EMOJI = [("negative", "1f621"), ("neutral", "1f608"), ("positive", "1f389")]  # class order


def read_npy(path):
    """A little-endian float32 .npy file as (rows of floats, shape)."""
    with open(path, "rb") as f:
        if f.read(6) != b"\x93NUMPY":
            sys.exit(f"{path}: not an .npy file")
        major = f.read(2)[0]
        (header_len,) = struct.unpack("<H" if major == 1 else "<I", f.read(2 if major == 1 else 4))
        header = ast.literal_eval(f.read(header_len).decode("latin1"))
        if header["descr"] != "<f4" or header["fortran_order"] or len(header["shape"]) != 2:
            sys.exit(f"{path}: expected a float32 [N, D] array, found {header}")
        n, d = header["shape"]
        values = struct.unpack(f"<{n * d}f", f.read(4 * n * d))
    return [list(values[i * d:(i + 1) * d]) for i in range(n)], (n, d)


def write_npy(path, rows):
    """Rows of floats as a float32 [N, D] .npy file (version 1.0), written to a temp file, then renamed."""
    n, d = len(rows), len(rows[0])
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d), }" % (n, d)
    header += " " * (63 - (10 + len(header)) % 64) + "\n"  # the data starts at a multiple of 64 bytes
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin1"))
        for row in rows:
            f.write(struct.pack(f"<{d}f", *row))
    os.replace(tmp, path)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("codes", help="z_mean.npy of the encoder, float32 [872, 16]")
    parser.add_argument("images", help="the PNG directory the codes were encoded from")
    parser.add_argument("--tweets", default=os.path.join(HERE, "data", "Tweets.csv"))
    parser.add_argument("--out", default=os.path.join(HERE, "data", "codes"))
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    codes, (n, d) = read_npy(args.codes)
    names = sorted(f[:-4] for f in os.listdir(args.images) if f.endswith(".png"))
    if len(names) != n:
        sys.exit(f"{args.codes}: {n} codes, but {args.images} holds {len(names)} PNG files")
    bad = [names[i] for i, row in enumerate(codes) if not all(math.isfinite(v) for v in row)]
    if bad:
        sys.exit(f"{args.codes}: codes of {len(bad)} emoji are not finite (first: {bad[0]})")

    # Standardise per dimension over the three sentiment codes, in float64 as the notebook's scale.
    sentiment = [codes[names.index(slug)] for _, slug in SENTIMENT_EMOJI]
    means = [sum(row[j] for row in sentiment) / 3 for j in range(d)]
    stds = [math.sqrt(sum((row[j] - means[j]) ** 2 for row in sentiment) / 3) for j in range(d)]
    stds = [s if s > 0 else 1.0 for s in stds]  # sklearn leaves a constant dimension unscaled

    def scale(row):
        return [(row[j] - means[j]) / stds[j] for j in range(d)]

    answers = {label: scale(row) for (label, _), row in zip(SENTIMENT_EMOJI, sentiment)}
    labels = [label for label, _ in SENTIMENT_EMOJI]

    with open(args.tweets, newline="", encoding="utf-8") as f:
        sentiments = [row["airline_sentiment"] for row in csv.DictReader(f)]
    rng = random.Random(args.seed)
    correct, incorrect = [], []
    for s in sentiments:
        if s not in answers:
            sys.exit(f"{args.tweets}: unknown airline_sentiment '{s}'")
        correct.append(answers[s])
        incorrect.append(answers[rng.choice([other for other in labels if other != s])])

    os.makedirs(args.out, exist_ok=True)
    write_npy(os.path.join(args.out, "sentiment_codes.npy"), [answers[label] for label in labels])
    write_npy(os.path.join(args.out, "emoji_codes.npy"), [scale(row) for row in codes])
    write_npy(os.path.join(args.out, "correct.npy"), correct)
    write_npy(os.path.join(args.out, "incorrect.npy"), incorrect)
    print(f"{args.out}: answers of {len(sentiments)} tweets (seed {args.seed}), {n} emoji codes, {d} dims")


if __name__ == "__main__":
    main()
