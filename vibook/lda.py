r"""Latent Dirichlet allocation (LDA) by mean-field VI: batch CAVI and stochastic VI.

LDA (Blei, Ng & Jordan 2003) has :math:`K` topics :math:`\beta_k` over a
vocabulary of :math:`V` words, and each of :math:`N` documents mixes them:

.. math::

    \beta_k \sim \mathrm{Dir}(\eta \mathbf 1_V), \quad
    \theta_d \sim \mathrm{Dir}(\alpha \mathbf 1_K), \quad
    z_{dn} \sim \mathrm{Cat}(\theta_d), \quad
    w_{dn} \sim \mathrm{Cat}(\beta_{z_{dn}}).

The mean-field family is :math:`q(\beta_k) = \mathrm{Dir}(\lambda_k)` (global),
:math:`q(\theta_d) = \mathrm{Dir}(\gamma_d)` and :math:`q(z_{dn}) =
\mathrm{Cat}(\phi_{dn})` (local). With :math:`E[\log\theta_{dk}] =
\psi(\gamma_{dk}) - \psi(\sum_j \gamma_{dj})` and likewise
:math:`E[\log\beta_{kw}]`, the local step is the fixed point, for each
document with word counts :math:`n_{dw}`,

.. math::

    \phi_{dwk} \propto \exp\big(E[\log\theta_{dk}] + E[\log\beta_{kw}]\big), \qquad
    \gamma_{dk} = \alpha + \textstyle\sum_w n_{dw}\,\phi_{dwk},

and the global step is :math:`\lambda_{kw} = \eta + \sum_d n_{dw}\,\phi_{dwk}`
(batch CAVI), or, from a minibatch :math:`B` (Hoffman, Blei, Wang & Paisley
2013, Algorithm 2),

.. math::

    \hat\lambda_{kw} = \eta + \tfrac{N}{|B|}\textstyle\sum_{d \in B} n_{dw}\,\phi_{dwk}, \qquad
    \lambda \leftarrow (1 - \rho_t)\lambda + \rho_t \hat\lambda, \qquad
    \rho_t = (t + \tau)^{-\kappa}.

Documents are a :class:`vibook.data.Corpus` (padded word ids and counts), so
no :math:`N \times V` matrix is ever formed. :func:`init`, :func:`step` and
:func:`fit` are SVI; :func:`cavi_init`, :func:`cavi_step` and
:func:`cavi_fit` are batch CAVI; :func:`heldout_bound` and
:func:`perplexity` score documents a fit never saw.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import digamma, gammaln

from vibook import _checks, _scan, svi
from vibook.data import Corpus

_EPS = 1e-30          # keeps log(norm) finite for a word no topic can emit
_CHUNK = 2048         # documents per vmapped chunk in full-corpus passes


class LDAState(NamedTuple):
    r"""SVI's global parameters: :math:`q(\beta_k) = \mathrm{Dir}(\lambda_k)` and the step count."""

    lam: jax.Array  # (K, V)
    t: jax.Array    # () steps taken


class CAVIState(NamedTuple):
    r"""Batch CAVI's parameters: :math:`\lambda` (K, V) and every document's :math:`\gamma_d` (N, K)."""

    lam: jax.Array    # (K, V)
    gamma: jax.Array  # (N, K)


class LDAInfo(NamedTuple):
    r"""What one step reports.

    Attributes
    ----------
    elbo : Array
        Scalar, **per word**. :func:`step`: an estimate of the full-data ELBO
        at :math:`\lambda` before the step, the minibatch's document terms
        scaled by :math:`N/|B|` plus the global term, divided by the
        minibatch's word count times :math:`N/|B|`. :func:`cavi_step`: the
        exact ELBO after the step, divided by the corpus's word count.
    rho : Array
        Scalar: the step size :math:`\rho_t` (1 for CAVI).
    local_steps : Array
        Scalar: the largest number of local fixed-point iterations a
        document of the (mini)batch used.
    """

    elbo: jax.Array
    rho: jax.Array
    local_steps: jax.Array


# --- documents --------------------------------------------------------------------------------

