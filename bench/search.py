"""Search latency: the first page of a filtered run search over a populated project.

Populates one project (Kiroku) or experiment (MLflow) with ``--runs`` runs, each with
``--params`` params (p0..p9 one of v0..v9, the rest numbers as text) and ``--metrics``
metrics logged for ``--steps`` steps, through the server's own API with four clients.
Then, one request at a time, asks each filter ``--repeat`` times for its first page of
100 runs and prints p50/p95 latency per filter. The data is generated from fixed seeds,
so the number of runs each filter matches is known here and checked against what the
server returns.

    .venv/bin/python -m bench.search --system kiroku --token krk_...
    .venv/bin/python -m bench.search --system mlflow --runs 200
"""

from __future__ import annotations

import argparse
import random
import time
from dataclasses import dataclass

import psycopg

from bench.apis import BenchError, Kiroku, MLflow
from bench.common import (
    add_output_arguments,
    add_server_arguments,
    emit,
    env_int,
    note,
    percentile,
    run_concurrently,
    share,
    stamp,
)
from bench.cpu import CpuMeter

DEFAULT_URLS = {"kiroku": "http://127.0.0.1:8055", "mlflow": "http://127.0.0.1:5055"}
PAGE = 100
WARMUP = 3
POPULATE_CLIENTS = 4


@dataclass(frozen=True)
class RunData:
    params: dict[str, str]
    points: list[tuple[str, int, float]]

    def last(self, key: str) -> float:
        return max((p for p in self.points if p[0] == key), key=lambda p: p[1])[2]


@dataclass(frozen=True)
class Query:
    name: str
    filter: str
    order_by: str

    def matches(self, run: RunData) -> bool:
        """The same filter evaluated here, to know how many runs it must find."""
        p, last = run.params, run.last
        if self.name == "all":
            return True
        if self.name == "param_eq":
            return p["p0"] == "v3"
        if self.name == "metric_gt":
            return last("m0") > 0.5
        if self.name.startswith("metric_and_param"):
            return last("m0") > 0.5 and p["p0"] == "v3"
        if self.name == "four_conditions":
            return last("m0") > 0.2 and last("m1") < 0.8 and p["p0"] == "v3" and p["p1"] != "v5"
        raise ValueError(self.name)


# Both servers take these filters as written (MLflow's syntax; Kiroku's accepts it).
QUERIES = [
    Query("all", "", ""),
    Query("param_eq", "params.p0 = 'v3'", ""),
    Query("metric_gt", "metrics.m0 > 0.5", ""),
    Query("metric_and_param", "metrics.m0 > 0.5 and params.p0 = 'v3'", ""),
    Query(
        "metric_and_param_by_metric",
        "metrics.m0 > 0.5 and params.p0 = 'v3'",
        "metrics.m1 DESC",
    ),
    Query(
        "four_conditions",
        "metrics.m0 > 0.2 and metrics.m1 < 0.8 and params.p0 = 'v3' and params.p1 != 'v5'",
        "",
    ),
]


def run_data(index: int, *, params: int, metrics: int, steps: int) -> RunData:
    rng = random.Random(1_000_003 * index + 7)
    values = {}
    for j in range(params):
        values[f"p{j}"] = f"v{rng.randrange(10)}" if j < 10 else f"{rng.random():.4f}"
    points = [
        (f"m{k}", step, round(rng.random(), 6)) for step in range(steps) for k in range(metrics)
    ]
    return RunData(values, points)


def populate(api: Kiroku | MLflow, data: list[RunData], container_name: str) -> str:
    with api.client() as http:
        container = api.create_container(http, container_name)
    started = time.perf_counter()

    def worker(first: int, count: int):
        def create() -> None:
            with api.client() as http:
                for index in range(first, first + count):
                    run = api.create_run(http, container, f"run-{index}")
                    item = data[index]
                    api.log(http, run, api.log_body(run, "populate", item.points, item.params))

        return create

    workers, first = [], 0
    for count in share(len(data), POPULATE_CLIENTS):
        workers.append(worker(first, count))
        first += count
    run_concurrently(workers)
    note(f"{api.system}: {len(data):,} runs created in {time.perf_counter() - started:.0f} s")
    return container


