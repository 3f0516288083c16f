"""Images built in layers, identified by their content."""

import roost as flyte


def app_image(scipy: str = "1.10.0") -> flyte.Image:
    return (
        flyte.Image.from_debian_base(python_version=(3, 11), name="my-app", registry="my-registry.com")
        .with_apt_packages("git")
        .with_pip_packages("numpy", f"scipy=={scipy}")
        .with_env_vars({"MY_ENV_VAR": "some_value"})
        .with_workdir("/app")
    )


image = app_image()

if __name__ == "__main__":
    print("uri:", image.uri)
    print("identifier:", image.identifier)
    print("same definition, same identifier:", app_image().identifier == image.identifier)
    print("another scipy, another identifier:", app_image("1.11.0").identifier != image.identifier)
    try:
        flyte.Image.from_base("python:3.12").with_pip_packages("numpy")
    except ValueError as e:
        print("rejected:", e)
