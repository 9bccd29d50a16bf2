#!/usr/bin/env python3
"""Oracle for grammar-constrained samples: every line of the JSONL file named on the command line is
{"schema": ..., "document": "...", "complete": bool}. A complete document must parse with Python's json
(strictly: no NaN/Infinity, no trailing text) and, when the jsonschema module is installed
(python3-jsonschema), validate against its schema (null schema = json_object mode: any object).
Prints "checked N documents, M validated against their schemas" and exits 1 on the first failure."""
import json
import sys

try:
    import jsonschema
except ImportError:
    jsonschema = None


def reject_constant(name):
    raise ValueError("non-JSON constant " + name)


def main(path):
    checked = validated = 0
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            sample = json.loads(line)
            if not sample["complete"]:
                continue
            doc = sample["document"]
            try:
                value = json.loads(doc, parse_constant=reject_constant)
            except ValueError as e:
                print(f"line {number}: does not parse as JSON ({e}): {doc!r}")
                return 1
            schema = sample["schema"]
            if schema is None:
                if not isinstance(value, dict):
                    print(f"line {number}: json_object mode gave a non-object: {doc!r}")
                    return 1
            elif jsonschema is not None:
                try:
                    jsonschema.validate(value, schema, format_checker=jsonschema.FormatChecker())
                except jsonschema.ValidationError as e:
                    print(f"line {number}: fails its schema ({e.message}): {doc!r}")
                    return 1
                validated += 1
            checked += 1
    print(f"checked {checked} documents, {validated} validated against their schemas"
          + ("" if jsonschema else " (jsonschema not installed: JSON parsing only)"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
