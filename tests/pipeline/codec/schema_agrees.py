#!/usr/bin/env python3
"""Checks that docs/detection.schema.json gives the decoder's verdicts.

usage: schema_agrees.py SCHEMA DECODER_VERDICTS VECTORS

Runs DECODER_VERDICTS (tests/pipeline/codec/decoder_verdicts.cpp) on the
VECTORS file (decoder_vectors.txt), then validates each vector's record as a
JSON validator would: the bytes must be UTF-8 and strict JSON (no NaN or
Infinity, no byte order mark, nothing after the value), then the schema.
For each vector:
  - the decoder's verdict is the file's (accept, or the refusal reason);
  - marked `same`: the schema accepts exactly when the decoder does;
  - marked `differs`: the schema gives the other verdict (what decides it
    is beyond JSON Schema; docs/input-format.md lists those cases).
Exits 1 listing every vector that fails, 77 (skipped) without the Python
module jsonschema (Debian: python3-jsonschema).
"""

import json
import subprocess
import sys

try:
    import jsonschema
except ImportError:
    print("skipped: the Python module jsonschema is missing "
          "(Debian: python3-jsonschema)")
    sys.exit(77)


def not_json(literal):
    raise ValueError(f"{literal} is not JSON")


def schema_verdict(validator, record):
    """'accept' or why the record is refused."""
    try:
        text = record.decode("utf-8")
        value = json.loads(text, parse_constant=not_json)
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        return f"refuse (not JSON: {e})"
    error = jsonschema.exceptions.best_match(validator.iter_errors(value))
    if error is None:
        return "accept"
    where = "/".join(str(p) for p in error.absolute_path)
    return f"refuse ({where or 'record'}: {error.message[:160]})"


def main():
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    schema_path, tool, vectors = sys.argv[1:]
    with open(schema_path, encoding="utf-8") as f:
        schema = json.load(f)
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    validator = validator_class(schema)
    out = subprocess.run([tool, vectors], check=True, capture_output=True,
                         text=True).stdout
    failures = []
    counts = {"same": 0, "differs": 0}
    for line in out.splitlines():
        v = json.loads(line)
        counts[v["schema"]] += 1
        where = f"{vectors}:{v['line']}: {v['name']}"
        decoder = v["decoder"]
        if decoder != v["expect"]:
            failures.append(f"{where}: the decoder says {decoder} "
                            f"({v['detail']}), the file {v['expect']}")
            continue
        schema_says = schema_verdict(validator, bytes.fromhex(v["record"]))
        accepted = decoder == "accept"
        schema_accepted = schema_says == "accept"
        if v["schema"] == "same" and schema_accepted != accepted:
            failures.append(f"{where}: the decoder says {decoder}, "
                            f"the schema {schema_says}")
        if v["schema"] == "differs" and schema_accepted == accepted:
            failures.append(f"{where}: marked differs, but the schema "
                            f"agrees with the decoder ({decoder}): "
                            "mark it same")
    for f in failures:
        print(f)
    print(f"{counts['same']} vectors with the same verdict, "
          f"{counts['differs']} where the schema cannot see what decides; "
          f"{len(failures)} failed ({validator_class.__name__}, "
          f"jsonschema from {jsonschema.__file__})")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
