"""Resources, Device and the accelerator factories (SPEC §6, §6.1, §29 item 10)."""

from __future__ import annotations

import copy
import dataclasses
import pickle
import warnings

import pytest
from hypothesis import given
from hypothesis import strategies as st

from roost.spec.resources import (
    ACCELERATORS,
    AMD_GPU,
    APPLE_SILICON,
    GPU,
    HABANA_GAUDI,
    TPU,
    CanonicalResources,
    Device,
    Neuron,
    Resources,
)

AMD_NAMES = ("MI100", "MI210", "MI250", "MI250X", "MI300A", "MI300X", "MI325X", "MI350X", "MI355X")


@pytest.fixture
def no_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


# ---- the dataclass itself --------------------------------------------------------------------


def test_defaults_equality_mutability_and_unhashable():
    r = Resources()
    assert (r.cpu, r.memory, r.gpu, r.disk, r.shm) == (None, None, None, None, None)
    assert Resources(cpu="1", memory="2Gi") == Resources(cpu="1", memory="2Gi")
    assert Resources(cpu="1") != Resources(cpu="2")
    with pytest.raises(TypeError):
        hash(Resources(cpu="1"))
    r.cpu = "2"
    assert r == Resources(cpu="2")
    assert [f.name for f in dataclasses.fields(Resources)] == ["cpu", "memory", "gpu", "disk", "shm"]


@pytest.mark.usefixtures("no_warnings")
@pytest.mark.parametrize(
    "kwargs",
    [
        {"cpu": 1}, {"cpu": 0.5}, {"cpu": "500m"}, {"cpu": "2"}, {"cpu": (1, 2)}, {"cpu": ("500m", 1.5)},
        {"memory": "512Mi"}, {"memory": ("1Gi", "2Gi")}, {"memory": ("1G", "1Gi")}, {"cpu": ("1", "1000m")},
        {"gpu": 1}, {"gpu": "T4:1"}, {"gpu": "A100:1"}, {"gpu": Device(1, "GPU")}, {"gpu": 0},
        {"disk": "10Gi"}, {"disk": "10GiB"}, {"shm": "auto"}, {"shm": "1Gi"},
    ],
)  # fmt: skip
def test_accepted_forms_construct_silently(kwargs):
    Resources(**kwargs)


# ---- validation table of §6 (type and field named in the message) -----------------------------


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"cpu": (1, 2, 3)}, "cpu"), ({"cpu": (1,)}, "cpu"), ({"cpu": ()}, "cpu"),
        ({"memory": ("1Gi",)}, "memory"), ({"memory": ("1Gi", "2Gi", "3Gi")}, "memory"),
    ],
)  # fmt: skip
def test_pair_must_have_two_elements(kwargs, field):
    with pytest.raises(ValueError, match=f"{field}: .*exactly two elements"):
        Resources(**kwargs)


@pytest.mark.parametrize("cpu", [[1, 2], {"request": 1}, b"1", True, object(), (1, [2]), (True, 2)])
def test_cpu_must_be_a_number_or_string(cpu):
    with pytest.raises(ValueError, match="cpu: cpu must be a core count"):
        Resources(cpu=cpu)


@pytest.mark.parametrize("cpu", [-1, -0.5, (-1, 2), (1, -2), (-0.1, "1")])
def test_cpu_numbers_must_not_be_negative(cpu):
    with pytest.raises(ValueError, match="cpu: cpu must be >= 0"):
        Resources(cpu=cpu)


@pytest.mark.parametrize("cpu", [float("nan"), float("inf"), (1, float("inf"))])
def test_cpu_numbers_must_be_finite(cpu):
    with pytest.raises(ValueError, match="cpu: cpu must be a finite number"):
        Resources(cpu=cpu)


