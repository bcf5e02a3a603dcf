"""Story 13 of issue 6: read-after-write while a node joins and the rings
are rebalanced; after converge every object has exactly three replicas, on
its new primaries, and the dispersion report finds every copy."""

import time

from objstore.cli import dispersion

ACCOUNT = "AUTH_test"


def test_13_read_after_write_during_a_ring_change(fresh_probe, tmp_path):
    probe = fresh_probe
    url, token = probe.auth("test:tester", "testing")
    url = "/" + url.split("/", 3)[3]
    assert probe.client_request(token, "PUT", url + "/c13")[0] in (201, 202)
    config = dispersion.DispersionConfig(auth_url=probe.auth_url, auth_user="test:tester", auth_key="testing",
                                         ring_dir=probe.path("rings"), dispersion_coverage=10.0)
    before = dispersion.report(config)
    assert before["object"]["pct_found"] == 100.0 and before["container"]["pct_found"] == 100.0
    acknowledged = {}

    def write_and_read(batch):
        for number in range(8):
            name = "%s-%d" % (batch, number)
            body = name.encode() * 10
            status = probe.client_request(token, "PUT", "%s/c13/%s" % (url, name), {}, body)[0]
            if status == 201:
                acknowledged[name] = body
        for name, body in acknowledged.items():
            status, _headers, got = probe.client_request(token, "GET", "%s/c13/%s" % (url, name))
            assert (status, got) == (200, body), (batch, name, status)

    write_and_read("before")
    node = probe.add_node()
    write_and_read("node-up")
    probe.rebalance_with(node)
    write_and_read("rebalanced")
    time.sleep(1)
    write_and_read("settling")
    probe.converge()
    write_and_read("converged")
    probe.converge()
    for name, body in acknowledged.items():
        _part, primaries, _handoffs = probe.nodes_for(ACCOUNT, "c13", name)
        holders = [n for n in range(1, probe.nodes + 1) if probe.object_files(n, ACCOUNT, "c13", name)]
        assert sorted(holders) == sorted(primaries), (name, holders, primaries)
        for n in primaries:
            resp = probe.direct("object", n, "GET", ACCOUNT, "c13", name)
            assert (resp.status, resp.body) == (200, body), (name, n)
    assert len(acknowledged) == 40
    after = dispersion.report(config)
    assert after["object"]["pct_found"] == 100.0, after
    assert after["container"]["pct_found"] == 100.0, after
