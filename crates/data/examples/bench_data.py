"""Python side of `cargo xtask bench data`: the same files, loaded with pandas / `datasets`.

Run after the Rust benchmark has generated the files:

    python crates/data/examples/bench_data.py --dir target/bench-data

Needs numpy, pandas, pyarrow and datasets. Prints medians of --repeat runs after a warm-up, and
the first rows that `shuffle(seed=42).select(range(500))` picks (their `source_index`), to compare
with the Rust output.
"""

import argparse
import os
import statistics
import tempfile
import time

import numpy as np
import pandas as pd
import datasets

datasets.disable_progress_bars()
datasets.logging.set_verbosity_error()


def timed(repeat, fn):
    fn()
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def read_acl(root):
    rows = []
    for label, cls in ((0, "neg"), (1, "pos")):
        d = os.path.join(root, "train", cls)
        for name in sorted(os.listdir(d), key=lambda n: int(n.split("_")[0])):
            with open(os.path.join(d, name), encoding="utf-8") as f:
                rows.append((f.read(), label, int(name[:-4].split("_")[1])))
    return rows


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", default="target/bench-data")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    d = args.dir
    parquet = os.path.join(d, "train.parquet")
    print(f"python {datasets.__version__=} {pd.__version__=} {np.__version__=}")

    def datasets_cold():
        with tempfile.TemporaryDirectory() as cache:
            return datasets.load_dataset("parquet", data_files=parquet, split="train", cache_dir=cache)

    warm_cache = tempfile.mkdtemp()
    results = {
        "pandas.read_parquet (pyarrow)": timed(args.repeat, lambda: pd.read_parquet(parquet)),
        "datasets.load_dataset parquet, cold": timed(args.repeat, datasets_cold),
        "datasets.load_dataset parquet, cached": timed(
            args.repeat, lambda: datasets.load_dataset("parquet", data_files=parquet, split="train", cache_dir=warm_cache)
        ),
        "pandas.read_csv": timed(args.repeat, lambda: pd.read_csv(os.path.join(d, "train.csv"))),
        "pandas.read_json(lines=True)": timed(args.repeat, lambda: pd.read_json(os.path.join(d, "train.jsonl"), lines=True)),
        "aclImdb folder, Python loop": timed(args.repeat, lambda: read_acl(os.path.join(d, "aclImdb"))),
    }
    ds = datasets.load_dataset("parquet", data_files=parquet, split="train", cache_dir=warm_cache)
    mem = datasets.Dataset.from_pandas(pd.read_parquet(parquet), preserve_index=False)
    many = max(args.repeat, 20)
    results["np default_rng(42).permutation"] = timed(many, lambda: np.random.default_rng(42).permutation(len(ds)))
    results["ds.shuffle(42).select(500), cached ds"] = timed(many, lambda: ds.shuffle(seed=42).select(range(500)))
    results["ds.shuffle(42).select(500), in memory"] = timed(many, lambda: mem.shuffle(seed=42).select(range(500)))
    results["ds.train_test_split(0.2, seed=42)"] = timed(many, lambda: mem.train_test_split(test_size=0.2, seed=42))
    for name, seconds in results.items():
        print(f"{name:<42}{seconds * 1e3:>9.2f} ms")
    print("shuffle(seed=42).select(range(5)) source_index:", mem.shuffle(seed=42).select(range(5))["source_index"])


if __name__ == "__main__":
    main()
