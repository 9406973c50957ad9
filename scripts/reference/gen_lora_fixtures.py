#!/usr/bin/env python3
# Regenerate (from anywhere; the script chdirs to the workspace root):
#   /root/.cache/bertfit/pyref/bin/python scripts/reference/gen_lora_fixtures.py
# Venv: scripts/reference/requirements.txt (torch 2.9.0, transformers 5.24.0, accelerate 1.15.0,
# safetensors 0.8.0, peft 0.21.2).  No network.  About 30 s on 2 cores.  The script re-executes
# itself with PYTHONHASHSEED=0: PEFT keeps target_modules in a set and writes it to
# adapter_config.json in set order.  Two runs on one machine give byte-identical files; on another
# CPU torch's kernels round differently (see gen_arch_fixtures.py), so regenerate only what a
# change needs.  It reads, never writes, the model fixtures crates/model/tests/fixtures/{tiny,
# distilbert,roberta,xlm_roberta,electra} and imports the recipe of scripts/reference/
# gen_arch_fixtures.py (and, for BERT, the data of crates/train/tests/fixtures/gen_fixtures.py).
#
# LoRA = peft.LoraConfig(task_type="SEQ_CLS", r=4, lora_alpha=8, lora_dropout=0.0, target_modules
# ["query","value"] (["q_lin","v_lin"] for DistilBERT), use_rslora only for roberta); the SEQ_CLS
# task adds modules_to_save ["classifier","score"].  ARCH is bert (the tiny BERT model fixture),
# distilbert, roberta, xlm_roberta, electra.  It writes
#   crates/train/tests/fixtures/trainer/<ARCH>-lora/
#       args.json, data.safetensors, log.json   as trainer/<ARCH>/ (gen_arch_fixtures.
#                                               save_trainer_fixture: transformers.Trainer, 5 steps,
#                                               batch 4, lr 1e-4) with the model wrapped by
#                                               peft.get_peft_model; args.json adds `lora`,
#                                               `trainable_params` and PEFT's parameter names
#       adapter_init/                           peft_model.save_pretrained right after
#                                               get_peft_model (random lora_A, zero lora_B, head =
#                                               the fixture's head): the start of the run
#       adapter_final/                          peft_model.save_pretrained after the 5 steps
#   crates/model/tests/fixtures/lora/<ARCH>/
#       adapter/                                a PEFT adapter trained 20 steps at lr 5e-3 (lora_B
#                                               clearly nonzero); bert: target_modules
#                                               ["query","key","value","dense"], lora_alpha 16
#       merged/                                 merge_and_unload().save_pretrained: config.json,
#                                               model.safetensors
#       reference.safetensors, reference.json   eval-mode logits of the PeftModel, of the base model
#                                               and of the merged model on the inputs of the model
#                                               fixture's reference.safetensors
# adapter dirs hold adapter_config.json + adapter_model.safetensors (PEFT's README.md model card
# is dropped); base_model_name_or_path is the model fixture path relative to the workspace root.
#
# Everything is seeded, runs on CPU in float32, eager attention, model.eval() for references.
"""Seeded PEFT LoRA references for the bertfit LoRA parity tests (training, inference, merge)."""

import os
import sys

if os.environ.get("PYTHONHASHSEED") != "0":
    os.environ["PYTHONHASHSEED"] = "0"
    os.execv(sys.executable, [sys.executable] + sys.argv)

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import importlib.util
import json
import math
import shutil
import tempfile

import torch
from safetensors.torch import load_file

import accelerate
import peft
import transformers
from peft import LoraConfig, PeftModel, get_peft_model
from peft.tuners.lora import LoraLayer
from peft.utils import ModulesToSaveWrapper
from peft.utils.constants import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING
from transformers import AutoModelForSequenceClassification, AutoTokenizer, BertForSequenceClassification

import gen_arch_fixtures as gaf  # noqa: E402
from gen_arch_fixtures import (  # noqa: E402
    ARCHS, DATA_RECIPE, ROOT, SEED, check_trainer_run, dump_json, fresh_dir,
    model_kwargs, run_trainer, seed_all, trainer_args_json, trainer_hp, trainer_log_json,
    write_safetensors,
)

