#!/usr/bin/env python3
# Regenerate (from the workspace root):
#   /root/.cache/bertfit/pyref/bin/python scripts/reference/gen_arch_fixtures.py
# Venv: scripts/reference/requirements.txt (torch 2.9.0, transformers 5.24.0, tokenizers 0.23.3,
# safetensors 0.8.0, numpy 2.4.6, accelerate 1.15.0 for the Trainer). No network, no checkpoint:
# every tokenizer is trained here with `tokenizers` on the fixed CORPUS below and every model is
# built from a config.  About 20 s on 2 cores.  Two runs on one machine give byte-identical
# files; on another CPU (AMD against Intel) torch's kernels round differently, by up to 5e-6 in
# the trained weights, so regenerate only the fixtures a change needs.
#
# For each ARCH in distilbert, roberta, xlm_roberta, electra it writes
#   crates/model/tests/fixtures/<ARCH>/
#       tokenizer.json, tokenizer_config.json   trained tokenizer, HF fast class .save_pretrained
#       config.json, model.safetensors          tiny random <Arch>ForSequenceClassification
#                                               (every parameter perturbed with N(0, 0.1)),
#                                               model.save_pretrained
#       pytorch_model.bin                       same weights, torch.save(model.state_dict())
#       keys.json                               {"tensors": [[key, shape, dtype]...], "config_keys": [...]}
#       reference.safetensors                   eval-mode forward on 3 tokenized rows (max_length 12)
#       reference.json                          texts, settings and layout of reference.safetensors
#       tokenization.json                       HF tokenizer outputs (max_length 16), in the format of
#                                               crates/tokenize/tests/fixtures/reference_*.json
#   crates/train/tests/fixtures/trainer/<ARCH>/
#       args.json, data.safetensors, log.json, final.safetensors
#                                               transformers.Trainer, 5 steps, as trainer/finetune/
#   crates/train/tests/fixtures/trainer/<ARCH>-<slug>/
#       the same with part of the model frozen (FREEZING: bertfit's --train-layers and
#       --freeze-embeddings as requires_grad_(False)); args.json names the frozen parameters
#
# Everything is seeded, runs on CPU in float32, eager attention, model.eval() for references.
# NOTE: crates/train/tests/fixtures/gen_fixtures.py wipes trainer/ when it runs (it only keeps
# NOTES.md); run this script after it.
"""Seeded HF references for the DistilBERT / RoBERTa / XLM-R / ELECTRA parity tests."""

import os

# tokenizers' trainers run on rayon threads; keep them single-threaded so that the trained
# vocabularies (and Unigram scores) are reproducible.  Must be set before tokenizers is imported.
os.environ["TOKENIZERS_PARALLELISM"] = "false"
os.environ["RAYON_NUM_THREADS"] = "1"
os.environ["RAYON_RS_NUM_CPUS"] = "1"

import json
import random
import re
import shutil
import tempfile

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch.utils.data import Dataset, SequentialSampler

import accelerate
import tokenizers
import transformers
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
from transformers import (
    AutoModelForSequenceClassification,
    AutoTokenizer,
    DistilBertConfig,
    DistilBertForSequenceClassification,
    DistilBertTokenizerFast,
    ElectraConfig,
    ElectraForSequenceClassification,
    ElectraTokenizerFast,
    RobertaConfig,
    RobertaForSequenceClassification,
    RobertaTokenizerFast,
    Trainer,
    TrainingArguments,
    XLMRobertaConfig,
    XLMRobertaForSequenceClassification,
    XLMRobertaTokenizerFast,
)
from transformers.models.roberta.modeling_roberta import RobertaEmbeddings

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
MODEL_FIXTURES = os.path.join(ROOT, "crates", "model", "tests", "fixtures")
TRAIN_FIXTURES = os.path.join(ROOT, "crates", "train", "tests", "fixtures", "trainer")
GENERATOR = "scripts/reference/gen_arch_fixtures.py"

SEED = 1234
PERTURB_STD = 0.1
REF_MAX_LENGTH = 12
TOK_MAX_LENGTH = 16
# Trainer (same recipe as crates/train/tests/fixtures/trainer/finetune)
DATA_SEED = 2024
TRAIN_SEED = 42
N_EXAMPLES = 20
SEQ_LEN = 16

# --------------------------------------------------------------------------
# Texts
# --------------------------------------------------------------------------
CORPUS = [
    "The film opens with a long shot of an empty street at dawn.",
    "I loved the acting, but the plot was far too slow.",
    "This movie is a masterpiece of modern cinema.",
    "The director clearly knows how to build suspense.",
    "What a boring film; I fell asleep halfway through.",
    "The soundtrack was beautiful and the photography was stunning.",
    "Her performance as the young detective was brilliant.",
    "The ending was predictable and the dialogue felt forced.",
    "A funny, warm and surprisingly moving comedy.",
    "The special effects looked cheap and the story made no sense.",
    "I would happily watch this movie again with my family.",
    "The actors did their best with a weak script.",
    "It is one of the best films I have seen this year!",
    "The sequel is worse than the original in every way.",
    "Great characters, great music, and a great cast.",
    "The first half is exciting, the second half drags on.",
    "Critics praised the film for its bold camera work.",
    "The story follows a group of friends on a road trip.",
    "I did not enjoy the movie, although the cast was good.",
    "Why did the hero make such a stupid decision?",
    "The villain was scary and the tension never let go.",
    "This is a quiet drama about love, loss and memory.",
    "The animation is gorgeous and the jokes work for all ages.",
    "Too long, too loud and not nearly as clever as it thinks.",
    "The cafe scene in Paris was charming and a little naive.",
    "A documentary that asks hard questions about the film industry.",
    "Every scene looks like a painting.",
    "The screenplay won an award at the festival.",
    "My favourite moment was the dance in the rain.",
    "The movie was bad, the ending was worse.",
    "Audiences cheered when the credits rolled.",
    "The young actor gives a remarkable performance.",
    "The horror film had a few good scares but little else.",
    "It was a fun ride from start to finish.",
    "The plot twists were clever and surprising.",
    "The editing was messy and the pacing uneven.",
    "I recommend this film to anyone who loves science fiction.",
    "The cinema was full on the opening night.",
    "She wrote the script, directed the film and played the lead.",
    "The old western still holds up after fifty years.",
]

