#!/usr/bin/env python3
"""bench/run.sh's driver: runs bench/train_steps (graphrun) and bench/torch_models.py
(PyTorch) on every workload, each run a fresh process per side (peak RSS is each
side's own), the two sides interleaved workload by workload, and prints Markdown.
Standard library only (it runs under the system python3, with or without torch)."""
import argparse
import os
import platform
import statistics
import subprocess
import sys
import time

# name, model, graphrun steps, PyTorch steps, inference timed. Steps are sized so the
# full suite (3 runs) takes about 15 minutes on a busy 2-core machine: each run is a
# fresh process that loads its data first; where PyTorch is slow (step loops, the
# VAE's convolutions) it takes fewer steps. Each side reports the median step.
WORKLOADS = [
    ("emojify_v1", "examples/emojify/v1.pbtxt", 20000, 2000, False),
    ("emojify_v2", "examples/emojify/v2.pbtxt", 20, 20, False),
    ("emotion", "examples/emotion/bilstm_attention.pbtxt", 8, 4, True),
    ("movie_simple_rnn", "examples/movie_reviews/simple_rnn.pbtxt", 5, 5, True),
    ("movie_lstm", "examples/movie_reviews/lstm.pbtxt", 5, 5, True),
    ("movie_gru", "examples/movie_reviews/gru.pbtxt", 5, 2, True),
    ("movie_modified_lstm", "examples/movie_reviews/modified_lstm.pbtxt", 3, 2, True),
    ("movie_bilstm", "examples/movie_reviews/bilstm.pbtxt", 2, 2, True),
    ("movie_stacked_lstm", "examples/movie_reviews/stacked_lstm.pbtxt", 2, 2, True),
    ("imdb", "examples/imdb/lstm.pbtxt", 4, 3, False),
    ("emoji_vae", "examples/emoji_vae/vae.pbtxt", 4, 2, False),
    ("emoji_qa", "examples/emoji_qa/sqam.pbtxt", 20, 20, False),
]
QUICK_EXAMPLES = 64  # --quick: examples read per split


def parse_line(text, what):
    """The last key=value line a side printed, as a dict of floats (strings where not numbers)."""
    lines = [l for l in text.splitlines() if "samples_per_s=" in l]
    if not lines:
        raise RuntimeError(f"{what}: no result line in its output:\n{text}")
    values = {}
    for pair in lines[-1].split():
        key, _, value = pair.partition("=")
        try:
            values[key] = float(value)
        except ValueError:
            values[key] = value
    return values


def run(command, what, env=None):
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed ({done.returncode}): {' '.join(command)}\n{done.stdout}{done.stderr}")
    return parse_line(done.stdout, what)


def machine():
    """The CPU's name, with its family and model numbers: a virtual machine's name ("AMD EPYC")
    can stand for CPU generations whose AVX-512 units differ in width, and the ratios with them."""
    fields = {}
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            key, _, value = line.partition(":")
            fields.setdefault(key.strip(), value.strip())
    model = fields.get("model name", platform.processor() or "unknown CPU")
    if "cpu family" in fields and "model" in fields:
        model += f" (family {fields['cpu family']}, model {fields['model']})"
    return f"{model}, {os.cpu_count()} logical cores"


def commit():
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                           text=True).stdout.strip()
    return (head or "unknown") + (" (with uncommitted changes)" if dirty else "")


def median(results, key):
    values = [r[key] for r in results if r.get(key) is not None]
    return statistics.median(values) if values else None


def fmt(value, digits=0, suffix=""):
    return "-" if value is None else f"{value:,.{digits}f}{suffix}"


def fmt_ms(value):
    """Milliseconds: two decimals, four below 0.1 ms (a small model's step is a few microseconds)."""
    return fmt(value, 4 if value is not None and value < 0.1 else 2)


