"""putter.final_answers: how long a PUT waits for its replicas' final answers."""

from objstore.common import green
from objstore.proxy.controllers.putter import final_answers


def test_waits_for_every_answer_while_below_quorum():
    answers = {"a": (201, "e"), "b": (503, None), "c": (201, "e")}
    finals = final_answers(lambda node, resp: answers[node], [("a", 1), ("b", 2), ("c", 3)], 2, 0.0)
    assert sorted(finals, key=str) == [(201, "e"), (201, "e"), (503, None)]


def test_a_slow_replica_after_quorum_is_left_out():
    release = green.Event()
    seen = []

    def finish(node, resp):
        if node == "slow":
            release.wait()  # until the test lets it go, long after the grace
        seen.append(node)
        return 201, "e"

    finals = final_answers(finish, [("a", 1), ("slow", 2), ("b", 3)], 2, 0.01)
    assert finals == [(201, "e"), (201, "e")]
    release.send(True)
    green.sleep(0)
    green.sleep(0)
    assert "slow" in seen  # its answer was still read, in the background


def test_an_exception_in_finish_counts_as_503():
    def finish(node, resp):
        if node == "bad":
            raise RuntimeError("boom")
        return 201, "e"

    finals = final_answers(finish, [("bad", 1), ("a", 2), ("b", 3)], 2, 0.0)
    assert finals == [(503, None), (201, "e"), (201, "e")]
