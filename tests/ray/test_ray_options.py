"""What declarations become on Ray (pure: no cluster needed)."""

from __future__ import annotations

import roost as flyte
from roost.core.compile import compile_task
from roost.runtime.engine.executors.ray_options import ray_options, shortfall

gpu_env = flyte.TaskEnvironment(
    name="ray_gpu", resources=flyte.Resources(cpu=(2, 4), memory="1Gi", gpu="A100:2"), interruptible=True
)
plain = flyte.TaskEnvironment(name="ray_opts_plain")
image_env = flyte.TaskEnvironment(
    name="ray_img",
    image=flyte.Image.from_debian_base().with_pip_packages("requests==2.32.3").with_env_vars({"MODE": "fast"}),
)
tpu_env = flyte.TaskEnvironment(name="ray_tpu", resources=flyte.Resources(gpu=flyte.TPU("V5E", "2x2")))


@gpu_env.task
def on_gpu() -> None: ...


@plain.task
def nothing() -> None: ...


@image_env.task
def with_packages() -> None: ...


@tpu_env.task
def on_tpu() -> None: ...


def test_resources_map_to_ray_options():
    options = ray_options(compile_task(on_gpu))
    task = options.task_options()
    assert task["num_cpus"] == 2 and task["memory"] == 1 << 30 and task["num_gpus"] == 2
    assert task["accelerator_type"] == "A100" and task["max_retries"] == 0
    assert "limits not enforced" in options.notes and "interruptible not applied" in options.notes
    assert options.needs() == {"CPU": 2, "memory": float(1 << 30), "GPU": 2, "accelerator_type:A100": 0.001}


def test_nothing_requested_is_one_cpu_for_a_task_and_ray_defaults_for_an_actor():
    options = ray_options(compile_task(nothing))
    assert options.task_options() == {"max_retries": 0, "num_cpus": 1.0}
    assert options.actor_options() == {} and options.notes == () and options.runtime_env is None


def test_image_packages_become_a_runtime_env_and_the_image_is_recorded():
    options = ray_options(compile_task(with_packages))
    assert options.runtime_env == {"pip": {"packages": ["requests==2.32.3"]}}
    assert options.image_env == {"MODE": "fast"}
    assert any(note.startswith("image ") and "recorded, not pulled" in note for note in options.notes)


def test_tpus_are_a_ray_resource():
    options = ray_options(compile_task(on_tpu))
    assert options.resources == {"TPU": 1.0} and options.num_gpus == 0
    assert options.accelerator_type == "TPU-V5LITEPOD"


def test_shortfall_names_what_the_cluster_lacks():
    assert shortfall({"CPU": 3}, {"CPU": 2.0}) == "CPU 3 (the cluster has 2)"
    assert shortfall({"CPU": 1, "GPU": 1}, {"CPU": 2.0}) == "GPU 1 (the cluster has 0)"
    assert shortfall({"CPU": 2}, {"CPU": 2.0}) is None