@pytest.mark.parametrize(
    "kwargs, field",
    [({"cpu": (None, 2)}, "cpu"), ({"cpu": (1, None)}, "cpu"), ({"memory": ("1Gi", None)}, "memory"),
     ({"memory": (None, "1Gi")}, "memory"), ({"cpu": (None, None)}, "cpu")],
)  # fmt: skip
def test_pair_elements_must_both_be_set(kwargs, field):
    with pytest.raises(ValueError, match=f"{field}: both elements"):
        Resources(**kwargs)


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"memory": 1024}, "memory"), ({"memory": 1.5}, "memory"), ({"memory": ["1Gi", "2Gi"]}, "memory"),
        ({"memory": ("1Gi", 2048)}, "memory"), ({"disk": 10}, "disk"), ({"disk": b"10Gi"}, "disk"),
        ({"shm": 1}, "shm"), ({"shm": True}, "shm"),
    ],
)  # fmt: skip
def test_memory_disk_shm_must_be_strings(kwargs, field):
    with pytest.raises(ValueError, match=f"{field}: {field} must be a Kubernetes quantity string"):
        Resources(**kwargs)


@pytest.mark.parametrize("gpu", [-1, -8])
def test_gpu_count_must_not_be_negative(gpu):
    with pytest.raises(ValueError, match="gpu: GPU count must be >= 0"):
        Resources(gpu=gpu)


@pytest.mark.parametrize(
    "gpu",
    ["T4", "T4:9", "T4:0", "t4:1", "A100", "H100:9", "A2:2", "RTX_PRO_6000:3", "RTX_PRO_4500:2",
     "Inf2:13", "Inf1:17", "Trn1:2", "Trn2u:32", "MI300X:2", "Gaudi1:2", "Gaudi2:1", "AppleSilicon:2",
     "V5E:1", "TPU:1", "L40S:1", "L40s shared:1", "A100_80G:9", "T4 :1", " T4:1", "", "-1", "1.5", "x"],
)  # fmt: skip
def test_gpu_string_must_be_in_the_accelerator_list(gpu):
    with pytest.raises(ValueError, match="gpu: ") as info:
        Resources(gpu=gpu)
    message = str(info.value)
    assert repr(gpu) in message
    assert "roost.spec.resources.ACCELERATORS" in message
    assert len(message) < 600  # a few examples, not the whole list


def test_gpu_error_lists_valid_counts_for_a_known_device():
    with pytest.raises(ValueError, match=r"gpu: 'T4' .*Valid for T4: T4:1, T4:2, .*T4:8\."):
        Resources(gpu="T4")


@pytest.mark.parametrize("gpu", [(1,), ("T4", 1), [1], 1.0, True, {"T4": 1}, GPU])
def test_gpu_other_types_are_rejected(gpu):
    with pytest.raises(ValueError, match="gpu: gpu must be"):
        Resources(gpu=gpu)


# ---- the accelerator list ----------------------------------------------------------------------


def test_accelerator_list_is_exactly_the_spec_list():
    # Transcribed from SPEC §6 independently of the implementation's tables.
    expected = {"A2:1", "RTX_PRO_4500:1", "RTX_PRO_6000:1", "RTX_PRO_6000:2", "GB10:1", "Gaudi1:1"}
    expected |= {"AppleSilicon", "AppleSilicon:1"}
    for name in ("A10", "A10G", "A100", "A100_80G", "B200", "H100", "H200", "L4", "L40s", "T4", "V100"):
        expected |= {f"{name}:{n}" for n in range(1, 9)}
    expected |= {f"{name} shared:1" for name in ("T4", "L4", "A10G", "A10", "L40S")}
    for name in ("Trn1", "Trn1n", "Trn2", "Trn2u"):
        expected |= {f"{name}:{n}" for n in (1, 4, 8, 16)}
    expected |= {f"Inf1:{n}" for n in range(1, 17)} | {f"Inf2:{n}" for n in range(1, 13)}
    expected |= {f"{name}:1" for name in AMD_NAMES}
    assert set(ACCELERATORS) == expected
    assert len(ACCELERATORS) == len(expected)  # no duplicates
    assert not any(a.startswith("V5") or a.startswith("V6") for a in ACCELERATORS)  # no TPU strings


@pytest.mark.usefixtures("no_warnings")
@pytest.mark.parametrize("gpu", ACCELERATORS)
def test_every_accelerator_string_is_accepted(gpu):
    device = Resources(gpu=gpu).get_device()
    assert device is not None
    name, _, count = gpu.partition(":")
    assert (device.device, device.quantity) == (name, int(count or 1))