def measure(
    api: Kiroku | MLflow, meter: CpuMeter, container: str, query: Query, repeat: int
) -> dict:
    with api.client() as http:
        for _ in range(WARMUP):
            returned = api.search(http, container, query.filter, query.order_by, PAGE)
        samples = []
        meter.start()
        for _ in range(repeat):
            started = time.perf_counter()
            returned = api.search(http, container, query.filter, query.order_by, PAGE)
            samples.append((time.perf_counter() - started) * 1000)
        cpu = meter.stop()
    return {"returned": returned, "samples": samples, "cpu": cpu}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_server_arguments(parser)
    parser.add_argument(
        "--runs",
        type=int,
        default=env_int("BENCH_RUNS", 5_000),
        help="runs to search over (BENCH_RUNS; default 5,000)",
    )
    parser.add_argument("--params", type=int, default=20)
    parser.add_argument("--metrics", type=int, default=10)
    parser.add_argument("--steps", type=int, default=10, help="steps logged per metric")
    parser.add_argument(
        "--repeat",
        type=int,
        default=env_int("BENCH_REPEAT", 50),
        help="timed requests per filter (BENCH_REPEAT; default 50)",
    )
    parser.add_argument(
        "--database-url",
        help="the server's PostgreSQL database: VACUUM ANALYZE it after populating, as "
        "autovacuum would have on a server in use",
    )
    parser.add_argument(
        "--server-session",
        type=int,
        help="session id of the server's processes (run_all.sh starts it with setsid): "
        "count their CPU time, and the database's backends' with --database-url",
    )
    add_output_arguments(parser)
    args = parser.parse_args(argv)
    if args.params < 10 or args.metrics < 2:
        parser.error("the filters need at least 10 params and 2 metrics")

    url = args.url or DEFAULT_URLS[args.system]
    if args.system == "kiroku":
        if not args.token:
            parser.error("Kiroku needs a token: --token or KIROKU_TOKEN")
        api: Kiroku | MLflow = Kiroku(url, args.token)
    else:
        api = MLflow(url)

    data = [
        run_data(i, params=args.params, metrics=args.metrics, steps=args.steps)
        for i in range(args.runs)
    ]
    note(f"{api.system}: populating {args.runs:,} runs")
    container = populate(api, data, f"search-{stamp()}-{args.runs}")
    if args.database_url:
        with psycopg.connect(args.database_url, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")

    meter = CpuMeter(server_session=args.server_session, database_url=args.database_url)
    try:
        for query in QUERIES:
            emit(search_record(api, meter, container, query, data, args), args.out)
    finally:
        meter.close()


def search_record(
    api: Kiroku | MLflow,
    meter: CpuMeter,
    container: str,
    query: Query,
    data: list[RunData],
    args: argparse.Namespace,
) -> dict:
    matches = sum(query.matches(run) for run in data)
    result = measure(api, meter, container, query, args.repeat)
    if result["returned"] != min(matches, PAGE):
        raise BenchError(
            f"{api.system} {query.name}: {result['returned']} runs on the first page, "
            f"expected {min(matches, PAGE)} of {matches} matches"
        )
    samples, cpu = result["samples"], result["cpu"]
    record = {
        "bench": "search",
        "system": api.system,
        "runs": args.runs,
        "query": query.name,
        "filter": query.filter,
        "order_by": query.order_by,
        "matches": matches,
        "returned": result["returned"],
        "repeat": args.repeat,
        "p50_ms": round(percentile(samples, 50), 2),
        "p95_ms": round(percentile(samples, 95), 2),
        "mean_ms": round(sum(samples) / len(samples), 2),
        **cpu.fields(),
    }
    spent = cpu.system_s(client_is_system=False)
    # CPU milliseconds per request the server and its database backends spent.
    record["cpu_ms_per_request"] = None if spent is None else round(spent / args.repeat * 1000, 2)
    return record


if __name__ == "__main__":
    main()
