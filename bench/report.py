"""bench/results/*.json -> bench/RESULTS.md: one section per result, a summary of targets, PNG charts.

    python -m bench.report            # or: kbert bench --report-only (also rewrites README's table)

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

from bench import common

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results")


def load_dir(results_dir: str, quick: bool) -> list[dict]:
    records = []
    for path in sorted(glob.glob(os.path.join(results_dir, "*.json"))):
        name = os.path.splitext(os.path.basename(path))[0]
        try:
            with open(path) as f:
                record = json.load(f)
            if not isinstance(record, dict) or "figures" not in record:
                raise ValueError("not a bench record (no 'figures')")
        except (OSError, ValueError) as e:
            record = {"name": name, "error": f"unreadable: {e}", "figures": {}}
        record.setdefault("name", name)
        record["_file"] = ("quick/" if quick else "") + os.path.basename(path)
        record["_quick"] = bool(quick or record.get("quick"))
        records.append(record)
    return records


def load(results_dir: str = RESULTS) -> list[dict]:
    """Every result record (full ones in `results_dir`, quick ones in `results_dir/quick`), with its
    status (`common.status`: ok / legacy / stale / bad) under `_status`, `_reasons`; unreadable files
    become records with an `error`."""
    records = load_dir(results_dir, False) + load_dir(os.path.join(results_dir, "quick"), True)
    root = os.path.dirname(os.path.dirname(os.path.abspath(results_dir)))
    for r in records:
        if r.get("error"):
            r["_status"], r["_reasons"] = "bad", [r["error"]]
        else:
            r["_status"], r["_reasons"] = common.status(r, root)
    return records


def shown(records: list[dict]) -> list[dict]:
    """One record per name, sorted by name: the full result where one exists (a quick one never
    replaces it), else the quick one with provenance over a legacy one, else the newest."""
    best: dict[str, dict] = {}
    rank = lambda r: (not r["_quick"], r.get("_status") != "legacy", r.get("date", ""))  # noqa: E731
    for r in records:
        if r["name"] not in best or rank(r) > rank(best[r["name"]]):
            best[r["name"]] = r
    return [best[k] for k in sorted(best)]


def script_status(records: list[dict], scripts: list[str], quick: bool) -> dict[str, tuple[str, list[str]]]:
    """{script: (state, reasons)} for one mode (full or quick): "ok" when every result the script wrote in that
    mode is current, "missing" when it has none, else the first non-ok status among them with its reasons. A
    result belongs to the script of its name, else to the script in its provenance (distill_sentiment also
    writes distill_ablation)."""
    def owner(r):
        if r["name"] in scripts:
            return r["name"]
        script = (r.get("provenance") or {}).get("script", "") if isinstance(r.get("provenance"), dict) else ""
        return os.path.splitext(os.path.basename(script))[0]

    out = {}
    for name in scripts:
        mine = [r for r in records if r["_quick"] == quick and not r.get("error") and owner(r) == name]
        bad = [r for r in mine if r["_status"] != "ok"]
        if not mine:
            out[name] = ("missing", [f"no {'quick' if quick else 'full'} result"])
        elif bad:
            out[name] = (bad[0]["_status"], [f"{r['_file']}: {'; '.join(r['_reasons'])}" for r in bad])
        else:
            commits = [((r.get("provenance") or {}).get("commit") or "?")[:7] for r in mine]
            out[name] = ("ok", [f"{r['_file']} ({c})" for r, c in zip(mine, commits)])
    return out


def mode(r: dict) -> str:
    return "quick" if r["_quick"] else "full"


STATUS_WORDS = {"ok": "current", "legacy": "legacy: re-run needed", "stale": "stale: re-run needed",
                "bad": "bad: notes not from templates"}


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
    """Horizontal latency bars, one panel per group, written next to the record's JSON (quick ones in
    results/quick/); returns the PNG's path relative to `results_dir` (or None)."""
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
        colors = ["#d62728" if "torch" in l else "#ff7f0e" if "ort" in l else "#1f77b4" for l in labels]
        ax.barh(range(len(bars)), values, color=colors)
        ax.set_yticks(range(len(bars)), labels, fontsize=8)
        ax.invert_yaxis()
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("ms (lower is better)", fontsize=8)
        for i, v in enumerate(values):
            ax.text(v, i, f" {v:,.0f}" if v >= 10 else f" {v:.2g}", va="center", fontsize=7)
    for ax in list(axes.flat)[len(groups):]:
        ax.axis("off")
    fig.suptitle(f"{record['name']} ({record.get('date', '?')}{', quick' if record.get('_quick') else ''})",
                 fontsize=10)
    fig.tight_layout()
    name = ("quick/" if record.get("_file", "").startswith("quick/") else "") + f"{record['name']}.png"
    fig.savefig(os.path.join(results_dir, name), dpi=80)
    plt.close(fig)
    return name


