"""Reference distributions for the sampler: transformers' logits warpers, in generate's order.

Run with a Python that has torch and transformers (scripts/venv.sh makes one):
    python model/sample/testdata/gen_warpers.py model/sample/testdata/warpers.json
For random logit rows (continuous, so that no two tokens tie at a top-p boundary, plus rows with ties
for top-k and min-p) and a grid of temperature/top_k/top_p/min_p, records the probabilities of
softmax(warped scores) as transformers' generate builds them (TemperatureLogitsWarper, TopKLogitsWarper,
TopPLogitsWarper, MinPLogitsWarper, min_tokens_to_keep 1), in float32.
Also RepetitionPenaltyLogitsProcessor's scores for previous ids with repeats.
model/sample's TestWarpersMatchTransformers compares Distribution and ApplyRepetitionPenalty against them.
"""
import itertools, json, sys
import torch, transformers
from transformers.generation.logits_process import (LogitsProcessorList, TemperatureLogitsWarper,
                                                    TopKLogitsWarper, TopPLogitsWarper, MinPLogitsWarper,
                                                    RepetitionPenaltyLogitsProcessor)

torch.manual_seed(0)
V = 32
rows = [torch.randn(V) * s for s in (0.5, 2.0, 4.0)]
tied = [torch.round(torch.randn(V) * 2) for _ in range(2)]  # integer logits: many ties
cases = []
grid = itertools.product((0.5, 1.0, 1.7), (0, 1, 5, 20), (1.0, 0.95, 0.6, 0.05), (0.0, 0.05, 0.3))
for temp, k, p, mp in grid:
    for ri, row in enumerate(rows + tied):
        if ri >= len(rows) and p < 1.0:
            continue  # torch.sort's order among tied tokens at the top-p boundary is unspecified
        procs = [TemperatureLogitsWarper(temp)]
        if k:
            procs.append(TopKLogitsWarper(top_k=k, min_tokens_to_keep=1))
        if p < 1.0:
            procs.append(TopPLogitsWarper(top_p=p, min_tokens_to_keep=1))
        if mp > 0:
            procs.append(MinPLogitsWarper(min_p=mp, min_tokens_to_keep=1))
        scores = LogitsProcessorList(procs)(torch.zeros(1, 1, dtype=torch.long), row[None].float().clone())
        probs = torch.softmax(scores, dim=-1)[0]
        cases.append({"temperature": temp, "top_k": k, "top_p": p, "min_p": mp,
                      "logits": [float(f"{x:.9g}") for x in row], "probs": [float(f"{x:.9g}") for x in probs]})
# RepetitionPenaltyLogitsProcessor on the logits, for previous ids with repeats.
penalty = []
for pen in (1.3, 0.7, 2.0):
    for ri, row in enumerate(rows + tied):
        prev = torch.randint(0, V, (12,))
        out = RepetitionPenaltyLogitsProcessor(penalty=pen)(prev[None], row[None].float().clone())[0]
        penalty.append({"penalty": pen, "prev": [int(x) for x in prev], "logits": [float(f"{x:.9g}") for x in row],
                        "scores": [float(f"{x:.9g}") for x in out]})
json.dump({"transformers": transformers.__version__, "cases": cases, "repetition_penalty": penalty}, open(sys.argv[1], "w"))
print(len(cases), "cases", len(penalty), "penalty cases")
