r"""Normalizing flows as variational families.

A flow pushes Gaussian noise through a chain of invertible maps,

.. math::

    x_0 = \mu + \sigma \odot \epsilon, \quad \epsilon \sim \mathcal N(0, I_D),
    \qquad z = T_K \circ \dots \circ T_1(x_0),

and the change-of-variables formula gives its density exactly:

.. math::

    \log q(z) = \log \mathcal N(\epsilon; 0, I_D) - \sum_d \log \sigma_d
    - \sum_{k=1}^K \log \Big|\det \frac{\partial T_k}{\partial x_{k-1}}\Big|

(Rezende & Mohamed 2015; Papamakarios et al. 2021). Three kinds of layer
:math:`T_k`, each built so that its log-determinant is cheap:

* :func:`planar`: :math:`T(x) = x + \hat u \tanh(w^\top x + b)`, a rank-one
  update whose determinant is a scalar (Rezende & Mohamed 2015, §4.1);
* :func:`coupling`: RealNVP's affine coupling, which rescales and shifts half
  of the coordinates by functions of the other half, a triangular Jacobian
  (Dinh et al. 2017);
* :func:`iaf`: the inverse autoregressive flow, :math:`T(x)_i = \mu_i(x_{<i})
  + e^{s_i(x_{<i})} x_i` with a masked MLP (MADE), also triangular
  (Kingma et al. 2016; Germain et al. 2015).

Each constructor returns a :class:`vibook.families.Family`, with
``init(key, loc=0.0, scale=1.0)``, so that :func:`vibook.elbo.reparam`,
the importance-weighted and Rényi bounds and :func:`vibook.vi.fit` take a
flow unchanged. ``log_prob`` inverts the flow (exactly for coupling and IAF
layers, by a 1-D root search for planar ones) and adds up the forward
log-determinants, so that it works at any point; for the flow's own draws,
``sample(..., return_log_prob=True)`` and :func:`reparam_elbo` collect them
in the forward pass instead (Kingma et al. 2016). A flow has no closed-form
entropy: ``entropy`` raises, and the ELBO estimates it by Monte Carlo
through ``log_prob`` (or, in :func:`reparam_elbo`, the forward pass).

Parameters are plain pytrees: a :class:`FlowParams` holding the base
Gaussian and the layers, stacked along a leading axis so that
``jax.lax.scan`` applies them in turn; an MLP is a list of ``(W, b)`` pairs.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy import stats

from vibook import _checks, _mlp
from vibook.families import Family, inverse_softplus

#: Bound on the log-scales of coupling and IAF layers, :math:`|s| < 3`, so that
#: one bad optimiser step cannot overflow :math:`e^{s}`.
MAX_LOG_SCALE = 3.0


class FlowParams(NamedTuple):
    """A flow's parameters: the base Gaussian ``N(loc, softplus(raw_scale)^2)``,
    both of shape ``(D,)``, and ``layers``, one layer's pytree (a
    :class:`PlanarLayer` or an MLP) with every leaf stacked along a leading axis
    of length ``num_layers``."""

    loc: jax.Array
    raw_scale: jax.Array
    layers: list


class PlanarLayer(NamedTuple):
    """One planar layer: ``w``, ``u`` of shape ``(D,)``, ``b`` of shape ``()``."""

    w: jax.Array
    u: jax.Array
    b: jax.Array


# --- MLPs as lists of (W, b) pairs -----------------------------------------------------

def _mlp_init(key, sizes):
    """``_mlp.init`` with the last layer's weights set to zero, so that
    a fresh coupling or IAF layer is the identity map."""
    layers = _mlp.init(key, sizes)
    w_last, b_last = layers[-1]
    layers[-1] = (jnp.zeros_like(w_last), b_last)
    return layers


def _two_hidden_init(dim, hidden):
    """``init_layer(key)`` for an MLP ``dim -> hidden -> hidden -> 2 dim`` (shift
    and log-scale per coordinate), the net of a coupling or IAF layer."""
    return lambda key: _mlp_init(key, [dim, hidden, hidden, 2 * dim])


def _bounded(s):
    """:math:`s_{\\max} \\tanh(s / s_{\\max})`: about ``s`` near zero, never beyond the bound."""
    return MAX_LOG_SCALE * jnp.tanh(s / MAX_LOG_SCALE)


# --- planar layers ---------------------------------------------------------------------

#: How far :math:`w^\top \hat u` stays above :math:`-1` in a planar layer, so that
#: its Jacobian determinant stays positive in float32.
PLANAR_MARGIN = 1e-3


def _planar_u_hat(w, u):
    r""":math:`\hat u = u + (m(w^\top u) - w^\top u)\, w / \|w\|^2`, with
    :math:`m(a) = -1 + \mathrm{softplus}(a)` (Rezende & Mohamed 2015, appendix A.1),
    plus :data:`PLANAR_MARGIN`, so that :math:`w^\top \hat u > -1` and the layer is
    invertible."""
    wu = w @ u
    m = jax.nn.softplus(wu) - 1.0 + PLANAR_MARGIN
    return u + (m - wu) * w / jnp.maximum(w @ w, 1e-12)


def _planar_layer(layer, x):
    r""":math:`y = x + \hat u \tanh(w^\top x + b)`,
    :math:`\log|\det| = \log(1 + \tanh'(w^\top x + b)\, w^\top \hat u)`."""
    w, u, b = layer
    u = _planar_u_hat(w, u)
    h = jnp.tanh(w @ x + b)
    return x + u * h, jnp.log1p((1.0 - h**2) * (w @ u))


def _planar_inverse(layer, y, num_bisections=30):
    r"""Solve :math:`y = x + \hat u \tanh(w^\top x + b)` for :math:`x`.

    With :math:`a = w^\top x`, :math:`w^\top y = a + c \tanh(a + b)`, :math:`c = w^\top \hat u
    > -1`, is increasing in :math:`a` and :math:`a \in [w^\top y - |c|, w^\top y + |c|]`:
    bisection finds :math:`a`, then :math:`x = y - \hat u \tanh(a + b)`. The bisection
    runs without gradients; one Newton step on top carries the implicit-function
    derivative :math:`\partial a = -\partial F / F'(a)` to the parameters.

    Returns ``(x, log_det)``, ``log_det`` the forward layer's at ``x``.
    """
    w, u, b = layer
    u = _planar_u_hat(w, u)
    c, t = w @ u, w @ y

    def f(a, c, b, t):
        return a + c * jnp.tanh(a + b) - t

    fixed = jax.lax.stop_gradient((c, b, t))                    # no gradients in the search

    def halve(_, bounds):
        lo, hi = bounds
        mid = 0.5 * (lo + hi)
        above = f(mid, *fixed) > 0
        return jnp.where(above, lo, mid), jnp.where(above, mid, hi)

    span = jnp.abs(fixed[0]) + 1e-6
    lo, hi = jax.lax.fori_loop(0, num_bisections, halve, (fixed[2] - span, fixed[2] + span))
    a = 0.5 * (lo + hi)
    a = a - f(a, c, b, t) / (1.0 + c * (1.0 - jnp.tanh(a + b) ** 2))  # Newton, with gradients
    h = jnp.tanh(a + b)
    return y - u * h, jnp.log1p((1.0 - h**2) * c)


# --- affine coupling layers (RealNVP) ------------------------------------------------------

def _coupling_shift_scale(net, mask, x):
    """``(s, t)`` from the kept coordinates ``mask * x``, zero on the kept ones."""
    out = _mlp.apply(net, mask * x, narrow=True)                        # (2D,)
    d = x.shape[-1]
    s, t = _bounded(out[:d]), out[d:]
    return (1.0 - mask) * s, (1.0 - mask) * t


def _coupling_layer(net, mask, x):
    """:func:`coupling_layer` without the checks (it runs inside the flow's scan)."""
    s, t = _coupling_shift_scale(net, mask, x)
    return x * jnp.exp(s) + t, jnp.sum(s)


def _coupling_inverse(net, mask, y):
    """:func:`coupling_inverse` without the checks."""
    s, t = _coupling_shift_scale(net, mask, y)
    return (y - t) * jnp.exp(-s), jnp.sum(s)


def _coupling_args(net, mask, x, name):
    """Check one coupling layer's arguments: ``x`` (D,), a 0/1 ``mask`` (D,) and an
    MLP ``net`` mapping D inputs to 2D outputs (a list of ``(W, b)`` pairs)."""
    x = _checks.array(x, name, ndim=1)
    d = x.shape[0]
    mask = _checks.array(mask, "mask", shape=(d,))
    if _checks.is_concrete(mask) and not np.all(np.isin(np.asarray(mask), (0, 1))):
        raise ValueError("mask must hold only 0s and 1s (1: a coordinate the layer keeps)")
    try:
        widths = [d] + [jnp.shape(w)[1] for w, _ in net]             # d -> ... -> 2d
        ok = widths[-1] == 2 * d and all(
            jnp.shape(w) == (i, o) and jnp.shape(b) == (o,)
            for (w, b), i, o in zip(net, widths[:-1], widths[1:]))
    except (TypeError, ValueError, IndexError):
        ok = False
    if not ok:
        raise ValueError(f"net must be an MLP from {d} inputs to {2 * d} outputs: a list of "
                         "(W, b) pairs, W of shape (fan_in, fan_out), e.g. one layer of a "
                         "coupling flow's params.layers")
    return net, mask, x


def coupling_layer(net, mask, x):
    r"""One affine coupling layer at one point ``x`` of shape (D,); returns ``(y, log_det)``.

    :math:`y = m \odot x + (1 - m) \odot (x\, e^{s(m \odot x)} + t(m \odot x))`,
    :math:`\log|\det| = \sum_d (1 - m_d)\, s_d` (Dinh et al. 2017, eqs. 4–6), where
    :math:`(s, t)` is the MLP ``net`` (D inputs, 2D outputs) and ``mask`` :math:`m`
    is 0/1 (1 keeps a coordinate), e.g. a row of :func:`coupling_masks`.

    Examples
    --------
    >>> import jax, jax.numpy as jnp
    >>> from vibook import flows
    >>> net = [(0.5 * jax.random.normal(jax.random.key(0), (2, 4)), jnp.zeros(4))]  # 2 -> (s, t)
    >>> mask = flows.coupling_masks(2, 1)[0]                  # keeps coordinate 0
    >>> y, log_det = flows.coupling_layer(net, mask, jnp.array([1.0, 2.0]))
    >>> y.shape, float(y[0]), log_det.shape                   # the kept coordinate is unchanged
    ((2,), 1.0, ())
    """
    return _coupling_layer(*_coupling_args(net, mask, x, "x"))


def coupling_inverse(net, mask, y):
    r"""The inverse of :func:`coupling_layer` at ``y`` of shape (D,); returns ``(x, log_det)``.

    :math:`x = m \odot y + (1 - m) \odot (y - t(m \odot y))\, e^{-s(m \odot y)}`:
    the kept half is unchanged, so ``s`` and ``t`` are computed from ``y`` itself.
    ``log_det`` is the forward layer's at ``x``.

    Examples
    --------
    >>> import jax, jax.numpy as jnp
    >>> from vibook import flows
    >>> net = [(0.5 * jax.random.normal(jax.random.key(0), (2, 4)), jnp.zeros(4))]  # 2 -> (s, t)
    >>> mask, x = flows.coupling_masks(2, 1)[0], jnp.array([1.0, 2.0])
    >>> y, log_det = flows.coupling_layer(net, mask, x)
    >>> x_back, log_det_back = flows.coupling_inverse(net, mask, y)
    >>> bool(jnp.allclose(x_back, x, atol=1e-5)), bool(jnp.allclose(log_det_back, log_det))
    (True, True)
    """
    return _coupling_inverse(*_coupling_args(net, mask, y, "y"))


# --- inverse autoregressive flow layers (masked MLP, MADE) --------------------------------

def _made_masks(order, hidden, num_hidden_layers=2):
    r"""MADE's masks (Germain et al. 2015) for inputs taken in the order ``order``.

    Input :math:`i` has degree ``order[i] + 1``; hidden units cycle through the
    degrees :math:`1, \dots, D-1`; a weight from a unit of degree :math:`a` to one of
    degree :math:`b` is kept when :math:`b \ge a`, and into an output of degree
    :math:`b` when :math:`b > a`. So output :math:`i` depends only on the inputs
    that come before it in ``order``.

    Returns
    -------
    list of NumPy arrays
        One ``(fan_in, fan_out)`` 0/1 mask per layer; the output layer's mask is
        repeated for two outputs per input, ``(hidden, 2D)``.
    """
    order = np.asarray(order)
    d = order.shape[0]
    degrees = [order + 1] + [np.arange(hidden) % (d - 1) + 1] * num_hidden_layers
    masks = [(later[None, :] >= earlier[:, None]).astype(np.float32)
             for earlier, later in zip(degrees[:-1], degrees[1:])]
    out = (np.tile(order + 1, 2)[None, :] > degrees[-1][:, None]).astype(np.float32)
    return masks + [out]


def _iaf_shift_scale(net, masks, x):
    out = _mlp.apply(net, x, masks, narrow=True)                        # (2D,)
    d = x.shape[-1]
    return out[:d], _bounded(out[d:])


def _iaf_layer(net, masks, x):
    r""":math:`y_i = \mu_i(x_{<i}) + e^{s_i(x_{<i})} x_i`,
    :math:`\log|\det| = \sum_i s_i` (Kingma et al. 2016, eqs. 10–11)."""
    mu, s = _iaf_shift_scale(net, masks, x)
    return mu + jnp.exp(s) * x, jnp.sum(s)


def _iaf_inverse(net, masks, y):
    r""":math:`x_i = (y_i - \mu_i(x_{<i}))\, e^{-s_i(x_{<i})}`, one coordinate per pass:
    after :math:`D` passes of :math:`x \leftarrow (y - \mu(x)) e^{-s(x)}` every
    coordinate is exact, since coordinate :math:`i` is exact once all before it are.
    The last pass starts from exact :math:`x_{<D}`, so its :math:`s` is exact too.
    Returns ``(x, log_det)``, ``log_det`` the forward layer's at ``x``."""
    x = jnp.zeros_like(y)
    for _ in range(y.shape[-1]):                                  # D passes
        mu, s = _iaf_shift_scale(net, masks, x)
        x = (y - mu) * jnp.exp(-s)
    return x, jnp.sum(s)


def coupling_masks(dim, num_layers):
    """Layer ``k`` keeps the coordinates ``d`` with ``d % 2 == k % 2``: 0/1 masks of
    shape ``(num_layers, dim)``.

    Examples
    --------
    >>> from vibook import flows
    >>> flows.coupling_masks(3, 2).tolist()
    [[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]]
    """
    dim = _checks.positive_int(dim, "dim")
    num_layers = _checks.positive_int(num_layers, "num_layers")
    k, d = np.arange(num_layers)[:, None], np.arange(dim)[None, :]
    return jnp.asarray(d % 2 == k % 2, dtype=float)


def _iaf_masks(dim, num_layers, hidden):
    """:func:`_made_masks` for each layer, the order reversed on odd layers, stacked:
    a list of three arrays with a leading axis of length ``num_layers``."""
    orders = [np.arange(dim) if k % 2 == 0 else np.arange(dim)[::-1]
              for k in range(num_layers)]
    per_layer = [_made_masks(o, hidden) for o in orders]
    return [jnp.asarray(np.stack(ms)) for ms in zip(*per_layer)]


# --- the Family -------------------------------------------------------------------------

def _flow_family(dim, num_layers, init_layer, forward, inverse, consts):
    """A :class:`~vibook.families.Family` from one layer's ``init_layer(key)``,
    ``forward(layer, const, x) -> (y, log_det)`` and
    ``inverse(layer, const, y) -> (x, log_det)`` (the forward log-determinant at ``x``).

    The layers' parameters are stacked along a leading axis of length
    ``num_layers``, as are the constants ``consts`` (masks), so that
    ``jax.lax.scan`` applies the layers in turn. The forward pass is unrolled:
    with small layers a compiled loop costs more than the layers' products
    (unrolling halves the time of an IAF fit on a CPU, ``benchmarks/bench_flows.py``).
    """

    def init(key, loc=0.0, scale=1.0):
        key = _checks.key(key)
        loc = _checks.array(loc, "loc", ndim=(0, 1))
        scale = _checks.positive_entries(scale, "scale", ndim=(0, 1))
        for name, value in [("loc", loc), ("scale", scale)]:
            if value.shape not in [(), (dim,)]:
                raise ValueError(f"{name} must be a scalar or have shape ({dim},), "
                                 f"got {value.shape}")
        layers = jax.vmap(init_layer)(jax.random.split(key, num_layers))
        return FlowParams(jnp.broadcast_to(loc, (dim,)),
                          inverse_softplus(jnp.broadcast_to(scale, (dim,))), layers)

    def unpack(params):
        """``(loc, scale, layers)``: the base Gaussian's mean and scales, and the layers."""
        params = _check_params(params, dim, num_layers)
        return params.loc, jax.nn.softplus(params.raw_scale), params.layers

    def push(layers, x):
        """``(z, sum of log|det|)`` for one base point ``x`` of shape ``(D,)``."""
        def one(carry, layer_const):
            x, log_det = carry
            y, step = forward(*layer_const, x)
            return (y, log_det + step), None

        (z, log_det), _ = jax.lax.scan(one, (x, jnp.zeros(())), (layers, consts),
                                       unroll=True)
        return z, log_det

    def pull(layers, z):
        """``(x, sum of log|det|)``: invert the layers, last first, for one ``z``."""
        def one(carry, layer_const):
            y, log_det = carry
            x, step = inverse(*layer_const, y)
            return (x, log_det + step), None

        (x, log_det), _ = jax.lax.scan(one, (z, jnp.zeros(())), (layers, consts),
                                       reverse=True)
        return x, log_det

    def sample(key, params, num_samples, return_log_prob=False):
        key = _checks.key(key)
        n = _checks.positive_int(num_samples, "num_samples")
        loc, scale, layers = unpack(params)
        eps = jax.random.normal(key, (n, dim))                    # (n, D)
        x0 = loc[None, :] + scale[None, :] * eps                  # (n, D)
        z, log_det = jax.vmap(push, (None, 0))(layers, x0)        # (n, D), (n,)
        if not return_log_prob:
            return z
        log_base = jnp.sum(stats.norm.logpdf(eps) - jnp.log(scale)[None, :], axis=-1)
        return z, log_base - log_det                              # log q from the forward pass

    def log_prob(params, z):
        loc, scale, layers = unpack(params)
        z = _checks.array(z, "z", traced=True)
        if z.ndim < 1 or z.shape[-1] != dim:
            raise ValueError(f"z must have shape (..., {dim}) matching the flow, got {z.shape}")
        x, log_det = jax.vmap(pull, (None, 0))(layers, z.reshape(-1, dim))   # (M, D), (M,)
        log_base = jnp.sum(stats.norm.logpdf(x, loc[None, :], scale[None, :]), axis=-1)
        return (log_base - log_det).reshape(z.shape[:-1])

    def entropy(params):
        raise NotImplementedError(
            "a flow has no closed-form entropy: use elbo.reparam, which estimates "
            "-E[log q(z)] by Monte Carlo through log_prob")

    init.__doc__ = f"""Parameters of the flow over dimension {dim}: base ``N(loc, scale^2)``
        and {num_layers} freshly initialised layers, stacked (coupling and IAF
        layers start as the identity).

        Parameters
        ----------
        key : PRNG key
            Initialises the layers' weights.
        loc : float or array of shape ({dim},)
        scale : float or array of shape ({dim},), > 0
        """
    sample.__doc__ = ("``num_samples`` reparameterised draws ``z = T(loc + scale * eps)``, "
                      "shape ``(num_samples, D)``; with ``return_log_prob=True``, "
                      "``(z, log_q)``, ``log q(z)`` of shape ``(num_samples,)`` from the "
                      "forward pass, without inverting the flow (see :func:`reparam_elbo`).")
    def sample_and_log_prob(key, params, num_samples):
        return sample(key, params, num_samples, return_log_prob=True)

    log_prob.__doc__ = ("``log q(z) = log N(x; loc, scale^2) - sum_k log|det J_k|`` with "
                        "``x`` the flow inverted at ``z``; ``z`` of shape ``(..., D)``.")
    sample_and_log_prob.__doc__ = (
        "``(z, log_q)`` for ``num_samples`` draws: ``sample(..., return_log_prob=True)``, "
        "the log-determinants collected in the forward pass. :mod:`vibook.elbo` uses it, "
        "so an ELBO never inverts the flow (Kingma et al. 2016, §4).")
    return Family(init, sample, log_prob, entropy, unpack, sample_and_log_prob)


def reparam_elbo(key, params, log_joint, flow, num_samples=1):
    r"""The reparameterised ELBO of a flow, with :math:`\log q` from the forward pass.

    .. math::

        \begin{aligned}
        \hat{\mathcal L} = \frac1S \sum_{s=1}^S \Big[ &\log p(z_s, x)
        - \log \mathcal N(x_{0,s}; \mu, \operatorname{diag}\sigma^2) \\
        &+ \sum_{k=1}^K \log\Big|\det \frac{\partial T_k}{\partial x_{k-1}}
        \Big|_{x_{k-1,s}}\Big],
        \end{aligned}

    with :math:`x_{0,s} = \mu + \sigma \odot \epsilon_s` and :math:`z_s =
    x_{K,s}`: the log-determinants are collected while the draw is pushed
    through the layers, so no layer is inverted (Kingma et al. 2016, §4;
    Rezende & Mohamed 2015, eq. 15). :func:`vibook.elbo.reparam` computes the
    same value the same way, through the flow's ``sample_and_log_prob``;
    evaluating :math:`\log q(z_s)` with ``flow.log_prob`` instead would invert
    the flow, which for an IAF takes :math:`D` passes per layer, here one.

    Parameters
    ----------
    key : PRNG key
    params : FlowParams
        From ``flow.init``.
    log_joint : callable
        ``log_joint(z) -> ()``: :math:`\log p(z, x)` for one draw ``z`` of
        shape ``(D,)``; vibook maps it over the draws.
    flow : vibook.families.Family
        A flow from :func:`planar`, :func:`coupling` or :func:`iaf`.
    num_samples : int
        :math:`S`, the number of draws.

    Examples
    --------
    >>> import jax, jax.numpy as jnp
    >>> from vibook import elbo, flows
    >>> flow = flows.iaf(2, num_layers=2, hidden=8)
    >>> params = flow.init(jax.random.key(0), 0.5, 2.0)
    >>> log_joint = lambda z: -0.5 * jnp.sum(z**2, axis=-1)
    >>> forward = reparam_elbo(jax.random.key(1), params, log_joint, flow, 64)
    >>> z = flow.sample(jax.random.key(1), params, 64)           # the same draws
    >>> inverse = jnp.mean(log_joint(z) - flow.log_prob(params, z))   # inverts the flow
    >>> bool(jnp.abs(forward - inverse) < 1e-4)
    True
    """
    key = _checks.key(key)
    flow = _checks.family(flow, "flow")
    n = _checks.positive_int(num_samples, "num_samples")
    _checks.function(log_joint, "log_joint", "log_joint(z)")
    try:
        z, log_q = flow.sample(key, params, n, return_log_prob=True)   # (S, D), (S,)
    except TypeError as err:
        if "return_log_prob" not in str(err):
            raise
        raise TypeError("flow must be a flow from vibook.flows (planar, coupling or iaf), "
                        "whose sample can return log q; for other families use "
                        "vibook.elbo.reparam") from None
    return jnp.mean(_checks.per_draw(log_joint, "log_joint", z) - log_q)


def _check_params(params, dim, num_layers):
    """FlowParams for dimension ``dim`` with ``num_layers`` stacked layers, all finite
    (checked under ``jit`` too, see :func:`vibook._checks.check`)."""
    if not isinstance(params, FlowParams):
        raise TypeError("params must be FlowParams (from this flow's init), "
                        f"got {type(params).__name__}")
    if jnp.shape(params.loc) != (dim,) or jnp.shape(params.raw_scale) != (dim,):
        raise ValueError(f"params must be for dimension {dim}: loc and raw_scale of shape "
                         f"({dim},), got {jnp.shape(params.loc)}")
    leaves = jax.tree_util.tree_leaves(params.layers)
    for leaf in leaves:
        if jnp.ndim(leaf) < 1 or jnp.shape(leaf)[0] != num_layers:
            raise ValueError(f"params.layers must be stacked over {num_layers} layers "
                             f"(leading axis), got a leaf of shape {jnp.shape(leaf)}")
    finite = [jnp.all(jnp.isfinite(leaf)) for leaf in [params.loc, params.raw_scale] + leaves]
    _checks.check(jnp.stack(finite), "params must not contain NaN or inf")
    return params


def _sizes(dim, num_layers, hidden=None, min_dim=1):
    dim = _checks.positive_int(dim, "dim")
    if dim < min_dim:
        raise ValueError(f"dim must be at least {min_dim} for this flow, got {dim}")
    num_layers = _checks.positive_int(num_layers, "num_layers")
    if hidden is not None:
        hidden = _checks.positive_int(hidden, "hidden")
    return dim, num_layers, hidden


def planar(dim, num_layers):
    r"""A planar flow: ``num_layers`` maps :math:`x + \hat u \tanh(w^\top x + b)`.

    Each layer bends the density along one direction :math:`w`; its
    log-determinant :math:`\log(1 + \tanh'(w^\top x + b)\, w^\top\hat u)` costs
    :math:`O(D)` (matrix determinant lemma; Rezende & Mohamed 2015, eq. 12).
    ``log_prob`` inverts each layer by a 1-D bisection.

    Parameters
    ----------
    dim : int
        The dimension :math:`D` of :math:`z`.
    num_layers : int

    Returns
    -------
    vibook.families.Family

    Examples
    --------
    >>> import jax, jax.numpy as jnp
    >>> from vibook import flows
    >>> flow = flows.planar(2, num_layers=3)
    >>> params = flow.init(jax.random.key(0), 0.0, 1.0)
    >>> z, log_q = flow.sample(jax.random.key(1), params, 4, return_log_prob=True)
    >>> z.shape, bool(jnp.allclose(log_q, flow.log_prob(params, z), atol=1e-3))
    ((4, 2), True)
    """
    dim, num_layers, _ = _sizes(dim, num_layers)

    def init_layer(key):
        w = jax.random.normal(key, (dim,)) / jnp.sqrt(dim)
        return PlanarLayer(w, jnp.zeros(dim), jnp.zeros(()))

    return _flow_family(dim, num_layers, init_layer,
                        lambda layer, _, x: _planar_layer(layer, x),
                        lambda layer, _, y: _planar_inverse(layer, y),
                        jnp.zeros(num_layers))


def coupling(dim, num_layers, hidden):
    r"""A RealNVP flow of ``num_layers`` affine coupling layers (Dinh et al. 2017).

    Layer :math:`k` keeps the coordinates :math:`d` with :math:`d \equiv k
    \pmod 2` (mask :math:`m`) and maps the others by
    :math:`x\, e^{s} + t`, where :math:`(s, t)` is an MLP with two tanh hidden
    layers of width ``hidden`` applied to :math:`m \odot x`. Alternating masks
    let every coordinate change. The Jacobian is triangular, so
    :math:`\log|\det| = \sum_d (1 - m_d) s_d`, and the inverse is exact.

    Parameters
    ----------
    dim : int
        The dimension :math:`D \ge 2`.
    num_layers, hidden : int

    Returns
    -------
    vibook.families.Family

    Examples
    --------
    >>> import jax, jax.numpy as jnp
    >>> from vibook import flows
    >>> flow = flows.coupling(2, num_layers=2, hidden=8)
    >>> params = flow.init(jax.random.key(0), 0.0, 1.0)
    >>> z, log_q = flow.sample(jax.random.key(1), params, 4, return_log_prob=True)
    >>> z.shape, bool(jnp.allclose(log_q, flow.log_prob(params, z), atol=1e-4))
    ((4, 2), True)
    """
    dim, num_layers, hidden = _sizes(dim, num_layers, hidden, min_dim=2)

    init_layer = _two_hidden_init(dim, hidden)
    return _flow_family(dim, num_layers, init_layer, _coupling_layer, _coupling_inverse,
                        coupling_masks(dim, num_layers))


def iaf(dim, num_layers, hidden):
    r"""An inverse autoregressive flow of ``num_layers`` layers (Kingma et al. 2016).

    Layer :math:`k` maps :math:`y_i = \mu_i(x_{<i}) + e^{s_i(x_{<i})} x_i`, with
    :math:`(\mu, s)` from a masked MLP (MADE; two tanh hidden layers of width
    ``hidden``) over the coordinates in natural order for even :math:`k` and
    reversed for odd :math:`k`. Sampling is one pass per layer; ``log_prob``
    needs :math:`D` passes per layer to invert (one coordinate at a time).

    Parameters
    ----------
    dim : int
        The dimension :math:`D \ge 2`.
    num_layers, hidden : int

    Returns
    -------
    vibook.families.Family

    Examples
    --------
    A new flow is its base Gaussian (its layers start as the identity):

    >>> import jax, jax.numpy as jnp
    >>> from vibook import flows
    >>> flow = flows.iaf(2, num_layers=2, hidden=8)
    >>> params = flow.init(jax.random.key(0), 0.0, 1.0)
    >>> round(float(flow.log_prob(params, jnp.zeros(2))), 4)    # log N(0; 0, I_2) = -log(2 pi)
    -1.8379
    """
    dim, num_layers, hidden = _sizes(dim, num_layers, hidden, min_dim=2)

    init_layer = _two_hidden_init(dim, hidden)
    return _flow_family(dim, num_layers, init_layer, _iaf_layer, _iaf_inverse,
                        _iaf_masks(dim, num_layers, hidden))
