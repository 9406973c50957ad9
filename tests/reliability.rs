//! Crash safety through the real binary: `bertfit finetune` SIGKILLed at two dozen moments
//! (inside checkpoint writes through `BERTFIT_PAUSE_AT`, and at times spread over the run) and
//! resumed each time ends bit-identical to an uninterrupted run; checkpoint manifests, the
//! output directory's lock, and a full disk.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "reliability/bad_input.rs"]
mod bad_input;
mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;
use sha2::{Digest, Sha256};

use common::{command, text, tiny_model_dir, write_reviews};

/// `finetune` of the tiny model: 48 rows in batches of 4 for `epochs` (12 steps each), evaluated
/// each epoch, a checkpoint every step (the newest 3 kept), logging every step.
fn finetune_args(model: &Path, data: &Path, out: &Path, epochs: &str) -> Vec<String> {
    [
        "finetune",
        "--model",
        model.to_str().unwrap(),
        "--dataset",
        data.to_str().unwrap(),
        "--train-size",
        "48",
        "--eval-size",
        "16",
        "--max-length",
        "32",
        "--padding",
        "longest",
        "--per-device-train-batch-size",
        "4",
        "--num-train-epochs",
        epochs,
        "--learning-rate",
        "1e-3",
        "--save-strategy",
        "steps",
        "--save-steps",
        "1",
        "--save-total-limit",
        "3",
        "--logging-steps",
        "1",
        "--seed",
        "7",
        "--output-dir",
        out.to_str().unwrap(),
        "--no-progress",
    ]
    .map(String::from)
    .to_vec()
}

fn checkpoints(out: &Path) -> Vec<PathBuf> {
    bertfit_train::list_checkpoints(out)
        .unwrap()
        .into_iter()
        .map(|(_, dir)| dir)
        .collect()
}

