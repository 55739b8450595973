"""SeisTech: a monolithic product with three services under one mount, the example to copy when
one codebase serves several things that are listed, tiered or deployed separately.

`product.toml` lists the services as entry points (each a link on the dashboard) and raises the
hazard service to the ea tier while the product sits in stable; a deployment can remove a service
altogether with `PORTAL_BLOCK` (docker-compose.yml removes the reports). None of that is in the
code: the routes below are plain, and the Gate enforces the rules on every route under each prefix.
"""

from __future__ import annotations

import json
import math

from flask import Blueprint, Response, jsonify, render_template, request

from kit import AuthFlask, PortalWebSocket, current_user

app = AuthFlask(__name__)

#: Sources near the sample site, with a made-up share of the hazard each carries.
SOURCES = {
    "Alpine Fault": 0.46,
    "Hope Fault": 0.27,
    "Subduction interface": 0.19,
    "Background": 0.08,
}
#: Intensities (peak ground acceleration, g) at which the hazard curve is given.
INTENSITIES = (0.1, 0.2, 0.3, 0.5, 0.75, 1.0)

disagg = Blueprint("svc_disagg", __name__, url_prefix="/svc_disagg")
hazard = Blueprint(
    "svc_hazard",
    __name__,
    url_prefix="/svc_hazard",
    static_folder="hazard_static",
    static_url_path="/static",
)
report = Blueprint("svc_report", __name__, url_prefix="/svc_report")


def exceedance_rate(intensity: float) -> float:
    """Annual rate at which `intensity` is exceeded at the sample site (a smooth toy curve)."""
    return round(0.02 * math.exp(-4.0 * intensity), 6)


@app.get("/")
def index() -> str:
    return render_template("seistech/index.html")


@disagg.get("/")
def disagg_page() -> str:
    return render_template("seistech/disagg.html", sources=SOURCES)


@disagg.get("/api/contributions")
def contributions() -> Response:
    return jsonify(site="sample", contributions=SOURCES)


@hazard.get("/")
def hazard_page() -> str:
    curve = [(i, exceedance_rate(i)) for i in INTENSITIES]
    return render_template("seistech/hazard.html", curve=curve)


@hazard.get("/api/curve")
def curve() -> Response:
    return jsonify(site="sample", curve={str(i): exceedance_rate(i) for i in INTENSITIES})


@app.websocket("/svc_hazard/ws", max_message_size=1024)
def hazard_feed(ws: PortalWebSocket) -> None:
    """Send the rate for each intensity the page asks about; the Gate closes it if the user's
    tier drops below the service's."""
    ws.send(json.dumps({"type": "hello", "user": current_user.display_name}))
    while True:
        text = ws.receive()
        try:
            intensity = float(text)
        except (TypeError, ValueError):
            ws.send(json.dumps({"type": "error", "message": "send an intensity in g, e.g. 0.3"}))
            continue
        if not math.isfinite(intensity) or intensity < 0:
            ws.send(json.dumps({"type": "error", "message": "the intensity must be 0 or more"}))
            continue
        ws.send(
            json.dumps({"type": "rate", "intensity": intensity, "rate": exceedance_rate(intensity)})
        )


@report.get("/")
def report_page() -> str:
    return render_template("seistech/report.html", sources=SOURCES)


@report.get("/api/export")
def export() -> Response:
    """The site report as CSV (sources and their shares)."""
    rows = ["source,share", *(f"{name},{share}" for name, share in SOURCES.items())]
    name = request.args.get("site", "sample")
    if not name.isalnum():
        return jsonify(error="bad_request", message="site must be letters and digits"), 400
    return Response(
        "\n".join(rows) + "\n",
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}-report.csv"'},
    )


for blueprint in (disagg, hazard, report):
    app.register_blueprint(blueprint)