@pytest.mark.parametrize(
    "gpu, device",
    [
        ("T4:1", Device(1, "GPU", "T4")), ("A100:8", Device(8, "GPU", "A100")),
        ("L4 shared:1", Device(1, "GPU", "L4 shared")), ("Trn1:16", Device(16, "NEURON", "Trn1")),
        ("Inf2:12", Device(12, "NEURON", "Inf2")), ("MI300X:1", Device(1, "AMD_GPU", "MI300X")),
        ("Gaudi1:1", Device(1, "HABANA_GAUDI", "Gaudi1")),
        ("AppleSilicon", Device(1, "APPLE_SILICON", "AppleSilicon")),
        ("AppleSilicon:1", Device(1, "APPLE_SILICON", "AppleSilicon")),
        (3, Device(3, "GPU")), ("1", Device(1, "GPU")), ("16", Device(16, "GPU")),
        (0, None), ("0", None), (None, None),
    ],
)  # fmt: skip
def test_get_device(gpu, device):
    assert Resources(gpu=gpu).get_device() == device


def test_get_device_returns_a_device_as_is():
    device = GPU("A100", 1, "1g.5gb")
    assert Resources(gpu=device).get_device() is device


@pytest.mark.parametrize(
    "gpu, rewritten",
    [("A100 80G:1", "A100_80G:1"), ("A100 80G:8", "A100_80G:8"), ("RTX PRO 6000:2", "RTX_PRO_6000:2")],
)
def test_deprecated_spellings_are_rewritten_with_a_warning(gpu, rewritten):
    with pytest.warns(DeprecationWarning, match=f"gpu: '{gpu}' is a deprecated spelling") as record:
        r = Resources(gpu=gpu)
    assert r.gpu == rewritten
    assert record[0].filename == __file__  # points at the user's line, not roost's internals


def test_deprecated_spelling_with_a_bad_count_is_still_rejected():
    with pytest.warns(DeprecationWarning), pytest.raises(ValueError, match="gpu: "):
        Resources(gpu="A100 80G:9")


# ---- quantity strings: warned at construction, rejected when used --------------------------------


@pytest.mark.parametrize(
    "kwargs, field, text",
    [({"memory": "lots"}, "memory", "lots"), ({"cpu": "abc"}, "cpu", "abc"),
     ({"disk": "10 GB"}, "disk", "10 GB"), ({"shm": "big"}, "shm", "big"),
     ({"memory": ("1Gi", "2gb")}, "memory", "2gb"), ({"cpu": "-1"}, "cpu", "-1"),
     ({"memory": "-1Gi"}, "memory", "-1Gi")],
)  # fmt: skip
def test_unparseable_quantity_warns_then_fails_when_used(kwargs, field, text):
    with pytest.warns(UserWarning, match=f"{field}: '{text}'") as record:
        r = Resources(**kwargs)
    assert record[0].filename == __file__
    assert getattr(r, field) == kwargs[field]  # kept as written (Flyte compatibility)
    with pytest.raises(ValueError, match=f"{field}: '{text}'"):
        r.canonical()
    with pytest.raises(ValueError, match=f"{field}: '{text}'"):
        r.to_k8s()


def test_get_device_and_shared_memory_do_not_need_parseable_quantities():
    with pytest.warns(UserWarning):
        r = Resources(memory="lots", gpu="T4:1", shm="1Gi")
    assert r.get_device() == Device(1, "GPU", "T4")
    assert r.get_shared_memory() == "1Gi"


@pytest.mark.parametrize("shm, expected", [(None, None), ("auto", ""), ("1Gi", "1Gi"), ("64Mi", "64Mi")])
def test_get_shared_memory(shm, expected):
    assert Resources(shm=shm).get_shared_memory() == expected


# ---- request <= limit --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, field",
    [({"cpu": ("2", "1")}, "cpu"), ({"cpu": (2, 1)}, "cpu"), ({"cpu": (1.5, "1000m")}, "cpu"),
     ({"memory": ("2Gi", "1Gi")}, "memory"), ({"memory": ("1Gi", "1G")}, "memory")],
)  # fmt: skip
def test_request_above_limit_is_rejected(kwargs, field):
    request, limit = kwargs[field]
    with pytest.raises(ValueError, match=f"{field}: request {request!r} is greater than limit {limit!r}"):
        Resources(**kwargs)


