"""Training in several processes that share each meta-batch (several GPUs, or machines).

Tasks of a meta-batch are independent, so each process (a *rank*) takes a contiguous share of
the meta-batch, computes its meta-gradient locally (first or second order, through the ordinary
learner), and the gradients are averaged with one ``all_reduce`` before the optimiser step.
The union of the shares is exactly the meta-batch one process would train on with the same
seed, so the per-iteration losses and the parameters are those of one process (to float
rounding). `DistributedDataParallel` is not used: it does not support double backward
(pytorch issues 47562 and 63812), which second-order MAML needs.

The processes are started by ``torchrun`` (`torch.distributed.run`); nothing here manages
processes by hand.

| module | job |
|---|---|
| `plan` | checks a launch before any process starts (processes, GPUs, meta-batch, port, algorithm) |
| `launch` | the ``torchrun`` command line and the running launch: control, progress, failures |
| `agent` | what the launch runs: ``torchrun``'s own ``main``, with its failures written as JSON |
| `worker` | one rank: joins the process group, builds or resumes the `Trainer`, trains |
| `context` | `DistributedContext`: what the `Trainer` asks of the other ranks |
| `running_stats` | BatchNorm running statistics merged as if one process had updated them |
| `shares` | which tasks and validation episodes each rank takes |
| `follow` | the run's metrics log, followed as it grows (progress of a launch) |
| `devices` | the CPU and each GPU, with name and memory (the form's device picker) |
"""
