"""The seed recipe on the shipped sample with transformers.Trainer: the reference for bertfit's
`cargo xtask bench recipe` (same data, same subset, same model, same TrainingArguments).

    python xtask/bench/recipe_reference.py --model DIR --padding max_length|longest [--group-by-length]
        [--max-length 512] [--seed 42] [--shuffle-seed 42] [--epochs 2] [--train-layers all|head]
        [--threads N] [--out DIR]

Loads data/reviews-sample with `datasets`, takes `shuffle(shuffle_seed).select(range(500))` of
train and test, tokenizes with truncation to --max-length (padding to max_length, or none with
DataCollatorWithPadding padding each batch to its longest), fine-tunes
AutoModelForSequenceClassification(num_labels=2) for 2 epochs with evaluation each epoch and
prints one JSON object: wall seconds, train_runtime and the accuracy after each epoch.
"""

import argparse
import json
import os
import time


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--data", default="data/reviews-sample")
    parser.add_argument("--padding", choices=["max_length", "longest"], default="max_length")
    parser.add_argument("--group-by-length", action="store_true")
    parser.add_argument("--max-length", type=int, default=512)
    parser.add_argument("--seed", type=int, default=42, help="TrainingArguments.seed")
    parser.add_argument("--shuffle-seed", type=int, default=42, help="dataset.shuffle(seed=...)")
    parser.add_argument("--size", type=int, default=500)
    parser.add_argument("--epochs", type=float, default=2)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--train-layers", choices=["all", "head"], default="all",
                        help="head: feature extraction, the base frozen by requires_grad_(False)")
    parser.add_argument("--out", default="target/bench/recipe-reference")
    args = parser.parse_args()

    import datasets
    import numpy as np
    import torch
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        DataCollatorWithPadding,
        Trainer,
        TrainingArguments,
    )

    torch.set_num_threads(args.threads)
    datasets.disable_progress_bars()
    started = time.perf_counter()
    data = datasets.load_dataset("parquet", data_dir=args.data)
    tokenizer = AutoTokenizer.from_pretrained(args.model)

    def encode(rows):
        return tokenizer(
            rows["text"],
            padding="max_length" if args.padding == "max_length" else False,
            truncation=True,
            max_length=args.max_length,
        )

    train = data["train"].shuffle(seed=args.shuffle_seed).select(range(args.size)).map(encode, batched=True)
    test = data["test"].shuffle(seed=args.shuffle_seed).select(range(args.size)).map(encode, batched=True)
    keep = ["input_ids", "token_type_ids", "attention_mask", "label"]
    train = train.remove_columns([c for c in train.column_names if c not in keep])
    test = test.remove_columns([c for c in test.column_names if c not in keep])

    model = AutoModelForSequenceClassification.from_pretrained(args.model, num_labels=2)
    if args.train_layers == "head":
        # As a PyTorch user freezes a base: the encoder keeps running every step, with no
        # gradients; the pooler and classifier train.
        model.base_model.embeddings.requires_grad_(False)
        model.base_model.encoder.requires_grad_(False)

    def accuracy(prediction):
        logits, labels = prediction
        return {"accuracy": float((np.argmax(logits, axis=-1) == labels).mean())}

    training_args = TrainingArguments(
        output_dir=args.out,
        eval_strategy="epoch",
        num_train_epochs=args.epochs,
        save_strategy="no",
        train_sampling_strategy="group_by_length" if args.group_by_length else "random",
        seed=args.seed,
        report_to=[],
        disable_tqdm=True,
        use_cpu=True,
    )
    trainer = Trainer(
        model=model,
        args=training_args,
        train_dataset=train,
        eval_dataset=test,
        data_collator=DataCollatorWithPadding(tokenizer) if args.padding == "longest" else None,
        compute_metrics=accuracy,
    )
    result = trainer.train()
    evaluations = [
        {"epoch": record["epoch"], "accuracy": record["eval_accuracy"], "loss": record["eval_loss"]}
        for record in trainer.state.log_history
        if "eval_accuracy" in record
    ]
    print(
        json.dumps(
            {
                "impl": "transformers",
                "padding": args.padding,
                "group_by_length": args.group_by_length,
                "max_length": args.max_length,
                "train_layers": args.train_layers,
                "seed": args.seed,
                "wall_seconds": time.perf_counter() - started,
                "train_runtime": result.metrics["train_runtime"],
                "train_samples_per_second": result.metrics["train_samples_per_second"],
                "evaluations": evaluations,
                "versions": {"torch": torch.__version__, "transformers": __import__("transformers").__version__},
            }
        )
    )


if __name__ == "__main__":
    main()
