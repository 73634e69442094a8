"""Loads a Blockbuster output folder with Python transformers and PEFT and compares with Blockbuster.

Usage (where torch, transformers and peft are installed):
    python3 check_transformers.py MODEL_FOLDER BASE_FOLDER OURS_JSONL
MODEL_FOLDER is written by `blockbuster train` (LoRA run); BASE_FOLDER is the base model it was trained on;
OURS_JSONL is `blockbuster predict --json --precision fp32 --file texts.txt` output for the texts below.
"""
import json
import sys

import torch
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

merged = AutoModelForSequenceClassification.from_pretrained(model_folder).eval()
with torch.no_grad():
    p_merged = merged(**batch).logits.softmax(-1)
print(f"transformers AutoModelForSequenceClassification: id2label={merged.config.id2label}")
print(f"  max |p_ours - p_transformers| = {(p_merged - ours_p).abs().max().item():.2e}")

base = AutoModelForSequenceClassification.from_pretrained(base_folder, num_labels=2)
adapter = PeftModel.from_pretrained(base, model_folder).eval()
with torch.no_grad():
    p_peft = adapter(**batch).logits.softmax(-1)
print(f"PEFT PeftModel.from_pretrained(base, folder): {type(adapter.base_model).__name__}, r={adapter.peft_config['default'].r}")
print(f"  max |p_ours - p_peft| = {(p_peft - ours_p).abs().max().item():.2e}")
labels = [merged.config.id2label[i] for i in p_merged.argmax(-1).tolist()]
print(f"  labels: {labels} (ours: {[o['label'] for o in ours]})")
ok = (p_merged - ours_p).abs().max().item() < 1e-4 and (p_peft - ours_p).abs().max().item() < 1e-4
print("OK" if ok else "MISMATCH")
sys.exit(0 if ok else 1)
