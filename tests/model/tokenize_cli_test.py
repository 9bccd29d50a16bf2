"""`kvactor tokenize` on a vocabulary-only GGUF: llama.cpp's vectors through the binary.

Usage: tokenize_cli_test.py KVACTOR_BINARY VOCAB.gguf
Every fourth input of VOCAB.gguf.inp (one process each; the library test covers all of
them) must print the matching VOCAB.gguf.out ids (as one JSON array on the last line of
stdout, no BOS/EOS); --add-special and --parse-special are
checked on one input each; a bad flag exits 2 and a missing file exits 1.
"""
import json
import subprocess
import sys


def last_line_ids(binary, vocab, *args):
    run = subprocess.run([binary, "tokenize", "--model", vocab, *args], capture_output=True, check=True)
    return json.loads(run.stdout.decode("utf-8", "surrogateescape").rstrip("\n").split("\n")[-1])


def main():
    binary, vocab = sys.argv[1], sys.argv[2]
    with open(vocab + ".inp", "rb") as f:
        inputs = f.read().decode("utf-8").split("\n__ggml_vocab_test__\n")
    with open(vocab + ".out", encoding="utf-8") as f:
        expected = [[int(x) for x in line.split()] for line in f.read().split("\n")[: len(inputs) - 1]]
    failures = 0
    cases = list(zip(inputs, expected))[::4]
    for text, ids in cases:
        got = last_line_ids(binary, vocab, "--", text)
        if got != ids:
            failures += 1
            print(f"FAIL {text!r}: got {got}, expected {ids}")
    print(f"{len(cases) - failures}/{len(cases)} vectors matched through `kvactor tokenize`")

    plain = last_line_ids(binary, vocab, "<|endoftext|>")
    parsed = last_line_ids(binary, vocab, "--parse-special", "<|endoftext|>")
    special = last_line_ids(binary, vocab, "--add-special", "--parse-special", "--pieces", "Hello<|endoftext|>")
    checks = {
        "--parse-special turns the text into one token": len(parsed) == 1 and len(plain) > 1,
        "--add-special adds only what the vocabulary asks (GPT-2: nothing)": special[-1] == parsed[0],
    }
    bad = subprocess.run([binary, "tokenize", "--model", vocab, "--no-such-flag", "x"], capture_output=True)
    checks["an unknown flag exits 2 naming it"] = bad.returncode == 2 and b"--no-such-flag" in bad.stderr
    missing = subprocess.run([binary, "tokenize", "--model", "/nonexistent.gguf", "x"], capture_output=True)
    checks["a missing file exits 1 naming it"] = missing.returncode == 1 and b"/nonexistent.gguf" in missing.stderr
    for name, ok in checks.items():
        print(("ok   " if ok else "FAIL ") + name)
        failures += not ok
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
