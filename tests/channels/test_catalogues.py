"""The channels' one loader of texts (kiunga.channels.catalogues), read by the
conversations, the /me pages and the captive portal: every catalogue of each holds every
key of English with the same placeholders; a language is added by adding files; and a gap
(a language, a key, a value) is never an error."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from kiunga.channels.catalogues import LANGUAGE_NAME, Catalogue, placeholders
from kiunga.channels.conversations.texts import CATALOGUE as CONVERSATIONS
from kiunga.channels.portal.i18n import CATALOGUE as PORTAL
from kiunga.channels.selfcare.i18n import CATALOGUE as SELFCARE

CATALOGUES = {"conversations": CONVERSATIONS, "selfcare": SELFCARE, "portal": PORTAL}


@pytest.mark.parametrize("name", sorted(CATALOGUES))
def test_every_key_is_in_every_language_with_the_same_placeholders(name):
    catalogue = CATALOGUES[name]
    books = catalogue.books
    assert {"en", "sw"} <= set(books) and catalogue.languages[0] == "en"
    english = books["en"]
    for language, book in books.items():
        assert set(book) == set(english), (language, set(english) ^ set(book))
        for key, text in english.items():
            assert placeholders(book[key]) == placeholders(text), (language, key)
            assert book[key].strip(), (language, key)


@pytest.mark.parametrize("catalogue", [SELFCARE, PORTAL], ids=["selfcare", "portal"])
def test_pages_with_a_language_switch_name_each_language_in_itself(catalogue):
    assert catalogue.language_name("en") == "English"
    assert catalogue.language_name("sw") == "Kiswahili"


@pytest.mark.parametrize("catalogue", [SELFCARE, PORTAL], ids=["selfcare", "portal"])
def test_the_texts_are_shipped_beside_the_code(catalogue):
    # setup.py ships every .toml of the package folders (tests/packaging checks the wheel).
    folder = catalogue.folder
    assert sorted(p.name for p in folder.glob("*.toml")) == ["en.toml", "sw.toml"]
    assert (folder / "__init__.py").is_file()


def test_a_third_language_is_a_file(tmp_path: Path):
    folder = tmp_path / "catalogue"
    shutil.copytree(SELFCARE.folder, folder, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    (folder / "fr.toml").write_text(
        f'{LANGUAGE_NAME} = "Français"\nsign_out = "Se déconnecter"\n'
        'too_many = "Trop d\'essais. Attendez {minutes} minutes."\n',
        encoding="utf-8",
    )
    catalogue = Catalogue(folder)
    assert catalogue.languages == ("en", "fr", "sw")
    t = catalogue.translator("fr")
    assert t.language == "fr" and t("sign_out") == "Se déconnecter"
    assert t("too_many", minutes=5) == "Trop d'essais. Attendez 5 minutes."
    # What the French file lacks is said in English.
    assert t("nav_pay") == "Pay"
    # A page's switch goes round every language, each named in itself.
    assert [catalogue.next_language(c) for c in catalogue.languages] == ["fr", "sw", "en"]
    assert catalogue.language_name("fr") == "Français"


def test_gaps_are_never_errors():
    t = SELFCARE.translator("xx")
    assert t.language == "en"
    assert SELFCARE.translator("xx", "sw").language == "sw"
    assert t("no_such_key") == "no_such_key"
    assert t("too_many") == "Too many tries. Wait  minutes, then try again."
    assert t("too_many", minutes=None) == "Too many tries. Wait  minutes, then try again."
    assert SELFCARE.language_or_default(["en"]) == "en"


def test_a_folder_without_english_is_refused(tmp_path: Path):
    (tmp_path / "sw.toml").write_text('a = "b"\n')
    with pytest.raises(FileNotFoundError):
        Catalogue(tmp_path).text("sw", "a")
