"""Every example in the seed documents, adapted only by its import, constructs on roost.

Each snippet is the seed's text with ``flyte``/``flytekit``/``your_module`` imports pointed at
roost (and the standard-library imports the seed's other snippets show). Where a seed example
breaks the seed's own stated rules, the test shows roost raising the documented error instead
(see docs/compatibility.md).
"""

from __future__ import annotations

import sys
import textwrap
import types
from dataclasses import dataclass

import pytest

import roost as flyte
from roost.extend import TaskPluginRegistry
from roost.task import AsyncFunctionTaskTemplate

PRELUDE = """
import asyncio
from datetime import timedelta
from pathlib import Path
"""


def run_snippet(code: str, **extra: object) -> dict[str, object]:
    # A real module, so that the functions defined in a snippet have a module that inspect can find.
    name = f"seed_snippet_{abs(hash(code))}"
    module = types.ModuleType(name)
    module.__dict__.update(extra)
    sys.modules[name] = module
    exec(compile(PRELUDE + textwrap.dedent(code), f"<{name}>", "exec"), module.__dict__)
    return module.__dict__


@dataclass
class MyPluginConfig:
    param: str = "default"


class MyPluginTask(AsyncFunctionTaskTemplate):
    """Stands for the plugin the seed assumes is registered for MyPluginConfig."""


def test_000_base_environment_and_dependencies():
    ns = run_snippet(
        """
        from roost import Environment, Resources
        my_base_env = Environment(
            name="my-base-env",
            image="ubuntu:22.04",
            resources=Resources(cpu="500m", memory="512Mi"),
            env_vars={"DEBUG": "true"},
            description="A base environment for general utilities."
        )
        db_env = Environment(name="database-env", image="postgres:14")
        app_env = Environment(name="application-env", image="my-app:latest")
        app_env.add_dependency(db_env)
        """
    )
    assert ns["app_env"].depends_on == [ns["db_env"]]
    with pytest.raises(NotImplementedError):
        ns["my_base_env"].clone_with(name="x")


MY_TASK_ENV = """
from roost import TaskEnvironment, Resources, ReusePolicy
my_task_env = TaskEnvironment(
    name="data-processing-env",
    image="my-data-image:1.0",
    resources=Resources(cpu="1", memory="2Gi"),
    cache="enable", # Enable caching by default for tasks in this environment
    reusable=ReusePolicy(concurrency=4), # Allow reusing processes with 4 concurrent tasks
    plugin_config=MyPluginConfig(param="custom_value"),
    description="Environment for data processing tasks with caching and reuse."
)
@my_task_env.task
async def preprocess_data(input_path: str) -> str:
    '''
    Preprocesses raw data from the given input path.
    '''
    print(f"Preprocessing data from {input_path} in {my_task_env.name}")
    await asyncio.sleep(1) # Simulate async work
    output_path = f"{input_path}_processed"
    return output_path
"""

ANALYZE_RESULTS = """
@my_task_env.task(cache="disable", retries=3, timeout=timedelta(minutes=5))
def analyze_results(processed_data_path: str):
    '''
    Analyzes the processed data. This task overrides the environment's cache policy.
    '''
    print(f"Analyzing results from {processed_data_path} in {my_task_env.name}")
    # Simulate synchronous work
    return "analysis_report.txt"
"""


def test_000_reusable_plugin_env_breaks_the_seeds_own_rules():
    # Seed 000 says plugin_config cannot be set on a reusable environment, then does so.
    TaskPluginRegistry._plugins.pop(MyPluginConfig, None)
    with pytest.raises(ValueError, match="Cannot set plugin_config when environment 'data-processing-env' is reusable"):
        run_snippet(MY_TASK_ENV, MyPluginConfig=MyPluginConfig)
    # With a plugin that supports reuse registered, the environment and the async task construct,
    # but the sync task breaks the seed's other rule: concurrency > 1 needs async tasks.
    reusable_plugin = type("ReusablePlugin", (MyPluginTask,), {"supports_reuse": True})
    TaskPluginRegistry.register(MyPluginConfig, reusable_plugin)
    try:
        ns = run_snippet(MY_TASK_ENV, MyPluginConfig=MyPluginConfig)
        assert list(ns["my_task_env"].tasks) == ["data-processing-env.preprocess_data"]
        assert type(ns["preprocess_data"]) is reusable_plugin
        with pytest.raises(ValueError, match="concurrency 4, which is only supported for async tasks"):
            exec(ANALYZE_RESULTS, ns)
    finally:
        TaskPluginRegistry._plugins.pop(MyPluginConfig, None)


