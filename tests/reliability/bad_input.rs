//! The bad-input matrix: one row per bad input across data, model, tokenizer, config, flags and
//! checkpoints. Each row runs the real binary and asserts a non-zero exit, a message naming the
//! thing at fault and the fix in CLI terms (flags, not library fields), no output directory
//! created, and a finished run's directory left byte for byte as it was.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::common::{command, text, tiny_model_dir, write_reviews};
use crate::{listing, run_to_end};

/// Where a row's command writes.
#[derive(Clone, Copy, PartialEq)]
enum Target {
    /// `--output-dir` names a directory that does not exist: it must not be created.
    Fresh,
    /// `--output-dir` names a finished run: nothing in it may change.
    Finished,
    /// The command writes no directory (predict, evaluate, info).
    None,
}

/// One row of the matrix.
struct Case {
    /// What is bad.
    name: &'static str,
    /// The command line; `{model}`, `{data}`, `{out}`, `{finished}` and `{case}` (the row's own
    /// directory of bad files) are substituted.
    args: &'static [&'static str],
    /// Files the row needs, written into `{case}` before it runs.
    setup: fn(&Fixtures, &Path),
    /// What `--output-dir` is.
    target: Target,
    /// Text the message must contain: the thing at fault and the fix.
    expected: &'static [&'static str],
}

/// What every row can use.
struct Fixtures {
    model: PathBuf,
    data: PathBuf,
    finished: PathBuf,
}

fn none(_: &Fixtures, _: &Path) {}

fn write(path: &Path, bytes: impl AsRef<[u8]>) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

/// A copy of the tiny model's directory at `to`.
fn copy_model(fixtures: &Fixtures, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(&fixtures.model).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

/// The copy's config.json with `edit` applied.
fn edit_config(dir: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let path = dir.join("config.json");
    let mut config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    edit(&mut config);
    std::fs::write(path, serde_json::to_string_pretty(&config).unwrap()).unwrap();
}

/// The copy's model.safetensors with every value of `key` replaced by `value`.
fn poison_weight(dir: &Path, key: &str, value: f32) {
    let path = dir.join("model.safetensors");
    let bytes = std::fs::read(&path).unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut tensors: BTreeMap<String, (Vec<usize>, Vec<u8>)> = BTreeMap::new();
    for (name, view) in file.tensors() {
        let mut data = view.data().to_vec();
        if name == key {
            for chunk in data.chunks_exact_mut(4) {
                chunk.copy_from_slice(&value.to_le_bytes());
            }
        }
        tensors.insert(name, (view.shape().to_vec(), data));
    }
    let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = tensors
        .iter()
        .map(|(name, (shape, data))| {
            let view =
                safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape.clone(), data)
                    .unwrap();
            (name.clone(), view)
        })
        .collect();
    safetensors::serialize_to_file(views, None, &path).unwrap();
}

fn csv_rows(case: &Path, train: &str, test: &str) {
    write(&case.join("train.csv"), train);
    write(&case.join("test.csv"), test);
}

const GOOD_CSV: &str = "text,label\ngood film,pos\nbad film,neg\n";

/// The classic pickle payload: `os.system("touch MARKER")` on unpickling.
fn malicious_pickle(marker: &Path) -> Vec<u8> {
    let command = format!("touch {}", marker.display());
    let mut pickle = b"\x80\x02cos\nsystem\nq\x00X".to_vec();
    pickle.extend_from_slice(&(command.len() as u32).to_le_bytes());
    pickle.extend_from_slice(command.as_bytes());
    pickle.extend_from_slice(b"q\x01\x85q\x02Rq\x03.");
    pickle
}

