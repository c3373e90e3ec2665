"""Ingestion throughput: metric points per second through a tracking server's batch endpoint.

For each (clients, batch size) configuration, ``--points`` points in all are split evenly
between the clients; each client logs to its own run, one batch per request, one request
at a time. The clock runs from the moment all clients are released until the last one
has had its last answer. Runs are created and bodies encoded before the clock starts.

    .venv/bin/python -m bench.ingest --system kiroku --token krk_...
    .venv/bin/python -m bench.ingest --system mlflow --batches 1000 --points 100000
"""

from __future__ import annotations

import argparse

from bench.apis import Kiroku, MLflow
from bench.common import (
    add_ingest_arguments,
    add_output_arguments,
    add_server_arguments,
    chunked,
    emit,
    ingest_record,
    metric_points,
    note,
    run_concurrently,
    share,
    stamp,
)
from bench.cpu import CpuMeter

DEFAULT_URLS = {"kiroku": "http://127.0.0.1:8055", "mlflow": "http://127.0.0.1:5055"}


def warm_up(api: Kiroku | MLflow, *, clients: int = 8) -> None:
    """A few small batches from more clients than the server has workers, so every
    worker has loaded its code and opened its database connections before the clock."""
    with api.client() as http:
        container = api.create_container(http, f"warmup-{stamp()}")

    def client(index: int):
        def work() -> None:
            with api.client() as http:
                run = api.create_run(http, container, f"warmup-{index}")
                points = list(metric_points(300, seed=index))
                for number, chunk in enumerate(chunked(points, 100)):
                    api.log(http, run, api.log_body(run, f"w{number}", list(chunk)))
                api.finish(http, run)

        return work

    run_concurrently([client(i) for i in range(clients)])


def measure(
    api: Kiroku | MLflow,
    meter: CpuMeter,
    *,
    clients: int,
    batch: int,
    total: int,
    round_number: int = 1,
) -> dict:
    tag = f"{stamp()}-r{round_number}-c{clients}-b{batch}"
    with api.client() as http:
        container = api.create_container(http, f"ingest-{tag}")
        runs = [api.create_run(http, container, f"client-{i}") for i in range(clients)]

    bodies: list[list[bytes]] = []
    for index, (run, count) in enumerate(zip(runs, share(total, clients), strict=True)):
        points = list(metric_points(count, seed=index))
        bodies.append(
            [
                api.log_body(run, f"b{number}", list(chunk))
                for number, chunk in enumerate(chunked(points, batch))
            ]
        )
    sessions = [api.client() for _ in range(clients)]

    def worker(index: int):
        def send_all() -> int:
            http, run = sessions[index], runs[index]
            return sum(api.log(http, run, body) for body in bodies[index])

        return send_all

    note(f"{api.system}: {clients} client(s), batches of {batch:,}, {total:,} points")
    try:
        meter.start()
        seconds, stored = run_concurrently([worker(i) for i in range(clients)])
        cpu = meter.stop()
        for http, run in zip(sessions, runs, strict=True):
            api.finish(http, run)
    finally:
        for http in sessions:
            http.close()

    extra: dict = {"requests": sum(len(b) for b in bodies)}
    if api.system == "kiroku":
        # The server's own count of points it wrote; must equal "points".
        extra["stored"] = sum(stored)
    return ingest_record(
        api.system,
        clients=clients,
        batch=batch,
        points=total,
        seconds=seconds,
        cpu=cpu,
        round=round_number,
        **extra,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_server_arguments(parser)
    add_ingest_arguments(parser)
    parser.add_argument(
        "--server-session",
        type=int,
        help="session id of the server's processes (run_all.sh starts it with setsid): "
        "count their CPU time",
    )
    parser.add_argument(
        "--database-url",
        help="the server's PostgreSQL database: count its backends' CPU time",
    )
    add_output_arguments(parser, rounds=True)
    args = parser.parse_args(argv)

    url = args.url or DEFAULT_URLS[args.system]
    if args.system == "kiroku":
        if not args.token:
            parser.error("Kiroku needs a token: --token or KIROKU_TOKEN")
        api: Kiroku | MLflow = Kiroku(url, args.token)
    else:
        api = MLflow(url)

    batches = []
    for batch in args.batches:
        if batch > api.max_batch:
            note(f"{api.system} takes at most {api.max_batch:,} points a request; skip {batch:,}")
        else:
            batches.append(batch)
    meter = CpuMeter(server_session=args.server_session, database_url=args.database_url)
    warm_up(api)
    try:
        for round_number in range(1, args.rounds + 1):
            for batch in batches:
                for clients in args.clients:
                    record = measure(
                        api,
                        meter,
                        clients=clients,
                        batch=batch,
                        total=args.points,
                        round_number=round_number,
                    )
                    emit(record, args.out)
    finally:
        meter.close()


if __name__ == "__main__":
    main()
