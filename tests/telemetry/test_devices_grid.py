"""Devices against the grid model (connection buses, transformer aliases, storage rows, the
cache), file batches, and the local-time helpers of the telemetry report."""
from __future__ import annotations

import argparse
import datetime as dt
import json

import pandapower as pp
import pytest

import gridint.grid.catalog as catalog
from gridint.errors import DeviceInvalid, StoreError
from gridint.hosting.study import _feeder_buses
from gridint.powerflow import compile_net
from gridint.telemetry import ingestion as tin
from gridint.telemetry import report


@pytest.mark.parametrize("name", ["xt-yuetang-urban", "xt-county-rural", "xt-jingkai-industrial",
                                  "case33bw", "cigre-mv-der"])
def test_connection_buses_are_the_buses_the_hosting_study_uses(name, catalog_feeder):
    """Reference: the hosting study's feeder buses (compiled net: supplied, not ext_grid, not
    behind the tie, not above the feeder voltage)."""
    f = catalog_feeder(name)
    c = compile_net(f.net)
    ref = [str(c.bus_names[i]) for i in _feeder_buses(f.net, c, f.voltage_kv)]
    sites = tin.sites_of_net(name, f.net, f.voltage_kv)
    assert sorted(sites.buses) == sorted(ref)
    assert set(sites.excluded).isdisjoint(sites.buses)
    assert len(sites.buses) + len(sites.excluded) == f.net.bus["name"].nunique()


def _toy_net():
    net = pp.create_empty_network()
    hv = pp.create_bus(net, 110.0, name="HV")
    mv = pp.create_bus(net, 10.0, name="MV", zone="f")
    lv = pp.create_bus(net, 0.4, name="LV", zone="f")
    off = pp.create_bus(net, 10.0, name="OFF", zone="f", in_service=False)
    nbr = pp.create_bus(net, 10.0, name="NBR", zone="f-neighbour")
    pp.create_bus(net, 10.0, name=None, zone="f")
    pp.create_ext_grid(net, hv)
    pp.create_ext_grid(net, nbr)
    pp.create_transformer(net, hv, mv, "25 MVA 110/10 kV", name="HVMV")
    pp.create_transformer(net, mv, lv, "0.4 MVA 10/0.4 kV", name="T1")
    pp.create_transformer(net, mv, lv, "0.4 MVA 10/0.4 kV", name="LV")  # named like a bus
    pp.create_storage(net, lv, p_mw=0.0, max_e_mwh=0.1, name="ESS")
    pp.create_storage(net, off, p_mw=0.0, max_e_mwh=0.1, name="ESS-OFF")
    return net


def test_sites_of_a_hand_made_net():
    s = tin.sites_of_net("f", _toy_net(), 10.0)
    assert s.buses == ("MV", "LV")
    assert s.excluded == {"HV": "the supply point (ext_grid)", "OFF": "out of service",
                          "NBR": "behind the normally-open tie (zone f-neighbour)"}
    # a transformer stands for its LV bus, unless its name is a bus name
    assert s.trafo_lv == {"HVMV": "MV", "T1": "LV"}
    assert s.storage_buses == {"ESS": ("LV",), "ESS-OFF": ("OFF",)}
    # without a nominal voltage, an HV bus that is not an ext_grid bus stays
    net = _toy_net()
    net.ext_grid.at[0, "bus"] = 2
    assert tin.sites_of_net("f", net, 10.0).excluded["HV"] == "a 110 kV bus above the feeder's 10 kV"
    assert "HV" in tin.sites_of_net("f", net, float("nan")).buses


def test_check_site_messages_aliases_storage_and_cache(monkeypatch, catalog_feeder):
    tin.clear_site_cache()
    calls = []
    real = catalog.load_feeder

    def counting(name, *a, **k):
        calls.append(name)
        return real(name, *a, **k)

    monkeypatch.setattr(catalog, "load_feeder", counting)
    f = "xt-jingkai-industrial"
    assert tin.check_site(f, f"{f}-N03") == f"{f}-N03"
    assert tin.check_site(f, "T03", "storage", "T03-ESS-C") == f"{f}-T03-LV"
    with pytest.raises(DeviceInvalid) as exc:
        tin.check_site(f, "T06", "storage", "T03-ESS-C")
    assert exc.value.field == "bus" and f"sits at bus '{f}-T03-LV', not '{f}-T06-LV'" in str(exc.value)
    with pytest.raises(DeviceInvalid) as exc:
        tin.check_site(f, "nowhere")
    assert str(exc.value).startswith(f"bus: 'nowhere' is not a bus of {f} (e.g. {f}-N01, {f}-N02, ")
    assert "(12 in all); or a transformer name such as T01 for its LV bus)" in str(exc.value)
    assert calls == [f]  # loaded once, then from the cache
    with pytest.raises(DeviceInvalid) as exc:
        tin.check_site("xt-jingkai", "N01")
    assert exc.value.field == "feeder" and "did you mean 'xt-jingkai-industrial'?" in str(exc.value)
    tin.clear_site_cache()
    tin.check_site(f, f"{f}-N03")
    assert calls == [f, f]


