"""The training loop: meta-steps over seeded episode batches, validation, checkpoints, events.

Meta-iteration ``i`` always trains on episodes ``i*T .. i*T+T-1`` of the training sampler, so a
run resumed from a checkpoint at iteration ``k`` sees exactly the episodes the uninterrupted run
would have seen, and its metrics match. Stop and pause are `threading.Event`s checked between
iterations, which is what lets a GUI thread stop a worker that is busy in its loop.
"""

from __future__ import annotations

import math
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from workbench.algorithms import DataInfo, Learner, build_learner
from workbench.config import ExperimentConfig, to_dict
from workbench.data.episodes import EpisodeBatch, Sampler
from workbench.engine import events as ev
from workbench.engine.episode_seeds import episode_seed
from workbench.engine.evaluate import EvaluationResult, evaluate
from workbench.engine.runs import RunStore
from workbench.errors import RunError, TrainingError, WorkbenchError

if TYPE_CHECKING:
    from workbench.engine.distributed.context import DistributedContext

ProgressFn = Callable[[float, str], None]


def pick_device(choice: str) -> torch.device:
    """``auto`` takes CUDA when present; asking for ``cuda`` (or one GPU, ``cuda:1``) that this
    machine does not have is a clear error."""
    if choice.startswith("cuda") and not torch.cuda.is_available():
        raise TrainingError(
            f"train.device is {choice} but no CUDA GPU is available; use auto or cpu"
        )
    if choice.startswith("cuda:") and int(choice[5:]) >= torch.cuda.device_count():
        count = torch.cuda.device_count()
        raise TrainingError(
            f"train.device is {choice} but this machine has {count} GPU(s), cuda:0 to "
            f"cuda:{count - 1}"
        )
    if choice.startswith("cuda") or (choice == "auto" and torch.cuda.is_available()):
        return torch.device(choice if choice != "auto" else "cuda")
    return torch.device("cpu")


def model_signature(learner: Learner) -> dict[str, list[int]]:
    """Parameter names and shapes: what a checkpoint must match to be loaded into a model."""
    return {k: list(v.shape) for k, v in learner.model.state_dict().items()}


def load_data(
    config: ExperimentConfig, progress: ProgressFn | None = None
) -> tuple[Sampler, Sampler, DataInfo]:
    """Training and validation samplers, and what the learner must know of the data. The
    images come from the shared cache of loaded splits, so a split the window has already
    loaded (to browse or adapt) is not loaded again."""
    from workbench.data.episodes import EpisodeSampler
    from workbench.data.registry import make_sampler

    train = make_sampler(config.data, "train", episode_seed(config, "train"), progress)
    val = make_sampler(config.data, "val", episode_seed(config, "val"), progress)
    info = DataInfo()
    if isinstance(train, EpisodeSampler):
        info = DataInfo(train.images.image_shape[0], tuple(train.images.class_names))
    return train, val, info


def check_checkpoint(state: dict[str, Any], learner: Learner, where: str) -> None:
    """A clear message, instead of a shape error, when a checkpoint belongs to another model."""
    saved = state.get("signature")
    mine = model_signature(learner)
    if saved is not None and saved != mine:
        cfg = state.get("config", {})
        alg = cfg.get("algorithm", {}).get("name", "?")
        model = cfg.get("model", {}).get("backbone", "?")
        ways = cfg.get("data", {}).get("ways", "?")
        diff = sorted(set(saved) ^ set(mine)) or [k for k in mine if saved.get(k) != mine[k]]
        raise RunError(
            f"{where} was saved by another architecture ({alg}, {model}, {ways}-way) and does "
            f"not fit this model (first difference: {diff[0]}: checkpoint "
            f"{saved.get(diff[0])} vs model {mine.get(diff[0])})"
        )
    try:
        learner.load_state_dict(state["learner"])
    except (RuntimeError, KeyError, ValueError) as exc:
        raise RunError(f"{where} does not fit this model: {str(exc).splitlines()[0]}") from None


