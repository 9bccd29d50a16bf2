#!/usr/bin/env python3
"""Peer for attention_bench: PyTorch's scaled_dot_product_attention on K/V gathered
from the same paged layout, same shapes (one query per sequence, GQA, fp32).

Two timings per context: gather + SDPA (what a paged server must do when its
attention kernel cannot read pages), and SDPA alone on already-contiguous K/V.
Bandwidth counts the K/V bytes of the context once, as attention_bench does, and
is reported as a fraction of the device's measured copy bandwidth.

    python3 bench/peer_sdpa.py [--contexts 1024,4096,8192] [--batch 64] [--heads 32]
                               [--kv-heads 8] [--head-dim 128] [--page-size 16] [--out FILE]

Exits 77 with a "no GPU" message when PyTorch or a GPU is missing.
"""
import argparse
import sys

NO_GPU_EXIT = 77


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--contexts", default="1024,4096,8192")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--heads", type=int, default=32)
    p.add_argument("--kv-heads", type=int, default=8)
    p.add_argument("--head-dim", type=int, default=128)
    p.add_argument("--page-size", type=int, default=16)
    p.add_argument("--iterations", type=int, default=20)
    p.add_argument("--out")
    a = p.parse_args()
    a.contexts = [int(c) for c in a.contexts.split(",")]
    if a.heads % a.kv_heads or min(a.contexts + [a.batch, a.heads, a.kv_heads, a.head_dim, a.page_size]) <= 0:
        p.error("sizes must be positive and heads a multiple of kv-heads")
    return a


def timed_ms(torch, fn, iterations):
    for _ in range(3):
        fn()
    start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(iterations):
        fn()
    stop.record()
    stop.synchronize()
    return start.elapsed_time(stop) / iterations


def copy_bandwidth_gb_s(torch):
    src = torch.zeros(1 << 28, dtype=torch.float32, device="cuda")  # 1 GiB
    dst = torch.empty_like(src)
    ms = min(timed_ms(torch, lambda: dst.copy_(src), 1) for _ in range(10))
    return 2 * src.numel() * 4 / (ms * 1e-3) / 1e9


def measure(torch, F, a, context, copy_gb_s):
    pages_per_seq = (context + a.page_size - 1) // a.page_size
    pages = pages_per_seq * a.batch
    gen = torch.Generator(device="cuda").manual_seed(1)
    # Same layout as kvactor: [page][k|v][kv_head][page_size][head_dim], pages shuffled.
    store = torch.rand(pages, 2, a.kv_heads, a.page_size, a.head_dim, device="cuda", generator=gen) - 0.5
    tables = torch.randperm(pages, device="cuda", generator=gen).view(a.batch, pages_per_seq)
    q = torch.rand(a.batch, a.heads, 1, a.head_dim, device="cuda", generator=gen)
    group = a.heads // a.kv_heads
    gqa_native = "enable_gqa" in (F.scaled_dot_product_attention.__doc__ or "")

    def gather():
        blocks = store[tables]  # [batch, pages_per_seq, 2, kv, ps, hd]
        kv = blocks.permute(2, 0, 3, 1, 4, 5).reshape(2, a.batch, a.kv_heads, pages_per_seq * a.page_size, a.head_dim)
        return kv[0, :, :, :context], kv[1, :, :, :context]

    def sdpa(k, v):
        if group > 1 and gqa_native:  # PyTorch >= 2.5 broadcasts kv heads itself
            return F.scaled_dot_product_attention(q, k, v, enable_gqa=True)
        k = k.repeat_interleave(group, dim=1) if group > 1 else k
        v = v.repeat_interleave(group, dim=1) if group > 1 else v
        return F.scaled_dot_product_attention(q, k, v)

    k_contig, v_contig = (t.contiguous() for t in gather())
    if gqa_native:
        try:
            sdpa(k_contig, v_contig)
        except (RuntimeError, TypeError) as e:  # a backend without GQA for these dtypes
            print(f"peer_sdpa: enable_gqa refused ({e}); using repeat_interleave", file=sys.stderr)
            gqa_native = False
    gather_ms = timed_ms(torch, lambda: sdpa(*gather()), a.iterations)
    sdpa_ms = timed_ms(torch, lambda: sdpa(k_contig, v_contig), a.iterations)
    kv_bytes = a.batch * context * 2 * a.kv_heads * a.head_dim * 4
    rows = []
    mode = "enable_gqa" if gqa_native or group == 1 else "repeat_interleave"
    for name, ms in ((f"gather + SDPA ({mode})", gather_ms), (f"SDPA on contiguous K/V ({mode})", sdpa_ms)):
        gb_s = kv_bytes / (ms * 1e-3) / 1e9
        rows.append(f"| {context} | {name} | {ms:.3f} | {gb_s:.1f} | {100 * gb_s / copy_gb_s:.1f}% |")
    return rows


def main():
    a = parse_args()
    try:
        import torch
        import torch.nn.functional as F
    except ImportError as e:
        print(f"peer_sdpa: no GPU: PyTorch is not installed ({e}). Nothing was measured.")
        return NO_GPU_EXIT
    if not torch.cuda.is_available():
        print("peer_sdpa: no GPU: torch.cuda.is_available() is False. Nothing was measured.")
        return NO_GPU_EXIT
    copy = copy_bandwidth_gb_s(torch)
    lines = [
        "## Peer: PyTorch scaled_dot_product_attention on gathered K/V",
        "",
        f"- Device: {torch.cuda.get_device_name()}; PyTorch {torch.__version__}",
        f"- Measured device copy bandwidth (read + write, 1 GiB): {copy:.1f} GB/s",
        f"- Shape: batch {a.batch}, {a.heads} heads, {a.kv_heads} kv heads, head_dim {a.head_dim}, "
        f"page size {a.page_size}, fp32, one query per sequence; mean of {a.iterations} calls; "
        "kv heads shared through enable_gqa where PyTorch has it, else repeat_interleave (timed)",
        "",
        "| context | what | ms per call | K/V GB/s | fraction of copy bandwidth |",
        "| ---: | --- | ---: | ---: | ---: |",
    ]
    for context in a.contexts:
        rows = measure(torch, F, a, context, copy)
        for r in rows:
            print(r, file=sys.stderr)
        lines += rows
    text = "\n".join(lines) + "\n"
    print(text, end="")
    if a.out:
        with open(a.out, "w") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
