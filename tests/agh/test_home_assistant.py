"""Home Assistant's AdGuard Home client (the PyPI `adguardhome` library, 1.0.0) against a
running `ward serve`: every call the integration makes, each checked by its effect on
the DNS answers (dig from a client address) where it has one.

Run: python3 -m pytest -q tests/agh (WARD_BIN names the binary, else target/debug/ward).
"""

import asyncio
import time
from datetime import timedelta

import pytest
from adguardhome import AdGuardHome
from adguardhome.blocked_services import BlockedServicesConfig, DayRange, Schedule
from adguardhome.exceptions import AdGuardHomeAuthenticationError
from adguardhome.safesearch import SafeSearchConfig
from conftest import dig, until

def run(coro):
    return asyncio.run(coro)


async def client(ward, user="homeassistant", password="hunter22"):
    return AdGuardHome(ward["url"], username=user, password=password)


def test_status_and_credentials(ward):
    async def go():
        async with AdGuardHome(ward["url"], username="homeassistant", password="hunter22") as agh:
            status = await agh.status()
            assert status.running
            assert status.protection_enabled
            assert status.supported, status.version
            assert status.dns_port == ward["dns"]
        async with AdGuardHome(ward["url"], username="admin", password="secret") as agh:
            assert (await agh.status()).running
        async with AdGuardHome(ward["url"], username="admin", password="wrong") as agh:
            with pytest.raises(AdGuardHomeAuthenticationError):
                await agh.status()
        async with AdGuardHome(ward["url"]) as agh:
            with pytest.raises(AdGuardHomeAuthenticationError):
                await agh.status()
    run(go())


def test_protection_toggle_and_pause(ward):
    async def go():
        async with await client(ward) as agh:
            assert dig(ward, "ads.example") == "0.0.0.0"
            await agh.disable_protection()
            until(lambda: dig(ward, "ads.example") != "0.0.0.0", "protection off")
            assert not (await agh.status()).protection_enabled
            await agh.enable_protection()
            until(lambda: dig(ward, "ads.example") == "0.0.0.0", "protection on")
            # Paused for two seconds, then on by itself.
            await agh.disable_protection(timedelta(seconds=2))
            status = await agh.status()
            assert not status.protection_enabled
            assert timedelta(0) < status.protection_resumes_in <= timedelta(seconds=2)
            assert dig(ward, "ads.example") != "0.0.0.0"
            until(lambda: dig(ward, "ads.example") == "0.0.0.0", "the pause ends", 6)
            assert (await agh.status()).protection_enabled
    run(go())


def test_user_rules_round_trip_and_check_host(ward):
    async def go():
        async with await client(ward) as agh:
            rules = await agh.filtering.user_rules()
            assert rules == ("||custom.example^", "! a comment", "")
            assert dig(ward, "custom.example") == "0.0.0.0"
            new = ("# managed", "||kids-game.example^", "", "@@||ok.ads.example^")
            await agh.filtering.set_user_rules(new)
            assert await agh.filtering.user_rules() == new
            until(lambda: dig(ward, "kids-game.example") == "0.0.0.0", "a new rule")
            assert dig(ward, "custom.example") != "0.0.0.0"
            assert dig(ward, "ok.ads.example") != "0.0.0.0"
            check = await agh.filtering.check_host("kids-game.example")
            assert check.reason.value == "FilteredBlackList"
            assert check.rules[0].text == "||kids-game.example^"
            assert check.rules[0].filter_list_id == 0
            allowed = await agh.filtering.check_host("ok.ads.example", client="127.0.0.3")
            assert allowed.reason.value == "NotFilteredWhiteList"
            listed = await agh.filtering.check_host("ads.example")
            assert listed.reason.value == "FilteredBlackList"
            assert listed.rules[0].filter_list_id > 0
    run(go())


