"""Mastodon's way of counting a status, and status HTML as plain text."""

from __future__ import annotations

import pytest

from channels.mastodon_text import (
    addressed,
    grapheme_length,
    html_to_text,
    mentions_recipient,
    status_length,
)


@pytest.mark.parametrize(
    ("text", "length"),
    [
        ("Hallo", 5),
        ("", 0),
        # Every URL counts as 23, however long or short.
        ("https://a.nl", 23),
        ("Zie https://www.demodorp.nl/afval-en-grondstoffen/kalender?jaar=2026.", 4 + 23 + 1),
        # A remote mention counts without its domain.
        ("@sanne@mastodon.nl dank je", len("@sanne dank je")),
        ("@sanne dank je", len("@sanne dank je")),
        # An e-mail address is not a mention.
        ("mail info@demodorp.nl", len("mail info@demodorp.nl")),
        # Grapheme clusters: emoji with modifiers, ZWJ families, flags, combining accents.
        ("👍🏽", 1),
        ("👨‍👩‍👧", 1),
        ("🇳🇱", 1),
        ("e\u0301", 1),
        ("1️⃣", 1),
        ("🗑️", 1),
    ],
)
def test_status_length_counts_like_mastodon(text, length):
    assert status_length(text) == length


def test_grapheme_length_counts_code_points_of_plain_text():
    assert grapheme_length("Gemeente Demodorp") == 17


def test_paragraphs_and_line_breaks_become_blank_lines_and_newlines():
    assert html_to_text("<p>Een<br>twee<br />drie</p><p>vier</p>") == "Een\ntwee\ndrie\n\nvier"


def test_mentions_become_their_full_address():
    content = (
        '<p><span class="h-card"><a href="https://mastodon.nl/@sanne" class="u-url mention">'
        "@<span>sanne</span></a></span> hoi</p>"
    )
    mentions = [{"url": "https://mastodon.nl/@sanne", "acct": "sanne@mastodon.nl"}]
    assert html_to_text(content, mentions) == "@sanne@mastodon.nl hoi"
    assert html_to_text(content) == "@sanne hoi"


def test_links_show_their_whole_url_and_hidden_targets():
    mastodon_link = (
        '<a href="https://www.demodorp.nl/een/heel/lange/pagina/over/afval">'
        '<span class="invisible">https://</span><span class="ellipsis">www.demodorp.nl/een/heel/'
        'lange/</span><span class="invisible">pagina/over/afval</span></a>'
    )
    assert html_to_text(mastodon_link) == "https://www.demodorp.nl/een/heel/lange/pagina/over/afval"
    assert html_to_text('<a href="https://x.nl/p">hier</a>') == "hier (https://x.nl/p)"
    assert html_to_text('<a href="#tag" class="hashtag">#<span>afval</span></a>') == "#afval"


def test_no_markup_or_script_survives():
    hostile = (
        "<p>Hoi<script>document.cookie</script><style>p{}</style>"
        '<img src=x onerror=alert(1)><a href="javascript:alert(1)">klik</a>'
        "<iframe src=https://evil.example>binnen</iframe> &lt;script&gt;</p>"
    )
    assert html_to_text(hostile) == "Hoiklik <script>"


def test_entities_are_unescaped_once():
    assert html_to_text("<p>R&amp;D &amp;amp; &#39;t &quot;hoi&quot; &eacute;</p>") == (
        'R&D &amp; \'t "hoi" é'
    )


def test_a_local_recipient_is_mentioned_by_name_or_full_address():
    assert mentions_recipient("@sanne hoi", "sanne")
    assert mentions_recipient("hoi @Sanne@social.demodorp.nl", "sanne")
    assert mentions_recipient("@sanne@mastodon.nl hoi", "sanne@mastodon.nl")
    assert not mentions_recipient("@sanne hoi", "sanne@mastodon.nl")
    assert not mentions_recipient("mail sanne@mastodon.nl", "sanne@mastodon.nl")


def test_a_reply_is_addressed_to_the_citizen_once():
    assert addressed("Dank u!", "sanne") == "@sanne Dank u!"
    assert addressed("@sanne Dank u!", "sanne") == "@sanne Dank u!"
    assert addressed("", "sanne@mastodon.nl") == "@sanne@mastodon.nl "
    assert addressed("Dank u!", "") == "Dank u!"