def test_register_device_field_errors(tmp_path):
    from gridint.store import init_db, make_sessionmaker, repo, write_transaction

    engine = init_db(f"sqlite:///{tmp_path / 'd.db'}")
    with make_sessionmaker(engine)() as s:
        with write_transaction(s):
            owner, _ = repo.create_user(s, "ann", "installer")
        ok = dict(name="d1", feeder="case33bw", bus="17", kind="pv", rating_kw=5.0)
        for bad, field in ((dict(name="bad name"), "name"), (dict(kind="wind"), "kind"),
                           (dict(rating_kw=0.0), "rating_kw"), (dict(rating_kw=2e6), "rating_kw"),
                           (dict(kind="storage"), "energy_kwh"),
                           (dict(kind="storage", energy_kwh=-1.0), "energy_kwh"),
                           (dict(feeder="x"), "feeder"), (dict(bus="0"), "bus")):
            with pytest.raises(DeviceInvalid) as exc:
                tin.register_device(s, owner, **{**ok, **bad})
            assert exc.value.field == field and str(exc.value).startswith(field + ":")
        dev = tin.register_device(s, owner, **ok, actor=None)
        assert (dev.feeder, dev.bus) == ("case33bw", "17")
        entry = repo.audit_entries(s, "der_device", dev.id)[-1]
        assert entry.actor_id is None and entry.detail["by"] == "cli"
    engine.dispose()


def test_read_points(tmp_path):
    (tmp_path / "a.csv").write_text("device,time,p_kw\nd,2025-06-01T12:00+08:00,1\n")
    assert tin.read_points(tmp_path / "a.csv") == [{"device": "d", "time": "2025-06-01T12:00+08:00",
                                                    "p_kw": "1"}]
    pts = [{"device": "d", "time": "2025-06-01T12:00+08:00", "p_kw": 1.0}]
    (tmp_path / "b.json").write_text(json.dumps({"points": pts}))
    (tmp_path / "c.JSON").write_text(json.dumps(pts))
    assert tin.read_points(tmp_path / "b.json") == pts == tin.read_points(tmp_path / "c.JSON")
    for name, text, msg in (("d.json", '{"points": 1}', "must hold"), ("e.json", "{", "not JSON"),
                            ("f.json", '{"points": [], "x": 1}', "must hold"),
                            ("g.xml", "", "must end in .csv or .json")):
        (tmp_path / name).write_text(text)
        with pytest.raises(StoreError, match=msg):
            tin.read_points(tmp_path / name)
    with pytest.raises(StoreError, match="not found"):
        tin.read_points(tmp_path / "none.csv")


def test_local_time_helpers():
    t = dt.datetime(2025, 6, 1, 4, 0, tzinfo=dt.timezone.utc)
    assert report.local_time(t) == "2025-06-01 12:00"  # Asia/Shanghai, UTC+8
    assert report.local_time("2025-06-01T04:00:00+00:00", "Europe/Berlin") == "2025-06-01 06:00"
    assert report.local_time(None) == "-"
    assert report.iso_local(t) == "2025-06-01T12:00:00+08:00"
    assert report.iso_local(t.replace(tzinfo=None)) == "2025-06-01T12:00:00+08:00"  # naive = UTC
    assert report.jsonable({"a": [t], "b": 1}) == {"a": ["2025-06-01T12:00:00+08:00"], "b": 1}
    assert report.arg_time("2025-06-01T12:00Z") == t.replace(hour=12)
    with pytest.raises(argparse.ArgumentTypeError, match="no time zone"):
        report.arg_time("2025-06-01T12:00")
    kw = report.arg_number(0, 1e6, "kW", lo_open=True)
    assert kw("2.5") == 2.5
    for bad in ("0", "nan", "inf", "1e7", "x"):
        with pytest.raises(argparse.ArgumentTypeError, match=r"\(0, 1,000,000\] kW"):
            kw(bad)