fn sha256(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap();
    Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// sha256 of an optimizer state: every tensor's name and bytes in name order, then the
/// scalars and metadata (burn writes the tensors in its hash map's order, which differs from
/// process to process, so the file's own bytes do not compare).
fn optimizer_digest(path: &Path) -> String {
    let reader = burn_pack::Reader::from_file(path).unwrap();
    let mut hasher = Sha256::new();
    for name in reader.tensor_names() {
        hasher.update(name.as_bytes());
        hasher.update(reader.tensor_data(name).unwrap());
    }
    hasher.update(format!("{:?}{:?}", reader.scalars(), reader.metadata()).as_bytes());
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Every file a checkpoint's manifest lists has its size and sha256 (checked here
/// independently of bertfit's own verification), and the manifest lists every file.
fn assert_intact(checkpoint: &Path, when: &str) {
    let manifest: Value = serde_json::from_str(
        &std::fs::read_to_string(checkpoint.join("manifest.json"))
            .unwrap_or_else(|e| panic!("{when}: {} has no manifest: {e}", checkpoint.display())),
    )
    .unwrap();
    let files = manifest["files"].as_object().unwrap();
    let on_disk: Vec<String> = std::fs::read_dir(checkpoint)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n != "manifest.json")
        .collect();
    assert_eq!(
        files.len(),
        on_disk.len(),
        "{when}: {on_disk:?} vs {files:?}"
    );
    for (name, digest) in files {
        let path = checkpoint.join(name);
        assert_eq!(
            digest["sha256"].as_str().unwrap(),
            sha256(&path),
            "{when}: {}",
            path.display()
        );
    }
}

/// What must hold after any kill: every checkpoint intact and the newest one loadable, every
/// top-level JSON and safetensors file whole, and every metrics line a JSON object.
fn assert_consistent(out: &Path, when: &str) {
    let all = checkpoints(out);
    for checkpoint in &all {
        assert_intact(checkpoint, when);
    }
    if let Some(newest) = all.last() {
        let info = command()
            .args(["info", newest.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(info.status.success(), "{when}: {}", text(&info.stderr));
    }
    let Ok(entries) = std::fs::read_dir(out) else {
        return;
    };
    for entry in entries.map(|e| e.unwrap().path()) {
        let name = entry.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with('.') || entry.is_dir() {
            continue;
        }
        let bytes = std::fs::read(&entry).unwrap();
        if name.ends_with(".json") {
            serde_json::from_slice::<Value>(&bytes)
                .unwrap_or_else(|e| panic!("{when}: {name} is not whole JSON: {e}"));
        } else if name.ends_with(".safetensors") {
            safetensors::SafeTensors::deserialize(&bytes)
                .unwrap_or_else(|e| panic!("{when}: {name} is not whole: {e}"));
        } else if name == "metrics.jsonl" {
            for line in String::from_utf8(bytes).unwrap().lines() {
                serde_json::from_str::<Value>(line)
                    .unwrap_or_else(|e| panic!("{when}: metrics line {line:?}: {e}"));
            }
        }
    }
}

/// How a kill is aimed.
#[derive(Debug, Clone, Copy)]
enum Kill {
    /// When the process announces it paused at this `BERTFIT_PAUSE_AT` point.
    At(&'static str),
    /// This long after the process reported its model loaded (`model: loaded …`), i.e. into
    /// the training, or once it has written [`MAX_TIMED_STEPS`] more checkpoints, whichever
    /// comes first.
    After(Duration),
}

/// The most checkpoints a timed kill lets a run write before it lands. The times are fractions
/// of the uninterrupted run, which shares two cores with the other tests of this file and so
/// can be several times slower than a resumed run: uncapped, a few timed kills could use up
/// the steps the aimed kills after them need.
const MAX_TIMED_STEPS: usize = 6;

/// The step of the newest checkpoint in `out` (0 for none).
fn newest_step(out: &Path) -> usize {
    bertfit_train::list_checkpoints(out)
        .unwrap_or_default()
        .last()
        .map_or(0, |(step, _)| *step)
}

/// Starts `args` (with `pause` armed), streaming its stderr lines into a channel.
fn spawn(args: &[String], pause: Option<&str>) -> (Child, mpsc::Receiver<String>) {
    let mut cmd = command();
    cmd.args(args).stdout(Stdio::null()).stderr(Stdio::piped());
    if let Some(point) = pause {
        cmd.env("BERTFIT_PAUSE_AT", point);
    }
    let mut child = cmd.spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let (send, receive) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if send.send(line).is_err() {
                break;
            }
        }
    });
    (child, receive)
}

/// Runs `args` (writing into `out`) until `kill` lands (true) or the run ends by itself
/// (false, with its stderr).
fn run_and_kill(args: &[String], out: &Path, kill: Kill) -> Result<(), String> {
    let pause = match kill {
        Kill::At(point) => Some(point),
        Kill::After(_) => None,
    };
    let first_step = newest_step(out);
    let (mut child, lines) = spawn(args, pause);
    let started = Instant::now();
    let mut loaded: Option<Instant> = None;
    let mut stderr = String::new();
    let landed = loop {
        let wait = match (kill, loaded) {
            (Kill::After(after), Some(loaded)) => after
                .saturating_sub(loaded.elapsed())
                .min(Duration::from_millis(10)),
            _ => Duration::from_millis(100),
        };
        match lines.recv_timeout(wait) {
            Ok(line) => {
                let paused = line.contains("bertfit: paused at");
                if line.starts_with("model: loaded") {
                    loaded = Some(Instant::now());
                }
                stderr.push_str(&line);
                stderr.push('\n');
                if paused {
                    break true;
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if let (Kill::After(after), Some(loaded)) = (kill, loaded) {
                    let due = loaded.elapsed() >= after
                        || newest_step(out) >= first_step + MAX_TIMED_STEPS;
                    if due {
                        break child.try_wait().unwrap().is_none();
                    }
                    continue;
                }
                assert!(
                    started.elapsed() < Duration::from_secs(300),
                    "no pause: {stderr}"
                );
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break false,
        }
    };
    if landed {
        child.kill().unwrap();
        child.wait().unwrap();
        return Ok(());
    }
    let status = child.wait().unwrap();
    assert!(status.success(), "the run failed by itself: {stderr}");
    Err(stderr)
}

/// Timing figures (the same in any two runs only by chance) taken out before comparing.
fn without_timings(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for key in [
                "samples_per_second",
                "train_runtime",
                "train_samples_per_second",
                "train_steps_per_second",
                "feature_extraction_runtime",
                "eval_runtime",
                "eval_samples_per_second",
                "eval_steps_per_second",
            ] {
                map.remove(key);
            }
            map.values_mut().for_each(without_timings);
        }
        Value::Array(items) => items.iter_mut().for_each(without_timings),
        _ => {}
    }
}

fn json_of(path: &Path) -> Value {
    let mut value: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    without_timings(&mut value);
    value
}

fn metrics_of(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| {
            let mut value = serde_json::from_str(line).unwrap();
            without_timings(&mut value);
            value
        })
        .collect()
}

