"""The page benchmark (bench/pages.py): what it fetches, how it measures, what it writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import pages
from bench.pages import Page, Samples
from inbox.services import conversation_take
from tests.inbox.helpers import citizen_writes


def test_words_are_ranked_by_frequency_and_short_words_left_out() -> None:
    texts = ["De container is vol", "Container kapot", "container vol vol", "Een bak"]

    ranked = pages.words_by_frequency(texts)

    assert ranked[0] == ("container", 3)
    assert ("vol", 3) not in ranked  # shorter than MIN_WORD_LENGTH
    assert [word for word, _count in ranked] == ["container", "kapot"]


def test_the_most_common_phrase_is_two_neighbouring_long_words() -> None:
    texts = ["De groene container is vol", "groene container kapot", "Mijn groene bak"]

    assert pages.phrases_by_frequency(texts) == [
        "groene container",
        "container kapot",
        "mijn groene",
    ]
    assert pages.phrases_by_frequency(["ja nee"]) == []


def test_the_sql_shape_hides_long_literals_and_id_lists() -> None:
    sql = (
        "SELECT  id FROM inbox_message\n WHERE text = 'a long literal value here' "
        "AND status = 'open' AND id IN (1, 2, 3, 4, 5)"
    )

    shape = pages.sql_shape(sql)

    assert shape == (
        "SELECT id FROM inbox_message WHERE text = '…' AND status = 'open' AND id IN (…)"
    )
    assert len(pages.sql_shape("SELECT " + "x, " * 500, limit=50)) == 50


def test_only_selects_are_explained_with_their_local_settings() -> None:
    captured = [
        {"sql": "UPDATE inbox_conversation SET status = 'open'", "time": "0.900"},
        {"sql": "SELECT 1", "time": "0.010"},
        {"sql": "BEGIN", "time": "0.000"},
        {"sql": "SET LOCAL enable_indexscan = off", "time": "0.000"},
        {"sql": "  select 2", "time": "0.020"},
        {"sql": "ROLLBACK", "time": "0.000"},
        {"sql": "SELECT 3", "time": "0.001"},
    ]

    selects = pages.selects_of(captured, "/search/")

    assert [(select.seconds, select.sql, select.settings) for select in selects] == [
        (0.020, "  select 2", ("SET LOCAL enable_indexscan = off",)),
        (0.010, "SELECT 1", ()),
        (0.001, "SELECT 3", ()),
    ]
    assert pages.selects_of(captured[:1]) == []


def test_a_figure_is_the_p95_against_the_trivial_pages_p95() -> None:
    page = Page("inbox", "inbox", "anouk", ("/",), "list")
    samples = Samples(page, queries={"/": 8})
    for milliseconds in range(1, 101):
        samples.add("/", milliseconds / 1000)

    figure = pages.figure_of(samples, [0.002] * 95 + [0.004] * 5)

    assert figure.value == 95.0
    assert figure.baseline == 2.0
    assert figure.met is True
    assert figure.queries == 8
    assert "p50 50 ms, p99 99 ms (100 samples" in figure.note


@pytest.fixture
def small_inbox(channel, agent, second_agent):  # type: ignore[no-untyped-def]
    """A few conversations: one long, one of a citizen with two, some taken by the agent."""
    for index in range(4):
        conversation = citizen_writes(
            channel, username=f"burger{index}", text=f"Mijn groene container is kapot {index}"
        )
        if index % 2 == 0:
            conversation_take(conversation_id=conversation.id, actor=agent.user)
    long_thread = citizen_writes(channel, username="lang", text="Eerste bericht over de kelder")
    for index in range(5):
        citizen_writes(
            channel,
            username="lang",
            thread=long_thread.external_thread_id,
            text=f"En nu? {index}",
        )
    return long_thread


@pytest.mark.urls("bench.urls")
def test_the_pages_are_measured_against_the_trivial_page_and_explained(
    small_inbox, agent, second_agent, team_lead, tmp_path: Path
) -> None:
    assert pages.busiest_agent(["anouk", "bram"]) == "anouk"
    spread = pages.conversation_spread()
    assert spread["longest thread"] == small_inbox.id
    searches = pages.search_queries(seed=1)
    assert searches["common word"] == "container"
    assert searches["phrase"] == '"groene container"'  # "mijn" is a stopword
    assert pages.message_hits(searches["rare word"]) == 1
    assert searches["no hits"] == pages.NO_HITS_QUERY
    assert searches["handle"].startswith("@")
    built = pages.build_pages(
        agent="anouk", team_lead="lotte", conversations=spread, searches=searches
    )
    clients = pages._clients({"anouk", "lotte"})

    samples, trivial = pages.measure(
        built, clients, seconds=0, max_samples=3, min_samples=2, warm_up=1
    )

    assert {len(page_samples.seconds) for page_samples in samples.values()} == {2}
    assert len(trivial["anouk"]) == 2 * sum(page.username == "anouk" for page in built)
    # Every page costs a fixed number of queries, counted apart from the timed requests.
    assert all(page_samples.queries for page_samples in samples.values())
    assert samples["inbox-all"].queries["/?queue=all"] <= 10
    written = pages.write_plans(samples, [tmp_path])
    plan = (tmp_path / "inbox-all.txt").read_text()
    assert plan.startswith("Page: inbox, all open (/?queue=all)")
    assert "Execution Time" in plan
    assert written["inbox-all"]["file"] == "plans/inbox-all.txt"


@pytest.mark.urls("bench.urls")
def test_a_page_that_fails_is_a_problem_not_a_figure(agent) -> None:
    clients = pages._clients({"anouk"})
    missing = Page("missing", "missing", "anouk", ("/conversations/999999/",), "list")

    with pytest.raises(pages.PageFailed, match="answered 404"):
        pages.measure([missing], clients, seconds=0, max_samples=1, min_samples=1, warm_up=1)
