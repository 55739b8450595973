import json

from apps.devel.explorer import app
from kit.testing import product_client


def test_the_page_tells_dash_where_the_product_is_mounted():
    page = product_client(app).get("/")
    config = page.text.split('<script id="_dash-config" type="application/json">')[1]
    config = json.loads(config.split("</script>")[0])
    assert page.status_code == 200
    assert config["requests_pathname_prefix"] == "/devel/explorer/"


def test_the_callback_plots_the_chosen_station():
    answer = product_client(app).post(
        "/_dash-update-component",
        json={
            "output": "..rainfall.figure...total.children..",
            "outputs": [
                {"id": "rainfall", "property": "figure"},
                {"id": "total", "property": "children"},
            ],
            "inputs": [{"id": "station", "property": "value", "value": "Ridge"}],
            "changedPropIds": ["station.value"],
        },
    )
    response = answer.get_json()["response"]
    assert response["rainfall"]["figure"]["data"][0]["y"][:3] == [131, 117, 109]
    assert response["total"]["children"] == "Ridge: 1261 mm in a year"
