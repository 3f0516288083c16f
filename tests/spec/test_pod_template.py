"""PodTemplate (SPEC §13): from_spec, with_termination_grace_period, allow_fuse, allow_nested_sandboxing."""

from __future__ import annotations

import importlib.util
from datetime import timedelta
from typing import Any

import pytest

import roost as flyte
from roost.spec.pod_template import PodTemplate, pod_spec_to_dict

HAS_KUBERNETES = importlib.util.find_spec("kubernetes") is not None


def spec(*names: str | None, **extra: Any) -> dict[str, Any]:
    containers = [{"name": n, "image": "img"} if n is not None else {"image": "img"} for n in names]
    return {"containers": containers, **extra}


def primary_of(template: PodTemplate) -> dict[str, Any]:
    found = template.primary_container(template.to_dict())
    assert found is not None
    return found


# --- constructor ---------------------------------------------------------------------------------


def test_exported_at_top_level() -> None:
    assert flyte.PodTemplate is PodTemplate


def test_defaults() -> None:
    t = PodTemplate()
    assert (t.pod_spec, t.primary_container_name, t.labels, t.annotations) == (None, "primary", None, None)
    assert t.to_dict() == {}


def test_positional_order() -> None:
    t = PodTemplate(spec("main"), "main", {"team": "ml"}, {"note": "x"})
    assert t.primary_container_name == "main"
    assert t.labels == {"team": "ml"}
    assert t.annotations == {"note": "x"}


@pytest.mark.parametrize("name", ["", None, 3])
def test_primary_container_name_must_be_nonempty_str(name: object) -> None:
    with pytest.raises(TypeError, match="primary_container_name"):
        PodTemplate(primary_container_name=name)  # type: ignore[arg-type]


@pytest.mark.parametrize("field", ["labels", "annotations"])
def test_labels_and_annotations_must_be_dicts(field: str) -> None:
    with pytest.raises(TypeError, match=field):
        PodTemplate(**{field: ["a=b"]})  # type: ignore[arg-type]


def test_to_dict_is_a_copy() -> None:
    t = PodTemplate(pod_spec=spec("primary"))
    d = t.to_dict()
    d["containers"][0]["image"] = "changed"
    assert t.to_dict()["containers"][0]["image"] == "img"


@pytest.mark.skipif(HAS_KUBERNETES, reason="only meaningful without the optional kubernetes package")
def test_non_dict_pod_spec_without_kubernetes_package() -> None:
    with pytest.raises(TypeError, match="kubernetes"):
        pod_spec_to_dict(object())


def test_v1_pod_spec_converted_to_camel_case_dict() -> None:
    client = pytest.importorskip("kubernetes.client")
    pod = client.V1PodSpec(
        containers=[client.V1Container(name="primary", image="img")], termination_grace_period_seconds=5
    )
    t = PodTemplate.from_spec(pod)
    assert t.to_dict()["terminationGracePeriodSeconds"] == 5
    assert t.primary_container_name == "primary"


# --- from_spec: choosing the primary container ---------------------------------------------------


def test_from_spec_given_name_must_exist() -> None:
    assert PodTemplate.from_spec(spec("a", "b"), primary_container_name="b").primary_container_name == "b"
    with pytest.raises(ValueError, match="primary_container_name 'c'"):
        PodTemplate.from_spec(spec("a", "b"), primary_container_name="c")


def test_from_spec_given_name_wins_over_primary() -> None:
    assert PodTemplate.from_spec(spec("primary", "b"), primary_container_name="b").primary_container_name == "b"


def test_from_spec_given_primary_must_exist_too() -> None:
    with pytest.raises(ValueError, match="primary_container_name"):
        PodTemplate.from_spec(spec("main"), primary_container_name="primary")


def test_from_spec_prefers_container_named_primary() -> None:
    assert PodTemplate.from_spec(spec("sidecar", "primary")).primary_container_name == "primary"


def test_from_spec_falls_back_to_the_only_container() -> None:
    assert PodTemplate.from_spec(spec("main")).primary_container_name == "main"


@pytest.mark.parametrize("pod_spec", [spec("a", "b"), spec(), {}, None, spec(None)])
def test_from_spec_ambiguous_is_value_error(pod_spec: Any) -> None:
    with pytest.raises(ValueError, match="primary container"):
        PodTemplate.from_spec(pod_spec)