def test_000_the_same_tasks_without_the_contradiction():
    without_reuse = MY_TASK_ENV.replace(
        "    reusable=ReusePolicy(concurrency=4), # Allow reusing processes with 4 concurrent tasks\n", ""
    )
    listing = 'print(f"Tasks in {my_task_env.name}: {list(my_task_env.tasks.keys())}")\n'
    TaskPluginRegistry.register(MyPluginConfig, MyPluginTask)
    try:
        ns = run_snippet(without_reuse + ANALYZE_RESULTS + listing, MyPluginConfig=MyPluginConfig)
    finally:
        TaskPluginRegistry._plugins.pop(MyPluginConfig, None)
    assert list(ns["my_task_env"].tasks) == [
        "data-processing-env.preprocess_data",
        "data-processing-env.analyze_results",
    ]
    assert ns["analyze_results"].cache.behavior == "disable"
    assert ns["preprocess_data"].cache.behavior == "auto"  # "enable" is an alias of "auto"


def test_000_advanced_configuration():
    TaskPluginRegistry.register(MyPluginConfig, MyPluginTask)
    try:
        ns = run_snippet(
            """
            import roost as flyte
            from roost import TaskEnvironment, Resources, ReusePolicy, Environment, SecretRequest
            high_resource_env = TaskEnvironment(
                name="heavy-compute-env",
                image="my-ml-image:gpu",
                resources=Resources(cpu="4", memory="16Gi", gpu="1"), # Assuming GPU is supported by Resources
                description="Environment for GPU-accelerated machine learning tasks."
            )
            secure_env = TaskEnvironment(
                name="secure-api-env",
                image="my-api-image:latest",
                env_vars={"API_VERSION": "v2"},
                secrets=SecretRequest(key="my-api-key"), # Assumes SecretRequest handles fetching the secret
                description="Environment for API services with environment variables and secrets."
            )
            data_source_env = Environment(name="data-source", image="my-data-source:latest")
            etl_env = TaskEnvironment(
                name="etl-pipeline",
                image="my-etl-image:latest",
                depends_on=[data_source_env],
                description="ETL environment that depends on a data source."
            )
            cached_env = TaskEnvironment(name="cached-tasks", image="python:3.9", cache="enable")
            @cached_env.task
            def expensive_calculation(x: int, y: int) -> int:
                # This task's results will be cached
                return x + y
            @cached_env.task(cache="disable")
            def non_cached_operation(data: str) -> str:
                return data.upper()
            async_reusable_env = TaskEnvironment(
                name="async-reusable-env",
                image="python:3.10-slim",
                reusable=ReusePolicy(concurrency=8), # Allows up to 8 concurrent async tasks in the same process
                description="Environment for highly concurrent async tasks."
            )
            @async_reusable_env.task
            async def process_item(item_id: str) -> str:
                await asyncio.sleep(0.1) # Simulate quick async processing
                return f"Processed {item_id}"
            custom_plugin_env = TaskEnvironment(
                name="custom-task-env",
                image="my-custom-plugin-image:latest",
                plugin_config=MyPluginConfig(param="special_setting"),
                description="Environment for tasks using a custom plugin."
            )
            @custom_plugin_env.task
            def run_custom_job():
                print("Running a job with custom plugin configuration.")
            dev_env = TaskEnvironment(name="dev-env", image="my-app:dev", resources=Resources(cpu="500m"))
            prod_env = dev_env.clone_with(
                name="prod-env",
                image="my-app:prod",
                resources=Resources(cpu="2", memory="4Gi"),
                cache="enable"
            )
            print(f"Dev Env Image: {dev_env.image}, Prod Env Image: {prod_env.image}")
            print(f"Dev Env CPU: {dev_env.resources.cpu}, Prod Env CPU: {prod_env.resources.cpu}")
            """,
            MyPluginConfig=MyPluginConfig,
        )
    finally:
        TaskPluginRegistry._plugins.pop(MyPluginConfig, None)
    assert ns["high_resource_env"].resources.get_device().quantity == 1
    assert ns["secure_env"].secrets.as_env_var == "MY_API_KEY"
    assert ns["expensive_calculation"](2, 3) == 5 and ns["non_cached_operation"]("a") == "A"
    assert type(ns["run_custom_job"]) is MyPluginTask
    assert ns["prod_env"].image == "my-app:prod" and ns["dev_env"].image == "my-app:dev"