# tokenization.json (max_length 16). No empty text: bertfit refuses one as an input error,
# where HF encodes it as the special tokens alone.
TOK_SENTENCES = [
    "Oh!",
    "The Café's CRÈME brûlée was naïve, wasn't it?! Zany...",
    "I loved the movie.",
    "The film opens with a long shot of an empty street at dawn, and the story follows a group "
    "of friends on a road trip that never seems to end.",
]
TOK_PAIRS = [
    ["I loved the movie.", "The ending was predictable."],
    ["The director clearly knows how to build suspense, but the sequel is worse than the "
     "original in every way.", "Great cast."],
    ["The soundtrack was beautiful and the photography was stunning in every single scene.",
     "The special effects looked cheap and the story made no sense at all, sadly."],
]

# reference.safetensors (max_length 12): row 0 short single, row 1 long single, row 2 pair
REF_SHORT = "A great film!"
REF_LONG = ("The soundtrack was beautiful, the photography was stunning and the young actor "
            "gives a remarkable performance.")
REF_PAIR = ["What a boring film.", "The plot was far too slow and the ending was worse."]

# --------------------------------------------------------------------------
# Architectures
# --------------------------------------------------------------------------
LABELS3 = dict(num_labels=3, id2label={0: "neg", 1: "neu", 2: "pos"},
               label2id={"neg": 0, "neu": 1, "pos": 2})
LABELS2_NAMED = dict(num_labels=2, id2label={0: "negative", 1: "positive"},
                     label2id={"negative": 0, "positive": 1})

ARCHS = {
    "distilbert": dict(
        tokenizer="wordpiece", tokenizer_vocab_size=260, hf_tokenizer=DistilBertTokenizerFast,
        model_cls=DistilBertForSequenceClassification, prefix="distilbert",
        takes_token_type_ids=False,
        config=lambda v, tok: DistilBertConfig(
            vocab_size=v, dim=32, n_layers=2, n_heads=4, hidden_dim=37,
            max_position_embeddings=64, activation="gelu", sinusoidal_pos_embds=False,
            pad_token_id=tok.pad_token_id, initializer_range=0.02, **LABELS3),
        dropout_off=dict(dropout=0.0, attention_dropout=0.0, seq_classif_dropout=0.0),
        labels=[0, 2, 1],
    ),
    "roberta": dict(
        tokenizer="bytelevel_bpe", tokenizer_vocab_size=300, hf_tokenizer=RobertaTokenizerFast,
        model_cls=RobertaForSequenceClassification, prefix="roberta",
        takes_token_type_ids=True,
        config=lambda v, tok: RobertaConfig(
            vocab_size=v, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
            intermediate_size=37, max_position_embeddings=64 + tok.pad_token_id + 1,
            type_vocab_size=1, hidden_act="gelu", layer_norm_eps=1e-5,
            pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id,
            eos_token_id=tok.eos_token_id, initializer_range=0.02, num_labels=2),
        dropout_off=dict(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                         classifier_dropout=None),
        labels=[1, 0, 1],
    ),
    "xlm_roberta": dict(
        tokenizer="unigram", tokenizer_vocab_size=250, hf_tokenizer=XLMRobertaTokenizerFast,
        model_cls=XLMRobertaForSequenceClassification, prefix="roberta",
        takes_token_type_ids=True,
        config=lambda v, tok: XLMRobertaConfig(
            vocab_size=v, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
            intermediate_size=37, max_position_embeddings=64 + tok.pad_token_id + 1,
            type_vocab_size=1, hidden_act="gelu", layer_norm_eps=1e-5,
            pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id,
            eos_token_id=tok.eos_token_id, initializer_range=0.02, **LABELS3),
        dropout_off=dict(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                         classifier_dropout=None),
        labels=[2, 0, 1],
    ),
    "electra": dict(
        tokenizer="wordpiece", tokenizer_vocab_size=240, hf_tokenizer=ElectraTokenizerFast,
        model_cls=ElectraForSequenceClassification, prefix="electra",
        takes_token_type_ids=True,
        config=lambda v, tok: ElectraConfig(
            vocab_size=v, embedding_size=16, hidden_size=32, num_hidden_layers=2,
            num_attention_heads=4, intermediate_size=37, max_position_embeddings=64,
            type_vocab_size=2, hidden_act="gelu", layer_norm_eps=1e-12,
            pad_token_id=tok.pad_token_id, initializer_range=0.02, **LABELS2_NAMED),
        dropout_off=dict(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                         classifier_dropout=None),
        labels=[0, 1, 1],
    ),
}


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------
def seed_all(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def write_safetensors(path, tensors):
    tensors = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    save_file(tensors, path, metadata={"format": "pt"})


def fresh_dir(path):
    if os.path.isdir(path):
        shutil.rmtree(path)
    os.makedirs(path)


def dump_json(path, obj):
    # json uses repr() for floats: shortest string that round-trips the double exactly.
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(obj, fh, indent=1, allow_nan=False, ensure_ascii=False)
        fh.write("\n")


def dump_rows(obj, path):
    """JSON with one line per row of ints (as crates/tokenize/tests/fixtures/gen_fixtures.py)."""

    def fmt(o, indent):
        pad = " " * indent
        if isinstance(o, list) and o and all(isinstance(x, int) for x in o):
            return "[" + ", ".join(str(x) for x in o) + "]"
        if isinstance(o, list) and all(isinstance(x, str) for x in o) and len(o) <= 2:
            return json.dumps(o, ensure_ascii=False)
        if isinstance(o, list):
            if not o:
                return "[]"
            inner = ",\n".join(pad + " " + fmt(x, indent + 1) for x in o)
            return "[\n" + inner + "\n" + pad + "]"
        if isinstance(o, dict):
            inner = ",\n".join(
                f"{pad} {json.dumps(k)}: {fmt(v, indent + 1)}" for k, v in o.items()
            )
            return "{\n" + inner + "\n" + pad + "}"
        return json.dumps(o, ensure_ascii=False)

    with open(path, "w", encoding="utf-8") as f:
        f.write(fmt(obj, 0) + "\n")


# --------------------------------------------------------------------------
# (1) Tokenizers, trained on CORPUS
# --------------------------------------------------------------------------
BERT_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
# RoBERTa / XLM-R order: <s>=0 <pad>=1 </s>=2 <unk>=3, <mask> appended last (as in the real vocabs)
ROBERTA_SPECIALS = ["<s>", "<pad>", "</s>", "<unk>"]


def train_wordpiece(vocab_size, hf_cls):
    """WordPiece vocabulary learnt the way tokenizers' WordPieceTrainer does it (BPE merges over
    words split into a first character plus `##`-continuation characters, most frequent pair
    first), with words from tokenizers' own BertNormalizer + BertPreTokenizer.  The merge loop is
    done here because WordPieceTrainer breaks count ties by ids it hands out in Rust HashMap
    order, so its vocabulary changes from run to run; here ties go to the smallest pair."""
    normalizer = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=True, strip_accents=None, lowercase=True)
    pre = pre_tokenizers.BertPreTokenizer()
    counts = {}
    for text in CORPUS:
        for word, _ in pre.pre_tokenize_str(normalizer.normalize_str(text)):
            counts[word] = counts.get(word, 0) + 1
    words = {w: [w[0]] + ["##" + c for c in w[1:]] for w in counts}
    vocab = list(BERT_SPECIALS) + sorted({p for pieces in words.values() for p in pieces})
    known = set(vocab)
    while len(vocab) < vocab_size:
        pairs = {}
        for w, pieces in words.items():
            for a, b in zip(pieces, pieces[1:]):
                pairs[(a, b)] = pairs.get((a, b), 0) + counts[w]
        if not pairs:
            break
        a, b = min(pairs, key=lambda ab: (-pairs[ab], ab))
        merged = a + b[2:]
        for w, pieces in words.items():
            out, i = [], 0
            while i < len(pieces):
                if i + 1 < len(pieces) and pieces[i] == a and pieces[i + 1] == b:
                    out.append(merged)
                    i += 2
                else:
                    out.append(pieces[i])
                    i += 1
            words[w] = out
        if merged not in known:
            known.add(merged)
            vocab.append(merged)
    assert len(vocab) == vocab_size, len(vocab)
    # ids: specials 0..4, then the rest sorted by code point (WordPiece's greedy longest match
    # does not depend on the ids)
    vocab = BERT_SPECIALS + sorted(vocab[len(BERT_SPECIALS):])
    tok = hf_cls(vocab={t: i for i, t in enumerate(vocab)}, do_lower_case=True, model_max_length=64)
    # the same pipeline the words were counted with
    assert tok.backend_tokenizer.normalizer.__getstate__() == normalizer.__getstate__()
    return tok


