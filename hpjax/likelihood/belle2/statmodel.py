r"""A lean HistFactory evaluator in pure ``jax.numpy``: expected counts, their Jacobian with respect
to the nuisances, and ``logpdf``, equal to pyhf's (numpy backend) to ~1e-13.

:class:`HistFactory` preprocesses a pyhf JSON workspace once into dense arrays on a padded
(bin, sample) grid of "slots" (here 30 main bins x at most 8 samples) and evaluates

    lambda_b = sum_s (nom_bs + sum_k Delta_k,bs(alpha_k)) prod_e f_e,bs(alpha_e) gamma_bs r_bs

with the modifiers that Belle II's model uses, as pyhf 0.7 defines them:

* ``histosys`` (additive), pyhf's default interpolation ``code4p``: Delta = alpha dU for
  alpha > 1, alpha dD for alpha < -1, and alpha S + A alpha^2 (15 + alpha^2 (3 alpha^2 - 10))
  inside (S = (dU + dD)/2, A = (dU - dD)/16, dU = up - nom, dD = nom - down). Linear in dU and
  dD, so the sum over all alphas is two matrix products with basis functions phi_u, phi_d of alpha;
* ``normsys`` (multiplicative), pyhf's default ``code4``: hi^alpha (alpha >= 1), lo^-alpha
  (alpha <= -1) and the degree-6 polynomial 1 + sum_i c_i alpha^i matching value, first and
  second derivative at +-1 inside;
* ``staterror`` (one gamma per bin, multiplicative; sigma = sqrt(sum_s (delta_bs / sum_s nom_bs)^2)
  over the samples sharing the modifier, as pyhf computes it);
* ``normfactor`` / ``shapefactor``: free factors. The samples carrying the POI normfactor take
  one "signal factor" per slot (:attr:`HistFactory.n_signal` of them, in main-bin order), which
  the caller sets (POI x shape factor); other free factors are not supported.

Constraint terms: a unit Gaussian of auxdata 0 for each alpha, a Gaussian of auxdata 1 and
width sigma for each gamma (pyhf's ``normal`` constraints); main terms Poisson with
log-factorials (``xlogy(n, lam) - lam - lgamma(n + 1)``). Parameters: the nuisance vector in
the order ``par_order`` (parameter-set names, gammas expanded per bin) given by the caller.

>>> import json, numpy as np
>>> from importlib import resources
>>> spec = json.loads(resources.files("hpjax.data").joinpath("belle2_knunu", "combined_likelihood.json").read_text())
>>> hf = HistFactory(spec)
>>> hf.n_main, hf.n_nuisances, hf.n_signal
(30, 231, 18)
>>> lam = hf.expected(hf.init, np.ones(hf.n_signal))
>>> bool(np.all(lam > 0))
True
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from jax.scipy.special import gammaln, xlogy
from scipy.special import gammaln as _np_gammaln

__all__ = ["HistFactory", "code4_coefficients"]

_SUPPORTED = ("histosys", "normsys", "staterror", "normfactor", "shapefactor")

# inverse of pyhf's code4 matrix at alpha0 = 1 (pyhf.interpolators.code4)
_CODE4_AINV = np.array(
    [
        [15 / 16, -15 / 16, -7 / 16, -7 / 16, 1 / 16, -1 / 16],
        [3 / 2, 3 / 2, -9 / 16, 9 / 16, 1 / 16, 1 / 16],
        [-5 / 8, 5 / 8, 5 / 8, 5 / 8, -1 / 8, 1 / 8],
        [-3 / 2, -3 / 2, 7 / 8, -7 / 8, -1 / 8, -1 / 8],
        [3 / 16, -3 / 16, -3 / 16, -3 / 16, 1 / 16, -1 / 16],
        [1 / 2, 1 / 2, -5 / 16, 5 / 16, 1 / 16, 1 / 16],
    ]
)


def code4_coefficients(hi, lo):
    """Coefficients c_1..c_6 (..., 6) of pyhf's code4 polynomial for factors ``hi``, ``lo``.

    >>> c = code4_coefficients(np.array(1.1), np.array(0.9))
    >>> round(float(1 + c.sum()), 12)  # the polynomial at alpha = 1 is hi
    1.1
    """
    hi, lo = np.asarray(hi, dtype=float), np.asarray(lo, dtype=float)
    lh, ll = np.log(hi), np.log(lo)
    b = np.stack([hi - 1, lo - 1, lh * hi, -ll * lo, lh**2 * hi, ll**2 * lo], axis=-1)
    return b @ _CODE4_AINV.T


class HistFactory:
    """Dense arrays of a pyhf JSON workspace (see the module docstring) and its pure JAX functions.

    Parameters
    ----------
    spec : the workspace dict (one measurement; its POI names the signal normfactor)
    par_order : parameter-set names in nuisance-vector order (default: pyhf 0.7's order for this
        kind of model: histosys names as they first appear, then normsys, then staterror, each
        sorted except histosys); the POI and shapefactors are left out.
    """

    def __init__(self, spec: dict, par_order=None):
        poi = spec["measurements"][0]["config"]["poi"]
        channels = sorted(spec["channels"], key=lambda c: c["name"])
        obs = {o["name"]: o["data"] for o in spec["observations"]}
        n_s = max(len(c["samples"]) for c in channels)
        kinds: dict[str, str] = {}
        for c in channels:
            for s in c["samples"]:
                for m in s["modifiers"]:
                    if m["type"] not in _SUPPORTED:
                        raise ValueError(
                            f"HistFactory: modifier type {m['type']!r} of {m['name']!r} is not supported; "
                            f"valid: {list(_SUPPORTED)}"
                        )
                    if m["type"] in ("normfactor", "shapefactor") and m["name"] != poi:
                        continue
                    kinds.setdefault(m["name"], m["type"])
        if par_order is None:
            hs = [k for k, t in kinds.items() if t == "histosys"]
            par_order = (
                hs
                + sorted(k for k, t in kinds.items() if t == "normsys")
                + sorted(k for k, t in kinds.items() if t == "staterror")
            )
        par_order = [p for p in par_order if p != poi]
        missing = set(k for k in kinds if k != poi) - set(par_order)
        if missing:
            raise ValueError(f"HistFactory: par_order lacks parameters {sorted(missing)}")
        alphas = [p for p in par_order if kinds[p] in ("histosys", "normsys")]
        a_idx = {p: i for i, p in enumerate(alphas)}

        bins = [(c["name"], i) for c in channels for i in range(len(c["samples"][0]["data"]))]
        nb = len(bins)
        nom = np.zeros((nb, n_s))
        du, dd = np.zeros((len(alphas), nb, n_s)), np.zeros((len(alphas), nb, n_s))
        ns_entries, gam_slots, sig_slots = [], {}, []  # gamma name -> [(b, s, nom, uncrt)]
        b0 = 0
        for c in channels:
            nbc = len(c["samples"][0]["data"])
            for si, s in enumerate(c["samples"]):
                d = np.asarray(s["data"], dtype=float)
                nom[b0 : b0 + nbc, si] = d
                for m in s["modifiers"]:
                    t, name = m["type"], m["name"]
                    if t == "histosys":
                        du[a_idx[name], b0 : b0 + nbc, si] += np.asarray(m["data"]["hi_data"], dtype=float) - d
                        dd[a_idx[name], b0 : b0 + nbc, si] += d - np.asarray(m["data"]["lo_data"], dtype=float)
                    elif t == "normsys":
                        mask = np.zeros((nb, n_s))
                        mask[b0 : b0 + nbc, si] = 1.0
                        ns_entries.append((a_idx[name], float(m["data"]["hi"]), float(m["data"]["lo"]), mask))
                    elif t == "staterror":
                        gam_slots.setdefault(name, []).append((b0, si, d, np.asarray(m["data"], dtype=float)))
                    elif name == poi and t == "normfactor":
                        sig_slots += [(b0 + i, si) for i in range(nbc)]
            b0 += nbc

        # staterror gammas: per modifier and bin, pyhf's combined relative uncertainty
        gammas, gidx, gsig = [], -np.ones((nb, n_s), dtype=int), []
        for name in [p for p in par_order if kinds[p] == "staterror"]:
            entries = gam_slots[name]
            b0 = entries[0][0]
            nbc = len(entries[0][2])
            tot = sum(e[2] for e in entries)
            rel = np.sqrt(sum(np.where(tot > 0, (e[3] / np.where(tot > 0, tot, 1.0)) ** 2, 0.0) for e in entries))
            rel = np.where(rel == 0, 1.0, rel)
            for i in range(nbc):
                for bb, si, _, _ in entries:
                    gidx[bb + i, si] = len(gammas)
                gammas.append(f"{name}[{i}]" if nbc > 1 else name)
                gsig.append(rel[i])

        # nuisance vector: par_order with gammas expanded; internal order = [alphas, gammas]
        names, pos_alpha, pos_gamma = [], [], []
        g_of = {}
        for gi, g in enumerate(gammas):
            g_of.setdefault(g.split("[")[0], []).append(gi)
        for p in par_order:
            if kinds[p] == "staterror":
                for gi in g_of[p]:
                    pos_gamma.append(len(names))
                    names.append(gammas[gi])
            else:
                pos_alpha.append(len(names))
                names.append(p)
        self.nuisance_names = names
        self.n_nuisances = len(names)
        self.n_alpha, self.n_gamma = len(alphas), len(gammas)
        internal = np.asarray(pos_alpha + pos_gamma)
        self._perm = np.argsort(internal)  # z = internal_vector[_perm]
        self._pos_alpha, self._pos_gamma = np.asarray(pos_alpha), np.asarray(pos_gamma)

        sig = np.concatenate([np.ones(self.n_alpha), np.asarray(gsig)])[self._perm]
        center = np.concatenate([np.zeros(self.n_alpha), np.ones(self.n_gamma)])[self._perm]
        self.sigma, self.center, self.init = sig, center, center.copy()
        self.bounds = (
            np.concatenate([np.full(self.n_alpha, -5.0), np.full(self.n_gamma, 1e-10)])[self._perm],
            np.concatenate([np.full(self.n_alpha, 5.0), np.full(self.n_gamma, 10.0)])[self._perm],
        )
        self.n_main = nb
        self.observed = np.asarray([obs[c][i] for c, i in bins], dtype=float)
        self.n_signal = len(sig_slots)
        self.bins = bins

        flat = nb * n_s
        self._nom = nom.reshape(flat)
        self._du, self._dd = du.reshape(-1, flat), dd.reshape(-1, flat)
        ne = len(ns_entries)
        self._ns_alpha = np.asarray([e[0] for e in ns_entries], dtype=int)
        self._ns_hi = np.asarray([e[1] for e in ns_entries])
        self._ns_lo = np.asarray([e[2] for e in ns_entries])
        self._ns_coef = code4_coefficients(self._ns_hi, self._ns_lo) if ne else np.zeros((0, 6))
        self._ns_mask = np.asarray([e[3].reshape(flat) for e in ns_entries]).reshape(ne, flat).astype(bool)
        self._ns_onehot = (self._ns_alpha[None, :] == np.arange(self.n_alpha)[:, None]).astype(float)
        g_flat = gidx.reshape(flat)
        self._gidx = np.where(g_flat >= 0, g_flat, self.n_gamma)  # padding -> an extra gamma = 1
        self._g_onehot = (g_flat[None, :] == np.arange(self.n_gamma)[:, None]).astype(float)  # (n_gamma, flat)
        self._g_bin = np.asarray([np.flatnonzero(gidx == j)[0] // n_s for j in range(self.n_gamma)])
        sidx = -np.ones((nb, n_s), dtype=int)
        for k, (b, s) in enumerate(sig_slots):
            sidx[b, s] = k
        s_flat = sidx.reshape(flat)
        self._sidx = np.where(s_flat >= 0, s_flat, self.n_signal)
        self._s_onehot = (s_flat[None, :] == np.arange(self.n_signal)[:, None]).astype(float)
        self._du3, self._dd3 = du, dd
        self._ns_sample = np.asarray([int(np.flatnonzero(e[3].any(axis=0))[0]) for e in ns_entries], dtype=int)
        self._ns_binmask = np.asarray([e[3].any(axis=1) for e in ns_entries], dtype=float).reshape(ne, nb)
        #: per nuisance: the one main bin a staterror gamma acts on, -1 for the alphas (solver structure)
        self.single_row = np.concatenate([-np.ones(self.n_alpha, dtype=int), self._g_bin])[self._perm]
        share = max(1, int(self._g_onehot.sum(1).max()))
        self._g_slots = np.full((self.n_gamma, share), flat)  # slots of each gamma, padded with a zero slot
        for j in range(self.n_gamma):
            sl = np.flatnonzero(self._g_onehot[j])
            self._g_slots[j, : len(sl)] = sl
        self._s_slot = np.asarray([b * n_s + s for b, s in sig_slots], dtype=int)
        self._g_binhot = (self._g_bin[:, None] == np.arange(nb)[None, :]).astype(float)
        self._ns = n_s
        self._sig_bin = np.asarray([b for b, _ in sig_slots])
        #: nominal signal per signal slot (the POI's sample at nominal nuisances)
        self._s_binhot = (self._sig_bin[:, None] == np.arange(nb)[None, :]).astype(float)
        self.signal_nominal = np.asarray([nom[b, s] for b, s in sig_slots])
        self._lgam = _np_gammaln(self.observed + 1.0)  # numpy: safe if first built under a trace

    # ---- pieces --------------------------------------------------------------------------------
    def _split(self, z):
        z = jnp.asarray(z, dtype=jnp.float64)
        return z[self._pos_alpha], z[self._pos_gamma]

    @staticmethod
    def _phi(a):
        """code4p basis functions (phi_u, phi_d) and their derivatives."""
        a2 = a * a
        p = a2 * (15.0 + a2 * (3.0 * a2 - 10.0))
        dp = a * (30.0 + a2 * (18.0 * a2 - 40.0))
        up, dn = a > 1.0, a < -1.0
        phi_u = jnp.where(up, a, jnp.where(dn, 0.0, 0.5 * a + p / 16.0))
        phi_d = jnp.where(up, 0.0, jnp.where(dn, a, 0.5 * a - p / 16.0))
        dphi_u = jnp.where(up, 1.0, jnp.where(dn, 0.0, 0.5 + dp / 16.0))
        dphi_d = jnp.where(up, 0.0, jnp.where(dn, 1.0, 0.5 - dp / 16.0))
        return phi_u, phi_d, dphi_u, dphi_d

    def _normsys(self, alpha):
        """code4 factor f_e and d f_e / d alpha of each normsys entry."""
        a = alpha[self._ns_alpha]
        pw = jnp.stack([a**i for i in range(1, 7)], axis=-1)
        dpw = jnp.stack([i * a ** (i - 1) for i in range(1, 7)], axis=-1)
        c = jnp.asarray(self._ns_coef)
        inside_f, inside_d = 1.0 + jnp.sum(c * pw, -1), jnp.sum(c * dpw, -1)
        lh, ll = jnp.log(self._ns_hi), jnp.log(self._ns_lo)
        f_hi, f_lo = jnp.exp(a * lh), jnp.exp(-a * ll)
        up, dn = a >= 1.0, a <= -1.0
        f = jnp.where(up, f_hi, jnp.where(dn, f_lo, inside_f))
        df = jnp.where(up, lh * f_hi, jnp.where(dn, -ll * f_lo, inside_d))
        return f, df

    def _slots(self, z, signal):
        alpha, gamma = self._split(z)
        phi_u, phi_d, dphi_u, dphi_d = self._phi(alpha)
        A = self._nom + phi_u @ self._du + phi_d @ self._dd
        f, df = self._normsys(alpha)
        N = jnp.prod(jnp.where(self._ns_mask, f[:, None], 1.0), axis=0)
        g = jnp.concatenate([gamma, jnp.ones(1)])[self._gidx]
        r = jnp.concatenate([jnp.asarray(signal, dtype=jnp.float64), jnp.ones(1)])[self._sidx]
        return alpha, gamma, A, N, g, r, (dphi_u, dphi_d, f, df)

    # ---- public functions ---------------------------------------------------------------------
    def expected(self, z, signal):
        """Expected counts of the main bins (n_main,) at nuisances ``z`` and signal factors
        ``signal`` (n_signal,) (pyhf's ``expected_actualdata`` with POI x shapefactor = signal)."""
        _, _, A, N, g, r, _ = self._slots(z, signal)
        return jnp.sum((A * N * g * r).reshape(self.n_main, self._ns), axis=-1)

    def expected_and_jacobian(self, z, signal):
        """(lambda (n_main,), d lambda / d z (n_main, n_nuisances), d lambda / d signal (n_main, n_signal)),
        analytic."""
        alpha, gamma, A, N, g, r, (dphi_u, dphi_d, f, df) = self._slots(z, signal)
        P = N * g * r
        Q = A * P
        lam = jnp.sum(Q.reshape(self.n_main, self._ns), axis=-1)
        safe_f = jnp.where(f == 0.0, 1.0, f)
        Qb = Q.reshape(self.n_main, self._ns)
        jn = (
            (df / safe_f)[:, None] * Qb[:, self._ns_sample].T * self._ns_binmask
        )  # (n_normsys, n_main): entry e scales one sample
        dA = (dphi_u[:, None] * self._du + dphi_d[:, None] * self._dd) * P  # (n_alpha, flat)
        ja = jnp.sum(dA.reshape(self.n_alpha, self.n_main, self._ns), axis=-1) + self._ns_onehot @ jn
        R = jnp.concatenate([A * N * r, jnp.zeros(1)])
        jg = self._g_binhot * jnp.sum(R[self._g_slots], axis=-1)[:, None]  # each gamma sits in one bin
        jz = jnp.concatenate([ja, jg], axis=0)[self._perm].T
        js = (self._s_binhot * (A * N * g)[self._s_slot][:, None]).T
        return lam, jz, js

    def constraint_logpdf(self, z, aux=None):
        """Sum of the Gaussian constraint terms (auxdata ``aux``, default the nominal centres)."""
        aux = self.center if aux is None else aux
        z = jnp.asarray(z, dtype=jnp.float64)
        return jnp.sum(-0.5 * ((aux - z) / self.sigma) ** 2 - jnp.log(self.sigma * np.sqrt(2 * np.pi)))

    def main_logpdf(self, lam, data=None):
        """Poisson terms of the main bins at expected counts ``lam`` (data default: observed)."""
        n = self.observed if data is None else data
        lg = self._lgam if data is None else gammaln(jnp.asarray(n) + 1.0)
        return jnp.sum(xlogy(n, lam) - lam - lg)

    def logpdf(self, z, signal, data=None, aux=None, constraints: bool = True):
        """pyhf's ``Model.logpdf``: Poisson main terms plus (``constraints``) the constraint terms."""
        v = self.main_logpdf(self.expected(z, signal), data)
        return v + self.constraint_logpdf(z, aux) if constraints else v

    def constraint_grad(self, z, aux=None):
        """Gradient of :meth:`constraint_logpdf`; its curvature is the constant -1/sigma^2."""
        aux = self.center if aux is None else aux
        return (aux - jnp.asarray(z, dtype=jnp.float64)) / self.sigma**2