@given(st.integers(0, 10**6), st.integers(0, 10**6))
def test_cpu_pair_order_rule(request, limit):
    pair = (f"{request}m", f"{limit}m")
    if request > limit:
        with pytest.raises(ValueError, match="cpu: request"):
            Resources(cpu=pair)
    else:
        assert Resources(cpu=pair).canonical().cpu_request == request


def test_unparseable_pair_only_warns():
    with pytest.warns(UserWarning, match="memory: 'lots'"):
        Resources(memory=("lots", "1Gi"))


# ---- canonical() and to_k8s() -------------------------------------------------------------------


def test_canonical_scalar_is_request_only_and_pair_is_request_and_limit():
    scalar = Resources(cpu="500m", memory="1Gi").canonical()
    assert (scalar.cpu_request, scalar.cpu_limit) == (500, None)
    assert (scalar.memory_request, scalar.memory_limit) == (2**30, None)
    pair = Resources(cpu=(1, "2"), memory=("1Gi", "2Gi")).canonical()
    assert (pair.cpu_request, pair.cpu_limit) == (1000, 2000)
    assert (pair.memory_request, pair.memory_limit) == (2**30, 2**31)
    assert Resources(cpu="500m", memory="1Gi").to_k8s() == ({"cpu": "500m", "memory": "1Gi"}, {})


def test_a_scalar_is_enforced_as_the_limit_and_a_pair_by_its_limit():
    # The control plane sets a missing limit equal to the request; roost enforces what it would.
    scalar = Resources(cpu=1, memory="250Mi").canonical()
    assert (scalar.cpu_enforced, scalar.memory_enforced) == (1000, 250 * 2**20)
    pair = Resources(cpu=(1, 2), memory=("1Gi", "2Gi")).canonical()
    assert (pair.cpu_enforced, pair.memory_enforced) == (2000, 2**31)
    nothing = Resources(gpu=1).canonical()
    assert (nothing.cpu_enforced, nothing.memory_enforced) == (None, None)
    assert Resources(cpu=0).canonical().cpu_enforced is None  # zero cores asks for nothing to limit


def test_canonical_fields():
    c = Resources(cpu=0.25, memory="2G", gpu="A100:2", disk="10GiB", shm="auto").canonical()
    assert c == CanonicalResources(
        cpu_request=250, memory_request=2 * 10**9, disk=10 * 2**30, shm="auto", gpu=Device(2, "GPU", "A100")
    )
    assert Resources(shm="1Mi").canonical().shm == 2**20
    assert Resources().canonical() == CanonicalResources()
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.cpu_request = 1  # type: ignore[misc]
    assert hash(c) == hash(dataclasses.replace(c))


def test_canonical_is_cached_and_follows_reassignment():
    r = Resources(cpu="1")
    first = r.canonical()
    assert r.canonical() is first
    r.cpu = "2"
    assert r.canonical().cpu_request == 2000
    r.cpu = 1
    assert r.canonical().cpu_request == 1000
    r.cpu = True  # equal to 1, but not a valid cpu: the cache must not hide it
    with pytest.raises(ValueError, match="cpu"):
        r.canonical()
    r.cpu = None
    r.memory = ["1Gi"]
    with pytest.raises(ValueError, match="memory"):
        r.canonical()
    r.memory = ("2Gi", "1Gi")
    with pytest.raises(ValueError, match="memory: request"):
        r.canonical()
    r.memory = None
    r.gpu = "T4"
    with pytest.raises(ValueError, match="gpu"):
        r.canonical()


def test_to_k8s():
    requests, limits = Resources(cpu=(0.5, 2), memory=("512Mi", "1Gi"), gpu="T4:2", disk="10GiB").to_k8s()
    assert requests == {"cpu": "500m", "memory": "512Mi", "ephemeral-storage": "10Gi", "nvidia.com/gpu": "2"}
    assert limits == {"cpu": "2", "memory": "1Gi", "nvidia.com/gpu": "2"}
    assert Resources(cpu="1000m", memory="1.5Gi").to_k8s() == ({"cpu": "1", "memory": "1536Mi"}, {})
    assert Resources(shm="auto").to_k8s() == ({}, {})  # shm is a volume, not a resource