GENERATOR = "scripts/reference/gen_lora_fixtures.py"
LORA_FIXTURES = os.path.join(gaf.MODEL_FIXTURES, "lora")
TRAIN_FIXTURES = gaf.TRAIN_FIXTURES
LORA_INIT_SEED = SEED  # torch.manual_seed before get_peft_model (lora_A's kaiming-uniform init)

# The BERT trainer fixture trainer/finetune: its data recipe lives in crates/train/tests/fixtures.
_spec = importlib.util.spec_from_file_location(
    "train_gen_fixtures", os.path.join(ROOT, "crates", "train", "tests", "fixtures", "gen_fixtures.py"))
train_gen = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(train_gen)

BERT = dict(
    model_cls=BertForSequenceClassification, prefix="bert", takes_token_type_ids=True,
    # = trainer/finetune/args.json model_overrides (less attn_implementation)
    dropout_off=dict(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                     classifier_dropout=None),
)
# arch -> (spec, model fixture dir under crates/model/tests/fixtures)
LORA_ARCHS = {"bert": (BERT, "tiny")}
LORA_ARCHS.update({a: (ARCHS[a], a) for a in ARCHS})
assert list(LORA_ARCHS) == ["bert", "distilbert", "roberta", "xlm_roberta", "electra"]

R = 4
LORA_ALPHA = 8
TARGETS = dict(bert=["query", "value"], distilbert=["q_lin", "v_lin"], roberta=["query", "value"],
               xlm_roberta=["query", "value"], electra=["query", "value"])
RSLORA = {"roberta"}
# crates/model/tests/fixtures/lora/<ARCH>/adapter: trained harder so that lora_B is far from 0
ADAPTER_STEPS = 20
ADAPTER_LR = 5e-3
ADAPTER_OVERRIDES = dict(bert=dict(target_modules=["query", "key", "value", "dense"], lora_alpha=16))

BERT_DATA_RECIPE = ("crates/train/tests/fixtures/gen_fixtures.py make_data (the data of "
                    "trainer/finetune): lengths ~ randint(5, 17), then token ids ~ randint(1, 99) "
                    "(torch.Generator(data_seed)), padding = 0, no cls/sep; labels ~ randint(0, 3)")


def model_rel(arch):
    return f"crates/model/tests/fixtures/{LORA_ARCHS[arch][1]}"


def lora_config(arch, target_modules=None, lora_alpha=LORA_ALPHA):
    return LoraConfig(task_type="SEQ_CLS", r=R, lora_alpha=lora_alpha, lora_dropout=0.0,
                      target_modules=list(target_modules or TARGETS[arch]),
                      use_rslora=arch in RSLORA)


def load_base(arch, dropout_off=True):
    """The model fixture, loaded by its path relative to the workspace root (the cwd), so that
    PEFT writes that path as base_model_name_or_path."""
    spec = LORA_ARCHS[arch][0]
    overrides = dict(spec["dropout_off"]) if dropout_off else {}
    model = AutoModelForSequenceClassification.from_pretrained(
        model_rel(arch), attn_implementation="eager", dtype=torch.float32, **overrides)
    assert type(model) is spec["model_cls"], type(model)
    for k, v in overrides.items():
        assert getattr(model.config, k) == v, k
    return model, overrides


def train_data(arch, num_labels):
    spec = LORA_ARCHS[arch][0]
    if arch == "bert":
        data = train_gen.make_data()
        ref = load_file(os.path.join(TRAIN_FIXTURES, "finetune", "data.safetensors"))
        assert sorted(ref) == sorted(data)
        for k in data:
            assert torch.equal(data[k], ref[k]), k
        return data, BERT_DATA_RECIPE, dict(pad=0)
    tok = AutoTokenizer.from_pretrained(model_rel(arch))
    data = gaf.make_data(tok, spec, num_labels)
    ref = load_file(os.path.join(TRAIN_FIXTURES, arch, "data.safetensors"))
    for k in data:
        assert torch.equal(data[k], ref[k]), k  # the data of trainer/<ARCH>/
    return data, DATA_RECIPE, dict(cls=tok.cls_token_id, sep=tok.sep_token_id,
                                   pad=tok.pad_token_id)


