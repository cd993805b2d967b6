#!/usr/bin/env python3
"""Independent reference of Trailhound's D1 rule: the WHOLE seed-000 Sentinel query
("Suspicious Spike in Failed AWS API Calls by Non-ASIA Access Key"), written step by step
from the KQL on top of shared/spec/kql_ref.py (the Python reference of the Kusto functions).

It deliberately does nothing clever: every cutoff re-runs the full query over every event,
the join is a nested loop, and hunt mode simply runs the query at every cutoff.

Input events: JSON Lines, one object per line:
    {"time": <ns since the Unix epoch> | "<RFC 3339>", "arn": "...", "key": "...",
     "name": "<eventName>", "error": "<errorCode or empty>", "country": "US" | "" | null,
     "id": "<eventID>", "ip": "<sourceIPAddress>", "ua": "<userAgent>"}
Missing string fields are empty.

Usage:
    d1_reference.py EVENTS.jsonl [--params PARAMS.json] [--cutoff T ...] [--hunt] [--every SPAN]
    d1_reference.py --batch MANIFEST.json
T is ns or RFC 3339. --hunt runs the query at every whole hour from the first event's hour + 1h
through the last event's hour + 1h (--every SPAN: every SPAN from the same start to the first
cutoff after the last event) and de-duplicates rows by (series, bin start, evidence bucket).
A manifest is a JSON list of jobs {"events": path, "params": {...}?, "cutoffs": [...]?,
"hunt": bool?, "every": "20m"?}; the output is a JSON list with one row list per job.

Params (JSON object, every field optional; durations as "14d", "8h", "1h30m"):
    critical_api_calls, lookback, window, bin, unauthorized_error_codes, outlier_score_above,
    variance_below, max_minus_min_at_least, z_score_above, ignore_value, iqr_zero ("ieee"|"zero")

Output rows (JSON list): the seed's 11 projected columns under their KQL names, plus
UserIdentityArn, UserIdentityAccessKeyId, TimeGenerated1, the bin's own columns
(SuccessfulEventCount, UnauthorizedEventCount, DistinctSuccessfulEvents,
DistinctUnauthorizedEvents), MinUnauthorized, MaxUnauthorized, Cutoff, and Evidence (the
series' view events in the evidence bucket). Times are ns; non-finite reals are "Infinity",
"-Infinity" or "NaN"; set columns are sorted.

kql_ref.py is found through $TRAILHOUND_KQL_REF (its folder), else in shared/spec beside the
repository (<repo>/../shared/spec), else <repo>/shared/spec.
"""
from __future__ import annotations

import json
import math
import os
import re
import sys


def _find_kql_ref() -> str:
    here = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.normpath(os.path.join(here, "..", "..", "..", ".."))
    candidates = []
    if os.environ.get("TRAILHOUND_KQL_REF"):
        candidates.append(os.environ["TRAILHOUND_KQL_REF"])
    candidates += [os.path.join(repo, "..", "shared", "spec"), os.path.join(repo, "shared", "spec")]
    for c in candidates:
        if os.path.isfile(os.path.join(c, "kql_ref.py")):
            return os.path.abspath(c)
    raise SystemExit("d1_reference.py: kql_ref.py not found in %s" % candidates)


sys.path.insert(0, _find_kql_ref())
import kql_ref as kql  # noqa: E402

NS = 1
SECOND = 1_000_000_000 * NS
HOUR = 3600 * SECOND
_UNITS = {"d": 86400 * SECOND, "h": HOUR, "m": 60 * SECOND, "s": SECOND,
          "ms": 1_000_000, "us": 1_000, "ns": 1}