@pytest.mark.parametrize(
    "gpu, name, count",
    [(2, "nvidia.com/gpu", "2"), (GPU("H100", 4), "nvidia.com/gpu", "4"), ("MI300X:1", "amd.com/gpu", "1"),
     ("Trn1:16", "aws.amazon.com/neuron", "16"), ("Gaudi1:1", "habana.ai/gaudi", "1"),
     (TPU("V5E", "2x2"), "google.com/tpu", "1")],
)  # fmt: skip
def test_to_k8s_device_resource_names(gpu, name, count):
    requests, limits = Resources(gpu=gpu).to_k8s()
    assert requests == limits == {name: count}


def test_to_k8s_leaves_out_apple_silicon_and_zero_gpus():
    assert Resources(gpu="AppleSilicon").to_k8s() == ({}, {})
    assert Resources(gpu=0).to_k8s() == ({}, {})


# ---- Device (§6.1) -------------------------------------------------------------------------------


def test_device_positional_order_frozen_slotted_hashable():
    d = Device(2, "GPU", "A100", "1g.5gb")
    assert (d.quantity, d.device_class, d.device, d.partition) == (2, "GPU", "A100", "1g.5gb")
    with pytest.raises(dataclasses.FrozenInstanceError):
        d.quantity = 3  # type: ignore[misc]
    assert not hasattr(d, "__dict__")
    assert {d, Device(2, "GPU", "A100", "1g.5gb")} == {d}
    assert pickle.loads(pickle.dumps(d)) == d
    assert copy.deepcopy(d) == d


def test_device_seed_form_infers_the_class():
    d = Device(device="A100", quantity=1, partition="1g.5gb")
    assert d == Device(1, "GPU", "A100", "1g.5gb")


@pytest.mark.parametrize(
    "device, device_class",
    [("A100", "GPU"), ("T4 shared", "GPU"), ("Trn1", "NEURON"), ("Inf2", "NEURON"), ("MI250X", "AMD_GPU"),
     ("Gaudi1", "HABANA_GAUDI"), ("AppleSilicon", "APPLE_SILICON"), ("V5E", "TPU"), ("V5P", "TPU"),
     ("V6E", "TPU"), ("SomethingNew", "GPU"), (None, "GPU")],
)  # fmt: skip
def test_device_class_inference(device, device_class):
    assert Device(1, device=device).device_class == device_class


def test_device_class_value_is_not_validated():
    assert Device(1, "FPGA", "x").device_class == "FPGA"  # type: ignore[arg-type]


@pytest.mark.parametrize("quantity", [0, -1])
def test_device_quantity_must_be_at_least_one(quantity):
    with pytest.raises(ValueError, match="quantity: GPU quantity must be at least 1"):
        Device(quantity, "GPU")


@pytest.mark.parametrize("quantity", ["1", 1.5, None, True])
def test_device_quantity_must_be_an_int(quantity):
    with pytest.raises(ValueError, match="quantity: "):
        Device(quantity, "GPU")


@pytest.mark.parametrize("kwargs, field", [({"device": 100}, "device"), ({"partition": 5}, "partition")])
def test_device_name_and_partition_must_be_strings(kwargs, field):
    with pytest.raises(ValueError, match=f"{field}: "):
        Device(1, "GPU", **kwargs)


def test_apple_silicon_rules():
    assert Device(1, "APPLE_SILICON") == APPLE_SILICON()  # device name filled in
    assert APPLE_SILICON() == Device(1, "APPLE_SILICON", "AppleSilicon")
    with pytest.raises(ValueError, match="device: 'AppleSilicon' with device_class 'GPU'"):
        Device(1, "GPU", "AppleSilicon")
    with pytest.raises(ValueError, match="device: 'A100' with device_class 'APPLE_SILICON'"):
        Device(1, "APPLE_SILICON", "A100")
    with pytest.raises(ValueError, match="quantity: Apple Silicon quantity must be 1"):
        Device(2, "APPLE_SILICON", "AppleSilicon")
    with pytest.raises(ValueError, match="quantity: Apple Silicon quantity must be 1"):
        Device(device="AppleSilicon", quantity=2)


# ---- factories ---------------------------------------------------------------------------------

