"""Whatever bytes a worker sends, the grader reads them through ``replies`` and gets a typed
message or a ``BadReply``: never another exception, never unbounded memory or text."""
import json
import random

import numpy as np
import pytest

from autograder import replies
from autograder.checking import CallReply
from autograder.runtime import codec


def result_bytes(value=None, call_id=0, **extra):
    msg = {"op": "result", "id": call_id, "ok": True, "value": codec.to_plain(value), "forbidden": [], "cpu": 0.01}
    msg.update(extra)
    return json.dumps(msg).encode()


def test_a_well_formed_result_is_read_with_its_value():
    reply = replies.result(result_bytes(np.arange(3.0)), 0)
    assert isinstance(reply, CallReply) and reply.ok and reply.cpu == 0.01
    np.testing.assert_array_equal(reply.value, np.arange(3.0))


@pytest.mark.parametrize("raw, why", [
    (b"[]", "a list, not a message"),
    (b"[" * 150_000 + b"]" * 150_000, "nested too deeply"),
    (b"[" + b"[]," * 300_000 + b"[]]", "more than 200000 lists"),
    (b"\xff\xfe", "not valid JSON"),
    (b'{"op": "result", "id": 0, "ok": true, "value": null, "cpu": NaN}', "holds NaN"),
    (b'{"op": "result", "id": 0, "ok": true, "value": null, "cpu": 1e999}', "not a number of seconds"),
    (b'{"op": "result", "id": 0, "ok": true, "value": null, "cpu": -1}', "not a number of seconds"),
    (b'{"op": "result", "id": 1, "ok": true, "value": null}', "answers another call"),
    (b'{"op": "result", "id": true, "ok": true, "value": null}', "'id' is a bool"),
    (b'{"op": "result", "id": 0, "ok": "yes", "value": null}', "'ok' is a str"),
    (b'{"op": "result", "id": 0, "ok": true}', "has no value"),
    (b'{"op": "result", "id": 0, "ok": false, "error": "boom"}', "'error' is a str"),
    (b'{"op": "loaded", "id": 0}', "expected a 'result' reply"),
    (b'{"op": "result", "id": 0, "ok": true, "value": {"__pickle__": "x"}}', "cannot be read"),
    (b'{"op": "result", "id": 0, "ok": true, "value": {"__ndarray__": {"dtype": "float64", "shape": [-1],'
     b' "data": ""}}}', "cannot be read"),
    (b'{"op": "result", "id": 0, "ok": true, "value": {"__ndarray__": {"dtype": "object", "shape": [1],'
     b' "data": "AAAA"}}}', "cannot be read"),
    (b'{"op": "result", "id": 0, "ok": true, "value": {"__ndarray__": {"dtype": "float64", "shape": [2],'
     b' "data": "not base64!"}}}', "cannot be read"),
    (b'{"op": "result", "id": 0, "ok": true, "value": {"__dict__": [[1]]}}', "cannot be read"),
    (b'{"op": "result", "id": 0, "ok": true, "value": {"__bigint__": "' + b"9" * 5000 + b'"}}', "cannot be read"),
    (b'{"op": "result", "id": 0, "ok": true, "value": {"__module__": "M", "state": 3}}', "cannot be read"),
])
def test_bad_results_are_refused_with_a_reason(raw, why):
    with pytest.raises(replies.BadReply, match=why):
        replies.result(raw, 0)


def test_replies_over_the_size_limit_are_refused_before_decoding():
    with pytest.raises(replies.BadReply, match="exceeds"):
        replies.decode(b" " * (replies.MAX_REPLY_BYTES + 1))


def test_strings_are_cut_and_cleaned():
    huge = "\x1b[31m" + "A" * (10 << 20)
    reply = replies.result(json.dumps({"op": "result", "id": 0, "ok": False, "forbidden": ["torch.x"] * 1000,
                                       "error": {"type": huge, "message": huge, "traceback": huge}}).encode(), 0)
    assert len(reply.error.type) <= 200 and len(reply.error.message) <= 4000 and len(reply.error.traceback) <= 4000
    assert "\x1b" not in reply.error.message and reply.error.message.endswith("(cut)")
    assert len(reply.forbidden) == 20
    opaque = replies.result(result_bytes(call_id=0, value=None) .replace(b'"value": null',
                            b'"value": {"__opaque__": "' + b"B" * (1 << 20) + b'", "text": "x"}'), 0).value
    assert isinstance(opaque, codec.Opaque) and len(opaque.type_name) == codec.SHORT


def test_load_replies():
    got = replies.loaded(json.dumps({"op": "loaded", "cell_errors": ["cell 2, line 1: x"] * 100,
                                     "names": ["model"] * 5000}).encode())
    assert len(got["cell_errors"]) == replies.MAX_CELL_ERRORS and len(got["names"]) == replies.MAX_NAMES
    assert got["fatal"] == ""
    with pytest.raises(replies.BadReply, match="not a list of strings"):
        replies.loaded(b'{"op": "loaded", "names": [1, 2]}')
    assert replies.parsed(b'{"op": "parsed", "signature": "0123abcd"}') == "0123abcd"
    with pytest.raises(replies.BadReply, match="not a hex digest"):
        replies.parsed(b'{"op": "parsed", "signature": "<script>"}')


def test_a_submissions_reply_budget_is_shared_and_ends():
    budget = replies.Budget(100)
    budget.spend(60)
    with pytest.raises(replies.BadReply, match="more than"):
        budget.spend(60)


def test_mutated_replies_raise_nothing_but_bad_reply():
    """A seeded fuzz: valid replies with random bytes changed, cut or repeated."""
    rng = random.Random(0)
    seeds = [result_bytes(v) for v in (np.eye(3), [1, (2.5, "x")], {"a": np.float32(2)}, None, "text", 10 ** 30)]
    seeds.append(b'{"op": "result", "id": 0, "ok": false, "error": {"type": "E", "message": "m", "traceback": ""}}')
    for _ in range(3000):
        raw = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 4)):
            op, i = rng.random(), rng.randrange(len(raw))
            if op < 0.5:
                raw[i] = rng.randrange(256)
            elif op < 0.75:
                del raw[i:i + rng.randint(1, 8)]
            else:
                raw[i:i] = raw[i:i + rng.randint(1, 16)] * rng.randint(1, 3)
        try:
            reply = replies.result(bytes(raw), 0)
        except replies.BadReply:
            continue
        assert isinstance(reply, CallReply)
