"""Validates OCSF Detection Findings (JSON Lines on standard input) against OCSF 1.5.0 as
published in py-ocsf-models: each line must parse as a DetectionFinding (required attributes,
types, enumerated ids) and use no attribute the schema lacks (pydantic ignores unknown ones, so
they are checked here, except under `unmapped`, OCSF's place for what has no attribute).
Prints one line per finding in error and exits 1 if any; prints "ok N" otherwise."""

import json
import sys
import typing

from pydantic import BaseModel
from py_ocsf_models.events.findings.detection_finding import DetectionFinding


def models_in(annotation):
    """The pydantic models an annotation names (through Optional, List, Union)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    out = []
    for arg in typing.get_args(annotation):
        out.extend(models_in(arg))
    return out


def unknown(value, model, path):
    """The paths of attributes of `value` that `model` does not define."""
    found = []
    if isinstance(value, list):
        for i, v in enumerate(value):
            found.extend(unknown(v, model, f"{path}[{i}]"))
        return found
    if not isinstance(value, dict):
        return found
    fields = model.model_fields
    for key, v in value.items():
        where = f"{path}.{key}" if path else key
        if key not in fields:
            found.append(where)
            continue
        if key == "unmapped":
            continue
        for m in models_in(fields[key].annotation):
            found.extend(unknown(v, m, where))
            break
    return found


def main():
    errors = 0
    n = 0
    for number, line in enumerate(sys.stdin, 1):
        if not line.strip():
            continue
        n += 1
        doc = json.loads(line)
        try:
            DetectionFinding.model_validate(doc)
        except Exception as e:  # pydantic's ValidationError, with every problem listed
            errors += 1
            print(f"line {number}: {e}")
            continue
        extra = unknown(doc, DetectionFinding, "")
        if extra:
            errors += 1
            print(f"line {number}: attributes not in OCSF: {', '.join(extra)}")
        if doc.get("class_uid") != 2004 or doc.get("type_uid") != 200401:
            errors += 1
            print(f"line {number}: not a Detection Finding (class 2004, type 200401)")
    if errors or n == 0:
        print(f"{errors} of {n} findings invalid")
        sys.exit(1)
    print(f"ok {n}")


main()