GPU_PARTITION_TABLE = {
    "A100": ("1g.5gb", "2g.10gb", "3g.20gb", "4g.20gb", "7g.40gb"),
    "A100_80G": ("1g.10gb", "2g.20gb", "3g.40gb", "4g.40gb", "7g.80gb"),
    "H100": ("1g.10gb", "1g.20gb", "2g.20gb", "3g.40gb", "4g.40gb", "7g.80gb"),
    "H200": ("1g.18gb", "1g.35gb", "2g.35gb", "3g.71gb", "4g.71gb", "7g.141gb"),
    "RTX_PRO_6000": ("1g.24gb", "2g.48gb", "4g.96gb"),
}


@pytest.mark.parametrize("device, partition", [(d, p) for d, ps in GPU_PARTITION_TABLE.items() for p in ps])
def test_gpu_factory_accepts_listed_partitions(device, partition):
    assert GPU(device, 1, partition) == Device(1, "GPU", device, partition)


@pytest.mark.parametrize("device", sorted(GPU_PARTITION_TABLE))
def test_gpu_factory_rejects_other_partitions_listing_valid_ones(device):
    with pytest.raises(ValueError, match=f"partition: invalid partition '9g.1gb' for {device}") as info:
        GPU(device, 1, "9g.1gb")
    for partition in GPU_PARTITION_TABLE[device]:
        assert partition in str(info.value)


def test_gpu_factory_partitions_of_other_and_shared_devices():
    assert GPU("T4", 1, "anything").partition == "anything"
    assert GPU("L4", 2).quantity == 2
    assert GPU("T4 shared", 1).device == "T4 shared"
    with pytest.raises(ValueError, match=r"partition: invalid partition '1g\.5gb' for T4 shared"):
        GPU("T4 shared", 1, "1g.5gb")


def test_gpu_factory_quantity_and_device_checks():
    assert GPU("A100", 16).quantity == 16  # > 8 is not rejected by the factory
    with pytest.raises(ValueError, match="quantity: GPU quantity must be at least 1"):
        GPU("A100", 0)
    with pytest.raises(ValueError, match="device: invalid GPU type 'X100'; valid types: A2, A10"):
        GPU("X100", 1)
    with pytest.raises(ValueError, match="device: invalid GPU type 'Trn1'"):
        GPU("Trn1", 1)
    with pytest.warns(DeprecationWarning, match="device: 'A100 80G'"):
        assert GPU("A100 80G", 1).device == "A100_80G"


V5E_SLICES = ("1x1", "2x2", "2x4", "4x4", "4x8", "8x8", "8x16", "16x16")
V5P_SLICES = (
    "2x2x1", "2x2x2", "2x4x4", "4x4x4", "4x4x8", "4x8x8",
    "8x8x8", "8x8x16", "8x16x16", "16x16x16", "16x16x24",
)  # fmt: skip


@pytest.mark.parametrize(
    "device, partition", [("V5E", p) for p in V5E_SLICES] + [("V6E", p) for p in V5E_SLICES]
    + [("V5P", p) for p in V5P_SLICES] + [("V5E", None), ("V5P", None)],
)  # fmt: skip
def test_tpu_factory(device, partition):
    assert TPU(device, partition) == Device(1, "TPU", device, partition)


@pytest.mark.parametrize("device, partition", [("V5E", "2x2x1"), ("V6E", "32x32"), ("V5P", "1x1"), ("V5P", "2x2")])
def test_tpu_factory_rejects_other_slices(device, partition):
    with pytest.raises(ValueError, match=f"partition: invalid partition '{partition}' for {device}"):
        TPU(device, partition)


def test_tpu_factory_rejects_other_devices():
    with pytest.raises(ValueError, match="device: invalid TPU type 'V4'"):
        TPU("V4")


@pytest.mark.parametrize(
    "factory, device, device_class",
    [(Neuron, d, "NEURON") for d in ("Trn1", "Trn1n", "Trn2", "Trn2u", "Inf1", "Inf2")]
    + [(AMD_GPU, d, "AMD_GPU") for d in AMD_NAMES]
    + [(HABANA_GAUDI, "Gaudi1", "HABANA_GAUDI")],
)  # fmt: skip
def test_single_device_factories(factory, device, device_class):
    assert factory(device) == Device(1, device_class, device)


@pytest.mark.parametrize("factory", [Neuron, AMD_GPU, HABANA_GAUDI])
def test_single_device_factories_reject_other_devices(factory):
    with pytest.raises(ValueError, match=r"device: invalid .* type 'A100'; valid types: "):
        factory("A100")
