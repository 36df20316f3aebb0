"""The two N-sized products that the Gaussian-mixture updates share (EM and the variational GMM).

Both touch the (N, D) data once per component at most and use no inverse of an
(N,)-sized system: the per-component work is a (D, D) factor computed once.
"""

import jax.numpy as jnp


def sq_norms(x, means, factors):
    r""":math:`\|(x_i - \mu_k)^\top A_k\|^2` for every point and component, shape (N, K).

    With :math:`A_k = L_k^{-\top}` for a covariance :math:`\Sigma_k = L_k L_k^\top`
    this is the Mahalanobis distance :math:`(x_i - \mu_k)^\top \Sigma_k^{-1}
    (x_i - \mu_k)`; with :math:`A_k` the Cholesky factor of a precision matrix,
    the same. One matrix product :math:`x\,[A_1 \cdots A_K]` serves all
    components.

    Parameters
    ----------
    x : Array, shape (N, D)
    means : Array, shape (K, D)
    factors : Array, shape (K, D, D)
    """
    z = (jnp.einsum("nd,kde->nke", x, factors)
         - jnp.einsum("kd,kde->ke", means, factors)[None, :, :])          # (N, K, D)
    return jnp.sum(z**2, axis=2)


def scatter(x, resp, means, chunk=1024):
    r"""Weighted scatter matrices :math:`\sum_i r_{ik}(x_i - \mu_k)(x_i - \mu_k)^\top`,
    shape (K, D, D).

    Centred on :math:`\mu_k` (no :math:`\mathbb E[xx^\top] - \mu\mu^\top`
    cancellation in float32): :math:`\sqrt{r_{ik}}(x_i - \mu_k)` is formed in
    one fused pass, then batched products give all :math:`K` matrices. The sum
    over the points runs in two stages, within chunks of ``chunk`` points and
    then over the chunks: XLA's CPU code for a batched product with a small
    (D, D) output adds the N terms one after another, which in float32 loses
    about three digits at N = 10^6 (measured 7e-4 relative at D = 2 against
    float64; 5e-8 in two stages).

    Parameters
    ----------
    x : Array, shape (N, D)
    resp : Array, shape (N, K)
        Non-negative weights.
    means : Array, shape (K, D)
    chunk : int
        Points per partial sum (fewer when N is smaller).
    """
    n, d = x.shape
    chunk = min(chunk, n)
    num_chunks = -(-n // chunk)
    pad = ((0, num_chunks * chunk - n), (0, 0))            # zero weight: adds nothing
    x, resp = jnp.pad(x, pad), jnp.pad(resp, pad)
    scaled = jnp.sqrt(resp).T[:, :, None] * (x[None, :, :] - means[:, None, :])   # (K, N', D)
    scaled = scaled.reshape(means.shape[0], num_chunks, chunk, d)
    return jnp.sum(jnp.einsum("kmci,kmcj->kmij", scaled, scaled), axis=1)
