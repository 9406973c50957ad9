"""The Python side of `cargo xtask bench serve`: what a transformers user would deploy.

`transformers.pipeline("text-classification")` behind FastAPI on uvicorn (one worker), answering
the HF Inference API form that `bertfit serve` answers at `POST /`:
`{"inputs": str | [str]}` -> one list of `{"label", "score"}` per input, best first.

    python serve_reference.py --model DIR --port 8081 --threads 2
"""

import argparse

import torch
import uvicorn
from fastapi import FastAPI
from transformers import pipeline


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    classifier = pipeline("text-classification", model=args.model, top_k=None, device="cpu")
    app = FastAPI()

    @app.get("/health")
    def health():
        return {"status": "ok"}

    # A plain `def`: FastAPI runs it on its thread pool, as a user's synchronous endpoint.
    @app.post("/")
    def classify(body: dict):
        inputs = body["inputs"]
        texts = [inputs] if isinstance(inputs, str) else inputs
        return classifier(texts, truncation=True)

    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
