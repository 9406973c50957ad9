"""Python clients, unchanged, against a running `bertfit serve`.

    pip install requests huggingface_hub
    bertfit serve --model DIR --port 8080 &
    python scripts/reference/serve_client.py --url http://127.0.0.1:8080 --model NAME

Checks, and exits non-zero on the first failure:
- `requests` against the HF Inference API form (`POST /`, `POST /models/NAME`) and TEI's
  `POST /predict`;
- `huggingface_hub.InferenceClient(base_url=...).text_classification(...)`, with `top_k` and
  `function_to_apply`, at the server's root and at `/models/NAME`;
- that both agree with each other and that probabilities sum to 1.
"""

import argparse
import math
import sys

import requests
from huggingface_hub import InferenceClient

TEXTS = ["A wonderful, moving film.", "Dull and far too long."]


def check(condition, what):
    if not condition:
        sys.exit(f"FAILED: {what}")
    print(f"ok: {what}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default="http://127.0.0.1:8080")
    parser.add_argument("--model", required=True, help="the model's name on the server")
    args = parser.parse_args()
    url = args.url.rstrip("/")

    info = requests.get(f"{url}/info", timeout=30).json()
    labels = info["labels"]
    print(f"serving {info['model_id']} ({info['architecture']}), labels {labels}")

    # The HF Inference API form with requests: one list per input, best first.
    r = requests.post(f"{url}/", json={"inputs": TEXTS}, timeout=60)
    check(r.status_code == 200, "requests POST / answers 200")
    hf = r.json()
    check(len(hf) == len(TEXTS), "one answer per input")
    for answer in hf:
        check(sorted(a["label"] for a in answer) == sorted(labels), "every label scored")
        check(abs(sum(a["score"] for a in answer) - 1) < 1e-6, "softmax sums to 1")
        check(answer == sorted(answer, key=lambda a: -a["score"]), "best first")
    named = requests.post(f"{url}/models/{args.model}", json={"inputs": TEXTS}, timeout=60).json()
    check(named == hf, "POST /models/NAME equals POST /")

    # TEI's form with requests.
    tei = requests.post(f"{url}/predict", json={"inputs": [[t] for t in TEXTS]}, timeout=60).json()
    for a, b in zip(tei, hf):
        check(
            all(abs(x["score"] - y["score"]) < 1e-9 and x["label"] == y["label"] for x, y in zip(a, b)),
            "TEI /predict equals the HF form",
        )
    bad = requests.post(f"{url}/predict", json={"inputs": ""}, timeout=30)
    check(bad.status_code == 400 and bad.json()["field"] == "inputs", "an empty input is a 400 naming the field")

    # huggingface_hub's InferenceClient, pointed at the server.
    for base in (url, f"{url}/models/{args.model}"):
        client = InferenceClient(base_url=base)
        out = client.text_classification(TEXTS[0])
        check([o.label for o in out] == [a["label"] for a in hf[0]], f"InferenceClient({base}) labels")
        check(all(abs(o.score - a["score"]) < 1e-9 for o, a in zip(out, hf[0])), f"InferenceClient({base}) scores")
        top = client.text_classification(TEXTS[1], top_k=1)
        check(len(top) == 1 and top[0].label == hf[1][0]["label"], "top_k=1 gives the best label")
        raw = client.text_classification(TEXTS[0], function_to_apply="none")
        logits = {o.label: o.score for o in raw}
        z = sum(math.exp(v) for v in logits.values())
        check(
            all(abs(math.exp(logits[a["label"]]) / z - a["score"]) < 1e-6 for a in hf[0]),
            "function_to_apply='none' gives the logits of those probabilities",
        )
    print("all checks passed")


if __name__ == "__main__":
    main()
