"""Compiling tasks to the seed-003 spec (roost.core): three tiers merged into one resolved form."""

from __future__ import annotations

import pytest

import roost as flyte
from roost.core.compile import compile_task
from roost.core.container import Container
from roost.core.k8s_pod import K8sObjectMetadata, K8sPod
from roost.core.resources import ResourceEntry, ResourceName, Resources
from roost.core.runtime_metadata import RuntimeMetadata

env = flyte.TaskEnvironment(
    name="compile-env",
    image="repo/app:1",
    env_vars={"LEVEL": "env"},
    secrets=["token"],
    resources=flyte.Resources(cpu=("500m", "1"), memory="1Gi"),
)


@env.task
def plain(x: int) -> int:
    return x


@env.task(resources=flyte.Resources(cpu="2", memory=("2Gi", "4Gi"), gpu="T4:1", disk="10GiB"), env_vars={"T": "1"})
def heavy(x: int) -> int:
    return x


def test_container_from_environment():
    spec = compile_task(plain)
    assert isinstance(spec.target, Container)
    c = spec.target
    assert c.image == "repo/app:1" and c.env == {"LEVEL": "env"}
    assert c.command == ["roost", "execute"] and c.args[-2:] == ["--name", "compile-env.plain"]
    assert c.resources.requests == [ResourceEntry(ResourceName.CPU, "500m"), ResourceEntry(ResourceName.MEMORY, "1Gi")]
    assert c.resources.limits == [ResourceEntry(ResourceName.CPU, "1")]
    assert spec.runtime.type is RuntimeMetadata.RuntimeType.FLYTE_SDK and spec.runtime.flavor == "python"
    assert [s.key for s in spec.secrets] == ["token"] and "token" not in str(c)
    assert spec.module == __name__ and spec.function == "plain" and spec.env_name == "compile-env"


def test_decorator_tier_beats_environment():
    spec = compile_task(heavy)
    c = spec.target
    assert isinstance(c, Container)
    assert c.env == {"LEVEL": "env", "T": "1"}
    assert c.resources.request(ResourceName.CPU) == "2" and c.resources.limit(ResourceName.CPU) is None
    assert c.resources.request(ResourceName.MEMORY) == "2Gi" and c.resources.limit(ResourceName.MEMORY) == "4Gi"
    assert c.resources.request(ResourceName.GPU) == "1" and c.resources.limit(ResourceName.GPU) == "1"
    assert c.resources.request(ResourceName.EPHEMERAL_STORAGE) == "10Gi"  # seed "10GiB" rendered canonically
    assert spec.resources.memory_limit == 4 * 1024**3 and spec.resources.gpu.device == "T4"


def test_override_tier_beats_decorator():
    o = heavy.override(env_vars={"O": "1"}, resources=flyte.Resources(cpu="3"), retries=2, timeout=30)
    spec = compile_task(o)
    assert spec.env_vars == {"O": "1"}  # override replaces, as on the platform
    assert spec.resources.cpu_request == 3000 and spec.retries.count == 2 and spec.max_runtime == 30
    assert compile_task(heavy).retries.count == 0  # the original is untouched


def test_pod_template_gives_a_k8s_pod():
    pt = flyte.PodTemplate(
        pod_spec={
            "containers": [
                {"name": "primary", "env": [{"name": "LEVEL", "value": "template"}, {"name": "KEEP", "value": "k"}]},
                {"name": "sidecar", "image": "busybox"},
            ],
            "nodeSelector": {"pool": "gpu"},
        },
        labels={"team": "ml"},
        annotations={"a": "b"},
    )
    spec = compile_task(plain.override(pod_template=pt))
    pod = spec.target
    assert isinstance(pod, K8sPod)
    assert pod.metadata == K8sObjectMetadata(labels={"team": "ml"}, annotations={"a": "b"})
    primary = pod.primary_container
    assert primary["image"] == "repo/app:1"
    assert primary["env"] == [{"name": "LEVEL", "value": "env"}, {"name": "KEEP", "value": "k"}]
    assert primary["resources"] == {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"cpu": "1"}}
    assert pod.pod_spec["nodeSelector"] == {"pool": "gpu"}
    assert pt.pod_spec["containers"][0]["env"][0]["value"] == "template"  # the template is not mutated