def section(record: dict, png: str | None) -> list[str]:
    title = record["name"] + (" (quick)" if record.get("_quick") else "")
    lines = [f"## {title}", ""]
    if record.get("error"):
        return lines + [f"**{record['error']}**", ""]
    m, v = record.get("machine", {}), record.get("versions", {})
    lines.append(f"*{record.get('date', '?')} · {mode(record)} run · `{record.get('_file', '?')}` · "
                 f"{m.get('cpu', '?')}, {m.get('cores', '?')} cores, Python {m.get('python', '?')} · "
                 + ", ".join(f"{k} {val}" for k, val in v.items()) + "*")
    lines.append("")
    if record.get("_status") != "ok":
        lines += [f"**{STATUS_WORDS[record['_status']]}**: " + "; ".join(record.get("_reasons", [])), ""]
    if record.get("partial"):
        lines += ["**partial record: the run did not finish**", ""]
    prov = record.get("provenance")
    if isinstance(prov, dict):
        flags = ", ".join(k for k, on in prov.get("cpu_flags", {}).items() if on) or "none"
        th = prov.get("threads", {})
        lines += [f"*commit {str(prov.get('commit'))[:10]}{' (dirty tree)' if prov.get('dirty') else ''} · "
                  f"`{prov.get('script')}` sha256 {str(prov.get('script_sha256'))[:12]} · argv "
                  f"`{' '.join(prov.get('argv', [])) or '(none)'}` · load {prov.get('loadavg_before', ['?'])[0]} → "
                  f"{prov.get('loadavg_after', ['?'])[0]} · CPU flags: {flags} · threads: "
                  + ", ".join(f"{k}={val}" for k, val in th.items() if k != "env")
                  + "".join(f", {k}={val}" for k, val in th.get("env", {}).items())
                  + (" · data: " + ", ".join(f"{k} {fmt(val)}" for k, val in record["datasets"].items())
                     if record.get("datasets") else "") + "*", ""]
    t = targets(record)
    if t:
        lines += ["| target | value | interval | limit | met |", "|---|---:|---:|---:|:---:|"]
        for name, spec in t.items():
            spec = spec if isinstance(spec, dict) else {"value": spec}
            met = spec.get("met")
            mark = "✅ met" if met is True else "❌ missed" if met is False else "–"
            lines.append(f"| {fmt(name)} | {fmt(spec.get('value', ''))} | {fmt(spec.get('interval', '–'))} | "
                         f"{fmt(spec.get('limit', ''))} | {mark} |")
        lines.append("")
    rows = flatten(record.get("figures", {}))
    if rows:
        lines += ["| figure | value |", "|---|---:|"] + [f"| {n} | {fmt(val)} |" for n, val in rows] + [""]
    if png:
        lines += [f"![{record['name']}](results/{png})", ""]
    if record.get("notes"):
        lines += ["**Notes.** " + str(record["notes"]).strip(), ""]
    return lines


def anchor(record: dict) -> str:
    return (record["name"] + ("-quick" if record.get("_quick") else "")).lower()


