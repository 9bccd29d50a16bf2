#!/usr/bin/env python3
"""Straight transliteration of llama2.c run.c encode() (no caching, no cleverness),
used to derive the expected token ids hard-coded in tokenizer_test.cpp.

usage: llama2c_encode_reference.py TOKENIZER.bin VOCAB_SIZE TEXT...
prints one line of ids per TEXT (BOS included, no EOS)."""
import struct
import sys


def load(path, vocab_size):
    with open(path, "rb") as f:
        data = f.read()
    (max_len,) = struct.unpack_from("<i", data, 0)
    off = 4
    vocab, scores = [], []
    for _ in range(vocab_size):
        score, n = struct.unpack_from("<fi", data, off)
        off += 8
        vocab.append(data[off:off + n])
        scores.append(score)
        off += n
    return vocab, scores


def str_lookup(vocab, s):
    for i, v in enumerate(vocab):  # linear search: obviously correct, slow is fine here
        if v == s:
            return i
    return -1


def encode(vocab, scores, text, bos=True):
    tokens = []
    if bos:
        tokens.append(1)
    if text:
        tokens.append(str_lookup(vocab, b" "))
    buf = b""
    for i, c in enumerate(text):
        if (c & 0xC0) != 0x80:
            buf = b""
        buf += bytes([c])
        nxt = text[i + 1] if i + 1 < len(text) else 0
        if (nxt & 0xC0) == 0x80 and len(buf) < 4:
            continue
        tid = str_lookup(vocab, buf)
        if tid != -1:
            tokens.append(tid)
        else:
            tokens.extend(b + 3 for b in buf)
        buf = b""
    while True:
        best_score, best_id, best_idx = -1e10, -1, -1
        for i in range(len(tokens) - 1):
            tid = str_lookup(vocab, vocab[tokens[i]] + vocab[tokens[i + 1]])
            if tid != -1 and scores[tid] > best_score:
                best_score, best_id, best_idx = scores[tid], tid, i
        if best_idx == -1:
            break
        tokens[best_idx] = best_id
        del tokens[best_idx + 1]
    return tokens


if __name__ == "__main__":
    vocab, scores = load(sys.argv[1], int(sys.argv[2]))
    for t in sys.argv[3:]:
        print(" ".join(map(str, encode(vocab, scores, t.encode("utf-8", "surrogateescape")))))