def train_bytelevel_bpe(vocab_size, hf_cls):
    tok = Tokenizer(models.BPE())
    # the same pipeline RobertaTokenizer (transformers 5) builds in its __init__
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size - 1, special_tokens=ROBERTA_SPECIALS, min_frequency=2,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(CORPUS, trainer)
    vocab = tok.get_vocab()
    assert [vocab[t] for t in ROBERTA_SPECIALS] == [0, 1, 2, 3]
    vocab["<mask>"] = len(vocab)
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m)
              for m in json.loads(tok.to_str())["model"]["merges"]]
    return hf_cls(vocab=vocab, merges=merges, add_prefix_space=False, trim_offsets=True,
                  model_max_length=64)


def train_unigram(vocab_size, hf_cls):
    tok = Tokenizer(models.Unigram())
    # the same pre-tokenizer XLMRobertaTokenizer (transformers 5) builds in its __init__
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.WhitespaceSplit(),
        pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always"),
    ])
    trainer = trainers.UnigramTrainer(
        vocab_size=vocab_size - 1, special_tokens=ROBERTA_SPECIALS, unk_token="<unk>",
        max_piece_length=8, show_progress=False)
    tok.train_from_iterator(CORPUS, trainer)
    trained = [tuple(p) for p in json.loads(tok.to_str())["model"]["vocab"]]
    assert [p for p, _ in trained[:4]] == ROBERTA_SPECIALS
    # The piece SET is reproducible, the scores are not quite: EM sums in HashMap order (1e-15
    # noise) and characters the EM pruned get min_score + k * 1e-4 with k in HashSet order.
    # Canonicalize: scores rounded to 2 decimals, pieces ordered by (-score, piece).
    rest = sorted(((p, round(s, 2)) for p, s in trained[4:]), key=lambda x: (-x[1], x[0]))
    vocab = [(p, 0.0) for p in ROBERTA_SPECIALS] + rest + [("<mask>", 0.0)]
    return hf_cls(vocab=vocab, add_prefix_space=True, model_max_length=64)


def build_tokenizer(spec):
    kind = spec["tokenizer"]
    fn = dict(wordpiece=train_wordpiece, bytelevel_bpe=train_bytelevel_bpe,
              unigram=train_unigram)[kind]
    return fn(spec["tokenizer_vocab_size"], spec["hf_tokenizer"])


def encode(tok, texts, pairs=None, **kwargs):
    out = tok(texts, text_pair=pairs, return_token_type_ids=True, return_attention_mask=True,
              **kwargs)
    return {
        "input_ids": out["input_ids"],
        "attention_mask": out["attention_mask"],
        "token_type_ids": out["token_type_ids"],
    }


CASE_SETTINGS = {
    # name: (inputs, kwargs for tokenizer(...))
    "max_length": ("sentences", dict(padding="max_length", truncation=True, max_length=TOK_MAX_LENGTH)),
    "longest": ("sentences", dict(padding="longest", truncation=True, max_length=TOK_MAX_LENGTH)),
    "none": ("sentences", dict(padding=False, truncation=True, max_length=TOK_MAX_LENGTH)),
    "none_no_truncation": ("sentences", dict(padding=False, truncation=False)),
    "pairs_max_length": ("pairs", dict(padding="max_length", truncation="longest_first",
                                       max_length=TOK_MAX_LENGTH)),
    "pairs_longest": ("pairs", dict(padding="longest", truncation="longest_first",
                                    max_length=TOK_MAX_LENGTH)),
    "pairs_none": ("pairs", dict(padding=False, truncation="longest_first",
                                 max_length=TOK_MAX_LENGTH)),
}


