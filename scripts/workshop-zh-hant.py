#!/usr/bin/env python3
"""Generates the workshop's Traditional Chinese text from the Simplified one.

    scripts/workshop-zh-hant.py            write workshop/zh-Hant/*.md and
                                           workshop/messages/zh-Hant.yaml
    scripts/workshop-zh-hant.py --check    exit 1 listing generated files that
                                           are stale or missing, and files in
                                           zh-Hant without a zh-Hans source

The zh-Hant files are never edited by hand: each starts with a comment
saying which file it was generated from and by which command. The
conversion is OpenCC's `s2twp` (Simplified to Traditional as used in
Taiwan, with Taiwanese phrases: 软件 -> 軟體, 信息 -> 資訊), from PyPI's
`opencc` package; CI pins its version (.ci/run), since another version may
convert a phrase differently and make every file "stale".

What is converted: the whole text, prose, headings, tables, diagrams,
excerpts of program output (the zh-Hant `tracemesh lab` prints messages
converted the same way) and the files the learner writes, except what must
stay runnable byte for byte:
- the command lines of fenced `console` blocks (a `$ ` line and the lines
  it continues with a trailing backslash): the learner pastes them, and a
  Chinese word in a command (a baggage value, a file name) must be the one
  the steps and checks use;
- URLs and the targets of Markdown links (`](path)`): a path or address is
  not prose.
OpenCC leaves ASCII alone, so code and keys are safe anyway; the exceptions
above are for the Chinese characters inside commands and links.

`--root DIR` works on another tree with the same layout (the tests use it).
"""

import argparse
import re
import sys
from pathlib import Path

CONVERTER = "s2twp"
SCRIPT = "scripts/workshop-zh-hant.py"

# A URL, or a Markdown link target `](...)`: kept as written.
KEPT = re.compile(r"https?://[^\s)>\]]+|\]\([^)]*\)")


def converter():
    try:
        import opencc
    except ImportError:
        sys.exit(
            "the Python package `opencc` is missing: pip install opencc "
            "(CI installs it into .ci/venv)"
        )
    return opencc.OpenCC(CONVERTER)


def convert_text(cc, text):
    """Converts prose, leaving URLs and link targets as they are."""
    out, last = [], 0
    for match in KEPT.finditer(text):
        out.append(cc.convert(text[last : match.start()]))
        out.append(match.group(0))
        last = match.end()
    out.append(cc.convert(text[last:]))
    return "".join(out)


def convert_markdown(cc, text):
    """Converts a lab file line by line, keeping console command lines."""
    lines = text.split("\n")
    out = []
    fence = None  # the opening fence of the block we are in
    in_console = False
    continuing = False  # the previous command line ended with a backslash
    for line in lines:
        stripped = line.lstrip(" ")
        if fence is None:
            opening = re.match(r"(`{3,}|~{3,})\s*(.*)", stripped)
            if opening:
                fence = opening.group(1)
                in_console = opening.group(2).split()[:1] == ["console"]
                out.append(line)
                continue
        elif stripped.rstrip() and set(stripped.rstrip()) == {fence[0]} and len(
            stripped.rstrip()
        ) >= len(fence):
            fence, in_console, continuing = None, False, False
            out.append(line)
            continue
        if in_console and (continuing or stripped.startswith("$ ")):
            continuing = line.rstrip().endswith("\\")
            out.append(line)
            continue
        out.append(convert_text(cc, line))
    return "\n".join(out)


def header(kind, source):
    said = (
        f"GENERATED from {source} by {SCRIPT} (OpenCC {CONVERTER}); "
        f"do not edit: change {source} and run {SCRIPT}"
    )
    return f"<!-- {said} -->\n" if kind == "md" else f"# {said}\n"


def expected_files(root, cc):
    """{generated path: its text} for every source that exists."""
    workshop = root / "workshop"
    expected = {}
    for source in sorted((workshop / "zh-Hans").glob("*.md")):
        name = source.relative_to(root).as_posix()
        text = source.read_text(encoding="utf-8")
        expected[workshop / "zh-Hant" / source.name] = header("md", name) + convert_markdown(cc, text)
    messages = workshop / "messages" / "zh-Hans.yaml"
    if messages.exists():
        name = messages.relative_to(root).as_posix()
        text = messages.read_text(encoding="utf-8")
        expected[workshop / "messages" / "zh-Hant.yaml"] = header("yaml", name) + convert_text(cc, text)
    return expected


def extra_files(root, expected):
    """Files in zh-Hant that no zh-Hans file generates."""
    return [
        path
        for path in sorted((root / "workshop" / "zh-Hant").glob("*"))
        if path.is_file() and path not in expected
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="report, do not write")
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent)
    args = parser.parse_args()
    root = args.root
    if not (root / "workshop").is_dir():
        print(f"{root / 'workshop'}: no such directory", file=sys.stderr)
        return 2
    cc = converter()
    expected = expected_files(root, cc)
    extra = extra_files(root, expected)
    show = lambda path: path.relative_to(root).as_posix()

    if args.check:
        problems = []
        for path, text in expected.items():
            if not path.exists():
                problems.append(f"missing: {show(path)}")
            elif path.read_text(encoding="utf-8") != text:
                problems.append(f"stale: {show(path)}")
        problems += [f"no zh-Hans source: {show(path)}" for path in extra]
        for problem in problems:
            print(problem)
        if problems:
            print(f"run {SCRIPT} to regenerate (and delete files without a source)")
            return 1
        print(f"zh-Hant: {len(expected)} generated files up to date")
        return 0

    for path, text in expected.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {show(path)}")
    for path in extra:
        path.unlink()
        print(f"removed {show(path)} (no zh-Hans source)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
