#!/usr/bin/env python3
"""datatrove's four-step MinHash pipeline, for bench/dedup.sh.

    datatrove_dedup.py CORPUS WORKDIR REMOVED_OUT

The corpus is split into one file per core first (datatrove gives each task
whole files), then: signatures (one task per core), buckets (one task per
band, one worker per core), clusters, and the filter, whose exclusion writer
lists the removed documents. 16 bands × 8 rows = 128 permutations, word
5-grams, datatrove's own normalization and tokenizer. The split is timed
with the rest.
"""
import gzip
import json
import os
import shutil
import sys

from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.dedup.minhash import (
    MinhashConfig,
    MinhashDedupBuckets,
    MinhashDedupCluster,
    MinhashDedupFilter,
    MinhashDedupSignature,
)
from datatrove.pipeline.readers import JsonlReader
from datatrove.pipeline.writers import JsonlWriter

BANDS, ROWS, NGRAM = 16, 8, 5


def main():
    corpus, work, removed_out = sys.argv[1:4]
    cores = os.cpu_count() or 1
    shutil.rmtree(work, ignore_errors=True)
    inp = f"{work}/input"
    os.makedirs(inp)
    outs = [open(f"{inp}/part-{i:02d}.jsonl", "w", encoding="utf-8") for i in range(cores)]
    with open(corpus, encoding="utf-8") as f:
        lines = f.readlines()
    per = (len(lines) + cores - 1) // cores
    for i, line in enumerate(lines):
        outs[i // per].write(line)
    for o in outs:
        o.close()
    del lines

    config = MinhashConfig(n_grams=NGRAM, num_buckets=BANDS, hashes_per_bucket=ROWS, seed=1)
    reader = lambda: JsonlReader(inp, text_key="text", id_key="id")  # noqa: E731
    steps = [
        LocalPipelineExecutor(
            [reader(), MinhashDedupSignature(output_folder=f"{work}/sigs", config=config)],
            tasks=cores,
            logging_dir=f"{work}/logs/1",
        ),
        LocalPipelineExecutor(
            [MinhashDedupBuckets(input_folder=f"{work}/sigs", output_folder=f"{work}/buckets", config=config)],
            tasks=BANDS,
            workers=cores,
            logging_dir=f"{work}/logs/2",
        ),
        LocalPipelineExecutor(
            [MinhashDedupCluster(input_folder=f"{work}/buckets", output_folder=f"{work}/remove", config=config)],
            tasks=1,
            logging_dir=f"{work}/logs/3",
        ),
        LocalPipelineExecutor(
            [
                reader(),
                MinhashDedupFilter(
                    input_folder=f"{work}/remove",
                    exclusion_writer=JsonlWriter(f"{work}/removed", compression=None),
                ),
                JsonlWriter(f"{work}/kept", compression=None),
            ],
            tasks=cores,
            logging_dir=f"{work}/logs/4",
        ),
    ]
    for s in steps:
        s.run()

    removed = []
    for name in sorted(os.listdir(f"{work}/removed")):
        path = f"{work}/removed/{name}"
        opener = gzip.open if name.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8") as f:
            removed.extend(json.loads(line)["id"] for line in f)
    with open(removed_out, "w") as f:
        f.writelines(f"{i}\n" for i in sorted(int(x) for x in removed))
    print(json.dumps({"removed": len(removed)}))


if __name__ == "__main__":
    main()