def corpus(counts):
    """A :class:`vibook.data.Corpus` from a word-count matrix, checked.

    Parameters
    ----------
    counts : array_like or scipy.sparse matrix, shape (N, V)
        Nonnegative integer counts; every document (row) has at least one word.

    Returns
    -------
    Corpus
        ``ids`` and ``counts``, shape (N, L), L the most distinct words in a document.

    Examples
    --------
    >>> from vibook import lda
    >>> c = lda.corpus([[2, 0, 1], [0, 3, 0]])
    >>> c.ids.tolist(), c.counts.tolist()
    ([[0, 2], [1, 0]], [[2, 1], [3, 0]])
    """
    import scipy.sparse
    if scipy.sparse.issparse(counts):
        csr = scipy.sparse.csr_matrix(counts)
        csr.sum_duplicates()
        data = _count_values(csr.data, "counts")
        per_doc = np.diff(csr.indptr)
        _nonempty(np.asarray(csr.sum(axis=1)).ravel(), "counts")
        width = max(int(per_doc.max()), 1)
        ids = np.zeros((csr.shape[0], width), np.int32)
        cts = np.zeros((csr.shape[0], width), np.int32)
        rows = np.repeat(np.arange(csr.shape[0]), per_doc)
        cols = np.arange(csr.nnz) - np.repeat(csr.indptr[:-1], per_doc)
        ids[rows, cols], cts[rows, cols] = csr.indices, data
        return Corpus(jnp.asarray(ids), jnp.asarray(cts))
    from vibook.data import _padded
    if isinstance(counts, (str, bytes)) or counts is None:
        raise TypeError(f"counts must be an (N, V) array of word counts, got {type(counts).__name__}")
    dense = _count_values(np.asarray(counts), "counts")
    if dense.ndim != 2:
        raise ValueError(f"counts must have shape (N, V), got {dense.shape}")
    _nonempty(dense.sum(axis=1), "counts")
    return _padded(dense)


def _count_values(values, name):
    if values.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold numbers (word counts), got dtype {values.dtype}")
    if values.size and not np.all(np.isfinite(values)):
        raise ValueError(f"{name} must be finite word counts")
    if values.size and values.min() < 0:
        raise ValueError(f"{name} must be nonnegative word counts, got a minimum of {values.min()}")
    if values.dtype.kind == "f" and values.size and not np.all(values == np.round(values)):
        raise ValueError(f"{name} must be integer word counts, got non-integer values")
    return values.astype(np.int32)


def _nonempty(totals, name):
    empty = np.flatnonzero(np.asarray(totals) <= 0)
    if empty.size:
        raise ValueError(f"{name}: document {int(empty[0])} is empty (no words); "
                         f"{empty.size} empty document(s) in all")


def _check_corpus(value, num_words, name="corpus"):
    """A Corpus with int ids in [0, V), integer counts >= 0, no empty document; counts as float."""
    if not isinstance(value, Corpus):
        raise TypeError(f"{name} must be a vibook.data.Corpus (ids, counts), made by "
                        f"vibook.lda.corpus or vibook.data.bars; got {type(value).__name__}")
    ids, counts = np.asarray(value.ids), np.asarray(value.counts)
    if ids.ndim != 2 or ids.shape != counts.shape or ids.shape[0] == 0:
        raise ValueError(f"{name}.ids and {name}.counts must have the same shape (N, L), "
                         f"N >= 1; got {ids.shape} and {counts.shape}")
    if ids.dtype.kind not in "iu":
        raise TypeError(f"{name}.ids must be integer word indices, got dtype {ids.dtype}")
    _count_values(counts, f"{name}.counts")
    _nonempty(counts.sum(axis=1), name)
    used = ids[counts > 0]
    if used.min() < 0 or used.max() >= num_words:
        raise ValueError(f"{name}.ids must index a vocabulary of V = {num_words} words (the "
                         f"columns of lam), got ids from {used.min()} to {used.max()}")
    return Corpus(jnp.asarray(ids, jnp.int32), jnp.asarray(counts, jnp.float32))


def to_csr(corpus, num_words):
    """The (N, V) ``scipy.sparse.csr_matrix`` of a :class:`vibook.data.Corpus` (for scikit-learn).

    Examples
    --------
    >>> from vibook import lda
    >>> lda.to_csr(lda.corpus([[2, 0, 1]]), 3).toarray().tolist()
    [[2, 0, 1]]
    """
    import scipy.sparse
    num_words = _checks.positive_int(num_words, "num_words")
    c = _check_corpus(corpus, num_words)
    ids, counts = np.asarray(c.ids), np.asarray(c.counts)
    rows = np.broadcast_to(np.arange(ids.shape[0])[:, None], ids.shape)
    keep = counts > 0
    return scipy.sparse.csr_matrix((counts[keep].astype(np.int64), (rows[keep], ids[keep])),
                                   shape=(ids.shape[0], num_words))


