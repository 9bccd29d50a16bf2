"""Statistics for the load test: percentiles, per-phase summaries, goodput, cache hit rate.

Pure functions over plain records so they are unit-tested without a server.
A record is a dict with (seconds, from time.monotonic()):
  send, first (first streamed token or None), end, token_times (list),
  prompt_tokens, completion_tokens, cached_tokens, error (None or text).
"""

import math


def percentile(values, p):
    """Linear interpolation between closest ranks (numpy's default); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    if len(ordered) == 1:
        return float(ordered[0])
    rank = (len(ordered) - 1) * (p / 100.0)
    lo = math.floor(rank)
    hi = math.ceil(rank)
    return float(ordered[lo] + (ordered[hi] - ordered[lo]) * (rank - lo))


def describe(values):
    """mean, p50, p90, p99, max and count of a list of numbers (None entries are dropped)."""
    clean = [v for v in values if v is not None]
    if not clean:
        return {"count": 0, "mean": None, "p50": None, "p90": None, "p99": None, "max": None}
    return {"count": len(clean), "mean": sum(clean) / len(clean), "p50": percentile(clean, 50),
            "p90": percentile(clean, 90), "p99": percentile(clean, 99), "max": max(clean)}


def ttft(rec):
    return None if rec.get("first") is None else rec["first"] - rec["send"]


def e2e(rec):
    return rec["end"] - rec["send"]


def tpot(rec):
    """Time per output token after the first: (e2e - ttft) / (tokens - 1); None below 2 tokens."""
    n = rec.get("completion_tokens") or 0
    if n < 2 or rec.get("first") is None:
        return None
    return (rec["end"] - rec["first"]) / (n - 1)


def inter_token_latencies(rec):
    times = rec.get("token_times") or []
    return [b - a for a, b in zip(times, times[1:])]


def meets_slo(rec, slo_ttft_s, slo_tpot_s):
    """A request counts towards goodput if it succeeded and is within every given limit."""
    if rec.get("error"):
        return False
    if slo_ttft_s is not None:
        t = ttft(rec)
        if t is None or t > slo_ttft_s:
            return False
    if slo_tpot_s is not None:
        t = tpot(rec)
        if t is not None and t > slo_tpot_s:
            return False
    return True


def hit_rate(hit, queried):
    if not queried:
        return None
    return hit / queried


def metrics_delta(before, after, name):
    """Counter increase between two /metrics scrapes; None if the counter is missing."""
    if before is None or after is None or name not in before or name not in after:
        return None
    return after[name] - before[name]


def summarize(records, slo_ttft_s=None, slo_tpot_s=None):
    """Throughput, latency distributions (milliseconds) and goodput for one phase."""
    ok = [r for r in records if not r.get("error")]
    failed = len(records) - len(ok)
    if records:
        start = min(r["send"] for r in records)
        stop = max(r["end"] for r in records)
        duration = max(stop - start, 1e-9)
    else:
        duration = 0.0
    out_tokens = sum(r.get("completion_tokens") or 0 for r in ok)
    in_tokens = sum(r.get("prompt_tokens") or 0 for r in ok)
    cached = sum(r.get("cached_tokens") or 0 for r in ok)
    itl = [x for r in ok for x in inter_token_latencies(r)]
    good = [r for r in records if meets_slo(r, slo_ttft_s, slo_tpot_s)]

    def ms(values):
        return describe([None if v is None else v * 1000.0 for v in values])

    rate = (lambda n: n / duration) if duration else (lambda n: 0.0)
    return {
        "requests": len(records), "succeeded": len(ok), "failed": failed,
        "duration_s": duration,
        "request_throughput": rate(len(ok)),
        "output_token_throughput": rate(out_tokens),
        "total_token_throughput": rate(out_tokens + in_tokens),
        "prompt_tokens": in_tokens, "completion_tokens": out_tokens, "cached_tokens": cached,
        "usage_hit_rate": hit_rate(cached, in_tokens),
        "ttft_ms": ms([ttft(r) for r in ok]),
        "tpot_ms": ms([tpot(r) for r in ok]),
        "itl_ms": ms(itl),
        "e2e_ms": ms([e2e(r) for r in ok]),
        "goodput": {"slo_ttft_ms": None if slo_ttft_s is None else slo_ttft_s * 1000.0,
                    "slo_tpot_ms": None if slo_tpot_s is None else slo_tpot_s * 1000.0,
                    "good_requests": len(good),
                    "requests_per_s": rate(len(good)),
                    "fraction": (len(good) / len(records)) if records else None},
    }


def timeline(records, bucket_s=None):
    """Output tokens and finished requests per second, in time buckets from the phase start.
    By default a bucket is 1/30 of the phase (0.1 s at least), so short phases still
    show a shape."""
    if not records:
        return []
    start = min(r["send"] for r in records)
    if bucket_s is None:
        span = max(r["end"] for r in records) - start
        bucket_s = max(0.1, round(span / 30.0, 1))
    buckets = {}
    for r in records:
        for t in r.get("token_times") or []:
            b = int((t - start) // bucket_s)
            buckets.setdefault(b, [0, 0])[0] += 1
        if not r.get("error"):
            b = int((r["end"] - start) // bucket_s)
            buckets.setdefault(b, [0, 0])[1] += 1
    if not buckets:  # every request failed before its first token
        return []
    last = max(buckets)
    return [{"t_s": round(b * bucket_s, 3), "tokens_per_s": buckets.get(b, [0, 0])[0] / bucket_s,
             "requests_per_s": buckets.get(b, [0, 0])[1] / bucket_s} for b in range(last + 1)]