/// Everything a finished run leaves that must not depend on how often it was killed: the
/// model's and the kept checkpoints' files byte for byte, and the JSON outputs without their
/// timings.
fn outcome(out: &Path) -> BTreeMap<String, Value> {
    let mut files = BTreeMap::new();
    for name in ["model.safetensors", "config.json", "tokenizer.json"] {
        files.insert(name.to_string(), Value::from(sha256(&out.join(name))));
    }
    for checkpoint in checkpoints(out) {
        let name = checkpoint
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        files.insert(
            format!("{name}/optimizer.bpk"),
            Value::from(optimizer_digest(&checkpoint.join("optimizer.bpk"))),
        );
        for file in ["model.safetensors", "param_ids.json"] {
            files.insert(
                format!("{name}/{file}"),
                Value::from(sha256(&checkpoint.join(file))),
            );
        }
        files.insert(
            format!("{name}/trainer_state.json"),
            json_of(&checkpoint.join("trainer_state.json")),
        );
    }
    for name in [
        "trainer_state.json",
        "training_config.json",
        "eval_results.json",
        "train_results.json",
    ] {
        files.insert(name.to_string(), json_of(&out.join(name)));
    }
    files.insert(
        "metrics.jsonl".into(),
        Value::Array(metrics_of(&out.join("metrics.jsonl"))),
    );
    files
}

fn run_to_end(args: &[String]) -> Output {
    let run = command().args(args).output().unwrap();
    assert!(
        run.status.success(),
        "{}\n{}",
        text(&run.stdout),
        text(&run.stderr)
    );
    run
}

fn with_resume(args: &[String], out: &Path) -> Vec<String> {
    let mut args = args.to_vec();
    if !checkpoints(out).is_empty() {
        args.push("--resume".into());
    }
    args
}

