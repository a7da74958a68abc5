"""Generic numerical building blocks (solvers, quadrature rules) shared by the physics modules."""

from .gauss_newton import poisson_gauss_newton, structured_solve

__all__ = ["poisson_gauss_newton", "structured_solve"]
