"""Starting scikit-learn's mixtures where vibook's mixtures start, to compare the two.

Used by :func:`vibook.em.sklearn_fit` and :func:`vibook.vbgmm.sklearn_fit`
(and through them by chapters 5 and 6, the tests and the benchmarks), so that
the same-start set-up is written once. scikit-learn is imported only when one
of them is called.
"""

import warnings

import numpy as np


def fit(model, x):
    """``model.fit(x)`` in float64, with the ``ConvergenceWarning`` silenced.

    The comparisons run a fixed number of iterations (``tol=0``,
    ``max_iter=num_steps``), so scikit-learn always warns that it stopped
    before converging; that is on purpose.
    """
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(np.asarray(x, np.float64))


def started(estimator, resp=None, **kwargs):
    """A scikit-learn mixture that starts where vibook starts, and nothing else.

    scikit-learn's variational mixture has no public way to start from given
    responsibilities: it draws its own (by default a k-means run over all the
    data). Its ``GaussianMixture`` skips its own start when ``weights_init``,
    ``means_init`` and ``precisions_init`` are all given, in recent versions
    (1.9 does); older ones drew it and discarded it. So this is the one place
    that uses a private hook, for both: a subclass overrides
    ``_initialize_parameters`` (the method that draws the start) to call
    ``_initialize`` with ``resp`` (the first M-step's responsibilities), or
    with ``None``, in which case a ``GaussianMixture`` takes its start from the
    ``*_init`` arguments alone. Everything after that (the updates,
    ``max_iter`` with ``tol=0``, the final E-step of ``fit``) is scikit-learn's
    own code, and a comparison's timed call holds no discarded start, whatever
    the version. (``xp``, the array namespace, is passed by recent
    scikit-learn versions only.)

    Parameters
    ----------
    estimator : type
        ``sklearn.mixture.GaussianMixture`` or ``BayesianGaussianMixture``.
    resp : array_like, shape (N, K), optional
    **kwargs
        Passed to ``estimator``.

    Returns
    -------
    estimator
        Not yet fitted.
    """
    class Started(estimator):
        def _initialize_parameters(self, X, random_state, xp=None):
            self._initialize(X, None if resp is None else np.asarray(resp, np.float64))

    return Started(**kwargs)
