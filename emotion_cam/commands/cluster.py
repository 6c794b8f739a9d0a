"""Many videos on a Dask cluster: the local batch's jobs, one Dask task each, for a lab that already runs one.

The engine is Dask's ``distributed`` (the optional ``[cluster]`` extra): a scheduler someone started
(``dask scheduler`` and ``dask worker`` by hand, dask-jobqueue on Slurm/PBS, dask-kubernetes), or
``local``, an in-process ``LocalCluster`` of single-threaded worker processes. Each task is
``batch.run_one``: the worker reads the video and writes its outputs itself, through the same
temporary-file-then-rename path as the local batch, so the output folder must be one every worker sees.

Faults are Dask's to handle: the scheduler gives a lost worker's tasks to another worker, and a task
that raises is retried (``RETRIES``); only the dead worker's temporary file is lost, and it is removed
when the batch ends. A video that fails on every try is reported with the others' outcomes, as locally.
"""
from __future__ import annotations

import sys
import threading
import uuid
from contextlib import ExitStack
from pathlib import Path

from tqdm import tqdm

from emotion_cam.commands.batch import Job, Outcome, run_one
from emotion_cam.media.outputs import remove_leftovers, write_bytes

RETRIES = 2  # per task, for exceptions the task raises; a lost worker's tasks are rescheduled by Dask itself
CONNECT_TIMEOUT_S = 10
WORKERS_TIMEOUT_S = 120  # a queue-backed cluster (Slurm, Kubernetes) may take a while to start its first worker
INSTALL = "pip install 'emotion-cam[cluster]'"


class ClusterError(Exception):
    """The cluster cannot take the batch (the extra is missing, no scheduler, a folder the workers do not see);
    raised before anything is submitted."""


def require() -> None:
    """Dask's ``distributed`` is there, or one line says what to install."""
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise ClusterError(f"--scheduler needs Dask's distributed package: {INSTALL}") from None


def connect(scheduler: str, workers: int, stack: ExitStack):
    """A ``Client`` of the scheduler at ``scheduler``, or of a ``LocalCluster`` of ``workers`` processes for
    ``local``; closed (and the local cluster shut down) when ``stack`` closes."""
    require()
    from distributed import Client, LocalCluster

    if scheduler == "local":
        import logging

        cluster = stack.enter_context(LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                                   dashboard_address=None, silence_logs=logging.ERROR))
        return stack.enter_context(Client(cluster))
    try:
        client = stack.enter_context(Client(scheduler, timeout=CONNECT_TIMEOUT_S))
    except (OSError, TimeoutError, ValueError) as exc:
        raise ClusterError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
    try:
        client.wait_for_workers(1, timeout=WORKERS_TIMEOUT_S)
    except TimeoutError:
        raise ClusterError(f"no Dask worker joined the scheduler at {scheduler} within {WORKERS_TIMEOUT_S} s") from None
    return client


def _sees(path: str, token: str) -> bool:
    """On a worker: whether it reads the probe file the client wrote."""
    try:
        return Path(path).read_text() == token
    except OSError:
        return False


def check_shared(client, folder: Path) -> None:
    """Every connected worker reads a file the client wrote into ``folder``, or nothing is submitted."""
    token = uuid.uuid4().hex
    probe = write_bytes(folder / f".emotion-cam-probe-{token[:8]}", token.encode())
    try:
        seen = client.run(_sees, str(probe.resolve()), token)
    finally:
        probe.unlink(missing_ok=True)
    blind = sorted(worker for worker, ok in seen.items() if not ok)
    if blind:
        raise ClusterError(f"{len(blind)} of {len(seen)} Dask workers do not see {folder} (first: {blind[0]}): "
                           f"--out-dir must be a folder on a file system every worker shares")


_configured = threading.Lock()
_settings_made = False


def run_on_worker(job: Job, config=None) -> Outcome:
    """``run_one`` on a Dask worker: the worker process's OpenCV threads are set once, by its first task; the
    models are loaded once per worker thread (``run_one`` keeps them) rather than sent with every task."""
    global _settings_made
    with _configured:
        if not _settings_made:
            from emotion_cam.process import configure

            configure(config.threads if config is not None else 1)
            _settings_made = True
    return run_one(job, config)


def run_on_cluster(jobs: list[Job], scheduler: str, workers: int, config=None, progress: bool = True) -> list[Outcome]:
    """``jobs`` (those to do) as tasks on the cluster; outcomes in the jobs' order. Ctrl+C or SIGTERM cancels
    the tasks not finished (a video a remote worker has started may still complete there) and is raised."""
    if not jobs:
        return []
    folder = Path(jobs[0].csv).parent
    outcomes: dict[str, Outcome] = {}
    try:
        with ExitStack() as stack:
            client = connect(scheduler, workers, stack)
            check_shared(client, folder)
            from distributed import as_completed

            futures = {client.submit(run_on_worker, job, config, key=f"emotion-cam-{Path(job.csv).stem}-{uuid.uuid4().hex[:8]}",
                                     retries=RETRIES, pure=False): job for job in jobs}
            bar = stack.enter_context(tqdm(total=len(jobs), unit="video", disable=not progress, file=sys.stderr))
            try:
                for future in as_completed(futures):
                    job = futures[future]
                    try:
                        outcomes[job.source] = future.result()
                    except Exception as exc:  # failed on every try, or the workers running it kept dying
                        outcomes[job.source] = Outcome(job.source, error=f"{job.source}: {type(exc).__name__}: {exc}")
                    bar.update()
            except BaseException:
                client.cancel(list(futures))
                raise
    finally:
        if scheduler == "local" or len(outcomes) == len(jobs):  # no task of ours can still be writing
            for job in jobs:
                remove_leftovers(job.csv, job.mp4)
    return [outcomes[j.source] for j in jobs]