def test_filter_lists_add_disable_enable_remove_refresh(ward):
    async def go():
        async with await client(ward) as agh:
            status = await agh.filtering.get()
            assert status.enabled
            # The filtering switch: lists and user rules off, then on again.
            await agh.filtering.disable()
            assert not (await agh.filtering.get()).enabled
            until(lambda: dig(ward, "ads.example") != "0.0.0.0", "filtering off")
            await agh.filtering.enable()
            until(lambda: dig(ward, "ads.example") == "0.0.0.0", "filtering on")
            lists = await agh.filtering.blocklists.list()
            assert [l.name for l in lists] == ["ads"]
            assert lists[0].rules_count == 1
            extra = str(ward["dir"] / "extra.txt")
            await agh.filtering.blocklists.add(extra, name="Extra list")
            until(lambda: dig(ward, "extra.example") == "0.0.0.0", "the added list")
            added = await agh.filtering.blocklists.get(extra)
            assert added is not None and added.enabled and added.name == "extra-list"
            await agh.filtering.blocklists.disable(extra)
            until(lambda: dig(ward, "extra.example") != "0.0.0.0", "the list disabled")
            assert not (await agh.filtering.blocklists.get(extra)).enabled
            await agh.filtering.blocklists.enable(extra)
            until(lambda: dig(ward, "extra.example") == "0.0.0.0", "the list enabled again")
            assert await agh.filtering.blocklists.refresh() == 0
            await agh.filtering.blocklists.remove(extra)
            until(lambda: dig(ward, "extra.example") != "0.0.0.0", "the list removed")
            assert await agh.filtering.blocklists.get(extra) is None
    run(go())


def test_allowlists_let_through_what_they_name(ward):
    async def go():
        async with await client(ward) as agh:
            keep = ward["dir"] / "keep.txt"
            # In an allowlist a blocking rule allows, as in AdGuard Home's.
            keep.write_text("||ads.example^\n")
            assert dig(ward, "ads.example") == "0.0.0.0"
            await agh.filtering.allowlists.add(str(keep), name="Keep these")
            until(lambda: dig(ward, "ads.example") != "0.0.0.0", "the allowlist added")
            allowed = await agh.filtering.allowlists.get(str(keep))
            assert allowed is not None and allowed.enabled and allowed.rules_count == 1
            assert await agh.filtering.blocklists.get(str(keep)) is None
            checked = await agh.filtering.check_host("ads.example")
            assert checked.reason == "NotFilteredWhiteList", checked
            await agh.filtering.allowlists.disable(str(keep))
            until(lambda: dig(ward, "ads.example") == "0.0.0.0", "the allowlist disabled")
            await agh.filtering.allowlists.enable(str(keep))
            until(lambda: dig(ward, "ads.example") != "0.0.0.0", "the allowlist enabled")
            await agh.filtering.allowlists.remove(str(keep))
            until(lambda: dig(ward, "ads.example") == "0.0.0.0", "the allowlist removed")
            assert await agh.filtering.allowlists.list() == ()
    run(go())


def test_parental_safe_browsing_and_safe_search(ward):
    async def go():
        async with await client(ward) as agh:
            assert not await agh.parental.enabled()
            await agh.parental.enable()
            assert await agh.parental.enabled()
            await agh.parental.disable()
            assert not await agh.parental.enabled()
            await agh.safebrowsing.enable()
            assert await agh.safebrowsing.enabled()
            await agh.safebrowsing.disable()
            assert not await agh.safebrowsing.enabled()

            assert not (await agh.safesearch.config()).enabled
            before = await agh.filtering.check_host("www.google.com")
            assert before.reason.value == "NotFilteredNotFound"
            await agh.safesearch.set_config(SafeSearchConfig(enabled=True, google=True))
            config = await agh.safesearch.config()
            assert config.enabled and config.google and not config.bing
            after = await agh.filtering.check_host("www.google.com")
            assert after.reason.value == "FilteredSafeSearch"
            assert after.cname == "forcesafesearch.google.com"
            assert (await agh.filtering.check_host("www.bing.com")).reason.value == "NotFilteredNotFound"
            # Over DNS: the CNAME to the enforcement host (whose addresses the unreachable
            # upstream cannot give).
            until(lambda: "forcesafesearch.google.com." in dig(ward, "www.google.com"), "safe search")
            await agh.safesearch.disable()
            assert not (await agh.safesearch.config()).enabled
    run(go())


