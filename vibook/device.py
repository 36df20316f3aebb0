"""Where JAX runs, the numerical settings every chapter shares, and data parallelism.

JAX picks the GPU when a CUDA-enabled ``jaxlib`` is installed and a GPU is
visible, and the CPU otherwise; no chapter code changes. :func:`setup` asks
for full-precision matrix products, so TF32 on recent GPUs does not change
the printed digits.

The minibatch fits (:func:`vibook.svi.minibatch_fit`,
:func:`vibook.svi.mixture_fit`, :func:`vibook.vae.fit`) run *data-parallel*
over all local devices with ``jax.sharding``. The data set and the
parameters are replicated on every device; :func:`batch_sharding` lays a
one-axis mesh over the devices and :func:`shard_batch` splits each minibatch
along its batch axis, so every device does the per-example work of its slice.
XLA's SPMD partitioner then all-reduces the sums over the minibatch (the ELBO
and its gradient), and every device applies the same update.
"""

import os

import jax
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from vibook import _checks


def setup(cache=True):
    """The settings every chapter shares; return the backend name.

    * Matrix products in full float32 precision (no TF32 on recent GPUs), so
      the printed digits do not depend on the hardware.
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
    """
    jax.config.update("jax_default_matmul_precision", "highest")
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
    """
    if os.environ.get("VIBOOK_NO_CACHE"):
        return None
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
    """
    if os.environ.get("VIBOOK_CACHE_DIR"):
        return os.environ["VIBOOK_CACHE_DIR"]
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "vibook", "jax")


def describe():
    """A one-line description of JAX's backend and devices, e.g. ``'cpu: TFRT_CPU_0'``."""
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


def batch_sharding(batch_size, devices=None):
    """Split a minibatch of ``batch_size`` examples along its first axis over ``devices``.

    The mesh uses the largest number of the leading ``devices`` that divides
    ``batch_size`` evenly: 4 devices and ``batch_size = 10`` give a mesh of 2.

    Parameters
    ----------
    batch_size : int
        The size of the axis that is split.
    devices : sequence of jax.Device, optional
        The devices to use; all local devices (``jax.local_devices()``) by default.

    Returns
    -------
    jax.sharding.NamedSharding or None
        ``PartitionSpec("batch")`` on a one-axis mesh named ``"batch"``, or
        ``None`` when only one device would be used: then the computation stays
        where JAX puts it by default, with no sharding at all.
    """
    batch_size = _checks.positive_int(batch_size, "batch_size")
    devices = _check_devices(devices)
    size = max(k for k in range(1, len(devices) + 1) if batch_size % k == 0)
    if size == 1:
        return None
    return NamedSharding(Mesh(devices[:size], ("batch",)), PartitionSpec("batch"))


def shard_batch(tree, sharding):
    """Constrain every leaf of ``tree`` (leading axis: the batch) to ``sharding``.

    For use inside ``jax.jit``: XLA then partitions the per-example work along
    the batch axis and inserts the all-reduce for sums over it. The identity
    when ``sharding`` is ``None``.
    """
    if sharding is None:
        return tree
    return jax.lax.with_sharding_constraint(tree, sharding)


def replicate(tree, sharding):
    """Put a copy of every leaf of ``tree`` on each device of ``sharding``'s mesh.

    Call it on the arguments of a jitted function that shards with
    ``sharding``, so that arrays already placed on one device do not clash with
    the mesh. The identity when ``sharding`` is ``None``.
    """
    if sharding is None:
        return tree
    return jax.device_put(tree, NamedSharding(sharding.mesh, PartitionSpec()))