# --- the local step ---------------------------------------------------------------------------

def _elog(conc):
    """E[log x] under Dir(conc) along the last axis: psi(conc) - psi(sum conc)."""
    return digamma(conc) - digamma(jnp.sum(conc, axis=-1, keepdims=True))


def _doc_local(ids, counts, exp_elog_beta, alpha, gamma, num_local_steps, local_tol):
    """One document's fixed point over (gamma, phi); phi is implicit in the exp form."""
    eb = exp_elog_beta[:, ids]                                   # (K, L)

    def body(carry):
        gamma, _, i = carry
        et = jnp.exp(_elog(gamma))                               # (K,) exp E[log theta]
        norm = et @ eb + _EPS                                    # (L,) sum_k of phi's numerators
        new = alpha + et * (eb @ (counts / norm))                # (K,) alpha + sum_w n_w phi_wk
        return new, jnp.mean(jnp.abs(new - gamma)), i + 1

    def cond(carry):
        _, change, i = carry
        return (i < num_local_steps) & (change >= local_tol)

    gamma, _, used = jax.lax.while_loop(cond, body, (gamma, jnp.inf, 0))
    return gamma, used


def _doc_stats(ids, counts, exp_elog_beta, gamma):
    """sum_w n_w phi_wk / exp E[log beta_kw] at the word slots (K, L), and log norm (L,)."""
    eb = exp_elog_beta[:, ids]                                   # (K, L)
    et = jnp.exp(_elog(gamma))                                   # (K,)
    norm = et @ eb + _EPS                                        # (L,)
    return jnp.outer(et, counts / norm), jnp.log(norm)


def _doc_bound(counts, log_norm, gamma, alpha):
    """A document's ELBO terms with phi at its optimum: words + E log p(theta) - E log q(theta)."""
    k = gamma.shape[0]
    return (counts @ log_norm + jnp.sum((alpha - gamma) * _elog(gamma))
            + jnp.sum(gammaln(gamma)) - gammaln(jnp.sum(gamma))
            + gammaln(k * alpha) - k * gammaln(alpha))


def _global_bound(lam, eta):
    """E log p(beta | eta) - E log q(beta | lam), summed over the K topics."""
    v = lam.shape[1]
    return (jnp.sum((eta - lam) * _elog(lam)) + jnp.sum(gammaln(lam))
            - jnp.sum(gammaln(jnp.sum(lam, axis=1)))
            + lam.shape[0] * (gammaln(v * eta) - v * gammaln(eta)))


def _batch(ids, counts, lam, alpha, gamma0, num_local_steps, local_tol):
    """Local step on a batch: gamma (B, K), iterations (B,), sstats (K, V), document bounds (B,)."""
    exp_elog_beta = jnp.exp(_elog(lam))                           # (K, V)
    local = jax.vmap(_doc_local, (0, 0, None, None, 0, None, None))
    gamma, used = local(ids, counts, exp_elog_beta, alpha, gamma0, num_local_steps, local_tol)
    stats, log_norm = jax.vmap(_doc_stats, (0, 0, None, 0))(ids, counts, exp_elog_beta, gamma)
    k = lam.shape[0]
    sstats = jnp.zeros_like(lam).at[:, ids.reshape(-1)].add(
        jnp.moveaxis(stats, 1, 0).reshape(k, -1)) * exp_elog_beta            # (K, V)
    bounds = jax.vmap(_doc_bound, (0, 0, 0, None))(counts, log_norm, gamma, alpha)
    return gamma, used, sstats, bounds


def _chunked(fn, ids, counts, *args):
    """``fn(ids, counts, *args)`` over chunks of documents with ``lax.map`` (bounded memory)."""
    return jax.lax.map(lambda ic: fn(ic[0], ic[1], *args), (ids, counts),
                       batch_size=min(_CHUNK, ids.shape[0]))


