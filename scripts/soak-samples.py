#!/usr/bin/env python3
"""Summarises soak.sh's 10-second samples per minute: the CPU each gateway
and each Redis node used (share of one core), each node's role at the end of
the minute (M master, R replica), and what it did: full resyncs served (+N
sync), an RDB save or AOF rewrite in progress (bgsave, aofrw), a replica's
link to its master down (link down)."""
import collections
import sys

rows = collections.defaultdict(list)  # name -> [(t, fields...)]
for line in open(sys.argv[1]):
    f = line.split()
    if len(f) < 3 or f[2] == "-":
        continue
    rows[f[1]].append(f)
if not rows:
    print("(no samples)")
    sys.exit(0)
t0 = min(int(r[0][0]) for r in rows.values())
gateways = sorted(n for n in rows if n.startswith("gateway"))
nodes = sorted(n for n in rows if not n.startswith("gateway"))


def cpu(f):
    return float(f[2]) if f[1].startswith("gateway") else float(f[2]) + float(f[3])


minutes = collections.defaultdict(dict)
for name, samples in rows.items():
    for prev, cur in zip(samples, samples[1:]):
        dt = int(cur[0]) - int(prev[0])
        if dt <= 0:
            continue
        m = (int(cur[0]) - t0) // 60
        cell = minutes[m].setdefault(name, {"cpu": 0.0, "dt": 0, "notes": set(), "role": ""})
        try:
            c = cpu(cur) - cpu(prev)
        except (ValueError, IndexError):
            continue
        if c < 0:  # the node restarted: its counters began again
            c = cpu(cur)
            cell["notes"].add("restarted")
        cell["cpu"] += c
        cell["dt"] += dt
        if not name.startswith("gateway"):
            role, sync_full, bgsave, aofrw = cur[4], cur[5], cur[6], cur[7]
            link = cur[8] if len(cur) > 8 else ""
            cell["role"] = "M" if role == "master" else "R"
            try:
                d = int(sync_full) - int(prev[5])
                if d > 0:
                    cell["notes"].add(f"+{d} sync")
            except ValueError:
                pass
            if bgsave == "1":
                cell["notes"].add("bgsave")
            if aofrw == "1":
                cell["notes"].add("aofrw")
            if link == "down":
                cell["notes"].add("link down")

print("| minute | " + " | ".join(gateways + [f"redis {n}" for n in nodes]) + " |")
print("|---:|" + "---:|" * len(gateways) + "---|" * len(nodes))
for m in sorted(minutes):
    out = []
    for name in gateways + nodes:
        cell = minutes[m].get(name)
        if not cell or not cell["dt"]:
            out.append("")
            continue
        share = f"{cell['cpu'] / cell['dt']:.2f}"
        if name.startswith("gateway"):
            out.append(share)
        else:
            notes = ", ".join(sorted(cell["notes"]))
            out.append(f"{share} {cell['role']}" + (f" ({notes})" if notes else ""))
    print(f"| {m} | " + " | ".join(out) + " |")
