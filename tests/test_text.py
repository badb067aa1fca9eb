"""Text a submission had a hand in is shown clean, short and inert."""
from autograder import results, text


def test_control_and_reordering_characters_are_removed():
    raw = "ok\x1b[2J\x1b]0;title\x07 \u202eevil\u202c\r\nnext\tline\x00"
    assert text.clean(raw) == "ok[2J]0;title evil\nnext\tline"
    assert text.line(raw) == "ok[2J]0;title evil next line"


def test_length_is_capped_and_says_so():
    assert text.clean("x" * 50, limit=20) == "x" * 14 + " (cut)"
    assert len(text.clean("y" * (10 << 20), limit=4000)) == 4000


def test_a_code_block_cannot_be_closed_from_inside():
    inner = "```\n# heading\n````\n![img](https://example.invalid/x.png)"
    block = text.markdown_code_block(inner)
    fence = block.split("\n", 1)[0]
    assert set(fence) == {"`"} and len(fence) == 5 and block.endswith("\n" + fence)
    assert results.plain_message(results.markdown_message(inner)) == inner


def test_messages_round_trip_through_markdown():
    for message in ("model raised ValueError: x\n  line 3, in model", "one line", "Passed.", "", "a\n\nb"):
        assert results.plain_message(results.markdown_message(message)) == message