def test_pod_template_keeps_its_own_image_and_synthesises_primary():
    pt = flyte.PodTemplate(pod_spec={"containers": [{"name": "primary", "image": "custom:2"}]})
    assert compile_task(plain.override(pod_template=pt)).target.primary_container["image"] == "custom:2"
    bare = flyte.PodTemplate(pod_spec={"containers": []}, primary_container_name="main")
    pod = compile_task(plain.override(pod_template=bare)).target
    assert pod.primary_container["name"] == "main" and pod.primary_container["image"] == "repo/app:1"


def test_shm_becomes_a_memory_volume():
    shm_env = flyte.TaskEnvironment(name="shm-env", resources=flyte.Resources(shm="1Gi"))

    @shm_env.task
    def t() -> None: ...

    pod = compile_task(t.override(pod_template=flyte.PodTemplate(pod_spec={"containers": []}))).target
    assert {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": "1Gi"}} in pod.pod_spec["volumes"]


def test_named_cluster_template_is_recorded():
    spec = compile_task(plain.override(pod_template="gpu-template"))
    assert isinstance(spec.target, Container) and spec.pod_template_name == "gpu-template"


def test_compile_surfaces_serialization_errors():
    bad_env = flyte.TaskEnvironment(name="bad-env", env_vars={"N": 1})  # type: ignore[dict-item]

    @bad_env.task
    def t() -> None: ...

    with pytest.raises(TypeError, match=r"env_vars\['N'\] must be a str"):
        compile_task(t)

    @env.task(timeout="soon")  # type: ignore[arg-type]
    def late() -> None: ...

    with pytest.raises(ValueError, match="timeout"):
        compile_task(late)
    with pytest.warns(UserWarning, match="memory"):
        lots = flyte.Resources(memory="lots")
    with pytest.raises(ValueError, match="memory: 'lots'"):
        compile_task(plain.override(resources=lots))


def test_process_reasons_state_the_auto_rule():
    bare = flyte.TaskEnvironment(name="bare-env")

    @bare.task
    def fast(x: int) -> int:
        return x

    @bare.task(timeout=5)
    def bounded_sync() -> None: ...

    @bare.task(timeout=5)
    async def bounded_async() -> None: ...

    assert compile_task(fast).process_reasons == ()
    assert compile_task(bounded_sync).process_reasons == ("timeout on sync task",)
    assert compile_task(bounded_async).process_reasons == ()
    assert compile_task(plain).process_reasons == ("env_vars", "secrets", "resource limits")
    reuse = flyte.TaskEnvironment(name="reuse-env", reusable=flyte.ReusePolicy())

    @reuse.task
    def warm() -> None: ...

    assert compile_task(warm).process_reasons == ("reusable",)
    pkg = flyte.TaskEnvironment(name="pkg-env", image=flyte.Image.from_debian_base().with_pip_packages("six"))

    @pkg.task
    def uses_six() -> None: ...

    assert compile_task(uses_six).process_reasons == ("image packages",)
    # A single value is a request that is enforced as the limit too: only a process can apply it.
    sized = flyte.TaskEnvironment(name="sized-env", resources=flyte.Resources(memory="200Mi"))

    @sized.task
    def small() -> None: ...

    spec = compile_task(small)
    assert spec.process_reasons == ("resource limits",)
    assert spec.resources.to_k8s() == ({"memory": "200Mi"}, {})  # the compiled spec keeps a request only


def test_seed_003_objects_construct():
    container_resources = Resources(
        requests=[ResourceEntry(name=ResourceName.CPU, value="250m")],
        limits=[ResourceEntry(name=ResourceName.MEMORY, value="500Mi")],
    )
    my_container = Container(
        image="python:3.9-slim-buster",
        command=["python"],
        args=["-c", "print('Hello from container!')"],
        resources=container_resources,
        env={"MY_ENV_VAR": "some_value", "DEBUG_MODE": "true"},
        config={},
    )
    assert my_container.resources.requests[0].value == "250m"
    pod = K8sPod(
        metadata=K8sObjectMetadata(labels={"environment": "production"}, annotations={"owner": "ds"}),
        pod_spec={"containers": [{"name": "main-container", "image": "python:3.9"}], "nodeSelector": {"a": "b"}},
        primary_container_name="main-container",
    )
    assert pod.metadata.labels["environment"] == "production" and pod.pod_spec["nodeSelector"] == {"a": "b"}
    assert pod.primary_container["image"] == "python:3.9"
