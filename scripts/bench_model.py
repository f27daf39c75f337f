#!/usr/bin/env python3
"""PyTorch CPU peer of steer's model benchmark (model/bench_test.go).

Measures, for each checkpoint directory given, the same three numbers with the same shapes:

  prefill   forward of batch 8 x 256 tokens, logits for every position   -> tokens/s
  decode1   greedy generation, batch 1, 16-token prompt, 64 new tokens  -> new tokens/s
  decode8   the same at batch 8                                          -> new tokens/s

Prompts are the ones of benchPrompt in model/bench_test.go, so both sides see identical ids.
Prints one JSON object per line: {"model": ..., "bench": ..., "tokens_per_s": ..., "threads": ...};
each number is the best of --threads and 1 thread (the peer at its best on a shared machine).

  python scripts/bench_model.py --threads 2 DIR [DIR ...]
  python scripts/bench_model.py --make-gpt2 DIR   # write the random GPT-2-small checkpoint (if Go did not)
"""

import argparse
import json
import os
import sys
import time


def bench_prompt(batch, length):
    return [[(b * 131 + j * 17 + 1) % 8000 for j in range(length)] for b in range(batch)]


def make_gpt2(dir_):
    """Random GPT-2-small-shaped checkpoint (only used when the Go side did not write one)."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    cfg = GPT2Config(n_layer=12, n_embd=768, n_head=12, vocab_size=50257, n_positions=1024)
    GPT2LMHeadModel(cfg).save_pretrained(dir_, safe_serialization=True)


def best_of(fn, reps, min_seconds=1.0):
    """Best wall time of fn over reps runs (after one warm-up run), and at least min_seconds of runs."""
    fn()
    best, total, n = float("inf"), 0.0, 0
    while n < reps or total < min_seconds:
        t = time.perf_counter()
        fn()
        dt = time.perf_counter() - t
        best, total, n = min(best, dt), total + dt, n + 1
        if n >= 3 * reps:
            break
    return best


def at_best(fn, reps, threads):
    """Best time over thread counts threads and 1: on a shared, loaded machine OpenMP's spinning
    barriers can make 2 threads several times slower than 1, so the peer is reported at its best."""
    import torch

    res = []
    for t in sorted({threads, 1}, reverse=True):
        torch.set_num_threads(t)
        res.append((best_of(fn, reps), t))
    torch.set_num_threads(threads)
    return min(res)


def run(dir_, name, reps, threads):
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(dir_, dtype=torch.float32)
    model.eval()
    out = []
    with torch.inference_mode():
        ids = torch.tensor(bench_prompt(8, 256))
        dt, t = at_best(lambda: model(ids, use_cache=False).logits, reps, threads)
        out.append((name, "prefill", 8 * 256 / dt, t))
        for batch in (1, 8):
            ids = torch.tensor(bench_prompt(batch, 16))
            mask = torch.ones_like(ids)
            n = 64

            def gen():
                g = model.generate(ids, attention_mask=mask, max_new_tokens=n, min_new_tokens=n,
                                   do_sample=False, use_cache=True, pad_token_id=0)
                assert g.shape[1] == 16 + n

            dt, t = at_best(gen, reps, threads)
            out.append((name, f"decode{batch}", batch * n / dt, t))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dirs", nargs="*", help="NAME=DIR checkpoint directories")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--make-gpt2", metavar="DIR")
    a = ap.parse_args()
    if a.make_gpt2:
        if not os.path.exists(os.path.join(a.make_gpt2, "config.json")):
            make_gpt2(a.make_gpt2)
        return
    import torch
    import transformers
    from transformers.utils import logging

    logging.set_verbosity_error()
    torch.set_num_threads(a.threads)
    torch.set_num_interop_threads(1)
    info = {"torch": torch.__version__, "transformers": transformers.__version__,
            "threads": torch.get_num_threads(), "mkl": torch.backends.mkl.is_available(),
            "mkldnn": torch.backends.mkldnn.is_available(),
            "capability": torch.backends.cpu.get_cpu_capability()}
    try:
        from threadpoolctl import threadpool_info
        info["threadpools"] = [(p["internal_api"], p["num_threads"]) for p in threadpool_info()]
    except ImportError:
        pass
    print(json.dumps({"peer": info}), flush=True)
    for spec in a.dirs:
        name, _, dir_ = spec.partition("=")
        for model, bench, tps, t in run(dir_, name, a.reps, a.threads):
            print(json.dumps({"model": model, "bench": bench, "tokens_per_s": round(tps, 1), "threads": t}), flush=True)


if __name__ == "__main__":
    sys.exit(main())
