"""Where JAX runs, and the numerical settings every chapter shares.

JAX picks the GPU when a CUDA-enabled ``jaxlib`` is installed and a GPU is
visible, and the CPU otherwise; no chapter code changes. :func:`setup` asks
for full-precision matrix products, so TF32 on recent GPUs does not change
the printed digits.
"""

import jax


def setup():
    """Use full float32 precision for matrix products (no TF32); return the backend name."""
    jax.config.update("jax_default_matmul_precision", "highest")
    return jax.default_backend()


def describe():
    """A one-line description of JAX's backend and devices, e.g. ``'cpu: TFRT_CPU_0'``."""
    devices = ", ".join(f"{d.device_kind} ({d.platform}:{d.id})" for d in jax.devices())
    return f"JAX {jax.__version__} on {jax.default_backend()}: {devices}"
