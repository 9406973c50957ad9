"""The PyTorch side of `cargo xtask bench`: what a bertfit user would run instead.

Each workload mirrors `bertfit bench <workload>` (crates/cli/src/commands/bench.rs) and prints
the same JSON object on stdout:

- train-step: BertForSequenceClassification forward + backward + torch.optim.AdamW step
  (weight decay 0.01 off biases and LayerNorm weights, lr 2e-5; fused, as `Trainer` runs it by
  default, or `--optim adamw_torch` for the for-loop) on a [batch, seq] batch of random ids, all
  attended, dropout on; the per-phase seconds (forward, backward, optimizer) beside the total.
  `--train-layers` freezes as bertfit does; `--lora-r` adds PEFT's LoRA adapters.
- inference: forward in eval mode under torch.inference_mode(), logits read back.
- tokenize: datasets.load_dataset("parquet") + Dataset.map(batched=True) with the fast
  tokenizer (padding="max_length", truncation=True, max_length=seq), the path of the
  Hugging Face tutorial; the parquet load is not timed, the map is.

Threads: torch.set_num_threads(--threads); the caller also sets OMP/MKL/RAYON variables.
Run with transformers + torch 2.9.0 (+ peft for --lora-r; `cargo xtask bench` installs them).
"""

import argparse
import json
import os
import resource
import sys
import time


def peak_rss_bytes():
    # ru_maxrss is in KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def load_model(args):
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(args.seed)
    if args.model:
        model = BertForSequenceClassification.from_pretrained(args.model, num_labels=2)
    else:
        config = BertConfig.from_json_file(args.config)
        config.num_labels = 2
        model = BertForSequenceClassification(config)
    return model


def random_batch(args, config):
    import torch

    if not 2 <= args.seq <= config.max_position_embeddings:
        sys.exit(f"--seq {args.seq} must be between 2 and {config.max_position_embeddings}")
    generator = torch.Generator().manual_seed(args.seed)
    low = min(1000, config.vocab_size - 1)
    ids = torch.randint(low, config.vocab_size, (args.batch, args.seq), generator=generator)
    labels = torch.randint(0, 2, (args.batch,), generator=generator)
    return {
        "input_ids": ids,
        "attention_mask": torch.ones_like(ids),
        "token_type_ids": torch.zeros_like(ids),
    }, labels


def report(workload, args, seconds, **extra):
    out = {
        "workload": workload,
        "impl": "pytorch",
        "device": args.device,
        "seq": args.seq,
        "batch": args.batch,
        "iters": len(seconds),
        "seconds": seconds,
        "items_per_second": args.batch * len(seconds) / sum(seconds),
        "peak_rss_bytes": peak_rss_bytes(),
        "threads": args.threads,
    }
    out.update(extra)
    return out


def freeze(model, train_layers):
    """bertfit's --train-layers: requires_grad_(False) on the embeddings and the encoder layers
    below the trained ones, which also run in eval mode (dropout off) as bertfit runs them; the
    head trains. Trainer's optimizer then holds only the trainable parameters."""
    if train_layers == "all":
        return
    base = model.base_model
    layers = base.transformer.layer if hasattr(base, "transformer") else base.encoder.layer
    n = len(layers)
    frozen_layers = n if train_layers == "head" else n - int(train_layers.removeprefix("last:"))
    frozen = [base.embeddings] + list(layers[:frozen_layers])
    if getattr(base, "embeddings_project", None) is not None:
        frozen.append(base.embeddings_project)
    for module in frozen:
        module.requires_grad_(False)
        module.eval()


def add_lora(model, args):
    """bertfit's --lora-r: PEFT's get_peft_model with its defaults for BERT (query and value),
    dropout 0; the classifier trains in full (modules_to_save) and everything else is frozen."""
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(task_type="SEQ_CLS", r=args.lora_r, lora_alpha=args.lora_alpha,
                        lora_dropout=0.0, target_modules=["query", "value"])
    return get_peft_model(model, config)


