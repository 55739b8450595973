
from apps.ea.live import app
from kit import Tier
from kit.testing import product_client


def test_the_page_points_its_socket_at_the_products_own_mount():
    page = product_client(app, tier=Tier.EA).get("/")
    assert page.status_code == 200
    assert 'data-socket-path="/ea/live/ws"' in page.get_data(as_text=True)


def test_the_socket_route_is_a_websocket_route():
    rules = {rule.rule: rule for rule in app.url_map.iter_rules()}
    assert rules["/ws"].websocket