def test_from_spec_deep_copies() -> None:
    original = spec("main", volumes=[{"name": "data", "emptyDir": {}}])
    t = PodTemplate.from_spec(original)
    original["containers"][0]["image"] = "changed"
    original["volumes"][0]["emptyDir"]["medium"] = "Memory"
    original["containers"].append({"name": "late"})
    assert t.to_dict() == spec("main", volumes=[{"name": "data", "emptyDir": {}}])


def test_from_spec_labels_and_annotations() -> None:
    t = PodTemplate.from_spec(spec("main"), labels={"a": "1"}, annotations={"b": "2"})
    assert (t.labels, t.annotations) == ({"a": "1"}, {"b": "2"})


# --- with_termination_grace_period ----------------------------------------------------------------


@pytest.mark.parametrize(("value", "expected"), [(0, 0), (30, 30), (timedelta(minutes=2), 120)])
def test_grace_period_set(value: int | timedelta, expected: int) -> None:
    t = PodTemplate(pod_spec=spec("primary")).with_termination_grace_period(value)
    assert t.to_dict()["terminationGracePeriodSeconds"] == expected


def test_grace_period_returns_a_new_copy() -> None:
    original = PodTemplate(pod_spec=spec("primary"), labels={"a": "1"}, annotations={"b": "2"})
    t = original.with_termination_grace_period(10)
    assert t is not original
    assert "terminationGracePeriodSeconds" not in original.to_dict()
    assert (t.labels, t.annotations, t.primary_container_name) == ({"a": "1"}, {"b": "2"}, "primary")
    assert t.labels is not original.labels


@pytest.mark.parametrize("value", [-1, timedelta(seconds=-5), timedelta(seconds=-0.5)])
def test_grace_period_negative_is_value_error(value: int | timedelta) -> None:
    with pytest.raises(ValueError, match="termination grace period"):
        PodTemplate().with_termination_grace_period(value)


@pytest.mark.parametrize("value", [True, False, 1.5, "30", None])
def test_grace_period_other_types_are_type_error(value: object) -> None:
    with pytest.raises(TypeError, match="termination grace period"):
        PodTemplate().with_termination_grace_period(value)  # type: ignore[arg-type]


def test_grace_period_synthesises_primary_container() -> None:
    t = PodTemplate().with_termination_grace_period(5)
    assert t.to_dict() == {"containers": [{"name": "primary"}], "terminationGracePeriodSeconds": 5}
    t2 = PodTemplate(pod_spec=spec("sidecar"), primary_container_name="main").with_termination_grace_period(5)
    assert [c["name"] for c in t2.to_dict()["containers"]] == ["sidecar", "main"]


# --- allow_fuse -------------------------------------------------------------------------------------

FUSE_VOLUME = {"name": "dev-fuse", "hostPath": {"path": "/dev/fuse"}}
FUSE_MOUNT = {"name": "dev-fuse", "mountPath": "/dev/fuse"}


def test_allow_fuse_unprivileged() -> None:
    t = PodTemplate().allow_fuse()
    assert t.to_dict() == {
        "containers": [
            {
                "name": "primary",
                "securityContext": {"capabilities": {"add": ["SYS_ADMIN"]}},
                "volumeMounts": [FUSE_MOUNT],
            }
        ],
        "volumes": [FUSE_VOLUME],
    }


def test_allow_fuse_privileged() -> None:
    t = PodTemplate().allow_fuse(privileged=True)
    assert t.to_dict() == {"containers": [{"name": "primary", "securityContext": {"privileged": True}}]}


def test_allow_fuse_touches_only_the_primary_container() -> None:
    t = PodTemplate(pod_spec=spec("sidecar", "primary")).allow_fuse()
    sidecar, primary = t.to_dict()["containers"]
    assert sidecar == {"name": "sidecar", "image": "img"}
    assert primary["securityContext"]["capabilities"]["add"] == ["SYS_ADMIN"]


def test_allow_fuse_keeps_existing_settings_and_is_idempotent() -> None:
    pod = spec("primary", volumes=[{"name": "data", "emptyDir": {}}])
    pod["containers"][0]["securityContext"] = {"capabilities": {"add": ["NET_ADMIN"]}, "runAsUser": 1000}
    once = PodTemplate(pod_spec=pod).allow_fuse()
    twice = once.allow_fuse()
    assert once.to_dict() == twice.to_dict()
    primary = primary_of(twice)
    assert primary["securityContext"] == {"capabilities": {"add": ["NET_ADMIN", "SYS_ADMIN"]}, "runAsUser": 1000}
    assert primary["volumeMounts"] == [FUSE_MOUNT]
    assert twice.to_dict()["volumes"] == [{"name": "data", "emptyDir": {}}, FUSE_VOLUME]


