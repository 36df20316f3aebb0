"""Where JAX runs, the numerical settings every chapter shares, and data parallelism.

JAX picks the GPU when a CUDA-enabled ``jaxlib`` is installed and a GPU is
visible, and the CPU otherwise; no chapter code changes. :func:`setup` asks
for full-precision matrix products, so TF32 on recent GPUs does not change
the printed digits.

Data parallelism is opt-in, with one helper. Inside
``with device.data_parallel(batch_size):`` the minibatch fits
(:func:`vibook.svi.fit`, :func:`vibook.vi.minibatch_fit`, :func:`vibook.vae.fit`)
run *data-parallel* with ``jax.sharding``: :func:`data_parallel` sets a
one-axis mesh named ``"batch"`` over the largest number of the local devices
that divides ``batch_size`` (not necessarily all of them), and the fits split
each minibatch along its batch axis over that mesh, so every device does the
per-example work of its slice. XLA's SPMD partitioner then all-reduces the
sums over the minibatch (the ELBO and its gradient); the data set and the
parameters are replicated, and every device applies the same update. Outside
the block nothing is sharded.
"""

import contextlib
import os

import jax
import numpy as np
from jax.sharding import Mesh, PartitionSpec

from vibook import _checks


def setup(cache=True):
    """The settings every chapter shares; return the backend name.

    * Matrix products in full float32 precision (no TF32 on recent GPUs), so
      the printed digits do not depend on the hardware.
    * On the CPU, each compiled call runs in the calling thread (JAX's
      ``jax_cpu_enable_async_dispatch`` off). By default JAX hands a call that
      XLA costs at 1000 flops or more to a worker thread and wakes the caller
      when it is done; on a machine with few cores that hand-off can cost
      more than a small call's arithmetic (``benchmarks/bench_psis.py``
      times ``diagnostics.psis`` both ways). A large call still uses every
      core. This takes effect only if ``setup`` runs before JAX starts its
      CPU backend (at the first computation, or at an import that computes:
      BlackJAX's does, so ``vibook.mcmc`` imports it only when first used;
      no vibook module starts it on import), as at the top of every chapter.
    * JAX's persistent compilation cache, so that a chapter run a second time
      (or a second ``make test``) loads its compiled programs from disk instead
      of compiling them again. The folder is :func:`cache_dir`. Turn it off
      with ``setup(cache=False)`` or by setting the environment variable
      ``VIBOOK_NO_CACHE=1``. A folder that cannot be created means no cache,
      silently: caching changes speed, never results.

    Parameters
    ----------
    cache : bool
        Use the persistent compilation cache.

    Examples
    --------
    >>> import jax
    >>> from vibook import device
    >>> device.setup(cache=False) == jax.default_backend()
    True
    """
    if not isinstance(cache, (bool, np.bool_)):
        raise TypeError(f"cache must be True or False, got {cache!r}")
    jax.config.update("jax_default_matmul_precision", "highest")
    jax.config.update("jax_cpu_enable_async_dispatch", False)
    if cache:
        enable_compilation_cache()
    return jax.default_backend()


def enable_compilation_cache(folder=None):
    """Turn on JAX's persistent compilation cache in ``folder``; return the folder.

    By default the folder is :func:`cache_dir`. Every compiled program is
    written there (even the small ones: a chapter compiles hundreds of them)
    and loaded, instead of compiled, the next time any process asks for the
    same program. Returns ``None``, and
    changes nothing, if ``VIBOOK_NO_CACHE`` is set or the folder cannot be
    created or written.

    Examples
    --------
    >>> import jax, tempfile
    >>> from vibook import device
    >>> before, folder = jax.config.jax_compilation_cache_dir, tempfile.mkdtemp()
    >>> device.enable_compilation_cache(folder) in (folder, None)  # None under VIBOOK_NO_CACHE
    True
    >>> jax.config.update("jax_compilation_cache_dir", before)  # back to the previous cache
    """
    if os.environ.get("VIBOOK_NO_CACHE"):
        return None
    if folder is not None and not isinstance(folder, (str, os.PathLike)):
        raise TypeError(f"folder must be a path (str or pathlib.Path), got {type(folder).__name__}")
    folder = os.fspath(folder) if folder is not None else cache_dir()
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError:
        return None
    if not os.access(folder, os.W_OK):
        return None
    jax.config.update("jax_compilation_cache_dir", folder)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return folder