def strip(name):
    assert name.startswith("base_model.model."), name
    return name[len("base_model.model."):]


def lora_summary(pm, model_type):
    cfg = pm.peft_config["default"]
    scalings = {m.scaling["default"] for m in pm.modules() if isinstance(m, LoraLayer)}
    assert len(scalings) == 1, scalings
    scaling = scalings.pop()
    expected = cfg.lora_alpha / (math.sqrt(cfg.r) if cfg.use_rslora else cfg.r)
    assert scaling == expected, (scaling, expected)
    wrapped = sorted(strip(n) for n, m in pm.named_modules() if isinstance(m, ModulesToSaveWrapper))
    lora_modules = sorted(strip(n) for n, m in pm.named_modules() if isinstance(m, LoraLayer))
    default = TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING.get(model_type)
    return dict(
        task_type=str(cfg.task_type.value if hasattr(cfg.task_type, "value") else cfg.task_type),
        r=cfg.r,
        lora_alpha=cfg.lora_alpha,
        lora_dropout=cfg.lora_dropout,
        target_modules=sorted(cfg.target_modules),
        use_rslora=cfg.use_rslora,
        modules_to_save=list(cfg.modules_to_save),
        modules_to_save_wrapped=wrapped,
        modules_to_save_note=("modules_to_save is the config list (SEQ_CLS adds classifier, score); "
                              "modules_to_save_wrapped the modules PEFT wrapped in a "
                              "ModulesToSaveWrapper: PEFT matches them with a plain "
                              "key.endswith(name) (no dot boundary), so DistilBERT's "
                              "pre_classifier matches 'classifier'. target_modules match "
                              "key == name or key.endswith('.' + name)."),
        lora_modules=lora_modules,
        scaling=scaling,
        scaling_formula="lora_alpha / sqrt(r)" if cfg.use_rslora else "lora_alpha / r",
        bias=cfg.bias,
        init_lora_weights=cfg.init_lora_weights,
        init_seed=LORA_INIT_SEED,
        init_note=("torch.manual_seed(init_seed) right before get_peft_model; lora_A ~ "
                   "kaiming_uniform_(a=sqrt(5)), lora_B = 0, modules_to_save = copies of the "
                   "fixture's modules"),
        peft_default_target_modules=default,
    )


def save_adapter(pm, d, arch):
    pm.save_pretrained(d)
    os.remove(os.path.join(d, "README.md"))  # PEFT's model card
    assert sorted(os.listdir(d)) == ["adapter_config.json", "adapter_model.safetensors"], os.listdir(d)
    with open(os.path.join(d, "adapter_config.json")) as fh:
        cfg = json.load(fh)
    assert cfg["base_model_name_or_path"] == model_rel(arch), cfg["base_model_name_or_path"]
    assert cfg["peft_version"] == peft.__version__
    return load_file(os.path.join(d, "adapter_model.safetensors"))


def adapter_key(peft_name):
    """Name in adapter_model.safetensors of a trainable PeftModel parameter."""
    return peft_name.replace(".lora_A.default.", ".lora_A.").replace(
        ".lora_B.default.", ".lora_B.").replace(".modules_to_save.default.", ".")


def base_key(peft_name):
    """Model fixture key of a frozen base parameter of the PeftModel."""
    return strip(peft_name).replace(".base_layer.", ".").replace(".original_module.", ".")


def check_base_untouched(pm, fixture):
    """The PeftModel's frozen base weights (base_layer, original_module, the rest) are the model
    fixture's model.safetensors, exactly, and cover all of it."""
    seen = set()
    for n, p in pm.named_parameters():
        if ".lora_" in n or ".modules_to_save." in n:
            continue
        k = base_key(n)
        assert k not in seen, k
        seen.add(k)
        assert torch.equal(p.detach(), fixture[k]), n
    assert seen == set(fixture), sorted(set(fixture) ^ seen)