@jax.jit
def _local_step(lam, ids, counts, alpha, num_local_steps, local_tol):
    exp_elog_beta = jnp.exp(_elog(lam))

    def one(i, c):
        gamma0 = jnp.ones(lam.shape[0], lam.dtype)
        gamma, used = _doc_local(i, c, exp_elog_beta, alpha, gamma0, num_local_steps, local_tol)
        _, log_norm = _doc_stats(i, c, exp_elog_beta, gamma)
        return gamma, used, _doc_bound(c, log_norm, gamma, alpha)

    return _chunked(one, ids, counts)


def _check_lam(lam):
    lam = _checks.positive_entries(lam, "lam", ndim=2)
    return lam


def _check_local(num_local_steps, local_tol):
    _checks.positive_int(num_local_steps, "num_local_steps")
    _checks.nonnegative(local_tol, "local_tol")


def local_step(lam, corpus, alpha, num_local_steps=100, local_tol=1e-3):
    r"""Each document's :math:`\gamma_d` at the local fixed point, for topics :math:`q(\beta) = \mathrm{Dir}(\lambda)`.

    Iterates, from :math:`\gamma_d = \mathbf 1`,

    .. math::

        \phi_{dwk} = \frac{\exp(E[\log\theta_{dk}] + E[\log\beta_{kw}])}
                          {\sum_j \exp(E[\log\theta_{dj}] + E[\log\beta_{jw}])}, \qquad
        \gamma_{dk} \leftarrow \alpha + \textstyle\sum_w n_{dw}\phi_{dwk}

    (Blei, Ng & Jordan 2003, eqs. 6–7) until the mean absolute change of
    :math:`\gamma_d` is below ``local_tol`` or after ``num_local_steps``
    iterations: scikit-learn's ``LatentDirichletAllocation`` E-step, with
    its ``mean_change_tol`` and ``max_doc_update_iter``.

    Parameters
    ----------
    lam : array_like, shape (K, V)
        Every entry > 0.
    corpus : vibook.data.Corpus
        N documents over the V words.
    alpha : float
        :math:`\alpha > 0`.
    num_local_steps : int
    local_tol : float
        ``>= 0``; 0 runs exactly ``num_local_steps`` iterations.

    Returns
    -------
    Array, shape (N, K)
        :math:`\gamma`.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from vibook import lda
    >>> lam = jnp.array([[10.0, 0.1], [0.1, 10.0]])
    >>> gamma = lda.local_step(lam, lda.corpus([[5, 0], [0, 5]]), alpha=0.5)
    >>> gamma.round(1).tolist()
    [[5.5, 0.5], [0.5, 5.5]]
    """
    lam = _check_lam(lam)
    c = _check_corpus(corpus, lam.shape[1])
    _checks.positive(alpha, "alpha")
    _check_local(num_local_steps, local_tol)
    return _local_step(lam, c.ids, c.counts, alpha, num_local_steps, local_tol)[0]


def heldout_bound(lam, corpus, alpha, num_local_steps=100, local_tol=1e-3):
    r"""Per-word ELBO of documents under fixed topics: a lower bound on their log likelihood per word.

    For each document, :math:`\gamma_d` and :math:`\phi_d` come from
    :func:`local_step`, and

    .. math::

        \begin{aligned}
        &\frac{1}{\sum_d n_d} \sum_d \Big( \sum_w n_{dw} \log \sum_k
        e^{E[\log\theta_{dk}] + E[\log\beta_{kw}]} \\
        &\qquad + E_q[\log p(\theta_d \mid \alpha)] - E_q[\log q(\theta_d)] \Big),
        \end{aligned}

    a lower bound on :math:`\frac{1}{\sum_d n_d}\sum_d E_{q(\beta)}[\log p(w_d
    \mid \beta, \alpha)]` (Hoffman, Blei & Bach 2010, §3). On documents the
    fit never saw it measures how well the topics predict new text, without
    a pass over the training data.

    Parameters
    ----------
    lam : array_like, shape (K, V)
    corpus : vibook.data.Corpus
    alpha : float
    num_local_steps, local_tol : see :func:`local_step`.

    Returns
    -------
    Array, scalar
        Nats per word.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from vibook import lda
    >>> lam = jnp.array([[10.0, 0.1], [0.1, 10.0]])
    >>> float(lda.heldout_bound(lam, lda.corpus([[5, 0], [0, 5]]), alpha=0.5)) < 0
    True
    """
    lam = _check_lam(lam)
    c = _check_corpus(corpus, lam.shape[1])
    _checks.positive(alpha, "alpha")
    _check_local(num_local_steps, local_tol)
    bounds = _local_step(lam, c.ids, c.counts, alpha, num_local_steps, local_tol)[2]
    return jnp.sum(bounds) / jnp.sum(c.counts)