def test_000_adding_tasks_dynamically():
    ns = run_snippet(
        """
        from roost import TaskEnvironment, AsyncFunctionTaskTemplate
        from roost.task import MAX_INLINE_IO_BYTES
        dynamic_env = TaskEnvironment(name="dynamic-env", image="python:3.9")
        def my_dynamic_func():
            print("This is a dynamically added task.")
        # Create a TaskTemplate instance (simplified for example)
        dynamic_task_template = AsyncFunctionTaskTemplate(
            func=my_dynamic_func,
            name="dynamic-env.my_dynamic_task",
            image=dynamic_env.image,
            resources=dynamic_env.resources,
            cache="disable", retries=0, timeout=0, reusable=None, docs=None, env_vars=None, secrets=None, pod_template=None, parent_env=None, interface=None, report=False, short_name="my_dynamic_task", plugin_config=None, max_inline_io_bytes=MAX_INLINE_IO_BYTES
        )
        dynamic_env.add_task(dynamic_task_template)
        print(f"Tasks in dynamic_env: {list(dynamic_env.tasks.keys())}")
        """  # noqa: E501
    )
    assert list(ns["dynamic_env"].tasks) == ["dynamic-env.my_dynamic_task"]


def test_001_environments_and_reuse_policies():
    with pytest.warns(UserWarning, match="at most 1 replica"):
        ns = run_snippet(
            """
            import roost as flyte
            from roost import ReusePolicy
            env = flyte.TaskEnvironment(name="analytics_env")
            @env.task
            async def process_data():
                ...
            base_env = flyte.TaskEnvironment(
                name="base",
                image="my-custom-image:v1",
                resources=flyte.Resources(cpu="2", memory="4Gi")
            )
            # Create a high-memory variant for a specific task
            high_mem_env = base_env.clone_with(
                name="high-mem",
                resources=flyte.Resources(memory="16Gi")
            )
            policy = ReusePolicy()
            high_concurrency_policy = ReusePolicy(
                replicas=(2, 5), # Maintain between 2 and 5 replicas
                idle_ttl=timedelta(minutes=5), # Keep idle environments for 5 minutes
                concurrency=10, # Allow up to 10 concurrent tasks per replica (for async tasks)
                scaledown_ttl=timedelta(minutes=2) # Wait 2 minutes before scaling down an idle replica
            )
            cost_sensitive_policy = ReusePolicy(
                replicas=1, # Only one replica, use with caution for starvation
                idle_ttl=timedelta(seconds=60), # Shut down idle environments after 60 seconds
                concurrency=1 # Default concurrency
            )
            """
        )
    assert ns["process_data"].name == "analytics_env.process_data"
    assert ns["high_mem_env"].resources == flyte.Resources(memory="16Gi")
    assert ns["policy"].replicas == (2, 2) and ns["high_concurrency_policy"].max_replicas == 5


