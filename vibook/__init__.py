"""vibook: the helper package of an interactive textbook on variational inference.

Small, functional and written in JAX. Stochastic functions take a PRNG key
first; states are NamedTuples; iterative algorithms are ``init``/``step``
pairs with a ``fit`` that runs them in ``lax.scan``. Import the modules
directly, e.g. ``from vibook.models import ExponentialNormal``.
"""

__version__ = "0.1.0"