def perplexity(lam, corpus, alpha, num_local_steps=100, local_tol=1e-3):
    r"""Held-out perplexity :math:`\exp(-\text{bound per word})` (:func:`heldout_bound`), an upper bound.

    A perplexity of :math:`P` means the topics predict each word as well as
    a uniform choice among :math:`P` words (Blei, Ng & Jordan 2003, §7.1).

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from vibook import lda
    >>> lam = jnp.array([[10.0, 0.1], [0.1, 10.0]])
    >>> 1 < float(lda.perplexity(lam, lda.corpus([[5, 0], [0, 5]]), alpha=0.5)) < 2
    True
    """
    return jnp.exp(-heldout_bound(lam, corpus, alpha, num_local_steps, local_tol))


def elbo(lam, gamma, corpus, alpha, eta):
    r"""The full LDA ELBO per word, :math:`\phi` at its optimum given :math:`(\gamma, \lambda)`.

    .. math::

        \mathcal L(\gamma, \lambda) = \frac{1}{\sum_d n_d}\Big(\sum_d
        \mathcal L_d(\gamma_d, \lambda) + \sum_k E_q[\log p(\beta_k \mid \eta)
        - \log q(\beta_k)]\Big),

    with :math:`\mathcal L_d` the document terms of :func:`heldout_bound`
    (Blei, Ng & Jordan 2003, eq. 15, with :math:`q(\beta)` added as in their
    §5.4). Batch CAVI never decreases it.

    Parameters
    ----------
    lam : array_like, shape (K, V)
    gamma : array_like, shape (N, K)
        Every entry > 0.
    corpus : vibook.data.Corpus
    alpha, eta : float
        :math:`\alpha, \eta > 0`.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from vibook import lda
    >>> lam = jnp.array([[10.0, 0.1], [0.1, 10.0]])
    >>> c = lda.corpus([[5, 0], [0, 5]])
    >>> gamma = lda.local_step(lam, c, alpha=0.5)
    >>> float(lda.elbo(lam, gamma, c, alpha=0.5, eta=0.1)) < 0
    True
    """
    lam = _check_lam(lam)
    c = _check_corpus(corpus, lam.shape[1])
    gamma = _checks.positive_entries(gamma, "gamma", shape=(c.ids.shape[0], lam.shape[0]))
    _checks.positive(alpha, "alpha")
    _checks.positive(eta, "eta")
    return _elbo(lam, gamma, c.ids, c.counts, alpha, eta)


@jax.jit
def _elbo(lam, gamma, ids, counts, alpha, eta):
    exp_elog_beta = jnp.exp(_elog(lam))

    def one(i, c, g):
        _, log_norm = _doc_stats(i, c, exp_elog_beta, g)
        return _doc_bound(c, log_norm, g, alpha)

    bounds = jax.lax.map(lambda a: one(*a), (ids, counts, gamma),
                         batch_size=min(_CHUNK, ids.shape[0]))
    return (jnp.sum(bounds) + _global_bound(lam, eta)) / jnp.sum(counts)


# --- SVI --------------------------------------------------------------------------------------

def init(key, num_topics, num_words):
    r"""SVI's start: :math:`\lambda_{kw} \sim \mathrm{Gamma}(100, 1/100)` (Hoffman et al. 2013; scikit-learn), ``t = 0``.

    Parameters
    ----------
    key : PRNG key
    num_topics, num_words : int
        :math:`K` and :math:`V`.

    Returns
    -------
    LDAState

    Examples
    --------
    >>> import jax
    >>> from vibook import lda
    >>> lda.init(jax.random.key(0), 3, 25).lam.shape
    (3, 25)
    """
    _checks.key(key)
    k = _checks.positive_int(num_topics, "num_topics")
    v = _checks.positive_int(num_words, "num_words")
    lam = jax.random.gamma(key, 100.0, (k, v)) / 100.0
    return LDAState(lam, jnp.zeros((), jnp.int32))


