"""Files in the full-screen UI: the commands, the offer line, ``y``, and the progress row.

The app drives a ``FakeRoom`` (``room_double``); Pilot presses the keys and
every wait is for a condition (``tui_harness.settle``).
"""

from __future__ import annotations

from dataclasses import replace

from room_double import FakeRoom, FakeSource, views
from tui_harness import FIXED_SAS, fixed_settings, run, settle, until

from confide.app.events import (
    Connected,
    PeerNick,
    TransferDone,
    TransferFailed,
    TransferOffered,
    TransferProgress,
    TransferRef,
    TransferStarted,
)
from confide.ui.tui.app import ConfideApp
from confide.ui.tui.log import ChatLog
from confide.ui.tui.transfers import ProgressRow
from confide.ui.tui.widgets import ChatInput

PHOTO = TransferRef("alice", 7, True, "photo.jpg", 2_100_000, 1)


def joiner() -> FakeRoom:
    return FakeRoom(
        nick="bob", peer_nick="alice", sas=FIXED_SAS, members=views("bob", "alice", "bob")
    )


def test_an_offer_is_a_line_and_y_on_an_empty_input_accepts_it() -> None:
    async def body() -> None:
        room = joiner()
        app = ConfideApp(fixed_settings())
        async with app.run_test(size=(100, 30)) as pilot:
            app.start_session(FakeSource(room))
            room.emit(Connected("alice", FIXED_SAS))
            await settle(pilot)
            await pilot.press("y")  # no offer yet: an ordinary key
            await settle(pilot)
            chat_input = app.query_one(ChatInput)
            assert chat_input.text == "y"
            chat_input.clear()
            room.offers.append(PHOTO)
            room.emit(TransferOffered(PHOTO))
            await settle(pilot)
            lines = app.query_one(ChatLog).text_lines()
            assert any(
                "alice offers photo.jpg (2.1 MB): /accept (or y) or /decline" in line
                for line in lines
            )
            await pilot.press("y")
            await settle(pilot)
            assert room.files == [("accept", "")]
            assert chat_input.text == ""
            await pilot.press("y")  # nothing waits any more: typed again
            await settle(pilot)
            assert chat_input.text == "y"
            room.end()

    run(body)


def test_send_accept_decline_cancel_are_commands() -> None:
    async def body() -> None:
        room = joiner()
        room.offers.append(PHOTO)
        app = ConfideApp(fixed_settings())
        async with app.run_test(size=(100, 30)) as pilot:
            app.start_session(FakeSource(room))
            room.emit(Connected("alice", FIXED_SAS))
            await settle(pilot)
            for typed in ("/send ~/a b.txt", "/decline photo.jpg", "/accept", "/cancel"):
                await pilot.press(*typed, "enter")
                await settle(pilot)
            assert room.files == [("send", ":~/a b.txt"), ("decline", "photo.jpg")]
            text = "\n".join(app.query_one(ChatLog).text_lines())
            assert "no offer to accept" in text
            assert "no transfer to cancel" in text
            await pilot.press(*"/help", "enter")
            await settle(pilot)
            text = "\n".join(app.query_one(ChatLog).text_lines())
            for usage in ("/send [NICK] PATH", "/accept [NAME]", "/decline [NAME]", "/cancel"):
                assert usage in text
            room.end()

    run(body)


def test_the_progress_row_shows_while_a_transfer_runs() -> None:
    async def body() -> None:
        room = joiner()
        app = ConfideApp(fixed_settings())
        async with app.run_test(size=(100, 30)) as pilot:
            app.start_session(FakeSource(room))
            room.emit(Connected("alice", FIXED_SAS))
            await settle(pilot)
            row = app.query_one(ProgressRow)
            assert not row.display
            room.emit(TransferStarted(PHOTO, 0, "/dl/photo.jpg.part"))
            room.emit(TransferProgress(PHOTO, 1_050_000, 3_000_000.0, 0.35))
            await settle(pilot)
            assert row.display
            await until(pilot, lambda: row.region.height == 1, "the row laid out")
            assert row.lines() == [
                "\u2193 photo.jpg from alice "
                + "\u2501" * 12
                + "\u2500" * 12
                + "  50% \u00b7 1.1 MB of 2.1 MB \u00b7 3.0 MB/s \u00b7 0:00 left"
            ]
            sent = TransferRef("alice", 9, False, "notes.txt", 10_000, 1)
            room.emit(TransferStarted(sent, 0))
            await settle(pilot)
            assert len(row.lines()) == 2
            await until(pilot, lambda: row.region.height == 2, "two rows laid out")
            room.emit(TransferDone(PHOTO, "/dl/photo.jpg"), TransferFailed(sent, "cancelled"))
            await settle(pilot)
            assert not row.display
            text = "\n".join(app.query_one(ChatLog).text_lines())
            assert "received photo.jpg (2.1 MB) from alice: saved as /dl/photo.jpg" in text
            assert "notes.txt to alice: cancelled" in text
            room.end()

    run(body)


def test_on_a_narrow_screen_the_row_keeps_the_percentage_speed_and_time() -> None:
    async def body() -> None:
        room = joiner()
        app = ConfideApp(fixed_settings())
        async with app.run_test(size=(60, 20)) as pilot:
            app.start_session(FakeSource(room))
            room.emit(Connected("alice", FIXED_SAS))
            room.emit(TransferProgress(PHOTO, 1_050_000, 3_000_000.0, 12.0))
            await settle(pilot)
            row = app.query_one(ProgressRow)
            (line,) = row.lines()
            assert line.startswith("\u2193 photo.jpg from alice \u2501")
            assert line.endswith(" 50% \u00b7 3.0 MB/s \u00b7 0:12")
            assert len(line) <= row.content_region.width
            room.end()

    run(body)


def test_a_bar_follows_its_peer_through_a_rename() -> None:
    async def body() -> None:
        room = joiner()
        app = ConfideApp(fixed_settings())
        async with app.run_test(size=(100, 30)) as pilot:
            app.start_session(FakeSource(room))
            room.emit(Connected("alice", FIXED_SAS))
            room.emit(TransferStarted(PHOTO, 0, "/dl/photo.jpg.part"))
            await settle(pilot)
            row = app.query_one(ProgressRow)
            room.emit(PeerNick("alice", "alicia"))
            renamed = replace(PHOTO, peer="alicia")
            room.emit(TransferProgress(renamed, 1_050_000, 3_000_000.0, 0.35))
            await settle(pilot)
            (line,) = row.lines()  # one bar, not a new one beside a stale one
            assert line.startswith("\u2193 photo.jpg from alicia ")
            assert "50%" in line
            room.emit(TransferDone(renamed, "/dl/photo.jpg"))
            await settle(pilot)
            assert not row.display
            assert any("alice is now alicia" in t for t in app.query_one(ChatLog).text_lines())
            room.end()

    run(body)
