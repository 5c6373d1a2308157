"""Tests of the Table of Drugs parser: line logic on hand-made rows, and the real 2019 PDF."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path

import pytest

from assistant.corpus.drugs import extract_rows, mark_codes, parse_rows, parse_table_of_drugs
from assistant.errors import ParseError
from assistant.records import CodeRecord, CodeStatus, DrugEntry

SOURCE = "table-of-drugs-test"


def parse(*rows: str) -> list[DrugEntry]:
    return parse_rows(list(rows), SOURCE)


def by_name(entries: list[DrugEntry], name: str) -> list[DrugEntry]:
    return [e for e in entries if e.name == name]


def one(entries: list[DrugEntry], name: str) -> DrugEntry:
    found = by_name(entries, name)
    assert len(found) == 1, f"{name!r}: {found}"
    return found[0]


# --- line logic on hand-made rows -----------------------------------------------------------


def test_single_line_entry() -> None:
    entries = parse("A", "Abatacept\t10 mg\tIV\tJ0129")
    assert entries == [
        DrugEntry(
            name="Abatacept",
            unit="10 mg",
            routes=("IV",),
            codes=("J0129",),
            source=SOURCE,
            line=1,
        )
    ]


def test_whitespace_is_normalised_and_text_kept_as_printed() -> None:
    [entry] = parse("Acetylcysteine,  IVection \t 100  mg\tIV\tJ0132")
    assert entry.name == "Acetylcysteine, IVection"
    assert entry.unit == "100 mg"


def test_name_wrapped_before_its_data_row_is_joined() -> None:
    entries = parse(
        "Betamethasone acetate",
        "& betamethasone sodium phosphate\tper 3 mg\tIM\tJ0702",
    )
    [entry] = entries
    assert entry.name == "Betamethasone acetate & betamethasone sodium phosphate"
    assert (entry.unit, entry.routes, entry.codes) == ("per 3 mg", ("IM",), ("J0702",))


def test_name_wrapped_after_its_data_row_is_joined() -> None:
    entries = parse(
        "Factor IX (anti-hemophilic factor, purified,\tper IU\tIV\tJ7193",
        "  non-recombinant)",
        "Daunorubicin citrate, liposomal\t10 mg\tIV\tJ9151",
        "  formulation",
        "Daunorubicin HCl\t10 mg\tIV\tJ9150",
    )
    assert [e.name for e in entries] == [
        "Factor IX (anti-hemophilic factor, purified, non-recombinant)",
        "Daunorubicin citrate, liposomal formulation",
        "Daunorubicin HCl",
    ]
    assert [e.line for e in entries] == [1, 2, 3]


def test_name_over_three_rows_is_joined() -> None:
    [entry] = parse(
        "Vitamin K, phytonadione,",
        "menadione,",
        "  menadiol sodium diphosphate\tper 1 mg\tIM, SC, IV\tJ3430",
    )
    assert entry.name == "Vitamin K, phytonadione, menadione, menadiol sodium diphosphate"
    assert entry.codes == ("J3430",)


def test_several_routes() -> None:
    [entry] = parse("Atropine sulfate\t0.01 mg\tIV, IM, SC\tJ0461")
    assert entry.routes == ("IV", "IM", "SC")


def test_route_glued_to_unit_or_code_cell() -> None:
    entries = parse(
        "Nusinersen\t0.1 mg IV J2326",
        "Dexamethasone sodium phosphate\t1 mg\tIM, IV, OTH J1100",
    )
    assert [(e.unit, e.routes, e.codes) for e in entries] == [
        ("0.1 mg", ("IV",), ("J2326",)),
        ("1 mg", ("IM", "IV", "OTH"), ("J1100",)),
    ]


def test_several_codes_and_ranges() -> None:
    entries = parse(
        "Albuterol, unit dose form\t1 mg\tINH\tJ7609, J7613",
        "Amphotericin B, lipid complex\t10 mg\tIV\tJ0287-J0289",
        "Factor IX (anti-hemophilic factor, recombinant)\tper IU\tIV\tJ7195, J7200-J7202",
        "Pentamidine isethionate\tper 300 mg\tINH\tJ2545,J7676",
    )
    assert [e.codes for e in entries] == [
        ("J7609", "J7613"),
        ("J0287", "J0288", "J0289"),
        ("J7195", "J7200", "J7201", "J7202"),
        ("J2545", "J7676"),
    ]


def test_code_list_continued_on_next_row() -> None:
    entries = parse(
        "Factor VIII (anti-hemophilic factor, recombinant)\tper IU\tIV J7182, J7185, J7192,",
        "\tJ7188",
        "Factor X (human)\tper IU\tIV\tJ7175",
    )
    assert [e.codes for e in entries] == [("J7182", "J7185", "J7192", "J7188"), ("J7175",)]


def test_row_without_name_is_another_form_of_the_drug_above() -> None:
    entries = parse(
        "Asparaginase\t1,000 units\tIV, IM\tJ9019",
        "\t10,000 units\tIV, IM\tJ9020",
        "Atezolizumab\t10 mg\tIV\tJ9022",
    )
    assert [(e.name, e.unit, e.codes) for e in entries] == [
        ("Asparaginase", "1,000 units", ("J9019",)),
        ("Asparaginase", "10,000 units", ("J9020",)),
        ("Atezolizumab", "10 mg", ("J9022",)),
    ]


def test_text_after_a_code_starts_the_next_row() -> None:
    entries = parse(
        "Octreotide Acetate, IVection\t1 mg\tIM\tJ2353 25",
        "\tmcg\tIV, SQ\tJ2354",
    )
    assert [(e.name, e.unit, e.routes, e.codes) for e in entries] == [
        ("Octreotide Acetate, IVection", "1 mg", ("IM",), ("J2353",)),
        ("Octreotide Acetate, IVection", "25 mcg", ("IV", "SQ"), ("J2354",)),
    ]


def test_indented_sub_items() -> None:
    entries = parse(
        "Argatroban (for non-esrd use)\t1 mg\tIV\tJ0883",
        "  (for esrd use)\t1 mg\tIV\tJ0884",
        "Immune globulin",
        "  Bivigam\t500 mg\tIV\tJ1556",
        "  Hizentra\t100 mg\tSC\tJ1559",
        "Immunosuppressive drug, not otherwise classified\tJ7599",
    )
    assert [e.name for e in entries] == [
        "Argatroban (for non-esrd use)",
        "Argatroban (for esrd use)",
        "Immune globulin Bivigam",
        "Immune globulin Hizentra",
        "Immunosuppressive drug, not otherwise classified",
    ]


def test_unit_wrapped_onto_its_own_row() -> None:
    [entry] = parse(
        "BCG (Bacillus Calmette and Guérin), live\tper vial\tIV\tJ9031",
        "\tinstillation",
    )
    assert entry.unit == "per vial instillation"


def test_title_page_heading_and_page_numbers_are_skipped() -> None:
    entries = parse(
        "2019 Table of Drugs",
        "IV -Intravenous administration",
        "A",
        "Abatacept\t10 mg\tIV\tJ0129",
        "\t1",
        "Abbokinase, see Urokinase",
        "Last updated October 26, 2018",
    )
    assert [e.name for e in entries] == ["Abatacept", "Abbokinase"]


def test_see_line_resolved_to_its_target() -> None:
    entries = parse(
        "Adcetris, see Brentuximab vedotin",
        "Brentuximab Vedotin\t1 mg\tIV\tJ9042",
    )
    see = one(entries, "Adcetris")
    assert see.see == "Brentuximab vedotin"  # the target as printed
    assert (see.codes, see.unit, see.routes) == (("J9042",), "1 mg", ("IV",))
    assert see.line == 1


def test_see_target_matching_tolerates_punctuation_and_spacing() -> None:
    entries = parse(
        "Alferon N, see Interferon alfa- n3",
        "Dimethyl sulfoxide, see DMSO, Dimethylsulfoxide",
        "Hyate:C, see Factor VIII (anti-hemophilic factor (porcine))",
        "Naropin, see Ropivacaine HCl",
        "Solu-Cortef, see Hydrocortisone sodium phosphate (J1710)",
        "DMSO, Dimethyl sulfoxide\t50%, 50 ml\tOTH\tJ1212",
        "Hydrocortisone sodium phosphate\tup to 50 mg\tIV, IM, SC\tJ1710",
        "Ropivacaine Hydrochloride\t1 mg\tOTH\tJ2795",
        "Factor VIII (anti-hemophilic factor, porcine)\tper IU\tIV\tJ7191",
        "Interferon alfa-n3\t250,000 IU\tIM\tJ9215",
    )
    assert one(entries, "Alferon N").codes == ("J9215",)
    assert one(entries, "Dimethyl sulfoxide").codes == ("J1212",)
    assert one(entries, "Hyate:C").codes == ("J7191",)
    assert one(entries, "Naropin").codes == ("J2795",)
    assert one(entries, "Solu-Cortef").codes == ("J1710",)


def test_see_target_spelt_differently_is_not_guessed() -> None:
    # near-spellings are often other drugs: no fuzzy matching
    entries = parse(
        "Celestone, see Betamethasone sodium phosphate",
        "Surostrin, see Succinycholine chloride",
        "Dexamethasone sodium phosphate\t1 mg\tIM, IV, OTH\tJ1100",
        "Succinylcholine chloride\tup to 20 mg\tIV, IM\tJ0330",
    )
    assert one(entries, "Celestone").codes == ()
    assert one(entries, "Surostrin").codes == ()


def test_see_target_naming_several_entries_takes_all_their_codes() -> None:
    entries = parse(
        "Capecitabine\t150 mg\tORAL\tJ8520",
        "\t500 mg\tORAL\tJ8521",
        "Metaproterenol sulfate, concentrated form\tper 10 mg\tINH\tJ7667, J7668",
        "Metaproterenol sulfate, unit dose form\tper 10 mg\tINH\tJ7669, J7670",
        "Metaprel, see Metaproterenol sulfate",
        "Xeloda, see Capecitabine",
    )
    xeloda = one(entries, "Xeloda")
    assert xeloda.codes == ("J8520", "J8521")
    assert xeloda.unit == "150 mg; 500 mg"
    assert one(entries, "Metaprel").codes == ("J7667", "J7668", "J7669", "J7670")


def test_see_alternatives_and_combinations() -> None:
    entries = parse(
        "Brethine, see Terbutaline sulfate or Terbutaline, compounded",
        "Bicillin C-R, see Penicillin G procaine and penicillin G benzathine",
        "TEEV, see Testosterone enanthate and estradiol valerate",
        "Penicillin G benzathine\t100,000 units\tIM\tJ0561",
        "Penicillin G benzathine and penicillin G procaine\t100,000 units\tIM\tJ0558",
        "Terbutaline sulfate\tup to 1 mg\tSC, IV\tJ3105",
        "Testosterone enanthate\t1 mg\tIM\tJ3121",
    )
    assert one(entries, "Brethine").codes == ("J3105",)
    # the combination product, whatever the order of its parts; never one of its parts alone
    assert one(entries, "Bicillin C-R").codes == ("J0558",)
    assert one(entries, "TEEV").codes == ()


def test_see_to_a_see_line_is_followed() -> None:
    entries = parse(
        "Chealamide, see Endrate ethylenediamine-tetra-acetic acid",
        "Edetate disodium\tper 150 mg\tIV\tJ3520",
        "Endrate ethylenediamine-tetra-acetic acid, see Edetate disodium",
    )
    assert one(entries, "Chealamide").codes == ("J3520",)


def test_unresolvable_see_line_is_kept_without_codes() -> None:
    entries = parse("Valergen 10, see Estradiol valerate", "Abatacept\t10 mg\tIV\tJ0129")
    see = one(entries, "Valergen 10")
    assert see.see == "Estradiol valerate"
    assert (see.codes, see.unit, see.routes) == ((), "", ())


def test_see_line_wrapped_over_two_rows() -> None:
    entries = parse(
        "Bicillin C-R 900/300, see Penicillin G procaine and penicillin G",
        "  benzathine",
        "Penicillin G benzathine and penicillin G procaine\t100,000 units\tIM\tJ0558",
    )
    see = one(entries, "Bicillin C-R 900/300")
    assert see.see == "Penicillin G procaine and penicillin G benzathine"
    assert see.codes == ("J0558",)


def test_reflowed_see_lines_are_split_into_their_brands() -> None:
    # The 2019 PDF prints these runs with each row ending on the next row's brand name.
    entries = parse(
        "Norflex, see Orphenadrine citrate Norzine,",
        "see Thiethylperazine maleate",
        "Testex, see Testosterone propionate Testoject-",
        "50, see Testosterone suspension Testoject-LA,",
        "see Testosterone cypionate",
        "Cenacort Forte, see Triamcinolone diacetate Cenacort",
        "A-40, see Triamcinolone acetonide",
        "Orphenadrine citrate\tup to 60 mg\tIV, IM\tJ2360",
        "Testosterone cypionate\t1 mg\tIM\tJ1071",
        "Thiethylperazine maleate, IVection\tup to 10 mg\tIM\tJ3280",
        "Triamcinolone acetonide\t1 mg\t\tJ3300",
        "Triamcinolone diacetate\tper 5 mg\tIM\tJ3302",
    )
    sees = [(e.name, e.see, e.codes) for e in entries if e.see]
    assert sees == [
        ("Norflex", "Orphenadrine citrate", ("J2360",)),
        ("Norzine", "Thiethylperazine maleate", ("J3280",)),
        ("Testex", "Testosterone propionate", ()),
        ("Testoject-50", "Testosterone suspension", ()),
        ("Testoject-LA", "Testosterone cypionate", ("J1071",)),
        ("Cenacort Forte", "Triamcinolone diacetate", ("J3302",)),
        ("Cenacort A-40", "Triamcinolone acetonide", ("J3300",)),
    ]


def test_see_line_and_coded_line_printed_on_one_row() -> None:
    entries = parse(
        "Ceftazidime\tper 500 mg\tIM, IV\tJ0713",
        "Tazidime, see Ceftazidime Technetium TC Sestambi\tper dose\tA9500",
    )
    assert [(e.name, e.see, e.codes) for e in entries] == [
        ("Ceftazidime", "", ("J0713",)),
        ("Tazidime", "Ceftazidime", ("J0713",)),
        ("Technetium TC Sestambi", "", ("A9500",)),
    ]
    assert entries[2].unit == "per dose"


def test_data_printed_on_a_see_row_is_not_taken_for_the_target() -> None:
    entries = parse(
        "Certolizumab pegol\t1 mg\tSC\tJ0717",
        "Cimzia, see Certolizumab pegol\tORAL\tQ4079",
    )
    assert [(e.name, e.see, e.codes) for e in entries] == [
        ("Certolizumab pegol", "", ("J0717",)),
        ("Cimzia", "Certolizumab pegol", ("J0717",)),
    ]


def test_mark_codes() -> None:
    records = {
        "J9042": CodeRecord(
            code="J9042",
            kind="code",
            release="2025-01",
            long_description="Injection, brentuximab vedotin, 1 mg",
            short_description="Brentuximab vedotin inj",
        ),
        "J0133": CodeRecord(
            code="J0133",
            kind="code",
            release="2025-01",
            long_description="Injection, acyclovir, 5 mg",
            short_description="Acyclovir injection",
            termination_date=date(2023, 12, 31),
        ),
    }
    entries = parse(
        "Acyclovir\t5 mg\t\tJ0133",
        "Adcetris, see Brentuximab Vedotin",
        "Brentuximab Vedotin\t1 mg\tIV\tJ9042, J9999",
        "Estradiol L.A., see Estradiol valerate",
    )
    marked = mark_codes(entries, records)
    assert [e.code_status for e in marked] == [
        (CodeStatus("J0133", "terminated", date(2023, 12, 31)),),
        (CodeStatus("J9042", "active"), CodeStatus("J9999", "absent")),
        (CodeStatus("J9042", "active"), CodeStatus("J9999", "absent")),
        (),
    ]
    # everything else is kept
    assert [(e.name, e.codes, e.line) for e in marked] == [
        (e.name, e.codes, e.line) for e in entries
    ]


def test_non_pdf_file_raises_parse_error(tmp_path: Path) -> None:
    junk = tmp_path / "table.pdf"
    junk.write_bytes(b"\x00\x01junk, not a PDF\xff" * 50)
    with pytest.raises(ParseError, match="table.pdf") as info:
        parse_table_of_drugs(junk, SOURCE)
    assert "\n" not in str(info.value)


def test_corrupt_pdf_raises_parse_error(tmp_path: Path) -> None:
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >>\nstream\x00\xff" * 20)
    with pytest.raises(ParseError, match="broken.pdf") as info:
        parse_table_of_drugs(broken, SOURCE)
    assert "\n" not in str(info.value)


def test_missing_file_raises_parse_error(tmp_path: Path) -> None:
    with pytest.raises(ParseError, match="missing.pdf"):
        extract_rows(tmp_path / "missing.pdf")


def test_pdf_without_table_rows_raises_parse_error(tmp_path: Path) -> None:
    from pypdf import PdfWriter

    blank = tmp_path / "blank.pdf"
    writer = PdfWriter()
    writer.add_blank_page(width=612, height=792)
    with blank.open("wb") as handle:
        writer.write(handle)
    with pytest.raises(ParseError, match="blank.pdf.*no recognisable table rows"):
        parse_table_of_drugs(blank, SOURCE)


# --- the real 2019 Table of Drugs -----------------------------------------------------------

SOURCE_2019 = "table-of-drugs-2019"


@pytest.fixture(scope="module")
def pdf_2019(corpus_dir: Path) -> Path:
    path = corpus_dir / "table-of-drugs" / "2019-Table-of-Drugs.pdf"
    if not path.is_file():
        pytest.skip(f"{path} not in the corpus")
    return path


@pytest.fixture(scope="module")
def table_2019(pdf_2019: Path) -> list[DrugEntry]:
    return parse_table_of_drugs(pdf_2019, SOURCE_2019)


@pytest.mark.integration
def test_2019_counts(table_2019: list[DrugEntry]) -> None:
    coded = [e for e in table_2019 if not e.see and e.codes]
    sees = [e for e in table_2019 if e.see]
    uncoded = [e for e in table_2019 if not e.see and not e.codes]
    # The file is fixed (sha256 in the manifest): these are the measured counts.
    assert len(table_2019) == 1480
    assert len(coded) == 768
    assert len(sees) == 710
    assert sum(1 for e in sees if e.codes) == 605
    assert sum(1 for e in sees if not e.codes) == 105
    assert [e.name for e in uncoded] == ["Cinacacet", "Kyleena"]  # printed without a code
    assert len({c for e in coded for c in e.codes}) == 779
    assert [e.line for e in table_2019] == list(range(1, len(table_2019) + 1))
    assert {e.source for e in table_2019} == {SOURCE_2019}
    assert all(e.name for e in table_2019)


@pytest.mark.integration
def test_2019_every_see_code_is_a_coded_line_code(table_2019: list[DrugEntry]) -> None:
    coded = {c for e in table_2019 if not e.see for c in e.codes}
    assert {c for e in table_2019 if e.see for c in e.codes} <= coded


@pytest.mark.integration
def test_2019_generic_entries(table_2019: list[DrugEntry]) -> None:
    first = table_2019[0]
    assert (first.name, first.unit, first.routes, first.codes, first.line) == (
        "Abatacept",
        "10 mg",
        ("IV",),
        ("J0129",),
        1,
    )
    brentuximab = one(table_2019, "Brentuximab Vedotin")
    assert (brentuximab.unit, brentuximab.routes, brentuximab.codes) == (
        "1 mg",
        ("IV",),
        ("J9042",),
    )
    acetazolamide = one(table_2019, "Acetazolamide sodium")
    assert (acetazolamide.unit, acetazolamide.routes, acetazolamide.codes) == (
        "up to 500 mg",
        ("IM", "IV"),
        ("J1120",),
    )
    assert one(table_2019, "Acetylcysteine, unit dose form").codes == ("J7604", "J7608")
    assert one(table_2019, "C1 Esterase Inhibitor").codes == ("J0596", "J0597", "J0598", "J0599")
    assert [(e.unit, e.codes) for e in by_name(table_2019, "Asparaginase")] == [
        ("1,000 units", ("J9019",)),
        ("10,000 units", ("J9020",)),
    ]
    assert [e.unit for e in by_name(table_2019, "Buprenorphine/Naloxone")] == [
        "1 mg",
        "<=3 mg",
        ">3 mg but <=6 mg",
        ">6 mg but <=10 mg",
        ">10 mg",
    ]


@pytest.mark.integration
def test_2019_see_lines(table_2019: list[DrugEntry]) -> None:
    adcetis = one(table_2019, "Adcetis")  # the table's own spelling of Adcetris
    assert (adcetis.see, adcetis.codes, adcetis.unit, adcetis.routes) == (
        "Brentuximab Vedotin",
        ("J9042",),
        "1 mg",
        ("IV",),
    )
    assert one(table_2019, "Abbokinase").see == "Urokinase"
    assert one(table_2019, "Abbokinase").codes == ("J3364", "J3365")
    assert one(table_2019, "Botox").codes == ("J0585",)
    assert one(table_2019, "Cimzia").codes == ("J0717",)
    assert one(table_2019, "Naropin").codes == ("J2795",)  # "HCl" for "Hydrochloride"
    assert one(table_2019, "Xeloda").codes == ("J8520", "J8521")  # two Capecitabine lines
    valergen = one(table_2019, "Valergen 10")
    assert (valergen.see, valergen.codes) == ("Estradiol valerate", ())


@pytest.mark.integration
def test_2019_wrapped_and_reflowed_lines(table_2019: list[DrugEntry]) -> None:
    betamethasone = one(table_2019, "Betamethasone acetate & betamethasone sodium phosphate")
    assert (betamethasone.unit, betamethasone.codes) == ("per 3 mg", ("J0702",))
    vitamin_k = one(table_2019, "Vitamin K, phytonadione, menadione, menadiol sodium diphosphate")
    assert vitamin_k.codes == ("J3430",)
    celestone = one(table_2019, "Celestone Soluspan")
    assert celestone.see == "Betamethasone acetate and betamethasone sodium phosphate"
    assert celestone.codes == ("J0702",)
    assert one(table_2019, "Norzine").see == "Thiethylperazine maleate"
    assert one(table_2019, "Nulojix").codes == ("J0485",)
    assert one(table_2019, "Testoject-50").see == "Testosterone suspension"
    assert one(table_2019, "Cenacort A-40").codes == ("J3300", "J3301")
    factor_viii = one(table_2019, "Factor VIII (anti-hemophilic factor, recombinant)")
    assert factor_viii.codes == ("J7182", "J7185", "J7192", "J7188")
    assert [(e.unit, e.codes) for e in by_name(table_2019, "Octreotide Acetate, IVection")] == [
        ("1 mg", ("J2353",)),
        ("25 mcg", ("J2354",)),
    ]
    budesonide = one(table_2019, "Budesonide inhalation solution, concentrated form")
    assert (budesonide.unit, budesonide.codes) == ("0.25 mg", ("J7633", "J7634"))
    assert one(table_2019, "Argatroban (for esrd use)").codes == ("J0884",)
    assert one(table_2019, "Immune globulin Bivigam").codes == ("J1556",)


@pytest.mark.integration
def test_2019_rows_format(pdf_2019: Path) -> None:
    rows = extract_rows(pdf_2019)
    assert "Abatacept\t10 mg\tIV\tJ0129" in rows
    assert "\t10,000 units\tIV, IM\tJ9020" in rows
    assert "  (for esrd use)\t1 mg\tIV\tJ0884" in rows
    assert "Adcetis, see Brentuximab Vedotin" in rows


@pytest.mark.integration
def test_2019_parse_is_fast(pdf_2019: Path) -> None:
    start = time.perf_counter()
    parse_table_of_drugs(pdf_2019, SOURCE_2019)
    assert time.perf_counter() - start < 10  # about 1 s on a laptop


@pytest.mark.integration
def test_2019_truncated_copy_raises_parse_error(pdf_2019: Path, tmp_path: Path) -> None:
    truncated = tmp_path / "truncated.pdf"
    truncated.write_bytes(pdf_2019.read_bytes()[:20_000])
    with pytest.raises(ParseError, match="truncated.pdf"):
        parse_table_of_drugs(truncated, SOURCE_2019)