def _step(state, ids, counts, num_docs, alpha, eta, tau, kappa, num_local_steps, local_tol):
    lam = state.lam
    gamma0 = jnp.ones((ids.shape[0], lam.shape[0]), lam.dtype)
    _, used, sstats, bounds = _batch(ids, counts, lam, alpha, gamma0, num_local_steps, local_tol)
    scale = num_docs / ids.shape[0]                                       # N / |B|
    estimate = (scale * jnp.sum(bounds) + _global_bound(lam, eta)) / (scale * jnp.sum(counts))
    lam_hat = eta + scale * sstats                                        # (K, V)
    rho = (state.t + tau) ** (-kappa)
    new = LDAState((1 - rho) * lam + rho * lam_hat, state.t + 1)
    return new, LDAInfo(estimate, rho, jnp.max(used))


def _check_state(state):
    if isinstance(state, CAVIState):
        raise TypeError("state must be an LDAState, made by vibook.lda.init; got a CAVIState "
                        "(batch CAVI's state: use vibook.lda.cavi_step)")
    _checks.state(state, LDAState, "vibook.lda.init")
    return _checks.positive_entries(state.lam, "state.lam", ndim=2)


def step(state, batch, num_docs, alpha, eta, tau=1.0, kappa=0.7, num_local_steps=100,
         local_tol=1e-3):
    r"""One SVI step on a minibatch of documents (Hoffman et al. 2013, Algorithm 2).

    1. Local step: :math:`\gamma_d, \phi_d` for :math:`d \in B` (:func:`local_step`), ``vmap``-ped.
    2. :math:`\hat\lambda = \eta + \frac{N}{|B|}\sum_{d\in B}\sum_w n_{dw}\phi_{dw\cdot}`.
    3. :math:`\lambda \leftarrow (1-\rho_t)\lambda + \rho_t\hat\lambda`, :math:`\rho_t = (t+\tau)^{-\kappa}`.

    Deterministic given the minibatch (:func:`fit` draws it).

    Parameters
    ----------
    state : LDAState
    batch : vibook.data.Corpus
        :math:`|B|` documents.
    num_docs : int
        :math:`N \ge |B|`.
    alpha, eta : float
        Priors :math:`\alpha, \eta > 0`.
    tau, kappa : float
        ``tau >= 1`` (so that :math:`\rho_0 \le 1`), ``kappa`` in (0.5, 1].
    num_local_steps, local_tol : see :func:`local_step`.

    Returns
    -------
    state : LDAState
    info : LDAInfo

    Examples
    --------
    >>> import jax
    >>> from vibook import data, lda
    >>> bars = data.bars(jax.random.key(0), 100)
    >>> state = lda.init(jax.random.key(1), 10, 25)
    >>> state, info = lda.step(state, bars.corpus, 100, alpha=1.0, eta=0.1)
    >>> int(state.t), float(info.rho)
    (1, 1.0)
    """
    lam = _check_state(state)
    b = _check_corpus(batch, lam.shape[1], "batch")
    num_docs = _checks.positive_int(num_docs, "num_docs")
    _checks.at_most(b.ids.shape[0], num_docs, "the minibatch size |B|", "num_docs")
    _checks.positive(alpha, "alpha")
    _checks.positive(eta, "eta")
    svi._check_schedule(tau, kappa)
    _check_local(num_local_steps, local_tol)
    return _jit_step(LDAState(lam, jnp.asarray(state.t)), b.ids, b.counts, num_docs, alpha,
                     eta, tau, kappa, num_local_steps, local_tol)


_jit_step = jax.jit(_step, static_argnames=("num_docs",))


def _fit_step(key, state, ids, counts, alpha, eta, tau, kappa, local_tol, *, batch_size,
              num_local_steps):
    idx = jax.random.randint(key, (batch_size,), 0, ids.shape[0])   # uniform, with replacement
    return _step(state, ids[idx], counts[idx], ids.shape[0], alpha, eta, tau, kappa,
                 num_local_steps, local_tol)