/// Every row. A row whose command line starts with a flag is a `finetune` row: its flags
/// override a good run's (see `finetune_line`).
fn cases() -> Vec<Case> {
    vec![
        // Data.
        Case {
            name: "an empty data file",
            args: &["--dataset", "{case}"],
            setup: |_, case| csv_rows(case, "", GOOD_CSV),
            target: Target::Fresh,
            expected: &["train.csv", "empty"],
        },
        Case {
            name: "a CSV with a header only",
            args: &["--dataset", "{case}"],
            setup: |_, case| csv_rows(case, "text,label\n", GOOD_CSV),
            target: Target::Fresh,
            expected: &["train", "no rows"],
        },
        Case {
            name: "a missing text column",
            args: &["--dataset", "{data}", "--text-column", "review"],
            setup: none,
            target: Target::Fresh,
            expected: &["no column `review`", "--text-column"],
        },
        Case {
            name: "a missing label column",
            args: &["--dataset", "{data}", "--label-column", "sentiment"],
            setup: none,
            target: Target::Fresh,
            expected: &["no column `sentiment`", "--label-column"],
        },
        Case {
            name: "integer and string labels mixed",
            args: &["--dataset", "{case}"],
            setup: |_, case| {
                write(
                    &case.join("train.jsonl"),
                    "{\"text\": \"good film\", \"label\": 1}\n{\"text\": \"bad film\", \"label\": \"neg\"}\n",
                );
                write(
                    &case.join("test.jsonl"),
                    "{\"text\": \"fine film\", \"label\": 1}\n",
                );
            },
            target: Target::Fresh,
            expected: &["mixes integer labels", "label names"],
        },
        Case {
            name: "a label outside the model's labels",
            args: &[
                "evaluate",
                "--model",
                "{finished}",
                "--dataset",
                "{case}",
                "--split",
                "test",
            ],
            setup: |_, case| {
                write(
                    &case.join("test.jsonl"),
                    "{\"text\": \"good film\", \"label\": 1}\n{\"text\": \"odd film\", \"label\": 5}\n",
                );
            },
            target: Target::None,
            expected: &["label 5", "row 1"],
        },
        Case {
            name: "a malformed JSONL line",
            args: &["--dataset", "{case}"],
            setup: |_, case| {
                write(
                    &case.join("train.jsonl"),
                    "{\"text\": \"good film\", \"label\": \"pos\"}\n{\"text\": \"bad film\", \"label\": \"neg\"}\n{\"text\": \"broken\n",
                );
                write(
                    &case.join("test.jsonl"),
                    "{\"text\": \"fine film\", \"label\": \"pos\"}\n",
                );
            },
            target: Target::Fresh,
            expected: &["train.jsonl", "line 3"],
        },
        Case {
            name: "invalid UTF-8 in a CSV row",
            args: &["--dataset", "{case}"],
            setup: |_, case| {
                let mut train = b"text,label\ngood film,pos\n".to_vec();
                train.extend_from_slice(b"bad \xff\xfe film,neg\n");
                write(&case.join("train.csv"), train);
                write(&case.join("test.csv"), GOOD_CSV);
            },
            target: Target::Fresh,
            expected: &["train.csv: line 3 is not valid UTF-8", "re-save"],
        },
        Case {
            name: "a ragged CSV row",
            args: &["--dataset", "{case}"],
            setup: |_, case| {
                csv_rows(
                    case,
                    "text,label\ngood film,pos\nbad film,neg,extra,fields\n",
                    GOOD_CSV,
                )
            },
            target: Target::Fresh,
            expected: &["train.csv: the record on line 3 has 4 fields", "quote"],
        },
        Case {
            name: "a parquet text column of integers",
            args: &["--dataset", "{case}"],
            setup: |_, case| {
                use polars::prelude::*;
                std::fs::create_dir_all(case).unwrap();
                for split in ["train", "test"] {
                    let mut frame = df!("text" => [1i64, 2], "label" => [0i64, 1]).unwrap();
                    let file =
                        std::fs::File::create(case.join(format!("{split}.parquet"))).unwrap();
                    ParquetWriter::new(file).finish(&mut frame).unwrap();
                }
            },
            target: Target::Fresh,
            expected: &["column `text` has type", "--text-column"],
        },
        Case {
            name: "two files for one split",
            args: &["--dataset", "{case}"],
            setup: |_, case| {
                csv_rows(case, GOOD_CSV, GOOD_CSV);
                write(
                    &case.join("train.jsonl"),
                    "{\"text\": \"good film\", \"label\": \"pos\"}\n",
                );
            },
            target: Target::Fresh,
            expected: &["train", "train.csv", "train.jsonl"],
        },
        Case {
            name: "empty text in a row",
            args: &["--dataset", "{case}"],
            setup: |_, case| csv_rows(case, "text,label\ngood film,pos\n\"\",neg\n", GOOD_CSV),
            target: Target::Fresh,
            expected: &["row 1", "empty", "--drop-empty-text"],
        },
        Case {
            name: "an evaluation split that does not exist",
            args: &["--dataset", "{data}", "--eval-split", "validation"],
            setup: none,
            target: Target::Fresh,
            expected: &["no split `validation`", "--eval-split"],
        },
        Case {
            name: "more training rows asked for than the split has",
            args: &["--dataset", "{data}", "--train-size", "5000"],
            setup: none,
            target: Target::Fresh,
            expected: &["--train-size 5000", "96 rows"],
        },
        Case {
            name: "a dataset path that does not exist",
            args: &["--dataset", "{case}/missing.parquet"],
            setup: none,
            target: Target::Fresh,
            expected: &["missing.parquet", "no such file"],
        },
        // Model and checkpoint files.
        Case {
            name: "a model directory that does not exist",
            args: &["--model", "{case}/no-model"],
            setup: none,
            target: Target::Fresh,
            expected: &["no-model"],
        },
        Case {
            name: "a model directory without weights",
            args: &["--model", "{case}/model"],
            setup: |f, case| {
                copy_model(f, &case.join("model"));
                std::fs::remove_file(case.join("model/model.safetensors")).unwrap();
            },
            target: Target::Fresh,
            expected: &["model.safetensors", "pytorch_model.bin"],
        },
        Case {
            name: "a malformed config.json",
            args: &["--model", "{case}/model"],
            setup: |f, case| {
                copy_model(f, &case.join("model"));
                write(
                    &case.join("model/config.json"),
                    "{\"model_type\": \"bert\",",
                );
            },
            target: Target::Fresh,
            expected: &["config.json", "line"],
        },
        Case {
            name: "an unknown model_type",
            args: &["--model", "{case}/model"],
            setup: |f, case| {
                copy_model(f, &case.join("model"));
                edit_config(&case.join("model"), |c| c["model_type"] = "gpt2".into());
            },
            target: Target::Fresh,
            expected: &["gpt2", "bert"],
        },
        Case {
            name: "weights of another shape than the config",
            args: &["--model", "{case}/model"],
            setup: |f, case| {
                copy_model(f, &case.join("model"));
                edit_config(&case.join("model"), |c| c["intermediate_size"] = 48.into());
            },
            target: Target::Fresh,
            expected: &["intermediate", "48", "64"],
        },
        Case {
            name: "a truncated model.safetensors",
            args: &["--model", "{case}/model"],
            setup: |f, case| {
                copy_model(f, &case.join("model"));
                let path = case.join("model/model.safetensors");
                let bytes = std::fs::read(&path).unwrap();
                std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
            },
            target: Target::Fresh,
            expected: &["model.safetensors", "truncated", "download it again"],
        },
        Case {
            name: "a safetensors header pointing past the end of the file",
            args: &["--model", "{case}/model"],
            setup: |f, case| {
                copy_model(f, &case.join("model"));
                let header = br#"{"bert.embeddings.word_embeddings.weight":{"dtype":"F32","shape":[240,32],"data_offsets":[0,30720]}}"#;
                let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
                bytes.extend_from_slice(header);
                bytes.extend_from_slice(&[0u8; 64]);
                std::fs::write(case.join("model/model.safetensors"), bytes).unwrap();
            },
            target: Target::Fresh,
            expected: &["describes 30720 bytes of tensors but the file holds 64"],
        },
        Case {
            name: "NaN weights",
            args: &["--model", "{case}/model"],
            setup: |f, case| {
                copy_model(f, &case.join("model"));
                poison_weight(
                    &case.join("model"),
                    "bert.encoder.layer.1.output.dense.weight",
                    f32::NAN,
                );
            },
            target: Target::Fresh,
            expected: &[
                "NaN or infinite",
                "bert.encoder.layer.1.output.dense.weight",
                "earlier checkpoint",
            ],
        },
        Case {
            name: "infinite weights, to predict with",
            args: &["predict", "--model", "{case}/model", "a fine film"],
            setup: |f, case| {
                copy_model(f, &case.join("model"));
                poison_weight(&case.join("model"), "classifier.bias", f32::INFINITY);
            },
            target: Target::None,
            expected: &["NaN or infinite", "classifier.bias"],
        },
        Case {
            name: "a pickle whose unpickling would run code",
            args: &["--model", "{case}/model"],
            setup: |f, case| {
                copy_model(f, &case.join("model"));
                std::fs::remove_file(case.join("model/model.safetensors")).unwrap();
                write(
                    &case.join("model/pytorch_model.bin"),
                    malicious_pickle(&case.join("pwned")),
                );
            },
            target: Target::Fresh,
            expected: &["pytorch_model.bin", "never runs code", "model.safetensors"],
        },
        // Tokenizer.
        Case {
            name: "no tokenizer beside the model",
            args: &["--model", "{case}/model"],
            setup: |f, case| {
                copy_model(f, &case.join("model"));
                std::fs::remove_file(case.join("model/vocab.txt")).unwrap();
            },
            target: Target::Fresh,
            expected: &["tokenizer", "tokenizer.json", "vocab.txt"],
        },
        Case {
            name: "a tokenizer larger than the model's vocabulary",
            args: &["--model", "{case}/model"],
            setup: |f, case| {
                copy_model(f, &case.join("model"));
                let vocab = std::fs::read_to_string(case.join("model/vocab.txt")).unwrap();
                let longer = format!("{vocab}extra1\nextra2\n");
                std::fs::write(case.join("model/vocab.txt"), longer).unwrap();
            },
            target: Target::Fresh,
            expected: &["242 tokens", "vocab_size is 240"],
        },
        // Flags and config.
        Case {
            name: "--max-length above the model's limit",
            args: &["--max-length", "100000"],
            setup: none,
            target: Target::Fresh,
            expected: &[
                "--max-length 100000",
                "max_position_embeddings",
                "at most 64",
            ],
        },
        Case {
            name: "a batch size of 0",
            args: &["--per-device-train-batch-size", "0"],
            setup: none,
            target: Target::Fresh,
            expected: &["--per-device-train-batch-size"],
        },
        Case {
            name: "a negative learning rate",
            args: &["--learning-rate=-0.001"],
            setup: none,
            target: Target::Fresh,
            expected: &["--learning-rate"],
        },
        Case {
            name: "an unknown device",
            args: &["--device", "tpu"],
            setup: none,
            target: Target::Fresh,
            expected: &["--device", "tpu", "cpu"],
        },
        Case {
            name: "a malformed --config file",
            args: &["--config", "{case}/training.json"],
            setup: |_, case| write(&case.join("training.json"), "{\"learning_rate\": }"),
            target: Target::Fresh,
            expected: &["--config", "training.json"],
        },
        Case {
            name: "LoRA with layer freezing",
            args: &["--lora-r", "8", "--train-layers", "head"],
            setup: none,
            target: Target::Fresh,
            expected: &["--lora-r", "--train-layers"],
        },
        Case {
            name: "a LoRA dropout of 1",
            args: &["--lora-r", "8", "--lora-dropout", "1"],
            setup: none,
            target: Target::Fresh,
            expected: &["--lora-dropout 1", "[0, 1)"],
        },
        Case {
            name: "more trained layers than the model has",
            args: &["--train-layers", "last:9"],
            setup: none,
            target: Target::Fresh,
            expected: &["--train-layers last:9", "2 encoder layers"],
        },
        // Output directories and checkpoints.
        Case {
            name: "--resume with no checkpoint",
            args: &["--resume"],
            setup: none,
            target: Target::Fresh,
            expected: &["no checkpoint", "without --resume"],
        },
        Case {
            name: "an output directory below a file",
            args: &["--output-dir", "{case}/file/run"],
            setup: |_, case| write(&case.join("file"), "not a directory"),
            target: Target::None,
            expected: &["--output-dir", "is a file, not a directory"],
        },
        Case {
            name: "a finished run's directory, without --overwrite-output-dir",
            args: &["--output-dir", "{finished}"],
            setup: none,
            target: Target::Finished,
            expected: &[
                "already holds a model",
                "--resume",
                "--overwrite-output-dir",
            ],
        },
        Case {
            name: "--resume of a finished run with another length",
            args: &[
                "--output-dir",
                "{finished}",
                "--resume",
                "--train-size",
                "16",
                "--eval-size",
                "8",
                "--num-train-epochs",
                "3",
            ],
            setup: none,
            target: Target::Finished,
            expected: &[
                "--resume:",
                "belongs to a run of 2 steps but these flags and data make 6",
                "--num-train-epochs was 1.0 and is 3.0",
                "resume with the values it was started with",
            ],
        },
        Case {
            name: "--resume of a finished run on more training data",
            args: &[
                "--output-dir",
                "{finished}",
                "--resume",
                "--train-size",
                "40",
                "--eval-size",
                "8",
            ],
            setup: none,
            target: Target::Finished,
            expected: &[
                "belongs to a run of 2 steps but these flags and data make 5",
                "the training data changed",
                "--train-size",
            ],
        },
        Case {
            name: "an empty text to predict",
            args: &["predict", "--model", "{finished}", "  "],
            setup: none,
            target: Target::Finished,
            expected: &["empty"],
        },
    ]
}

