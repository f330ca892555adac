"""Keyed hashes of normalised identity fields find the same survivor without plaintext comparison."""
from datetime import date

import pytest
from intake.domain.duplicates import fingerprints, normalise
from intake.domain.vocabulary import DuplicateMatch

pytestmark = pytest.mark.unit
KEY = b"k" * 32


@pytest.mark.parametrize("a, b", [("María-José", "maria jose"), ("PÉREZ  Ñúñez", "perez nunez"),
                                  ("ＭＡＲＩＡ", "maria"), ("O'Connor", "oconnor"), ("Ẓoë\u0301", "zoe")])
def test_normalisation(a, b):
    assert normalise(a) == normalise(b)


def prints(**kw):
    base = {"given_names": "María José", "family_names": "Pérez López", "date_of_birth": date(1994, 3, 2),
                "document_type": "cedula_venezuela", "document_number": "V-12.345.678"}
    return fingerprints(KEY, **{**base, **kw})


def test_same_person_written_differently_matches():
    a = prints()
    b = prints(given_names="maria jose", family_names="PEREZ LOPEZ", document_number="v 12345678")
    assert a == b


def test_swapped_given_and_family_names_still_match():
    assert prints()[DuplicateMatch.NAME_AND_BIRTH_DATE] == \
        prints(given_names="Pérez López", family_names="María José")[DuplicateMatch.NAME_AND_BIRTH_DATE]


def test_different_birth_date_or_document_does_not_match():
    assert prints()[DuplicateMatch.NAME_AND_BIRTH_DATE] != prints(date_of_birth=date(1994, 3, 3))[DuplicateMatch.NAME_AND_BIRTH_DATE]
    assert prints()[DuplicateMatch.DOCUMENT] != prints(document_number="V-12345679")[DuplicateMatch.DOCUMENT]
    assert prints()[DuplicateMatch.DOCUMENT] != prints(document_type="passport")[DuplicateMatch.DOCUMENT]


def test_digests_depend_on_the_secret_and_carry_no_identity():
    a, b = prints(), fingerprints(b"x" * 32, given_names="María José", family_names="Pérez López",
                                  date_of_birth=date(1994, 3, 2), document_type="cedula_venezuela",
                                  document_number="V-12.345.678")
    assert a[DuplicateMatch.DOCUMENT] != b[DuplicateMatch.DOCUMENT]
    for digest in a.values():
        assert len(digest) == 64 and "maria" not in digest and "12345678" not in digest


def test_anonymous_or_incomplete_identity_gives_no_fingerprint():
    assert fingerprints(KEY, given_names=None, family_names=None, date_of_birth=None, document_type=None,
                        document_number=None) == {}
    only_names = fingerprints(KEY, given_names="Ana", family_names=None, date_of_birth=None, document_type=None,
                              document_number=None)
    assert only_names == {}