/// SIGKILL at 24 moments: inside each step of a checkpoint write (model, optimizer, state,
/// manifest, the rename, the rotation of old checkpoints), in a metrics write, at times spread
/// over the run, and inside the final save; `--resume` after each. The result is the
/// uninterrupted run's, bit for bit, and after every kill the directory is consistent.
#[test]
fn a_run_killed_two_dozen_times_and_resumed_ends_bit_identical() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model_dir(tmp.path());
    let data = write_reviews(tmp.path());
    let out = tmp.path().join("run");
    let args = finetune_args(&model, &data, &out, "8");

    // The training's own time: from the model's load to the end.
    let (mut child, lines) = spawn(&args, None);
    let loaded = lines
        .iter()
        .find(|line| line.starts_with("model: loaded"))
        .map(|_| Instant::now())
        .unwrap();
    for _ in lines.iter() {}
    assert!(child.wait().unwrap().success());
    let uninterrupted = loaded.elapsed();
    assert!(
        !out.join(".bertfit.lock").exists(),
        "a finished run keeps its lock file"
    );
    let reference = outcome(&out);
    std::fs::rename(&out, tmp.path().join("reference")).unwrap();

    let at = |fraction: f64| Kill::After(uninterrupted.mul_f64(fraction));
    // Each timed kill lands within the first fifth of what is left; each aimed at the k-th
    // write lands after k - 1 more checkpoints. 96 steps leave room for all of them.
    let schedule = [
        at(0.1),
        Kill::At("checkpoint:model@2"),
        Kill::At("checkpoint:optimizer@2"),
        at(0.2),
        Kill::At("checkpoint:state@2"),
        Kill::At("checkpoint:manifest@2"),
        Kill::At("checkpoint:commit@2"),
        at(0.05),
        Kill::At("checkpoint:rotate@2"),
        Kill::At("metrics:write@3"),
        Kill::At("checkpoint:model@3"),
        at(0.15),
        Kill::At("checkpoint:optimizer@3"),
        Kill::At("checkpoint:commit@3"),
        Kill::At("checkpoint:rotate@3"),
        at(0.1),
        Kill::At("checkpoint:manifest@3"),
        Kill::At("metrics:write@5"),
        Kill::At("checkpoint:state@3"),
        Kill::At("checkpoint:commit@4"),
        Kill::At("final:model"),
        Kill::At("final:commit"),
        Kill::At("final:state"),
        Kill::At("final:commit"),
    ];
    let mut landed = Vec::new();
    for (i, kill) in schedule.iter().enumerate() {
        let before = checkpoints(&out).last().cloned();
        match run_and_kill(&with_resume(&args, &out), &out, *kill) {
            Ok(()) => landed.push(format!("{kill:?} after {before:?}")),
            Err(stderr) => panic!(
                "kill {i} ({kill:?}) never landed: the run finished\n{stderr}\nlanded: {landed:#?}"
            ),
        }
        assert_consistent(&out, &format!("after kill {i} ({kill:?})"));
    }
    run_to_end(&with_resume(&args, &out));
    assert_consistent(&out, "at the end");
    assert!(!out.join(".bertfit.lock").exists());
    let leftovers: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
    println!("{} kills landed:\n{}", landed.len(), landed.join("\n"));
    assert!(landed.len() >= 20);

    let resumed = outcome(&out);
    let differing: Vec<&String> = reference
        .iter()
        .filter(|(name, expected)| resumed.get(*name) != Some(*expected))
        .map(|(name, _)| name)
        .collect();
    assert!(
        differing.is_empty(),
        "differing from the uninterrupted run: {differing:?}"
    );
    assert_eq!(
        resumed.keys().collect::<Vec<_>>(),
        reference.keys().collect::<Vec<_>>()
    );
}

/// A second `finetune` into a directory a run holds is refused with the holder's pid (with or
/// without `--resume`); once the holder is killed, its stale lock is taken over.
#[test]
fn a_second_run_into_a_held_directory_is_refused_with_the_holders_pid() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model_dir(tmp.path());
    let data = write_reviews(tmp.path());
    let out = tmp.path().join("run");
    let args = finetune_args(&model, &data, &out, "1");

    let (mut first, lines) = spawn(&args, Some("checkpoint:model@1"));
    assert!(
        lines.iter().any(|line| line.contains("bertfit: paused at")),
        "the first run never paused"
    );
    let expected = format!(
        "{} is in use by another bertfit run (pid {})",
        out.display(),
        first.id()
    );
    for extra in [None, Some("--resume")] {
        let mut second = args.clone();
        second.extend(extra.map(String::from));
        let run = command().args(&second).output().unwrap();
        assert!(!run.status.success());
        assert!(
            text(&run.stderr).contains(&expected),
            "{}",
            text(&run.stderr)
        );
    }
    first.kill().unwrap();
    first.wait().unwrap();
    assert!(
        out.join(".bertfit.lock").exists(),
        "a killed run leaves its lock file"
    );
    run_to_end(&args);
    assert!(!out.join(".bertfit.lock").exists());
    assert!(out.join("model.safetensors").is_file());
}