def tokenization_cases(tok):
    out = {}
    for name, (inputs, kw) in CASE_SETTINGS.items():
        if inputs == "sentences":
            enc = encode(tok, TOK_SENTENCES, **kw)
        else:
            enc = encode(tok, [a for a, _ in TOK_PAIRS], [b for _, b in TOK_PAIRS], **kw)
        settings = dict(inputs=inputs, add_special_tokens=True, return_token_type_ids=True,
                        return_attention_mask=True, **kw)
        out[name] = dict(settings=settings, **enc)
    return out


def check_raw_tokenizer_json(path, tok, cases):
    """The saved tokenizer.json alone (what a Rust `tokenizers` wrapper loads), configured like
    each case, gives HF's outputs."""
    for name, case in cases.items():
        raw = Tokenizer.from_file(path)
        s = case["settings"]
        if s["truncation"]:
            raw.enable_truncation(max_length=s["max_length"], strategy="longest_first")
        else:
            raw.no_truncation()
        if s["padding"] == "max_length":
            raw.enable_padding(pad_id=tok.pad_token_id, pad_token=str(tok.pad_token),
                               length=s["max_length"])
        elif s["padding"] == "longest":
            raw.enable_padding(pad_id=tok.pad_token_id, pad_token=str(tok.pad_token))
        else:
            raw.no_padding()
        if s["inputs"] == "sentences":
            encs = raw.encode_batch(TOK_SENTENCES)
        else:
            encs = raw.encode_batch([tuple(p) for p in TOK_PAIRS])
        got = dict(input_ids=[e.ids for e in encs], attention_mask=[e.attention_mask for e in encs],
                   token_type_ids=[e.type_ids for e in encs])
        for field in got:
            assert got[field] == case[field], (path, name, field, got[field], case[field])


def special_tokens_of(tok):
    out = {}
    for name in ("pad", "unk", "cls", "sep", "mask", "bos", "eos"):
        t = getattr(tok, f"{name}_token", None)
        if t is not None:
            out[name] = [str(t), getattr(tok, f"{name}_token_id")]
    return out


def tokenization_reference(arch, tok, d):
    cases = tokenization_cases(tok)
    rows = cases["none_no_truncation"]["input_ids"]
    return {
        "tokenizer": arch,
        "generator": GENERATOR,
        "transformers_version": transformers.__version__,
        "tokenizers_version": tokenizers.__version__,
        "tokenizer_class": type(tok).__name__,
        "max_length": TOK_MAX_LENGTH,
        "vocab_size": len(tok),
        "special_tokens": special_tokens_of(tok),
        "note": "cases as AutoTokenizer.from_pretrained(<this dir>) returns them, called with "
                "return_token_type_ids=True, return_attention_mask=True and each case's settings; "
                "single-text cases use `sentences`, pairs_* use `pairs`. Padding is on the right "
                "with the pad id, pad token_type_id 0. The tokenizer.json of this dir, loaded "
                "with `tokenizers` alone and given the same truncation/padding, gives the same ids "
                "(checked by the generator). (a) = max_length, (b) = longest, (c) = pairs_max_length, "
                "(d) = none_no_truncation; none, pairs_longest and pairs_none complete the set that "
                "crates/tokenize/tests/common reads.",
        "sentences": TOK_SENTENCES,
        "pairs": TOK_PAIRS,
        "cases": cases,
        "tokens": [tok.convert_ids_to_tokens(ids) for ids in rows],
        "decode": {
            "skip_special_tokens": [tok.decode(ids, skip_special_tokens=True) for ids in rows],
            "with_special_tokens": [tok.decode(ids, skip_special_tokens=False) for ids in rows],
        },
    }


def save_tokenizer(arch, spec, d):
    tok = build_tokenizer(spec)
    tok.save_pretrained(d)
    written = sorted(os.listdir(d))
    # reload exactly as users do and check it is the same tokenizer
    auto = AutoTokenizer.from_pretrained(d)
    assert type(auto) is type(tok), (type(auto), type(tok))
    assert len(auto) == len(tok) and auto.get_vocab() == tok.get_vocab()
    ref = tokenization_reference(arch, auto, d)
    assert tokenization_cases(tok) == ref["cases"]
    check_raw_tokenizer_json(os.path.join(d, "tokenizer.json"), auto, ref["cases"])
    dump_rows(ref, os.path.join(d, "tokenization.json"))
    return auto, written


# --------------------------------------------------------------------------
# (2) Tiny models + reference forward
# --------------------------------------------------------------------------
def build_model(spec, tok):
    seed_all(SEED)
    cfg = spec["config"](len(tok), tok)
    cfg._attn_implementation = "eager"
    model = spec["model_cls"](cfg)
    model.eval()
    # Perturb EVERY parameter so none sits at a trivial init value (zero bias, unit LayerNorm
    # gamma, zero padding rows of word/position embeddings, ...).
    gen = torch.Generator().manual_seed(SEED + 1)
    with torch.no_grad():
        for name, p in sorted(model.named_parameters()):
            p.add_(torch.randn(p.shape, generator=gen, dtype=p.dtype) * PERTURB_STD)
    for n, p in model.named_parameters():
        assert not torch.all(p == 0) and not torch.all(p == 1), n
    return model


def reference_inputs(tok, spec):
    kw = dict(padding="max_length", max_length=REF_MAX_LENGTH, return_token_type_ids=True,
              return_attention_mask=True, return_tensors="pt")
    rows = [
        tok(REF_SHORT, truncation=True, **kw),
        tok(REF_LONG, truncation=True, **kw),
        tok(REF_PAIR[0], REF_PAIR[1], truncation="longest_first", **kw),
    ]
    inp = {k: torch.cat([r[k] for r in rows]).to(torch.int64)
           for k in ("input_ids", "attention_mask", "token_type_ids")}
    lengths = inp["attention_mask"].sum(1).tolist()
    assert lengths[0] < REF_MAX_LENGTH and lengths[1] == REF_MAX_LENGTH, lengths
    if spec["prefix"] == "roberta":
        assert torch.all(inp["token_type_ids"] == 0)  # RoBERTa / XLM-R pairs: all type 0
    if not spec["takes_token_type_ids"]:
        del inp["token_type_ids"]
    inp["labels"] = torch.tensor(spec["labels"], dtype=torch.int64)
    return inp, lengths


