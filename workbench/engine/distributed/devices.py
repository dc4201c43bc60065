"""The devices training can use here: the CPU and each GPU, with its name and memory (what the
form's device picker lists; the values are what ``train.device`` accepts)."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class DeviceInfo:
    """``value`` is the ``train.device`` setting (``cpu``, ``cuda:0``...); ``label`` is what a
    person reads (``cuda:1 - NVIDIA RTX A5000, 24.0 GB``)."""

    value: str
    name: str
    memory_bytes: int

    @property
    def label(self) -> str:
        if not self.memory_bytes:
            return f"{self.value} - {self.name}"
        return f"{self.value} - {self.name}, {self.memory_bytes / 2**30:.1f} GB"


def gpu_count() -> int:
    """CUDA GPUs this process can use (0 without CUDA)."""
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def list_devices() -> list[DeviceInfo]:
    """The CPU (with its core count), then every GPU in index order."""
    cores = os.cpu_count() or 1
    devices = [DeviceInfo("cpu", f"CPU, {cores} core{'s' if cores != 1 else ''}", 0)]
    for index in range(gpu_count()):
        props = torch.cuda.get_device_properties(index)
        devices.append(DeviceInfo(f"cuda:{index}", props.name, int(props.total_memory)))
    return devices
