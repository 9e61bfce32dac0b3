"""Reading the home page as a person would: each count, and the rows its link leads to."""

from urllib.parse import urlsplit

from django.urls import resolve

from clinics.home_cards import HomeCount


def home_counts(client) -> dict[str, dict[str, HomeCount]]:
    """{card title: {count label: count}} of the signed-in person's home page."""
    response = client.get("/")
    assert response.status_code == 200
    return {
        shown.card.title: {count.label: count for count in shown.content.counts}
        for shown in response.context["cards"]
    }


def values(cards: dict[str, dict[str, HomeCount]]) -> dict[str, dict[str, int]]:
    return {title: {label: count.value for label, count in counts.items()} for title, counts in cards.items()}


def rows_behind(client, url: str) -> int:
    """How many rows the page at `url` lists: what the count linking there must equal.

    A follow-up link's fragment names the section it counts.
    """
    parts = urlsplit(url)
    response = client.get(f"{parts.path}?{parts.query}")
    assert response.status_code == 200, url
    context = response.context
    match resolve(parts.path).view_name:
        case "referrals:queues":
            [(_, _, _first_page, count)] = context["queues"]
            return count
        case "referrals:plans_awaiting":
            return sum(len(group.rows) for group in context["groups"])
        case "outreach:followups":
            section = {"overdue-heading": "overdue", "today-heading": "today"}[parts.fragment]
            return len(getattr(context["groups"], section))
        case (
            "referrals:list"
            | "outreach:attention"
            | "physicians:prospects"
            | "letters:review"
            | "letters:to_send"
            | "letters:loop"
        ):
            return context["page"].paginator.count
        case other:
            raise AssertionError(f"No way to count the rows of {other}")


def assert_links_show_what_they_count(client) -> int:
    """Follows every count of the home page; returns how many counts were checked."""
    cards = home_counts(client)
    checked = 0
    for title, counts in cards.items():
        for label, count in counts.items():
            assert rows_behind(client, count.url) == count.value, (title, label, count.url)
            checked += 1
    return checked
