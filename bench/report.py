#!/usr/bin/python3
"""report.py RAW OUT: turn bench/run.sh's raw measurements into its report.

Reads RAW (hyperfine's --export-json files KEY.RUNTIME.json, KEY.RUNTIME.failed for a
benchmark a runtime failed, rss-*.json, binary.*.json, meta.json, end.json) and writes
to OUT: latest.json (everything, times in seconds), latest.md (a table to paste into
docs/performance.md), latest.png (the chart, drawn by gnuplot). Prints the table.

Standard library only, so that Debian's python3 is enough.
"""

import json
import os
import shutil
import statistics
import subprocess
import sys

RUNTIMES = ["hull", "runc", "crun"]
BASELINE = "crun"
COLORS = {"hull": "#d95f02", "runc": "#1f78b4", "crun": "#33a02c"}


def load(path):
    with open(path) as f:
        return json.load(f)


def read_failure(raw, key, rt):
    path = os.path.join(raw, f"{key}.{rt}.failed")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return f.read().strip() or "failed"


def timing_rows(meta):
    """(key, label) of every timed benchmark, in the order of the table."""
    rows = [
        ("run", "run /bin/true, new netns"),
        ("run-nonet", "run /bin/true, no netns"),
        ("create", "create"),
        ("start", "start"),
        ("delete", "delete (stopped)"),
        ("exec", "exec true"),
    ]
    for n in meta["scale_levels"]:
        rows.append((f"list-{n}", f"list, {containers(n)}"))
    for n in meta["scale_levels"]:
        rows.append((f"state-{n}", f"state, {containers(n)}"))
    rows.append(("parallel", f"{meta['parallel']} runs at once, wall"))
    return rows


def containers(n):
    return f"{n} container" + ("" if n == 1 else "s")


def collect(raw):
    meta = load(os.path.join(raw, "meta.json"))
    end_path = os.path.join(raw, "end.json")
    end = load(end_path) if os.path.exists(end_path) else {}
    benchmarks = []
    for key, label in timing_rows(meta):
        entry = {"key": key, "label": label, "unit": "s", "results": {}, "failed": {}}
        for rt in RUNTIMES:
            path = os.path.join(raw, f"{key}.{rt}.json")
            if os.path.exists(path):
                r = load(path)["results"][0]
                entry["results"][rt] = {
                    "mean": r["mean"],
                    "stddev": r.get("stddev") or 0.0,
                    "median": r["median"],
                    "min": r["min"],
                    "max": r["max"],
                    "user": r["user"],
                    "system": r["system"],
                    "runs": len(r["times"]),
                }
            else:
                entry["failed"][rt] = read_failure(raw, key, rt) or "not measured"
        entry["ratio_to_crun"] = ratios({rt: v["mean"] for rt, v in entry["results"].items()})
        benchmarks.append(entry)

    memory = []
    for key, label in [("rss-create", "peak RSS of create"), ("rss-exec", "peak RSS of exec")]:
        entry = {"key": key, "label": label, "unit": "KiB", "results": {}, "failed": {}}
        for rt in RUNTIMES:
            path = os.path.join(raw, f"{key}.{rt}.json")
            if os.path.exists(path):
                kib = load(path)["kib"]
                entry["results"][rt] = {
                    "median": statistics.median(kib),
                    "min": min(kib),
                    "max": max(kib),
                    "runs": len(kib),
                }
            else:
                entry["failed"][rt] = read_failure(raw, key, rt) or "not measured"
        entry["ratio_to_crun"] = ratios({rt: v["median"] for rt, v in entry["results"].items()})
        memory.append(entry)

    binaries = {}
    for rt in RUNTIMES:
        path = os.path.join(raw, f"binary.{rt}.json")
        if os.path.exists(path):
            binaries[rt] = load(path)
    size = {
        "key": "binary-size",
        "label": "binary size",
        "unit": "bytes",
        "results": {rt: {"size": b["size_bytes"]} for rt, b in binaries.items()},
        "failed": {},
        "ratio_to_crun": ratios({rt: b["size_bytes"] for rt, b in binaries.items()}),
    }
    return {
        "meta": meta,
        "end": end,
        "benchmarks": benchmarks,
        "memory": memory,
        "binary_size": size,
        "binaries": binaries,
    }