def adapter_keys_json(tensors):
    """{key: shape} of an adapter_model.safetensors (every tensor is float32)."""
    assert all(t.dtype == torch.float32 for t in tensors.values())
    return {k: list(tensors[k].shape) for k in sorted(tensors)}


def versions():
    return dict(torch=torch.__version__, transformers=transformers.__version__,
                accelerate=accelerate.__version__, peft=peft.__version__)


# --------------------------------------------------------------------------
# (1) Trainer fixtures: crates/train/tests/fixtures/trainer/<ARCH>-lora/
# --------------------------------------------------------------------------
def save_lora_trainer_fixture(arch):
    spec = LORA_ARCHS[arch][0]
    d = os.path.join(TRAIN_FIXTURES, f"{arch}-lora")
    fresh_dir(d)
    model, overrides = load_base(arch)
    fixture = load_file(os.path.join(model_rel(arch), "model.safetensors"))
    data, data_recipe, special_ids = train_data(arch, model.config.num_labels)
    seed_all(LORA_INIT_SEED)
    pm = get_peft_model(model, lora_config(arch))
    lora = lora_summary(pm, model.config.model_type)
    init = save_adapter(pm, os.path.join(d, "adapter_init"), arch)

    trainable = sorted(n for n, p in pm.named_parameters() if p.requires_grad)
    frozen = sorted(n for n, p in pm.named_parameters() if not p.requires_grad)
    assert sorted(adapter_key(n) for n in trainable) == sorted(init)
    for k, t in init.items():
        if ".lora_B." in k:
            assert torch.all(t == 0), k
        elif ".lora_A." in k:
            assert not torch.all(t == 0), k
        else:  # modules_to_save: the fixture's head, untrained
            assert torch.equal(t, fixture[strip(k)]), k
    check_base_untouched(pm, fixture)
    before = {n: p.detach().clone() for n, p in pm.named_parameters()}

    hp = trainer_hp(max_grad_norm=1.0)
    trainer, out, args, opt = run_trainer(pm, data, hp, save=lambda m, tmp: None)
    decay, no_decay, steps, summary, clipped = check_trainer_run(pm, trainer, opt, hp)
    assert sorted(decay + no_decay) == trainable
    final = save_adapter(pm, os.path.join(d, "adapter_final"), arch)
    # only the trainable parameters moved (all of them); the base is the fixture
    params = dict(pm.named_parameters())
    for n, p in params.items():
        if n in trainable:
            assert not torch.equal(p.detach(), before[n]), n
            assert torch.equal(p.detach(), final[adapter_key(n)]), n
        else:
            assert torch.equal(p.detach(), before[n]), n
    check_base_untouched(pm, fixture)

    write_safetensors(os.path.join(d, "data.safetensors"), data)
    args_json = trainer_args_json(
        hp, args, opt, trainer, pm,
        data_recipe=data_recipe,
        special_ids=special_ids,
        model_fixture=model_rel(arch),
        model_overrides=dict(**overrides, attn_implementation="eager"),
        decay=decay,
        no_decay=no_decay,
        extra=dict(
            train_layers="all",
            freeze_embeddings=False,
            frozen_params=frozen,
            lora=lora,
            trainable_params=trainable,
            adapter_init="adapter_init/: peft_model.save_pretrained right after get_peft_model",
            adapter_final="adapter_final/: peft_model.save_pretrained after the 5 steps",
            adapter_keys=adapter_keys_json(final),
            all_numel_note=("PeftModel.parameters(): the frozen base (with the original_module "
                            "of each modules_to_save wrapper) + the LoRA matrices + the trainable "
                            "modules_to_save copies, so the head is counted twice"),
        ),
        versions=versions(),
    )
    dump_json(os.path.join(d, "args.json"), args_json)
    dump_json(os.path.join(d, "log.json"), trainer_log_json(trainer, out, steps, summary, clipped))
    return steps, summary, lora, args_json


# --------------------------------------------------------------------------
# (2) Inference / merge fixtures: crates/model/tests/fixtures/lora/<ARCH>/
# --------------------------------------------------------------------------
def logits_of(model, inp):
    with torch.no_grad():
        return model(**model_kwargs(inp)).logits.float()


