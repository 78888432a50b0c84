"""An independent trainer for the tests: L-BFGS on the non-convex two-layer objective
(numpy objective and hand-written gradient; no torch, no convex machinery)."""

import numpy as np
from scipy.optimize import minimize


def train_two_layer(X, y, *, beta, width, bias="none", skip=False, output_bias=False,
                    seed=0, scale=1.0, maxiter=5000):
    """min 1/2||relu(XW1^T + b1)W2 + Xs + c - y||^2 + beta/2(||W1||^2 + ||W2||^2 [+ ||b1||^2])."""
    n, d = X.shape
    m = width
    has_b = bias != "none"
    has_c = output_bias or bias == "free"
    sizes = [("W1", m * d), ("W2", m), ("b1", m if has_b else 0), ("s", d if skip else 0),
             ("c", 1 if has_c else 0)]

    def unpack(theta):
        out, k = {}, 0
        for name, size in sizes:
            out[name] = theta[k:k + size]
            k += size
        out["W1"] = out["W1"].reshape(m, d)
        return out

    def fg(theta):
        p = unpack(theta)
        b1 = p["b1"] if has_b else 0.0
        Z = X @ p["W1"].T + b1
        H = np.maximum(Z, 0.0)
        f = H @ p["W2"] + (X @ p["s"] if skip else 0.0) + (p["c"][0] if has_c else 0.0)
        r = f - y
        obj = 0.5 * r @ r + 0.5 * beta * (np.sum(p["W1"] ** 2) + p["W2"] @ p["W2"])
        dZ = np.outer(r, p["W2"]) * (Z > 0)
        grads = {"W1": dZ.T @ X + beta * p["W1"], "W2": H.T @ r + beta * p["W2"]}
        if has_b:
            grads["b1"] = dZ.sum(0)
            if bias == "regularized":
                obj += 0.5 * beta * p["b1"] @ p["b1"]
                grads["b1"] = grads["b1"] + beta * p["b1"]
        if skip:
            grads["s"] = X.T @ r
        if has_c:
            grads["c"] = np.array([r.sum()])
        g = np.concatenate([grads[name].ravel() for name, size in sizes if size])
        return obj, g

    rng = np.random.default_rng(seed)
    theta0 = scale * rng.standard_normal(sum(s for _, s in sizes))
    res = minimize(fg, theta0, jac=True, method="L-BFGS-B",
                   options={"maxiter": maxiter, "gtol": 1e-12, "ftol": 1e-15})
    return float(res.fun)
