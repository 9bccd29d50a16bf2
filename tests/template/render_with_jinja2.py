#!/usr/bin/env python3
"""Oracle for the Jinja engine: renders every template with Python's jinja2 exactly as Hugging Face
transformers does (ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks, loopcontrols, its tojson,
raise_exception, strftime_now and the {% generation %} block), for every case of a conversations file.

usage: render_with_jinja2.py TEMPLATES_DIR CASES_JSON [SNIPPETS_JSON]
prints one JSON object: {"jinja2": version, "templates": {file: {"parse_error": msg} |
                                                               {"cases": {case: {"output": s} | {"error": msg}}}},
                         "snippets": [{"output": s} | {"error": msg} | {"parse_error": msg}, ...]}
SNIPPETS_JSON is a list of {"template": source, "context": {...}} (the language tests).
strftime_now uses the ISO date-time in KVACTOR_TEMPLATE_NOW when set.
"""
import json
import os
import sys
from datetime import datetime

import jinja2
from jinja2 import nodes
from jinja2.ext import Extension
from jinja2.sandbox import ImmutableSandboxedEnvironment


class GenerationBlock(Extension):
    """transformers' AssistantTracker without tracking: {% generation %}...{% endgeneration %} renders its body."""

    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return nodes.CallBlock(self.call_method("_render", []), [], [], body).set_lineno(lineno)

    def _render(self, caller):
        return caller()


def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def strftime_now(fmt):
    fixed = os.environ.get("KVACTOR_TEMPLATE_NOW")
    now = datetime.fromisoformat(fixed) if fixed else datetime.now()
    return now.strftime(fmt)


def environment():
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                       extensions=[GenerationBlock, jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


def main():
    templates_dir, cases_path = sys.argv[1], sys.argv[2]
    with open(cases_path, encoding="utf-8") as f:
        cases = json.load(f)
    env = environment()
    result = {}
    for name in sorted(os.listdir(templates_dir)):
        if not name.endswith(".jinja"):
            continue
        with open(os.path.join(templates_dir, name), encoding="utf-8") as f:
            source = f.read()
        try:
            template = env.from_string(source)
        except Exception as e:  # noqa: BLE001 - any compile failure is the oracle's answer
            result[name] = {"parse_error": f"{type(e).__name__}: {e}"}
            continue
        rendered = {}
        for case in cases:
            try:
                rendered[case["name"]] = {"output": template.render(**case["context"])}
            except Exception as e:  # noqa: BLE001
                rendered[case["name"]] = {"error": f"{type(e).__name__}: {e}"}
        result[name] = {"cases": rendered}
    snippets = []
    if len(sys.argv) > 3:
        with open(sys.argv[3], encoding="utf-8") as f:
            for snippet in json.load(f):
                try:
                    template = env.from_string(snippet["template"])
                except Exception as e:  # noqa: BLE001
                    snippets.append({"parse_error": f"{type(e).__name__}: {e}"})
                    continue
                try:
                    snippets.append({"output": template.render(**snippet["context"])})
                except Exception as e:  # noqa: BLE001
                    snippets.append({"error": f"{type(e).__name__}: {e}"})
    json.dump({"jinja2": jinja2.__version__, "templates": result, "snippets": snippets}, sys.stdout,
              ensure_ascii=False)


if __name__ == "__main__":
    main()