def test_003_compiled_spec_objects():
    ns = run_snippet(
        """
        from roost.core.resources import Resources, ResourceEntry, ResourceName
        from roost.core.container import Container
        from roost.core.k8s_pod import K8sPod, K8sObjectMetadata
        resource_requests = [
            ResourceEntry(name=ResourceName.CPU, value="500m"), # 0.5 CPU
            ResourceEntry(name=ResourceName.MEMORY, value="1Gi"), # 1 Gigabyte of memory
        ]
        resource_limits = [
            ResourceEntry(name=ResourceName.CPU, value="1"), # 1 CPU
            ResourceEntry(name=ResourceName.MEMORY, value="2Gi"), # 2 Gigabytes of memory
        ]
        task_resources = Resources(requests=resource_requests, limits=resource_limits)
        print(f"CPU Request: {task_resources.requests[0].value}")
        print(f"Memory Limit: {task_resources.limits[0].value}")
        container_resources = Resources(
            requests=[ResourceEntry(name=ResourceName.CPU, value="250m")],
            limits=[ResourceEntry(name=ResourceName.MEMORY, value="500Mi")],
        )
        container_env = {
            "MY_ENV_VAR": "some_value",
            "DEBUG_MODE": "true",
        }
        my_container = Container(
            image="python:3.9-slim-buster",
            command=["python"],
            args=["-c", "print('Hello from container!')"],
            resources=container_resources,
            env=container_env,
            config={},
        )
        pod_metadata = K8sObjectMetadata(
            labels={"environment": "production", "app": "my-ml-task"},
            annotations={"owner": "data-science-team"},
        )
        pod_spec_dict = {
            "containers": [
                {
                    "name": "main-container",
                    "image": "python:3.9-slim-buster",
                    "command": ["python"],
                    "args": ["-c", "print('Hello from custom K8s Pod!')"],
                    "resources": {
                        "requests": {"cpu": "250m", "memory": "500Mi"},
                        "limits": {"cpu": "1", "memory": "1Gi"},
                    },
                },
                {
                    "name": "sidecar-logger",
                    "image": "busybox",
                    "command": ["sh", "-c", "while true; do echo 'Sidecar logging...'; sleep 5; done"],
                    "resources": {
                        "requests": {"cpu": "50m", "memory": "50Mi"},
                    },
                },
            ],
            "nodeSelector": {"kubernetes.io/hostname": "my-specific-node"},
        }
        my_k8s_pod = K8sPod(
            metadata=pod_metadata,
            pod_spec=pod_spec_dict,
            primary_container_name="main-container", # Specify which container is the primary one
        )
        print(f"Pod Labels: {my_k8s_pod.metadata.labels}")
        print(f"Pod Spec Node Selector: {my_k8s_pod.pod_spec['nodeSelector']}")
        """
    )
    assert ns["task_resources"].limits[1].value == "2Gi"
    assert ns["my_k8s_pod"].primary_container["name"] == "main-container"


