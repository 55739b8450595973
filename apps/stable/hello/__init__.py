"""Hello: the example to copy when starting a product.

It shows the three things most products need: a page inside the portal's frame that knows the
user, its own static files (served under its mount path and protected by the Gate like every
other route), and a JSON API for scripts and the page's own JavaScript.
"""

from flask import Response, jsonify, render_template

from kit import AuthFlask, current_user

app = AuthFlask(__name__)


@app.get("/")
def index() -> str:
    return render_template("hello/index.html")


@app.get("/api/greeting")
def greeting() -> Response:
    product = app.product
    return jsonify(
        message=f"Hello, {current_user.display_name}",
        tier=current_user.tier.value,
        product=product.key if product else None,
    )
