"""Explorer: a Dash app as a product, the example for frameworks that must know their URL prefix.

Dash writes absolute URLs into its page (its scripts and its callback endpoint), so it must be
told where it is served. The prefix comes from the folder the product sits in,
``mount_path_of(__name__)``, never from a hard-coded string: moving the folder to another tier
(promoting it) moves the app with it. Dash's own Flask server is the WSGI app the portal mounts,
behind the Gate like any other; the callback requests it makes carry the portal's session.
"""

import dash
from dash import Input, Output, dcc, html

from kit import mount_path_of

#: Monthly rainfall (mm) at three stations: small enough to read, real enough to plot.
RAINFALL = {
    "Harbour": [78, 61, 66, 52, 48, 45, 41, 47, 55, 74, 82, 86],
    "Valley": [102, 88, 84, 70, 61, 58, 50, 57, 72, 95, 110, 118],
    "Ridge": [131, 117, 109, 90, 83, 75, 70, 79, 96, 124, 140, 147],
}
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

dash_app = dash.Dash(
    __name__,
    requests_pathname_prefix=mount_path_of(__name__) + "/",
    routes_pathname_prefix="/",
    title="Explorer",
    # Plain callbacks: Dash would otherwise switch to async endpoints whenever asgiref happens
    # to be installed, which needs flask[async] and a thread without an event loop.
    use_async=False,
)
dash_app.layout = html.Main(
    [
        html.H1("Rainfall explorer"),
        dcc.Dropdown(
            id="station",
            options=[{"label": name, "value": name} for name in RAINFALL],
            value="Harbour",
            clearable=False,
        ),
        dcc.Graph(id="rainfall"),
        html.P(id="total"),
    ]
)


@dash_app.callback(
    Output("rainfall", "figure"), Output("total", "children"), Input("station", "value")
)
def show(station: str) -> tuple[dict, str]:
    values = RAINFALL.get(station, [])
    figure = {
        "data": [{"type": "bar", "x": MONTHS, "y": values, "name": station}],
        "layout": {"title": {"text": f"{station}: monthly rainfall (mm)"}},
    }
    return figure, f"{station}: {sum(values)} mm in a year"


app = dash_app.server