def cache_dir():
    """The compilation cache's folder.

    ``$VIBOOK_CACHE_DIR`` if set, otherwise ``vibook/jax`` under
    ``$XDG_CACHE_HOME`` (by default ``~/.cache``). Delete it at any time to
    free the space; it is rebuilt as programs are compiled.

    Examples
    --------
    >>> from vibook import device
    >>> isinstance(device.cache_dir(), str)
    True
    """
    if os.environ.get("VIBOOK_CACHE_DIR"):
        return os.environ["VIBOOK_CACHE_DIR"]
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "vibook", "jax")


def describe():
    """A one-line description of JAX's version, backend and devices (returned, not printed).

    Each device is listed as ``kind (platform:id)``, e.g.
    ``'JAX 0.10.2 on cpu: cpu (cpu:0)'`` or
    ``'JAX 0.10.2 on gpu: NVIDIA H200 (gpu:0)'``.

    Examples
    --------
    >>> from vibook import device
    >>> isinstance(device.describe(), str), device.describe().startswith("JAX ")
    (True, True)
    """
    devices = ", ".join(f"{d.device_kind} ({d.platform}:{d.id})" for d in jax.devices())
    return f"JAX {jax.__version__} on {jax.default_backend()}: {devices}"


def _check_devices(devices):
    if devices is None:
        return jax.local_devices()
    if isinstance(devices, (str, bytes)) or not hasattr(devices, "__len__"):
        raise TypeError(f"devices must be a sequence of JAX devices, e.g. jax.devices(), "
                        f"got {type(devices).__name__}")
    devices = list(devices)
    if not devices:
        raise ValueError("devices must contain at least one JAX device")
    if not all(isinstance(d, jax.Device) for d in devices):
        raise TypeError("devices must contain only JAX devices, e.g. jax.devices()[:2]")
    if len(set(devices)) != len(devices):
        raise ValueError("devices must not contain the same device twice")
    return devices


def data_parallel(batch_size, devices=None):
    """Run the minibatch fits inside the ``with`` block data-parallel over several devices.

    .. code-block:: python

        with device.data_parallel(64):
            params, trace = vae.fit(key, params, x_train, 10, 64, optimizer)

    The mesh holds the largest number :math:`k` of the leading ``devices``
    that divides ``batch_size`` evenly, so that every device gets the same
    share of each minibatch: 4 devices and ``batch_size = 64`` give
    :math:`k = 4`, ``batch_size = 10`` gives :math:`k = 2`, ``batch_size = 7``
    gives :math:`k = 1`. With :math:`k = 1` (in particular on a machine with
    one device) the block changes nothing. Use the same ``batch_size`` in the
    fits inside the block. Results agree with one device up to the order of
    floating-point sums.

    Parameters
    ----------
    batch_size : int
        The minibatch size of the fits run inside the block.
    devices : sequence of jax.Device, optional
        The devices to use; all local devices (``jax.local_devices()``) by default.

    Returns
    -------
    context manager
        Entering it yields the ``jax.sharding.Mesh`` (one axis, ``"batch"``),
        or ``None`` when :math:`k = 1`.

    Examples
    --------
    >>> from vibook import device
    >>> with device.data_parallel(64) as mesh:   # None on a machine with one device
    ...     print(mesh is None or 64 % mesh.size == 0)
    True
    """
    batch_size = _checks.positive_int(batch_size, "batch_size")
    devices = _check_devices(devices)
    size = max(k for k in range(1, len(devices) + 1) if batch_size % k == 0)
    return _use_mesh(None if size == 1 else Mesh(devices[:size], ("batch",)))


@contextlib.contextmanager
def _use_mesh(mesh):
    if mesh is None:
        yield None
        return
    with jax.set_mesh(mesh):
        yield mesh


def _shard_batch(tree):
    """Split every leaf of ``tree`` along its leading (batch) axis over the ``"batch"`` mesh.

    Called by the minibatch fits inside ``jax.jit`` on each minibatch: within
    :func:`data_parallel` XLA then partitions the per-example work along the
    batch axis and inserts the all-reduce for sums over it. The identity
    outside :func:`data_parallel`.
    """
    mesh = jax.sharding.get_abstract_mesh()
    if mesh.empty or "batch" not in mesh.axis_names:
        return tree
    return jax.lax.with_sharding_constraint(tree, PartitionSpec("batch"))
