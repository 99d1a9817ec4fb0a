#!/usr/bin/env python3
"""Checks that includes follow the direction of the library links.

Usage: layering.py SOURCE_DIR LINKS_FILE

LINKS_FILE (written by tests/CMakeLists.txt at configure time) has one line
per library: `folder: link;link;...`, with the folder the library builds
(`pipeline/codec`, `messages`, `config`) and its links as CMake has them.
A file in one of those folders may include a header of another project
folder only when its library links that folder's library, directly or
through the libraries it links. A library links each concern below it, so
this refuses a header-only dependency in the wrong direction too, which
the linker cannot see.
"""
import pathlib
import re
import sys

source_dir = pathlib.Path(sys.argv[1])
folders = {}  # folder -> set of folders it links directly
target_folder = {}  # cotflow::name -> folder
for line in pathlib.Path(sys.argv[2]).read_text().splitlines():
    folder, _, links = line.partition(":")
    folder = folder.strip()
    name = folder.split("/")[-1]
    target_folder["cotflow::" + name] = folder
    folders[folder] = [l.strip() for l in links.split(";") if l.strip()]
for folder, links in folders.items():
    folders[folder] = {target_folder[l] for l in links if l in target_folder}


def reachable(folder):
    seen, todo = set(), [folder]
    while todo:
        for dep in folders[todo.pop()]:
            if dep not in seen:
                seen.add(dep)
                todo.append(dep)
    return seen


include = re.compile(r'^\s*#\s*include\s+"([^"]+)"')
# Project folders a header can come from, longest first.
known = sorted(folders, key=len, reverse=True) + ["actors", "bench", "tests"]
problems = []
for folder in folders:
    allowed = reachable(folder) | {folder}
    for path in sorted((source_dir / folder).glob("*.[ch]pp")):
        for n, line in enumerate(path.read_text().splitlines(), 1):
            m = include.match(line)
            if not m:
                continue
            header = m.group(1)
            owner = next((k for k in known if header.startswith(k + "/")),
                         None)
            if owner is not None and owner not in allowed:
                problems.append(f"{path.relative_to(source_dir)}:{n}: "
                                f"includes {header}, but {folder} does not "
                                f"link {owner}")
for p in problems:
    print(p)
checked = len(folders)
print(f"layering: {checked} libraries, {len(problems)} includes against "
      f"the direction of their links")
sys.exit(1 if problems else 0)