def model_kwargs(inp):
    return {k: v for k, v in inp.items() if k in ("input_ids", "attention_mask", "token_type_ids")}


def run_reference(model, spec, inp):
    with torch.no_grad():
        out = model(**model_kwargs(inp), labels=inp["labels"], output_hidden_states=True)
    ref = dict(inp)
    assert len(out.hidden_states) == 3
    for i, h in enumerate(out.hidden_states):
        ref[f"hidden_states.{i}"] = h.float()
    ref["logits"] = out.logits.float()
    ref["loss"] = out.loss.float().reshape(1)
    torch.testing.assert_close(
        out.loss, torch.nn.functional.cross_entropy(out.logits, inp["labels"]), rtol=0, atol=0)
    base = getattr(model, spec["prefix"])
    with torch.no_grad():
        if spec["prefix"] == "roberta":
            pos = RobertaEmbeddings.create_position_ids_from_input_ids(
                inp["input_ids"], model.config.pad_token_id)
            ref["position_ids"] = pos.to(torch.int64)
            # the model computes exactly these when position_ids is not passed
            e1 = base.embeddings(input_ids=inp["input_ids"], token_type_ids=inp["token_type_ids"])
            e2 = base.embeddings(input_ids=inp["input_ids"], token_type_ids=inp["token_type_ids"],
                                 position_ids=pos)
            assert torch.equal(e1, e2) and torch.equal(e1, out.hidden_states[0])
        if spec["prefix"] == "electra":
            emb = base.embeddings(input_ids=inp["input_ids"], token_type_ids=inp["token_type_ids"])
            ref["embeddings_output"] = emb.float()  # [3,12,16], before embeddings_project
            assert torch.equal(base.embeddings_project(emb), out.hidden_states[0])
        if spec["prefix"] == "distilbert":
            emb = base.embeddings(inp["input_ids"])
            assert torch.equal(emb, out.hidden_states[0])
        # the head only reads position 0 of the last hidden state
        assert torch.equal(model.classifier(out.hidden_states[-1]) if spec["prefix"] != "distilbert"
                           else model.classifier(torch.relu(model.pre_classifier(
                               out.hidden_states[-1][:, 0]))), out.logits)
    return ref


def write_keys(d):
    with safe_open(os.path.join(d, "model.safetensors"), "pt") as f:
        tensors = sorted([k, list(f.get_slice(k).get_shape()), f.get_slice(k).get_dtype()]
                         for k in f.keys())
    with open(os.path.join(d, "config.json")) as fh:
        config_keys = sorted(json.load(fh).keys())
    with open(os.path.join(d, "keys.json"), "w") as fh:
        fh.write('{\n "tensors": [\n' + ",\n".join("  " + json.dumps(t) for t in tensors)
                 + '\n ],\n "config_keys": ' + json.dumps(config_keys) + "\n}\n")
    return tensors


HIDDEN0 = {
    "distilbert": "embeddings output: LayerNorm(word_embeddings[input_ids] + position_embeddings[0..S)) "
                  "(eps 1e-12, no token types)",
    "roberta": "embeddings output: LayerNorm(word + token_type(0) + position_embeddings[position_ids]) "
               "with position_ids = cumsum(input_ids != pad) * (input_ids != pad) + pad "
               "(stored as position_ids)",
    "xlm_roberta": "embeddings output, as roberta",
    "electra": "input of encoder layer 0 = embeddings_project(LayerNorm(word + token_type + "
               "position)), 32-dim (HF hidden_states[0] as returned); the 16-dim LayerNorm output "
               "before the projection is stored as embeddings_output",
}


def save_model_fixture(arch, spec):
    d = os.path.join(MODEL_FIXTURES, arch)
    fresh_dir(d)
    tmp_tok = tempfile.mkdtemp()
    try:
        tok, tok_files = save_tokenizer(arch, spec, tmp_tok)
        model = build_model(spec, tok)
        # save before forward (forward sets config.problem_type)
        model.save_pretrained(d, safe_serialization=True)
        for f in os.listdir(d):
            if f not in ("config.json", "model.safetensors"):
                os.remove(os.path.join(d, f))
        for f in tok_files + ["tokenization.json"]:
            shutil.copy(os.path.join(tmp_tok, f), os.path.join(d, f))
    finally:
        shutil.rmtree(tmp_tok)
    torch.save(model.state_dict(), os.path.join(d, "pytorch_model.bin"))
    tensors = write_keys(d)

    cfg = model.config
    assert cfg.vocab_size == len(tok)
    assert cfg.pad_token_id == tok.pad_token_id
    if spec["prefix"] == "roberta":
        assert (cfg.bos_token_id, cfg.eos_token_id) == (tok.bos_token_id, tok.eos_token_id)
        assert (tok.cls_token_id, tok.sep_token_id) == (0, 2)

    inp, lengths = reference_inputs(tok, spec)
    ref = run_reference(model, spec, inp)
    write_safetensors(os.path.join(d, "reference.safetensors"), ref)
    rows = inp["input_ids"].tolist()
    meta = dict(
        arch=arch,
        model_class=type(model).__name__,
        tokenizer_class=type(tok).__name__,
        generator=GENERATOR,
        versions=dict(torch=torch.__version__, transformers=transformers.__version__,
                      tokenizers=tokenizers.__version__),
        texts=dict(row0=REF_SHORT, row1=REF_LONG, row2=REF_PAIR),
        tokenizer_call=dict(
            row0=f"tok(row0, padding='max_length', max_length={REF_MAX_LENGTH}, truncation=True)",
            row1=f"tok(row1, padding='max_length', max_length={REF_MAX_LENGTH}, truncation=True)",
            row2=f"tok(row2[0], row2[1], padding='max_length', max_length={REF_MAX_LENGTH}, "
                 "truncation='longest_first')",
            extra="return_token_type_ids=True, return_attention_mask=True; rows concatenated"),
        max_length=REF_MAX_LENGTH,
        lengths=lengths,
        tokens=[tok.convert_ids_to_tokens(r) for r in rows],
        labels=spec["labels"],
        special_tokens=special_tokens_of(tok),
        model_inputs=sorted(model_kwargs(inp).keys()),
        layout=dict(
            input_ids="int64 [3,12]", attention_mask="int64 [3,12]",
            token_type_ids=("absent: DistilBERT takes no token_type_ids" if not spec["takes_token_type_ids"]
                            else "int64 [3,12], passed to the model" + (
                                " (all zeros: the tokenizer gives type 0 to both texts of a pair; "
                                "type_vocab_size 1)" if spec["prefix"] == "roberta" else "")),
            labels="int64 [3]",
            **{f"hidden_states.{i}": "float32 [3,12,32], all positions incl. padding" for i in range(3)},
            logits=f"float32 [3,{model.config.num_labels}]",
            loss="float32 [1], CrossEntropyLoss (mean) of logits vs labels",
            **({"position_ids": "int64 [3,12], not passed to the model: what HF computes from "
                                "input_ids (create_position_ids_from_input_ids, padding_idx = "
                                f"{model.config.pad_token_id}); pad positions get padding_idx"}
               if spec["prefix"] == "roberta" else {}),
            **({"embeddings_output": "float32 [3,12,16], ElectraEmbeddings output (after its "
                                     "LayerNorm) before embeddings_project"}
               if spec["prefix"] == "electra" else {}),
        ),
        hidden_states_0=HIDDEN0[arch],
        hidden_states_1_2="outputs of encoder layers 0 and 1 (hidden_states.2 = last_hidden_state)",
        eval_mode="model.eval(), eager attention, float32, CPU",
    )
    dump_json(os.path.join(d, "reference.json"), meta)

    sanity_check_reload(d, spec, ref)
    return dict(tok=tok, model=model, tensors=tensors, ref=ref, lengths=lengths)


