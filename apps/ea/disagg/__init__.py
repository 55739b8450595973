"""Disaggregation v2 (early access): whole-unit splits that still add up to the total.

The same product as ``apps/stable/disagg`` (v1), in the ea tier while it is tried out;
promoting it is moving this folder. It is built by an application factory, which the portal
calls because the package exposes ``create_app`` rather than ``app``.
"""

import math

from flask import Response, abort, jsonify, render_template, request

from kit import AuthFlask

FEATURES = (
    "Split a total by weights",
    "Whole-unit splits that add up exactly (largest remainder)",
    "Labels for each part",
    "JSON API at api/split",
)


def largest_remainder(total: int, weights: list[float]) -> list[int]:
    """Whole units that sum to ``total``: rounding each part alone can lose or add a unit.

    Raises ``ValueError`` when a share is not a finite number (a total or weights so large
    that the arithmetic overflows), because ``int()`` of one would crash the request.
    """
    try:
        exact = [total * w / sum(weights) for w in weights]
    except OverflowError:  # a whole-number total beyond the range of a float
        raise ValueError("total and weights are too large to split") from None
    if not all(math.isfinite(x) for x in exact):
        raise ValueError("total and weights are too large to split")
    parts = [int(x) for x in exact]
    by_remainder = sorted(range(len(exact)), key=lambda i: exact[i] - parts[i], reverse=True)
    for i in by_remainder[: total - sum(parts)]:
        parts[i] += 1
    return parts


def _split() -> Response:
    total = request.args.get("total", type=int)
    labels = [s for s in request.args.get("labels", "").split(",") if s]
    try:
        weights = [float(s) for s in request.args.get("weights", "").split(",") if s]
    except ValueError:
        abort(400, "weights must be comma-separated numbers")
    if not all(math.isfinite(w) for w in weights):
        abort(400, "weights must be finite numbers (not nan or inf)")
    if total is None or total < 0:
        abort(400, "total must be a whole, non-negative number")
    if not weights or any(w < 0 for w in weights) or sum(weights) == 0:
        abort(400, "weights must be non-negative and not all zero")
    if labels and len(labels) != len(weights):
        abort(400, "give one label per weight")
    try:
        parts = largest_remainder(total, weights)
    except ValueError as error:
        abort(400, str(error))
    names = labels or [str(i + 1) for i in range(len(parts))]
    return jsonify(version=2, total=total, parts=dict(zip(names, parts, strict=True)))


def create_app() -> AuthFlask:
    app = AuthFlask(__name__)
    app.add_url_rule("/", "index", lambda: render_template("disagg/index.html", features=FEATURES))
    app.add_url_rule("/api/split", "split", _split)
    return app
