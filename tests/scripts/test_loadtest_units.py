"""Unit tests of scripts/loadtest*.py: statistics, workload generation, loopback guard,
Prometheus parsing and the HTML report. No server needed."""

import contextlib
import io
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))

import loadtest  # noqa: E402
import loadtest_client as client  # noqa: E402
import loadtest_report as report_html  # noqa: E402
import loadtest_stats as stats  # noqa: E402
import loadtest_workloads as workloads  # noqa: E402


def record(send, first, end, tokens, prompt=10, cached=0, error=None, token_times=None):
    if token_times is None and first is not None and tokens:
        step = (end - first) / max(tokens - 1, 1)
        token_times = [first + i * step for i in range(tokens)]
    return {"send": send, "first": first, "end": end, "token_times": token_times or [],
            "prompt_tokens": prompt, "completion_tokens": tokens, "cached_tokens": cached,
            "error": error, "prompt": "p", "text": "t"}


class PercentileTest(unittest.TestCase):
    def test_matches_linear_interpolation(self):
        values = [15, 20, 35, 40, 50]
        self.assertEqual(stats.percentile(values, 0), 15)
        self.assertEqual(stats.percentile(values, 100), 50)
        self.assertEqual(stats.percentile(values, 50), 35)
        self.assertAlmostEqual(stats.percentile(values, 40), 29.0)   # rank 1.6 -> 20 + 0.6*15
        self.assertAlmostEqual(stats.percentile(values, 90), 46.0)   # rank 3.6 -> 40 + 0.6*10

    def test_order_does_not_matter_and_empty_is_none(self):
        self.assertEqual(stats.percentile([3, 1, 2], 50), 2)
        self.assertIsNone(stats.percentile([], 50))
        self.assertEqual(stats.percentile([7], 99), 7)

    def test_describe_drops_none(self):
        d = stats.describe([1.0, None, 3.0])
        self.assertEqual(d["count"], 2)
        self.assertEqual(d["mean"], 2.0)
        self.assertEqual(d["max"], 3.0)
        self.assertIsNone(stats.describe([None])["p50"])


class LatencyTest(unittest.TestCase):
    def test_ttft_tpot_e2e_itl(self):
        r = record(send=10.0, first=10.5, end=12.5, tokens=5, token_times=[10.5, 11.0, 11.5, 12.0, 12.5])
        self.assertAlmostEqual(stats.ttft(r), 0.5)
        self.assertAlmostEqual(stats.e2e(r), 2.5)
        self.assertAlmostEqual(stats.tpot(r), 0.5)       # (12.5 - 10.5) / 4
        self.assertEqual([round(x, 6) for x in stats.inter_token_latencies(r)], [0.5] * 4)

    def test_tpot_needs_two_tokens(self):
        self.assertIsNone(stats.tpot(record(0, 0.1, 0.2, 1)))
        self.assertIsNone(stats.tpot(record(0, None, 0.2, 0)))


class SummaryTest(unittest.TestCase):
    def setUp(self):
        # Two requests over [0, 4] s: 10 + 6 output tokens, 100 + 50 prompt tokens, 80 cached.
        self.recs = [record(0.0, 0.2, 2.0, 10, prompt=100, cached=64),
                     record(1.0, 1.9, 4.0, 6, prompt=50, cached=16),
                     record(2.0, None, 2.5, 0, prompt=None, error="HTTP 503: QUEUE_FULL")]

    def test_throughput_counts_only_successes_over_the_phase(self):
        s = stats.summarize(self.recs)
        self.assertEqual(s["requests"], 3)
        self.assertEqual(s["failed"], 1)
        self.assertAlmostEqual(s["duration_s"], 4.0)
        self.assertAlmostEqual(s["request_throughput"], 0.5)
        self.assertAlmostEqual(s["output_token_throughput"], 4.0)
        self.assertAlmostEqual(s["total_token_throughput"], (16 + 150) / 4.0)
        self.assertAlmostEqual(s["usage_hit_rate"], 80 / 150)
        self.assertAlmostEqual(s["ttft_ms"]["mean"], 550.0)

    def test_goodput_applies_both_limits(self):
        # TTFTs 0.2 s and 0.9 s; TPOTs 0.2 s and 0.42 s.
        s = stats.summarize(self.recs, slo_ttft_s=0.5, slo_tpot_s=None)
        self.assertEqual(s["goodput"]["good_requests"], 1)
        s = stats.summarize(self.recs, slo_ttft_s=1.0, slo_tpot_s=0.3)
        self.assertEqual(s["goodput"]["good_requests"], 1)
        s = stats.summarize(self.recs, slo_ttft_s=1.0, slo_tpot_s=0.5)
        self.assertEqual(s["goodput"]["good_requests"], 2)
        self.assertAlmostEqual(s["goodput"]["fraction"], 2 / 3)
        self.assertAlmostEqual(s["goodput"]["requests_per_s"], 0.5)

    def test_phase_where_everything_failed(self):
        s = stats.summarize([record(0.0, None, 1.0, 0, error="refused")])
        self.assertEqual((s["requests"], s["failed"], s["request_throughput"]), (1, 1, 0.0))
        self.assertEqual(stats.timeline([record(0.0, None, 1.0, 0, error="refused")]), [])

    def test_empty_phase(self):
        s = stats.summarize([])
        self.assertEqual(s["requests"], 0)
        self.assertIsNone(s["ttft_ms"]["mean"])

    def test_timeline_buckets_tokens_per_second(self):
        t = stats.timeline(self.recs, bucket_s=1.0)
        self.assertEqual(sum(b["tokens_per_s"] for b in t), 16)
        self.assertEqual(sum(b["requests_per_s"] for b in t), 2)
        self.assertEqual([b["t_s"] for b in t], list(range(len(t))))

    def test_hit_rate_from_metric_deltas(self):
        before = {"kvactor_prefix_cache_hit_tokens_total": 100.0}
        after = {"kvactor_prefix_cache_hit_tokens_total": 160.0}
        self.assertEqual(stats.metrics_delta(before, after, "kvactor_prefix_cache_hit_tokens_total"), 60.0)
        self.assertIsNone(stats.metrics_delta(before, None, "x"))
        self.assertIsNone(stats.hit_rate(5, 0))


