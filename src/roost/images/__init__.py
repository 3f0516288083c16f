"""Images: turning an ``Image`` definition into something that runs.

* ``dockerfile`` renders an image as a Dockerfile plus its build context (``context``);
* ``docker`` builds that with ``docker buildx build`` where a Docker engine answers;
* ``local`` (with ``venv``) makes the image real on this machine for worker processes: a uv
  virtualenv of its Python packages under ``ROOST_HOME/venvs/<identifier>``, its variables, its workdir;
* ``build`` chooses between them for ``roost build``.

Submodules are imported where they are used: the runtime needs ``local`` only, and a worker start
must not pay for importing the Docker machinery.
"""
