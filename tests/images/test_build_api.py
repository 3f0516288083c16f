"""flyte.build / flyte.build_images: the image builder behind the Flyte names."""

from __future__ import annotations

import asyncio

import pytest

import roost as flyte


def test_build_an_image_that_needs_nothing_built():
    image = flyte.Image.from_debian_base()
    assert flyte.build(image) == image.uri
    assert asyncio.run(flyte.build.aio(image)) == image.uri


def test_build_images_by_environment():
    plain = flyte.TaskEnvironment(name="build-plain", image=flyte.Image.from_base("python:3.12-slim"))
    named = flyte.TaskEnvironment(name="build-named", image="repo/app:1")  # a bare URI: nothing to build
    assert flyte.build_images(plain, named) == {"build-plain": "python:3.12-slim"}


def test_serving_needs_an_app_and_deploy_needs_environments():
    with pytest.raises(TypeError, match="serve\\(\\) takes an AppEnvironment, got NoneType"):
        flyte.serve(None)
    with pytest.raises(ValueError, match="at least one environment"):
        flyte.deploy()
    with pytest.raises(NotImplementedError, match="interactive_mode"):
        flyte.deploy(flyte.TaskEnvironment(name="deploy-interactive"), interactive_mode=True)
    with pytest.raises(flyte.errors.DeploymentError, match="copy_style='none'"):
        flyte.deploy(flyte.TaskEnvironment(name="deploy-none"), copy_style="none")