class WorkloadTest(unittest.TestCase):
    def test_shared_prefix_groups_share_exactly_their_system_prompt(self):
        convs = workloads.shared_prefix(groups=3, prompts_per_group=4, system_len=20, question_len=5, seed=7)
        self.assertEqual(len(convs), 12)
        prompts = [c[0] for c in convs]
        self.assertEqual(len(set(prompts)), 12)
        systems = {p.split(" Question: ")[0] for p in prompts}
        self.assertEqual(len(systems), 3)
        for s in systems:
            self.assertEqual(sum(p.startswith(s + " Question: ") for p in prompts), 4)
            self.assertEqual(len(s.split()), 20 + 2)   # "Story N." + 20 words
        questions = [p.split(" Question: ")[1] for p in prompts]
        self.assertTrue(all(len(q.rstrip(".").split()) == 5 for q in questions))

    def test_same_seed_same_prompts_other_seed_differs(self):
        a = workloads.shared_prefix(2, 2, 10, 3, seed=1)
        self.assertEqual(a, workloads.shared_prefix(2, 2, 10, 3, seed=1))
        self.assertNotEqual(a, workloads.shared_prefix(2, 2, 10, 3, seed=2))

    def test_multi_turn_prompts_extend_the_previous_turn(self):
        conv = workloads.multi_turn(1, turns=3, system_len=4, question_len=3, seed=3)[0]
        self.assertEqual(len(conv), 3)
        replies = [" reply one", " reply two"]
        p0 = workloads.prompt_for_turn(conv, replies, 0)
        p1 = workloads.prompt_for_turn(conv, replies, 1)
        p2 = workloads.prompt_for_turn(conv, replies, 2)
        self.assertEqual(p0, conv[0])
        self.assertTrue(p1.startswith(p0 + replies[0]))
        self.assertTrue(p2.startswith(p1 + replies[1]))
        self.assertTrue(p2.endswith(conv[2]))

    def test_fixed_and_random(self):
        fixed = workloads.fixed_prompt(5, 12, seed=1)
        self.assertEqual(len(fixed), 5)
        self.assertEqual(len({c[0] for c in fixed}), 1)
        self.assertEqual(len(workloads.distinct(fixed)), 1)
        rand = workloads.random_prompts(50, 20, seed=1)
        lengths = [len(c[0].split()) for c in rand]
        self.assertTrue(all(10 <= n <= 20 for n in lengths))
        self.assertGreater(len(set(lengths)), 3)

    def test_build_from_arguments(self):
        args = loadtest.parse_args(["--workload", "multi-turn", "--conversations", "2", "--turns", "4"])
        convs = workloads.build(args)
        self.assertEqual([len(c) for c in convs], [4, 4])