def test_blocked_services(ward):
    async def go():
        async with await client(ward) as agh:
            available = await agh.blocked_services.get()
            ids = {s.id for s in available.services}
            assert {"tiktok", "youtube", "roblox"} <= ids
            assert "social_network" in {g.id for g in available.groups}
            await agh.blocked_services.block("tiktok")
            assert "tiktok" in (await agh.blocked_services.config()).blocked
            until(lambda: dig(ward, "www.tiktok.com") == "0.0.0.0", "TikTok blocked")
            check = await agh.filtering.check_host("www.tiktok.com")
            assert check.reason.value == "FilteredBlockedService"
            assert check.service_name == "tiktok"
            # A pause every day, all day: blocked, but let through while it is open.
            all_day = DayRange(start=timedelta(0), end=timedelta(hours=24))
            days = {d: all_day for d in ("sun", "mon", "tue", "wed", "thu", "fri", "sat")}
            paused = BlockedServicesConfig(
                blocked=("tiktok",), schedule=Schedule(time_zone="UTC", **days)
            )
            await agh.blocked_services.set_config(paused)
            until(lambda: dig(ward, "www.tiktok.com") != "0.0.0.0", "TikTok paused")
            config = await agh.blocked_services.config()
            assert config.blocked == ("tiktok",)
            assert config.schedule.time_zone == "UTC"
            assert config.schedule.wed == all_day
            # No schedule: blocked again.
            await agh.blocked_services.set_config(BlockedServicesConfig(blocked=("tiktok",)))
            until(lambda: dig(ward, "www.tiktok.com") == "0.0.0.0", "the pause removed")
            await agh.blocked_services.unblock("tiktok")
            until(lambda: dig(ward, "www.tiktok.com") != "0.0.0.0", "TikTok let through")
    run(go())


def test_rewrites_are_local_records(ward):
    async def go():
        async with await client(ward) as agh:
            await agh.rewrite.add("nas.home.example", "192.168.1.5")
            until(lambda: dig(ward, "nas.home.example") == "192.168.1.5", "the rewrite")
            rules = await agh.rewrite.get()
            assert ("nas.home.example", "192.168.1.5") in {(r.domain, r.answer) for r in rules}
            await agh.rewrite.update("nas.home.example", "192.168.1.5", new_answer="192.168.1.6")
            until(lambda: dig(ward, "nas.home.example") == "192.168.1.6", "the rewrite updated")
            await agh.rewrite.remove("nas.home.example", "192.168.1.6")
            until(lambda: dig(ward, "nas.home.example") != "192.168.1.6", "the rewrite removed")
            assert (await agh.rewrite.config()).enabled
    run(go())


def test_statistics_query_log_clients_and_update(ward):
    async def go():
        async with await client(ward) as agh:
            for _ in range(3):
                dig(ward, "ads.example")
            stats = await agh.stats.get()
            deadline = time.time() + 5
            while stats.dns_queries < 3:
                assert time.time() < deadline, stats
                await asyncio.sleep(0.1)
                stats = await agh.stats.get()
            assert stats.blocked_filtering >= 3
            assert stats.time_unit.value == "hours"
            assert stats.top_blocked_domains.get("ads.example", 0) >= 3
            log = await agh.querylog.get(limit=10)
            reasons = {e.reason.value for e in log.entries}
            assert "FilteredBlackList" in reasons, reasons
            blocked = next(e for e in log.entries if e.question.name == "ads.example")
            assert blocked.client_ip == "127.0.0.3"
            assert blocked.client_info.name == "tablet"
            config = await agh.querylog.config()
            assert config.enabled
            clients = await agh.clients.get()
            tablet = next(c for c in clients.configured if c.name == "tablet")
            assert "user_child" in clients.supported_tags
            assert tablet.ids == ("127.0.0.3/32",)
            assert "device_tablet" in tablet.tags
            update = await agh.update.get()
            assert update.disabled
            await agh.stats.reset()
            # (A query answered just before may be counted after.)
            after = await agh.stats.get()
            assert after.dns_queries < stats.dns_queries
            assert after.top_blocked_domains.get("ads.example", 0) < 3
    run(go())