def train_step(args):
    import torch

    model = load_model(args)
    if args.lora_r:
        model = add_lora(model, args)
    model = model.to(args.device)
    model.train()
    freeze(model, args.train_layers)
    batch, labels = random_batch(args, model.config)
    batch = {k: v.to(args.device) for k, v in batch.items()}
    labels = labels.to(args.device)
    # HF's parameter groups (no decay on biases and LayerNorm weights) and the implementation
    # Trainer picks by default (`optim="adamw_torch_fused"`: torch's fused AdamW kernel, one
    # pass per parameter); `--optim adamw_torch` is torch.optim.AdamW's default for-loop.
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    no_decay = [n for n, _ in trainable if "bias" in n or "LayerNorm" in n]
    groups = [
        {"params": [p for n, p in trainable if n not in no_decay], "weight_decay": 0.01},
        {"params": [p for n, p in trainable if n in no_decay], "weight_decay": 0.0},
    ]
    optimizer = torch.optim.AdamW(groups, lr=2e-5, fused=args.optim == "adamw_torch_fused")
    seconds, losses = [], []
    # Per-iteration seconds of forward (loss read back), backward and optimizer step, as
    # `bertfit bench train-step` reports them.
    phases = {"forward": [], "backward": [], "optimizer": []}

    def sync():
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()

    for i in range(args.warmup + args.iters):
        started = time.perf_counter()
        torch.manual_seed(args.seed + i)
        loss = model(**batch, labels=labels).loss
        value = loss.item()
        forward = time.perf_counter() - started
        loss.backward()
        sync()
        backward = time.perf_counter() - started
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        sync()
        total = time.perf_counter() - started
        if i >= args.warmup:
            seconds.append(total)
            losses.append(value)
            phases["forward"].append(forward)
            phases["backward"].append(backward - forward)
            phases["optimizer"].append(total - backward)
    trainable_parameters = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return report("train_step", args, seconds, loss=losses, phases=phases, optim=args.optim,
                  train_layers=args.train_layers, lora_r=args.lora_r,
                  trainable_parameters=trainable_parameters)


def inference(args):
    import torch

    model = load_model(args).to(args.device)
    model.eval()
    batch, _ = random_batch(args, model.config)
    batch = {k: v.to(args.device) for k, v in batch.items()}
    seconds, checksum = [], 0.0
    with torch.inference_mode():
        for i in range(args.warmup + args.iters):
            started = time.perf_counter()
            logits = model(**batch).logits.double().cpu()
            if i >= args.warmup:
                seconds.append(time.perf_counter() - started)
                checksum = logits.sum().item()
    return report("inference", args, seconds, logits_sum=checksum)


def tokenize(args):
    import datasets
    from transformers import AutoTokenizer

    datasets.disable_progress_bars()
    tokenizer = AutoTokenizer.from_pretrained(args.tokenizer, use_fast=True)
    dataset = datasets.load_dataset(
        "parquet", data_files=args.texts, split="train", cache_dir=args.cache_dir
    )

    def encode(rows):
        return tokenizer(rows["text"], padding="max_length", truncation=True, max_length=args.seq)

    seconds, tokens = [], 0
    for i in range(args.warmup + args.iters):
        started = time.perf_counter()
        encoded = dataset.map(encode, batched=True, load_from_cache_file=False)
        if i >= args.warmup:
            seconds.append(time.perf_counter() - started)
            tokens = sum(sum(row) for row in encoded["attention_mask"])
    return {
        "workload": "tokenize",
        "impl": "pytorch",
        "seq": args.seq,
        "texts": len(dataset),
        "iters": len(seconds),
        "seconds": seconds,
        "items_per_second": len(dataset) * len(seconds) / sum(seconds),
        "attended_tokens": tokens,
        "peak_rss_bytes": peak_rss_bytes(),
        "threads": args.threads,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workload", choices=["train-step", "inference", "tokenize"])
    parser.add_argument("--model")
    parser.add_argument("--config")
    parser.add_argument("--tokenizer")
    parser.add_argument("--texts")
    parser.add_argument("--cache-dir")
    parser.add_argument("--seq", type=int, default=128)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--iters", type=int, default=3)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--optim", choices=["adamw_torch_fused", "adamw_torch"], default="adamw_torch_fused")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--train-layers", default="all",
                        help="train-step only: all, head or last:N (bertfit's --train-layers)")
    parser.add_argument("--lora-r", type=int, default=0,
                        help="train-step only: LoRA rank through peft (0: no adapters)")
    parser.add_argument("--lora-alpha", type=float, default=16.0)
    args = parser.parse_args()
    if args.lora_r and args.train_layers != "all":
        parser.error("--lora-r freezes the base itself; leave --train-layers at all")

    import torch

    torch.set_num_threads(args.threads)
    if args.workload == "tokenize":
        result = tokenize(args)
    elif args.workload == "train-step":
        result = train_step(args)
    else:
        result = inference(args)
    result["versions"] = {"torch": torch.__version__, "transformers": __import__("transformers").__version__}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
