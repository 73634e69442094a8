"""Loads a Blockbuster output folder with Python transformers and PEFT and compares with Blockbuster.

Usage (where torch, transformers and peft are installed):
    python3 check_transformers.py MODEL_FOLDER BASE_FOLDER OURS_JSONL
MODEL_FOLDER is written by `blockbuster train` (LoRA run, so it has the PEFT adapter in adapter/); BASE_FOLDER
is the base model it was trained on;
OURS_JSONL is `blockbuster predict --json --precision fp32 --file texts.txt` output for the texts below.
"""
import json
import os
import sys

import peft
import torch
import transformers
from peft import PeftModel
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from texts import TEXTS

model_folder, base_folder, ours_path = sys.argv[1:4]
ours = [json.loads(line) for line in open(ours_path, encoding="utf-8")]
assert [o["text"] for o in ours] == TEXTS, "predictions are for other texts"
ours_p = torch.tensor([[o["probabilities"]["negative"], o["probabilities"]["positive"]] for o in ours])

tokenizer = AutoTokenizer.from_pretrained(model_folder)
batch = tokenizer(TEXTS, padding=True, truncation=True, max_length=512, return_tensors="pt")
assert [len(ids) for ids in tokenizer(TEXTS, truncation=True, max_length=512)["input_ids"]] == [o["tokens"] for o in ours], "token counts differ"

merged, info = AutoModelForSequenceClassification.from_pretrained(model_folder, output_loading_info=True)
merged.eval()
print(f"transformers {transformers.__version__}, peft {peft.__version__}, torch {torch.__version__}")
print(f"loading info: missing {info['missing_keys']}, unexpected {info['unexpected_keys']}, mismatched {info['mismatched_keys']}")
clean = not info["missing_keys"] and not info["unexpected_keys"] and not info["mismatched_keys"]
with torch.no_grad():
    p_merged = merged(**batch).logits.softmax(-1)
print(f"transformers AutoModelForSequenceClassification: id2label={merged.config.id2label}")
print(f"  max |p_ours - p_transformers| = {(p_merged - ours_p).abs().max().item():.2e}")

base = AutoModelForSequenceClassification.from_pretrained(base_folder, num_labels=2).eval()
with torch.no_grad():
    p_base = base(**batch).logits.softmax(-1)
# The adapter must matter, or equal outputs would prove nothing.
print(f"base model alone: max |p_base - p_ours| = {(p_base - ours_p).abs().max().item():.2e}")
adapter = PeftModel.from_pretrained(base, os.path.join(model_folder, "adapter")).eval()
with torch.no_grad():
    p_peft = adapter(**batch).logits.softmax(-1)
print(f"PEFT PeftModel.from_pretrained(base, folder/adapter): {type(adapter.base_model).__name__}, r={adapter.peft_config['default'].r}")
print(f"  max |p_ours - p_peft| = {(p_peft - ours_p).abs().max().item():.2e}")
# AutoPeftModel resolves the base itself from base_model_name_or_path, when that path exists here.
from peft import AutoPeftModelForSequenceClassification
base_name = json.load(open(os.path.join(model_folder, "adapter", "adapter_config.json")))["base_model_name_or_path"]
if os.path.isdir(base_name):
    auto = AutoPeftModelForSequenceClassification.from_pretrained(os.path.join(model_folder, "adapter")).eval()
    with torch.no_grad():
        p_auto = auto(**batch).logits.softmax(-1)
    print(f"PEFT AutoPeftModelForSequenceClassification (base {base_name}): max |p_ours - p_auto| = {(p_auto - ours_p).abs().max().item():.2e}")
labels = [merged.config.id2label[i] for i in p_merged.argmax(-1).tolist()]
print(f"  labels: {labels} (ours: {[o['label'] for o in ours]})")
ok = clean and (p_merged - ours_p).abs().max().item() < 1e-4 and (p_peft - ours_p).abs().max().item() < 1e-4
print("OK" if ok else "MISMATCH")
sys.exit(0 if ok else 1)
