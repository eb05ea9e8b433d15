"""What publishing Webcare as open source needs (issue 7): the EUPL-1.2 licence text,
publiccode.yml for the catalogues of public software, SECURITY.md, and the accessibility
statement linked from every page."""

from __future__ import annotations

import datetime
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent

# The controlled vocabulary of publiccode.yml (docs/standard/categories-list.rst of the
# standard), the ones Webcare could use; a typo or an invented category fails.
PUBLICCODE_CATEGORIES = {
    "collaboration",
    "communications",
    "contact-management",
    "crm",
    "customer-service-and-support",
    "data-analytics",
    "feedback-and-reviews-management",
    "help-desk",
    "instant-messaging",
    "service-desk",
    "social-media-management",
    "workflow-management",
}


@pytest.fixture(scope="module")
def pyproject() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def publiccode() -> dict[str, Any]:
    loaded = yaml.safe_load((ROOT / "publiccode.yml").read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


# --- LICENSE --------------------------------------------------------------------------------


def test_the_licence_is_the_complete_eupl_1_2() -> None:
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith(
        "EUROPEAN UNION PUBLIC LICENCE v. 1.2\nEUPL © the European Union 2007, 2016"
    )
    headings = re.findall(r"^(\d+)\.\s?\S", text, flags=re.MULTILINE)
    assert headings == [str(article) for article in range(1, 16)], "articles 1-15, in order"
    appendix = text[text.index("Appendix") :]
    for compatible in ("GPL", "AGPL", "OSL", "EPL", "CeCILL", "MPL", "LGPL", "CC BY-SA", "LiLiQ"):
        assert compatible in appendix
    last_sentence = "All other changes or additions to this Appendix require the production of"
    assert text.rstrip().endswith(f"{last_sentence} a new EUPL version.")


def test_pyproject_declares_the_eupl(pyproject: dict[str, Any]) -> None:
    licence = pyproject["project"]["license"]
    assert (licence if isinstance(licence, str) else licence["text"]) == "EUPL-1.2"


# --- publiccode.yml -------------------------------------------------------------------------


def test_publiccode_yml_has_every_required_key(publiccode: dict[str, Any]) -> None:
    for key in (
        "publiccodeYmlVersion",
        "name",
        "url",
        "platforms",
        "categories",
        "developmentStatus",
        "softwareType",
        "description",
        "legal",
        "maintenance",
        "localisation",
    ):
        assert key in publiccode, key
    assert publiccode["publiccodeYmlVersion"] == "0.4"
    assert publiccode["url"].startswith("https://")
    assert publiccode["platforms"] == ["web"]
    assert publiccode["developmentStatus"] in {"concept", "development", "beta", "stable"}
    assert publiccode["softwareType"] == "standalone/web"
    assert set(publiccode["categories"]) <= PUBLICCODE_CATEGORIES
    # Dates are strings in the one format the standard allows.
    datetime.date.fromisoformat(publiccode["releaseDate"])
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", publiccode["releaseDate"])


def test_publiccode_yml_describes_webcare_in_dutch_and_english(
    publiccode: dict[str, Any],
) -> None:
    assert set(publiccode["description"]) == {"nl", "en"}
    for language, description in publiccode["description"].items():
        assert len(description["shortDescription"]) <= 150, language
        assert "\n" not in description["shortDescription"], language
        assert 150 <= len(description["longDescription"]) <= 10_000, language
        assert description["features"], language
    localisation = publiccode["localisation"]
    assert localisation["localisationReady"] is True
    assert set(localisation["availableLanguages"]) == {"nl", "en"}


def test_publiccode_yml_matches_the_version_and_licence_in_pyproject(
    publiccode: dict[str, Any], pyproject: dict[str, Any]
) -> None:
    assert publiccode["softwareVersion"] == pyproject["project"]["version"]
    assert publiccode["legal"]["license"] == "EUPL-1.2"


def test_publiccode_yml_names_a_maintainer_and_the_services_webcare_needs(
    publiccode: dict[str, Any],
) -> None:
    maintenance = publiccode["maintenance"]
    assert maintenance["type"] in {"internal", "contract", "community", "none"}
    if maintenance["type"] in {"internal", "community"}:
        assert all(contact["name"] for contact in maintenance["contacts"])
    depends = {dependency["name"]: dependency for dependency in publiccode["dependsOn"]["open"]}
    assert depends["PostgreSQL"]["versionMin"] == "15"
    assert depends["Redis"]["versionMin"] == "7"


# --- SECURITY.md and the accessibility statement --------------------------------------------


def test_security_md_says_how_to_report_and_links_only_to_files_that_exist() -> None:
    text = (ROOT / "SECURITY.md").read_text(encoding="utf-8")
    for section in ("## Reporting a vulnerability", "## Supported versions", "## In scope"):
        assert section in text
    assert "security@webcare.example" in text  # the placeholder the publisher replaces
    assert "Coordinated Vulnerability Disclosure" in text
    for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", text):
        assert (ROOT / target).exists(), target


def test_every_page_links_to_the_accessibility_statement() -> None:
    # base.html's footer is on every page that does not replace the footer block.
    base = (ROOT / "templates" / "base.html").read_text(encoding="utf-8")
    start = base.index("{% block footer %}")
    footer = base[start : base.index("{% endblock", start)]
    assert "{% url 'inbox:accessibility' %}" in footer
    overriding = [
        template.relative_to(ROOT)
        for template in (ROOT / "templates").rglob("*.html")
        if template.name != "base.html"
        and "{% block footer %}" in template.read_text(encoding="utf-8")
    ]
    assert not overriding, f"these templates drop the footer link: {overriding}"