/// Flips one byte of `path`.
fn flip_a_byte(path: &Path) {
    let mut bytes = std::fs::read(path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    std::fs::write(path, bytes).unwrap();
}

/// The newest checkpoints damaged (one truncated, one with a flipped byte) are reported by file
/// and skipped: the run resumes from the newest intact one and ends as an uninterrupted run.
/// With every checkpoint damaged, `--resume` fails, naming each, and changes nothing.
#[test]
fn damaged_checkpoints_are_named_and_the_newest_intact_one_resumed() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model_dir(tmp.path());
    let data = write_reviews(tmp.path());
    let out = tmp.path().join("run");
    let args = finetune_args(&model, &data, &out, "2");
    run_to_end(&args);
    let reference = sha256(&out.join("model.safetensors"));
    std::fs::remove_dir_all(&out).unwrap();

    // Killed while writing checkpoint-10: checkpoints 7, 8 and 9 are kept (limit 3).
    run_and_kill(&args, &out, Kill::At("checkpoint:model@10")).unwrap();
    let kept: Vec<String> = checkpoints(&out)
        .iter()
        .map(|c| c.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(kept, ["checkpoint-7", "checkpoint-8", "checkpoint-9"]);
    let model_9 = out.join("checkpoint-9/model.safetensors");
    let size = std::fs::metadata(&model_9).unwrap().len();
    std::fs::File::options()
        .write(true)
        .open(&model_9)
        .unwrap()
        .set_len(size / 2)
        .unwrap();
    flip_a_byte(&out.join("checkpoint-8/optimizer.bpk"));

    let mut resume = args.clone();
    resume.push("--resume".into());
    let run = run_to_end(&resume);
    let stderr = text(&run.stderr);
    println!("{stderr}");
    for expected in [
        format!(
            "skipping {}: model.safetensors is {} bytes but was written with {size}",
            out.join("checkpoint-9").display(),
            size / 2
        ),
        format!(
            "skipping {}: optimizer.bpk does not match its sha256 in manifest.json",
            out.join("checkpoint-8").display()
        ),
    ] {
        assert!(stderr.contains(&expected), "{expected}\n{stderr}");
    }
    assert_eq!(sha256(&out.join("model.safetensors")), reference);

    // Every checkpoint damaged: a clear error, and nothing written.
    std::fs::remove_dir_all(&out).unwrap();
    run_and_kill(&args, &out, Kill::At("checkpoint:model@4")).unwrap();
    for checkpoint in checkpoints(&out) {
        flip_a_byte(&checkpoint.join("model.safetensors"));
    }
    // The killed run's stale lock file aside (the failed run takes it over, and deletes it).
    std::fs::remove_file(out.join(".bertfit.lock")).unwrap();
    let before = listing(&out);
    let run = command().args(&resume).output().unwrap();
    assert!(!run.status.success());
    let stderr = text(&run.stderr);
    println!("{stderr}");
    assert!(
        stderr.contains("no intact checkpoint")
            && stderr.contains("checkpoint-1 (model.safetensors does not match its sha256"),
        "{stderr}"
    );
    assert_eq!(
        listing(&out),
        before,
        "a failed --resume changed the directory"
    );
}

/// Every file under `dir` (hidden ones too) with its sha256.
fn listing(dir: &Path) -> BTreeMap<String, String> {
    let mut files = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        for entry in std::fs::read_dir(&next).unwrap().map(|e| e.unwrap().path()) {
            if entry.is_dir() {
                pending.push(entry);
            } else {
                let name = entry.strip_prefix(dir).unwrap().display().to_string();
                files.insert(name, sha256(&entry));
            }
        }
    }
    files
}

