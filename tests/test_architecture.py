"""The map of rooms in CONTRIBUTING.md holds: every module belongs to a room, and imports only
the rooms its room may import (imports at the top of a file and inside functions alike)."""

from __future__ import annotations

import ast
import functools
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "aelab"

@dataclass
class Room:
    name: str
    modules: list[str]  # paths under src/aelab: "config.py" or "data/"
    may_import: set[str]  # room names; "*" for any


def read_map(text: str) -> list[Room]:
    """The rows of the table under '## The map of rooms'."""
    section = text.split("## The map of rooms", 1)[1].split("\n## ", 1)[0]
    rooms = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0] not in ("room", "") and not set(cells[0]) <= set("-"):
            ticks = lambda cell: re.findall(r"`([^`]+)`", cell)  # noqa: E731
            rooms.append(Room(cells[0], ticks(cells[1]), set(ticks(cells[3]))))
    return rooms


def module_name(path: Path) -> str:
    parts = ["aelab", *path.relative_to(PACKAGE).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def room_of(module: str, rooms: list[Room]) -> Room | None:
    """The room whose listed file or folder holds `module` (the longest match wins)."""
    relative = module.removeprefix("aelab").lstrip(".").replace(".", "/")
    best = None
    for room in rooms:
        for entry in room.modules:
            as_file = entry.removesuffix(".py")
            hit = relative == as_file if entry.endswith(".py") else (relative + "/").startswith(entry)
            if entry == "__init__.py":
                hit = relative == ""
            if hit and (best is None or len(entry) > best[0]):
                best = (len(entry), room)
    return best[1] if best else None


@functools.cache
def imports_of(path: Path) -> set[str]:
    """Every aelab module imported anywhere in the file; `from aelab import x` counts as aelab.x
    where x is a module."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            folder = PACKAGE.parent.joinpath(*node.module.split("."))
            submodules = {a.name for a in node.names if (folder / a.name).with_suffix(".py").is_file() or (folder / a.name).is_dir()}
            found |= {f"{node.module}.{name}" for name in submodules}
            if len(submodules) < len(node.names):  # some names are defined in node.module itself
                found.add(node.module)
        elif isinstance(node, ast.ImportFrom) and node.level:
            raise AssertionError(f"{path}: relative import; aelab imports by absolute name")
    return {name for name in found if name == "aelab" or name.startswith("aelab.")}


ROOMS = read_map((ROOT / "CONTRIBUTING.md").read_text())
MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def test_the_map_is_read_and_names_only_rooms_it_defines():
    names = {room.name for room in ROOMS}
    assert {"base", "data", "models", "engine", "report", "cli"} <= names
    for room in ROOMS:
        assert room.modules, f"room {room.name} lists no modules"
        assert room.may_import <= names | {"*"}, f"room {room.name} may import an undefined room"


def violations(module: str, rooms: list[Room]) -> list[str]:
    """Each import of `module` that its room may not make."""
    room = room_of(module, rooms)
    if room is None:
        return [f"{module} belongs to no room: add it to the map in CONTRIBUTING.md"]
    found = []
    for target in sorted(imports_of(MODULES[module])):
        target_room = room_of(target, rooms)
        allowed = "*" in room.may_import or target_room is None or target_room.name in room.may_import | {room.name}
        if not allowed:  # an unmapped target fails in its own test
            found.append(f"{module} (room {room.name}) imports {target} (room {target_room.name}); room {room.name} may import "
                         f"only {', '.join(sorted(room.may_import))}: move the code to its room, or change CONTRIBUTING.md's map")
    return found


@pytest.mark.parametrize("module", sorted(MODULES))
def test_every_module_has_a_room_and_imports_only_what_its_room_may(module):
    assert violations(module, ROOMS) == []


def test_a_narrower_map_is_broken_by_top_level_and_function_level_imports():
    narrower = [Room(r.name, r.modules, {"base"} if r.name in ("config", "models") else r.may_import) for r in ROOMS]
    assert any("imports aelab.data" in v for v in violations("aelab.models.vae", narrower))  # at the top of the file
    assert any("imports aelab.models" in v for v in violations("aelab.config", narrower))  # inside make_config
    assert violations("aelab.errors", narrower) == []
