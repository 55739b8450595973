"""Forecast: a plain Flask product, to show that AuthFlask is optional.

The Gate protects any WSGI app; this one reads the signed-in user straight from the WSGI
environ, where the Gate puts it (never from a request header, which any client can send).
"""

import math

from flask import Flask, Response, abort, jsonify, request

from kit import USER_ENVIRON_KEY, PortalUser

app = Flask(__name__)


def moving_average_forecast(values: list[float], window: int, steps: int) -> list[float]:
    """Each step is the mean of the last ``window`` values, forecasts included."""
    series = list(values)
    for _ in range(steps):
        recent = series[-window:]
        series.append(sum(recent) / len(recent))
    return series[len(values) :]


@app.get("/")
def index() -> Response:
    user: PortalUser = request.environ[USER_ENVIRON_KEY]
    return jsonify(
        product="ea/forecast",
        user=user.email,
        usage="GET api/forecast?values=1,2,3&window=2&steps=3",
    )


@app.get("/api/forecast")
def forecast() -> Response:
    user: PortalUser = request.environ[USER_ENVIRON_KEY]
    try:
        values = [float(s) for s in request.args.get("values", "").split(",") if s]
    except ValueError:
        abort(400, "values must be comma-separated numbers")
    if not all(math.isfinite(v) for v in values):
        abort(400, "values must be finite numbers (not nan or inf)")
    window = request.args.get("window", 3, type=int)
    steps = request.args.get("steps", 1, type=int)
    if not values or not 1 <= window <= 1000 or not 1 <= steps <= 1000:
        abort(400, "give values, a window of 1-1000 and 1-1000 steps")
    predicted = moving_average_forecast(values, window, steps)
    if not all(math.isfinite(v) for v in predicted):  # JSON has no Infinity or NaN
        abort(400, "values are too large to forecast: the averages overflow")
    return jsonify(requested_by=user.email, window=window, forecast=predicted)
