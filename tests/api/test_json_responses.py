"""Responses are UTF-8 JSON with the same content the standard encoder gives (client-server API,
"API Standards"), including values the fast encoder refuses."""

from __future__ import annotations

import json

from transom.api.http import json_response


def test_json_response_matches_standard_encoding() -> None:
    body = {"b": [1, 2.5, None, True], "a": {"é": '\u2028/"x"\n'}, "n": {1: "int key"}}
    response = json_response(body, status=201)
    assert response.status == 201
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert isinstance(response.body, bytes)
    assert json.loads(response.body) == json.loads(json.dumps(body))
    assert response.body.decode().startswith('{"b":[1,2.5,null,true],"a":{"é":')


def test_integers_beyond_64_bits_fall_back_to_standard_encoder() -> None:
    response = json_response({"big": 2**70})
    assert isinstance(response.body, bytes)
    assert json.loads(response.body) == {"big": 2**70}
