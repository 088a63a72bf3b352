"""/control over a config file Git owns (`admin.write_to: data_dir`, as on the primary pod,
whose ward.yaml is a ConfigMap): Home Assistant's switches and additions go to the layer in
data_dir and survive a restart; what the file defines stays the file's, and a change to it
is refused with the reason. The file is never written."""

import asyncio
import json
from datetime import timedelta

import pytest
from adguardhome import AdGuardHome
from adguardhome.exceptions import AdGuardHomeError
from conftest import dig, free_port, serve, stop, until


@pytest.fixture()
def layered(tmp_path):
    d = tmp_path
    dns, admin = free_port(), free_port()
    (d / "users").write_text("homeassistant:hunter22\n")
    (d / "ads.txt").write_text("||ads.example^\n")
    (d / "extra.txt").write_text("||extra.example^\n")
    (d / "ward.yaml").write_text(
        f"""
dns: {{ listen: ["127.0.0.1:{dns}"], upstream_timeout: 300ms }}
admin: {{ listen: "127.0.0.1:{admin}", users_file: "{d}/users", write_to: data_dir }}
upstreams: {{ default: {{ servers: ["127.0.0.1:9"] }} }}
lists:
  - {{ id: ads, path: "{d}/ads.txt" }}
  - {{ id: remote, url: "http://127.0.0.1:9/remote.txt" }}
policies:
  main: {{ lists: [ads], rules: ["||file.example^"] }}
default_policy: main
data_dir: "{d}/data"
"""
    )
    ward = {"dns": dns, "url": f"http://127.0.0.1:{admin}", "dir": d,
            "file": (d / "ward.yaml").read_bytes()}
    ward["proc"] = serve(d / "ward.yaml")
    yield ward
    stop(ward["proc"])


def client(ward):
    return AdGuardHome(ward["url"], username="homeassistant", password="hunter22")


def test_switches_and_additions_go_to_the_layer(layered):
    ward = layered

    async def go():
        async with client(ward) as agh:
            # Protection and filtering are the household's switches.
            assert dig(ward, "ads.example") == "0.0.0.0"
            await agh.disable_protection()
            until(lambda: dig(ward, "ads.example") != "0.0.0.0", "protection off")
            await agh.enable_protection()
            until(lambda: dig(ward, "ads.example") == "0.0.0.0", "protection on")
            await agh.filtering.disable()
            until(lambda: dig(ward, "file.example") != "0.0.0.0", "filtering off")
            await agh.filtering.enable()
            until(lambda: dig(ward, "file.example") == "0.0.0.0", "filtering on")
            # A list added to the file's default policy, and rules after the file's.
            await agh.filtering.blocklists.add(str(ward["dir"] / "extra.txt"), name="Extra")
            until(lambda: dig(ward, "extra.example") == "0.0.0.0", "the added list")
            rules = await agh.filtering.user_rules()
            assert rules == ("||file.example^",)
            await agh.filtering.set_user_rules((*rules, "||api.example^"))
            until(lambda: dig(ward, "api.example") == "0.0.0.0", "the added rule")
            # Parental control adds the catalogue's list to the file's policy.
            await agh.parental.enable()
            assert await agh.parental.enabled()
            await agh.parental.disable()
            assert not await agh.parental.enabled()
            # Paused for an hour: kept over a restart.
            await agh.disable_protection(timedelta(hours=1))
            until(lambda: dig(ward, "ads.example") != "0.0.0.0", "protection paused")
    asyncio.run(go())

    layer = json.loads((ward["dir"] / "data/config-layer.json").read_text())
    assert layer["switches"]["protection_enabled"] is False
    assert "protection_disabled_until" in layer["switches"]
    assert layer["policy_lists"] == {"main": ["extra"]}
    assert layer["policy_rules"] == {"main": ["||api.example^"]}
    assert (ward["dir"] / "ward.yaml").read_bytes() == ward["file"], "the file is Git's"

    stop(ward["proc"])
    ward["proc"] = serve(ward["dir"] / "ward.yaml")

    async def after_restart():
        async with client(ward) as agh:
            status = await agh.status()
            assert not status.protection_enabled
            assert status.protection_resumes_in > timedelta(minutes=50)
            await agh.enable_protection()
            until(lambda: dig(ward, "extra.example") == "0.0.0.0", "the layer's list")
            assert dig(ward, "api.example") == "0.0.0.0"
            assert dig(ward, "ads.example") == "0.0.0.0"
    asyncio.run(after_restart())
    layer = json.loads((ward["dir"] / "data/config-layer.json").read_text())
    assert "switches" not in layer, "protection back on is the file's setting again"


def test_what_the_file_defines_stays_the_files(layered):
    ward = layered

    async def go():
        async with client(ward) as agh:
            # The file's list taken out of its policy, the file's rule dropped, a setting
            # of the file's changed: each refused, naming why; nothing changes.
            with pytest.raises(AdGuardHomeError, match="defined in the config file"):
                await agh.filtering.blocklists.disable(str(ward["dir"] / "ads.txt"))
            with pytest.raises(AdGuardHomeError, match="defined in the config file"):
                await agh.filtering.set_user_rules(("||api.example^",))
            with pytest.raises(AdGuardHomeError, match="defined in the config file"):
                await agh.safesearch.enable()
            assert await agh.filtering.user_rules() == ("||file.example^",)
    asyncio.run(go())
    assert dig(ward, "ads.example") == "0.0.0.0"
    assert dig(ward, "file.example") == "0.0.0.0"
    assert not (ward["dir"] / "data/config-layer.json").exists()
    assert (ward["dir"] / "ward.yaml").read_bytes() == ward["file"]
