"""Sessions while the primary is away (issue 13's failover drills): a request whose work is done
keeps its answer; Django's cached_db store would raise UpdateError, answered 400
SessionInterrupted, to an order that was placed. The database is away for real: the session is
saved in a thread whose connection points at a port nobody serves (as test_database_unavailable)."""

import threading

import pytest
from django.contrib.sessions.backends.base import UpdateError
from django.db import connections

from shop.sessions import SessionStore

pytestmark = pytest.mark.django_db


def _while_the_database_is_away(monkeypatch, work) -> None:
    monkeypatch.setitem(connections.settings["default"], "PORT", "1")
    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 0)
    failure = []

    def run():
        try:
            work()
        except Exception as error:  # handed to the test's thread
            failure.append(error)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=30)
    monkeypatch.undo()
    if failure:
        raise failure[0]


def test_a_change_saved_while_the_database_is_away_is_kept_in_the_cache(postgres, monkeypatch):
    session = SessionStore()
    session["cart"] = "one line"
    session.save()

    def add_a_line():
        later = SessionStore(session_key=session.session_key)
        later["cart"] = "two lines"
        later.save()

    _while_the_database_is_away(monkeypatch, add_a_line)
    assert SessionStore(session_key=session.session_key)["cart"] == "two lines"


def test_a_session_started_while_the_database_is_away_lives_in_the_cache(postgres, monkeypatch):
    started = {}

    def start():
        session = SessionStore()
        session["cart"] = "a guest's line"
        session.save()
        started["key"] = session.session_key

    _while_the_database_is_away(monkeypatch, start)
    assert started["key"]
    assert SessionStore(session_key=started["key"])["cart"] == "a guest's line"


def test_a_session_deleted_meanwhile_still_interrupts_the_request(postgres):
    session = SessionStore()
    session["cart"] = "one line"
    session.save()
    request_copy = SessionStore(session_key=session.session_key)
    request_copy["cart"] = "two lines"  # loaded by the request
    SessionStore(session_key=session.session_key).delete()  # signed out elsewhere
    with pytest.raises(UpdateError):
        request_copy.save()