def ratio(a, b):
    return None if a is None or b is None or b == 0 else a / b


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--torch-blas", default="", help="directory put first on PyTorch's LD_LIBRARY_PATH")
    ap.add_argument("--quick", action="store_true", help="graphrun only, a few examples, one step")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--only", default="", help="comma-separated workload names")
    ap.add_argument("--work", default=os.path.join("bench", ".work"), help="where the graphrun side dumps its batches")
    a = ap.parse_args()
    names = set(a.only.split(",")) if a.only else None
    workloads = [w for w in WORKLOADS if names is None or w[0] in names]
    if names and len(workloads) != len(names):
        sys.exit(f"run.sh: unknown workload in --only {a.only} (known: {', '.join(w[0] for w in WORKLOADS)})")
    train_steps = os.path.join(a.build, "bench", "train_steps")
    torch_env = dict(os.environ)
    if a.torch_blas:
        torch_env["LD_LIBRARY_PATH"] = a.torch_blas + (":" + os.environ["LD_LIBRARY_PATH"]
                                                       if os.environ.get("LD_LIBRARY_PATH") else "")
    runs = 1 if a.quick else a.runs
    results = {}
    started = time.time()
    load_before = os.getloadavg()[0]
    print(f"Machine: {machine()}; commit {commit()}; "
          f"{'quick check, graphrun only: no figure is meaningful' if a.quick else f'median of {runs} runs'}; "
          f"load average {load_before:.1f} at the start\n")
    print("| workload | batch | graphrun samples/s | PyTorch samples/s | ratio | graphrun peak RSS | PyTorch peak RSS "
          "| step ms | oneDNN primitives ms | step / primitives | profiled step ms | profiled step / primitives "
          "| faults, allocations per step |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|", flush=True)
    # Workload by workload, each run a graphrun process then a PyTorch one: the two sides
    # of a row see the same machine, and each row prints as soon as it is measured.
    for name, model, steps, torch_steps, infer in workloads:
        ours, theirs = results.setdefault(name, ([], []))
        inputs = os.path.join(a.work, name)
        for r in range(runs):
            command = [train_steps, model, "--dump", inputs]
            if a.quick:
                command += ["--steps", "1", "--warmup", "0", "--limit", str(QUICK_EXAMPLES)]
            else:
                command += ["--steps", str(steps), "--warmup", "2"] + (["--infer"] if infer else [])
            ours.append(run(command, f"graphrun {name}"))
            if not a.quick:
                command = [sys.executable, "bench/torch_models.py", name, "--inputs", inputs, "--steps",
                           str(torch_steps), "--warmup", "1"] + (["--infer"] if infer else [])
                theirs.append(run(command, f"PyTorch {name}", torch_env))
            print(f"run {r + 1}/{runs} {name}: done ({time.time() - started:.0f} s)", file=sys.stderr, flush=True)
        g, t = median(ours, "samples_per_s"), median(theirs, "samples_per_s")
        # A step against its primitive time two ways, each per run: the median plain step (the
        # target's measure; its steps alternate with the profiled ones, so both see the same
        # drift of the machine's speed), and the profiled steps themselves (the same steps,
        # though timing every node adds to them: much of a 0.01 ms step).
        for r in ours:
            r["ratio"] = ratio(r.get("step_ms"), r.get("primitive_ms"))
            r["profiled_ratio"] = ratio(r.get("profiled_step_ms"), r.get("primitive_ms"))
        print(f"| {name} | {int(ours[0]['batch'])} | {fmt(g)} | {fmt(t)} | {fmt(ratio(g, t), 2, 'x')} "
              f"| {fmt(median(ours, 'peak_rss_mb'), 0, ' MB')} | {fmt(median(theirs, 'peak_rss_mb'), 0, ' MB')} "
              f"| {fmt_ms(median(ours, 'step_ms'))} | {fmt_ms(median(ours, 'primitive_ms'))} "
              f"| {fmt(median(ours, 'ratio'), 2, 'x')} | {fmt_ms(median(ours, 'profiled_step_ms'))} "
              f"| {fmt(median(ours, 'profiled_ratio'), 2, 'x')} "
              f"| {fmt(median(ours, 'faults_per_step'))}, {fmt(median(ours, 'allocations_per_step'))} |", flush=True)
        if infer and theirs:  # the inference table comes last; a cut-short suite still leaves these
            print(f"{name} inference ms: batch 1 graphrun {fmt(median(ours, 'infer1_ms'), 3)} PyTorch "
                  f"{fmt(median(theirs, 'infer1_ms'), 3)}; batch 256 graphrun {fmt(median(ours, 'infer256_ms'), 2)} "
                  f"PyTorch {fmt(median(theirs, 'infer256_ms'), 2)}", file=sys.stderr, flush=True)

    print(f"\n{time.time() - started:.0f} s; load average {os.getloadavg()[0]:.1f} at the end")
    if not a.quick:
        blas = {r.get("blas") for _, torch_runs in results.values() for r in torch_runs}
        print(f"PyTorch: Debian's python3-torch, 2 threads, BLAS {', '.join(sorted(map(str, blas)))}")
    inferred = [name for name, *rest in workloads if rest[-1] and results[name][1]]
    if inferred:
        print("\nInference latency (forward pass, median; ms):\n")
        print("| model | graphrun batch 1 | PyTorch batch 1 | ratio | graphrun batch 256 | PyTorch batch 256 | ratio |")
        print("|---|---|---|---|---|---|---|")
        for name in inferred:
            ours, theirs = results[name]
            g1, t1 = median(ours, "infer1_ms"), median(theirs, "infer1_ms")
            g256, t256 = median(ours, "infer256_ms"), median(theirs, "infer256_ms")
            print(f"| {name} | {fmt(g1, 3)} | {fmt(t1, 3)} | {fmt(ratio(g1, t1), 2, 'x')} | {fmt(g256, 2)} "
                  f"| {fmt(t256, 2)} | {fmt(ratio(g256, t256), 2, 'x')} |")
    if not a.quick and "movie_lstm" in results and "movie_modified_lstm" in results:
        fused, stepwise = median(results["movie_lstm"][0], "samples_per_s"), median(
            results["movie_modified_lstm"][0], "samples_per_s")
        print(f"\nStep-wise path (movie_modified_lstm) / fused path (movie_lstm), same shape: "
              f"{fmt(ratio(stepwise, fused), 2, 'x')}")
    if not a.quick and "imdb" in results:
        ours = results["imdb"][0]
        print(f"IMDB step {fmt(median(ours, 'step_ms'), 1)} ms: oneDNN primitives {fmt(median(ours, 'primitive_ms'), 1)}"
              f" ms + the optimizer's update {fmt(median(ours, 'update_ms'), 1)} ms")


if __name__ == "__main__":
    main()
