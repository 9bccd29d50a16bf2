"""Self-contained HTML report of a load-test run: tables plus inline SVG charts (no scripts,
no external files), so the report can be attached or opened anywhere."""

import html
import json
import math

COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2"]


def _fmt(v, digits=1):
    if v is None:
        return "–"
    if isinstance(v, float):
        return ("%." + str(digits) + "f") % v
    return str(v)


def _nice_max(v):
    """Smallest of 1, 2, 2.5, 5 x 10^k that is >= v: a round top for the y axis."""
    if not v or v <= 0:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(v))
    for step in (1, 2, 2.5, 5, 10):
        if step * magnitude >= v:
            return step * magnitude
    return 10 * magnitude


def line_chart(title, series, x_label, y_label, width=560, height=260, log2_x=False):
    """series: [(name, [(x, y), ...])]. Points with y None are skipped. log2_x spaces x
    (concurrency 1, 2, 4, ...) evenly while labelling the original values."""
    if log2_x:
        series = [(name, [(math.log2(x), y) for x, y in pts if x > 0]) for name, pts in series]
    pad_l, pad_r, pad_t, pad_b = 56, 12, 28, 40
    xs = [x for _, pts in series for x, y in pts if y is not None]
    ys = [y for _, pts in series for x, y in pts if y is not None]
    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" class="chart">'
           % (width, height),
           '<text x="%d" y="16" font-size="13" font-weight="bold">%s</text>'
           % (pad_l, html.escape(title))]
    if not xs:
        out.append('<text x="%d" y="%d" font-size="12">no data</text></svg>' % (pad_l, height // 2))
        return "".join(out)
    x0, x1 = min(xs), max(xs)
    if x1 == x0:
        x1 = x0 + 1
    y1 = _nice_max(max(ys))
    plot_w, plot_h = width - pad_l - pad_r, height - pad_t - pad_b

    def px(x):
        return pad_l + (x - x0) / (x1 - x0) * plot_w

    def py(y):
        return pad_t + plot_h - (y / y1) * plot_h

    for i in range(5):
        yv = y1 * i / 4
        out.append('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#ddd"/>'
                   % (pad_l, width - pad_r, py(yv), py(yv)))
        out.append('<text x="%d" y="%.1f" font-size="10" text-anchor="end">%s</text>'
                   % (pad_l - 4, py(yv) + 3, _fmt(yv, 1 if y1 < 10 else 0)))
    for xv in sorted(set(xs))[:: max(1, len(set(xs)) // 8)]:
        shown = 2 ** xv if log2_x else xv
        out.append('<text x="%.1f" y="%d" font-size="10" text-anchor="middle">%s</text>'
                   % (px(xv), height - pad_b + 14, _fmt(shown, 0 if float(shown).is_integer() else 1)))
    out.append('<text x="%d" y="%d" font-size="11" text-anchor="middle">%s</text>'
               % (pad_l + plot_w // 2, height - 6, html.escape(x_label)))
    out.append('<text x="12" y="%d" font-size="11" transform="rotate(-90 12 %d)" '
               'text-anchor="middle">%s</text>' % (pad_t + plot_h // 2, pad_t + plot_h // 2,
                                                    html.escape(y_label)))
    for i, (name, pts) in enumerate(series):
        colour = COLOURS[i % len(COLOURS)]
        good = [(x, y) for x, y in pts if y is not None]
        if not good:
            continue
        path = " ".join("%.1f,%.1f" % (px(x), py(y)) for x, y in good)
        out.append('<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>'
                   % (colour, path))
        for x, y in good:
            out.append('<circle cx="%.1f" cy="%.1f" r="2.5" fill="%s"/>' % (px(x), py(y), colour))
        out.append('<text x="%d" y="%d" font-size="11" fill="%s">%s</text>'
                   % (width - pad_r - 150, pad_t + 12 + 13 * i, colour, html.escape(name)))
    out.append("</svg>")
    return "".join(out)


def _phase_x(phase, index):
    return phase.get("concurrency") or phase.get("rate") or index + 1


def render(report):
    phases = report["phases"]
    sweep = report["config"]["arrival"] == "sweep"
    x_label = "concurrency (log scale)" if sweep else "phase"
    rows = []
    for p in phases:
        s = p["summary"]
        rows.append(
            "<tr><td>%s</td><td>%d</td><td>%d</td><td>%s</td><td>%s</td><td>%s</td>"
            "<td>%s / %s / %s</td><td>%s / %s / %s</td><td>%s / %s</td><td>%s / %s / %s</td>"
            "<td>%s</td><td>%s</td><td>%s</td></tr>" % (
                html.escape(p["label"]), s["requests"], s["failed"],
                _fmt(s["request_throughput"], 2), _fmt(s["output_token_throughput"]),
                _fmt(s["total_token_throughput"]),
                _fmt(s["ttft_ms"]["mean"]), _fmt(s["ttft_ms"]["p50"]), _fmt(s["ttft_ms"]["p99"]),
                _fmt(s["tpot_ms"]["mean"], 2), _fmt(s["tpot_ms"]["p50"], 2),
                _fmt(s["tpot_ms"]["p99"], 2),
                _fmt(s["itl_ms"]["p50"], 2), _fmt(s["itl_ms"]["p99"], 2),
                _fmt(s["e2e_ms"]["mean"]), _fmt(s["e2e_ms"]["p50"]), _fmt(s["e2e_ms"]["p99"]),
                _pct(s["usage_hit_rate"]), _pct(p.get("metrics_hit_rate")),
                _fmt(s["goodput"]["requests_per_s"], 2)))
    charts = [
        line_chart("Throughput", [
            ("output tokens/s", [(_phase_x(p, i), p["summary"]["output_token_throughput"])
                                 for i, p in enumerate(phases)]),
            ("requests/s ×10", [(_phase_x(p, i), p["summary"]["request_throughput"] * 10)
                                for i, p in enumerate(phases)])], x_label, "per second", log2_x=sweep),
        line_chart("Latency (ms)", [
            ("TTFT p50", [(_phase_x(p, i), p["summary"]["ttft_ms"]["p50"]) for i, p in enumerate(phases)]),
            ("TTFT p99", [(_phase_x(p, i), p["summary"]["ttft_ms"]["p99"]) for i, p in enumerate(phases)]),
            ("E2E p50", [(_phase_x(p, i), p["summary"]["e2e_ms"]["p50"]) for i, p in enumerate(phases)]),
            ("E2E p99", [(_phase_x(p, i), p["summary"]["e2e_ms"]["p99"]) for i, p in enumerate(phases)]),
        ], x_label, "ms", log2_x=sweep),
        line_chart("Output tokens/s over time", [
            (p["label"], [(t["t_s"], t["tokens_per_s"]) for t in p["timeline"]]) for p in phases],
            "seconds since phase start", "tokens/s"),
    ]
    corr = report["correctness"]
    mismatch_rows = "".join(
        "<tr><td><pre>%s</pre></td><td><pre>%s</pre></td><td><pre>%s</pre></td></tr>" % (
            html.escape(m["prompt"][-120:]), html.escape(m["expected"][:200]),
            html.escape(m["got"][:200])) for m in corr["mismatches"][:20])
    errors = "".join("<li>%s</li>" % html.escape(e) for e in report["errors"][:20])
    verdict = "PASS" if report["ok"] else "FAIL"
    return """<!doctype html>
<html><head><meta charset="utf-8"><title>kvactor load test — %(verdict)s</title>
<style>
body{font-family:system-ui,sans-serif;margin:24px;color:#222}
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}
th{background:#f3f3f3}td:first-child{text-align:left}.PASS{color:#2a7a2a}.FAIL{color:#b00}
.charts svg{margin:8px 16px 8px 0;border:1px solid #eee}pre{margin:0;white-space:pre-wrap;text-align:left}
</style></head><body>
<h1>kvactor load test: <span class="%(verdict)s" id="verdict">%(verdict)s</span></h1>
<p>target %(url)s · workload <b>%(workload)s</b> · arrival <b>%(arrival)s</b> · started %(started)s</p>
<p>correctness: %(checked)d responses compared with the same prompt sent alone,
<b>%(mismatches)d mismatches</b>, %(unverified)d unverified; %(nerrors)d request errors.</p>
<h2>Phases</h2>
<table><tr><th>phase</th><th>req</th><th>fail</th><th>req/s</th><th>out tok/s</th><th>all tok/s</th>
<th>TTFT ms mean/p50/p99</th><th>TPOT ms mean/p50/p99</th><th>ITL ms p50/p99</th>
<th>E2E ms mean/p50/p99</th><th>hit rate (usage)</th><th>hit rate (metrics Δ)</th><th>goodput req/s</th></tr>
%(rows)s</table>
<p>Goodput limits: TTFT ≤ %(slo_ttft)s ms, TPOT ≤ %(slo_tpot)s ms (none = no limit).</p>
<div class="charts">%(charts)s</div>
<h2>Mismatches</h2>%(mismatch_table)s
<h2>Errors</h2><ul>%(errors)s</ul>
<details><summary>Raw JSON</summary><pre>%(raw)s</pre></details>
</body></html>
""" % {
        "verdict": verdict, "url": html.escape(report["config"]["url"]),
        "workload": html.escape(report["config"]["workload"]),
        "arrival": html.escape(report["config"]["arrival"]), "started": html.escape(report["started"]),
        "checked": corr["checked"], "mismatches": len(corr["mismatches"]),
        "unverified": corr["unverified"], "nerrors": len(report["errors"]),
        "rows": "".join(rows), "charts": "".join(charts),
        "slo_ttft": _fmt(report["config"]["slo_ttft_ms"]), "slo_tpot": _fmt(report["config"]["slo_tpot_ms"]),
        "mismatch_table": ("<table><tr><th>prompt (end)</th><th>alone</th><th>under load</th></tr>%s</table>"
                           % mismatch_rows) if mismatch_rows else "<p>none</p>",
        "errors": errors or "<li>none</li>",
        "raw": html.escape(json.dumps({k: v for k, v in report.items() if k != "records"}, indent=1)[:200000]),
    }


def _pct(v):
    return "–" if v is None else "%.1f%%" % (v * 100.0)
