"""Settings of the solver, validated once."""

from __future__ import annotations

from dataclasses import dataclass


class ModelError(ValueError):
    """A policy or setting the model cannot take (bad shapes, rates at or below -100 %, ...)."""


@dataclass(frozen=True)
class SolverSettings:
    """How the fixed point is solved.

    Attributes
    ----------
    tol : convergence bound on max |excess demand for labour or capital| / world value added,
        on the largest change of a log price index between two iterations, and on the largest
        change of absorption / world value added.
    max_iter : iteration limit; reaching it is an error, never a result.
    damping : weight of the new iterate in the update ``x <- x + damping (G(x) - x)``, in (0, 1].
    acceleration : ``"anderson"`` (Anderson mixing, Walker & Ni 2011) or ``"none"``.
    memory : number of past iterates Anderson mixing uses.
    expenditure : how absorption is found at each iteration: ``"iterative"`` (default) takes
        one Jacobi step of the expenditure system and lets the fixed point converge it together
        with wages and prices (cost grows with regions^2 x sectors); ``"direct"`` solves the
        linear system by LU at every iteration (cost grows with (regions x sectors)^3).
    """

    tol: float = 1e-10
    max_iter: int = 5000
    damping: float = 1.0
    acceleration: str = "anderson"
    memory: int = 5
    expenditure: str = "iterative"

    def __post_init__(self):
        if not (0.0 < self.tol < 1.0):
            raise ModelError(f"solver tol {self.tol} must be in (0, 1)")
        if int(self.max_iter) != self.max_iter or self.max_iter < 1:
            raise ModelError(f"solver max_iter {self.max_iter} must be a positive integer")
        if not (0.0 < self.damping <= 1.0):
            raise ModelError(f"solver damping {self.damping} must be in (0, 1]")
        if self.acceleration not in ("anderson", "none"):
            raise ModelError(
                f"solver acceleration '{self.acceleration}' must be 'anderson' or 'none'"
            )
        if int(self.memory) != self.memory or not (1 <= self.memory <= 50):
            raise ModelError(f"solver memory {self.memory} must be an integer in 1..50")
        if self.expenditure not in ("direct", "iterative"):
            raise ModelError(f"solver expenditure '{self.expenditure}' must be 'direct' or "
                             "'iterative'")

    def as_dict(self) -> dict:
        return {"tol": self.tol, "max_iter": self.max_iter, "damping": self.damping,
                "acceleration": self.acceleration, "memory": self.memory,
                "expenditure": self.expenditure}
