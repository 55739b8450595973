"""Disaggregation v1: splits a total across parts in proportion to weights.

v2 lives in ``apps/ea/disagg`` at the same time; each is its own product at its own URL, so
early-access users try v2 while everyone else keeps v1. This one is built from a blueprint
and ``add_url_rule`` to show that every style of route sits behind the Gate.
"""

import math

from flask import Blueprint, Response, abort, jsonify, render_template, request

from kit import AuthFlask

FEATURES = ("Split a total by weights", "JSON API at api/split")

views = Blueprint("disagg", __name__)


def parse_weights(text: str) -> list[float]:
    """Weights arrive as ``1,2,1`` so the API is easy to call from a browser's address bar."""
    try:
        weights = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        abort(400, "weights must be comma-separated numbers")
    if not all(math.isfinite(w) for w in weights):
        abort(400, "weights must be finite numbers (not nan or inf)")
    if not math.isfinite(sum(weights)):
        abort(400, "weights are too large: their sum is not a finite number")
    if not weights or any(w < 0 for w in weights) or sum(weights) == 0:
        abort(400, "weights must be non-negative and not all zero")
    return weights


def index() -> str:
    return render_template("disagg/index.html", features=FEATURES)


def split() -> Response:
    total = request.args.get("total", type=float)
    if total is None:
        abort(400, "total must be a number")
    if not math.isfinite(total):
        abort(400, "total must be a finite number (not nan or inf)")
    weights = parse_weights(request.args.get("weights", ""))
    scale = total / sum(weights)
    parts = [w * scale for w in weights]
    if not all(math.isfinite(p) for p in parts):  # JSON has no Infinity or NaN
        abort(400, "total and weights are too large to split")
    return jsonify(version=1, total=total, parts=parts)


views.add_url_rule("/", view_func=index)
views.add_url_rule("/api/split", view_func=split)

app = AuthFlask(__name__)
app.register_blueprint(views)