def sanity_check_reload(d, spec, ref):
    """AutoModel/AutoTokenizer on the saved dir reproduce the stored inputs and logits; the .bin
    holds the same tensors as the .safetensors."""
    tok = AutoTokenizer.from_pretrained(d)
    inp, _ = reference_inputs(tok, spec)
    for k in inp:
        assert torch.equal(inp[k], ref[k]), k
    model = AutoModelForSequenceClassification.from_pretrained(
        d, attn_implementation="eager", dtype=torch.float32)
    assert type(model) is spec["model_cls"], type(model)
    model.eval()
    with torch.no_grad():
        out = model(**model_kwargs(inp), labels=inp["labels"], output_hidden_states=True)
    assert torch.equal(out.logits, ref["logits"]), (out.logits, ref["logits"])
    assert torch.equal(out.loss.reshape(1), ref["loss"])
    for i, h in enumerate(out.hidden_states):
        assert torch.equal(h, ref[f"hidden_states.{i}"]), i
    st = load_file(os.path.join(d, "model.safetensors"))
    sd = torch.load(os.path.join(d, "pytorch_model.bin"), map_location="cpu", weights_only=True)
    assert sorted(st) == sorted(sd), (sorted(set(st) ^ set(sd)))
    for k in st:
        assert torch.equal(st[k], sd[k]), k
    # SDPA (HF's default) agrees with eager to float rounding
    sdpa = AutoModelForSequenceClassification.from_pretrained(d, attn_implementation="sdpa")
    sdpa.eval()
    with torch.no_grad():
        o2 = sdpa(**model_kwargs(inp))
    torch.testing.assert_close(o2.logits, ref["logits"], rtol=0, atol=1e-5)


# --------------------------------------------------------------------------
# (3) Trainer, 5 steps (recipe of crates/train/tests/fixtures/trainer/finetune)
# --------------------------------------------------------------------------
def make_data(tok, spec, num_labels):
    special = set(tok.all_special_ids)
    pool = torch.tensor([i for i in range(len(tok)) if i not in special], dtype=torch.int64)
    gen = torch.Generator().manual_seed(DATA_SEED)
    lengths = torch.randint(5, SEQ_LEN + 1, (N_EXAMPLES,), generator=gen)
    idx = torch.randint(0, len(pool), (N_EXAMPLES, SEQ_LEN), generator=gen, dtype=torch.int64)
    input_ids = pool[idx]
    pos = torch.arange(SEQ_LEN).unsqueeze(0)
    attention_mask = (pos < lengths.unsqueeze(1)).to(torch.int64)
    input_ids[:, 0] = tok.cls_token_id
    input_ids[torch.arange(N_EXAMPLES), lengths - 1] = tok.sep_token_id
    input_ids[attention_mask == 0] = tok.pad_token_id
    labels = torch.randint(0, num_labels, (N_EXAMPLES,), generator=gen, dtype=torch.int64)
    data = dict(input_ids=input_ids, attention_mask=attention_mask)
    if spec["takes_token_type_ids"]:
        data["token_type_ids"] = torch.zeros(N_EXAMPLES, SEQ_LEN, dtype=torch.int64)
    data["labels"] = labels
    # all rows distinct (the instrumentation finds examples by their input_ids)
    assert len({tuple(r) for r in input_ids.tolist()}) == N_EXAMPLES
    return data


class DictDataset(Dataset):
    def __init__(self, data):
        self.data = data

    def __len__(self):
        return self.data["labels"].shape[0]

    def __getitem__(self, i):
        return {k: v[i] for k, v in self.data.items()}