def lora_linear_check(pm, inp):
    """Every LoRA Linear of the eval PeftModel computes base_layer(x) + scaling * B(A(x))."""
    worst, hooks = [0.0], []

    def hook(mod, args, out):
        x = args[0]
        a, b = mod.lora_A["default"].weight, mod.lora_B["default"].weight
        want = mod.base_layer(x) + mod.scaling["default"] * torch.nn.functional.linear(
            torch.nn.functional.linear(x, a), b)
        worst[0] = max(worst[0], float((out - want).abs().max()))

    for m in pm.modules():
        if isinstance(m, LoraLayer):
            hooks.append(m.register_forward_hook(hook))
    logits_of(pm, inp)
    for h in hooks:
        h.remove()
    return worst[0]


def save_lora_model_fixture(arch):
    spec = LORA_ARCHS[arch][0]
    d = os.path.join(LORA_FIXTURES, arch)
    fresh_dir(d)
    fixture = load_file(os.path.join(model_rel(arch), "model.safetensors"))

    # --- adapter/: train 20 steps at lr 5e-3
    model, overrides = load_base(arch)
    data, data_recipe, _ = train_data(arch, model.config.num_labels)
    cfg_kw = ADAPTER_OVERRIDES.get(arch, {})
    seed_all(LORA_INIT_SEED)
    pm = get_peft_model(model, lora_config(arch, **cfg_kw))
    lora = lora_summary(pm, model.config.model_type)
    hp = trainer_hp(max_grad_norm=1.0)
    hp.update(max_steps=ADAPTER_STEPS, learning_rate=ADAPTER_LR)
    trainer, out, args, opt = run_trainer(pm, data, hp, save=lambda m, tmp: None)
    steps = [e for e in trainer.state.log_history if "loss" in e]
    assert len(steps) == ADAPTER_STEPS
    check_base_untouched(pm, fixture)
    adapter_dir = os.path.join(d, "adapter")
    adapter = save_adapter(pm, adapter_dir, arch)
    min_b = min(float(t.abs().max()) for k, t in adapter.items() if ".lora_B." in k)
    assert min_b > 1e-3, min_b
    pm.eval()

    # --- reference inputs of the model fixture
    fref = load_file(os.path.join(model_rel(arch), "reference.safetensors"))
    inp = {k: fref[k] for k in ("input_ids", "attention_mask", "token_type_ids", "labels") if k in fref}
    assert ("token_type_ids" in inp) == spec["takes_token_type_ids"]
    logits_trained = logits_of(pm, inp)

    # --- base, PeftModel (adapter reloaded from disk), merged
    base, _ = load_base(arch, dropout_off=False)
    base.eval()
    base_logits = logits_of(base, inp)
    base_vs_fixture = float((base_logits - fref["logits"]).abs().max())
    assert base_vs_fixture <= 1e-5, base_vs_fixture
    peft_model = PeftModel.from_pretrained(base, adapter_dir)
    peft_model.eval()
    assert peft_model.peft_config["default"].inference_mode
    logits = logits_of(peft_model, inp)
    assert torch.equal(logits, logits_trained), (logits, logits_trained)
    lora_linear_err = lora_linear_check(peft_model, inp)
    assert lora_linear_err <= 1e-6, lora_linear_err
    scaling = lora["scaling"]
    lora_modules = lora["lora_modules"]
    merged = peft_model.merge_and_unload()
    merged.eval()
    assert type(merged) is spec["model_cls"]
    merged_logits = logits_of(merged, inp)
    merged_vs_peft = float((merged_logits - logits).abs().max())
    assert merged_vs_peft <= 1e-5, merged_vs_peft
    delta = float((logits - base_logits).abs().max())
    assert delta > 1e-2, delta  # the adapter changes the logits

    merged_dir = os.path.join(d, "merged")
    with tempfile.TemporaryDirectory() as tmp:
        merged.save_pretrained(tmp, safe_serialization=True)
        os.makedirs(merged_dir)
        for f in ("config.json", "model.safetensors"):
            shutil.copy(os.path.join(tmp, f), os.path.join(merged_dir, f))
        dropped = sorted(set(os.listdir(tmp)) - {"config.json", "model.safetensors"})

    # --- merge formula: W' = W + scaling * B @ A on the LoRA modules, head = the adapter's
    # modules_to_save tensors, every other tensor = the fixture's
    mw = load_file(os.path.join(merged_dir, "model.safetensors"))
    assert sorted(mw) == sorted(fixture), sorted(set(mw) ^ set(fixture))
    merge_err, lora_weight_keys = 0.0, set()
    for m in lora_modules:
        a = adapter[f"base_model.model.{m}.lora_A.weight"]
        b = adapter[f"base_model.model.{m}.lora_B.weight"]
        want = fixture[f"{m}.weight"] + scaling * (b @ a)
        merge_err = max(merge_err, float((mw[f"{m}.weight"] - want).abs().max()))
        lora_weight_keys.add(f"{m}.weight")
    assert merge_err <= 1e-6, merge_err
    head_keys = sorted(strip(k) for k in adapter if ".lora_" not in k)
    for k in head_keys:
        assert torch.equal(mw[k], adapter[f"base_model.model.{k}"]), k
    for k in set(fixture) - lora_weight_keys - set(head_keys):
        assert torch.equal(mw[k], fixture[k]), k
    # reload merged/ as a plain transformers checkpoint
    reloaded = AutoModelForSequenceClassification.from_pretrained(
        merged_dir, attn_implementation="eager", dtype=torch.float32)
    reloaded.eval()
    reload_err = float((logits_of(reloaded, inp) - merged_logits).abs().max())
    assert reload_err == 0.0, reload_err
    with open(os.path.join(model_rel(arch), "config.json")) as fh:
        base_cfg = json.load(fh)
    with open(os.path.join(merged_dir, "config.json")) as fh:
        merged_cfg = json.load(fh)
    config_diff = sorted(k for k in set(base_cfg) | set(merged_cfg)
                         if base_cfg.get(k) != merged_cfg.get(k))

    loss = torch.nn.functional.cross_entropy(logits, inp["labels"]).reshape(1)
    ref = dict(inp, logits=logits, base_logits=base_logits, merged_logits=merged_logits, loss=loss)
    write_safetensors(os.path.join(d, "reference.safetensors"), ref)

    n_labels = base.config.num_labels
    fmeta_path = os.path.join(model_rel(arch), "reference.json")
    fmeta = json.load(open(fmeta_path)) if os.path.exists(fmeta_path) else {}
    with open(os.path.join(adapter_dir, "adapter_config.json")) as fh:
        adapter_cfg = json.load(fh)
    shape = "[{},{}]".format(*inp["input_ids"].shape)
    rows = inp["input_ids"].shape[0]
    meta = dict(
        arch=arch,
        model_class=spec["model_cls"].__name__,
        base_model=model_rel(arch),
        generator=GENERATOR,
        versions=versions(),
        inputs_from=(f"{model_rel(arch)}/reference.safetensors: "
                     + ", ".join(sorted(inp)) + " copied verbatim"),
        **({k: fmeta[k] for k in ("texts", "tokenizer_call", "lengths", "tokens") if k in fmeta}),
        labels=inp["labels"].tolist(),
        model_inputs=sorted(model_kwargs(inp)),
        layout=dict(
            input_ids=f"int64 {shape}", attention_mask=f"int64 {shape}",
            **({"token_type_ids": f"int64 {shape}, passed to the model"}
               if "token_type_ids" in inp else {}),
            labels=f"int64 [{rows}]",
            logits=(f"float32 [{rows},{n_labels}], PeftModel.from_pretrained(base, adapter/) "
                    "in eval mode (= the PeftModel that was trained, bit for bit)"),
            base_logits=(f"float32 [{rows},{n_labels}], the base model alone (= the model "
                         f"fixture's logits to {base_vs_fixture!r})"),
            merged_logits=f"float32 [{rows},{n_labels}], merge_and_unload() of that PeftModel",
            loss="float32 [1], CrossEntropyLoss (mean) of logits vs labels",
        ),
        lora=lora,
        adapter_config="adapter/adapter_config.json",
        adapter_keys=adapter_keys_json(adapter),
        adapter_key_naming=("base_model.model.<module>.lora_A.weight [r, in], "
                            "base_model.model.<module>.lora_B.weight [out, r] (PEFT drops the "
                            "adapter name 'default'); modules_to_save tensors as "
                            "base_model.model.<module>.<param> (no 'modules_to_save.default'); "
                            "all float32"),
        adapter_training=dict(
            recipe=("peft.get_peft_model(base with dropout off) then the trainer/<ARCH>-lora "
                    "recipe (SequentialTrainer) with max_steps and learning_rate below"),
            data=data_recipe,
            max_steps=ADAPTER_STEPS, learning_rate=ADAPTER_LR,
            per_device_train_batch_size=hp["per_device_train_batch_size"],
            weight_decay=hp["weight_decay"], max_grad_norm=hp["max_grad_norm"],
            lr_scheduler_type=hp["lr_scheduler_type"], seed=hp["seed"],
            losses=[e["loss"] for e in steps],
            train_loss=out.training_loss,
            min_abs_max_lora_B=min_b,
        ),
        merged=dict(
            files=["config.json", "model.safetensors"],
            dropped_files=dropped,
            keys="the model fixture's keys and shapes",
            config_diff_vs_base=config_diff,
        ),
        checks=dict(
            lora_linear=("every LoRA Linear of the eval PeftModel: out = base_layer(x) + scaling * "
                         "(x @ A.T) @ B.T (forward hooks on the reference batch)"),
            lora_linear_max_abs_err=lora_linear_err,
            merge=("merged W = W_base + scaling * B @ A for each LoRA module; the modules_to_save "
                   "tensors = the adapter's; every other tensor = the fixture's, exactly"),
            merge_max_abs_err=merge_err,
            merged_vs_peft_logits_max_abs_err=merged_vs_peft,
            merged_reloaded_vs_merged_logits_max_abs_err=reload_err,
            base_vs_fixture_logits_max_abs_err=base_vs_fixture,
            peft_vs_base_logits_max_abs_diff=delta,
            base_model_name_or_path=adapter_cfg["base_model_name_or_path"],
        ),
        eval_mode="model.eval(), eager attention, float32, CPU",
    )
    dump_json(os.path.join(d, "reference.json"), meta)
    return lora, steps, merged_vs_peft, merge_err