def test_004_core_concepts():
    ns = run_snippet(
        """
        import roost as flyte
        from roost import TaskEnvironment, Resources, ReusePolicy, Image, RetryStrategy, Timeout
        from roost import Device, Secret, Cache
        my_base_env = TaskEnvironment(
            name="my-ml-env",
            image=Image.from_debian_base().with_pip_packages("scikit-learn", "pandas"),
            resources=Resources(cpu="1", memory="2Gi"),
            reusable=ReusePolicy(replicas=2, idle_ttl=timedelta(minutes=5)),
        )
        production_env = my_base_env.clone_with(
            name="my-ml-production-env",
            resources=Resources(cpu="2", memory="4Gi", gpu="T4:1"),
            cache="override",
        )
        my_env = TaskEnvironment(
            name="data-processing-env",
            image="my-custom-image:latest",
            resources=Resources(cpu="0.5", memory="1Gi"),
        )
        @my_env.task(
            short_name="fetch-data",
            retries=3,
            timeout=timedelta(minutes=10),
        )
        async def fetch_raw_data(source_url: str) -> str:
            # Simulate fetching data
            await asyncio.sleep(1)
            return f"Data from {source_url}"
        @my_env.task(
            resources=Resources(cpu="1", memory="2Gi"), # Override environment resources
            cache="disable", # Disable caching for this task
        )
        def process_data(raw_data: str, threshold: int) -> int:
            # Simulate data processing
            print(f"Processing: {raw_data} with threshold {threshold}")
            return len(raw_data) * threshold
        my_custom_image = (
            Image.from_debian_base(python_version=(3, 11), name="my-app", registry="my-registry.com")
            .with_pip_packages("numpy", "scipy==1.10.0")
            .with_source_folder(Path("./my_code"), "/app")
            .with_commands(["apt-get update && apt-get install -y git"])
            .with_env_vars({"MY_ENV_VAR": "some_value"})
        )
        # Task with specific CPU and memory
        @my_env.task(resources=Resources(cpu="2", memory="4Gi"))
        def high_compute_task():
            pass
        # Task with a specific GPU type and quantity
        @my_env.task(resources=Resources(gpu="A100:1"))
        def gpu_task():
            pass
        # Task with a custom device partition
        @my_env.task(resources=Resources(gpu=Device(device="A100", quantity=1, partition="1g.5gb")))
        def partitioned_gpu_task():
            pass
        my_api_key = Secret(key="my-api-key", group="external-services", as_env_var="EXTERNAL_API_KEY")
        secure_env = TaskEnvironment(
            name="secure-env",
            image="my-secure-image:latest",
            secrets=[my_api_key],
        )
        @secure_env.task
        def use_api_key():
            import os
            print(f"API Key: {os.environ['EXTERNAL_API_KEY']}")
        private_repo_image = (
            Image.from_debian_base()
            .with_pip_packages(
                "private-package",
                secret_mounts=[Secret(key="GITHUB_PAT", as_env_var="GITHUB_PAT_ENV")],
            )
        )
        my_env = TaskEnvironment(name="caching-env", image="my-image:latest")
        @my_env.task(
            cache=Cache(
                behavior="auto",
                ignored_inputs=("input_timestamp",), # Ignore this input for caching purposes
                salt="v1", # Add a custom salt
            )
        )
        def expensive_computation(data: str, input_timestamp: str) -> int:
            # This task will reuse results if 'data' is the same, regardless of 'input_timestamp'
            return len(data)
        my_env = TaskEnvironment(name="retry-env", image="my-image:latest")
        @my_env.task(retries=5) # Simple retry count
        def flaky_task_simple():
            import random
            if random.random() < 0.7:
                raise ValueError("Simulated failure")
            return "Success"
        @my_env.task(retries=RetryStrategy(count=3, backoff=timedelta(seconds=10), backoff_factor=2))
        def flaky_task_with_backoff():
            import random
            if random.random() < 0.7:
                raise ValueError("Simulated failure")
            return "Success"
        my_env = TaskEnvironment(name="timeout-env", image="my-image:latest")
        @my_env.task(timeout=Timeout(max_runtime=timedelta(minutes=5), max_queued_time=timedelta(minutes=1)))
        async def long_running_task():
            await asyncio.sleep(300) # This will time out if it exceeds 5 minutes
            return "Done"
        my_env = TaskEnvironment(name="example-env", image="my-image:latest")
        @my_env.task
        def greet(name: str) -> str:
            return f"Hello, {name}!"
        async def main():
            # Run locally
            local_result = await flyte.with_runcontext(mode="local").run.aio(greet, name="Local User")
            print(f"Local run output: {local_result}")
        """
    )
    assert ns["production_env"].resources.get_device().device == "T4"
    assert ns["process_data"].resources == flyte.Resources(cpu="1", memory="2Gi")
    assert ns["process_data"]("abc", 2) == 6
    assert ns["partitioned_gpu_task"].resources.gpu.device_class == "GPU"
    assert ns["my_custom_image"].uri.startswith("my-registry.com/my-app:")
    assert ns["flaky_task_with_backoff"].retries.backoff.cap.total_seconds() == 10
    assert ns["expensive_computation"].cache.get_ignored_inputs() == ("input_timestamp",)
    assert ns["greet"]("x") == "Hello, x!"
