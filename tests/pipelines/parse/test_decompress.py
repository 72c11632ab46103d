from __future__ import annotations

import gzip
import os

from pipelines.parse.decompress import decompress


def test_plain_input_passes_through_unchanged():
    result = decompress(b'{"Records": []}', max_bytes=1000)
    assert (result.data, result.error) == (b'{"Records": []}', None)


def test_every_gzip_member_is_read():
    data = gzip.compress(b"first\n") + gzip.compress(b"second\n")
    result = decompress(data, max_bytes=1000)
    assert (result.data, result.error) == (b"first\nsecond\n", None)


def test_truncated_gzip_keeps_the_output_before_the_break():
    payload = os.urandom(4000).hex().encode()
    data = gzip.compress(payload)
    result = decompress(data[: len(data) // 2], max_bytes=10**6)
    assert result.error is not None
    assert "truncated gzip" in result.error
    assert result.data
    assert payload.startswith(result.data)


def test_corrupt_gzip_reports_where_it_broke():
    data = bytearray(gzip.compress(b"x" * 10_000))
    data[20:40] = b"\xff" * 20
    result = decompress(bytes(data), max_bytes=10**6)
    assert result.error is not None
    assert "gzip" in result.error


def test_gzip_bomb_over_the_limit_is_refused_whole():
    data = gzip.compress(b"\0" * 5_000_000)
    result = decompress(data, max_bytes=1_000_000)
    assert result.too_large
    assert result.data == b""
    assert "max_file_bytes" in (result.error or "")


def test_plain_input_over_the_limit_is_refused():
    result = decompress(b"x" * 101, max_bytes=100)
    assert result.too_large


def test_a_bomb_is_refused_having_held_about_the_kept_part_not_the_limit():
    import tracemalloc

    from tests.factories import gzip_bomb

    data = gzip_bomb(256 * 1024 * 1024)
    tracemalloc.start()
    try:
        result = decompress(data, max_bytes=200 * 1024 * 1024)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert result.too_large
    assert peak < 24 * 1024 * 1024  # 16 MiB kept + one 1 MiB step + one 4 MiB input chunk


def test_output_past_the_kept_part_but_within_the_limit_comes_whole():
    payload = os.urandom(300_000).hex().encode() + b"\0" * 2_000_000
    data = gzip.compress(payload) + gzip.compress(b"tail")
    result = decompress(data, max_bytes=10**8, keep_bytes=100_000)
    assert (result.data, result.error) == (payload + b"tail", None)


def test_the_refusal_names_the_setting_that_holds_the_limit():
    result = decompress(gzip.compress(b"x" * 5000), max_bytes=100, limit_name="max_push_bytes")
    assert result.error == "decompresses to over max_push_bytes=100 bytes"
