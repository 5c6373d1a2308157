"""Load the whole corpus named by the manifest: releases, drug tables, crosswalk, guidance."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from assistant.config import Settings
from assistant.corpus.release import CODED_FIELDS, FIELDS, Layout, Release, parse_release
from assistant.corpus.sources import Source, corpus_sources, sha256_file
from assistant.errors import ChecksumError, CorpusError
from assistant.records import CrosswalkEntry, DrugEntry, Passage, release_label

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Corpus:
    """Everything parsed from the corpus, releases ordered oldest to newest."""

    sources: tuple[Source, ...]
    releases: dict[str, Release]
    drugs: tuple[DrugEntry, ...] = ()
    crosswalk: tuple[CrosswalkEntry, ...] = ()
    passages: tuple[Passage, ...] = ()
    payment_limits: dict = field(default_factory=dict)


def source_files(sources: list[Source], corpus_dir: Path, verify: bool = True) -> dict[str, Path]:
    """Source id -> its path in the corpus dir, every file present and (optionally) verified."""
    paths = {}
    for src in sources:
        path = corpus_dir / src.path
        if not path.is_file():
            fix = (
                f"run `hcpcs corpus add` on it again, or `hcpcs corpus remove {src.release}`"
                if src.local
                else "run `hcpcs corpus fetch`"
            )
            raise CorpusError(f"{src.file}: missing from {corpus_dir} (sha256 not checked); {fix}")
        if verify and sha256_file(path) != src.sha256:
            fix = (
                f"run `hcpcs corpus add` on it again, or `hcpcs corpus remove {src.release}`"
                if src.local
                else "run `hcpcs corpus fetch`"
            )
            raise ChecksumError(f"{src.file}: sha256 mismatch in {corpus_dir}; {fix}")
        paths[src.id] = path
    return paths


def load_corpus(settings: Settings, progress: Progress | None = None) -> Corpus:
    """Parse every source of the manifests (the project's and the user's local additions)
    from the corpus dir, each verified by sha256."""
    from assistant.corpus.asp_drugs import mark_codes as mark_crosswalk
    from assistant.corpus.asp_drugs import parse_crosswalk, parse_payment_limits
    from assistant.corpus.drugs import mark_codes as mark_drugs
    from assistant.corpus.drugs import parse_table_of_drugs
    from assistant.corpus.guidance import parse_cms_readme, parse_guidance
    from assistant.corpus.noc import parse_noc_list

    note = progress or (lambda _msg: None)
    sources = corpus_sources(settings.manifest, settings.corpus_dir)
    paths = source_files(sources, settings.corpus_dir)

    releases = load_releases(sources, paths, parse_noc_list, note)
    newest = releases[max(releases)]
    newest_records = {**newest.codes, **newest.modifiers}

    drugs: list[DrugEntry] = []
    crosswalk: list[CrosswalkEntry] = []
    passages: list[Passage] = []
    payment_limits: dict = {}
    for src in sources:
        path = paths[src.id]
        if src.kind == "table-of-drugs":
            note(f"parsing {src.file}")
            drugs.extend(mark_drugs(parse_table_of_drugs(path, src.id), newest_records))
        elif src.kind == "drug-crosswalk":
            note(f"parsing {src.file}")
            crosswalk.extend(mark_crosswalk(parse_crosswalk(path, src.id), newest_records))
        elif src.kind == "payment-limits":
            payment_limits.update(parse_payment_limits(path))
        elif src.kind == "guidance":
            passages.extend(parse_guidance(path, src.id, src.title, src.citation or None))
    for rel in releases.values():
        if rel.readme:
            passages.extend(parse_cms_readme(rel.readme, f"hcpcs-{rel.id}-readme", rel.id))
    passages.extend(layout_passages(newest))
    return Corpus(
        sources=tuple(sources),
        releases=releases,
        drugs=tuple(drugs),
        crosswalk=tuple(crosswalk),
        passages=tuple(passages),
        payment_limits=payment_limits,
    )


def load_releases(
    sources: list[Source],
    paths: dict[str, Path],
    parse_noc_list: Callable[[Path, str], frozenset[str]],
    note: Progress,
) -> dict[str, Release]:
    """Parse the releases oldest first, so each can fall back on earlier layouts, NOC lists and
    processing notes."""
    by_release: dict[str, list[Source]] = {}
    for src in sources:
        if src.kind == "cms-hcpcs-release":
            by_release.setdefault(src.release, []).append(src)
    if not by_release:
        raise CorpusError("the corpus manifest names no CMS HCPCS release")
    # (release, codes, list name): the NOC lists seen so far, oldest first.
    noc_lists: list[tuple[str, frozenset[str], str]] = sorted(
        (src.release, parse_noc_list(paths[src.id], src.file), src.file)
        for src in sources
        if src.kind == "cms-hcpcs-noc"
    )
    releases: dict[str, Release] = {}
    last_layout: tuple[Layout, str] | None = None
    last_notes: dict[str, str] = {}
    for rid in sorted(by_release):
        group = by_release[rid]
        note(f"parsing release {rid}")
        eligible = [entry for entry in noc_lists if entry[0] <= rid]
        fallback_noc = (eligible[-1][1], eligible[-1][2]) if eligible else None
        first = group[0]
        release, layout = parse_release(
            [paths[s.id] for s in group],
            rid,
            first.effective,
            title=release_label(rid),
            fallback_layout=last_layout,
            fallback_noc=fallback_noc,
            fallback_notes=last_notes,
        )
        releases[rid] = release
        last_notes = release.notes or last_notes
        if release.layout_text:
            last_layout = (layout, release.layout_text)
        if release.noc_list and (not fallback_noc or release.noc_list != fallback_noc[1]):
            noc_lists.append((rid, release.noc_codes, release.noc_list))
            noc_lists.sort(key=lambda entry: entry[0])
    return releases


def layout_passages(release: Release) -> list[Passage]:
    """The record layout's code tables as citable passages (what each coverage code means...).

    A passage is one field's code table in the layout's words: a line per entry ("D = Special
    coverage instructions apply", its wrapped lines joined) or sub-heading, in the file's
    order. The field's name is the passage's section, not part of the quotation.
    """
    from assistant.corpus.release import parse_layout

    if not release.layout_text:
        return []
    layout = parse_layout(release.layout_text, release.layout_name)
    out = []
    for order, key in enumerate(CODED_FIELDS):
        table = layout.tables.get(key)
        if not table:
            continue
        name = FIELDS[key][0]
        out.append(
            Passage(
                source=f"hcpcs-{release.id}-layout",
                title=f"{release_label(release.id)} record layout",
                section=name,
                text="\n".join(table),
                citation=f"{release_label(release.id)} record layout, {name}",
                order=order,
                kind="record-layout",
            )
        )
    return out