/// A tmpfs mounted for the test, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    /// Mounts a tmpfs of `size` (as `mount -o size=` takes it) on `dir`; this needs root, as
    /// CI runs.
    fn mount(dir: &Path, size: &str) -> Self {
        std::fs::create_dir_all(dir).unwrap();
        let mount = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output()
            .unwrap();
        assert!(
            mount.status.success(),
            "mounting a {size} tmpfs on {} failed (the disk-full test needs root, as CI has): {}",
            dir.display(),
            text(&mount.stderr)
        );
        Self(dir.to_path_buf())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

/// A run whose output directory fills up fails with "No space left on device" naming the file;
/// no temporary directory or half model is left, every checkpoint written is intact, and the
/// run resumes from them elsewhere to the uninterrupted run's weights.
#[test]
fn a_full_disk_fails_naming_the_file_and_keeps_every_checkpoint_intact() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model_dir(tmp.path());
    let data = write_reviews(tmp.path());
    let elsewhere = tmp.path().join("run");
    let reference_args = finetune_args(&model, &data, &elsewhere, "1");
    run_to_end(&reference_args);
    let reference = sha256(&elsewhere.join("model.safetensors"));
    std::fs::remove_dir_all(&elsewhere).unwrap();

    let disk = tmp.path().join("small-disk");
    let mounted = Tmpfs::mount(&disk, "1200k");
    let out = disk.join("run");
    let mut args = finetune_args(&model, &data, &out, "1");
    // Keep every checkpoint, so that the disk fills up a few steps in.
    let limit = args.iter().position(|a| a == "--save-total-limit").unwrap();
    args.drain(limit..limit + 2);
    let run = command().args(&args).output().unwrap();
    assert!(!run.status.success(), "the run fit on the small disk");
    let stderr = text(&run.stderr);
    println!("{stderr}");
    assert!(
        stderr.contains("No space left on device") && stderr.contains(&disk.display().to_string()),
        "{stderr}"
    );
    // Named as the user knows it, the hidden copy being written only as the cause.
    assert!(
        stderr.contains("Error: cannot write checkpoint ")
            && stderr.contains("/checkpoint-")
            && stderr.contains("the checkpoints written before it are intact"),
        "{stderr}"
    );
    let written = checkpoints(&out);
    assert!(!written.is_empty(), "no checkpoint fit: {stderr}");
    for checkpoint in &written {
        assert_intact(checkpoint, "after the disk filled up");
    }
    let names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(
        !names
            .iter()
            .any(|n| n.ends_with(".tmp") || n == "model.safetensors"),
        "partial output left: {names:?}"
    );

    // Nothing finished is lost: moved to a disk with room, the run resumes and ends as one
    // that never stopped.
    let copy = std::process::Command::new("cp")
        .args(["-a", out.to_str().unwrap(), elsewhere.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(copy.success());
    drop(mounted);
    let mut resume = reference_args.clone();
    resume.push("--resume".into());
    run_to_end(&resume);
    assert_eq!(sha256(&elsewhere.join("model.safetensors")), reference);
}

/// Errors print `Error: …` and their causes with no backtrace, even with RUST_BACKTRACE=1 in
/// the environment; `--verbose` and BERTFIT_BACKTRACE=1 ask for one.
#[test]
fn user_errors_print_no_backtrace_unless_asked() {
    let run = |args: &[&str], env: &[(&str, &str)]| {
        let out = command()
            .args(args)
            .envs(env.iter().copied())
            .output()
            .unwrap();
        assert!(!out.status.success());
        text(&out.stderr)
    };
    let args = ["info", "/no/such/model"];
    let plain = run(&args, &[("RUST_BACKTRACE", "1")]);
    assert!(plain.starts_with("Error: "), "{plain}");
    assert!(!plain.contains("Backtrace"), "{plain}");
    for asked in [
        run(&["--verbose", "info", "/no/such/model"], &[]),
        run(&args, &[("BERTFIT_BACKTRACE", "1")]),
    ] {
        assert!(asked.starts_with("Error: "), "{asked}");
        // A captured backtrace lists frames (`N: symbol`), not "disabled".
        let trace = asked.split("Backtrace:").nth(1).unwrap_or_default();
        assert!(trace.contains("0: "), "{asked}");
    }
}

/// A loss that turns NaN stops the run with its step, keeps the checkpoints before it and
/// writes no model over them.
#[test]
fn a_diverging_run_stops_at_the_first_nan_loss_and_keeps_its_checkpoints() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model_dir(tmp.path());
    let data = write_reviews(tmp.path());
    let out = tmp.path().join("run");
    let mut args = finetune_args(&model, &data, &out, "1");
    let lr = args.iter().position(|a| a == "--learning-rate").unwrap();
    args[lr + 1] = "1e30".into();
    // No clipping, so that the first step throws the weights out of range.
    args.extend(["--max-grad-norm", "0"].map(String::from));
    let run = command().args(&args).output().unwrap();
    assert!(!run.status.success());
    let stderr = text(&run.stderr);
    println!("{stderr}");
    let step: usize = stderr
        .split("at step ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no step named: {stderr}"));
    assert!(
        stderr.contains("the training loss is NaN") && stderr.contains("lower the learning rate"),
        "{stderr}"
    );
    let kept: Vec<PathBuf> = checkpoints(&out);
    assert_eq!(kept.len(), (step - 1).min(3), "{kept:?}");
    for checkpoint in &kept {
        assert_intact(checkpoint, "after the NaN loss");
    }
    assert!(!out.join("model.safetensors").exists());
}
