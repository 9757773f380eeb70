"""Parses a Prometheus text exposition with prometheus_client's parser and checks it.

usage: check_prometheus.py FILE NAME=VALUE...
Exit 0: the file parses; every NAME=VALUE sample is present with that value; every histogram's
buckets are cumulative, end with le="+Inf" and agree with _count. Exit 1 with a message
otherwise; exit 77 when prometheus_client is missing (the caller skips).
"""
import math
import sys

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:
    print("prometheus_client is not installed (Debian: python3-prometheus-client)")
    sys.exit(77)


def main():
    text = open(sys.argv[1]).read()
    samples = {}
    families = list(text_string_to_metric_families(text))
    if not families:
        print("no metric families")
        return 1
    for fam in families:
        if fam.type == "histogram":
            buckets = [s for s in fam.samples if s.name.endswith("_bucket")]
            count = [s for s in fam.samples if s.name.endswith("_count")]
            if not buckets or len(count) != 1:
                print(f"{fam.name}: missing buckets or _count")
                return 1
            les = [float(s.labels["le"]) for s in buckets]
            if les != sorted(les) or not math.isinf(les[-1]):
                print(f"{fam.name}: bucket bounds not ascending to +Inf: {les}")
                return 1
            values = [s.value for s in buckets]
            if values != sorted(values):
                print(f"{fam.name}: buckets not cumulative: {values}")
                return 1
            if values[-1] != count[0].value:
                print(f"{fam.name}: +Inf bucket {values[-1]} != _count {count[0].value}")
                return 1
        for s in fam.samples:
            samples[s.name] = s.value
    for want in sys.argv[2:]:
        name, value = want.split("=")
        if name not in samples:
            print(f"{name}: missing")
            return 1
        if samples[name] != float(value):
            print(f"{name}: {samples[name]} != {value}")
            return 1
    print(f"ok: {len(families)} families")
    return 0


sys.exit(main())
