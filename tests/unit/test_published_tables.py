from pathlib import Path

from transforms.published_tables import find_inconsistencies, read_published_table

SERBIA = Path(__file__).resolve().parents[3] / "shared" / "acceptance" / "serbia_2005_2010.csv"


def test_serbian_exploitation_rows_are_reported_as_not_adding_up() -> None:
    found = {(i.year, i.dimension): i for i in find_inconsistencies(read_published_table(SERBIA))}
    assert found[(2008, "exploitation")].parts == 37
    assert found[(2008, "exploitation")].total == 55
    assert found[(2008, "exploitation")].severity == "note"
    assert not [i for i in found.values() if i.severity == "error"]  # its partitions add up


def test_a_partition_that_does_not_add_up_is_an_error(tmp_path: Path) -> None:
    table = tmp_path / "xk.csv"
    table.write_text(
        "country,year,dimension,category,victims\n"
        "XK,2006,total,all,66\nXK,2006,sex,F,60\nXK,2006,sex,M,7\n"
        "XK,2006,exploitation,begging,\n"
    )
    (found,) = find_inconsistencies(read_published_table(table))
    assert (found.severity, found.parts, found.total) == ("error", 67, 66)
    assert "difference +1" in str(found)
    assert [c.victims for c in read_published_table(table) if c.category == "begging"] == [None]  # not collected
