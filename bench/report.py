"""bench/results/*.json -> bench/RESULTS.md: one section per result, a summary of targets, PNG charts.

    python -m bench.report            # or: kbert bench --report-only

Reads the records `bench.common.write_result` writes. Figures may nest dicts; they are shown as one
table with dotted names (`bert_base.batch1.torch_ms`). The optional key `figures["targets"]` holds
`{"name": {"value": v, "limit": l, "met": bool, "note": "..."}}` and becomes a targets table (and a line
in the summary at the top). Every group of `*_ms` figures (same dotted prefix) becomes a bar chart
`bench/results/NAME.png`, linked from the section.
"""

from __future__ import annotations

import glob
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results")


def load(results_dir: str = RESULTS) -> list[dict]:
    """All result records, sorted by name; unreadable files become records with an `error`."""
    records = []
    for path in sorted(glob.glob(os.path.join(results_dir, "*.json"))):
        try:
            with open(path) as f:
                record = json.load(f)
            if not isinstance(record, dict) or "figures" not in record:
                raise ValueError("not a bench record (no 'figures')")
        except (OSError, ValueError) as e:
            record = {"name": os.path.splitext(os.path.basename(path))[0], "error": f"unreadable: {e}", "figures": {}}
        record.setdefault("name", os.path.splitext(os.path.basename(path))[0])
        records.append(record)
    return records


def flatten(figures, prefix: str = "") -> list[tuple[str, object]]:
    """Nested dicts -> [(dotted name, leaf value)], in insertion order (`targets` left out)."""
    rows = []
    for key, value in figures.items():
        if not prefix and key == "targets":
            continue
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict) and value:
            rows.extend(flatten(value, name))
        else:
            rows.append((name, value))
    return rows


def targets(record: dict) -> dict:
    t = record.get("figures", {}).get("targets")
    return t if isinstance(t, dict) else {}


def fmt(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if value != value:
            return "nan"
        a = abs(value)
        return f"{value:.3g}" if a < 1 else f"{value:,.2f}" if a < 1000 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, (list, tuple)):
        return ", ".join(fmt(v) for v in value)
    return str(value).replace("|", "\\|").replace("\n", " ")


def chart_groups(record: dict) -> dict[str, list[tuple[str, float]]]:
    """{prefix: [(leaf, ms)]} for every dotted prefix with at least two numeric `*_ms` figures."""
    groups: dict[str, list] = {}
    for name, value in flatten(record.get("figures", {})):
        if name.endswith("_ms") and isinstance(value, (int, float)) and not isinstance(value, bool):
            prefix, _, leaf = name.rpartition(".")
            groups.setdefault(prefix or record["name"], []).append((leaf[:-3], float(value)))
    return {k: v for k, v in groups.items() if len(v) >= 2}


def chart(record: dict, results_dir: str = RESULTS) -> str | None:
    """Horizontal latency bars, one panel per group; returns the PNG's file name (or None)."""
    groups = chart_groups(record)
    if not groups:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = dict(list(groups.items())[:12])
    cols = 2 if len(groups) > 1 else 1
    rows = (len(groups) + cols - 1) // cols
    height = max(2.0, max(len(v) for v in groups.values()) * 0.35 + 1.0)
    fig, axes = plt.subplots(rows, cols, figsize=(6.5 * cols, height * rows), squeeze=False)
    for ax, (title, bars) in zip(axes.flat, groups.items()):
        labels = [b[0] for b in bars]
        values = [b[1] for b in bars]
        colors = ["#d62728" if "torch" in l else "#1f77b4" for l in labels]
        ax.barh(range(len(bars)), values, color=colors)
        ax.set_yticks(range(len(bars)), labels, fontsize=8)
        ax.invert_yaxis()
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("ms (lower is better)", fontsize=8)
        for i, v in enumerate(values):
            ax.text(v, i, f" {v:,.0f}" if v >= 10 else f" {v:.2g}", va="center", fontsize=7)
    for ax in list(axes.flat)[len(groups):]:
        ax.axis("off")
    fig.suptitle(f"{record['name']} ({record.get('date', '?')}{', quick' if record.get('quick') else ''})",
                 fontsize=10)
    fig.tight_layout()
    name = f"{record['name']}.png"
    fig.savefig(os.path.join(results_dir, name), dpi=80)
    plt.close(fig)
    return name


def section(record: dict, png: str | None) -> list[str]:
    lines = [f"## {record['name']}", ""]
    if record.get("error"):
        return lines + [f"**{record['error']}**", ""]
    m, v = record.get("machine", {}), record.get("versions", {})
    lines.append(f"*{record.get('date', '?')}{' · quick mode' if record.get('quick') else ''} · "
                 f"{m.get('cpu', '?')}, {m.get('cores', '?')} cores, Python {m.get('python', '?')} · "
                 + ", ".join(f"{k} {val}" for k, val in v.items()) + "*")
    lines.append("")
    t = targets(record)
    if t:
        lines += ["| target | value | limit | met |", "|---|---:|---:|:---:|"]
        for name, spec in t.items():
            spec = spec if isinstance(spec, dict) else {"value": spec}
            met = spec.get("met")
            mark = "✅ met" if met is True else "❌ missed" if met is False else "–"
            lines.append(f"| {name} | {fmt(spec.get('value', ''))} | {fmt(spec.get('limit', ''))} | {mark} |")
        lines.append("")
    rows = flatten(record.get("figures", {}))
    if rows:
        lines += ["| figure | value |", "|---|---:|"] + [f"| {n} | {fmt(val)} |" for n, val in rows] + [""]
    if png:
        lines += [f"![{record['name']}](results/{png})", ""]
    if record.get("notes"):
        lines += ["**Notes.** " + str(record["notes"]).strip(), ""]
    return lines


def generate(results_dir: str = RESULTS, out: str | None = None) -> str:
    """Rewrite RESULTS.md (next to `results_dir`) and the charts; returns the markdown's path."""
    out = out or os.path.join(os.path.dirname(os.path.abspath(results_dir)), "RESULTS.md")
    records = load(results_dir)
    lines = ["# kbert benchmark results", "",
             "Generated by `kbert bench` (bench/report.py) from `bench/results/*.json`; do not edit by hand. "
             "Every ratio is measured side by side in one run on the machine named in its section.", "",
             "| benchmark | date | mode | targets met |", "|---|---|---|---|"]
    for r in records:
        t = targets(r)
        met = sum(1 for s in t.values() if isinstance(s, dict) and s.get("met") is True)
        summary = f"{met}/{len(t)}" + (" ❌" if met < len(t) else " ✅") if t else "–"
        if r.get("error"):
            summary = "unreadable"
        lines.append(f"| [{r['name']}](#{r['name'].lower()}) | {r.get('date', '?')} | "
                     f"{'quick' if r.get('quick') else 'full'} | {summary} |")
    lines.append("")
    for r in records:
        png = None
        if not r.get("error"):
            try:
                png = chart(r, results_dir)
            except Exception as e:  # noqa: BLE001 - a chart must not cost the report
                r = {**r, "notes": f"{r.get('notes', '')} (chart failed: {e})"}
            own = f"{r['name']}.png"  # a chart the bench script drew itself (e.g. sop_vs_nsp's curves)
            if png is None and os.path.exists(os.path.join(results_dir, own)):
                png = own
        lines += section(r, png)
    tmp = out + ".tmp"
    with open(tmp, "w") as f:
        f.write("\n".join(lines).rstrip() + "\n")
    os.replace(tmp, out)
    return out


if __name__ == "__main__":
    print(generate())