def main():
    os.chdir(ROOT)  # relative base_model_name_or_path
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    torch.set_default_dtype(torch.float32)
    transformers.logging.set_verbosity_error()
    print(f"torch {torch.__version__}, transformers {transformers.__version__}, "
          f"accelerate {accelerate.__version__}, peft {peft.__version__}")
    written = []
    for arch in LORA_ARCHS:
        steps, summ, lora, args_json = save_lora_trainer_fixture(arch)
        print(f"{arch}-lora: scaling {lora['scaling']!r}, wrapped {lora['modules_to_save_wrapped']}, "
              f"trainable {args_json['trainable_numel']} / {args_json['all_numel']}")
        print(f"  losses {[e['loss'] for e in steps]} train_loss {summ['train_loss']!r}")
        print(f"  grad_norms {[e['grad_norm'] for e in steps]}")
        written.append(os.path.join(TRAIN_FIXTURES, f"{arch}-lora"))
    for arch in LORA_ARCHS:
        lora, steps, merged_err, merge_err = save_lora_model_fixture(arch)
        print(f"lora/{arch}: scaling {lora['scaling']!r}, adapter losses "
              f"{steps[0]['loss']!r} -> {steps[-1]['loss']!r}, merged-vs-peft {merged_err:.3g}, "
              f"merge formula {merge_err:.3g}")
        written.append(os.path.join(LORA_FIXTURES, arch))
    for top in written:
        for root, _, files in os.walk(top):
            for fn in files:
                os.chmod(os.path.join(root, fn), 0o644)


if __name__ == "__main__":
    main()
