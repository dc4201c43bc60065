"""A distributed launch, checked before any process starts: a bad request is one clear error
here, never a hang of processes waiting for each other.

What is checked: the number of processes and machines; that every rank gets the same number of
tasks of each meta-batch; one GPU per process with NCCL; that the rendezvous port is free where
this machine hosts it; and that the algorithm's meta-step can be split at all.

Which algorithms split. Averaging the ranks' gradients gives the single-process meta-gradient
whenever the meta-loss is a mean of per-task losses and each task is computed on its own. That
holds for every gradient-based learner (``maml``, ``fomaml``, ``metasgd``, ``anil``, ``mamlpp``,
``protomaml``), for ``protonet`` (a mean of per-task prototype losses) and for ``reptile``
(whose meta-gradient is the mean of the per-task steps ``theta - phi_t``). BatchNorm running
statistics, updated in place task after task, are not gradients; they are merged exactly by
`running_stats`. The one exception is the ``finetune`` baseline on images: it pre-trains on the
whole meta-batch as a single supervised batch, so its BatchNorm layers normalise over all of the
meta-batch at once, and no split of the batch computes that function.
"""

from __future__ import annotations

import errno
import os
import socket
from dataclasses import dataclass

import torch

from workbench.config import ExperimentConfig, meta_batch_split_problem
from workbench.engine.distributed.devices import gpu_count
from workbench.errors import WorkbenchError


class LaunchError(WorkbenchError):
    """A distributed launch that cannot work as asked; the message says what to change."""


@dataclass(frozen=True)
class LaunchPlan:
    """A checked launch: ``nproc`` processes on this machine, ``nnodes`` machines in all; this
    is machine ``node_rank``. ``rdzv_endpoint`` is ``HOST:PORT`` (empty: this machine alone,
    any free port). ``backend`` is ``gloo`` (CPU) or ``nccl`` (one GPU per process)."""

    nproc: int
    nnodes: int = 1
    node_rank: int = 0
    rdzv_endpoint: str = ""
    rdzv_id: str = "workbench"
    rdzv_backend: str = "static"
    backend: str = "gloo"
    threads: int = 1

    @property
    def world(self) -> int:
        return self.nproc * self.nnodes


def split_problem(config: ExperimentConfig) -> str:
    """Why ``config``'s meta-step cannot be shared by several processes ('' when it can)."""
    if config.algorithm.name == "finetune" and config.data.dataset != "sinusoid":
        return (
            "the finetune baseline cannot be split over processes: it pre-trains on the whole "
            "meta-batch as one supervised batch, and its BatchNorm layers normalise over all of "
            "it at once, so each process normalising over its share would train another model. "
            "Train it in one process (it is plain supervised training, and fast)"
        )
    return ""


def backend_for(config: ExperimentConfig, nproc: int, gpus: int) -> str:
    """gloo on the CPU, NCCL with one GPU per process; an impossible request is an error."""
    device = config.train.device
    if device.startswith("cuda:"):
        raise LaunchError(
            f"train.device is {device}, one GPU, but each of the {nproc} processes takes a GPU "
            "of its own (cuda:LOCAL_RANK): set train.device to cuda or auto, and choose the "
            "GPUs with CUDA_VISIBLE_DEVICES (e.g. CUDA_VISIBLE_DEVICES=1,2 for --nproc 2)"
        )
    if device == "cpu" or (device == "auto" and gpus == 0):
        return "gloo"
    if gpus == 0:
        raise LaunchError("train.device is cuda but this machine has no CUDA GPU; use cpu")
    if nproc > gpus:
        raise LaunchError(
            f"--nproc {nproc} gives each process a GPU of its own (NCCL), but this machine has "
            f"{gpus} GPU{'s' if gpus != 1 else ''}: use --nproc {gpus}, or train.device=cpu "
            f"to run {nproc} processes on the CPU (gloo)"
        )
    if not torch.distributed.is_nccl_available():
        raise LaunchError("this PyTorch build has no NCCL; use train.device=cpu (gloo)")
    return "nccl"


def port_problem(endpoint: str) -> str:
    """Why the rendezvous ``HOST:PORT`` cannot be hosted here ('' if it can, or if the host
    is another machine: that machine's launch checks it)."""
    host, _, port_text = endpoint.rpartition(":")
    if not host or not port_text.isdigit() or not 0 <= int(port_text) < 65536:
        return f"--rdzv-endpoint {endpoint!r} is not HOST:PORT (e.g. 10.0.0.1:29400)"
    port = int(port_text)
    try:
        family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as exc:
        return f"--rdzv-endpoint host {host!r} cannot be resolved ({exc.strerror})"
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return (
                    f"port {port} on {host} is in use (another run, or another program), so "
                    "the processes could not meet there: choose another port with "
                    f"--rdzv-endpoint {host}:PORT"
                )
            if exc.errno == errno.EACCES:
                return f"port {port} needs privileges to open; choose one above 1023"
            # EADDRNOTAVAIL: another machine's address; that machine hosts the rendezvous
    return ""


def _count_problem(nproc: int, nnodes: int, node_rank: int, endpoint: str) -> str:
    if nproc < 1:
        return f"--nproc must be at least 1 (processes on this machine), got {nproc}"
    if nnodes < 1:
        return f"--nnodes must be at least 1 (machines taking part), got {nnodes}"
    if not 0 <= node_rank < nnodes:
        return f"--node-rank must be 0 to {nnodes - 1} for {nnodes} machines, got {node_rank}"
    if nnodes > 1 and not endpoint:
        return (
            f"training on {nnodes} machines needs --rdzv-endpoint HOST:PORT: an address of "
            "machine 0 that every machine reaches (the same on every machine)"
        )
    return ""


def plan_launch(
    config: ExperimentConfig,
    nproc: int,
    *,
    nnodes: int = 1,
    node_rank: int = 0,
    rdzv_endpoint: str = "",
    rdzv_id: str = "workbench",
    rdzv_backend: str = "static",
    gpus: int | None = None,
) -> LaunchPlan:
    """Check a launch of ``nproc`` processes on this machine (of ``nnodes``) for ``config``;
    ``gpus`` defaults to this machine's GPU count (tests pass another)."""
    problem = _count_problem(nproc, nnodes, node_rank, rdzv_endpoint)
    problem = problem or meta_batch_split_problem(config.train.meta_batch_size, nproc * nnodes)
    problem = problem or split_problem(config)
    if problem:
        raise LaunchError(problem)
    backend = backend_for(config, nproc, gpu_count() if gpus is None else gpus)
    if rdzv_endpoint and (node_rank == 0 or rdzv_backend == "c10d"):
        problem = port_problem(rdzv_endpoint)
        if problem:
            raise LaunchError(problem)
    threads = os.environ.get("OMP_NUM_THREADS", "")
    default = 1 if backend == "nccl" else max(1, (os.cpu_count() or 1) // nproc)
    return LaunchPlan(
        nproc,
        nnodes,
        node_rank,
        rdzv_endpoint,
        rdzv_id,
        rdzv_backend,
        backend,
        int(threads) if threads.isdigit() and int(threads) > 0 else default,
    )