def test_allow_fuse_leaves_the_original_alone() -> None:
    original = PodTemplate(pod_spec=spec("primary"))
    original.allow_fuse()
    original.allow_fuse(privileged=True)
    assert original.to_dict() == spec("primary")


def test_allow_fuse_unprivileged_on_pinned_unprivileged_container() -> None:
    pod = spec("primary")
    pod["containers"][0]["securityContext"] = {"privileged": False, "allowPrivilegeEscalation": False}
    sc = primary_of(PodTemplate(pod_spec=pod).allow_fuse())["securityContext"]
    assert sc["privileged"] is False
    assert sc["capabilities"]["add"] == ["SYS_ADMIN"]


def test_allow_fuse_refuses_dropped_sys_admin() -> None:
    pod = spec("primary")
    pod["containers"][0]["securityContext"] = {"capabilities": {"drop": ["SYS_ADMIN"]}}
    with pytest.raises(ValueError, match="SYS_ADMIN"):
        PodTemplate(pod_spec=pod).allow_fuse()


def test_allow_fuse_privileged_refuses_pinned_unprivileged() -> None:
    pod = spec("primary")
    pod["containers"][0]["securityContext"] = {"privileged": False}
    with pytest.raises(ValueError, match="privileged"):
        PodTemplate(pod_spec=pod).allow_fuse(privileged=True)


def test_allow_fuse_privileged_refuses_pinned_no_privilege_escalation() -> None:
    # Kubernetes rejects privileged=true together with allowPrivilegeEscalation=false.
    pod = spec("primary")
    pod["containers"][0]["securityContext"] = {"allowPrivilegeEscalation": False}
    with pytest.raises(ValueError, match="allowPrivilegeEscalation"):
        PodTemplate(pod_spec=pod).allow_fuse(privileged=True)


# --- allow_nested_sandboxing -------------------------------------------------------------------------

UNCONFINED = {"seccompProfile": {"type": "Unconfined"}, "appArmorProfile": {"type": "Unconfined"}}


def test_allow_nested_sandboxing() -> None:
    t = PodTemplate().allow_nested_sandboxing()
    assert t.to_dict() == {"containers": [{"name": "primary", "securityContext": UNCONFINED}]}


def test_allow_nested_sandboxing_keeps_other_settings_and_is_idempotent() -> None:
    pod = spec("sidecar", "primary")
    pod["containers"][1]["securityContext"] = {"runAsUser": 1000, "seccompProfile": {"type": "Unconfined"}}
    once = PodTemplate(pod_spec=pod).allow_nested_sandboxing()
    assert once.allow_nested_sandboxing().to_dict() == once.to_dict()
    assert primary_of(once)["securityContext"] == {"runAsUser": 1000, **UNCONFINED}
    assert once.to_dict()["containers"][0] == {"name": "sidecar", "image": "img"}
    assert "securityContext" not in pod["containers"][0]


@pytest.mark.parametrize("pinned", ["RuntimeDefault", "Localhost"])
def test_allow_nested_sandboxing_refuses_pinned_seccomp(pinned: str) -> None:
    pod = spec("primary")
    pod["containers"][0]["securityContext"] = {"seccompProfile": {"type": pinned}}
    with pytest.raises(ValueError, match="seccompProfile"):
        PodTemplate(pod_spec=pod).allow_nested_sandboxing()


@pytest.mark.parametrize("pinned", ["RuntimeDefault", "Localhost"])
def test_allow_nested_sandboxing_refuses_pinned_apparmor(pinned: str) -> None:
    pod = spec("primary")
    pod["containers"][0]["securityContext"] = {"appArmorProfile": {"type": pinned}}
    with pytest.raises(ValueError, match="appArmorProfile"):
        PodTemplate(pod_spec=pod).allow_nested_sandboxing()


def test_helpers_compose() -> None:
    t = PodTemplate().allow_fuse().allow_nested_sandboxing().with_termination_grace_period(7)
    d = t.to_dict()
    assert d["terminationGracePeriodSeconds"] == 7
    assert d["volumes"] == [FUSE_VOLUME]
    sc = d["containers"][0]["securityContext"]
    assert sc == {"capabilities": {"add": ["SYS_ADMIN"]}, **UNCONFINED}
