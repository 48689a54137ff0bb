"""Every command of the full-screen app, in a real chat (Pilot + loopback TCP)."""

from __future__ import annotations

from tui_harness import FIXED_SAS, chat, run

from confide.app.events import PeerLeft, PeerNick
from confide.ui.tui.widgets import StatusBar


def test_help_lists_every_command() -> None:
    async def body() -> None:
        async with chat() as c:
            await c.send("/help")
            text = "\n".join(c.lines())
            for name in ("/help", "/me", "/nick", "/who", "/verify", "/clear", "/quit"):
                assert name in text
            assert "Shift+Enter" in text
            assert c.received() == []

    run(body)


def test_me_sends_an_action() -> None:
    async def body() -> None:
        async with chat() as c:
            await c.send("/me waves")
            await c.until(c.received, "the action")
            got = c.received()[0]
            assert got.action
            assert got.text == "waves"
            assert any(x.endswith("* │ alice waves") for x in c.lines())

    run(body)


def test_nick_renames_us_everywhere() -> None:
    async def body() -> None:
        async with chat() as c:
            await c.send("/nick carol")
            await c.until(
                lambda: any(isinstance(e, PeerNick) for e in c.peer_events), "the peer to see it"
            )
            change = next(e for e in c.peer_events if isinstance(e, PeerNick))
            assert (change.old, change.new) == ("alice", "carol")
            assert c.app.query_one(StatusBar).status.me == "carol"
            assert any("you are now carol" in x for x in c.lines())
            await c.send("hi")
            await c.until(c.received, "a message")
            assert c.received()[0].nick == "carol"

    run(body)


def test_who_shows_both_ends() -> None:
    async def body() -> None:
        async with chat() as c:
            await c.send("/who")
            text = "\n".join(c.lines())
            assert "you: alice" in text
            assert "peer: bob" in text
            assert "room 7" in text
            assert "SAS not compared yet" in text

    run(body)


def test_verify_shows_the_sas_and_verify_ok_marks_verified() -> None:
    async def body() -> None:
        async with chat() as c:
            status = c.app.query_one(StatusBar)
            assert "SAS " + " ".join(FIXED_SAS) in str(status.render())
            await c.send("/verify")
            text = "\n".join(c.lines())
            assert "SAS: " + " ".join(FIXED_SAS) in text
            assert "/verify ok" in text
            assert not c.app.verified
            await c.send("/verify ok")
            assert c.app.verified
            rendered = str(status.render())
            assert "verified" in rendered
            assert FIXED_SAS[0] not in rendered  # the SAS gives way to "verified"
            assert c.received() == []  # verifying sends nothing

    run(body)


def test_clear_empties_the_log() -> None:
    async def body() -> None:
        async with chat() as c:
            c.peer.say("something")
            await c.until(lambda: any("something" in x for x in c.lines()), "a line")
            await c.send("/clear")
            assert c.lines() == []
            assert len(c.log.entries) == 0
            c.peer.say("after")
            await c.until(lambda: c.lines() and "after" in c.lines()[-1], "a new line")

    run(body)


def test_quit_and_bye_leave_and_tell_the_peer() -> None:
    for word in ("/quit", "bye"):

        async def body(word: str = word) -> None:
            async with chat() as c:
                await c.send(word)
                await c.until(
                    lambda: any(isinstance(e, PeerLeft) for e in c.peer_events), "the goodbye"
                )
                await c.until(lambda: not c.app.is_running, "the app to exit")
                assert c.app.return_code == 0
                assert c.received() == []

        run(body)


def test_unknown_command_says_so_and_sends_nothing() -> None:
    async def body() -> None:
        async with chat() as c:
            await c.send("/frobnicate now")
            assert any("unknown command /frobnicate" in x for x in c.lines())
            assert c.input.text == "/frobnicate now"  # kept, to fix it
            c.input.clear()
            for wrong in ("/nick", "/me", "/verify maybe", "/clear all"):
                await c.send(wrong)
                c.input.clear()
            await c.send("//not a command")  # // sends a line starting with /
            await c.until(c.received, "a message")
            # the first and only message the peer ever got is the escaped one
            assert [m.text for m in c.received()] == ["/not a command"]
            text = "\n".join(c.lines())
            assert "usage: /nick NEW" in text
            assert "usage: /me ACTION" in text
            assert "/clear takes no arguments" in text

    run(body)
