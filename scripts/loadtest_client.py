"""HTTP side of the load test: the loopback guard, one streamed completion, /metrics scrapes.

Standard library only. Never follows redirects (http.client does not), so a target that
passed the loopback guard cannot send traffic anywhere else.
"""

import http.client
import ipaddress
import json
import re
import time
import urllib.parse


class TargetRefused(ValueError):
    pass


def loopback_target(url):
    """(host, port) of url if it names a loopback address, else TargetRefused.

    Accepted: http:// with host localhost, any 127.0.0.0/8 address, or [::1]. Other names are
    refused without a DNS lookup, so no resolver trick can point the load elsewhere.
    """
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "http":
        raise TargetRefused("only http:// targets are supported, got %r" % url)
    host = parts.hostname
    if not host:
        raise TargetRefused("no host in %r" % url)
    try:
        port = parts.port or 80
    except ValueError:
        raise TargetRefused("bad port in %r" % url) from None
    if host.lower() == "localhost":
        return "127.0.0.1", port
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        raise TargetRefused("refusing non-loopback host %r: use 127.0.0.1, localhost or [::1]"
                            % host) from None
    if not addr.is_loopback:
        raise TargetRefused("refusing non-loopback address %s: load tests target this "
                            "machine only (127.0.0.0/8, ::1)" % addr)
    return str(addr), port


def stream_completion(host, port, prompt, max_tokens, timeout_s, extra=None):
    """POST /v1/completions with stream=true, greedy; returns one record (see loadtest_stats).

    Every streamed choice chunk counts as one token arrival (the server sends one event
    per token), except the final empty one that only carries finish_reason. The usage chunk (stream_options.include_usage) gives the token counts;
    without one, completion tokens are the number of chunks.
    """
    body = {"prompt": prompt, "max_tokens": max_tokens, "temperature": 0, "stream": True,
            "stream_options": {"include_usage": True}}
    if extra:
        body.update(extra)
    rec = {"prompt": prompt, "send": time.monotonic(), "first": None, "end": None,
           "token_times": [], "text": "", "prompt_tokens": None, "completion_tokens": None,
           "cached_tokens": None, "error": None, "finish_reason": None}
    pieces = []
    conn = http.client.HTTPConnection(host, port, timeout=timeout_s)
    try:
        conn.request("POST", "/v1/completions", body=json.dumps(body),
                     headers={"Content-Type": "application/json", "Accept": "text/event-stream"})
        resp = conn.getresponse()
        if resp.status != 200:
            payload = resp.read(4096).decode("utf-8", "replace")
            rec["error"] = "HTTP %d: %s" % (resp.status, error_text(payload))
            return rec
        for raw in resp:
            line = raw.decode("utf-8", "replace").strip()
            if not line.startswith("data:"):
                continue
            data = line[5:].strip()
            if data == "[DONE]":
                break
            try:
                event = json.loads(data)
            except ValueError:
                rec["error"] = "bad SSE event: " + data[:200]
                break
            if "error" in event:
                rec["error"] = "stream error: " + error_text(json.dumps(event))
                break
            for choice in event.get("choices") or []:
                text = choice.get("text") or ""
                # The server ends with an empty-text chunk carrying finish_reason: that
                # one is not a token (empty chunks before it may be held-back bytes: they are).
                if text or not choice.get("finish_reason"):
                    now = time.monotonic()
                    if rec["first"] is None:
                        rec["first"] = now
                    rec["token_times"].append(now)
                pieces.append(text)
                if choice.get("finish_reason"):
                    rec["finish_reason"] = choice["finish_reason"]
            usage = event.get("usage")
            if usage:
                rec["prompt_tokens"] = usage.get("prompt_tokens")
                rec["completion_tokens"] = usage.get("completion_tokens")
                details = usage.get("prompt_tokens_details") or {}
                rec["cached_tokens"] = details.get("cached_tokens", 0)
    except (OSError, http.client.HTTPException) as e:
        rec["error"] = "%s: %s" % (type(e).__name__, e)
    finally:
        conn.close()
        rec["end"] = time.monotonic()
    rec["text"] = "".join(pieces)
    if rec["completion_tokens"] is None:
        rec["completion_tokens"] = len(rec["token_times"])
    if rec["error"] is None and rec["prompt_tokens"] is None:
        rec["error"] = "stream ended without usage (prompt_tokens unknown)"
    return rec


def error_text(payload):
    try:
        err = json.loads(payload)["error"]
        return "%s: %s" % (err.get("code"), err.get("message"))
    except (ValueError, KeyError, TypeError, AttributeError):
        return payload[:300]


_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+([-+0-9.eEinfNa]+)")


def parse_prometheus(text):
    """{'name{labels}': value} for every sample line (labels kept verbatim)."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        if m:
            try:
                out[m.group(1) + (m.group(2) or "")] = float(m.group(3))
            except ValueError:
                pass
    return out


def find_counter(samples, *suffixes):
    """Value of the first unlabelled sample whose name ends with one of the suffixes."""
    for suffix in suffixes:
        for key, value in samples.items():
            if "{" not in key and key.endswith(suffix):
                return key, value
    return None, None


def scrape_metrics(host, port, timeout_s=10.0):
    conn = http.client.HTTPConnection(host, port, timeout=timeout_s)
    try:
        conn.request("GET", "/metrics")
        resp = conn.getresponse()
        text = resp.read().decode("utf-8", "replace")
        if resp.status != 200:
            return None
        return parse_prometheus(text)
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()


def cache_counters(samples):
    """(hit_tokens, queried_tokens) from a scrape, each None if the server lacks it."""
    if samples is None:
        return None, None
    _, hit = find_counter(samples, "cache_hit_tokens_total", "cache_hit_tokens")
    _, queried = find_counter(samples, "cache_queried_tokens_total", "cache_queried_tokens")
    return hit, queried