def generate(results_dir: str = RESULTS, out: str | None = None, readme: str | None = None) -> str:
    """Rewrite RESULTS.md (next to `results_dir`), the charts and, if given, README's measured table;
    returns the markdown's path."""
    out = out or os.path.join(os.path.dirname(os.path.abspath(results_dir)), "RESULTS.md")
    records = load(results_dir)
    main = shown(records)
    lines = ["# kbert benchmark results", "",
             "Generated by `kbert bench` (bench/report.py) from `bench/results/*.json` (full runs) and "
             "`bench/results/quick/*.json` (quick runs); do not edit by hand. Every ratio is measured side by "
             "side in one run on the machine named in its section. A quick result is shown only where no full "
             "one exists, and marked.", "",
             "| benchmark | date | mode | status | targets met |", "|---|---|---|---|---|"]
    for r in main:
        t = targets(r)
        met = sum(1 for s in t.values() if isinstance(s, dict) and s.get("met") is True)
        summary = f"{met}/{len(t)}" + (" ❌" if met < len(t) else " ✅") if t else "–"
        if r.get("error"):
            summary = "unreadable"
        lines.append(f"| [{r['name']}](#{anchor(r)}) | {r.get('date', '?')} | {mode(r)} | "
                     f"{STATUS_WORDS[r['_status']]} | {summary} |")
    lines.append("")
    rerun = [r for r in records if r["_status"] != "ok"]
    lines += ["### Left to re-run", ""]
    if rerun:
        lines += ["Results without provenance (legacy) or whose script changed since (stale): re-run each "
                  "with `kbert bench NAME` (full) or `kbert bench NAME --quick`.", ""]
        lines += [f"- `{r['_file']}` ({mode(r)}): {STATUS_WORDS[r['_status']]}: {'; '.join(r['_reasons'])}"
                  for r in rerun]
    else:
        lines.append("Nothing: every result has provenance and was produced by its current script.")
    lines.append("")
    others = [r for r in records if r not in main]
    for r in main + others:
        if others and r is others[0]:
            lines += ["# Older or quick results shadowed by the ones above", ""]
        png = None
        if not r.get("error"):
            try:
                png = chart(r, results_dir)
            except Exception as e:  # noqa: BLE001 - a chart must not cost the report
                r = {**r, "notes": f"{r.get('notes', '')} (chart failed: {e})"}
            own = ("quick/" if r["_file"].startswith("quick/") else "") + f"{r['name']}.png"
            if png is None and os.path.exists(os.path.join(results_dir, own)):
                png = own  # a chart the bench script drew itself (e.g. sop_vs_nsp's curves)
        lines += section(r, png)
    tmp = out + ".tmp"
    with open(tmp, "w") as f:
        f.write("\n".join(lines).rstrip() + "\n")
    os.replace(tmp, out)
    if readme:
        update_readme(readme, readme_table(main))
    return out


# ----- README's measured table ------------------------------------------------------------------------------
BEGIN, END = "<!-- kbert-bench:measured:begin -->", "<!-- kbert-bench:measured:end -->"


def readme_table(records: list[dict]) -> str:
    """The README table: one row per target of each shown result (a result without targets: one row)."""
    lines = ["| benchmark | target | measured | limit | verdict | run |", "|---|---|---:|---:|---|---|"]
    for r in records:
        if r.get("error"):
            continue
        run = f"{mode(r)}, {r.get('date', '?')[:10]}" + ("" if r["_status"] == "ok" else f", {STATUS_WORDS[r['_status']]}")
        prov = r.get("provenance") if isinstance(r.get("provenance"), dict) else {}
        if prov.get("loadavg_before") and prov.get("loadavg_after"):  # a busy machine is visible where figures are
            load = max(prov["loadavg_before"][0], prov["loadavg_after"][0])
            cores = (r.get("machine") or {}).get("cores") or 1
            run += f", load {load:.1f} on {cores} cores" + (" (busy)" if load > 0.5 * cores else "")
        t = targets(r)
        link = f"[`{r['name']}`](bench/RESULTS.md#{anchor(r)})"
        if not t:
            lines.append(f"| {link} | – (figures only) | – | – | – | {run} |")
        for name, spec in t.items():
            spec = spec if isinstance(spec, dict) else {"value": spec}
            value = fmt(spec.get("value", ""))
            if spec.get("interval"):
                value += f" ({fmt(spec['interval'][0])}–{fmt(spec['interval'][1])})"
            verdict = "met" if spec.get("met") is True else "missed" if spec.get("met") is False else "–"
            op = {"higher": ">= ", "lower": "<= "}.get(spec.get("better"), "")  # legacy records lack it
            lines.append(f"| {link} | {fmt(name)} | {value} | {op}{fmt(spec.get('limit', ''))} | {verdict} | {run} |")
    return "\n".join(lines)


def readme_block(table: str) -> str:
    return (f"{BEGIN}\n<!-- generated by `kbert bench` from bench/results/*.json; do not edit by hand -->\n"
            f"{table}\n{END}")


def replace_block(text: str, table: str) -> str:
    if BEGIN not in text or END not in text:
        raise ValueError(f"README has no {BEGIN} ... {END} markers")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return head + readme_block(table) + tail


def update_readme(path: str, table: str) -> None:
    with open(path, encoding="utf-8") as f:
        text = f.read()
    new = replace_block(text, table)
    if new != text:
        with open(path + ".tmp", "w", encoding="utf-8") as f:
            f.write(new)
        os.replace(path + ".tmp", path)


def readme_drift(readme: str, results_dir: str = RESULTS) -> bool:
    """True when README's measured table differs from what the result JSONs generate."""
    with open(readme, encoding="utf-8") as f:
        text = f.read()
    return replace_block(text, readme_table(shown(load(results_dir)))) != text


README = os.path.join(os.path.dirname(HERE), "README.md")

if __name__ == "__main__":
    print(generate(readme=README))