class LoopbackGuardTest(unittest.TestCase):
    def test_accepts_loopback(self):
        self.assertEqual(client.loopback_target("http://127.0.0.1:8000"), ("127.0.0.1", 8000))
        self.assertEqual(client.loopback_target("http://127.5.6.7:9/x"), ("127.5.6.7", 9))
        self.assertEqual(client.loopback_target("http://localhost:8000"), ("127.0.0.1", 8000))
        self.assertEqual(client.loopback_target("http://[::1]:8000"), ("::1", 8000))
        self.assertEqual(client.loopback_target("http://127.0.0.1"), ("127.0.0.1", 80))

    def test_refuses_everything_else(self):
        for url in ("http://10.0.0.1:8000", "http://192.168.1.2", "http://8.8.8.8", "http://example.com",
                    "http://localhost.example.com", "http://[::2]:80", "https://127.0.0.1",
                    "http://0.0.0.0:8000", "http://[::ffff:10.0.0.1]", "http://", "http://127.0.0.1:99999"):
            with self.assertRaises(client.TargetRefused, msg=url):
                client.loopback_target(url)

    def test_main_exits_2_without_sending(self):
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            self.assertEqual(loadtest.main(["--url", "http://10.1.2.3:8000", "--quiet"]), 2)
        self.assertIn("refusing non-loopback address 10.1.2.3", err.getvalue())


class ArgumentTest(unittest.TestCase):
    def test_bad_values_are_usage_errors(self):
        for argv in (["--concurrency", "0"], ["--concurrency", "a,b"], ["--rate", "0"],
                     ["--max-requests", "0"], ["--workload", "nope"], ["--max-duration", "-1"],
                     ["--request-timeout", "inf"], ["--max-duration", "inf"], ["--rate", "nan"]):
            with self.assertRaises(SystemExit, msg=argv) as ctx, \
                    contextlib.redirect_stderr(io.StringIO()):
                loadtest.parse_args(argv)
            self.assertEqual(ctx.exception.code, 2)

    def test_concurrency_list(self):
        self.assertEqual(loadtest.parse_args(["--concurrency", "1,2,4,8,16"]).concurrency, [1, 2, 4, 8, 16])


class PrometheusTest(unittest.TestCase):
    TEXT = """# HELP kvactor_prefix_cache_hit_tokens_total x
# TYPE kvactor_prefix_cache_hit_tokens_total counter
kvactor_prefix_cache_hit_tokens_total 800
kvactor_prefix_cache_queried_tokens_total 1200
kvactor_requests_total{outcome="finished"} 10
kvactor_time_to_first_token_seconds_bucket{le="+Inf"} 4
kvactor_time_to_first_token_seconds_sum 0.25
"""

    def test_parse_and_find(self):
        samples = client.parse_prometheus(self.TEXT)
        self.assertEqual(samples['kvactor_requests_total{outcome="finished"}'], 10.0)
        self.assertEqual(samples['kvactor_time_to_first_token_seconds_bucket{le="+Inf"}'], 4.0)
        self.assertEqual(client.cache_counters(samples), (800.0, 1200.0))
        self.assertEqual(client.cache_counters({}), (None, None))
        self.assertEqual(client.cache_counters(None), (None, None))


class VerifyAndReportTest(unittest.TestCase):
    def test_verify_flags_mismatch_and_unverified(self):
        recs = [dict(record(0, 0.1, 1, 3), prompt="a", text="x"),
                dict(record(0, 0.1, 1, 3), prompt="b", text="WRONG"),
                dict(record(0, 0.1, 1, 3), prompt="c", text="z"),
                dict(record(0, None, 1, 0), prompt="a", text="", error="boom")]
        out = loadtest.verify(recs, {"a": "x", "b": "y"})
        self.assertEqual(out["checked"], 2)
        self.assertEqual(out["unverified"], 1)
        self.assertEqual([m["prompt"] for m in out["mismatches"]], ["b"])

    def test_html_is_self_contained_with_svg(self):
        recs = [record(0.0, 0.2, 2.0, 10), record(1.0, 1.5, 3.0, 8)]
        phase = {"label": "concurrency 2", "concurrency": 2, "summary": stats.summarize(recs),
                 "metrics_hit_rate": 0.5, "timeline": stats.timeline(recs)}
        report = {"ok": True, "started": "now", "phases": [phase],
                  "config": {"url": "http://127.0.0.1:1", "workload": "fixed", "arrival": "sweep",
                             "slo_ttft_ms": None, "slo_tpot_ms": None},
                  "correctness": {"checked": 2, "unverified": 0, "mismatches": []}, "errors": []}
        page = report_html.render(report)
        self.assertIn("<svg", page)
        self.assertIn("polyline", page)
        self.assertIn("PASS", page)
        self.assertIn("50.0%", page)
        self.assertNotIn("<script", page)
        self.assertNotIn("src=", page)
        self.assertNotIn("href=", page)


if __name__ == "__main__":
    unittest.main()