def ratios(values):
    base = values.get(BASELINE)
    if not base:
        return {}
    return {rt: v / base for rt, v in values.items()}


# --- the table ---------------------------------------------------------------------


def time_unit(entry):
    means = [v["mean"] for v in entry["results"].values()]
    return ("s", 1.0) if means and max(means) >= 1.0 else ("ms", 1000.0)


def fmt_num(x):
    if x >= 100:
        return f"{x:.0f}"
    if x >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def table_rows(report):
    """Rows of strings: benchmark, one cell per runtime, then each ratio to crun."""
    rows = []
    for e in report["benchmarks"]:
        unit, f = time_unit(e)
        cells = []
        for rt in RUNTIMES:
            if rt in e["results"]:
                v = e["results"][rt]
                cells.append(f"{fmt_num(v['mean'] * f)} ± {fmt_num(v['stddev'] * f)}")
            else:
                cells.append("failed")
        rows.append([f"{e['label']} ({unit})", *cells, *ratio_cells(e)])
    for e in report["memory"]:
        cells = []
        for rt in RUNTIMES:
            v = e["results"].get(rt)
            cells.append(f"{v['median'] / 1024:.1f}" if v else "failed")
        rows.append([f"{e['label']} (MiB, median)", *cells, *ratio_cells(e)])
    e = report["binary_size"]
    cells = [
        f"{e['results'][rt]['size'] / 2**20:.1f}" if rt in e["results"] else "?" for rt in RUNTIMES
    ]
    rows.append([f"{e['label']} (MiB)", *cells, *ratio_cells(e)])
    return rows


def ratio_cells(entry):
    r = entry["ratio_to_crun"]
    return [f"{r[rt]:.2f}×" if rt in r else "–" for rt in RUNTIMES if rt != BASELINE]


HEADER = ["benchmark", *RUNTIMES, *[f"{rt} ÷ {BASELINE}" for rt in RUNTIMES if rt != BASELINE]]


def text_table(rows):
    widths = [max(len(r[i]) for r in [HEADER, *rows]) for i in range(len(HEADER))]

    def line(r):
        return "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))
        )

    return "\n".join([line(HEADER), "  ".join("-" * w for w in widths), *map(line, rows)])


def markdown(report, rows):
    m = report["meta"]
    b = report["binaries"]
    versions = ", ".join(
        f"{rt} {b[rt]['version']}" + (f" ({m['hull_commit']})" if rt == "hull" else "")
        for rt in RUNTIMES
        if rt in b
    )
    out = [
        "<!-- generated by bench/run.sh; raw numbers in bench/results/latest.json -->",
        f"Run of {m['date']}{' (QUICK RUN: few runs, not for publishing)' if m['quick'] else ''}.",
        "",
        f"- Machine: {m['cores']} cores ({m['cpu']}), {m['memory']} memory, {m['os']}, "
        f"kernel {m['kernel']}; cgroups: {m['cgroups']}.",
        f"- CPU busy (all cores): {m['cpu_busy_pct_before']}% in the 3 s before measuring, "
        f"{report['end'].get('cpu_busy_pct_during', '?')}% during the measurements, of which "
        f"the benchmark's own processes {report['end'].get('cpu_own_pct_during', '?')}% "
        f"(the rest is other work on the machine and the kernel's own threads).",
        f"- Runtimes: {versions}; hyperfine {m['hyperfine']}, {m['runs']} runs after "
        f"{m['warmup']} warm-up runs each ({m['parallel']} runs at once: "
        f"{m['parallel_runs']} runs after 1); peak RSS: median of {m['rss_runs']}.",
        "",
        "| " + " | ".join(HEADER) + " |",
        "|" + "|".join([":---", *["---:"] * (len(HEADER) - 1)]) + "|",
    ]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    out.append("")
    out.append("Times are mean ± standard deviation; the last columns divide a runtime's mean "
               "(median for memory) by crun's: below 1 is faster or smaller than crun.")
    libs = []
    for rt in RUNTIMES:
        if rt in b:
            shared = b[rt]["shared_libs"]
            libs.append(f"{rt}: {', '.join(shared)}" if shared else f"{rt}: none (static)")
    out.append("Binary sizes are of the executable file alone; the shared libraries it loads "
               "(`ldd`, with their own dependencies) are " + "; ".join(libs) + ".")
    failures = [
        f"{e['label']}: {rt}: {msg.splitlines()[-1]}"
        for e in [*report["benchmarks"], *report["memory"]]
        for rt, msg in e["failed"].items()
    ]
    if failures:
        out.append("")
        out.append("Failed or not measured: " + "; ".join(failures) + ".")
    left = report["end"].get("leftovers") or []
    if left:
        out.append("")
        out.append("Left behind by the run: " + "; ".join(left) + ".")
    return "\n".join(out) + "\n"