/// The flags every finetune row starts from: a good run of the tiny model into `{out}`,
/// unless the row overrides them.
fn finetune_line(args: &[&str]) -> Vec<String> {
    let mut line: Vec<String> = [
        "finetune",
        "--model",
        "{model}",
        "--dataset",
        "{data}",
        "--max-length",
        "32",
        "--num-train-epochs",
        "1",
        "--output-dir",
        "{out}",
        "--no-progress",
    ]
    .map(String::from)
    .to_vec();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let (flag, value) = match arg.split_once('=') {
            Some((flag, value)) => (flag.to_string(), Some(value.to_string())),
            None => (arg.to_string(), None),
        };
        let takes_value = value.is_none()
            && !matches!(
                flag.as_str(),
                "--resume" | "--overwrite-output-dir" | "--no-progress"
            );
        let value = match value {
            Some(v) => Some(v),
            None if takes_value => rest.next().map(|v| v.to_string()),
            None => None,
        };
        match line.iter().position(|a| *a == flag) {
            Some(at) if value.is_some() => line[at + 1] = value.unwrap_or_default(),
            // `--flag=value`, for values that start with a dash.
            _ if arg.contains('=') => line.push(arg.to_string()),
            _ => {
                line.push(flag);
                line.extend(value);
            }
        }
    }
    line
}