class Trainer:
    """Runs meta-iterations and reports `TrainerEvent`s to its subscribers.

    Build one with `Trainer.create` (a new run folder) or `Trainer.resume` (an existing one);
    the constructor takes ready-made parts, which is what tests use.
    """

    def __init__(
        self,
        config: ExperimentConfig,
        learner: Learner,
        train_sampler: Sampler,
        val_sampler: Sampler | None,
        store: RunStore | None = None,
        *,
        start_iteration: int = 0,
        elapsed: float = 0.0,
        best: float | None = None,
        sync: DistributedContext | None = None,
    ) -> None:
        self.config = config
        self.learner = learner
        self.train_sampler = train_sampler
        self.val_sampler = val_sampler
        self.store = store
        self.iteration = start_iteration
        self.elapsed = elapsed
        self._prepared: tuple[int, EpisodeBatch] | None = None
        self.best = best  # best validation score so far (accuracy, or -loss for regression)
        self.last_checkpoint_iteration = start_iteration
        self.stop_event = threading.Event()
        self.pause_event = threading.Event()
        self._step_lock = threading.Lock()  # held during a meta-step; snapshots wait for it
        self._subscribers: list[ev.Subscriber] = []
        #: the other processes sharing each meta-batch (None: this process trains alone); see
        #: `workbench.engine.distributed`
        self.sync = sync

    # -- construction ------------------------------------------------------------------------
    @classmethod
    def create(
        cls,
        config: ExperimentConfig,
        runs_dir: str | Path | None = None,
        name: str | None = None,
        progress: ProgressFn | None = None,
        sync: DistributedContext | None = None,
    ) -> Trainer:
        """Validate, load data, build the learner and (with ``runs_dir``) a new run folder.

        The runs folder is checked for writing before any data is loaded, so a read-only folder
        is reported at once.
        """
        config.validate()
        if runs_dir is not None:
            from workbench.engine.runs import check_writable

            check_writable(Path(runs_dir))
        device = sync.device if sync is not None else pick_device(config.train.device)
        train, val, info = load_data(config, progress)
        learner = build_learner(config, info, device)
        store = RunStore.create(runs_dir, config, name) if runs_dir is not None else None
        note = getattr(getattr(train, "images", None), "meta", {}).get("split_note")
        if store is not None and note:  # which classes trained, which were held out
            store.write_summary(split_note=note)
        return cls(config, learner, train, val, store, sync=sync)

    @classmethod
    def resume(
        cls,
        run_dir: str | Path,
        progress: ProgressFn | None = None,
        sync: DistributedContext | None = None,
    ) -> Trainer:
        """Continue a stopped or interrupted run from ``checkpoints/last.pt``."""
        store = RunStore(run_dir)
        if not store.path.is_dir():
            raise RunError(f"no run folder at {store.path}")
        config = store.load_config()
        status = store.status()
        if status == "running":
            raise RunError(
                f"run {store.path.name} is still running (pid {store.read_summary().get('pid')})"
            )
        state = store.load_checkpoint("last")
        device = sync.device if sync is not None else pick_device(config.train.device)
        train, val, info = load_data(config, progress)
        learner = build_learner(config, info, device)
        check_checkpoint(state, learner, f"checkpoint {store.checkpoint_path('last')}")
        iteration = int(state["iteration"])
        if iteration >= config.train.iterations:
            raise RunError(f"run {store.path.name} already finished all {iteration} iterations")
        store.truncate_metrics(iteration)
        store.write_summary(status="running", iteration=iteration, resumed=time.time())
        return cls(
            config,
            learner,
            train,
            val,
            store,
            start_iteration=iteration,
            elapsed=float(state.get("elapsed", 0.0)),
            best=state.get("best"),
            sync=sync,
        )

    # -- control (thread-safe) ---------------------------------------------------------------
    def subscribe(self, callback: ev.Subscriber) -> None:
        self._subscribers.append(callback)

    def stop(self) -> None:
        self.stop_event.set()

    def pause(self) -> None:
        self.pause_event.set()

    def unpause(self) -> None:
        self.pause_event.clear()

    @property
    def total(self) -> int:
        return self.config.train.iterations

    # -- the loop ----------------------------------------------------------------------------
    def run(self) -> str:
        """Train until done, stopped or failed; returns ``finished``, ``stopped`` or ``failed``.

        Never raises for training problems: they become a ``failed`` event with a readable
        message (and the traceback in ``details``), and the last good checkpoint is kept.
        """
        where = f" in {self.store.path}" if self.store else ""
        try:
            self._emit(
                ev.STARTED,
                message=f"training on {self.learner.device}{where}" + self._inner_loop_text(),
            )
            status = self._loop()
        except WorkbenchError as exc:
            return self._fail(str(exc), traceback.format_exc())
        except torch.OutOfMemoryError:
            return self._fail(
                f"out of memory on {self.learner.device} at iteration {self.iteration + 1}: "
                f"try a smaller meta-batch (now {self.config.train.meta_batch_size}), fewer "
                "queries, or first-order training",
                traceback.format_exc(),
            )
        except Exception as exc:  # an unexpected bug: still a message, never a dead thread
            return self._fail(
                f"training failed: {type(exc).__name__}: {exc}", traceback.format_exc()
            )
        finally:
            if self.store is not None:
                self.store.close()
        return status

    def _inner_loop_text(self) -> str:
        """Which inner loop the learner will run (task-batched or per task, and why), for the
        log: the batched path's speed depends on it, and falling back is never silent."""
        describe = getattr(self.learner, "describe_path", None)
        if describe is None:
            return ""
        batch = self._batch(self.iteration)
        self._prepared = (self.iteration, batch)  # the first iteration takes it from here
        return f"; {describe(batch)}"

    def _batch(self, iteration: int) -> EpisodeBatch:
        """The meta-batch of ``iteration`` on the learner's device (the one sampled before the
        loop for the STARTED line is used, not sampled again)."""
        prepared, self._prepared = self._prepared, None
        if prepared is not None and prepared[0] == iteration:
            return prepared[1]
        size = self.config.train.meta_batch_size
        start, count = iteration * size, size
        if self.sync is not None:  # this process's contiguous share of the meta-batch
            start, count = self.sync.share(start, size)
        return self.train_sampler.batch(start, count).to(self.learner.device)

    def _loop(self) -> str:
        cfg = self.config.train
        tick = time.monotonic()
        while self.iteration < self.total:
            stop, pause = self._control()
            if stop:
                break
            if pause:
                self.elapsed += time.monotonic() - tick
                time.sleep(0.05)
                tick = time.monotonic()
                continue
            lr = self.meta_lr(self.iteration)
            self.learner.set_meta_lr(lr)
            batch = self._batch(self.iteration)
            with self._step_lock:
                metrics = self.learner.meta_step(batch, self.iteration)
            if self.sync is not None:  # the mean over the whole meta-batch, on every process
                metrics = self.sync.reduce_metrics(metrics)
            if not math.isfinite(metrics.loss):
                raise TrainingError(self._nan_message())
            self.iteration += 1
            now = time.monotonic()
            self.elapsed += now - tick
            tick = now
            self._emit(ev.ITERATION, {**metrics.values(), "meta_lr": lr})
            if (
                cfg.eval_every
                and self.val_sampler is not None
                and (self.iteration % cfg.eval_every == 0 or self.iteration == self.total)
            ):
                self._validate()
                tick = time.monotonic()
            if self.iteration % cfg.checkpoint_every == 0:
                self._checkpoint()
                tick = time.monotonic()
        finished = self.iteration >= self.total
        if self.iteration != self.last_checkpoint_iteration:  # not already saved just now
            self._checkpoint()
        status = ev.FINISHED if finished else ev.STOPPED
        if self.store is not None:
            self.store.write_summary(status=status, iteration=self.iteration, elapsed=self.elapsed)
        self._emit(status, message=str(self.store.path) if self.store else "")
        return status

    def _control(self) -> tuple[bool, bool]:
        """(stop, pause) for the next iteration: this process's own wish, or, with other
        processes, what they agreed (any one asking is enough), so all stop at the same one."""
        stop, pause = self.stop_event.is_set(), self.pause_event.is_set()
        return (stop, pause) if self.sync is None else self.sync.agree(stop, pause)

    def meta_lr(self, iteration: int) -> float:
        cfg = self.config.train
        if cfg.lr_schedule == "cosine":
            return cfg.meta_lr * 0.5 * (1 + math.cos(math.pi * iteration / max(1, self.total)))
        return cfg.meta_lr

    def _nan_message(self) -> str:
        a = self.config.algorithm
        kept = (
            f"; the last good checkpoint (iteration {self.last_checkpoint_iteration}) is kept"
            if self.store is not None and self.last_checkpoint_iteration > 0
            else ""
        )
        return (
            f"the loss became NaN or infinite at iteration {self.iteration + 1}. The likely cause "
            f"is a learning rate that is too large: algorithm.inner_lr is {a.inner_lr:g} and "
            f"train.meta_lr is {self.config.train.meta_lr:g}; lower them and start again{kept}"
        )

    def validate(self) -> EvaluationResult:
        """The fixed validation episodes, adapted with the training number of inner steps."""
        assert self.val_sampler is not None
        if self.sync is not None:  # each process adapts its share of the episodes
            return self.sync.evaluate(
                self.learner,
                self.val_sampler,
                self.config.train.val_episodes,
                self.config.algorithm.inner_steps,
            )
        return evaluate(
            self.learner,
            self.val_sampler,
            self.config.train.val_episodes,
            self.config.algorithm.inner_steps,
            split="val",
        )

    def _validate(self) -> None:
        result = self.validate()
        values: dict[str, float] = {
            "val_query_loss_pre": result.query_loss_per_step[0],
            "val_query_loss_post": result.query_loss_per_step[-1],
            "val_support_loss_pre": result.support_loss_per_step[0],
            "val_support_loss_post": result.support_loss_per_step[-1],
        }
        if result.accuracy is not None:
            values.update(
                val_query_accuracy_pre=result.query_accuracy_per_step[0],
                val_query_accuracy_post=result.accuracy,
                val_support_accuracy_pre=result.support_accuracy_per_step[0],
                val_support_accuracy_post=result.support_accuracy_per_step[-1],
                val_ci95=result.ci95 or 0.0,
            )
            score = result.accuracy
        else:
            values["val_ci95"] = result.mse_ci95 or 0.0
            score = -(result.mse or 0.0)
        self._emit(ev.EVALUATION, values)
        if self.best is None or score > self.best:
            self.best = score
            if self.store is not None:
                self._save("best")
                self.store.write_summary(
                    best_iteration=self.iteration,
                    best_accuracy=result.accuracy,
                    best_ci95=result.ci95 if result.accuracy is not None else result.mse_ci95,
                    best_mse=result.mse,
                )

    def snapshot(self) -> dict[str, Any]:
        """A consistent copy of the current learner state, safe to take from another thread
        (the adaptation viewer's "model being trained right now")."""
        import copy

        with self._step_lock:
            return {
                "learner": copy.deepcopy(self.learner.state_dict()),
                "iteration": self.iteration,
                "config": to_dict(self.config),
                "signature": model_signature(self.learner),
            }

    def checkpoint_state(self) -> dict[str, Any]:
        return {
            "learner": self.learner.state_dict(),
            "iteration": self.iteration,
            "elapsed": self.elapsed,
            "best": self.best,
            "config": to_dict(self.config),
            "signature": model_signature(self.learner),
        }

    def _save(self, kind: str) -> Path:
        assert self.store is not None
        try:
            return self.store.save_checkpoint(self.checkpoint_state(), kind)
        except OSError as exc:
            previous = (
                f"the previous checkpoint (iteration {self.last_checkpoint_iteration}) is intact"
                if self.store.has_checkpoint(kind)
                else "no earlier checkpoint exists"
            )
            raise TrainingError(
                f"could not write checkpoint {self.store.checkpoint_path(kind)}: "
                f"{exc.strerror or exc}; {previous}"
            ) from None

    def _checkpoint(self) -> None:
        if self.store is None:
            self.last_checkpoint_iteration = self.iteration
            return
        path = self._save("last")
        self.last_checkpoint_iteration = self.iteration
        self.store.write_summary(iteration=self.iteration, elapsed=self.elapsed)
        self._emit(ev.CHECKPOINT, message=str(path))

    def _fail(self, message: str, details: str) -> str:
        if self.store is not None:
            try:
                self.store.write_summary(
                    status="failed", error=message, iteration=self.last_checkpoint_iteration
                )
            except OSError:
                pass
        self._emit(ev.FAILED, message=message, details=details)
        return ev.FAILED

    def _emit(
        self,
        kind: str,
        values: dict[str, float] | None = None,
        message: str = "",
        details: str = "",
    ) -> None:
        event = ev.TrainerEvent(
            kind, self.iteration, self.total, self.elapsed, values or {}, message, details
        )
        if self.store is not None and kind != ev.STARTED:
            try:
                self.store.append_metric(
                    event.to_json() if kind != ev.FAILED else {**event.to_json(), "details": ""}
                )
            except OSError:
                pass  # the log is best effort; checkpoints report their own failures
        for callback in list(self._subscribers):
            callback(event)
