"""What a task's declarations become on a Ray cluster: the options of its Ray task (or actor).

Pure: nothing here imports ray, so the mapping is the same whether or not a cluster is reachable.

    Resources cpu request        -> num_cpus (1 when nothing is requested: Ray's own default for a task)
    Resources memory request     -> memory (bytes; Ray schedules by it, it does not enforce it)
    Resources gpu                -> num_gpus, plus accelerator_type where Ray names the device;
                                    TPU / Neuron / Gaudi devices -> Ray's custom resources for them
    Image pip packages           -> runtime_env pip (Ray builds a virtualenv on each node)
    Image requirements file      -> runtime_env pip (the file)
    Image uri, PodTemplate, ...  -> recorded in the action's placement reason, not applied
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from roost.core.k8s_pod import K8sPod
from roost.core.task_spec import TaskSpec
from roost.spec import image_layers as L
from roost.spec.debian_base import own_layers
from roost.spec.image import Image

# roost device names -> Ray accelerator types (ray.util.accelerators), where Ray has one.
_ACCELERATOR_TYPES = {
    "GPU": {
        "A10G": "A10G",
        "A100": "A100",
        "A100_80G": "A100-80G",
        "B200": "B200",
        "H100": "H100",
        "H200": "H200",
        "L4": "L4",
        "L40s": "L40S",
        "RTX_PRO_6000": "RTX-PRO-6000",
        "T4": "T4",
        "V100": "V100",
    },
    "AMD_GPU": {
        "MI100": "AMD-Instinct-MI100",
        "MI210": "AMD-Instinct-MI210",
        "MI250": "AMD-Instinct-MI250X-MI250",
        "MI250X": "AMD-Instinct-MI250X",
        "MI300A": "AMD-Instinct-MI300A",
        "MI300X": "AMD-Instinct-MI300X-OAM",
        "MI325X": "AMD-Instinct-MI325X-OAM",
        "MI350X": "AMD-Instinct-MI350X-OAM",
        "MI355X": "AMD-Instinct-MI355X-OAM",
    },
    "TPU": {"V5E": "TPU-V5LITEPOD", "V5P": "TPU-V5P", "V6E": "TPU-V6E"},
    "NEURON": {name: "aws-neuron-core" for name in ("Trn1", "Trn1n", "Trn2", "Trn2u", "Inf1", "Inf2")},
    "HABANA_GAUDI": {"Gaudi1": "Intel-GAUDI"},
}
# Devices Ray counts as resources of their own rather than as GPUs.
_CUSTOM_RESOURCE = {"TPU": "TPU", "NEURON": "neuron_cores", "HABANA_GAUDI": "HPU"}


@dataclass(frozen=True)
class RayOptions:
    """The options of one task's Ray tasks, and what of its declarations Ray does not apply."""

    # None: nothing requested. A task then takes 1 CPU (Ray's default for tasks); an actor Ray's
    # default for actors (1 CPU to be placed, none held while it lives).
    num_cpus: float | None
    memory: int | None = None
    num_gpus: float = 0
    accelerator_type: str | None = None
    resources: dict[str, float] = field(default_factory=dict)
    runtime_env: dict[str, Any] | None = None
    # Image variables are set by the wrapper with the task's own (no runtime_env: a runtime_env of
    # its own would give every such task fresh worker processes).
    image_env: dict[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def task_options(self) -> dict[str, Any]:
        """Keywords of ``remote_function.options(...)``. Ray must not retry on its own: retries are
        roost's policy, recorded attempt by attempt."""
        return {**self.actor_options(), "max_retries": 0, "num_cpus": self.cpus}

    @property
    def cpus(self) -> float:
        return 1.0 if self.num_cpus is None else self.num_cpus

    def actor_options(self) -> dict[str, Any]:
        """Keywords of ``ActorClass.options(...)``."""
        options: dict[str, Any] = {}
        if self.num_cpus is not None:
            options["num_cpus"] = self.num_cpus
        if self.memory:
            options["memory"] = self.memory
        if self.num_gpus:
            options["num_gpus"] = self.num_gpus
        if self.accelerator_type:
            options["accelerator_type"] = self.accelerator_type
        if self.resources:
            options["resources"] = dict(self.resources)
        if self.runtime_env:
            options["runtime_env"] = self.runtime_env
        return options

    def needs(self) -> dict[str, float]:
        """The cluster resources one task takes, in the names ``ray.cluster_resources()`` uses."""
        need: dict[str, float] = {"CPU": self.cpus}
        if self.memory:
            need["memory"] = float(self.memory)
        if self.num_gpus:
            need["GPU"] = self.num_gpus
        need.update(self.resources)
        if self.accelerator_type:
            need[f"accelerator_type:{self.accelerator_type}"] = 0.001
        return need


def shortfall(need: dict[str, float], total: dict[str, float]) -> str | None:
    """What the cluster lacks in total for ``need`` (None: it could run once the cluster is free)."""
    missing = [
        f"{name} {amount:g} (the cluster has {total.get(name, 0):g})"
        for name, amount in need.items()
        if amount > total.get(name, 0) + 1e-9
    ]
    return ", ".join(missing) or None


_DEFAULT_IMAGE: Image | None = None


def _is_default(image: Image) -> bool:
    global _DEFAULT_IMAGE
    if _DEFAULT_IMAGE is None:
        _DEFAULT_IMAGE = Image.from_debian_base()
    return image == _DEFAULT_IMAGE


def ray_options(spec: TaskSpec) -> RayOptions:
    """Map ``spec``'s resources, image and platform settings to Ray (see the module's table)."""
    r = spec.resources
    millicores = r.cpu_request or r.cpu_limit
    memory = r.memory_request or r.memory_limit
    notes: list[str] = []
    num_gpus = 0.0
    accelerator: str | None = None
    custom: dict[str, float] = {}
    if r.gpu is not None:
        device = r.gpu
        resource = _CUSTOM_RESOURCE.get(device.device_class)
        if resource is not None:
            custom[resource] = float(device.quantity)
        elif device.device_class == "APPLE_SILICON":
            notes.append("Apple Silicon GPU not scheduled by Ray")
        else:
            num_gpus = float(device.quantity)
        if device.device:
            accelerator = _ACCELERATOR_TYPES.get(device.device_class, {}).get(device.device)
            if accelerator is None:
                notes.append(f"accelerator {device.device} has no Ray accelerator_type (any {device.device_class})")
        if device.partition:
            notes.append(f"partition {device.partition} not applied")
    if r.cpu_enforced is not None or r.memory_enforced is not None:
        notes.append("limits not enforced")  # a scalar request is a limit on the platform too
    runtime_env, image_env = _image(spec, notes)
    if spec.pod_template_name or isinstance(spec.target, K8sPod):
        notes.append("PodTemplate recorded, not used")
    unapplied = {"interruptible": spec.interruptible, "queue": spec.queue, "service_account": spec.service_account}
    notes.extend(f"{name} not applied" for name, value in unapplied.items() if value)
    return RayOptions(
        num_cpus=millicores / 1000 if millicores else None,
        memory=memory,
        num_gpus=num_gpus,
        accelerator_type=accelerator,
        resources=custom,
        runtime_env=runtime_env,
        image_env=image_env,
        notes=tuple(notes),
    )


def _image(spec: TaskSpec, notes: list[str]) -> tuple[dict[str, Any] | None, dict[str, str]]:
    """The runtime_env of the task's image (its pip packages) and the variables it sets."""
    image = spec.image
    if image is None or _is_default(image):
        return None, {}
    pip: list[str] = []
    options: list[str] = []
    requirements: str | None = None
    env: dict[str, str] = {}
    for layer in own_layers(image):
        if isinstance(layer, L.PipPackages):
            pip.extend(layer.packages)
            if layer.index_url:
                options += ["--index-url", layer.index_url]
            for url in layer.extra_index_urls:
                options += ["--extra-index-url", url]
            if layer.pre:
                options.append("--pre")
        elif isinstance(layer, L.Requirements):
            requirements = str(layer.file)
        elif isinstance(layer, L.EnvVars):
            env.update(layer.env_vars)
        elif not isinstance(layer, (L.WorkDir, L.Labels)):
            notes.append(f"image layer {type(layer).__name__} not applied")
    # Ray runs tasks in the cluster's own image: the declared one is named, never pulled or built.
    notes.append(f"image {spec.image_uri or image.base_image} recorded, not pulled")
    runtime_env: dict[str, Any] | None = None
    if pip and requirements:
        notes.append(f"requirements file {requirements} not applied beside pip packages")
    if pip:
        runtime_env = {"pip": {"packages": pip, **({"pip_install_options": options} if options else {})}}
    elif requirements:
        runtime_env = {"pip": requirements}
    return runtime_env, env
