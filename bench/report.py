"""Turn a results file of JSON lines into Markdown tables with the ratios and targets.

    .venv/bin/python -m bench.report bench/results/<time>.jsonl

Where a configuration was measured more than once (``--rounds``, or several files), the
ingestion tables show its best round (the one least disturbed by anything else running
on the machine) and list every round below; for search, the last measurement wins.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

# The targets.
KIROKU_OVER_MLFLOW = 10.0  # ingestion: Kiroku points/s at least 10x MLflow's
RAW_OVER_KIROKU = 3.0  # ingestion: raw SQL at most 3x Kiroku
SEARCH_MLFLOW_OVER_KIROKU = 5.0  # filtered search: Kiroku p50 at most 1/5 of MLflow's


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _ratio(value: float | None, target: float, *, at_least: bool) -> str:
    if value is None:
        return "-"
    met = value >= target if at_least else value <= target
    return f"{value:.1f}x" + ("" if met else " ✗")


def _micro(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def load(paths: list[Path]) -> list[dict]:
    records = []
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                records.append(json.loads(line))
    return records


def ingest_table(records: list[dict]) -> list[str]:
    rounds: dict[tuple[str, int, int], list[float]] = {}
    cpu_rounds: dict[tuple[str, int, int], list[float]] = {}
    points: dict[str, set[int]] = {}
    for r in records:
        if r.get("bench") == "ingest":
            config = (r["system"], r["clients"], r["batch"])
            rounds.setdefault(config, []).append(r["points_per_second"])
            if r.get("cpu_us_per_point") is not None:
                cpu_rounds.setdefault(config, []).append(r["cpu_us_per_point"])
            points.setdefault(r["system"], set()).add(r["points"])
    rates = {config: max(values) for config, values in rounds.items()}
    cpu = {config: min(values) for config, values in cpu_rounds.items()}
    configs = sorted({(c, b) for s, c, b in rates if s != "mlflow"}, key=lambda x: (x[1], x[0]))
    if not configs:
        configs = sorted({(c, b) for _, c, b in rates})
    lines = [
        "| clients | batch | Kiroku points/s | MLflow points/s (batch 1,000) | raw SQL points/s "
        "| Kiroku ÷ MLflow | raw SQL ÷ Kiroku |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for clients, batch in configs:
        kiroku = rates.get(("kiroku", clients, batch))
        # MLflow cannot take more than 1,000 points a request: compare with its 1,000.
        mlflow = rates.get(("mlflow", clients, min(batch, 1_000)))
        raw = rates.get(("raw_sql", clients, batch))
        lines.append(
            f"| {clients} | {batch:,} | {_rate(kiroku)} | {_rate(mlflow)} | {_rate(raw)} | "
            + _ratio(
                kiroku / mlflow if kiroku and mlflow else None, KIROKU_OVER_MLFLOW, at_least=True
            )
            + " | "
            + _ratio(raw / kiroku if raw and kiroku else None, RAW_OVER_KIROKU, at_least=False)
            + " |"
        )
    totals = ", ".join(f"{s} {', '.join(f'{p:,}' for p in sorted(v))}" for s, v in points.items())
    lines.append("")
    lines.append(f"Points per configuration: {totals}.")
    if cpu:
        lines += [
            "",
            "CPU per point, µs: the server's processes and its PostgreSQL backends (raw SQL: "
            "the script and its backends); steadier than points/s on a shared machine",
            "",
            "| clients | batch | Kiroku | MLflow (batch 1,000) | raw SQL | MLflow ÷ Kiroku "
            "| Kiroku ÷ raw SQL |",
            "|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for clients, batch in configs:
            kiroku = cpu.get(("kiroku", clients, batch))
            mlflow = cpu.get(("mlflow", clients, min(batch, 1_000)))
            raw = cpu.get(("raw_sql", clients, batch))
            lines.append(
                f"| {clients} | {batch:,} | {_micro(kiroku)} | {_micro(mlflow)} | {_micro(raw)} | "
                + _ratio(
                    mlflow / kiroku if kiroku and mlflow else None,
                    KIROKU_OVER_MLFLOW,
                    at_least=True,
                )
                + " | "
                + _ratio(kiroku / raw if raw and kiroku else None, RAW_OVER_KIROKU, at_least=False)
                + " |"
            )
    if any(len(values) > 1 for values in rounds.values()):
        lines.append("")
        lines.append("Every round, points/s (CPU µs/point); the tables show the best:")
        lines.append("")
        for config, values in sorted(rounds.items()):
            system, clients, batch = config
            spent = cpu_rounds.get(config, [])
            listed = ", ".join(
                f"{v:,.0f}" + (f" ({spent[i]:.1f})" if i < len(spent) else "")
                for i, v in enumerate(values)
            )
            lines.append(f"- {system}, {clients} client(s), batch {batch:,}: {listed}")
    return lines


def search_table(records: list[dict]) -> list[str]:
    found: dict[tuple[str, str], dict] = {}
    order: list[str] = []
    for r in records:
        if r.get("bench") == "search":
            found[(r["system"], r["query"])] = r
            if r["query"] not in order:
                order.append(r["query"])
    lines = [
        "| query | filter | order_by | matches | Kiroku p50 / p95 ms | MLflow p50 / p95 ms "
        "| MLflow p50 ÷ Kiroku p50 | CPU ms/request Kiroku / MLflow |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    runs = set()
    for query in order:
        kiroku, mlflow = found.get(("kiroku", query)), found.get(("mlflow", query))
        any_one = kiroku or mlflow
        runs.add(any_one["runs"])
        ratio = mlflow["p50_ms"] / kiroku["p50_ms"] if kiroku and mlflow else None

        def cell(r: dict | None) -> str:
            return "-" if r is None else f"{r['p50_ms']:.1f} / {r['p95_ms']:.1f}"

        def spent(r: dict | None) -> str:
            value = None if r is None else r.get("cpu_ms_per_request")
            return "-" if value is None else f"{value:.1f}"

        target = _ratio(ratio, SEARCH_MLFLOW_OVER_KIROKU, at_least=True)
        lines.append(
            f"| {query} | `{any_one['filter'] or '(none)'}` | `{any_one['order_by'] or '-'}` | "
            f"{any_one['matches']:,} | {cell(kiroku)} | {cell(mlflow)} | "
            f"{target if any_one['filter'] else (f'{ratio:.1f}x' if ratio else '-')} | "
            f"{spent(kiroku)} / {spent(mlflow)} |"
        )
    lines.append("")
    lines.append(f"Runs searched: {', '.join(f'{n:,}' for n in sorted(runs))}; first page of 100.")
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="+", type=Path)
    args = parser.parse_args(argv)
    records = load(args.paths)
    env = [r for r in records if r.get("bench") == "env"]
    out: list[str] = []
    if env:
        e = env[-1]
        out.append(
            f"Machine: {e['cpus']} CPUs; PostgreSQL {e['postgres']}; Python {e['python']}; "
            f"MLflow {e['mlflow']}; {e['server_workers']} worker processes per server."
        )
        busy = [r for r in records if r.get("bench") == "load"]
        if busy:
            out.append(
                f"1-minute load average during the run: mean {busy[-1]['load_1m_mean']}, "
                f"max {busy[-1]['load_1m_max']} (at the start: {e['load_1m_at_start']:.2f})."
            )
        out.append("")
    out.append("Ingestion (✗: misses the target of Kiroku ≥ 10x MLflow, raw SQL ≤ 3x Kiroku)")
    out.append("")
    out += ingest_table(records)
    out.append("")
    out.append("Search (✗: a filtered query misses the target of MLflow p50 ≥ 5x Kiroku p50)")
    out.append("")
    out += search_table(records)
    print("\n".join(out))


if __name__ == "__main__":
    main()