def fit(key, corpus, state, num_steps, batch_size, alpha, eta, tau=1.0, kappa=0.7,
        num_local_steps=100, local_tol=1e-3):
    r"""Run ``num_steps`` SVI steps, each on ``batch_size`` documents drawn uniformly, in ``lax.scan``.

    ``num_steps * batch_size / N`` passes over the corpus. Run it again from
    the returned state to continue (the schedule goes on from ``state.t``).

    Parameters
    ----------
    key : PRNG key
        Draws the minibatches.
    corpus : vibook.data.Corpus
    state : LDAState
        From :func:`init` or a previous fit.
    num_steps, batch_size : int
    alpha, eta, tau, kappa, num_local_steps, local_tol : see :func:`step`.

    Returns
    -------
    state : LDAState
    info : LDAInfo
        Stacked over the steps (each field shape (num_steps,)).

    Raises
    ------
    FloatingPointError
        If the ELBO estimate stops being finite (naming the step).

    Examples
    --------
    >>> import jax
    >>> from vibook import data, lda
    >>> bars = data.bars(jax.random.key(0), 1000)
    >>> state = lda.init(jax.random.key(1), 10, 25)
    >>> state, info = lda.fit(jax.random.key(2), bars.corpus, state, 20, 50, 1.0, 0.1)
    >>> info.elbo.shape
    (20,)
    """
    _checks.key(key)
    lam = _check_state(state)
    c = _check_corpus(corpus, lam.shape[1])
    num_steps = _checks.positive_int(num_steps, "num_steps")
    batch_size = _checks.batch_size(batch_size, c.ids.shape[0])
    _checks.positive(alpha, "alpha")
    _checks.positive(eta, "eta")
    svi._check_schedule(tau, kappa)
    _check_local(num_local_steps, local_tol)
    state = LDAState(lam, jnp.asarray(state.t))
    return _scan.run(_fit_step, state, (c.ids, c.counts, alpha, eta, tau, kappa, local_tol),
                     num_steps, key=key, name="vibook.lda.fit",
                     static={"batch_size": batch_size, "num_local_steps": num_local_steps})


# --- batch CAVI -------------------------------------------------------------------------------

def cavi_init(key, corpus, num_topics, num_words):
    r"""Batch CAVI's start: :math:`\lambda` as :func:`init`, every :math:`\gamma_d = \mathbf 1`.

    Examples
    --------
    >>> import jax
    >>> from vibook import data, lda
    >>> bars = data.bars(jax.random.key(0), 50)
    >>> lda.cavi_init(jax.random.key(1), bars.corpus, 10, 25).gamma.shape
    (50, 10)
    """
    state = init(key, num_topics, num_words)
    c = _check_corpus(corpus, state.lam.shape[1])
    return CAVIState(state.lam, jnp.ones((c.ids.shape[0], state.lam.shape[0])))


def _cavi_step(state, ids, counts, alpha, eta, local_tol, *, num_local_steps):
    lam = state.lam

    def local(i, c, g):
        gamma, used, sstats, _ = _batch(i, c, lam, alpha, g, num_local_steps, local_tol)
        return gamma, used, sstats

    n = ids.shape[0]
    chunk = min(_CHUNK, n)
    pad = -n % chunk                                     # whole chunks; padded documents are empty
    split = [jnp.pad(a, ((0, pad), (0, 0)), constant_values=fill).reshape(-1, chunk, a.shape[1])
             for a, fill in ((ids, 0), (counts, 0), (state.gamma, 1))]
    gamma, used, sstats = jax.lax.map(lambda a: local(*a), split)
    gamma = gamma.reshape(-1, lam.shape[0])[:n]                          # (N, K)
    new_lam = eta + jnp.sum(sstats, axis=0)                              # (K, V)
    value = _elbo(new_lam, gamma, ids, counts, alpha, eta)
    return CAVIState(new_lam, gamma), LDAInfo(value, jnp.ones(()), jnp.max(used))


def _check_cavi(state, corpus):
    _checks.state(state, CAVIState, "vibook.lda.cavi_init")
    lam = _check_lam(state.lam)
    c = _check_corpus(corpus, lam.shape[1])
    gamma = _checks.positive_entries(state.gamma, "state.gamma",
                                     shape=(c.ids.shape[0], lam.shape[0]))
    return CAVIState(lam, gamma), c


