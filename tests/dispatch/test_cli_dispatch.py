"""``gridint dispatch``: the issue's JSON fields exactly, the PNG, one-line errors."""

from __future__ import annotations

import json

from gridint.cli import main
from gridint.dispatch import CLI_FIELDS


def test_json_fields_and_plot(capfd, tmp_path):
    """stdout is pure JSON even at the file-descriptor level (HiGHS prints no banner)."""
    out_png = tmp_path / "envelope.png"
    rc = main(["dispatch", "xt-jingkai-industrial", "--date", "2024-03-22", "--json", "--plot", str(out_png)])
    assert rc == 0
    d = json.loads(capfd.readouterr().out)
    assert list(d) == list(CLI_FIELDS)
    assert d["feeder"] == "xt-jingkai-industrial" and d["date"] == "2024-03-22" and d["n_steps"] == 96
    assert [u["name"] for u in d["units"]][0] == "xt-jingkai-industrial-ESS-U1"
    assert all(len(u["p_kw"]) == 96 and len(u["soc_percent"]) == 96 for u in d["units"])
    assert isinstance(d["reserve_ok"], bool) and d["violations_after"] <= d["violations_before"]
    assert out_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_text_report_and_errors(capsys):
    assert main(["dispatch", "xt-jingkai-industrial", "--date", "2024-03-22"]) == 0
    text = capsys.readouterr().out
    assert "storage dispatch for 2024-03-22" in text and "T03-ESS-C" in text and "P90 PV" in text
    assert main(["dispatch", "case33bw"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["gridint: error: feeder 'case33bw' has no in-service storage unit to dispatch"]
    assert main(["dispatch", "xt-jingkai-industrial", "--date", "2024-13-01"]) == 2
    assert "YYYY-MM-DD" in capsys.readouterr().err
