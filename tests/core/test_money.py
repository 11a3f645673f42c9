from app.core.money import percent_text, yuan_text


def test_yuan_text() -> None:
    assert yuan_text(5_000_000) == "50,000"
    assert yuan_text(123_456) == "1,234.56"
    assert yuan_text(5) == "0.05"
    assert yuan_text(100, always_cents=True) == "1.00"
    assert yuan_text(-250) == "-2.50"
    # no float rounding: a value a binary float cannot hold exactly
    assert yuan_text(1_000_000_000_000_001) == "10,000,000,000,000.01"


def test_percent_text() -> None:
    assert percent_text(675) == "6.75"
    assert percent_text(500) == "5"
    assert percent_text(480) == "4.8"
    assert percent_text(5) == "0.05"
    assert percent_text(300) == "3"