# The seed's list, copied from the KQL text.
SEED_CRITICAL_API_CALLS = [
    "ConsoleLogin", "StartInstances", "CreateAccessKey", "CreateGroup", "CreateUser",
    "PutGroupPolicy", "AssumeRoleWithWebIdentity", "SendCommand", "CreateLoginProfile",
    "AttachUserPolicy", "GetSessionToken", "RunInstances", "AuthorizeSecurityGroupIngress",
    "AddUserToGroup", "StopLogging", "GetSecretValue", "ListUsers", "AssumeRole", "DeleteTrail",
    "GetPasswordData", "DescribeInstances", "SwitchRole", "DeleteDetector", "CreateSecret",
    "GetCallerIdentity", "DeactivateMFADevice", "PutSecretValue", "ListBuckets", "CreateSnapshot",
    "ModifySnapshotAttribute", "PutBucketVersioning", "ModifyDBSnapshotAttribute", "DeleteObject",
    "GetObject", "DeleteDBInstance", "CopyObject", "DeletePublicAccessBlock", "ListSecrets"]


def parse_span(s: str) -> int:
    total, pos = 0, 0
    for m in re.finditer(r"(\d+)([a-z]+)", s):
        if m.start() != pos or m.group(2) not in _UNITS:
            raise ValueError("bad duration %r" % s)
        total += int(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if pos != len(s) or not s:
        raise ValueError("bad duration %r" % s)
    return total


def parse_time(v) -> int:
    """ns int, or RFC 3339 with up to 9 fractional digits and Z or an offset."""
    if isinstance(v, int):
        return v
    m = re.fullmatch(r"(\d{4})-(\d\d)-(\d\d)[Tt ](\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?"
                     r"(Z|z|[+-]\d\d:\d\d)", v)
    if not m:
        raise ValueError("bad time %r" % v)
    y, mo, d, h, mi, s = (int(m.group(i)) for i in range(1, 7))
    frac = int((m.group(7) or "").ljust(9, "0"))
    import datetime as _dt
    days = (_dt.date(y, mo, d) - _dt.date(1970, 1, 1)).days
    off = 0
    if m.group(8) not in ("Z", "z"):
        sign = 1 if m.group(8)[0] == "+" else -1
        off = sign * (int(m.group(8)[1:3]) * 3600 + int(m.group(8)[4:6]) * 60)
    return ((days * 86400 + h * 3600 + mi * 60 + s - off) * SECOND) + frac


class Params:
    def __init__(self, d: dict | None = None):
        d = dict(d or {})
        self.critical = list(d.pop("critical_api_calls", SEED_CRITICAL_API_CALLS))
        self.lookback = parse_span(d.pop("lookback", "14d"))
        self.window = parse_span(d.pop("window", "8h"))
        self.bin = parse_span(d.pop("bin", "1h"))
        self.codes = list(d.pop("unauthorized_error_codes",
                                ["AccessDenied", "Client.UnauthorizedOperation"]))
        self.outlier = float(d.pop("outlier_score_above", 1.0))
        self.variance = float(d.pop("variance_below", 0.05))
        self.spread = float(d.pop("max_minus_min_at_least", 2.0))
        self.z = float(d.pop("z_score_above", 2.0))
        self.ignore = d.pop("ignore_value", 1.0)
        self.iqr_zero = d.pop("iqr_zero", "ieee")
        if d:
            raise ValueError("unknown params %s" % sorted(d))


def isempty(s) -> bool:
    return s is None or s == ""


def tostring(x) -> str:
    return "" if x is None else str(x)


def extract(regex: str, group: int, s: str):
    """Kusto extract(): the capture group of the first match, or null."""
    m = re.search(regex, s or "")
    return m.group(group) if m else None


def ieee_div(a: float, b: float) -> float:
    if b != 0:
        return a / b
    if a == 0 or math.isnan(a):
        return math.nan
    return math.copysign(math.inf, a) * math.copysign(1.0, b)


def real_json(x: float):
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    return x


def read_events(path: str) -> list[dict]:
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            o = json.loads(line)
            out.append({
                "TimeGenerated": parse_time(o["time"]),
                "EventName": o.get("name") or "",
                "ErrorCode": o.get("error") or "",
                "UserIdentityArn": o.get("arn") or "",
                "UserIdentityAccessKeyId": o.get("key") or "",
                "SourceIpAddress": o.get("ip") or "",
                "Country": o.get("country"),
                "UserAgent": o.get("ua") or "",
                "EventId": o.get("id") or "",
            })
    return out


def run_query(events: list[dict], cutoff: int, P: Params) -> list[dict]:
    """The seed query with now() == cutoff."""
    now = cutoff

    def ago(span):
        return now - span

    lookback, lookbackwindow, bintime = P.lookback, P.window, P.bin

    # let AWSNonASIAKeyFilteringFunction = view () { ... }
    def view():
        out = []
        for e in events:
            # where EventName in (CriticalApiCalls)   (case-sensitive)
            if e["EventName"] not in P.critical:
                continue
            # where isnotempty(UserIdentityAccessKeyId) / isnotempty(UserIdentityArn)
            if isempty(e["UserIdentityAccessKeyId"]) or isempty(e["UserIdentityArn"]):
                continue
            prefix = tostring(extract(r"^([A-Z]{4})", 1, e["UserIdentityAccessKeyId"]))
            if not prefix == "AKIA":
                continue
            r = dict(e)
            r["CountryGeoIP"] = tostring(e["Country"])
            r["SeriesID"] = (e["UserIdentityArn"], e["UserIdentityAccessKeyId"])
            out.append(r)
        return out

    V = view()
    in_lookback = [r for r in V if kql.between(r["TimeGenerated"], ago(lookback), now)]

    # let MultipleCoutryConnections = materialize(... sliding_window_counts ... make_set(SeriesID))
    swc = kql.sliding_window_counts(
        [r for r in in_lookback if not isempty(r["CountryGeoIP"])],
        id_fn=lambda r: r["CountryGeoIP"], time_fn=lambda r: r["TimeGenerated"],
        start=ago(lookback), end=now, lookback=lookbackwindow, bin_size=bintime,
        dims_fn=lambda r: (r["SeriesID"],))
    multiple_country = set()
    for (_timeline, series_id, _count, dcount) in swc:
        connected = True if dcount > 1 else False
        if connected:
            multiple_country.add(series_id)

    def unauthorized(r):
        return r["ErrorCode"] in P.codes

    # make-series ... from ago(lookback) to cutoff step bintime by SeriesID
    ms = kql.make_series(
        in_lookback, axis_fn=lambda r: r["TimeGenerated"], key_fn=lambda r: r["SeriesID"],
        aggs={
            "SuccessfulEventCount": kql.agg_countif(lambda r: isempty(r["ErrorCode"])),
            "UnauthorizedEventCount": kql.agg_countif(unauthorized),
            "DistinctSuccessfulEvents": kql.agg_count_distinctif(
                lambda r: r["EventName"], lambda r: isempty(r["ErrorCode"])),
            "DistinctUnauthorizedEvents": kql.agg_count_distinctif(
                lambda r: r["EventName"], unauthorized),
        },
        start=ago(lookback), end=now, step=bintime)

    left = []
    for series_id, s in ms.items():
        outliers = kql.series_outliers(s["UnauthorizedEventCount"], "tukey", P.ignore,
                                       iqr_zero=P.iqr_zero)
        stats = kql.series_stats(s["DistinctUnauthorizedEvents"])
        mn, mx = float(stats["min"]), float(stats["max"])
        avg, sd, var = float(stats["avg"]), float(stats["stdev"]), float(stats["variance"])
        # mv-expand: zipped expansion of the equal-length arrays
        for i in range(len(s["axis"])):
            row = {
                "SeriesID": series_id,
                "TimeGenerated": s["axis"][i],
                "SuccessfulEventCount": s["SuccessfulEventCount"][i],
                "UnauthorizedEventCount": s["UnauthorizedEventCount"][i],
                "DistinctSuccessfulEvents": s["DistinctSuccessfulEvents"][i],
                "DistinctUnauthorizedEvents": s["DistinctUnauthorizedEvents"][i],
                "TotalUnauthorizedEventsOutliers": float(outliers[i]),
                "MinUnauthorized": mn, "MaxUnauthorized": mx, "AverageUnauthorized": avg,
                "StandardDeviationUnauthorized": sd, "VarianceUnauthorized": var,
            }
            if not row["TotalUnauthorizedEventsOutliers"] > P.outlier:
                continue
            if not row["DistinctUnauthorizedEvents"] > 0:
                continue
            if not row["DistinctUnauthorizedEvents"] >= row["DistinctSuccessfulEvents"]:
                continue
            if not var < P.variance:
                continue
            if not mx >= mn + P.spread:
                continue
            row["ZScore"] = ieee_div(row["DistinctUnauthorizedEvents"] - avg, sd)
            if not row["ZScore"] > P.z:
                continue
            if series_id not in multiple_country:
                continue
            row["BackwardsTimeWindow"] = row["TimeGenerated"] - bintime
            row["ForwardTimeWindow"] = row["TimeGenerated"] + bintime
            left.append(row)

    # right side: summarize ... by bin(TimeGenerated, bintime), SeriesID
    groups: dict = {}
    for r in in_lookback:
        if r["SeriesID"] not in multiple_country:
            continue
        key = (kql.bin_(r["TimeGenerated"], bintime), r["SeriesID"])
        g = groups.setdefault(key, {"ok": set(), "unauth": set(), "arns": set(), "keys": set(),
                                    "events": []})
        if isempty(r["ErrorCode"]):
            g["ok"].add(r["EventName"])
        if unauthorized(r):
            g["unauth"].add(r["EventName"])
        g["arns"].add(r["UserIdentityArn"])
        g["keys"].add(r["UserIdentityAccessKeyId"])
        g["events"].append(r)
    right = []
    for (t, series_id), g in groups.items():
        rr = {
            "TimeGenerated": t, "SeriesID": series_id,
            "DistinctSuccessfulEventSet": sorted(g["ok"]),
            "DistinctUnauthorizedEventSet": sorted(g["unauth"]),
            "DistinctSuccessfulEventSetCount": len(g["ok"]),
            "DistinctUnauthorizedEventSetCount": len(g["unauth"]),
            "UserIdentityARNandKeyID": sorted(g["arns"] | g["keys"]),
            "events": g["events"],
        }
        if rr["DistinctUnauthorizedEventSetCount"] > 0:
            right.append(rr)

    # join kind=inner on SeriesID; the right TimeGenerated becomes TimeGenerated1
    joined = []
    for l in left:
        for r in right:
            if l["SeriesID"] != r["SeriesID"]:
                continue
            t1 = r["TimeGenerated"]
            if not kql.between(t1, l["BackwardsTimeWindow"], l["ForwardTimeWindow"]):
                continue
            if not r["DistinctSuccessfulEventSetCount"] >= l["DistinctSuccessfulEvents"]:
                continue
            if not r["DistinctUnauthorizedEventSetCount"] >= l["DistinctUnauthorizedEvents"]:
                continue
            joined.append((l, r))

    out = []
    for l, r in joined:
        if not kql.between(l["TimeGenerated"], ago(bintime), now):
            continue
        ev = r["events"]
        out.append({
            "TimeGenerated": l["TimeGenerated"],
            "UserIdentityARNandKeyID": r["UserIdentityARNandKeyID"],
            "DistinctSuccessfulEventSet": r["DistinctSuccessfulEventSet"],
            "DistinctUnauthorizedEventSet": r["DistinctUnauthorizedEventSet"],
            "DistinctUnauthorizedEventSetCount": r["DistinctUnauthorizedEventSetCount"],
            "DistinctSuccessfulEventSetCount": r["DistinctSuccessfulEventSetCount"],
            "TotalUnauthorizedEventsOutliers": real_json(l["TotalUnauthorizedEventsOutliers"]),
            "AverageUnauthorized": real_json(l["AverageUnauthorized"]),
            "StandardDeviationUnauthorized": real_json(l["StandardDeviationUnauthorized"]),
            "VarianceUnauthorized": real_json(l["VarianceUnauthorized"]),
            "ZScore": real_json(l["ZScore"]),
            "UserIdentityArn": l["SeriesID"][0],
            "UserIdentityAccessKeyId": l["SeriesID"][1],
            "TimeGenerated1": r["TimeGenerated"],
            "SuccessfulEventCount": l["SuccessfulEventCount"],
            "UnauthorizedEventCount": l["UnauthorizedEventCount"],
            "DistinctSuccessfulEvents": l["DistinctSuccessfulEvents"],
            "DistinctUnauthorizedEvents": l["DistinctUnauthorizedEvents"],
            "MinUnauthorized": real_json(l["MinUnauthorized"]),
            "MaxUnauthorized": real_json(l["MaxUnauthorized"]),
            "Cutoff": cutoff,
            "Evidence": {
                "count": len(ev),
                "first_seen": min(e["TimeGenerated"] for e in ev),
                "last_seen": max(e["TimeGenerated"] for e in ev),
                "event_ids": sorted({e["EventId"] for e in ev if e["EventId"]}),
                "source_ips": sorted({e["SourceIpAddress"] for e in ev if e["SourceIpAddress"]}),
                "countries": sorted({e["CountryGeoIP"] for e in ev if e["CountryGeoIP"]}),
                "user_agents": sorted({e["UserAgent"] for e in ev if e["UserAgent"]}),
                "event_names": sorted({e["EventName"] for e in ev}),
            },
        })
    out.sort(key=lambda o: (o["UserIdentityArn"], o["UserIdentityAccessKeyId"],
                            o["TimeGenerated"], o["TimeGenerated1"]))
    return out


def hunt_cutoffs(events: list[dict], step: int) -> list[int]:
    """Every `step` from the first event's hour + 1h; the last is the first one after the last
    event (for step 1h: the last event's hour + 1h)."""
    if not events:
        return []
    times = [e["TimeGenerated"] for e in events]
    c = kql.bin_(min(times), HOUR) + HOUR
    last = max(times)
    out = [c]
    while c <= last:
        c += step
        out.append(c)
    return out


def run_job(events: list[dict], P: Params, cutoffs: list[int], hunt: bool, every) -> list:
    if hunt:
        cutoffs = hunt_cutoffs(events, parse_span(every) if every else HOUR)
    rows, seen = [], set()
    for c in cutoffs:
        for r in run_query(events, c, P):
            key = (r["UserIdentityArn"], r["UserIdentityAccessKeyId"], r["TimeGenerated"],
                   r["TimeGenerated1"])
            if hunt:
                if key in seen:
                    continue
                seen.add(key)
            rows.append(r)
    return rows


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "--batch":
        with open(argv[1], encoding="utf-8") as f:
            jobs = json.load(f)
        results = []
        for job in jobs:
            results.append(run_job(read_events(job["events"]), Params(job.get("params")),
                                   [parse_time(c) for c in job.get("cutoffs", [])],
                                   bool(job.get("hunt")), job.get("every")))
        json.dump(results, sys.stdout)
        sys.stdout.write("\n")
        return 0
    if not argv or argv[0].startswith("-"):
        print(__doc__, file=sys.stderr)
        return 2
    path, rest = argv[0], argv[1:]
    params, cutoffs, hunt, every = None, [], False, None
    i = 0
    while i < len(rest):
        a = rest[i]
        if a == "--params":
            with open(rest[i + 1], encoding="utf-8") as f:
                params = json.load(f)
            i += 2
        elif a == "--cutoff":
            v = rest[i + 1]
            cutoffs.append(parse_time(int(v) if v.lstrip("-").isdigit() else v))
            i += 2
        elif a == "--hunt":
            hunt = True
            i += 1
        elif a == "--every":
            every = rest[i + 1]
            hunt = True
            i += 2
        else:
            print("unknown argument %r" % a, file=sys.stderr)
            return 2
    json.dump(run_job(read_events(path), Params(params), cutoffs, hunt, every), sys.stdout,
              indent=1)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
