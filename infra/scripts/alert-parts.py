#!/usr/bin/env python3
"""Print the alert parts that `sam deploy --config-file FILE` gives the stack.

That is the AlertParts parameter of FILE's [default] parameter_overrides, or
the older AlertGroups and AlertShardGroups as "main;shard", the value
template.yaml passes to the alert function as SIGMAWATCH_ALERT_PARTS; nothing
when FILE or the parameters are absent (a first, guided deploy asks for them).
`make verify-alert-parts` checks it against the rules before a deploy, as the
function does at every start.
"""

import shlex
import sys
import tomllib


def overrides(cfg):
    env = cfg.get("default", {})
    for command in ("deploy", "global"):
        value = env.get(command, {}).get("parameters", {}).get("parameter_overrides")
        if value is None:
            continue
        # SAM takes a string of Key=Value pairs (values may be quoted) or a
        # list of such pairs.
        items = value if isinstance(value, list) else shlex.split(value)
        out = {}
        for item in items:
            for pair in shlex.split(item) if isinstance(value, list) else [item]:
                key, sep, val = pair.partition("=")
                if sep:
                    out[key] = val
        return out
    return {}


def main(path):
    try:
        with open(path, "rb") as f:
            cfg = tomllib.load(f)
    except FileNotFoundError:
        return ""
    params = overrides(cfg)
    if params.get("AlertParts"):
        return params["AlertParts"]
    return ";".join(p for p in (params.get("AlertGroups", ""), params.get("AlertShardGroups", "")) if p)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: alert-parts.py SAMCONFIG")
    print(main(sys.argv[1]))
