from tests.helpers import Client, parse


async def test_home_lists_eleven_zones(client: Client) -> None:
    response = await client.get("/")
    assert response.status_code == 200
    zones = parse(response).select("[data-zone]")
    assert [z["data-zone"] for z in zones] == [str(n) for n in range(1, 12)]


async def test_healthz_and_readyz(client: Client) -> None:
    assert (await client.get("/healthz")).status_code == 200
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"ready": True, "database": "ok", "channel_layer": "ok"}
