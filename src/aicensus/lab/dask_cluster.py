"""A real Dask distributed cluster on loopback for tests and benchmarks: `dask scheduler` and
`dask worker` processes, each bound to 127.0.0.1, no dashboard (it would bind every interface
by default). Needs the `cluster` extra. See docs/cluster.md for clusters across machines.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

from aicensus.errors import LabError
from aicensus.lab.processes import free_port

HOST = "127.0.0.1"


class LoopbackCluster:
    """One scheduler and `workers` single-threaded workers, separate processes on 127.0.0.1."""

    def __init__(self, workers: int, logs: Path, *, ready_timeout: float = 60.0) -> None:
        self.logs = logs
        self.ready_timeout = ready_timeout
        self.address = f"tcp://{HOST}:{free_port(HOST)}"
        self.scheduler: subprocess.Popen[bytes] | None = None
        self.workers: dict[str, subprocess.Popen[bytes]] = {}  # worker address -> process
        self.count = workers

    def __enter__(self) -> LoopbackCluster:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self, _t: type[BaseException] | None, _e: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        port = self.address.rsplit(":", 1)[1]
        self.scheduler = self._spawn(
            "scheduler", ["scheduler", "--host", HOST, "--port", port, "--no-dashboard"]
        )
        for _ in range(self.count):
            self.add_worker()
        self.wait_for_workers(self.count)

    def add_worker(self) -> str:
        """Start one more worker (--nthreads 1, no nanny: killing it kills the worker)."""
        port = free_port(HOST)
        argv = ["worker", self.address, "--host", HOST, "--worker-port", str(port)]
        argv += ["--nthreads", "1", "--nworkers", "1", "--no-nanny", "--no-dashboard"]
        argv += ["--local-directory", str(self.logs / f"worker-{port}")]
        address = f"tcp://{HOST}:{port}"
        self.workers[address] = self._spawn(f"worker-{port}", argv)
        return address

    def _spawn(self, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
        env = dict(os.environ)
        # The workers import this aicensus (a source checkout included) to run the shards.
        source = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [source, env.get("PYTHONPATH")]))
        log = (self.logs / f"{name}.log").open("wb")
        cmd = [sys.executable, "-c", "from dask.cli import run_cli; run_cli()", *argv]
        try:
            return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
        finally:
            log.close()

    def wait_for_workers(self, n: int) -> None:
        from distributed import Client

        deadline = time.monotonic() + self.ready_timeout
        while True:
            self._check_running()
            try:
                with Client(self.address, timeout=5, set_as_default=False) as client:
                    client.wait_for_workers(n, timeout=max(1.0, deadline - time.monotonic()))
                    return
            except (OSError, TimeoutError) as exc:
                if time.monotonic() > deadline:
                    raise LabError(f"the loopback Dask cluster did not start: {exc}") from None
                time.sleep(0.2)

    def _check_running(self) -> None:
        for name, proc in [("scheduler", self.scheduler), *self.workers.items()]:
            if proc is not None and proc.poll() is not None:
                raise LabError(f"dask {name} exited with {proc.returncode} (logs: {self.logs})")

    def kill_worker(self, address: str) -> None:
        """SIGKILL one worker process: no goodbye to the scheduler, its tasks are lost."""
        proc = self.workers.pop(address)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)

    def stop(self) -> None:
        procs = [*self.workers.values(), *([self.scheduler] if self.scheduler else [])]
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        self.workers.clear()
        self.scheduler = None
