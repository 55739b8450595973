from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

NOTES = [
    "Stations 4 and 7 report again since Monday.",
    "The rainfall model v2 is in early access.",
    "Edit board_site/views.py: the page changes on the next reload.",
]


def index(request: HttpRequest) -> HttpResponse:
    # The portal sets these itself on every request it passes on, after removing any a client
    # sent; a server reachable by other routes verifies X-Portal-Identity instead.
    who = request.headers.get("X-Portal-Name") or request.headers.get("X-Portal-Email", "")
    return render(request, "board.html", {"notes": NOTES, "who": who})


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})