def cavi_step(state, corpus, alpha, eta, num_local_steps=100, local_tol=1e-3):
    r"""One batch CAVI sweep: every document's local step, then :math:`\lambda = \eta + \sum_d\sum_w n_{dw}\phi_{dw\cdot}`.

    Each :math:`\gamma_d` starts from its value in ``state`` (warm start).
    Every update maximises the ELBO (:func:`elbo`) in its own block of
    parameters, so the ELBO after the sweep is never below the ELBO before
    it (Blei, Ng & Jordan 2003, §5.3; Blei, Kucukelbir & McAuliffe 2017, §2.4).

    Parameters
    ----------
    state : CAVIState
    corpus : vibook.data.Corpus
    alpha, eta : float
    num_local_steps, local_tol : see :func:`local_step`.

    Returns
    -------
    state : CAVIState
    info : LDAInfo
        ``elbo`` after the sweep, per word.

    Examples
    --------
    >>> import jax
    >>> from vibook import data, lda
    >>> bars = data.bars(jax.random.key(0), 50)
    >>> state = lda.cavi_init(jax.random.key(1), bars.corpus, 10, 25)
    >>> state, info = lda.cavi_step(state, bars.corpus, 1.0, 0.1)
    >>> bool(info.elbo < 0)
    True
    """
    state, c = _check_cavi(state, corpus)
    _checks.positive(alpha, "alpha")
    _checks.positive(eta, "eta")
    _check_local(num_local_steps, local_tol)
    return _jit_cavi(state, c.ids, c.counts, alpha, eta, local_tol, num_local_steps=num_local_steps)


_jit_cavi = jax.jit(_cavi_step, static_argnames=("num_local_steps",))


def cavi_fit(corpus, state, num_steps, alpha, eta, num_local_steps=100, local_tol=1e-3):
    r"""``num_steps`` batch CAVI sweeps (:func:`cavi_step`) in ``lax.scan``.

    Returns
    -------
    state : CAVIState
    info : LDAInfo
        Stacked over the sweeps; ``elbo`` (per word) never decreases.

    Raises
    ------
    FloatingPointError
        If the ELBO stops being finite (naming the sweep).

    Examples
    --------
    >>> import jax
    >>> from vibook import data, lda
    >>> bars = data.bars(jax.random.key(0), 50)
    >>> state = lda.cavi_init(jax.random.key(1), bars.corpus, 10, 25)
    >>> state, info = lda.cavi_fit(bars.corpus, state, 5, 1.0, 0.1)
    >>> bool(info.elbo[-1] >= info.elbo[0])
    True
    """
    state, c = _check_cavi(state, corpus)
    num_steps = _checks.positive_int(num_steps, "num_steps")
    _checks.positive(alpha, "alpha")
    _checks.positive(eta, "eta")
    _check_local(num_local_steps, local_tol)
    return _scan.run(_cavi_step, state, (c.ids, c.counts, alpha, eta, local_tol), num_steps,
                     name="vibook.lda.cavi_fit", static={"num_local_steps": num_local_steps})


# --- topic recovery ---------------------------------------------------------------------------

def match_topics(fitted, true):
    r"""Match fitted to true topics by the assignment that minimises the total L1 distance.

    Solves :math:`\min_\pi \sum_k \lVert \hat\beta_{\pi(k)} - \beta_k\rVert_1`
    with ``scipy.optimize.linear_sum_assignment`` (Kuhn 1955); the fitted
    topics are the rows of ``fitted`` normalised to sum to one
    (:math:`E_q[\beta_k] = \lambda_k / \sum_w \lambda_{kw}` for ``fitted = lam``).

    Parameters
    ----------
    fitted : array_like, shape (K, V)
        Nonnegative rows (``lam`` or topic probabilities).
    true : array_like, shape (K, V)
        True topic probabilities.

    Returns
    -------
    order : ndarray of int, shape (K,)
        ``fitted[order[k]]`` is matched to ``true[k]``.
    l1 : ndarray, shape (K,)
        The L1 distance of each matched pair (each in [0, 2]).

    Examples
    --------
    >>> import numpy as np
    >>> from vibook import lda
    >>> order, l1 = lda.match_topics(np.eye(3)[[2, 0, 1]], np.eye(3))
    >>> order.tolist(), l1.tolist()
    ([1, 2, 0], [0.0, 0.0, 0.0])
    """
    from scipy.optimize import linear_sum_assignment
    fitted = np.asarray(_checks.array(fitted, "fitted", ndim=2), np.float64)
    true = np.asarray(_checks.array(true, "true", shape=fitted.shape), np.float64)
    if fitted.min() < 0 or np.any(fitted.sum(axis=1) <= 0):
        raise ValueError("fitted must have nonnegative rows with a positive sum")
    fitted = fitted / fitted.sum(axis=1, keepdims=True)
    cost = np.abs(true[:, None, :] - fitted[None, :, :]).sum(axis=2)          # (K, K)
    rows, order = linear_sum_assignment(cost)
    return order, cost[rows, order]