class SequentialTrainer(Trainer):
    """Trainer with a sequential train sampler plus read-only instrumentation
    (as in crates/train/tests/fixtures/gen_fixtures.py)."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.micro_losses = []
        self.micro_batches = []
        self.num_items = []
        self.my_grad_norms = []
        self.post_clip_norms = []
        self.lrs_in_optimizer = []

    def _get_train_sampler(self, train_dataset=None):
        if train_dataset is None:
            train_dataset = self.train_dataset
        return SequentialSampler(train_dataset)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        ids = inputs["input_ids"]
        all_ids = self.train_dataset.data["input_ids"]
        idx = [int(torch.nonzero((all_ids == row).all(1))[0]) for row in ids]
        self.micro_batches.append(idx)
        self.num_items.append(None if num_items_in_batch is None else int(num_items_in_batch))
        loss = super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        self.micro_losses.append(float((loss[0] if return_outputs else loss).detach()))
        return loss

    def _clip_grad_norm(self, model):
        grads = [p.grad for p in model.parameters() if p.grad is not None]
        mine = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))
        self.my_grad_norms.append(float(mine))
        self.lrs_in_optimizer.append(self.optimizer.param_groups[0]["lr"])
        out = super()._clip_grad_norm(model)
        grads = [p.grad for p in model.parameters() if p.grad is not None]
        self.post_clip_norms.append(float(torch.linalg.vector_norm(
            torch.stack([torch.linalg.vector_norm(g) for g in grads]))))
        return out


NO_DECAY_NAME = re.compile(r"bias|layernorm|layer_norm")

# Partial fine-tuning (bertfit's --train-layers / --freeze-embeddings), one setting per
# architecture, each trained as above into trainer/<ARCH>-<slug>/.
FREEZING = {
    "distilbert": dict(train_layers="last:1", freeze_embeddings=False, slug="last1"),
    "roberta": dict(train_layers="head", freeze_embeddings=False, slug="head"),
    "xlm_roberta": dict(train_layers="all", freeze_embeddings=True, slug="freeze-embeddings"),
    "electra": dict(train_layers="last:1", freeze_embeddings=False, slug="last1"),
}


def freeze(model, spec, freezing):
    """What bertfit's Freezing does: requires_grad_(False) on the embeddings (with ELECTRA's
    embeddings_project) and on the encoder layers below the trainable ones; the head trains.
    (bertfit also runs frozen layers with dropout off; every dropout is 0 here.)"""
    base = getattr(model, spec["prefix"])
    layers = base.transformer.layer if hasattr(base, "transformer") else base.encoder.layer
    embeddings = [base.embeddings]
    if getattr(base, "embeddings_project", None) is not None:
        embeddings.append(base.embeddings_project)
    mode, n = freezing["train_layers"], len(layers)
    frozen_layers = n if mode == "head" else (n - int(mode[5:]) if mode.startswith("last:") else 0)
    assert 0 <= frozen_layers <= n
    frozen = list(layers[:frozen_layers])
    if mode != "all" or freezing["freeze_embeddings"]:
        frozen = embeddings + frozen
    for module in frozen:
        module.requires_grad_(False)
    return sorted(n for n, p in model.named_parameters() if not p.requires_grad)


DATA_RECIPE = ("lengths ~ randint(5, 17) then token ids drawn uniformly from the non-special "
               "ids (torch.Generator(data_seed)); position 0 = cls id, position length-1 = "
               "sep id, padding = pad id; labels ~ randint(0, num_labels)")


def trainer_hp(max_grad_norm=1.0):
    """TrainingArguments of the trainer fixtures (the trainer/finetune recipe)."""
    return dict(
        per_device_train_batch_size=4,
        gradient_accumulation_steps=1,
        max_steps=5,
        learning_rate=1e-4,
        warmup_steps=0,
        lr_scheduler_type="linear",
        weight_decay=0.01,
        max_grad_norm=max_grad_norm,
        adam_beta1=0.9,
        adam_beta2=0.999,
        adam_epsilon=1e-8,
        logging_steps=1,
        logging_strategy="steps",
        eval_strategy="no",
        save_strategy="no",
        seed=TRAIN_SEED,
        use_cpu=True,
        dataloader_drop_last=False,
        dataloader_num_workers=0,
        train_sampling_strategy="sequential",
    )


def run_trainer(model, data, hp, save):
    """SequentialTrainer(model, hp) on data; save(model, tmp) runs inside the Trainer's
    output_dir once training is done. Returns (trainer, train output, args, optimizer)."""
    with tempfile.TemporaryDirectory() as tmp:
        args = TrainingArguments(output_dir=tmp, report_to="none", disable_tqdm=True, **hp)
        trainer = SequentialTrainer(model=model, args=args, train_dataset=DictDataset(data))
        out = trainer.train()
        save(model, tmp)
        opt = trainer.optimizer.optimizer if hasattr(trainer.optimizer, "optimizer") else trainer.optimizer
    return trainer, out, args, opt


def check_trainer_run(model, trainer, opt, hp):
    """What ran: the param groups, the sequential order, log_history against the
    instrumentation (grad norm, clipping, lr). Returns (decay, no_decay, steps, summary, clipped)."""
    groups = opt.param_groups
    max_grad_norm = hp["max_grad_norm"]
    names = {id(p): n for n, p in model.named_parameters()}
    decay = [names[id(p)] for p in groups[0]["params"]]
    no_decay = [names[id(p)] for p in groups[1]["params"]]
    assert groups[0]["weight_decay"] == 0.01 and groups[1]["weight_decay"] == 0.0
    assert all(not NO_DECAY_NAME.search(n.lower()) for n in decay), decay
    assert all(NO_DECAY_NAME.search(n.lower()) for n in no_decay), no_decay
    assert trainer.model_accepts_loss_kwargs is True
    flat = [i for mb in trainer.micro_batches for i in mb]
    assert flat == list(range(N_EXAMPLES)), flat

    steps = [e for e in trainer.state.log_history if "loss" in e]
    summary = [e for e in trainer.state.log_history if "train_loss" in e]
    assert len(steps) == 5 and len(summary) == 1
    for s, mine in zip(steps, trainer.my_grad_norms):
        assert abs(s["grad_norm"] - mine) <= 1e-5 * max(1.0, mine), (s["grad_norm"], mine)
    clipped = [g > max_grad_norm for g in trainer.my_grad_norms]
    for c, post, pre in zip(clipped, trainer.post_clip_norms, trainer.my_grad_norms):
        if c:
            assert abs(post - max_grad_norm * pre / (pre + 1e-6)) < 1e-5, (post, pre)
        else:
            assert abs(post - pre) < 1e-6
    for s, lr in zip(steps, trainer.lrs_in_optimizer):
        assert s["learning_rate"] == lr
    return decay, no_decay, steps, summary[0], clipped


def trainer_args_json(hp, args, opt, trainer, model, *, data_recipe, special_ids, model_fixture,
                      model_overrides, decay, no_decay, extra, versions=None):
    """args.json: hp, then the data, optimizer and model fields, `extra` (the freezing fields),
    the parameter counts and the versions."""
    groups = opt.param_groups
    optim_cls = type(opt)
    args_json = dict(hp)
    args_json.update(
        num_examples=N_EXAMPLES,
        seq_len=SEQ_LEN,
        data_seed=DATA_SEED,
        data_recipe=data_recipe,
        special_ids=special_ids,
        optim=str(args.optim.value if hasattr(args.optim, "value") else args.optim),
        optimizer_class=f"{optim_cls.__module__}.{optim_cls.__name__}",
        optimizer_defaults={k: (list(v) if isinstance(v, tuple) else v)
                            for k, v in groups[0].items() if k not in ("params", "initial_lr", "lr")
                            and isinstance(v, (int, float, bool, tuple, type(None)))},
        num_warmup_steps=args.get_warmup_steps(hp["max_steps"]),
        model_fixture=model_fixture,
        model_overrides=model_overrides,
        decay_params=decay,
        no_decay_params=no_decay,
        model_accepts_loss_kwargs=trainer.model_accepts_loss_kwargs,
    )
    args_json.update(extra)
    args_json.update(
        trainable_numel=sum(p.numel() for p in model.parameters() if p.requires_grad),
        all_numel=sum(p.numel() for p in model.parameters()),
        versions=versions if versions is not None else dict(
            torch=torch.__version__, transformers=transformers.__version__,
            accelerate=accelerate.__version__),
    )
    return args_json


def trainer_log_json(trainer, out, steps, summary, clipped):
    return dict(
        log_history=steps,
        train_summary={k: summary[k] for k in ("train_loss", "total_flos", "epoch", "step")},
        train_output_training_loss=out.training_loss,
        note="train_runtime/_samples_per_second/_steps_per_second dropped (wall-clock).",
        extras=dict(
            micro_batch_indices=trainer.micro_batches,
            micro_batch_model_loss=trainer.micro_losses,
            num_items_in_batch=trainer.num_items,
            pre_clip_grad_norm_recomputed=trainer.my_grad_norms,
            post_clip_grad_norm=trainer.post_clip_norms,
            clipped=clipped,
        ),
    )


def save_trainer_fixture(arch, spec, tok, freezing=None):
    model_dir = os.path.join(MODEL_FIXTURES, arch)
    d = os.path.join(TRAIN_FIXTURES, arch if freezing is None else f"{arch}-{freezing['slug']}")
    fresh_dir(d)
    overrides = dict(spec["dropout_off"])
    model = AutoModelForSequenceClassification.from_pretrained(
        model_dir, attn_implementation="eager", dtype=torch.float32, **overrides)
    assert type(model) is spec["model_cls"]
    for k, v in overrides.items():
        assert getattr(model.config, k) == v, k
    frozen_params = freeze(model, spec, freezing) if freezing else []
    num_labels = model.config.num_labels
    data = make_data(tok, spec, num_labels)
    hp = trainer_hp(max_grad_norm=1.0)

    def save(model, tmp):
        model.save_pretrained(os.path.join(tmp, "final"), safe_serialization=True)
        shutil.copy(os.path.join(tmp, "final", "model.safetensors"),
                    os.path.join(d, "final.safetensors"))

    trainer, out, args, opt = run_trainer(model, data, hp, save)
    decay, no_decay, steps, summary, clipped = check_trainer_run(model, trainer, opt, hp)
    # the weights moved, and the keys are those of the model fixture
    final = load_file(os.path.join(d, "final.safetensors"))
    init = load_file(os.path.join(model_dir, "model.safetensors"))
    assert sorted(final) == sorted(init)
    assert any(not torch.equal(final[k], init[k]) for k in final)
    # frozen parameters are untouched (no gradient, no optimizer state, no weight decay)
    for k in frozen_params:
        assert torch.equal(final[k], init[k]), k
    assert not set(frozen_params) & set(decay + no_decay)

    write_safetensors(os.path.join(d, "data.safetensors"), data)
    args_json = trainer_args_json(
        hp, args, opt, trainer, model,
        data_recipe=DATA_RECIPE,
        special_ids=dict(cls=tok.cls_token_id, sep=tok.sep_token_id, pad=tok.pad_token_id),
        model_fixture=f"crates/model/tests/fixtures/{arch}",
        model_overrides=dict(**overrides, attn_implementation="eager"),
        decay=decay,
        no_decay=no_decay,
        extra=dict(
            train_layers=freezing["train_layers"] if freezing else "all",
            freeze_embeddings=bool(freezing and freezing["freeze_embeddings"]),
            frozen_params=frozen_params,
        ),
    )
    dump_json(os.path.join(d, "args.json"), args_json)
    dump_json(os.path.join(d, "log.json"), trainer_log_json(trainer, out, steps, summary, clipped))
    return steps, summary, data


def main():
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    torch.set_default_dtype(torch.float32)
    transformers.logging.set_verbosity_error()
    print(f"torch {torch.__version__}, transformers {transformers.__version__}, "
          f"tokenizers {tokenizers.__version__}, accelerate {accelerate.__version__}, "
          f"numpy {np.__version__}")
    os.makedirs(TRAIN_FIXTURES, exist_ok=True)
    for arch, spec in ARCHS.items():
        r = save_model_fixture(arch, spec)
        tok = r["tok"]
        print(f"{arch}: vocab {len(tok)}, specials {special_tokens_of(tok)}, "
              f"lengths {r['lengths']}, loss {r['ref']['loss'].item()!r}")
        steps, summ, data = save_trainer_fixture(arch, spec, tok)
        print(f"  trainer: real lengths {data['attention_mask'].sum(1).tolist()}")
        for e in steps:
            print(f"  step {e['step']} loss {e['loss']!r} grad_norm {e['grad_norm']!r} "
                  f"lr {e['learning_rate']!r}")
        print(f"  train_loss {summ['train_loss']!r}")
        if arch in FREEZING:
            steps, summ, _ = save_trainer_fixture(arch, spec, tok, FREEZING[arch])
            print(f"  {FREEZING[arch]}: losses {[e['loss'] for e in steps]} "
                  f"train_loss {summ['train_loss']!r}")
    for base in (MODEL_FIXTURES, TRAIN_FIXTURES):
        for arch in list(ARCHS) + [f"{a}-{f['slug']}" for a, f in FREEZING.items()]:
            for root, _, files in os.walk(os.path.join(base, arch)):
                for fn in files:
                    os.chmod(os.path.join(root, fn), 0o644)


if __name__ == "__main__":
    main()
