"""DePlot's linearized tables -> ChartData -> DataFrame, including the malformed outputs it produces."""

from __future__ import annotations

import pandas as pd

from pdf_assets.core.chart_parse import chart_to_frame, parse_deplot

BAR_CHART = (
    "TITLE | Revenue by region <0x0A> Region | 2022 | 2023 <0x0A> North | 1,200 | 1,350 <0x0A> South | 800 | 910"
)


def test_title_header_and_rows_are_split_on_the_byte_token() -> None:
    chart = parse_deplot(BAR_CHART)
    assert chart.parse_ok
    assert chart.title == "Revenue by region"
    assert chart.header == ("Region", "2022", "2023")
    assert chart.rows == (("North", "1,200", "1,350"), ("South", "800", "910"))
    assert chart.raw_text == BAR_CHART


def test_real_newlines_and_an_empty_title_are_accepted() -> None:
    chart = parse_deplot("TITLE | \nYear | Share\n2019 | 12%\n2020 | 15%\n")
    assert chart.parse_ok and chart.title is None
    assert chart.rows == (("2019", "12%"), ("2020", "15%"))


def test_table_without_title_line() -> None:
    chart = parse_deplot("Year | Sales <0x0A> 2019 | 10")
    assert chart.parse_ok and chart.title is None and chart.header == ("Year", "Sales")


def test_truncated_output_keeps_values_and_flags_the_table() -> None:
    text = "TITLE | Sales <0x0A> Year | Sales | Cost <0x0A> 2019 | 10 | 4 <0x0A> 2020 | 12"
    chart = parse_deplot(text)
    assert not chart.parse_ok
    assert chart.rows[-1] == ("2020", "12", "")
    assert chart.raw_text == text


def test_text_without_a_table_is_not_parsed() -> None:
    for text in ("", "a photo of a cat", "TITLE | Only a title"):
        chart = parse_deplot(text)
        assert not chart.parse_ok and chart.rows == () and chart.raw_text == text


def test_header_without_rows_is_not_ok() -> None:
    assert not parse_deplot("Year | Sales").parse_ok


def test_frame_turns_numeric_columns_into_floats() -> None:
    frame = chart_to_frame(parse_deplot(BAR_CHART))
    assert list(frame.columns) == ["Region", "2022", "2023"]
    assert frame["2022"].tolist() == [1200.0, 800.0]
    assert frame["Region"].tolist() == ["North", "South"]
    share = chart_to_frame(parse_deplot("Year | Share\n2019 | 12%\n2020 | n/a"))
    assert share["Share"].tolist() == ["12%", "n/a"], "a column with a non-number stays text"


def test_frame_names_empty_and_repeated_columns() -> None:
    frame = chart_to_frame(parse_deplot(" | Sales | Sales <0x0A> 2019 | 1 | 2"))
    assert list(frame.columns) == ["column_0", "Sales", "Sales.1"]
    gaps = chart_to_frame(parse_deplot("A | B <0x0A> x | 1 <0x0A> y | "))
    assert gaps.loc[0, "B"] == 1.0 and pd.isna(gaps.loc[1, "B"]), "an empty value in a numeric column is missing"