# --- the chart ---------------------------------------------------------------------


def gp_str(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def bar_data(entries, value, label):
    """Lines for a clustered histogram: name, then value, error, label per runtime."""
    lines = []
    for name, e in entries:
        cols = [gp_str(name)]
        for rt in RUNTIMES:
            if rt in e["results"]:
                v, err = value(e["results"][rt])
                cols += [f"{v:.6g}", f"{err:.6g}", gp_str(label(v))]
            else:
                cols += ["0", "0", gp_str("failed")]
        lines.append(" ".join(cols))
    return "\n".join(lines) + "\n"


def histogram_plot(datafile, ylabel, title):
    n = len(RUNTIMES)
    width = 1.0 / (n + 2)  # gnuplot's clustered boxes with "gap 2"
    plots = []
    for i, rt in enumerate(RUNTIMES):
        c = 2 + 3 * i
        src = gp_str(datafile) if i == 0 else "''"
        plots.append(
            f"{src} using {c}:{c + 1}:xtic(1) title {gp_str(rt)} "
            f"lc rgb {gp_str(COLORS[rt])}"
        )
    for i, rt in enumerate(RUNTIMES):
        c = 2 + 3 * i
        off = (i - (n - 1) / 2) * width
        plots.append(
            f"'' using ($0{off:+.4f}):(${c}+${c + 1}):{c + 2} with labels offset 0,0.6 "
            f"font ',8' notitle"
        )
    return "\n".join([
        f"set title {gp_str(title)}",
        f"set ylabel {gp_str(ylabel)}",
        "set style data histogram",
        "set style histogram errorbars gap 2 lw 1",
        "set style fill solid 0.85 border -1",
        "set boxwidth 1",
        "set yrange [0:*]",
        "set offsets 0, 0, graph 0.12, 0",
        "set xtics nomirror rotate by 0",
        "set key top left",
        "plot " + ", \\\n     ".join(plots),
        "unset offsets",
    ])


def chart(report, out_png, workdir):
    if not shutil.which("gnuplot"):
        print("report: gnuplot not found, no chart", file=sys.stderr)
        return
    m = report["meta"]
    by_key = {e["key"]: e for e in report["benchmarks"]}
    ms = lambda v: (v["mean"] * 1000, v["stddev"] * 1000)  # noqa: E731
    one = lambda v: f"{v:.1f}" if v < 100 else f"{v:.0f}"  # noqa: E731

    ops = [("run", "run"), ("run-nonet", "run, no netns"), ("create", "create"),
           ("start", "start"), ("delete", "delete"), ("exec", "exec")]
    with open(os.path.join(workdir, "ops.dat"), "w") as f:
        f.write(bar_data([(n, by_key[k]) for k, n in ops], ms, one))

    par = by_key["parallel"]
    with open(os.path.join(workdir, "parallel.dat"), "w") as f:
        f.write(bar_data([(f"{m['parallel']} runs at once", par)],
                         lambda v: (v["mean"], v["stddev"]), lambda v: f"{v:.2f} s"))

    mem = [(e["label"].replace("peak RSS of ", "peak RSS, "), e) for e in report["memory"]]
    size = report["binary_size"]
    with open(os.path.join(workdir, "memory.dat"), "w") as f:
        f.write(bar_data(mem, lambda v: (v["median"] / 1024, 0), lambda v: f"{v:.1f}"))
        f.write(bar_data([("binary size", size)], lambda v: (v["size"] / 2**20, 0),
                         lambda v: f"{v:.1f}"))

    scale_plots = []
    scale = [v for n in m["scale_levels"] for what in ("list", "state")
             for v in by_key[f"{what}-{n}"]["results"].values()]
    # Log scale: from a little under the fastest to well over the slowest, which leaves
    # the top of the panel to the key.
    y_lo = min((v["mean"] * 1000 for v in scale), default=1) / 1.5
    y_hi = max(((v["mean"] + v["stddev"]) * 1000 for v in scale), default=10) * 3
    for rt in RUNTIMES:
        path = os.path.join(workdir, f"scale.{rt}.dat")
        with open(path, "w") as f:
            for n in m["scale_levels"]:
                cols = [str(n)]
                for what in ("list", "state"):
                    v = by_key[f"{what}-{n}"]["results"].get(rt)
                    if v:
                        cols += [f"{v['mean'] * 1000:.6g}", f"{v['stddev'] * 1000:.6g}"]
                    else:
                        cols += ["NaN", "NaN"]
                f.write(" ".join(cols) + "\n")
        color = gp_str(COLORS[rt])
        scale_plots.append(f"{gp_str(path)} using 1:2:3 with yerrorlines lw 2 pt 7 lc rgb {color} "
                           f"title {gp_str(rt + ' list')}")
        scale_plots.append(f"{gp_str(path)} using 1:4:5 with yerrorlines lw 2 pt 5 dt 2 "
                           f"lc rgb {color} title {gp_str(rt + ' state')}")

    title = (f"hull vs runc vs crun: {m['date'][:10]}, {m['cores']} cores, kernel {m['kernel']}"
             f"{', QUICK RUN' if m['quick'] else ''}")
    script = "\n".join([
        "set terminal pngcairo size 1600,1100 font 'DejaVu Sans,11' noenhanced",
        f"set output {gp_str(out_png)}",
        "set datafile missing 'NaN'",
        "set grid ytics lc rgb '#dddddd'",
        f"set multiplot layout 2,2 title {gp_str(title)} font ',14'",
        histogram_plot(os.path.join(workdir, "ops.dat"), "ms (mean ± σ)",
                       "One container operation (lower is better)"),
        "set title 'list and state with N running containers'",
        "set ylabel 'ms (mean ± σ, log scale)'",
        "set xlabel 'running containers'",
        "set logscale x",
        "set xrange [0.7:" + str(max(m["scale_levels"]) * 1.4) + "]",
        "set xtics (" + ", ".join(str(n) for n in m["scale_levels"]) + ")",
        "set logscale y",
        f"set yrange [{y_lo:.3g}:{y_hi:.3g}]",
        "set ytics (0.5, 1, 2, 3, 5, 10, 20, 30, 50, 100, 200, 500, 1000)",
        "set key top left maxrows 3 width 2",
        "plot " + ", \\\n     ".join(scale_plots),
        "unset logscale x", "unset logscale y", "unset xlabel", "set xrange [*:*]",
        "set xtics autofreq", "set ytics autofreq",
        histogram_plot(os.path.join(workdir, "parallel.dat"), "s (mean ± σ)",
                       f"{m['parallel']} runs of /bin/true at once: wall time"),
        histogram_plot(os.path.join(workdir, "memory.dat"), "MiB",
                       "Memory: peak RSS (median) and binary size"),
        "unset multiplot",
    ])
    script_path = os.path.join(workdir, "chart.gp")
    with open(script_path, "w") as f:
        f.write(script + "\n")
    subprocess.run(["gnuplot", script_path], check=True)


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: report.py RAW OUT")
    raw, out = sys.argv[1], sys.argv[2]
    report = collect(raw)
    rows = table_rows(report)
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "latest.json"), "w") as f:
        json.dump(report, f, indent=2, ensure_ascii=False)
        f.write("\n")
    md = markdown(report, rows)
    with open(os.path.join(out, "latest.md"), "w") as f:
        f.write(md)
    chart(report, os.path.join(out, "latest.png"), raw)
    print()
    print(text_table(rows))
    print()
    print(f"written: {', '.join(os.path.join(out, 'latest.' + x) for x in ('json', 'md', 'png'))}")


if __name__ == "__main__":
    main()