/// Runs every row and reports every failing one at once.
#[test]
fn every_bad_input_fails_clearly_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let fixtures = Fixtures {
        model: tiny_model_dir(tmp.path()),
        data: write_reviews(tmp.path()),
        finished: tmp.path().join("finished"),
    };
    let finished: Vec<String> = finetune_line(&["--train-size", "16", "--eval-size", "8"])
        .into_iter()
        .map(|a| {
            a.replace("{model}", fixtures.model.to_str().unwrap())
                .replace("{data}", fixtures.data.to_str().unwrap())
                .replace("{out}", fixtures.finished.to_str().unwrap())
        })
        .collect();
    run_to_end(&finished);
    let finished_files = listing(&fixtures.finished);

    let cases = cases();
    let mut failures = Vec::new();
    let mut table = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let dir = tmp.path().join(format!("case-{i}"));
        std::fs::create_dir_all(&dir).unwrap();
        (case.setup)(&fixtures, &dir);
        let out = dir.join("out");
        let line: Vec<String> = if case.args.first().is_some_and(|a| a.starts_with("--")) {
            finetune_line(case.args)
        } else {
            case.args.iter().map(|a| a.to_string()).collect()
        };
        let line: Vec<String> = line
            .into_iter()
            .map(|a| {
                a.replace("{model}", fixtures.model.to_str().unwrap())
                    .replace("{data}", fixtures.data.to_str().unwrap())
                    .replace("{finished}", fixtures.finished.to_str().unwrap())
                    .replace("{out}", out.to_str().unwrap())
                    .replace("{case}", dir.to_str().unwrap())
            })
            .collect();
        let run = command().args(&line).output().unwrap();
        let stderr = text(&run.stderr);
        let mut wrong = Vec::new();
        if run.status.success() {
            wrong.push("it succeeded".to_string());
        }
        for expected in case.expected {
            if !stderr.contains(expected) {
                wrong.push(format!("the message lacks {expected:?}"));
            }
        }
        for internal in [
            "LoadOptions",
            "TrainingConfig",
            "panicked",
            "stack backtrace",
        ] {
            if stderr.contains(internal) {
                wrong.push(format!("the message shows {internal:?}"));
            }
        }
        if case.target == Target::Fresh && out.exists() {
            wrong.push(format!("it created {}", out.display()));
        }
        if listing(&fixtures.finished) != finished_files {
            wrong.push("it changed the finished run's directory".into());
        }
        if dir.join("pwned").exists() {
            wrong.push("the pickle's code ran".into());
        }
        // `Error: …` and its causes on one line.
        let message = stderr
            .lines()
            .skip_while(|l| !l.starts_with("Error:"))
            .filter(|l| l.starts_with("Error:") || l.starts_with("    "))
            .map(|l| l.trim_start_matches("Error: ").trim())
            .collect::<Vec<_>>()
            .join(" · ");
        table.push(format!(
            "| {} | {} |",
            case.name,
            message.replace(tmp.path().to_str().unwrap(), "…")
        ));
        if !wrong.is_empty() {
            failures.push(format!(
                "{}: {}\n  {}\n{stderr}",
                case.name,
                wrong.join("; "),
                line.join(" ")
            ));
        }
    }
    println!("| bad input | message |\n|---|---|\n{}", table.join("\n"));
    assert!(cases.len() >= 30);
    assert!(
        failures.is_empty(),
        "{} of {} rows failed:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}
