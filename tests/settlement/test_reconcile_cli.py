"""``saoma reconcile``, run as an operator runs it: exit 1 while any break is open, 0 once every
one is resolved with a note; a file that is not a bank statement (or is an XML bomb) is refused
with exit 2 and a clear message, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from saoma.bootstrap import Platform
from settlement.test_reconcile import a_day, bank_of, today

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08">&lol9;</Document>
"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE d [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08">&secret;</Document>
"""
PAYMENT_ORDER = b"""<?xml version="1.0"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"><CstmrCdtTrfInitn/></Document>
"""


def saoma(db_url: str, *args: str) -> tuple[int, str]:
    """``saoma reconcile ...`` in a process of its own: exit status, and what it printed."""
    done = subprocess.run(
        [sys.executable, "-m", "saoma.cli", "reconcile", *args, "--database-url", db_url],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "250"},
        check=False,
    )
    return done.returncode, done.stdout + done.stderr


def test_open_breaks_keep_the_exit_status_at_1_until_each_is_resolved(
    platform: Platform, db_url: str, tmp_path: Path
) -> None:
    ids = a_day(platform)
    broken = tmp_path / "statement-broken.xml"
    broken.write_bytes(platform.bank.statement(today(), faults=["missing"]))
    missing = bank_of(platform).journal[0].reference
    assert missing == ids["topup"]

    status, out = saoma(db_url, str(broken))
    assert status == 1, out
    assert "missing" in out and missing in out and "500.00" in out and "1 break(s) open" in out
    assert saoma(db_url, str(broken))[0] == 1  # imported before: nothing changed, still open

    clean = tmp_path / "statement.xml"
    clean.write_bytes(platform.bank.statement(today()))
    status, out = saoma(db_url, str(clean))
    assert status == 1, out  # this one has no break, but an earlier one is still open
    assert "0 breaks" in out

    status, out = saoma(db_url, "--open")
    assert status == 1 and missing in out, out
    break_id = next(word for word in out.split() if word.startswith("brk_"))
    assert saoma(db_url, "--resolve", break_id)[0] == 2  # a note is required
    status, out = saoma(db_url, "--resolve", break_id, "--note", "the bank booked it on the 6th")
    assert status == 0, out
    assert saoma(db_url, "--open")[0] == 0
    assert saoma(db_url, str(clean))[0] == 0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"<Document><Stmt>", "not well-formed XML"),
        (b"\x00\xff not xml at all", "not well-formed XML"),
        (b'<?xml version="1.0" encoding="klingon"?><Document/>', "not well-formed XML"),
        (PAYMENT_ORDER, "not a camt.053 bank statement"),
        (BILLION_LAUGHS, "DTD or entities, refused"),
        (EXTERNAL_ENTITY, "DTD or entities, refused"),
        (
            b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"><BkToCstmrStmt>'
            b"<Stmt><Id>S1</Id></Stmt></BkToCstmrStmt></Document>",
            "neither a closing balance",
        ),
    ],
    ids=[
        "truncated",
        "binary",
        "unknown-encoding",
        "not-camt053",
        "billion-laughs",
        "external-entity",
        "no-date",
    ],
)
def test_a_file_that_is_no_statement_is_refused_with_exit_2(
    db_url: str, tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "statement.xml"
    path.write_bytes(content)
    status, out = saoma(db_url, str(path))
    assert status == 2, out
    assert message in out and "Traceback" not in out


def test_no_such_file_and_no_such_break_are_exit_2(db_url: str, tmp_path: Path) -> None:
    status, out = saoma(db_url, str(tmp_path / "nowhere.xml"))
    assert status == 2 and "nowhere.xml" in out and "Traceback" not in out
    status, out = saoma(db_url, "--resolve", "brk_nosuchbreak", "--note", "done")
    assert status == 2 and "brk_nosuchbreak" in out and "Traceback" not in out
