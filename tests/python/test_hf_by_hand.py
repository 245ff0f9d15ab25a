"""The README walkthrough's second half as a test: a Llama trained in plain PyTorch and written by
hand in Hugging Face's layout (examples/python/hf_by_hand.py) is a model MART evaluates and
generates from. `mart eval` on the folder must give PyTorch's own loss on the same windows (an
independent check of the folder's config, names, layout and tokenizer); `mart generate` must
stream text. Negative control: the folder with config.json's rms_norm_eps changed evaluates to a
different loss, so the comparison can fail.

    test_hf_by_hand.py --mart build-cpu/mart
Exit 77 (skipped) when torch or the tinyshakespeare text is unavailable.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
TEXT = os.path.join(os.path.dirname(REPO), "shared", "data", "tinyshakespeare.txt")


def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        sys.exit(f"FAILED ({r.returncode}): {' '.join(cmd)}\n{r.stdout}\n{r.stderr}")
    return r.stdout


def mart_eval_loss(mart, folder, val):
    out = run([mart, "eval", folder, val, "--sequences", "8", "--set", "train.seq_len=64"])
    return float(re.search(r"loss ([0-9.]+)", out).group(1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mart", required=True)
    args = ap.parse_args()
    try:
        import torch  # noqa: F401
    except ImportError:
        print("skipped: torch is not importable by", sys.executable)
        return 77
    if not os.path.exists(TEXT):
        print("skipped: no", TEXT)
        return 77
    tmp = tempfile.mkdtemp(prefix="mart_hf_by_hand_")
    try:
        tok, data, hf = (os.path.join(tmp, n) for n in ("tok.model", "shake", "hf"))
        run([args.mart, "train-tokenizer", TEXT, "-o", tok, "--vocab-size", "400"])
        run([args.mart, "prepare-data", TEXT, "--tokenizer", tok, "-o", data])
        out = run([sys.executable, os.path.join(REPO, "examples", "python", "hf_by_hand.py"),
                   "--train", data + ".bin", "--tokenizer", tok, "--vocab-size", "400",
                   "--out", hf, "--steps", "4", "--eval-data", data + "_val.bin",
                   "--eval-sequences", "8", "--eval-len", "64"])
        torch_loss = float(re.search(r"torch eval loss ([0-9.]+)", out).group(1))
        mart_loss = mart_eval_loss(args.mart, hf, data + "_val.bin")
        print(f"torch {torch_loss:.6f}  mart {mart_loss:.6f}")
        assert abs(mart_loss - torch_loss) < 1e-4 * torch_loss, "MART's loss is not PyTorch's"

        text = run([args.mart, "generate", hf, "--prompt", "ROMEO:", "--max-tokens", "12",
                    "--seed", "3", "--quiet"])
        assert text.startswith("ROMEO:") and len(text) > len("ROMEO:"), repr(text)

        # Negative control: another rms_norm_eps in config.json must change MART's loss.
        cfg_path = os.path.join(hf, "config.json")
        cfg = json.load(open(cfg_path))
        cfg["rms_norm_eps"] = 0.1
        json.dump(cfg, open(cfg_path, "w"))
        wrong = mart_eval_loss(args.mart, hf, data + "_val.bin")
        assert abs(wrong - torch_loss) > 1e-3, f"control: loss {wrong} did not move"
        print("ok: the hand-written Hugging Face folder evaluates to PyTorch's loss and generates")
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
